"""`tracker explain`: every indicator's contribution in bits, the observation behind it, and
what would change the call; as a table that fits the terminal, and as JSON.

The table has one column per scenario and nothing else, so that it fits 80 columns with up to
six scenarios; the state and observation of each row go on the lines below it, wrapped, and a
signpost's stage-reached and no-progress parts on two lines of their own. The table used to
put them all on one line of up to 250 columns (issue 17).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracker.score.result import Result
from tracker.score.whatif import best_pair, watch_next
from tracker.text import escape_controls, escape_fields
from tracker.views import figures
from tracker.views.report import explain_rows, watch_line
from tracker.views.terminal import fit, signed, width

CELL = 9
"""One scenario's column: two spaces and "+0.525"-style numbers up to ±99.999."""
LABEL = 28
"""The widest label column, as before; narrower when the scenarios need the room."""
MIN_LABEL = 12


def document(result: Result, scenario: str | None = None, t: int | None = None) -> dict[str, Any]:
    """explain --json: the rows with their bits, the figure each state came from, the posterior,
    and the what-if list (every single change that would move the call; the best pair toward
    `scenario` when one is asked for). Keys are only ever added (DESIGN §7)."""
    t = len(result.grid) - 1 if t is None else t
    scen = result.model.scenarios
    rows = [{**r, **_row_extras(result, r)} for r in explain_rows(result, t)]
    doc: dict[str, Any] = {
        "as_of": str(result.as_of.date()),
        "prior_bits": dict(zip(scen, map(float, result.prior_bits()), strict=True)),
        "indicators": rows,
        "posterior": {s: round(float(p), 4) for s, p in zip(scen, result.post[t], strict=True)},
        "watch_next": watch_next(result, t),
        "flags": result.flags,
    }
    if scenario:
        doc["best_pair"] = {"scenario": scenario, **(best_pair(result, scenario, t) or {"changes": None})}
    return doc


def _row_extras(result: Result, row: dict[str, Any]) -> dict[str, Any]:
    ind = result.pack.indicators[row["indicator"]]
    short = result.short_history.get(row["indicator"])
    return {"figure": figures.figure(ind, row["observation"]),
            "not_enough_history": None if short is None else {
                "readings": short[0], "needs": short[1], "message": figures.short_history(*short)}}


def render(result: Result, scenario: str | None, t: int | None = None) -> str:
    """The rows and the prior add up to the printed log-posterior. Stored and pack text is shown
    with its control characters escaped, as in report.render_score."""
    t = len(result.grid) - 1 if t is None else t
    columns = width()
    scen = result.model.scenarios
    doc = escape_fields(document(result, scenario, t))
    label = min(LABEL, columns - 2 - CELL * len(scen))
    table = label >= MIN_LABEL
    post = result.post[t]
    centred = np.log2(post) - np.log2(post).mean()
    lines = [*fit(f"{result.pack.name} — contributions as of {doc['as_of']}", columns=columns),
             *fit("(bits toward each scenario, centred; a stalled signpost's bits are split into the stage "
                  "reached and time without progress)", columns=columns), ""]
    cells = _cells_table if table else _cells_list
    if table:
        lines.append(f"  {'':<{label}}" + "".join(f"{s:>{CELL}}" for s in escape_fields(scen)))
    lines += cells("prior", dict(zip(scen, result.prior_bits(), strict=True)), label, columns, 3)
    for r in sorted(doc["indicators"], key=lambda r: -max(abs(v or 0) for v in r["bits"].values())):
        lines += cells(r["indicator"], r["bits"], label, columns, 3)
        if r["stall_bits"]:
            lines += cells("  stage reached", r["level_bits"], label, columns, 3)
            lines += cells("  no progress", r["stall_bits"], label, columns, 3)
        lines += fit(_cite(result, r), "      ", columns=columns)
    lines += cells("= log2 posterior (centred)", dict(zip(scen, centred, strict=True)), label, columns, 3)
    lines += cells("posterior", dict(zip(scen, post, strict=True)), label, columns, 3, sign=False)
    lines += _what_if(doc, scenario, columns)
    return escape_controls("\n".join(lines), keep="\n")


def _cite(result: Result, r: dict[str, Any]) -> str:
    """"collapse: −44.3% y/y (8.46 USD bn) on 2025-12-31 · URL"; an ordinal's level once
    ("binding_memorandum since 2025-09-02, last reported 2025-12-25 · URL")."""
    obs = r["observation"]
    if not obs:
        short = r["not_enough_history"]
        return short["message"] if short else "no data"
    ind = result.pack.indicators[r["indicator"]]
    sep = " " if ind.kind == "ordinal" else ": "
    return f"{r['state']}{sep}{figures.detail(ind, obs)} · {obs.get('source_url') or 'no source recorded'}"


def _number(x: float | None, places: int, sign: bool) -> str:
    if x is None:
        return "—"
    return signed(x, places) if sign else f"{round(x, places) + 0.0:.{places}f}"


def _cells_table(name: str, values: dict[str, Any], label: int, columns: int, places: int,
                 sign: bool = True) -> list[str]:
    """A label and one aligned number per scenario; a label too long for its column (a long id)
    takes a line of its own, so that no id is cut."""
    cells = "".join(f"{_number(v, places, sign):>{CELL}}" for v in values.values())
    if len(name) > label:
        return [*fit(name, "  ", columns=columns), f"  {'':<{label}}{cells}"]
    return [f"  {name:<{label}}{cells}"]


def _cells_list(name: str, values: dict[str, Any], label: int, columns: int, places: int,
                sign: bool = True) -> list[str]:
    """Too many scenarios for a table: the label, then "A +0.525  B −0.650 …" wrapped."""
    pairs = "  ".join(f"{k} {_number(v, places, sign)}" for k, v in escape_fields(values).items())
    return [*fit(name.strip(), "  " + " " * (len(name) - len(name.lstrip())), columns=columns),
            *fit(pairs, "      ", columns=columns)]


def _what_if(doc: dict[str, Any], scenario: str | None, columns: int) -> list[str]:
    lines: list[str] = []
    pair = doc.get("best_pair")
    if scenario and pair and pair["changes"]:
        moves = " and ".join(f"{c['indicator']} → {c['to_state']}" for c in pair["changes"])
        verdict = "would give it the lead" if pair["flips"] else "would not be enough for the lead"
        probs = ", ".join(f"{k} {v:.2f}" for k, v in pair["probabilities"].items())
        lines += ["", *fit(f"Best pair toward {scenario}: {moves} {verdict} ({probs})", columns=columns)]
    if doc["watch_next"]:
        lines += ["", *fit("What would change the call (every single change of state that would):", columns=columns)]
        for x in doc["watch_next"]:
            lines += fit(watch_line(x), "  ", columns=columns)
    return lines
