"""HttpClient against real loopback servers: pytest-httpserver for well-formed answers, raw
sockets for what no well-behaved server does (hang, trickle, reset, lie about the length)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from rawserver import RawServer, head, reset
from werkzeug import Response as WResponse

from tracker import __version__
from tracker.sources import NotModified, SourceError
from tracker.sources.http import HttpClient, Response, expect_type, full_url, redact_url


class FakeTime:
    """Records sleeps instead of sleeping; the clock moves on by what was 'slept'."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self.offset = 0.0

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += seconds

    def clock(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_client(fake: FakeTime) -> Iterator[Callable[..., HttpClient]]:
    made: list[HttpClient] = []

    def make(**kw: object) -> HttpClient:
        kw = {
            "timeout": (2.0, 2.0),
            "retries": 2,
            "deadline": 5.0,
            "sleep": fake.sleep,
            "clock": fake.clock,
            **kw,
        }
        client = HttpClient(**kw)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


# ---------------------------------------------------------------- happy path, headers


def test_get_returns_body_headers_and_sends_user_agent(httpserver, make_client) -> None:
    httpserver.expect_request(
        "/a", query_string={"x": "1"}, headers={"User-Agent": f"tracker/{__version__} (+scenario tracker)"}
    ).respond_with_json(
        {"ok": True}, headers={"ETag": '"v1"', "Last-Modified": "Mon, 02 Mar 2026 10:00:00 GMT"}
    )
    resp = make_client().get(httpserver.url_for("/a"), params={"x": "1"})
    assert resp.status == 200
    assert resp.json() == {"ok": True}
    assert resp.etag == '"v1"'
    assert resp.validators == {"etag": '"v1"', "last_modified": "Mon, 02 Mar 2026 10:00:00 GMT"}
    expect_type(resp, "json")


def test_conditional_get_304_raises_not_modified(httpserver, make_client) -> None:
    httpserver.expect_request(
        "/c", headers={"If-None-Match": '"v1"', "If-Modified-Since": "Mon, 02 Mar 2026 10:00:00 GMT"}
    ).respond_with_data("", status=304)
    with pytest.raises(NotModified):
        make_client().get(
            httpserver.url_for("/c"),
            validators={"etag": '"v1"', "last_modified": "Mon, 02 Mar 2026 10:00:00 GMT"},
        )
    assert len(httpserver.log) == 1


# ---------------------------------------------------------------- status codes and retries


def test_500_then_200_is_retried(httpserver, make_client, fake) -> None:
    httpserver.expect_ordered_request("/r").respond_with_data("boom", status=500)
    httpserver.expect_ordered_request("/r").respond_with_data("fine")
    resp = make_client(backoff=0.1).get(httpserver.url_for("/r"))
    assert resp.content == b"fine"
    assert len(fake.slept) == 1 and 0.05 <= fake.slept[0] <= 0.15  # backoff with jitter


def test_post_is_retried_too(httpserver, make_client) -> None:
    httpserver.expect_ordered_request("/p", method="POST", json={"q": 1}).respond_with_data(
        "busy", status=503
    )
    httpserver.expect_ordered_request("/p", method="POST", json={"q": 1}).respond_with_json({"ok": 1})
    assert make_client().post(httpserver.url_for("/p"), json={"q": 1}).json() == {"ok": 1}


def test_404_is_not_retried_and_says_what_the_server_said(httpserver, make_client, fake) -> None:
    httpserver.expect_request("/missing").respond_with_data("  no such\n series  ", status=404)
    url = httpserver.url_for("/missing")
    with pytest.raises(SourceError) as err:
        make_client().get(url)
    assert str(err.value) == f"HTTP 404 from {url}: no such series"
    assert len(httpserver.log) == 1 and fake.slept == []


def test_error_body_is_cut_at_80_characters(httpserver, make_client) -> None:
    httpserver.expect_request("/long").respond_with_data("x" * 500, status=400)
    with pytest.raises(SourceError, match=r": x{79}…$"):
        make_client().get(httpserver.url_for("/long"))


def test_429_honours_retry_after(httpserver, make_client, fake) -> None:
    httpserver.expect_ordered_request("/g").respond_with_data(
        "Please limit requests to one every 5 seconds", status=429, headers={"Retry-After": "1"}
    )
    httpserver.expect_ordered_request("/g").respond_with_data("ok")
    assert make_client().get(httpserver.url_for("/g")).text == "ok"
    assert fake.slept == [1.0]


def test_retry_after_is_capped(httpserver, make_client, fake) -> None:
    httpserver.expect_ordered_request("/g").respond_with_data(
        "later", status=503, headers={"Retry-After": "21600"}
    )
    httpserver.expect_ordered_request("/g").respond_with_data("ok")
    make_client(retry_after_max=3.0, deadline=10.0).get(httpserver.url_for("/g"))
    assert fake.slept == [3.0]


def test_retry_after_past_the_deadline_gives_up_at_once(httpserver, make_client, fake) -> None:
    httpserver.expect_request("/g").respond_with_data("later", status=503, headers={"Retry-After": "30"})
    with pytest.raises(
        SourceError, match=r"HTTP 503 .*: later \(no time left to retry within the 5 s deadline\)"
    ):
        make_client().get(httpserver.url_for("/g"))
    assert fake.slept == [] and len(httpserver.log) == 1


def test_persistent_429_reports_the_body_and_the_attempts(httpserver, make_client) -> None:
    httpserver.expect_request("/g").respond_with_data(
        "Please limit requests to one every 5 seconds", status=429
    )
    with pytest.raises(
        SourceError,
        match=r"HTTP 429 .*: Please limit requests to one every 5 seconds "
        r"\(after 3 attempts\)",
    ):
        make_client(backoff=0.01).get(httpserver.url_for("/g"))


# ---------------------------------------------------------------- network faults


def test_refused_connection_is_retried_then_reported(make_client, fake) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(SourceError, match=r"could not connect \(Connection refused\) \(after 3 attempts\)"):
        make_client(backoff=0.01).get(f"http://127.0.0.1:{port}/x")
    assert len(fake.slept) == 2


def test_server_that_never_answers_times_out(make_client) -> None:
    with RawServer(lambda conn, srv: srv.stop.wait(10)) as srv:
        started = time.monotonic()
        with pytest.raises(SourceError, match=r"no answer within 0.5 s \(after 2 attempts\)"):
            make_client(timeout=(1.0, 0.5), retries=1, backoff=0.01).get(srv.url() + "/hang")
    assert time.monotonic() - started < 3
    assert len(srv.requests) == 2


def test_scoped_deadline_bounds_a_hang(make_client) -> None:
    with RawServer(lambda conn, srv: srv.stop.wait(10)) as srv:
        started = time.monotonic()
        with pytest.raises(SourceError, match=r"no answer within 0.5 s .*within the 0.5 s deadline\)$"):
            make_client(timeout=(5.0, 5.0), deadline=60.0).with_deadline(0.5).get(srv.url() + "/hang")
    assert time.monotonic() - started < 2


def test_trickling_server_fails_at_the_deadline(make_client) -> None:
    def trickle(conn: socket.socket, srv: RawServer) -> None:
        conn.sendall(head(100))
        while not srv.stop.wait(1.0):
            conn.sendall(b"x")

    with RawServer(trickle) as srv:
        started = time.monotonic()
        with pytest.raises(SourceError, match=r"body not complete within the 2 s deadline \(\d bytes read\)"):
            make_client(timeout=(1.0, 5.0), deadline=2.0).get(srv.url() + "/slow")
        elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 3.0


def test_reset_mid_body_is_retried(make_client) -> None:
    def flaky(conn: socket.socket, srv: RawServer) -> None:
        if len(srv.requests) == 1:
            conn.sendall(head(1000) + b"date,value\n2024-01-31,1\n")
            time.sleep(0.05)
            reset(conn)
        else:
            conn.sendall(head(5) + b"hello")

    with RawServer(flaky) as srv:
        assert make_client().get(srv.url() + "/r").content == b"hello"
    assert len(srv.requests) == 2


def test_reset_mid_body_every_time_is_reported(make_client) -> None:
    def broken(conn: socket.socket, srv: RawServer) -> None:
        conn.sendall(head(1000) + b"x" * 100)
        time.sleep(0.05)
        reset(conn)

    with (
        RawServer(broken) as srv,
        pytest.raises(
            SourceError,
            match=r"connection broken mid-body after "
            r"\d+ bytes .*\(after 2 attempts\)",
        ),
    ):
        make_client(retries=1).get(srv.url() + "/r")


def test_body_shorter_than_its_content_length_is_an_error(make_client) -> None:
    def short(conn: socket.socket, srv: RawServer) -> None:
        conn.sendall(head(50) + b"date,value\n2024-01-31,1")

    with (
        RawServer(short) as srv,
        pytest.raises(
            SourceError,
            match=r"connection broken mid-body after 23 bytes "
            r"\(IncompleteRead: 23 bytes read, 27 more",
        ),
    ):
        make_client(retries=0).get(srv.url() + "/short.csv")


# ---------------------------------------------------------------- size cap, content, JSON


def test_declared_length_over_the_cap_is_refused(httpserver, make_client) -> None:
    httpserver.expect_request("/big").respond_with_data("x" * 1000)
    with pytest.raises(SourceError, match="response larger than 100 bytes"):
        make_client(max_bytes=100).get(httpserver.url_for("/big"))


def test_streamed_body_over_the_cap_is_refused(httpserver, make_client) -> None:
    httpserver.expect_request("/big").respond_with_response(WResponse(iter([b"x" * 80] * 10)))
    with pytest.raises(SourceError, match="response larger than 100 bytes"):
        make_client(max_bytes=100).get(httpserver.url_for("/big"))


def test_malformed_json_is_a_clear_error(httpserver, make_client) -> None:
    httpserver.expect_request("/j").respond_with_data('{"a": [1, 2', content_type="application/json")
    resp = make_client().get(httpserver.url_for("/j"))
    with pytest.raises(
        SourceError, match=r"malformed JSON from http://.*/j at line 1 column 12: '\{\"a\": \[1, 2'"
    ):
        resp.json()


def test_expect_type_refuses_html() -> None:
    resp = Response(
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        b"<html>Log in</html>",  # type: ignore[arg-type]
        "http://h/x?apikey=s3cret",
    )
    with pytest.raises(
        SourceError,
        match=r"expected json from http://h/x\?apikey=\*\*\*, got text/html: "
        r"'<html>Log in</html>'",
    ):
        expect_type(resp, "json")


def test_expect_type_accepts_sdmx_json_and_missing_type() -> None:
    from requests.structures import CaseInsensitiveDict

    sdmx = CaseInsensitiveDict({"content-type": "application/vnd.sdmx.data+json; version=2.0.0"})
    expect_type(Response(200, sdmx, b"{}", "http://h"), "json")
    expect_type(Response(200, CaseInsensitiveDict(), b"{}", "http://h"), "json")


# ---------------------------------------------------------------- secrets, redirects, rate limit


def test_keys_never_reach_error_messages(httpserver, make_client) -> None:
    httpserver.expect_request("/k").respond_with_data("bad key SECRET-Q and SECRET-H", status=401)
    with pytest.raises(SourceError) as err:
        make_client().get(
            httpserver.url_for("/k"),
            params={"api_key": "SECRET-Q", "q": "oil"},
            headers={"Ocp-Apim-Subscription-Key": "SECRET-H"},
        )
    assert "SECRET" not in str(err.value)
    assert "api_key=***" in str(err.value) and "q=oil" in str(err.value)


def test_keys_never_reach_the_retry_log(httpserver, make_client, caplog) -> None:
    httpserver.expect_ordered_request("/k").respond_with_data("overloaded, key SECRET-H", status=503)
    httpserver.expect_ordered_request("/k").respond_with_data("ok")
    make_client().get(
        httpserver.url_for("/k"), params={"apikey": "SECRET-Q"}, headers={"X-Api-Key": "SECRET-H"}
    )
    ours = " ".join(r.getMessage() for r in caplog.records if r.name == "tracker.http")
    assert "retrying" in ours and "SECRET" not in ours


def test_refused_connection_message_has_no_key(make_client) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(SourceError) as err:
        make_client(retries=0).get(f"http://user:pw@127.0.0.1:{port}/x", params={"token": "SECRET"})
    assert "SECRET" not in str(err.value) and "pw" not in str(err.value)


def test_redact_url() -> None:
    assert redact_url("https://u:p@h/x?subscription-key=a&b=2") == "https://***@h/x?subscription-key=***&b=2"


def test_key_header_is_dropped_on_a_redirect_to_another_host(httpserver, make_client) -> None:
    with RawServer(lambda conn, srv: conn.sendall(head(2) + b"ok")) as srv:
        httpserver.expect_request("/moved").respond_with_data(
            "", status=302, headers={"Location": srv.url() + "/new"}
        )
        resp = make_client().get(
            httpserver.url_for("/moved"), headers={"Ocp-Apim-Subscription-Key": "K", "Accept": "text/csv"}
        )
    assert resp.content == b"ok"
    assert b"Ocp-Apim-Subscription-Key" not in srv.requests[0]
    assert b"Accept: text/csv" in srv.requests[0]


def test_min_interval_spaces_requests_across_threads(httpserver) -> None:
    starts: list[float] = []

    def record(request: object) -> WResponse:
        starts.append(time.monotonic())
        return WResponse("ok")

    httpserver.expect_request("/t").respond_with_handler(record)
    url = httpserver.url_for("/t")
    with HttpClient(min_interval={"localhost": 0.25}) as client:
        threads = [threading.Thread(target=client.get, args=(url,)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    gaps = [b - a for a, b in zip(sorted(starts), sorted(starts)[1:], strict=False)]
    assert len(starts) == 3 and min(gaps) >= 0.2


@pytest.mark.parametrize(("url", "params"), [
    ("http://example.test/x", None), ("http://example.test", {}), ("https://u:p@example.test/a b?c=1", None),
    ("http://example.test/x?q=1", {"a": 1, "b": 1.0, "c": True, "d": "x y/ü"}),
    ("http://bücher.example/ä", {"a": [1, 2], "k": None}), ("HTTP://Example.TEST:8080/%7Ex", {"z": b"b"}),
])
def test_full_url_is_the_url_requests_prepares(url: str, params: dict | None) -> None:
    assert full_url(url, params) == requests.Request("GET", url, params=params).prepare().url


class _KeepAlive(BaseHTTPRequestHandler):
    """Answers every request on a kept-alive connection; counts connections per server."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802 — the http.server spelling
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 — quiet
        pass


def test_connections_are_kept_for_every_host_of_a_run() -> None:
    """More hosts than requests' default of 10 pools, visited in turns as an ingest does: each
    keeps its one connection rather than the pools closing each other's (one per request)."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive) for _ in range(12)]
    for srv in servers:
        srv.connections = 0  # type: ignore[attr-defined]
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        with HttpClient(timeout=(2.0, 2.0), retries=0, pool_hosts=len(servers)) as client:
            for _ in range(3):
                for srv in servers:
                    assert client.get(f"http://127.0.0.1:{srv.server_address[1]}/x").content == b"ok"
        assert [srv.connections for srv in servers] == [1] * 12  # type: ignore[attr-defined]
    finally:
        for srv in servers:
            srv.shutdown()
            srv.server_close()
