"""outcomes.csv: the periods during which each scenario was what actually happened.

Optional, beside scenarios.yaml; `tracker evaluate` scores the backtest against it. Columns
start,end,scenario,source_url,note, one row per period, `end` empty for a period still going on
(both days inclusive). It is checked like the rest of the pack: every problem in one pass, each
as `file:line:col: field: message`; a period overlapping another and an unknown scenario are
refused, since either would make the score of a date ambiguous.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path
from urllib.parse import urlsplit

from tracker.errors import Problem
from tracker.pack.types import OUTCOMES_FILE, Outcome
from tracker.pack.yamlload import MAX_FILE_BYTES, MB
from tracker.suggest import closest

__all__ = ["COLUMNS", "OUTCOMES_FILE", "read_outcomes"]
COLUMNS = ("start", "end", "scenario", "source_url", "note")
DATE_RX = re.compile(r"\d{4}-\d{2}-\d{2}")


def read_outcomes(path: Path, shown: str, scenario_ids: list[str] | None) -> tuple[list[Outcome], list[Problem]]:
    """The checked periods and every problem found. `scenario_ids` is None when scenarios.yaml
    could not be read whole: then no scenario is called unknown (it may be the one missing)."""
    text, problem = _text(path, shown)
    if problem:
        return [], [problem]
    reader = csv.reader(io.StringIO(text))
    lines = text.splitlines()
    header = next(reader, None)
    problems = _header(header, shown)
    if problems or header is None:
        return [], problems
    index = {name.strip(): k for k, name in enumerate(header)}
    rows: list[tuple[int, Outcome]] = []
    start_line = reader.line_num + 1
    for cells in reader:
        line, start_line = start_line, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        row = _Row(shown, line, lines[line - 1] if line <= len(lines) else "", cells, index)
        outcome = row.check(scenario_ids)
        problems += row.problems
        if outcome is not None:
            rows.append((line, outcome))
    if not rows and not problems:
        problems.append(Problem(shown, 1, 1, "", "no periods: expected one row per period after the header"))
    problems += _overlaps(rows, shown)
    return [o for _, o in sorted(rows, key=lambda r: r[1].start)], problems


def _text(path: Path, shown: str) -> tuple[str, Problem | None]:
    """The file as text, bounded like every pack file (read unread above 1 MB)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return "", Problem(shown, 0, 0, "", f"cannot read file: {exc.strerror}")
    if len(raw) > MAX_FILE_BYTES:
        return "", Problem(shown, 0, 0, "", f"the file is over {MAX_FILE_BYTES // MB} MB; an outcomes file "
                                            f"may be at most {MAX_FILE_BYTES // MB} MB")
    try:
        return raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return "", Problem(shown, line, 1, "", "not valid UTF-8 text; save the file as UTF-8")


def _header(header: list[str] | None, shown: str) -> list[Problem]:
    expected = ",".join(COLUMNS)
    if not header:
        return [Problem(shown, 1, 1, "", f"the file is empty; expected the header {expected}")]
    names = [h.strip() for h in header]
    out = [Problem(shown, 1, 1, "", f"missing column {c!r}; expected the header {expected}")
           for c in COLUMNS if c not in names]
    out += [Problem(shown, 1, 1, "", f"unknown column {n!r}{closest(n, COLUMNS) or f'; expected {expected}'}")
            for n in names if n not in COLUMNS]
    return out


class _Row:
    """One data row of the file, checked field by field, each problem at its cell's column."""

    def __init__(self, shown: str, line: int, raw: str, cells: list[str], index: dict[str, int]) -> None:
        self.shown, self.line, self.cells, self.index = shown, line, cells, index
        self.cols = _columns(raw)
        self.problems: list[Problem] = []

    def bad(self, field: str, message: str) -> None:
        k = self.index.get(field, 0)
        col = self.cols[k] if k < len(self.cols) else 1
        self.problems.append(Problem(self.shown, self.line, col, field, message))

    def get(self, field: str) -> str:
        k = self.index[field]
        return self.cells[k].strip() if k < len(self.cells) else ""

    def check(self, scenario_ids: list[str] | None) -> Outcome | None:
        if len(self.cells) > len(self.index):
            self.problems.append(Problem(self.shown, self.line, 1, "", f"expected {len(self.index)} cells "
                                         f"({', '.join(self.index)}), got {len(self.cells)}"))
        start = self._date("start", required=True)
        end = self._date("end", required=False)
        if start and end and end < start:
            self.bad("end", f"{end} is before the start of the period ({start})")
        scenario = self.get("scenario")
        if not scenario:
            self.bad("scenario", "expected the id of the scenario that held during the period")
        elif scenario_ids is not None and scenario not in scenario_ids:
            hint = closest(scenario, scenario_ids) or f"; expected one of: {', '.join(scenario_ids)}"
            self.bad("scenario", f"unknown scenario {scenario!r}{hint}")
        url = self.get("source_url")
        if not _is_http(url):
            self.bad("source_url", f"expected the http(s) address of the published chronology, got {url!r}")
        if self.problems or start is None:
            return None
        return Outcome(start=start.isoformat(), end=end.isoformat() if end else None, scenario=scenario,
                       source_url=url, note=self.get("note"))

    def _date(self, field: str, required: bool) -> dt.date | None:
        text = self.get(field)
        if not text:
            if required:
                self.bad(field, "expected a date as YYYY-MM-DD, got nothing")
            return None
        try:
            if not DATE_RX.fullmatch(text):
                raise ValueError(text)
            return dt.date.fromisoformat(text)
        except ValueError:
            what = " (leave it empty for a period still going on)" if field == "end" else ""
            self.bad(field, f"expected a date as YYYY-MM-DD{what}, got {text!r}")
            return None


def _is_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _columns(raw: str) -> list[int]:
    """1-based column where each cell of a CSV line starts (quotes respected)."""
    cols, quoted = [1], False
    for k, ch in enumerate(raw):
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            cols.append(k + 2)
    return cols


def _overlaps(rows: list[tuple[int, Outcome]], shown: str) -> list[Problem]:
    """Each period that starts before the previous one (by start) has ended, at its own line."""
    out = []
    ordered = sorted(rows, key=lambda r: (r[1].start, r[0]))
    for (line_a, a), (line_b, b) in zip(ordered, ordered[1:], strict=False):
        if a.end is None or b.start <= a.end:
            until = f"to {a.end}" if a.end else "still going on"
            out.append(Problem(shown, line_b, 1, "start",
                               f"the period from {b.start} ({b.scenario}) overlaps the one on line {line_a} "
                               f"({a.scenario}, from {a.start} {until}); periods may not overlap"))
    return out
