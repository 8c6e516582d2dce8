"""The end-to-end figures judged against issue 20's "done when", as Markdown tables.

One row per command (wall, peak RSS, the floor it is held to, the ratio, the targets, met or
not), then the sizes of what the user reads. A command that failed, timed out or was killed
is not met, with the reason in its row; a ratio whose floor failed is not judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import measure

if TYPE_CHECKING:
    from end_to_end import Point

HTML_LIMIT = 100_000
"""Bytes: common mail clients clip an HTML mail past about 100 KB (Gmail at 102 KB)."""
LINES, COLUMNS = 60, 80


@dataclass
class Verdict:
    """One judged figure, as run.py's summary records it."""

    figure: str
    measured: str
    target: str
    met: bool | None


@dataclass
class CommandRow:
    """A command of the user's path with its two judged figures: time against its floor, memory."""

    command: str
    run: measure.Run
    floor: str
    ratio: float | None
    checks: list[Verdict]
    floor_run: measure.Run | None

    @property
    def target(self) -> str:
        return ", ".join(c.target for c in self.checks)

    @property
    def met(self) -> str:
        missed = [f"{c.measured} > {c.target.removeprefix('≤ ')}" for c in self.checks
                  if c.met is False and c.measured != "—"]
        if not self.run.ok:
            missed.insert(0, self.run.status)
        if missed:
            return "**not met**: " + "; ".join(dict.fromkeys(missed))
        return "not judged" if any(c.met is None for c in self.checks) else "met"


class Report:
    """The figures of the n-point and, optionally, the 10,000-indicator point."""

    def __init__(self, main: Point, big: Point | None) -> None:
        self.main, self.big = main, big

    def command_rows(self) -> list[CommandRow]:
        runs = self.main.runs
        rows = []
        if "ingest" in runs:
            rows.append(_row("`tracker ingest`", runs["ingest"], runs.get("floor-ingest"), "floor", 2.0, None))
        if "score" in runs:
            rows.append(_row("`tracker score`", runs["score"], runs.get("floor-select"), "floor", 1.5, 1.0))
        for name, label in (("backtest", "`tracker backtest --from 2020-01-01`"),
                            ("digest", "`tracker digest --out DIR`")):
            if name in runs:
                rows.append(_row(label, runs[name], runs.get("score"), "score", 2.0, 1.0))
        if self.big and "score" in self.big.runs:
            # Linear growth with 10 % to spare: 5.5× from 2,000 to 10,000 indicators, as issue 20 states it.
            rows.append(_row(f"`tracker score`, {self.big.n:,} indicators", self.big.runs["score"],
                             runs.get("score"), f"score at {self.main.n:,}", 1.1 * self.big.n / self.main.n, 2.0))
        return rows

    def output_verdicts(self) -> list[Verdict]:
        runs, out = self.main.runs, []
        if "score" in runs:
            lines, width = measure.shape(runs["score"].stdout, runs["score"].stderr)
            out.append(_at_most("`tracker score` output, lines", lines, LINES, runs["score"]))
            out.append(_at_most("`tracker score` output, widest line (COLUMNS=80)", width, COLUMNS, runs["score"]))
        if "ingest" in runs:
            run = runs["ingest"]
            lines, width = measure.shape(run.stdout, run.stderr)
            verdict = _at_most("`tracker ingest` output, lines (stdout and stderr)", lines, LINES, run)
            verdict.measured = (f"{lines:,} (stdout {measure.shape(run.stdout)[0]:,}, stderr "
                                f"{measure.shape(run.stderr)[0]:,}; widest {width})")
            out.append(verdict)
        if "digest" in runs:
            size = self.main.digest_html_bytes
            measured = "no HTML written" if size is None else f"{size / 1000:,.0f} KB ({size:,} bytes)"
            met = None if size is None and not runs["digest"].ok else (size is not None and size <= HTML_LIMIT)
            out.append(Verdict("digest HTML", measured, f"≤ {HTML_LIMIT // 1000} KB", met))
        return out

    def verdicts(self) -> list[Verdict]:
        """Every judged figure, one per target, for run.py's summary."""
        size = f"e2e {self.main.n:,} × {self.main.years} y"
        judged = [c for row in self.command_rows() for c in row.checks] + self.output_verdicts()
        return [Verdict(f"{size}: {v.figure}", v.measured, v.target, v.met) for v in judged]

    # ------------------------------------------------------------ text

    def lines(self) -> list[str]:
        main = self.main
        years = f"{main.years} year{'s' if main.years != 1 else ''}"
        out = [f"#### {main.n:,} `file` indicators × {years} of daily values",
               "", "| command | wall | peak RSS | floor | ratio | target | met |", "|---|---|---|---|---|---|---|"]
        for name, label in (("floor-ingest", "floor: `read_csv` + one `executemany` per file"),
                            ("floor-select", "floor: one `SELECT` of every row, `fetchall`")):
            if name in main.runs:
                run = main.runs[name]
                out.append(f"| {label} | {_wall(run)} | {run.peak_gb:.2f} GB | — | — | — | — |")
        for row in self.command_rows():
            ratio = "—" if row.ratio is None else f"{row.ratio:.2f}×"
            out.append(f"| {row.command} | {_wall(row.run)} | {row.run.peak_gb:.2f} GB | {row.floor} | {ratio} "
                       f"| {row.target} | {row.met} |")
        out += ["", "| output | measured | target | met |", "|---|---|---|---|"]
        for v in self.output_verdicts():
            out.append(f"| {v.figure} | {v.measured} | {v.target} | {_met(v.met)} |")
        out += [""] + [f"- {note}" for note in main.notes + self._cpu_ratios()]
        if self.big is None:
            out.append("- 10,000-indicator point not run (--with-10k)")
        else:
            out += [f"- {self.big.n:,} indicators: {note}" for note in self.big.notes + self._ingest_growth()]
        return out

    def _cpu_ratios(self) -> list[str]:
        """For reference (the targets are on the wall): the same ratios on cpu time."""
        parts = [f"{row.command} {row.run.cpu_s:.1f} s / {row.floor_run.cpu_s:.1f} s = "
                 f"{row.run.cpu_s / row.floor_run.cpu_s:.2f}×"
                 for row in self.command_rows()
                 if row.ratio is not None and row.floor_run is not None and row.floor_run.cpu_s > 0]
        return [f"cpu time (user + sys) over the floor's: {'; '.join(parts)}"] if parts else []

    def _ingest_growth(self) -> list[str]:
        """For reference (no target): how ingest grew, since the big point ingests to fill its store."""
        small, big = self.main.runs.get("ingest"), self.big.runs.get("ingest") if self.big else None
        if small is None or big is None or not (small.ok and big.ok):
            return []
        return [f"`tracker ingest` {big.wall_s:.1f} s, peak RSS {big.peak_gb:.2f} GB "
                f"({big.wall_s / small.wall_s:.2f}× the time at {self.main.n:,})"]


def _row(command: str, run: measure.Run, floor: measure.Run | None, floor_name: str, ratio_max: float,
         rss_max_gb: float | None) -> CommandRow:
    """The command's time over its floor's (judged only when both ran to the end) and its peak RSS
    (over the limit is not met even when the command was killed; under it, only when it finished)."""
    ratio = run.wall_s / floor.wall_s if run.ok and floor is not None and floor.ok else None
    if floor is None or not floor.ok:
        floor_text = f"{floor_name}: {'not run' if floor is None else floor.status}"
    else:
        floor_text = f"{floor.wall_s:.2f} s" + ("" if floor_name == "floor" else f" ({floor_name})")
    time_met = False if not run.ok else (None if ratio is None else ratio <= ratio_max)
    checks = [Verdict(f"{command} wall / {floor_name} wall", "—" if ratio is None else f"{ratio:.2f}×",
                      f"≤ {ratio_max:g}×", time_met)]
    if rss_max_gb is not None:
        over = run.peak_gb > rss_max_gb
        checks.append(Verdict(f"{command} peak RSS", f"{run.peak_gb:.2f} GB", f"≤ {rss_max_gb:g} GB",
                              False if over else (True if run.ok else None)))
    return CommandRow(command, run, floor_text, ratio, checks, floor)


def _at_most(figure: str, value: int, limit: int, run: measure.Run) -> Verdict:
    note = "" if run.ok else f" ({run.status})"
    return Verdict(figure, f"{value:,}{note}", f"≤ {limit}", value <= limit and run.ok)


def _wall(run: measure.Run) -> str:
    return f"{run.wall_s:.2f} s" if run.ok else f"{run.wall_s:.2f} s ({run.status})"


def _met(met: bool | None) -> str:
    return "—" if met is None else ("met" if met else "**not met**")
