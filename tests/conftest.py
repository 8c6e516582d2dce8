"""Every test sees an 80-column terminal, whatever the terminal pytest runs in: the views wrap
to the terminal's width (tracker/views/terminal.py), and the tests pin their lines."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
