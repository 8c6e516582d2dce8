"""The weekly digest: what it says, rendered as HTML and plain text, and sent exactly once.

What it says comes from the same engine and the same JSON contract as `tracker score --json
--as-of DAY` (report.to_json), so the e-mail and the terminal never disagree. The baseline is
the previous digest, a week earlier, scored the same way as of its own date: that is what the
previous digest said, because scoring reads only what was known by then.

Week key: the ISO date of the Monday of the digest's week (the key of the `sends` table).
The digest is scored as of the day it is made for (`--week DAY`, default today), so that a
digest scheduled on another weekday than Monday still reports everything known when it runs.

Sending is recorded in `sends` before and after (DESIGN §8). Statuses: `started` (claimed,
never confirmed: a crash, so it is reported, not resent), `sent`, `failed` (the server never
took the message: retried without --force) and `unconfirmed` (the connection broke while the
message was in flight: it may have arrived, so it is reported like `started`).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import math
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tracker import __version__, service
from tracker.errors import InputError, TrackerError
from tracker.store import sourcelog
from tracker.store.db import Store
from tracker.text import strip_controls, strip_fields
from tracker.views import figures, jinja, mail, report
from tracker.views.export import safe_cell

TEMPLATES = Path(__file__).parent / "templates"
WEEK = dt.timedelta(days=7)
YEAR_WEEKS = 52
PREVIEW_SENDER = "tracker@localhost"


@dataclass
class Digest:
    week: str                   # Monday of the week, ISO: the key in `sends`
    content: dict[str, Any]     # everything the templates show
    chart: bytes                # PNG
    doc: dict[str, Any]         # report.to_json as of content["as_of"]
    full: bytes = b""           # CSV of every indicator (content["full_name"]): what the lists shorten


def week_key(day: dt.date) -> str:
    return (day - dt.timedelta(days=day.weekday())).isoformat()


# ---------------------------------------------------------------------------- content

def build(ctx: service.Context, store: Store, day: dt.date, movers: int = 5) -> Digest:
    """Score as of `day` and a week earlier, and gather everything the digest shows."""
    from tracker.views.chart import COLOURS, probability_chart

    base_day = day - WEEK
    now = service.score(ctx, store, day)
    base = service.score(ctx, store, base_day)
    year_grid, year_post = _last_year(ctx, store, day, now)
    doc = report.to_json(now, movers=movers)
    base_doc = report.to_json(base, movers=movers)
    rows_now = report.indicator_rows(now, len(now.grid) - 1)
    rows_base = {r["indicator"]: r for r in report.indicator_rows(base, len(base.grid) - 1)}
    names = {s["id"]: s["name"] for s in doc["scenarios"]}
    inds = ctx.pack.indicators

    window = doc["window_weeks"]
    shade_from = day - dt.timedelta(weeks=window)
    grid = [pd.Timestamp(d).date() for d in year_grid]
    scen = now.model.scenarios
    chart = probability_chart(grid, year_post, scen, shade_from=shade_from, marker=base_day)
    base_p = {s["id"]: s["probability"] for s in base_doc["scenarios"]}
    scenarios = [{**s, "last_digest": base_p[s["id"]], "colour": COLOURS[k % len(COLOURS)],
                  "week_change": _diff(s["probability"], base_p[s["id"]])}
                 for k, s in enumerate(doc["scenarios"])]
    prev_send = store.send_state(week_key(base_day))
    by_id = {r["indicator"]: r for r in rows_now}
    signposts = _signposts(rows_now, rows_base, inds)
    revised = report.revised_ids(doc)
    live = ctx.pack.live_ids
    content = {
        "pack": doc["pack"], "week": week_key(day), "as_of": doc["as_of"], "baseline": base_doc["as_of"],
        "baseline_sent": bool(prev_send and prev_send["status"] == "sent"),
        "headline": report.headline(doc), "leading": doc["leading"], "trend": doc["trend"],
        "trend_check": (doc.get("trend_check") or {}).get("message"),
        "window_weeks": window, "shade_from": shade_from.isoformat(), "coverage": doc["coverage"],
        "evidence_only": doc["evidence_only"],
        "scenarios": scenarios, "changes": _call_changes(doc, base_doc, names),
        "year": _year_summary(grid, year_post, scen, names),
        "chart_alt": _alt_text(grid, year_post, scen, window),
        "movers": [{**_mover(m, inds[m["indicator"]]), "revised": m["indicator"] in revised}
                   for m in doc["movers"]],
        "signposts": signposts,
        "watch_next": [{**w, "name": inds[w["indicator"]].name} for w in doc["watch_next"]],
        "observations": analyst_observations(store, ctx.pack, day - WEEK + dt.timedelta(days=1), day),
        "stale": [{"indicator": i, "name": inds[i].name, "last": (by_id[i]["observation"] or {}).get("date")}
                  for i in doc["stale"]],
        "no_data": [{"indicator": i, "name": inds[i].name,
                     "why": (doc.get("not_enough_history") or {}).get(i, {}).get("message")} for i in doc["no_data"]],
        "flags": [{**f, "label": report.FLAG_LABELS[f["kind"]], "name": inds[f["indicator"]].name}
                  for f in doc["flags"] if f["indicator"] in inds],
        "failing": store.failing_sources(day),
        "empty": [e for e in sourcelog.empty_sources(store, live)
                  if (e["since"] or "") <= f"{day.isoformat()}T23:59:59Z"],      # known by then
        "empty_after": ctx.config.empty_after,
        "last_run": next(iter(store.runs(kind="run", limit=1)), None),
        "version": __version__,
    }
    content["full_name"] = f"digest-{week_key(day)}-indicators.csv"
    full = _full_csv(rows_now, rows_base, inds, content)
    content["more"] = _bound(content)
    return Digest(content["week"], content, chart, doc, full)


LIST_LIMIT = 10
"""Items shown of each list in the mail. Mail clients clip an HTML part beyond about 100 KB,
and a 2,000-indicator pack changes hundreds of states in a week: the rest go in the attached
CSV, and the mail says how many."""
BOUNDED = ("signposts", "watch_next", "observations", "stale", "no_data", "flags", "failing", "empty")
"""In the attached CSV, all but the analyst observations (`tracker export` lists them); source
health in full is `tracker status` and `tracker sources`."""


def _bound(content: dict[str, Any]) -> dict[str, int]:
    """Cut each list to LIST_LIMIT items in place; how many each left out."""
    more = {}
    for key in BOUNDED:
        more[key] = max(0, len(content[key]) - LIST_LIMIT)
        content[key] = content[key][:LIST_LIMIT]
    return more


def _full_csv(rows_now: list[dict], rows_base: dict[str, dict], inds: dict[str, Any],
              content: dict[str, Any]) -> bytes:
    """Every indicator's state now and a week earlier, with the observation behind it: the whole
    of what the mail's lists shorten, for a spreadsheet."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    stale = {s["indicator"] for s in content["stale"]}
    watch = {x["indicator"]: f"{x['to_state']}: {x['flips']}" for x in content["watch_next"]}
    failing = {f["indicator"]: f["error"] for f in content["failing"]}
    w.writerow(["indicator", "name", "group", "state", "state_week_before", "observation_date", "observation",
                "source_url", "note", "stale", "watch_next", "failing_source"])
    for r in sorted(rows_now, key=lambda r: r["indicator"]):
        obs = r["observation"] or {}
        iid = r["indicator"]
        w.writerow([safe_cell(c) for c in (
            iid, inds[iid].name, inds[iid].group, r["state"], rows_base.get(iid, {}).get("state"),
            obs.get("date"), _what(r["observation"], inds[iid]), obs.get("source_url"), obs.get("note"),
            "stale" if iid in stale else "", watch.get(iid), failing.get(iid))])
    return out.getvalue().encode()


def _last_year(ctx: service.Context, store: Store, day: dt.date, now: Any) -> tuple[np.ndarray, np.ndarray]:
    """The chart's 52 weeks: the end of the call's own grid when it reaches back that far (the
    usual case: `history` defaults to 3 years), so the pack is scored once, not once more."""
    if len(now.grid) > YEAR_WEEKS:
        return now.grid[-YEAR_WEEKS - 1:], now.post[-YEAR_WEEKS - 1:]
    year = service.score(ctx, store, day, weeks=YEAR_WEEKS)
    return year.grid, year.post


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 4)


def _call_changes(doc: dict[str, Any], base: dict[str, Any], names: dict[str, str]) -> list[str]:
    """What changed in the call since the previous digest, as sentences."""
    out = []
    lead, was = doc["leading"], base["leading"]
    if lead != was:
        out.append(f"The lead changed: {lead} ({names[lead]}) now leads; "
                   f"a week ago {was} ({names[was]}) did.")
    else:
        out.append(f"{lead} ({names[lead]}) still leads.")
    t, b = doc["trend"], base["trend"]
    if t and b and t["scenario"] == b["scenario"]:
        out.append(f"{t['scenario']} is still trending (since {t['since']}), {t['change']:+.2f} over "
                   f"{t['window_weeks']} weeks.")
    elif t:
        out.append(f"New trend call: {t['scenario']} ({names[t['scenario']]}) is trending, "
                   f"{t['change']:+.2f} over {t['window_weeks']} weeks.")
        if b:
            out.append(f"The trend to {b['scenario']} called a week ago has ended.")
    elif b:
        out.append(f"The trend to {b['scenario']} called a week ago has ended: no clear trend now.")
    else:
        out.append("Still no clear trend.")
    return out


def _year_summary(grid: list[dt.date], post: np.ndarray, scen: list[str],
                  names: dict[str, str]) -> list[dict[str, Any]]:
    """The chart in words, for the plain-text part."""
    def r(x: Any) -> float:
        return round(float(x), 4)
    return [{"id": s, "name": names[s], "start": r(post[0, k]), "end": r(post[-1, k]),
             "low": r(post[:, k].min()), "high": r(post[:, k].max()),
             "from": grid[0].isoformat(), "to": grid[-1].isoformat()} for k, s in enumerate(scen)]


def _alt_text(grid: list[dt.date], post: np.ndarray, scen: list[str], window: int) -> str:
    ends = ", ".join(f"{s} {post[0, k]:.2f} to {post[-1, k]:.2f}" for k, s in enumerate(scen))
    return (f"Line chart of scenario probabilities, {grid[0]} to {grid[-1]}: {ends}. "
            f"The last {window} weeks (the trend window) are shaded.")


def _what(obs: dict[str, Any] | None, ind: Any = None) -> str:
    """The figure as the terminal shows it: with the indicator, the one that decided the state
    and its unit ("−44.3% y/y (8.46 USD bn)"); without, the value and its unit."""
    if not obs:
        return "no data"
    if "level" in obs:
        return str(obs["level"])
    if ind is not None:
        return figures.figure(ind, obs) or "no data"
    value = obs.get("value")
    return figures.amount(value, obs.get("unit") or "") if isinstance(value, (int, float)) else "no value"


def _mover(m: dict[str, Any], ind: Any) -> dict[str, Any]:
    obs = m["observation"]
    return {**m, "name": ind.name, "what": _what(obs, ind), "date": (obs or {}).get("date"),
            "source_url": (obs or {}).get("source_url"), "note": (obs or {}).get("note")}


def _signposts(rows_now: list[dict], rows_base: dict[str, dict], inds: dict[str, Any]) -> list[dict]:
    """Indicators whose state differs from a week earlier, with the observation behind it."""
    out = []
    for r in rows_now:
        was = rows_base.get(r["indicator"], {}).get("state")
        if r["state"] == was:
            continue
        obs = r["observation"] or {}
        out.append({"indicator": r["indicator"], "name": inds[r["indicator"]].name, "from_state": was,
                    "to_state": r["state"], "what": _what(r["observation"], inds[r["indicator"]]),
                    "date": obs.get("date"),
                    "source_url": obs.get("source_url"), "note": obs.get("note")})
    return out


def analyst_observations(store: Store, pack: Any, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    """Rows recorded by `tracker observe` with a fetch date from `first` to `last`: each such
    vintage is compared with the vintage before it, and the rows it added or changed are shown.
    Only those vintages are read, not the whole history (a large pack's is millions of rows)."""
    log = [e for e in store.vintage_log() if e["fetched_at"][:10] <= last.isoformat()]
    before: dict[str, int] = {}
    out = []
    for e in log:
        previous = before.get(e["indicator"])
        before[e["indicator"]] = e["id"]
        if e["origin"] != "observe" or e["fetched_at"][:10] < first.isoformat():
            continue
        seen = {_row_key(r) for r in _known(store, previous, last)} if previous else set()
        out += [_observed(e["indicator"], pack, r, e["fetched_at"])
                for r in _known(store, e["id"], last) if _row_key(r) not in seen]
    return sorted(out, key=lambda o: (o["recorded"], o["indicator"], o["date"]))


def _known(store: Store, vintage: int, last: dt.date) -> list[Any]:
    rows = store.vintage_rows(vintage)
    day = pd.Timestamp(last)
    return list(rows[(rows["date"] <= day) & (rows["published"] <= day)].itertuples(index=False))


def _clean(x: Any) -> Any:
    return None if x is None or x is pd.NaT or (isinstance(x, float) and math.isnan(x)) else x


def _row_key(r: Any) -> tuple:
    return (r.date, _clean(r.value), _clean(r.level), r.published, _clean(r.source_url), _clean(r.note))


def _observed(iid: str, pack: Any, r: Any, recorded: str) -> dict[str, Any]:
    ind = pack.indicators.get(iid)
    obs = {"level": r.level} if ind is not None and ind.kind == "ordinal" else \
        {"value": float(r.value), "unit": ind.unit if ind else ""}
    return {"indicator": iid, "name": ind.name if ind else iid, "recorded": recorded,
            "date": r.date.date().isoformat(), "published": r.published.date().isoformat(),
            "what": _what(obs), "source_url": _clean(r.source_url), "note": _clean(r.note)}


# ---------------------------------------------------------------------------- rendering

@functools.cache
def _env() -> Any:
    # Autoescape by extension: everything a source wrote (notes, URLs, names) is escaped in
    # digest.html; digest.txt is plain text, where escaping would only garble it.
    env = jinja.environment(TEMPLATES, keep_trailing_newline=True)
    env.filters["bits"] = lambda d: "  ".join(f"{k} {jinja.signed(v)}" for k, v in d.items())
    return env


def render(d: Digest, chart_src: str) -> tuple[str, str]:
    """(plain text, HTML). The HTML shows the chart from `chart_src` (a cid: or a file name).
    Control characters in what sources, analysts and the pack wrote are dropped: HTML escaping
    leaves an ESC as it is, and mail clients and terminals (`tracker digest`) act on it."""
    content = strip_fields(d.content)
    text = _env().get_template("digest.txt").render(d=content)
    html = _env().get_template("digest.html").render(d=content, chart_src=chart_src)
    return text, html


def subject(ctx: service.Context, d: Digest) -> str:
    pattern = ctx.config.digest.subject if ctx.config.digest else "tracker digest: {pack} — week of {week}"
    fields = {"pack": d.content["pack"], "week": d.week, "as_of": d.content["as_of"],
              "leading": d.content["leading"], "headline": d.content["headline"]}
    try:
        return strip_controls(pattern.format_map(fields))
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(f"digest.subject {pattern!r}: {exc}; it may use "
                         + ", ".join("{" + k + "}" for k in fields)) from None


def message(ctx: service.Context, d: Digest, message_id: str | None = None) -> EmailMessage:
    cid = mail.new_id()
    text, html = render(d, mail.cid_src(cid))
    cfg = ctx.config.digest
    return mail.build_message(sender=cfg.sender if cfg else PREVIEW_SENDER,
                              to=cfg.to if cfg else [PREVIEW_SENDER], subject=subject(ctx, d),
                              text=text, html=html, images={cid: d.chart}, message_id=message_id,
                              attachments={d.content["full_name"]: d.full} if d.full else None)


def write_preview(ctx: service.Context, d: Digest, out_dir: Path) -> list[Path]:
    """digest-<week>.eml (as it would be sent), .html (showing the PNG beside it), .png, and the
    CSV of every indicator that the mail attaches."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"digest-{d.week}"
    png = stem.with_suffix(".png")
    png.write_bytes(d.chart)
    _, html = render(d, png.name)
    stem.with_suffix(".html").write_text(html, encoding="utf-8")
    stem.with_suffix(".eml").write_bytes(bytes(message(ctx, d)))
    full = out_dir / d.content["full_name"]
    full.write_bytes(d.full)
    return [stem.with_suffix(".eml"), stem.with_suffix(".html"), png, full]


# ---------------------------------------------------------------------------- sending

def send(ctx: service.Context, store: Store, d: Digest, force: bool = False) -> str:
    """Send the digest for its week once (PITFALLS §2.6.5, DESIGN §8): claim the week in `sends`,
    send, record the outcome. A week that failed may be retried; one sent, or started and
    never confirmed, is refused unless `force`. Returns the confirmation line."""
    cfg = ctx.config.digest
    if cfg is None:
        raise InputError("config.yaml has no digest: section; add from, to and smtp to send the digest")
    mail.preflight(cfg.smtp)
    msg = message(ctx, d)
    mid = str(msg["Message-ID"])
    if not store.send_started(d.week, mid, force=force):  # a failed week is claimed again
        raise TrackerError(refusal(d.week, store.send_state(d.week) or {}))
    try:
        refused = mail.send(cfg.smtp, msg)
    except mail.DeliveryUnknown as exc:
        store.send_finished(d.week, "unconfirmed", str(exc))
        raise TrackerError(f"{exc}. The digest for week {d.week} may or may not have arrived: "
                           "check the inbox; use --force to send again") from None
    except TrackerError as exc:
        store.send_finished(d.week, "failed", str(exc))
        raise
    detail = "; ".join(f"refused {r}: {why}" for r, why in refused.items())
    store.send_finished(d.week, "sent", detail)
    line = f"Sent the digest for week {d.week} to {', '.join(cfg.to)} ({mid})."
    return line + (f" Warning: {detail}." if detail else "")


def refusal(week: str, state: dict[str, Any]) -> str:
    status = state.get("status")
    if status == "sent":
        return (f"digest for week {week} was already sent at {state.get('sent_at')} "
                "(use --force to send again)")
    if status == "unconfirmed":
        return (f"a send for week {week} at {state.get('started_at')} broke off while the message was in "
                f"flight ({state.get('detail')}): check the inbox; use --force to send again")
    return (f"a send for week {week} was started at {state.get('started_at')} but never confirmed: "
            "check the inbox; use --force to send again")
