"""Data faults held back before they move the call (issue 15, item 5), at the scoring level on a
real store: the done-when path (a revision, then a ten-sigma jump held back, then confirmed by the
next vintage), each rule made to fail, the analyst's confirm and reject, and corroboration."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from holdback_helpers import cited_date, flags, months, project, rows, score, state, walk, write
from packbuilder import frame, numeric, utc

from tracker import service
from tracker.cli import main
from tracker.ops import review
from tracker.score import holdback
from tracker.store.db import Store

V1, V2, V3, V4 = "2026-01-25", "2026-02-25", "2026-03-25", "2026-04-25"


def done_when_store(root: Path, jump: float = 10.0) -> tuple[service.Context, np.ndarray]:
    """V1: 48 months. V2: three past months revised, January added. V3: February jumps by
    `jump` (the steps are about 1). V4: keeps February and adds March."""
    ctx = project(root)
    values = walk(49)
    first = values[:48]
    revised = values.copy()
    revised[[23, 35, 41]] += 1.5
    with ctx.store() as store:
        write(store, "trade", rows(first), V1)
        write(store, "trade", rows(revised), V2)
        if jump:
            feb = np.r_[revised, revised[-1] + jump]
            write(store, "trade", rows(feb, published={months(50)[-1]: V3}), V3)
            write(store, "trade", rows(np.r_[feb, feb[-1] + 0.4], published={months(50)[-1]: V3}), V4)
    return ctx, revised


def test_revision_then_a_ten_sigma_jump_held_back_then_confirmed_by_the_next_vintage(tmp_path):
    ctx, revised = done_when_store(tmp_path / "a")
    plain, _ = done_when_store(tmp_path / "b", jump=0.0)          # the same store without the jump
    with ctx.store() as store, plain.store() as without:
        after_v2 = score(ctx, store, "2026-03-01")
        [rev] = flags(after_v2, "revised")
        assert rev["date"] == "2025-06-30" and rev["detail"].startswith("3 points revised on 2026-02-25 "
                                                                        "(2023-12-31 … 2025-06-30)")

        held = score(ctx, store, "2026-03-28")
        [flag] = flags(held, "unconfirmed")
        assert flag["date"] == "2026-02-28"
        assert f"{revised[-1] + 10:g} index, fetched 2026-03-25: a step of +10" in flag["detail"]
        assert flag["detail"].endswith("; counts once `tracker confirm trade 2026-02-28`, the next vintage keeping "
                                       "it or a group mate moving the same way confirms it")
        z = float(flag["detail"].split(" is ")[1].split("×")[0])
        assert 8 < z < 20
        assert state(held) == "stable" and cited_date(held) == "2026-01-31"
        # The call does not move: every grid date scores exactly as without the jump.
        same = score(plain, without, "2026-03-28")
        assert np.array_equal(held.post, same.post) and held.trend == same.trend

        before_v4 = score(ctx, store, "2026-04-24")                # a backtest before the confirmation
        assert flags(before_v4, "unconfirmed") and state(before_v4) == "stable"
        rows_ = service.replay(ctx, store, dt.date(2026, 3, 1), dt.date(2026, 4, 24))
        plain_rows = service.replay(plain, without, dt.date(2026, 3, 1), dt.date(2026, 4, 24))
        assert [r["probabilities"] for r in rows_] == [r["probabilities"] for r in plain_rows]

        confirmed = score(ctx, store, "2026-05-02")
    assert flags(confirmed, "unconfirmed") == []
    assert state(confirmed) == "growth" and cited_date(confirmed) == "2026-03-31"
    t = int(np.flatnonzero(confirmed.grid == np.datetime64("2026-04-25"))[0])      # V4's fetch is a grid date
    assert confirmed.states[0, t] == 2 and confirmed.states[0, t - 1] == 1         # counts from V4, not before


def test_score_json_explain_json_and_the_terminal_show_the_flags(tmp_path):
    ctx, _ = done_when_store(tmp_path)
    runner = CliRunner()
    cfg = str(ctx.config.path("config.yaml"))
    out = runner.invoke(main, ["score", "--json", "--as-of", "2026-03-28", "--config", cfg])
    assert out.exit_code == 0, out.output
    import json

    doc = json.loads(out.stdout)
    assert [(f["indicator"], f["kind"], f["date"]) for f in doc["flags"]] == [("trade", "unconfirmed", "2026-02-28")]
    assert set(doc["flags"][0]) == {"indicator", "kind", "date", "detail"}
    explained = json.loads(runner.invoke(main, ["explain", "--json", "--as-of", "2026-03-28", "--config", cfg]).stdout)
    assert explained["flags"] == doc["flags"]
    text = runner.invoke(main, ["score", "--as-of", "2026-03-28", "--config", cfg], env={"COLUMNS": "80"}).stdout
    assert "Data flags (1 held back):" in text and "  held back: trade 2026-02-28:" in text
    assert max(map(len, text.splitlines())) <= 80


# ---------------------------------------------------------------- each rule can fail

@pytest.mark.parametrize(("jump", "held"), [(10.0, True), (-10.0, True), (4.0, False)])
def test_the_jump_rule_holds_ten_sigma_not_four(tmp_path, jump, held):
    ctx = project(tmp_path)
    values = walk(48)
    with ctx.store() as store:
        write(store, "trade", rows(values), V1)
        write(store, "trade", rows(np.r_[values, values[-1] + jump]), V2)
        result = score(ctx, store, "2026-03-01")
    assert bool(flags(result, "unconfirmed")) is held


def test_the_jump_rule_is_skipped_with_few_steps_or_no_spread(tmp_path):
    few = project(tmp_path / "few")
    with few.store() as store:
        write(store, "trade", rows([100, 101, 100, 101, 100, 101, 100]), V1)    # 6 steps: fewer than 8
        write(store, "trade", rows([100, 101, 100, 101, 100, 101, 100, 150]), V2)
        assert flags(score(few, store, "2026-03-01"), "unconfirmed") == []
    flat = project(tmp_path / "flat")
    with flat.store() as store:
        write(store, "trade", rows([100.0] * 30), V1)                           # every step 0: MAD 0
        write(store, "trade", rows([100.0] * 30 + [150.0]), V2)
        assert flags(score(flat, store, "2026-03-01"), "unconfirmed") == []


def test_jump_scores_use_the_last_forty_steps_robustly():
    values = np.r_[np.tile([0.0, 1.0], 30), 1.0 + 100]
    z, prev, n = holdback.jump_scores(values, np.array([60, 3]))
    assert n[0] == holdback.STEPS and prev[0] == 1.0 and z[0] > 50
    assert np.isnan(z[1]) and n[1] == 2              # the 4th point has 2 steps before it: skipped


def test_jump_scores_of_a_few_rows_and_of_many_agree():
    """A nightly vintage adds one row (scored on its own); a backfill adds thousands (scored in
    whole-array windows): both paths give the same scores, NaN values skipped alike."""
    values = np.cumsum(np.random.default_rng(5).normal(0, 1, 300))
    values[[50, 51, 120, 200]] = np.nan
    values[150:] += 12
    values[260:] += 12
    new = np.arange(5, 300)
    many = holdback.jump_scores(values, new)
    one_by_one = [holdback.jump_scores(values, np.array([p])) for p in new]
    for k, part in enumerate(many):
        assert np.array_equal(part, np.concatenate([o[k] for o in one_by_one]), equal_nan=True)
    assert set(new[many[0] > holdback.JUMP_Z]) == {150, 260}


def test_seed_and_observe_vintages_are_never_held(tmp_path):
    ctx = project(tmp_path)
    values = walk(48)
    with ctx.store() as store:
        write(store, "trade", rows(values), V1, origin="seed", connector=None)
        write(store, "trade", rows(np.r_[values, values[-1] + 10]), V2, origin="observe", connector=None)
        assert flags(score(ctx, store, "2026-03-01"), "unconfirmed") == []


SHORT = [100.0, 101.0, 102.0, 103.0]     # 3 steps: the jump rule is skipped, the state rule decides


@pytest.mark.parametrize("revise", [True, False])
def test_a_state_change_is_held_on_a_night_the_vintage_revised_past_points(tmp_path, revise):
    ctx = project(tmp_path)
    with ctx.store() as store:
        write(store, "trade", rows(SHORT), V1)
        past = [100.0, 101.5 if revise else 101.0, 102.0, 103.0]
        write(store, "trade", rows([*past, 109.0], published={months(5)[-1]: V2}), V2)
        result = score(ctx, store, "2026-03-01")
    found = flags(result, "unconfirmed")
    if revise:
        assert "turns the state stable → growth on a night the same vintage revised past points" in found[0]["detail"]
        assert state(result) == "stable"
    else:
        assert found == [] and state(result) == "growth"


@pytest.mark.parametrize(("other_kind", "held"), [("csv", True), ("json", False)])
def test_a_state_change_is_held_on_a_night_a_source_of_the_same_kind_failed(tmp_path, other_kind, held):
    other = numeric("other", "o", STATES_O, LIK_O, source={"kind": other_kind, "url": "https://example.org/o"})
    ctx = project(tmp_path, extra=[other])
    with ctx.store() as store:
        write(store, "trade", rows(SHORT), V1)
        run = store.begin_run("ingest", utc(V2, 3))
        store.record_sources(run, [{"indicator": "other", "status": "failed", "error": "HTTP 500", "answer": "error"}])
        store.finish_run(run, "partial", {}, utc(V2, 3))
        write(store, "trade", rows([*SHORT, 109.0], published={months(5)[-1]: V2}), V2)
        result = score(ctx, store, "2026-03-01")
    found = flags(result, "unconfirmed")
    assert bool(found) is held
    if held:
        assert "on a night a csv source failed" in found[0]["detail"]


STATES_O = [{"name": "low", "below": 0}, {"name": "high"}]
LIK_O = {"low": {"A": 0.7, "B": 0.3}, "high": {"A": 0.3, "B": 0.7}}


# ---------------------------------------------------------------- the analyst's word

def held_store(root: Path) -> tuple[service.Context, float]:
    ctx = project(root)
    values = walk(48)
    jumped = values[-1] + 10
    with ctx.store() as store:
        write(store, "trade", rows(values), V1)
        write(store, "trade", rows(np.r_[values, jumped], published={months(49)[-1]: V2}), V2)
    return ctx, jumped


def test_confirm_counts_the_point_from_then_and_not_before(tmp_path):
    ctx, jumped = held_store(tmp_path)
    with ctx.store() as store:
        line = review.confirm(ctx.pack, store, "trade", "2026-01-31", now=utc("2026-03-10"))
        assert line.startswith(f"Confirmed trade = {jumped:g} index on 2026-01-31: it counts from now")
        assert flags(score(ctx, store, "2026-03-09"), "unconfirmed")          # a backtest before the confirm
        assert state(score(ctx, store, "2026-03-09")) == "stable"
        after = score(ctx, store, "2026-03-12")
    assert flags(after, "unconfirmed") == [] and state(after) == "growth"


def test_reject_writes_a_vintage_without_the_point_and_confirm_writes_it_back(tmp_path):
    ctx, jumped = held_store(tmp_path)
    with ctx.store() as store:
        line = review.reject(ctx.pack, store, "trade", "2026-01-31", "a unit error", now=utc("2026-03-10"))
        assert line == (f"Rejected trade = {jumped:g} index on 2026-01-31: a new vintage without it; "
                        "`tracker confirm trade 2026-01-31` writes it back.")
        log = store.vintage_log("trade")
        assert log[-1]["origin"] == "reject" and log[-1]["rows"] == 48
        rejected = score(ctx, store, "2026-03-12")
        assert flags(rejected, "unconfirmed") == [] and cited_date(rejected) == "2025-12-31"
        line = review.confirm(ctx.pack, store, "trade", "2026-01-31", now=utc("2026-03-20"))
        assert line.startswith(f"Restored trade = {jumped:g} index on 2026-01-31, rejected on 2026-03-10")
        log = store.vintage_log("trade")
        assert log[-1]["origin"] == "confirm" and log[-1]["rows"] == 49
        restored = score(ctx, store, "2026-03-22")
        assert state(restored) == "growth" and flags(restored, "unconfirmed") == []
        assert state(score(ctx, store, "2026-03-15")) == "stable"       # between the two, as it was then


def test_a_rejected_point_sent_again_stays_held_until_an_analyst_confirms_it(tmp_path):
    ctx, jumped = held_store(tmp_path)
    values = walk(48)
    with ctx.store() as store:
        review.reject(ctx.pack, store, "trade", "2026-01-31", now=utc("2026-03-10"))
        again = rows(np.r_[values, jumped], published={months(49)[-1]: V2})
        write(store, "trade", again, "2026-03-15")                              # the source sends it again
        write(store, "trade", [*again, *rows([jumped + 0.3], start="2026-02-28")], "2026-03-25")  # and keeps it
        [flag] = flags(score(ctx, store, "2026-03-28"), "unconfirmed")
        assert "an analyst rejected it on 2026-03-10 and the source sent it again" in flag["detail"]
        review.confirm(ctx.pack, store, "trade", "2026-01-31", now=utc("2026-03-29"))
        assert flags(score(ctx, store, "2026-03-30"), "unconfirmed") == []


@pytest.mark.parametrize(("args", "message"), [
    (["confirm", "trad", "2026-01-31"], "Error: unknown indicator 'trad'"),
    (["reject", "trade", "2026-01-30"], "Error: trade has no stored observation dated 2026-01-30 (and none rejected)"),
    (["confirm", "trade", "2026-02-28"], "Error: trade has no stored observation dated 2026-02-28"),
    (["reject", "trade", "January"], "Error: DATE: expected a date as YYYY-MM-DD, got 'January'"),
])
def test_confirm_and_reject_refuse_an_unknown_id_or_a_date_not_stored(tmp_path, args, message):
    ctx, _ = held_store(tmp_path)
    out = CliRunner().invoke(main, [*args, "--config", str(ctx.config.path("config.yaml"))])
    assert out.exit_code == 2
    assert out.stderr.startswith(message) and out.stderr.count("\n") == 1
    with Store(ctx.config.store_path) as store:
        assert len(store.vintage_log("trade")) == 2                             # nothing written


def test_the_commands_confirm_and_reject_through_the_cli(tmp_path):
    ctx, _ = held_store(tmp_path)
    cfg = str(ctx.config.path("config.yaml"))
    out = CliRunner().invoke(main, ["reject", "trade", "2026-01-31", "--note", "wrong unit", "--config", cfg])
    assert out.exit_code == 0 and out.stdout.startswith("Rejected trade = ")
    out = CliRunner().invoke(main, ["confirm", "trade", "2026-01-31", "--config", cfg])
    assert out.exit_code == 0 and out.stdout.startswith("Restored trade = ")
    with Store(ctx.config.store_path) as store:
        assert [e["origin"] for e in store.vintage_log("trade")] == ["ingest", "ingest", "reject", "confirm"]
        notes = store.db.execute("SELECT action, note FROM point_reviews ORDER BY id").fetchall()
    assert notes == [("reject", "wrong unit"), ("confirm", None)]


# ---------------------------------------------------------------- corroboration

@pytest.mark.parametrize(("mate_to", "released"), [(5.0, True), (-5.0, False)])
def test_a_group_mate_moving_the_same_way_the_same_week_corroborates(tmp_path, mate_to, released):
    """`trade` jumps into growth (toward B) but is held; `mate`, in the same group, turns high
    (toward B) the same week: the jump counts from that grid date. Turning low (toward A) does
    not corroborate it."""
    mate = numeric("mate", "t", STATES_O, LIK_O, source={"kind": "json", "url": "https://example.org/m"},
                   frequency="monthly")
    ctx = project(tmp_path, extra=[mate])
    values = walk(48)
    with ctx.store() as store:
        write(store, "trade", rows(values), V1)
        write(store, "mate", rows([-1.0, 1.0, -1.0, 1.0, -1.0, -mate_to / 5], start="2025-07-31"), V1)
        write(store, "trade", rows(np.r_[values, values[-1] + 10], published={months(49)[-1]: V2}), V2)
        write(store, "mate", rows([-1.0, 1.0, -1.0, 1.0, -1.0, -mate_to / 5, mate_to],
                                  start="2025-07-31", published={"2026-01-31": V2}), V2, connector="json")
        result = score(ctx, store, "2026-03-05")
    t = int(np.flatnonzero(result.grid >= np.datetime64(V2))[0])
    m, i = result.model.ids.index("mate"), result.model.ids.index("trade")
    assert result.states[m, t] != result.states[m, t - 1]                         # the mate moved that week
    if released:
        assert flags(result, "unconfirmed") == [] and state(result) == "growth"
        assert result.states[i, t] == 2 and result.states[i, t - 1] == 1
    else:
        assert flags(result, "unconfirmed") and state(result) == "stable"


def test_the_static_site_shows_the_flags(tmp_path):
    from tracker.views import site

    ctx, _ = held_store(tmp_path)
    with ctx.store() as store:
        made = site.write_site(ctx, store, dt.date(2026, 3, 1), tmp_path / "public")
    index = (tmp_path / "public" / "index.html").read_text()
    assert made["pages"] > 1 and "<h2>Flags</h2>" in index
    assert 'unconfirmed</span> 2026-01-31: <span class="small">' in index


def test_a_second_fetch_the_same_night_does_not_confirm(tmp_path):
    ctx = project(tmp_path)
    values = walk(48)
    jumped = np.r_[values, values[-1] + 10]
    with ctx.store() as store:
        write(store, "trade", rows(values), V1)
        store.write_vintage("trade", frame(rows(jumped)), fetched_at=utc(V2, 3),
                            origin="ingest", connector="csv")
        again = rows(np.r_[jumped, jumped[-1] + 0.2])                          # the same night, later
        store.write_vintage("trade", frame(again), fetched_at=utc(V2, 5),
                            origin="ingest", connector="csv")
        assert flags(score(ctx, store, "2026-03-01"), "unconfirmed")
        write(store, "trade", again, "2026-02-26")                             # unchanged: nothing written
        write(store, "trade", rows(np.r_[jumped, jumped[-1] + 0.2, jumped[-1] + 0.5]), "2026-02-27")
        assert flags(score(ctx, store, "2026-03-01"), "unconfirmed") == []


@pytest.mark.parametrize("mutation", ["no jump rule", "no exclusion", "no confirmation by the next vintage"])
def test_each_part_of_the_rule_is_what_holds_the_jump_back(tmp_path, monkeypatch, mutation):
    """The done-when checks fail when any one part of the rule is broken: the threshold, the
    exclusion of a held row from the feature, or the release by the next vintage."""
    if mutation == "no jump rule":
        monkeypatch.setattr(holdback, "JUMP_Z", float("inf"))
    elif mutation == "no exclusion":
        monkeypatch.setattr(holdback, "release_days", lambda series, holds: None)
    else:
        monkeypatch.setattr(holdback, "_carry", lambda series, open_, a, b, ingest, levels: (
            [h for h in open_ if not h.rows.append(a + int(np.searchsorted(series.date[a:b], h.date)))], set()))
    ctx, _ = done_when_store(tmp_path)
    with ctx.store() as store:
        held, confirmed = score(ctx, store, "2026-03-28"), score(ctx, store, "2026-05-02")
    if mutation == "no jump rule":
        assert flags(held, "unconfirmed") == [] and state(held) == "growth"
    elif mutation == "no exclusion":
        assert flags(held, "unconfirmed") and state(held) == "growth"          # flagged, yet it moved the state
    else:
        assert [f["date"] for f in flags(confirmed, "unconfirmed")] == ["2026-02-28"]   # never released


def test_rejecting_a_sources_only_point_leaves_ingest_and_score_working(tmp_path: Path) -> None:
    """A reject (or retract) of an indicator's only point leaves its newest vintage empty: the
    next ingest read that vintage's id from its first row and crashed; the scorer kept showing
    the rejected value, where `export` showed nothing."""
    from ingest_helpers import cli, csv_text, write_project

    (tmp_path / "s.csv").write_text(csv_text([("2024-01-31", 1.0)]))
    cfg = write_project(tmp_path, {"f": {"kind": "file", "path": "s.csv"}})
    assert cli(cfg).code == 0

    def run(*args: str) -> str:
        res = CliRunner().invoke(main, [*args, "--config", str(cfg)])
        assert res.exit_code == 0, res.output
        return res.stdout

    run("reject", "f", "2024-01-31")
    assert cli(cfg).code == 0
    doc = json.loads(run("score", "--json"))
    assert "f" in doc["no_data"]
    assert run("export").splitlines()[1:] == []
