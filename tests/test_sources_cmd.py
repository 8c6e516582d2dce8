"""`tracker sources [--json]`: one row per fetched source (issue 15, item 6), and the record it
reads (tracker.store.sourcelog), including `last_revision`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from click.testing import CliRunner
from ingest_helpers import SCEN, Loopback, closed_port, csv_text, indicator, utc, write_project
from packbuilder import write_pack
from source_fixtures import FIXTURES

from tracker import service
from tracker.cli import main
from tracker.sources.ingest import ingest
from tracker.store import sourcelog
from tracker.store.db import Store

LONG_ID = "china-russia-trade-settled-in-national-currencies"


def _sources(cfg: Path, *args: str) -> Any:
    res = CliRunner().invoke(main, ["sources", *args, "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_an_empty_store_gives_a_row_per_live_source_and_valid_json(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = write_pack(tmp_path, SCEN, [indicator("trade", {"kind": "csv", "url": "http://127.0.0.1:9/t.csv"}),
                                      indicator("deal", {"kind": "manual"})])
    doc = json.loads(_sources(cfg, "--json"))
    assert doc == {"empty_after": 7, "sources": [{
        "indicator": "trade", "kind": "csv", "last_attempt": None, "last_status": None, "last_answer": None,
        "last_error": None, "last_fetched": None, "last_new": None, "failures": 0, "empty_nights": 0,
        "empty_since": None, "failing": False, "last_revision": None,
        "conditional": {"supports": "etag, last-modified, body hash", "remembered": [], "shown": "-"}}]}
    assert _sources(cfg).splitlines()[:2] == [
        "source                 kind      fetched    new data   revised    streak   cond",
        "trade                  csv       -          -          -                   -"]


def test_a_pack_without_fetched_sources(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = write_pack(tmp_path, SCEN, [indicator("deal", {"kind": "manual"})])
    assert json.loads(_sources(cfg, "--json")) == {"sources": [], "empty_after": 7}
    assert _sources(cfg) == "No fetched sources in this pack (every indicator is recorded by analysts).\n"


def _ingest(cfg: Path, day: str) -> None:
    ctx = service.load(str(cfg))
    with ctx.store() as store:
        ingest(ctx, store, now=utc(day))


def test_rows_after_two_nights(tmp_path, monkeypatch) -> None:
    """A csv source with validators revised on the second night, GDELT known by its body hash,
    a source that cannot be reached, an IMF key that matches nothing: each row says so."""
    monkeypatch.chdir(tmp_path)
    no_series = json.loads(FIXTURES["imf"].body)
    del no_series["data"]["dataSets"][0]["series"]
    with Loopback() as srv:
        srv.route("/t.csv", body=csv_text([("2024-01-31", 1), ("2024-02-29", 2)]), content_type="text/csv",
                  etag='"t1"')
        srv.route(FIXTURES["gdelt"].path, body=FIXTURES["gdelt"].body, content_type="application/json")
        srv.route(FIXTURES["imf"].path, body=json.dumps(no_series), content_type="application/json")
        cfg = write_project(tmp_path, {
            "trade": {"kind": "csv", "url": srv.url("/t.csv")}, "news": FIXTURES["gdelt"].source(srv),
            "down": {"kind": "csv", "url": f"http://127.0.0.1:{closed_port()}/x.csv"},
            LONG_ID: FIXTURES["imf"].source(srv)}, retries=0)
        _ingest(cfg, "2026-11-02")
        srv.routes["/t.csv"].body = csv_text([("2024-01-31", 1), ("2024-02-29", 2.5), ("2024-03-31", 3)])
        srv.routes["/t.csv"].etag = '"t2"'
        _ingest(cfg, "2026-11-03")
    rows = {r["indicator"]: r for r in json.loads(_sources(cfg, "--json"))["sources"]}
    trade, news, down, imf = rows["trade"], rows["news"], rows["down"], rows[LONG_ID]
    assert (trade["last_fetched"], trade["last_new"]) == ("2026-11-03T12:00:00Z", "2026-11-03T12:00:00Z")
    assert trade["last_revision"]["fetched_at"] == "2026-11-03T12:00:00Z" and trade["last_revision"]["points"] == 1
    assert trade["conditional"] == {"supports": "etag, last-modified, body hash",
                                    "remembered": ["etag", "body-hash"], "shown": "304"}
    assert (news["last_new"], news["last_fetched"], news["last_answer"]) == (
        "2026-11-02T12:00:00Z", "2026-11-03T12:00:00Z", "same_body")
    assert news["conditional"]["shown"] == "hash" and news["last_revision"] is None
    assert (down["failures"], down["failing"], down["last_fetched"]) == (2, True, None)
    assert "could not connect" in down["last_error"]
    assert (imf["empty_nights"], imf["failing"], imf["last_status"]) == (2, False, "empty")

    text = _sources(cfg)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 80
    assert lines[lines.index(LONG_ID) + 1].split() == ["imf", "2026-11-03", "-", "-", "2", "empty", "-"]
    assert [x for x in lines if x.startswith("trade ")][0].split() == [
        "trade", "csv", "2026-11-03", "2026-11-03", "2026-11-03", "304"]
    assert [x for x in lines if x.startswith("down ")][0].split() == ["down", "csv", "-", "-", "-", "2", "fail", "-"]
    assert [x for x in lines if x.startswith("news ")][0].split() == [
        "news", "gdelt", "2026-11-03", "2026-11-02", "-", "hash"]
    assert "4 sources: 1 failing, 1 answered with no data (failing after 7 nights)" in lines


def _frame(rows: list[tuple[str, Any]], col: str = "value") -> pd.DataFrame:
    return pd.DataFrame({"date": pd.to_datetime([d for d, _ in rows]), col: [v for _, v in rows],
                         "published": pd.to_datetime([d for d, _ in rows])})


def test_last_revision_is_the_newest_vintage_that_changed_a_value_already_held(tmp_path) -> None:
    with Store(tmp_path / "tracker.db") as store:
        def write(rows: list[tuple[str, Any]], day: str, iid: str = "s", col: str = "value") -> int:
            assert store.write_vintage(iid, _frame(rows, col), fetched_at=utc(day), origin="ingest")
            return store.vintage_log(iid)[-1]["id"]

        write([("2024-01-31", 1.0), ("2024-02-29", 2.0)], "2026-01-01")
        assert sourcelog.last_revision(store, "s") is None
        write([("2024-01-31", 1.0), ("2024-02-29", 2.0), ("2024-03-31", 3.0)], "2026-01-02")  # added only
        assert sourcelog.last_revision(store, "s") is None
        revised = write([("2024-01-31", 1.0), ("2024-02-29", 2.5), ("2024-03-31", 3.5)], "2026-01-03")
        write([("2024-01-31", 1.0), ("2024-02-29", 2.5), ("2024-03-31", 3.5), ("2024-04-30", 4.0)], "2026-01-04")
        write([("2024-02-29", 2.5), ("2024-03-31", 3.5), ("2024-04-30", 4.0)], "2026-01-05")  # dropped only
        assert sourcelog.last_revision(store, "s") == {"vintage": revised, "fetched_at": "2026-01-03T12:00:00Z",
                                                       "points": 2}
        write([("2024-01-31", "talks")], "2026-01-01", "deal", "level")
        stage = write([("2024-01-31", "memorandum")], "2026-01-02", "deal", "level")
        assert sourcelog.last_revision(store, "deal") == {"vintage": stage, "fetched_at": "2026-01-02T12:00:00Z",
                                                          "points": 1}
        assert sourcelog.last_revision(store, "unknown") is None


def test_a_store_written_before_these_records_is_migrated_and_read(tmp_path, monkeypatch) -> None:
    """A store from before schema 3: its source results have no `answer`, its validators no body
    hash or spec fingerprint. Opening it adds the columns; the old rows read as what they were,
    and old validators, saved under no fingerprint, are not sent (the next fetch is a full one)."""
    import sqlite3

    from tracker.store import schema

    monkeypatch.chdir(tmp_path)
    mine = next(i for i, m in enumerate(schema.MIGRATIONS) if isinstance(m, str) and "ADD COLUMN answer" in m)
    path = tmp_path / "tracker.db"
    with Loopback() as srv:
        srv.route("/t.csv", body=csv_text([("2024-01-31", 1)]), content_type="text/csv", etag='"old"')
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
            for version, step in enumerate(schema.MIGRATIONS[:mine], start=1):
                schema._apply(db, step)
                db.execute("INSERT INTO migrations VALUES (?, '2026-01-01T00:00:00Z')", (version,))
            db.execute(f"PRAGMA user_version = {mine}")
            db.execute("INSERT INTO runs VALUES (1, 'ingest', '2026-10-01T04:30:00Z', '2026-10-01T04:31:00Z', "
                       "'ok', '{}')")
            db.execute("INSERT INTO source_results VALUES (1, 'trade', 'failed', NULL, 0.5, 'HTTP 500 from x')")
            db.execute("INSERT INTO validators VALUES ('trade', ?, '\"old\"', NULL)", (srv.url("/t.csv"),))
        db.close()
        cfg = write_project(tmp_path, {"trade": {"kind": "csv", "url": srv.url("/t.csv")}})
        (row,) = json.loads(_sources(cfg, "--json"))["sources"]
        assert (row["failures"], row["last_answer"], row["last_error"]) == (1, None, "HTTP 500 from x")
        assert row["conditional"]["remembered"] == ["etag"]
        _ingest(cfg, "2026-11-02")
        (hit,) = srv.hits
    assert "If-None-Match" not in hit.headers and hit.status == 200  # saved under no fingerprint: not sent
    (row,) = json.loads(_sources(cfg, "--json"))["sources"]
    assert (row["failures"], row["last_answer"], row["last_status"]) == (0, "data", "new")
    with Store(path) as store:
        assert store.db.execute("SELECT MAX(version) FROM migrations").fetchone()[0] == len(schema.MIGRATIONS)
