"""Issue 17, item 4: `tracker observe` could not be undone, and it accepted values for
automatic (live) indicators without a word.

`tracker retract ID DATE --note N` writes a vintage without the point (the note kept with it),
so that `--as-of` before it still sees what was known then; `observe` on a live indicator needs
`--override` and says the next ingest may supersede the value. Real stores, the command line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from packbuilder import STAGE_SEEDS, numeric, pos2_stage, settlement_share, signpost_scenarios, write_pack

from tracker.cli import main
from tracker.store.db import Store

PACK = signpost_scenarios(trade=0.8)
STAGE = pos2_stage()
SHARE = settlement_share()
TRADE = numeric("trade", "trade", [{"name": "low", "below": 100}, {"name": "high"}],
                {"low": {"A": 0.4, "B": 0.2, "C": 0.6}, "high": {"A": 0.5, "B": 0.6, "C": 0.2}},
                source={"kind": "csv", "url": "http://127.0.0.1:9/trade.csv"})
SEEDS = {"pos2-stage": STAGE_SEEDS,
         "settlement-share": [{"date": "2024-05-16", "value": 90}]}
URL = "https://example.org/news/pos2-price"
TODAY = dt.date.today()
DAY = str(TODAY - dt.timedelta(days=20))


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write_pack(tmp_path, PACK, [STAGE, SHARE, TRADE], SEEDS)


def run(cfg: Path, *args: str):
    return CliRunner().invoke(main, [*args, "--config", str(cfg)])


def vintages(cfg: Path, iid: str) -> list[dict]:
    with Store(cfg.parent / "tracker.db") as store:
        return store.vintage_log(iid)


def levels_as_of(cfg: Path, day: dt.date) -> list[tuple[str, str]]:
    with Store(cfg.parent / "tracker.db") as store:
        rows = store.as_of(day, ["pos2-stage"])
    return [(str(d.date()), lv) for d, lv in zip(rows["date"], rows["level"], strict=True)]


def test_an_observation_is_retracted_as_a_new_vintage_and_history_is_kept(cfg: Path) -> None:
    recorded = run(cfg, "observe", "pos2-stage", "price_agreed", "--date", DAY, "--url", URL, "--note", "agreed")
    assert recorded.exit_code == 0, recorded.output
    assert run(cfg, "score", "--json").exit_code == 0
    before = json.loads(run(cfg, "score", "--json").stdout)
    res = run(cfg, "retract", "pos2-stage", DAY, "--note", "the report was denied the next day")
    assert res.exit_code == 0, res.output
    assert res.stdout == (f"Retracted pos2-stage = price_agreed on {DAY} as a new vintage; --as-of an earlier "
                          "date still sees it.\n")
    log = vintages(cfg, "pos2-stage")
    assert [v["origin"] for v in log] == ["seed", "observe", "retract"]
    assert log[-1]["note"] == "the report was denied the next day"
    assert levels_as_of(cfg, TODAY) == [("2023-02-01", "talks"), ("2025-09-02", "memorandum")]
    with Store(cfg.parent / "tracker.db") as store:       # the observe vintage is untouched
        kept = store.vintage_rows(log[1]["id"])
    assert (DAY, "price_agreed") in {(str(d.date()), lv) for d, lv in zip(kept["date"], kept["level"], strict=True)}
    after = json.loads(run(cfg, "score", "--json").stdout)
    state = {m["indicator"]: m["state"] for m in before["movers"]}.get("pos2-stage")
    assert state == "price_agreed"
    assert {m["indicator"]: m["state"] for m in after["movers"]}.get("pos2-stage") != "price_agreed"


def test_a_seeded_point_can_be_retracted_and_the_seed_is_named(cfg: Path) -> None:
    res = run(cfg, "retract", "pos2-stage", "2025-09-02", "--note", "the memorandum was never signed")
    assert res.exit_code == 0, res.output
    assert res.stdout.rstrip().endswith("It is still in seeds/pos2-stage.csv: remove it there too, or the next "
                                        "edit of that file brings it back.")
    assert levels_as_of(cfg, TODAY) == [("2023-02-01", "talks")]
    assert run(cfg, "score").stderr == ""                     # the unchanged seed does not bring it back


@pytest.mark.parametrize(("args", "message"), [
    (["pos2-stgae", "2025-09-02", "--note", "n"], "Error: unknown indicator 'pos2-stgae'; did you mean 'pos2-stage'?"),
    (["pos2-stage", "2025-09-03", "--note", "n"],
     "Error: pos2-stage has no observation dated 2025-09-03; the nearest is 2025-09-02"),
    (["pos2-stage", "2025-09-03", "--note", " "], "Error: --note: say in a sentence why the observation is taken back"),
    (["pos2-stage", "02/09/2025", "--note", "n"], "Error: DATE: expected a date as YYYY-MM-DD, got '02/09/2025'"),
    (["pos2-stage", "2999-01-01", "--note", "n"],
     "Error: DATE 2999-01-01 is in the future; the tracker only knows what has been published"),
    (["pos2-stage", "2025-09-02"], "Error: Missing option '--note'."),
    (["trade", "2025-01-31", "--note", "n"], "Error: trade has no observation dated 2025-01-31; it has no "
                                             "observations stored at all"),
])
def test_a_bad_retraction_is_refused_and_changes_nothing(cfg: Path, args: list[str], message: str) -> None:
    run(cfg, "score")
    before = vintages(cfg, "pos2-stage")
    res = run(cfg, "retract", *args)
    assert res.exit_code == 2
    assert res.stderr.splitlines()[-1] == message
    assert vintages(cfg, "pos2-stage") == before


def test_observe_on_a_live_indicator_needs_override_and_says_ingest_may_supersede_it(cfg: Path) -> None:
    args = ["trade", "120", "--date", DAY, "--url", URL, "--note", "a ministry figure ahead of the release"]
    refused = run(cfg, "observe", *args)
    assert refused.exit_code == 2
    assert refused.stderr.splitlines()[-1] == (
        "Error: trade is fetched from its source (csv), not recorded by hand; add --override to record this value "
        "anyway (the next `tracker ingest` may supersede it)")
    assert vintages(cfg, "trade") == []
    taken = run(cfg, "observe", *args, "--override")
    assert taken.exit_code == 0, taken.output
    assert taken.stdout == (f"Recorded trade = 120.0 on {DAY} (published {TODAY}), source {URL}. The next "
                            "`tracker ingest` may supersede it: trade is fetched from its source (csv).\n")
    assert [v["origin"] for v in vintages(cfg, "trade")] == ["observe"]
    back = run(cfg, "retract", "trade", DAY, "--note", "the release said otherwise")
    assert back.exit_code == 0
    assert back.stdout.rstrip().endswith("The next `tracker ingest` brings it back if the source (csv) still "
                                         "reports it.")


def test_observe_on_a_manual_indicator_needs_no_override(cfg: Path) -> None:
    res = run(cfg, "observe", "settlement-share", "95", "--date", DAY, "--url", URL, "--note", "a minister said so")
    assert res.exit_code == 0, res.output
    assert "ingest" not in res.stdout
