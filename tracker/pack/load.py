"""Load a pack folder (scenarios.yaml, one YAML file per indicator, an optional outcomes.csv)
into typed objects, reporting every problem in every file in one pass, each with `file:line:col`.

Two layers of checks. The schema (schema.py, through pydantic) checks each file alone.
The cross-checks (checks.py) need more than one value or file (a group named in scenarios.yaml, a
likelihood row per state, the scenario ids in each row, a seed file's columns). They run on
the raw data of every readable file, even one that failed the schema, so that the user sees
every mistake on the first run rather than a new batch after each fix. Raw data can hold
anything, so every cross-check looks before it leaps (isinstance) and none raises; a
cross-check problem on a field the schema already complained about is dropped, so nothing is
reported twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tracker import cycles
from tracker.errors import Problem, ProblemsError
from tracker.pack import types as pack_types
from tracker.pack.checks import SEED_COLUMNS, Context, IndicatorChecker, PackFile, check_scenarios, normalise_priors
from tracker.pack.outcomes import OUTCOMES_FILE, read_outcomes
from tracker.pack.records import from_model
from tracker.pack.schema import Indicator, ScenarioSet
from tracker.pack.types import SCENARIOS_FILE, Pack
from tracker.pack.validation import describe, position, validate
from tracker.pack.yamlload import YamlProblems, load_file

__all__ = ["SCENARIOS_FILE", "SEED_COLUMNS", "Pack", "load_pack"]


def load_pack(root: Path) -> Pack:
    """Load and check the pack in folder `root`; raise ProblemsError listing every problem."""
    with cycles.paused():
        return _load_pack(Path(root))


def _load_pack(root: Path) -> Pack:
    if not root.is_dir():
        raise ProblemsError([Problem(str(root), 0, 0, "", "pack folder not found")])
    scen = _read(ScenarioSet, root / SCENARIOS_FILE, root, "name, scenarios, groups")
    problems = scen.problems + _new(scen.problems, check_scenarios(scen))
    paths = sorted(p for p in root.iterdir()
                   if p.suffix in (".yaml", ".yml") and p.name != SCENARIOS_FILE and p.is_file())
    files = [_read(Indicator, p, root, "id, name, group, source, …") for p in paths]
    ctx = _context(root, scen.data, files)
    indicators: dict[str, pack_types.Indicator] = {}
    owner: dict[str, PackFile] = {}
    for f in files:
        problems += f.problems
        if not isinstance(f.data, dict):
            continue
        problems += _new(f.problems, IndicatorChecker(f, ctx).run())
        iid = f.data.get("id")
        if isinstance(iid, str) and iid in owner:
            line, col = position(f.marks, ("id",))
            problems.append(Problem(f.shown, line, col, "id",
                                    f"{iid!r} is already used by {owner[iid].shown}"))
            continue
        if isinstance(iid, str):
            owner[iid] = f
        if f.record is not None:
            indicators[f.record.id] = f.record
    if not files and not problems:
        problems.append(Problem(_shown(root, root), 0, 0, "", "no indicator files (*.yaml) in the pack"))
    outcomes = None
    if (root / OUTCOMES_FILE).exists():
        outcomes, found = read_outcomes(root / OUTCOMES_FILE, _shown(root, root / OUTCOMES_FILE), ctx.ids)
        problems += found
    if problems:
        raise ProblemsError(problems)
    notes = normalise_priors(scen)
    return Pack(root, scen.record, {i: indicators[i] for i in sorted(indicators)},
                {i: owner[i].path for i in indicators}, {i: owner[i].marks for i in indicators}, scen.marks,
                outcomes, notes)


def _shown(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _read(model: Any, path: Path, root: Path, fields: str) -> PackFile:
    """Load one file and validate it against model; never raises."""
    f = PackFile(path, _shown(root, path))
    if not path.exists():
        f.problems = [Problem(f.shown, 0, 0, "", "missing: every pack needs scenarios.yaml")]
        return f
    try:
        f.data, f.marks = load_file(path, f.shown)
    except YamlProblems as exc:
        f.problems = exc.problems
        if exc.partial is None:
            return f
        f.data, f.marks = exc.partial
    if f.data is None:
        f.problems.append(Problem(f.shown, 1, 1, "",
                                  f"the file is empty; expected a mapping of fields ({fields})"))
    elif not isinstance(f.data, dict):
        f.problems.append(Problem(f.shown, 1, 1, "", "expected a mapping of fields at the top of the file, "
                                                     f"got {describe(f.data)}"))
    else:
        obj, schema = validate(model, f.data, f.shown, f.marks)
        f.record = None if f.problems else from_model(obj)  # not the model: less to keep alive
        f.problems += _new(f.problems, schema)
    return f


def _new(schema: list[Problem], found: list[Problem]) -> list[Problem]:
    """Cross-check problems about fields the schema has not already complained about."""
    said = {(p.path, p.field) for p in schema if p.field}

    def covered(p: Problem) -> bool:
        return any(p.path == path and (p.field == f or p.field.startswith((f + ".", f + "[")))
                   for path, f in said)

    return [p for p in found if not covered(p)]


def _context(root: Path, scen: Any, files: list[PackFile]) -> Context:
    scenarios = scen.get("scenarios") if isinstance(scen, dict) else None
    entries = scenarios if isinstance(scenarios, list) else []
    some = [s["id"] for s in entries if isinstance(s, dict) and isinstance(s.get("id"), str)]
    # with a duplicate id, one scenario lacks its real id: every row would name it "unknown"
    complete = isinstance(scenarios, list) and len(set(some)) == len(entries) > 0
    groups = scen.get("groups") if isinstance(scen, dict) else None
    ids = {f.data["id"] for f in files if isinstance(f.data, dict) and isinstance(f.data.get("id"), str)}
    return Context(root, some if complete else None, list(dict.fromkeys(some)),
                    list(groups) if isinstance(groups, dict) else None, ids)


