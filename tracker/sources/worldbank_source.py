"""`worldbank`: one indicator for one country from the World Bank API v2 (SOURCES.md B.3).

The answer is `[meta, rows]`, paged by `page`/`pages`; an error is `[{"message": [...]}]`,
often with HTTP 200, so the shape is checked before anything else. Null values (years not yet
published) are dropped; an answer with no rows (`[meta, null]`) is an answer with nothing in it.
Several countries in one answer would give two rows per year, which the contract refuses; the
message says why.

Each row's source is the API query for that row's period alone (`…?format=json&date=2019`): it
opens on exactly the figure stored, and does not change when the request's range grows a year.
The pages of a fetch are asked conditionally, as many as the last fetch had; more are asked when
the first page says there are more.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from tracker.pack.types import WorldBankSource
from tracker.sources import FetchContext, SourceError, excerpt
from tracker.sources.conditional import Call, Conditional
from tracker.sources.file_source import labelled, tidy
from tracker.sources.http import expect_type
from tracker.sources.provenance import query_url

PER_PAGE = 1000
MAX_PAGES = 50
CONDITIONAL = "etag, last-modified, body hash"
"""How a second fetch of unchanged data is recognised (`tracker sources`)."""


def fetch(spec: WorldBankSource, ctx: FetchContext) -> pd.DataFrame:
    url = f"{spec.url.rstrip('/')}/country/{spec.country}/indicator/{spec.indicator}"
    cond = Conditional(ctx)
    with labelled(f"worldbank {spec.indicator}"):
        rows = _all_rows(spec, url, cond)
        countries = sorted({str((r.get("country") or {}).get("id")) for r in rows})
        if len(countries) > 1:
            raise SourceError(f"the answer holds {len(countries)} countries ({excerpt.names(countries)}); "
                              "ask for one country per indicator")
        records = [(f"row {i + 1} ({r.get('date')})", {**r, "source_url": _row_url(url, r)})
                   for i, r in enumerate(rows)]
        frame = tidy(records, ["date", "value"], date="date", value="value", scale=spec.scale)
    cond.remember()
    return frame


def _row_url(url: str, row: dict[str, Any]) -> str:
    return query_url(url, {"format": "json", "date": str(row.get("date"))})


def _page(spec: WorldBankSource, url: str, page: int) -> Call:
    end = spec.end or dt.date.today().year
    return Call(url, params={"format": "json", "date": f"{spec.start}:{end}", "per_page": str(PER_PAGE),
                             "page": str(page)})


def _all_rows(spec: WorldBankSource, url: str, cond: Conditional) -> list[dict[str, Any]]:
    """Every row of every page; NotModified when the pages the last fetch read are unchanged."""
    known = max(1, sum(1 for n in range(1, MAX_PAGES + 1) if _page(spec, url, n).key in cond.ctx.validators))
    answers = cond.fetch([_page(spec, url, n) for n in range(1, known + 1)])
    rows: list[dict[str, Any]] = []
    pages = 1
    for n, resp in enumerate(answers, start=1):
        if n > pages:
            break
        pages = _read(resp, rows)
    if pages > known:
        for resp in cond.fetch([_page(spec, url, n) for n in range(known + 1, pages + 1)]):
            _read(resp, rows)
    return rows


def _read(resp: Any, rows: list[dict[str, Any]]) -> int:
    """Add a page's rows; the number of pages its meta announces."""
    expect_type(resp, "json")
    meta, found = _split(resp.json())
    rows += found
    pages = int(meta.get("pages") or 1)
    if pages > MAX_PAGES:
        raise SourceError(f"{pages} pages of {PER_PAGE} rows; narrow the query")
    return pages


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
