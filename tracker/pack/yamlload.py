"""Strict YAML: safe loading, duplicate keys refused, dates kept as text, and every
value's position remembered so that errors can name `file:line:col`.

PITFALLS §2.4: stock `safe_load` silently keeps the last of two duplicate keys and turns
`2024-01-31` into a date; both hide mistakes in hand-written packs. Whatever the text, loading
ends in values or in YamlProblems, never in another exception: a pack is hand-written, and a
traceback tells an analyst nothing about which line to fix.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import yaml

from tracker.errors import Problem
from tracker.pack.marks import Loc, Marks, Pos, dotted

MAX_NODES = 200_000
"""Aliases can expand exponentially ("billion laughs"); no real pack comes near this."""
MAX_DEPTH = 200
"""No pack nests beyond a handful of levels; the limit is ours, so the message does not depend on
which PyYAML (or libyaml) stops first: PyYAML 6.0.4 added its own limit of 1,000."""
TOO_FAR = "the document nests or expands too far to be a pack (recursive or exponential aliases?)"
MB = 1024 * 1024
MAX_FILE_BYTES = 1 * MB
"""A pack or config file is refused unread above this (README, The pack format). It is 190 times
the largest indicator file of the default pack (5.4 KB) and holds some 27,000 inline test
observations, yet parsing one that large already takes about 1.2 s and 100 MB; without a
bound a 50 MB list took 29 s and 4.9 GB before MAX_NODES refused it."""

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader without the implicit timestamp resolver: dates stay strings."""


StrictLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class YamlProblems(Exception):
    """Problems that make a file unusable as written. `partial` holds what could still be read
    (a duplicate key keeps its first value, a bad scalar becomes None) so that the rest of
    the file can be checked in the same pass; it is None when the text does not parse."""

    def __init__(self, problems: list[Problem], partial: tuple[Any, Marks] | None = None) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems
        self.partial = partial


def load_text(text: str, path: str) -> tuple[Any, Marks]:
    """Parse YAML text into plain Python values plus the marks of every value.

    Raises YamlProblems with positioned messages for syntax errors, duplicate keys, values
    that cannot be constructed and documents too deep or too large to be a pack.
    """
    node = _compose(text, path)
    if node is None:
        return None, Marks(values={(): (1, 1)})
    builder = _Builder(path)
    try:
        value = builder.build(node, ())
    except (RecursionError, _TooLarge):
        raise YamlProblems([Problem(path, 1, 1, "", TOO_FAR)]) from None
    if builder.problems:
        raise YamlProblems(builder.problems, (value, builder.marks))
    return value, builder.marks


def load_file(path: Path, shown: str | None = None, what: str = "a pack file") -> tuple[Any, Marks]:
    """Read and parse one YAML file; `shown` is the path printed in messages and `what` names
    the kind of file in the message about its size."""
    shown = shown or str(path)
    try:
        raw, size = _read_bounded(path)
    except OSError as exc:
        raise YamlProblems([Problem(shown, 0, 0, "", f"cannot read file: {exc.strerror}")]) from None
    if size > MAX_FILE_BYTES:
        raise YamlProblems([Problem(shown, 0, 0, "", f"the file is {_megabytes(size)} MB; {what} may be at most "
                                                     f"{_megabytes(MAX_FILE_BYTES)} MB")])
    raw = raw.removeprefix(b"\xef\xbb\xbf")  # a BOM, as some Windows editors write; positions follow it
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlProblems(
            [Problem(shown, line, col, "", f"not valid UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                                           "save the file as UTF-8")]
        ) from None
    return load_text(text, shown)


def _read_bounded(path: Path) -> tuple[bytes, int]:
    """The file's bytes and its size, reading nothing when the file system says it is too large
    and at most MAX_FILE_BYTES + 1 bytes otherwise (it may grow after the stat, or be a pipe)."""
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > MAX_FILE_BYTES:
            return b"", size
        raw = fh.read(MAX_FILE_BYTES + 1)
    return raw, max(size, len(raw))


def _megabytes(size: int) -> str:
    """Size in MB rounded up to a tenth, so that a file over the limit never reads as at it."""
    return f"{math.ceil(size * 10 / MB) / 10:g}"


def _compose(text: str, path: str) -> yaml.Node | None:
    """The node tree of the single document in text, or YamlProblems saying where it breaks."""
    loader = StrictLoader(text)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" in str(exc.problem):  # the library's own depth limit (PyYAML >= 6.0.4)
            raise YamlProblems([Problem(path, 1, 1, "", TOO_FAR)]) from None
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        raise YamlProblems([Problem(path, line, col, "", f"invalid YAML: {_reason(exc, text)}")]) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise YamlProblems([Problem(path, line, col, "", f"invalid YAML: control character U+{code:04X} "
                                                         "is not allowed in a YAML file")]) from None
    except RecursionError:  # the pure-Python parser nests on the call stack
        raise YamlProblems([Problem(path, 1, 1, "", TOO_FAR)]) from None
    except (yaml.YAMLError, ValueError) as exc:
        raise YamlProblems([Problem(path, 0, 0, "", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()


def _reason(exc: yaml.MarkedYAMLError, text: str) -> str:
    """The parser's own words, with the two commonest causes spelled out."""
    reason = exc.problem or str(exc)
    mark = exc.problem_mark
    if mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t":
        return f"{reason} (a tab: YAML indents with spaces only)"
    if "another document" in reason:
        return "expected a single document, but found another one ('---')"
    return reason


class _TooLarge(Exception):
    pass


class _Builder:
    """Turns a composed node tree into values, recording marks and duplicate keys."""

    def __init__(self, path: str) -> None:
        self.constructor = StrictLoader("")
        self.path = path
        self.marks = Marks()
        self.problems: list[Problem] = []
        self.active: set[int] = set()
        self.count = 0

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.count += 1
        if self.count > MAX_NODES or len(loc) > MAX_DEPTH:
            raise _TooLarge
        pos = (node.start_mark.line + 1, node.start_mark.column + 1)
        self.marks.values[loc] = pos
        if isinstance(node, yaml.ScalarNode):
            self.marks.raw[loc] = node.value
            return self._scalar(node, loc)
        if id(node) in self.active:  # `a: &x [*x]` contains itself
            self._problem(pos, loc, "a value cannot contain itself (recursive alias)")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, loc)
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, loc: Loc) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            self._problem(self.marks.values[loc], loc, f"invalid value: {problem}")
            return None

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[Any, Any]:
        try:
            self.constructor.flatten_mapping(node)  # merge keys (<<) resolve before duplicates count
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "invalid merge"
            self._problem(self.marks.values[loc], loc, f"invalid merge (<<): {problem}")
            return {}
        out: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key_pos = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(key_pos, loc, "a key must be plain text, not a list or mapping")
                continue
            key = key_node.value  # the text as written: `on:`, `no:` and `1:` stay keys, not bools or ints
            if key in first_line:
                self._problem(key_pos, (*loc, key),
                              f"duplicate key (first defined on line {first_line[key]})")
                continue
            first_line[key] = key_pos[0]
            self.marks.keys[(*loc, key)] = key_pos
            out[key] = self.build(value_node, (*loc, key))
        return out

    def _problem(self, pos: Pos, loc: Loc, message: str) -> None:
        self.problems.append(Problem(self.path, pos[0], pos[1], dotted(loc), message))
