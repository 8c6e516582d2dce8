"""One meaning for "answered, but nothing there" (issue 15, item 3).

Every connector's empty answer, in the provider's own form (IMF's dataset without `series`,
GDELT's `{}`, the World Bank's `[meta, null]`, Comtrade's `data: []`, a SIPRI register without a
row, an empty CSV or JSON body, a file with a header only, a query with no row) ends as `empty`:
neither failed nor new, exit 0, nothing written, recorded per source, shown by `tracker status`
and in the digest's data health. On `empty_after` nights in a row (config.yaml, default 7) the
source is failing, and counts as failed (exit 3) until it answers with data again.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
import yaml
from click.testing import CliRunner
from ingest_helpers import Loopback, cli, query, sample, sample_json, utc, vintage_counts, write_project
from source_fixtures import FIXTURES

from tracker import service
from tracker.cli import main
from tracker.sources.ingest import ingest


def _imf_no_series() -> str:
    doc = sample_json("imf-sdmx3-data-json.json")
    del doc["data"]["dataSets"][0]["series"]
    return json.dumps(doc)


def _sipri_no_rows() -> str:
    text = sample("sipri-trade-register.csv")
    header_end = text.index("\n", text.index("SIPRI AT Database ID")) + 1
    return json.dumps({"bytes": base64.b64encode(text[:header_end].encode()).decode()})


WB_NOTHING = json.dumps([{"page": 1, "pages": 0, "per_page": 1000, "total": 0, "sourceid": None,
                          "lastupdated": "2026-10-15"}, None])
EMPTY_ANSWERS: dict[str, tuple[str, str]] = {   # kind -> (body, content type), the provider's own form
    "imf": (_imf_no_series(), "application/vnd.sdmx.data+json; version=2.0.0"),
    "gdelt": (sample("gdelt-doc-unknown-theme-empty.json"), "application/json"),
    "worldbank": (WB_NOTHING, "application/json;charset=utf-8"),
    "comtrade": ('{"elapsedTime":"0.01 secs","count":0,"data":[],"error":""}', "application/json"),
    "sipri": (_sipri_no_rows(), "application/json"),
    "csv": ("", "text/csv"),
    "json": ('{"data": {"items": []}}', "application/json"),
}


@pytest.mark.parametrize("kind", sorted(EMPTY_ANSWERS))
def test_an_empty_answer_is_empty_not_failed_and_writes_nothing(tmp_path, monkeypatch, kind) -> None:
    monkeypatch.chdir(tmp_path)
    body, ctype = EMPTY_ANSWERS[kind]
    with Loopback() as srv:
        srv.route(FIXTURES[kind].path, body=body, content_type=ctype)
        cfg = write_project(tmp_path, {kind: FIXTURES[kind].source(srv)})
        run = cli(cfg, "--json")
    assert run.code == 0, run.stdout
    assert run.by_id[kind] | {"seconds": 0} == {"indicator": kind, "status": "empty", "answer": "empty", "rows": 0,
                                                 "error": None, "seconds": 0}
    assert run.doc["failed"] == [] and vintage_counts(cfg) == {}
    assert query(cfg, "SELECT indicator, status, answer FROM source_results") == [(kind, "empty", "empty")]


@pytest.mark.parametrize("body", ["date,value\n", "", "date,value\n\n"], ids=["header-only", "empty", "blank-line"])
def test_a_file_without_rows_is_empty(tmp_path, monkeypatch, body) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "table.csv").write_text(body)
    cfg = write_project(tmp_path, {"t": {"kind": "file", "path": "table.csv"}})
    run = cli(cfg, "--json")
    assert (run.code, run.by_id["t"]["status"]) == (0, "empty")


def test_a_query_without_rows_is_empty(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'stats.db'}")
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE t (date TEXT, value REAL)"))
    engine.dispose()
    monkeypatch.setenv("STATS_DB", f"sqlite:///{tmp_path / 'stats.db'}")
    cfg = write_project(tmp_path, {"q": {"kind": "sql", "url_env": "STATS_DB", "query": "SELECT date, value FROM t"}})
    run = cli(cfg, "--json")
    assert (run.code, run.by_id["q"]["status"]) == (0, "empty")


def _run(cfg: Path, *args: str) -> Any:
    return CliRunner().invoke(main, [*args, "--config", str(cfg)])


def test_imf_no_series_in_the_nightly_run_is_empty_exit_0_and_shown_by_status_and_the_digest(
        tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Loopback() as srv:
        srv.route(FIXTURES["imf"].path, body=EMPTY_ANSWERS["imf"][0], content_type=EMPTY_ANSWERS["imf"][1])
        srv.route(FIXTURES["csv"].path, body=FIXTURES["csv"].body, content_type="text/csv")
        cfg = write_project(tmp_path, {"imf_cpi": FIXTURES["imf"].source(srv), "trade": FIXTURES["csv"].source(srv)})
        nightly = _run(cfg, "run")
    assert nightly.exit_code == 0, nightly.output  # IMF "no series" used to make every nightly run exit 3
    detail = json.loads(query(cfg, "SELECT detail FROM runs WHERE kind = 'run'")[0][0])
    assert detail["sources"] == {"new": 1, "unchanged": 0, "empty": 1, "failed": 0, "skipped": 0}
    assert detail["failed_sources"] == []

    status = _run(cfg, "status", "--json")
    doc = json.loads(status.stdout)
    assert status.exit_code == 0 and doc["healthy"], doc["problems"]
    (empty,) = doc["empty_sources"]
    assert empty["indicator"] == "imf_cpi" and empty["nights"] == 1 and doc["failing_sources"] == []
    text = _run(cfg, "status").stdout
    assert "Answered with no data (latest attempt; failing after 7 nights in a row):" in text
    assert f"  imf_cpi: 1 night(s) in a row, since {empty['since']}" in text

    digest = _run(cfg, "digest").stdout
    health = digest[digest.index("DATA HEALTH"):]
    assert "Answered with no data (failing after 7 nights in a row):" in health
    assert "    - imf_cpi: 1 night(s) in a row, since " in health
    _run(cfg, "digest", "--out", str(tmp_path / "preview"))
    html = next((tmp_path / "preview").glob("*.html")).read_text()
    assert "Answered with no data" in html and "imf_cpi: 1 night(s) in a row" in html


def _nightly(cfg: Path, day: str, hour: int = 4) -> dict[str, Any]:
    ctx = service.load(str(cfg))
    with ctx.store() as store:
        report = ingest(ctx, store, now=utc(day, hour))
    (result,) = [r for r in report.results if r["indicator"] == "imf_cpi"]
    return {**result, "exit": report.exit_code}


def _empty_after(cfg: Path, nights: int) -> None:
    config = yaml.safe_load(cfg.read_text())
    config["empty_after"] = nights
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))


def test_an_empty_answer_n_nights_in_a_row_is_a_failing_source_until_data_come_back(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Loopback() as srv:
        route = srv.route(FIXTURES["imf"].path, body=FIXTURES["imf"].body, content_type=FIXTURES["imf"].content_type)
        cfg = write_project(tmp_path, {"imf_cpi": FIXTURES["imf"].source(srv)})
        _empty_after(cfg, 3)
        assert _nightly(cfg, "2026-11-01")["status"] == "new"
        route.body = EMPTY_ANSWERS["imf"][0]
        assert [_nightly(cfg, d, h)["status"] for d, h in
                [("2026-11-02", 4), ("2026-11-02", 15), ("2026-11-03", 4)]] == ["empty"] * 3  # two on one night
        third = _nightly(cfg, "2026-11-04")
        assert (third["status"], third["answer"], third["exit"]) == ("failed", "empty", 3)
        assert third["error"] == ("imf: the answer held no data on 3 nights in a row (since 2026-11-02); check the "
                                  "source's query, or raise empty_after (3) in config.yaml")
        status = json.loads(_run(cfg, "status", "--json").stdout)
        assert [s["indicator"] for s in status["failing_sources"]] == ["imf_cpi"] and status["empty_sources"] == []
        assert vintage_counts(cfg) == {"imf_cpi": 1}  # the data stored before are kept
        sources = json.loads(_run(cfg, "sources", "--json").stdout)["sources"][0]
        assert (sources["failing"], sources["empty_nights"], sources["failures"]) == (True, 3, 1)
        assert sources["empty_since"].startswith("2026-11-02")

        route.body = FIXTURES["imf"].changed
        back = _nightly(cfg, "2026-11-05")
    assert (back["status"], back["exit"]) == ("new", 0)
    sources = json.loads(_run(cfg, "sources", "--json").stdout)["sources"][0]
    assert (sources["failing"], sources["empty_nights"], sources["failures"]) == (False, 0, 0)


def test_by_default_the_seventh_empty_night_fails(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Loopback() as srv:
        srv.route(FIXTURES["imf"].path, body=EMPTY_ANSWERS["imf"][0], content_type=EMPTY_ANSWERS["imf"][1])
        cfg = write_project(tmp_path, {"imf_cpi": FIXTURES["imf"].source(srv)})
        first = dt.date(2026, 11, 1)
        statuses = [_nightly(cfg, (first + dt.timedelta(days=n)).isoformat())["status"] for n in range(7)]
    assert statuses == ["empty"] * 6 + ["failed"]


def test_a_failure_between_empty_nights_starts_the_count_again(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Loopback() as srv:
        route = srv.route(FIXTURES["imf"].path, body=EMPTY_ANSWERS["imf"][0], content_type=EMPTY_ANSWERS["imf"][1])
        cfg = write_project(tmp_path, {"imf_cpi": FIXTURES["imf"].source(srv)})
        _empty_after(cfg, 2)
        assert _nightly(cfg, "2026-11-01")["status"] == "empty"
        route.status, route.body = 404, "no such dataflow"
        assert _nightly(cfg, "2026-11-02")["answer"] == "error"
        route.status, route.body = 200, EMPTY_ANSWERS["imf"][0]
        assert _nightly(cfg, "2026-11-03")["status"] == "empty"  # 1 night, not 2
        assert _nightly(cfg, "2026-11-04")["status"] == "failed"


@pytest.mark.parametrize("value, message", [
    (0, "config.yaml:2:14: empty_after: expected a number at least 1, got 0"),
    ("a week", "config.yaml:2:14: empty_after: expected a whole number, got text 'a week'"),
])
def test_empty_after_is_checked_with_the_config(tmp_path, value, message) -> None:
    (tmp_path / "indicators").mkdir()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"pack: indicators\nempty_after: {json.dumps(value)}\n")
    res = _run(cfg, "status")
    assert res.exit_code == 2 and message in res.stderr, res.stderr


def test_the_ingest_table_says_empty(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Loopback() as srv:
        srv.route(FIXTURES["gdelt"].path, body=EMPTY_ANSWERS["gdelt"][0], content_type="application/json")
        cfg = write_project(tmp_path, {"news": FIXTURES["gdelt"].source(srv)})
        run = cli(cfg)
    assert run.code == 0
    (line,) = [x for x in run.stdout.splitlines() if x.startswith("news ")]
    assert line.split()[:3] == ["news", "0", "empty"]
    assert run.stdout.splitlines()[-1] == "1 sources: all ok; 1 answered with no data"
