"""What a message may quote of a file or a server's answer: a short, sanitised excerpt.

A source's error is printed, logged, stored and shown in the digest's e-mail and HTML, so no
file or answer may reach it whole: an outside probe once had the first line of a credentials
file (`AWS_SECRET_ACCESS_KEY=…`) echoed that way, and a line of 100 KB of NULs went the same
road. Every connector quotes data (a first line, a header, a cell, a body, an API's message)
only through the functions here, which keep printable characters only, bound the length and
mask what looks like a secret.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any

LIMIT = 80
"""Characters at most of one excerpt: a body, a first line, a whole list of column names."""
NAME_LIMIT = 32
"""Characters at most of one column name or key within a list of them."""
CELL_LIMIT = 40
"""Characters at most of one cell."""
MASK = "***"
SENSITIVE_NAME = r"[\w.-]*(?:key|token|secret|passw(?:or)?d|pwd|credential|auth|signature|cookie|session)[\w.-]*"
ASSIGNMENT_RX = re.compile(rf"(?i)\b({SENSITIVE_NAME})(['\"]?\s*[=:]\s*)(?:(?:bearer|basic)\s+)?\S+")
"""`AWS_SECRET_ACCESS_KEY=…`, `"api_key": "…"`, `Authorization: Bearer …`: the value goes."""
MIN_TOKEN = 20
TOKEN_RX = re.compile(rf"[A-Za-z0-9+/=_-]{{{MIN_TOKEN},}}")
"""A long unbroken token: a key or a password when it mixes both cases and digits."""
_END = object()


def text(data: Any, limit: int = LIMIT) -> str:
    """At most `limit` printable characters of `data`, secrets masked, `…` where it was cut.

    Only the first few `limit`s of characters are looked at, so a 50 MB body costs nothing.
    Control characters, NULs and other unprintables (bidi overrides, line separators) become
    spaces and every run of space one space, so a line of NULs shows as nothing and a message
    stays one line. When the text was cut, its last word is dropped: it may be a secret cut
    too short to be recognised as one (a longer one is judged like any other).
    """
    window = limit * 4
    if isinstance(data, bytes | bytearray):
        decoded = bytes(data[:window * 4]).decode("utf-8", "replace")
        longer = len(data) > window * 4 or len(decoded) > window
    else:
        decoded = data if isinstance(data, str) else str(data)
        longer = len(decoded) > window
    words = "".join(c if c.isprintable() else " " for c in decoded[:window]).split()
    if longer and words and len(words[-1]) < MIN_TOKEN:
        words.pop()
    shown = masked(" ".join(words))
    if longer or len(shown) > limit:
        return shown[:limit - 1].rstrip() + "…"
    return shown


def masked(line: str) -> str:
    """`line` with the values of secret-sounding assignments and secret-looking tokens as ***."""
    line = ASSIGNMENT_RX.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", line)
    return TOKEN_RX.sub(lambda m: MASK if _secretish(m.group()) else m.group(), line)


def _secretish(token: str) -> bool:
    return (any(c.islower() for c in token) and any(c.isupper() for c in token)
            and any(c.isdigit() for c in token))


def names(items: Iterable[Any], limit: int = LIMIT) -> str:
    """Column names or keys for a message, comma-separated: each short, all at most `limit`.

    A header line is file content like any other: the names are what a reader needs to fix a
    `date:` or `value:`, so they are shown, but no more of them than fits.
    """
    rest = iter(items)
    shown = [text(name, NAME_LIMIT) for name in itertools.islice(rest, limit // 2)]
    if next(rest, _END) is not _END:
        shown.append("…")
    joined = ", ".join(shown)  # each name is clean already: masking again could eat a comma
    return joined if len(joined) <= limit else joined[:limit - 1].rstrip() + "…"


def cell(value: Any, limit: int = CELL_LIMIT) -> str:
    """One cell for a message, written as repr writes it (text quoted, a number bare), but short."""
    if isinstance(value, str):
        return repr(text(value, limit))
    return text(repr(value), limit)
