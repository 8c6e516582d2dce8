"""Loopback servers, a pack writer and CLI/store helpers for the `tracker ingest` tests.

`Loopback` is a threaded pytest-httpserver on 127.0.0.x whose every path is a `Route` we
control (body, ETag/Last-Modified with real 304 answers, a delay, one-shot scripted answers
first). It records each request (path, headers, start and end times) and how many were in
flight at once. Misbehaving servers (hang, trickle, reset mid-body) are `rawserver.RawServer`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from packbuilder import numeric, scenarios, write_pack
from pytest_httpserver import HTTPServer
from werkzeug import Request
from werkzeug import Response as WResponse

from tracker.cli import main

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def sample_json(name: str) -> Any:
    return json.loads(sample(name))


# ---------------------------------------------------------------- genuine payloads


def worldbank_one_country(country_id: str = "1A") -> str:
    """The real World Bank answer, kept to one of its four countries (the connector refuses
    several countries in one answer)."""
    meta, rows = sample_json("worldbank-v2-indicator.json")
    rows = [r for r in rows if r["country"]["id"] == country_id]
    return json.dumps([{**meta, "total": len(rows)}, rows])


def sipri_answer(text: str | None = None) -> str:
    """The register CSV as the SIPRI backend wraps it: {"bytes": base64}."""
    text = sample("sipri-trade-register.csv") if text is None else text
    return json.dumps({"bytes": base64.b64encode(text.encode("utf-8")).decode("ascii")})


def csv_text(rows: list[tuple[str, Any]], header: str = "date,value") -> str:
    return header + "\n" + "".join(f"{d},{v}\n" for d, v in rows)


# ---------------------------------------------------------------- the loopback HTTP server


@dataclass
class Hit:
    path: str
    method: str
    headers: dict[str, str]
    args: dict[str, str]
    start: float
    end: float = 0.0
    status: int = 0


@dataclass
class Route:
    body: str | bytes = ""
    content_type: str = "text/csv"
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    status: int = 200
    script: list[Callable[[Request], WResponse]] = field(default_factory=list)
    """One-shot answers served first, in order (a 500 before the good answer, say)."""

    def answer(self, request: Request) -> WResponse:
        if self.script:
            return self.script.pop(0)(request)
        inm = request.headers.get("If-None-Match")
        ims = request.headers.get("If-Modified-Since")
        if inm is not None:  # RFC 9110 §13.2.2: If-None-Match wins over If-Modified-Since
            if self.etag is not None and inm == self.etag:
                return WResponse(status=304, headers=self._validators())
        elif ims is not None and self.last_modified is not None and ims == self.last_modified:
            return WResponse(status=304, headers=self._validators())
        return WResponse(self.body, status=self.status, content_type=self.content_type,
                         headers=self._validators())

    def _validators(self) -> dict[str, str]:
        out = {}
        if self.etag:
            out["ETag"] = self.etag
        if self.last_modified:
            out["Last-Modified"] = self.last_modified
        return out


class _QuickServer(HTTPServer):
    """Polls for shutdown every 20 ms instead of 500 ms, so stopping a server is quick."""

    def thread_target(self) -> None:
        assert self.server is not None
        self.server.serve_forever(poll_interval=0.02)


class Gauge:
    """Requests in flight, per host and in all, and the most seen at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.total = 0
        self.peak_total = 0

    def enter(self, host: str) -> None:
        with self.lock:
            self.current[host] = self.current.get(host, 0) + 1
            self.peak[host] = max(self.peak.get(host, 0), self.current[host])
            self.total += 1
            self.peak_total = max(self.peak_total, self.total)

    def leave(self, host: str) -> None:
        with self.lock:
            self.current[host] -= 1
            self.total -= 1


class Loopback:
    """A threaded HTTP server on `host` serving `routes` by path; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", gauge: Gauge | None = None) -> None:
        self.host = host
        self.gauge = gauge or Gauge()
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self.server = _QuickServer(host=host, port=0, threaded=True)
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    def __enter__(self) -> Loopback:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.clear()
        self.server.stop()
        assert not self.errors, f"loopback handler failed: {self.errors!r}"

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.server.port}{path}"

    def route(self, path: str, **kw: Any) -> Route:
        self.routes[path] = Route(**kw)
        return self.routes[path]

    def hits_for(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def _handle(self, request: Request) -> WResponse:
        hit = Hit(request.path, request.method, dict(request.headers), dict(request.args), time.monotonic())
        with self._lock:
            self.hits.append(hit)
            route = self.routes.get(request.path)
        self.gauge.enter(self.host)
        try:
            if route is None:
                resp = WResponse(f"no route {request.path}", status=404, content_type="text/plain")
            else:
                if route.delay:
                    time.sleep(route.delay)
                with self._lock:
                    resp = route.answer(request)
            hit.status = resp.status_code
            return resp
        except BaseException as exc:
            self.errors.append(exc)
            raise
        finally:
            hit.end = time.monotonic()
            self.gauge.leave(self.host)


# ---------------------------------------------------------------- a raw TCP server for misbehaviour


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


# ---------------------------------------------------------------- the pack

SCEN = scenarios({"A": 0.5, "B": 0.5}, {"g": 1.0})
STATES = [{"name": "low", "below": 0}, {"name": "high"}]
LIKELIHOOD = {"low": {"A": 0.6, "B": 0.4}, "high": {"A": 0.4, "B": 0.6}}

FAST_HTTP = {"timeout": 2.0, "connect_timeout": 1.0, "retries": 2, "deadline": 3.0,
             "workers": 8, "per_host": 8, "min_interval": {}}


def indicator(iid: str, source: dict[str, Any]) -> dict[str, Any]:
    return numeric(iid, "g", STATES, LIKELIHOOD, source=source)


def write_project(root: Path, sources: dict[str, dict[str, Any]], **http: Any) -> Path:
    """A pack with one numeric indicator per source and a config.yaml with fast HTTP settings."""
    cfg = write_pack(root, SCEN, [indicator(iid, src) for iid, src in sources.items()])
    config = yaml.safe_load(cfg.read_text())
    config["http"] = {**FAST_HTTP, **http}
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    return cfg


# ---------------------------------------------------------------- running and looking


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def doc(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    @property
    def by_id(self) -> dict[str, dict[str, Any]]:
        return {r["indicator"]: r for r in self.doc["results"]}


def cli(cfg: Path, *args: str) -> Run:
    res = CliRunner().invoke(main, ["ingest", "--config", str(cfg), *args])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return Run(res.exit_code, res.stdout, res.stderr)


def db(cfg: Path) -> sqlite3.Connection:
    return sqlite3.connect(cfg.parent / "tracker.db")


def query(cfg: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    con = db(cfg)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def vintage_counts(cfg: Path) -> dict[str, int]:
    return dict(query(cfg, "SELECT indicator, COUNT(*) FROM vintages GROUP BY indicator"))


def utc(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)
