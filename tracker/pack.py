"""Load a pack folder (scenarios.yaml + one YAML file per indicator) into typed objects,
reporting every problem in every file in one pass, each with `file:line:col`."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker import transforms
from tracker.errors import Problem, ProblemsError
from tracker.pack_schema import FREQUENCIES, Indicator, ScenarioSet, _pandas_freq
from tracker.suggest import closest
from tracker.validation import position, validate
from tracker.yamlload import Loc, Marks, YamlProblems, dotted, load_file

SEED_COLUMNS = ("date", "published", "source_url", "note")
SCENARIOS_FILE = "scenarios.yaml"


@dataclass
class Pack:
    root: Path
    scenario_set: ScenarioSet
    indicators: dict[str, Indicator]
    files: dict[str, Path] = field(default_factory=dict)
    marks: dict[str, Marks] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.scenario_set.name

    @property
    def scenario_ids(self) -> list[str]:
        return [s.id for s in self.scenario_set.scenarios]

    @property
    def priors(self) -> dict[str, float]:
        return {s.id: s.prior for s in self.scenario_set.scenarios}

    def seed_path(self, ind: Indicator) -> Path | None:
        """Seeds are named relative to the folder that holds the pack folder."""
        return (self.root.parent / ind.seed) if ind.seed else None

    def line_of(self, indicator_id: str, loc: Loc) -> str:
        line, _ = position(self.marks.get(indicator_id, {}), loc)
        return f"{self.shown(self.files[indicator_id])}:{line}"

    def shown(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)


def load_pack(root: Path) -> Pack:
    """Load and check the pack in folder `root`; raise ProblemsError listing every problem."""
    root = Path(root)
    if not root.is_dir():
        raise ProblemsError([Problem(str(root), 0, 0, "", "pack folder not found")])
    problems: list[Problem] = []

    def shown(path: Path) -> str:
        try:
            return str(path.relative_to(root.parent))
        except ValueError:
            return str(path)

    scen_path = root / SCENARIOS_FILE
    scenario_set, scen_marks = None, {}
    if not scen_path.exists():
        problems.append(Problem(shown(scen_path), 0, 0, "", "missing: every pack needs scenarios.yaml"))
    else:
        scenario_set, scen_marks, found = _load_one(ScenarioSet, scen_path, shown(scen_path))
        problems += found
        if scenario_set:
            problems += _check_scenarios(scenario_set, shown(scen_path), scen_marks)

    indicators: dict[str, Indicator] = {}
    files: dict[str, Path] = {}
    marks: dict[str, Marks] = {}
    for path in sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml") and p.name != SCENARIOS_FILE):
        ind, ind_marks, found = _load_one(Indicator, path, shown(path))
        problems += found
        if ind is None:
            continue
        if ind.id in indicators:
            line, col = position(ind_marks, ("id",))
            problems.append(Problem(shown(path), line, col, "id",
                                    f"{ind.id!r} is already used by {shown(files[ind.id])}"))
            continue
        indicators[ind.id], files[ind.id], marks[ind.id] = ind, path, ind_marks
    if not indicators and not problems:
        problems.append(Problem(shown(root), 0, 0, "", "no indicator files (*.yaml) in the pack"))
    if scenario_set:
        for ind_id, ind in indicators.items():
            problems += _check_indicator(ind, scenario_set, indicators, root, shown(files[ind_id]), marks[ind_id])
    if problems:
        raise ProblemsError(problems)
    assert scenario_set is not None
    return Pack(root, scenario_set, dict(sorted(indicators.items())), files, marks)


def _load_one(model: Any, path: Path, shown: str) -> tuple[Any, Marks, list[Problem]]:
    try:
        data, marks = load_file(path, shown)
    except YamlProblems as exc:
        return None, {}, exc.problems
    if not isinstance(data, dict):
        return None, marks, [Problem(shown, 1, 1, "", "expected a mapping of fields at the top of the file")]
    obj, problems = validate(model, data, shown, marks)
    return obj, marks, problems


def _at(path: str, marks: Marks, loc: Loc, message: str) -> Problem:
    line, col = position(marks, loc)
    return Problem(path, line, col, dotted(loc), message)


def _check_scenarios(ss: ScenarioSet, path: str, marks: Marks) -> list[Problem]:
    out = []
    ids = [s.id for s in ss.scenarios]
    for i, sid in enumerate(ids):
        if sid in ids[:i]:
            out.append(_at(path, marks, ("scenarios", i, "id"), f"duplicate scenario id {sid!r}"))
    total = sum(s.prior for s in ss.scenarios)
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        out.append(_at(path, marks, ("scenarios",), f"priors must sum to 1, they sum to {total:g}"))
    if ss.scenario_order is not None and sorted(ss.scenario_order) != sorted(ids):
        out.append(_at(path, marks, ("scenario_order",),
                       f"expected each scenario id once ({', '.join(ids)}), got {', '.join(ss.scenario_order)}"))
    return out


def _check_indicator(ind: Indicator, ss: ScenarioSet, all_inds: dict[str, Indicator], root: Path,
                     path: str, marks: Marks) -> list[Problem]:
    out: list[Problem] = []
    ids = [s.id for s in ss.scenarios]

    def at(loc: Loc, message: str) -> None:
        out.append(_at(path, marks, loc, message))

    if ind.group not in ss.groups:
        at(("group",), f"unknown group {ind.group!r}{closest(ind.group, ss.groups)}; "
                       f"scenarios.yaml defines: {', '.join(ss.groups)}")
    if ind.frequency not in FREQUENCIES:
        try:
            _pandas_freq(ind.frequency)
        except ValueError as exc:
            at(("frequency",), f"{exc}; or one of: {', '.join(FREQUENCIES)}")
    for i, step in enumerate(ind.transforms):
        for sub, message in transforms.check_step(step):
            at(("transforms", i, *sub), message)
    for i, dep in enumerate(transforms.depends_on(ind.transforms)):
        if dep and dep not in all_inds:
            at(("transforms",), f"share_of names unknown indicator {dep!r}{closest(dep, all_inds)}")
    if ind.kind == "ordinal":
        _check_ordinal(ind, ids, at)
    else:
        _check_numeric(ind, at)
    names = ind.state_names
    for state, row in ind.likelihood.items():
        if state not in names:
            what = "level" if ind.kind == "ordinal" else "state"
            at(("likelihood", state, "__key__"), f"unknown {what} {state!r}{closest(state, names)}")
            continue
        missing = [s for s in ids if s not in row]
        if missing:
            at(("likelihood", state), f"missing scenario {', '.join(missing)}; each row needs {', '.join(ids)}")
        for sid in row:
            if sid not in ids:
                at(("likelihood", state, sid, "__key__"), f"unknown scenario {sid!r}{closest(sid, ids)}")
    for name in names:
        if name not in ind.likelihood:
            at(("likelihood",), f"no likelihood row for {name!r}")
    if ind.seed:
        out += _check_seed(ind, root, path, marks)
    for t, test in enumerate(ind.tests):
        for g, row in enumerate(test.given):
            if ind.kind == "ordinal" and row.level not in ind.levels:
                at(("tests", t, "given", g), f"expected level: one of {', '.join(ind.levels)}")
            if ind.kind == "numeric" and row.value is None:
                at(("tests", t, "given", g), "expected value: a number")
        if test.expect.state is not None and test.expect.state not in names:
            at(("tests", t, "expect", "state"),
               f"unknown state {test.expect.state!r}{closest(test.expect.state, names)}")
    return out


def _check_numeric(ind: Indicator, at: Any) -> None:
    if not ind.states:
        at(("states",), "a numeric indicator needs states (ordered, first match wins)")
    for key in ("levels", "pace"):
        if getattr(ind, key):
            at((key,), "only ordinal indicators (kind: ordinal) have " + key)
    seen: set[str] = set()
    for i, state in enumerate(ind.states):
        if state.name in seen:
            at(("states", i, "name"), f"duplicate state {state.name!r}")
        seen.add(state.name)


def _check_ordinal(ind: Indicator, ids: list[str], at: Any) -> None:
    if not ind.levels:
        at(("levels",), "an ordinal indicator needs levels, in order")
    for i, level in enumerate(ind.levels):
        if level in ind.levels[:i]:
            at(("levels", i), f"duplicate level {level!r}")
    if ind.states or ind.transforms:
        at(("states" if ind.states else "transforms",), "ordinal indicators take levels, not states or transforms")
    if sorted(ind.pace) != sorted(ids):
        at(("pace",), f"expected a typical time to the next level for each scenario: {', '.join(ids)}")
    if ind.source.kind not in ("manual", "file"):
        at(("source", "kind"), "ordinal indicators are recorded by analysts: use manual or file")
    if ind.scenario_order is not None and sorted(ind.scenario_order) != sorted(ids):
        at(("scenario_order",), f"expected each scenario id once: {', '.join(ids)}")


def _check_seed(ind: Indicator, root: Path, path: str, marks: Marks) -> list[Problem]:
    seed = root.parent / str(ind.seed)
    line, col = position(marks, ("seed",))
    if not seed.is_file():
        return [Problem(path, line, col, "seed", f"file not found: {ind.seed}")]
    try:
        with seed.open(newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(path, line, col, "seed", f"cannot read {ind.seed}: {exc}")]
    needed = [*SEED_COLUMNS, "level" if ind.kind == "ordinal" else "value"]
    missing = [c for c in needed if c not in header]
    if missing:
        return [Problem(path, line, col, "seed",
                        f"{ind.seed} lacks column {', '.join(missing)}; expected {', '.join(needed)}")]
    return []
