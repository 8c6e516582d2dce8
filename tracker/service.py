"""The few steps every command shares: read the config, load the pack, open the store
(seeding it on first use), and score as of a date."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tracker.config_types import Config, find_config
from tracker.errors import InputError
from tracker.pack_types import Pack
from tracker.store import Store


@dataclass
class Context:
    config: Config
    pack: Pack

    def store(self) -> Store:
        """Open the store; an empty one is seeded from the pack's seeds first."""
        from tracker.seeds import load_seeds

        store = Store(self.config.store_path)
        load_seeds(store, self.pack)
        return store


def load(config_path: str | None, pack_dir: str | None = None) -> Context:
    from tracker import load_cache

    return Context(*load_cache.load(find_config(config_path), Path(pack_dir) if pack_dir else None))


def parse_day(text: str | None, today: dt.date | None = None, flag: str = "") -> dt.date:
    """--as-of and friends: YYYY-MM-DD, never in the future. `flag` names the option in the
    message when a command takes more than one date."""
    today = today or dt.date.today()
    if text is None:
        return today
    try:
        day = dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise InputError(f"{flag + ': ' if flag else ''}expected a date as YYYY-MM-DD, got {text!r}") from None
    if day > today:
        raise InputError(f"{flag + ' ' if flag else ''}{day} is in the future; "
                         "the tracker only knows what has been published")
    return day


def score(ctx: Context, store: Store, day: dt.date, weeks: int | None = None, window: str | None = None):
    from tracker import scoring

    cfg = ctx.config.scoring if window is None else dataclasses.replace(ctx.config.scoring, window=window)
    history = store.vintages_until(day)
    return scoring.score(ctx.pack, history, pd.Timestamp(day), cfg, weeks=weeks)
