"""Crash safety: `tracker ingest` killed with SIGKILL at random moments never leaves a damaged
store or half a vintage, the next run completes, and the end state equals that of a run that
was never interrupted (DESIGN §5: "Writing a vintage is one transaction: a crash leaves the
previous state intact").

The runs are real processes (`python -m tracker.cli ingest`) against ~20 loopback CSV sources
that answer after a short delay, so a run lasts a second or two. Half the kills land at a random
time of the run's life (while Python starts, while sources are fetched, …), half at a random point
of its writes (a few milliseconds after the k-th source was stored: between two vintage
transactions or inside one).
Every generation of the sources changes every value, so every run writes 20 new vintages.

TRACKER_CRASH_RUNS sets the number of kills (default 20); TRACKER_CRASH_SEED the random seed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

import pytest
from reliability_helpers import (
    Sources,
    content,
    csv_indicators,
    half_written,
    integrity,
    start,
    tracker,
    vintage_count,
    write_project,
)

SOURCES = 20
LATENCY = 0.05  # × 20 sources / 2 per host ≈ 0.5 s of fetching, interleaved with the writes


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_a_whole_store(tmp_path):
    kills_wanted = int(os.environ.get("TRACKER_CRASH_RUNS", "20"))
    seed = int(os.environ.get("TRACKER_CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    ref_dir, crash_dir = tmp_path / "reference", tmp_path / "crashed"
    with Sources(latency=LATENCY) as src:
        ref_cfg = write_project(ref_dir, csv_indicators(src.url, SOURCES))
        crash_cfg = write_project(crash_dir, csv_indicators(src.url, SOURCES))
        ref_db, crash_db = ref_dir / "tracker.db", crash_dir / "tracker.db"

        # How long a run lasts here (start-up included), measured on a throwaway store.
        began = time.monotonic()
        done = tracker("ingest", "--config", str(ref_cfg), cwd=ref_dir)
        span = time.monotonic() - began
        assert done.returncode == 0, done.stdout + done.stderr
        for leftover in ref_dir.glob("tracker.db*"):
            leftover.unlink()

        kills = integrity_ok = mid_write = finished_first = 0
        broken: list[object] = []
        generation = 0
        while kills < kills_wanted:
            generation += 1  # every run meets new content, so every run has vintages to write
            src.generation = generation
            before = vintage_count(crash_db) if crash_db.exists() else 0
            proc = start("ingest", "--config", str(crash_cfg), cwd=crash_dir)
            if kills % 2 == 0:
                # Any moment of the run's life, start-up included.
                delay = rng.uniform(0.0, span)
                when = f"at {delay:.2f} s"
                killed = _kill_after(proc, delay)
            else:
                # While it writes: after the k-th stored source's log line, plus a few ms.
                k, extra = rng.randint(1, SOURCES - 1), rng.uniform(0.0, 0.03)
                when = f"{extra * 1000:.0f} ms after source {k} of {SOURCES} was stored"
                killed = _kill_after_line(proc, k, extra)
            if not killed:
                finished_first += 1  # it ended before the kill: not a kill, try again
                assert finished_first <= kills_wanted + 5, "runs keep ending before their kill moment"
                continue
            kills += 1

            if crash_db.exists():
                check = integrity(crash_db)
                integrity_ok += check == "ok"
                partial = half_written(crash_db)
                broken += partial
                assert check == "ok", f"kill {kills} {when} (seed {seed}): {check}"
                assert partial == [], f"kill {kills} {when} (seed {seed}): half-written {partial}"
                written = vintage_count(crash_db) - before
                mid_write += 0 < written < SOURCES
            else:  # killed before the store was created: nothing to damage
                integrity_ok += 1

            after = tracker("ingest", "--config", str(crash_cfg), cwd=crash_dir)
            assert after.returncode == 0, f"the run after kill {kills} failed:\n{after.stdout}{after.stderr}"
            assert integrity(crash_db) == "ok" and half_written(crash_db) == []

        final = tracker("ingest", "--config", str(crash_cfg), cwd=crash_dir)
        assert final.returncode == 0, final.stdout + final.stderr
        got = content(crash_db)

        # The reference: one uninterrupted run into a fresh store, at the last generation.
        done = tracker("ingest", "--config", str(ref_cfg), cwd=ref_dir)
        assert done.returncode == 0, done.stdout + done.stderr
        expected = content(ref_db)
        assert len(expected) == SOURCES and all(len(rows) == 24 for rows in expected.values())

    equal = got == expected
    print(f"\ncrash-safety: {kills} kills, {integrity_ok} integrity ok, {len(broken)} half-written vintages, "
          f"final content equal: {equal}")
    print(f"crash-safety detail: half the kills at a random time in the run's {span:.1f} s, half at a "
          f"random point of its writes; {mid_write} of {kills} landed between a run's first and last "
          f"vintage commit; {finished_first} runs ended before their kill time; seed {seed}")
    assert integrity_ok == kills and not broken
    assert equal, "the store after kills and restarts differs from an uninterrupted run"


def _kill_after(proc: subprocess.Popen[str], delay: float) -> bool:
    """SIGKILL after `delay` seconds; False if the process had already ended."""
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        # The run may end between the timeout and the kill (an unreaped child still takes the
        # signal without effect): then it finished first, which the caller counts as such.
        assert proc.returncode in (-signal.SIGKILL, 0), proc.returncode
        return proc.returncode == -signal.SIGKILL
    proc.communicate()
    return False


def _kill_after_line(proc: subprocess.Popen[str], k: int, extra: float) -> bool:
    """SIGKILL `extra` seconds after ingest logged its k-th stored source (`[k/20] …`)."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if f" [{k}/{SOURCES}] " in line:
            time.sleep(extra)
            if proc.poll() is not None:
                break
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()
            assert proc.returncode == -signal.SIGKILL
            return True
    proc.communicate()
    return False
