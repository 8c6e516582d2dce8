"""Every network request of every source goes through one HttpClient (DESIGN.md §4).

Why it exists (PITFALLS.md §2.3): `requests` has no default timeout, its read timeout is not a
total deadline (a server trickling one byte a second keeps a request alive for ever), it does no
retries, and `r.json()` succeeding says nothing about the request having succeeded.

The retry loop is our own rather than urllib3's `Retry`, because:
- the deadline must cover everything: connecting, waiting, reading the body, backoff and
  `Retry-After` waits. urllib3 retries inside one `session.request` call and knows nothing of a
  body read later with `stream=True`, so a deadline could only be checked around it;
- SIPRI's query is a POST, which `Retry` leaves out by default;
- a retry must wait its turn under the per-host rate limit (GDELT answers 429 to anyone who asks
  twice within 5 s), and must be logged and reported with API keys redacted.
"""

from __future__ import annotations

import contextlib
import copy
import email.utils
import http.cookiejar
import json as jsonlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from tracker import __version__
from tracker.sources import NotModified, SourceError, excerpt

log = logging.getLogger("tracker.http")  # the name it has always logged under

SECRET_WORDS = ("key", "token", "secret", "password", "passwd", "auth", "signature", "sig", "cookie")
CHUNK = 65536
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
TYPES = {
    "json": ("application/json", "text/json", "+json"),
    "csv": ("text/csv", "application/csv", "text/plain", "text/x-csv", "application/octet-stream",
            "text/comma-separated-values", "application/vnd.ms-excel"),
}


def is_secret(name: str) -> bool:
    """A header or query parameter whose value must never reach a log line or a message."""
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def redact_url(url: str) -> str:
    """The URL with its password and any key-like query values replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = urlencode([(k, "***" if is_secret(k) else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="*:,;+")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def full_url(url: str, params: Mapping[str, Any] | None = None) -> str:
    """The URL a GET with these params asks for: the key for remembered validators.

    Only the URL step of `requests.Request(...).prepare()`, which gives the same URL at a sixth of
    the CPU (no headers, cookies, body or hooks to prepare): every request of every source asks
    for its URL twice (its cache key, its URL as messages show it)."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, {} if params is None else params)
    return prepared.url or url


def cache_key(url: str, params: Mapping[str, Any] | None = None) -> str:
    """Where a URL's validators are remembered (FetchContext.validators, tracker.sources.conditional):
    keys redacted, since the validators are stored."""
    return redact_url(full_url(url, params))


@dataclass(frozen=True)
class Response:
    """A complete answer, body read under the deadline and size cap; the connection is closed."""

    status: int
    headers: CaseInsensitiveDict[str]
    content: bytes
    url: str

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        match = re.search(r"charset=\"?([\w.:-]+)", self.headers.get("Content-Type", ""), re.I)
        return match.group(1) if match else None

    @property
    def text(self) -> str:
        try:
            return self.content.decode(self.charset or "utf-8", "replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return jsonlib.loads(self.content)
        except ValueError as exc:
            where = f" at line {exc.lineno} column {exc.colno}" if hasattr(exc, "lineno") else ""
            raise SourceError(f"malformed JSON from {redact_url(self.url)}{where}: "
                              f"{excerpt.text(self.content)!r}") from None

    @property
    def etag(self) -> str | None:
        return self.headers.get("ETag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("Last-Modified")

    @property
    def validators(self) -> dict[str, str]:
        """What to pass as `validators=` next time for a conditional GET."""
        found = {"etag": self.etag, "last_modified": self.last_modified}
        return {k: v for k, v in found.items() if v}


def expect_type(resp: Response, kind: str) -> None:
    """Refuse an answer whose Content-Type says it is not `kind` (an HTML error page, say).

    A missing Content-Type is let through: the parser will judge the body.
    """
    ctype = resp.content_type
    if not ctype or any(ctype == t or (t.startswith("+") and ctype.endswith(t)) for t in TYPES[kind]):
        return
    raise SourceError(f"expected {kind} from {redact_url(resp.url)}, got {excerpt.text(ctype, excerpt.NAME_LIMIT)}: "
                      f"{excerpt.text(resp.content)!r}")


class _Session(requests.Session):
    """Drops key headers, not only Authorization, when a redirect leaves the host."""

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        super().rebuild_auth(prepared_request, response)
        if self.should_strip_auth(response.request.url, prepared_request.url):
            for name in [h for h in prepared_request.headers if is_secret(h)]:
                del prepared_request.headers[name]


class _Retryable(Exception):
    """An attempt failed in a way that another attempt may fix."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HttpClient:
    """One `requests.Session` shared by every source, safe to use from a thread pool."""

    def __init__(self, *, timeout: tuple[float, float] = (5.0, 30.0), retries: int = 3,
                 deadline: float = 300.0, max_bytes: int = 50_000_000,
                 min_interval: Mapping[str, float] | None = None, backoff: float = 1.0,
                 retry_after_max: float = 60.0, pool_size: int = 10, pool_hosts: int = 10,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None) -> None:
        self.timeout = timeout
        self.retries = retries
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.min_interval = {h.lower(): s for h, s in (min_interval or {}).items()}
        self.backoff = backoff
        self.retry_after_max = retry_after_max
        self.sleep, self.clock = sleep, clock
        self.rng = rng or random.Random()  # noqa: S311 - backoff jitter, not cryptography
        self.user_agent = f"tracker/{__version__} (+scenario tracker)"
        self.session = _Session()
        # No cookies: sources are stateless, and a shared jar is not safe across threads.
        self.session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        # pool_maxsize: connections kept per host, at least the requests in flight to it (fewer
        # and urllib3 discards the surplus: "Connection pool is full"); pool_connections: hosts
        # kept, else a pack with more hosts than that closes and reopens connections by turns.
        adapter = requests.adapters.HTTPAdapter(pool_connections=max(pool_hosts, 10), pool_maxsize=pool_size,
                                                max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._host_locks: dict[str, threading.Lock] = {}
        self._last_done: dict[str, float] = {}
        self._locks_lock = threading.Lock()
        self._scope_end: float | None = None
        self._scope_seconds = float("inf")

    def with_deadline(self, seconds: float) -> HttpClient:
        """The same client (session, rate limits) with every call ending within `seconds` from now:
        a per-source deadline that spans all of a source's requests. Close the original, not this."""
        scoped = copy.copy(self)
        scoped._scope_end = self.clock() + seconds
        scoped._scope_seconds = seconds
        return scoped

    @property
    def budget(self) -> float:
        """The deadline of one call in seconds, as the messages state it."""
        return min(self.deadline, self._scope_seconds)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, *, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None,
            validators: Mapping[str, str] | None = None) -> Response:
        """GET with retries; raises NotModified on 304 when `validators` made it conditional."""
        sent = dict(headers or {})
        if validators and validators.get("etag"):
            sent["If-None-Match"] = validators["etag"]
        if validators and validators.get("last_modified"):
            sent["If-Modified-Since"] = validators["last_modified"]
        return self._request("GET", url, params=params, headers=sent)

    def post(self, url: str, *, json: Any = None, headers: Mapping[str, str] | None = None) -> Response:
        """POST with retries: our only POST (SIPRI) is a read-only query, safe to repeat."""
        return self._request("POST", url, json=json, headers=dict(headers or {}))

    # ------------------------------------------------------------------ the loop

    def _request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                 json: Any = None, headers: dict[str, str]) -> Response:
        end = self.clock() + self.deadline
        if self._scope_end is not None:
            end = min(end, self._scope_end)
        shown = redact_url(full_url(url, params))
        secrets = [str(v) for k, v in {**(params or {}), **headers}.items() if is_secret(k) and v]
        headers = {"User-Agent": self.user_agent, **headers}
        try:
            return self._attempts(method, url, params, json, headers, end, shown, secrets)
        except SourceError as exc:
            raise SourceError(_scrub(str(exc), secrets)) from None

    def _attempts(self, method: str, url: str, params: Mapping[str, Any] | None, json: Any,
                  headers: dict[str, str], end: float, shown: str, secrets: list[str]) -> Response:
        host = (urlsplit(url).hostname or "").lower()
        for attempt in range(self.retries + 1):
            try:
                with self._throttle(host, end, shown):
                    return self._once(method, url, params, json, headers, end, shown)
            except _Retryable as exc:
                if attempt == self.retries:
                    tries = f" (after {attempt + 1} attempts)" if attempt else ""
                    raise SourceError(f"{exc}{tries}") from None
                wait = self._wait(attempt, exc.retry_after)
                if self.clock() + wait >= end:
                    raise SourceError(f"{exc} (no time left to retry within the "
                                      f"{self.budget:g} s deadline)") from None
                log.warning("%s; retrying in %.1f s", _scrub(str(exc), secrets), wait)
                self.sleep(wait)
        raise AssertionError("unreachable")

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_max)
        return min(self.backoff * 2 ** attempt * (0.5 + self.rng.random()), self.retry_after_max)

    @contextlib.contextmanager
    def _throttle(self, host: str, end: float, shown: str) -> Iterator[None]:
        """Requests to a rate-limited host go one at a time, each starting at least the
        interval after the previous one *finished*: a slow connect or body cannot make two
        requests arrive closer than the server allows (GDELT answers 429 otherwise)."""
        interval = self.min_interval.get(host)
        if not interval:
            yield
            return
        with self._locks_lock:
            lock = self._host_locks.setdefault(host, threading.Lock())
        with lock:
            wait = self._last_done.get(host, -float("inf")) + interval - self.clock()
            if wait > 0:
                if self.clock() + wait >= end:
                    raise SourceError(f"{shown}: rate limit of one request per "
                                      f"{interval:g} s leaves no time within the deadline")
                self.sleep(wait)
            try:
                yield
            finally:
                self._last_done[host] = self.clock()

    def _once(self, method: str, url: str, params: Mapping[str, Any] | None, json: Any,
              headers: dict[str, str], end: float, shown: str) -> Response:
        remaining = end - self.clock()
        if remaining <= 0:
            raise SourceError(f"{method} {shown}: no answer within the {self.budget:g} s deadline")
        timeout = (min(self.timeout[0], remaining), min(self.timeout[1], remaining))
        try:
            raw = self.session.request(method, url, params=params, json=json, headers=headers,
                                       timeout=timeout, stream=True)
        except requests.exceptions.ConnectTimeout:
            raise _Retryable(f"{method} {shown}: timed out connecting after {timeout[0]:.3g} s") from None
        except requests.exceptions.ReadTimeout:
            raise _Retryable(f"{method} {shown}: no answer within {timeout[1]:.3g} s") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema):
            raise SourceError(f"{method} {shown}: not a valid http(s) URL") from None
        except requests.exceptions.TooManyRedirects:
            raise SourceError(f"{method} {shown}: too many redirects") from None
        except requests.exceptions.SSLError as exc:  # a bad certificate does not heal in a second
            raise SourceError(f"{method} {shown}: TLS failed ({_reason(exc)})") from None
        except requests.exceptions.RequestException as exc:
            raise _Retryable(f"{method} {shown}: could not connect ({_reason(exc)})") from None
        with raw:
            return self._finish(method, raw, end, shown)

    def _finish(self, method: str, raw: requests.Response, end: float, shown: str) -> Response:
        if raw.status_code == 304:
            raise NotModified(shown)
        body = self._body(method, raw, end, shown)
        resp = Response(raw.status_code, CaseInsensitiveDict(raw.headers), body, raw.url)
        if resp.status < 300:
            return resp
        message = f"HTTP {resp.status} from {shown}: {excerpt.text(body)}"
        if resp.status in RETRY_STATUSES or (resp.status >= 500 and resp.status not in (501, 505)):
            raise _Retryable(message, _retry_after(resp.headers.get("Retry-After")))
        raise SourceError(message)

    def _body(self, method: str, raw: requests.Response, end: float, shown: str) -> bytes:
        """Read the body in chunks, each bounded by the time left, the whole by the size cap."""
        declared = raw.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise SourceError(f"{method} {shown}: response larger than {self.max_bytes} bytes")
        buf = bytearray()
        while True:
            remaining = end - self.clock()
            if remaining <= 0:
                raise SourceError(f"{method} {shown}: body not complete within the "
                                  f"{self.budget:g} s deadline ({len(buf)} bytes read)")
            wait = min(self.timeout[1], remaining)
            _set_read_timeout(raw, wait)
            try:
                chunk = raw.raw.read1(CHUNK, decode_content=True)
            except urllib3.exceptions.ReadTimeoutError:
                if wait < self.timeout[1]:
                    raise SourceError(f"{method} {shown}: body not complete within the "
                                      f"{self.budget:g} s deadline ({len(buf)} bytes read)") from None
                raise _Retryable(f"{method} {shown}: no data for {wait:g} s "
                                 f"after {len(buf)} bytes") from None
            except (urllib3.exceptions.ProtocolError, OSError) as exc:
                raise _Retryable(f"{method} {shown}: connection broken mid-body "
                                 f"after {len(buf)} bytes ({_reason(exc)})") from None
            except urllib3.exceptions.HTTPError as exc:
                raise SourceError(f"{method} {shown}: bad body ({_reason(exc)})") from None
            if not chunk:
                return bytes(buf)
            buf += chunk
            if len(buf) > self.max_bytes:
                raise SourceError(f"{method} {shown}: response larger than {self.max_bytes} bytes")


def _set_read_timeout(raw: requests.Response, seconds: float) -> None:
    """Shorten the socket timeout so that one slow read cannot overrun the deadline."""
    conn = getattr(raw.raw, "connection", None)
    sock = getattr(conn, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps: urllib3 hides the root cause in `.reason`/args."""
    seen: list[BaseException] = []
    stack: list[BaseException | None] = [exc]
    while stack:
        cur = stack.pop()
        if cur is None or any(cur is s for s in seen):
            continue
        seen.append(cur)
        reason = getattr(cur, "reason", None)
        stack.extend([cur.__context__, cur.__cause__, reason if isinstance(reason, BaseException) else None])
        stack.extend(a for a in cur.args if isinstance(a, BaseException))
    return seen


def _reason(exc: BaseException) -> str:
    """The root cause in a few words, never the library's message (it repeats the full URL)."""
    causes = _causes(exc)
    for err in causes:
        if isinstance(err, OSError) and err.strerror:
            return err.strerror
    for err in causes:
        if isinstance(err, urllib3.exceptions.IncompleteRead):
            return f"IncompleteRead: {err.partial} bytes read, {err.expected} more expected"
    return type(causes[-1]).__name__


def _scrub(text: str, secrets: list[str]) -> str:
    """Mask secret values wherever they appear (a server may echo a bad key in its error)."""
    for secret in secrets:
        if len(secret) >= 4:  # masking "1" everywhere would garble the message and hide nothing
            text = text.replace(secret, "***")
    return text
