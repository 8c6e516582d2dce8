"""outcomes.csv (issue 14): optional, beside scenarios.yaml, checked like the rest of the pack
(every problem in one pass, `file:line:col: field: message`), and loaded into the Pack record."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from packbuilder import numeric, scenarios, write_pack

from tracker.cli import main
from tracker.errors import ProblemsError
from tracker.pack import load_cache
from tracker.pack.load import load_pack
from tracker.pack.types import Outcome

STATES = [{"name": "lo", "below": 0}, {"name": "hi"}]
LIK = {"lo": {"A": 0.6, "B": 0.3}, "hi": {"A": 0.4, "B": 0.7}}
URL = "https://example.org/chronology"
HEADER = "start,end,scenario,source_url,note\n"


def pack(tmp_path: Path, outcomes: str | None) -> Path:
    cfg = write_pack(tmp_path, scenarios({"A": 0.5, "B": 0.5}, {"g": 1.0}), [numeric("x", "g", STATES, LIK)])
    if outcomes is not None:
        (tmp_path / "indicators" / "outcomes.csv").write_text(outcomes, encoding="utf-8")
    return cfg


def problems(tmp_path: Path, outcomes: str) -> list[str]:
    pack(tmp_path, outcomes)
    with pytest.raises(ProblemsError) as err:
        load_pack(tmp_path / "indicators")
    return [str(p) for p in err.value.problems]


def test_a_good_file_is_loaded_in_order_and_a_pack_without_one_has_none(tmp_path: Path) -> None:
    pack(tmp_path, HEADER + f"2021-01-01,,B,{URL},ongoing\n2020-01-01,2020-12-31,A,{URL},\"first, quoted\"\n")
    loaded = load_pack(tmp_path / "indicators")
    assert loaded.outcomes == [
        Outcome(start="2020-01-01", end="2020-12-31", scenario="A", source_url=URL, note="first, quoted"),
        Outcome(start="2021-01-01", end=None, scenario="B", source_url=URL, note="ongoing")]
    (tmp_path / "indicators" / "outcomes.csv").unlink()
    assert load_pack(tmp_path / "indicators").outcomes is None


def test_every_problem_in_one_pass_with_its_line_and_column(tmp_path: Path) -> None:
    text = HEADER + "\n".join([
        f"2020-01-01,2020-12-31,A,{URL},fine",
        f"2020-06-01,,B,{URL},overlaps the first",
        "2021-13-01,2021-01-01,b,ftp://x,bad date scenario and url",
        f"2022-01-01,2021-01-01,Q,{URL},ends before it starts",
        f"2023-01-01,2023-02-30,A,{URL},no such day",
        f"2024-01-01,2024-12-31,A,{URL},one,too many",
    ]) + "\n"
    assert problems(tmp_path, text) == [
        "indicators/outcomes.csv:3:1: start: the period from 2020-06-01 (B) overlaps the one on line 2 "
        "(A, from 2020-01-01 to 2020-12-31); periods may not overlap",
        "indicators/outcomes.csv:4:1: start: expected a date as YYYY-MM-DD, got '2021-13-01'",
        "indicators/outcomes.csv:4:23: scenario: unknown scenario 'b'; expected one of: A, B",
        "indicators/outcomes.csv:4:25: source_url: expected the http(s) address of the published chronology, "
        "got 'ftp://x'",
        "indicators/outcomes.csv:5:12: end: 2021-01-01 is before the start of the period (2022-01-01)",
        "indicators/outcomes.csv:5:23: scenario: unknown scenario 'Q'; expected one of: A, B",
        "indicators/outcomes.csv:6:12: end: expected a date as YYYY-MM-DD (leave it empty for a period still "
        "going on), got '2023-02-30'",
        "indicators/outcomes.csv:7:1: expected 5 cells (start, end, scenario, source_url, note), got 6",
    ]


def test_an_ongoing_period_overlaps_everything_after_it(tmp_path: Path) -> None:
    text = HEADER + f"2020-01-01,,A,{URL},\n2022-01-01,2022-06-30,B,{URL},\n"
    assert problems(tmp_path, text) == [
        "indicators/outcomes.csv:3:1: start: the period from 2022-01-01 (B) overlaps the one on line 2 "
        "(A, from 2020-01-01 still going on); periods may not overlap"]


@pytest.mark.parametrize(("text", "expected"), [
    ("", "indicators/outcomes.csv:1:1: the file is empty; expected the header start,end,scenario,source_url,note"),
    (HEADER, "indicators/outcomes.csv:1:1: no periods: expected one row per period after the header"),
    ("start,end,scenaro,source_url,note\n",
     "indicators/outcomes.csv:1:1: missing column 'scenario'; expected the header start,end,scenario,source_url,note"),
])
def test_header_and_empty_files(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(tmp_path, text)[0] == expected


def test_validate_exits_2_and_the_cache_sees_an_edit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = pack(tmp_path, HEADER + f"2020-01-01,2020-12-31,A,{URL},\n")
    assert load_cache.load(cfg)[1].outcomes[0].scenario == "A"
    (tmp_path / "indicators" / "outcomes.csv").write_text(HEADER + f"2020-01-01,2020-12-31,B,{URL},\n")
    assert load_cache.load(cfg)[1].outcomes[0].scenario == "B"
    assert load_cache.load(cfg) == load_cache.load(cfg)
    (tmp_path / "indicators" / "outcomes.csv").write_text(HEADER + f"2020-01-01,2020-12-31,Z,{URL},\n")
    res = CliRunner().invoke(main, ["validate", "--config", str(cfg)])
    assert res.exit_code == 2
    assert res.stderr == ("indicators/outcomes.csv:2:23: scenario: unknown scenario 'Z'; expected one of: A, B\n"
                          "1 problem(s) found.\n")
