"""`tracker export`: the observations known on a date, as CSV for spreadsheets.

Text that came from sources or analysts (notes, URLs, levels) is neutralised when it starts
like a spreadsheet formula (`=`, `+`, `-`, `@`, tab, carriage return): a leading apostrophe
keeps `=cmd|' /C calc'!A0` as text in Excel and LibreOffice (OWASP "CSV Injection")."""

from __future__ import annotations

import csv
import io
import math

import pandas as pd

from tracker.errors import InputError
from tracker.pack.types import Pack
from tracker.store.db import Store
from tracker.suggest import closest

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ["indicator", "date", "value", "level", "published", "source_url", "note"]


def safe_cell(value: object) -> object:
    """Numbers stay numbers; text that a spreadsheet would evaluate is quoted as text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def check_ids(ids: list[str], pack: Pack, store: Store) -> None:
    """Refuse an id that names no indicator, as `tracker observe` and `tracker ingest` do: an
    empty CSV would read as "nothing observed yet". One removed from the pack whose observations
    are still stored is known: they can still be exported."""
    unknown = [i for i in ids if i not in pack.indicators and not store.has_vintages(i)]
    if unknown:
        raise InputError("; ".join(f"unknown indicator {i!r}{closest(i, pack.indicators)}" for i in unknown))


def to_csv(frame: pd.DataFrame) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for rec in frame.reindex(columns=COLUMNS).itertuples(index=False, name=None):
        cells = [c.date().isoformat() if isinstance(c, pd.Timestamp) else c for c in rec]
        writer.writerow([safe_cell(c) for c in cells])
    return out.getvalue()
