"""`comtrade`: bilateral goods trade from the UN Comtrade API (SOURCES.md B.4).

`preview: true` uses the keyless preview endpoint (small queries); otherwise the data endpoint
with the subscription key named by `api_key`. `primaryValue` is the headline figure (CIF for
imports, FOB for exports). When an answer carries breakdowns (mode of transport, customs
procedure, second partner), only the total rows are kept, or each period would count twice.
With `share_of`, both codes are asked for and the value is 100 × cmd / share_of per period.

Each row's source is the query for that row's period alone (the key, when the data endpoint needs
one, travels in a header and never in a URL). An answer with no rows for the codes asked is an
answer with nothing in it (an empty frame).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from tracker.pack.types import ComtradeSource
from tracker.sources import FetchContext, SourceError, excerpt
from tracker.sources.conditional import Call, Conditional
from tracker.sources.file_source import finish, labelled, tidy
from tracker.sources.http import expect_type
from tracker.sources.provenance import query_url, stamp_by_date

KEY_HEADER = "Ocp-Apim-Subscription-Key"
TOTALS = {"motCode": "0", "customsCode": "C00", "partner2Code": "0", "mosCode": "0"}
PERIODS_PER_CALL = 12
CONDITIONAL = "etag, last-modified, body hash"
"""How a second fetch of unchanged data is recognised (`tracker sources`)."""


def fetch(spec: ComtradeSource, ctx: FetchContext) -> pd.DataFrame:
    what = f"comtrade {spec.reporter}->{spec.partner} {spec.flow} {spec.cmd}"
    cond = Conditional(ctx)
    with labelled(what + (f" as % of {spec.share_of}" if spec.share_of else "")):
        codes = list(dict.fromkeys([spec.cmd, *([spec.share_of] if spec.share_of else [])]))
        rows = totals(_rows(spec, ctx, codes, cond))
        frames = {code: _frame(spec, [r for r in rows if str(r.get("cmdCode")) == code], code)
                  for code in codes}
        if not spec.share_of:
            frame = finish(frames[spec.cmd], spec.scale)
        else:
            both = frames[spec.cmd].merge(frames[spec.share_of], on="date", suffixes=("", "_of"))
            both = both[both["value_of"] != 0]
            share = pd.DataFrame({"date": both["date"], "value": 100.0 * both["value"] / both["value_of"]})
            frame = finish(share, spec.scale)
    cond.remember()
    url = endpoint(spec)
    return stamp_by_date(frame, lambda day: query_url(url, _params(spec, codes, [_period_of(day, spec)])))


def endpoint(spec: ComtradeSource) -> str:
    base = spec.url.rstrip("/")
    return (f"{base}/public/v1/preview/C/{spec.freq}/HS" if spec.preview
            else f"{base}/data/v1/get/C/{spec.freq}/HS")


def _params(spec: ComtradeSource, codes: list[str], periods: list[str]) -> dict[str, str]:
    return {"reporterCode": str(spec.reporter), "partnerCode": str(spec.partner), "period": ",".join(periods),
            "cmdCode": ",".join(codes), "flowCode": spec.flow}


def _period_of(day: pd.Timestamp, spec: ComtradeSource) -> str:
    """The period a stored row stands for, as the API writes it (2024, 202403)."""
    return f"{day.year}" if spec.freq == "A" else f"{day.year}{day.month:02d}"


def _rows(spec: ComtradeSource, ctx: FetchContext, codes: list[str], cond: Conditional) -> list[dict[str, Any]]:
    headers = {} if spec.preview else {KEY_HEADER: _key(spec, ctx)}
    periods = periods_of(spec)
    calls = [Call(endpoint(spec), params=_params(spec, codes, periods[i:i + PERIODS_PER_CALL]), headers=headers)
             for i in range(0, len(periods), PERIODS_PER_CALL)]
    rows: list[dict[str, Any]] = []
    for resp in cond.fetch(calls):
        expect_type(resp, "json")
        doc = resp.json()
        if not isinstance(doc, dict):
            raise SourceError(f"expected a JSON object, got {type(doc).__name__}")
        if doc.get("error"):
            raise SourceError(f"the API said: {excerpt.text(doc['error'])}")
        rows += [r for r in doc.get("data") or []
                 if isinstance(r, dict) and r.get("flowCode", spec.flow) == spec.flow]
    return rows


def _key(spec: ComtradeSource, ctx: FetchContext) -> str:
    key = ctx.keys.get(spec.api_key or "comtrade")
    if not key:
        raise SourceError(f"the data endpoint needs an API key: set the environment variable named by "
                          f"keys.{spec.api_key or 'comtrade'} in config.yaml, or use preview: true")
    return key


def periods_of(spec: ComtradeSource) -> list[str]:
    """The periods asked for: as given (a year stands for its twelve months when monthly), or
    the last six years / 24 months."""
    today = dt.date.today()
    if spec.freq == "A":
        return [str(p) for p in spec.periods] or [str(y) for y in range(today.year - 6, today.year)]
    if not spec.periods:
        months = pd.period_range(end=pd.Period(today, "M") - 1, periods=24, freq="M")
        return [p.strftime("%Y%m") for p in months]
    return [f"{p}{m:02d}" if p < 10000 else str(p) for p in spec.periods for m in
            (range(1, 13) if p < 10000 else [0])]


def totals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep only the total rows of each breakdown the answer carries."""
    for field, total in TOTALS.items():
        if any(str(r.get(field)) == total for r in rows):
            rows = [r for r in rows if str(r.get(field)) == total]
    return rows


def _frame(spec: ComtradeSource, rows: list[dict[str, Any]], code: str) -> pd.DataFrame:
    records = [(f"{code} {r.get('period')}", {"date": _period(r.get("period"), spec.freq),
                                             "value": r.get("primaryValue")}) for r in rows]
    return tidy(records, ["date", "value"], date="date", value="value")


def _period(period: Any, freq: str) -> str:
    """Comtrade writes months as 202401; the table reader wants 2024-01."""
    text = str(period)
    return f"{text[:4]}-{text[4:6]}" if freq == "M" and len(text) == 6 and text.isdigit() else text
