"""`worldbank`: one indicator for one country from the World Bank API v2 (SOURCES.md B.3).

The answer is `[meta, rows]`, paged by `page`/`pages`; an error is `[{"message": [...]}]`,
often with HTTP 200, so the shape is checked before anything else. Null values (years not yet
published) are dropped. Several countries in one answer would give two rows per year, which the
contract refuses; the message says why.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from tracker.pack.types import WorldBankSource
from tracker.sources import FetchContext, SourceError, excerpt
from tracker.sources.file_source import labelled, tidy
from tracker.sources.http import expect_type

PER_PAGE = 1000
MAX_PAGES = 50


def fetch(spec: WorldBankSource, ctx: FetchContext) -> pd.DataFrame:
    with labelled(f"worldbank {spec.indicator}"):
        rows = _all_rows(spec, ctx)
        countries = sorted({str((r.get("country") or {}).get("id")) for r in rows})
        if len(countries) > 1:
            raise SourceError(f"the answer holds {len(countries)} countries ({excerpt.names(countries)}); "
                              "ask for one country per indicator")
        records = [(f"row {i + 1} ({r.get('date')})", r) for i, r in enumerate(rows)]
        return tidy(records, ["date", "value"], date="date", value="value", scale=spec.scale)


def _all_rows(spec: WorldBankSource, ctx: FetchContext) -> list[dict[str, Any]]:
    url = f"{spec.url.rstrip('/')}/country/{spec.country}/indicator/{spec.indicator}"
    end = spec.end or dt.date.today().year
    rows: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= pages:
        resp = ctx.http.get(url, params={"format": "json", "date": f"{spec.start}:{end}",
                                         "per_page": str(PER_PAGE), "page": str(page)})
        expect_type(resp, "json")
        meta, found = _split(resp.json())
        rows += found
        pages = int(meta.get("pages") or 1)
        if pages > MAX_PAGES:
            raise SourceError(f"{pages} pages of {PER_PAGE} rows; narrow the query")
        page += 1
    return rows


def _split(doc: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """[meta, rows] → (meta, rows); the API's error form → SourceError with its messages."""
    if isinstance(doc, list) and doc and isinstance(doc[0], dict) and "message" in doc[0]:
        messages = doc[0]["message"] if isinstance(doc[0]["message"], list) else [doc[0]["message"]]
        said = "; ".join(_message(m) for m in messages[:5])
        raise SourceError(f"the API refused the request: {excerpt.text(said)}")
    if not (isinstance(doc, list) and len(doc) == 2 and isinstance(doc[0], dict)):
        raise SourceError("unexpected answer: expected a two-element array [meta, rows]")
    rows = doc[1] or []  # null when nothing matched
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise SourceError("unexpected answer: the second element is not a list of rows")
    return doc[0], rows


def _message(item: Any) -> str:
    if isinstance(item, dict):
        parts = [str(item.get(k)) for k in ("id", "key", "value") if item.get(k)]
        return " ".join(parts[:-1]) + f": {parts[-1]}" if len(parts) > 1 else "".join(parts)
    return str(item)
