"""The trend call (SCORING §6.9): no flapping on wobbles, a call only after two consecutive
qualifying evaluations of a broad move, one call for the whole episode (issue 14: it ends only
when reversed; tests/test_trend_episodes.py), and no call from one indicator alone or from old
evidence fading. Each guard is shown to be the one that holds
the call back: relaxing it (and only it) lets the call through."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from packbuilder import numeric, scenarios, write_pack

from tracker import service
from tracker.config import Scoring
from tracker.score.result import Result
from tracker.score.scoring import score

STATES = [{"name": "lo", "below": 0}, {"name": "hi"}]
# hi makes B twice as likely and C half as likely as lo does; A is indifferent
LIK = {"lo": {"A": 0.5, "B": 0.25, "C": 0.5}, "hi": {"A": 0.5, "B": 0.5, "C": 0.25}}
FRIDAYS = pd.date_range("2022-01-07", "2023-12-29", freq="W-FRI")
END = dt.date(2023, 12, 29)


def weekly(value) -> list[dict]:
    """An observation every Friday (the grid dates), published the same day."""
    return [{"date": str(d.date()), "value": value(d, k)} for k, d in enumerate(FRIDAYS)]


def build(tmp_path: Path, specs: list[tuple[dict, list[dict]]], groups: dict[str, float] | None = None):
    cfg = write_pack(tmp_path, scenarios({"A": 0.34, "B": 0.33, "C": 0.33},
                                         groups or {doc["group"]: 1.0 for doc, _ in specs}),
                     [doc for doc, _ in specs], {doc["id"]: rows for doc, rows in specs})
    return service.load(str(cfg))


def result(ctx, cfg: Scoring | None = None) -> Result:
    with ctx.store() as store:
        history = store.vintages_until(END)
    return score(ctx.pack, history, pd.Timestamp(END), cfg or ctx.config.scoring, weeks=100)


def calls(r: Result) -> dict[str, str | None]:
    return {str(pd.Timestamp(d).date()): (c["scenario"] if c else None)
            for d, c in zip(r.grid, r.trend, strict=True)}


def dp(r: Result, day: str, s: str) -> float:
    t = [str(pd.Timestamp(d).date()) for d in r.grid].index(day)
    k = r.model.scenarios.index(s)
    return float(r.post[t, k] - r.post[t - r.window, k])


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_wobble_within_min_shift_never_trends(tmp_path: Path) -> None:
    weak = {"lo": {"A": 0.5, "B": 0.5, "C": 0.5}, "hi": {"A": 0.5, "B": 0.52, "C": 0.48}}
    specs = [(numeric(f"w{k}", f"g{k}", STATES, weak, half_life="3650d"),
              weekly(lambda d, n, k=k: 1 if (n // (k + 1)) % 2 else -1)) for k in range(3)]
    ctx = build(tmp_path, specs)
    with ctx.store() as store:
        rows = service.replay(ctx, store, dt.date(2022, 1, 7), END)
    assert len(rows) == len(FRIDAYS)
    assert [r["trend"] for r in rows] == [None] * len(rows)
    r = result(ctx)
    moves = r.post[r.window:] - r.post[:-r.window]
    assert 0.01 < np.abs(moves).max() < 0.05


def test_big_alternating_wobble_never_trends(tmp_path: Path) -> None:
    """Two indicators flip together every week: over an odd 13-week window the move
    alternates in sign, so it never holds at two consecutive evaluations."""
    specs = [(numeric(f"w{k}", f"g{k}", STATES, LIK, half_life="3650d"),
              weekly(lambda d, n: 1 if n % 2 else -1)) for k in range(2)]
    r = result(build(tmp_path, specs))
    moves = r.post[r.window:] - r.post[:-r.window]
    assert moves.max() > 0.2                       # material moves, every other week
    assert set(calls(r).values()) == {None}


def broad_move(tmp_path: Path):
    """Four indicators in four groups switch lo -> hi two weeks apart from 2023-01-06; the
    last is light (weight 0.2), so the window's move fades out in a small last step."""
    switch = [pd.Timestamp("2023-01-06") + pd.Timedelta(weeks=2 * k) for k in range(4)]
    specs = [(numeric(f"s{k}", f"g{k}", STATES, LIK, weight=w, half_life="3650d", stale_after="30d"),
              weekly(lambda d, n, k=k: 1 if d >= switch[k] else -1))
             for k, w in enumerate([1.0, 1.0, 1.0, 0.2])]
    return build(tmp_path, specs)


def test_sustained_broad_move_trends_after_two_evaluations_and_stays_while_not_reversed(tmp_path: Path) -> None:
    r = result(broad_move(tmp_path))
    got = calls(r)
    # 2023-01-06: one indicator moved (B +0.07, but A rose more and one source is not a trend)
    assert dp(r, "2023-01-06", "B") > 0.05 and got["2023-01-06"] is None
    # 2023-01-20: a second indicator: B is up 0.20 from two sources — first qualifying evaluation
    assert dp(r, "2023-01-20", "B") > 0.15 and got["2023-01-20"] is None
    # 2023-01-27: qualifies again -> the call
    assert got["2023-01-27"] == "B"
    days = [str(pd.Timestamp(d).date()) for d in r.grid]
    call = r.trend[days.index("2023-01-27")]
    assert call == {"scenario": "B", "change": round(dp(r, "2023-01-27", "B"), 4), "window_weeks": 13,
                    "since": "2023-01-27", "started": "2023-01-27",
                    "peak": {"date": "2023-01-27", "probability": round(float(r.post[days.index("2023-01-27"), 1]), 4)}}
    # issue 14: the rise leaves the window on 2023-05-19, but B stays where it rose to, so the
    # call stays on (the old rule ended it there): one call for the whole episode
    assert dp(r, "2023-05-19", "B") < 0.025 and got["2023-05-19"] == "B"
    trending = [d for d in sorted(got) if got[d] == "B"]
    assert trending == [d for d in sorted(got) if d >= "2023-01-27"]
    assert all(c is None or (c["since"], c["started"]) == ("2023-01-27", "2023-01-27") for c in r.trend)
    peak = r.trend[-1]["peak"]
    k = int(np.argmax(r.post[:, 1]))
    assert peak == {"date": days[k], "probability": round(float(r.post[k, 1]), 4)}
    assert r.trend_ended == [None] * len(r.grid)


def test_the_same_broad_move_through_the_backtest_command_path(tmp_path: Path) -> None:
    """From further back the replay also sees the call made when the data first arrived (A,
    January 2022): it lasts until B's call supersedes it, and the row says so."""
    ctx = broad_move(tmp_path)
    with ctx.store() as store:
        rows = service.replay(ctx, store, dt.date(2022, 10, 7), END)
    got = {r["date"]: r["trend"] for r in rows}
    assert {c for d, c in got.items() if d < "2023-01-27"} == {"A"}
    assert {c for d, c in got.items() if d >= "2023-01-27"} == {"B"}
    ended = {r["date"]: r["ended"] for r in rows if r["ended"]}
    assert list(ended) == ["2023-01-27"]
    assert ended["2023-01-27"] | {"peak": None} == {
        "scenario": "A", "started": "2022-01-14", "since": "2022-01-14", "peak": None,
        "reason": "superseded", "by": "B"}


def test_a_move_driven_by_one_indicator_does_not_trend(tmp_path: Path) -> None:
    strong = {"lo": {"A": 0.5, "B": 0.1, "C": 0.5}, "hi": {"A": 0.5, "B": 0.8, "C": 0.5}}
    specs = [(numeric("solo", "g0", STATES, strong, half_life="3650d"),
              weekly(lambda d, n: 1 if d >= pd.Timestamp("2023-03-03") else -1))]
    specs += [(numeric(f"quiet{k}", f"g{k + 1}", STATES, LIK, half_life="3650d"), weekly(lambda d, n: -1))
              for k in range(3)]
    ctx = build(tmp_path, specs)
    r = result(ctx)
    assert dp(r, "2023-03-03", "B") > 0.05 and dp(r, "2023-03-10", "B") > 0.05
    assert set(calls(r).values()) == {None}
    # concentration (1.0 > 0.75) and breadth (1 < 2) are what hold it back
    relaxed = result(ctx, dataclasses.replace(ctx.config.scoring, max_concentration=1.0))
    assert calls(relaxed)["2023-03-10"] == "B"


def test_old_evidence_fading_does_not_trend(tmp_path: Path) -> None:
    """Two old pro-C readings (half-life 60 days) fade: A and B drift back up with no new
    evidence at all; fresh, unchanged indicators keep coverage up."""
    pro_c = {"lo": {"A": 0.1, "B": 0.1, "C": 0.9}, "hi": {"A": 0.5, "B": 0.5, "C": 0.5}}
    specs = [(numeric(f"old{k}", f"g{k}", STATES, pro_c, half_life="60d", stale_after="1000d"),
              [{"date": "2023-01-06", "value": -1}]) for k in range(2)]
    specs += [(numeric(f"fresh{k}", f"h{k}", STATES, LIK, half_life="3650d"), weekly(lambda d, n: 1))
              for k in range(2)]
    ctx = build(tmp_path, specs)
    r = result(ctx)
    assert dp(r, "2023-04-07", "A") > 0.05 and dp(r, "2023-04-14", "A") > 0.05
    # the readings' arrival on 2023-01-06 is new evidence for C (from two sources) and may be
    # called; their fading toward A and B never is
    got = calls(r)
    assert "A" not in got.values() and "B" not in got.values()
    assert {got[d] for d in got if d >= "2023-04-07"} == {None}
    # the new-evidence share (0, all fading) is what holds it back
    relaxed = result(ctx, dataclasses.replace(ctx.config.scoring, min_new_share=0.0))
    assert "A" in calls(relaxed).values()
