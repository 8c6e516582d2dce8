"""Stalls that swamp a pack (issue 14): a lint when a signpost's stall term can reach more than 3
bits against a scenario, or more than half the pack's total weight of evidence; and `explain`
shows a signpost's bits split into the stage reached and time without progress."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from packbuilder import numeric, ordinal, scenarios, write_pack

from tracker.cli import main
from tracker.pack import lint
from tracker.pack.load import load_pack

STAGES = {"talks": {"A": 0.5, "B": 0.25, "C": 1.0}, "deal": {"A": 0.5, "B": 0.5, "C": 0.5},
          "built": {"A": 0.5, "B": 1.0, "C": 0.25}}
PACE = {"A": "18M", "B": "9M", "C": "60M"}
TWO = [{"name": "low", "below": 0}, {"name": "high"}]
FINE = {"low": {"A": 0.6, "B": 0.2, "C": 0.4}, "high": {"A": 0.4, "B": 0.8, "C": 0.3}}


def stall_warnings(tmp_path: Path, indicators: list[dict]) -> list[str]:
    doc = scenarios({"A": 0.4, "B": 0.3, "C": 0.3}, {"g": 1.0, "h": 1.0})
    doc["scenario_order"] = ["C", "A", "B"]
    write_pack(tmp_path, doc, indicators)
    return [str(w) for w in lint.lint_pack(load_pack(tmp_path / "indicators")) if "stall term" in str(w)]


def test_a_stall_term_above_3_bits_is_named_with_its_figure(tmp_path: Path) -> None:
    # no stall_cap: capped at three times the slowest pace, 180 months; against B
    # 180 · (1/9 − 1/60) = 17 bits
    found = stall_warnings(tmp_path, [ordinal("p", "g", list(STAGES), STAGES, PACE),
                                      numeric("x", "h", TWO, FINE)])
    assert found == ["indicators/p.yaml:24:1: pace: the stall term can reach 17.0 bits against B (capped at three "
                     "times the slowest pace), more than 3 bits: one stalled signpost could swamp the pack; lower "
                     "stall_cap or weight"]


def test_a_stall_term_above_half_the_packs_evidence_is_named(tmp_path: Path) -> None:
    # the pack's total weight of evidence: 0.2 · 2 bits (p) + 0.1 · 1.58 bits (x) = 0.56 bit, half 0.28;
    # capped at 9 months the stall reaches 0.2 · 9 · (1/9 − 1/60) = 0.17 bit against B: fine;
    # capped at 24 months, 0.2 · 24 · (1/9 − 1/60) = 0.45 bit: under 3 bits, but over half the pack
    found = stall_warnings(tmp_path, [ordinal("p", "g", list(STAGES), STAGES, PACE, stall_cap="9M", weight=0.2),
                                      numeric("x", "h", TWO, FINE, weight=0.1)])
    assert found == []
    found = stall_warnings(tmp_path, [ordinal("p", "g", list(STAGES), STAGES, PACE, stall_cap="24M", weight=0.2),
                                      numeric("x", "h", TWO, FINE, weight=0.1)])
    assert found == ["indicators/p.yaml:30:1: stall_cap: the stall term can reach 0.5 bits against B (capped at "
                     "24M), more than half the pack's total weight of evidence (0.6 bits): one stalled signpost "
                     "could swamp the pack; lower stall_cap or weight"]


def test_the_default_pack_has_no_stall_warning() -> None:
    pack = load_pack(Path(__file__).resolve().parents[1] / "indicators")
    assert not [w for w in lint.lint_pack(pack) if "stall term" in str(w)]
    assert lint.stall_reach(pack, pack.indicators["pos2-stage"])["B"] == pytest.approx(1.7)


def test_explain_shows_level_and_stall_bits_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = write_pack(tmp_path, scenarios({"A": 0.4, "B": 0.3, "C": 0.3}, {"g": 1.0, "h": 1.0}),
                     [ordinal("p", "g", list(STAGES), STAGES, {"A": "300d", "B": "150d", "C": "600d"},
                              stall_cap="300d"), numeric("x", "h", TWO, FINE)],
                     {"p": [{"date": "2021-07-31", "level": "deal"}], "x": [{"date": "2023-06-01", "value": 1}]})
    res = CliRunner().invoke(main, ["explain", "--json", "--as-of", "2023-06-30", "--config", str(cfg)])
    rows = {r["indicator"]: r for r in json.loads(res.stdout)["indicators"]}
    # stalled 300 days (the cap): −ln2 · 300 · (1/300, 1/150, 1/600) nats = (−1, −2, −0.5) bits, centred
    # (+1/6, −5/6, +2/3); the stage itself, 'deal', is flat: all its bits are stall bits
    assert rows["p"]["stall_bits"] == {"A": 0.1667, "B": -0.8333, "C": 0.6667}
    assert rows["p"]["level_bits"] == {"A": 0.0, "B": 0.0, "C": 0.0}
    assert rows["p"]["bits"] == rows["p"]["stall_bits"]
    assert rows["x"]["stall_bits"] is None and rows["x"]["level_bits"] is None
    text = CliRunner().invoke(main, ["explain", "--as-of", "2023-06-30", "--config", str(cfg)]).stdout
    # the total on the row, its two parts on lines of their own below it (issue 17: one line
    # of three tables did not fit 80 columns)
    lines = text.splitlines()
    k = next(i for i, x in enumerate(lines) if x.startswith("  p "))
    assert [x.split()[:-3] for x in lines[k:k + 3]] == [["p"], ["stage", "reached"], ["no", "progress"]]
    assert [re.findall(r"[+-]\d\.\d{3}", x) for x in lines[k:k + 3]] == [
        ["+0.167", "-0.833", "+0.667"], ["+0.000", "+0.000", "+0.000"], ["+0.167", "-0.833", "+0.667"]]
