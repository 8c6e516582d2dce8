"""Control characters in text that reaches a terminal, a mail or a mail header.

Notes, source URLs, names and error messages come from sources, analysts and pack authors, and
are shown on terminals and mailed. An ESC there can clear the screen, retitle the window (OSC
… BEL) or rewrite what a line says; U+009B is CSI on some terminals; a CR or LF in an address
becomes a header of its own. So terminals get each such character as a visible escape (the
analyst sees what was stored), mail gets it dropped, and config.yaml refuses it in addresses.

A shared module at the top: the config schema (pack/) checks addresses with it, and the views,
operations and command line escape or strip with it; it imports nothing of tracker.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
"""C0 (including tab, CR and LF), DEL and C1."""
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def has_controls(text: str) -> bool:
    return CONTROL.search(text) is not None


def escape_controls(text: str, keep: str = "") -> str:
    """For a terminal: each control character as `\\x1b` (`\\n`, `\\t`, `\\r` for those), except
    the characters in `keep` (a rendered report's own line breaks)."""
    def visible(m: re.Match[str]) -> str:
        c = m.group()
        return c if c in keep else _NAMED.get(c, f"\\x{ord(c):02x}")
    return CONTROL.sub(visible, text)


def strip_controls(text: str) -> str:
    """For a mail: line breaks kept (as LF), a tab as a space, every other control character
    dropped."""
    text = text.replace("\r\n", "\n").replace("\t", " ")
    return CONTROL.sub(lambda m: m.group() if m.group() == "\n" else "", text)


def map_text(obj: Any, fn: Callable[[str], str]) -> Any:
    """`fn` applied to every string (keys too) of a JSON-like tree of dicts, lists and tuples;
    a new tree, the input unchanged."""
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, dict):
        return {map_text(k, fn): map_text(v, fn) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [map_text(v, fn) for v in obj]
    return obj


def escape_fields(obj: Any) -> Any:
    """Every string of a report escaped, line breaks included: each field is shown on one line."""
    return map_text(obj, escape_controls)


def strip_fields(obj: Any) -> Any:
    """Every string of a mail's content with its control characters dropped (line breaks kept)."""
    return map_text(obj, strip_controls)
