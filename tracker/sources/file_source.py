"""`file`: a local CSV or XLSX table (seeds, analyst spreadsheets).

A file is the plainest table: csv, json and sql reduce to "records with a date column and a value
column" and reuse `tidy`, `finish` and the text and date helpers below, so that every kind reports
a bad cell the same way (which row, which value) and keeps the same frame contract.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import difflib
import functools
import hashlib
import io
import math
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tracker.pack.types import FileSource
from tracker.sources import FetchContext, NotModified, SourceError, excerpt
from tracker.sources.provenance import stamp

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", ".."})
NUMBER_RX = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
PERIOD_RXS = (  # period text -> pandas Period spelling and frequency
    (re.compile(r"^(\d{4})$"), "{0}", "Y"),
    (re.compile(r"^(\d{4})-?M(\d{2})$"), "{0}-{1}", "M"),
    (re.compile(r"^(\d{4})-(\d{2})$"), "{0}-{1}", "M"),
    (re.compile(r"^(\d{4})-?Q([1-4])$"), "{0}Q{1}", "Q"),
)
DATE_FORMS = "YYYY-MM-DD, YYYY-MM, YYYY-Qn or YYYY"
Record = tuple[str, Mapping[str, Any]]
"""A row of a source table: where it came from ("line 7", "row 3", "data[2]") and its cells."""


CONDITIONAL = "body hash"
"""No request to make conditional: a file whose bytes hash as when last read is not parsed
again, and unchanged rows write nothing (`tracker sources`)."""


def fetch(spec: FileSource, ctx: FetchContext) -> pd.DataFrame:
    """Rows without a source of their own are sourced to the path as the pack writes it (relative
    to the project, so the stored rows do not change when the project moves); an empty file is
    an answer with nothing in it."""
    what, key = f"file {spec.path}", f"file:{spec.path}"
    with labelled(what):
        path = resolve(spec.path, ctx.base_dirs, ctx.data_dirs)
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            _unless_same_bytes(ctx, key, path.read_bytes())
            columns, records = xlsx_records(path, spec.sheet)
        elif path.suffix.lower() in (".xls", ".ods"):
            raise SourceError(f"{path.suffix} workbooks are not read; save it as .xlsx or .csv")
        else:
            data = path.read_bytes()
            if not data.strip():
                return empty()
            _unless_same_bytes(ctx, key, data)
            plain = plain_csv(data, spec.date, spec.value, spec.scale)
            if plain is not None:
                return stamp(plain, spec.path)
            columns, records = csv_records(decode_text(data))
        return stamp(tidy(records, columns, date=spec.date, value=spec.value, scale=spec.scale), spec.path)


def _unless_same_bytes(ctx: FetchContext, key: str, data: bytes) -> None:
    """NotModified when the file holds the bytes read last time (ingest remembers the hash with
    the source spec and tracker version, so an edited pack is read again): 2,000 unchanged
    ten-year files were parsed, merged and hashed every night only to write nothing (issue 20)."""
    digest = hashlib.sha256(data).hexdigest()
    if (ctx.validators.get(key) or {}).get("sha256") == digest:
        raise NotModified(key, "same_body")
    ctx.validators.clear()
    ctx.validators[key] = {"sha256": digest}


def resolve(path: str, base_dirs: list[Path], data_dirs: Iterable[Path] = ()) -> Path:
    """The real path of a `file` source, which must lie inside a base or a data folder.

    A relative path is looked up in each base folder in turn (config's, then pack's); an
    absolute or `~` path is taken as it is. Either way it is resolved first (`..` and symbolic
    links followed) and must then lie inside a base folder or a `data_dirs:` folder: a pack
    from elsewhere must not read ~/.aws/credentials and have its first line echoed into an
    error that is printed, stored and mailed. A path outside is refused before anything
    opens it, exists or not, so the answer does not even tell whether such a file exists.
    """
    try:
        bases = [Path(b).resolve() for b in base_dirs] or [Path.cwd().resolve()]
        allowed = [*bases, *(Path(d).expanduser().resolve() for d in data_dirs)]
        given = Path(path).expanduser()
        for candidate in [given] if given.is_absolute() else [base / given for base in bases]:
            real = candidate.resolve()
            if not any(real.is_relative_to(folder) for folder in allowed):
                raise SourceError(f"outside the project folder and data_dirs, so it was not read; to allow "
                                  f"it, add {real.parent} to data_dirs: in config.yaml")
            if real.is_file():
                return real
    except (OSError, RuntimeError, ValueError) as exc:  # a link loop, an unknown ~user, a NUL in the path
        raise SourceError(f"cannot follow the path ({excerpt.text(exc)}); name a file in the project "
                          "folder or a data_dirs: folder") from None
    if given.is_absolute():
        raise SourceError(f"no such file: {given}")
    raise SourceError(f"not found in {', '.join(str(b) for b in bases)}")


# ---------------------------------------------------------------- reading tables

def decode_text(data: bytes, charset: str | None = None) -> str:
    """Text from bytes: the declared charset, else UTF-8 (with or without BOM) or UTF-16 with BOM."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        charset = "utf-16"
    encoding = charset or "utf-8-sig"
    try:
        return data.decode("utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding)
    except LookupError:
        raise SourceError(f"unknown character set {excerpt.cell(charset)}") from None
    except UnicodeDecodeError as exc:
        # exc.start counts from exc.object, which for utf-8-sig is the data after its BOM
        bad = exc.object
        line = bad[:exc.start].count(b"\n") + 1
        offset = exc.start + len(data) - len(bad)
        raise SourceError(f"not {_name(encoding)} text: byte 0x{bad[exc.start]:02x} on line {line} "
                          f"(offset {offset}); save the file as UTF-8") from None


def csv_records(text: str) -> tuple[list[str], list[Record]]:
    """Rows of a CSV as records labelled by line; a row with missing fields is refused, since
    that is what a truncated download looks like."""
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip() for h in next(reader, [])]
        if not any(header):
            raise SourceError("empty table: no header line")
        records: list[Record] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                hint = ": the data looks truncated" if len(row) < len(header) else ""
                raise SourceError(f"line {reader.line_num} has {len(row)} fields, the header has "
                                  f"{len(header)}{hint}")
            records.append((f"line {reader.line_num}", dict(zip(header, row, strict=True))))
    except csv.Error as exc:
        raise SourceError(f"malformed CSV near line {reader.line_num}: {excerpt.text(exc)}") from None
    return header, records


_MISSING_RX = "|".join(re.escape(m) for m in sorted(MISSING, key=len, reverse=True))
_CELL_RX = {  # what the fast path accepts in a cell: anything else goes to the general path
    "date": rb"\d{4}-\d{2}-\d{2}",
    "value": rb"[ \t]*(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?i:" + _MISSING_RX.encode() + rb"))[ \t]*",
    "published": rb"(?:\d{4}-\d{2}-\d{2})?",
    "text": rb"[^,\r\n]*",
}
_NA_VALUES = sorted({v for m in MISSING for v in (m, m.upper(), m.title())})


def plain_csv(data: bytes, date: str, value: str, scale: float = 1.0) -> pd.DataFrame | None:
    """The usual table, read by one regular expression and pandas' C parser: commas, no quotes,
    ISO days, plain numbers. The frame `tidy` would give, or None for anything else, which the
    general path reads, or refuses naming the line and the cell.

    The general path builds a dict and checks each cell in Python, ~10 µs a row: seven times
    the bare read_csv on a pack of 2,000 ten-year daily files (issue 20). Here the whole body is
    checked by one regular expression (a few ns a byte), the columns are parsed by read_csv, and
    tests/test_source_file.py holds both paths to the same frames."""
    first, _, body = data.partition(b"\n")
    first = first.rstrip(b"\r")
    header = [h.strip().decode("utf-8", "replace") for h in first.split(b",")]
    if (b'"' in data or data.startswith(b"\xef\xbb\xbf") or value == "level" or date == value
            or len(header) <= max(first.count(b";"), first.count(b"\t")) or len(set(header)) != len(header)
            or date not in header or value not in header or not _body_rx(tuple(header), date, value).fullmatch(body)):
        return None
    try:
        table = pd.read_csv(io.BytesIO(data), header=0, names=header, encoding="utf-8", keep_default_na=False,
                            dtype={h: float if h == value else str for h in header}, na_values={value: _NA_VALUES})
        kept = table[table[value].notna().to_numpy()]
        days = kept[date].to_numpy(dtype=str).astype("datetime64[D]")
        seen = _iso_days(kept["published"].to_numpy(dtype=str)) if "published" in kept else None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):  # 2024-02-30, an odd NA: the general path
        return None
    if not len(kept):
        return empty()
    url, fallback = _text_cells(kept, "source_url"), _text_cells(kept, "url")
    if url is not None and fallback is not None:
        url = [u or w for u, w in zip(url, fallback, strict=True)]
    return _columns_frame(days, kept[value].to_numpy(dtype="float64"), seen, url if url is not None else fallback,
                          _text_cells(kept, "note"), False, scale)


@functools.lru_cache(maxsize=256)
def _body_rx(header: tuple[str, ...] | list[str], date: str, value: str) -> re.Pattern[bytes]:
    cells = [_CELL_RX["date" if h == date else "value" if h == value else
                      "published" if h == "published" else "text"] for h in header]
    row = b",".join(cells)
    return re.compile(rb"(?:(?:" + row + rb"|[ \t]*)\r?\n)*(?:" + row + rb"|[ \t]*)")


def _iso_days(cells: np.ndarray) -> np.ndarray:
    """ISO days as datetime64[D], an empty cell as NaT."""
    return np.where(cells == "", "NaT", cells).astype("datetime64[D]")


def _text_cells(table: pd.DataFrame, column: str) -> list[str | None] | None:
    """A text column as the general path keeps it: as written, None where empty; None for a
    column the table lacks."""
    if column not in table:
        return None
    return [c or None for c in table[column].tolist()]


def xlsx_records(path: Path, sheet: str | None) -> tuple[list[str], list[Record]]:
    from openpyxl import load_workbook

    with warnings.catch_warnings():
        # openpyxl warns about Excel features it does not keep (data validation, styles).
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        # A damaged file fails inside openpyxl and zipfile in many ways (BadZipFile, zlib.error,
        # EOFError, NotImplementedError for an odd zip version, XML parse errors…), and in
        # read-only mode the sheet is only decompressed and parsed while its rows are iterated.
        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 — see above
            raise _unreadable(exc) from None
        try:
            if sheet is not None and sheet not in book.sheetnames:
                raise SourceError(f"no sheet {sheet!r} (sheets: {excerpt.names(book.sheetnames)})")
            if not book.worksheets:
                raise SourceError("the workbook has no worksheet")
            rows = (book[sheet] if sheet else book.worksheets[0]).iter_rows(values_only=True)
            try:
                header = ["" if c is None else str(c).strip() for c in next(rows, ())]
                records: list[Record] = [
                    (f"row {n}", dict(zip(header, row, strict=False)))
                    for n, row in enumerate(rows, start=2) if any(c not in (None, "") for c in row)]
            except Exception as exc:  # noqa: BLE001 — see above
                raise _unreadable(exc) from None
        finally:
            book.close()
    return header, records


def _unreadable(exc: BaseException) -> SourceError:
    return SourceError(f"not a readable .xlsx workbook ({type(exc).__name__}: {excerpt.text(exc)})")


# ---------------------------------------------------------------- cells

def to_float(cell: Any) -> float | None:
    """A number from a cell; None for a missing one; ValueError for anything else."""
    if cell is None or isinstance(cell, bool):
        if cell is None:
            return None
        raise ValueError
    if isinstance(cell, int | float | Decimal):
        number = float(cell)
        if math.isinf(number):  # JSON's 1e400 or Infinity: never a real observation
            raise ValueError
        return None if math.isnan(number) else number
    text = str(cell).strip()
    if text.lower() in MISSING:
        return None
    if not NUMBER_RX.match(text):
        raise ValueError
    return float(text)


def period_of(cell: Any) -> pd.Period | None:
    """The period a cell names: a year, quarter, month (also SDMX `2026-M03`) or day."""
    if isinstance(cell, dt.datetime | dt.date | pd.Timestamp):
        stamp = pd.Timestamp(cell)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return stamp.to_period("D")
    if isinstance(cell, int) and not isinstance(cell, bool) and 1000 <= cell <= 9999:
        return pd.Period(str(cell), "Y")
    if isinstance(cell, float) and cell.is_integer():
        return period_of(int(cell))
    text = str(cell).strip() if isinstance(cell, str) else ""
    for rx, spelling, freq in PERIOD_RXS:
        match = rx.match(text)
        if match:
            try:
                return pd.Period(spelling.format(*match.groups()), freq)
            except ValueError:  # shaped like a period but none: month 13, year 0
                return None
    try:
        return period_of(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def to_day(cell: Any) -> dt.date | None:
    """The day an observation is filed under: its period's last day (annual → YYYY-12-31)."""
    if isinstance(cell, dt.datetime):
        return (cell.astimezone(dt.UTC) if cell.tzinfo else cell).date()
    if isinstance(cell, dt.date):
        return cell
    if isinstance(cell, str):
        return _text_date(cell.strip())
    period = period_of(cell)
    return None if period is None else period.end_time.date()


@functools.lru_cache(maxsize=4096)
def _text_date(text: str) -> dt.date | None:
    """Fast path of `to_day` for text: tables are long, and most dates are plain ISO days."""
    if len(text) == 10:
        with contextlib.suppress(ValueError):
            return dt.date.fromisoformat(text)
    return _period_end(text)


def _period_end(text: str) -> dt.date | None:
    period = period_of(text)
    return None if period is None else period.end_time.date()


# ---------------------------------------------------------------- the frame

def tidy(records: Iterable[Record], columns: Iterable[str], *, date: str, value: str,
         scale: float = 1.0) -> pd.DataFrame:
    """Records → the contract frame; a bad cell is reported with its row and text.

    An ordinal table (levels, not numbers) is read when the value column is `level`, or when
    no `value` column exists but a `level` one does.
    """
    columns = list(columns)
    if value == "value" and "value" not in columns and "level" in columns:
        value = "level"
    for name in (date, value):
        if name not in columns:
            raise SourceError(f"no column {name!r}{_suggest(name, columns)} "
                              f"(columns: {excerpt.names(columns)})")
    rows = [row for label, rec in records if (row := _row(label, rec, date, value)) is not None]
    level = value == "level"
    if not rows:
        return empty(level=level)
    return _rows_frame(rows, level, scale)


def _rows_frame(rows: list[tuple[Any, ...]], level: bool, scale: float) -> pd.DataFrame:
    """The contract frame from `_row` tuples (day, value or level, published day, url, note)."""
    when, got, published, url, note = (list(column) for column in zip(*rows, strict=True))
    seen = np.array(published, dtype="datetime64[D]") if any(p is not None for p in published) else None
    return _columns_frame(np.array(when, dtype="datetime64[D]"),  # _row gives datetime.date, never None
                          got, seen, url, note, level, scale)


def _columns_frame(days: np.ndarray, got: Any, published: np.ndarray | None, url: list[Any] | None,
                   note: list[Any] | None, level: bool, scale: float) -> pd.DataFrame:
    """The contract frame from its columns, as building a DataFrame of the rows, dropping
    all-missing columns and calling `finish` would give it, but sorted and checked as numpy
    arrays with one DataFrame built at the end: each pandas step costs ~0.1–0.4 ms whatever the
    length, and a tracker fetches many short series on one GIL."""
    order = _date_order(days)
    data: dict[str, Any] = {"date": days[order].astype("datetime64[us]")}
    if level:
        data["level"] = _take(got, order)
    else:
        data["value"] = np.asarray(got, dtype="float64")[order] * scale
    if published is not None and not np.isnat(published).all():
        data["published"] = published[order].astype("datetime64[us]")
    for name, cells in (("source_url", url), ("note", note)):   # None: a column the table lacks
        if cells is not None and any(c is not None for c in cells):
            data[name] = _take(cells, order)
    frame = pd.DataFrame(data, copy=False)
    for name in ("source_url", "note", "level"):
        if name in frame:
            if name != "level" and frame[name].isna().all():  # NaN from JSON or SQL: missing too
                del frame[name]
            else:
                frame[name] = frame[name].astype("str")
    return frame


def _take(cells: list[Any], order: np.ndarray) -> list[Any]:
    """A list of cells in `order`, kept a list: numpy would turn list-valued cells into axes."""
    return [cells[i] for i in order.tolist()]


def _date_order(days: np.ndarray) -> np.ndarray:
    """The stable order that sorts `days`; SourceError if a date occurs twice (as `finish`)."""
    order = np.argsort(days, kind="stable")
    ordered = days[order]
    twice = ordered[1:] == ordered[:-1]
    if twice.any():
        day = ordered[1:][twice][0]
        raise SourceError(f"{int((days == day).sum())} rows dated {pd.Timestamp(day):%Y-%m-%d}; "
                          "expected one row per date")
    return order


def _row(label: str, rec: Mapping[str, Any], date: str, value: str) -> tuple[Any, ...] | None:
    cell = rec.get(value)
    if value == "level":
        got: Any = None if cell is None or str(cell).strip().lower() in MISSING else str(cell).strip()
    else:
        try:
            got = to_float(cell)
        except ValueError:
            raise SourceError(f"{excerpt.text(label)}: value {excerpt.cell(cell)} in column {value!r} "
                              "is not a number") from None
    if got is None:
        return None
    when = _date_cell(label, rec.get(date), date)
    if when is None:
        raise SourceError(f"{excerpt.text(label)}: no date in column {date!r} for value {excerpt.cell(cell)}")
    published = _date_cell(label, rec.get("published"), "published")
    url = rec.get("source_url") or rec.get("url")
    note = rec.get("note")
    return when, got, published, url or None, note or None


def _date_cell(label: str, cell: Any, column: str) -> dt.date | None:
    if cell is None or (isinstance(cell, str) and cell.strip().lower() in MISSING):
        return None
    when = to_day(cell)
    if when is None:
        raise SourceError(f"{excerpt.text(label)}: {excerpt.cell(cell)} in column {column!r} is not a date "
                          f"({DATE_FORMS})")
    return when


def finish(frame: pd.DataFrame, scale: float = 1.0) -> pd.DataFrame:
    """Sort by date, refuse two rows for one date, apply the scale, float values."""
    frame = frame.assign(date=pd.to_datetime(frame["date"]).astype("datetime64[us]").dt.normalize())
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    twice = frame["date"].duplicated(keep=False)
    if twice.any():
        day = frame.loc[twice, "date"].iloc[0]
        raise SourceError(f"{int((frame['date'] == day).sum())} rows dated {day:%Y-%m-%d}; "
                          "expected one row per date")
    if "value" in frame:
        frame["value"] = frame["value"].astype("float64") * scale
    return frame


def empty(level: bool = False) -> pd.DataFrame:
    column = ("level", pd.Series([], dtype="str")) if level else ("value", pd.Series([], dtype="float64"))
    return pd.DataFrame({"date": pd.Series([], dtype="datetime64[us]"), column[0]: column[1]})


@contextlib.contextmanager
def labelled(what: str) -> Iterator[None]:
    """Prefix every SourceError raised inside with the source it concerns.

    Lookup errors while walking an answer (a key or an index missing, a list where an object was
    expected) mean the server changed its format: they too become that source's failure, with the
    traceback kept as the cause for the log.
    """
    try:
        yield
    except SourceError as exc:
        if str(exc).startswith(f"{what}:"):
            raise
        raise SourceError(f"{what}: {exc}") from exc
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise SourceError(f"{what}: unexpected data ({type(exc).__name__}: {excerpt.text(exc)})") from exc


def _suggest(name: str, columns: list[str]) -> str:
    close = difflib.get_close_matches(name, [str(c) for c in columns], n=1)
    return f" (did you mean {excerpt.cell(close[0], excerpt.NAME_LIMIT)}?)" if close else ""


def _name(encoding: str) -> str:
    return "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8-sig", "utf-8", "utf8") else encoding
