"""Lines that fit the terminal: wrapped at spaces, never inside a word, and URLs shortened at a
slash when even a line of their own cannot hold them.

The width is the terminal's, or $COLUMNS, or 80 when neither is known (a pipe, cron). A
2,000-indicator pack made `tracker score` print lines of 120 to 230 columns, which an
80-column terminal broke in the middle of ids and words (issues 17 and 20).
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Iterable

MIN_WIDTH = 40
BOUNDARY = re.compile(r"[\s\-_/.,:;]")
"""Where a shortened name may end: between words or the parts of an id, never inside one."""


def width() -> int:
    return max(MIN_WIDTH, shutil.get_terminal_size(fallback=(80, 24)).columns)


def fit(text: str, indent: str = "", hang: str = "    ", columns: int | None = None) -> list[str]:
    """`text` as lines of at most `columns`: the first starts with `indent`, the rest with
    `indent + hang`. A word longer than a line (a URL) is shortened, never split; the first
    word (usually an id) keeps the first line's whole room."""
    columns = columns or width()
    rest = indent + hang
    words = [shorten(w, columns - len(indent if k == 0 else rest)) for k, w in enumerate(text.split(" "))]
    return textwrap.wrap(" ".join(words), columns, initial_indent=indent, subsequent_indent=rest,
                         break_long_words=False, break_on_hyphens=False) or [indent.rstrip()]


def shorten(word: str, room: int) -> str:
    """A word that fits in `room`: a URL keeps its host and its last path segment, with `…`
    between, cut at slashes; anything else keeps its start up to a boundary between words or
    the parts of an id ("Deep strategic…", "imts-cn-…"), so no word is cut in two unless a
    single word is longer than the room."""
    if len(word) <= room:
        return word
    head, sep, tail = word.partition("://")
    if sep:
        host, _, path = tail.partition("/")
        last = path.rstrip("/").rsplit("/", 1)[-1]
        short = f"{head}://{host}/…/{last}"
        if len(short) <= room:
            return short
        short = f"{head}://{host}/…"
        if len(short) <= room:
            return short
    keep = max(1, room - 1)
    cuts = [m.start() for m in BOUNDARY.finditer(word, 0, keep + 1) if m.start() > 0]
    if cuts and cuts[-1] >= keep // 2:
        cut = cuts[-1] + (word[cuts[-1]] in "-_/.")         # a separator kept: "imts-cn-…"
        return word[:min(cut, keep)].rstrip() + "…"
    return word[:keep] + "…"


def signed(x: float, places: int = 2) -> str:
    """`x` with its sign to `places` decimals; a value that rounds to zero is "+0.00", never
    "-0.00" (issue 17: a change of −0.001 printed as "-0.00")."""
    return f"{round(x, places) + 0.0:+.{places}f}"


def listing(label: str, items: Iterable[str], limit: int, where: str, indent: str = "  ") -> list[str]:
    """'label: a, b, c and 1,937 more (where)', wrapped: a list that stays a few lines long
    whatever the pack's size."""
    items = list(items)
    shown = ", ".join(items[:limit])
    more = len(items) - limit
    text = f"{label} ({len(items):,}): {shown}" + (f" and {more:,} more ({where})" if more > 0 else "")
    return fit(text, indent)
