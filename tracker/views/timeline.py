"""Probabilities by date (a backtest's rows or the stored history) as CSV or a small text chart."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from tracker.text import escape_fields
from tracker.views.terminal import fit, shorten, width

BLOCKS = " ▁▂▃▄▅▆▇█"


def rows_from_frame(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Stored score history (date × scenario) as the same rows the backtest prints."""
    return [{"date": str(d.date()), "probabilities": {s: round(float(p), 4) for s, p in row.items()},
             "leading": str(row.idxmax()), "trend": None} for d, row in frame.iterrows()]


def to_csv(rows: list[dict[str, Any]], scenarios: list[str]) -> str:
    lines = [",".join(["date", *(f"p_{s}" for s in scenarios), "leading", "trend"])]
    for r in rows:
        probs = [f"{r['probabilities'][s]:.4f}" for s in scenarios]
        lines.append(",".join([r["date"], *probs, r["leading"], r["trend"] or ""]))
    return "\n".join(lines) + "\n"


def chart(rows: list[dict[str, Any]], scenarios: list[str], columns: int | None = None) -> str:
    """One sparkline per scenario (0 to 1) over every row, in `columns` (default the terminal's
    width): when there are more weeks than room, each character is the mean of a few weeks,
    and the first line says how many. `·` where a date has no probability (a scenario added to
    the pack after those scores were stored). The calls line marks each character whose weeks
    had a trend call. Stored text is shown with its control characters escaped.

    The whole range, always: the chart used to show the last 60 weeks only, so `backtest --from
    2022-01-01` said "trend calls: 0 of 60 weeks" where the CSV had five calls (issue 17)."""
    rows = escape_fields(rows)
    if not rows:
        return "No rows."
    scenarios = escape_fields(scenarios)
    columns = columns or width()
    label = min(max([4, *(len(s) for s in scenarios)]), columns // 3)
    shown = [shorten(s, label) for s in scenarios]
    room = max(1, columns - (2 + label + 1) - 6)          # "  A    " … "  0.65"
    per = -(-len(rows) // room)
    groups = [rows[k:k + per] for k in range(0, len(rows), per)]
    span = (f"{len(rows)} weeks; bar height = probability" if per == 1 else
            f"{len(rows)} weeks, {per} per column; bar = mean probability")
    out = fit(f"{rows[0]['date']} … {rows[-1]['date']} ({span})", columns=columns)
    for s, name in zip(scenarios, shown, strict=True):
        line = "".join(_bar(_mean([r["probabilities"].get(s) for r in g])) for g in groups)
        last = rows[-1]["probabilities"].get(s)
        out.append(f"  {name:<{label}} {line}  " + ("—" if _missing(last) else f"{last:.2f}"))
    calls = [r for r in rows if r["trend"]]
    if calls:
        out.append((f"  {'calls':<{label}} " + "".join(_call_mark(g, scenarios) for g in groups)).rstrip())
    summary = f"trend calls: {len(calls)} of {len(rows)} weeks"
    if calls:
        summary += f" (last: {calls[-1]['trend']} on {calls[-1]['date']})"
    return "\n".join([*out, *fit(summary, "  ", columns=columns)])


def _mean(ps: list[float | None]) -> float | None:
    known = [p for p in ps if not _missing(p)]
    return sum(known) / len(known) if known else None


def _call_mark(group: list[dict[str, Any]], scenarios: list[str]) -> str:
    """The scenario called in these weeks (its id when it is one character, else `▲`), `*`
    when more than one was, a space when none was."""
    called = {r["trend"] for r in group if r["trend"]}
    if not called:
        return " "
    if len(called) > 1:
        return "*"
    (s,) = called
    return s if len(s) == 1 and all(len(x) == 1 for x in scenarios) else "▲"


def _missing(p: float | None) -> bool:
    return p is None or math.isnan(p)


def _bar(p: float | None) -> str:
    return "·" if _missing(p) else BLOCKS[min(8, int(round(p * 8)))]
