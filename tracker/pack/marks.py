"""Where each value of a loaded file came from, so that a message can name `file:line:col`.

Apart from yamlload.py because a pack read back from the load cache carries its marks too, and
that path should not pay for importing the YAML parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Loc = tuple[Any, ...]
Pos = tuple[int, int]


@dataclass
class Marks:
    """Where each value of a loaded file came from, 1-based (line, col).

    `values` holds the position of the value at a path, `keys` the position of the mapping key
    that introduced it (an unknown key is reported where the key is written), `raw` the
    source text of scalars (to say "quote it: 'NO'" about a value YAML read as false).
    """

    values: dict[Loc, Pos] = field(default_factory=dict)
    keys: dict[Loc, Pos] = field(default_factory=dict)
    raw: dict[Loc, str] = field(default_factory=dict)

    def at(self, loc: Loc, key: bool = False) -> Pos:
        """The position of loc (of its key if asked), else of its nearest ancestor, else (0, 0)."""
        if key and loc in self.keys:
            return self.keys[loc]
        while loc not in self.values and loc:
            loc = loc[:-1]
        return self.values.get(loc, (0, 0))


def dotted(loc: Loc) -> str:
    """('states', 2, 'below') -> 'states[2].below', the way messages name a field."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts)
