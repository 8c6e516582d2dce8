"""Whatever is written in a pack file, load_pack ends in a Pack or in ProblemsError, never in
another exception: an analyst editing YAML by hand must get a message with a line, not a
traceback. The lints must not crash on whatever the loader accepts either."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.errors import ProblemsError
from tracker.pack import lint
from tracker.pack.load import load_pack

BASE = Path(__file__).parent / "corpus" / "_base"
FILES = ("scenarios.yaml", "trade.yaml", "pos2.yaml")
FIELDS = """id name group kind unit frequency source seed publication_lag transforms states hysteresis levels
pace stalled_after stall_cap scenario_order likelihood weight half_life stale_after rationale tests scenarios
groups prior below above at_most at_least given expect state value level date no_data resample change share_of
freq periods indicator A B C talks rising""".split()
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats() | text | st.sampled_from(
    ["NO", "2025-03-31", "365d", "ME", "M", "manual", "csv", "ordinal", "trade", "A", "0", "1e3", "12:30"])
keys = st.sampled_from(FIELDS) | text
nested = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(keys, inner, max_size=5), max_leaves=20)
tokens = st.sampled_from([*"abcAB01:-[]{}, \n\t#&*!|>'\"?%@`.\x85é", "NO", "---", "<<", "id", "kind"])
yaml_text = st.lists(tokens, max_size=60).map("".join)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(BASE, root, dirs_exist_ok=True)
    return root / "indicators"


def _original(name: str) -> Any:
    return yaml.safe_load((BASE / "indicators" / name).read_text())


def _check(folder: Path, name: str, content: str | bytes) -> None:
    """Restore the base files, put content in `name`, and load: a Pack or ProblemsError only."""
    for f in FILES:  # undo the previous example
        shutil.copyfile(BASE / "indicators" / f, folder / f)
    (folder / "extra.yaml").unlink(missing_ok=True)
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    try:
        pack = load_pack(folder)
    except ProblemsError as exc:
        assert all(str(p) for p in exc.problems)
        return
    lint.summary(pack, lint.lint_pack(pack))


@FUZZ
@given(content=yaml_text, name=st.sampled_from([*FILES, "extra.yaml"]))
def test_random_yaml_text(folder: Path, content: str, name: str) -> None:
    _check(folder, name, content)


@FUZZ
@given(data=nested, name=st.sampled_from([*FILES, "extra.yaml"]))
def test_random_data_dumped_to_yaml(folder: Path, data: Any, name: str) -> None:
    _check(folder, name, yaml.safe_dump(data, allow_unicode=True))


@FUZZ
@given(name=st.sampled_from(FILES), key=st.sampled_from(FIELDS), value=nested, deep=st.booleans())
def test_one_field_of_a_valid_file_replaced(folder: Path, name: str, key: str, value: Any,
                                            deep: bool) -> None:
    """Closer to real mistakes: a valid file with one field (or one field one level down)
    replaced by anything, so the cross-checks see nearly valid data."""
    doc = _original(name)
    target = doc
    if deep:
        inner = [k for k, v in doc.items() if isinstance(v, dict)]
        target = doc[inner[len(key) % len(inner)]] if inner else doc
    target[key] = value
    _check(folder, name, yaml.safe_dump(doc, allow_unicode=True))


@FUZZ
@given(data=st.binary(max_size=60))
def test_random_bytes(folder: Path, data: bytes) -> None:
    _check(folder, "trade.yaml", data)
