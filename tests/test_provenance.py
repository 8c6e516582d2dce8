"""Every stored observation says where it came from (issue 15, item 1).

Each connector stores on every row a `source_url` a person can open (the query with its
parameters, the row's own period where the API allows it, or the dataset's page) with any key
masked, and the vintage names the connector that wrote it. Then, end to end: the default pack
with its live sources pointed at loopback servers answering in each provider's genuine format,
after `tracker ingest`, has a source on every observation, and score, explain, the digest and
export show it ("(no source)" and "None" nowhere).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy
from click.testing import CliRunner
from ingest_helpers import (
    Loopback,
    cli,
    query,
    sample,
    sample_json,
    sipri_answer,
    vintage_counts,
    write_project,
)
from packbuilder import copy_default_project
from source_fixtures import FIXTURES, HTTP_KINDS, observations
from werkzeug import Request
from werkzeug import Response as WResponse

from tracker.cli import main
from tracker.sources import sipri_source, sql_source
from tracker.views.terminal import shorten

FIXTURES_SIPRI_TEXT = sample("sipri-trade-register.csv")


def _params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _ingest_one(tmp_path: Path, kind: str) -> tuple[Path, list[tuple]]:
    fx = FIXTURES[kind]
    with Loopback() as srv:
        srv.route(fx.path, body=fx.body, content_type=fx.content_type)
        cfg = write_project(tmp_path, {kind: fx.source(srv)})
        run = cli(cfg, "--json")
        assert run.code == 0 and run.by_id[kind]["status"] == "new", run.stdout
        base = srv.url("")
    rows = observations(cfg, kind)
    assert rows and all(url and url.startswith(base) for _, _, url in rows), rows
    return cfg, rows


# ---------------------------------------------------------------- each connector


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_every_connector_stores_a_source_and_names_itself_on_the_vintage(tmp_path, monkeypatch, kind) -> None:
    monkeypatch.chdir(tmp_path)
    cfg, _ = _ingest_one(tmp_path, kind)
    assert query(cfg, "SELECT origin, connector FROM vintages") == [("ingest", kind)]


def test_gdelt_rows_link_to_the_query_over_their_own_bucket(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _, rows = _ingest_one(tmp_path, "gdelt")
    ((day, _, url),) = rows  # the sample's buckets all fall on 2026-08-31: one monthly row
    assert day == "2026-08-31" and urlsplit(url).path == FIXTURES["gdelt"].path
    assert _params(url) == {"query": '"Power of Siberia"', "mode": "timelinevol", "format": "json",
                            "startdatetime": "20260801000000", "enddatetime": "20260831235959"}


def test_worldbank_and_comtrade_rows_link_to_their_own_period(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (_, _, wb_url), = _ingest_one(tmp_path / "wb", "worldbank")[1]
    assert urlsplit(wb_url).path == FIXTURES["worldbank"].path
    assert _params(wb_url) == {"format": "json", "date": "2013"}
    (_, _, ct_url), = _ingest_one(tmp_path / "ct", "comtrade")[1]
    assert urlsplit(ct_url).path == FIXTURES["comtrade"].path
    assert _params(ct_url) == {"reporterCode": "842", "partnerCode": "392", "period": "2023", "cmdCode": "TOTAL",
                               "flowCode": "M"}


def test_imf_and_sipri_rows_link_to_the_query_and_the_database_page(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    imf_rows = _ingest_one(tmp_path / "imf", "imf")[1]
    assert {urlsplit(url).path for _, _, url in imf_rows} == {FIXTURES["imf"].path}
    sipri_rows = _ingest_one(tmp_path / "sipri", "sipri")[1]
    assert {urlsplit(url).path for _, _, url in sipri_rows} == {FIXTURES["sipri"].path}  # a POST: the endpoint
    assert sipri_source.page("https://atbackend.sipri.org/api/p/trades/trade-register-csv/") == \
        "https://armstransfers.sipri.org/"


def test_a_key_in_a_query_string_is_masked_in_every_stored_url(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    secret = "s3cr3t-KEY-value"
    with Loopback() as srv:
        srv.route("/a.csv", body="date,value\n2024-01-31,1\n", content_type="text/csv")
        srv.route("/b.json", body='{"rows": [{"date": "2024-01-31", "value": 2}]}', content_type="application/json")
        cfg = write_project(tmp_path, {
            "a": {"kind": "csv", "url": srv.url(f"/a.csv?api_key={secret}&series=x")},
            "b": {"kind": "json", "url": srv.url("/b.json"), "records": "rows", "params": {"token": secret}}})
        assert cli(cfg).code == 0
        assert {h.args.get("api_key") or h.args.get("token") for h in srv.hits} == {secret}  # it was sent
    urls = dict(query(cfg, "SELECT v.indicator, o.source_url FROM observations o "
                           "JOIN vintages v ON v.id = o.vintage_id"))
    assert _params(urls["a"]) == {"api_key": "***", "series": "x"}
    assert _params(urls["b"]) == {"token": "***"}
    assert secret.encode() not in (cfg.parent / "tracker.db").read_bytes()


def test_file_rows_cite_the_path_as_the_pack_writes_it_and_keep_their_own(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "gdp.csv").write_text("date,value,source_url\n2024-01-31,1,\n"
                                               "2024-02-29,2,https://stats.example.org/feb\n")
    cfg = write_project(tmp_path, {"gdp": {"kind": "file", "path": "data/gdp.csv"}})
    assert cli(cfg).code == 0
    assert [url for _, _, url in observations(cfg, "gdp")] == ["data/gdp.csv", "https://stats.example.org/feb"]
    assert query(cfg, "SELECT connector FROM vintages") == [("file",)]


def test_sql_rows_cite_the_database_without_its_password(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'stats.db'}")
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE t (date TEXT, value REAL)"))
        conn.execute(sqlalchemy.text("INSERT INTO t VALUES ('2024-01-31', 1.5)"))
    engine.dispose()
    monkeypatch.setenv("STATS_DB", f"sqlite:///{tmp_path / 'stats.db'}")
    cfg = write_project(tmp_path, {"q": {"kind": "sql", "url_env": "STATS_DB", "query": "SELECT date, value FROM t"}})
    assert cli(cfg).code == 0
    assert [url for _, _, url in observations(cfg, "q")] == [f"sqlite:///{tmp_path / 'stats.db'}"]
    shown = sql_source.shown("postgresql://analyst:hunter22@db.example.org:5432/stats?sslpassword=pw9")
    assert shown == "postgresql://db.example.org:5432/stats?sslpassword=***"


def test_the_same_answer_gives_the_same_urls_on_another_day(tmp_path, monkeypatch) -> None:
    """The content hash covers the URLs: one that moved with the clock would write a vintage
    every night. GDELT's windows end "now"; its rows' links do not."""
    monkeypatch.chdir(tmp_path)
    fx = FIXTURES["gdelt"]
    with Loopback() as srv:
        srv.route(fx.path, body=fx.body, content_type=fx.content_type)
        cfg = write_project(tmp_path, {"g": fx.source(srv)})
        assert cli(cfg).code == 0
        with sqlite3.connect(cfg.parent / "tracker.db") as con:  # no body hash: parse the same answer again
            con.execute("DELETE FROM validators")
        run = cli(cfg, "--json")
    assert (run.by_id["g"]["status"], run.by_id["g"]["answer"]) == ("unchanged", "data")


# ---------------------------------------------------------------- the default pack, end to end

LIVE_KINDS = ("gdelt", "imf", "comtrade", "sipri", "worldbank")


def _comtrade(request: Request) -> WResponse:
    """UN Comtrade's preview answer (the sample's row as the template) for what was asked."""
    template = sample_json("un-comtrade-v1-preview.json")["data"][0]
    rows = [{**template, "period": period, "refYear": int(period[:4]), "cmdCode": code,
             "flowCode": request.args["flowCode"], "reporterCode": int(request.args["reporterCode"]),
             "partnerCode": int(request.args["partnerCode"]),
             "primaryValue": (1e9 if code == "TOTAL" else 1e8) * (1 + int(period[:4]) % 7)}
            for period in request.args["period"].split(",") for code in request.args["cmdCode"].split(",")]
    return WResponse(json.dumps({"elapsedTime": "0.1 secs", "count": len(rows), "data": rows}),
                     content_type="application/json")


def _imf(request: Request) -> WResponse:
    """The IMF SDMX 3.0 sample answer, its one series given ten years (annual) or three years
    (monthly) of observations, as the key asked for."""
    doc = sample_json("imf-sdmx3-data-json.json")
    periods = ([str(y) for y in range(2015, 2026)] if request.path.endswith(".A")
               else [f"{y}-M{m:02d}" for y in range(2023, 2026) for m in range(1, 13)])
    series = doc["data"]["dataSets"][0]["series"]["0:0:0:0:0"]
    series["observations"] = {str(i): [str(100.0 + 3 * i + i % 4), None, 0, "2010A", None] for i in range(len(periods))}
    doc["data"]["structures"][0]["dimensions"]["observation"][0]["values"] = [{"value": p} for p in periods]
    return WResponse(json.dumps(doc), content_type="application/vnd.sdmx.data+json; version=2.0.0")


def _gdelt(request: Request) -> WResponse:
    """A GDELT DOC 2.0 timeline in the API's shape: one bucket a day over the window asked."""
    first = dt.datetime.strptime(request.args["startdatetime"], "%Y%m%d%H%M%S")
    last = dt.datetime.strptime(request.args["enddatetime"], "%Y%m%d%H%M%S")
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    name = "Average Tone" if request.args["mode"] == "timelinetone" else "Volume Intensity"
    data = [{"date": f"{d:%Y%m%d}T000000Z", "value": round(1 + (d.toordinal() % 9) / 10, 2)} for d in days]
    return WResponse(json.dumps({"query_details": {"title": request.args["query"], "date_resolution": "1d"},
                                 "timeline": [{"series": name, "data": data}]}), content_type="application/json")


def _sipri_register() -> str:
    """The register as the SIPRI backend sends it (the sample's preamble and header) with a
    Russian delivery to China in each year from 2000 to 2025."""
    text = FIXTURES_SIPRI_TEXT
    head = text[:text.index("SIPRI AT Database ID")]
    header = text[text.index("SIPRI AT Database ID"):].splitlines()[0]
    rows = [f"{40000 + y},Russia,China,Su-35,FGA aircraft,Aircraft,1999,No,2,No,{y},No,New,50,50,{100 + y % 11},No"
            for y in range(2000, 2026)]
    return head + header + "\n" + "\n".join(rows) + "\n"


def _worldbank() -> str:
    """The World Bank v2 answer (the sample's row as the template) for Russia, 2000 to 2024."""
    meta, rows = sample_json("worldbank-v2-indicator.json")
    template = {**rows[0], "indicator": {"id": "MS.MIL.XPRT.KD", "value": "Arms exports (SIPRI TIV)"},
                "country": {"id": "RU", "value": "Russian Federation"}, "countryiso3code": "RUS"}
    years = [{**template, "date": str(y), "value": 4.0e9 + 1.0e8 * (y % 13)} for y in range(2024, 1999, -1)]
    return json.dumps([{**meta, "total": len(years)}, years])


def _default_pack_over_loopback(tmp_path: Path, srv: Loopback) -> Path:
    copy_default_project(tmp_path)
    urls = {"gdelt": srv.url("/gdelt"), "imf": srv.url("/imf"), "comtrade": srv.url("/ct"),
            "sipri": srv.url("/sipri/"), "worldbank": srv.url("/wb")}
    for path in (tmp_path / "indicators").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        kind = re.search(r"^  kind: (\w+)", text, re.M)
        if kind and kind.group(1) in urls:
            path.write_text(re.sub(r"^(  kind: \w+.*)$", rf"\1\n  url: {urls[kind.group(1)]}", text, count=1,
                                   flags=re.M), encoding="utf-8")
            if kind.group(1) == "imf":
                key = re.search(r"^  key: (\S+)", text, re.M).group(1)  # type: ignore[union-attr]
                srv.route(f"/imf/data/dataflow/IMF.STA/IMTS/1.0.0/{key}").answer = _imf  # type: ignore[method-assign]
    srv.route("/gdelt").answer = _gdelt  # type: ignore[method-assign]
    srv.route("/sipri/", body=sipri_answer(_sipri_register()), content_type="application/json")
    srv.route("/wb/country/RUS/indicator/MS.MIL.XPRT.KD", body=_worldbank(), content_type="application/json")
    srv.route("/ct/public/v1/preview/C/A/HS").answer = _comtrade  # type: ignore[method-assign]
    return tmp_path / "config.yaml"


def _run(cfg: Path, *args: str) -> str:
    res = CliRunner().invoke(main, [*args, "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_default_pack_after_ingest_every_observation_is_sourced_in_every_view(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Loopback() as srv:
        cfg = _default_pack_over_loopback(tmp_path, srv)
        run = cli(cfg, "--json")
        written = vintage_counts(cfg)
        again = cli(cfg, "--json")  # the same answers: conditional requests or body hashes, 0 vintages
    assert run.code == 0, run.stdout
    live = {r["indicator"] for r in run.doc["results"] if r["status"] != "skipped"}
    assert len(live) == 13 and all(run.by_id[i]["status"] == "new" for i in live), run.doc
    assert again.code == 0 and {again.by_id[i]["status"] for i in live} == {"unchanged"}, again.doc
    assert vintage_counts(cfg) == written

    assert query(cfg, "SELECT COUNT(*) FROM observations WHERE source_url IS NULL OR trim(source_url) = ''") == [(0,)]
    kinds = dict(query(cfg, "SELECT indicator, connector FROM vintages WHERE origin = 'ingest'"))
    assert set(kinds) == live and set(kinds.values()) == set(LIVE_KINDS)
    loopback = srv.url("")

    score = _run(cfg, "score")
    explain = _run(cfg, "explain")
    for text in (score, explain):
        assert "no source" not in text and "None" not in text
    explain_doc = json.loads(_run(cfg, "explain", "--json"))
    cited = {r["indicator"]: r["observation"]["source_url"] for r in explain_doc["indicators"]
             if r["observation"] and r["indicator"] in live}
    # an indicator shows an observation once its transforms have enough history (a year-on-year
    # change needs last year too); each kind has at least one such indicator here
    assert {kinds[i] for i in cited} == set(LIVE_KINDS), cited
    assert all(url.startswith(loopback) for url in cited.values())
    lines = explain.splitlines()
    for i in cited:  # below each ingested indicator's row, its source: whole, or cut at a slash to fit 80 columns
        k = next(n for n, x in enumerate(lines) if x.strip().startswith(i + " "))
        words = " ".join(lines[k + 1:k + 6]).split()
        assert shorten(cited[i], 80 - 10) in words, lines[k:k + 6]

    exported = list(csv.DictReader(io.StringIO(_run(cfg, "export"))))
    assert {r["indicator"] for r in exported} >= live
    assert all(r["source_url"].strip() for r in exported)

    _run(cfg, "digest", "--out", str(tmp_path / "preview"))
    html = next((tmp_path / "preview").glob("*.html")).read_text(encoding="utf-8")
    text = _run(cfg, "digest")
    for body in (html, text):  # "None recorded with `tracker observe`" is a sentence, not a missing value
        assert "no source" not in body and "None" not in body.replace("None recorded with", ""), body
    movers = [m["indicator"] for m in json.loads(_run(cfg, "score", "--json"))["movers"] if m["indicator"] in live]
    assert all(cited[i] in text for i in movers)

