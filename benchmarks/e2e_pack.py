"""The pack of the end-to-end benchmark: N `file` indicators, each a CSV of daily values.

    <folder>/config.yaml          pack: indicators, store: tracker.db
    <folder>/indicators/*.yaml    scenarios.yaml and one file per indicator
    <folder>/data/e<i>.csv        date,value,published: one row a day, published the next day

A user's big pack is not 2,000 copies of one file: the indicators cycle through four shapes
(weekly change, monthly percent change, weekly z-score, monthly year-on-year), each with its own
thresholds, and the likelihood rows are permuted across the scenarios so that the evidence
points different ways, as it does in a real pack. Written from a fixed seed, so that every
pack of one size holds the same numbers (only its last date follows the day it was written).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from itertools import permutations
from pathlib import Path

import numpy as np

GROUPS = 20
MANIFEST = "manifest.json"
"""Written last: a folder without it is a pack whose writing was interrupted, and is written again."""

SCENARIOS = """name: End-to-end benchmark, {n} indicators
description: A synthetic pack of `file` sources, for measuring the user's path only.
scenarios:
  - {{id: A, name: Alpha, description: The first synthetic future., prior: 0.4}}
  - {{id: B, name: Beta, description: The second synthetic future., prior: 0.35}}
  - {{id: C, name: Gamma, description: The third synthetic future., prior: 0.25}}
groups:
{groups}
"""

INDICATOR = """id: e{i:05d}
name: {title} {i}
group: g{g:02d}
unit: index
frequency: daily
source: {{kind: file, path: data/e{i:05d}.csv}}
transforms:
{transforms}
states:
  - {{name: {low}, below: {lo}}}
  - {{name: {mid}, below: {hi}}}
  - {{name: {high}}}
likelihood:
  {low}: {{{row0}}}
  {mid}: {{{row1}}}
  {high}: {{{row2}}}
weight: {weight}
half_life: {half_life}
stale_after: 30d
rationale: A synthetic daily series ({title}), for measuring the whole path from file to digest.
"""

# title, transforms, state names, thresholds, half-life: what each of the four shapes reads.
SHAPES = (
    ("weekly change", ["resample: {freq: W-FRI, how: mean}", "change: {periods: 13}"],
     ("falling", "stable", "rising"), (-1.5, 1.5), "90d"),
    ("monthly percent change", ["resample: {freq: ME, how: last}", "pct_change: {periods: 12}"],
     ("contraction", "flat", "expansion"), (-4.0, 4.0), "180d"),
    ("weekly z-score", ["resample: {freq: W-FRI, how: last}", "zscore: {window: 52, min_periods: 26}"],
     ("low", "normal", "high"), (-1.5, 1.5), "90d"),
    ("monthly year on year", ["resample: {freq: ME, how: mean}", "yoy: {how: pct}"],
     ("contraction", "flat", "expansion"), (-4.0, 4.0), "180d"),
)
# Moderately diagnostic rows (low, middle, high state), spread between scenarios by permutation.
ROWS = ((0.3, 0.2, 0.5), (0.5, 0.3, 0.2), (0.3, 0.6, 0.1))
ORDERS = list(permutations("ABC"))


def indicator_yaml(i: int) -> str:
    title, steps, (low, mid, high), (lo, hi), half_life = SHAPES[i % len(SHAPES)]
    order = ORDERS[(i // len(SHAPES)) % len(ORDERS)]
    rows = [", ".join(f"{s}: {p}" for s, p in zip(order, row, strict=True)) for row in ROWS]
    return INDICATOR.format(i=i, title=title, g=i % GROUPS, transforms="\n".join(f"  - {s}" for s in steps),
                            low=low, mid=mid, high=high, lo=lo, hi=hi, row0=rows[0], row1=rows[1],
                            row2=rows[2], weight=(0.4, 0.6, 0.8, 1.0)[i % 4], half_life=half_life)


def csv_text(values: np.ndarray, dates: list[str], published: list[str]) -> str:
    """date,value,published rows; values to 4 decimals, as an export from a spreadsheet would be."""
    cells = np.char.mod("%.4f", values).tolist()
    body = "\n".join(f"{d},{v},{p}" for d, v, p in zip(dates, cells, published, strict=True))
    return f"date,value,published\n{body}\n"


def write(folder: Path, n: int, years: int, end: dt.date, seed: int = 20) -> dict:
    """Write the pack, its data and config.yaml into folder (emptied first); return the manifest."""
    if folder.exists():
        shutil.rmtree(folder)
    pack, data = folder / "indicators", folder / "data"
    pack.mkdir(parents=True)
    data.mkdir()
    groups = "\n".join(f"  g{g:02d}: {{name: Group {g}, weight: 1.0}}" for g in range(GROUPS))
    (pack / "scenarios.yaml").write_text(SCENARIOS.format(n=n, groups=groups))
    days = np.arange(np.datetime64(end - dt.timedelta(days=years * 365 - 1)), np.datetime64(end) + 1)
    dates = np.datetime_as_string(days).tolist()
    published = np.datetime_as_string(days + 1).tolist()
    rng = np.random.default_rng(seed)
    for i in range(n):
        # A geometric random walk around 100: positive, so percent changes mean something.
        level = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.004, len(days))))
        (data / f"e{i:05d}.csv").write_text(csv_text(level, dates, published))
        (pack / f"e{i:05d}.yaml").write_text(indicator_yaml(i))
    (folder / "config.yaml").write_text("pack: indicators\nstore: tracker.db\nlog: tracker.log\n")
    manifest = {"indicators": n, "years": years, "rows_per_file": len(days), "first": dates[0],
                "last": dates[-1], "seed": seed}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return manifest


def read_manifest(folder: Path) -> dict | None:
    """The manifest of a completely written pack in folder, else None."""
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
