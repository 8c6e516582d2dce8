"""`tracker backtest`: one row per weekly grid date, JSON and CSV carrying the same numbers,
byte-identical from run to run and from a store rebuilt from scratch."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from packbuilder import numeric, ordinal, scenarios, write_pack

from tracker.cli import main

PACK = scenarios({"A": 0.45, "B": 0.25, "C": 0.30}, {"trade": 0.8, "deal": 1.0})
STATES = [{"name": "falling", "below": -2}, {"name": "flat", "below": 2}, {"name": "rising"}]
LIK = {"falling": {"A": 0.3, "B": 0.1, "C": 0.6}, "flat": {"A": 0.5, "B": 0.3, "C": 0.2},
       "rising": {"A": 0.3, "B": 0.6, "C": 0.1}}
INDICATORS = [
    numeric("exports", "trade", STATES, LIK, transforms=[{"change": {"periods": 1}}], half_life="180d",
            publication_lag="20d"),
    numeric("imports", "trade", STATES, LIK, transforms=[{"change": {"periods": 1}}], half_life="180d",
            weight=0.5),
    ordinal("stage", "deal", ["talks", "memorandum", "price_agreed"],
            {"talks": {"A": 0.5, "B": 0.2, "C": 0.8}, "memorandum": {"A": 0.6, "B": 0.4, "C": 0.5},
             "price_agreed": {"A": 0.5, "B": 0.8, "C": 0.1}}, {"A": "18M", "B": "9M", "C": "60M"}),
]
MONTHS = [f"{y}-{m:02d}-28" for y in (2022, 2023, 2024, 2025) for m in range(1, 13)]
SEEDS = {
    "exports": [{"date": d, "value": 100 + 3 * ((n * 7) % 5) + (4 * n if n > 30 else 0)}
                for n, d in enumerate(MONTHS)],
    "imports": [{"date": d, "value": 80 - (3 * n if n > 36 else 0) + n % 2} for n, d in enumerate(MONTHS)],
    "stage": [{"date": "2022-03-01", "level": "talks"}, {"date": "2023-09-02", "level": "memorandum"},
              {"date": "2025-05-20", "level": "price_agreed", "published": "2025-05-27"}],
}
FROM, TO = "2023-01-06", "2025-12-26"


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write_pack(tmp_path, PACK, INDICATORS, SEEDS)


def backtest(cfg: Path, *args: str) -> str:
    res = CliRunner().invoke(main, ["backtest", "--from", FROM, "--to", TO, "--config", str(cfg), *args])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_json_rows_one_per_grid_date_and_deterministic(cfg: Path, tmp_path: Path) -> None:
    first = backtest(cfg, "--json")
    assert backtest(cfg, "--json") == first
    for suffix in ("", "-wal", "-shm"):                  # rebuilt from the seeds: the same bytes
        Path(f"{tmp_path / 'tracker.db'}{suffix}").unlink(missing_ok=True)
    assert backtest(cfg, "--json") == first

    doc = json.loads(first)
    assert doc["pack"] == "Test pack"
    rows = doc["rows"]
    days = [dt.date.fromisoformat(r["date"]) for r in rows]
    assert days[0] == dt.date.fromisoformat(FROM) and days[-1] == dt.date.fromisoformat(TO)
    assert all((b - a).days == 7 for a, b in zip(days, days[1:], strict=False))
    assert len(rows) == 156
    for r in rows:
        assert set(r) >= {"date", "probabilities", "leading", "trend"}
        assert list(r["probabilities"]) == ["A", "B", "C"]
        assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=2e-4)
        assert r["leading"] == max(r["probabilities"], key=r["probabilities"].get)
        assert r["trend"] in (None, "A", "B", "C")
    assert len({tuple(r["probabilities"].values()) for r in rows}) > 20      # the data does move it


def test_csv_is_the_same_rows_flat(cfg: Path) -> None:
    text = backtest(cfg, "--csv")
    assert backtest(cfg, "--csv") == text
    assert text.splitlines()[0] == "date,p_A,p_B,p_C,leading,trend"
    rows = list(csv.DictReader(io.StringIO(text)))
    doc = json.loads(backtest(cfg, "--json"))
    assert len(rows) == len(doc["rows"])
    for flat, r in zip(rows, doc["rows"], strict=True):
        assert flat["date"] == r["date"]
        assert [flat[f"p_{s}"] for s in "ABC"] == [f"{r['probabilities'][s]:.4f}" for s in "ABC"]
        assert flat["leading"] == r["leading"]
        assert flat["trend"] == (r["trend"] or "")


def test_chart_and_bad_ranges(cfg: Path) -> None:
    text = backtest(cfg)
    # the whole range, three weeks a column in 80 (it was the last 60 weeks; issue 17)
    assert text.splitlines()[0] == "2023-01-06 … 2025-12-26 (156 weeks, 3 per column; bar = mean probability)"
    res = CliRunner().invoke(main, ["backtest", "--from", TO, "--to", FROM, "--config", str(cfg)])
    assert (res.exit_code, res.stderr) == (2, "Error: --from must be on or before --to\n")
    res = CliRunner().invoke(main, ["backtest", "--from", "2023-13-01", "--config", str(cfg)])
    assert (res.exit_code, res.stderr) == (2, "Error: expected a date as YYYY-MM-DD, got '2023-13-01'\n")
