"""The package layout holds (issue 13): the import contracts in pyproject.toml pass, a broken one
is caught, the top level stays small and no module grows past a screenful of screens."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tracker"
PACKAGES = ("cli", "ops", "views", "score", "sources", "store", "pack")
LINT = Path(sys.executable).parent / "lint-imports"


def _lint(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--no-cache", "--config", str(project / "pyproject.toml")],
                          cwd=project, capture_output=True, text=True, timeout=120)


def test_import_contracts_are_kept() -> None:
    run = _lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("store/db.py", "from tracker.score import scoring", "Storage knows no model"),
    ("score/trend.py", "from tracker.score import scoring", "No import cycles"),
    ("pack/load.py", "import click", "The core knows no screen"),
])
def test_a_broken_contract_fails(tmp_path: Path, module: str, line: str, contract: str) -> None:
    shutil.copytree(PACKAGE, tmp_path / "tracker", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / "tracker" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    run = _lint(tmp_path)
    assert run.returncode == 1, run.stdout
    assert f"{contract}" in run.stdout and "BROKEN" in run.stdout


def test_top_level_holds_few_modules() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(modules) <= 8, modules
    assert sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()) == sorted(PACKAGES)


def test_no_module_is_over_700_lines() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
             for p in PACKAGE.rglob("*.py")}
    assert max(sizes.values()) <= 700, {k: v for k, v in sizes.items() if v > 700}


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_says_what_it_may_import(package: str) -> None:
    doc = (PACKAGE / package / "__init__.py").read_text(encoding="utf-8")
    assert doc.startswith('"""') and "May import" in doc.split("\n\n")[0], package
