"""`tracker score` (table and the JSON contract of DESIGN §7) and `tracker test` on a small pack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from packbuilder import numeric, ordinal, scenarios, write_pack

from tracker.cli import main

PACK = scenarios({"A": 0.45, "B": 0.25, "C": 0.30}, {"trade": 0.8, "deal": 1.0})
TRADE = numeric("trade", "trade",
                [{"name": "falling", "below": -2}, {"name": "flat", "below": 2}, {"name": "rising"}],
                {"falling": {"A": 0.3, "B": 0.1, "C": 0.6}, "flat": {"A": 0.5, "B": 0.3, "C": 0.2},
                 "rising": {"A": 0.3, "B": 0.6, "C": 0.1}},
                unit="percent", transforms=[{"change": {"periods": 1}}], half_life="365d", stale_after="200d",
                tests=[{"name": "a rise of 4 points", "given": [{"date": "2024-03-31", "value": 10},
                                                                {"date": "2024-06-30", "value": 14}],
                        "expect": {"state": "rising"}},
                       {"name": "nothing yet", "as_of": "2024-01-01",
                        "given": [{"date": "2024-03-31", "value": 10}], "expect": {"no_data": True}}])
STAGE = ordinal("stage", "deal", ["talks", "memorandum", "price_agreed"],
                {"talks": {"A": 0.5, "B": 0.2, "C": 0.8}, "memorandum": {"A": 0.6, "B": 0.4, "C": 0.5},
                 "price_agreed": {"A": 0.5, "B": 0.8, "C": 0.1}},
                {"A": "18M", "B": "9M", "C": "60M"},
                tests=[{"as_of": "2025-12-31", "given": [{"date": "2025-09-02", "level": "memorandum"}],
                        "expect": {"state": "memorandum"}}])
MONTHS = [(y, m) for y in (2023, 2024, 2025) for m in range(1, 13)]
# +1 a month (flat), then +4 a month from November 2025 (rising)
VALUES = [100 + n + 3 * max(0, n - 33) for n in range(len(MONTHS))]
SEEDS = {"trade": [{"date": f"{y}-{m:02d}-28", "value": v} for (y, m), v in zip(MONTHS, VALUES, strict=True)],
         "stage": [{"date": "2023-02-01", "level": "talks", "note": "talks resumed"},
                   {"date": "2025-09-02", "level": "memorandum", "note": "memorandum signed"}]}


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write_pack(tmp_path, PACK, [TRADE, STAGE], SEEDS)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_score_table(cfg: Path) -> None:
    res = invoke("score", "--config", str(cfg))
    assert res.exit_code == 0, res.output
    assert res.stderr == ""
    lines = res.stdout.splitlines()
    assert lines[0].startswith("Test pack — as of ")
    assert any(line.strip().startswith("A  Scenario A") for line in lines)
    assert "coverage" in res.stdout


def test_score_json_contract(cfg: Path) -> None:
    res = invoke("score", "--config", str(cfg), "--json", "--as-of", "2025-12-31")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    required = ["as_of", "pack", "scenarios", "leading", "trend", "evidence_only", "coverage", "movers",
                "stale", "watch_next"]
    assert set(required) <= set(doc)
    assert doc["as_of"] == "2025-12-31" and doc["pack"] == "Test pack"
    assert [s["id"] for s in doc["scenarios"]] == ["A", "B", "C"]
    for s in doc["scenarios"]:
        assert {"id", "name", "probability", "probability_before", "change"} <= set(s)
        assert s["change"] == pytest.approx(s["probability"] - s["probability_before"], abs=2e-4)
    assert sum(s["probability"] for s in doc["scenarios"]) == pytest.approx(1.0, abs=2e-4)
    assert doc["leading"] == max(doc["scenarios"], key=lambda s: s["probability"])["id"]
    assert doc["trend"] is None or {"scenario", "change", "window_weeks", "since"} <= set(doc["trend"])
    assert set(doc["evidence_only"]) == {"A", "B", "C"}
    assert 0 <= doc["coverage"] <= 1
    assert doc["movers"], "both indicators moved over the window"
    for m in doc["movers"]:
        assert {"indicator", "state", "bits", "change_bits", "observation"} <= set(m)
        assert set(m["bits"]) == set(m["change_bits"]) == {"A", "B", "C"}
        assert {"date", "published", "source_url", "note"} <= set(m["observation"])
    trade = next(m for m in doc["movers"] if m["indicator"] == "trade")
    assert trade["state"] == "rising"
    assert trade["observation"]["date"] == "2025-12-28" and trade["observation"]["value"] == VALUES[-1]
    assert trade["observation"]["source_url"] == "https://example.org/trade/2025-12-28"
    stage = next(m for m in doc["movers"] if m["indicator"] == "stage")
    assert stage["state"] == "memorandum" and stage["observation"]["note"] == "memorandum signed"
    assert isinstance(doc["stale"], list)
    for w in doc["watch_next"]:
        assert {"indicator", "to_state", "flips"} <= set(w)


def test_score_rejects_a_future_or_malformed_date(cfg: Path) -> None:
    res = invoke("score", "--config", str(cfg), "--as-of", "2999-01-01")
    assert res.exit_code == 2
    assert res.stderr == ("Error: 2999-01-01 is in the future; "
                          "the tracker only knows what has been published\n")
    res = invoke("score", "--config", str(cfg), "--as-of", "31/12/2025")
    assert res.exit_code == 2
    assert res.stderr == "Error: expected a date as YYYY-MM-DD, got '31/12/2025'\n"


def test_score_as_a_real_process(cfg: Path) -> None:
    tracker = Path(sys.executable).with_name("tracker")
    proc = subprocess.run([str(tracker), "score", "--json", "--as-of", "2025-12-31", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["as_of"] == "2025-12-31"


def test_pack_tests_pass_then_fail_with_a_readable_diff(cfg: Path, tmp_path: Path) -> None:
    res = invoke("test", "--config", str(cfg))
    assert (res.exit_code, res.stdout) == (0, "SUCCESS: 3 tests passed.\n")

    path = tmp_path / "indicators" / "trade.yaml"
    text = path.read_text()
    assert text.count("state: rising") == 1
    path.write_text(text.replace("state: rising", "state: falling"))
    line = next(n for n, t in enumerate(text.splitlines(), start=1)
                if t.strip() == "- name: a rise of 4 points")
    res = invoke("test", "--config", str(cfg))
    assert res.exit_code == 1
    assert res.stdout == (f"FAILED indicators/trade.yaml:{line}: trade test 1 (a rise of 4 points): "
                          "expected state 'falling', got state 'rising' (feature 4)\n"
                          "1 of 3 tests failed.\n")
