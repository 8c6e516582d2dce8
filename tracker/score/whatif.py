"""What would change the call: single signpost changes of state (and the best pair) that
would flip the leading scenario or the trend (SCORING §6.8, the ACH sensitivity step)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tracker.score.result import Result
from tracker.score.scoring import posterior_with, softmax


def _candidates(result: Result, t: int):
    """Every (indicator index, id, from state, to state, posterior) for one changed state.

    A changed state is a fresh observation: numeric evidence at full weight (no decay), an
    ordinal level just reached (no stall)."""
    for i, (iid, f) in enumerate(result.feats.items()):
        ind = result.pack.indicators[iid]
        names = ind.state_names
        cur = int(f.state[t])
        for k, name in enumerate(names):
            if k == cur:
                continue
            post = posterior_with(result, t, i, result.model.loglik[i][k], result.model.weight[i])
            yield i, iid, (names[cur] if cur >= 0 else None), name, abs(k - cur) if cur >= 0 else 1, post


def watch_next(result: Result, t: int | None = None, limit: int = 5) -> list[dict[str, Any]]:
    """Smallest single changes that flip the lead or start/end a trend, nearest first."""
    t = len(result.grid) - 1 if t is None else t
    scen = result.model.scenarios
    lead = int(np.argmax(result.post[t]))
    w = t - result.window
    trend = result.trend[t] if result.trend else None
    out = []
    for _, iid, frm, to, dist, post in _candidates(result, t):
        flips = []
        new_lead = int(np.argmax(post))
        if new_lead != lead:
            flips.append(f"lead to {scen[new_lead]}")
        if w >= 0:
            dp = post - result.post[w]
            if trend is None:
                s = int(np.argmax(dp))
                if dp[s] >= result.cfg.min_shift:  # materiality only: one evaluation, not two
                    flips.append(f"{scen[s]} up {dp[s]:+.2f} over the window (trend threshold)")
            elif dp[scen.index(trend["scenario"])] < result.cfg.exit_shift:
                flips.append(f"ends trend to {trend['scenario']}")
        if flips:
            out.append({"indicator": iid, "from_state": frm, "to_state": to, "flips": "; ".join(flips),
                        "probabilities": {s: round(float(p), 4) for s, p in zip(scen, post, strict=True)},
                        "_rank": (dist, -float(post.max()))})
    out.sort(key=lambda r: r["_rank"])
    for r in out:
        del r["_rank"]
    return out[:limit]


def best_pair(result: Result, target: str, t: int | None = None) -> dict[str, Any] | None:
    """The two single changes that together move most toward `target` against the leader."""
    t = len(result.grid) - 1 if t is None else t
    scen = result.model.scenarios
    s = scen.index(target)
    lead = int(np.argmax(result.post[t]))
    if s == lead:
        return None
    best: dict[int, tuple[float, str, int]] = {}
    for i, _, _, to, _, post in _candidates(result, t):
        gain = float(np.log(post[s]) - np.log(post[lead]))
        if i not in best or gain > best[i][0]:
            best[i] = (gain, to, i)
    top = sorted(best.values(), reverse=True)[:2]
    if len(top) < 2:
        return None
    total = result.evidence[:, t, :].sum(axis=0)
    for _, to, i in top:
        k = result.pack.indicators[result.model.ids[i]].state_names.index(to)
        total = total - result.evidence[i, t, :] + result.model.weight[i] * result.model.loglik[i][k]
    post = softmax(total + result.model.log_prior)
    return {"changes": [{"indicator": result.model.ids[i], "to_state": to} for _, to, i in top],
            "probabilities": {x: round(float(p), 4) for x, p in zip(scen, post, strict=True)},
            "flips": bool(int(np.argmax(post)) == s)}
