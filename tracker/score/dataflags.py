"""The `flags` of a scoring: what in the data deserves a second look before the call is believed.

Kinds, in the order they are listed: `unconfirmed` (a point held back as a likely data fault,
holdback.py), `revised` (a vintage fetched in the last week changed past values, revisions.py),
`failing` and `empty` (a source's record, which service.py reads from the store and passes in).
Each is `{indicator, kind, date, detail}`; a revision that changed a past state also carries
`past_state` {period, from, to, line}.

`Watch` does the work while scoring reads the series one indicator at a time: it keeps only the
few indicators that have a held point (their series are needed again once every indicator's state
is known, for corroboration) and each indicator's newest recent revision.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracker.pack.series import Series
from tracker.pack.types import Pack
from tracker.score import features, holdback, revisions, transforms
from tracker.score.result import Model

KINDS = ("unconfirmed", "revised", "failing", "empty")


class Watch:
    def __init__(self, pack: Pack, checks: holdback.Checks, grid: np.ndarray,
                 lookup: transforms.Lookup | None) -> None:
        self.pack, self.checks, self.grid, self.lookup = pack, checks, grid, lookup
        self.held: dict[str, tuple[Series, list[holdback.Held]]] = {}
        self.revised: dict[str, revisions.Revision] = {}

    def read(self, iid: str, series: Series) -> np.ndarray | None:
        """Look at one indicator's series; return the rows' release days for features.compute
        (None when nothing is held back, the usual case)."""
        ind = self.pack.indicators[iid]
        rev = revisions.recent(ind, series, self.grid[-1], self.lookup)
        if rev is not None:
            self.revised[iid] = rev
        holds = holdback.find(ind, series, self.checks.reviews.get(iid, []), self.checks.faults, self.lookup)
        if not holds:
            return None
        self.held[iid] = (series, holds)
        return holdback.release_days(series, holds)

    def settle(self, block: features.Block, model: Model, feats: dict[str, features.Feature],
               place: dict[str, int]) -> None:
        """Corroboration, once every indicator's state is known: a held point whose group mate
        moved the same way counts from that week (its feature computed again); then the held
        indicators keep only the rows they cite, as the others already do."""
        for iid, (series, holds) in self.held.items():
            i, ind = place[iid], self.pack.indicators[iid]
            unheld = features.compute(ind, series, self.grid, self.lookup)
            mates = [place[m] for m, other in self.pack.indicators.items() if other.group == ind.group and m != iid]
            if holdback.corroborate(i, holds, block.state[i].copy(), unheld.state, block.state, model.loglik,
                                    mates, model.ids, self.grid):
                _blank(block, i)
                feats[iid] = features.compute(ind, series, self.grid, self.lookup, block.feature(i, series),
                                              holdback.release_days(series, holds))
            feats[iid] = features.cited_only(feats[iid])

    def flags(self) -> list[dict[str, Any]]:
        as_of = self.grid[-1]
        inds = self.pack.indicators
        out = [holdback.flag(inds[iid], h) for iid, (_, holds) in self.held.items()
               for h in holds if h.current and h.release > as_of]
        out += [revisions.detail(inds[iid], rev) for iid, rev in self.revised.items()]
        out += [f for f in self.checks.health if f["indicator"] in inds]
        return sorted(out, key=lambda f: (KINDS.index(f["kind"]), f["indicator"], f["date"] or ""))


def _blank(block: features.Block, i: int) -> None:
    block.value[i] = np.nan
    block.ref[i] = np.datetime64("NaT")
    block.state[i] = -1
    block.row[i] = -1
    block.since[i] = np.datetime64("NaT")


def health_flags(logs: list[dict[str, Any]], eod: str) -> list[dict[str, Any]]:
    """`failing` and `empty` flags from the sources' records (store/sourcelog.py, as dicts): a
    record whose last attempt came after `eod` (the end of the day scored) is not shown, so a
    score of a past date never shows what was not known then."""
    out = []
    for log in logs:
        if not log.get("last_attempt") or log["last_attempt"] > eod:
            continue
        new = _day(log.get("last_new"))
        if log.get("last_status") == "failed":
            n = log.get("failures") or 1
            error = f": {log['last_error']}" if log.get("last_error") else ""
            out.append({"indicator": log["indicator"], "kind": "failing", "date": _day(log["last_attempt"]),
                        "detail": f"{n} failed fetch{'es' if n != 1 else ''} in a row; last success "
                                  f"{_day(log.get('last_fetched'))}; last new data {new}{error}"})
        elif log.get("last_status") == "empty":
            n = log.get("empty_nights") or 1
            out.append({"indicator": log["indicator"], "kind": "empty",
                        "date": _day(log.get("empty_since") or log["last_attempt"]),
                        "detail": f"answered with no data on {n} night{'s' if n != 1 else ''} in a row; "
                                  f"last new data {new}"})
    return out


def _day(instant: str | None) -> str:
    return instant[:10] if instant else "never"
