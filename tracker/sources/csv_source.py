"""`csv`: a table over HTTP, as most statistical offices publish them.

Conditional (tracker.sources.conditional): the ETag/Last-Modified of the last good fetch is sent
back, and a body identical to the last one parsed is not parsed again; both are remembered only
once the new body has parsed, so that a bad download is fetched again next time rather than
answered 304 for ever. An empty body, or a header without rows, is an answer with nothing in it.
"""

from __future__ import annotations

import pandas as pd

from tracker.pack.types import CsvSource
from tracker.sources import FetchContext
from tracker.sources.conditional import Call, Conditional
from tracker.sources.file_source import csv_records, decode_text, empty, labelled, tidy
from tracker.sources.http import expect_type, redact_url
from tracker.sources.provenance import query_url, stamp

CONDITIONAL = "etag, last-modified, body hash"
"""How a second fetch of unchanged data is recognised (`tracker sources`)."""


def fetch(spec: CsvSource, ctx: FetchContext) -> pd.DataFrame:
    cond = Conditional(ctx)
    call = Call(spec.url, params=spec.params or None)
    with labelled(f"csv {redact_url(spec.url)}"):
        resp = cond.one(call)
        expect_type(resp, "csv")
        if not resp.content.strip():
            return empty()
        columns, records = csv_records(decode_text(resp.content, resp.charset))
        frame = tidy(records, columns, date=spec.date, value=spec.value, scale=spec.scale)
    cond.remember()
    return stamp(frame, query_url(spec.url, spec.params))
