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


CSV_INDICATOR = """id: c{i:05d}
name: Loopback CSV {i}
group: g{g}
unit: index
frequency: monthly
source: {{kind: csv, url: "{url}"}}
states:
  - {{name: low, below: 100}}
  - {{name: high}}
likelihood:
  low: {{A: 0.3, B: 0.2, C: 0.5}}
  high: {{A: 0.5, B: 0.3, C: 0.2}}
weight: 0.5
half_life: 365d
stale_after: 400d
rationale: A synthetic CSV source on loopback, for measuring ingest concurrency only.
"""


def write_csv_pack(folder: Path, urls: list[str], groups: int = 4) -> Path:
    """A pack of `csv` indicators, one per URL (for the ingest benchmark)."""
    pack = folder / "indicators"
    pack.mkdir(parents=True, exist_ok=True)
    group_yaml = "\n".join(f"  g{g}: {{name: Group {g}, weight: 1.0}}" for g in range(groups))
    (pack / "scenarios.yaml").write_text(SCENARIOS.format(n=len(urls), groups=group_yaml))
    for i, url in enumerate(urls):
        (pack / f"c{i:05d}.yaml").write_text(CSV_INDICATOR.format(i=i, g=i % groups, url=url))
    return pack


def write_config(folder: Path, workers: int, per_host: int, store: str = "tracker.db") -> Path:
    """config.yaml for a synthetic pack in `folder/indicators`."""
    path = folder / "config.yaml"
    path.write_text(f"pack: indicators\nstore: {store}\nlog: tracker.log\n"
                    f"http: {{workers: {workers}, per_host: {per_host}, retries: 0, timeout: 20}}\n")
    return path


def frames(n: int, rows: int, end: str = "2026-11-20", seed: int = 11) -> list[tuple[str, pd.DataFrame]]:
    """n snapshots of `rows` daily observations each, as sources hand them to Store.write_vintage."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end=end, periods=rows, freq="D")
    published = dates + pd.Timedelta(days=1)
    out = []
    for i in range(n):
        out.append((f"s{i:05d}", pd.DataFrame({
            "date": dates, "value": np.round(np.cumsum(rng.normal(0, 0.3, rows)), 4),
            "published": published, "source_url": f"https://example.org/series/{i}", "note": None})))
    return out
