"""The cross-checks of a pack: what needs more than one value or file.

They run on the raw data of every readable file, even one that failed the schema (see
pack.py), so every isinstance guard here is load-bearing: raw data can hold anything, and a
cross-check must neither raise nor repeat what the schema already said.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.errors import Problem
from tracker.pack.marks import Loc, Marks, dotted
from tracker.pack.schema import FREQUENCIES, freq_problem
from tracker.pack.seedrows import read_rows
from tracker.pack.steps import check_step
from tracker.pack.validation import position
from tracker.suggest import closest

SEED_COLUMNS = ("date", "published", "source_url", "note")
PRIOR_TOLERANCE = 0.01
"""Priors may sum to 1 ± this (three of 0.333, two of 0.495): they are then normalised, and said so."""
SOURCE_KINDS = ("file", "csv", "json", "gdelt", "worldbank", "imf", "comtrade", "sipri", "manual", "sql")


@dataclass
class PackFile:
    """One pack file as read: raw data (None when unreadable), marks, the checked record
    (types.py; None when the schema refused it) and the problems found while reading and
    validating it."""

    path: Path
    shown: str
    data: Any = None
    marks: Marks = field(default_factory=Marks)
    record: Any = None
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Context:
    """What the cross-checks know of the whole pack. `ids` and `groups` are None when
    scenarios.yaml could not be read completely: an incomplete list would turn every
    scenario it lacks into a false "unknown scenario"."""

    root: Path
    ids: list[str] | None
    some_ids: list[str]
    groups: list[str] | None
    indicator_ids: set[str]


def problem_at(f: PackFile, loc: Loc, message: str, key: bool = False) -> Problem:
    line, col = position(f.marks, loc, key)
    return Problem(f.shown, line, col, dotted(loc), message)


def _unknown(what: str, name: Any, choices: Iterable[str]) -> str:
    """"unknown group 'trad'; did you mean 'trade'?", or the list when nothing is close."""
    choices = list(choices)
    hint = closest(str(name), choices)
    if hint or not choices:
        return f"unknown {what} {name!r}{hint}"
    return f"unknown {what} {name!r}; expected one of: {', '.join(choices)}"


def _check_order(order: Any, ids: list[str] | None, report: Callable[[str], None]) -> None:
    """scenario_order names each scenario once (the lint reads likelihood ratios along it)."""
    if isinstance(order, list) and ids is not None and sorted(map(str, order)) != sorted(ids):
        report(f"expected each scenario id once ({', '.join(ids)}), got {', '.join(map(str, order))}")


def check_scenarios(f: PackFile) -> list[Problem]:
    """Duplicate ids, priors summing to 1 and scenario_order, on whatever could be read."""
    d = f.data
    if not isinstance(d, dict) or not isinstance(d.get("scenarios"), list):
        return []
    out: list[Problem] = []
    entries = d["scenarios"]
    seen: set[str] = set()
    for i, s in enumerate(entries):
        sid = s.get("id") if isinstance(s, dict) else None
        if isinstance(sid, str) and sid in seen:
            out.append(problem_at(f, ("scenarios", i, "id"), f"duplicate scenario id {sid!r}"))
        if isinstance(sid, str):
            seen.add(sid)
    priors = [s.get("prior") if isinstance(s, dict) else None for s in entries]
    if priors and all(_is_number(p) for p in priors):
        total = math.fsum(priors)
        if abs(total - 1.0) > PRIOR_TOLERANCE:
            out.append(problem_at(f, ("scenarios",), f"the priors sum to {total:g}; expected 1"))
    ids = [s["id"] for s in entries if isinstance(s, dict) and isinstance(s.get("id"), str)]
    _check_order(d.get("scenario_order"), ids if len(set(ids)) == len(entries) else None,
                 lambda message: out.append(problem_at(f, ("scenario_order",), message)))
    return out


def normalise_priors(f: PackFile) -> list[Problem]:
    """Scale the checked priors to sum to 1 when they are off by no more than PRIOR_TOLERANCE
    (three of 0.333 were refused: issue 17, item 9), with the note that says so."""
    scenarios = f.record.scenarios
    total = math.fsum(s.prior for s in scenarios)
    if math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-9):
        return []
    for s in scenarios:
        s.prior = s.prior / total
    scaled = ", ".join(f"{s.id} {s.prior:.4g}" for s in scenarios)
    return [problem_at(f, ("scenarios",), f"the priors sum to {total:g}; normalised to 1 ({scaled})")]


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


class IndicatorChecker:
    """The cross-checks of one indicator file, on its raw data."""

    def __init__(self, f: PackFile, ctx: Context) -> None:
        self.f, self.ctx, self.d = f, ctx, f.data
        self.out: list[Problem] = []
        self.kind = self.d.get("kind", "numeric")
        self.what = "level" if self.kind == "ordinal" else "state"
        self.names, self.complete = self._state_names()

    def at(self, loc: Loc, message: str, key: bool = False) -> None:
        self.out.append(problem_at(self.f, loc, message, key))

    def run(self) -> list[Problem]:
        self._group()
        self._frequency()
        self._transforms()
        if self.kind == "ordinal":
            self._ordinal()
        elif self.kind == "numeric":
            self._numeric()
        _check_order(self.d.get("scenario_order"), self.ctx.ids,
                     lambda message: self.at(("scenario_order",), message))
        self._likelihood()
        self._seed()
        self._tests()
        return self.out

    def _state_names(self) -> tuple[list[str], bool]:
        """The names a likelihood row or a test may use, and whether all could be read."""
        if self.kind == "ordinal":
            items, get = self.d.get("levels", []), (lambda x: x)
        elif self.kind == "numeric":
            items, get = self.d.get("states", []), (lambda x: x.get("name") if isinstance(x, dict) else None)
        else:
            return [], False
        if not isinstance(items, list):
            return [], False
        names = [get(x) for x in items]
        strings = [n for n in names if isinstance(n, str)]
        return strings, len(strings) == len(names)

    def _group(self) -> None:
        group = self.d.get("group")
        if isinstance(group, str) and self.ctx.groups is not None and group not in self.ctx.groups:
            self.at(("group",), _unknown("group", group, self.ctx.groups))

    def _frequency(self) -> None:
        freq = self.d.get("frequency")
        if isinstance(freq, str) and freq not in FREQUENCIES:
            problem = freq_problem(freq)
            if problem:
                self.at(("frequency",), f"expected {', '.join(FREQUENCIES)} or a pandas frequency such as "
                                        f"ME, QE or W-FRI; {problem}")

    def _transforms(self) -> None:
        steps = self.d.get("transforms")
        if not isinstance(steps, list):
            return
        for i, step in enumerate(steps):
            for sub, message in check_step(step):
                self.at(("transforms", i, *sub), message)
            params = step.get("share_of") if isinstance(step, dict) else None
            other = params.get("indicator") if isinstance(params, dict) else None
            if isinstance(other, str) and other not in self.ctx.indicator_ids:
                self.at(("transforms", i, "share_of", "indicator"),
                        _unknown("indicator", other, sorted(self.ctx.indicator_ids)))
            elif isinstance(other, str) and other == self.d.get("id"):
                self.at(("transforms", i, "share_of", "indicator"),
                        "an indicator cannot be a share of itself")

    def _numeric(self) -> None:
        if self.d.get("states") in (None, []):
            self.at(("states",), "a numeric indicator needs states (ordered, first match wins)")
        for key in ("levels", "pace", "stalled_after", "stall_cap"):
            if self.d.get(key) not in (None, [], {}):
                self.at((key,), f"only ordinal indicators (kind: ordinal) have {key}")
        self._duplicates("states", [s.get("name") if isinstance(s, dict) else None
                                    for s in _list(self.d.get("states"))], "state", ("name",))

    def _ordinal(self) -> None:
        if self.d.get("levels") in (None, []):
            self.at(("levels",), "an ordinal indicator needs levels, in order")
        self._duplicates("levels", _list(self.d.get("levels")), "level", ())
        for key in ("states", "transforms", "hysteresis"):
            if self.d.get(key) not in (None, [], {}):
                self.at((key,), f"ordinal indicators take levels, not {key}")
        self._pace()
        source = self.d.get("source")
        kind = source.get("kind") if isinstance(source, dict) else None
        if kind in SOURCE_KINDS and kind not in ("manual", "file"):
            self.at(("source", "kind"),
                    f"ordinal indicators are recorded by analysts: expected manual or file, got {kind!r}")

    def _pace(self) -> None:
        pace = self.d.get("pace")
        every = ", ".join(self.ctx.some_ids)
        if pace is None:
            self.at(("pace",), "required for an ordinal indicator: the typical time to the next level "
                               f"under each scenario ({every})")
            return
        if not isinstance(pace, dict):
            return
        missing = [s for s in self.ctx.some_ids if s not in pace]
        if missing:
            self.at(("pace",), f"missing scenario {', '.join(missing)}; expected a typical time to the next "
                               f"level for each scenario ({every})")
        for sid in pace:
            if self.ctx.ids is not None and sid not in self.ctx.ids:
                self.at(("pace", sid), _unknown("scenario", sid, self.ctx.ids), key=True)

    def _duplicates(self, key: str, names: list[Any], what: str, sub: Loc) -> None:
        seen: set[str] = set()
        for i, name in enumerate(names):
            if isinstance(name, str) and name in seen:
                self.at((key, i, *sub), f"duplicate {what} {name!r}")
            if isinstance(name, str):
                seen.add(name)

    def _likelihood(self) -> None:
        table = self.d.get("likelihood")
        if not isinstance(table, dict):
            return
        lacking = [n for n in self.names if n not in table]
        for state, row in table.items():
            if self.complete and state not in self.names:
                self.at(("likelihood", state), _unknown(self.what, state, lacking or self.names), key=True)
                continue
            if isinstance(row, dict):
                self._row(state, row)
        unknown = [s for s in table if s not in self.names] if self.complete else []
        for name in lacking:
            if not closest(name, unknown):  # a misspelt row was reported as unknown: once is enough
                self.at(("likelihood",), f"no likelihood row for {self.what} {name!r}")

    def _row(self, state: str, row: dict[str, Any]) -> None:
        missing = [s for s in self.ctx.some_ids if s not in row]
        if missing:
            self.at(("likelihood", state), f"missing scenario {', '.join(missing)}; each row needs "
                                           f"{', '.join(self.ctx.some_ids)}")
        for sid in row:
            if self.ctx.ids is not None and sid not in self.ctx.ids:
                self.at(("likelihood", state, sid), _unknown("scenario", sid, self.ctx.ids), key=True)

    def _seed(self) -> None:
        seed = self.d.get("seed")
        if not isinstance(seed, str):
            return
        needed = [*SEED_COLUMNS[:1], self.what if self.kind == "ordinal" else "value", *SEED_COLUMNS[1:]]
        message = _seed_problem(self.ctx.root.parent / seed, seed, needed)
        if message:
            self.at(("seed",), message)
        elif self.kind in ("numeric", "ordinal"):
            self._seed_rows(self.ctx.root.parent / seed)

    def _seed_rows(self, path: Path) -> None:
        """Every row of the seed, each problem at its line in the CSV (issue 17, item 2)."""
        levels = self.names if self.kind == "ordinal" and self.complete else None
        try:
            shown = str(path.relative_to(self.ctx.root.parent))
        except ValueError:
            shown = str(path)
        self.out += read_rows(path, shown, self.kind, levels, dt.date.today())[1]

    def _tests(self) -> None:
        for t, test in enumerate(_list(self.d.get("tests"))):
            if not isinstance(test, dict):
                continue
            for g, row in enumerate(_list(test.get("given"))):
                if isinstance(row, dict):
                    self._given(("tests", t, "given", g), row)
            expect = test.get("expect")
            state = expect.get("state") if isinstance(expect, dict) else None
            if isinstance(state, str) and self.complete and state not in self.names:
                self.at(("tests", t, "expect", "state"), _unknown(self.what, state, self.names))

    def _given(self, loc: Loc, row: dict[str, Any]) -> None:
        if self.kind == "numeric" and "value" not in row:
            self.at(loc, "missing value: a numeric indicator's test rows need a number")
        elif self.kind == "ordinal" and "level" not in row:
            self.at(loc, "missing level: an ordinal indicator's test rows name a level")
        elif self.kind == "ordinal" and isinstance(row["level"], str) and self.complete \
                and row["level"] not in self.names:
            self.at((*loc, "level"), _unknown("level", row["level"], self.names))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _seed_problem(path: Path, seed: str, needed: list[str]) -> str | None:
    """Why the seed file cannot be used, or None: it must exist and carry the columns."""
    if not Path(seed).is_absolute() and ".." in Path(seed).parts:
        return f"{seed} leaves the project folder; name a file inside it, or give an absolute path"
    try:
        if not path.is_file():
            return f"file not found: {seed} (seed paths start from the folder that holds the pack)"
        with path.open(newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, ValueError, csv.Error) as exc:  # UnicodeDecodeError is a ValueError
        reason = "not valid UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc)
        return f"cannot read {seed}: {reason}"
    missing = [c for c in needed if c not in header]
    if missing:
        return f"{seed} lacks column {', '.join(missing)}; expected columns {', '.join(needed)}"
    return None
