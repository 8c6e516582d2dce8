"""How Store.write_vintage turns a frame into SQL rows and a content hash.

The fast column-by-column path must give exactly what the plain row-by-row definition gives
(`_prepare_slow`): stored hashes are compared with new ones, so a different hash for the same
content would write a duplicate vintage after an upgrade. The golden digests below were computed
by the code that wrote the existing stores."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packbuilder import utc

from tracker.store.db import Store
from tracker.store.snapshot import OBS_COLUMNS, _column, _prepare, _prepare_slow, content_hash

DAYS = pd.to_datetime(["2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01"])
COMMON = pd.DataFrame({"date": DAYS, "value": [1.5, np.nan, -0.0, 1e20],
                       "level": [None, "up", "up", 'déjà "vu"'], "published": DAYS + pd.Timedelta(days=3),
                       "source_url": ["https://example.org/x"] * 4, "note": [None, None, "revised", None]})
UNUSUAL = COMMON.assign(date=DAYS.tz_localize("Europe/Paris"), value=[1, 2, 3, 4])


def test_hash_is_the_one_existing_stores_hold() -> None:
    assert content_hash(COMMON) == "2cf3f8cb6197d8fb8d68f32db5b33c8c0238834e8bc71084c9929508bb4bcd8d"
    assert content_hash(UNUSUAL) == "255d7aa7d0b3906bd625ef5d5bebd727f9f22e4c9303d158c2743acfac13fe32"


def variant(**columns: object) -> pd.DataFrame:
    return COMMON.assign(**columns)


CASES = {
    "common": COMMON,
    "unusual": UNUSUAL,
    "infinities": variant(value=[np.inf, -np.inf, np.nan, 2.0]),
    "every value missing": variant(value=[np.nan] * 4),
    "int values": variant(value=[1, 2, 3, 4]),
    "object values": variant(value=pd.Series([1.0, None, "2.5", 4], dtype=object)),
    "float32 values": variant(value=np.array([0.1, np.nan, 0.3, 1e-7], dtype=np.float32)),
    "nullable Float64": variant(value=pd.array([0.1, None, 0.3, 4.0], dtype="Float64")),
    "str dtype with NaN": variant(source_url=pd.Series(["u", np.nan, "u", "v"], dtype="str")),
    "string dtype with NA": variant(source_url=pd.Series(["u", None, "u", "v"], dtype="string")),
    "NaN in object text": variant(note=[None, np.nan, "n", "n"]),
    "numbers as level": variant(level=[1.5, np.nan, 2.0, 3.0]),
    "bools as level": variant(level=[True, False, None, True]),
    "escapes": variant(level=["\x00", "\n\t", "\u2028 {x} %s", "中"], note=["\ud800", "\\", '"', "é"]),
    "times of day": variant(date=pd.date_range("2023-01-01 13:30", periods=4, freq="D")),
    "text dates": variant(date=["2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01"]),
    "seconds unit": variant(date=DAYS.astype("datetime64[s]")),
    "before year 1000": variant(date=np.array(["0900-01-01"] * 4, dtype="datetime64[s]")),
    "NaT": variant(published=pd.to_datetime(["2023-01-01", None, "2023-03-01", "2023-04-01"])),
    "no level or note": COMMON.drop(columns=["level", "note"]),
    "no value": COMMON.drop(columns=["value"]),
    "no published": COMMON.drop(columns=["published"]),
    "extra column, other order": COMMON.assign(extra=1)[["note", "extra", "value", "published", "date"]],
    "other index": COMMON.set_index(pd.Index([7, 3, 5, 1])),
    "one row": COMMON.iloc[:1],
    "no rows": COMMON.iloc[:0],
    "no columns": pd.DataFrame(),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fast_path_equals_the_plain_definition(name: str) -> None:
    fast, plain = _prepare(CASES[name]), _prepare_slow(CASES[name])
    assert fast.digest == plain.digest
    assert fast.rows() == plain.rows() and fast.count == plain.count == len(CASES[name])


cells = st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True, width=64),
                           st.none() | st.sampled_from(["up", "down", 'q"uote']) | st.text(max_size=4),
                           st.integers(0, 3)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(cells, st.booleans())
def test_fast_path_equals_the_plain_definition_on_any_cells(rows: list[tuple], same_url: bool) -> None:
    n = len(rows)
    days = pd.date_range("1999-12-30", periods=n, freq="D")
    frame = pd.DataFrame({"date": days, "value": [r[0] for r in rows], "level": [r[1] for r in rows],
                          "published": days + pd.to_timedelta([r[2] for r in rows], unit="D"),
                          "source_url": ["https://example.org/x" if same_url else r[1] for r in rows],
                          "note": None})
    fast, plain = _prepare(frame), _prepare_slow(frame)
    assert fast.digest == plain.digest and fast.rows() == plain.rows()


def test_missing_columns_are_written_as_null(tmp_path: Path) -> None:
    """Columns with no value at all are NULL literals in the insert, not bound Nones."""
    frame = pd.DataFrame({"date": DAYS[:2], "value": [np.nan, np.nan], "level": ["low", "high"],
                          "published": DAYS[:2], "note": [None, None]})
    snap = _prepare(frame)
    assert [c is None for c in snap.columns] == [False, True, False, False, True, True]
    with Store(tmp_path / "tracker.db") as store:
        assert store.write_vintage("x", frame, fetched_at=utc("2023-05-01"), origin="seed") is True
        assert store.write_vintage("x", frame, fetched_at=utc("2023-05-02"), origin="seed") is False
    db = sqlite3.connect(tmp_path / "tracker.db")
    got = db.execute("SELECT vintage_id, date, value, typeof(value), level, published, source_url, note "
                     "FROM observations ORDER BY date").fetchall()
    db.close()
    assert got == [(1, "2023-01-01", None, "null", "low", "2023-01-01", None, None),
                   (1, "2023-02-01", None, "null", "high", "2023-02-01", None, None)]


def test_usual_frames_take_the_fast_path() -> None:
    """The golden digest above is checked against the column-by-column path, not json.dumps."""
    for frame in (COMMON, CASES["infinities"], CASES["no level or note"], CASES["str dtype with NaN"]):
        assert all(_column(frame, name, len(frame)).json is not None for name in OBS_COLUMNS)


@pytest.mark.parametrize("n", [1, 2, 127, 128, 129, 255, 300])
def test_rows_of_any_count_are_written_exactly(tmp_path: Path, n: int) -> None:
    """Rows go in by multi-row INSERTs of 128, 64, … 1 rows: every count is written whole, in order."""
    days = pd.date_range("2001-01-01", periods=n, freq="D")
    frame = pd.DataFrame({"date": days, "value": [np.nan if i % 7 == 3 else i / 3 for i in range(n)],
                          "level": [None if i % 2 else f"l{i}" for i in range(n)], "published": days,
                          "source_url": [f"https://example.org/{i % 3}" for i in range(n)],
                          "note": ["n"] + [None] * (n - 1)})
    with Store(tmp_path / "tracker.db") as store:
        store.write_vintage("other", COMMON, fetched_at=utc("2001-01-01"), origin="seed")
        assert store.write_vintage("x", frame, fetched_at=utc("2002-01-01"), origin="seed") is True
        got = store.db.execute("SELECT vintage_id, date, value, level, published, source_url, note "
                               "FROM observations WHERE vintage_id = 2 ORDER BY date").fetchall()
        assert store.vintage_log("x")[0]["rows"] == n
    assert got == [(2, *row) for row in _prepare(frame).rows()]
    assert len(got) == n
