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
                    "## 5. Profiles", "## 6. End to end", "## Summary"):
        assert heading in text, f"missing {heading!r} in:\n{text}"
    assert "| figure | measured | target | met |" in text
    assert "python benchmarks/run.py --quick" in text
    for figure in ("start-up: `tracker score` / `import pandas`", "scale: ", "store: write_vintage",
                   "store: as_of", "ingest: ", "e2e 20 × 1 y: `tracker score` wall / floor wall",
                   "e2e 20 × 1 y: digest HTML"):
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


def _benchmark_module(name: str):
    """A module of benchmarks/ (not a package), loaded from its file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_end_to_end_benchmark_runs_the_users_path_on_a_tiny_pack(tmp_path: Path) -> None:
    script = str(ROOT / "benchmarks" / "end_to_end.py")
    proc = subprocess.run([sys.executable, script, "--indicators", "5", "--years", "1", "--keep", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.splitlines()
    for step in ("e2e_floors.py ingest data floor.db", "e2e_floors.py select floor.db",
                 "tracker ingest --config config.yaml", "tracker score --config config.yaml",
                 "tracker backtest --from 2020-01-01 --config config.yaml",
                 "tracker digest --out digest-out --config config.yaml"):
        done = [line for line in lines if f"{step}: " in line]
        assert len(done) == 1 and done[0].endswith(", ok"), (step, proc.stdout)
    rows = [line for line in lines if line.startswith("| ")]
    assert rows[0] == "| command | wall | peak RSS | floor | ratio | target | met |"
    for command in ("`tracker ingest`", "`tracker score`", "`tracker backtest --from 2020-01-01`",
                    "`tracker digest --out DIR`"):
        row = next(r for r in rows if r.startswith(f"| {command} |"))
        assert row.split(" | ")[4].endswith("×"), row  # a ratio against a floor that ran
    html = next(r for r in rows if r.startswith("| digest HTML |"))
    assert " KB (" in html and "bytes)" in html, html
    assert (tmp_path / "n5-y1" / "data" / "e00004.csv").read_text().count("\n") == 366  # header + 365 days
    # --keep reuses the pack, and --profile runs one command under cProfile on it.
    proc = subprocess.run([sys.executable, script, "--indicators", "5", "--years", "1", "--keep", str(tmp_path),
                           "--profile", "score"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "pack reused from" in proc.stdout and "pack written" not in proc.stdout
    assert "Ordered by: cumulative time" in proc.stdout, proc.stdout


def test_benchmark_children_are_killed_past_their_time_or_memory(tmp_path: Path) -> None:
    measure = _benchmark_module("measure")
    limits = {"env": {"PATH": "/usr/bin:/bin"}, "cwd": tmp_path, "log_dir": tmp_path}
    slow = measure.run([sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)"],
                       name="slow", timeout=1.0, rss_cap_gb=8, **limits)
    assert slow.status == "timed out after 1 s" and 1.0 <= slow.wall_s < 5 and slow.stdout == "started\n"
    big = measure.run([sys.executable, "-c", "import time; b = b'x' * 400_000_000; time.sleep(30)"],
                      name="big", timeout=20, rss_cap_gb=0.2, **limits)
    assert big.status == "killed: RSS passed 0.2 GB" and big.wall_s < 10
    done = measure.run([sys.executable, "-c", "b = b'x' * 150_000_000; import sys; sys.exit(3)"],
                       name="done", timeout=20, rss_cap_gb=8, **limits)
    assert done.status == "exit 3" and 0.15 < done.peak_gb < 0.5
    assert measure.shape("a\r\nbb\rccc\n\x1b[1mdddd\x1b[0m\n", "e\n") == (4, 4)
