"""One command as a child process: its wall time and its own peak RSS, bounded in time and memory.

The peak RSS is the child's `ru_maxrss` from wait4 (KiB on Linux): the figure of that process
alone, not of the benchmark driving it, nor of another child. A command that outlives its
timeout, or whose resident set passes the cap, is killed with its process group and reported
as such, so that a slow or swelling tool gives a line in the table instead of a hung run or a
machine out of memory (the digest of a 2,000-indicator pack peaked at 7.4 GB, issue 20).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ANSI_RX = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class Run:
    """How one child process went: `status` is `ok`, `exit N`, `timed out after S s` or `killed: …`."""

    status: str
    wall_s: float
    cpu_s: float
    """user + system time of the child: less moved than the wall by other load on the machine."""
    peak_rss_kib: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def peak_gb(self) -> float:
        return self.peak_rss_kib * 1024 / 1e9


def run(cmd: list[str], *, env: dict[str, str], cwd: Path, log_dir: Path, name: str,
        timeout: float, rss_cap_gb: float) -> Run:
    """Run cmd with stdout and stderr into files under log_dir (a pipe would fill and stall a
    verbose child), polling its RSS against the cap while another thread waits for it."""
    out_path, err_path = log_dir / f"{name}.stdout", log_dir / f"{name}.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True)
        waited: dict[str, object] = {}
        waiter = threading.Thread(target=_wait, args=(proc, waited), daemon=True)
        waiter.start()
        killed = _watch(proc, waiter, t0, timeout, rss_cap_gb)
        waiter.join()
    wall = float(waited["end"]) - t0  # type: ignore[arg-type]
    code = os.waitstatus_to_exitcode(int(waited["status"]))  # type: ignore[call-overload]
    status = killed or ("ok" if code == 0 else f"exit {code}")
    return Run(status, wall, float(waited["cpu"]), int(waited["maxrss"]),  # type: ignore[arg-type, call-overload]
               _text(out_path), _text(err_path))


def _wait(proc: subprocess.Popen[bytes], into: dict[str, object]) -> None:
    """Reap the child with wait4: the exact end time and the child's own rusage."""
    _, status, usage = os.wait4(proc.pid, 0)
    into.update(end=time.perf_counter(), status=status, maxrss=usage.ru_maxrss,
                cpu=usage.ru_utime + usage.ru_stime)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again


def _watch(proc: subprocess.Popen[bytes], waiter: threading.Thread, t0: float, timeout: float,
           rss_cap_gb: float) -> str:
    """'' when the child ended by itself, else why it was killed."""
    while waiter.is_alive():
        waiter.join(0.05)
        if not waiter.is_alive():
            break
        if time.perf_counter() - t0 > timeout:
            _kill(proc)
            return f"timed out after {timeout:.0f} s"
        rss = _rss_gb(proc.pid)
        if rss is not None and rss > rss_cap_gb:
            _kill(proc)
            return f"killed: RSS passed {rss_cap_gb:g} GB"
    return ""


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's own process group (start_new_session made it its leader)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _rss_gb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e9
    except (OSError, ValueError):
        pass
    return None


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def screen_lines(text: str) -> list[str]:
    """The lines a terminal would show: escape sequences dropped, a line redrawn with \\r as its
    last state."""
    lines = text.split("\n")  # not splitlines(), which also splits at the \r of a redraw
    if lines and not lines[-1]:
        lines.pop()
    return [ANSI_RX.sub("", line.rstrip("\r").rsplit("\r", 1)[-1]) for line in lines]


def shape(*texts: str) -> tuple[int, int]:
    """(lines, widest line in characters) of what the texts show on a terminal, together."""
    lines = [line for text in texts for line in screen_lines(text)]
    return len(lines), max((len(line) for line in lines), default=0)
