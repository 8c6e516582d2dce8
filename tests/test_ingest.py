"""`tracker ingest` end to end: a pack of csv/json/worldbank/imf/comtrade/gdelt/sipri sources
served by real loopback HTTP servers (the genuine sample answers in tests/samples), a real SQLite
store, the real CLI. Also the ingest's concurrency: the pool, the per-host limit and the per-host
minimum interval, measured from the server's side."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from ingest_helpers import (
    Gauge,
    Loopback,
    cli,
    csv_text,
    query,
    sample,
    sipri_answer,
    vintage_counts,
    worldbank_one_country,
    write_project,
)

from tracker import service
from tracker.sources.ingest import ingest
from tracker.store.db import Store

CSV_PATH = "/stats/trade.csv"
JSON_PATH = "/stats/series.json"
IMF_PATH = "/imf/sdmx/3.0/data/dataflow/IMF.STA/CPI/+/USA.CPI._T.IX.M"
WB_PATH = "/wb/v2/country/ARG/indicator/NY.GDP.MKTP.CD"
CT_PATH = "/ct/public/v1/preview/C/A/HS"
GDELT_PATH = "/gdelt/api/v2/doc/doc"
SIPRI_PATH = "/sipri/trade-register-csv/"

CSV_ETAG, CSV_LM = '"trade-1"', "Mon, 02 Nov 2026 10:00:00 GMT"
JSON_LM = "Tue, 03 Nov 2026 08:30:00 GMT"
IMF_ETAG = 'W/"imf-1"'

TRADE_ROWS = [("2024-01-31", 10), ("2024-02-29", 11), ("2024-03-31", 12)]
SERIES_DOC = ('{"data": {"items": [{"period": "2024-01", "obs": 1.5},'
              ' {"period": "2024-02", "obs": 2.5}]}}')

LIVE = ["ct_imports", "gdelt_vol", "imf_cpi", "series_json", "sipri_ru_dz", "trade_csv", "wb_gdp"]
EXPECTED_ROWS = {"ct_imports": 1, "gdelt_vol": 1, "imf_cpi": 2, "series_json": 2, "sipri_ru_dz": 2,
                 "trade_csv": 3, "wb_gdp": 1}
CONDITIONAL = {"trade_csv": CSV_PATH, "series_json": JSON_PATH, "imf_cpi": IMF_PATH}
UNCONDITIONAL = {"wb_gdp": WB_PATH, "ct_imports": CT_PATH, "gdelt_vol": GDELT_PATH, "sipri_ru_dz": SIPRI_PATH}


@dataclass
class Project:
    cfg: Path
    srv: Loopback

    def store(self) -> Store:
        return Store(self.cfg.parent / "tracker.db")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    with Loopback() as srv:
        srv.route(CSV_PATH, body=csv_text(TRADE_ROWS), etag=CSV_ETAG, last_modified=CSV_LM)
        srv.route(JSON_PATH, body=SERIES_DOC, content_type="application/json", last_modified=JSON_LM)
        srv.route(IMF_PATH, body=sample("imf-sdmx3-data-json.json"), etag=IMF_ETAG,
                  content_type="application/vnd.sdmx.data+json; version=2.0.0")
        srv.route(WB_PATH, body=worldbank_one_country("1A"), content_type="application/json;charset=utf-8")
        srv.route(CT_PATH, body=sample("un-comtrade-v1-preview.json"), content_type="application/json")
        srv.route(GDELT_PATH, body=sample("gdelt-doc-timelinevol.json"), content_type="application/json")
        srv.route(SIPRI_PATH, body=sipri_answer(), content_type="application/json")
        start = (dt.date.today() - dt.timedelta(days=20)).isoformat()
        sources = {
            "trade_csv": {"kind": "csv", "url": srv.url(CSV_PATH)},
            "series_json": {"kind": "json", "url": srv.url(JSON_PATH), "records": "data.items",
                            "date": "period", "value": "obs"},
            "imf_cpi": {"kind": "imf", "url": srv.url("/imf/sdmx/3.0"), "dataflow": "IMF.STA/CPI/+",
                        "key": "USA.CPI._T.IX.M"},
            "wb_gdp": {"kind": "worldbank", "url": srv.url("/wb/v2"), "country": "ARG",
                       "indicator": "NY.GDP.MKTP.CD", "start": 2010, "scale": 1e-9},
            "ct_imports": {"kind": "comtrade", "url": srv.url("/ct"), "reporter": 842, "partner": 392,
                           "flow": "M", "periods": [2023], "scale": 1e-9},
            "gdelt_vol": {"kind": "gdelt", "url": srv.url(GDELT_PATH), "query": '"Power of Siberia"',
                          "start": start},
            "sipri_ru_dz": {"kind": "sipri", "url": srv.url(SIPRI_PATH), "supplier": "Russia",
                            "recipient": "Algeria", "start": 2000, "end": 2001},
            "signpost": {"kind": "manual"},
        }
        yield Project(write_project(tmp_path, sources), srv)


def table_line(output: str, iid: str) -> str:
    lines = [line for line in output.splitlines() if line.split(" ", 1)[0] == iid]
    assert len(lines) == 1, output
    return lines[0]


def values(store: Store, iid: str) -> list[float]:
    return store.latest(iid)["value"].tolist()


# ---------------------------------------------------------------- the first and the second ingest


def test_first_ingest_stores_every_source_then_unchanged_sources_add_nothing(project: Project) -> None:
    first = cli(project.cfg)
    assert first.code == 0, first.stderr
    for iid in LIVE:
        assert re.fullmatch(rf"{iid}\s+{EXPECTED_ROWS[iid]} new vintage\s+\d+\.\ds  ",
                            table_line(first.stdout, iid))
    assert re.fullmatch(r"signpost\s+manual\s+0\.0s  recorded by analysts with `tracker observe`",
                        table_line(first.stdout, "signpost"))
    assert first.stdout.splitlines()[0].split() == ["source", "rows", "result", "time", "error"]
    assert first.stdout.splitlines()[-1] == "8 sources: all ok"
    assert vintage_counts(project.cfg) == dict.fromkeys(LIVE, 1)  # and none for the manual signpost

    with project.store() as store:  # what the genuine sample answers hold
        assert values(store, "trade_csv") == [10.0, 11.0, 12.0]
        assert values(store, "series_json") == [1.5, 2.5]
        assert values(store, "imf_cpi") == [151.4352997287388, 152.7225866809138]
        assert values(store, "wb_gdp") == [pytest.approx(2867.81109554736)]
        assert values(store, "ct_imports") == [pytest.approx(151.58056429)]
        assert values(store, "gdelt_vol") == [pytest.approx(21.6794 / 18)]
        assert values(store, "sipri_ru_dz") == [13.0, 0.0]
        imf_days = store.latest("imf_cpi")["date"].dt.strftime("%Y-%m-%d").tolist()
        assert imf_days == ["2026-03-31", "2026-04-30"]
    first_hits = len(project.srv.hits)
    assert first_hits == 7
    assert not any("If-None-Match" in h.headers or "If-Modified-Since" in h.headers
                   for h in project.srv.hits)

    second = cli(project.cfg, "--json")
    assert second.code == 0, second.stderr
    assert second.doc["failed"] == []
    assert {i: r["status"] for i, r in second.by_id.items()} == {**dict.fromkeys(LIVE, "unchanged"),
                                                                  "signpost": "skipped"}
    assert vintage_counts(project.cfg) == dict.fromkeys(LIVE, 1)
    assert query(project.cfg, "SELECT COUNT(*) FROM observations") == [(sum(EXPECTED_ROWS.values()),)]

    # the second round asked conditionally where the server had given validators, and got 304
    later = {path: [h for h in project.srv.hits[first_hits:] if h.path == path]
             for path in [*CONDITIONAL.values(), *UNCONDITIONAL.values()]}
    (csv_hit,), (json_hit,), (imf_hit,) = later[CSV_PATH], later[JSON_PATH], later[IMF_PATH]
    assert csv_hit.headers.get("If-None-Match") == CSV_ETAG
    assert csv_hit.headers.get("If-Modified-Since") == CSV_LM
    assert "If-None-Match" not in json_hit.headers and json_hit.headers["If-Modified-Since"] == JSON_LM
    assert imf_hit.headers["If-None-Match"] == IMF_ETAG and "If-Modified-Since" not in imf_hit.headers
    assert [csv_hit.status, json_hit.status, imf_hit.status] == [304, 304, 304]
    for iid in CONDITIONAL:
        assert second.by_id[iid]["rows"] is None  # nothing was parsed: 304
        assert second.by_id[iid]["answer"] == "not_modified"
    for iid, path in UNCONDITIONAL.items():  # these APIs give no validators: fetched, known by the body's hash
        (hit,) = later[path]
        assert hit.status == 200 and "If-None-Match" not in hit.headers
        assert second.by_id[iid]["rows"] is None and second.by_id[iid]["answer"] == "same_body"

    runs = query(project.cfg, "SELECT id, kind, status FROM runs ORDER BY id")
    assert [(k, s) for _, k, s in runs] == [("ingest", "ok"), ("ingest", "ok")]
    recorded = query(project.cfg, "SELECT indicator, status, rows, error FROM source_results "
                                  "WHERE run_id = ? ORDER BY indicator", runs[1][0])
    assert recorded == [(r["indicator"], r["status"], r["rows"], r["error"]) for r in second.doc["results"]]


def test_changed_source_gets_a_new_vintage_and_old_rows_keep_their_publication_date(project: Project) -> None:
    earlier = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=30)
    ctx = service.load(str(project.cfg))
    with ctx.store() as store:
        assert ingest(ctx, store, now=earlier).exit_code == 0

    csv_route = project.srv.routes[CSV_PATH]  # one value revised, one month added, new validators
    csv_route.body = csv_text([("2024-01-31", 10), ("2024-02-29", 11.5), ("2024-03-31", 12),
                               ("2024-04-30", 13)])
    csv_route.etag, csv_route.last_modified = '"trade-2"', "Mon, 23 Nov 2026 06:00:00 GMT"
    before = len(project.srv.hits)
    run = cli(project.cfg, "--json")
    assert run.code == 0, run.stderr
    assert run.by_id["trade_csv"]["status"] == "new" and run.by_id["trade_csv"]["rows"] == 4
    assert all(run.by_id[i]["status"] == "unchanged" for i in LIVE if i != "trade_csv")
    assert vintage_counts(project.cfg) == {**dict.fromkeys(LIVE, 1), "trade_csv": 2}
    (hit,) = [h for h in project.srv.hits[before:] if h.path == CSV_PATH]
    assert hit.headers["If-None-Match"] == CSV_ETAG and hit.status == 200

    started = query(project.cfg, "SELECT started FROM runs ORDER BY id DESC LIMIT 1")[0][0]
    today = dt.date.fromisoformat(started[:10])
    first_day = earlier.date()
    with project.store() as store:
        latest = store.latest("trade_csv")
        assert latest["published"].dt.date.tolist() == [first_day, today, first_day, today]
        assert latest["value"].tolist() == [10.0, 11.5, 12.0, 13.0]
        # the day before the second ingest: the first vintage, as first published
        old = store.as_of(today - dt.timedelta(days=1), ["trade_csv"])
        assert old["value"].tolist() == [10.0, 11.0, 12.0]
        assert set(old["published"].dt.date) == {first_day}
        # the day of the second ingest: the revision and the new month, dated that day
        new = store.as_of(today, ["trade_csv"])
        assert new["value"].tolist() == [10.0, 11.5, 12.0, 13.0]
        # the day before the first ingest: nothing had been fetched yet
        assert store.as_of(first_day - dt.timedelta(days=1), ["trade_csv"]).empty


def test_manual_sources_are_skipped_and_never_get_an_empty_vintage(project: Project) -> None:
    run = cli(project.cfg, "signpost", "--json")
    assert run.code == 0, run.stderr
    assert run.doc == {"results": [{"indicator": "signpost", "status": "skipped", "rows": None,
                                    "seconds": 0.0, "error": "recorded by analysts with `tracker observe`",
                                    "answer": None}],
                       "failed": []}
    assert project.srv.hits == [] and vintage_counts(project.cfg) == {}
    assert query(project.cfg, "SELECT indicator, status FROM source_results") == [("signpost", "skipped")]


def test_named_ids_fetch_only_those_sources(project: Project) -> None:
    run = cli(project.cfg, "imf_cpi", "trade_csv", "--json")
    assert run.code == 0, run.stderr
    assert [r["indicator"] for r in run.doc["results"]] == ["imf_cpi", "trade_csv"]
    assert sorted(h.path for h in project.srv.hits) == sorted([IMF_PATH, CSV_PATH])
    assert vintage_counts(project.cfg) == {"imf_cpi": 1, "trade_csv": 1}


def test_unknown_ids_exit_2_with_a_suggestion(project: Project) -> None:
    run = cli(project.cfg, "trade_cvs", "imf_cpi", "nothing-like-it")
    assert run.code == 2
    assert run.stderr == ("Error: unknown indicator 'trade_cvs'; did you mean 'trade_csv'?; "
                          "unknown indicator 'nothing-like-it'\n")
    assert run.stdout == ""
    assert project.srv.hits == []
    assert query(project.cfg, "SELECT COUNT(*) FROM runs") == [(0,)]


# ---------------------------------------------------------------- concurrency


def loopback_hosts(wanted: int) -> list[str]:
    hosts = []
    for k in range(1, wanted + 1):
        with socket.socket() as probe:
            try:
                probe.bind((f"127.0.0.{k}", 0))
            except OSError:
                continue
        hosts.append(f"127.0.0.{k}")
    return hosts


def test_twenty_slow_sources_overlap_and_the_per_host_limit_holds(tmp_path: Path) -> None:
    hosts = loopback_hosts(4)
    if len(hosts) < 4:
        pytest.skip("needs 127.0.0.1-4 on the loopback interface (Linux has the whole 127/8)")
    gauge = Gauge()
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(Loopback(h, gauge)) for h in hosts]
        sources = {}
        for k in range(20):
            srv = servers[k % len(servers)]
            srv.route(f"/s{k}.csv", body=csv_text([("2024-01-31", k), ("2024-02-29", k + 1)]), delay=0.2)
            sources[f"s{k:02d}"] = {"kind": "csv", "url": srv.url(f"/s{k}.csv")}
        cfg = write_project(tmp_path, sources, workers=8, per_host=2)
        ctx = service.load(str(cfg))
        with ctx.store() as store:
            started = time.monotonic()
            report = ingest(ctx, store)
            elapsed = time.monotonic() - started
    assert [r["status"] for r in report.results] == ["new"] * 20
    assert sum(len(s.hits) for s in servers) == 20
    assert elapsed < 2.5, f"20 × 0.2 s sources took {elapsed:.2f} s with 8 workers"  # serial: 4 s
    assert gauge.peak == dict.fromkeys(hosts, 2)  # per_host=2 reached on every host, never passed
    assert 2 < gauge.peak_total <= 8  # overlapping across hosts, never more than the workers


def test_a_host_listed_first_does_not_hold_up_the_others(tmp_path: Path) -> None:
    """Four slow sources of one host listed before two of another, one slot per host, two
    workers: the second host is asked at once, not once the first host's queue has drained."""
    hosts = loopback_hosts(2)
    if len(hosts) < 2:
        pytest.skip("needs 127.0.0.1-2 on the loopback interface (Linux has the whole 127/8)")
    with Loopback(hosts[0]) as slow, Loopback(hosts[1]) as quick:
        sources = {}
        for k in range(4):
            slow.route(f"/a{k}.csv", body=csv_text([("2024-01-31", k)]), delay=0.3)
            sources[f"a{k}"] = {"kind": "csv", "url": slow.url(f"/a{k}.csv")}
        for k in range(2):
            quick.route(f"/b{k}.csv", body=csv_text([("2024-01-31", k)]))
            sources[f"b{k}"] = {"kind": "csv", "url": quick.url(f"/b{k}.csv")}
        cfg = write_project(tmp_path, sources, workers=2, per_host=1)
        ctx = service.load(str(cfg))
        with ctx.store() as store:
            report = ingest(ctx, store)
    assert report.exit_code == 0
    slow_starts = sorted(h.start for h in slow.hits)
    assert len(slow_starts) == 4 and len(quick.hits) == 2
    assert min(h.start for h in quick.hits) < slow_starts[1]  # in pack order: after the third


def test_min_interval_spaces_requests_to_a_host_even_with_several_workers(tmp_path: Path) -> None:
    gauge = Gauge()
    with Loopback(gauge=gauge) as srv:
        sources = {}
        for k in range(4):
            srv.route(f"/m{k}.csv", body=csv_text([("2024-01-31", k)]))
            sources[f"m{k}"] = {"kind": "csv", "url": srv.url(f"/m{k}.csv")}
        cfg = write_project(tmp_path, sources, workers=4, per_host=4, min_interval={"127.0.0.1": 0.3})
        ctx = service.load(str(cfg))
        with ctx.store() as store:
            report = ingest(ctx, store)
    assert report.exit_code == 0
    starts = sorted(h.start for h in srv.hits)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert len(starts) == 4
    # The client spaces the moments it starts each request; the server sees arrivals, which GIL
    # contention in this one process (the main thread still reading the store while the first
    # worker sends) delays by up to ~60 ms, mostly for the first request. Unthrottled, all four
    # arrive within a few ms of each other (the per_host=4 pool runs them together).
    assert min(gaps) >= 0.3 - 0.1, gaps
    assert sum(gaps) >= 3 * 0.3 - 0.1, gaps
    assert gauge.peak_total == 1


def test_published_dates_survive_a_round_trip_through_the_store(project: Project) -> None:
    """A source that states its own publication date keeps it (json `published` column)."""
    project.srv.routes[JSON_PATH].body = (
        '{"data": {"items": [{"period": "2024-01", "obs": 1.5, "published": "2024-02-20"},'
        ' {"period": "2024-02", "obs": 2.5}]}}')
    run = cli(project.cfg, "series_json", "--json")
    assert run.code == 0, run.stderr
    with project.store() as store:
        published = store.latest("series_json")["published"]
    today = dt.date.fromisoformat(query(project.cfg, "SELECT started FROM runs")[0][0][:10])
    assert published.tolist() == [pd.Timestamp("2024-02-20"), pd.Timestamp(today)]
