"""Issue 14's end-to-end checks: the session that filed it, replayed on a scratch copy of the
default pack, and the business-cycle example's `tracker evaluate` figures that README.md quotes."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from packbuilder import copy_default_project

from tracker.cli import main
from tracker.views.terminal import fit

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "business-cycle"


def run(cfg: Path, *args: str) -> str:
    res = CliRunner().invoke(main, [*args, "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_after_pos2_price_agreed_the_score_calls_b_or_says_why_not(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    copy_default_project(tmp_path)
    cfg = tmp_path / "config.yaml"
    day = (dt.date.today() - dt.timedelta(weeks=13)).isoformat()
    run(cfg, "observe", "pos2-stage", "price_agreed", "--date", day, "--url", "https://example.org", "--note", "test")
    text = run(cfg, "score")
    doc = json.loads(run(cfg, "score", "--json"))
    if doc["trend"]:
        assert "B is trending" in text.splitlines()[2], text
    else:                                   # the reason, wrapped to the terminal's 80 columns
        reason = doc["trend_check"]["message"]
        assert re.match(r"B \+0\.\d\d over 13 weeks, not called: \S", reason), text
        assert text.splitlines()[3:3 + len(fit(reason, columns=80))] == fit(reason, columns=80)
    items = [f"{w['indicator']}: {w['from_state'] or 'no data'} → {w['to_state']}  {w['flips']}"
             for w in doc["watch_next"]]
    assert not any("threshold" in x for x in items)
    shown = text.split("Watch next (one change that would move the call):\n")
    wrapped = [line for x in items[:3] for line in fit(x, "  ", columns=80)]
    assert (shown[1].splitlines()[:len(wrapped)] if len(shown) > 1 else []) == wrapped
    explain = run(cfg, "explain")
    listed = explain.split("(every single change of state that would):\n")
    assert (listed[1].splitlines() if len(listed) > 1 else []) == [f"  {x}" for x in items]
    digest = run(cfg, "digest")
    block = digest.split("WATCH NEXT (one change that would move the call)\n\n")[1].split("\n\n")[0]
    flips = [line.strip() for line in block.splitlines()[1::2]] if items else []
    assert flips == [w["flips"] for w in doc["watch_next"]]


def test_the_business_cycle_example_validates_passes_its_tests_and_keeps_its_readme_figures(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(EXAMPLE, tmp_path / "bc", ignore=shutil.ignore_patterns("tracker.db*", ".tracker-cache.json"))
    cfg = tmp_path / "bc" / "config.yaml"
    assert run(cfg, "validate").rstrip().endswith("OK: 5 indicators, 2 scenarios, 0 warnings")
    assert run(cfg, "test").startswith("SUCCESS")
    doc = json.loads(run(cfg, "evaluate", "--from", "1960-01-01", "--to", "2009-12-31", "--json"))
    c = doc["calls"]
    assert (c["calls"], c["hits"], c["false_calls"], c["periods"], c["periods_hit"]) == (27, 23, 4, 16, 16)
    assert doc["scores"]["skill"]["brier_vs_base_rate"] > 0.2
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "| calls (per period) | 35 (2.19) | 27 (1.69) |" in readme
