"""Conditional requests for every HTTP connector, and the identical-body shortcut.

For each request of a fetch, FetchContext.validators remembers (under the request's key) what the
last good fetch left: the server's ETag and Last-Modified, sent back as If-None-Match and
If-Modified-Since, and the SHA-256 of the body then parsed, for servers that ignore validators or
give none (GDELT, SIPRI's POST). A fetch is *not modified* only when every one of its requests
is: a 304, or a 200 whose body hashes to what was parsed last time. Then NotModified is raised
before anything is parsed, and ingest writes nothing. When one request changed, every body is
parsed again, so a request that was answered 304 is asked once more without validators (bodies
are not kept: the store holds the parsed rows, not the downloads).

A request's key is its URL with keys masked (as stored), or a key the connector chooses: GDELT
leaves out `enddatetime`, which is "now" and differs on every run; SIPRI's POST adds a digest of
its JSON filter. The validators are remembered only after the whole fetch has parsed
(`remember`), so a bad download is fetched again rather than answered 304 for ever; what is
remembered replaces the old set, so keys a fetch no longer asks for are forgotten.
"""

from __future__ import annotations

import hashlib
import json as jsonlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tracker.sources import FetchContext, NotModified, SourceError
from tracker.sources.http import Response, cache_key, redact_url


@dataclass(frozen=True)
class Call:
    """One request of a fetch."""

    url: str
    params: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None
    json: Any = None
    """A POST body; a Call with one is sent as POST (never conditional: If-None-Match on a POST
    is a precondition for changing something, RFC 9110 §13.1.2), known only by its body hash."""
    key: str = ""
    """Where this call's validators are remembered (by default its URL, keys masked)."""

    def __post_init__(self) -> None:
        """The key at once: a malformed URL fails where the Call is made, with requests' own message."""
        if not self.key:
            key = cache_key(self.url, self.params)
            if self.post:
                key += "#" + hashlib.sha256(jsonlib.dumps(self.json, sort_keys=True).encode()).hexdigest()[:16]
            object.__setattr__(self, "key", key)

    @property
    def post(self) -> bool:
        return self.json is not None


def body_hash(resp: Response) -> str:
    return hashlib.sha256(resp.content).hexdigest()


class Conditional:
    """The requests of one fetch, asked conditionally; `remember` once everything has parsed."""

    def __init__(self, ctx: FetchContext) -> None:
        self.ctx = ctx
        self.seen: dict[str, dict[str, str]] = {}

    def one(self, call: Call) -> Response:
        return self.fetch([call])[0]

    def fetch(self, calls: Sequence[Call]) -> list[Response]:
        """Every call's answer, or NotModified when none of them changed."""
        answers = [self._ask(call) for call in calls]
        unchanged = [resp is None or body_hash(resp) == self._old(call).get("sha256")
                     for call, resp in zip(calls, answers, strict=True)]
        if calls and all(unchanged):
            how = "not_modified" if any(resp is None for resp in answers) else "same_body"
            raise NotModified(", ".join(call.key for call in calls), how)
        out = [resp if resp is not None else self._again(call) for call, resp in zip(calls, answers, strict=True)]
        for call, resp in zip(calls, out, strict=True):
            self.seen[call.key] = {**resp.validators, "sha256": body_hash(resp)}
        return out

    def remember(self) -> None:
        """The validators of this fetch's requests, and only those, for the next fetch."""
        self.ctx.validators.clear()
        self.ctx.validators.update(self.seen)

    def _old(self, call: Call) -> dict[str, str]:
        return self.ctx.validators.get(call.key) or {}

    def _again(self, call: Call) -> Response:
        """A request answered 304 asked again without validators: another request of the fetch
        changed, and its body is needed to parse the whole again."""
        resp = self._ask(call, conditional=False)
        if resp is None:
            raise SourceError(f"{redact_url(call.url)} answered 304 Not Modified to a request without validators")
        return resp

    def _ask(self, call: Call, conditional: bool = True) -> Response | None:
        """The answer, or None for a 304."""
        http = self.ctx.http
        if call.post:
            return http.post(call.url, json=call.json, headers=call.headers)
        old = self._old(call) if conditional else {}
        validators = {k: v for k, v in old.items() if k in ("etag", "last_modified")}
        try:
            return http.get(call.url, params=call.params, headers=call.headers, validators=validators or None)
        except NotModified:
            return None
