"""Input bounds: checking seeds takes time linear in their rows, and a pack file too large to be
one is refused before it is read.

    python benchmarks/input_bounds.py            # the full run (about a minute on 2 cores)
    python benchmarks/input_bounds.py --quick    # small sizes: checks that every figure runs

Figures (each measured in a fresh child process, `--child …`, on files written and flushed first):
  1. one seed file of 200,000 rows, each of 40,000 dates five times, checked by
     `tracker.store.seeds.read_seed` (what seeding a store, and since issue 17 `tracker validate`,
     does with every seed file): every duplicated date reported once. A seed may hold no date
     after today (issue 17), and 1900 to today is about 46,000 days, so a valid file of 40,000
     rows is timed beside it.
  2. 1,000,000 seed rows over 200 indicators × 5,000 days: read_seed of every seed file of a
     real pack, then (for reference) `load_seeds` into a new store, which also writes them.
  3. a 50 MB pack file (a YAML list) in an otherwise valid pack: `load_pack` refuses it; the time
     and the peak RSS of that process, and (for reference) of the whole `tracker validate` command.

The quadratic duplicate check these figures guard against took 63 s for 100,000 seed rows, and
a 50 MB list was parsed for 29 s, using 4.9 GB, before it was refused (issue 16).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402 — the shared plumbing of benchmarks/run.py (RSS, paths, commands)

MiB = 1024 * 1024
FIRST_DAY = dt.date(1900, 1, 1)
REPEAT = 5
"""Figure 1: each date this many times, so that every date lies in the past (issue 17)."""


@dataclass(frozen=True)
class Sizes:
    seed_rows: int          # figure 1: rows of the one seed file (each date twice)
    indicators: int         # figure 2: seed files …
    rows_each: int          # … of this many rows each
    yaml_mb: int            # figure 3: size of the pack file


FULL = Sizes(seed_rows=200_000, indicators=200, rows_each=5_000, yaml_mb=50)
QUICK_SIZES = Sizes(seed_rows=20_000, indicators=20, rows_each=1_000, yaml_mb=5)


# ---------------------------------------------------------------- the summary table

@dataclass
class Row:
    figure: str
    measured: str
    target: str
    met: bool | None


ROWS: list[Row] = []
QUICK = False


def record(figure: str, measured: str, target: str, met: bool | None, perf: bool = True) -> None:
    """One line of the summary; in a --quick run speed targets are shown, not judged (as run.py)."""
    if QUICK and perf and met is not None:
        target, met = f"{target} (full run only)", None
    ROWS.append(Row(figure, measured, target, met))
    verdict = "n/a" if met is None else ("MET" if met else "NOT MET")
    bench.out(f"  => {figure}: {measured}  (target {target}: {verdict})")


def child(args: list[str]) -> dict[str, Any]:
    """Run `python benchmarks/input_bounds.py --child …` and return the JSON it prints last."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{bench.shown(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    doc["_cmd"] = bench.shown(cmd)
    return doc


# ---------------------------------------------------------------- inputs

def seed_lines(rows: int, repeat: int = 1, start: dt.date = FIRST_DAY) -> str:
    """A seed CSV of `rows` rows: consecutive days, each `repeat` times in a row."""
    lines = ["date,value,published,source_url,note"]
    for n in range(rows):
        day = start + dt.timedelta(days=n // repeat)
        lines.append(f"{day},{n * 0.25:.2f},{day + dt.timedelta(days=5)},https://stats.example.org/{n},row {n}")
    return "\n".join(lines) + "\n"


def write_seed_pack(folder: Path, seeds: list[str]) -> Path:
    """A synthetic pack (benchmarks/synth.py) whose indicator i is seeded with the text seeds[i]."""
    import synth

    pack = synth.write_pack(folder, len(seeds))
    (folder / "seeds").mkdir()
    for i, text in enumerate(seeds):
        (folder / "seeds" / f"s{i:05d}.csv").write_text(text)
        with (pack / f"s{i:05d}.yaml").open("a") as fh:
            fh.write(f"seed: seeds/s{i:05d}.csv\n")
    return pack


def write_huge_pack(folder: Path, megabytes: int) -> tuple[Path, Path]:
    """A valid two-indicator pack plus `huge.yaml`, a YAML list of `megabytes` MB; and a config.
    The same pack without the huge file is written beside it (`warm/`), for the warm-up."""
    import synth

    synth.write_pack(folder / "warm", 2)
    pack = synth.write_pack(folder, 2)
    item = b"- 1\n"
    (pack / "huge.yaml").write_bytes(item * (megabytes * MiB // len(item)))
    config = folder / "config.yaml"
    config.write_text("pack: indicators\nstore: tracker.db\n")
    return pack, config


# ---------------------------------------------------------------- children (one fresh process each)

def child_seed(pack_dir: Path) -> dict[str, Any]:
    """read_seed of the pack's only seed file: its time, and the problems it reports. The
    indicator is read from its file alone: `load_pack` checks the seed's rows too (issue 17),
    and refuses a pack whose seed has duplicated dates."""
    from tracker.errors import ProblemsError
    from tracker.pack.records import from_model
    from tracker.pack.schema import Indicator
    from tracker.pack.yamlload import load_file
    from tracker.store.seeds import read_seed

    (file,) = [p for p in pack_dir.glob("*.yaml") if p.name != "scenarios.yaml"]
    ind = from_model(Indicator.model_validate(load_file(file, file.name)[0]))
    assert ind.seed is not None
    path = pack_dir.parent / ind.seed
    t0 = time.perf_counter()
    try:
        frame = read_seed(path, ind, ind.seed)
        rows, problems = len(frame), []
    except ProblemsError as exc:
        rows, problems = 0, [str(p) for p in exc.problems]
    took = time.perf_counter() - t0
    return {"seconds": took, "rows": rows, "problems": len(problems), "distinct": len(set(problems)),
            "first": problems[:1]}


def child_seeds(pack_dir: Path) -> dict[str, Any]:
    """read_seed of every seed file of the pack, then load_seeds of all into a new store."""
    from tracker.pack.load import load_pack
    from tracker.store.db import Store
    from tracker.store.seeds import load_seeds, read_seed

    pack = load_pack(pack_dir)
    t0 = time.perf_counter()
    rows = 0
    for ind in pack.indicators.values():
        path = pack.seed_path(ind)
        assert path is not None
        rows += len(read_seed(path, ind, pack.shown(path)))
    checked = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="tracker-bench-seeds-") as tmp, Store(Path(tmp) / "tracker.db") as store:
        t0 = time.perf_counter()
        seeded = load_seeds(store, pack)
        loaded = time.perf_counter() - t0
    return {"seconds": checked, "rows": rows, "files": len(pack.indicators), "load_seeds_s": loaded,
            "seeded": len(seeded)}


def child_huge(pack_dir: Path) -> dict[str, Any]:
    """load_pack of a pack holding one huge file: time, message and peak RSS above the start.

    The same pack without it is loaded first, so that neither the time nor the memory counts
    importing pydantic and building its schemas, which any pack load does once."""
    from tracker.errors import ProblemsError
    from tracker.pack.load import load_pack

    load_pack(pack_dir.parent / "warm" / "indicators")
    problems: list[str] = []
    reset = bench.reset_peak_rss()
    before = bench.rss_mb()
    t0 = time.perf_counter()
    try:
        load_pack(pack_dir)
    except ProblemsError as exc:
        problems = [str(p) for p in exc.problems]
    took = time.perf_counter() - t0
    return {"seconds": took, "problems": problems, "rss_before_mb": before,
            "peak_rss_mb": bench.peak_rss_mb(), "peak_reset": reset}


def whole_command(cmd: list[str]) -> tuple[float, float, int, str]:
    """Wall time, peak RSS (MiB) and exit code of a command, and the first line of its stderr.

    The peak is that process's own (wait4), not the largest of every child so far."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        took = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        err.seek(0)
        said = err.read().decode(errors="replace").strip()
    return took, usage.ru_maxrss / 1024, proc.returncode, said.splitlines()[0] if said else ""


# ---------------------------------------------------------------- sections

def section_seed(sizes: Sizes, tmp: Path) -> None:
    rows = sizes.seed_rows
    bench.out(f"## 1. One seed file of {rows:,} rows (read_seed, as seeding a store checks every seed file)")
    dup = write_seed_pack(tmp / "dup", [seed_lines(rows, repeat=REPEAT)])
    valid = write_seed_pack(tmp / "valid", [seed_lines(rows // REPEAT)])
    os.sync()
    got = child(["seed", "--pack", str(dup)])
    ok = child(["seed", "--pack", str(valid)])
    expected = rows // REPEAT
    bench.out(f"  command: {got['_cmd']}")
    bench.out(f"  {rows:,} rows, {expected:,} dates each {REPEAT} times: {got['seconds']:.2f} s, "
              f"{got['problems']:,} problems ({got['distinct']:,} distinct), "
              f"first: {got['first'][0] if got['first'] else '-'}")
    bench.out(f"  command: {ok['_cmd']}")
    bench.out(f"  (for reference: {expected:,} valid rows, {ok['rows']:,} read: {ok['seconds']:.2f} s)")
    record(f"seeds: one file of {rows:,} rows checked ({expected:,} duplicated dates)",
           f"{got['seconds']:.2f} s", "< 2 s", got["seconds"] < 2.0)
    record(f"seeds: every duplicated date of the {rows:,} rows reported once",
           f"{got['distinct']:,} of {expected:,}", f"{expected:,}",
           got["problems"] == got["distinct"] == expected, perf=False)
    bench.out()


def section_seeds(sizes: Sizes, tmp: Path) -> None:
    n, each = sizes.indicators, sizes.rows_each
    bench.out(f"## 2. {n * each:,} seed rows over {n} indicators × {each:,} days")
    pack = write_seed_pack(tmp / "many", [seed_lines(each, start=dt.date(2000, 1, 1))] * n)
    os.sync()
    got = child(["seeds", "--pack", str(pack)])
    bench.out(f"  command: {got['_cmd']}")
    bench.out(f"  read_seed of {got['files']} files, {got['rows']:,} rows: {got['seconds']:.2f} s "
              f"({got['rows'] / got['seconds']:,.0f} rows/s)")
    bench.out(f"  (for reference: load_seeds into a new store, which also writes them: {got['load_seeds_s']:.2f} s, "
              f"{got['seeded']} indicators seeded)")
    record(f"seeds: {n * each:,} rows in {n} files checked", f"{got['seconds']:.2f} s", "≤ 10 s",
           got["seconds"] <= 10.0)
    bench.out()


def section_yaml(sizes: Sizes, tmp: Path) -> None:
    mb = sizes.yaml_mb
    bench.out(f"## 3. A pack file of {mb} MB (a YAML list)")
    pack, config = write_huge_pack(tmp / "huge", mb)
    os.sync()
    got = child(["huge", "--pack", str(pack)])
    refused = any(p.endswith(f"the file is {mb} MB; a pack file may be at most 1 MB") for p in got["problems"])
    growth = got["peak_rss_mb"] - got["rss_before_mb"]
    bench.out(f"  command: {got['_cmd']}")
    bench.out(f"  load_pack: {got['seconds'] * 1000:.1f} ms; said: {'; '.join(got['problems'])}")
    bench.out(f"  peak RSS {got['peak_rss_mb']:.0f} MiB, {growth:.1f} MiB above the process before loading "
              f"({got['rss_before_mb']:.0f} MiB){'' if got['peak_reset'] else ' (peak not reset: whole process)'}")
    cmd = [str(bench.bin_dir() / "tracker"), "validate", "--config", str(config)]
    took, peak, code, said = whole_command(cmd)
    bench.out(f"  command: {bench.shown(cmd)}")
    bench.out(f"  (for reference: the whole command, start-up included: {took:.2f} s, peak RSS {peak:.0f} MiB, "
              f"exit {code}: {said})")
    record(f"pack file of {mb} MB refused", f"{got['seconds'] * 1000:.1f} ms", "< 1 s", got["seconds"] < 1.0)
    record(f"pack file of {mb} MB: peak RSS above the process before loading",
           f"{growth:.1f} MiB (peak {got['peak_rss_mb']:.0f} MiB)", "≤ 16 MiB", growth <= 16, perf=False)
    record(f"pack file of {mb} MB: refused with its size, `tracker validate` exits 2",
           "yes" if refused and code == 2 else f"no (exit {code})", "yes", refused and code == 2, perf=False)
    bench.out()


# ---------------------------------------------------------------- main

def summary_line() -> str:
    """One line for benchmarks/reliability_table.py and the README: every figure and its verdict."""
    def verdict(r: Row) -> str:
        return "n/a" if r.met is None else ("met" if r.met else "NOT MET")

    return "input-bounds: " + "; ".join(f"{r.figure}: {r.measured} (target {r.target}: {verdict(r)})"
                                        for r in ROWS)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes: checks that every figure runs")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--pack", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        doc = {"seed": child_seed, "seeds": child_seeds, "huge": child_huge}[args.child](args.pack)
        print(json.dumps(doc))
        return 0
    global QUICK
    QUICK = args.quick
    sizes = QUICK_SIZES if args.quick else FULL
    command = bench.shown(["python", "benchmarks/input_bounds.py", *(argv if argv is not None else sys.argv[1:])])
    started = time.perf_counter()
    bench.out(f"# tracker input bounds{' (quick)' if args.quick else ''}")
    bench.out(f"command: {command}")
    bench.out(f"python: {sys.executable} ({sys.version.split()[0]}), {os.cpu_count()} CPUs, "
              f"{time.strftime('%Y-%m-%d %H:%M')}, load average {bench.load_average()}")
    bench.out()
    with tempfile.TemporaryDirectory(prefix="tracker-bench-bounds-") as tmp_:
        tmp = Path(tmp_)
        section_seed(sizes, tmp)
        section_seeds(sizes, tmp)
        section_yaml(sizes, tmp)
    bench.out(f"## Summary ({time.perf_counter() - started:.0f} s; load average at the end {bench.load_average()})")
    bench.out()
    bench.out("| figure | measured | target | met |")
    bench.out("|---|---|---|---|")
    for r in ROWS:
        met = "—" if r.met is None else ("yes" if r.met else "**no**")
        bench.out(f"| {r.figure} | {r.measured} | {r.target} | {met} |")
    bench.out()
    bench.out(summary_line())
    return 1 if args.strict and any(r.met is False for r in ROWS) else 0


if __name__ == "__main__":
    bench._ensure_tracker_python()
    sys.exit(main())
