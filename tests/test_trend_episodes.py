"""One call per episode (issue 14): a trend call ends when the move is reversed (the probability
falls back from its peak since the call began by exit_shift, or another scenario starts
trending), not when the rise stops; a new call for the same scenario within `cooldown` of the
last one's end continues that episode (same `started`), and `tracker evaluate` counts it once."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from packbuilder import numeric
from test_trend import END, STATES, build, result, weekly

from tracker.cli import main
from tracker.score.calls import episodes

# hi doubles B against A and C; lo and hi are alike for A and C, so only B moves
LIK = {"lo": {"A": 0.5, "B": 0.25, "C": 0.5}, "hi": {"A": 0.5, "B": 0.5, "C": 0.5}}
T0 = pd.Timestamp("2023-01-06")


def week(k: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(weeks=k)


# s0 up at week 0, s1 up at week 2 (B called at week 3), s1 down at week 5 (reversed), s1 and s2
# up at week 7 (B qualifies at weeks 7 and 8: called again, four weeks after the first call ended)
HIGH = {0: lambda d: d >= week(0), 1: lambda d: week(2) <= d < week(5) or d >= week(7),
        2: lambda d: d >= week(7), 3: lambda d: False}


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    specs = [(numeric(f"s{k}", f"g{k}", STATES, LIK, half_life="3650d", stale_after="30d"),
              weekly(lambda d, n, k=k: 1 if HIGH[k](d) else -1)) for k in range(4)]
    return build(tmp_path, specs)


def by_day(r) -> dict[str, tuple]:
    return {str(pd.Timestamp(d).date()): (c, e) for d, c, e in zip(r.grid, r.trend, r.trend_ended, strict=True)}


def test_a_reversal_ends_the_call_and_a_renewed_rise_within_the_cooldown_continues_its_episode(ctx) -> None:
    r = result(ctx)
    days = by_day(r)
    first, _ = days["2023-01-27"]
    assert (first["scenario"], first["since"], first["started"]) == ("B", "2023-01-27", "2023-01-27")
    assert days["2023-02-03"][0]["peak"] == {"date": "2023-01-27", "probability": first["peak"]["probability"]}
    # week 5: s1 falls back; B drops from its peak by more than exit_shift: reversed, not merely flat
    call, ended = days["2023-02-10"]
    assert call is None
    peak = first["peak"]["probability"]
    assert ended["reason"] == "reversed" and ended["probability"] <= peak - 0.025
    assert {k: ended[k] for k in ("scenario", "started", "since", "peak")} == {
        "scenario": "B", "started": "2023-01-27", "since": "2023-01-27",
        "peak": {"date": "2023-01-27", "probability": peak}}
    # weeks 7 and 8 qualify again: a call since 2023-03-03, the same episode (started 2023-01-27)
    again, _ = days["2023-03-03"]
    assert (again["scenario"], again["since"], again["started"]) == ("B", "2023-03-03", "2023-01-27")
    assert [e for _, e in days.values() if e] == [ended]
    assert [(c.scenario, str(c.start), str(c.end)) for c in episodes(r.grid, r.trend)] == [
        ("B", "2023-01-27", str(END))]


def test_with_no_cooldown_the_renewed_rise_is_a_new_episode(ctx) -> None:
    r = result(ctx, dataclasses.replace(ctx.config.scoring, cooldown="0d"))
    again, _ = by_day(r)["2023-03-03"]
    assert (again["since"], again["started"]) == ("2023-03-03", "2023-03-03")
    assert [(c.scenario, str(c.start), str(c.end)) for c in episodes(r.grid, r.trend)] == [
        ("B", "2023-01-27", "2023-02-03"), ("B", "2023-03-03", str(END))]


def test_a_rise_that_stops_is_not_a_reversal(ctx) -> None:
    """Weeks 8 onward nothing changes: the 13-week rise falls to zero, and the call stays."""
    r = result(ctx)
    last = r.trend[-1]
    assert last["scenario"] == "B" and last["change"] == pytest.approx(0.0, abs=1e-4)
    assert last["since"] == "2023-03-03"


def test_backtest_rows_say_when_and_why_a_call_ended(ctx, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["backtest", "--from", "2023-01-06", "--to", str(END), "--json",
                                    "--config", str(tmp_path / "config.yaml")])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["rows"]
    ended = [(r["date"], r["ended"]["scenario"], r["ended"]["reason"], r["ended"]["started"])
             for r in rows if r["ended"]]
    # the replay's longer memory also sees the call made when the data first arrived (January
    # 2022), which B's rise reverses
    assert ended[1:] == [("2023-02-10", "B", "reversed", "2023-01-27")]
    assert ended[0][0] == "2023-01-20" and ended[0][2:] == ("reversed", "2022-01-14")
    assert all("ended" in r for r in rows)
    assert [r["trend"] for r in rows if r["date"] in ("2023-02-10", "2023-03-03")] == [None, "B"]
