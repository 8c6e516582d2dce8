"""Turn pydantic's validation errors into `file:line:col: field: message` problems.

pydantic gives every error in one pass with its location; the YAML marks give the line.
The wording is ours, so that analysts read "expected text, got boolean false; quote it: 'NO'"
rather than a library's internals.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from tracker.errors import Problem
from tracker.suggest import closest
from tracker.yamlload import Loc, Marks, dotted


def describe(value: Any) -> str:
    """How a wrong value is named in a message."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def position(marks: Marks, loc: Loc) -> tuple[int, int]:
    """The mark of loc, or of its nearest ancestor that has one."""
    while loc not in marks and loc:
        loc = loc[:-1]
    return marks.get(loc, (0, 0))


def validate(model: type[BaseModel], data: Any, path: str, marks: Marks) -> tuple[Any, list[Problem]]:
    """Validate data into model; return (instance or None, problems)."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        problems = [_problem(err, model, data, path, marks) for err in exc.errors()]
        return None, sorted(set(problems))


def _clean_loc(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """Drop the union tags pydantic inserts (('source', 'csv', 'url') -> ('source', 'url'))."""
    out: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part not in node and isinstance(part, str) and node.get("kind") == part:
            continue
        if isinstance(node, dict) and part in ("function-after[_one()]",):
            continue
        out.append(part)
        node = node.get(part) if isinstance(node, dict) else (
            node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None)
    return tuple(p for p in out if not (isinstance(p, str) and p.startswith("function-")))


def _problem(err: Any, model: type[BaseModel], data: Any, path: str, marks: Marks) -> Problem:
    loc = _clean_loc(tuple(err["loc"]), data)
    kind = err["type"]
    key_loc = (*loc, "__key__")
    line, col = position(marks, key_loc if kind == "extra_forbidden" else loc)
    return Problem(path, line, col, dotted(loc), _message(err, loc, model, marks))


def _message(err: Any, loc: Loc, model: type[BaseModel], marks: Marks) -> str:
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    raw = marks.get((*loc, "__raw__"))
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc)
        hint = closest(str(loc[-1]), allowed)
        return f"unknown field{hint}" if hint else f"unknown field; expected one of: {', '.join(allowed)}"
    if kind == "string_type":
        fix = f"; quote it: '{raw}'" if raw is not None and not isinstance(value, (list, dict)) else ""
        return f"expected text, got {describe(value)}{fix}"
    if kind in ("float_type", "int_type", "float_parsing", "int_parsing"):
        what = "a whole number" if kind.startswith("int") else "a number"
        return f"expected {what}, got {describe(value)}"
    if kind == "bool_type":
        return f"expected true or false, got {describe(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping, got {describe(value)}"
    if kind == "list_type":
        return f"expected a list, got {describe(value)}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        words = {"greater_than": "above", "greater_than_equal": "at least",
                 "less_than": "below", "less_than_equal": "at most"}[kind]
        bound = next(iter(ctx.values()))
        return f"expected a number {words} {bound:g}, got {value}"
    if kind == "string_too_short":
        return f"expected at least {ctx.get('min_length')} characters, got {len(value)}"
    if kind == "too_short":
        if isinstance(value, str):
            return f"expected at least {ctx.get('min_length')} characters, got {len(value)}"
        return f"expected at least {ctx.get('min_length')} items, got {ctx.get('actual_length')}"
    if kind == "literal_error":
        expected = ctx.get("expected", "").replace("'", "")
        options = [o.strip() for o in expected.replace(" or ", ",").split(",") if o.strip()]
        return f"expected one of: {', '.join(options)}; got {describe(value)}{closest(str(value), options)}"
    if kind == "string_pattern_mismatch":
        return f"expected an identifier (letters, digits, '_', '-', '.'), got {describe(value)}"
    if kind == "union_tag_invalid":
        options = [o.strip(" '") for o in str(ctx.get("expected_tags", "")).split(",")]
        tag = ctx.get("tag")
        return f"unknown source kind {tag!r}; expected one of: {', '.join(options)}{closest(str(tag), options)}"
    if kind == "union_tag_not_found":
        return "required field 'kind' is missing (file, csv, json, gdelt, worldbank, imf, comtrade, sipri, manual or sql)"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"]


def _allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the model that holds loc[-1], for the 'did you mean' hint."""
    import typing

    current: Any = model
    for part in loc[:-1]:
        current = _descend(current, part)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    members = [m for m in typing.get_args(current) if isinstance(m, type) and issubclass(m, BaseModel)]
    return sorted({f for m in members for f in m.model_fields})


def _descend(tp: Any, part: Any) -> Any:
    import typing

    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _descend(typing.get_args(tp)[0], part)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(part)
        return field.annotation if field else None
    args = typing.get_args(tp)
    if origin in (list, dict):
        return args[-1]
    if args:  # a union of models: keep the union, the next key picks among its fields
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        annotations = [m.model_fields[part].annotation for m in models if part in m.model_fields]
        return annotations[0] if annotations else tp
    return None
