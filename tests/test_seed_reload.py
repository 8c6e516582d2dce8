"""Issue 17, item 3: an edited seed file was silently ignored once the store had data for that
indicator, and there was no way to reload it.

Seeds are content-addressed now: the next command after an edit loads the file as a new vintage
and says so in one line on stderr (stdout stays clean JSON); an unchanged file costs nothing and
says nothing. Real packs, real SQLite stores, the command line in process."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from packbuilder import STAGE_SEEDS, frame, pos2_stage, settlement_share, signpost_scenarios, utc, write_pack

from tracker.cli import main
from tracker.store.db import Store
from tracker.store.snapshot import _prepare

PACK = signpost_scenarios()
STAGE = pos2_stage()
SHARE = settlement_share(half_life="3650d", stale_after="3650d")
SEEDS = {"pos2-stage": STAGE_SEEDS,
         "settlement-share": [{"date": "2023-06-16", "value": 80}, {"date": "2024-05-16", "value": 90}]}
SHARE_CSV = "seeds/settlement-share.csv"


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = write_pack(tmp_path, PACK, [STAGE, SHARE], SEEDS)
    first = invoke(path, "score")                    # the store is seeded on first use, silently
    assert first.exit_code == 0 and first.stderr == "", first.output
    return path


def invoke(cfg: Path, *args: str):
    return CliRunner().invoke(main, [*args, "--config", str(cfg)])


def edit(cfg: Path, old: str, new: str, name: str = SHARE_CSV) -> None:
    path = cfg.parent / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def log(cfg: Path, iid: str = "settlement-share") -> list[dict]:
    with Store(cfg.parent / "tracker.db") as store:
        return store.vintage_log(iid)


def value_as_of(cfg: Path, day: str, iid: str = "settlement-share") -> list[tuple[str, float]]:
    with Store(cfg.parent / "tracker.db") as store:
        rows = store.as_of(dt.date.fromisoformat(day), [iid])
    return [(str(d.date()), v) for d, v in zip(rows["date"], rows["value"], strict=True)]


def test_an_edited_seed_is_a_new_vintage_said_in_one_line(cfg: Path) -> None:
    edit(cfg, "2024-05-16,90,", "2024-05-16,95,")
    result = invoke(cfg, "score", "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == (f"{SHARE_CSV} changed: settlement-share reloaded as a new vintage "
                             "(2 rows: 1 changed, 0 added, 0 removed)\n")
    json.loads(result.stdout)                        # stdout is still only the JSON
    assert [v["origin"] for v in log(cfg)] == ["seed", "seed"]
    assert log(cfg)[-1]["note"] == f"reloaded from {SHARE_CSV}"
    again = invoke(cfg, "score")
    assert again.exit_code == 0 and again.stderr == ""          # said once, not on every command
    assert len(log(cfg)) == 2


def test_the_corrected_seed_is_what_a_backtest_replays(cfg: Path) -> None:
    """The new vintage is dated like the first seed load, so --as-of a past date sees it too."""
    edit(cfg, "2024-05-16,90,", "2024-05-16,95,")
    edit(cfg, "2023-06-16,80,", "2023-06-16,81,")
    assert invoke(cfg, "explain").exit_code == 0
    assert value_as_of(cfg, "2023-07-01") == [("2023-06-16", 81.0)]
    assert value_as_of(cfg, "2024-06-01") == [("2023-06-16", 81.0), ("2024-05-16", 95.0)]
    rows = invoke(cfg, "backtest", "--from", "2023-06-01", "--to", "2024-06-30", "--json")
    assert rows.exit_code == 0, rows.output


def test_an_earlier_first_row_is_seen_from_its_own_date(cfg: Path) -> None:
    edit(cfg, "date,value,published,source_url,note\n",
         "date,value,published,source_url,note\n2020-09-30,25,2020-12-31,https://example.org/s,added\n")
    result = invoke(cfg, "score")
    assert result.stderr.endswith("(3 rows: 0 changed, 1 added, 0 removed)\n")
    assert value_as_of(cfg, "2021-01-01") == [("2020-09-30", 25.0)]
    assert value_as_of(cfg, "2023-07-01") == [("2020-09-30", 25.0), ("2023-06-16", 80.0)]


def test_same_rows_in_new_bytes_write_nothing_and_say_nothing(cfg: Path) -> None:
    path = cfg.parent / SHARE_CSV
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))      # other line endings, same rows
    result = invoke(cfg, "score")
    assert result.exit_code == 0 and result.stderr == ""
    assert len(log(cfg)) == 1


def test_rows_observed_since_are_kept_and_the_seed_rows_swapped(cfg: Path) -> None:
    day = str(dt.date.today() - dt.timedelta(days=10))
    observed = invoke(cfg, "observe", "pos2-stage", "price_agreed", "--date", day, "--url",
                      "https://example.org/price", "--note", "the price is agreed")
    assert observed.exit_code == 0, observed.output
    edit(cfg, "2025-09-02,memorandum,", "2025-09-03,memorandum,", "seeds/pos2-stage.csv")
    result = invoke(cfg, "score")
    assert result.stderr == ("seeds/pos2-stage.csv changed: pos2-stage reloaded as a new vintage "
                             "(2 rows: 0 changed, 1 added, 1 removed)\n")
    vintages = log(cfg, "pos2-stage")
    assert [v["origin"] for v in vintages] == ["seed", "seed", "observe", "seed"]
    with Store(cfg.parent / "tracker.db") as store:
        now = store.latest("pos2-stage")
        history = store.vintage_rows(vintages[2]["id"])         # the observe vintage, kept as it was
    assert [(str(d.date()), lv) for d, lv in zip(now["date"], now["level"], strict=True)] == [
        ("2023-02-01", "talks"), ("2025-09-03", "memorandum"), (day, "price_agreed")]
    assert "2025-09-02" in {str(d.date()) for d in history["date"]}
    # Before the analyst's vintage, the corrected seed alone; the observe vintage is not rewritten.
    observe_day = vintages[2]["fetched_at"][:10]
    before = dt.date.fromisoformat(observe_day) - dt.timedelta(days=1)
    with Store(cfg.parent / "tracker.db") as store:
        seen = store.as_of(before, ["pos2-stage"])
    assert {str(d.date()) for d in seen["date"]} == {"2023-02-01", "2025-09-03"}


def test_a_store_from_before_seed_files_reloads_only_what_was_edited(cfg: Path) -> None:
    """A store seeded by an earlier version knows no seed files and hashed rows the old way."""
    db = cfg.parent / "tracker.db"
    with Store(db) as store:
        legacy = {iid: _prepare(store.latest(iid)).digest for iid in ("pos2-stage", "settlement-share")}
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DELETE FROM seed_files")
        for iid, digest in legacy.items():
            conn.execute("UPDATE vintages SET content_hash = ? WHERE indicator = ?", (digest, iid))
    edit(cfg, "2024-05-16,90,", "2024-05-16,91,")
    result = invoke(cfg, "score")
    assert result.stderr == (f"{SHARE_CSV} changed: settlement-share reloaded as a new vintage "
                             "(2 rows: 1 changed, 0 added, 0 removed)\n")
    assert len(log(cfg, "pos2-stage")) == 1 and len(log(cfg)) == 2
    assert invoke(cfg, "score").stderr == ""


def test_a_seed_named_after_the_indicator_held_data_is_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, a seed added to an indicator that already had data was never read."""
    monkeypatch.chdir(tmp_path)
    cfg = write_pack(tmp_path, PACK, [STAGE, SHARE], {"pos2-stage": SEEDS["pos2-stage"]})
    with Store(tmp_path / "tracker.db") as store:
        store.write_vintage("settlement-share", frame([{"date": "2025-03-31", "value": 70.0}]),
                            fetched_at=utc("2025-04-01"), origin="ingest")
    write_pack(tmp_path, PACK, [STAGE, SHARE], SEEDS)              # the seed is added to the pack
    result = invoke(cfg, "score")
    assert result.stderr == (f"{SHARE_CSV} loaded as a new vintage of settlement-share, which already held data "
                             "(2 rows: 0 changed, 2 added, 0 removed)\n")
    assert value_as_of(cfg, str(dt.date.today())) == [("2023-06-16", 80.0), ("2024-05-16", 90.0),
                                                      ("2025-03-31", 70.0)]
    assert value_as_of(cfg, "2025-01-01") == [("2023-06-16", 80.0), ("2024-05-16", 90.0)]


def test_removed_rows_go_and_a_broken_edit_changes_nothing(cfg: Path) -> None:
    edit(cfg, "2023-06-16,80,,https://example.org/settlement-share/2023-06-16,\n", "")
    assert invoke(cfg, "score").stderr.endswith("(1 row: 0 changed, 0 added, 1 removed)\n")
    assert value_as_of(cfg, str(dt.date.today())) == [("2024-05-16", 90.0)]
    before = log(cfg)
    edit(cfg, "2024-05-16,90,", "2024-05-16,ninety,")
    broken = invoke(cfg, "score")
    assert broken.exit_code == 2
    assert broken.stderr.splitlines()[0] == f"{SHARE_CSV}:2:1: value: expected a finite number, got 'ninety'"
    assert log(cfg) == before

