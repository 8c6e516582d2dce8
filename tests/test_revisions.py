"""Revisions seen and shown (issue 15, item 4): a vintage that changes values an earlier vintage
held is flagged with how many points, when, and how large against the series' scale; one that
changes a past state is named as such; the mover is tagged `revised`; the digest has a "Data
flags" part; and each of these can fail."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from click.testing import CliRunner
from holdback_helpers import flags, project, rows, score, walk, write

from tracker.cli import main
from tracker.score import revisions
from tracker.views import digest, report

V1, V2 = "2026-01-25", "2026-02-25"


def revised_store(root, bump: float = 1.5, points=(23, 35, 41)):
    ctx = project(root)
    values = walk(48)
    new = values.copy()
    new[list(points)] += bump
    with ctx.store() as store:
        write(store, "trade", rows(values), V1)
        write(store, "trade", rows(new), V2)
    return ctx, values


def test_three_revised_points_are_counted_dated_and_sized(tmp_path):
    ctx, values = revised_store(tmp_path)
    with ctx.store() as store:
        [flag] = flags(score(ctx, store, "2026-02-27"))
    scale = revisions.robust_scale(values)
    assert flag == {"indicator": "trade", "kind": "revised", "date": "2025-06-30",
                    "detail": f"3 points revised on 2026-02-25 (2023-12-31 … 2025-06-30), largest change "
                              f"{1.5 / scale:.1f}× the series' usual spread"}


@pytest.mark.parametrize(("bump", "flagged"), [(1.5, True), (1e-14, False)])
def test_a_change_within_rounding_is_not_a_revision(tmp_path, bump, flagged):
    ctx, _ = revised_store(tmp_path, bump=bump)
    with ctx.store() as store:
        assert bool(flags(score(ctx, store, "2026-02-27"))) is flagged


def test_added_dates_alone_are_no_revision_and_the_flag_lasts_a_week(tmp_path):
    ctx = project(tmp_path)
    values = walk(49)
    with ctx.store() as store:
        write(store, "trade", rows(values[:48]), V1)
        write(store, "trade", rows(values), V2)                             # one month added, none changed
        assert flags(score(ctx, store, "2026-02-27"), "revised") == []
    ctx2, _ = revised_store(tmp_path / "b")
    with ctx2.store() as store:
        assert flags(score(ctx2, store, "2026-02-24"), "revised") == []     # before the vintage: not known
        assert flags(score(ctx2, store, "2026-03-03"), "revised")           # within 7 days of its fetch
        assert flags(score(ctx2, store, "2026-03-05"), "revised") == []     # 8 days later: no longer news


def test_a_revision_that_changes_a_past_state_is_named(tmp_path):
    ctx = project(tmp_path, frequency="annual")
    years = rows([100.0, 101.0, 91.0], start="2023-12-31")
    years = [{**r, "date": d} for r, d in zip(years, ("2023-12-31", "2024-12-31", "2025-12-31"), strict=True)]
    with ctx.store() as store:
        write(store, "trade", years, V1)
        write(store, "trade", [*years[:2], {**years[2], "value": 100.0}], V2)
        [flag] = flags(score(ctx, store, "2026-02-27"))
    line = "Indicator trade: 2025 revised from contraction to stable"
    assert flag["past_state"] == {"period": "2025", "from": "contraction", "to": "stable", "line": line}
    assert flag["detail"].endswith(f"; {line}")


def test_a_revision_within_a_state_names_no_past_state(tmp_path):
    ctx, _ = revised_store(tmp_path)
    with ctx.store() as store:
        [flag] = flags(score(ctx, store, "2026-02-27"))
    assert "past_state" not in flag and "revised from" not in flag["detail"]


def test_robust_scale_falls_back_when_the_mad_is_zero():
    assert revisions.robust_scale(np.array([1.0, 2.0, 3.0, 4.0, 5.0])) == pytest.approx(1.4826)
    mostly_equal = np.array([5.0, 5.0, 5.0, 5.0, 9.0])                  # MAD 0, mean deviation 0.8
    assert revisions.robust_scale(mostly_equal) == pytest.approx(1.2533 * 0.8)
    assert revisions.robust_scale(np.array([5.0, 5.0, 5.0])) is None


def test_a_constant_series_shows_the_change_itself(tmp_path):
    ctx = project(tmp_path)
    with ctx.store() as store:
        write(store, "trade", rows([100.0] * 12), V1)
        write(store, "trade", rows([100.0] * 11 + [103.0]), V2)
        [flag] = flags(score(ctx, store, "2026-02-27"))
    assert flag["detail"] == "1 point revised on 2026-02-25 (2022-12-31), largest change 3"


def mover_store(root):
    """A revision that moves the state into growth, so `trade` is a mover."""
    ctx = project(root, half_life="30d")
    values = walk(48)
    with ctx.store() as store:
        write(store, "trade", rows(values), V1)
        write(store, "trade", rows(np.r_[values[:-1], 112.0]), V2)
    return ctx


def test_the_mover_is_tagged_revised_in_the_terminal_and_the_digest(tmp_path):
    ctx = mover_store(tmp_path)
    cfg = str(ctx.config.path("config.yaml"))
    text = CliRunner().invoke(main, ["score", "--as-of", "2026-02-27", "--config", cfg], env={"COLUMNS": "80"}).stdout
    assert "[new evidence, revised]" in text
    assert "Data flags (1 revised):" in text and "  revised: trade 2025-12-31: 1 point revised on 2026-02-25" in text
    assert max(map(len, text.splitlines())) <= 80
    with ctx.store() as store:
        d = digest.build(ctx, store, dt.date(2026, 2, 27))
    plain, html = digest.render(d, "chart.png")
    assert "[new evidence, revised]" in plain
    assert "DATA FLAGS" in plain and "  * revised: Indicator trade (trade), 2025-12-31" in plain
    assert "Data flags</h2>" in html and "revised</strong>: Indicator trade" in html
    assert "revised</span>)" in html


def test_the_digest_says_held_back_and_bounds_the_list(tmp_path):
    ctx = project(tmp_path)
    values = walk(48)
    with ctx.store() as store:
        write(store, "trade", rows(values), V1)
        write(store, "trade", rows(np.r_[values, values[-1] + 10]), V2)
        d = digest.build(ctx, store, dt.date(2026, 2, 27))
        plain, html = digest.render(d, "chart.png")
    assert "  * held back: Indicator trade (trade), 2026-01-31" in plain
    assert "held back</strong>: Indicator trade" in html
    many = [{"indicator": f"x{k}", "kind": "empty", "date": "2026-01-01", "detail": "d"} for k in range(30)]
    lines = report.flag_lines(many)
    assert len(lines) == 2 + report.FLAGS_SHOWN + 1
    assert lines[-1] == "  and 26 more (tracker score --json lists them all)"


def test_no_flags_says_so_in_the_digest(tmp_path):
    ctx = project(tmp_path)
    with ctx.store() as store:
        write(store, "trade", rows(walk(48)), V1)
        plain, _ = digest.render(digest.build(ctx, store, dt.date(2026, 2, 27)), "chart.png")
    assert "None: nothing held back, nothing revised this week, every source answering." in plain
