"""The fault matrix: one pack, healthy sources beside one source per fault, every source first
ingested successfully, then each broken its own way. Each ends with a clear error of its own or
a successful retry; the run exits 3, every healthy source is ingested, every failed one keeps
its previous vintage, and `runs` / `source_results` record what happened.

All real sockets on 127.0.0.1: a threaded pytest-httpserver for answers a server means to give
(404, 429, 500, bad bodies), raw TCP for the rest (a hang, a reset mid-body, a trickle, a port
nobody listens on any more)."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
from pathlib import Path

import pytest
from ingest_helpers import (
    Loopback,
    cli,
    csv_text,
    query,
    sample,
    sample_json,
    sipri_answer,
    vintage_counts,
    write_project,
)
from rawserver import RawServer, head, reset
from werkzeug import Response as WResponse

from tracker.cli.ingest import summary_table
from tracker.store.db import Store

MAX_BYTES = 4096
GOOD = csv_text([("2024-01-31", 1), ("2024-02-29", 2)])
GOOD_BYTES = GOOD.encode()
SERIES = '{"data": {"items": [{"period": "2024-01", "obs": 1.5}, {"period": "2024-02", "obs": 2.5}]}}'
GDELT_429 = sample("gdelt-doc-error-429.txt")  # the genuine body GDELT sends with its 429
IMF_PATH = "/imf/data/dataflow/IMF.STA/CPI/+/USA.CPI._T.IX.M"


def gdelt_doubled() -> str:
    """The genuine timelinevol answer with every bucket doubled: the news that arrives after a 429."""
    doc = sample_json("gdelt-doc-timelinevol.json")
    for point in doc["timeline"][0]["data"]:
        point["value"] *= 2
    return json.dumps(doc)


class Faults:
    """The raw-socket misbehaviours, each answering well until `broken` is set."""

    def __init__(self) -> None:
        self.broken = threading.Event()

    def good(self, conn: socket.socket) -> None:
        conn.sendall(head(len(GOOD_BYTES)) + GOOD_BYTES)

    def hang(self, conn: socket.socket, srv: RawServer) -> None:
        if not self.broken.is_set():
            return self.good(conn)
        srv.stop.wait(20)  # accepted, read the request, never a byte back

    def reset(self, conn: socket.socket, srv: RawServer) -> None:
        if not self.broken.is_set():
            return self.good(conn)
        conn.sendall(head(1000) + b"date,value\n2024-01-31,1\n2024-02")
        srv.stop.wait(0.05)
        reset(conn)

    def trickle(self, conn: socket.socket, srv: RawServer) -> None:
        if not self.broken.is_set():
            return self.good(conn)
        conn.sendall(head(len(GOOD_BYTES)))
        for byte in GOOD_BYTES:  # one byte a second: never idle for the 2 s read timeout
            conn.sendall(bytes([byte]))
            if srv.stop.wait(1.0):
                return


HEALTHY = ["ok_csv", "ok_imf", "ok_sipri"]
RECOVER = ["f_500", "f_429"]
FAIL = ["f_404", "f_badjson", "f_dupdates", "f_nonnumeric", "f_refused", "f_renamed", "f_reset",
        "f_timeout", "f_toobig", "f_toobig_stream", "f_trickle", "f_truncated"]


def test_every_fault_is_reported_per_source_and_the_rest_is_ingested(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    faults = Faults()
    with (Loopback() as srv,
          RawServer({"/hang.csv": faults.hang, "/reset.csv": faults.reset,
                     "/trickle.csv": faults.trickle}) as raw,
          RawServer({"/doomed.csv": lambda conn, _: faults.good(conn)}) as doomed):
        srv.route("/ok.csv", body=GOOD, etag='"ok-1"')
        srv.route(IMF_PATH, body=sample("imf-sdmx3-data-json.json"), etag='W/"imf-1"',
                  content_type="application/vnd.sdmx.data+json; version=2.0.0")
        srv.route("/sipri", body=sipri_answer(), content_type="application/json")
        for name in ("flaky", "gone", "truncated", "renamed", "nonnumeric", "dupdates", "big", "bigstream"):
            srv.route(f"/{name}.csv", body=GOOD)
        srv.route("/doc", body=sample("gdelt-doc-timelinevol.json"), content_type="application/json")
        srv.route("/bad.json", body=SERIES, content_type="application/json")
        start = (dt.date.today() - dt.timedelta(days=20)).isoformat()
        sources = {
            "ok_csv": {"kind": "csv", "url": srv.url("/ok.csv")},
            "ok_imf": {"kind": "imf", "url": srv.url("/imf"), "dataflow": "IMF.STA/CPI/+",
                       "key": "USA.CPI._T.IX.M"},
            "ok_sipri": {"kind": "sipri", "url": srv.url("/sipri"), "supplier": "Russia",
                         "recipient": "Algeria", "start": 2000, "end": 2001},
            "f_timeout": {"kind": "csv", "url": raw.url("/hang.csv")},
            "f_refused": {"kind": "csv", "url": doomed.url("/doomed.csv")},
            "f_reset": {"kind": "csv", "url": raw.url("/reset.csv")},
            "f_trickle": {"kind": "csv", "url": raw.url("/trickle.csv")},
            "f_500": {"kind": "csv", "url": srv.url("/flaky.csv")},
            "f_404": {"kind": "csv", "url": srv.url("/gone.csv")},
            "f_429": {"kind": "gdelt", "url": srv.url("/doc"), "query": "oil sourcelang:eng", "start": start},
            "f_badjson": {"kind": "json", "url": srv.url("/bad.json"), "records": "data.items",
                          "date": "period", "value": "obs"},
            "f_truncated": {"kind": "csv", "url": srv.url("/truncated.csv")},
            "f_renamed": {"kind": "csv", "url": srv.url("/renamed.csv")},
            "f_nonnumeric": {"kind": "csv", "url": srv.url("/nonnumeric.csv")},
            "f_dupdates": {"kind": "csv", "url": srv.url("/dupdates.csv")},
            "f_toobig": {"kind": "csv", "url": srv.url("/big.csv")},
            "f_toobig_stream": {"kind": "csv", "url": srv.url("/bigstream.csv")},
        }
        cfg = write_project(tmp_path, sources, workers=16, per_host=16, max_bytes=MAX_BYTES)

        # ---- round 1: everything answers well
        first = cli(cfg, "--json")
        assert first.code == 0, first.stdout + first.stderr
        assert {r["status"] for r in first.doc["results"]} == {"new"}
        with Store(cfg.parent / "tracker.db") as store:
            before = {iid: store.latest(iid) for iid in sources}
        assert vintage_counts(cfg) == dict.fromkeys(sources, 1)

        # ---- break them
        faults.broken.set()
        doomed.__exit__()  # nothing listens on that port any more
        srv.routes["/flaky.csv"].script.append(lambda r: WResponse("upstream timeout", status=500))
        srv.routes["/flaky.csv"].body = csv_text([("2024-01-31", 1), ("2024-02-29", 2), ("2024-03-31", 3)])
        srv.routes["/gone.csv"].status = 404
        srv.routes["/gone.csv"].body = "  no such\n series  "
        srv.routes["/doc"].script.append(
            lambda r: WResponse(GDELT_429, status=429, content_type="text/plain",
                                headers={"Retry-After": "1"}))
        srv.routes["/doc"].body = gdelt_doubled()
        srv.routes["/bad.json"].body = SERIES[:40]
        srv.routes["/truncated.csv"].body = "date,value\n2024-01-31,1\n2024-02-29"
        srv.routes["/renamed.csv"].body = csv_text([("2024-01-31", 1)], header="date,val")
        srv.routes["/nonnumeric.csv"].body = csv_text([("2024-01-31", 1), ("2024-02-29", "twelve")])
        srv.routes["/dupdates.csv"].body = csv_text([("2024-01-31", 1), ("2024-02-29", 2), ("2024-02-29", 3)])
        srv.routes["/big.csv"].body = csv_text([(f"{y}-12-31", y) for y in range(1, 1000)])
        srv.routes["/bigstream.csv"].script.append(
            lambda r: WResponse(iter([b"date,value\n"] + [b"2024-01-31,1\n" * 100] * 10),
                                content_type="text/csv"))  # no Content-Length: the cap counts as it reads
        hits_before = len(srv.hits)

        # ---- round 2
        second = cli(cfg, "--json")
        later = srv.hits[hits_before:]

    assert second.code == 3, second.stdout + second.stderr
    res = second.by_id
    assert second.doc["failed"] == FAIL
    assert {i: res[i]["status"] for i in HEALTHY + RECOVER} == {
        "ok_csv": "unchanged", "ok_imf": "unchanged", "ok_sipri": "unchanged", "f_500": "new", "f_429": "new"}

    def url(path: str, server: Loopback | RawServer = srv) -> str:
        return re.escape(server.url(path))

    # retries with a 0.5-1.5 s then 1-3 s backoff: a third attempt fits in the deadline, or not
    gave_up = r"\((after 3 attempts|no time left to retry within the 3 s deadline)\)"
    expected = {
        # the last attempt's read timeout is whatever was left of the deadline
        "f_timeout": rf"csv {url('/hang.csv', raw)}: GET {url('/hang.csv', raw)}: no answer within "
                     r"[\d.]+ s \(no time left to retry within the 3 s deadline\)",
        "f_refused": rf"csv {url('/doomed.csv', doomed)}: GET {url('/doomed.csv', doomed)}: "
                     rf"could not connect \(Connection refused\) {gave_up}",
        "f_reset": rf"csv {url('/reset.csv', raw)}: GET {url('/reset.csv', raw)}: connection broken "
                   rf"mid-body after \d+ bytes \(Connection reset by peer\) {gave_up}",
        "f_trickle": rf"csv {url('/trickle.csv', raw)}: GET {url('/trickle.csv', raw)}: body not complete "
                     r"within the 3 s deadline \(\d bytes read\)",
        "f_404": rf"csv {url('/gone.csv')}: HTTP 404 from {url('/gone.csv')}: no such series",
        "f_badjson": rf"json {url('/bad.json')}: malformed JSON from {url('/bad.json')} "
                     rf"at line 1 column 41: {re.escape(repr(SERIES[:40]))}",
        "f_truncated": rf"csv {url('/truncated.csv')}: line 3 has 1 fields, the header has 2: "
                       r"the data looks truncated",
        "f_renamed": rf"csv {url('/renamed.csv')}: no column 'value' \(did you mean 'val'\?\) "
                     r"\(columns: date, val\)",
        "f_nonnumeric": rf"csv {url('/nonnumeric.csv')}: line 3: value 'twelve' in column 'value' "
                        r"is not a number",
        "f_dupdates": rf"csv {url('/dupdates.csv')}: 2 rows dated 2024-02-29; expected one row per date",
        "f_toobig": rf"csv {url('/big.csv')}: GET {url('/big.csv')}: response larger than {MAX_BYTES} bytes",
        "f_toobig_stream": rf"csv {url('/bigstream.csv')}: GET {url('/bigstream.csv')}: "
                           rf"response larger than {MAX_BYTES} bytes",
    }
    for iid, pattern in expected.items():
        assert res[iid]["status"] == "failed", iid
        assert re.fullmatch(pattern, res[iid]["error"]), f"{iid}: {res[iid]['error']}"
        assert res[iid]["rows"] is None
    for iid in HEALTHY + RECOVER:
        assert res[iid]["error"] is None

    # the retries: 500 retried after a backoff; 429 waited for its Retry-After: 1; 404 not retried
    flaky = [h for h in later if h.path == "/flaky.csv"]
    assert [h.status for h in flaky] == [500, 200]
    doc = [h for h in later if h.path == "/doc"]
    assert [h.status for h in doc] == [429, 200] and doc[1].start - doc[0].end >= 0.95
    assert res["f_429"]["seconds"] >= 1.0
    assert [h.status for h in later if h.path == "/gone.csv"] == [404]
    assert raw.count("/reset.csv") >= 3  # round 1, then at least two attempts
    # each deadline-bound failure ended near the 3 s deadline, not at a 20 s read timeout
    for iid in ("f_timeout", "f_trickle", "f_refused", "f_reset"):
        assert res[iid]["seconds"] < 4.0, (iid, res[iid])
    assert res["f_trickle"]["seconds"] >= 2.9

    # the store: failed sources keep their previous vintage, the rest moved on where they changed
    counts = vintage_counts(cfg)
    assert counts == {**dict.fromkeys(sources, 1), "f_500": 2, "f_429": 2}
    with Store(cfg.parent / "tracker.db") as store:
        for iid in FAIL + HEALTHY:
            assert store.latest(iid).equals(before[iid]), iid
        assert store.latest("f_500")["value"].tolist() == [1.0, 2.0, 3.0]
        doubled = 2 * before["f_429"]["value"].iloc[0]
        assert store.latest("f_429")["value"].tolist() == [pytest.approx(doubled)]

    # runs and source_results record the failures
    runs = query(cfg, "SELECT id, kind, status, detail FROM runs ORDER BY id")
    assert [(k, s) for _, k, s, _ in runs] == [("ingest", "ok"), ("ingest", "partial")]
    detail = json.loads(runs[1][3])
    assert detail == {"failed": FAIL, "empty": [], "new": ["f_429", "f_500"]}
    recorded = query(cfg, "SELECT indicator, status, rows, error FROM source_results WHERE run_id = ? "
                          "ORDER BY indicator", runs[1][0])
    assert recorded == [(r["indicator"], r["status"], r["rows"], r["error"]) for r in second.doc["results"]]

    # the summary table puts each failure on its indicator's line
    table = summary_table(second.doc["results"])
    for iid in FAIL:
        (line,) = [ln for ln in table.splitlines() if ln.startswith(iid + " ")]
        assert re.match(rf"{iid}\s+FAILED\s+\d+\.\ds  ", line) and line.endswith(res[iid]["error"])
    assert table.splitlines()[-1] == f"{len(sources)} sources: {len(FAIL)} failed"
