"""`tracker evaluate` (issue 14): the backtest scored against outcomes.csv.

A small pack whose posterior is worked out by hand (a signpost at its last level neither decays
nor stalls: p(A) = 0.4·0.9 / (0.4·0.9 + 0.6·0.2) = 0.75 on every date) gives the Brier and log
scores, the skill, the reliability table and the realised diagnosticity exactly; the call
metrics are checked on constructed series of calls and periods whose answer is counted below."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from packbuilder import numeric, ordinal, scenarios, write_pack

from tracker.cli import main
from tracker.score import calls, verify
from tracker.score.calls import Call, Period

URL = "https://example.org/chronology"
OUTCOMES = ("start,end,scenario,source_url,note\n"
            f"2023-01-01,2024-02-11,A,{URL},six grid dates\n"
            f"2024-02-12,2024-02-25,B,{URL},two grid dates\n")   # 2024-03-01 falls in no period
ARGS = ["--from", "2024-01-05", "--to", "2024-03-01"]             # nine Fridays


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    deal = ordinal("deal", "g", ["talks", "done"], {"talks": {"A": 0.5, "B": 0.5}, "done": {"A": 0.9, "B": 0.2}},
                   {"A": "12M", "B": "12M"})
    silent = numeric("silent", "h", [{"name": "lo", "below": 0}, {"name": "hi"}],
                     {"lo": {"A": 0.4, "B": 0.6}, "hi": {"A": 0.6, "B": 0.4}})
    path = write_pack(tmp_path, scenarios({"A": 0.4, "B": 0.6}, {"g": 1.0, "h": 1.0}), [deal, silent],
                      {"deal": [{"date": "2020-01-01", "level": "done"}]})
    (tmp_path / "indicators" / "outcomes.csv").write_text(OUTCOMES, encoding="utf-8")
    return path


def evaluate(cfg: Path, *args: str):
    return CliRunner().invoke(main, ["evaluate", *args, "--config", str(cfg)])


def test_scores_equal_the_hand_computed_values(cfg: Path) -> None:
    res = evaluate(cfg, *ARGS, "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert (doc["dates"], doc["dates_scored"]) == (9, 8)
    # A held on 6 dates, B on 2; the model says 0.75/0.25 throughout:
    #   Brier: A dates 0.25² + 0.25² = 0.125, B dates 0.75² + 0.75² = 1.125 -> (6·0.125 + 2·1.125)/8 = 0.375
    #   log:   A dates −log2 0.75 = 0.415037, B dates −log2 0.25 = 2 -> (6·0.415037 + 2·2)/8 = 0.811278
    # the stated priors 0.4/0.6: Brier (6·0.72 + 2·0.32)/8 = 0.62; log (6·1.321928 + 2·0.736966)/8 = 1.175688
    # the base rate is 6/8 = 0.75 for A: the model's own forecast, so no skill against it
    assert doc["scores"] == {
        "model": {"brier": 0.375, "log": 0.8113},
        "prior": {"brier": 0.62, "log": 1.1757},
        "base_rate": {"brier": 0.375, "log": 0.8113},
        "skill": {"brier_vs_prior": round(1 - 0.375 / 0.62, 4), "log_vs_prior": round(1 - 0.811278 / 1.175688, 4),
                  "brier_vs_base_rate": 0.0, "log_vs_base_rate": 0.0}}
    assert doc["base_rates"] == {"A": 0.75, "B": 0.25}
    filled = [b for b in doc["reliability"] if b["count"]]
    assert filled == [{"lower": 0.2, "upper": 0.3, "count": 8, "mean_forecast": 0.25, "observed": 0.25},
                      {"lower": 0.7, "upper": 0.8, "count": 8, "mean_forecast": 0.75, "observed": 0.75}]
    assert len(doc["reliability"]) == 10
    # deal: (log2 0.9 − log2 0.2)/2 = 1.084963 bits toward A, against B: (6 − 2)/8 · 1.084963 = 0.542481
    rows = {r["indicator"]: r for r in doc["indicators"]}
    assert rows["deal"] == {"indicator": "deal", "name": "Indicator deal", "mean_bits": 0.5425, "verdict": "earned",
                            "state_changes": 0, "with_data": 1.0}
    assert rows["silent"]["verdict"] == "neutral" and rows["silent"]["with_data"] == 0.0
    assert doc["never_changed"] == ["deal", "silent"]
    # no call; the only period that begins in the span (B, 2024-02-12) is missed
    c = doc["calls"]
    assert (c["calls"], c["hits"], c["false_calls"], c["periods"], c["periods_hit"], c["missed"]) == (0, 0, 0, 1, 0, 1)
    assert c["missed_periods"] == [{"scenario": "B", "start": "2024-02-12", "end": "2024-02-25"}]


def test_json_contract(cfg: Path) -> None:
    doc = json.loads(evaluate(cfg, *ARGS, "--json").stdout)
    assert list(doc) == ["pack", "from", "to", "pseudo_real_time", "scenarios", "dates", "dates_scored", "outcomes",
                         "scores", "base_rates", "reliability", "calls", "indicators", "never_changed"]
    assert doc["outcomes"] == {"periods": 2, "sources": [URL]}
    assert set(doc["calls"]) == {"calls", "hits", "false_calls", "periods", "periods_hit", "missed",
                                 "calls_per_period", "median_lead_weeks", "max_lead_weeks", "by_scenario", "items",
                                 "missed_periods"}
    assert doc["calls"]["max_lead_weeks"] == 26.0


def test_terminal_report_and_charts(cfg: Path, tmp_path: Path) -> None:
    res = evaluate(cfg, *ARGS, "--out", str(tmp_path / "out"))
    assert res.exit_code == 0, res.output
    for name in ("evaluate-reliability.png", "evaluate-calls.png"):
        assert (tmp_path / "out" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"Wrote {tmp_path / 'out' / name}" in res.stdout
    text = res.stdout
    assert "  model                                       0.375      0.811" in text
    assert "calls 0, hits 0, false calls 0; periods called 0 of 1 (missed 1)" in text
    assert "    deal                       +0.542" in text
    assert "never changed state over the period: deal, silent" in text


def test_user_errors_are_one_line(cfg: Path, tmp_path: Path) -> None:
    res = evaluate(cfg, "--from", "2010-01-01", "--to", "2010-12-31")
    assert (res.exit_code, res.stderr) == (2, "Error: no known outcome covers 2010-01-01 to 2010-12-31; outcomes.csv "
                                              "has periods from 2023-01-01 to 2024-02-25\n")
    res = evaluate(cfg, "--max-lead", "soon")
    assert res.exit_code == 2 and res.stderr.startswith("Error: --max-lead: expected a duration")
    res = evaluate(cfg, "--from", "2024-03-01", "--to", "2024-01-01")
    assert (res.exit_code, res.stderr) == (2, "Error: --from must be on or before --to\n")
    (tmp_path / "indicators" / "outcomes.csv").unlink()
    res = evaluate(cfg)
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == ("Error: indicators/outcomes.csv: no such file; tracker evaluate needs the known outcomes "
                          "beside scenarios.yaml (columns start,end,scenario,source_url,note)\n")


def test_default_span_runs_from_the_first_period_to_the_last(cfg: Path) -> None:
    doc = json.loads(evaluate(cfg, "--json").stdout)
    assert (doc["from"], doc["to"]) == ("2023-01-01", "2024-02-25")


# ---------------------------------------------------------------- each metric on a known series

def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


PERIODS = [Period("R", d("2020-03-01"), d("2020-06-30")), Period("E", d("2020-07-01"), d("2021-12-31")),
           Period("R", d("2022-01-01"), d("2022-03-31")), Period("E", d("2022-04-01"), d("2022-12-31")),
           Period("R", d("2023-01-01"), d("2023-06-30"))]
CALLS = [Call("R", d("2019-06-01"), d("2019-07-01")),    # before the span: not counted
         Call("R", d("2020-01-15"), d("2020-02-01")),    # 46 days before R1: a hit, lead +6.6 weeks
         Call("R", d("2020-04-10"), d("2020-05-01")),    # during R1: a second hit (R1's lead stays the first's)
         Call("E", d("2020-08-01"), d("2020-09-01")),    # 31 days into E1: a hit, lag −4.4 weeks
         Call("R", d("2021-03-01"), d("2021-04-01")),    # 306 days before R2, beyond 26 weeks: false
         Call("R", d("2021-08-01"), d("2021-09-01")),    # 153 days before R2: a hit, lead +21.9 weeks
         Call("E", d("2022-05-01"), d("2022-06-01"))]    # 30 days into E2: a hit, lag −4.3 weeks; R3 is missed


def test_hits_false_calls_missed_periods_and_lead_on_a_constructed_series() -> None:
    got = calls.judge(CALLS, PERIODS, d("2020-01-01"), d("2023-12-31"), dt.timedelta(weeks=26))
    assert {k: got[k] for k in ("calls", "hits", "false_calls", "periods", "periods_hit", "missed",
                                "calls_per_period")} == {"calls": 6, "hits": 5, "false_calls": 1, "periods": 5,
                                                         "periods_hit": 4, "missed": 1, "calls_per_period": 1.2}
    # per period, the first call that hit it: +6.6, −4.4, +21.9, −4.3 -> median (−4.3 + 6.6) / 2
    assert got["median_lead_weeks"] == pytest.approx(1.15)
    assert [(i["start"], i["hit"], i["lead_weeks"]) for i in got["items"]] == [
        ("2020-01-15", True, 6.6), ("2020-04-10", True, -5.7), ("2020-08-01", True, -4.4),
        ("2021-03-01", False, None), ("2021-08-01", True, 21.9), ("2022-05-01", True, -4.3)]
    assert got["missed_periods"] == [{"scenario": "R", "start": "2023-01-01", "end": "2023-06-30"}]
    assert got["by_scenario"]["R"] | {"median_lead_weeks": None} == {
        "calls": 4, "hits": 3, "false_calls": 1, "periods": 3, "periods_hit": 2, "missed": 1,
        "calls_per_period": round(4 / 3, 4), "median_lead_weeks": None}
    assert got["by_scenario"]["R"]["median_lead_weeks"] == pytest.approx((6.6 + 21.9) / 2)


def test_a_call_exactly_max_lead_before_a_period_is_a_hit_and_a_day_more_is_not() -> None:
    period = [Period("R", d("2021-01-01"), d("2021-06-30"))]
    lead = dt.timedelta(weeks=26)
    for start, hit in ((d("2021-01-01") - lead, True), (d("2021-01-01") - lead - dt.timedelta(days=1), False)):
        got = calls.judge([Call("R", start, start)], period, d("2020-01-01"), d("2021-12-31"), lead)
        assert got["hits"] == int(hit)


def test_episodes_count_a_call_once_however_often_it_paused() -> None:
    grid = np.array(["2024-01-05", "2024-01-12", "2024-01-19", "2024-01-26", "2024-02-02"], dtype="datetime64[D]")
    b = {"scenario": "B", "since": "2024-01-05", "started": "2024-01-05"}
    resumed = {"scenario": "B", "since": "2024-01-26", "started": "2024-01-05"}
    got = calls.episodes(grid, [b, b, None, resumed, resumed])
    assert [(c.scenario, str(c.start), str(c.end)) for c in got] == [("B", "2024-01-05", "2024-02-02")]
    # a series from before episodes (only `since`): each run of weeks is a call
    old = [{"scenario": "B", "since": "2024-01-05"}, None, {"scenario": "B", "since": "2024-01-19"}, None, None]
    assert [str(c.start) for c in calls.episodes(grid, old)] == ["2024-01-05", "2024-01-19"]


def test_probability_scores_on_known_arrays() -> None:
    truth = np.array([0, 1])
    perfect = np.array([[1.0, 0.0], [0.0, 1.0]])
    wrong = perfect[:, ::-1]
    assert verify.brier(perfect, truth) == 0.0 and verify.brier(wrong, truth) == 2.0
    assert verify.log_score(perfect, truth) == 0.0
    assert verify.log_score(wrong, truth) == pytest.approx(-math.log2(verify.LOG_FLOOR))   # floored, not infinite
    assert verify.skill(0.1, 0.4) == pytest.approx(0.75) and verify.skill(0.1, 0.0) is None
    assert list(verify.base_rates(np.array([0, 0, 0, 1]), 3)) == [0.75, 0.25, 0.0]
    table = verify.reliability(np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45]]), np.array([0, 1, 0]))
    assert [(b["count"], b["mean_forecast"], b["observed"]) for b in table if b["count"]] == [
        (2, 0.05, 0.5), (1, 0.45, 0.0), (1, 0.55, 1.0), (2, 0.95, 0.5)]
