"""`gdelt`: news intensity or tone from the GDELT DOC 2.0 API (SOURCES.md B.1).

The API answers at most about three months per request, so the span from `start` to now is asked
for in windows of three months or less and stitched together. Buckets are at 15-minute, hourly
or daily resolution depending on the window, so every series is first reduced to one number per
day (each day then weighs the same whatever the resolution) and only then resampled.

Buckets without articles are left out by GDELT. For `timelinevol` (share of all articles) an
absent bucket between two present ones means 0 %, so those gaps are filled with zeros before
averaging; for `timelinetone` an absent bucket has no tone and is skipped; `timelinevolraw`
(article counts) is summed, where absent and zero agree.

GDELT sends no ETag or Last-Modified, so an unchanged answer is known by its body hash
(tracker.sources.conditional); a window's key leaves out its end, which is "now" on every run.
An answer without a timeline (`{}`: nothing matched, or an unknown theme) is an answer with
nothing in it. Each row's source is the same query over that row's own day, week or month: a
link to exactly the articles behind the figure, and the same link on every run.
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

from tracker.pack.types import GdeltSource
from tracker.sources import FetchContext, SourceError, excerpt
from tracker.sources.conditional import Call, Conditional
from tracker.sources.file_source import empty, finish, labelled
from tracker.sources.http import Response, cache_key
from tracker.sources.provenance import query_url, stamp_by_date

log = logging.getLogger(__name__)

SERIES = {"timelinevol": "Volume Intensity", "timelinevolraw": "Article Count",
          "timelinetone": "Average Tone"}
RESAMPLE = {"daily": "D", "weekly": "W-FRI", "monthly": "ME"}
COMPACT = "%Y%m%dT%H%M%SZ"
STAMP = "%Y%m%d%H%M%S"
CONDITIONAL = "etag, last-modified, body hash"
"""How a second fetch of unchanged data is recognised (`tracker sources`)."""


def fetch(spec: GdeltSource, ctx: FetchContext) -> pd.DataFrame:
    cond = Conditional(ctx)
    with labelled(f"gdelt {spec.mode} {spec.query!r}"):
        spans = windows(first_day(spec, ctx), utcnow())
        answers = cond.fetch([_call(spec, start, end) for start, end in spans])
        parts = [_window(spec, resp, start, end) for resp, (start, end) in zip(answers, spans, strict=True)]
        days = pd.concat([p for p in parts if not p.empty]) if any(not p.empty for p in parts) else None
        if days is None:
            log.info("gdelt %r: no articles matched in any window", spec.query)
            return empty()
        how = "sum" if spec.mode == "timelinevolraw" else "mean"
        days = days.groupby(level=0).agg(how)
        out = days.resample(RESAMPLE[spec.resample]).agg(how).dropna()
        frame = pd.DataFrame({"date": out.index.normalize(), "value": out.to_numpy(dtype=float)})
        frame = finish(frame, spec.scale)
    cond.remember()
    return stamp_by_date(frame, lambda day: bucket_url(spec, day))


def _params(spec: GdeltSource, start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    params = {"query": spec.query, "mode": spec.mode, "format": "json",
              "startdatetime": start.strftime(STAMP), "enddatetime": end.strftime(STAMP)}
    if spec.smooth:
        params["timelinesmooth"] = str(spec.smooth)
    return params


def _call(spec: GdeltSource, start: dt.datetime, end: dt.datetime) -> Call:
    params = _params(spec, start, end)
    return Call(spec.url, params=params, key=cache_key(spec.url, {k: v for k, v in params.items()
                                                                  if k != "enddatetime"}))


def bucket_url(spec: GdeltSource, day: pd.Timestamp) -> str:
    """The query over the day, week (Saturday to Friday) or month that a stored row sums up."""
    last = day.to_pydatetime().replace(hour=23, minute=59, second=59)
    first = {"daily": day, "weekly": day - pd.Timedelta(days=6), "monthly": day.replace(day=1)}[spec.resample]
    return query_url(spec.url, _params(spec, first.to_pydatetime(), last))


def first_day(spec: GdeltSource, ctx: FetchContext) -> str:
    """Re-fetch only the last few months once a history is stored (each window costs 5 s of
    rate limit); start on a month's first day so every re-fetched period is complete."""
    if ctx.since is None:
        return spec.start
    back = (pd.Timestamp(ctx.since) - pd.Timedelta(days=100)).to_period("M").start_time
    return max(pd.Timestamp(spec.start), back).date().isoformat()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def windows(start: str, now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """Consecutive [first second, last second] spans of at most three months, up to now."""
    begin = pd.Timestamp(start).to_pydatetime()
    if begin > now:
        raise SourceError(f"start {start} is in the future")
    out = []
    while begin <= now:
        following = (pd.Timestamp(begin) + pd.DateOffset(months=3)).to_pydatetime()
        out.append((begin, min(following - dt.timedelta(seconds=1), now)))
        begin = following
    return out


def _window(spec: GdeltSource, resp: Response, start: dt.datetime, end: dt.datetime) -> pd.Series:
    span = f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"
    points = _points(resp, spec.mode, span)
    if points.empty:
        return points
    if spec.mode == "timelinevol":
        points = _zero_fill(points)
    return points.groupby(points.index.normalize()).agg("sum" if spec.mode == "timelinevolraw" else "mean")


def _points(resp: Response, mode: str, span: str) -> pd.Series:
    """The buckets of one answer; GDELT's plain-text refusals become clear errors.

    The body decides, not the Content-Type: GDELT's refusals come as 200 text/html, and a JSON
    body is read whatever type it is labelled with.
    """
    if not resp.content.lstrip().startswith((b"{", b"[")):
        said = excerpt.text(resp.content)
        hint = "; the window is too short for GDELT" if "too short" in said.lower() else ""
        raise SourceError(f"GDELT answered {excerpt.text(resp.content_type, excerpt.NAME_LIMIT)} instead of "
                          f"JSON for {span}: {said!r}{hint}")
    doc = resp.json()
    if not isinstance(doc, dict):
        raise SourceError(f"expected a JSON object for {span}, got {type(doc).__name__}")
    timeline = doc.get("timeline") or []
    if not timeline:  # `{}`: nothing matched, or an unknown theme
        return pd.Series([], dtype="float64", index=pd.DatetimeIndex([], dtype="datetime64[us]"))
    series = next((s for s in timeline if s.get("series") == SERIES[mode]), timeline[0])
    try:
        stamps = [dt.datetime.strptime(p["date"], COMPACT) for p in series.get("data", [])]
        values = [float(p["value"]) for p in series.get("data", [])]
    except (KeyError, TypeError, ValueError) as exc:
        raise SourceError(f"unexpected bucket in the answer for {span}: {excerpt.text(exc)}") from None
    return pd.Series(values, index=pd.DatetimeIndex(stamps, dtype="datetime64[us]")).sort_index()


def _zero_fill(points: pd.Series) -> pd.Series:
    """Put back the empty buckets GDELT left out between the first and the last one."""
    steps = points.index.to_series().diff().dropna()
    steps = steps[steps > pd.Timedelta(0)]
    if steps.empty:
        return points
    grid = pd.date_range(points.index[0], points.index[-1], freq=steps.min())
    return points[~points.index.duplicated()].reindex(grid.union(points.index), fill_value=0.0)
