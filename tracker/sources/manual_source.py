"""`manual`: observations recorded by `tracker observe`, straight into the store.

Nothing to fetch, so the nightly run treats a manual indicator like any other and simply gets
no new rows; the frame is ordinal-shaped because manual signposts are ordinal.
"""

from __future__ import annotations

import pandas as pd

from tracker.pack.types import ManualSource
from tracker.sources import FetchContext
from tracker.sources.file_source import empty

CONDITIONAL = ""
"""Nothing is fetched (`tracker sources` lists only the sources that are)."""


def fetch(spec: ManualSource, ctx: FetchContext) -> pd.DataFrame:
    return empty(level=True)
