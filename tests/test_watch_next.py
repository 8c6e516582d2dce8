"""Watch next against today's call (issue 14): each item says what it would start, end or flip,
and says true — recording the change and scoring again gives exactly that; a change that would
alter nothing is never listed; score, --json, the digest and explain list the same items, in
the same order, with the same labels."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from packbuilder import numeric, utc
from test_trend import LIK, STATES, build, weekly

from tracker.cli import main
from tracker.score import trend
from tracker.score.scoring import score
from tracker.score.whatif import label, watch_next

STRONG = {"lo": {"A": 0.5, "B": 0.1, "C": 0.5}, "hi": {"A": 0.5, "B": 0.8, "C": 0.5}}
EPISODE = {"lo": {"A": 0.5, "B": 0.25, "C": 0.5}, "hi": {"A": 0.5, "B": 0.5, "C": 0.5}}
VALUE = {"lo": -1.0, "hi": 1.0}


def solo_pack(tmp_path: Path, quiet: int = 4):
    """One indicator carries B's whole rise from 2023-03-03: material, but not broad."""
    specs = [(numeric("solo", "g0", STATES, STRONG, half_life="3650d"),
              weekly(lambda d, n: 1 if d >= pd.Timestamp("2023-03-03") else -1))]
    specs += [(numeric(f"quiet{k}", f"g{k + 1}", STATES, LIK, half_life="3650d"), weekly(lambda d, n: -1))
              for k in range(quiet)]
    return build(tmp_path, specs)


def running_pack(tmp_path: Path):
    """Two of four indicators up two weeks apart: B called on 2023-01-27 and running after."""
    up = {0: pd.Timestamp("2023-01-06"), 1: pd.Timestamp("2023-01-20")}
    specs = [(numeric(f"s{k}", f"g{k}", STATES, EPISODE, half_life="3650d", stale_after="30d"),
              weekly(lambda d, n, k=k: 1 if k in up and d >= up[k] else -1)) for k in range(4)]
    return build(tmp_path, specs)


def flicker_pack(tmp_path: Path):
    """s0 up from 2023-01-06, s1 up for the week of 2023-01-20 only: that week qualified for B
    (the first of two), the next does not; s1 up again would make the call that day."""
    up = {0: lambda d: d >= pd.Timestamp("2023-01-06"), 1: lambda d: d == pd.Timestamp("2023-01-20")}
    specs = [(numeric(f"s{k}", f"g{k}", STATES, EPISODE, half_life="3650d", stale_after="30d"),
              weekly(lambda d, n, k=k: 1 if k in up and up[k](d) else -1)) for k in range(4)]
    return build(tmp_path, specs)


def lone_pack(tmp_path: Path):
    """A single strong indicator: B leads from 2023-03-03, and one change would give A the lead."""
    return solo_pack(tmp_path, quiet=0)


def scored(ctx, day: str):
    with ctx.store() as store:
        history = store.vintages_until(dt.date.fromisoformat(day))
    return score(ctx.pack, history, pd.Timestamp(day), ctx.config.scoring, weeks=60)


def with_change(ctx, iid: str, day: str, state: str):
    """Score as of `day` after recording `iid` in `state` on that day (a new vintage)."""
    with ctx.store() as store:
        rows = store.latest(iid).copy()
        rows.loc[rows["date"] == pd.Timestamp(day), "value"] = VALUE[state]
        assert store.write_vintage(iid, rows, fetched_at=utc(day), origin="observe")
        result = scored(ctx, day)
        # put the seeded snapshot back for the next candidate
        rows.loc[rows["date"] == pd.Timestamp(day), "value"] = -VALUE[state]
        store.write_vintage(iid, rows, fetched_at=utc(day, 13), origin="observe")
    return result


def observed_effects(before, after) -> list[dict]:
    """What recording the change really did at the last date, in watch_next's terms."""
    t, scen = len(before.grid) - 1, before.model.scenarios
    out = []
    if int(np.argmax(after.post[t])) != int(np.argmax(before.post[t])):
        out.append({"kind": "lead", "scenario": scen[int(np.argmax(after.post[t]))]})
    call, new = before.trend[t], after.trend[t]
    if call is not None and after.trend_ended[t]:
        ended = after.trend_ended[t]
        out.append({"kind": "ends", "scenario": ended["scenario"], "reason": ended["reason"]})
    elif call is not None and after.trend[t] is None:      # called today, and now it would not be
        out.append({"kind": "ends", "scenario": call["scenario"], "reason": "unqualified"})
    if new is not None and (call is None or new["scenario"] != call["scenario"]):
        out.append({"kind": "starts", "scenario": new["scenario"], "when": "now"})
    elif new is None or new["scenario"] != (call or {}).get("scenario"):
        check, pending = trend.check_at(after, t), trend.check_at(before, t)
        if check.ok and not (pending.ok and pending.scenario == check.scenario) and call is None:
            out.append({"kind": "starts", "scenario": scen[check.scenario], "when": "next week"})
    return out


CASES = [(solo_pack, "2023-03-10", ["starts trend to B if it holds next week"] * 4),
         (running_pack, "2023-02-03", ["ends trend to B (reversed)"] * 2),
         (running_pack, "2023-01-27", ["ends trend to B (it would not be called today)"] * 2),
         (flicker_pack, "2023-01-27", ["starts trend to B"] * 3),
         (lone_pack, "2023-03-10", ["lead to A"]),
         (solo_pack, "2023-01-06", [])]


@pytest.mark.parametrize(("make", "day", "labels"), CASES, ids=[f"{c[0].__name__}-{c[1]}" for c in CASES])
def test_each_item_says_what_recording_it_would_really_do_and_nothing_else_is_listed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make, day: str, labels: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    ctx = make(tmp_path)
    before = scored(ctx, day)
    t = len(before.grid) - 1
    items = watch_next(before, t)
    assert [w["flips"] for w in items] == labels
    listed = {(w["indicator"], w["to_state"]): w for w in items}
    for iid, ind in ctx.pack.indicators.items():
        for state in ind.state_names:
            if state == ind.state_names[before.feats[iid].state[t]]:
                continue
            real = observed_effects(before, with_change(ctx, iid, day, state))
            item = listed.pop((iid, state), None)
            assert (item["effects"] if item else []) == real, (iid, state)
            if item:
                assert item["flips"] == "; ".join(label(e) for e in real)
    assert listed == {}


def test_the_move_already_past_the_threshold_is_not_an_item(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """B is up +0.08 from one indicator: what would start its call is a second one, and that is
    what the list says; no item repeats the threshold B has already passed."""
    monkeypatch.chdir(tmp_path)
    doc = json.loads(CliRunner().invoke(main, ["score", "--json", "--as-of", "2023-03-10", "--config",
                                               str(solo_pack(tmp_path, quiet=3) and tmp_path / "config.yaml")]).stdout)
    assert doc["trend_check"]["scenario"] == "B"
    assert [(w["indicator"], w["flips"]) for w in doc["watch_next"]] == [
        (f"quiet{k}", "starts trend to B if it holds next week") for k in range(3)]
    assert not any("threshold" in w["flips"] for w in doc["watch_next"])


def test_score_json_digest_and_explain_list_the_same_items(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    solo_pack(tmp_path)
    cfg = str(tmp_path / "config.yaml")

    def run(*args: str) -> str:
        res = CliRunner().invoke(main, [*args, "--config", cfg])
        assert res.exit_code == 0, res.output
        return res.stdout

    items = json.loads(run("score", "--json", "--as-of", "2023-03-10"))["watch_next"]
    assert len(items) == 4
    lines = [f"{w['indicator']}: {w['from_state']} → {w['to_state']}  {w['flips']}" for w in items]
    text = run("score", "--as-of", "2023-03-10")
    assert text.split("Watch next (one change that would move the call):\n")[1].splitlines() == [
        *(f"  {line}" for line in lines[:3]), "  and 1 more (tracker explain lists them all)"]
    explain = run("explain", "--as-of", "2023-03-10")
    assert explain.split("(every single change of state that would):\n")[1].splitlines() == [f"  {x}" for x in lines]
    digest = run("digest", "--week", "2023-03-10")
    block = digest.split("WATCH NEXT (one change that would move the call)\n\n")[1].split("\n\n")[0]
    assert block.splitlines() == [x for w in items for x in (
        f"  * Indicator {w['indicator']} ({w['indicator']}): {w['from_state']} -> {w['to_state']}",
        f"    {w['flips']}")]
