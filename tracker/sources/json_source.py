"""`json`: records picked out of a JSON answer by a small path such as `data.items` or
`data[0].rows`.

The path language is deliberately tiny (keys, `[n]` indexes, nothing evaluated), so a pack can
never run code; a missing step is reported with the keys that were there instead.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from tracker.pack.types import JsonSource
from tracker.sources import FetchContext, SourceError, excerpt
from tracker.sources.conditional import Call, Conditional
from tracker.sources.file_source import Record, empty, labelled, tidy
from tracker.sources.http import expect_type, redact_url
from tracker.sources.provenance import query_url, stamp

STEP_RX = re.compile(r"(?:^|\.)([^.\[\]]+)|\[(-?\d+)\]")
CONDITIONAL = "etag, last-modified, body hash"
"""How a second fetch of unchanged data is recognised (`tracker sources`)."""


def fetch(spec: JsonSource, ctx: FetchContext) -> pd.DataFrame:
    """An empty body, or `null` or `[]` where the records should be, is an answer with nothing in
    it (an empty frame); a records path that leads nowhere is still an error (the format changed)."""
    cond = Conditional(ctx)
    call = Call(spec.url, params=spec.params or None)
    with labelled(f"json {redact_url(spec.url)}"):
        resp = cond.one(call)
        expect_type(resp, "json")
        if not resp.content.strip():
            return empty()
        rows = pick(resp.json(), spec.records)
        columns, records = table([] if rows is None else rows, spec.records)
        frame = tidy(records, columns, date=spec.date, value=spec.value, scale=spec.scale) if records else empty()
    cond.remember()
    return stamp(frame, query_url(spec.url, spec.params))


def steps(path: str) -> list[str | int]:
    """`data[0].rows` → ["data", 0, "rows"]; anything else in the path is refused."""
    out: list[str | int] = []
    pos = 0
    for match in STEP_RX.finditer(path):
        if match.start() != pos:
            break
        name, index = match.groups()
        out.append(int(index) if index is not None else name)
        pos = match.end()
    if pos != len(path):
        raise SourceError(f"path {path!r}: cannot read it from {path[pos:]!r} on "
                          "(write keys and [n] indexes, e.g. data.items or data[0].rows)")
    return out


def pick(doc: Any, path: str) -> Any:
    """The part of `doc` that `path` names, with the keys that exist when a step is missing."""
    walked = ""
    for step in steps(path) if path else []:
        here = walked or "the top level"
        if isinstance(step, int):
            if not isinstance(doc, list) or not -len(doc) <= step < len(doc):
                raise SourceError(f"path {path!r}: no item [{step}] in {here} ({_kind(doc)})")
            walked += f"[{step}]"
        else:
            if not isinstance(doc, dict) or step not in doc:
                keys = f"keys: {excerpt.names(doc)}" if isinstance(doc, dict) else _kind(doc)
                raise SourceError(f"path {path!r}: no key {step!r} in {here} ({keys})")
            walked += f".{step}" if walked else step
        doc = doc[step]
    return doc


def table(rows: Any, path: str) -> tuple[list[str], list[Record]]:
    """A list of JSON objects as records labelled by their place in the answer."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise SourceError(f"records path {path!r} should lead to a list of objects, found "
                          f"{_kind(rows)}")
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return columns, [(f"{path or 'records'}[{i}]", row) for i, row in enumerate(rows)]


def _kind(doc: Any) -> str:
    if isinstance(doc, list):
        return f"a list of {len(doc)}" + ("" if not doc else f" {type(doc[0]).__name__} items")
    return {dict: "an object", str: "text", type(None): "null"}.get(type(doc), f"a {type(doc).__name__}")
