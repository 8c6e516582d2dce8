"""Where each row came from: the `source_url` every connector stores on the rows it returns.

A person must be able to open it: the API query that fetched the row (with its parameters), the
dataset's own page where that is more use, or the file or database a row was read from. Two
rules follow from the store:
- never a secret: every URL goes through `http.redact_url` (key-like parameters and passwords as
  ***), since the store's text is printed, exported and mailed;
- stable: the content hash of a vintage covers `source_url`, so a URL must not change from one
  fetch to the next when the data do not (no "now", no page number, no window that moves): the
  same answer must give the same vintage and write nothing.
A row that names its own source (a `source_url` or `url` column in a table) keeps it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd


def query_url(url: str, params: Mapping[str, Any] | None = None) -> str:
    """The URL a GET with these params asks for, with its secrets masked."""
    from tracker.sources.http import full_url, redact_url  # requests, only for sources that use it

    return redact_url(full_url(url, params))


def stamp(frame: pd.DataFrame, url: str) -> pd.DataFrame:
    """Every row without a source of its own gets `url` (one value: a long file costs nothing)."""
    if frame.empty:
        return frame
    if "source_url" not in frame:
        return frame.assign(source_url=pd.Series(url, index=frame.index, dtype="str"))
    return _keep_own(frame, url)


def stamp_by_date(frame: pd.DataFrame, url_of: Callable[[pd.Timestamp], str]) -> pd.DataFrame:
    """Every row without a source of its own gets `url_of(its date)`."""
    if frame.empty:
        return frame
    return _keep_own(frame, pd.Series([url_of(day) for day in frame["date"]], index=frame.index, dtype="str"))


def _keep_own(frame: pd.DataFrame, urls: pd.Series | str) -> pd.DataFrame:
    if "source_url" not in frame:
        return frame.assign(source_url=urls)
    own = frame["source_url"]
    return frame.assign(source_url=own.where(own.notna() & (own.astype("str").str.strip() != ""), urls))
