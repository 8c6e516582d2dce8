"""Data faults held back before they move the call (issue 15, item 5).

A point is *new* when an `ingest` vintage holds its date and the vintage before it did not (or
held it back with another value). A new point is *unconfirmed*, and left out of the indicator's
feature, when:

- **jump**: its step from the previous point lies far outside the series' recent steps: the
  robust z of the step against the last STEPS steps (their median and 1.4826 × their median
  absolute deviation) is above JUMP_Z. Skipped with fewer than MIN_STEPS earlier steps, or
  when their MAD is 0 (a series that mostly repeats itself has no usual step to compare with);
- **state**: it changes the indicator's state (the state of the vintage as it stands, with the
  new points and without them) on a night when the same vintage revised past points, or a
  source of the same connector kind failed;
- **rejected**: an analyst rejected that value for that date (`tracker reject`) and the source
  sent it again.

A held point counts from its *release* day: the fetch of the next `ingest` vintage, on a later
day, that keeps it (same date, same value), the day an analyst confirmed it (`tracker confirm`), or the grid
date on which another indicator of its group changed state in the direction it points to
(corroboration, decided in scoring.py, which sees every indicator). A rejected point is
released only by an analyst. Scoring shows a held row to a grid date only from its release
(features.compute), so a backtest of any date before then still holds it back: the rules read
only vintages fetched, and reviews recorded, by the date scored.

The work is per vintage and per new point: two sorted date arrays compared per vintage, and one
window of steps per new point; a pack whose series have no `ingest` vintage skips it all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tracker.pack.series import Series
from tracker.pack.types import Indicator
from tracker.score import revisions, transforms

JUMP_Z = 8.0
"""A step this many robust standard deviations from the median of the recent steps is held back:
a ten-sigma jump is, a normal month (even a five-sigma one) is not."""
STEPS = 40
MIN_STEPS = 8
NEVER = np.datetime64("9999-12-31", "D")


@dataclass(frozen=True)
class Verdict:
    """An analyst's confirm or reject of one observation, as scoring reads it."""

    date: np.datetime64      # the observation's date
    action: str              # confirm | reject
    day: np.datetime64       # the UTC day it was recorded: it counts from then
    at: str                  # the instant, for ordering
    value: float | None
    level: str | None


@dataclass
class Checks:
    """What the rules need from outside the series; service.py reads it from the store (scoring
    never touches it), as of the day scored."""

    reviews: dict[str, list[Verdict]] = field(default_factory=dict)
    faults: set[tuple[np.datetime64, str]] = field(default_factory=set)
    """(UTC day, connector kind) of every failed fetch."""
    health: list[dict[str, Any]] = field(default_factory=list)
    """Flags of kinds `empty` and `failing`, made by service.py from the sources' records."""


@dataclass
class Held:
    date: np.datetime64
    value: float
    level: str | None
    since: np.datetime64           # the fetch day of the vintage that brought it
    reason: str                    # jump | state | rejected
    why: str
    release: np.datetime64 = NEVER
    released_by: str | None = None
    rows: list[int] = field(default_factory=list)
    current: bool = False          # the newest vintage read still holds it


def find(ind: Indicator, series: Series, verdicts: list[Verdict], faults: set[tuple[np.datetime64, str]],
         lookup: transforms.Lookup | None = None) -> list[Held]:
    """Every point of the series held back at some time, with the rows that carry it while held."""
    if not series.origin or not len(series) or "ingest" not in series.origin.values():
        return []
    starts, ends = series.bounds()
    ordinal = ind.kind == "ordinal"
    levels = series.levels() if ordinal else None
    holds: list[Held] = []
    open_: list[Held] = []
    for j, (a, b) in enumerate(zip(starts, ends, strict=True)):
        ingest = series.origin.get(int(series.vintage[a])) == "ingest"
        open_, replaced = _carry(series, open_, a, b, ingest, levels)
        if j == 0 or not ingest:
            continue
        new = _new_rows(series, slice(starts[j - 1], ends[j - 1]), slice(a, b), replaced)
        if len(new):
            found = _judge(ind, series, slice(starts[j - 1], ends[j - 1]), slice(a, b), new, verdicts, faults,
                           levels, lookup)
            holds += found
            open_ += found
    for h in open_:
        h.current = True
    _apply_confirms(holds, verdicts)
    return [h for h in holds if h.release > h.since]


def _same(series: Series, row: int, h: Held, levels: np.ndarray | None) -> bool:
    """The row still holds the held point (a missing value still missing)."""
    v = series.value[row]
    return _holds(series, row, levels, h.level, h.value) or (levels is None and bool(np.isnan(v) and np.isnan(h.value)))


def _holds(series: Series, row: int, levels: np.ndarray | None, level: str | None, value: float | None) -> bool:
    """The row holds this level (ordinal: `levels` given) or this value."""
    if levels is not None:
        return bool(levels[row] == level)
    return revisions.same_value(series.value[row], value)


def _carry(series: Series, open_: list[Held], a: int, b: int, ingest: bool,
           levels: np.ndarray | None) -> tuple[list[Held], set[np.datetime64]]:
    """The holds still standing in the vintage at rows a:b, each given its row there. An
    `ingest` vintage fetched on a later day that keeps a point confirms it (a second fetch the
    same night may meet the same fault; a rejected point only an analyst can confirm); a point
    dropped or given another value is no longer held. Returns the dates given another value,
    whose new value is new in turn."""
    still, replaced = [], set()
    dates = series.date[a:b]
    for h in open_:
        k = int(np.searchsorted(dates, h.date))
        present = k < len(dates) and dates[k] == h.date
        if present and _same(series, a + k, h, levels):
            if ingest and h.reason != "rejected" and series.fetched[a] > h.since:
                h.release, h.released_by = min(h.release, series.fetched[a]), "the next vintage kept it"
            else:
                h.rows.append(a + k)
                still.append(h)
        elif present:
            replaced.add(h.date)
    return still, replaced


def _new_rows(series: Series, old: slice, new: slice, replaced: set[np.datetime64]) -> np.ndarray:
    """Positions (in the whole series) of the rows of `new` whose date `old` lacks, or whose held
    value was replaced."""
    d_old, d_new = series.date[old], series.date[new]
    if len(d_old) <= len(d_new) and np.array_equal(d_old, d_new[:len(d_old)]):
        fresh = np.arange(len(d_old), len(d_new))
    else:
        fresh = np.flatnonzero(~np.isin(d_new, d_old, assume_unique=True))
    if replaced:
        fresh = np.union1d(fresh, np.flatnonzero(np.isin(d_new, np.array(sorted(replaced)))))
    return new.start + fresh


def _judge(ind: Indicator, series: Series, old: slice, cur: slice, new: np.ndarray, verdicts: list[Verdict],
           faults: set[tuple[np.datetime64, str]], levels: np.ndarray | None,
           lookup: transforms.Lookup | None) -> list[Held]:
    """The new rows of one ingest vintage that are held back, and why."""
    day = series.fetched[cur.start]
    out: dict[int, Held] = {}
    for row in new if any(v.action == "reject" for v in verdicts) else ():
        verdict = _rejected(series, int(row), day, verdicts, levels)
        if verdict is not None:
            out[int(row)] = _held(series, int(row), day, "rejected", levels,
                                  f"an analyst rejected it on {verdict.day} and the source sent it again")
    if levels is None:
        z, prev, steps = jump_scores(series.value[cur], new - cur.start)
        for k in np.flatnonzero(z > JUMP_Z):
            row = int(new[k])
            if row not in out:
                step = series.value[row] - prev[k]
                out[row] = _held(series, row, day, "jump", levels,
                                 f"a step of {step:+.4g} from {prev[k]:.4g} is {z[k]:.1f}× the usual spread "
                                 f"(last {steps[k]} steps; held above {JUMP_Z:g})")
    rest = np.array([r for r in new if int(r) not in out], dtype=np.int64)
    why = _night(ind, series, old, cur, day, faults) if len(rest) else ""
    if why:
        rows = np.setdiff1d(np.arange(cur.start, cur.stop), np.array(sorted(out), dtype=np.int64))
        with_new = _last_state(ind, series, rows, lookup)
        without = _last_state(ind, series, np.setdiff1d(rows, rest), lookup)
        if with_new != without and with_new >= 0:
            names = ind.state_names
            change = f"{names[without] if without >= 0 else 'no data'} → {names[with_new]}"
            for row in rest:
                out[int(row)] = _held(series, int(row), day, "state", levels,
                                      f"it turns the state {change} on a night {why}")
    return [out[r] for r in sorted(out)]


def _night(ind: Indicator, series: Series, old: slice, cur: slice, day: np.datetime64,
           faults: set[tuple[np.datetime64, str]]) -> str:
    """Why the night the vintage at `cur` came in is suspect ('' when it is not)."""
    if len(revisions.changed(series, old, cur, ind.kind == "ordinal")[0]):
        return "the same vintage revised past points"
    kind = getattr(ind.source, "kind", "")
    if (day, kind) in faults:
        return f"a {kind} source failed"
    return ""


def _last_state(ind: Indicator, series: Series, rows: np.ndarray, lookup: transforms.Lookup | None) -> int:
    _, state = revisions.states_over(ind, series, rows, lookup)
    return int(state[-1]) if len(state) else -1


def _held(series: Series, row: int, day: np.datetime64, reason: str, levels: np.ndarray | None, why: str) -> Held:
    level = levels[row] if levels is not None else None
    return Held(series.date[row], float(series.value[row]), level, day, reason, why, rows=[row])


def _rejected(series: Series, row: int, day: np.datetime64, verdicts: list[Verdict],
              levels: np.ndarray | None) -> Verdict | None:
    """The analyst's reject standing against this row on `day` (the newest review of the same
    date and value recorded by then is a reject), or None."""
    standing = None
    for v in verdicts:
        if v.date == series.date[row] and v.day <= day and _holds(series, row, levels, v.level, v.value):
            standing = v if v.action == "reject" else None
    return standing


def _apply_confirms(holds: list[Held], verdicts: list[Verdict]) -> None:
    """An analyst's confirm of the same date and value releases a hold from the day it was
    recorded (a rejected point, only by a confirm recorded after the reject)."""
    for h in holds:
        for v in verdicts:
            if v.action != "confirm" or v.date != h.date or not _same_value(v, h):
                continue
            if h.reason == "rejected" and v.day < h.since:
                continue
            day = max(v.day, h.since)
            if day < h.release:
                h.release, h.released_by = day, f"an analyst confirmed it on {v.day}"


def _same_value(v: Verdict, h: Held) -> bool:
    if h.level is not None:
        return v.level == h.level
    return revisions.same_value(h.value, v.value)


def jump_scores(values: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per new row (positions in `values`, one vintage in date order): the robust z of its step
    from the previous finite value against the up to STEPS steps before it, the previous value,
    and how many steps were compared; z is NaN where the rule is skipped."""
    if 0 < len(new) <= FEW:
        return _few_jump_scores(values, new)
    z = np.full(len(new), np.nan)
    prev = np.full(len(new), np.nan)
    count = np.zeros(len(new), dtype=np.int64)
    fin = np.flatnonzero(np.isfinite(values))
    if len(fin) < MIN_STEPS + 2 or not len(new):
        return z, prev, count
    k = np.searchsorted(fin, new)
    ok = (k >= 1) & (k < len(fin))
    ok[ok] = fin[k[ok]] == new[ok]
    v = values[fin]
    steps = np.diff(v)                                   # steps[i] = v[i + 1] − v[i]
    at = k[ok] - 1                                       # each new row's own step
    window = sliding_window_view(np.r_[np.full(STEPS, np.nan), steps], STEPS)[at]   # the STEPS before it
    n = np.isfinite(window).sum(axis=1)
    med, mad = np.full(len(at), np.nan), np.full(len(at), np.nan)
    full = n == STEPS                  # the usual case: np.median, a tenth of np.nanmedian's cost
    if full.any():
        med[full] = np.median(window[full], axis=1)
        mad[full] = np.median(np.abs(window[full] - med[full, None]), axis=1)
    for k in np.flatnonzero(~full & (n >= MIN_STEPS)):      # the first STEPS points of a series
        w = window[k][np.isfinite(window[k])]
        med[k] = np.median(w)
        mad[k] = np.median(np.abs(w - med[k]))
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(mad > 0, np.abs(steps[at] - med) / (revisions.MAD_SCALE * mad), np.nan)
    z[ok], prev[ok], count[ok] = score, v[at], n
    return z, prev, count


FEW = 4
"""Up to this many new rows (a nightly vintage usually adds one), each is scored on its own: the
whole-vintage windows cost ten times more in numpy calls than the arithmetic."""


def _few_jump_scores(values: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = np.full(len(new), np.nan)
    prev = np.full(len(new), np.nan)
    count = np.zeros(len(new), dtype=np.int64)
    for k, p in enumerate(new):
        if not np.isfinite(values[p]):
            continue
        before = values[:p]
        before = before[np.isfinite(before)][-(STEPS + 1):]
        if len(before) < 2:
            continue
        steps = np.diff(before)
        prev[k], count[k] = before[-1], len(steps)
        if len(steps) < MIN_STEPS:
            continue
        med = np.median(steps)
        mad = np.median(np.abs(steps - med))
        if mad > 0:
            z[k] = abs(values[p] - before[-1] - med) / (revisions.MAD_SCALE * mad)
    return z, prev, count


def release_days(series: Series, holds: list[Held]) -> np.ndarray | None:
    """Per row, the day it may be seen from when it is held back (NaT for every other row), for
    features.compute; None when nothing is held."""
    if not holds:
        return None
    out = np.full(len(series), np.datetime64("NaT"), dtype="datetime64[D]")
    for h in holds:
        out[h.rows] = h.release
    return out


def window(grid: np.ndarray, holds: list[Held]) -> np.ndarray:
    """The grid dates on which some point of these holds is held back."""
    mask = np.zeros(len(grid), dtype=bool)
    for h in holds:
        mask |= (grid >= h.since) & (grid < h.release)
    return mask


def favours(loglik: np.ndarray, old: int, new: int) -> int:
    """The scenario a change of state from `old` to `new` moves evidence toward most (-1 for none)."""
    if new < 0:
        return -1
    gain = loglik[new] - (loglik[old] if old >= 0 else loglik[new].mean())
    return int(np.argmax(gain)) if np.ptp(gain) > 1e-12 else -1


def corroborate(i: int, holds: list[Held], held_state: np.ndarray, unheld_state: np.ndarray,
                states: np.ndarray, loglik: list[np.ndarray], mates: list[int], ids: list[str],
                grid: np.ndarray) -> bool:
    """Release the holds of indicator i at the first grid date on which, while they are held,
    their points would change its state and another indicator of its group changes state toward
    the same scenario. True when something was released."""
    differs = window(grid, holds) & (held_state != unheld_state) & (unheld_state >= 0)
    for t in np.flatnonzero(differs):
        toward = favours(loglik[i], int(held_state[t]), int(unheld_state[t]))
        if toward < 0 or t == 0:
            continue
        for m in mates:
            old, new = int(states[m, t - 1]), int(states[m, t])
            if new >= 0 and old != new and favours(loglik[m], old, new) == toward:
                for h in holds:
                    if h.since <= grid[t] < h.release:
                        h.release, h.released_by = grid[t], f"{ids[m]} moved the same way on {grid[t]}"
                return True
    return False


def flag(ind: Indicator, h: Held) -> dict[str, Any]:
    """The `unconfirmed` flag of a point held back on the date scored."""
    what = h.level if h.level is not None else f"{h.value:g}{' ' + ind.unit if ind.unit else ''}"
    if h.reason == "rejected":
        how = f"`tracker confirm {ind.id} {h.date}` counts it"
    else:
        how = (f"counts once `tracker confirm {ind.id} {h.date}`, the next vintage keeping it or a group mate "
               "moving the same way confirms it")
    return {"indicator": ind.id, "kind": "unconfirmed", "date": str(h.date),
            "detail": f"{what}, fetched {h.since}: {h.why}; {how}"}
