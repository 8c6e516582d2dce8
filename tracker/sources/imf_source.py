"""`imf`: one series from the IMF SDMX 3.0 API, read as SDMX-JSON 2.0 (SOURCES.md B.2).

Values sit under `data.dataSets[0].series["i:j:k:l"].observations["t"][0]` as text; `i`… index
the series dimensions and `t` the TIME_PERIOD values (`2026-M03`, `2024-Q1`, `2024`) in
`data.structures[0].dimensions`. A key that matches nothing is not an HTTP error: the dataset
simply has no `series`. That is an answer with nothing in it (an empty frame, recorded `empty`),
as GDELT's and the World Bank's empty answers are, not a failure (issue 15).

`start` is applied here, not sent: the server's handling of time filters is not documented and
one public client found `startPeriod` ignored; a full IMTS series is small.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from tracker.pack.types import ImfSource
from tracker.sources import FetchContext, SourceError, excerpt
from tracker.sources.conditional import Call, Conditional
from tracker.sources.file_source import empty, labelled, period_of, tidy
from tracker.sources.http import expect_type
from tracker.sources.json_source import pick
from tracker.sources.provenance import query_url, stamp

log = logging.getLogger(__name__)

ACCEPT = "application/vnd.sdmx.data+json;version=2.0.0"
KEY_HEADER = "Ocp-Apim-Subscription-Key"
CONDITIONAL = "etag, last-modified, body hash"
"""How a second fetch of unchanged data is recognised (`tracker sources`)."""


def fetch(spec: ImfSource, ctx: FetchContext) -> pd.DataFrame:
    url = f"{spec.url.rstrip('/')}/data/dataflow/{spec.dataflow}/{spec.key}"
    cond = Conditional(ctx)
    with labelled(f"imf {spec.dataflow} {spec.key}"):
        resp = cond.one(Call(url, headers=_headers(spec, ctx)))
        expect_type(resp, "json")
        records = observations(resp.json(), spec.key)
        if records is None:
            log.info("imf %s: no series for key %s (the query matched nothing)", spec.dataflow, spec.key)
            return empty()
        frame = tidy(records, ["date", "value"], date="date", value="value", scale=spec.scale)
        if spec.start:
            since = period_of(spec.start)
            if since is None:
                raise SourceError(f"start {spec.start!r} is not a period (2020, 2020-01, 2020-Q1)")
            frame = frame[frame["date"] >= since.start_time].reset_index(drop=True)
    cond.remember()
    return stamp(frame, query_url(url))  # the key travels in a header, never in the URL


def _headers(spec: ImfSource, ctx: FetchContext) -> dict[str, str]:
    headers = {"Accept": ACCEPT}
    if spec.api_key:
        key = ctx.keys.get(spec.api_key)
        if key:
            headers[KEY_HEADER] = key
        else:  # the key only raises the rate limit: go on without it
            log.warning("imf %s: API key %r is not set; asking without it", spec.key, spec.api_key)
    return headers


def observations(doc: Any, key: str) -> list[tuple[str, dict[str, Any]]] | None:
    """(label, {"date", "value"}) for each observation of the single series in the answer; None
    when the answer holds no series (the key matched nothing)."""
    datasets = pick(doc, "data.dataSets")
    series = datasets[0].get("series") if isinstance(datasets, list) and datasets else None
    if not series:
        return None
    dims = pick(doc, "data.structures[0].dimensions")
    names = {code: _series_name(code, dims) for code in series}
    if len(series) > 1:
        raise SourceError(f"{len(series)} series match key {key} ({excerpt.names(names.values())}); "
                          "narrow the key to one series")
    code, body = next(iter(series.items()))
    periods = _time_values(dims)
    out = []
    for index, obs in (body.get("observations") or {}).items():
        try:
            period = periods[int(index)]
        except (ValueError, IndexError):
            raise SourceError(f"observation {excerpt.cell(index)} of {excerpt.text(names[code])} has no "
                              "TIME_PERIOD value") from None
        value = obs[0] if isinstance(obs, list) and obs else None
        out.append((f"{names[code]} {period}", {"date": period, "value": value}))
    return out


def _time_values(dims: dict[str, Any]) -> list[str]:
    for dim in dims.get("observation") or []:
        if dim.get("id") == "TIME_PERIOD":
            return [v.get("value") or v.get("id") for v in dim.get("values", [])]
    raise SourceError("no TIME_PERIOD dimension in data.structures[0].dimensions.observation")


def _series_name(code: str, dims: dict[str, Any]) -> str:
    """"0:1:0:0" → "CHN.XG_FOB_USD.RUS.M" through the series dimensions."""
    try:
        return ".".join(dim["values"][int(i)]["id"] for dim, i in zip(dims["series"], code.split(":"),
                                                                         strict=True))
    except (KeyError, IndexError, ValueError, TypeError):
        return code
