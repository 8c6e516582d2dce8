"""Issue 17, item 2: broken seed rows passed `tracker validate` and `tracker test`, and `score`
then reported them one at a time, the last as pandas' "Error tokenizing data. C error…".

Now validate, test and score check every row of every seed the pack names and report every
problem at once, each at `seeds/FILE.csv:LINE`; a row dated in the future is refused too
(item 9). Real packs in temporary folders, the command line in process."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from packbuilder import STAGE_SEEDS, pos2_stage, settlement_share, signpost_scenarios, write_pack

from tracker.cli import main
from tracker.store.db import Store

PACK = signpost_scenarios()
STAGE = pos2_stage()
SHARE = settlement_share()
SEEDS = {"pos2-stage": STAGE_SEEDS,
         "settlement-share": [{"date": "2024-05-16", "value": 90}]}
TODAY = dt.date.today()
FUTURE = TODAY + dt.timedelta(days=40)

# The analyst's mistakes of issue 17, one per line, appended to the good seeds.
BROKEN_STAGE = [
    "2024-01-05,signed,2024-01-05,https://example.org/a,a level not in the list",
    "31/03/2024,talks,2024-04-01,https://example.org/b,a day-first date",
    "2024-02-01,talks,2024-01-31,https://example.org/c,published before its date",
    "2024-02-02,talks,2024-02-02,example.org/d,no scheme",
    "2024-02-03,talks,2024-02-03,https://example.org/e,an extra,field",
    f"{FUTURE},talks,{FUTURE},https://example.org/f,dated in the future",
    "2024-02-05,price_agred,2024-02-05,https://example.org/g,a misspelt level",
    "2023-02-01,memorandum,2023-02-01,https://example.org/h,a date given twice",
]
BROKEN_SHARE = ["2024-06-30,n/a,2024-07-01,https://example.org/i,no figure",
                "2024-07-31,,2024-08-01,https://example.org/j,an empty cell",
                "2024-08-31,91,2024-09-01,,no source"]
LEVELS = "talks, memorandum, price_agreed"
EXPECTED = [
    "seeds/pos2-stage.csv:11:1: date: 2023-02-01 appears more than once (lines 2, 11)",
    f"seeds/pos2-stage.csv:4:1: level: expected one of {LEVELS}, got 'signed'",
    "seeds/pos2-stage.csv:5:1: date: expected a date as YYYY-MM-DD, got '31/03/2024'",
    "seeds/pos2-stage.csv:6:1: published: 2024-01-31 is before the date it describes (2024-02-01)",
    "seeds/pos2-stage.csv:7:1: source_url: expected the http(s) address of the source, got 'example.org/d'",
    "seeds/pos2-stage.csv:8:1: expected 5 fields (date, level, published, source_url, note), got 6; quote a "
    "field that holds a comma",
    f"seeds/pos2-stage.csv:9:1: date: {FUTURE} is in the future (today is {TODAY}); a seed holds what has been "
    "published",
    f"seeds/pos2-stage.csv:9:1: published: {FUTURE} is in the future (today is {TODAY}); a seed holds what has "
    "been published",
    f"seeds/pos2-stage.csv:10:1: level: expected one of {LEVELS}, got 'price_agred'; did you mean 'price_agreed'?",
    "seeds/settlement-share.csv:3:1: value: expected a finite number, got 'n/a'",
    "seeds/settlement-share.csv:4:1: value: expected a finite number, got ''",
    "seeds/settlement-share.csv:5:1: source_url: every seeded figure needs its source URL",
]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    cfg = write_pack(tmp_path, PACK, [STAGE, SHARE], SEEDS)
    for name, lines in (("pos2-stage", BROKEN_STAGE), ("settlement-share", BROKEN_SHARE)):
        with (tmp_path / "seeds" / f"{name}.csv").open("a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    return cfg


def sorted_like_problems(lines: list[str]) -> list[str]:
    """The order the one error boundary prints problems in: by file, then line."""
    def key(text: str) -> tuple[str, int, str]:
        path, line, rest = text.split(":", 2)
        return path, int(line), rest
    return sorted(lines, key=key)


@pytest.mark.parametrize("command", [["validate"], ["test"], ["score"], ["score", "--json"]])
def test_every_broken_row_is_reported_at_once_with_its_line(broken: Path, command: list[str]) -> None:
    result = invoke(*command, "--config", str(broken))
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [*sorted_like_problems(EXPECTED), f"{len(EXPECTED)} problem(s) found."]
    assert "Error tokenizing" not in result.stderr and "Traceback" not in result.stderr


def test_nothing_is_stored_from_a_broken_seed(broken: Path) -> None:
    invoke("score", "--config", str(broken))
    with Store(broken.parent / "tracker.db") as store:
        assert store.vintage_log() == []


def test_a_pack_outside_the_config_is_checked_row_by_row_too(broken: Path) -> None:
    result = invoke("validate", str(broken.parent / "indicators"))
    assert result.exit_code == 2
    assert f"{len(EXPECTED)} problem(s) found." in result.stderr


def test_the_fixed_seeds_validate_and_score(broken: Path) -> None:
    for name, lines in (("pos2-stage", BROKEN_STAGE), ("settlement-share", BROKEN_SHARE)):
        path = broken.parent / "seeds" / f"{name}.csv"
        text = path.read_text(encoding="utf-8")
        for line in lines:
            text = text.replace(line + "\n", "")
        path.write_text(text, encoding="utf-8")
    for command in (["validate"], ["test"], ["score"]):
        result = invoke(*command, "--config", str(broken))
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("row", "message"), [
    (f"{TODAY + dt.timedelta(days=1)},1,,https://example.org/a,tomorrow",
     f"date: {TODAY + dt.timedelta(days=1)} is in the future (today is {TODAY}); a seed holds what has been "
     "published"),
    (f"2024-01-31,1,{TODAY + dt.timedelta(days=1)},https://example.org/a,published tomorrow",
     f"published: {TODAY + dt.timedelta(days=1)} is in the future (today is {TODAY}); a seed holds what has been "
     "published"),
])
def test_a_future_dated_seed_row_is_refused_by_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        row: str, message: str) -> None:
    """Issue 17, item 9: future-dated seed rows were accepted silently."""
    monkeypatch.chdir(tmp_path)
    cfg = write_pack(tmp_path, PACK, [STAGE, SHARE], SEEDS)
    with (tmp_path / "seeds" / "settlement-share.csv").open("a", encoding="utf-8") as fh:
        fh.write(row + "\n")
    result = invoke("validate", "--config", str(cfg))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"seeds/settlement-share.csv:3:1: {message}", "1 problem(s) found."]


def test_a_record_spanning_lines_is_placed_at_its_first_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = write_pack(tmp_path, PACK, [STAGE, SHARE], SEEDS)
    with (tmp_path / "seeds" / "settlement-share.csv").open("a", encoding="utf-8") as fh:
        fh.write('2024-06-30,91,,https://example.org/a,"a note\nover two lines"\n\n2024-07-31,x,,https://e.org/b,\n')
    result = invoke("validate", "--config", str(cfg))
    assert result.stderr.splitlines() == ["seeds/settlement-share.csv:6:1: value: expected a finite number, got 'x'",
                                          "1 problem(s) found."]


def test_the_default_pack_seeds_pass_every_row_check() -> None:
    root = Path(__file__).resolve().parents[1]
    result = invoke("validate", str(root / "indicators"))
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip().splitlines()[-1].startswith("OK: ")
