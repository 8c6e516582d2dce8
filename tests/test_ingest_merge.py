"""ingest.merge, the overlay of a fetched table on the stored snapshot, and tidy, which builds
the fetched table: by example (the published-date rule), and against the plain pandas
definitions they replaced with array code (same rows, same stored content)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.sources import SourceError
from tracker.sources.file_source import finish, tidy
from tracker.sources.ingest import _host_turns, merge
from tracker.store.db import OBS_COLUMNS

TODAY = dt.date(2026, 11, 23)
NUMERIC, ORDINAL = SimpleNamespace(kind="numeric"), SimpleNamespace(kind="ordinal")


def stored(days: list[str], values: list[Any], published: list[str], col: str = "value") -> pd.DataFrame:
    """A snapshot as Store.latest gives it."""
    other = "level" if col == "value" else "value"
    return pd.DataFrame({"date": pd.to_datetime(days).astype("datetime64[us]"), col: values, other: None,
                         "published": pd.to_datetime(published).astype("datetime64[us]"),
                         "source_url": None, "note": None})[OBS_COLUMNS]


def fetched(days: list[str], values: list[Any], col: str = "value", **extra: list[Any]) -> pd.DataFrame:
    """A table as a source returns it."""
    return pd.DataFrame({"date": pd.to_datetime(days).astype("datetime64[us]"), col: values, **extra})


def rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """The frame as the store keeps it: ISO days, numbers, text, None for anything missing."""
    out = []
    for date, value, level, published, url, note in frame.reindex(columns=OBS_COLUMNS).itertuples(index=False):
        out.append((pd.Timestamp(date).date().isoformat(), None if pd.isna(value) else float(value),
                    None if pd.isna(level) else str(level), pd.Timestamp(published).date().isoformat(),
                    None if pd.isna(url) else str(url), None if pd.isna(note) else str(note)))
    return out


# ---------------------------------------------------------------- merge by example


def test_a_stored_row_keeps_its_published_date_new_and_revised_rows_are_dated_today() -> None:
    previous = stored(["2024-01-31", "2024-02-29", "2024-03-31"], [1.0, 2.0, 3.0], ["2024-04-15"] * 3)
    new = fetched(["2024-04-30", "2024-02-29", "2024-03-31"], [4.0, 2.5, 3.0])  # Jan no longer sent
    out = merge(previous, new, TODAY, NUMERIC)
    assert rows(out) == [("2024-01-31", 1.0, None, "2024-04-15", None, None),  # kept as it was
                         ("2024-02-29", 2.5, None, TODAY.isoformat(), None, None),  # revised
                         ("2024-03-31", 3.0, None, "2024-04-15", None, None),  # unchanged
                         ("2024-04-30", 4.0, None, TODAY.isoformat(), None, None)]  # new
    assert out.index.tolist() == [0, 1, 2, 3]


def test_a_stated_publication_date_is_kept_but_never_before_the_observation() -> None:
    new = fetched(["2024-01-31", "2024-02-29"], [1.0, 2.0],
                  published=pd.to_datetime(["2024-02-15", "2024-01-01"]).astype("datetime64[us]"),
                  note=["first", None])
    out = merge(stored([], [], []), new, TODAY, NUMERIC)
    assert rows(out) == [("2024-01-31", 1.0, None, "2024-02-15", None, "first"),
                         ("2024-02-29", 2.0, None, "2024-02-29", None, None)]


def test_ordinal_levels_follow_the_same_rule() -> None:
    previous = stored(["2024-01-31", "2024-02-29"], ["talks", "memorandum"], ["2024-03-01"] * 2, col="level")
    new = fetched(["2024-01-31", "2024-02-29"], ["talks", "binding"], col="level")
    assert [(r[0], r[2], r[3]) for r in rows(merge(previous, new, TODAY, ORDINAL))] == [
        ("2024-01-31", "talks", "2024-03-01"), ("2024-02-29", "binding", TODAY.isoformat())]


@pytest.mark.parametrize(("days", "values", "message"), [
    (["2024-01-31"], [float("inf")], "values must be finite numbers"),
    (["1850-01-31"], [1.0], "date 1850-01-31 is out of range (1900–2200)"),
    (["2024-01-31", "2024-01-31"], [1.0, 2.0], "duplicate date 2024-01-31"),
])
def test_unusable_tables_are_refused_with_the_reason(days: list[str], values: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$".replace("(", r"\(").replace(")", r"\)")):
        merge(stored([], [], []), fetched(days, values), TODAY, NUMERIC)


# ---------------------------------------------------------------- merge against its plain definition


def plain_merge(previous: pd.DataFrame, fetched: pd.DataFrame, today: dt.date, kind: str) -> pd.DataFrame:
    """merge as pandas steps (reindex, concat, sort): what it computed before it used arrays."""
    col = "level" if kind == "ordinal" else "value"
    new = fetched.reindex(columns=OBS_COLUMNS)
    dates = pd.to_datetime(new["date"]).to_numpy().astype("datetime64[D]")
    values = new[col].to_numpy(dtype=float if col == "value" else object)
    old_dates = previous["date"].to_numpy().astype("datetime64[D]")
    at = np.clip(np.searchsorted(old_dates, dates), 0, max(len(old_dates) - 1, 0))
    unchanged = (at < len(old_dates)) & (old_dates[at] == dates) if len(old_dates) else np.zeros(len(dates), bool)
    if len(old_dates):
        old_values = previous[col].to_numpy(dtype=float if col == "value" else object)[at]
        unchanged &= (np.isclose(old_values.astype(float), values, rtol=1e-12, atol=0.0) if col == "value"
                      else old_values == values)
    published = pd.to_datetime(new["published"]).to_numpy().astype("datetime64[D]")
    published = np.where(np.isnat(published), np.datetime64(today, "D"), published)
    if unchanged.any():
        published = np.where(unchanged, previous["published"].to_numpy().astype("datetime64[D]")[at], published)
    made = pd.DataFrame({"date": dates.astype("datetime64[s]"),
                         "value": values if col == "value" else np.full(len(dates), np.nan),
                         "level": new["level"].to_numpy(dtype=object),
                         "published": np.maximum(published, dates).astype("datetime64[s]"),
                         "source_url": new["source_url"].to_numpy(dtype=object),
                         "note": new["note"].to_numpy(dtype=object)})
    keep = previous[~np.isin(old_dates, dates)] if len(old_dates) else previous
    out = pd.concat([keep, made], ignore_index=True) if len(keep) else made
    return out.sort_values("date", ignore_index=True)


MONTHS = st.lists(st.integers(0, 40), unique=True, max_size=12)


def month(k: int) -> str:
    return (pd.Timestamp("2023-01-31") + pd.offsets.MonthEnd(k)).date().isoformat()


@settings(max_examples=150, deadline=None)
@given(old=MONTHS, new=MONTHS, ordinal=st.booleans(), data=st.data())
def test_merge_stores_what_the_plain_definition_stores(old: list[int], new: list[int], ordinal: bool,
                                                       data: st.DataObject) -> None:
    col, kind = ("level", ORDINAL) if ordinal else ("value", NUMERIC)
    cells = st.sampled_from(["low", "high"]) if ordinal else st.sampled_from([1.0, 2.5, 1.0 + 1e-13])
    previous = stored(sorted(map(month, old)), [data.draw(cells) for _ in old],
                      [data.draw(st.sampled_from(["2025-01-01", "2026-06-30"])) for _ in old], col=col)
    extra = {}
    if data.draw(st.booleans()):
        extra["published"] = pd.to_datetime([data.draw(st.sampled_from([None, "2024-06-30", "2026-01-31"]))
                                             for _ in new]).astype("datetime64[us]")
    if data.draw(st.booleans()):
        extra["note"] = pd.array([data.draw(st.sampled_from([None, "n"])) for _ in new], dtype="str")
    table = fetched([month(k) for k in new], [data.draw(cells) for _ in new], col=col, **extra)
    assert rows(merge(previous, table, TODAY, kind)) == rows(plain_merge(previous, table, TODAY, kind.kind))


# ---------------------------------------------------------------- tidy against its plain definition


def plain_tidy(records: list[tuple[str, dict[str, Any]]], value: str, scale: float) -> pd.DataFrame:
    """tidy as pandas steps: a frame of the rows, all-missing columns dropped, then `finish`."""
    from tracker.sources.file_source import _row, empty

    found = [row for label, rec in records if (row := _row(label, rec, "date", value)) is not None]
    frame = pd.DataFrame(found, columns=["date", value, "published", "source_url", "note"])
    if frame.empty:
        return empty(level=value == "level")
    frame = frame.dropna(axis="columns", how="all")
    for name in ("source_url", "note", "level"):
        if name in frame:
            frame[name] = frame[name].astype("str")
    if "published" in frame:
        frame["published"] = pd.to_datetime(frame["published"]).astype("datetime64[us]")
    return finish(frame, scale)


DATES = st.sampled_from(["2024-01-31", "2024-02", "2023", "2024-Q3", "2024-M05", "2021-03-04",
                         dt.date(2020, 5, 1), dt.datetime(2021, 3, 4, 5, 6), 2019, "", None])
OPTIONAL = st.sampled_from([None, "", "text", float("nan"), 5, ["a", 1]])


@settings(max_examples=200, deadline=None)
@given(recs=st.lists(st.fixed_dictionaries({
    "date": DATES, "value": st.sampled_from(["1.5", "", "na", 3, 2.5, float("nan"), "-1e3"]),
    "level": st.sampled_from(["low", " high ", "", None]), "published": DATES,
    "url": OPTIONAL, "note": OPTIONAL}), max_size=8),
    value=st.sampled_from(["value", "level"]), scale=st.sampled_from([1.0, 1000.0]))
def test_tidy_gives_the_frame_of_the_plain_definition(recs: list[dict[str, Any]], value: str, scale: float) -> None:
    records = [(f"line {n}", rec) for n, rec in enumerate(recs, start=2)]
    columns = ["date", "value", "level", "published", "url", "note"]
    try:
        expected = plain_tidy(records, value, scale)
    except SourceError as exc:
        with pytest.raises(SourceError) as got:
            tidy(records, columns, date="date", value=value, scale=scale)
        assert str(got.value) == str(exc)
        return
    pd.testing.assert_frame_equal(tidy(records, columns, date="date", value=value, scale=scale), expected,
                                  check_exact=True)


def test_tidy_sorts_rows_and_refuses_a_date_twice_naming_it() -> None:
    records = [("line 2", {"date": "2024-03", "value": "3"}), ("line 3", {"date": "2024-01", "value": "1"})]
    frame = tidy(records, ["date", "value"], date="date", value="value")
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-31", "2024-03-31"]
    assert frame["value"].tolist() == [1.0, 3.0] and list(frame.columns) == ["date", "value"]
    records.append(("line 4", {"date": "2024-01-31", "value": "2"}))
    with pytest.raises(SourceError, match="^2 rows dated 2024-01-31; expected one row per date$"):
        tidy(records, ["date", "value"], date="date", value="value")


# ---------------------------------------------------------------- the order sources are handed out


def test_hosts_take_turns_and_each_host_keeps_its_pack_order() -> None:
    def source(iid: str, url: str) -> Any:
        return SimpleNamespace(id=iid, source=SimpleNamespace(kind="csv", url=url))

    live = [source("a1", "http://a.example/1"), source("a2", "http://A.example/2"),
            source("a3", "http://a.example/3"), source("b1", "https://b.example/1"),
            source("w1", ""), source("b2", "https://b.example/2")]
    assert [i.id for i in _host_turns(live)] == ["a1", "b1", "w1", "a2", "b2", "a3"]
