"""Cron syntax: the schedule strings of config.yaml read into explicit sets, and `tracker cron`.

One reading serves both runners, so that the daemon (APScheduler 3) and a crontab line fire at
the same instants. The two disagree on everything outside plain numbers:
- weekday numbers: APScheduler 3 reads 0 as Monday, cron as Sunday (PITFALLS §2.1.7), so the
  config takes names only, the trigger gets names and the crontab line gets cron numbers;
- `*/2` on weekdays steps from Monday in APScheduler and from Sunday in cron; here it steps from
  Sunday, as the config says "cron syntax", and both runners get the explicit days;
- a day AND a weekday: cron fires when either matches, APScheduler when both do — refused.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.errors import InputError, TrackerError

if TYPE_CHECKING:
    from tracker.service import Context

WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
"""In cron's order: the index is the crontab number (sun = 0)."""
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("day_of_week", 0, 6))


@dataclass(frozen=True)
class CronSpec:
    text: str
    minute: frozenset[int]
    hour: frozenset[int]
    day: frozenset[int]
    month: frozenset[int]
    day_of_week: frozenset[int]
    """Cron numbers: 0 = Sunday … 6 = Saturday."""

    def trigger_fields(self) -> dict[str, str]:
        """Keyword arguments for APScheduler's CronTrigger (weekdays by name)."""
        out = {name: compress(getattr(self, name), lo, hi) for name, lo, hi in FIELDS[:4]}
        days = self.day_of_week
        out["day_of_week"] = "*" if len(days) == 7 else ",".join(WEEKDAYS[d] for d in sorted(days))
        return out

    def crontab(self) -> str:
        """The five fields of a crontab line (weekdays as cron numbers)."""
        return " ".join(compress(getattr(self, name), lo, hi) for name, lo, hi in FIELDS)


def parse(text: str, what: str = "schedule") -> CronSpec:
    """Read `minute hour day month weekday`; InputError (exit 2) naming the field otherwise."""
    parts = text.lower().split()
    if len(parts) != 5:
        raise InputError(f"{what}: expected five cron fields (minute hour day month weekday), got {text!r}")
    sets = {}
    for (name, lo, hi), part in zip(FIELDS, parts, strict=True):
        try:
            sets[name] = frozenset(_field(part, name, lo, hi))
        except ValueError as exc:
            raise InputError(f"{what}: {name} field {part!r}: {exc}") from None
    if parts[2] != "*" and parts[4] != "*":
        raise InputError(f"{what}: {text!r} restricts both the day and the weekday; cron runs a job when "
                         "either matches and APScheduler when both do, so restrict only one of them")
    return CronSpec(text, **sets)


def _field(text: str, name: str, lo: int, hi: int) -> set[int]:
    out: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = _number(step_text) if step_text else 1
        if step < 1:
            raise ValueError("a step must be 1 or more")
        if name == "day_of_week":
            out |= set(_weekdays(base)[::step])
            continue
        if base == "*":
            first, last = lo, hi
        else:
            first_text, dash, last_text = base.partition("-")
            first = _value(first_text, name)
            last = _value(last_text, name) if dash else (hi if step_text else first)
        if not (lo <= first <= hi and lo <= last <= hi):
            raise ValueError(f"expected values from {lo} to {hi}")
        if first > last:
            raise ValueError(f"the range {base} runs backwards")
        out |= set(range(first, last + 1, step))
    return out


def _weekdays(base: str) -> list[int]:
    """Days of a weekday item in order: `*` from Sunday, `a-b` forward from a (it may wrap)."""
    if base == "*":
        return list(range(7))
    first_text, dash, last_text = base.partition("-")
    first = _weekday(first_text)
    last = _weekday(last_text) if dash else first
    return [(first + k) % 7 for k in range((last - first) % 7 + 1)]


def _weekday(text: str) -> int:
    if text not in WEEKDAYS:
        raise ValueError("use weekday names (mon … sun); APScheduler 3 reads 0 as Monday, cron as Sunday")
    return WEEKDAYS.index(text)


def _value(text: str, name: str) -> int:
    if name == "month" and text in MONTHS:
        return MONTHS.index(text) + 1
    return _number(text)


def _number(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a number")
    return int(text)


def compress(values: frozenset[int], lo: int, hi: int) -> str:
    """`*` for every value, else runs as ranges: {1,2,3,5} → `1-3,5`."""
    if values == frozenset(range(lo, hi + 1)):
        return "*"
    ordered = sorted(values)
    runs: list[list[int]] = []
    for v in ordered:
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


# ---------------------------------------------------------------- tracker cron

def cron_lines(ctx: Context, config_path: Path, executable: str | None = None, pack_dir: str | None = None) -> str:
    """Crontab lines for the nightly run and the weekly digest, with absolute paths (and the
    `--pack` given, so that the jobs read the pack this command read)."""
    cfg = ctx.config
    exe = _quote(find_executable(executable))
    config = _quote(Path(os.path.abspath(config_path)))
    if pack_dir:
        config += f" --pack {_quote(Path(os.path.abspath(pack_dir)))}"
    log = _quote(Path(os.path.abspath(cfg.path(cfg.log))))
    nightly = parse(cfg.schedule.nightly, "schedule.nightly")
    digest = parse(cfg.schedule.digest, "schedule.digest")
    tail = f">> {log} 2>&1"
    lines = [
        "# tracker: the nightly run and the weekly digest (from `tracker cron`; install with `crontab -e`).",
        "# Use cron or `tracker schedule`, not both: the second would only find the run lock taken.",
        "# CRON_TZ is honoured by cronie; a cron that ignores it (see `man 5 crontab`) uses the",
        f"# system time zone, which must then be {cfg.timezone}.",
        f"CRON_TZ={cfg.timezone}",
        f"{nightly.crontab()} {exe} run --config {config} {tail}",
    ]
    if cfg.digest is None:
        lines.append("# No weekly digest: config.yaml has no `digest:` section.")
    else:
        lines.append(f"{digest.crontab()} {exe} digest --send --config {config} {tail}")
    return "\n".join(lines) + "\n"


def find_executable(explicit: str | None = None) -> Path:
    """The `tracker` being run (sys.argv[0]) or the one on PATH, as an absolute path."""
    if explicit:
        found = shutil.which(explicit) if os.sep not in explicit else explicit
        if not found or not Path(found).is_file():
            raise TrackerError(f"--executable {explicit}: no such program", 2)
        return Path(os.path.abspath(found))
    argv0 = Path(sys.argv[0])
    if argv0.name == "tracker" and argv0.is_file():
        return Path(os.path.abspath(argv0))
    found = shutil.which("tracker")
    if not found:
        raise TrackerError("cannot find the `tracker` program on PATH; pass --executable /path/to/tracker")
    return Path(os.path.abspath(found))


def _quote(path: Path) -> str:
    # In a crontab line an unescaped % ends the command (crontab(5)).
    return shlex.quote(str(path)).replace("%", "\\%")
