"""The figure that decided an indicator's state, with its unit, as every view prints it:
"−44.3% y/y (8.46 USD bn)", "99.1% of bilateral trade"; for a signpost, its level and since when.

A state is read from the transformed feature (a change on a year earlier, a z-score), while the
observation is the stored value. Showing only the value ("collapse … 8.46") hid what made it a
collapse, and showing neither unit left "8.46" meaning nothing (issue 17). The terminal, explain
--json and the digest take their labels from here, so they say the same thing.
"""

from __future__ import annotations

import math
from typing import Any

from tracker.pack.types import Indicator

MINUS = "\u2212"


def amount(value: float | None, unit: str) -> str:
    """A stored value with its unit: "8.46 USD bn", "99.1% of bilateral trade", "38.8 bcm"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no value"
    number = plain(value)
    if _percent(unit):
        return f"{number}%{unit[len('percent'):]}"
    return f"{number} {unit}" if unit else number


def _percent(unit: str) -> bool:
    return unit == "percent" or unit.startswith("percent ")


def plain(x: float) -> str:
    """At most four decimals, no trailing zeros, thousands separated, a true minus sign."""
    if x != 0 and abs(x) < 0.001:
        text = f"{x:.3g}"
    else:
        text = f"{x:,.4f}".rstrip("0").rstrip(".")
    return _minus(text if text not in ("-0", "") else "0")


def change(x: float, places: int = 1) -> str:
    """A signed change: "+12.0", "−44.3"; zero is "0.0", never "-0.0"."""
    x = round(x, places) + 0.0
    return "0." + "0" * places if x == 0 else _minus(f"{x:+,.{places}f}")


def _minus(text: str) -> str:
    """A leading hyphen as the minus sign (an exponent's, as in 1e-05, stays)."""
    return MINUS + text[1:] if text.startswith("-") else text


def feature_label(ind: Indicator, feature: float) -> str:
    """The transformed figure in words, after the last step that changes its meaning."""
    for step in reversed(ind.transforms):
        name, params = next(iter(step.items()))
        p = dict(params or {})
        if name == "yoy":
            if p.get("how", "pct") == "pct":
                return f"{change(feature)}% y/y"
            return f"{change(feature)}{' pts' if _percent(ind.unit) else ''} y/y"
        if name == "pct_change":
            return f"{change(feature)}% on {_readings(p.get('periods', 1))} earlier"
        if name == "change":
            return f"{change(feature, 2)} on {_readings(p.get('periods', 1))} earlier"
        if name == "zscore":
            return f"z-score {change(feature, 2)}"
        if name == "share_of":
            return f"{plain(round(feature, 1))}% of {p.get('indicator')}"
        if name == "rolling":
            return f"{amount(round(feature, 4), ind.unit)}, {p.get('how', 'mean')} of {p['window']} readings"
    return amount(feature, ind.unit)


def _readings(periods: int) -> str:
    return "the reading" if periods == 1 else f"{periods} readings"


def figure(ind: Indicator, obs: dict[str, Any] | None) -> str | None:
    """What decided the state, and the stored value behind it: "−44.3% y/y (8.46 USD bn)"; an
    ordinal's level. None without an observation."""
    if not obs:
        return None
    if ind.kind == "ordinal":
        return str(obs.get("level"))
    value, feature = obs.get("value"), obs.get("feature")
    if not ind.transforms or feature is None:
        return amount(value, ind.unit)
    return f"{feature_label(ind, feature)} ({amount(value, ind.unit)})"


def detail(ind: Indicator, obs: dict[str, Any] | None) -> str:
    """The figure and its date, for a line that already names the state: "−44.3% y/y (8.46 USD
    bn) on 2025-12-31"; an ordinal, whose level is its state, says since when instead of
    repeating it ("binding_memorandum: binding_memorandum on …" in explain, issue 17)."""
    if not obs:
        return "no data"
    if ind.kind == "ordinal":
        since, date = obs.get("since"), obs.get("date")
        return f"since {since}" + (f", last reported {date}" if date and date != since else "")
    return f"{figure(ind, obs)} on {obs.get('date')}"


def short_history(known: int, needed: int) -> str:
    """Why an indicator with stored rows has no state yet: its transforms need more history
    ("no data" said there was nothing, where the seeds had rows; issue 17)."""
    more = needed - known
    return f"not enough history: needs {more:,} more" if more > 0 else \
        "not enough history: its transforms have no value yet"
