"""`tracker observe`: an analyst records what happened (a level reached, a figure said), with
its date, source and note, as a new vintage of the indicator."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from tracker.errors import InputError
from tracker.pack.types import Pack
from tracker.service import parse_day
from tracker.store.db import Base, Store, utcnow
from tracker.suggest import closest


def record(pack: Pack, store: Store, indicator: str, value: str, date: str, url: str, note: str,
           published: str | None = None, today: dt.date | None = None, override: bool = False) -> str:
    """Validate and store one observation; return the confirmation line."""
    today = today or dt.date.today()
    if indicator not in pack.indicators:
        raise InputError(f"unknown indicator {indicator!r}{closest(indicator, pack.indicators)}")
    ind = pack.indicators[indicator]
    live = ind.source.kind != "manual"
    if live and not override:
        # A value typed over a fetched series went in without a word (issue 17, item 4).
        raise InputError(f"{indicator} is fetched from its source ({ind.source.kind}), not recorded by hand; "
                         "add --override to record this value anyway (the next `tracker ingest` may supersede it)")
    day = parse_day(date, today, "--date")
    pub = parse_day(published, today, "--published") if published else today
    if pub < day:
        raise InputError(f"--published {pub} is before --date {day}")
    if not url.strip().lower().startswith(("http://", "https://")):
        raise InputError("--url: expected the http(s) address of the source")
    if not note.strip():
        raise InputError("--note: say in a sentence what happened")
    row = {"date": pd.Timestamp(day), "value": math.nan, "level": None, "published": pd.Timestamp(pub),
           "source_url": url.strip(), "note": note.strip()}
    if ind.kind == "ordinal":
        if value not in ind.levels:
            raise InputError(f"unknown level {value!r} for {indicator}{closest(value, ind.levels)}; "
                             f"expected one of: {', '.join(ind.levels)}")
        row["level"] = value
    else:
        try:
            row["value"] = float(value)
        except ValueError:
            raise InputError(f"{indicator} takes a number, got {value!r}") from None
        if not math.isfinite(row["value"]):
            raise InputError(f"{indicator} takes a finite number, got {value!r}")
    def with_row(snapshot: pd.DataFrame) -> pd.DataFrame:
        snapshot = snapshot[snapshot["date"] != row["date"]]
        return pd.concat([snapshot, pd.DataFrame([row])], ignore_index=True).sort_values("date", ignore_index=True)

    snapshot, head = store.latest_with_head(indicator)
    what = row["level"] or row["value"]
    if not store.write_vintage(indicator, with_row(snapshot), fetched_at=utcnow(), origin="observe",
                               base=Base(head, with_row)):
        return f"Already recorded: {indicator} = {what} on {day}; nothing changed."
    warning = (f" The next `tracker ingest` may supersede it: {indicator} is fetched from its source "
               f"({ind.source.kind}).") if live else ""
    return f"Recorded {indicator} = {what} on {day} (published {pub}), source {url.strip()}.{warning}"
