"""Probabilities by date (a backtest's rows or the stored history) as CSV or a small text chart."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from tracker.text import escape_fields

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


def chart(rows: list[dict[str, Any]], scenarios: list[str], width: int = 60) -> str:
    """One sparkline per scenario (0 to 1), last `width` rows; `·` where a date has no
    probability (a scenario added to the pack after those scores were stored). Stored text
    (scenario ids, trend calls) is shown with its control characters escaped."""
    rows = escape_fields(rows[-width:])
    if not rows:
        return "No rows."
    out = [f"{rows[0]['date']} … {rows[-1]['date']} ({len(rows)} weeks; bar height = probability)"]
    for s in escape_fields(scenarios):
        line = "".join(_bar(r["probabilities"].get(s)) for r in rows)
        last = rows[-1]["probabilities"].get(s)
        out.append(f"  {s:<4} {line}  " + ("—" if _missing(last) else f"{last:.2f}"))
    calls = [r["trend"] for r in rows if r["trend"]]
    out.append(f"  trend calls: {len(calls)} of {len(rows)} weeks" + (f" (last: {calls[-1]})" if calls else ""))
    return "\n".join(out)


def _missing(p: float | None) -> bool:
    return p is None or math.isnan(p)


def _bar(p: float | None) -> str:
    return "·" if _missing(p) else BLOCKS[min(8, int(round(p * 8)))]
