"""`tracker site` timed (issue 19), for benchmarks/run.py's `site` section.

The default pack's site, whole command, against its 5 s target; then synthetic packs of 100 and
500 indicators (benchmarks/synth.py, two years of daily observations each, in a real store)
whose growth shows whether the site scales linearly: every indicator adds one page and two
charts, so 500/100 should cost at most 5× (less, since start-up and the index are paid once).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def synthetic_project(folder: Path, n: int, days: int) -> Path:
    """synth.write_pack's pack, its config and a store holding one vintage of `days` daily rows each."""
    import synth

    from tracker.store.db import Store

    synth.write_pack(folder, n)
    config = synth.write_config(folder, workers=1, per_host=1)
    with Store(folder / "tracker.db") as store:
        for iid, frame in synth.frames(n, days):
            store.write_vintage(iid, frame, fetched_at=dt.datetime(2026, 11, 21, tzinfo=dt.UTC), origin="ingest")
    return config


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def section_site(quick: bool, record: Callable[..., None], out: Callable[[str], None],
                 timed: Callable[..., float], env: dict[str, str], shown: Callable[[list[str]], str]) -> None:
    runs = 1 if quick else 3
    small, big = (10, 30) if quick else (100, 500)
    days = 60 if quick else 730
    tracker = str(Path(sys.executable).parent / "tracker")
    out("## 7. Static site: `tracker site OUT` (whole command)")
    with tempfile.TemporaryDirectory(prefix="tracker-bench-site-") as tmp_:
        tmp = Path(tmp_)
        for name in ("indicators", "seeds"):
            shutil.copytree(REPO / name, tmp / "default" / name)
        shutil.copy2(REPO / "config.yaml", tmp / "default" / "config.yaml")
        cmd = [tracker, "site", str(tmp / "default" / "site"), "--as-of", "2026-12-06",
               "--config", str(tmp / "default" / "config.yaml")]
        timed(cmd, env)  # seeds the store and writes the load cache, as the first run on a fresh clone does
        default, cpu = [], []
        for _ in range(1 if quick else 5):
            c0 = _children_cpu()
            default.append(timed(cmd, env))
            cpu.append(_children_cpu() - c0)
        d, best = statistics.median(default), min(default)
        out(f"  command: {shown(cmd)}")
        out(f"  default pack (21 indicators): best {best:.2f} s, median {d:.2f} s (runs: "
            f"{', '.join(f'{x:.2f}' for x in default)}); CPU time (user + system) median "
            f"{statistics.median(cpu):.2f} s — on a shared machine the wall time includes waiting for a core "
            f"(load average {_load()})")
        times: dict[int, list[float]] = {small: [], big: []}
        configs = {n: synthetic_project(tmp / f"n{n}", n, days) for n in (small, big)}
        os.sync()
        cmds = {n: [tracker, "site", str(tmp / f"n{n}" / "site"), "--as-of", "2026-11-21", "--config", str(c)]
                for n, c in configs.items()}
        for n in () if quick else (small, big):
            timed(cmds[n], env)  # warm: the load cache and the OS caches
        for _ in range(runs):  # interleaved, so background load hits both sizes alike
            for n in (small, big):
                times[n].append(timed(cmds[n], env))
        t_small, t_big = (min(times[n]) for n in (small, big))
        for n in (small, big):
            out(f"  command: {shown(cmds[n])}")
            out(f"  {n:>4} synthetic indicators × {days} daily rows: best {min(times[n]):.2f} s "
                f"({min(times[n]) / n * 1000:.0f} ms per indicator; runs: {', '.join(f'{x:.2f}' for x in times[n])})")
        growth = t_big / t_small
        marginal = (t_big - t_small) / (big - small)
        out(f"  growth {big}/{small}: {growth:.2f}× (linear: {big / small:.0f}×, less the fixed start-up); "
            f"each indicator beyond {small} costs {marginal * 1000:.0f} ms")
    record(f"site: `tracker site` on the default pack (best of {len(default)})",
           f"{best:.2f} s (median {d:.2f} s, CPU {statistics.median(cpu):.2f} s)", "< 5 s", best < 5.0)
    record(f"site: time growth {big}/{small} synthetic indicators", f"{growth:.2f}× ({t_small:.1f} s → {t_big:.1f} s)",
           f"≤ {big / small * 1.1:.1f}× (linear: {big / small:.0f}×)", growth <= big / small * 1.1)
    out()

