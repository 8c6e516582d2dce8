"""`tracker test`: run the `tests:` written inside each indicator file, like
`promtool test rules`: SUCCESS, or exactly what differed and where."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tracker.pack.series import from_frame
from tracker.pack.types import Indicator, IndicatorTest, Pack
from tracker.score import features


@dataclass
class Failure:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def given_frame(test: IndicatorTest) -> pd.DataFrame:
    """The given rows as one vintage; a row is published on its date unless it says otherwise."""
    rows = [{"date": g.date, "value": g.value, "level": g.level, "published": g.published or g.date,
             "source_url": None, "note": None} for g in test.given]
    frame = pd.DataFrame(rows, columns=["date", "value", "level", "published", "source_url", "note"])
    frame["date"] = pd.to_datetime(frame["date"])
    frame["published"] = pd.to_datetime(frame["published"])
    frame["value"] = frame["value"].astype(float)
    frame["vintage"] = 1
    frame["fetched"] = frame["date"].min() if len(frame) else pd.Timestamp("1900-01-01")
    return frame.sort_values("date", ignore_index=True)


def evaluate(ind: Indicator, test: IndicatorTest) -> tuple[str | None, float | None]:
    """(state name or None for no data, feature value) as of the test's date."""
    frame = given_frame(test)
    as_of = test.as_of or (str(frame["date"].max().date()) if len(frame) else "2000-01-01")
    grid = np.array([np.datetime64(dt.date.fromisoformat(as_of), "D")])
    f = features.compute(ind, from_frame(frame), grid, lookup=lambda _: pd.Series(dtype=float))
    k = int(f.state[0])
    value = None if math.isnan(f.value[0]) else float(f.value[0])
    return (ind.state_names[k] if k >= 0 else None), value


def run_tests(pack: Pack) -> tuple[int, list[Failure]]:
    """Run every test in the pack; return (number run, failures)."""
    count, failures = 0, []
    for iid, ind in pack.indicators.items():
        for n, test in enumerate(ind.tests):
            count += 1
            where = f"{pack.line_of(iid, ('tests', n))}: {iid} test {n + 1}" + (f" ({test.name})" if test.name else "")
            try:
                state, value = evaluate(ind, test)
            except (ValueError, KeyError, TypeError) as exc:
                failures.append(Failure(where, f"could not evaluate: {exc}"))
                continue
            failures += _compare(where, test, state, value)
    return count, failures


def _compare(where: str, test: IndicatorTest, state: str | None, value: float | None) -> list[Failure]:
    exp = test.expect
    got = "no data" if state is None else f"state {state!r}" + (f" (feature {value:.6g})" if value is not None else "")
    if exp.no_data:
        return [] if state is None else [Failure(where, f"expected no data, got {got}")]
    out = []
    if exp.state is not None and exp.state != state:
        out.append(Failure(where, f"expected state {exp.state!r}, got {got}"))
    if exp.value is not None and (value is None or not math.isclose(value, exp.value, rel_tol=1e-6, abs_tol=1e-9)):
        out.append(Failure(where, f"expected feature {exp.value:.6g}, got {got}"))
    return out
