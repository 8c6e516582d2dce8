"""`tracker indicators`: what a pack holds, one entry per indicator — group, kind, its states
or levels, source, seed and the newest observation known — within the terminal's width.

Nothing listed them: writing a `tracker observe` line meant opening the YAML file for the
exact level name (issue 17, item 8).
"""

from __future__ import annotations

from typing import Any

from tracker.pack.types import Indicator, Pack, State
from tracker.views.terminal import fit, width

NBSP = "\u00a0"


def document(pack: Pack, last: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """The --json document; `last` maps an indicator to its newest observation (store/lastobs.py)."""
    return {"pack": pack.name, "indicators": [_entry(pack, ind, last.get(iid)) for iid, ind in pack.indicators.items()]}


def _entry(pack: Pack, ind: Indicator, obs: dict[str, Any] | None) -> dict[str, Any]:
    seed = pack.seed_path(ind)
    out: dict[str, Any] = {"id": ind.id, "name": ind.name, "group": ind.group, "kind": ind.kind, "unit": ind.unit}
    if ind.kind == "ordinal":
        out["levels"] = list(ind.levels)
    else:
        out["states"] = [{"name": s.name, "when": _when(s)} for s in ind.states]
        out["transforms"] = [name for step in ind.transforms for name in step]
    out.update({"source": ind.source.kind, "seed": pack.shown(seed) if seed else None, "seeded": seed is not None,
                "last_observation": _observation(ind, obs)})
    return out


def _observation(ind: Indicator, obs: dict[str, Any] | None) -> dict[str, Any] | None:
    if obs is None:
        return None
    what = {"level": obs["level"]} if ind.kind == "ordinal" else {"value": obs["value"], "unit": ind.unit}
    return {"date": obs["date"], **what, "published": obs["published"], "source_url": obs["source_url"]}


def _when(state: State) -> str:
    """'≥ -2, < 5'; '' for a state that takes every value left."""
    marks = (("≥", state.at_least), (">", state.above), ("<", state.below), ("≤", state.at_most))
    return ", ".join(f"{sign} {bound:g}" for sign, bound in marks if bound is not None)


def render(doc: dict[str, Any], columns: int | None = None) -> str:
    """Three or more lines per indicator, each wrapped at spaces within `columns`."""
    columns = columns or width()
    items = doc["indicators"]
    lines = fit(f"{doc['pack']}: {len(items)} indicator{'' if len(items) == 1 else 's'} "
                "(`tracker indicators --json` has every field)", columns=columns)
    for item in items:
        lines.append("")
        lines += fit(f"{item['id']} ({'; '.join(_tags(item))})", columns=columns)
        lines += fit(_states(item), indent="  ", columns=columns)
        lines += fit(f"last: {_last(item)}", indent="  ", columns=columns)
    return "\n".join(lines)


def _tags(item: dict[str, Any]) -> list[str]:
    source = "manual: tracker observe" if item["source"] == "manual" else f"{item['source']}: tracker ingest"
    return [item["group"], item["kind"], source, *([f"seed {item['seed']}"] if item["seed"] else [])]


def _states(item: dict[str, Any]) -> str:
    if "levels" in item:
        return "levels: " + " → ".join(item["levels"])
    # a no-break space inside a bound: "< 10" is never split across two lines
    states = ", ".join(f"{s['name']} ({s['when'].replace(' ', NBSP)})" if s["when"] else s["name"]
                       for s in item["states"])
    of = f" (of {' → '.join(item['transforms'])})" if item["transforms"] else ""
    return f"states{of}: {states}"


def _last(item: dict[str, Any]) -> str:
    obs = item["last_observation"]
    if obs is None:
        return "no data yet"
    what = obs["level"] if "level" in obs else f"{obs['value']:g}" + (f" {obs['unit']}" if obs["unit"] else "")
    return f"{what} on {obs['date']} (published {obs['published']})"
