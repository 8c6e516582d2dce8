"""Every row of a seed CSV checked, each problem with its `seeds/FILE.csv:LINE`, in one pass.

`tracker validate` and `tracker test` run this on every seed the pack names (checks.py), and
seeding a store runs it again (store/seeds.py), so what validate accepts is exactly what the
store takes. Before, validate read only the header: a level not in the list, `31/03/2024`,
`n/a` or an extra field passed, and `score` then reported them one at a time, the last as
pandas' "Error tokenizing data. C error" (issue 17, item 2).

The file is read with the csv module rather than pandas: it keeps each record's line, and a
record with one field too many is a problem on that line, not the end of the reading. A file
of usual cells is checked a column at a time (seedcols.py); any other row by row, here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections import Counter
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import numpy as np

from tracker.errors import Problem
from tracker.pack.seedcols import FIRST_YEAR, HTTP, LAST_YEAR, Columns, Seed, duplicated, fast
from tracker.suggest import closest

__all__ = ["Seed", "read_rows"]

REQUIRED = ("date", "source_url")
"""Besides `value` (or `level` for an ordinal indicator); `published` and `note` may be absent."""
_DATE_RX = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


class _Row(NamedTuple):
    line: int
    date: dt.date
    value: float | None
    level: str | None
    published: dt.date | None
    source_url: str
    note: str | None


def read_rows(path: Path, shown: str, kind: str, levels: list[str] | None,
              today: dt.date) -> tuple[Seed, list[Problem]]:
    """The good rows and every problem. `levels` None skips the level check (the indicator's
    levels could not be read: the pack file's own problem says so)."""
    text, problem = _text(path, shown)
    if problem:
        return _seed([]), [problem]
    reader = csv.reader(io.StringIO(text, newline=""))
    what = "level" if kind == "ordinal" else "value"
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return _seed([]), [Problem(shown, 1, 1, "", f"cannot read the header: {exc}")]
    if not header:
        return _seed([]), [Problem(shown, 1, 1, "", f"the file is empty; expected a header line: "
                                                    f"{', '.join(_expected(what))}")]
    columns, problems = _columns([h.strip() for h in header], what, shown)
    if columns is None:
        return _seed([]), problems
    records, lines, unreadable = _records(reader, text, shown)
    seed = fast(records, lines, columns, kind, levels, today)
    if seed is None:
        check = _RowCheck(shown, kind, levels, today)
        seed = _seed([row for record, line in zip(records, lines, strict=True)
                      if (row := check.row(record, columns, line)) is not None])
        problems += check.problems
    return seed, problems + unreadable + _duplicates(seed, shown)


def _records(reader: csv.Reader, text: str, shown: str) -> tuple[list[list[str]], list[int], list[Problem]]:
    """The non-blank records with the line each starts on; a record the csv module cannot read
    ends the reading with a problem on its line. When every record is one line of the file (no
    blank line, no line break inside a quoted note), the records are read in one call and
    numbered from 2: a third of the time of a seed's reading went to numbering them one by one."""
    start = reader.line_num
    try:
        records = list(reader)
    except csv.Error:
        records = None
    if records is not None and all(records) and reader.line_num - start == len(records) \
            and text.count("\n") - text.endswith("\n") + 1 == reader.line_num:
        return records, list(range(start + 1, start + 1 + len(records))), []
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)                                    # the header, read before
    records, lines = [], []
    line = reader.line_num + 1
    try:
        for record in reader:
            if record:                              # a blank line is no row
                records.append(record)
                lines.append(line)
            line = reader.line_num + 1
    except csv.Error as exc:
        return records, lines, [Problem(shown, line, 1, "", f"cannot read this record: {exc}")]
    return records, lines, []


def _seed(rows: list[_Row]) -> Seed:
    def days(values: list[dt.date | None]) -> np.ndarray:
        return np.array([np.datetime64(d, "D") if d else np.datetime64("NaT") for d in values],
                        dtype="datetime64[D]")

    return Seed(np.array([r.line for r in rows], dtype=np.int64), days([r.date for r in rows]),
                np.array([np.nan if r.value is None else r.value for r in rows], dtype=float),
                [r.level for r in rows], days([r.published for r in rows]), [r.source_url for r in rows],
                [r.note for r in rows])


def _expected(what: str) -> list[str]:
    return ["date", what, "published", "source_url", "note"]


def _text(path: Path, shown: str) -> tuple[str, Problem | None]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return "", Problem(shown, 0, 0, "", f"cannot read seed: {exc.strerror or exc}")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        at = exc.start + bom                    # the codec reports positions after the BOM
        line = data.count(b"\n", 0, at) + 1
        col = at - (data.rfind(b"\n", 0, at) + 1) + 1
        return "", Problem(shown, line, col, "", f"not valid UTF-8 text (byte 0x{data[at]:02x}); "
                                                 "save the file as UTF-8")


def _columns(header: list[str], what: str, shown: str) -> tuple[Columns | None, list[Problem]]:
    twice = sorted(h for h, n in Counter(header).items() if n > 1 and h)
    missing = [c for c in (REQUIRED[0], what, REQUIRED[1]) if c not in header]
    problems = [Problem(shown, 1, 1, "", f"column {h} appears more than once") for h in twice]
    if missing:
        problems.append(Problem(shown, 1, 1, "", f"lacks column {', '.join(missing)}; expected columns "
                                                 f"{', '.join(_expected(what))}"))
    if problems:
        return None, problems

    def at(name: str) -> int | None:
        return header.index(name) if name in header else None

    return Columns(header.index("date"), header.index(what), at("published"), header.index("source_url"),
                    at("note"), len(header), header), []


class _RowCheck:
    """One record at a time; problems collected, never raised. Written for speed (a seed may
    hold a million rows): no closure per row, and the common valid cell decided by one regular
    expression before any slower check (benchmarks/input_bounds.py)."""

    def __init__(self, shown: str, kind: str, levels: list[str] | None, today: dt.date) -> None:
        self.shown, self.kind, self.levels, self.today = shown, kind, levels, today
        self.level_set = set(levels) if levels is not None else None
        self.problems: list[Problem] = []

    def row(self, record: list[str], c: Columns, line: int) -> _Row | None:
        found: list[tuple[str, str]] = []            # (field, message)
        if len(record) != c.count:
            hint = "; quote a field that holds a comma" if len(record) > c.count else ""
            found.append(("", f"expected {c.count} fields ({', '.join(c.names)}), got {len(record)}{hint}"))
            return self._done(found, line)
        date = self._iso(record[c.date]) or self._day(record[c.date], "date", found)
        text = record[c.published] if c.published is not None else ""
        published = (self._iso(text) or self._day(text, "published", found)) if text.strip() else None
        value, level = self._what(record[c.what], found)
        url = record[c.source_url].strip()
        if not HTTP.match(url):
            problem = _url_problem(url)
            if problem:
                found.append(("source_url", problem))
        if date and published and published < date:
            found.append(("published", f"{published} is before the date it describes ({date})"))
        if found or date is None:
            return self._done(found, line)
        note = record[c.note].strip() if c.note is not None else ""
        return _Row(line, date, value, level, published, url, note or None)

    def _done(self, found: list[tuple[str, str]], line: int) -> None:
        self.problems += [Problem(self.shown, line, 1, field, message) for field, message in found]

    def _what(self, text: str, found: list[tuple[str, str]]) -> tuple[float | None, str | None]:
        if self.kind == "ordinal":
            level = text.strip()
            if self.level_set is not None and level not in self.level_set:
                found.append(("level", f"expected one of {', '.join(self.levels or [])}, got {level!r}"
                                       f"{closest(level, self.levels or [])}"))
            return None, level
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            found.append(("value", f"expected a finite number, got {text!r}"))
        return value, None

    def _day(self, text: str, field: str, found: list[tuple[str, str]]) -> dt.date | None:
        """The date, or None with the problem said; `_iso` has taken every usual good one."""
        text = text.strip()
        try:
            day = dt.date.fromisoformat(text) if _DATE_RX.match(text) else None
        except ValueError:
            day = None
        if day is None:
            found.append((field, f"expected a date as YYYY-MM-DD, got {text!r}"))
        elif not (FIRST_YEAR <= day.year <= LAST_YEAR):
            found.append((field, f"date {text} is out of range ({FIRST_YEAR}–{LAST_YEAR})"))
        elif day > self.today:
            found.append((field, f"{day} is in the future (today is {self.today}); a seed holds what has been "
                                 "published"))
        else:
            return day
        return None

    def _iso(self, text: str) -> dt.date | None:
        """A well-formed day from FIRST_YEAR to today, the usual cell, decided fast; None for
        anything else, which `_day` then judges and explains. A 10-character text with dashes at
        4 and 7 that fromisoformat reads can only be YYYY-MM-DD (its other forms put them elsewhere)."""
        if len(text) != 10 or text[4] != "-" or text[7] != "-":
            return None
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            return None
        return day if FIRST_YEAR <= day.year and day <= self.today else None


def _url_problem(url: str) -> str | None:
    if not url:
        return "every seeded figure needs its source URL"
    try:
        parts = urlsplit(url)
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 — parsing the port is part of the check
    except ValueError:
        ok = False
    return None if ok else f"expected the http(s) address of the source, got {url!r}"


def _duplicates(seed: Seed, shown: str) -> list[Problem]:
    """One problem per date given more than once, on the line that repeats it (found with one
    sort: the `list.count` of each date this replaced took 63 s for 100,000 rows)."""
    return [Problem(shown, where[1], 1, "date", f"{day} appears more than once (lines {_lines(where)})")
            for day, where in duplicated(seed).items()]


def _lines(where: list[int]) -> str:
    shown = ", ".join(map(str, where[:5]))
    return shown + (f" and {len(where) - 5:,} more" if len(where) > 5 else "")
