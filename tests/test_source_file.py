"""Local kinds: `file` (CSV and XLSX on disk), `sql` (a real SQLite file), `manual`."""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

from tracker.pack.schema import FileSource, ManualSource, SqlSource
from tracker.sources import FetchContext, SourceError, fetch


def ctx(*bases: Path, env: dict[str, str] | None = None, data_dirs: tuple[Path, ...] = ()) -> FetchContext:
    return FetchContext(http=None, base_dirs=list(bases), data_dirs=list(data_dirs), env=env or {})


def file_spec(path: str, **kw: object) -> FileSource:
    return FileSource(kind="file", path=path, **kw)  # type: ignore[arg-type]


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# ---------------------------------------------------------------- file: CSV


def test_csv_file_gives_the_contract_frame(tmp_path: Path) -> None:
    write(
        tmp_path / "s.csv",
        "period,share,published,source_url,note\n"
        "2025-06-30,4.5,2025-08-01,https://a.example/1,first\n"
        "2024,3,,,\n"
        "2025-Q1,4,,https://a.example/2,\n",
    )
    frame = fetch(file_spec("s.csv", date="period", value="share", scale=2.0), ctx(tmp_path))
    assert list(frame.columns) == ["date", "value", "published", "source_url", "note"]
    assert frame["date"].dtype == "datetime64[us]" and frame["value"].dtype == "float64"
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-12-31", "2025-03-31", "2025-06-30"]
    assert frame["value"].tolist() == [6.0, 8.0, 9.0]
    assert frame["published"].iloc[2] == pd.Timestamp("2025-08-01")
    assert frame["source_url"].tolist()[1:] == ["https://a.example/2", "https://a.example/1"]


def test_bom_and_blank_values_are_handled(tmp_path: Path) -> None:
    write(tmp_path / "b.csv", "\ufeffdate,value\r\n2024-01-31,1.5\r\n2024-02-29,\r\n2024-03-31,NA\r\n\r\n")
    frame = fetch(file_spec("b.csv"), ctx(tmp_path))
    assert frame["value"].tolist() == [1.5]


def test_non_utf8_bytes_are_refused_with_the_place(tmp_path: Path) -> None:
    write(tmp_path / "l.csv", "date,value,note\n2024-01-31,1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(
        SourceError,
        match=r"^file l.csv: not UTF-8 text: byte 0xe9 on line 2 \(offset 32\); "
        r"save the file as UTF-8$",
    ):
        fetch(file_spec("l.csv"), ctx(tmp_path))


def test_non_numeric_value_names_the_line_and_the_value(tmp_path: Path) -> None:
    write(tmp_path / "n.csv", "date,value\n2024-01-31,1\n2024-02-29,1,5\n")
    with pytest.raises(SourceError, match=r"^file n.csv: line 3 has 3 fields, the header has 2$"):
        fetch(file_spec("n.csv"), ctx(tmp_path))
    write(tmp_path / "n.csv", "date,value\n2024-01-31,1\n2024-02-29,about 5\n")
    with pytest.raises(
        SourceError, match=r"^file n.csv: line 3: value 'about 5' in column 'value' is not a number$"
    ):
        fetch(file_spec("n.csv"), ctx(tmp_path))


def test_bad_date_names_the_line(tmp_path: Path) -> None:
    write(tmp_path / "d.csv", "date,value\n31/01/2024,1\n")
    with pytest.raises(SourceError, match=r"line 2: '31/01/2024' in column 'date' is not a date"):
        fetch(file_spec("d.csv"), ctx(tmp_path))


def test_duplicate_dates_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "dup.csv", "date,value\n2024-01-31,1\n2024-02-29,2\n2024-01-31,3\n")
    with pytest.raises(
        SourceError, match=r"^file dup.csv: 2 rows dated 2024-01-31; expected one row per date$"
    ):
        fetch(file_spec("dup.csv"), ctx(tmp_path))


def test_renamed_column_is_named_with_a_suggestion(tmp_path: Path) -> None:
    write(tmp_path / "r.csv", "date,values\n2024-01-31,1\n")
    with pytest.raises(
        SourceError,
        match=r"^file r.csv: no column 'value' \(did you mean 'values'\?\) "
        r"\(columns: date, values\)$",
    ):
        fetch(file_spec("r.csv"), ctx(tmp_path))


def test_truncated_row_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "t.csv", "date,value,note\n2024-01-31,1,a\n2024-02-2")
    with pytest.raises(SourceError, match=r"line 3 has 1 fields, the header has 3: the data looks truncated"):
        fetch(file_spec("t.csv"), ctx(tmp_path))


def test_unterminated_quote_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "q.csv", 'date,value,note\n2024-01-31,1,"cut off\n')
    with pytest.raises(SourceError, match=r"malformed CSV near line \d"):
        fetch(file_spec("q.csv"), ctx(tmp_path))


def test_ordinal_file_gives_levels(tmp_path: Path) -> None:
    write(tmp_path / "o.csv", "date,level,source_url,note\n2024-09-02,memorandum,https://x.example,signed\n")
    frame = fetch(file_spec("o.csv"), ctx(tmp_path))
    assert list(frame.columns) == ["date", "level", "source_url", "note"]
    assert frame["level"].tolist() == ["memorandum"]


def test_semicolon_separated_file(tmp_path: Path) -> None:
    write(tmp_path / "s.csv", "date;value\n2024-01;1.25\n")
    frame = fetch(file_spec("s.csv"), ctx(tmp_path))
    assert frame["date"].tolist() == [pd.Timestamp("2024-01-31")] and frame["value"].tolist() == [1.25]


# ---------------------------------------------------------------- file: paths


def test_relative_path_may_not_escape_unless_data_dirs_allow_it(tmp_path: Path) -> None:
    (tmp_path / "pack").mkdir()
    write(tmp_path / "secret.csv", "date,value\n2024-01-31,1\n")
    refused = (f": outside the project folder and data_dirs, so it was not read; to allow it, add {tmp_path} to "
               "data_dirs: in config.yaml$")
    with pytest.raises(SourceError, match=r"^file \.\./secret.csv" + refused):
        fetch(file_spec("../secret.csv"), ctx(tmp_path / "pack"))
    with pytest.raises(SourceError, match=r"^file sub/\.\./\.\./secret.csv" + refused):
        fetch(file_spec("sub/../../secret.csv"), ctx(tmp_path / "pack"))
    assert fetch(file_spec("../secret.csv"), ctx(tmp_path / "pack", data_dirs=(tmp_path,))).iloc[0]["value"] == 1


def test_absolute_path_is_read_only_inside_a_base_or_data_folder(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    write(tmp_path / "abs.csv", "date,value\n2024-01-31,7\n")
    with pytest.raises(SourceError, match=rf"add {tmp_path} to data_dirs: in config.yaml$"):
        fetch(file_spec(str(tmp_path / "abs.csv")), ctx(tmp_path / "project"))
    # refused whether it exists or not: the answer tells nothing about files outside
    with pytest.raises(SourceError, match=rf"^file {tmp_path}/nope.csv: outside the project folder"):
        fetch(file_spec(str(tmp_path / "nope.csv")), ctx(tmp_path / "project"))
    assert fetch(file_spec(str(tmp_path / "abs.csv")), ctx(tmp_path)).iloc[0]["value"] == 7.0
    assert fetch(file_spec(str(tmp_path / "abs.csv")), ctx(tmp_path / "project", data_dirs=(tmp_path,))
                 ).iloc[0]["value"] == 7.0
    with pytest.raises(SourceError, match=rf"^file {tmp_path}/project/nope.csv: no such file: "):
        fetch(file_spec(str(tmp_path / "project" / "nope.csv")), ctx(tmp_path / "project"))


def test_a_link_is_judged_by_where_it_leads(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "shared").mkdir()
    write(tmp_path / "shared" / "t.csv", "date,value\n2024-01-31,3\n")
    (tmp_path / "project" / "t.csv").symlink_to(tmp_path / "shared" / "t.csv")
    with pytest.raises(SourceError, match=rf"^file t.csv: outside .* add {tmp_path / 'shared'} to data_dirs"):
        fetch(file_spec("t.csv"), ctx(tmp_path / "project"))
    assert fetch(file_spec("t.csv"), ctx(tmp_path / "project", data_dirs=(tmp_path / "shared",))
                 ).iloc[0]["value"] == 3.0


def test_a_header_is_quoted_short_printable_and_without_secrets(tmp_path: Path) -> None:
    key = "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY9"
    write(tmp_path / "k.csv", f"date,{key}\n2024-01-31,1\n")
    with pytest.raises(SourceError) as err:
        fetch(file_spec("k.csv"), ctx(tmp_path))
    assert str(err.value) == "file k.csv: no column 'value' (columns: date, AWS_SECRET_ACCESS_KEY=***)"
    write(tmp_path / "z.csv", b"\0" * 100_000 + "\x1b[2J\x07,\u202evalue\n2024-01-31,1\n".encode())
    with pytest.raises(SourceError) as err:
        fetch(file_spec("z.csv"), ctx(tmp_path))
    assert str(err.value) == "file z.csv: no column 'date' (columns: …, value)"
    write(tmp_path / "many.csv", ",".join(f"column number {n}" for n in range(500)) + "\n")
    with pytest.raises(SourceError) as err:
        fetch(file_spec("many.csv"), ctx(tmp_path))
    assert len(str(err.value)) < 160 and str(err.value).endswith("…)")


def test_absolute_path_bases_are_searched_in_order(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write(tmp_path / "b" / "x.csv", "date,value\n2024-01-31,2\n")
    assert fetch(file_spec("x.csv"), ctx(tmp_path / "a", tmp_path / "b")).iloc[0]["value"] == 2.0


def test_missing_file_lists_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=rf"^file nope.csv: not found in {tmp_path}$"):
        fetch(file_spec("nope.csv"), ctx(tmp_path))


# ---------------------------------------------------------------- file: XLSX


def make_xlsx(path: Path, rows: list[list[object]], sheet: str = "Data") -> Path:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Notes"
    book.active.append(["read me"])
    ws = book.create_sheet(sheet)
    for row in rows:
        ws.append(row)
    book.save(path)
    return path


def test_xlsx_sheet_with_dates_and_numbers(tmp_path: Path) -> None:
    make_xlsx(
        tmp_path / "w.xlsx",
        [
            ["when", "amount"],
            [dt.datetime(2024, 3, 31), 10],
            [None, None],
            [dt.date(2024, 6, 30), "12.5"],
            [2023, 8],
        ],
    )
    frame = fetch(file_spec("w.xlsx", sheet="Data", date="when", value="amount", scale=0.1), ctx(tmp_path))
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == ["2023-12-31", "2024-03-31", "2024-06-30"]
    assert frame["value"].tolist() == pytest.approx([0.8, 1.0, 1.25])


def test_xlsx_errors_name_the_row_and_the_sheets(tmp_path: Path) -> None:
    make_xlsx(
        tmp_path / "w.xlsx", [["date", "value"], [dt.date(2024, 3, 31), 1], [dt.date(2024, 4, 30), "n.a."]]
    )
    with pytest.raises(
        SourceError, match=r"^file w.xlsx: row 3: value 'n.a.' in column 'value' is not a number$"
    ):
        fetch(file_spec("w.xlsx", sheet="Data"), ctx(tmp_path))
    with pytest.raises(SourceError, match=r"no sheet 'Other' \(sheets: Notes, Data\)"):
        fetch(file_spec("w.xlsx", sheet="Other"), ctx(tmp_path))


def test_corrupt_xlsx_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path / "bad.xlsx", b"this is not a zip")
    with pytest.raises(SourceError, match=r"^file bad.xlsx: not a readable .xlsx workbook"):
        fetch(file_spec("bad.xlsx"), ctx(tmp_path))


# ---------------------------------------------------------------- sql


def sqlite_db(path: Path) -> str:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE trade (month TEXT, usd REAL, country TEXT)")
        db.executemany(
            "INSERT INTO trade VALUES (?, ?, ?)",
            [
                ("2024-01-31", 1e9, "RUS"),
                ("2024-02-29", 2e9, "RUS"),
                ("2024-02-29", 5e9, "USA"),
                ("2024-01-31", 3e9, "RUS"),
            ],
        )
    return f"sqlite:///{path}"


def test_sql_query_over_a_real_sqlite_file(tmp_path: Path) -> None:
    url = sqlite_db(tmp_path / "w.db")
    spec = SqlSource(
        kind="sql",
        url_env="TRACKER_TEST_DB",
        date="month",
        value="total",
        scale=1e-9,
        query="SELECT month, SUM(usd) AS total FROM trade WHERE country = 'RUS' GROUP BY month",
    )
    frame = fetch(spec, ctx(env={"TRACKER_TEST_DB": url}))
    assert frame["date"].tolist() == [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-29")]
    assert frame["value"].tolist() == [4.0, 2.0]


def test_sql_duplicate_dates_and_bad_query(tmp_path: Path) -> None:
    env = {"TRACKER_TEST_DB": sqlite_db(tmp_path / "w.db")}
    spec = SqlSource(
        kind="sql", url_env="TRACKER_TEST_DB", query="SELECT month AS date, usd AS value FROM trade"
    )
    with pytest.raises(SourceError, match=r"^sql \$TRACKER_TEST_DB: 2 rows dated 2024-01-31"):
        fetch(spec, ctx(env=env))
    bad = SqlSource(kind="sql", url_env="TRACKER_TEST_DB", query="SELECT nope FROM trade")
    with pytest.raises(SourceError, match=r"^sql \$TRACKER_TEST_DB: the query failed: no such column: nope$"):
        fetch(bad, ctx(env=env))


def test_sql_missing_env_var_and_secrets_stay_out(tmp_path: Path) -> None:
    spec = SqlSource(kind="sql", url_env="TRACKER_TEST_UNSET_DB_URL", query="SELECT 1")
    with pytest.raises(
        SourceError,
        match=r"^sql \$TRACKER_TEST_UNSET_DB_URL: environment variable "
        r"TRACKER_TEST_UNSET_DB_URL is not set",
    ):
        fetch(spec, ctx())
    for url in ("postgresql+nosuchdriver://me:hunter2@db.example/x", "not a url hunter2"):
        with pytest.raises(SourceError) as err:
            fetch(SqlSource(kind="sql", url_env="DB", query="SELECT 1"), ctx(env={"DB": url}))
        assert "hunter2" not in str(err.value) and str(err.value).startswith("sql $DB: ")


# ---------------------------------------------------------------- manual


def test_manual_returns_an_empty_ordinal_frame() -> None:
    frame = fetch(ManualSource(kind="manual"), ctx())
    assert frame.empty and list(frame.columns) == ["date", "level"]


# ---------------------------------------------------------------- the plain-CSV fast path (issue 20)

PLAIN = [
    "date,value\n2024-01-31,1.5\n2024-02-29,-2\n",
    "date,value,published,source_url,note\n2024-03-31,1e3,2024-04-02,https://x.example/a,first\n"
    "2024-01-31,.5,,,\n2024-02-29, 7 ,2024-03-01,,a note\n",
    "date,value\r\n2024-01-31,1\r\n\r\n2024-02-29,n/a\r\n2024-03-31,NA\r\n",
    "date , value ,url\n2024-01-31,1,https://u.example\n  \n",
    "date,value\n",
    "date,value,source_url,url\n2024-01-31,1,,https://fallback.example\n2024-02-29,2,https://own.example,https://x\n",
]
GENERAL = [
    'date,value\n2024-01-31,"1,5"\n',               # quoted
    "date;value\n2024-01-31;1\n",                     # semicolons
    "date,value\n31/01/2024,1\n",                     # not an ISO day
    "date,value\n2024-02-30,1\n",                     # no such day
    "date,value\n2024-01,1\n",                        # a month: the general path reads periods
    "date,value\n2024-01-31,abc\n",                   # not a number
    "date,value\n2024-01-31,1,9\n",                   # a line wider than the header
    "date,value,note\n2024-01-31,1\n",                # a truncated line
    "date,date\n2024-01-31,2024-01-31\n",             # a column twice
    "day,value\n2024-01-31,1\n",                      # no date column
    "\ufeffdate,value\n2024-01-31,1\n",               # a byte-order mark
    "date,value\n2024-01-31,1\n2024-01-31,2\n",        # one date twice: both paths refuse it alike
    "date,value\n2024-01-31,1\n,\n",                   # a line of empty cells: the general path skips it
]


@pytest.mark.parametrize("text", PLAIN)
def test_the_plain_csv_path_gives_the_general_paths_frame(text: str) -> None:
    from tracker.sources.file_source import csv_records, plain_csv, tidy

    fast = plain_csv(text.encode(), "date", "value", 2.0)
    assert fast is not None
    columns, records = csv_records(text)
    pd.testing.assert_frame_equal(fast, tidy(records, columns, date="date", value="value", scale=2.0))


@pytest.mark.parametrize("text", GENERAL)
def test_anything_unusual_goes_to_the_general_path(text: str) -> None:
    from tracker.sources import SourceError
    from tracker.sources.file_source import plain_csv

    try:
        assert plain_csv(text.encode(), "date", "value") is None
    except SourceError as exc:
        assert "rows dated 2024-01-31" in str(exc)       # the duplicate: the same words as the general path


def test_an_unchanged_file_is_not_read_again_but_an_edited_file_or_pack_is(tmp_path: Path) -> None:
    """A file whose bytes hash as when last read ends `unchanged` (`same_body`) without being
    parsed; new bytes, or a new `scale` in the pack for the same bytes, are read (issue 20)."""
    import yaml
    from ingest_helpers import cli, csv_text, vintage_counts, write_project

    data = tmp_path / "s.csv"
    data.write_text(csv_text([("2024-01-31", 1.0), ("2024-02-29", 2.0)]))
    cfg = write_project(tmp_path, {"f": {"kind": "file", "path": "s.csv"}})
    first, again = cli(cfg, "--json"), cli(cfg, "--json")
    assert first.by_id["f"]["status"] == "new" and first.by_id["f"]["answer"] == "data"
    assert again.by_id["f"]["status"] == "unchanged" and again.by_id["f"]["answer"] == "same_body"
    data.write_text(csv_text([("2024-01-31", 1.0), ("2024-02-29", 2.5)]))
    assert cli(cfg, "--json").by_id["f"]["status"] == "new"
    doc = yaml.safe_load((tmp_path / "indicators" / "f.yaml").read_text())
    doc["source"]["scale"] = 10.0
    (tmp_path / "indicators" / "f.yaml").write_text(yaml.safe_dump(doc))
    assert cli(cfg, "--json").by_id["f"]["answer"] == "data"
    assert vintage_counts(cfg)["f"] == 3
