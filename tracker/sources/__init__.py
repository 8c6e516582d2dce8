"""Fetching: the HTTP layer, one module per source kind, and ingest, which writes what they fetch as vintages.
May import: the store, the pack and the shared modules. Sources never score: never scoring, operations or views.
The pack, the store and scoring must never import it.

Each source kind is a module with `fetch(spec, ctx) -> DataFrame`.

The contract every kind keeps:
- `spec` is the indicator's validated `source:` record (tracker.pack.types).
- The returned frame has a `date` column (naive, normalised datetime64) and either a float
  `value` column or a text `level` column; optionally `published` (naive datetime64),
  `source_url` and `note`. Rows are sorted by date, one row per date.
- Any failure raises SourceError with a message that names the source and what was wrong;
  a fetch whose every request was answered 304, or with the body parsed last time, raises
  NotModified (tracker.sources.conditional). A message quotes a file or an answer only through
  tracker.sources.excerpt (short, printable, secrets masked).
- A source that answered but holds nothing (no series, no rows, an empty body) returns an empty
  frame, never an error: ingest records it as `empty` (tracker.store.sourcelog).
- Every row carries a `source_url` a person can open: the query that fetched it (keys masked),
  the dataset's page, or the file or database (tracker.sources.provenance).
- A `file` source reads only inside `base_dirs` and `data_dirs` (file_source.resolve).
- Network access only through `ctx.http` (tracker.sources.http), never `requests` directly.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tracker.errors import TrackerError


class SourceError(TrackerError):
    """One source failed; the others go on (exit 3 at the end of the run)."""

    exit_code = 3


class NotModified(Exception):
    """Every request of a fetch was answered 304, or with the very body parsed last time
    (tracker.sources.conditional): nothing new to store, nothing to parse."""

    def __init__(self, message: str = "", how: str = "not_modified") -> None:
        super().__init__(message)
        self.how = how
        """`not_modified` (304) or `same_body` (a server that ignores validators sent the same bytes)."""


@dataclass
class FetchContext:
    http: Any
    """tracker.sources.http.HttpClient: timeouts, retries, rate limits, size cap, conditional GET."""
    base_dirs: list[Path]
    """Folders a relative `file` path is looked up in, in order (the config's and the pack's)."""
    data_dirs: list[Path] = field(default_factory=list)
    """Further folders a `file` source may read in (config.yaml's `data_dirs:`); none other."""
    keys: Mapping[str, str] = field(default_factory=dict)
    """API keys by the name a source's `api_key:` gives, already read from the environment."""
    env: Mapping[str, str] = field(default_factory=dict)
    validators: dict[str, dict[str, str]] = field(default_factory=dict)
    """Request key (its URL, keys masked) -> {"etag", "last_modified", "sha256" of the body} from the
    last successful fetch; read and replaced by tracker.sources.conditional."""
    indicator: str = ""
    since: dt.date | None = None
    """The last date already stored: a source may fetch only recent periods (ingest overlays them)."""


def fetcher(kind: str) -> Any:
    """The module for a source kind, imported only when that kind is fetched."""
    return importlib.import_module(f"tracker.sources.{kind}_source")


def fetch(spec: Any, ctx: FetchContext) -> pd.DataFrame:
    return fetcher(spec.kind).fetch(spec, ctx)
