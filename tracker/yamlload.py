"""Strict YAML: safe loading, duplicate keys refused, dates kept as text, and every
value's position remembered so that errors can name `file:line:col`.

PITFALLS §2.4: stock `safe_load` silently keeps the last of two duplicate keys and turns
`2024-01-31` into a date; both hide mistakes in hand-written packs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tracker.errors import Problem

Loc = tuple[Any, ...]
Marks = dict[Loc, tuple[int, int]]
"""Value path -> (line, col), 1-based. ("x", "__raw__") keys hold a scalar's source text."""

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader without the implicit timestamp resolver: dates stay strings."""


StrictLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class YamlProblems(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


def load_text(text: str, path: str) -> tuple[Any, Marks]:
    """Parse YAML text into plain Python values plus a map from value path to (line, col).

    Raises YamlProblems with positioned messages for syntax errors and duplicate keys.
    """
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        reason = exc.problem or str(exc)
        raise YamlProblems([Problem(path, line, col, "", f"invalid YAML: {reason}")]) from None
    except yaml.YAMLError as exc:
        raise YamlProblems([Problem(path, 0, 0, "", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if node is None:
        return None, {(): (1, 1)}
    builder = _Builder(loader, path)
    value = builder.build(node, ())
    if builder.problems:
        raise YamlProblems(builder.problems)
    builder.marks.update({(*loc, "__raw__"): text for loc, text in builder.raw.items()})  # type: ignore[misc]
    return value, builder.marks


def load_file(path: Path, shown: str | None = None) -> tuple[Any, Marks]:
    """Read and parse one YAML file; `shown` is the path printed in messages."""
    shown = shown or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlProblems([Problem(shown, 0, 0, "", f"cannot read file: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlProblems(
            [Problem(shown, line, 1, "", "file is not valid UTF-8 text; save it as UTF-8")]
        ) from None
    return load_text(text, shown)


class _Builder:
    """Turns a composed node tree into values, recording marks and duplicate keys."""

    def __init__(self, loader: Any, path: str) -> None:
        self.loader = loader
        self.path = path
        self.marks: Marks = {}
        self.raw: dict[Loc, str] = {}
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.marks[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        self.raw[loc] = node.value
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            line, col = self.marks[loc]
            self.problems.append(Problem(self.path, line, col, dotted(loc), f"invalid value: {exc}"))
            return None

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[Any, Any]:
        try:
            self.loader.flatten_mapping(node)  # merge keys (<<) resolve before duplicates count
        except yaml.YAMLError as exc:
            line, col = self.marks[loc]
            self.problems.append(Problem(self.path, line, col, dotted(loc), f"invalid merge: {exc}"))
            return {}
        out: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(Problem(self.path, key_node.start_mark.line + 1,
                                             key_node.start_mark.column + 1, dotted(loc),
                                             "a key must be plain text, not a list or mapping"))
                continue
            key = self.loader.construct_object(key_node)
            key_line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                key = key_node.value  # `on:`/`no:`/`1:` would become bools and ints; keep the text
            if key in first_line:
                self.problems.append(Problem(
                    self.path, key_line, key_node.start_mark.column + 1, dotted((*loc, key)),
                    f"duplicate key (first defined on line {first_line[key]})"))
                continue
            first_line[key] = key_line
            out[key] = self.build(value_node, (*loc, key))
            self.marks[(*loc, key, "__key__")] = (key_line, key_node.start_mark.column + 1)
        return out


def dotted(loc: Loc) -> str:
    """('states', 2, 'below') -> 'states[2].below', the way messages name a field."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts)

