"""Synthetic packs for the benchmarks: N numeric indicators with daily observations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SCENARIOS = """name: Synthetic {n}
scenarios:
  - {{id: A, name: Alpha, description: synthetic, prior: 0.4}}
  - {{id: B, name: Beta, description: synthetic, prior: 0.3}}
  - {{id: C, name: Gamma, description: synthetic, prior: 0.3}}
groups:
{groups}
"""

INDICATOR = """id: s{i:05d}
name: Synthetic {i}
group: g{g}
unit: index
frequency: daily
source: {{kind: manual}}
transforms:
  - resample: {{freq: W-FRI, how: mean}}
  - change: {{periods: 13}}
states:
  - {{name: falling, below: -1}}
  - {{name: stable, below: 1}}
  - {{name: rising}}
likelihood:
  falling: {{A: 0.3, B: 0.2, C: 0.5}}
  stable: {{A: 0.5, B: 0.3, C: 0.2}}
  rising: {{A: 0.3, B: 0.6, C: 0.1}}
weight: 0.5
half_life: 90d
stale_after: 30d
rationale: A synthetic random walk, for measuring speed only.
"""


def write_pack(folder: Path, n: int, groups: int = 20) -> Path:
    pack = folder / "indicators"
    pack.mkdir(parents=True, exist_ok=True)
    group_yaml = "\n".join(f"  g{g}: {{name: Group {g}, weight: 1.0}}" for g in range(groups))
    (pack / "scenarios.yaml").write_text(SCENARIOS.format(n=n, groups=group_yaml))
    for i in range(n):
        (pack / f"s{i:05d}.yaml").write_text(INDICATOR.format(i=i, g=i % groups))
    return pack


def history(n: int, years: int = 10, end: str = "2026-11-20", seed: int = 7) -> pd.DataFrame:
    """One vintage per indicator: daily random walks, each row published the next day."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end=end, periods=years * 365, freq="D")
    m = len(dates)
    values = np.cumsum(rng.normal(0, 0.3, size=(n, m)), axis=1).ravel()
    ids = np.repeat([f"s{i:05d}" for i in range(n)], m)
    return pd.DataFrame({
        "indicator": ids, "vintage": np.repeat(np.arange(n), m),
        "fetched": np.repeat(pd.Timestamp(dates[0]), n * m),
        "date": np.tile(dates.to_numpy(), n), "value": values, "level": None,
        "published": np.tile((dates + pd.Timedelta(days=1)).to_numpy(), n),
        "source_url": None, "note": None,
    })
