"""Seeds: the real historical observations shipped with a pack, loaded into an empty store so
that `tracker score` answers offline on a fresh install. A seed row becomes visible to as-of
queries only from its `published` date (or date + the indicator's publication lag)."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from tracker.durations import parse_days
from tracker.errors import Problem, ProblemsError
from tracker.pack.types import Indicator, Pack
from tracker.store.db import Store


def read_seed(path: Path, ind: Indicator, shown: str) -> pd.DataFrame:
    """Read and check one seed CSV; every bad row is reported with its line."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ProblemsError([Problem(shown, 0, 0, "", f"cannot read seed: {exc}")]) from None
    lag = dt.timedelta(days=parse_days(ind.publication_lag, allow_zero=True))
    problems: list[Problem] = []
    rows = []
    for n, rec in enumerate(_records(raw), start=2):
        row, found = _row(rec, ind, lag, shown, n)
        problems += found
        if row:
            rows.append(row)
    problems += _duplicates([r["date"] for r in rows], shown)
    if problems:
        raise ProblemsError(problems)
    frame = pd.DataFrame(rows, columns=["date", "value", "level", "published", "source_url", "note"])
    frame["date"] = pd.to_datetime(frame["date"])
    frame["published"] = pd.to_datetime(frame["published"])
    frame["value"] = frame["value"].astype(float)
    return frame.sort_values("date", ignore_index=True)


def _records(raw: pd.DataFrame) -> Iterator[dict[str, str]]:
    """The rows as dicts, as `to_dict("records")` gives them, but built from whole columns:
    pandas boxed every cell on its own, half the time of checking a long seed."""
    columns = [str(c) for c in raw.columns]
    for values in zip(*(raw[c].tolist() for c in raw.columns), strict=True):
        yield dict(zip(columns, values, strict=True))


def _duplicates(dates: list[dt.date], shown: str) -> list[Problem]:
    """One problem per date that occurs more than once, found in one pass (a Counter): the
    `list.count` of each date it replaces took 63 s for 100,000 rows."""
    return [Problem(shown, 0, 0, "date", f"{d} appears more than once")
            for d, n in Counter(dates).items() if n > 1]


def _row(rec: dict[str, str], ind: Indicator, lag: dt.timedelta, shown: str, line: int):
    problems = []

    def bad(field: str, message: str) -> None:
        problems.append(Problem(shown, line, 1, field, message))

    date = _date(rec.get("date", ""), "date", bad)
    published = _date(rec.get("published", ""), "published", bad, optional=True)
    value, level = None, None
    if ind.kind == "ordinal":
        level = rec.get("level", "").strip()
        if level not in ind.levels:
            bad("level", f"expected one of {', '.join(ind.levels)}, got {level!r}")
    else:
        try:
            value = float(rec.get("value", ""))
            if not math.isfinite(value):
                raise ValueError
        except ValueError:
            bad("value", f"expected a finite number, got {rec.get('value')!r}")
    if not rec.get("source_url", "").strip():
        bad("source_url", "every seeded figure needs its source URL")
    if date and published and published < date:
        bad("published", f"{published} is before the date it describes ({date})")
    if problems or date is None:
        return None, problems
    return {"date": date, "value": value, "level": level,
            "published": published or date + lag,
            "source_url": rec["source_url"].strip(), "note": rec.get("note", "").strip() or None}, []


def _date(text: str, field: str, bad, optional: bool = False) -> dt.date | None:
    text = (text or "").strip()
    if not text and optional:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        bad(field, f"expected a date as YYYY-MM-DD, got {text!r}")
        return None
    if not (1900 <= day.year <= 2200):
        bad(field, f"date {text} is out of range (1900–2200)")
        return None
    return day


def load_seeds(store: Store, pack: Pack) -> list[str]:
    """Seed every indicator that has no vintage yet; return the ids seeded.

    The vintage is dated at the earliest `published` date: before that nothing of it is
    visible, and after it the `published` column hides each row until its own date.
    """
    seeded = []
    for ind in pack.indicators.values():
        path = pack.seed_path(ind)
        if path is None or store.has_vintages(ind.id):
            continue
        frame = read_seed(path, ind, pack.shown(path))
        if frame.empty:
            continue
        first = frame["published"].min().to_pydatetime().replace(tzinfo=dt.UTC)
        store.write_vintage(ind.id, frame, fetched_at=first, origin="seed")
        seeded.append(ind.id)
    return seeded
