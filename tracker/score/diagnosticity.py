"""Realised diagnosticity: what each indicator actually contributed toward the scenario that held.

The lint's row spread (pack/lint.py) says how much an indicator *could* tell the scenarios
apart; this says what it did over a backtest with known outcomes: the mean, over the dates
scored, of its centred contribution in bits (SCORING §6.8) to the scenario that held. Positive:
it earned its weight; negative: it misled. An indicator that never changed state over the
period told nothing new however large its bits, so those are listed apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracker.score.result import LN2, Result

NEUTRAL_BITS = 0.005
"""Below this mean (in either direction) an indicator neither earned nor misled."""


def realised(result: Result, dates: np.ndarray, truth: np.ndarray) -> list[dict[str, Any]]:
    """One row per indicator, most helpful first. `dates` are grid indices, `truth` the index
    of the scenario that held on each."""
    e = result.evidence[:, dates, :]
    bits = (e - e.mean(axis=2, keepdims=True)) / LN2                     # (I, N, S)
    toward = bits[:, np.arange(len(dates)), truth]                         # (I, N)
    states = result.states[:, dates]
    rows = []
    for i, iid in enumerate(result.model.ids):
        mean = float(toward[i].mean()) if len(dates) else 0.0
        changes = int((states[i, 1:] != states[i, :-1]).sum()) if len(dates) > 1 else 0
        rows.append({"indicator": iid, "name": result.pack.indicators[iid].name, "mean_bits": mean,
                     "verdict": verdict(mean), "state_changes": changes,
                     "with_data": float((states[i] >= 0).mean()) if len(dates) else 0.0})
    return sorted(rows, key=lambda r: -r["mean_bits"])


def verdict(mean_bits: float) -> str:
    if mean_bits > NEUTRAL_BITS:
        return "earned"
    return "misled" if mean_bits < -NEUTRAL_BITS else "neutral"
