"""`tracker observe`: bad input is refused with exit 2 and an exact message; a good
observation becomes a new vintage that the next `tracker score` uses."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from packbuilder import STAGE_SEEDS, pos2_stage, settlement_share, signpost_scenarios, write_pack

from tracker import service
from tracker.cli import main
from tracker.store.db import Store

PACK = signpost_scenarios()
STAGE = pos2_stage()
SHARE = settlement_share()
SEEDS = {"pos2-stage": STAGE_SEEDS,
         "settlement-share": [{"date": "2024-05-16", "value": 90}]}
URL = "https://example.org/news/pos2-price"
TODAY = dt.date.today()
DAY = str(TODAY - dt.timedelta(days=20))


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write_pack(tmp_path, PACK, [STAGE, SHARE], SEEDS)


def observe(cfg: Path, *args: str):
    return CliRunner().invoke(main, ["observe", *args, "--config", str(cfg)])


def vintages(cfg: Path) -> list[dict]:
    with Store(cfg.parent / "tracker.db") as store:
        return store.vintage_log()


@pytest.mark.parametrize(("args", "message"), [
    (["pos2-stgae", "price_agreed", "--date", DAY, "--url", URL, "--note", "n"],
     "Error: unknown indicator 'pos2-stgae'; did you mean 'pos2-stage'?"),
    (["pos2-stage", "price_agred", "--date", DAY, "--url", URL, "--note", "n"],
     "Error: unknown level 'price_agred' for pos2-stage; did you mean 'price_agreed'?; "
     "expected one of: talks, memorandum, price_agreed"),
    (["pos2-stage", "price_agreed", "--date", "2999-01-01", "--url", URL, "--note", "n"],
     "Error: --date 2999-01-01 is in the future; the tracker only knows what has been published"),
    (["pos2-stage", "price_agreed", "--date", "01/02/2025", "--url", URL, "--note", "n"],
     "Error: --date: expected a date as YYYY-MM-DD, got '01/02/2025'"),
    (["pos2-stage", "price_agreed", "--date", DAY, "--url", "example.org/news", "--note", "n"],
     "Error: --url: expected the http(s) address of the source"),
    (["pos2-stage", "price_agreed", "--date", DAY, "--url", "ftp://example.org/x", "--note", "n"],
     "Error: --url: expected the http(s) address of the source"),
    (["pos2-stage", "price_agreed", "--date", DAY, "--note", "n"],
     "Error: Missing option '--url'."),
    (["pos2-stage", "price_agreed", "--date", DAY, "--url", URL, "--note", "  "],
     "Error: --note: say in a sentence what happened"),
    (["settlement-share", "ninety", "--date", DAY, "--url", URL, "--note", "n"],
     "Error: settlement-share takes a number, got 'ninety'"),
])
def test_bad_input_is_refused(cfg: Path, args: list[str], message: str) -> None:
    service.load(str(cfg)).store().close()           # the seeded store, as any command leaves it
    before = vintages(cfg)
    res = observe(cfg, *args)
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr.splitlines()[-1] == message
    assert vintages(cfg) == before


def test_a_valid_observation_is_a_new_vintage_the_next_score_uses(cfg: Path) -> None:
    res = CliRunner().invoke(main, ["score", "--json", "--config", str(cfg)])
    assert res.exit_code == 0
    before = json.loads(res.stdout)
    assert vintages(cfg)[-1]["origin"] == "seed"

    res = observe(cfg, "pos2-stage", "price_agreed", "--date", DAY, "--url", URL,
                  "--note", "Gazprom and CNPC agree the price")
    assert res.exit_code == 0, res.output
    assert res.stdout == f"Recorded pos2-stage = price_agreed on {DAY} (published {TODAY}), source {URL}.\n"
    log = [v for v in vintages(cfg) if v["indicator"] == "pos2-stage"]
    assert [v["origin"] for v in log] == ["seed", "observe"]
    assert log[-1]["rows"] == 3                       # the earlier levels are kept in the new vintage

    res = CliRunner().invoke(main, ["explain", "--json", "--config", str(cfg)])
    rows = {r["indicator"]: r for r in json.loads(res.stdout)["indicators"]}
    assert rows["pos2-stage"]["state"] == "price_agreed"
    assert rows["pos2-stage"]["observation"] == {
        "date": DAY, "published": str(TODAY), "source_url": URL, "note": "Gazprom and CNPC agree the price",
        "level": "price_agreed", "since": DAY}
    after = json.loads(CliRunner().invoke(main, ["score", "--json", "--config", str(cfg)]).stdout)
    p = {s["id"]: s["probability"] for s in after["scenarios"]}
    q = {s["id"]: s["probability"] for s in before["scenarios"]}
    assert p["B"] > q["B"] and p["C"] < q["C"]        # a price agreement favours integration (B)

    # as of yesterday the tracker had not been told: the score then is unchanged
    yesterday = str(TODAY - dt.timedelta(days=1))
    res = CliRunner().invoke(main, ["score", "--json", "--as-of", yesterday, "--config", str(cfg)])
    then = json.loads(res.stdout)
    assert [m for m in then["movers"] if m["indicator"] == "pos2-stage"][0]["state"] == "memorandum"


def test_a_numeric_observation_replaces_the_same_date(cfg: Path) -> None:
    for value in ("40", "45.5"):
        res = observe(cfg, "settlement-share", value, "--date", DAY, "--url", URL,
                      "--note", "minister's statement")
        assert res.exit_code == 0, res.output
    with Store(cfg.parent / "tracker.db") as store:
        latest = store.latest("settlement-share")
    assert [str(d.date()) for d in latest["date"]] == ["2024-05-16", DAY]
    assert list(latest["value"]) == [90.0, 45.5]


def export(cfg: Path, *ids: str):
    return CliRunner().invoke(main, ["export", *ids, "--config", str(cfg)])


@pytest.mark.parametrize(("ids", "message"), [
    (["UNKNOWN"], "Error: unknown indicator 'UNKNOWN'"),
    (["settlement-share", "pos2-stgae"], "Error: unknown indicator 'pos2-stgae'; did you mean 'pos2-stage'?"),
    (["UNKNOWN", "settlement-shar"], "Error: unknown indicator 'UNKNOWN'; "
                                     "unknown indicator 'settlement-shar'; did you mean 'settlement-share'?"),
])
def test_export_refuses_an_unknown_indicator_as_observe_does(cfg: Path, ids: list[str], message: str) -> None:
    """Not an empty CSV, which reads as "no observations" of an indicator that does not exist."""
    res = export(cfg, *ids)
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr == message + "\n"


def test_export_of_known_indicators(cfg: Path) -> None:
    res = export(cfg, "settlement-share")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[1:] == [
        "settlement-share,2024-05-16,90.0,,2024-05-16,https://example.org/settlement-share/2024-05-16,"]


def test_export_of_an_indicator_no_longer_in_the_pack_but_stored(cfg: Path) -> None:
    """Its observations stay in the store after its file is removed: they can still be exported."""
    assert export(cfg).exit_code == 0                  # seeded
    (cfg.parent / "indicators" / "settlement-share.yaml").unlink()
    res = export(cfg, "settlement-share")
    assert res.exit_code == 0, res.output
    assert [line.split(",")[:3] for line in res.stdout.splitlines()[1:]] == [
        ["settlement-share", "2024-05-16", "90.0"]]
