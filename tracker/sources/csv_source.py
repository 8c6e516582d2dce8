"""`csv`: a table over HTTP, as most statistical offices publish them.

Conditional: the ETag/Last-Modified of the last good fetch is sent back, and remembered only once
the new body has parsed, so that a bad download is fetched again next time rather than
answered 304 for ever.
"""

from __future__ import annotations

import pandas as pd

from tracker.pack.types import CsvSource
from tracker.sources import FetchContext
from tracker.sources.file_source import csv_records, decode_text, labelled, tidy
from tracker.sources.http import cache_key, expect_type, redact_url, remember


def fetch(spec: CsvSource, ctx: FetchContext) -> pd.DataFrame:
    key = cache_key(spec.url, spec.params)
    with labelled(f"csv {redact_url(spec.url)}"):
        resp = ctx.http.get(spec.url, params=spec.params or None, validators=ctx.validators.get(key))
        expect_type(resp, "csv")
        columns, records = csv_records(decode_text(resp.content, resp.charset))
        frame = tidy(records, columns, date=spec.date, value=spec.value, scale=spec.scale)
    remember(ctx.validators, key, resp)
    return frame
