"""Run the reliability and security tests with counts, and print the README reliability table.

    .venv/bin/python benchmarks/reliability_table.py                      # the CI defaults
    .venv/bin/python benchmarks/reliability_table.py --crash-runs 200 --seconds 300 --fuzz-examples 2000

It runs tests/test_crash.py, test_concurrency.py, test_hostile_input.py and test_security.py in
one pytest process with `-s`, so that the summary line each prints ("crash-safety: …",
"concurrency: …", "run-lock: …", "hostile-input: …", "security: …") reaches its output, reads
the pass/fail of every test from a JUnit XML report, and prints the lines, then a Markdown
table: what was tried | how many times | what held | command to reproduce. A row whose tests
failed says FAILED instead of what held, and the script exits 1.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET  # noqa: S405 — parses the report pytest just wrote, nothing else
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ["tests/test_crash.py", "tests/test_concurrency.py", "tests/test_hostile_input.py",
         "tests/test_security.py", "tests/test_lost_update.py", "tests/test_store_faults.py",
         "tests/test_interrupts.py", "tests/test_private_files.py"]
PREFIXES = ("crash-safety:", "crash-safety detail:", "concurrency:", "concurrency detail:", "run-lock:",
            "hostile-input:", "security:", "lost-update:", "interrupt-sigint:", "interrupt-sigterm:",
            "input-bounds:", "secret-echo:")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crash-runs", type=int, default=20, help="SIGKILLs of `tracker ingest` (default 20)")
    ap.add_argument("--seconds", type=float, default=30, help="concurrency window in seconds (default 30)")
    ap.add_argument("--fuzz-examples", type=int, default=120,
                    help="hypothesis examples per reader (default 120)")
    ap.add_argument("--seed", type=int, help="random seed of the kill moments (default: the time)")
    ap.add_argument("--lost-update-seconds", type=float, default=60,
                    help="window of concurrent observe, ingest and run in seconds (default 60)")
    ap.add_argument("--interrupt-runs", type=int, default=20,
                    help="moments at which an ingest is interrupted, per signal (default 20)")
    args = ap.parse_args()

    env = {**os.environ, "TRACKER_CRASH_RUNS": str(args.crash_runs),
           "TRACKER_CONCURRENCY_SECONDS": f"{args.seconds:g}",
           "TRACKER_FUZZ_EXAMPLES": str(args.fuzz_examples),
           "TRACKER_LOST_UPDATE_SECONDS": f"{args.lost_update_seconds:g}",
           "TRACKER_INTERRUPT_RUNS": str(args.interrupt_runs)}
    if args.seed is not None:
        env["TRACKER_CRASH_SEED"] = str(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "report.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                   f"--junitxml={junit}", *FILES]
        print("$ " + " ".join(command[2:]), flush=True)
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        results = _results(junit) if junit.exists() else {}
    lines = _summary_lines(proc.stdout)
    if proc.returncode not in (0, 1) or not results:
        sys.stdout.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        print(f"pytest did not run the tests (exit {proc.returncode})")
        return 2
    print()
    for key in PREFIXES:
        if key in lines:
            print(f"{key} {lines[key]}")
    print()
    rows = _rows(args, lines, results)
    print("| what was tried | how many times | what held | command to reproduce |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    failed = sorted(name for name, ok in results.items() if not ok)
    print(f"\n{sum(results.values())} of {len(results)} tests passed"
          + (": FAILED " + ", ".join(failed) if failed else "."))
    return 1 if failed else 0


def _summary_lines(out: str) -> dict[str, str]:
    """prefix → the rest of its line (pytest -q may print progress dots before it on the line)."""
    names = "|".join(re.escape(p[:-1]) for p in sorted(PREFIXES, key=len, reverse=True))
    found: dict[str, str] = {}
    for line in out.splitlines():
        m = re.search(rf"(?:^|[.sFEx ])({names}): (.*)$", line)
        if m:
            found.setdefault(m.group(1) + ":", m.group(2).strip())
    return found


def _results(junit: Path) -> dict[str, bool]:
    """file::test → passed (skipped counts as not passed)."""
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314 — our own report
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        out[name] = not any(child.tag in ("failure", "error", "skipped") for child in case)
    return out


def _held(results: dict[str, bool], match: str, text: str) -> str:
    chosen = {n: ok for n, ok in results.items() if re.search(match, n)}
    if not chosen:
        return "NOT RUN"
    bad = [n.split("::")[1] for n, ok in chosen.items() if not ok]
    return f"FAILED: {', '.join(bad)}" if bad else text


def _count(results: dict[str, bool], match: str) -> int:
    return sum(1 for n in results if re.search(match, n))


def _num(text: str | None, pattern: str) -> str:
    m = re.search(pattern, text or "")
    return m.group(1) if m else "?"


def _rows(args: argparse.Namespace, lines: dict[str, str], results: dict[str, bool]) -> list[list[str]]:
    py = ".venv/bin/pytest -s"
    crash, detail = lines.get("crash-safety:"), lines.get("crash-safety detail:")
    conc, conc_detail = lines.get("concurrency:"), lines.get("concurrency detail:")
    hostile, security = lines.get("hostile-input:"), lines.get("security:")
    kills = _num(crash, r"(\d+) kills")
    mid = _num(detail, r"(\d+) of \d+ landed")
    intact = _num(crash, r"(\d+) integrity ok")
    half = _num(crash, r"(\d+) half-written")
    equal = _num(crash, r"final content equal: (\w+)")
    writes, reads = _num(conc, r"(\d+) writes"), _num(conc, r"(\d+) reads")
    locked, inconsistent = _num(conc, r"(\d+) locked"), _num(conc, r"(\d+) inconsistent")
    checks = _num(conc_detail, r"checker made (\d+)")
    fuzzed, readers = _num(hostile, r"(\d+) fuzzed inputs"), _num(hostile, r"over (\d+) readers")
    uncaught = _num(hostile, r"(\d+) uncaught")
    places = _num(security, r"in (\d+) places")
    found = _num(security, r"(\d+) found")
    secrets = security.split(" searched")[0] if security else "?"
    explicit_hostile = r"test_hostile_input::(?!test_fuzz)"
    other_security = r"test_security::(?!test_secrets)"
    return [
        ["`tracker ingest` (20 loopback CSV sources) killed with SIGKILL at random moments, half of them in "
         "the middle of its writes; after each kill a normal run",
         f"{kills} kills ({mid} between a run's first and last vintage)",
         _held(results, r"test_crash::", f"`PRAGMA integrity_check` ok after {intact} of {kills} kills; "
               f"{half} half-written vintages; every next run completed; final store equal to an "
               f"uninterrupted run: {equal}"),
         f"`TRACKER_CRASH_RUNS={args.crash_runs} {py} tests/test_crash.py`"],
        [f"nightly writer (`tracker ingest` in a loop, every fetch a new vintage) with 8 concurrent "
         f"`tracker score --json` loops and a one-transaction store checker, {args.seconds:g} s",
         f"{writes} vintages written, {reads} reads, {checks} store checks",
         _held(results, r"test_concurrency::test_writer", f"{locked} \"database is locked\", {inconsistent} "
               "inconsistent reads or snapshots; every reader exit 0, probabilities sum to 1"),
         f"`TRACKER_CONCURRENCY_SECONDS={args.seconds:g} {py} tests/test_concurrency.py -k writer`"],
        ["two `tracker run` started at once", "1 race",
         _held(results, r"test_concurrency::test_two_runs", "exactly one ran; the other exited 1 at once "
               "with \"another tracker run is in progress\" and was recorded as skipped"),
         f"`{py} tests/test_concurrency.py -k two_runs`"],
        ["hypothesis fuzzing of the pack loader, the csv/json/gdelt/worldbank/imf/comtrade/sipri parsers "
         "(random, byte-mutated and value-replaced answers, then merged and stored as ingest does), the "
         "`file` CSV/XLSX readers and the seed reader",
         f"{fuzzed} inputs over {readers} readers",
         _held(results, r"test_hostile_input::test_fuzz", f"{uncaught} uncaught exceptions: every input "
               "ended in data or in SourceError/ProblemsError naming the source"),
         f"`TRACKER_FUZZ_EXAMPLES={args.fuzz_examples} {py} tests/test_hostile_input.py -k fuzz`"],
        ["NaN, ±inf, 1e400, dates 0001-01-01 and 9999-12-31, mixed time zones, UTF-8 BOM, non-UTF-8 bytes, "
         "formula-like notes (`=cmd|' /C calc'!A0`, `+1`, `@SUM(1)`, `-2+3`) in seeds, sources and "
         "`tracker observe`", f"{_count(results, explicit_hostile)} cases",
         _held(results, explicit_hostile, "refused with a clear message or stored as data; `tracker export` "
               "cells start with an apostrophe; `tracker observe` refuses NaN/inf; score/explain/backtest "
               "still answer"),
         f"`{py} tests/test_hostile_input.py -k 'not fuzz'`"],
        ["secrets (SMTP password, two API keys) with sources that echo the key back, a 500, an alert and a "
         "digest against a relay that rejects the login", secrets,
         _held(results, r"test_security::test_secrets", f"found in {found} of {places} places: stdout, stderr, "
               "tracker.log, every TEXT column, the store files"),
         f"`{py} tests/test_security.py -k secrets`"],
        *_round_two(args, lines, results),
        ["digest HTML escaping, no eval/exec/unsafe YAML (ruff S + AST scan), no way to turn TLS "
         "verification off, `..` file paths refused, owner-only store/log/lock under umask 0",
         f"{_count(results, other_security)} checks",
         _held(results, other_security, "all held"), f"`{py} tests/test_security.py -k 'not secrets'`"],
    ]


def _round_two(args: argparse.Namespace, lines: dict[str, str], results: dict[str, bool]) -> list[list[str]]:
    """The rows of issue 16: lost update, store faults, interrupt latency, input bounds, secret echo."""
    py = ".venv/bin/pytest -s"
    lost, bounds, echo = lines.get("lost-update:"), lines.get("input-bounds:"), lines.get("secret-echo:")
    observes, ingests, runs = (_num(lost, rf"{cmd}` \((\d+)\)") for cmd in ("observe", "ingest", "run"))
    missing, stale, hidden = (_num(lost, rf"{what}: (\d+)") for what in ("snapshot", "stale read", "older one"))
    sigint, sigterm = (lines.get(f"interrupt-{sig}:") for sig in ("sigint", "sigterm"))
    moments = [_num(line, r"at (\d+) moments") for line in (sigint, sigterm)]
    slowest = [_num(line, r"slowest stop ([\d.]+ s)") for line in (sigint, sigterm)]
    faults = r"test_store_faults::"
    return [
        [f"`tracker observe`, `tracker ingest` and `tracker run` in loops at once on the same indicators, "
         f"{args.lost_update_seconds:g} s", f"{observes} observations, {ingests} ingests, {runs} runs",
         _held(results, r"test_lost_update::", f"observations missing from the latest snapshot: {missing}; "
               f"writes computed from a stale read: {stale}; vintages hidden behind an older one: {hidden}"),
         f"`TRACKER_LOST_UPDATE_SECONDS={args.lost_update_seconds:g} {py} tests/test_lost_update.py`"],
        ["store faults: a page damaged after opening, a read-only store, a read-only folder, a read-only "
         "working folder with a crash, a full disk, a foreign schema, a missing table or column, a store "
         "from a newer version (by `user_version` and by migration)", f"{_count(results, faults)} cases",
         _held(results, faults, "one `Error:` line naming the file, what is wrong and what to do; exit 2 "
               "(1 for the full disk); no crash log; a refused store byte for byte unchanged, a full disk's "
               "write rolled back"), f"`{py} tests/test_store_faults.py`"],
        ["SIGINT and SIGTERM sent to `tracker ingest` of 60 slow sources at moments from 0 s (its signal "
         "handlers just installed, still importing) to 4 s (fetching)", f"{moments[0]} + {moments[1]} interrupts",
         _held(results, r"test_interrupts::", f"exit 130 / 143 every time; slowest stop {slowest[0]} / "
               f"{slowest[1]} (limit 2 s); store intact; 0 runs left `running`; a killed run's row closed "
               "by `tracker status`"),
         f"`TRACKER_INTERRUPT_RUNS={args.interrupt_runs} {py} tests/test_interrupts.py`"],
        ["input bounds: a 60 MB pack file and a 60 MB config.yaml; seeds with thousands of duplicated dates",
         "3 inputs", _held(results, r"test_hostile_input::test_(a_pack_file|a_config_file|every_dup)",
                           bounds or "?"),
         f"`{py} tests/test_hostile_input.py -k 'size_limit or duplicated'`; speed: "
         "`python benchmarks/input_bounds.py`"],
        ["private files and secrets: `file` sources at absolute, `~`, symlinked and `..` paths; a fake "
         "`AWS_SECRET_ACCESS_KEY=` line, a 100 KB NUL line and secrets in answers every parser quotes",
         _num(echo, r"^(\d+) cases") + " cases",
         _held(results, r"test_private_files::", (echo or "?").split(") ", 1)[-1]),
         f"`{py} tests/test_private_files.py`"],
    ]


if __name__ == "__main__":
    sys.exit(main())
