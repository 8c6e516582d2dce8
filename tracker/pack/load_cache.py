"""Config and pack, checked once and then read back from JSON while nothing has changed.

Checking the pack means importing pydantic and building its schema, which took longer than
scoring the default pack (benchmarks/run.py, start-up). So the checked records are written
to `.tracker-cache.json` beside config.yaml, with the SHA-256 of every file they came from
(config.yaml, each pack file, each seed file named, outcomes.csv, the pack folder's listing) and the size
and mtime of each module of tracker itself. Any difference, or a cache that cannot be read,
means a full check, exactly as without a cache; a pack with errors is never cached. The
cache is an optimisation only: failing to write it costs speed, never a result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import tracker
from tracker.config import Config
from tracker.pack import records
from tracker.pack.marks import Marks
from tracker.pack.types import Pack

CACHE_NAME = ".tracker-cache.json"
FORMAT = 3


def load(config_path: Path, pack_dir: Path | None = None) -> tuple[Config, Pack]:
    """The checked config and pack: from the cache when every input is unchanged."""
    config_path = Path(config_path)
    cache = config_path.parent / CACHE_NAME
    hit = _read(cache, config_path, pack_dir)
    if hit is not None:
        return hit
    from tracker.pack.config_schema import load_config
    from tracker.pack.load import load_pack

    cfg = load_config(config_path)
    pack = load_pack(pack_dir or cfg.pack_dir)
    _write(cache, _document(config_path, pack_dir, cfg, pack))
    return cfg, pack


def _read(cache: Path, config_path: Path, pack_dir: Path | None) -> tuple[Config, Pack] | None:
    try:
        doc = records.loads(cache.read_text(encoding="utf-8"))
        if doc["key"] != _key(config_path, pack_dir) or doc["inputs"] != _fingerprints(list(doc["inputs"])):
            return None
        cfg = dataclasses.replace(doc["config"], base_dir=config_path.resolve().parent)
        return cfg, _pack(doc["pack"], Path(pack_dir or cfg.pack_dir))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _key(config_path: Path, pack_dir: Path | None) -> list[Any]:
    """What the cache was made for: this config file, pack folder and checking code."""
    return [FORMAT, tracker.__version__, str(config_path.resolve()), str(pack_dir and Path(pack_dir).resolve()),
            _code_stats()]


def _code_stats() -> list[list[Any]]:
    """Name, size and mtime of each module of tracker/pack/ and of the shared modules at the top,
    where all the code that checks or converts config and pack lives: when any of it changes,
    the cache is void (a zipped install has none to list: the version keys it alone)."""
    try:
        root = Path(tracker.__file__).parent
        files = sorted([*root.glob("*.py"), *(root / "pack").glob("*.py")])
        return [[f.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns]
                for f, st in ((f, f.stat()) for f in files)]
    except OSError:
        return []


def _fingerprints(names: list[str]) -> dict[str, str]:
    """The current SHA-256 of each input named (of the listing for a folder, '' when unreadable)."""
    return {name: _digest(Path(name)) for name in names}


def _digest(path: Path) -> str:
    try:
        if path.is_dir():
            return hashlib.sha256("\n".join(sorted(p.name for p in path.iterdir())).encode()).hexdigest()
        with path.open("rb") as fh:  # in chunks: a file too large to load costs no memory here
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return ""


def _inputs(config_path: Path, pack: Pack) -> list[str]:
    seeds = [p for p in (pack.seed_path(i) for i in pack.indicators.values()) if p is not None]
    outcomes = [pack.outcomes_path] if pack.outcomes is not None else []
    return [str(p.resolve()) for p in (config_path, pack.root, pack.scenarios_path, *pack.files.values(), *seeds,
                                       *outcomes)]


def _document(config_path: Path, pack_dir: Path | None, cfg: Config, pack: Pack) -> str:
    doc = {"key": _key(config_path, pack_dir), "inputs": _fingerprints(_inputs(config_path, pack)),
           "config": cfg, "pack": {
               "scenario_set": pack.scenario_set, "indicators": pack.indicators,
               "files": {i: str(p.relative_to(pack.root)) for i, p in pack.files.items()},
               "marks": json.dumps({i: records.marks_to_json(m) for i, m in pack.marks.items()}),
               "scenario_marks": records.marks_to_json(pack.scenario_marks), "outcomes": pack.outcomes}}
    return records.dumps(doc)


def _pack(doc: dict[str, Any], root: Path) -> Pack:
    return Pack(root, doc["scenario_set"], doc["indicators"], {i: root / f for i, f in doc["files"].items()},
                _MarksOnDemand(doc["marks"]), records.marks_from_json(doc["scenario_marks"]), doc["outcomes"])


class _MarksOnDemand(Mapping[str, Marks]):
    """The indicator files' marks, decoded on first use. Only messages about a file read them
    (lint, pack tests), yet they are most of the cache: decoding them on every start-up took
    more than half the time of reading it."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._marks: dict[str, Marks] | None = None

    def _decoded(self) -> dict[str, Marks]:
        if self._marks is None:
            self._marks = {i: records.marks_from_json(m) for i, m in json.loads(self._text).items()}
        return self._marks

    def __getitem__(self, iid: str) -> Marks:
        return self._decoded()[iid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())


def _write(cache: Path, text: str) -> None:
    """Atomically and owner-only (mkstemp); a folder we cannot write to just means no cache."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=CACHE_NAME, dir=cache.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, cache)
    except OSError:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
