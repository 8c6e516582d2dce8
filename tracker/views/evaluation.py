"""`tracker evaluate` on a terminal: the document of score/evaluate.py as one readable page.

Rendering never computes: every figure here is a field of the JSON document, so the terminal
and `--json` cannot disagree."""

from __future__ import annotations

from typing import Any

from tracker.text import escape_controls, escape_fields


def render(doc: dict[str, Any]) -> str:
    doc = escape_fields(doc)
    lines = [f"{doc['pack']} — evaluated {doc['from']} … {doc['to']} against "
             f"the {doc['outcomes']['periods']} periods of outcomes.csv (pseudo-real-time)",
             f"{doc['dates_scored']} of {doc['dates']} weekly dates fall in a known period and are scored", ""]
    lines += _scores(doc) + [""] + _reliability(doc["reliability"]) + [""] + _calls(doc["calls"])
    lines += [""] + _indicators(doc["indicators"], doc["never_changed"])
    return escape_controls("\n".join(lines), keep="\n")


def _num(x: float | None, fmt: str = ".3f") -> str:
    return "—" if x is None else format(x, fmt)


def _scores(doc: dict[str, Any]) -> list[str]:
    s = doc["scores"]
    rates = ", ".join(f"{k} {v:.2f}" for k, v in doc["base_rates"].items())
    rows = [("model", s["model"]), ("stated priors", s["prior"]), (f"base rate ({rates})", s["base_rate"])]
    out = [f"Probability scores (lower is better)       {'Brier':>8} {'log, bits':>10}"]
    out += [f"  {name:<40} {_num(v['brier']):>8} {_num(v['log']):>10}" for name, v in rows]
    k = s["skill"]
    out += [f"  {'skill against the stated priors':<40} {_num(k['brier_vs_prior'], '+.3f'):>8} "
            f"{_num(k['log_vs_prior'], '+.3f'):>10}",
            f"  {'skill against the base rate':<40} {_num(k['brier_vs_base_rate'], '+.3f'):>8} "
            f"{_num(k['log_vs_base_rate'], '+.3f'):>10}"]
    return out


def _reliability(bins: list[dict[str, Any]]) -> list[str]:
    out = ["Reliability (every scenario's forecasts pooled): how often it held when given p",
           f"  {'p':<11} {'mean p':>7} {'held':>7} {'count':>7}"]
    for b in bins:
        if b["count"]:
            out.append(f"  {b['lower']:.1f}–{b['upper']:.1f}     {_num(b['mean_forecast'], '.2f'):>7} "
                       f"{_num(b['observed'], '.2f'):>7} {b['count']:>7}")
    return out


def _calls(c: dict[str, Any]) -> list[str]:
    lead = c["median_lead_weeks"]
    lead_text = "—" if lead is None else (f"{lead:+g} weeks" + (" (after the period began)" if lead < 0 else ""))
    out = [f"Trend calls (a hit begins during a period of its scenario or at most {c['max_lead_weeks']:g} "
           "weeks before it)",
           f"  calls {c['calls']}, hits {c['hits']}, false calls {c['false_calls']}; periods called "
           f"{c['periods_hit']} of {c['periods']} (missed {c['missed']}); {_num(c['calls_per_period'], '.2f')} "
           f"calls per period; median lead {lead_text}"]
    for s, v in c["by_scenario"].items():
        out.append(f"  {s}: calls {v['calls']}, hits {v['hits']}, false {v['false_calls']}; periods called "
                   f"{v['periods_hit']} of {v['periods']}; {_num(v['calls_per_period'], '.2f')} calls per period; "
                   f"median lead {_num(v['median_lead_weeks'], '+g')} w")
    for i in c["items"]:
        p = i["period"]
        what = (f"hit: {p['scenario']} from {p['start']}, lead {i['lead_weeks']:+g} w" if i["hit"]
                else "false call")
        out.append(f"    {i['scenario']:<4} {i['start']} … {i['end']}  {what}")
    if c["missed_periods"]:
        out.append("  missed: " + "; ".join(f"{p['scenario']} from {p['start']}" for p in c["missed_periods"]))
    return out


def _indicators(rows: list[dict[str, Any]], never: list[str]) -> list[str]:
    out = ["Realised diagnosticity (mean bits toward the scenario that held; centred)"]
    for verdict, title in (("earned", "earned their weight"), ("misled", "misled"),
                           ("neutral", "neither")):
        group = [r for r in rows if r["verdict"] == verdict]
        if group:
            out.append(f"  {title}:")
            out += [f"    {r['indicator']:<26} {r['mean_bits']:+.3f}  {r['state_changes']:>4} state changes, "
                    f"data on {r['with_data']:.0%} of dates" for r in group]
    if never:
        out.append("  never changed state over the period: " + ", ".join(never))
    return out
