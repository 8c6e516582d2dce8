"""A three-indicator pack scored by hand: every number `tracker score --json` and `tracker
explain` print, worked out below in bits (log2), so the arithmetic reads without a calculator.

Pack: priors A 1/2, B 1/4, C 1/4 -> log2 prior (-1, -2, -2); centred: (+2/3, -1/3, -1/3).
Groups: g1 weight 0.6 holds num (w 0.8) and num2 (w 0.4): Σw = 1.2, g = 0.6/1.2 = 0.5, so the
effective weights are 0.4 and 0.2. g2 weight 1.0 holds stage (w 1.0): effective 1.0.

Scored as of t = 2023-06-30 (a Friday); window 13 weeks, so t-W = 2023-03-31.

num (numeric, half-life 100 d): low (<10) L = (1, 1/2, 1/2) -> bits (0, -1, -1);
                                 high      L = (1/4, 1/2, 1) -> bits (-2, -1, 0).
  obs 2022-12-21 = 5 (low), published the same day; obs 2023-03-22 = 12 (high), published 2023-04-01.
  at t-W: latest published is 2022-12-21, age 100 d, decay 2^-1 = 0.5; weight 0.4*0.5 = 0.2
          evidence 0.2*(0,-1,-1) = (0, -0.2, -0.2)          centred: (+0.1333, -0.0667, -0.0667)
  at t:   2023-03-22 (high), age 100 d, decay 0.5, weight 0.2
          evidence 0.2*(-2,-1,0) = (-0.4, -0.2, 0)          centred: (-0.2, 0, +0.2)
          change: (-0.3333, +0.0667, +0.2667)
num2 (numeric, half-life 91 d, stale after 120 d): hi (>=0) L = (1, 1/2, 1/2) -> bits (0, -1, -1).
  obs 2022-12-30 = 3: age 91 d at t-W (decay 1/2), 182 d at t (decay 1/4, and stale).
  at t-W: 0.2*0.5*(0,-1,-1) = (0, -0.1, -0.1)               centred: (+0.0667, -0.0333, -0.0333)
  at t:   0.2*0.25*(0,-1,-1) = (0, -0.05, -0.05)            centred: (+0.0333, -0.0167, -0.0167)
          change: (-0.0333, +0.0167, +0.0167)  -- fading, not new evidence
stage (ordinal, pace A 200 d, B 100 d, C 400 d; no decay): talks L = (1/2, 1/4, 1) -> (-1, -2, 0);
  deal L = (1/2, 1, 1/4) -> (-1, 0, -2). Stall evidence in bits is -d/T_s (λ = ln2/T per day).
  at t-W: talks since 2022-12-31, d = 90: stall (-0.45, -0.9, -0.225); total (-1.45, -2.9, -0.225)
          centred (mean -1.525): (+0.075, -1.375, +1.3)
  at t:   deal since 2023-05-01, d = 60: stall (-0.3, -0.6, -0.15); total (-1.3, -0.6, -2.15)
          centred (mean -1.35): (+0.05, +0.75, -0.8)
          change: (-0.025, +2.125, -2.1)

Posterior in log2 (prior + evidence), then p = 2^x / Σ 2^x:
  t:   A -1-0.4+0-1.3 = -2.7;  B -2-0.2-0.05-0.6 = -2.85;  C -2+0-0.05-2.15 = -4.2
       2^x = 0.153893, 0.138696, 0.054409; Σ = 0.346998 -> p = 0.4435, 0.3997, 0.1568
       centred log2: (+0.55, +0.40, -0.95) = prior + rows: 0.6667+0.05-0.2+0.0333 = 0.55, …
  t-W: A -1+0+0-1.45 = -2.45;  B -2-0.2-0.1-2.9 = -5.2;  C -2-0.2-0.1-0.225 = -2.525
       2^x = 0.183011, 0.027205, 0.173738; Σ = 0.383954 -> p = 0.4766, 0.0709, 0.4525
  change (unrounded difference): -0.0331, +0.3288, -0.2957
Evidence only (uniform prior): A -1.7, B -0.85, C -2.2 -> 2^x = 0.307786, 0.554785, 0.217638;
  Σ = 1.080209 -> 0.2849, 0.5136, 0.2015
Coverage: fresh weight / all weight = (0.4 + 1.0) / (0.4 + 0.2 + 1.0) = 0.875.
Trend: B rose 0.33, but one indicator carries it: breadth 1 (only stage moves B by >= 0.25 bit)
and concentration 2.125 / (2.125 + 0.0667 + 0.0167) = 0.96 > 0.75, so no clear trend.
Movers are ordered by |change| toward the leading scenario A: num, num2, stage.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from packbuilder import numeric, ordinal, scenarios, write_pack

from tracker.cli import main
from tracker.score import scoring

PACK = scenarios({"A": 0.5, "B": 0.25, "C": 0.25}, {"g1": 0.6, "g2": 1.0})
INDICATORS = [
    numeric("num", "g1", [{"name": "low", "below": 10}, {"name": "high"}],
            {"low": {"A": 1, "B": 0.5, "C": 0.5}, "high": {"A": 0.25, "B": 0.5, "C": 1}},
            weight=0.8, half_life="100d"),
    numeric("num2", "g1", [{"name": "lo", "below": 0}, {"name": "hi"}],
            {"lo": {"A": 0.5, "B": 1, "C": 1}, "hi": {"A": 1, "B": 0.5, "C": 0.5}},
            weight=0.4, half_life="91d", stale_after="120d"),
    ordinal("stage", "g2", ["talks", "deal", "built"],
            {"talks": {"A": 0.5, "B": 0.25, "C": 1}, "deal": {"A": 0.5, "B": 1, "C": 0.25},
             "built": {"A": 0.5, "B": 1, "C": 0.25}},
            {"A": "200d", "B": "100d", "C": "400d"}),
]
SEEDS = {
    "num": [{"date": "2022-12-21", "value": 5, "published": "2022-12-21"},
            {"date": "2023-03-22", "value": 12, "published": "2023-04-01"}],
    "num2": [{"date": "2022-12-30", "value": 3}],
    "stage": [{"date": "2022-12-31", "level": "talks"}, {"date": "2023-05-01", "level": "deal"}],
}


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write_pack(tmp_path, PACK, INDICATORS, SEEDS)


def run(cfg: Path, *args: str) -> str:
    res = CliRunner().invoke(main, [*args, "--config", str(cfg), "--as-of", "2023-06-30"])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_score_json_every_number(cfg: Path) -> None:
    doc = json.loads(run(cfg, "score", "--json"))
    assert doc["as_of"] == "2023-06-30"
    assert doc["pack"] == "Test pack"
    assert doc["window_weeks"] == 13
    assert doc["scenarios"] == [
        {"id": "A", "name": "Scenario A",
         "probability": 0.4435, "probability_before": 0.4766, "change": -0.0331},
        {"id": "B", "name": "Scenario B",
         "probability": 0.3997, "probability_before": 0.0709, "change": 0.3288},
        {"id": "C", "name": "Scenario C",
         "probability": 0.1568, "probability_before": 0.4525, "change": -0.2957},
    ]
    assert doc["leading"] == "A"
    assert doc["trend"] is None
    assert doc["evidence_only"] == {"A": 0.2849, "B": 0.5136, "C": 0.2015}
    assert doc["prior"] == {"A": 0.5, "B": 0.25, "C": 0.25}
    assert doc["coverage"] == 0.875
    assert doc["stale"] == ["num2"] and doc["no_data"] == []

    movers = {m["indicator"]: m for m in doc["movers"]}
    assert [m["indicator"] for m in doc["movers"]] == ["num", "num2", "stage"]
    assert movers["num"]["state"] == "high"
    assert movers["num"]["bits"] == {"A": -0.2, "B": 0.0, "C": 0.2}
    assert movers["num"]["change_bits"] == {"A": -0.3333, "B": 0.0667, "C": 0.2667}
    assert movers["num"]["change_kind"] == "new evidence"
    assert movers["num2"]["state"] == "hi"
    assert movers["num2"]["bits"] == {"A": 0.0333, "B": -0.0167, "C": -0.0167}
    assert movers["num2"]["change_bits"] == {"A": -0.0333, "B": 0.0167, "C": 0.0167}
    assert movers["num2"]["change_kind"] == "fading"
    assert movers["stage"]["state"] == "deal"
    assert movers["stage"]["bits"] == {"A": 0.05, "B": 0.75, "C": -0.8}
    assert movers["stage"]["change_bits"] == {"A": -0.025, "B": 2.125, "C": -2.1}

    assert movers["num"]["observation"] == {
        "date": "2023-03-22", "value": 12.0, "published": "2023-04-01",
        "source_url": "https://example.org/num/2023-03-22", "note": None, "feature": 12.0, "unit": ""}
    assert movers["stage"]["observation"] == {
        "date": "2023-05-01", "level": "deal", "since": "2023-05-01", "published": "2023-05-01",
        "source_url": "https://example.org/stage/2023-05-01", "note": None}


def test_score_table_prints_the_same_numbers(cfg: Path) -> None:
    text = run(cfg, "score")
    assert "A (Scenario A) leads at 0.44; no clear trend over 13 weeks" in text
    assert re.search(r"A  Scenario A\s+0\.44\s+0\.48\s+-0\.03 ↓", text)
    assert re.search(r"B  Scenario B\s+0\.40\s+0\.07\s+\+0\.33 ↑", text)
    assert re.search(r"C  Scenario C\s+0\.16\s+0\.45\s+-0\.30 ↓", text)
    assert "evidence alone (uniform prior): A 0.28, B 0.51, C 0.20; coverage 88%" in text
    assert "stale (1): num2" in text


def test_explain_rows_add_up_to_the_centred_log_posterior(cfg: Path) -> None:
    text = run(cfg, "explain")
    table = {}
    for line in text.splitlines():
        # rows start at column 2; a stalled signpost's split (stage reached, no progress) at 4
        m = re.match(r"^  (\S.*?)\s+([+-]\d+\.\d{3})\s+([+-]\d+\.\d{3})\s+([+-]\d+\.\d{3})(\s|$)", line)
        if m:
            table[m.group(1).strip()] = [float(m.group(k)) for k in (2, 3, 4)]
    assert table == {
        "prior": [0.667, -0.333, -0.333],
        "stage": [0.050, 0.750, -0.800],
        "num": [-0.200, 0.000, 0.200],
        "num2": [0.033, -0.017, -0.017],
        "= log2 posterior (centred)": [0.550, 0.400, -0.950],
    }
    # with these numbers the printed rows add up exactly, to the printed digit
    rows = [v for k, v in table.items() if not k.startswith("=")]
    assert [round(sum(col), 3) for col in zip(*rows, strict=True)] == [0.550, 0.400, -0.950]
    assert re.search(r"posterior\s+0\.443\s+0\.400\s+0\.157", text)
    # row order: largest absolute contribution first, prior first of all
    names = [k for k in table if not k.startswith("=")]
    assert names == ["prior", "stage", "num", "num2"]


def test_explain_json_has_the_same_bits(cfg: Path) -> None:
    doc = json.loads(run(cfg, "explain", "--json"))
    assert {k: round(v, 4) for k, v in doc["prior_bits"].items()} == {"A": 0.6667, "B": -0.3333, "C": -0.3333}
    bits = {r["indicator"]: r["bits"] for r in doc["indicators"]}
    assert bits == {"stage": {"A": 0.05, "B": 0.75, "C": -0.8}, "num": {"A": -0.2, "B": 0.0, "C": 0.2},
                    "num2": {"A": 0.0333, "B": -0.0167, "C": -0.0167}}


def test_stall_evidence_stops_at_its_cap_and_not_at_the_last_level(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """stage stalled at `deal` for 700 days with stall_cap 300d: stall bits are -300/T_s."""
    monkeypatch.chdir(tmp_path)
    capped = dict(INDICATORS[2], stall_cap="300d")
    cfg = write_pack(tmp_path, PACK, [capped], {"stage": [{"date": "2021-07-31", "level": "deal"}]})
    doc = json.loads(run(cfg, "explain", "--json"))
    # evidence (-1, 0, -2) + stall (-1.5, -3, -0.75) = (-2.5, -3, -2.75); centred mean -2.75
    assert doc["indicators"][0]["bits"] == {"A": 0.25, "B": -0.25, "C": 0.0}
    # the last level cannot stall: it is the likelihood row alone, (-1, 0, -2) centred
    cfg = write_pack(tmp_path, PACK, [capped], {"stage": [{"date": "2021-07-31", "level": "built"}]},
                     store="second.db")
    doc = json.loads(run(cfg, "explain", "--json"))
    assert doc["indicators"][0]["bits"] == {"A": 0.0, "B": 1.0, "C": -1.0}


def test_runs_found_through_vintages_equal_a_comparison_of_every_id() -> None:
    """split_by_indicator compares ids only where the vintage changes; same starts as comparing all."""
    rng = np.random.default_rng(3)
    ids, vintages, vid = [], [], 0
    for name in sorted(f"i{k}" for k in rng.choice(1000, size=60, replace=False)):
        for _ in range(int(rng.integers(1, 4))):
            vid += 1
            rows = int(rng.integers(1, 6))
            ids += [name] * rows
            vintages += [vid] * rows
    ids_a, vint_a = np.array(ids, dtype=object), np.array(vintages)
    naive = np.flatnonzero(np.r_[True, ids_a[1:] != ids_a[:-1]])
    assert np.array_equal(scoring._runs(ids_a, vint_a), naive)
    assert np.array_equal(scoring._runs(ids_a, None), naive)
    assert len(naive) == 60
