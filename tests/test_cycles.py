"""Loading and scoring run with the cycle collector paused (tracker/cycles.py). That is only
safe while neither makes reference cycles: cyclic garbage made there would wait for the next
collection, and memory would grow with the pack. These tests run both on the default pack with
its seeds and count what the collector finds afterwards."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tracker import cycles
from tracker.config_types import Scoring
from tracker.pack import load_pack
from tracker.scoring import score
from tracker.seeds import load_seeds
from tracker.store import Store

REPO = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def collector_off() -> Iterator[None]:
    """Collect everything first, then keep the collector from running on its own, so that the
    count after the block's work is the cyclic garbage that work made and nothing else."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_paused_restores_the_previous_setting() -> None:
    assert gc.isenabled()
    with cycles.paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with cycles.paused():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()


def test_paused_restores_collection_after_an_error() -> None:
    with pytest.raises(RuntimeError), cycles.paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_loading_the_default_pack_leaves_no_cyclic_garbage() -> None:
    with collector_off():
        pack = load_pack(REPO / "indicators")
        assert len(pack.indicators) > 10
        del pack
        assert gc.collect() == 0


def test_scoring_the_default_pack_leaves_no_cyclic_garbage(tmp_path: Path) -> None:
    pack = load_pack(REPO / "indicators")
    with Store(tmp_path / "tracker.db") as store:
        assert load_seeds(store, pack)
        history = store.vintages_until(pd.Timestamp("2026-11-20").date())
    assert history["indicator"].nunique() > 10
    assert any(i.kind == "ordinal" for i in pack.indicators.values())  # both kinds are scored
    with collector_off():
        result = score(pack, history, pd.Timestamp("2026-11-20"), Scoring())
        assert result.evidence.shape[0] == len(pack.indicators)
        del result
        assert gc.collect() == 0
