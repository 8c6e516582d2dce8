"""A seed's rows as columns, and the common case checked a whole column at a time.

Checking a seed row by row in Python cost about 6 µs a row; a pack may ship millions of rows,
and since issue 17 `tracker validate` reads every one of them, as seeding always did. A file
whose every cell has the usual form (canonical dates up to today, finite numbers or known
levels, plain http(s) addresses) is taken here with numpy; any other file is read again row by
row by seedrows.py, which then says exactly what is wrong and where. Both give the same `Seed`.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from typing import NamedTuple

import numpy as np

FIRST_YEAR, LAST_YEAR = 1900, 2200
HTTP = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?=[/?#]|\Z)", re.IGNORECASE)
"""The start of the usual source address (scheme, host, port): such an address is accepted at once,
as urlsplit would; anything else is judged by urlsplit (seedrows.py)."""


class Columns(NamedTuple):
    """Where each field is in a record (None: the header lacks that optional column)."""

    date: int
    what: int
    published: int | None
    source_url: int
    note: int | None
    count: int
    names: list[str]


class Seed(NamedTuple):
    """The good rows, in file order: `published` NaT where the row left it empty, `values` NaN
    for an ordinal indicator, `levels` None for a numeric one."""

    lines: np.ndarray
    dates: np.ndarray
    values: np.ndarray
    levels: list[str | None]
    published: np.ndarray
    urls: list[str]
    notes: list[str | None]


def fast(records: list[list[str]], lines: list[int], c: Columns, kind: str, levels: list[str] | None,
         today: dt.date) -> Seed | None:
    """The rows, when every cell has the usual form; None when any does not."""
    if records and set(map(len, records)) != {c.count}:
        return None
    fields = list(zip(*records, strict=True)) if records else [()] * c.count
    low = np.datetime64(dt.date(FIRST_YEAR, 1, 1), "D")
    high = np.datetime64(min(today, dt.date(LAST_YEAR, 12, 31)), "D")
    dates = _days(fields[c.date], low, high, empty_ok=False)
    published = _days(fields[c.published], low, high, empty_ok=True) if c.published is not None else \
        np.full(len(records), np.datetime64("NaT"), dtype="datetime64[D]")
    if dates is None or published is None or (published < dates).any():     # NaT compares False
        return None
    values, found = _what(fields[c.what], kind, levels)
    urls = [u.strip() for u in fields[c.source_url]]
    if values is None or not all(map(HTTP.match, urls)):
        return None
    notes = [n.strip() or None for n in fields[c.note]] if c.note is not None else [None] * len(records)
    return Seed(np.array(lines, dtype=np.int64), dates, values, found, published, urls, notes)


def _days(texts: tuple[str, ...], low: np.datetime64, high: np.datetime64, empty_ok: bool) -> np.ndarray | None:
    """Canonical YYYY-MM-DD days from `low` to `high` (NaT for an empty cell when allowed)."""
    if not set(map(len, texts)) <= {0, 10}:     # a time or a zone: the long way, to be refused
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            days = np.array(texts, dtype="datetime64[D]")
    except (ValueError, Warning):
        return None
    text = np.array(texts, dtype=object)
    empty = text == ""
    if empty.any() and not empty_ok:
        return None
    canonical = np.datetime_as_string(days, unit="D") == text.astype(str)
    known = ~np.isnat(days)
    ok = np.where(empty, True, canonical & known & (days >= low) & (days <= high))
    return days if ok.all() else None


def _what(texts: tuple[str, ...], kind: str, levels: list[str] | None) -> tuple[np.ndarray | None, list[str | None]]:
    """(values, levels): NaN values and the stripped levels for an ordinal indicator."""
    if kind == "ordinal":
        found = [t.strip() for t in texts]
        if levels is not None and not set(found) <= set(levels):
            return None, []
        return np.full(len(texts), np.nan), list(found)
    try:
        values = np.array(texts, dtype=object).astype(float) if texts else np.array([], dtype=float)
    except ValueError:
        return None, []
    return (values if np.isfinite(values).all() else None), [None] * len(texts)


def duplicated(seed: Seed) -> dict[np.datetime64, list[int]]:
    """Each date given more than once, with every line that gives it, in file order: one stable
    sort, then a step per duplicated date rather than per row."""
    if len(seed.lines) < 2:
        return {}
    order = np.argsort(seed.dates, kind="stable")
    ordered = seed.dates[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, len(ordered)])
    lines = seed.lines[order]
    return {ordered[a]: lines[a:a + n].tolist() for a, n in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(),
                                                                 strict=True)}
