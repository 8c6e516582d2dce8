"""`sipri`: arms transfers from the SIPRI trade register, summed by delivery year (SOURCES.md B.5).

The backend takes a JSON filter by POST and answers `{"bytes": "<base64 CSV>"}`: a preamble of
notes, then the header line starting `SIPRI AT Database ID`, then one row per deal and delivery
year. The answer covers every supplier and recipient, so the pair is picked here; TIV values are
summed per year (millions of SIPRI TIV).

A year with no delivery between the pair is a real 0, not a gap, as long as the register covers
that year; the last delivery year found anywhere in the answer marks how far it reaches. A
register without a single delivery row is an answer with nothing in it (an empty frame).

The query is a POST, which no browser can open and to which a conditional header would mean
something else (RFC 9110 §13.1.2): the answer is known again by its body hash alone, and each
row's source is the database's own page (for the official backend) or the endpoint asked.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from tracker.pack.types import SipriSource
from tracker.sources import FetchContext, SourceError, excerpt
from tracker.sources.conditional import Call, Conditional
from tracker.sources.file_source import Record, csv_records, finish, labelled, to_float
from tracker.sources.http import expect_type
from tracker.sources.provenance import query_url, stamp

HEADER_START = "SIPRI AT Database ID"
NEEDED = ("Supplier", "Recipient", "Delivery year", "TIV delivery values")
BACKEND_HOST = "atbackend.sipri.org"
DATABASE_PAGE = "https://armstransfers.sipri.org/"
"""The SIPRI Arms Transfers Database as people open it (SOURCES.md, row 9)."""
CONDITIONAL = "body hash"
"""How a second fetch of unchanged data is recognised (`tracker sources`)."""


def fetch(spec: SipriSource, ctx: FetchContext) -> pd.DataFrame:
    end = spec.end or dt.date.today().year
    cond = Conditional(ctx)
    with labelled(f"sipri {spec.supplier}->{spec.recipient}"):
        resp = cond.one(Call(spec.url, json=request_body(spec.start, end)))
        expect_type(resp, "json")
        columns, records = csv_records(register_text(resp.json()))
        missing = [c for c in NEEDED if c not in columns]
        if missing:
            raise SourceError(f"no column {', '.join(map(repr, missing))} in the register "
                              f"(columns: {excerpt.names(columns)})")
        totals, last_year = _sum_by_year(records, spec)
        years = range(spec.start, min(end, last_year) + 1) if last_year else range(0)
        frame = pd.DataFrame({"date": [pd.Timestamp(y, 12, 31) for y in years],
                              "value": [totals.get(y, 0.0) for y in years]})
        frame = finish(frame, spec.scale)
    cond.remember()
    return stamp(frame, page(spec.url))


def page(url: str) -> str:
    """Where a person sees the data: the database's page for the official backend, else the endpoint."""
    return DATABASE_PAGE if (urlsplit(url).hostname or "").lower() == BACKEND_HOST else query_url(url)


def request_body(start: int, end: int) -> dict[str, Any]:
    """The filter the SIPRI web front end sends (seen in datapumpernickel/Rat.db)."""
    def rule(name: str, first: Any = "", second: Any = "", condition: str = "") -> dict[str, Any]:
        return {"field": name, "condition": condition, "value1": first, "value2": second, "listData": []}

    return {"filters": [rule("Delivery year", start, end, "contains"),
                        rule("Order year", 0, end, "contains"),
                        rule("opendeals"), rule("exportOption")],
            "logic": "AND"}


def register_text(doc: Any) -> str:
    """The CSV from `{"bytes": base64}`, from its header line on."""
    if not isinstance(doc, dict) or not isinstance(doc.get("bytes"), str):
        raise SourceError('expected {"bytes": "<base64 CSV>"} in the answer')
    try:
        data = base64.b64decode(doc["bytes"], validate=True)
    except (binascii.Error, ValueError):
        raise SourceError("the 'bytes' field is not valid base64") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", "replace")  # older exports were Windows-encoded
    lines = text.splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if line.startswith(HEADER_START)), None)
    if at is None:
        first = excerpt.cell(lines[0] if lines else "", excerpt.LIMIT)
        raise SourceError(f"no header line starting {HEADER_START!r} in the register (first line: {first})")
    return "".join(lines[at:])


def _sum_by_year(records: list[Record], spec: SipriSource) -> tuple[dict[int, float], int]:
    totals: dict[int, float] = {}
    last_year = 0
    for label, rec in records:
        year = _year(label, rec["Delivery year"])
        last_year = max(last_year, year)
        if not (_same(rec["Supplier"], spec.supplier) and _same(rec["Recipient"], spec.recipient)):
            continue
        try:
            tiv = to_float(rec["TIV delivery values"])
        except ValueError:
            raise SourceError(f"{label}: TIV {excerpt.cell(rec['TIV delivery values'])} is not a number") from None
        totals[year] = totals.get(year, 0.0) + (tiv or 0.0)  # empty: no delivery identified
    return totals, last_year


def _year(label: str, cell: str) -> int:
    text = cell.strip().rstrip("?")
    if not (text.isdigit() and len(text) == 4):
        raise SourceError(f"{label}: delivery year {excerpt.cell(cell)} is not a year")
    return int(text)


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()
