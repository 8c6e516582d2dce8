"""Probability forecasts scored against what happened (SCORING §5): the multi-category Brier score,
the log score, the same for two reference forecasts, skill, and a reliability table.

Pure functions of arrays: `post` is (dates, scenarios), `truth` the index of the scenario that
held on each date (every date here has one; the caller drops the others).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

LOG_FLOOR = 1e-3
"""The log score floors p at 1e-3 (SCORING §5): one confident miss costs at most ~10 bits,
instead of an infinite score that would swamp every other date."""
BINS = 10


def brier(post: np.ndarray, truth: np.ndarray) -> float:
    """Mean over dates of Σ_k (p_k − o_k)², from 0 (perfect) to 2 (certain and wrong)."""
    if not len(truth):
        return math.nan
    hot = np.zeros_like(post)
    hot[np.arange(len(truth)), truth] = 1.0
    return float(((post - hot) ** 2).sum(axis=1).mean())


def log_score(post: np.ndarray, truth: np.ndarray) -> float:
    """Mean over dates of −log₂ p(the scenario that held), in bits; lower is better."""
    if not len(truth):
        return math.nan
    p = post[np.arange(len(truth)), truth]
    return float(-np.log2(np.maximum(p, LOG_FLOOR)).mean())


def base_rates(truth: np.ndarray, k: int) -> np.ndarray:
    """How often each scenario held over the dates scored: the climatology forecast. It is
    in-sample (it knows the whole period's frequencies), so beating it is the harder test."""
    counts = np.bincount(truth, minlength=k).astype(float)
    return counts / max(counts.sum(), 1.0)


def skill(score: float, reference: float) -> float | None:
    """1 − score / reference: 1 perfect, 0 no better than the reference, negative worse."""
    if not (math.isfinite(score) and math.isfinite(reference)) or reference == 0:
        return None
    return 1.0 - score / reference


def scores(post: np.ndarray, truth: np.ndarray, prior: np.ndarray) -> dict[str, Any]:
    """Brier and log score of the model, the stated priors and the base rate, and skill."""
    n, k = post.shape
    rates = base_rates(truth, k)
    refs = {"prior": np.tile(prior, (n, 1)), "base_rate": np.tile(rates, (n, 1))}
    out: dict[str, Any] = {"model": {"brier": brier(post, truth), "log": log_score(post, truth)}}
    for name, ref in refs.items():
        out[name] = {"brier": brier(ref, truth), "log": log_score(ref, truth)}
    out["skill"] = {f"{metric}_vs_{name}": skill(out["model"][metric], out[name][metric])
                    for name in refs for metric in ("brier", "log")}
    return out


def reliability(post: np.ndarray, truth: np.ndarray, bins: int = BINS) -> list[dict[str, Any]]:
    """Forecasts pooled over every (date, scenario) pair, in equal-width bins of probability:
    how often the scenario held when it was given about that probability. A calibrated model
    has `observed` close to `mean_forecast` in every bin with enough `count`."""
    n, k = post.shape
    p = post.ravel()
    hit = np.zeros((n, k))
    hit[np.arange(n), truth] = 1.0
    o = hit.ravel()
    which = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        m = which == b
        count = int(m.sum())
        out.append({"lower": round(b / bins, 4), "upper": round((b + 1) / bins, 4), "count": count,
                    "mean_forecast": float(p[m].mean()) if count else None,
                    "observed": float(o[m].mean()) if count else None})
    return out
