"""Result → the JSON contract of `tracker score --json` and the one-screen terminal view.

Rendering never computes the model: it reads a score.result.Result. JSON fields may be added,
never renamed or removed (DESIGN §7)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from tracker.score.result import Result
from tracker.score.trend import moves, trend_check
from tracker.score.whatif import watch_next
from tracker.text import escape_controls, escape_fields
from tracker.views.terminal import fit, listing, shorten, width


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
        "movers": [r for r in rows if r["change_kind"] != "none"][:movers],
        "stale": [r["indicator"] for r in rows if r["observation"] and not r["fresh"]],
        "no_data": [r["indicator"] for r in rows if r["observation"] is None],
        "watch_next": watch_next(result, t),
    }


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


def render_score(doc: dict[str, Any]) -> str:
    """The one-screen view of to_json's document, every stored text with its control characters
    escaped (a note or URL could otherwise clear the screen or retitle the window)."""
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
        lines.append(f"  {label:<{room}} {s['probability']:>6.2f} {before:>7} {change:>+7.2f} {arrow}")
    ev = ", ".join(f"{k} {v:.2f}" for k, v in doc["evidence_only"].items())
    lines += ["", *fit(f"evidence alone (uniform prior): {ev}; coverage {doc['coverage']:.0%}", "  ")]
    if doc["movers"]:
        lines += ["", *fit(f"Top movers over {w} weeks (change in bits toward each scenario):")]
        for m in doc["movers"]:
            lines += mover_lines(m)
    if doc["stale"] or doc["no_data"]:
        lines.append("")
        if doc["stale"]:
            lines += listing("stale", doc["stale"], LIST_SHOWN, "tracker explain lists them all")
        if doc["no_data"]:
            lines += listing("no data yet", doc["no_data"], LIST_SHOWN, "tracker explain lists them all")
    if doc["watch_next"]:
        lines += ["", "Watch next (one change that would move the call):"]
        for x in doc["watch_next"][:WATCH_SHOWN]:
            lines += fit(watch_line(x), "  ")
        more = len(doc["watch_next"]) - WATCH_SHOWN
        if more > 0:
            lines.append(f"  and {more:,} more (tracker explain lists them all)")
    else:
        lines += ["", *fit("Watch next: no single change of state would start or end a trend call or change the lead.")]
    return "\n".join(lines)


LIST_SHOWN = 8
"""Ids shown of the stale and no-data lists in the terminal; --json carries all of them."""
WATCH_SHOWN = 3
"""The terminal's cut of the watch list; --json, the digest and explain carry all of it."""


def watch_line(x: dict[str, Any]) -> str:
    """One watch-next item as score and explain print it (the digest's templates say the same)."""
    return f"{x['indicator']}: {x['from_state'] or 'no data'} → {x['to_state']}  {x['flips']}"


def mover_lines(m: dict[str, Any]) -> list[str]:
    """A mover in two parts, each wrapped to the terminal: what moved, then the observation."""
    change = " ".join(f"{k}{v:+.2f}" for k, v in m["change_bits"].items())
    obs = m["observation"] or {}
    what = obs.get("level") if "level" in obs else obs.get("value")
    cite = f"{what} on {obs.get('date')} · {obs.get('source_url') or 'no source'}" if obs else "no data"
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


def render_explain(result: Result, scenario: str | None, t: int | None = None) -> str:
    """Every indicator's contribution in bits; the rows and the prior add up to the log-odds.
    Stored and pack text is shown with its control characters escaped, as in render_score."""
    t = len(result.grid) - 1 if t is None else t
    scen = result.model.scenarios
    rows = escape_fields(explain_rows(result, t))
    post = result.post[t]
    clr = (np.log2(post) - np.log2(post).mean())
    header = "  ".join(f"{s:>7}" for s in scen)
    group = len(header)
    stalls = any(r["stall_bits"] for r in rows)
    split = f"   {'level (stage reached)':<{group}}   {'stall (no progress)':<{group}}" if stalls else ""
    lines = [f"{result.pack.name} — contributions as of {result.as_of.date()} (bits, centred)", ""]
    if stalls:
        lines.append(f"  {'':<28} {'total':<{group}}{split}")
    lines.append(f"  {'':<28} {header}" + (f"   {header}   {header}" if stalls else "") + "   state / observation")
    prior = result.prior_bits()
    lines.append(f"  {'prior':<28} " + "  ".join(f"{x:>+7.3f}" for x in prior))
    for r in sorted(rows, key=lambda r: -max(abs(v or 0) for v in r["bits"].values())):
        obs = r["observation"] or {}
        what = obs.get("level") if "level" in obs else obs.get("value")
        cite = (f"{r['state']}: {what} on {obs.get('date')}, {obs.get('source_url') or 'no source recorded'}"
                if obs else "no data")
        cells = "  ".join(f"{r['bits'][s]:>+7.3f}" for s in scen)
        if stalls:
            parts = [r["level_bits"], r["stall_bits"]] if r["stall_bits"] else [None, None]
            cells += "".join("   " + ("  ".join(f"{round(p[s], 3) + 0.0:>+7.3f}" for s in scen) if p else " " * group)
                             for p in parts)
        lines.append(f"  {r['indicator']:<28} {cells}   {cite}")
    lines.append(f"  {'= log2 posterior (centred)':<28} " + "  ".join(f"{x:>+7.3f}" for x in clr))
    lines.append(f"  {'posterior':<28} " + "  ".join(f"{x:>7.3f}" for x in post))
    if scenario:
        from tracker.score.whatif import best_pair

        pair = escape_fields(best_pair(result, scenario, t))
        if pair:
            moves_txt = " and ".join(f"{c['indicator']} → {c['to_state']}" for c in pair["changes"])
            verdict = "would give it the lead" if pair["flips"] else "would not be enough for the lead"
            lines += ["", f"Best pair toward {scenario}: {moves_txt} {verdict} "
                          f"({', '.join(f'{k} {v:.2f}' for k, v in pair['probabilities'].items())})"]
    wn = escape_fields(watch_next(result, t))
    if wn:
        lines += ["", "What would change the call (every single change of state that would):"]
        lines += [f"  {watch_line(x)}" for x in wn]
    return escape_controls("\n".join(lines), keep="\n")
