"""Each transform as a pure function of a date-indexed series, against numbers worked out by
hand, and the trailing-only promise (SCORING §6.2): an output never changes when a later
observation does."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tracker.pack.steps import check_step
from tracker.score import transforms as tf


def series(values: list[float], start: str = "2024-01-31", freq: str = "ME") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq=freq), dtype=float)


def pairs(s: pd.Series) -> list[tuple[str, float]]:
    return [(d.date().isoformat(), round(float(v), 6)) for d, v in s.items()]


# ---------------------------------------------------------------- resample

@pytest.mark.parametrize(("how", "expected"), [
    ("last", [("2024-03-31", 3.0), ("2024-06-30", 6.0)]),
    ("mean", [("2024-03-31", 2.0), ("2024-06-30", 5.0)]),
    ("sum", [("2024-03-31", 6.0), ("2024-06-30", 15.0)]),
    ("max", [("2024-03-31", 3.0), ("2024-06-30", 6.0)]),
    ("min", [("2024-03-31", 1.0), ("2024-06-30", 4.0)]),
    ("median", [("2024-03-31", 2.0), ("2024-06-30", 5.0)]),
])
def test_resample_quarter_end(how: str, expected: list[tuple[str, float]]) -> None:
    assert pairs(tf.resample(series([1, 2, 3, 4, 5, 6]), "QE", how)) == expected


def test_resample_labels_weeks_by_their_friday_and_drops_empty_periods() -> None:
    s = pd.Series([1.0, 2.0, 7.0], index=pd.to_datetime(["2024-01-03", "2024-01-05", "2024-01-24"]))
    assert pairs(tf.resample(s, "W-FRI", "last")) == [("2024-01-05", 2.0), ("2024-01-26", 7.0)]


def test_resample_skips_missing_values() -> None:
    assert pairs(tf.resample(series([1, math.nan, 3, math.nan]), "QE", "mean")) == [("2024-03-31", 2.0)]


# ---------------------------------------------------------------- rolling, change, pct_change

def test_rolling_mean_needs_a_full_window() -> None:
    assert pairs(tf.rolling(series([1, 2, 3, 4, 5]), 3)) == [
        ("2024-03-31", 2.0), ("2024-04-30", 3.0), ("2024-05-31", 4.0)]


def test_rolling_max() -> None:
    assert [v for _, v in pairs(tf.rolling(series([5, 1, 2, 0]), 2, "max"))] == [5.0, 2.0, 2.0]


def test_change_over_two_periods() -> None:
    assert pairs(tf.change(series([1, 4, 9, 16]), 2)) == [("2024-03-31", 8.0), ("2024-04-30", 12.0)]


def test_pct_change_against_the_absolute_previous_value() -> None:
    out = tf.pct_change(series([100, 110, 99, -99, -49.5]))
    assert [v for _, v in pairs(out)] == [10.0, -10.0, -200.0, 50.0]


def test_pct_change_from_zero_is_dropped_not_infinite() -> None:
    assert pairs(tf.pct_change(series([0, 5, 10]))) == [("2024-03-31", 100.0)]


# ---------------------------------------------------------------- yoy

def test_yoy_on_monthly_data_compares_with_the_same_month() -> None:
    s = series([100 + k for k in range(14)], start="2023-01-31")  # Jan 2023 = 100 … Feb 2024 = 113
    assert pairs(tf.yoy(s)) == [("2024-01-31", 12.0), ("2024-02-29", round(1200 / 101, 6))]


def test_yoy_on_annual_data() -> None:
    s = series([50, 60, 45], start="2022-12-31", freq="YE")
    assert pairs(tf.yoy(s)) == [("2023-12-31", 20.0), ("2024-12-31", -25.0)]
    assert pairs(tf.yoy(s, how="diff")) == [("2023-12-31", 10.0), ("2024-12-31", -15.0)]


def test_yoy_needs_an_observation_within_the_tolerance() -> None:
    s = pd.Series([10.0, 20.0], index=pd.to_datetime(["2023-01-01", "2024-03-01"]))
    assert tf.yoy(s).empty
    assert pairs(tf.yoy(s, tolerance="70d")) == [("2024-03-01", 100.0)]


# ---------------------------------------------------------------- zscore

def test_zscore_by_hand() -> None:
    """0, 2, 0, 2, … then 10, window 4: the trailing median is 1 and every trailing deviation
    is 1, so MAD = 1 and z = (x − 1) / 1.4826 once a full window of deviations exists."""
    s = series([0, 2, 0, 2, 0, 2, 0, 2, 10], start="2024-01-01", freq="D")
    z = tf.zscore(s, window=4, min_periods=4)
    assert pairs(z) == [("2024-01-08", round(1 / 1.4826, 6)), ("2024-01-09", round(9 / 1.4826, 6))]


def test_zscore_never_uses_the_current_or_later_values() -> None:
    values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3]
    base = tf.zscore(series(values, freq="D"), window=5, min_periods=3)
    for k in range(len(values)):
        changed = values.copy()
        changed[k] = 1000.0
        z = tf.zscore(series(changed, freq="D"), window=5, min_periods=3)
        day = series(values, freq="D").index[k]
        assert z[z.index < day].equals(base[base.index < day]), f"changing day {k} moved an earlier z"
        if day in base.index:  # the current value enters only as x, never in its own median or MAD
            assert z[day] > base[day]


# ---------------------------------------------------------------- share_of and apply

def test_share_of_uses_the_latest_value_of_the_other_indicator() -> None:
    other = pd.Series([200.0, 400.0], index=pd.to_datetime(["2024-01-01", "2024-03-01"]))
    s = pd.Series([10.0, 50.0, 100.0, 100.0],
                  index=pd.to_datetime(["2023-12-01", "2024-02-01", "2024-03-01", "2024-04-01"]))
    out = tf.share_of(s, "total", lambda name: other if name == "total" else pd.Series(dtype=float))
    assert pairs(out) == [("2024-02-01", 25.0), ("2024-03-01", 25.0), ("2024-04-01", 25.0)]


def test_apply_runs_steps_in_order_and_names_dependencies() -> None:
    steps = [{"resample": {"freq": "QE", "how": "last"}}, {"change": {"periods": 1}}]
    assert pairs(tf.apply(series([1, 2, 3, 4, 5, 7]), steps)) == [("2024-06-30", 4.0)]
    assert tf.depends_on([{"share_of": {"indicator": "total"}}, {"change": None}]) == ["total"]
    with pytest.raises(ValueError, match="share_of needs"):
        tf.apply(series([1.0]), [{"share_of": {"indicator": "total"}}])


# ---------------------------------------------------------------- check_step

NAMES = "resample, rolling, change, pct_change, yoy, zscore, share_of"


@pytest.mark.parametrize(("step", "problems"), [
    ({"change": {"periods": 4}}, []),
    ({"change": None}, []),
    ("change", [((), "expected a mapping with exactly one transform name, e.g. {change: {periods: 4}}")]),
    ({"change": {}, "yoy": {}}, [((), "expected a mapping with exactly one transform name, e.g. "
                                      "{change: {periods: 4}}")]),
    ({"chnage": {"periods": 4}},
     [(("chnage",), f"unknown transform; did you mean 'change'?; expected one of: {NAMES}")]),
    ({"change": [4]}, [(("change",), "expected a mapping of parameters, e.g. {periods: 4}")]),
    ({"change": {"period": 4}},
     [(("change", "period"), "unknown parameter; did you mean 'periods'?; expected one of: periods")]),
    ({"change": {"periods": "4"}}, [(("change", "periods"), "expected a whole number, got '4'")]),
    ({"change": {"periods": True}}, [(("change", "periods"), "expected a whole number, got True")]),
    ({"change": {"periods": 0}}, [(("change", "periods"), "expected a whole number of at least 1, got 0")]),
    ({"rolling": {"how": "mean"}}, [(("rolling",), "missing parameter 'window'")]),
    ({"rolling": {"window": 3, "how": "avg"}},
     [(("rolling", "how"), "expected one of: last, mean, sum, median, max, min; got 'avg'")]),
    ({"yoy": {"how": "ratio"}}, [(("yoy", "how"), "expected pct or diff, got 'ratio'")]),
    ({"resample": {"freq": 3}}, [(("resample", "freq"), "expected text, got 3")]),
    ({"resample": {"freq": "M"}}, [(("resample", "freq"), "expected a pandas frequency such as ME, QE or "
                                                          "W-FRI; got 'M', which pandas 3 spells 'ME'")]),
    ({"resample": {"freq": "0D"}}, [(("resample", "freq"), "expected a pandas frequency such as ME, QE or "
                                                           "W-FRI; got '0D', which is not a positive step")]),
    ({"share_of": {}}, [(("share_of",), "missing parameter 'indicator'")]),
])
def test_check_step(step: object, problems: list[tuple[tuple[str, ...], str]]) -> None:
    assert check_step(step) == problems
