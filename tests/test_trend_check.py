"""Why there is no clear trend (issue 14): when the largest 13-week rise is at least min_shift
and still nothing is called, score (one line), --json (`trend_check`), the digest and the alert
say which condition failed; otherwise the outputs keep their bytes (no `trend_check` key)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from packbuilder import numeric, scenarios, write_pack
from test_trend import LIK, STATES, weekly

from tracker import service
from tracker.cli import main
from tracker.ops.nightly import alert_message
from tracker.views.terminal import fit

STRONG = {"lo": {"A": 0.5, "B": 0.1, "C": 0.5}, "hi": {"A": 0.5, "B": 0.8, "C": 0.5}}
ONLY_B = {"lo": {"A": 0.5, "B": 0.25, "C": 0.5}, "hi": {"A": 0.5, "B": 0.75, "C": 0.5}}
PRO_C = {"lo": {"A": 0.1, "B": 0.1, "C": 0.9}, "hi": {"A": 0.5, "B": 0.5, "C": 0.5}}
SCORED = ["as_of", "pack", "window_weeks", "scenarios", "leading", "trend", "evidence_only", "prior", "coverage",
          "movers", "stale", "no_data", "watch_next", "flags"]


def build(tmp_path: Path, specs: list[tuple[dict, list[dict]]]) -> Path:
    """A 40-week memory: the grid starts after the data first arrived, so that arrival (a move
    from the prior) is not itself a call in these tests."""
    return write_pack(tmp_path, scenarios({"A": 0.34, "B": 0.33, "C": 0.33}, {d["group"]: 1.0 for d, _ in specs}),
                      [d for d, _ in specs], {d["id"]: rows for d, rows in specs}, scoring={"history": "40w"})


def switches(days: list[str], table: dict = LIK) -> list[tuple[dict, list[dict]]]:
    """One indicator per day in `days`, switching lo -> hi on it (B up)."""
    return [(numeric(f"s{k}", f"g{k}", STATES, table, half_life="3650d", stale_after="30d"),
             weekly(lambda d, n, day=pd.Timestamp(day): 1 if d >= day else -1)) for k, day in enumerate(days)]


def score(cfg: Path, day: str, *args: str) -> str:
    res = CliRunner().invoke(main, ["score", "--as-of", day, "--config", str(cfg), *args])
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_one_indicator_carrying_the_move_is_named_in_every_view(tmp_path: Path) -> None:
    specs = [(numeric("solo", "g0", STATES, STRONG, half_life="3650d"),
              weekly(lambda d, n: 1 if d >= pd.Timestamp("2023-03-03") else -1))]
    specs += [(numeric(f"quiet{k}", f"q{k}", STATES, LIK, half_life="3650d"), weekly(lambda d, n: -1))
              for k in range(3)]
    cfg = build(tmp_path, specs)
    doc = json.loads(score(cfg, "2023-03-10", "--json"))
    assert doc["trend"] is None and list(doc) == [*SCORED[:6], "trend_check", *SCORED[6:]]
    check = doc["trend_check"]
    line = ("B +0.08 over 13 weeks, not called: one indicator carries 100% of the move (needs two, or none "
            "above 75%)")
    assert check == {
        "scenario": "B", "change": check["change"], "window_weeks": 13, "conditions": [
            {"name": "materiality", "value": check["change"], "threshold": 0.05, "met": True},
            {"name": "breadth", "value": 1.0, "threshold": 0.75, "met": False, "indicators": 1, "min_indicators": 2,
             "min_bits": 0.25},
            {"name": "new_evidence", "value": 1.0, "threshold": 0.5, "met": True},
            {"name": "coverage", "value": 1.0, "threshold": 0.5, "met": True},
            {"name": "persistence", "value": 0, "threshold": 2, "met": False}],
        "message": line}
    assert 0.075 <= check["change"] < 0.085
    text = score(cfg, "2023-03-10")
    assert text.splitlines()[2] == "A (Scenario A) leads at 0.46; no clear trend over 13 weeks"
    assert text.splitlines()[3:5] == fit(line, columns=80)          # wrapped at a space, not in a word
    digest = CliRunner().invoke(main, ["digest", "--week", "2023-03-10", "--config", str(cfg)]).stdout
    assert f"no clear trend over 13 weeks.\n{line}.\n" in digest
    ctx = service.load(str(cfg))
    after = {"as_of": "2023-03-10", "changes": [{"kind": "state", "indicator": "solo", "name": "Indicator solo",
                                                 "from": "lo", "to": "hi", "observation": None}],
             "probabilities": {"A": 0.46, "B": 0.09, "C": 0.45}, "leading": "A", "trend_check": line}
    assert f"\nNo trend called: {line}.\n" in alert_message(ctx, {"as_of": "2023-03-03"}, after)[1]


def test_the_first_qualifying_week_names_persistence(tmp_path: Path) -> None:
    cfg = build(tmp_path, switches(["2023-01-06", "2023-01-20", "2023-01-20"]))
    check = json.loads(score(cfg, "2023-01-20", "--json"))["trend_check"]
    assert check["message"] == (f"B {check['change']:+.2f} over 13 weeks, not called: it has qualified at 1 "
                                "evaluation (needs 2 in a row)")
    assert [c["name"] for c in check["conditions"] if not c["met"]] == ["persistence"]
    assert json.loads(score(cfg, "2023-01-27", "--json"))["trend"]["scenario"] == "B"


def test_stale_data_and_fading_evidence_are_named(tmp_path: Path) -> None:
    stale = [(numeric(f"old{k}", f"h{k}", STATES, LIK, half_life="3650d", stale_after="30d"),
              [{"date": "2022-03-04", "value": -1}]) for k in range(3)]
    cfg = build(tmp_path, switches(["2023-01-06", "2023-01-06"], ONLY_B) + stale)
    check = json.loads(score(cfg, "2023-01-13", "--json"))["trend_check"]
    assert check["message"].endswith("not called: only 40% of the weight has fresh data (needs 50%)")
    fading = [(numeric(f"old{k}", f"g{k}", STATES, PRO_C, half_life="60d", stale_after="1000d"),
               [{"date": "2023-01-06", "value": -1}]) for k in range(2)]
    fading += [(numeric(f"fresh{k}", f"h{k}", STATES, LIK, half_life="3650d"), weekly(lambda d, n: 1))
               for k in range(2)]
    cfg = build(tmp_path / "fading", fading)
    check = json.loads(score(cfg, "2023-04-14", "--json"))["trend_check"]
    assert check["message"] == ("A +0.27 over 13 weeks, not called: only 0% of the move is new evidence, the rest "
                                "old evidence fading (needs 50%)")


def test_no_check_without_a_material_move_or_while_a_call_runs(tmp_path: Path) -> None:
    cfg = build(tmp_path, switches(["2023-01-06", "2023-01-20", "2023-01-20"]))
    assert list(json.loads(score(cfg, "2022-12-30", "--json"))) == SCORED       # nothing moved
    doc = json.loads(score(cfg, "2023-02-10", "--json"))
    assert doc["trend"]["scenario"] == "B" and list(doc) == SCORED
    assert "not called" not in score(cfg, "2022-12-30")
