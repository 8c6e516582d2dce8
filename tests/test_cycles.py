"""Loading and scoring run with the cycle collector paused (tracker/cycles.py). That is only
safe while neither makes reference cycles: cyclic garbage made there would wait for the next
collection, and memory would grow with the pack. These tests run both on the default pack with
its seeds and count what the collector finds afterwards.

The counting runs in a fresh interpreter: in the test process, threads left by other tests
(loopback servers) make garbage of their own while the collector is off, and it would be
counted too."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tracker import cycles

REPO = Path(__file__).resolve().parent.parent

COUNT = """
import gc, json, sys
from pathlib import Path

import pandas as pd

from tracker.config import Scoring
from tracker.pack.load import load_pack
from tracker.score.scoring import score
from tracker.store.seeds import load_seeds
from tracker.store.db import Store

pack_dir, db, plant = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "plant"
pack = load_pack(pack_dir)                      # once, so that imports and caches are warm
with Store(db) as store:
    load_seeds(store, pack)
    history = store.vintages_until(pd.Timestamp("2026-11-20").date())
gc.collect()
gc.disable()
again = load_pack(pack_dir)
del again
after_load = gc.collect()
result = score(pack, history, pd.Timestamp("2026-11-20"), Scoring())
if plant:                                       # the test's own check that a cycle is seen
    result.me = result
shape = list(result.evidence.shape)
del result
after_score = gc.collect()
print(json.dumps({"load": after_load, "score": after_score, "shape": shape,
                  "indicators": history["indicator"].nunique(),
                  "ordinal": sum(i.kind == "ordinal" for i in pack.indicators.values())}))
"""


def _count(tmp_path: Path, plant: bool = False) -> dict:
    proc = subprocess.run([sys.executable, "-c", COUNT, str(REPO / "indicators"), str(tmp_path / "tracker.db"),
                           "plant" if plant else "-"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


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


def test_loading_and_scoring_the_default_pack_leave_no_cyclic_garbage(tmp_path: Path) -> None:
    got = _count(tmp_path)
    assert got["indicators"] > 10 and got["ordinal"] >= 1   # seeded, and both kinds are scored
    assert got["shape"][0] > 10
    assert (got["load"], got["score"]) == (0, 0)


def test_the_count_sees_a_cycle(tmp_path: Path) -> None:
    assert _count(tmp_path, plant=True)["score"] > 0
