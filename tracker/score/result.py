"""What one scoring call produces: the pack's numbers as arrays (Model) and everything the
reports, the trend call and what-if read (Result). Its own module so that the trend call can
read a Result without importing the scorer that makes one."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tracker.config import Scoring
from tracker.pack.types import Pack
from tracker.score import features

LN2 = math.log(2.0)


@dataclass
class Model:
    """The pack's numbers as arrays, built once per scoring call."""

    ids: list[str]
    scenarios: list[str]
    log_prior: np.ndarray                      # (S,)
    weight: np.ndarray                         # (I,) w_i · g_G
    half_life: np.ndarray                      # (I,) days; inf for ordinal
    stale_after: np.ndarray                    # (I,) days
    loglik: list[np.ndarray]                   # per indicator: (states, S)
    stall_rate: list[np.ndarray | None]        # ordinal: λ_s per day, else None
    stall_cap: np.ndarray                      # (I,) days
    ordinal: np.ndarray                        # (I,) bool


@dataclass
class Result:
    """Everything the reports need; computed once, rendered many ways."""

    pack: Pack
    model: Model
    grid: np.ndarray                           # (T,) datetime64[D]
    feats: dict[str, features.Feature]
    evidence: np.ndarray                       # (I, T, S) nats
    post: np.ndarray                           # (T, S)
    evidence_only: np.ndarray                  # (T, S)
    coverage: np.ndarray                       # (T,)
    fresh: np.ndarray                          # (I, T) bool
    window: int
    block: features.Block                      # the feats' arrays, (I, T) each
    cfg: Scoring = field(default_factory=Scoring)
    trend: list[dict | None] = field(default_factory=list)
    trend_ended: list[dict | None] = field(default_factory=list)
    """Per grid date: the call that ended there and why (trend.walk), else None."""
    flags: list[dict] = field(default_factory=list)
    """On the date scored: revisions, points held back, sources answering empty or failing
    (`{indicator, kind, date, detail}`, score/dataflags.py)."""
    short_history: dict[str, tuple[int, int]] = field(default_factory=dict)
    """At the last grid date, the numeric indicators with readings but no feature yet: (readings
    known, readings their transforms need), so that a view says how many more (issue 17)."""

    def __post_init__(self) -> None:
        self.rows, self.states = self.block.row, self.block.state
        self._totals: dict[int, np.ndarray] = {}
        self.ordinal = self.model.ordinal

    @property
    def as_of(self) -> pd.Timestamp:
        return pd.Timestamp(self.grid[-1])

    def evidence_total(self, t: int) -> np.ndarray:
        """(S,) the evidence summed over indicators at grid index t, computed once."""
        if t not in self._totals:
            self._totals[t] = self.evidence[:, t, :].sum(axis=0)
        return self._totals[t]

    def contributions(self, t: int) -> np.ndarray:
        """(I, S) bits: c_i(s) = (e_i(s) − mean_s e_i) / ln 2 (SCORING §6.8)."""
        e = self.evidence[:, t, :]
        return (e - e.mean(axis=1, keepdims=True)) / LN2

    def stall_bits(self, t: int) -> np.ndarray:
        """(I, S) centred bits of the stall term alone: the part of contributions(t) that comes
        from time without progress (ordinal indicators below their last level; 0 elsewhere).
        Computed as scoring.evidence_of computes it, so level bits = contributions − stall bits."""
        m = self.model
        out = np.zeros((len(m.ids), len(m.scenarios)))
        for i in np.flatnonzero(m.ordinal):
            state = int(self.states[i, t])
            if state < 0 or state >= len(m.loglik[i]) - 1:
                continue
            days = float((self.grid[t] - self.block.since[i, t]).astype("timedelta64[D]").astype(np.int64))
            e = -m.weight[i] * min(days, float(m.stall_cap[i])) * m.stall_rate[i]
            out[i] = (e - e.mean()) / LN2
        return out

    def prior_bits(self) -> np.ndarray:
        lp = self.model.log_prior
        return (lp - lp.mean()) / LN2

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.post, index=pd.DatetimeIndex(self.grid), columns=self.model.scenarios)
