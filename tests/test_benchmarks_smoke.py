"""benchmarks/run.py --quick and benchmarks/input_bounds.py --quick run every section and print
the summary table.

Only that they run: the quick sizes are too small for the speed targets, which the full runs
(`python benchmarks/run.py`, `python benchmarks/input_bounds.py`) judge."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_prints_every_section() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = proc.stdout
    for heading in ("## 1. Start-up floor", "## 2. Scale", "## 3. Store", "## 4. Ingest",
                    "## 5. Profiles", "## Summary"):
        assert heading in text, f"missing {heading!r} in:\n{text}"
    assert "| figure | measured | target | met |" in text
    assert "python benchmarks/run.py --quick" in text
    for figure in ("start-up: `tracker score` / `import pandas`", "scale: ", "store: write_vintage",
                   "store: as_of", "ingest: "):
        assert f"| {figure}" in text, f"no table row for {figure!r}"
    # The per-host limit is a correctness check, judged even in a quick run.
    limit_rows = [line for line in text.splitlines() if "max requests in flight per host" in line
                  and line.startswith("|")]
    assert limit_rows and all(line.rstrip().endswith("| yes |") for line in limit_rows), limit_rows


def test_quick_input_bounds_benchmark_prints_every_figure() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "input_bounds.py"), "--quick"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = proc.stdout
    for heading in ("## 1. One seed file", "## 2. ", "## 3. A pack file", "## Summary"):
        assert heading in text, f"missing {heading!r} in:\n{text}"
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0] == "| figure | measured | target | met |"
    for figure in ("seeds: one file of", "seeds: every duplicated date", "seeds: 20,000 rows in 20 files",
                   "pack file of 5 MB refused", "pack file of 5 MB: peak RSS", "pack file of 5 MB: refused with"):
        assert any(row.startswith(f"| {figure}") for row in rows), f"no table row for {figure!r}"
    # Correctness and memory are judged even in a quick run; speed only in the full run.
    judged = [row for row in rows[2:] if not row.endswith("| — |")]
    assert len(judged) == 3 and all(row.endswith("| yes |") for row in judged), judged
    assert text.splitlines()[-1].startswith("input-bounds: ")
