"""What the static site shows, gathered once: the call as `tracker score --json` states it, the
`explain` rows, and for each indicator its observations, their revisions, its transformed
feature and its bits over time.

Everything comes from one scoring (service.score, the same call `tracker score` makes, so the
site and the terminal never disagree) and one read of the vintages known on the day. Reading
only: nothing here writes the store or fetches anything. The pages and charts are made from
this in site.py.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tracker import service
from tracker.pack.series import Series
from tracker.pack.types import Indicator, Pack
from tracker.score.result import LN2, Result
from tracker.store import columns
from tracker.store.db import Store
from tracker.views import report
from tracker.views.chart import COLOURS

WEEKS_SHOWN = 104
"""The index chart and each indicator's bits chart: the last two years of the weekly grid."""
CAP = 12
"""Items per list on the index; the rest is counted ("and N more")."""
OBS_ROWS = 25
REVISION_ROWS = 30
FAVOURS_BITS = 0.3
"""A state "favours" the scenario of its largest likelihood when the row spreads at least this
many bits (the pack lint's threshold for a diagnostic row); below it, the band is grey."""


@dataclass
class SiteData:
    pack: Pack
    as_of: str
    doc: dict[str, Any]                      # report.to_json: the JSON contract of `tracker score`
    result: Result
    explain: list[dict[str, Any]]            # report.explain_rows on the last date
    scenarios: list[dict[str, Any]]
    reason: list[str]
    shown: slice                             # grid positions of the two-year charts
    calls: list[dict[str, Any]]
    marks: list[dict[str, Any]]
    indicators: dict[str, dict[str, Any]]
    health: dict[str, Any]
    evaluation: tuple[Result, dict[str, Any]] | None = None
    flags: list[dict[str, Any]] = field(default_factory=list)


def gather(ctx: service.Context, store: Store, day: dt.date, result: Result | None = None) -> SiteData:
    """Score as of `day` (unless the nightly run hands over the result it just made) and read
    what the pages need."""
    from tracker.views.digest import analyst_observations

    result = result if result is not None else service.score(ctx, store, day)
    t = len(result.grid) - 1
    doc = report.to_json(result)
    explain = report.explain_rows(result, t)
    pack = ctx.pack
    shown = slice(max(0, len(result.grid) - 1 - WEEKS_SHOWN), len(result.grid))
    first = pd.Timestamp(result.grid[shown.start]).date()
    marks = [{**o, "n": k + 1, "day": o["recorded"][:10]}
             for k, o in enumerate(analyst_observations(store, pack, first, day))]
    indicators, others = _indicators(pack, store, result, explain, day, shown)
    _feature_series(others, indicators)
    last_run = next(iter(store.runs(kind="run", limit=1)), None)
    health = {"stale": doc["stale"], "no_data": doc["no_data"], "failing": store.failing_sources(day),
              "last_run": {k: last_run[k] for k in ("started", "status")} if last_run else None,
              "coverage": doc["coverage"]}
    return SiteData(pack, doc["as_of"], doc, result, explain, _scenarios(pack, doc), _reason(doc, explain),
                    shown, _calls(result, shown), marks, indicators, health, _evaluation(ctx, store, day),
                    list(doc.get("flags") or []))


def _scenarios(pack: Pack, doc: dict[str, Any]) -> list[dict[str, Any]]:
    desc = {s.id: s.description for s in pack.scenario_set.scenarios}
    return [{**s, "description": desc[s["id"]], "prior": doc["prior"][s["id"]],
             "evidence_only": doc["evidence_only"][s["id"]], "colour": COLOURS[k % len(COLOURS)]}
            for k, s in enumerate(doc["scenarios"])]


def _reason(doc: dict[str, Any], explain: list[dict[str, Any]]) -> list[str]:
    """Why the leader leads, in two sentences: prior against evidence, and the indicators that
    push it most (the same bits `tracker explain` prints)."""
    lead = doc["leading"]
    ev = doc["evidence_only"]
    top_ev = max(ev, key=lambda s: ev[s] or 0.0)
    prior = doc["prior"][lead]
    if top_ev == lead:
        first = (f"The evidence alone favours {lead} ({ev[lead]:.2f} under a uniform prior), "
                 f"on top of its prior of {prior:.2f}.")
    else:
        first = (f"{lead} leads on its prior ({prior:.2f}); the evidence alone favours {top_ev} "
                 f"({ev[top_ev]:.2f} under a uniform prior, {lead} {ev[lead]:.2f}).")
    toward = sorted((r for r in explain if (r["bits"][lead] or 0) > 0.005), key=lambda r: -(r["bits"][lead] or 0))
    if not toward:
        return [first, f"No indicator pushes toward {lead} now."]
    parts = ", ".join(f"{r['indicator']} {r['bits'][lead]:+.2f}" for r in toward[:3])
    return [first, f"Largest pushes toward {lead}, in bits: {parts}."]


def _calls(result: Result, shown: slice) -> list[dict[str, Any]]:
    """Runs of weeks with a trend call inside the charted span: {scenario, start, end, since}."""
    out: list[dict[str, Any]] = []
    grid = result.grid
    for t in range(shown.start, shown.stop):
        call = result.trend[t] if t < len(result.trend) else None
        day = str(pd.Timestamp(grid[t]).date())
        key = (call["scenario"], call.get("started")) if call else None
        if key and out and out[-1]["key"] == key and out[-1]["t"] == t - 1:
            out[-1].update(end=day, t=t)
        elif key:
            out.append({"key": key, "scenario": call["scenario"], "start": day, "end": day, "t": t,
                        "since": call.get("since"), "started": call.get("started")})
    return [{k: v for k, v in c.items() if k not in ("key", "t")} for c in out]


# ---------------------------------------------------------------- one indicator

def _indicators(pack: Pack, store: Store, result: Result, explain: list[dict[str, Any]], day: dt.date,
                shown: slice) -> tuple[dict[str, dict[str, Any]], dict[str, Series]]:
    """Every indicator's page, its vintages read one indicator at a time (as the scorer reads
    them: a large pack's whole history as rows took gigabytes), and the series that `share_of`
    transforms need."""
    from tracker.score import transforms

    needed = {other for ind in pack.indicators.values() for other in transforms.depends_on(ind.transforms)}
    rows = {r["indicator"]: r for r in explain}
    place = {iid: i for i, iid in enumerate(result.model.ids)}
    pages, others = {}, {}
    with store.snapshot():
        for iid, series in store.series_until(day, result.model.ids):
            pages[iid] = _indicator(pack, result, place[iid], rows[iid], columns.to_frame(series, vintages=True), shown)
            if iid in needed:
                others[iid] = series
    return ({iid: pages[iid] if iid in pages else _indicator(pack, result, i, rows[iid], None, shown)
             for iid, i in place.items()}, others)


def _indicator(pack: Pack, result: Result, i: int, row: dict[str, Any], rows: pd.DataFrame | None,
               shown: slice) -> dict[str, Any]:
    ind = pack.indicators[row["indicator"]]
    scen = result.model.scenarios
    e = result.evidence[i, shown, :]
    bits = (e - e.mean(axis=1, keepdims=True)) / LN2
    return {
        "ind": ind, "row": row, "raw": _raw(ind, rows), "bits_over_time": bits,
        "likelihood": _likelihood(ind, scen), "favours": _favours(ind, scen),
        "tests": [_test(ind, n, test) for n, test in enumerate(ind.tests)],
        "source": _source(ind), "weight": float(result.model.weight[i]),
    }


def _raw(ind: Indicator, rows: pd.DataFrame | None) -> dict[str, Any]:
    """The latest vintage known on the day (dates, values or levels, the rows to list) and, for
    each date an earlier vintage held a different value, those values (revisions). `rows`: the
    indicator's vintages as store.vintages_until orders them (fetch time, vintage, date)."""
    if rows is None or rows.empty:
        return {"dates": [], "values": [], "levels": [], "rows": [], "more_rows": 0, "revisions": [],
                "more_revisions": 0, "vintages": 0}
    vint = rows["vintage"].to_numpy()
    latest = rows[vint == vint[-1]]
    table = [_obs_row(r) for r in latest.iloc[::-1].iloc[:OBS_ROWS].itertuples(index=False)]
    revisions = _revisions(ind, rows, latest) if len(np.unique(vint)) > 1 else []
    return {"dates": latest["date"].to_numpy(), "values": latest["value"].to_numpy(dtype=float),
            "levels": latest["level"].tolist(), "rows": table, "more_rows": max(0, len(latest) - OBS_ROWS),
            "revisions": revisions[:REVISION_ROWS], "more_revisions": max(0, len(revisions) - REVISION_ROWS),
            "all_revisions": revisions, "vintages": int(len(np.unique(vint)))}


def _obs_row(r: Any) -> dict[str, Any]:
    return {"date": _day(r.date), "value": _num(r.value), "level": _text(r.level), "published": _day(r.published),
            "source_url": _text(r.source_url), "note": _text(r.note)}


def _revisions(ind: Indicator, rows: pd.DataFrame, latest: pd.DataFrame) -> list[dict[str, Any]]:
    """Newest date first: {date, latest, earlier: [{fetched, value, level}]} where an earlier
    vintage held another value for the date than the latest does (or a date the latest dropped);
    each earlier value once, with the first vintage that held it. Whole-column steps: a source
    fetched nightly has hundreds of vintages of the whole series."""
    col = "level" if ind.kind == "ordinal" else "value"
    older = rows.loc[rows["vintage"].to_numpy() != rows["vintage"].iloc[-1], ["date", col, "fetched"]]
    cur = older["date"].map(pd.Series(latest[col].to_numpy(), index=latest["date"].to_numpy()))
    same = (older[col] == cur) | (older[col].isna() & cur.isna())
    held = older[~same.to_numpy()].drop_duplicates(subset=["date", col], keep="first")
    out: list[dict[str, Any]] = []
    for d, part in sorted(held.groupby("date", sort=False), key=lambda kv: kv[0], reverse=True):
        now = cur[part.index[0]]
        out.append({"date": _day(d), "latest": _num(now) if col == "value" else _text(now),
                    "earlier": [{"fetched": _day(f), "value": _num(v) if col == "value" else None,
                                 "level": _text(v) if col == "level" else None}
                                for v, f in zip(part[col], part["fetched"], strict=True)]})
    return out


def _feature_series(others: dict[str, Series], indicators: dict[str, dict[str, Any]]) -> None:
    """The transformed feature of each numeric indicator's latest vintage, for its chart: the
    pack's own transforms (score.transforms), run once more on the series the page shows;
    `others`: the series that share_of reads."""
    from tracker.score import scoring, transforms

    lookup = scoring.Others(others)
    for page in indicators.values():
        ind, raw = page["ind"], page["raw"]
        if ind.kind == "ordinal" or not len(raw["dates"]):
            page["feature"] = {"dates": np.array([], dtype="datetime64[D]"), "values": np.array([])}
            continue
        days = np.asarray(raw["dates"], dtype="datetime64[D]")
        values = np.asarray(raw["values"], dtype=float)
        keep = ~np.isnan(values)
        fd, fv = transforms.apply_arrays(days[keep], values[keep], ind.transforms, lookup)
        page["feature"] = {"dates": fd, "values": fv}


def _likelihood(ind: Indicator, scen: list[str]) -> list[dict[str, Any]]:
    """Each state's row with its centred bits (log2 of each entry against the row's mean log)."""
    out = []
    for name in ind.state_names:
        row = ind.likelihood[name]
        logs = np.log2([row[s] for s in scen])
        centred = logs - logs.mean()
        out.append({"state": name, "p": {s: row[s] for s in scen},
                    "bits": {s: float(centred[k]) for k, s in enumerate(scen)},
                    "spread": float(logs.max() - logs.min()), "bounds": _bounds_text(ind, name)})
    return out


def _favours(ind: Indicator, scen: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in ind.state_names:
        row = [ind.likelihood[name][s] for s in scen]
        spread = math.log2(max(row) / min(row))
        out[name] = scen[int(np.argmax(row))] if spread >= FAVOURS_BITS else None
    return out


def _bounds_text(ind: Indicator, name: str) -> str:
    if ind.kind == "ordinal":
        return f"level {ind.levels.index(name) + 1} of {len(ind.levels)}"
    state = next(s for s in ind.states if s.name == name)
    parts = [f"{op} {v:g}" for op, v in (("below", state.below), ("at most", state.at_most),
                                         ("above", state.above), ("at least", state.at_least)) if v is not None]
    return ", ".join(parts) or "otherwise"


def _test(ind: Indicator, n: int, test: Any) -> dict[str, Any]:
    """One of the pack's `tests:`, run as `tracker test` runs it: what it gives, expects and got."""
    from tracker.score import packtests

    try:
        state, value = packtests.evaluate(ind, test)
        error = None
    except (ValueError, KeyError, TypeError) as exc:
        state, value, error = None, None, str(exc)
    exp = test.expect
    ok = error is None and (state is None if exp.no_data else
                            (exp.state is None or exp.state == state)
                            and (exp.value is None or (value is not None and math.isclose(
                                value, exp.value, rel_tol=1e-6, abs_tol=1e-9))))
    expect = "no data" if exp.no_data else ", ".join(
        x for x in (f"state {exp.state}" if exp.state else "", f"feature {exp.value:g}" if exp.value is not None
                    else "") if x)
    got = error or ("no data" if state is None else f"state {state}"
                    + (f" (feature {value:.6g})" if value is not None else ""))
    given = ", ".join(f"{g.date}: {g.level if g.level is not None else g.value}" for g in test.given)
    return {"n": n + 1, "name": test.name, "as_of": test.as_of, "given": given, "expect": expect, "got": got,
            "passed": bool(ok)}


def _source(ind: Indicator) -> dict[str, Any]:
    """How the indicator is fed: its kind, the address a person can open (when it has one), and
    what identifies the series there."""
    src = ind.source
    kind = src.kind
    url = getattr(src, "url", None)
    what = {"manual": "recorded by an analyst with tracker observe", "file": f"file {getattr(src, 'path', '')}",
            "sql": f"a SQL query (database address in ${getattr(src, 'url_env', '')})",
            "gdelt": f"GDELT {getattr(src, 'mode', '')}: {getattr(src, 'query', '')}",
            "worldbank": f"World Bank {getattr(src, 'country', '')} {getattr(src, 'indicator', '')}",
            "imf": f"IMF {getattr(src, 'dataflow', '')} {getattr(src, 'key', '')}",
            "comtrade": f"UN Comtrade HS {getattr(src, 'cmd', '')}",
            "sipri": f"SIPRI {getattr(src, 'supplier', '')} to {getattr(src, 'recipient', '')}"}.get(kind, kind)
    return {"kind": kind, "url": url, "what": what}


# ---------------------------------------------------------------- evaluation

def _evaluation(ctx: service.Context, store: Store, day: dt.date) -> tuple[Result, dict[str, Any]] | None:
    """`tracker evaluate` over its default span (to the day at most), when the pack has outcomes."""
    from tracker.score.evaluate import default_span

    if not ctx.pack.outcomes:
        return None
    first, last = default_span(ctx.pack.outcomes, day)
    if first > last:
        return None
    return service.evaluate(ctx, store, first, last)


# ---------------------------------------------------------------- small helpers

def _day(x: Any) -> str | None:
    return None if x is None or pd.isna(x) else str(pd.Timestamp(x).date())


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _text(x: Any) -> str | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else str(x)
