"""Slow CSV servers on loopback host names, for measuring `tracker ingest` concurrency.

One ThreadingHTTPServer per loopback address (127.0.0.1, 127.0.0.2, …): on Linux the whole
127.0.0.0/8 block reaches `lo`, so each address is a distinct host name to the tracker's per-host
limit. Every request sleeps `latency` seconds, then serves a small CSV. The servers count, per
host, how many requests were in flight at once, so a run can check that the per-host limit held.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CSV_ROWS = 24


def csv_body(seed: int, rows: int = CSV_ROWS) -> bytes:
    """A small monthly series, different per source so every vintage is new."""
    lines = ["date,value"]
    for k in range(rows):
        year, month = 2024 + k // 12, k % 12 + 1
        lines.append(f"{year}-{month:02d}-01,{100 + seed % 97 + 0.5 * k:.1f}")
    return ("\n".join(lines) + "\n").encode()


def usable_loopback_hosts(wanted: int) -> list[str]:
    """The loopback addresses 127.0.0.1 … 127.0.0.<wanted> that can be bound here (Linux: all;
    macOS: only 127.0.0.1 unless aliases were added)."""
    hosts = []
    for k in range(1, wanted + 1):
        host = f"127.0.0.{k}"
        try:
            with socket.socket() as s:
                s.bind((host, 0))
        except OSError:
            continue
        hosts.append(host)
    return hosts or ["127.0.0.1"]


class Counter:
    """In-flight requests per host and the most seen at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.requests = 0

    def enter(self, host: str) -> None:
        with self.lock:
            self.requests += 1
            now = self.current.get(host, 0) + 1
            self.current[host] = now
            self.peak[host] = max(self.peak.get(host, 0), now)

    def leave(self, host: str) -> None:
        with self.lock:
            self.current[host] -= 1

    def reset(self) -> None:
        with self.lock:
            self.current.clear()
            self.peak.clear()
            self.requests = 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 drops bursts of connects into 1 s SYN retries

    counter: Counter
    latency: float


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits for the client's
    # delayed ACK (40 ms on Linux) on every keep-alive request after the first.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 — the http.server spelling
        host = self.server.server_address[0]
        counter = self.server.counter
        counter.enter(host)
        try:
            time.sleep(self.server.latency)
        finally:
            # Leave before answering: the client can only start its next request to this host
            # once it has the answer, so this never counts a request that was not in flight.
            counter.leave(host)
        try:
            seed = int(self.path.rsplit("/", 1)[-1].split(".")[0].lstrip("s") or 0)
        except ValueError:
            seed = 0
        body = csv_body(seed)
        self.send_response(200)
        self.send_header("Content-Type", "text/csv; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 — quiet
        pass


class SlowCsvServers:
    """Context manager: one slow server per host, all on the same port where possible."""

    def __init__(self, hosts: list[str], latency: float) -> None:
        self.hosts = hosts
        self.counter = Counter()
        self.servers: list[_Server] = []
        self.threads: list[threading.Thread] = []
        self.latency = latency
        self.urls: dict[str, str] = {}

    def set_latency(self, latency: float) -> None:
        self.latency = latency
        for s in self.servers:
            s.latency = latency

    def __enter__(self) -> SlowCsvServers:
        for host in self.hosts:
            server = _Server((host, 0), _Handler)
            server.counter = self.counter
            server.latency = self.latency
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                      daemon=True)
            thread.start()
            self.servers.append(server)
            self.threads.append(thread)
            self.urls[host] = f"http://{host}:{server.server_address[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
