"""Strict JSON for every `--json` output (RFC 8259 has no NaN or Infinity; Python writes them
unless told not to, and strict parsers — jq, JavaScript's JSON.parse, Go — refuse the document).

A non-finite number is written as null, and where it was is listed in a top-level
`non_finite` array of paths (`movers[0].observation.value`): null alone would read as "no
data", which is a different fact. The key is there only when something was non-finite, so an
ordinary output keeps its bytes (README, the JSON contract)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_RAW_CONTROLS = re.compile("[\x7f-\x9f]")
"""What json.dumps(ensure_ascii=False) leaves raw: DEL and C1 (U+009B is CSI on some terminals)."""


def finite(obj: Any, path: str = "") -> tuple[Any, list[str]]:
    """(a copy of obj with each non-finite float as None, the paths where that happened)."""
    found: list[str] = []
    return _walk(obj, path, found), found


def _walk(obj: Any, path: str, found: list[str]) -> Any:
    if isinstance(obj, dict):
        return {k: _walk(v, _key(path, k), found) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_walk(v, f"{path}[{n}]", found) for n, v in enumerate(obj)]
    if _is_float(obj) and not math.isfinite(obj):
        found.append(path)
        return None
    return obj


def _is_float(obj: Any) -> bool:
    """A float, or a numpy floating scalar (np.float32 is no float subclass): numpy unimported."""
    if isinstance(obj, float):
        return True
    dtype = getattr(obj, "dtype", None)
    return getattr(dtype, "kind", None) == "f" and getattr(obj, "ndim", None) == 0


def _key(path: str, key: Any) -> str:
    text = str(key)
    if _PLAIN_KEY.match(text):
        return f"{path}.{text}" if path else text
    return f"{path}[{json.dumps(text, ensure_ascii=False)}]"


def strict_json(doc: dict[str, Any]) -> str:
    """The document as indented JSON that any strict parser reads (see the module's docstring)."""
    clean, where = finite(doc)
    if where:
        clean["non_finite"] = where
    text = json.dumps(clean, indent=2, ensure_ascii=False, default=str, allow_nan=False)
    return _RAW_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
