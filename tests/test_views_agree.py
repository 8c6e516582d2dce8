"""Issue 17's problems with what the views say, each reproduced: the terminal backtest covered
the last 60 weeks only (Why 1); values without units or the figure that decided the state, and
explain repeating itself (Why 6); the views disagreeing — the movers header, explain --json
without posterior or what-if, history --json on an empty store printing no JSON (Why 7); and
the smaller display items of Why 9 ("no data" where seeds exist, "-0.00", a mover with no
change tagged "new evidence")."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from packbuilder import copy_default_project, numeric, scenarios, write_pack

from tracker.cli import main
from tracker.views import report

DAY = "2026-11-23"


@pytest.fixture(scope="module")
def default_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("default")
    copy_default_project(root)
    return root / "config.yaml"


def run(cfg: Path, *args: str, code: int = 0) -> str:
    res = CliRunner().invoke(main, [*args, "--config", str(cfg)])
    assert res.exit_code == code, res.output
    return res.stdout


def unwrapped(text: str) -> str:
    """The text with the terminal's line wrapping undone (wrapped lines continue indented)."""
    return " ".join(text.split())


# ---------------------------------------------------------------- Why 1

@pytest.mark.parametrize("width", [None, "40"])
def test_terminal_backtest_covers_the_whole_range_and_says_how(default_pack: Path, width: str | None) -> None:
    extra = ["--width", width] if width else []
    rows = list(csv.DictReader(io.StringIO(run(default_pack, "backtest", "--from", "2021-01-01", "--to", DAY,
                                               "--csv"))))
    calls = [r for r in rows if r["trend"]]
    assert len(rows) > 250 and calls                       # 5 years, and trend calls in them
    text = run(default_pack, "backtest", "--from", "2021-01-01", "--to", DAY, *extra)
    lines = text.splitlines()
    assert max(map(len, lines)) <= int(width or 80)
    said = unwrapped(text)
    per = -(-len(rows) // (int(width or 80) - 4 - 9))
    assert said.startswith(f"{rows[0]['date']} … {rows[-1]['date']} ({len(rows)} weeks, {per} per column; "
                           "bar = mean probability)"), said
    assert f"trend calls: {len(calls)} of {len(rows)} weeks (last: {calls[-1]['trend']} on {calls[-1]['date']})" \
        in said
    bars = [line for line in lines if line.startswith("  A ")][0]
    assert len(bars.split()[1]) == -(-len(rows) // per)     # one character per `per` weeks, all of them


# ---------------------------------------------------------------- Why 6

def test_units_and_the_deciding_figure_in_every_view(default_pack: Path) -> None:
    figure = "−44.3% y/y (8.46 USD bn)"
    score = unwrapped(run(default_pack, "score", "--as-of", DAY))
    assert f"car-exports-ru collapse A-0.01 B+0.03 C-0.02 [fading] {figure} on 2025-12-31 ·" in score
    assert "99.1% of bilateral trade on 2025-11-04" in score          # a unit that is a percentage
    explain = unwrapped(run(default_pack, "explain", "--as-of", DAY))
    assert f"collapse: {figure} on 2025-12-31 ·" in explain
    rows = {r["indicator"]: r for r in json.loads(run(default_pack, "explain", "--json", "--as-of", DAY))["indicators"]}
    assert rows["car-exports-ru"]["figure"] == figure
    assert rows["car-exports-ru"]["observation"] | {"note": None} == {
        "date": "2025-12-31", "published": "2026-01-23", "note": None, "value": 8.46, "feature": -44.3421,
        "unit": "USD bn", "source_url": "https://www.vedomosti.ru/auto/news/2026/01/23/1171259-import-toyota"}
    digest = unwrapped(run(default_pack, "digest", "--week", DAY))
    assert f"{figure} on 2025-12-31 - https://www.vedomosti.ru/" in digest
    movers = {m["indicator"]: m for m in json.loads(run(default_pack, "score", "--json", "--as-of", DAY))["movers"]}
    assert movers["car-exports-ru"]["figure"] == figure                 # the same label in score --json


def test_explain_names_an_ordinal_level_once(default_pack: Path) -> None:
    explain = unwrapped(run(default_pack, "explain", "--as-of", DAY))
    assert "binding_memorandum: binding_memorandum" not in explain
    assert "binding_memorandum since 2025-09-02, last reported 2025-12-25 · https://www.interfax.ru/" in explain
    score = unwrapped(run(default_pack, "score", "--as-of", DAY))
    assert "[stalled] since 2025-09-02, last reported 2025-12-25 ·" in score


# ---------------------------------------------------------------- Why 7

def test_movers_header_says_change_in_bits_in_every_view(default_pack: Path) -> None:
    header = "change in bits toward each scenario"
    assert f"Top movers over 13 weeks ({header}):" in unwrapped(run(default_pack, "score", "--as-of", DAY))
    assert f"TOP MOVERS OVER 13 WEEKS ({header})" in run(default_pack, "digest", "--week", DAY)
    explain = run(default_pack, "explain", "--as-of", DAY)
    assert "bits toward each scenario, centred" in explain and "Top movers" not in explain   # bits, not changes


def test_explain_json_carries_the_posterior_and_the_what_if_list(default_pack: Path) -> None:
    score = json.loads(run(default_pack, "score", "--json", "--as-of", DAY))
    doc = json.loads(run(default_pack, "explain", "--json", "--as-of", DAY))
    assert doc["posterior"] == {s["id"]: s["probability"] for s in score["scenarios"]}
    assert doc["watch_next"] == score["watch_next"] and doc["watch_next"]
    assert "best_pair" not in doc
    toward_b = json.loads(run(default_pack, "explain", "B", "--json", "--as-of", DAY))["best_pair"]
    assert toward_b["scenario"] == "B" and len(toward_b["changes"]) == 2 and toward_b["flips"] is False
    text = unwrapped(run(default_pack, "explain", "B", "--as-of", DAY))
    pair = " and ".join(f"{c['indicator']} → {c['to_state']}" for c in toward_b["changes"])
    assert f"Best pair toward B: {pair} would not be enough for the lead" in text


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pack with nothing seeded and a store with nothing in it."""
    monkeypatch.chdir(tmp_path)
    states = [{"name": "low", "below": 0}, {"name": "high"}]
    like = {"low": {"A": 0.6, "B": 0.4}, "high": {"A": 0.4, "B": 0.6}}
    return write_pack(tmp_path, scenarios({"A": 0.5, "B": 0.5}, {"g": 1.0}), [numeric("x", "g", states, like)])


@pytest.mark.parametrize("args", [["history", "--json"], ["score", "--json"], ["explain", "--json"],
                                  ["explain", "B", "--json"], ["backtest", "--from", "2024-01-01", "--json"],
                                  ["status", "--json"], ["sources", "--json"], ["ingest", "--json"]],
                         ids=lambda a: " ".join(a))
def test_every_json_output_is_json_on_an_empty_store(empty: Path, args: list[str]) -> None:
    res = CliRunner().invoke(main, [*args, "--config", str(empty)])
    assert res.exit_code in (0, 1), res.output             # status: 1 = no nightly run yet
    doc = json.loads(res.stdout)
    assert isinstance(doc, dict) and doc
    if args[0] == "history":
        assert (res.exit_code, doc["rows"], doc["runs"]) == (0, [], [])


def test_history_on_an_empty_store(empty: Path) -> None:
    assert run(empty, "history", "--csv") == "date,p_A,p_B,leading,trend\n"
    assert run(empty, "history") == "No stored scores yet: `tracker run` stores one each night.\n"


# ---------------------------------------------------------------- Why 9

def test_seeds_too_short_for_their_transforms_say_how_many_more(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    states = [{"name": "fall", "below": 0}, {"name": "rise"}]
    like = {"fall": {"A": 0.6, "B": 0.4}, "rise": {"A": 0.4, "B": 0.6}}
    inds = [numeric("yearly", "g", states, like, frequency="annual", unit="USD bn", transforms=[{"yoy": {}}]),
            numeric("monthly", "g", states, like, frequency="monthly", transforms=[{"rolling": {"window": 6}}]),
            numeric("empty", "g", states, like)]
    cfg = write_pack(tmp_path, scenarios({"A": 0.5, "B": 0.5}, {"g": 1.0}), inds,
                     {"yearly": [{"date": "2025-12-31", "value": 8.46}],
                      "monthly": [{"date": f"2026-0{m}-28", "value": 1.0} for m in (1, 2, 3, 4)]})
    doc = json.loads(run(cfg, "score", "--json", "--as-of", "2026-06-30"))
    assert sorted(doc["no_data"]) == ["empty", "monthly", "yearly"]
    assert doc["not_enough_history"] == {
        "yearly": {"readings": 1, "needs": 2, "message": "not enough history: needs 1 more"},
        "monthly": {"readings": 4, "needs": 6, "message": "not enough history: needs 2 more"}}
    text = unwrapped(run(cfg, "score", "--as-of", "2026-06-30"))
    assert "no data yet (1): empty" in text
    assert "not enough history (2): monthly (needs 2 more), yearly (needs 1 more)" in text
    explain = run(cfg, "explain", "--as-of", "2026-06-30")
    assert explain.count("not enough history: needs") == 2 and explain.count("      no data\n") == 1
    status = unwrapped(run(cfg, "status", code=1))
    assert "No data yet: empty Not enough history: monthly (needs 2 more), yearly (needs 1 more)" in status
    digest = run(cfg, "digest", "--week", "2026-06-30")
    assert "No data yet: empty, monthly (not enough history: needs 2 more), yearly (not enough history: needs " \
        "1 more)" in digest


def test_no_negative_zero_is_displayed(default_pack: Path) -> None:
    doc = json.loads(run(default_pack, "score", "--json", "--as-of", DAY))
    doc["scenarios"][0]["change"] = -0.001            # a change that rounds to zero, from below
    doc["movers"][0]["change_bits"] = {"A": -0.004, "B": 0.2, "C": -0.196}
    text = report.render_score(doc)
    assert not re.search(r"-0\.0+\b", text), text
    assert re.search(r"A  Managed partnership\s+\d\.\d\d\s+\d\.\d\d\s+\+0\.00 →", text)
    explain = run(default_pack, "explain", "--as-of", DAY)
    assert not re.search(r"-0\.0+\b", explain)


def test_a_change_that_rounds_to_zero_is_not_a_mover(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new reading in the same state with a very long half-life moves the bits by a hair: it
    was listed as a mover, "A+0.00 B-0.00 [new evidence]"."""
    monkeypatch.chdir(tmp_path)
    states = [{"name": "low", "below": 0}, {"name": "high"}]
    like = {"low": {"A": 0.6, "B": 0.4}, "high": {"A": 0.4, "B": 0.6}}
    inds = [numeric("steady", "g", states, like, half_life="100000d", stale_after="3650d"),
            numeric("mover", "h", states, like, half_life="365d")]
    cfg = write_pack(tmp_path, scenarios({"A": 0.5, "B": 0.5}, {"g": 1.0, "h": 1.0}), inds,
                     {"steady": [{"date": "2026-01-31", "value": 1.0}, {"date": "2026-05-31", "value": 2.0}],
                      "mover": [{"date": "2026-05-31", "value": -1.0}]})
    rows = {r["indicator"]: r for r in json.loads(run(cfg, "explain", "--json", "--as-of", "2026-06-30"))["indicators"]}
    steady = rows["steady"]
    assert steady["change_kind"] == "new evidence"
    assert 0 < max(abs(v) for v in steady["change_bits"].values()) < report.MOVED
    doc = json.loads(run(cfg, "score", "--json", "--as-of", "2026-06-30"))
    assert [m["indicator"] for m in doc["movers"]] == ["mover"]
    text = run(cfg, "score", "--as-of", "2026-06-30")
    assert "steady" not in text.split("Top movers")[1].split("\n\n")[0]
