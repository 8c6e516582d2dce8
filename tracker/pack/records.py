"""Checked models to plain records (pack/types.py, tracker/config.py) and records to JSON and back.

A record class has the name of the schema model it mirrors, so the conversion needs no table
of pairs. JSON, not pickle, for the cache: reading it must never run code, even if someone
else wrote the file.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from tracker import config
from tracker.pack import types
from tracker.pack.marks import Marks

RECORDS: dict[str, type] = {
    name: cls for module in (types, config) for name, cls in vars(module).items()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__
    and cls.__name__ != "Pack"
}
_TAG = "__record__"


def from_model(value: Any) -> Any:
    """A pydantic model (and everything inside it) as the record class of the same name."""
    if isinstance(value, _SCALARS):  # most values: the cheap test first (2,000-indicator packs)
        return value
    if isinstance(value, list):
        return [from_model(v) for v in value]
    if isinstance(value, dict):
        return {k: from_model(v) for k, v in value.items()}
    if not hasattr(type(value), "model_fields"):
        return value
    return RECORDS[type(value).__name__](**{k: from_model(v) for k, v in vars(value).items()})


_SCALARS = (str, int, float, type(None))


def dumps(value: Any) -> str:
    return json.dumps(_tagged(value), ensure_ascii=False)


def loads(text: str) -> Any:
    """The inverse of dumps; an unknown tag raises KeyError (a cache is then rebuilt)."""
    return json.loads(text, object_hook=_record)


def _tagged(value: Any) -> Any:
    """Records as tagged mappings; Path fields are left out (the loader sets them again)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        doc = {f.name: _tagged(getattr(value, f.name)) for f in dataclasses.fields(value)
               if not isinstance(getattr(value, f.name), Path)}
        return {_TAG: type(value).__name__, **doc}
    if isinstance(value, list):
        return [_tagged(v) for v in value]
    if isinstance(value, dict):
        return {k: _tagged(v) for k, v in value.items()}
    return value


def _record(doc: dict[str, Any]) -> Any:
    name = doc.pop(_TAG, None)
    return doc if name is None else RECORDS[name](**doc)


def marks_to_json(marks: Marks) -> dict[str, list[Any]]:
    """Locations are tuples, which JSON cannot key a mapping by: pairs of lists instead."""
    return {part: [[list(loc), pos] for loc, pos in getattr(marks, part).items()]
            for part in ("values", "keys", "raw")}


def marks_from_json(doc: dict[str, list[Any]]) -> Marks:
    def pairs(part: str) -> dict[Any, Any]:
        return {tuple(loc): tuple(pos) if part != "raw" else pos for loc, pos in doc[part]}

    return Marks(values=pairs("values"), keys=pairs("keys"), raw=pairs("raw"))
