"""The user's path on a big pack (issue 20, item 5): `tracker ingest`, `score`, `backtest` and
`digest --out` on N `file` indicators × Y years of daily values, each a child process timed with
its own peak RSS, against the bare floors measured in the same run.

    python benchmarks/end_to_end.py                        # 2,000 indicators × 10 years
    python benchmarks/end_to_end.py --indicators 5 --years 1
    python benchmarks/end_to_end.py --with-10k             # and score at 10,000 indicators
    python benchmarks/end_to_end.py --keep DIR             # keep the packs in DIR, reuse them next time
    python benchmarks/end_to_end.py --keep DIR --profile score   # one command under cProfile

`python benchmarks/run.py` runs the same as its section 6. The commands run in the pack's
folder with COLUMNS=80, one at a time (the digest of 2,000 indicators peaked at 7 GB in issue 20);
each is killed past --timeout or --max-rss and reported so. The floors (benchmarks/e2e_floors.py):
read_csv + one executemany per file into a table shaped like the store's observations, and one
SELECT of every row of it; backtest and digest are judged against `tracker score`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import e2e_pack  # noqa: E402 — the folder above is on sys.path only now
import e2e_report  # noqa: E402
import measure  # noqa: E402

COMMANDS = ("ingest", "score", "backtest", "digest")
SINCE = "2020-01-01"
INGESTED = ".ingested"
"""Marks a store that `tracker ingest` filled completely, so that --profile can reuse it."""


@dataclass
class Limits:
    timeout: float = 900.0
    rss_cap_gb: float = 10.0


@dataclass
class Point:
    """One pack size, measured: the runs by name (floor-ingest, floor-select, ingest, …)."""

    n: int
    years: int
    manifest: dict
    runs: dict[str, measure.Run] = field(default_factory=dict)
    digest_html_bytes: int | None = None
    notes: list[str] = field(default_factory=list)


class Session:
    """Runs the steps of one pack folder, printing each as it ends."""

    def __init__(self, folder: Path, limits: Limits, say: Callable[[str], None]) -> None:
        self.folder, self.limits, self.say = folder, limits, say
        self.logs = folder / "logs"
        self.logs.mkdir(exist_ok=True)
        self.env = _env()

    def step(self, name: str, cmd: list[str], label: str | None = None) -> measure.Run:
        result = measure.run(cmd, env=self.env, cwd=self.folder, log_dir=self.logs, name=name,
                             timeout=self.limits.timeout, rss_cap_gb=self.limits.rss_cap_gb)
        self.say(f"  {label or shown(cmd)}: {result.wall_s:.2f} s (cpu {result.cpu_s:.2f} s), "
                 f"peak RSS {result.peak_gb:.2f} GB, {result.status}")
        if not result.ok:
            for line in measure.screen_lines(result.stderr)[-5:]:
                self.say(f"      {line}")
        return result

    def reset_store(self) -> None:
        for name in ("tracker.db", "tracker.db-wal", "tracker.db-shm", "tracker.log", INGESTED):
            (self.folder / name).unlink(missing_ok=True)
        shutil.rmtree(self.folder / "digest-out", ignore_errors=True)

    def check_pack(self) -> measure.Run:
        """Check the pack and write its load cache, as the first command after an edit does, so that
        every timed command finds the cache warm (the steady state of a nightly job)."""
        code = ("import sys; from pathlib import Path; from tracker.pack import load_cache; "
                "load_cache.load(Path(sys.argv[1]))")
        return self.step("pack-check", [sys.executable, "-c", code, "config.yaml"],
                         label="pack check (tracker.pack.load_cache.load, before the timed commands)")

    def ingest(self) -> measure.Run:
        result = self.step("ingest", [*tracker_cmd(), "ingest", "--config", "config.yaml"])
        os.sync()  # the store written back now, not while the next command is timed
        if result.ok:
            (self.folder / INGESTED).touch()
        return result


def tracker_cmd() -> list[str]:
    return [str(Path(sys.executable).parent / "tracker")]


def command_args(name: str) -> list[str]:
    return {"ingest": ["ingest"], "score": ["score"], "backtest": ["backtest", "--from", SINCE],
            "digest": ["digest", "--out", "digest-out"]}[name] + ["--config", "config.yaml"]


def _env() -> dict[str, str]:
    """run.py's environment of timed commands (bytecode cached), on an 80-column terminal."""
    from run import bench_env

    env, _ = bench_env()
    env["COLUMNS"] = "80"
    return env


def shown(cmd: list[str]) -> str:
    """The command as typed in the pack's folder: no machine's paths."""
    names = {sys.executable: "python", tracker_cmd()[0]: "tracker"}
    return shlex.join(names.get(c, c.replace(str(REPO) + os.sep, "")) for c in cmd)


# ---------------------------------------------------------------- the pack

def ensure_pack(root: Path, n: int, years: int, limits: Limits, say: Callable[[str], None]) -> tuple[Path, dict]:
    """The pack of n × years in root, written (and checked with `tracker validate`) unless a
    complete one is there already."""
    folder = root / f"n{n}-y{years}"
    manifest = e2e_pack.read_manifest(folder)
    # A kept pack whose data has aged would measure another path: its indicators going stale.
    if manifest is not None and date.fromisoformat(manifest["last"]) >= date.today() - timedelta(days=7):
        say(f"  pack reused from {folder}")
        return folder, manifest
    t0 = time.perf_counter()
    manifest = e2e_pack.write(folder, n, years, end=date.today() - timedelta(days=1))
    os.sync()
    say(f"  pack written in {time.perf_counter() - t0:.1f} s")
    validate = Session(folder, limits, say).step("validate", [*tracker_cmd(), "validate", "indicators"])
    if not validate.ok:
        raise SystemExit(f"the generated pack does not validate:\n{validate.stdout[-2000:]}{validate.stderr[-2000:]}")
    return folder, manifest


def describe(folder: Path, manifest: dict) -> str:
    rows = manifest["indicators"] * manifest["rows_per_file"]
    size = sum(p.stat().st_size for p in (folder / "data").glob("*.csv"))
    return (f"{manifest['indicators']:,} `file` indicators × {manifest['rows_per_file']:,} daily rows = {rows:,} "
            f"observations ({manifest['first']} … {manifest['last']}), CSVs {size / 1e6:,.0f} MB")


# ---------------------------------------------------------------- measuring

def measure_point(root: Path, n: int, years: int, limits: Limits, say: Callable[[str], None],
                  commands: tuple[str, ...] = COMMANDS, floors: bool = True) -> Point:
    folder, manifest = ensure_pack(root, n, years, limits, say)
    say(f"  {describe(folder, manifest)}")
    point = Point(n, years, manifest)
    session = Session(folder, limits, say)
    session.reset_store()
    if floors:
        floor_script = str(HERE / "e2e_floors.py")
        point.runs["floor-ingest"] = session.step("floor-ingest", [sys.executable, floor_script, "ingest", "data",
                                                                   "floor.db"])
        os.sync()
        point.runs["floor-select"] = session.step("floor-select", [sys.executable, floor_script, "select",
                                                                   "floor.db"])
        for suffix in ("", "-wal", "-shm"):
            (folder / f"floor.db{suffix}").unlink(missing_ok=True)
    check = session.check_pack()
    point.notes.append(f"pack check and load cache written beforehand (not in any figure): {check.wall_s:.1f} s")
    for name in commands:
        if name == "ingest":
            point.runs[name] = session.ingest()
            store = folder / "tracker.db"
            if store.exists():
                mb = store.stat().st_size / 1e6
                point.notes.append(f"store after ingest: {mb:,.{0 if mb >= 10 else 2}f} MB")
        else:
            point.runs[name] = session.step(name, [*tracker_cmd(), *command_args(name)])
    htmls = sorted((folder / "digest-out").glob("*.html"))
    point.digest_html_bytes = htmls[0].stat().st_size if htmls else None
    return point


def profile(root: Path, n: int, years: int, what: str, limits: Limits, say: Callable[[str], None],
            top: int = 25) -> int:
    """`what` under cProfile on the pack (ingested first, unless it already is or `what` is ingest)."""
    import pstats

    folder, _ = ensure_pack(root, n, years, limits, say)
    session = Session(folder, limits, say)
    if what == "ingest" or not (folder / INGESTED).exists():
        session.reset_store()
        session.check_pack()
        if what != "ingest" and not session.ingest().ok:
            return 1
    prof = folder / f"profile-{what}.prof"
    result = session.step(f"profile-{what}", [sys.executable, "-m", "cProfile", "-o", prof.name, *tracker_cmd(),
                                              *command_args(what)])
    if what == "ingest" and result.ok:
        (folder / INGESTED).touch()
    if not prof.exists():
        say(f"  no profile written ({result.status})")
        return 1
    say(f"  top {top} by cumulative time ({prof}):")
    pstats.Stats(str(prof), stream=sys.stdout).sort_stats("cumulative").print_stats(top)
    return 0 if result.ok else 1


def benchmark(n: int, years: int, keep: Path | None, with_10k: bool, limits: Limits,
              say: Callable[[str], None]) -> e2e_report.Report:
    """Every figure of the section: the n-point with floors, then (optionally) score at 10,000."""
    with ExitStack() as stack:
        root = keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tracker-bench-e2e-")))
        root.mkdir(parents=True, exist_ok=True)
        say(f"### {n:,} indicators × {_years(years)}")
        load = f"load average {_load()} at the start"
        main = measure_point(root, n, years, limits, say)
        big = None
        if with_10k:
            say(f"### 10,000 indicators × {_years(years)} (ingest to fill the store, then score)")
            big = measure_point(root, 10_000, years, limits, say, commands=("ingest", "score"), floors=False)
    main.notes.append(f"{load}, {_load()} at the end ({os.cpu_count()} CPUs): other work on the machine moves "
                      "the walls, less the cpu times")
    return e2e_report.Report(main, big)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--indicators", type=int, default=2000, help="pack size (default 2000)")
    ap.add_argument("--years", type=int, default=10, help="years of daily rows per file (default 10)")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="write the packs into DIR and reuse them on later runs")
    ap.add_argument("--with-10k", action="store_true", help="also ingest and score 10,000 indicators")
    ap.add_argument("--profile", choices=COMMANDS, metavar="CMD",
                    help=f"run one command ({', '.join(COMMANDS)}) under cProfile and print the top 25 entries")
    ap.add_argument("--timeout", type=float, default=Limits.timeout, help="seconds before a command is killed")
    ap.add_argument("--max-rss", type=float, default=Limits.rss_cap_gb, metavar="GB",
                    help="resident set (GB) past which a command is killed")
    args = ap.parse_args(argv)
    limits = Limits(args.timeout, args.max_rss)
    say = _print
    if args.profile:
        with ExitStack() as stack:
            root = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tracker-bench-e2e-")))
            return profile(root, args.indicators, args.years, args.profile, limits, say)
    report = benchmark(args.indicators, args.years, args.keep, args.with_10k, limits, say)
    for line in report.lines():
        say(line)
    return 0


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _years(years: int) -> str:
    return f"{years} year{'s' if years != 1 else ''}"


def _print(text: str) -> None:
    print(text, flush=True)


if __name__ == "__main__":
    from run import _ensure_tracker_python

    _ensure_tracker_python()
    sys.exit(main())
