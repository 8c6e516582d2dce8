"""An indicator's observations as arrays: the record the store reads vintages into and scoring
replays, so that neither needs the other (storage knows no model; scoring never fetches).

Rows are in (fetch time, vintage, date) order. The text columns (level, source_url, note) stay
codes into lists of their distinct values until a row is cited: a 10-year daily series usually
repeats one URL 3,650 times (issue 20).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

TEXTS = ("level", "source_url", "note")
"""The text columns, in the order of `Series.codes`' rows."""


@dataclass
class Series:
    """One indicator's vintages, rows in (fetch time, vintage, date) order as the scorer replays
    them: per row its vintage, the day it was fetched, and the observation. The text columns
    stay codes until a row is cited (`cite`), or its level is needed (`levels`)."""

    vintage: np.ndarray          # int64
    fetched: np.ndarray          # datetime64[D]
    date: np.ndarray             # datetime64[D]
    published: np.ndarray        # datetime64[D]
    value: np.ndarray            # float64
    codes: np.ndarray            # int32, (3, rows): TEXTS
    texts: list[list[str]]       # per text column, what its codes name
    origin: dict[int, str] = field(default_factory=dict)
    """Vintage id -> how it was written (seed, ingest, observe, reject, confirm); empty when the
    rows were built in memory without one. Holding back a data fault looks only at `ingest`."""
    gaps: list[tuple[int, np.datetime64]] = field(default_factory=list)
    """Vintages with no rows (a reject or retract of the last point), as (how many vintages with
    rows came before it, the day it was fetched): from that day the vintage before holds nothing,
    as `Store.as_of` shows it."""

    def __len__(self) -> int:
        return len(self.date)

    def take(self, rows: np.ndarray) -> Series:
        """The rows at these positions (the scorer keeps only the rows it cites)."""
        return Series(self.vintage[rows], self.fetched[rows], self.date[rows], self.published[rows],
                      self.value[rows], self.codes[:, rows], self.texts, self.origin, self.gaps)

    def levels(self, rows: Any = None) -> np.ndarray:
        """Each row's level (None where missing), for ordinal indicators; of `rows` only, if given."""
        return self._text(0, slice(None) if rows is None else rows)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each vintage's rows start and end (rows are in fetch, vintage, date order)."""
        return _runs(self.vintage)

    def cite(self, k: int) -> dict[str, Any]:
        """Row k as the reports show an observation."""
        out: dict[str, Any] = {"date": self.date[k], "value": float(self.value[k]),
                               "published": self.published[k]}
        for j, name in enumerate(TEXTS):
            code = int(self.codes[j, k])
            out[name] = self.texts[j][code] if code >= 0 else None
        return out

    def _text(self, j: int, rows: Any) -> np.ndarray:
        names = np.array([*self.texts[j], None], dtype=object)   # code -1 is the last: None
        return names[self.codes[j, rows]]


def _runs(vintage: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts = np.flatnonzero(np.r_[True, vintage[1:] != vintage[:-1]]) if len(vintage) else np.array([], dtype=np.int64)
    return starts, np.r_[starts[1:], len(vintage)].astype(np.int64)


def no_rows() -> Series:
    day = np.array([], dtype="datetime64[D]")
    return Series(np.array([], dtype=np.int64), day, day, day, np.array([]),
                  np.zeros((3, 0), dtype=np.int32), [[], [], []])


def from_frame(rows: pd.DataFrame) -> Series:
    """One indicator's rows in the shape `Store.vintages_until` gives them (columns vintage,
    fetched, date, value, level, published, source_url, note; `vintage` and `fetched` may be
    absent for a single vintage; `origin` optional): for tests and `tracker test`, which build histories in memory."""
    n = len(rows)
    pick = [encode(None if name not in rows else rows[name].astype(object).where(rows[name].notna(), None).tolist(), n)
            for name in TEXTS]
    vintage = rows["vintage"].to_numpy(dtype=np.int64) if "vintage" in rows else np.zeros(n, dtype=np.int64)
    firsts = _runs(vintage)[0]
    origin = dict(zip(vintage[firsts].tolist(), rows["origin"].to_numpy()[firsts].tolist(), strict=True)) \
        if "origin" in rows else {}
    date = rows["date"].to_numpy().astype("datetime64[D]")
    fetched = rows["fetched"].to_numpy().astype("datetime64[D]") if "fetched" in rows else \
        np.full(n, date.min() if n else np.datetime64("1900-01-01"), dtype="datetime64[D]")
    return Series(vintage, fetched, date, rows["published"].to_numpy().astype("datetime64[D]"),
                  rows["value"].to_numpy(dtype=float), np.stack([c for c, _ in pick]).reshape(3, n),
                  [t for _, t in pick], origin)


def join(parts: list[Series], gaps: list[tuple[int, np.datetime64]] | None = None) -> Series:
    """One indicator's vintages as one Series, each vintage's codes shifted past the texts of
    the vintages before it; `gaps` as Series.gaps."""
    if len(parts) == 1:
        return replace(parts[0], gaps=gaps or [])
    texts: list[list[str]] = [[], [], []]
    codes = []
    for p in parts:
        shift = np.array([len(t) for t in texts], dtype=np.int32)[:, None]
        codes.append(np.where(p.codes >= 0, p.codes + shift, -1))
        for j in range(3):
            texts[j] += p.texts[j]
    return Series(*(np.concatenate([getattr(p, f) for p in parts])
                    for f in ("vintage", "fetched", "date", "published", "value")),
                  np.concatenate(codes, axis=1).astype(np.int32), texts,
                  {k: v for p in parts for k, v in p.origin.items()}, gaps or [])


def encode(column: list[Any] | None, count: int) -> tuple[np.ndarray, list[str]]:
    """Codes into the column's distinct values, in order of first appearance; -1 for missing."""
    if column is None:
        return np.full(count, -1, dtype=np.int32), []
    names = [v for v in dict.fromkeys(column) if v is not None]      # distinct, in order of appearance
    if len(names) == 1 and None not in column:                       # a file's one URL on every row
        return np.zeros(count, dtype=np.int32), names
    index: dict[str | None, int] = {None: -1, **{v: k for k, v in enumerate(names)}}
    return np.fromiter(map(index.__getitem__, column), dtype=np.int32, count=count), names
