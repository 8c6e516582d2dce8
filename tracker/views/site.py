"""`tracker site OUT`: the static site, written from sitedata.SiteData with Jinja2 and the charts
of sitecharts.py, and published in one step (sitepublish.py).

    OUT/index.html              the call, two years of probabilities, movers, watch next, health
    OUT/scenarios/<id>.html     a scenario's description, prior and explain table
    OUT/indicators.html         every indicator, by group
    OUT/indicators/<id>.html    series on state bands, revisions, likelihood, tests, bits over time
    OUT/evaluation.html         when the pack has outcomes.csv: `tracker evaluate` and its charts
    OUT/charts/*.svg|png        every image, with alt text in the page that shows it
    OUT/site.css                the one stylesheet

No script and no remote asset, so it works from file:// and behind any static server. Links are
relative. The escaping is the digest's (autoescape, StrictUndefined), and every string shown has
its control characters dropped (text.strip_controls), as in the digest.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tracker import __version__, service
from tracker.score.result import Result
from tracker.store.db import Store
from tracker.text import strip_controls
from tracker.views import jinja, sitecharts, sitepublish
from tracker.views.report import headline
from tracker.views.sitedata import CAP, SiteData, gather

TEMPLATES = Path(__file__).parent / "templates" / "site"
SCENARIO_ROWS = 100
"""Rows of a scenario page's explain table; the rest are summed in one row, so the table still
adds up to the posterior (a 2,000-indicator pack would otherwise make a page of 2,000 rows)."""


def write_site(ctx: service.Context, store: Store, day: dt.date, out: Path,
               result: Result | None = None) -> dict[str, Any]:
    """Gather, render and publish the site for `day` into `out` (replaced in one step);
    returns {out, pages, charts}."""
    data = gather(ctx, store, day, result)
    counts = sitepublish.publish(out, lambda folder: write_files(data, folder),
                                 {"as_of": data.as_of, "pack": ctx.pack.name, "version": __version__})
    return {"out": str(out), **counts}


# ---------------------------------------------------------------- rendering

@functools.cache
def _env() -> Any:
    # `finalize` drops control characters from every value shown: escaping leaves an ESC as it is.
    return jinja.environment(TEMPLATES, finalize=_shown)


def _shown(x: Any) -> Any:
    """Every value a template prints: text without control characters. Markup (a macro's
    output) is left alone: it was built from values that passed through here already."""
    from markupsafe import Markup

    return strip_controls(x) if isinstance(x, str) and not isinstance(x, Markup) else x


def _page(name: str, **context: Any) -> bytes:
    return _env().get_template(name).render(**context).encode("utf-8")


def write_files(data: SiteData, folder: Path) -> dict[str, int]:
    """Every page and chart into `folder` (empty); returns how many of each were written."""
    for sub in ("charts", "scenarios", "indicators"):
        (folder / sub).mkdir()
    (folder / "site.css").write_bytes((TEMPLATES / "site.css").read_bytes())
    canvas = sitecharts.Canvas()
    s = _common(data)
    res = data.result
    grid = res.grid[data.shown]
    (folder / "charts" / "probabilities.svg").write_bytes(sitecharts.probabilities(
        canvas, grid, res.post[data.shown], res.model.scenarios, data.calls, data.marks[:CAP]))
    (folder / "index.html").write_bytes(_page("index.html", root="", s=s))
    pages, charts = 1, 1
    for sc in s["scenarios"]:
        (folder / "scenarios" / f"{sc['id']}.html").write_bytes(
            _page("scenario.html", root="../", s=s, sc=sc, **_scenario(data, sc["id"])))
        pages += 1
    (folder / "indicators.html").write_bytes(_page("indicators.html", root="", s=s, groups=_groups(data)))
    pages += 1
    colour = {sc["id"]: sc["colour"] for sc in s["scenarios"]}
    for iid, page in data.indicators.items():
        ind = page["ind"]
        (folder / "charts" / f"{iid}-series.svg").write_bytes(
            sitecharts.series(canvas, ind, page["raw"], page["feature"], page["favours"], colour))
        has_bits = bool(np.any(page["bits_over_time"]))  # never any data in the span: nothing to draw
        if has_bits:
            (folder / "charts" / f"{iid}-bits.svg").write_bytes(
                sitecharts.bits(canvas, grid, page["bits_over_time"], res.model.scenarios))
        (folder / "indicators" / f"{iid}.html").write_bytes(_page("indicator.html", root="../", s=s, has_bits=has_bits,
                                                                   **_indicator(data, page, grid)))
        pages, charts = pages + 1, charts + 1 + has_bits
    if data.evaluation is not None:
        charts += _evaluation(data, folder)
        pages += 1
    return {"pages": pages, "charts": charts}


def _common(data: SiteData) -> dict[str, Any]:
    doc = data.doc
    names = {iid: p["ind"].name for iid, p in data.indicators.items()}
    lead = doc["leading"]
    top = sorted(data.explain, key=lambda r: -abs(r["bits"][lead] or 0.0))[:CAP]
    grid = data.result.grid[data.shown]
    return {
        "pack": doc["pack"], "as_of": data.as_of, "version": __version__, "window": doc["window_weeks"],
        "headline": headline(doc), "trend": doc["trend"], "leading": lead,
        "trend_check": (doc.get("trend_check") or {}).get("message"), "reason": data.reason,
        "scenarios": data.scenarios, "coverage": doc["coverage"], "movers": doc["movers"],
        "watch_next": doc["watch_next"], "cap": CAP, "marks": data.marks, "calls": data.calls,
        "span_from": str(pd.Timestamp(grid[0]).date()),
        "chart_alt": _probabilities_alt(data, grid),
        "health": data.health, "flags": data.flags,
        "stale": [{"indicator": i, "name": names[i],
                   "last": (data.indicators[i]["row"]["observation"] or {}).get("date")} for i in doc["stale"]],
        "no_data": doc["no_data"], "top": top, "count": len(data.indicators),
        "has_evaluation": data.evaluation is not None,
    }


def _probabilities_alt(data: SiteData, grid: np.ndarray) -> str:
    post = data.result.post[data.shown]
    scen = data.result.model.scenarios
    ends = ", ".join(f"{s} {post[0, k]:.2f} to {post[-1, k]:.2f}" for k, s in enumerate(scen))
    calls = "; ".join(f"{c['scenario']} from {c['start']} to {c['end']}" for c in data.calls) or "none"
    return (f"Line chart of scenario probabilities by week, {pd.Timestamp(grid[0]).date()} to {data.as_of}: {ends}. "
            f"Trend calls shaded: {calls}. Analyst observations marked: {len(data.marks)}.")


def _scenario(data: SiteData, sid: str) -> dict[str, Any]:
    """The explain table for one scenario: rows by bits toward it, the prior and the posterior."""
    res = data.result
    scen = res.model.scenarios
    rows = sorted(data.explain, key=lambda r: -(r["bits"][sid] or 0.0))
    shown, rest = rows[:SCENARIO_ROWS], rows[SCENARIO_ROWS:]
    post = res.post[-1]
    clr = np.log2(post) - np.log2(post).mean()
    prior = res.prior_bits()
    return {"rows": shown, "prior_bits": dict(zip(scen, map(float, prior), strict=True)),
            "clr": dict(zip(scen, map(float, clr), strict=True)),
            "post": dict(zip(scen, map(float, post), strict=True)),
            "rest": {"count": len(rest), "bits": {s: float(sum(r["bits"][s] or 0.0 for r in rest)) for s in scen}}
            if rest else None}


def _groups(data: SiteData) -> list[dict[str, Any]]:
    groups = data.pack.scenario_set.groups
    by: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(data.explain, key=lambda r: r["indicator"]):
        by.setdefault(r["group"], []).append(r)
    return [{"name": groups[g].name if g in groups else g, "count": len(rows), "rows": rows}
            for g, rows in sorted(by.items(), key=lambda kv: groups[kv[0]].name if kv[0] in groups else kv[0])]


def _indicator(data: SiteData, page: dict[str, Any], grid: np.ndarray) -> dict[str, Any]:
    ind = page["ind"]
    groups = data.pack.scenario_set.groups
    return {"ind": ind, "row": page["row"], "raw": page["raw"], "likelihood": page["likelihood"],
            "favours": page["favours"], "tests": page["tests"], "source": page["source"], "weight": page["weight"],
            "group": groups[ind.group].name if ind.group in groups else ind.group,
            "transforms": [_step(t) for t in ind.transforms],
            "one_panel": ind.kind == "ordinal" or not ind.transforms,
            "series_alt": _series_alt(page), "bits_alt": _bits_alt(page, grid, data.result.model.scenarios)}


def _step(step: dict[str, Any]) -> str:
    name, params = next(iter(step.items()))
    args = ", ".join(f"{k}={v}" for k, v in (params or {}).items())
    return f"{name} {args}" if args else name


def _series_alt(page: dict[str, Any]) -> str:
    ind, raw, row = page["ind"], page["raw"], page["row"]
    obs = row["observation"]
    if ind.kind == "ordinal":
        levels = ", ".join(ind.levels)
        now = f"now {obs['level']} (since {obs.get('since')})" if obs else "no observations yet"
        return (f"Step chart of {ind.name}, the level reached over time: {now}. "
                f"Bands for the levels, lowest first: {levels}.")
    n = len(raw["dates"])
    unit = f" {ind.unit}" if ind.unit else ""
    if n:
        first, last = pd.Timestamp(raw["dates"][0]).date(), pd.Timestamp(raw["dates"][-1]).date()
        head = f"{n} observations of {ind.name} from {first} to {last}, the latest {raw['values'][-1]:g}{unit}"
    else:
        head = f"{ind.name}: no observations yet"
    feat = page["feature"]["values"]
    tail = (f"; below, the transformed feature, latest {feat[-1]:.4g}, state {row['state'] or 'none'}" if len(feat)
            else "; no transformed value yet")
    bands = "; ".join(f"{x['state']} {x['bounds']}" for x in page["likelihood"])
    revised = f"; {len(raw['all_revisions'])} dates revised between vintages" if raw.get("all_revisions") else ""
    return f"Line chart: {head}{tail}{revised}. State bands: {bands}."


def _bits_alt(page: dict[str, Any], grid: np.ndarray, scen: list[str]) -> str:
    b = page["bits_over_time"]
    now = ", ".join(f"{s} {b[-1, k]:+.2f}" for k, s in enumerate(scen)) if len(b) else "none"
    return (f"Line chart of the bits {page['ind'].id} contributes toward each scenario by week, "
            f"{pd.Timestamp(grid[0]).date()} to {pd.Timestamp(grid[-1]).date()}; now {now}.")


def _evaluation(data: SiteData, folder: Path) -> int:
    """evaluation.html and its two PNGs, made by the code of `tracker evaluate --out`."""
    from tracker.views import evalchart, evaluation

    result, doc = data.evaluation  # type: ignore[misc]
    written = evalchart.write(folder / "charts", result, doc, data.pack.outcomes or [])
    s = _common(data)
    c = doc["calls"]
    (folder / "evaluation.html").write_bytes(_page(
        "evaluation.html", root="", s=s, e=doc, text=evaluation.render(doc),
        calls_alt=(f"Probabilities of {', '.join(doc['scenarios'])} from {doc['from']} to {doc['to']} with the known "
                   f"periods shaded and {c['calls']} trend calls drawn above ({c['hits']} hits, "
                   f"{c['false_calls']} false calls)."),
        reliability_alt=("Reliability diagram: observed frequency against mean forecast in ten bins; "
                         + "; ".join(f"{b['lower']:.1f}–{b['upper']:.1f}: forecast {b['mean_forecast']:.2f}, held "
                                     f"{b['observed']:.2f} ({b['count']})" for b in doc["reliability"] if b["count"]))))
    return len(written)
