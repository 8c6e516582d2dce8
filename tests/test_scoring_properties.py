"""Properties of the model that must hold for any pack and any data (SCORING §6.5–§6.8):
probabilities are a distribution, a non-diagnostic indicator is neutral, order is irrelevant,
evidence only fades with age, a group cannot be inflated by copies, and the explanation in
bits adds up to the centred log-posterior exactly. Packs and data are drawn by hypothesis;
observations go through a real store (one SQLite file per example)."""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packbuilder import checked_indicator, checked_scenarios, frame, numeric, ordinal, scenarios, utc

from tracker.config import Scoring
from tracker.pack.types import Pack
from tracker.score.scoring import score
from tracker.store.db import Store

AS_OF = pd.Timestamp("2024-06-28")
WEEKS = 60
FIRST = dt.date(2022, 6, 1)
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None   # tmpfs: no fsync cost per example
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

prob = st.floats(0.05, 1.0)
days = st.integers(0, (AS_OF.date() - FIRST).days)


@st.composite
def packs(draw: Any, min_inds: int = 1, max_inds: int = 4) -> dict[str, Any]:
    """A pack as plain data: scenarios, groups, indicators (with their observations)."""
    k = draw(st.integers(2, 4))
    scen = "ABCD"[:k]
    raw = [draw(prob) for _ in scen]
    priors = {s: r / sum(raw) for s, r in zip(scen, raw, strict=True)}
    groups = {g: draw(st.floats(0.1, 1.0)) for g in ("g1", "g2")}
    inds = []
    for n in range(draw(st.integers(min_inds, max_inds))):
        iid = f"i{n}"
        group = draw(st.sampled_from(sorted(groups)))
        rows = draw(st.lists(st.tuples(days, st.integers(0, 60), st.floats(-20, 20)), min_size=1, max_size=6,
                             unique_by=lambda r: r[0]))
        weight = draw(st.floats(0.1, 1.0))
        if draw(st.integers(0, 3)) == 0:
            levels = ["l0", "l1", "l2"]
            lik = {lv: {s: draw(prob) for s in scen} for lv in levels}
            pace = {s: f"{draw(st.integers(30, 720))}d" for s in scen}
            doc = ordinal(iid, group, levels, lik, pace, weight=weight)
            obs = [{"date": FIRST + dt.timedelta(d), "level": levels[int(abs(v)) % 3],
                    "published": FIRST + dt.timedelta(d + lag)} for d, lag, v in rows]
        else:
            states = [{"name": "lo", "below": -5}, {"name": "mid", "below": 5}, {"name": "hi"}]
            lik = {st_["name"]: {s: draw(prob) for s in scen} for st_ in states}
            doc = numeric(iid, group, states, lik, weight=weight, half_life=f"{draw(st.integers(20, 400))}d",
                          stale_after=f"{draw(st.integers(20, 400))}d")
            obs = [{"date": FIRST + dt.timedelta(d), "value": v, "published": FIRST + dt.timedelta(d + lag)}
                   for d, lag, v in rows]
        inds.append((doc, obs))
    return {"priors": priors, "groups": groups, "indicators": inds}


def run(*specs: dict[str, Any], cfg: Scoring | None = None) -> Any:
    """Build each spec's Pack and score it from one store that holds every indicator's
    observations as a seed vintage (an id means the same data in every spec)."""
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp, Store(Path(tmp) / "t.db") as store:
        written: set[str] = set()
        for spec in specs:
            for doc, obs in spec["indicators"]:
                if doc["id"] in written:
                    continue
                written.add(doc["id"])
                rows = frame(sorted(obs, key=lambda r: r["date"]))
                first = str(rows["published"].min().date())
                store.write_vintage(doc["id"], rows, fetched_at=utc(first, hour=0), origin="seed")
        history = store.vintages_until(AS_OF.date())
    out = []
    for spec in specs:
        ss = checked_scenarios(scenarios(spec["priors"], spec["groups"]))
        inds = {doc["id"]: checked_indicator(doc) for doc, _ in spec["indicators"]}
        pack = Pack(Path("."), ss, dict(sorted(inds.items())))
        out.append(score(pack, history, AS_OF, cfg or Scoring(), weeks=WEEKS))
    return out[0] if len(out) == 1 else out


def clr2(p: np.ndarray) -> np.ndarray:
    lp = np.log2(p)
    return lp - lp.mean(axis=-1, keepdims=True)


@SETTINGS
@given(packs())
def test_probabilities_are_a_distribution_at_every_date(spec: dict[str, Any]) -> None:
    r = run(spec)
    for p in (r.post, r.evidence_only):
        assert p.shape == (WEEKS + 1, len(spec["priors"]))
        assert ((p >= 0) & (p <= 1)).all()
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert ((r.coverage >= 0) & (r.coverage <= 1 + 1e-12)).all()


@SETTINGS
@given(packs())
def test_contributions_add_up_to_the_centred_log_posterior(spec: dict[str, Any]) -> None:
    r = run(spec)
    c = np.stack([r.contributions(t) for t in range(len(r.grid))])      # (T, I, S)
    np.testing.assert_allclose(r.prior_bits() + c.sum(axis=1), clr2(r.post), rtol=0, atol=1e-9)
    np.testing.assert_allclose(c.sum(axis=2), 0.0, rtol=0, atol=1e-9)   # each row is centred


@SETTINGS
@given(packs(), st.lists(st.floats(0.01, 5.0), min_size=3, max_size=3),
       st.lists(st.tuples(days, st.floats(-20, 20)), min_size=1, max_size=5, unique_by=lambda r: r[0]))
def test_equal_likelihoods_change_nothing(spec: dict[str, Any], rows: list[float], obs: list[Any]) -> None:
    """An indicator whose every row is the same for all scenarios (in its own group) is neutral."""
    scen = list(spec["priors"])
    states = [{"name": "lo", "below": -5}, {"name": "mid", "below": 5}, {"name": "hi"}]
    lik = {st_["name"]: dict.fromkeys(scen, c) for st_, c in zip(states, rows, strict=True)}
    flat = numeric("flat", "g-flat", states, lik, half_life="50d")
    flat_obs = [{"date": FIRST + dt.timedelta(d), "value": v} for d, v in obs]
    more = {**spec, "groups": {**spec["groups"], "g-flat": 1.0},
            "indicators": [*spec["indicators"], (flat, flat_obs)]}
    base, r = run(spec, more)
    np.testing.assert_allclose(r.post, base.post, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.evidence_only, base.evidence_only, rtol=0, atol=1e-12)
    assert np.abs(r.contributions(len(r.grid) - 1)[list(r.model.ids).index("flat")]).max() < 1e-12


@SETTINGS
@given(packs(min_inds=2), st.randoms(use_true_random=False))
def test_order_of_indicators_does_not_matter(spec: dict[str, Any], rnd: Any) -> None:
    docs = spec["indicators"]
    names = [f"z{n}" for n in range(len(docs))]
    rnd.shuffle(names)
    renamed = [({**doc, "id": name}, obs) for (doc, obs), name in zip(docs, names, strict=True)]
    rnd.shuffle(renamed)
    base, r = run(spec, {**spec, "indicators": renamed})
    np.testing.assert_allclose(r.post, base.post, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.coverage, base.coverage, rtol=0, atol=1e-12)
    for (doc, _), name in zip(docs, names, strict=True):
        i, j = base.model.ids.index(doc["id"]), r.model.ids.index(name)
        np.testing.assert_allclose(r.evidence[j], base.evidence[i], rtol=0, atol=1e-12)


@SETTINGS
@given(packs())
def test_older_evidence_never_weighs_more(spec: dict[str, Any]) -> None:
    """For a numeric indicator in the same state on the same observation, |c_i(s)| can only
    shrink as the observation ages."""
    r = run(spec)
    c = np.abs(np.stack([r.contributions(t) for t in range(len(r.grid))]))      # (T, I, S)
    for i, iid in enumerate(r.model.ids):
        if r.pack.indicators[iid].kind != "numeric":
            continue
        f = r.feats[iid]
        same = (f.row[1:] >= 0) & (f.row[1:] == f.row[:-1]) & (f.state[1:] == f.state[:-1])
        assert (f.ref[1:][same] == f.ref[:-1][same]).all()
        now, before = c[1:, i][same], c[:-1, i][same]
        assert (now <= before + 1e-12).all()
        live = before.max(axis=1) > 1e-9
        assert (now.max(axis=1)[live] < before.max(axis=1)[live]).all()   # strictly: 7 more days of age


@SETTINGS
@given(packs(), st.sampled_from(["g1", "g2"]))
def test_copies_in_a_group_do_not_double_its_weight(spec: dict[str, Any], group: str) -> None:
    """Doubling every indicator of a group (same data, same group) multiplies its evidence by
    min(2S, W) / min(S, W) with S the sum of weights and W the group weight: at most 2, and
    exactly 1 when the cap already binds."""
    members = [(doc, obs) for doc, obs in spec["indicators"] if doc["group"] == group]
    if not members:
        return
    copies = [({**doc, "id": doc["id"] + "-copy"}, obs) for doc, obs in members]
    base, r = run(spec, {**spec, "indicators": [*spec["indicators"], *copies]})
    s, w = sum(doc.get("weight", 1.0) for doc, _ in members), spec["groups"][group]
    ratio = min(2 * s, w) / min(s, w)
    assert ratio <= 2 + 1e-12
    ids = [doc["id"] for doc, _ in members]
    before = sum(base.evidence[base.model.ids.index(i)] for i in ids)
    after = sum(r.evidence[r.model.ids.index(i)] + r.evidence[r.model.ids.index(i + "-copy")] for i in ids)
    np.testing.assert_allclose(after, ratio * before, rtol=1e-9, atol=1e-12)
    if s >= w:
        np.testing.assert_allclose(r.post, base.post, rtol=0, atol=1e-12)
    assert math.isclose(float(r.model.weight[[r.model.ids.index(i) for i in ids]].sum()) * 2,
                        min(2 * s, w), rel_tol=1e-12)
