"""Shared parts of the reliability and security tests (test_crash, test_concurrency,
test_hostile_input, test_security): a loopback CSV server, a project folder with CSV sources,
the real command line as a subprocess, and store checks written in plain SQL (not the
store's own code, so that they check it rather than repeat it).

Nothing here mocks the tracker: every command runs as `python -m tracker.cli …` in its own
process, against real HTTP on 127.0.0.1 and a real SQLite file.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from packbuilder import numeric, scenarios, write_pack

CLI = [sys.executable, "-m", "tracker.cli"]
ROWS = 24
"""Monthly rows per source: 2020-01 … 2021-12 (long published, whatever the clock says)."""
LOCKED = "database is locked"


# ---------------------------------------------------------------- the command line


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a tracker subprocess: ours, minus anything that would change its
    behaviour (a TRACKER_CONFIG of the developer's), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k != "TRACKER_CONFIG"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def tracker(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300,
            nice: int = 0) -> subprocess.CompletedProcess[str]:
    """Run one tracker command to its end in its own process (at a lower CPU priority if `nice`)."""
    return subprocess.run([*CLI, *args], cwd=cwd, env=env or cli_env(), capture_output=True, text=True,
                          timeout=timeout, check=False, preexec_fn=(lambda: os.nice(nice)) if nice else None)


def start(*args: str, cwd: Path, env: dict[str, str] | None = None,
          **kw: Any) -> subprocess.Popen[str]:
    """Start one tracker command in its own process; the caller waits for it (or kills it)."""
    return subprocess.Popen([*CLI, *args], cwd=cwd, env=env or cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


# ---------------------------------------------------------------- loopback sources


def csv_body(n: int, generation: int) -> bytes:
    """Source n's monthly series at a given generation: the same dates every time, values that
    move with the generation (so every generation is a new vintage of every source), and an
    explicit `published` column, so that a snapshot's content does not depend on the day the
    run happened."""
    lines = ["date,value,published,note"]
    for k in range(ROWS):
        year, month = 2020 + k // 12, k % 12 + 1
        lines.append(f"{year}-{month:02d}-01,{100 + n + 0.5 * k + generation:.2f},"
                     f"{year}-{month:02d}-15,source {n} generation {generation}")
    return ("\n".join(lines) + "\n").encode()


Route = Callable[["Handler", dict[str, list[str]]], tuple[int, str, bytes]]


class Sources:
    """A ThreadingHTTPServer on 127.0.0.1 serving `/s<n>.csv` after `latency` seconds.

    Content: `csv_body(n, generation)`; with `changing=True` the generation is instead a
    counter bumped by every request, so every fetch is a new vintage. Extra routes
    (`routes[path] = fn(handler, query) -> (status, content type, body)`) serve the odd cases.
    """

    def __init__(self, latency: float = 0.05, changing: bool = False) -> None:
        self.latency = latency
        self.changing = changing
        self.generation = 0
        self.requests = 0
        self.routes: dict[str, Route] = {}
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Sources:
        server = _Server(("127.0.0.1", 0), Handler)
        server.sources = self
        self.server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    def answer(self, handler: Handler) -> tuple[int, str, bytes]:
        parts = urlsplit(handler.path)
        with self.lock:
            self.requests += 1
            if self.changing:
                self.generation += 1
            generation = self.generation
        if parts.path in self.routes:
            return self.routes[parts.path](handler, parse_qs(parts.query))
        name = parts.path.rsplit("/", 1)[-1]
        if name.startswith("s") and name.endswith(".csv") and name[1:-4].isdigit():
            time.sleep(self.latency)
            return 200, "text/csv; charset=utf-8", csv_body(int(name[1:-4]), generation)
        return 404, "text/plain", b"no such source"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    sources: Sources

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-request (the crash test does that on purpose) is not news


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, ctype, body = self.server.sources.answer(self)  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _serve  # the http.server spelling

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 — quiet
        pass


# ---------------------------------------------------------------- a project


SCEN = scenarios({"A": 0.5, "B": 0.3, "C": 0.2}, {"g": 1.0})
LIKELIHOOD = {"low": {"A": 0.5, "B": 0.3, "C": 0.2}, "mid": {"A": 0.3, "B": 0.4, "C": 0.3},
              "high": {"A": 0.2, "B": 0.3, "C": 0.5}}
STATES = [{"name": "low", "below": 115}, {"name": "mid", "below": 130}, {"name": "high"}]


def indicator(iid: str, source: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A numeric indicator on `source` that every CSV source above can drive."""
    return numeric(iid, "g", STATES, LIKELIHOOD, source=source, frequency="monthly",
                   stale_after="20000d", **extra)


def csv_indicators(base_url: str, count: int) -> list[dict[str, Any]]:
    return [indicator(f"src-{n:02d}", {"kind": "csv", "url": f"{base_url}/s{n}.csv"}) for n in range(count)]


def write_project(root: Path, indicators: list[dict[str, Any]],
                  seeds: dict[str, list[dict[str, Any]]] | None = None, **config: Any) -> Path:
    """config.yaml + pack under root (packbuilder), then `config` merged into config.yaml."""
    path = write_pack(root, SCEN, indicators, seeds)
    doc = yaml.safe_load(path.read_text())
    doc.setdefault("http", {"retries": 0, "timeout": 10, "deadline": 30, "per_host": 2})
    doc.update(config)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return path


# ---------------------------------------------------------------- store checks (plain SQL)


def connect(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(db, timeout=60, isolation_level=None)


def integrity(db: Path) -> str:
    with closing(connect(db)) as conn:
        return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))


def half_written(db: Path) -> list[tuple[int, str, int, int]]:
    """Vintages whose `rows` differs from the observations stored under them:
    (id, indicator, rows, found)."""
    with closing(connect(db)) as conn:
        return conn.execute("""
            SELECT v.id, v.indicator, v.rows, COUNT(o.date) FROM vintages v
            LEFT JOIN observations o ON o.vintage_id = v.id
            GROUP BY v.id HAVING v.rows != COUNT(o.date)""").fetchall()


def vintage_count(db: Path) -> int:
    with closing(connect(db)) as conn:
        return conn.execute("SELECT COUNT(*) FROM vintages").fetchone()[0]


def content(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Indicator → the rows of its latest snapshot (what scoring and the next merge see)."""
    with closing(connect(db)) as conn:
        conn.execute("BEGIN")
        latest = conn.execute("""
            SELECT indicator, id FROM vintages v WHERE id = (
                SELECT id FROM vintages w WHERE w.indicator = v.indicator
                ORDER BY fetched_at DESC, id DESC LIMIT 1)""").fetchall()
        out = {ind: conn.execute("SELECT date, value, level, published, source_url, note FROM observations "
                                 "WHERE vintage_id = ? ORDER BY date", (vid,)).fetchall()
               for ind, vid in latest}
        conn.execute("COMMIT")
    return dict(sorted(out.items()))


CHECKER = r"""
import json, sqlite3, sys, time
db, seconds = sys.argv[1], float(sys.argv[2])
conn = sqlite3.connect(db, timeout=60, isolation_level=None)
end = time.monotonic() + seconds
checks = inconsistent = locked = 0
details = []
while time.monotonic() < end:
    try:
        conn.execute("BEGIN")  # one read transaction: one snapshot of the file
        try:
            vintages, rows = conn.execute("SELECT COUNT(*), COALESCE(SUM(rows), 0) FROM vintages").fetchone()
            observations = conn.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
            partial = conn.execute(
                "SELECT COUNT(*) FROM vintages v WHERE rows != "
                "(SELECT COUNT(*) FROM observations o WHERE o.vintage_id = v.id)").fetchone()[0]
            orphans = conn.execute("SELECT COUNT(*) FROM observations "
                                   "WHERE vintage_id NOT IN (SELECT id FROM vintages)").fetchone()[0]
        finally:
            conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            locked += 1
            continue
        raise
    checks += 1
    if rows != observations or partial or orphans:
        inconsistent += 1
        details.append([vintages, rows, observations, partial, orphans])
    time.sleep(0.005)
print(json.dumps({"checks": checks, "inconsistent": inconsistent, "locked": locked, "details": details[:5],
                  "vintages": vintages}))
"""
"""A separate reader process: for `seconds`, reads the store in single read transactions and
counts any snapshot in which the vintages' declared rows and the observations disagree."""


def checker(db: Path, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CHECKER, str(db), str(seconds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def text_columns(db: Path) -> list[tuple[str, str, str]]:
    """Every TEXT value of every table: (table, column, value)."""
    out = []
    with closing(connect(db)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            for col in cols:
                sql = f'SELECT "{col}" FROM "{table}" WHERE typeof("{col}") = \'text\''
                out += [(table, col, value) for (value,) in conn.execute(sql)]
    return out
