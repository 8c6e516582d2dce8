"""What would change the call: single signpost changes of state (and the best pair) that
would flip the leading scenario, start a trend call or end the running one, judged against
today's call with the trend rule's own conditions (SCORING §6.8, the ACH sensitivity step)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tracker.score import trend
from tracker.score.result import LN2, Result
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


def watch_next(result: Result, t: int | None = None) -> list[dict[str, Any]]:
    """Every single change of state that would start, end or flip something, given today's
    call: the lead, a trend call to start, the running call to end. A change that would alter
    none of them is not listed (issue 14: an item "flipping B up" while B was already past the
    threshold told the analyst nothing). Nearest changes first, then the largest move."""
    t = len(result.grid) - 1 if t is None else t
    now = _Now(result, t)
    out = []
    for i, iid, frm, to, dist, post in _candidates(result, t):
        effects = now.effects(i, result.pack.indicators[iid].state_names.index(to), post)
        if effects:
            out.append({"indicator": iid, "from_state": frm, "to_state": to,
                        "flips": "; ".join(label(e) for e in effects), "effects": effects,
                        "probabilities": {s: round(float(p), 4) for s, p in zip(now.scen, post, strict=True)},
                        "_rank": (dist, -float(np.abs(post - result.post[t]).max()))})
    out.sort(key=lambda r: r["_rank"])
    for r in out:
        del r["_rank"]
    return out


def label(effect: dict[str, Any]) -> str:
    """The words every view shows for an effect (score, --json's `flips`, digest, explain)."""
    s = effect["scenario"]
    if effect["kind"] == "lead":
        return f"lead to {s}"
    if effect["kind"] == "ends":
        why = {"reversed": " (reversed)", "unqualified": " (it would not be called today)"}
        return f"ends trend to {s}" + why.get(effect["reason"], "")
    return f"starts trend to {s}" + ("" if effect["when"] == "now" else " if it holds next week")


class _Now:
    """Today's state, against which a hypothetical change is judged."""

    def __init__(self, result: Result, t: int) -> None:
        self.result, self.t, self.scen = result, t, result.model.scenarios
        self.lead = int(np.argmax(result.post[t]))
        self.w = t - result.window
        self.call = result.trend[t] if result.trend else None
        self.here = trend.check_at(result, t)
        self.prev = trend.check_at(result, t - 1) if t > 0 else None
        if self.w >= 0:
            self.delta, self.new = trend.moves(result, t)
            self.before = result.contributions(self.w)

    def effects(self, i: int, k: int, post: np.ndarray) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if int(np.argmax(post)) != self.lead:
            out.append({"kind": "lead", "scenario": self.scen[int(np.argmax(post))]})
        if self.w < 0:
            return out
        hyp = self._check(i, k, post)
        if self.call is None:
            pending = self.here is not None and self.here.ok and self.here.scenario == hyp.scenario
            if hyp.ok and not pending:
                out.append(self._start(hyp))
            return out
        s = self.scen.index(self.call["scenario"])
        if hyp.ok and hyp.scenario != s:
            if self._holds(hyp):             # another scenario's call today supersedes this one
                out.append({"kind": "ends", "scenario": self.scen[s], "reason": "superseded"})
            out.append(self._start(hyp))
        elif self._index(self.call["since"]) >= self.t:   # called today: only because today qualified
            if not (hyp.ok and hyp.scenario == s and self._holds(hyp)):
                out.append({"kind": "ends", "scenario": self.scen[s], "reason": "unqualified"})
        elif self._reversed(s, hyp, post):
            out.append({"kind": "ends", "scenario": self.scen[s], "reason": "reversed"})
        return out

    def _check(self, i: int, k: int, post: np.ndarray) -> trend.Check:
        """The entry conditions at t had indicator i a fresh observation in state k."""
        r = self.result
        e = r.model.weight[i] * r.model.loglik[i][k]
        coverage = float(r.coverage[self.t])
        if not r.fresh[i, self.t]:
            coverage += float(r.model.weight[i] / max(r.model.weight.sum(), 1e-12))
        # Row i changed in place and put back, not the arrays copied for each of the pack's
        # thousands of candidates (which made this grow with the square of the pack).
        kept, was_new = self.delta[i].copy(), self.new[i]
        self.delta[i], self.new[i] = (e - e.mean()) / LN2 - self.before[i], True
        try:
            return trend.assess(post - r.post[self.w], self.delta, self.new, coverage, r.cfg)
        finally:
            self.delta[i], self.new[i] = kept, was_new

    def _holds(self, hyp: trend.Check) -> bool:
        """Would `hyp` be the second qualifying evaluation in a row (a call today)?"""
        return trend.qualifies(hyp, self.prev)

    def _start(self, hyp: trend.Check) -> dict[str, Any]:
        return {"kind": "starts", "scenario": self.scen[hyp.scenario],
                "when": "now" if self._holds(hyp) else "next week"}

    def _reversed(self, s: int, hyp: trend.Check, post: np.ndarray) -> bool:
        """Would the running call end at t as trend.walk ends it (fallen back from its peak)?"""
        r, since = self.result, self._index(self.call["since"])
        if hyp.ok and hyp.scenario == s and self._holds(hyp):
            return False                     # a rise that still qualifies is no reversal
        return bool(post[s] <= r.post[since:self.t, s].max() - r.cfg.exit_shift)

    def _index(self, day: str) -> int:
        days = self.result.grid.astype("datetime64[D]")
        return int(np.searchsorted(days, np.datetime64(day, "D")))


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
