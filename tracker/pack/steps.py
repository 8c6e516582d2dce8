"""The schema of a `transforms:` step as data: which transforms exist, their parameters, and the
problems a step can have. The pack check reads it; score/transforms.py computes the steps."""

from __future__ import annotations

from typing import Any

from tracker.pack.schema import _pandas_freq
from tracker.suggest import closest

HOWS = ("last", "mean", "sum", "median", "max", "min")

# name -> {param: (type, required, default)}; the schema of each step as data.
PARAMS: dict[str, dict[str, tuple[type, bool, Any]]] = {
    "resample": {"freq": (str, True, None), "how": (str, False, "last")},
    "rolling": {"window": (int, True, None), "how": (str, False, "mean")},
    "change": {"periods": (int, False, 1)},
    "pct_change": {"periods": (int, False, 1)},
    "yoy": {"how": (str, False, "pct"), "tolerance": (str, False, "20d")},
    "zscore": {"window": (int, False, 40), "min_periods": (int, False, 8)},
    "share_of": {"indicator": (str, True, None)},
}


def check_step(step: Any) -> list[tuple[tuple[Any, ...], str]]:
    """Problems in one `transforms:` item as (location inside the item, message)."""
    if not isinstance(step, dict) or len(step) != 1:
        return [((), "expected a mapping with exactly one transform name, e.g. {change: {periods: 4}}")]
    name, params = next(iter(step.items()))
    if name not in PARAMS:
        return [((name,), f"unknown transform{closest(name, PARAMS)}; expected one of: {', '.join(PARAMS)}")]
    params = {} if params is None else params
    if not isinstance(params, dict):
        return [((name,), "expected a mapping of parameters, e.g. {periods: 4}")]
    problems = []
    spec = PARAMS[name]
    for key, value in params.items():
        if key not in spec:
            problems.append(((name, key), f"unknown parameter{closest(key, spec)}; expected one of: {', '.join(spec)}"))
            continue
        kind = spec[key][0]
        if not isinstance(value, kind) or isinstance(value, bool):
            problems.append(((name, key), f"expected {'a whole number' if kind is int else 'text'}, got {value!r}"))
        elif kind is int and value < 1:
            problems.append(((name, key), f"expected a whole number of at least 1, got {value}"))
        elif key == "how" and name == "yoy" and value not in ("pct", "diff"):
            problems.append(((name, key), f"expected pct or diff, got {value!r}"))
        elif key == "how" and name != "yoy" and value not in HOWS:
            problems.append(((name, key), f"expected one of: {', '.join(HOWS)}; got {value!r}"))
        elif key == "freq":
            try:
                _pandas_freq(value)
            except ValueError as exc:
                problems.append(((name, key), str(exc)))
    for key, (_, required, _) in spec.items():
        if required and key not in params:
            problems.append(((name,), f"missing parameter {key!r}"))
    return problems
