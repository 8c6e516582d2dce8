"""Every `--json` output is strict JSON (RFC 8259: no NaN, no Infinity), and a transform that
overflows gives no state, as missing data does, without a RuntimeWarning (issue 16, item 8).

A non-finite number is written as null and its place listed in the top-level `non_finite` list
(README, the JSON contract); the key is there only when that happened, so ordinary outputs
(tests/test_default_pack_golden.py) keep their bytes. Real parts only: the command line, real
SQLite stores, numbers written as a store written by an older version or a script would hold."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from packbuilder import frame, numeric, scenarios, utc, write_pack

from tracker.cli import main
from tracker.score import transforms as tf
from tracker.store.db import Store
from tracker.views.jsonout import finite, strict_json

SCEN = scenarios({"A": 0.5, "B": 0.5}, {"g": 1.0})
STATES = [{"name": "low", "below": 0}, {"name": "high"}]
LIK = {"low": {"A": 0.3, "B": 0.7}, "high": {"A": 0.7, "B": 0.3}}
DAY = "2024-12-31"


def _raise(constant: str) -> Any:
    raise ValueError(f"not strict JSON: {constant}")


def strict_load(text: str) -> Any:
    """json.loads that refuses NaN, Infinity and -Infinity, as a strict parser does."""
    return json.loads(text, parse_constant=_raise)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def ind(iid: str, transforms: list[dict[str, Any]]) -> dict[str, Any]:
    return numeric(iid, "g", STATES, LIK, transforms=transforms, half_life="3650d", stale_after="3650d")


# ---------------------------------------------------------------- transforms that overflow

MONTH_ENDS = [f"2024-{m:02d}-28" for m in range(1, 13)]
OVERFLOWING = {
    # every transformed point overflows to ±inf (or is inf/inf = NaN): no point is left
    "pct": ([{"pct_change": {"periods": 1}}], [1e308, -1e308]),
    "chg": ([{"change": {"periods": 1}}], [1e308, -1e308]),
    "yoy": ([{"yoy": {"how": "pct"}}], {"2023-01-31": 1e308, "2024-01-31": -1e308}),
    "yoyd": ([{"yoy": {"how": "diff"}}], {"2023-01-31": 1e308, "2024-01-31": -1e308}),
    "roll": ([{"rolling": {"window": 2, "how": "sum"}}], [1e308, 1e308]),
    "sum": ([{"resample": {"freq": "QE", "how": "sum"}}], [1e308, 1e308]),
    "mean": ([{"resample": {"freq": "QE", "how": "mean"}}], [1e308, 1e308]),
    "tiny": ([{"pct_change": {"periods": 1}}], [5e-324, 1.0]),
    "zero": ([{"pct_change": {"periods": 1}}], [0.0, 5.0]),
    "z": ([{"zscore": {"window": 10, "min_periods": 2}}], [1.0, 1.0, 1.0, 1e308]),
    "zbig": ([{"zscore": {"window": 10, "min_periods": 2}}], [-1e308, 1e308, -1e308, 1e308]),
}


def _rows(values: list[float] | dict[str, float]) -> list[dict[str, Any]]:
    pairs = values.items() if isinstance(values, dict) else zip(MONTH_ENDS, values, strict=False)
    return [{"date": d, "value": v} for d, v in pairs]


@pytest.fixture
def overflow_pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    inds = [ind(i, steps) for i, (steps, _) in OVERFLOWING.items()]
    return write_pack(tmp_path, SCEN, inds, {i: _rows(v) for i, (_, v) in OVERFLOWING.items()})


@pytest.mark.parametrize("name", sorted(OVERFLOWING))
def test_an_overflowing_transform_leaves_no_point_and_warns_nothing(name: str) -> None:
    steps, values = OVERFLOWING[name]
    rows = _rows(values)
    s = pd.Series([r["value"] for r in rows], index=pd.to_datetime([r["date"] for r in rows]), dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = tf.apply(s, steps)
        days, arr = tf.apply_arrays(s.index.to_numpy().astype("datetime64[D]"), s.to_numpy(), steps)
    assert np.isfinite(out.to_numpy()).all() and np.isfinite(arr).all()
    assert len(out) == len(arr) == 0, out


def test_overflowing_indicators_are_missing_data_in_score_and_explain(overflow_pack: Path) -> None:
    score = invoke("score", "--json", "--as-of", DAY, "--config", str(overflow_pack))
    assert score.exit_code == 0, score.output
    doc = strict_load(score.stdout)
    assert "non_finite" not in doc
    assert set(doc["no_data"]) == set(OVERFLOWING)
    explain = invoke("explain", "--json", "--as-of", DAY, "--config", str(overflow_pack))
    assert explain.exit_code == 0, explain.output
    rows = {r["indicator"]: r for r in strict_load(explain.stdout)["indicators"]}
    assert all(r["state"] is None and r["observation"] is None for r in rows.values())
    backtest = invoke("backtest", "--from", "2024-01-01", "--to", DAY, "--json", "--config", str(overflow_pack))
    assert backtest.exit_code == 0, backtest.output
    strict_load(backtest.stdout)
    table = invoke("score", "--as-of", DAY, "--config", str(overflow_pack))
    assert table.exit_code == 0 and table.stderr == "", table.output


def test_no_runtime_warning_reaches_stderr(overflow_pack: Path) -> None:
    """As a user runs it: its own process, Python's default warning filters."""
    out = subprocess.run([sys.executable, "-m", "tracker.cli", "score", "--json", "--as-of", DAY,
                          "--config", str(overflow_pack)], cwd=overflow_pack.parent, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    strict_load(out.stdout)


def test_pack_tests_of_an_overflowing_indicator_say_no_data(tmp_path: Path) -> None:
    test = {"given": [{"date": "2024-01-31", "value": 1e308}, {"date": "2024-02-29", "value": -1e308}],
            "expect": {"no_data": True}}
    write_pack(tmp_path, SCEN, [{**ind("pct", [{"pct_change": {"periods": 1}}]), "tests": [test]}])
    result = invoke("test", str(tmp_path / "indicators"))
    assert result.exit_code == 0, result.output
    assert result.stdout == "SUCCESS: 1 tests passed.\n"


# ---------------------------------------------------------------- non-finite numbers in a store


def test_history_of_a_scenario_added_later_is_strict_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scores stored before scenario C existed: C has no probability on those dates (NaN)."""
    monkeypatch.chdir(tmp_path)
    cfg = write_pack(tmp_path, SCEN, [ind("x", [])], {"x": [{"date": "2024-01-31", "value": 1.0}]})
    with Store(tmp_path / "tracker.db") as store:
        old = store.record_run("run", "ok", {}, now=utc("2024-06-01"))
        store.save_scores(old, pd.DataFrame({"A": [0.6], "B": [0.4]}, index=pd.to_datetime(["2024-05-31"])))
        new = store.record_run("run", "ok", {}, now=utc("2024-06-08"))
        store.save_scores(new, pd.DataFrame({"A": [0.5], "B": [0.3], "C": [0.2]},
                                            index=pd.to_datetime(["2024-06-07"])))
    result = invoke("history", "--json", "--config", str(cfg))
    assert result.exit_code == 0, result.output
    doc = strict_load(result.stdout)
    assert doc["rows"][0]["probabilities"] == {"A": 0.6, "B": 0.4, "C": None}
    assert doc["non_finite"] == ["rows[0].probabilities.C"]
    chart = invoke("history", "--config", str(cfg))
    assert chart.exit_code == 0, chart.output


def test_a_stored_infinity_is_null_and_flagged_in_score_and_explain(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The quarter's minimum is finite, but the row it cites (the quarter's last) holds inf:
    ingest refuses such a value today; a store written before that, or by a script, may hold it."""
    monkeypatch.chdir(tmp_path)
    cfg = write_pack(tmp_path, SCEN, [ind("q", [{"resample": {"freq": "QE", "how": "min"}}])])
    with Store(tmp_path / "tracker.db") as store:
        rows = frame([{"date": "2024-01-31", "value": 5.0}, {"date": "2024-03-31", "value": math.inf}])
        store.write_vintage("q", rows, fetched_at=utc("2024-04-02"), origin="ingest")
    score = invoke("score", "--json", "--as-of", "2024-06-30", "--config", str(cfg))
    assert score.exit_code == 0, score.output
    doc = strict_load(score.stdout)
    [mover] = doc["movers"]
    assert mover["observation"]["value"] is None and mover["observation"]["feature"] == 5.0
    assert doc["non_finite"] == ["movers[0].observation.value"]
    explain = invoke("explain", "--json", "--as-of", "2024-06-30", "--config", str(cfg))
    assert explain.exit_code == 0, explain.output
    assert strict_load(explain.stdout)["non_finite"] == ["indicators[0].observation.value"]


# ---------------------------------------------------------------- the writer itself


def test_finite_lists_each_place_and_leaves_the_rest_alone() -> None:
    doc = {"a": 1.5, "b": [1.0, float("nan"), {"c": np.float64("-inf"), "d": "x"}],
           "odd key": {"p.q": np.float32("inf")}, "n": None, "i": 3, "t": (float("inf"),)}
    clean, where = finite(doc)
    assert clean == {"a": 1.5, "b": [1.0, None, {"c": None, "d": "x"}], "odd key": {"p.q": None},
                     "n": None, "i": 3, "t": [None]}
    assert where == ["b[1]", "b[2].c", '["odd key"]["p.q"]', "t[0]"]
    assert doc["b"][1] != doc["b"][1]                       # the input is not changed


def test_strict_json_adds_the_flag_only_when_needed() -> None:
    assert strict_json({"x": 1.0}) == json.dumps({"x": 1.0}, indent=2, ensure_ascii=False)
    text = strict_json({"x": float("inf"), "y": "caf\u00e9 \u009b1m \x7f"})
    assert strict_load(text) == {"x": None, "y": "caf\u00e9 \u009b1m \x7f", "non_finite": ["x"]}
    assert "\u009b" not in text and "\x7f" not in text   # C1 and DEL escaped as \u009b, \u007f
