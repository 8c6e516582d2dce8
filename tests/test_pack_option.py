"""Issue 17, items 8 and 9 (the pack parts): there was no `--pack` on `score` or `explain`, no
command listing the indicators with their states or levels, three priors of 0.333 were refused,
and `backtest --from` and `export --as-of` had no help text of their own.

A pack outside the config's folder is scored with `--pack DIR`, on every command that reads a
pack; `tracker indicators [--json]` lists what the pack holds within 80 columns."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from packbuilder import copy_default_project, numeric, ordinal, scenarios, write_pack

from tracker.cli import main

STAGE = ordinal("pos2-stage", "deal", ["talks", "memorandum", "binding_memorandum", "price_agreed"],
                {"talks": {"A": 0.5, "B": 0.2, "C": 0.8}, "memorandum": {"A": 0.6, "B": 0.4, "C": 0.5},
                 "binding_memorandum": {"A": 0.6, "B": 0.6, "C": 0.3},
                 "price_agreed": {"A": 0.5, "B": 0.8, "C": 0.1}},
                {"A": "18M", "B": "9M", "C": "60M"}, unit="stage")
SHARE = numeric("settlement-share-of-bilateral-trade-in-national-currencies", "money",
                [{"name": "limited", "below": 50}, {"name": "high", "at_least": 50}],
                {"limited": {"A": 0.35, "B": 0.1, "C": 0.55}, "high": {"A": 0.45, "B": 0.45, "C": 0.25}},
                unit="percent", transforms=[{"rolling": {"window": 2, "how": "mean"}}])
LIVE = numeric("trade", "money", [{"name": "low", "below": 100}, {"name": "high"}],
               {"low": {"A": 0.4, "B": 0.2, "C": 0.6}, "high": {"A": 0.5, "B": 0.6, "C": 0.2}},
               source={"kind": "csv", "url": "http://127.0.0.1:9/trade.csv"}, weight=0.5)
SEEDS = {"pos2-stage": [{"date": "2023-02-01", "level": "talks"}, {"date": "2025-09-02", "level": "memorandum"}],
         "settlement-share-of-bilateral-trade-in-national-currencies": [{"date": "2024-05-16", "value": 90.5}]}


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The default project (config, store) and, beside it, another pack with its own seeds."""
    monkeypatch.chdir(tmp_path)
    copy_default_project(tmp_path / "main")
    write_pack(tmp_path / "watch", scenarios({"A": 0.333, "B": 0.333, "C": 0.333}, {"deal": 1.0, "money": 0.6}),
               [STAGE, SHARE, LIVE], SEEDS)
    return tmp_path / "main" / "config.yaml", tmp_path / "watch" / "indicators"


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_takes_pack(name: str) -> None:
    """Each command reads the pack (to find its indicators, scenarios or ids)."""
    assert "--pack" in {opt for p in main.commands[name].params for opt in p.opts}, name


@pytest.mark.parametrize("command", [["score", "--json"], ["explain", "--json"], ["explain", "B", "--json"],
                                     ["backtest", "--from", "2025-01-01", "--json"], ["export"],
                                     ["indicators", "--json"], ["sources", "--json"]])
def test_a_pack_outside_the_default_folder_is_what_the_command_reads(elsewhere: tuple[Path, Path],
                                                                     command: list[str]) -> None:
    config, pack = elsewhere
    res = run(*command, "--pack", str(pack), "--config", str(config))
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert any(word in out for word in ("pos2-stage", "Test pack", '"indicator": "trade"')), out[:300]
    assert "car-exports-ru" not in out                # nothing of the config's own pack
    if command[-1] == "--json":
        json.loads(out)


def test_score_with_pack_differs_from_the_default(elsewhere: tuple[Path, Path]) -> None:
    config, pack = elsewhere
    mine = json.loads(run("score", "--json", "--pack", str(pack), "--config", str(config)).stdout)
    default = json.loads(run("score", "--json", "--config", str(config)).stdout)
    assert mine["pack"] == "Test pack" and default["pack"] != "Test pack"
    # three priors of 0.333 are accepted and scaled to 1/3 each (issue 17, item 9)
    assert mine["prior"] == pytest.approx({"A": 1 / 3, "B": 1 / 3, "C": 1 / 3}, abs=1e-4)


def test_three_priors_of_a_third_are_normalised_with_a_note(elsewhere: tuple[Path, Path]) -> None:
    _, pack = elsewhere
    res = run("validate", "--pack", str(pack))
    assert res.exit_code == 0, res.output
    note = ("indicators/scenarios.yaml:3:1: scenarios: the priors sum to 0.999; normalised to 1 "
            "(A 0.3333, B 0.3333, C 0.3333)")
    assert f"Notes (1):\n  {note}\n" in res.stdout
    assert json.loads(run("validate", "--json", str(pack)).stdout)["notes"] == [note]


@pytest.mark.parametrize(("priors", "sum_"), [((0.34, 0.34, 0.34), "1.02"), ((0.3, 0.3, 0.3), "0.9")])
def test_priors_further_from_one_are_still_refused(tmp_path: Path, priors: tuple[float, ...], sum_: str) -> None:
    write_pack(tmp_path, scenarios(dict(zip("ABC", priors, strict=True)), {"deal": 1.0, "money": 0.6}),
               [STAGE, SHARE, LIVE], SEEDS)
    res = run("validate", str(tmp_path / "indicators"))
    assert res.exit_code == 2
    assert res.stderr.splitlines()[0] == (f"indicators/scenarios.yaml:3:1: scenarios: the priors sum to {sum_}; "
                                          "expected 1")


def test_two_different_packs_at_once_are_refused(elsewhere: tuple[Path, Path]) -> None:
    config, pack = elsewhere
    res = run("validate", str(config.parent / "indicators"), "--pack", str(pack))
    assert res.exit_code == 2
    assert res.stderr.startswith("Error: two packs given: ")


def test_cron_lines_carry_the_pack(elsewhere: tuple[Path, Path]) -> None:
    config, pack = elsewhere
    res = run("cron", "--pack", str(pack), "--config", str(config), "--executable", shutil.which("sh") or "/bin/sh")
    assert res.exit_code == 0, res.output
    jobs = [line for line in res.stdout.splitlines() if line and not line.startswith(("#", "CRON_TZ"))]
    assert jobs and all(f"--pack {pack.resolve()}" in line for line in jobs)


def test_indicators_lists_states_levels_source_seed_and_last_observation(elsewhere: tuple[Path, Path]) -> None:
    config, pack = elsewhere
    doc = json.loads(run("indicators", "--json", "--pack", str(pack), "--config", str(config)).stdout)
    by_id = {i["id"]: i for i in doc["indicators"]}
    assert list(by_id) == ["pos2-stage", "settlement-share-of-bilateral-trade-in-national-currencies", "trade"]
    stage, share, live = by_id.values()
    assert stage["levels"] == ["talks", "memorandum", "binding_memorandum", "price_agreed"]
    assert stage["last_observation"] == {"date": "2025-09-02", "level": "memorandum", "published": "2025-09-02",
                                         "source_url": "https://example.org/pos2-stage/2025-09-02"}
    assert (stage["group"], stage["kind"], stage["source"], stage["seed"], stage["seeded"]) == (
        "deal", "ordinal", "manual", "seeds/pos2-stage.csv", True)
    assert share["states"] == [{"name": "limited", "when": "< 50"}, {"name": "high", "when": "≥ 50"}]
    assert share["transforms"] == ["rolling"]
    assert share["last_observation"]["value"] == 90.5 and share["last_observation"]["unit"] == "percent"
    assert (live["source"], live["seed"], live["seeded"], live["last_observation"]) == ("csv", None, False, None)


def test_indicators_fits_80_columns_and_splits_no_word(elsewhere: tuple[Path, Path],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    config, pack = elsewhere
    monkeypatch.setenv("COLUMNS", "80")
    for args in (["--pack", str(pack)], []):
        text = run("indicators", *args, "--config", str(config)).stdout
        lines = text.splitlines()
        assert lines and max(len(line) for line in lines) <= 80, max(lines, key=len)
        words = {w for line in lines for w in line.split()}
        assert "binding_memorandum" in words or "binding_memorandum," in words or args == []
    text = run("indicators", "--pack", str(pack), "--config", str(config)).stdout
    assert "settlement-share-of-bilateral-trade-in-national-currencies" in text.split()
    assert "  levels: talks → memorandum → binding_memorandum → price_agreed" in text
    assert "  states (of rolling): limited (<\u00a050), high (≥\u00a050)" in text
    assert "  last: memorandum on 2025-09-02 (published 2025-09-02)" in text
    assert "  last: no data yet" in text


def last_level(common: list[str]) -> str:
    doc = json.loads(run("indicators", "--json", *common).stdout)
    return {i["id"]: i["last_observation"] for i in doc["indicators"]}["pos2-stage"]["level"]


def test_indicators_shows_what_observe_and_retract_leave(elsewhere: tuple[Path, Path]) -> None:
    config, pack = elsewhere
    day = str(dt.date.today() - dt.timedelta(days=3))
    common = ["--pack", str(pack), "--config", str(config)]
    assert run("observe", "pos2-stage", "price_agreed", "--date", day, "--url", "https://example.org/p",
               "--note", "agreed", *common).exit_code == 0
    assert last_level(common) == "price_agreed"
    assert run("retract", "pos2-stage", day, "--note", "denied", *common).exit_code == 0
    assert last_level(common) == "memorandum"


def test_backtest_from_and_export_as_of_say_what_they_do() -> None:
    backtest = run("backtest", "--help").stdout
    assert "--from DATE      First date to replay (YYYY-MM-DD)" in backtest
    export = " ".join(run("export", "--help").stdout.split())
    assert "--as-of DATE Export what was known on DATE (YYYY-MM-DD)" in export
    assert "Score with" not in export
