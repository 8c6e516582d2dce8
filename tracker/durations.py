"""Durations written as text with a unit (`365d`, `13w`, `18M`, `2y`), as the pack and the
config use them. Text with units avoids YAML's base-60 and octal surprises (PITFALLS §2.4)."""

from __future__ import annotations

import re

DAYS_PER = {"d": 1.0, "w": 7.0, "M": 30.436875, "y": 365.2425}
_RX = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dwMy])\s*$")


def parse_days(text: str, allow_zero: bool = False) -> float:
    """Return the duration in days, or raise ValueError with the accepted forms."""
    match = _RX.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"expected a duration such as 365d, 13w, 18M or 2y, got {text!r}")
    number = float(match.group(1))
    if number < 0 or (number == 0 and not allow_zero):
        raise ValueError(f"expected a positive duration, got {text!r}")
    return number * DAYS_PER[match.group(2)]
