"""Result → the JSON contract of `tracker score --json` and the one-screen terminal view.

Rendering never computes the model: it reads a score.result.Result. JSON fields may be added,
never renamed or removed (DESIGN §7)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from tracker.pack.types import Pack
from tracker.score.result import Result
from tracker.score.trend import moves, trend_check
from tracker.score.whatif import watch_next
from tracker.text import escape_fields
from tracker.views import figures
from tracker.views.terminal import fit, listing, shorten, signed, width


def _num(x: Any) -> Any:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return round(float(x), 4) if isinstance(x, (float, np.floating)) else x


def _day(x: Any) -> str | None:
    return None if x is None or pd.isna(x) else str(pd.Timestamp(x).date())


def observation(result: Result, iid: str, t: int) -> dict[str, Any] | None:
    """The dated, sourced observation behind an indicator's state at grid index t."""
    f = result.feats[iid]
    if f.row[t] < 0:
        return None
    row = f.obs.cite(int(f.row[t]))
    ind = result.pack.indicators[iid]
    out = {"date": _day(row["date"]), "published": _day(row["published"]),
           "source_url": row.get("source_url"), "note": row.get("note")}
    if ind.kind == "ordinal":
        out["level"] = row["level"]
        out["since"] = _day(f.since[t])
    else:
        out["value"] = _num(row["value"])
        out["feature"] = _num(f.value[t])
        out["unit"] = ind.unit
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}


def indicator_rows(result: Result, t: int) -> list[dict[str, Any]]:
    """Every indicator's state, contribution bits and window change, strongest move first."""
    scen = result.model.scenarios
    bits = result.contributions(t)
    delta, new = moves(result, t)
    headline = headline_scenario(result, t)
    rows = []
    for i, iid in enumerate(result.model.ids):
        f = result.feats[iid]
        ind = result.pack.indicators[iid]
        state = ind.state_names[f.state[t]] if f.state[t] >= 0 else None
        rows.append({
            "indicator": iid, "name": ind.name, "group": ind.group, "state": state,
            "bits": {s: _num(bits[i, k]) for k, s in enumerate(scen)},
            "change_bits": {s: _num(delta[i, k]) for k, s in enumerate(scen)},
            "change_kind": change_kind(result, i, t, delta[i], bool(new[i])),
            "fresh": bool(result.fresh[i, t]),
            "observation": observation(result, iid, t),
        })
    k = scen.index(headline)
    rows.sort(key=lambda r: -abs(r["change_bits"][scen[k]] or 0.0))
    return rows


def change_kind(result: Result, i: int, t: int, delta: np.ndarray, new: bool) -> str:
    """Why an indicator's contribution moved over the window: a new observation or level, a
    signpost stalling (time without progress is evidence too), or old evidence fading."""
    if np.abs(delta).max() <= 1e-9:
        return "none"
    w = t - result.window
    if result.ordinal[i] and w >= 0 and result.rows[i, t] == result.rows[i, w]:
        return "stalled"
    return "new evidence" if new else "fading"


def headline_scenario(result: Result, t: int) -> str:
    call = result.trend[t]
    return call["scenario"] if call else result.model.scenarios[int(np.argmax(result.post[t]))]


def to_json(result: Result, movers: int = 5) -> dict[str, Any]:
    t = len(result.grid) - 1
    w = t - result.window
    scen = result.model.scenarios
    names = {s.id: s.name for s in result.pack.scenario_set.scenarios}
    rows = indicator_rows(result, t)
    before = result.post[w] if w >= 0 else [None] * len(scen)
    return {
        "as_of": str(result.as_of.date()),
        "pack": result.pack.name,
        "window_weeks": result.window,
        "scenarios": [{"id": s, "name": names[s], "probability": _num(result.post[t, k]),
                       "probability_before": _num(before[k]),
                       "change": _num(result.post[t, k] - before[k]) if w >= 0 else None}
                      for k, s in enumerate(scen)],
        "leading": scen[int(np.argmax(result.post[t]))],
        "trend": result.trend[t],
        **_trend_check(result, t),
        "evidence_only": {s: _num(result.evidence_only[t, k]) for k, s in enumerate(scen)},
        "prior": {s: _num(math.exp(result.model.log_prior[k])) for k, s in enumerate(scen)},
        "coverage": _num(result.coverage[t]),
        "movers": [{**r, "figure": figures.figure(result.pack.indicators[r["indicator"]], r["observation"])}
                   for r in rows if r["change_kind"] != "none" and moved(r)][:movers],
        "stale": [r["indicator"] for r in rows if r["observation"] and not r["fresh"]],
        "no_data": [r["indicator"] for r in rows if r["observation"] is None],
        "watch_next": watch_next(result, t),
        "flags": result.flags,
        **_short_history(result, rows),
    }


MOVED = 0.005
"""Bits: a change that rounds to 0.00 is not a move. Such a row was listed as a mover, showing
"A+0.00 B-0.00 C+0.00 [new evidence]" (issue 17)."""


def moved(row: dict[str, Any]) -> bool:
    return max(abs(v or 0.0) for v in row["change_bits"].values()) >= MOVED


def _short_history(result: Result, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """{"not_enough_history": {id: {readings, needs, message}}} for the indicators without data
    whose rows are too few for their transforms; absent when there are none, so every other
    document keeps its bytes."""
    short = {r["indicator"]: result.short_history[r["indicator"]] for r in rows
             if r["observation"] is None and r["indicator"] in result.short_history}
    if not short:
        return {}
    return {"not_enough_history": {iid: {"readings": k, "needs": n, "message": figures.short_history(k, n)}
                                   for iid, (k, n) in short.items()}}


def _trend_check(result: Result, t: int) -> dict[str, Any]:
    """{"trend_check": …} when a material rise is not called, else nothing: every other
    document keeps its bytes (issue 14)."""
    check = trend_check(result, t)
    return {"trend_check": {**check, "message": trend_check_line(check)}} if check else {}


PHRASES = {
    "breadth": lambda c: (f"one indicator carries {c['value']:.0%} of the move (needs two, or none above "
                          f"{c['threshold']:.0%})"),
    "new_evidence": lambda c: (f"only {c['value']:.0%} of the move is new evidence, the rest old evidence "
                               f"fading (needs {c['threshold']:.0%})"),
    "coverage": lambda c: f"only {c['value']:.0%} of the weight has fresh data (needs {c['threshold']:.0%})",
    "persistence": lambda c: (f"it has qualified at {c['value']:g} evaluation (needs {c['threshold']:g} in a row)"
                              if c["value"] else "it has not qualified yet"),
}


def trend_check_line(check: dict[str, Any]) -> str:
    """One line: "B +0.21 over 13 weeks, not called: one indicator carries 100% of the move
    (needs two, or none above 75%)". Persistence is named only when nothing else failed: any
    other failure already means the week did not qualify."""
    failed = [c for c in check["conditions"] if not c["met"]]
    named = [c for c in failed if c["name"] != "persistence"] or failed
    why = "; ".join(PHRASES[c["name"]](c) for c in named)
    return f"{check['scenario']} {check['change']:+.2f} over {check['window_weeks']} weeks, not called: {why}"


ARROWS = {1: "↑", -1: "↓", 0: "→"}


def headline(doc: dict[str, Any]) -> str:
    lead = next(s for s in doc["scenarios"] if s["id"] == doc["leading"])
    text = f"{lead['id']} ({lead['name']}) leads at {lead['probability']:.2f}"
    trend = doc["trend"]
    if trend:
        return text + f"; {trend['scenario']} is trending, {trend['change']:+.2f} over {trend['window_weeks']} weeks"
    return text + f"; no clear trend over {doc['window_weeks']} weeks"


def render_score(doc: dict[str, Any], pack: Pack | None = None) -> str:
    """The one-screen view of to_json's document, every stored text with its control characters
    escaped (a note or URL could otherwise clear the screen or retitle the window). With the
    pack, each mover shows the figure that decided its state, with its unit."""
    doc = escape_fields(doc)
    w = doc["window_weeks"]
    lines = [*fit(f"{doc['pack']} — as of {doc['as_of']}"), "", *fit(headline(doc))]
    if doc.get("trend_check"):
        lines += fit(doc["trend_check"]["message"])
    room = max(8, min(34, width() - 27))          # the label column gives way on a narrow terminal
    lines += ["", f"  {'scenario':<{room}} {'p now':>6} {f'{w}w ago':>7} {'Δ':>7}"]
    for s in doc["scenarios"]:
        before = "—" if s["probability_before"] is None else f"{s['probability_before']:.2f}"
        change = s["change"] or 0.0
        arrow = ARROWS[(change > 0.005) - (change < -0.005)]
        label = shorten(f"{s['id']}  {s['name']}", room)
        lines.append(f"  {label:<{room}} {s['probability']:>6.2f} {before:>7} {signed(change):>7} {arrow}")
    ev = ", ".join(f"{k} {v:.2f}" for k, v in doc["evidence_only"].items())
    lines += ["", *fit(f"evidence alone (uniform prior): {ev}; coverage {doc['coverage']:.0%}", "  ")]
    if doc["movers"]:
        lines += ["", *fit(f"Top movers over {w} weeks (change in bits toward each scenario):")]
        revised = revised_ids(doc)
        for m in doc["movers"]:
            lines += mover_lines({**m, "change_kind": f"{m['change_kind']}, revised"} if m["indicator"] in revised
                                 else m, pack)
    if doc["stale"] or doc["no_data"]:
        lines.append("")
        if doc["stale"]:
            lines += listing("stale", doc["stale"], LIST_SHOWN, "tracker explain lists them all")
        lines += _no_data_lines(doc)
    lines += flag_lines(doc.get("flags") or [])
    if doc["watch_next"]:
        lines += ["", *fit("Watch next (one change that would move the call):")]
        for x in doc["watch_next"][:WATCH_SHOWN]:
            lines += fit(watch_line(x), "  ")
        more = len(doc["watch_next"]) - WATCH_SHOWN
        if more > 0:
            lines += fit(f"and {more:,} more (tracker explain lists them all)", "  ")
    else:
        lines += ["", *fit("Watch next: no single change of state would start or end a trend call or change the lead.")]
    return "\n".join(lines)


def revised_ids(doc: dict[str, Any]) -> set[str]:
    """Indicators with a recent revision: their movers are tagged `revised` (issue 15)."""
    return {f["indicator"] for f in doc.get("flags") or [] if f["kind"] == "revised"}


LIST_SHOWN = 8
"""Ids shown of the stale and no-data lists in the terminal; --json carries all of them."""
FLAGS_SHOWN = 4
"""Flags shown in the terminal, FLAG_LINES lines each at most; --json, explain --json and the
digest carry all of them."""
FLAG_LINES = 3
FLAG_LABELS = {"unconfirmed": "held back", "revised": "revised", "failing": "failing source",
               "empty": "empty answers"}


def flag_lines(flags: list[dict[str, Any]]) -> list[str]:
    """The data flags, a few lines whatever their number: what is held back, revised or failing."""
    if not flags:
        return []
    counts = Counter(f["kind"] for f in flags)
    lines = ["", *fit("Data flags (" + ", ".join(f"{n} {FLAG_LABELS[k]}" for k, n in counts.items()) + "):")]
    for f in flags[:FLAGS_SHOWN]:
        wrapped = fit(f"{FLAG_LABELS[f['kind']]}: {f['indicator']} {f['date']}: {f['detail']}", "  ")
        if len(wrapped) > FLAG_LINES:
            last = wrapped[FLAG_LINES - 1] + " …"
            wrapped = [*wrapped[:FLAG_LINES - 1], last if len(last) <= width() else shorten(last, width())]
        lines += wrapped
    if len(flags) > FLAGS_SHOWN:
        lines.append(f"  and {len(flags) - FLAGS_SHOWN:,} more (tracker score --json lists them all)")
    return lines


WATCH_SHOWN = 3
"""The terminal's cut of the watch list; --json, the digest and explain carry all of it."""


def watch_line(x: dict[str, Any]) -> str:
    """One watch-next item as score and explain print it (the digest's templates say the same)."""
    return f"{x['indicator']}: {x['from_state'] or 'no data'} → {x['to_state']}  {x['flips']}"


def _no_data_lines(doc: dict[str, Any]) -> list[str]:
    """Indicators without a state: with no rows yet, and with rows too few for their transforms
    (the seeds exist; "no data" said otherwise, issue 17)."""
    short = doc.get("not_enough_history") or {}
    none = [i for i in doc["no_data"] if i not in short]
    lines = listing("no data yet", none, LIST_SHOWN, "tracker explain lists them all") if none else []
    if short:
        items = [f"{i} ({x['message'].removeprefix('not enough history: ')})" for i, x in short.items()]
        lines += listing("not enough history", items, LIST_SHOWN, "tracker explain lists them all")
    return lines


def mover_lines(m: dict[str, Any], pack: Pack | None = None) -> list[str]:
    """A mover in two parts, each wrapped to the terminal: what moved, then the figure that
    decided its state ("−44.3% y/y (8.46 USD bn) on 2025-12-31") and its source."""
    change = " ".join(f"{k}{signed(v)}" for k, v in m["change_bits"].items())
    obs = m["observation"] or {}
    ind = pack.indicators.get(m["indicator"]) if pack else None
    if ind is not None:
        what = figures.detail(ind, obs)
    else:
        what = f"{obs.get('level') if 'level' in obs else obs.get('value')} on {obs.get('date')}"
    cite = f"{what} · {obs.get('source_url') or 'no source'}" if obs else "no data"
    return [*fit(f"{m['indicator']}  {m['state']}  {change}  [{m['change_kind']}]", "  "), *fit(cite, "      ")]


def explain_rows(result: Result, t: int) -> list[dict[str, Any]]:
    """indicator_rows plus, for a signpost whose stall term counts, its bits split into the
    stage reached (`level_bits`) and time without progress (`stall_bits`); both None otherwise."""
    scen = result.model.scenarios
    stall = result.stall_bits(t)
    level = result.contributions(t) - stall
    index = {iid: i for i, iid in enumerate(result.model.ids)}
    rows = indicator_rows(result, t)
    for r in rows:
        i = index[r["indicator"]]
        has = bool(np.abs(stall[i]).max() > 0)
        r["level_bits"] = {s: _num(level[i, k]) for k, s in enumerate(scen)} if has else None
        r["stall_bits"] = {s: _num(stall[i, k]) for k, s in enumerate(scen)} if has else None
    return rows
