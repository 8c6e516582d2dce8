"""Every list stays bounded at any pack size (issue 20): `tracker score` within 60 lines of 80
columns, `tracker ingest` counts instead of a row per source, and the digest mail shows ten of
each list with "and N more" and attaches the whole as CSV."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from ingest_helpers import cli, csv_text, write_project
from packbuilder import numeric, scenarios, write_pack

N = 120
LONG = "https://statistics.example.org/very/long/path/to/a/dataset/with/many/segments/series-{i}.csv"
STATES = [{"name": "low", "below": 0}, {"name": "high"}]
LIKELIHOOD = {"low": {"A": 0.2, "B": 0.5, "C": 0.3}, "high": {"A": 0.5, "B": 0.2, "C": 0.3}}


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """N indicators with long ids and URLs: a third stale, a third without data, a third moving."""
    root = tmp_path_factory.mktemp("big")
    inds = [numeric(f"indicator-with-a-rather-long-identifier-{i:03d}", f"g{i % 4}", STATES, LIKELIHOOD,
                    stale_after="60d", half_life="365d") for i in range(N)]
    seeds = {}
    for i in range(N):
        if i % 3 == 1:
            continue                                              # no data
        dates = ("2023-11-30", "2023-12-29", "2024-01-31") if i % 3 == 0 else \
            ("2024-04-30", "2024-05-31", "2024-06-28")                # stale by 2024-06-30, or fresh
        sign = -1 if i % 2 else 1
        seeds[inds[i]["id"]] = [{"date": d, "value": sign * v, "source_url": LONG.format(i=i)}
                                for d, v in zip(dates, (-1.0, 1.0, 2.0), strict=True)]
    cfg = write_pack(root, scenarios({"A": 0.4, "B": 0.3, "C": 0.3}, {f"g{g}": 1.0 for g in range(4)}), inds, seeds)
    return cfg


def run(cfg: Path, *args: str, columns: str = "80") -> subprocess.CompletedProcess[str]:
    env = {"COLUMNS": columns, "PATH": "/usr/bin:/bin", "HOME": str(cfg.parent), "TZ": "UTC"}
    return subprocess.run([sys.executable, "-m", "tracker.cli", *args, "--config", str(cfg)], cwd=cfg.parent,
                          env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("columns", ["80", "60"])
def test_score_fits_the_terminal_whatever_the_pack(big: Path, columns: str) -> None:
    res = run(big, "score", "--as-of", "2024-06-30", columns=columns)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) <= 60
    assert max(map(len, lines)) <= int(columns), max(lines, key=len)
    assert "and 32 more (tracker explain lists them all)" in res.stdout.replace("\n      ", " ")
    words = set(res.stdout.split())
    assert not any(w.startswith("indicator-with") and w.rstrip(",:") not in
                   {f"indicator-with-a-rather-long-identifier-{i:03d}" for i in range(N)} for w in words)


def test_ingest_with_many_sources_lists_failures_and_changes_only(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tracker.ingest")
    data = tmp_path / "data"
    data.mkdir()
    sources = {}
    for i in range(70):
        (data / f"s{i}.csv").write_text(csv_text([("2024-01-31", float(i)), ("2024-02-29", i + 1.0)]))
        sources[f"src-{i:02d}"] = {"kind": "file", "path": f"data/s{i}.csv"}
    sources["broken"] = {"kind": "file", "path": "data/missing.csv"}
    cfg = write_project(tmp_path, sources)
    first = cli(cfg)
    assert first.code == 3
    lines = first.stdout.splitlines()
    logged = [r.getMessage() for r in caplog.records if r.name == "tracker.ingest"]
    assert len(lines) <= 60 and len(logged) <= 20
    assert lines[1].startswith("broken ") and "FAILED" in lines[1]
    assert lines[-2] == "and 50 more new vintages (tracker ingest --json lists every source)"
    assert lines[-1] == "71 sources: 1 failed (70 new, 0 unchanged)"
    assert "[71/71] fetched" in logged and any("broken: failed" in m for m in logged)   # counts; the failure by name
    again = cli(cfg, "src-00", "src-01")                                     # a few sources: a row each
    assert [ln.split()[0] for ln in again.stdout.splitlines()[1:-1]] == ["src-00", "src-01"]


def test_digest_mail_stays_small_and_attaches_every_indicator(big: Path, tmp_path: Path) -> None:
    res = run(big, "digest", "--week", "2024-06-30", "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    html = (tmp_path / "out" / "digest-2024-06-24.html").read_text()
    assert "… and 30 more in the attached digest-2024-06-24-indicators.csv" in html     # 40 stale, 10 shown
    assert html.count("and 30 more") == 2                                               # and 40 without data
    assert html.count("indicator-with-a-rather-long-identifier-") < 60
    msg = email.message_from_bytes((tmp_path / "out" / "digest-2024-06-24.eml").read_bytes(),
                                   policy=email.policy.default)
    (table,) = [p for p in msg.iter_attachments() if p.get_content_type() == "text/csv"]
    rows = list(csv.DictReader(io.StringIO(table.get_content())))
    assert len(rows) == N
    assert sum(r["stale"] == "stale" for r in rows) == 40
    assert sum(r["state"] == "" for r in rows) == 40
