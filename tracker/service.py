"""The few steps every command shares: read the config, load the pack, open the store
(seeding it on first use), and score as of a date."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tracker.config import Config, find_config
from tracker.errors import InputError
from tracker.pack.types import Outcome, Pack
from tracker.store.db import Store


@dataclass
class Context:
    config: Config
    pack: Pack

    def store(self) -> Store:
        """Open the store, seeded from the pack's seeds: an empty one first, and a seed file
        edited since it was loaded again, as a new vintage said in one line on stderr (where
        it never mixes with --json or CSV on stdout)."""
        from tracker.store.seeds import load_seeds

        store = Store(self.config.store_path)
        try:
            load_seeds(store, self.pack, notify=_say)
        except BaseException:
            store.close()
            raise
        return store


def _say(line: str) -> None:
    from tracker.text import escape_controls

    sys.stderr.write(escape_controls(line) + "\n")


def load(config_path: str | None, pack_dir: str | None = None) -> Context:
    from tracker.pack import load_cache

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


def replay(ctx: Context, store: Store, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    """The backtest: weekly rows from `first` to `last`, each seeing only what was known then."""
    from tracker.score import backtest

    result = score(ctx, store, last, weeks=backtest.weeks(ctx.config.scoring, first, last))
    return backtest.rows(result, first)


def evaluate(ctx: Context, store: Store, first: dt.date, last: dt.date,
             max_lead: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The backtest from `first` to `last` scored against the pack's outcomes: (Result, document)."""
    from tracker.durations import parse_days
    from tracker.score import backtest
    from tracker.score import evaluate as scoring_evaluate

    outcomes = known_outcomes(ctx)
    result = score(ctx, store, last, weeks=backtest.weeks(ctx.config.scoring, first, last))
    lead = dt.timedelta(days=parse_days(max_lead or ctx.config.scoring.max_lead, allow_zero=True))
    return result, scoring_evaluate.evaluate(result, outcomes, first, last, lead)


def known_outcomes(ctx: Context) -> list[Outcome]:
    """The pack's outcomes.csv, or one line saying that evaluating needs it."""
    if ctx.pack.outcomes is None:
        raise InputError(f"{ctx.pack.shown(ctx.pack.outcomes_path)}: no such file; tracker evaluate needs the "
                         "known outcomes beside scenarios.yaml (columns start,end,scenario,source_url,note)")
    return ctx.pack.outcomes


def score(ctx: Context, store: Store, day: dt.date, weeks: int | None = None, window: str | None = None):
    from tracker.score import scoring

    cfg = ctx.config.scoring if window is None else dataclasses.replace(ctx.config.scoring, window=window)
    checks = data_checks(ctx, store, day)
    with store.snapshot():     # the indicators read for share_of and the rest, from one state of the file
        return scoring.score(ctx.pack, lambda ids: store.series_until(day, ids), pd.Timestamp(day), cfg, weeks=weeks,
                             checks=checks)


def data_checks(ctx: Context, store: Store, day: dt.date) -> Any:
    """What scoring needs besides the series to hold back data faults and to flag them, as known
    at the end of `day`: the analysts' confirms and rejects, the (night, connector kind) of every
    failed fetch, and the `failing` and `empty` flags of the sources' records (issue 15)."""
    import numpy as np

    from tracker.score import dataflags, holdback
    from tracker.store import reviews, sourcelog
    from tracker.store.db import end_of_day

    eod = end_of_day(day)
    verdicts = {iid: [holdback.Verdict(np.datetime64(r.date, "D"), r.action, np.datetime64(r.at[:10], "D"), r.at,
                                       r.value, r.level) for r in found]
                for iid, found in reviews.until(store, eod).items()}
    kinds = {iid: ind.source.kind for iid, ind in ctx.pack.indicators.items()}
    faults = {(np.datetime64(night, "D"), kinds[iid]) for night, iid in sourcelog.failed_nights(store, eod)
              if iid in kinds}
    trouble = [iid for iid in sourcelog.in_trouble(store, eod) if kinds.get(iid, "manual") != "manual"]
    logs = [log.as_dict() for log in sourcelog.source_logs(store, trouble).values()] if trouble else []
    return holdback.Checks(verdicts, faults, dataflags.health_flags(logs, eod))
