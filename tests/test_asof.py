"""`tracker score --as-of D` uses only what was known on D, provably: the same answer as a
store holding nothing else, and blind to every row published or fetched after D. And a
backtest row for a date is exactly what `score --as-of` that date says."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from packbuilder import copy_known_at, frame, numeric, ordinal, scenarios, utc, write_pack

from tracker import service
from tracker.cli import main
from tracker.store import columns
from tracker.views import report

D = dt.date(2023, 6, 30)

SCEN = scenarios({"A": 0.4, "B": 0.35, "C": 0.25}, {"trade": 1.0, "deal": 1.0, "money": 0.6})
INDICATORS = [
    numeric("level", "trade",
            [{"name": "low", "below": 100}, {"name": "mid", "below": 120}, {"name": "high"}],
            {"low": {"A": 0.3, "B": 0.1, "C": 0.6}, "mid": {"A": 0.5, "B": 0.3, "C": 0.2},
             "high": {"A": 0.3, "B": 0.6, "C": 0.1}}, half_life="180d"),
    numeric("growth", "money",
            [{"name": "falling", "below": -2}, {"name": "flat", "below": 2}, {"name": "rising"}],
            {"falling": {"A": 0.3, "B": 0.1, "C": 0.6}, "flat": {"A": 0.5, "B": 0.3, "C": 0.2},
             "rising": {"A": 0.3, "B": 0.6, "C": 0.1}},
            transforms=[{"change": {"periods": 1}}], weight=0.8, half_life="365d"),
    ordinal("stage", "deal", ["talks", "deal", "built"],
            {"talks": {"A": 0.5, "B": 0.2, "C": 0.8}, "deal": {"A": 0.6, "B": 0.8, "C": 0.2},
             "built": {"A": 0.4, "B": 0.9, "C": 0.05}}, {"A": "18M", "B": "9M", "C": "60M"}),
]
SEEDS = {
    # monthly, published ten days after the month ends; runs on past D
    "level": [{"date": str(d.date()), "value": 95 + 2 * k,
               "published": str((d + pd.Timedelta(days=10)).date())}
              for k, d in enumerate(pd.date_range("2021-01-31", "2024-06-30", freq="ME"))],
    # quarterly with out-of-order publication around D
    "growth": [{"date": "2022-03-31", "value": 10, "published": "2022-04-20"},
               {"date": "2022-06-30", "value": 11, "published": "2022-07-20"},
               {"date": "2022-09-30", "value": 14, "published": "2022-10-20"},
               {"date": "2022-12-31", "value": 13, "published": "2023-07-15"},   # late: after D
               {"date": "2023-03-31", "value": 9, "published": "2023-04-20"},
               {"date": "2023-06-30", "value": 20, "published": "2023-07-20"},
               {"date": "2023-09-30", "value": 25, "published": "2023-10-20"}],
    "stage": [{"date": "2021-05-01", "level": "talks"}, {"date": "2023-02-10", "level": "deal"},
              {"date": "2023-07-01", "level": "built", "published": "2023-07-03"}],
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    cfg = write_pack(tmp_path, SCEN, INDICATORS, SEEDS)
    ctx = service.load(str(cfg))
    with ctx.store() as store:      # seeds first, then later ingests on top
        # revisions of old values, fetched after D: must not be seen as of D
        revised = frame([{"date": r["date"], "value": r["value"] + 30, "published": r["published"]}
                         for r in SEEDS["level"]])
        store.write_vintage("level", revised, fetched_at=utc("2023-08-15"), origin="ingest")
        # fetched on D itself (late in the day): known at the end of D
        growth = frame([{**r, "value": r["value"] + (1 if r["date"] == "2023-03-31" else 0)}
                        for r in SEEDS["growth"][:5]])
        store.write_vintage("growth", growth, fetched_at=utc(str(D), hour=23), origin="ingest")
        # one second after D ended
        store.write_vintage("growth", frame([{"date": "2023-03-31", "value": -50.0}]),
                            fetched_at=dt.datetime(2023, 7, 1, 0, 0, 1, tzinfo=dt.UTC), origin="ingest")
    return cfg


def score_json(cfg: Path, *args: str) -> dict:
    res = CliRunner().invoke(main, ["score", "--config", str(cfg), "--json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_as_of_equals_a_store_of_only_what_was_known(project: Path, tmp_path: Path) -> None:
    as_of = score_json(project, "--as-of", str(D))
    today = score_json(project)
    assert as_of["as_of"] == str(D) and today["as_of"] == str(dt.date.today())
    assert as_of["scenarios"] != today["scenarios"]

    copy_known_at(tmp_path / "tracker.db", tmp_path / "known.db", D)
    known_cfg = tmp_path / "known.yaml"
    known_cfg.write_text(project.read_text().replace("tracker.db", "known.db"))
    db = sqlite3.connect(tmp_path / "known.db")
    assert db.execute("SELECT MAX(published), MAX(date) FROM observations").fetchone() <= (str(D), str(D))
    assert db.execute("SELECT MAX(fetched_at) FROM vintages").fetchone()[0] <= f"{D}T23:59:59Z"
    db.close()
    assert score_json(known_cfg, "--as-of", str(D)) == as_of


def post_date_rows(path: Path) -> list[tuple[int, str]]:
    db = sqlite3.connect(path)
    rows = db.execute("""SELECT o.vintage_id, o.date
                         FROM observations o JOIN vintages v ON v.id = o.vintage_id
                         WHERE o.published > ? OR o.date > ? OR v.fetched_at > ?""",
                      (str(D), str(D), f"{D}T23:59:59Z")).fetchall()
    db.close()
    return rows


def change_row(path: Path, vintage: int, date: str) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE observations SET value = value * -3 + 7, "
                   "level = CASE level WHEN 'talks' THEN 'built' ELSE 'talks' END "
                   "WHERE vintage_id = ? AND date = ?", (vintage, date))
        repack(db, vintage)
    db.close()


def repack(db: sqlite3.Connection, vintage: int) -> None:
    """The scorer reads each vintage's packed columns (store/columns.py): pack the edited rows again."""
    db.execute("DELETE FROM vintage_columns WHERE vintage_id = ?", (vintage,))
    columns.backfill(db)


def test_changing_any_post_date_row_changes_nothing(project: Path, tmp_path: Path) -> None:
    ctx = service.load(str(project))

    def as_of_doc() -> dict:
        with ctx.store() as store:
            return report.to_json(service.score(ctx, store, D))

    reference = as_of_doc()
    rows = post_date_rows(tmp_path / "tracker.db")
    assert len(rows) > 40          # seeds past D, late publications, and whole later vintages
    for vintage, date in rows:
        change_row(tmp_path / "tracker.db", vintage, date)
        assert as_of_doc() == reference, (vintage, date)
    # the check has teeth: a row known on D does move the answer
    db = sqlite3.connect(tmp_path / "tracker.db")
    with db:
        db.execute("UPDATE observations SET value = 100 WHERE date = '2023-03-31' AND vintage_id = "
                   "(SELECT id FROM vintages WHERE indicator = 'growth' AND fetched_at <= ? "
                   " ORDER BY fetched_at DESC LIMIT 1)", (f"{D}T23:59:59Z",))
        repack(db, db.execute("SELECT id FROM vintages WHERE indicator = 'growth' AND fetched_at <= ? "
                              "ORDER BY fetched_at DESC LIMIT 1", (f"{D}T23:59:59Z",)).fetchone()[0])
    db.close()
    assert as_of_doc()["scenarios"] != reference["scenarios"]


def test_backtest_row_is_what_score_as_of_said(project: Path) -> None:
    """Replaying a long grid gives, on each date, exactly the as-of score of that date, even with
    late (out-of-order) publication and vintages fetched in between."""
    ctx = service.load(str(project))
    with ctx.store() as store:
        rows = service.replay(ctx, store, dt.date(2022, 1, 7), dt.date(2024, 3, 29))
        assert len(rows) > 100
        for r in rows:
            day = dt.date.fromisoformat(r["date"])
            result = service.score(ctx, store, day)
            got = dict(zip(result.model.scenarios, result.post[-1].round(4).tolist(), strict=True))
            assert got == r["probabilities"], day


def test_partial_period_is_not_scored_before_it_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A quarterly sum of monthly figures: in mid-quarter the sum so far is not a quarter."""
    monkeypatch.chdir(tmp_path)
    ind = numeric("q", "trade", [{"name": "low", "below": 50}, {"name": "high"}],
                  {"low": {"A": 0.2, "B": 0.5, "C": 0.8}, "high": {"A": 0.5, "B": 0.5, "C": 0.2}},
                  transforms=[{"resample": {"freq": "QE", "how": "sum"}}])
    months = pd.date_range("2022-01-31", "2023-12-31", freq="ME")
    rows = [{"date": str(d.date()), "value": 20} for d in months]
    cfg = write_pack(tmp_path, SCEN, [ind], {"q": rows})
    ctx = service.load(str(cfg))
    with ctx.store() as store:
        mid = service.score(ctx, store, dt.date(2023, 5, 5))        # two months into Q2
        feat = mid.feats["q"]
        assert feat.value[-1] == 60 and str(feat.ref[-1]) == "2023-03-31"
        rows = service.replay(ctx, store, dt.date(2023, 1, 6), dt.date(2023, 12, 29))
        by_date = {r["date"]: r["probabilities"] for r in rows}
        assert by_date["2023-05-05"] == {s: round(float(p), 4) for s, p in
                                         zip(mid.model.scenarios, mid.post[-1], strict=True)}


def test_share_of_sees_only_what_was_published_on_each_grid_date(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    states = [{"name": "low", "below": 50}, {"name": "high"}]
    lik = {"low": {"A": 0.2, "B": 0.5, "C": 0.8}, "high": {"A": 0.5, "B": 0.5, "C": 0.2}}
    part = numeric("part", "trade", states, lik, transforms=[{"share_of": {"indicator": "total"}}])
    total = numeric("total", "money", states, lik)
    months = pd.date_range("2022-01-31", "2023-12-31", freq="ME")
    seeds = {"part": [{"date": str(d.date()), "value": 40} for d in months],
             "total": [{"date": str(d.date()), "value": 100 if d.year == 2022 else 50,
                        "published": str(d.date()) if d.year == 2022 else "2023-12-31"} for d in months]}
    cfg = write_pack(tmp_path, SCEN, [part, total], seeds)
    ctx = service.load(str(cfg))
    with ctx.store() as store:
        early = service.score(ctx, store, dt.date(2023, 6, 30))
        late = service.score(ctx, store, dt.date(2024, 1, 5))
        t = list(late.grid).index(early.grid[-1])
        assert late.feats["part"].value[t] == early.feats["part"].value[-1] == 40.0
