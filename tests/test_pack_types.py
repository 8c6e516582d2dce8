"""The plain records mirror the schema, and the load cache gives what a full check gives.

The records (pack_types, config_types) exist so that `tracker score` on an unchanged pack never
imports pydantic; these tests hold them to the schema field for field, and hold the cache to
"a difference anywhere means a full check".
"""

from __future__ import annotations

import dataclasses
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from packbuilder import copy_default_project
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from tracker.errors import ProblemsError
from tracker.pack import config_schema as config
from tracker.pack import lint, load_cache, records
from tracker.pack import schema as pack_schema
from tracker.pack.config_schema import load_config
from tracker.pack.load import load_pack


def schema_models() -> list[type[BaseModel]]:
    found = {}
    for module in (pack_schema, config):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.model_fields:
                found[value.__name__] = value
    return sorted(found.values(), key=lambda m: m.__name__)


def record_defaults(cls: type) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


@pytest.mark.parametrize("model", schema_models(), ids=lambda m: m.__name__)
def test_each_record_mirrors_its_schema_model(model: type[BaseModel]) -> None:
    record = records.RECORDS[model.__name__]
    fields = {f.name for f in dataclasses.fields(record)} - {"base_dir"}
    assert fields == set(model.model_fields)
    schema_defaults = {name: records.from_model(info.default) for name, info in model.model_fields.items()
                       if info.default is not PydanticUndefined}
    defaults = record_defaults(record)
    defaults.pop("base_dir", None)  # Config's folder: set by the loader, not a YAML key
    assert defaults == schema_defaults


def test_every_schema_model_has_a_record() -> None:
    assert {m.__name__ for m in schema_models()} <= set(records.RECORDS)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    copy_default_project(tmp_path)
    return tmp_path / "config.yaml"


def full(config_path: Path):
    cfg = load_config(config_path)
    return cfg, load_pack(cfg.pack_dir)


def test_a_cached_load_equals_a_full_check(project: Path) -> None:
    first = load_cache.load(project)
    cache = project.parent / load_cache.CACHE_NAME
    assert cache.is_file()
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    written = cache.stat().st_mtime_ns
    second = load_cache.load(project)
    assert cache.stat().st_mtime_ns == written, "a hit must not rewrite the cache"
    assert first == second == full(project)
    cfg, pack = second
    assert cfg.base_dir == project.parent.resolve()
    full_pack = full(project)[1]
    assert pack.line_of("pos2-stage", ("likelihood",)) == full_pack.line_of("pos2-stage", ("likelihood",))
    assert [str(p) for p in lint.lint_pack(pack)] == [str(p) for p in lint.lint_pack(full_pack)] != []


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_an_edit_to_any_input_is_seen(project: Path) -> None:
    indicators = project.parent / "indicators"
    load_cache.load(project)
    edit(indicators / "pos2-stage.yaml", "weight: 1.0", "weight: 0.5")
    assert load_cache.load(project)[1].indicators["pos2-stage"].weight == 0.5
    edit(project, "min_shift: 0.05", "min_shift: 0.07")
    assert load_cache.load(project)[0].scoring.min_shift == 0.07
    copy = (indicators / "pos2-stage.yaml").read_text(encoding="utf-8").replace("id: pos2-stage", "id: pos2-copy")
    (indicators / "pos2-copy.yaml").write_text(copy, encoding="utf-8")
    assert "pos2-copy" in load_cache.load(project)[1].indicators
    assert load_cache.load(project) == full(project)


def test_a_broken_input_is_reported_not_served_from_the_cache(project: Path) -> None:
    pos2 = project.parent / "indicators" / "pos2-stage.yaml"
    load_cache.load(project)
    edit(pos2, "weight: 1.0", "weight: heavy")
    with pytest.raises(ProblemsError, match="weight"):
        load_cache.load(project)
    edit(pos2, "weight: heavy", "weight: 1.0")
    load_cache.load(project)
    (project.parent / "seeds" / "pos2-stage.csv").unlink()
    with pytest.raises(ProblemsError, match="file not found"):
        load_cache.load(project)


@pytest.mark.parametrize("content", ["", "{not json", json.dumps({"key": 1}), json.dumps([1, 2]),
                                     json.dumps({"__record__": "Nope"}), "\x00\xff"])
def test_an_unreadable_or_foreign_cache_means_a_full_check(project: Path, content: str) -> None:
    (project.parent / load_cache.CACHE_NAME).write_text(content, encoding="utf-8", errors="surrogateescape")
    assert load_cache.load(project) == full(project)


def test_a_cache_that_cannot_be_written_costs_nothing_but_time(project: Path) -> None:
    """A folder in the cache's place: neither readable as a file nor replaceable by one."""
    (project.parent / load_cache.CACHE_NAME).mkdir()
    assert load_cache.load(project) == full(project)
    assert (project.parent / load_cache.CACHE_NAME).is_dir()
    assert not [p for p in project.parent.iterdir() if p.name.startswith(load_cache.CACHE_NAME) and p.is_file()]


def test_score_on_an_unchanged_pack_does_not_import_pydantic(project: Path) -> None:
    """The point of the records: the schema is checked once, not on every `tracker score`."""
    probe = ("import sys\nfrom tracker.cli import main\n"
             "try:\n    main(['score', '--config', sys.argv[1]])\nexcept SystemExit as e:\n    code = e.code\n"
             "print('pydantic' in sys.modules, code)")
    runs = [subprocess.run([sys.executable, "-c", probe, str(project)], capture_output=True, text=True,
                           cwd=project.parent, timeout=120) for _ in range(2)]
    assert [r.stdout.split()[-2:] for r in runs] == [["True", "0"], ["False", "0"]], runs[-1].stderr


def test_a_change_to_tracker_itself_voids_the_cache(project: Path, tmp_path: Path, monkeypatch) -> None:
    """An upgrade (or an edit while developing) may check or convert differently."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "__init__.py").write_text("")
    (code / "pack").mkdir()
    (code / "pack" / "schema.py").write_text("x = 1\n")
    monkeypatch.setattr(load_cache.tracker, "__file__", str(code / "__init__.py"))
    load_cache.load(project)
    cache = project.parent / load_cache.CACHE_NAME
    written = cache.stat().st_mtime_ns
    load_cache.load(project)
    assert cache.stat().st_mtime_ns == written
    (code / "pack" / "schema.py").write_text("x = 22\n")
    load_cache.load(project)
    assert cache.stat().st_mtime_ns != written
