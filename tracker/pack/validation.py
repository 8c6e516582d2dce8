"""Turn pydantic's validation errors into `file:line:col: field: message` problems.

pydantic gives every error in one pass with its location; the YAML marks give the line.
The wording is ours, so that analysts read "expected text, got boolean false; quote it: 'NO'"
rather than a library's internals ("Input should be a valid string").
"""

from __future__ import annotations

import difflib
import math
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from tracker.errors import Problem
from tracker.pack.marks import Loc, Marks, Pos, dotted
from tracker.suggest import closest

_PATTERNS = {
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*$": "an identifier (letters, digits, '_', '-', '.')",
    r"^[A-Z_][A-Z0-9_]*$": "the name of an environment variable (capitals, digits, '_')",
}
"""Words for the patterns the schemas use (schema.ID_RX, config_schema.EnvName)."""
_BOUND_WORDS = {"greater_than": "above", "greater_than_equal": "at least",
                "less_than": "below", "less_than_equal": "at most"}


def describe(value: Any) -> str:
    """How a wrong value is named in a message."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, (int, float)):
        return f"number {value:g}" if isinstance(value, float) and math.isfinite(value) else f"number {value}"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def position(marks: Marks, loc: Loc, key: bool = False) -> Pos:
    """The mark of loc (of its key if asked), or of its nearest ancestor that has one."""
    return marks.at(loc, key)


def validate(model: type[BaseModel], data: Any, path: str, marks: Marks) -> tuple[Any, list[Problem]]:
    """Validate data into model; return (instance or None, problems)."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        errors = _without_misspelt_missing(exc.errors(), model, data)
        problems = [_problem(err, model, data, path, marks) for err in errors]
        return None, sorted(set(problems))


def _without_misspelt_missing(errors: list[Any], model: type[BaseModel], data: Any) -> list[Any]:
    """`urll: …` gives 'unknown field urll; did you mean url?' and 'url is missing': one
    mistake, so the second is dropped when the first already names the field."""
    meant = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            loc = _clean_loc(tuple(err["loc"]), data)
            hint = difflib.get_close_matches(str(loc[-1]) if loc else "",
                                             _allowed_keys(model, tuple(err["loc"]), data), n=1, cutoff=0.6)
            meant.update((*loc[:-1], h) for h in hint)
    return [e for e in errors if not (e["type"] == "missing" and _clean_loc(tuple(e["loc"]), data) in meant)]


def _walk(loc: tuple[Any, ...], data: Any) -> list[tuple[Any, bool]]:
    """Each part of pydantic's location with whether it is a real key or index (True) or a
    name pydantic inserted: a union member ('csv' in source.csv.url) or a validator
    ('function-after[...]'). A part is real when the data holds it, or when it is the last
    part (the name of a missing field); the discriminator's value is a tag either way."""
    out: list[tuple[Any, bool]] = []
    node = data
    for n, part in enumerate(loc):
        last = n == len(loc) - 1
        union_tag = isinstance(node, dict) and node.get("kind") == part and not last
        real = not union_tag and (last or _holds(node, part))
        out.append((part, real))
        if real:
            node = _child(node, part)
    return out


def _holds(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _clean_loc(loc: tuple[Any, ...], data: Any) -> Loc:
    """Drop the parts pydantic inserts (('source', 'csv', 'url') -> ('source', 'url'))."""
    return tuple(part for part, real in _walk(loc, data) if real)


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _problem(err: Any, model: type[BaseModel], data: Any, path: str, marks: Marks) -> Problem:
    loc = _clean_loc(tuple(err["loc"]), data)
    if err["type"] == "union_tag_invalid":
        loc = (*loc, "kind")  # the tag, not the whole mapping, is what is wrong
    line, col = position(marks, loc, key=err["type"] == "extra_forbidden")
    return Problem(path, line, col, dotted(loc), _message(err, loc, model, marks, data))


def _message(err: Any, loc: Loc, model: type[BaseModel], marks: Marks, data: Any) -> str:
    """Our wording for each kind of pydantic error; the fallback strips pydantic's phrasing."""
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, tuple(err["loc"]), data)
        hint = closest(str(loc[-1]) if loc else "", allowed)
        if hint or not allowed:
            return f"unknown field{hint}"
        return f"unknown field; expected one of: {', '.join(allowed)}"
    if kind == "string_type":
        raw = marks.raw.get(loc)
        fix = f"; quote it: '{raw}'" if raw and isinstance(value, (bool, int, float)) else ""
        return f"expected text, got {describe(value)}{fix}"
    if kind in ("float_type", "int_type", "float_parsing", "int_parsing", "int_from_float"):
        return _number_message(kind, value)
    if kind == "finite_number":
        return f"expected a finite number, got {describe(value)}"
    if kind == "bool_type":
        return f"expected true or false, got {describe(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping, got {describe(value)}"
    if kind == "list_type":
        return f"expected a list, got {describe(value)}"
    if kind in _BOUND_WORDS:
        bound = next(iter(ctx.values()), "")
        return f"expected a number {_BOUND_WORDS[kind]} {_num(bound)}, got {_num(value)}"
    if kind in ("string_too_short", "too_short"):
        if isinstance(value, str):
            return f"expected at least {ctx.get('min_length')} characters, got {len(value)}"
        return f"expected at least {ctx.get('min_length')} items, got {ctx.get('actual_length')}"
    if kind == "literal_error":
        options = _options(str(ctx.get("expected", "")))
        return f"expected one of: {', '.join(options)}; got {describe(value)}{closest(str(value), options)}"
    if kind == "string_pattern_mismatch":
        what = _PATTERNS.get(str(ctx.get("pattern")), f"text matching {ctx.get('pattern')}")
        return f"expected {what}, got {describe(value)}"
    if kind == "union_tag_invalid":
        options = _options(str(ctx.get("expected_tags", "")))
        tag = str(ctx.get("tag"))
        hint = closest(tag, options)
        return f"unknown source kind {tag!r}{hint or '; expected one of: ' + ', '.join(options)}"
    if kind == "union_tag_not_found":
        return ("required field 'kind' is missing; expected one of: "
                "file, csv, json, gdelt, worldbank, imf, comtrade, sipri, manual, sql")
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", err["msg"]))
    return _plain(str(err["msg"]), value)


def _number_message(kind: str, value: Any) -> str:
    """'1e3' and '2025-03-31' are text to YAML; say what to write instead."""
    what = "a whole number" if kind.startswith("int") else "a number"
    hint = ""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            hint = f"; write it as a plain number: {number:g}"
    return f"expected {what}, got {describe(value)}{hint}"


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _options(expected: str) -> list[str]:
    """"'a', 'b' or 'c'" (pydantic's list of choices) -> ['a', 'b', 'c']."""
    parts = expected.replace(" or ", ",").split(",")
    return [p.strip().strip("'") for p in parts if p.strip()]


def _plain(message: str, value: Any) -> str:
    """Last resort for an error kind we do not word ourselves: no "Input should be"."""
    text = message.replace("Input should be", "expected").replace("Value error, ", "")
    return f"{text[:1].lower()}{text[1:]}, got {describe(value)}"


def _allowed_keys(model: type[BaseModel], raw_loc: tuple[Any, ...], data: Any) -> list[str]:
    """Field names of the model that holds raw_loc[-1], for the 'did you mean' hint.

    Follows pydantic's own location, whose union-member tags ('csv' in source.csv.url) say
    which member of a discriminated union the mapping was checked against; validator names
    are skipped.
    """
    current: Any = model
    for part, real in _walk(raw_loc, data)[:-1]:
        if not real and not _models(current):
            continue
        if not real and not any(_kind_is(m, part) for m in _models(current)):
            continue
        current = _descend(current, part)
        if current is None:
            return []
    return sorted({name for m in _models(current) for name in m.model_fields})


def _kind_is(m: type[BaseModel], part: Any) -> bool:
    kind = m.model_fields.get("kind")
    return kind is not None and part in typing.get_args(kind.annotation)


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _models(tp: Any) -> list[type[BaseModel]]:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return [m for a in typing.get_args(tp) for m in _models(a)] if typing.get_args(tp) else []


def _descend(tp: Any, part: Any) -> Any:
    """The annotation one step down: a field of a model, an item of a list or dict, or the
    member of a union whose `kind` is the tag `part`."""
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(part)
        return field.annotation if field else None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (list, dict):
        return args[-1]
    models = _models(tp)
    for m in models:
        if _kind_is(m, part):
            return m
    annotations = [m.model_fields[part].annotation for m in models if part in m.model_fields]
    return annotations[0] if annotations else None
