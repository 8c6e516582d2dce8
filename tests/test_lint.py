"""Each lint of SCORING §6.10 with the figure it reports, positioned like an error."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from packbuilder import numeric, ordinal, scenarios, write_pack

from tracker.pack import lint
from tracker.pack.load import Pack, load_pack

PRIORS = {"A": 0.5, "B": 0.3, "C": 0.2}
EVEN = {"A": 0.5, "B": 0.5, "C": 0.5}
FINE = {"low": {"A": 0.6, "B": 0.2, "C": 0.4}, "high": {"A": 0.4, "B": 0.8, "C": 0.3}}
TWO = [{"name": "low", "below": 0}, {"name": "high"}]


def build(tmp_path: Path, indicators: list[dict[str, Any]], priors: dict[str, float] = PRIORS,
          groups: dict[str, float] | None = None, **scen: Any) -> Pack:
    doc = scenarios(priors, groups or {"g": 1.0})
    doc.update(scen)
    write_pack(tmp_path, doc, indicators)
    return load_pack(tmp_path / "indicators")


def warnings(tmp_path: Path, *args: Any, **kwargs: Any) -> list[str]:
    return [str(w) for w in lint.lint_pack(build(tmp_path, *args, **kwargs))]


def test_a_sound_pack_has_no_warnings(tmp_path: Path) -> None:
    assert warnings(tmp_path, [numeric("x", "g", TWO, FINE)]) == []


def test_not_diagnostic(tmp_path: Path) -> None:
    table = {"low": {"A": 1.0, "B": 1.09, "C": 1.0}, "high": {"A": 1.0, "B": 1.0, "C": 1.05}}
    assert warnings(tmp_path, [numeric("x", "g", TWO, table)]) == [
        "indicators/x.yaml:10:1: likelihood: not diagnostic: largest row spread 0.12 bit (below 0.3)"]


def test_near_conclusive(tmp_path: Path) -> None:
    table = {"low": {"A": 0.02, "B": 0.68, "C": 0.3}, "high": {"A": 0.5, "B": 0.4, "C": 0.3}}
    assert warnings(tmp_path, [numeric("x", "g", TWO, table)]) == [
        "indicators/x.yaml:11:3: likelihood.low: near-conclusive: row 'low' spreads 5.1 bits (LR 34); "
        "is that intended?"]


def test_row_spread_is_invariant_to_scaling(tmp_path: Path) -> None:
    table = {state: {s: 10 * p for s, p in row.items()} for state, row in FINE.items()}
    pack = build(tmp_path, [numeric("x", "g", TWO, table)])
    assert lint.row_spreads(pack, pack.indicators["x"]) == lint.row_spreads(
        pack, dataclasses.replace(pack.indicators["x"], likelihood=FINE))


STAGES = {"a": {"A": 0.5, "B": 0.25, "C": 1.0}, "b": {"A": 0.5, "B": 0.5, "C": 0.5},
          "c": {"A": 0.5, "B": 0.4, "C": 0.25}}
PACE = {"A": "18M", "B": "9M", "C": "60M"}
CAP = "9M"
"""Keeps the stall term (0.85 bit at most against B) below the stall lint in the tests of other lints."""


def test_monotone_likelihood_ratio_names_the_level_where_it_drops(tmp_path: Path) -> None:
    stages = ordinal("p", "g", ["a", "b", "c"], STAGES, PACE, stall_cap=CAP)
    found = warnings(tmp_path, [stages], scenario_order=["C", "A", "B"])
    assert found == [
        "indicators/p.yaml:20:3: likelihood.c: likelihood ratio B/A drops at level 'c' (0.80 after 1.00 at "
        "'b'); with scenario order C, A, B it should not fall along the levels"]


def test_an_indicators_own_order_wins(tmp_path: Path) -> None:
    stages = ordinal("p", "g", ["a", "b", "c"], STAGES, PACE, scenario_order=["B", "A", "C"], stall_cap=CAP)
    found = warnings(tmp_path, [stages], scenario_order=["C", "A", "B"])
    assert found == [
        "indicators/p.yaml:16:3: likelihood.b: likelihood ratio A/B drops at level 'b' (1.00 after 2.00 at "
        "'a'); with scenario order B, A, C it should not fall along the levels",
        "indicators/p.yaml:16:3: likelihood.b: likelihood ratio C/A drops at level 'b' (1.00 after 2.00 at "
        "'a'); with scenario order B, A, C it should not fall along the levels",
        "indicators/p.yaml:20:3: likelihood.c: likelihood ratio C/A drops at level 'c' (0.50 after 1.00 at "
        "'b'); with scenario order B, A, C it should not fall along the levels"]


def test_no_order_no_monotone_lint_but_a_note_that_scenario_order_turns_it_on(tmp_path: Path) -> None:
    assert warnings(tmp_path, [ordinal("p", "g", ["a", "b", "c"], STAGES, PACE, stall_cap=CAP)]) == [
        "indicators/p.yaml:7:1: levels: no scenario_order here or in scenarios.yaml, so the monotone "
        "likelihood-ratio check is off: scenario_order (the scenarios from least to most) is what turns it on"]


def test_group_double_counting(tmp_path: Path) -> None:
    inds = [numeric(i, "trade", TWO, FINE, weight=w) for i, w in (("x", 1.0), ("y", 1.0), ("z", 0.5))]
    assert warnings(tmp_path, inds, groups={"trade": 1.0}) == [
        "indicators/scenarios.yaml:16:3: groups.trade: group 'trade' weights sum to 2.5 > 1.0: each is "
        "scaled by 0.40 so the group is not double counted"]


def test_states_that_can_never_match(tmp_path: Path) -> None:
    states = [{"name": "a", "below": 5}, {"name": "b", "at_least": 5}, {"name": "c", "above": 3, "below": 7},
              {"name": "d", "above": 5, "below": 1}, {"name": "e"}, {"name": "f", "above": 10}]
    table = {s["name"]: FINE["low"] if i % 2 else FINE["high"] for i, s in enumerate(states)}
    assert warnings(tmp_path, [numeric("x", "g", states, table)]) == [
        "indicators/x.yaml:11:3: states[2]: can never match: the earlier states 'a' and 'b' take every value "
        "it would",
        "indicators/x.yaml:14:3: states[3]: can never match: its bounds exclude every value",
        "indicators/x.yaml:17:3: states[4]: can never match: the earlier states 'a' and 'b' take every value "
        "it would",
        "indicators/x.yaml:18:3: states[5]: can never match: the earlier state 'b' takes every value it "
        "would"]


def test_a_state_after_a_catch_all(tmp_path: Path) -> None:
    states = [{"name": "low", "below": 0}, {"name": "any"}, {"name": "high", "above": 10}]
    table = {"low": FINE["low"], "any": FINE["high"], "high": FINE["low"]}
    assert warnings(tmp_path, [numeric("x", "g", states, table)]) == [
        "indicators/x.yaml:10:3: states[2]: can never match: the earlier state 'any' has no bounds and takes "
        "every value"]


def test_a_boundary_value_is_enough_to_be_reachable(tmp_path: Path) -> None:
    states = [{"name": "low", "below": 5}, {"name": "five", "at_most": 5}, {"name": "high"}]
    table = {"low": FINE["low"], "five": FINE["high"], "high": FINE["low"]}
    assert warnings(tmp_path, [numeric("x", "g", states, table)]) == []


def test_tiny_prior(tmp_path: Path) -> None:
    found = warnings(tmp_path, [numeric("x", "g", TWO, FINE)], priors={"A": 0.01, "B": 0.49, "C": 0.5})
    assert found == [
        "indicators/scenarios.yaml:6:3: scenarios[0].prior: prior 0.01 is below 0.02: evidence can hardly "
        "bring this scenario back (Cromwell's rule); is that intended?"]


def test_summary(tmp_path: Path) -> None:
    inds = [numeric(i, "trade", TWO, FINE, weight=w) for i, w in (("x", 1.0), ("y", 1.0), ("z", 0.5))]
    inds.append(ordinal("p", "pos2", ["a", "b", "c"], STAGES, PACE, stall_cap=CAP))
    pack = build(tmp_path, inds, groups={"trade": 1.0, "pos2": 1.0})
    assert lint.summary(pack, lint.lint_pack(pack)) == "\n".join([
        "Pack: Test pack",
        "",
        "Scenarios (prior):",
        "  A       0.50  Scenario A",
        "  B       0.30  Scenario B",
        "  C       0.20  Scenario C",
        "",
        "Indicators by group (weight):",
        "  trade           1.0  3 indicators (3 numeric; 0 live, 0 seeded)",
        "  pos2            1.0  1 indicator (1 ordinal; 0 live, 0 seeded)",
        "",
        "Warnings (2):",
        "  indicators/p.yaml:7:1: levels: no scenario_order here or in scenarios.yaml, so the monotone "
        "likelihood-ratio check is off: scenario_order (the scenarios from least to most) is what turns it on",
        "  indicators/scenarios.yaml:16:3: groups.trade: group 'trade' weights sum to 2.5 > 1.0: each is "
        "scaled by 0.40 so the group is not double counted",
        "",
        "OK: 4 indicators, 3 scenarios, 2 warnings",
    ])
