"""Hostile and broken input: whatever a pack file, a seed, a local table or a server's answer
holds, the tracker ends in data or in a clear TrackerError (SourceError, ProblemsError), never
in another exception, and nothing it stores can turn into a formula in a spreadsheet.

Fuzzing (hypothesis, bounded): the pack loader on byte-mutated files; every source parser
(csv, json, gdelt, worldbank, imf, comtrade, sipri) on random bodies, byte-mutated real answers
and real answers with one value replaced, each parsed frame then merged and stored as the
ingest does; the `file` source's CSV and XLSX readers and the seed reader on random tables.
Then explicit cases: NaN and ±inf, dates far out of range, mixed time zones, a UTF-8 BOM,
non-UTF-8 bytes, formula-like notes exported with `tracker export`, and `tracker observe`
refusing NaN/inf.
"""

from __future__ import annotations

import base64
import copy
import csv
import datetime as dt
import io
import json
import math
import os
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from packbuilder import checked_indicator
from reliability_helpers import SCEN, Sources, indicator, tracker, write_project
from requests.structures import CaseInsensitiveDict

from tracker import service
from tracker.cli import main
from tracker.errors import ProblemsError
from tracker.pack.load import load_pack
from tracker.sources import FetchContext, SourceError, fetcher, ingest
from tracker.sources.http import Response
from tracker.store.db import Base, Store
from tracker.store.seeds import read_seed

SAMPLES = Path(__file__).parent / "samples"
EXAMPLES = int(os.environ.get("TRACKER_FUZZ_EXAMPLES", "120"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TALLY: Counter[str] = Counter()
"""Examples tried and how each ended, for the summary line."""

FORMULAS = ["=cmd|' /C calc'!A0", "+1", "@SUM(1)", "-2+3", "=HYPERLINK(\"http://evil\",\"x\")",
            "\t=1", "\r=1"]
CELLS = ["2024-01-31", "2024-02-29", "2023-02-29", "0001-01-01", "9999-12-31", "2024-13-01", "2024-Q4",
         "2024-Q5", "2024-M03", "2024", "202401", "0000", "0000-00", "2024-01-31T23:30:00-05:00",
         "2024-01-31T23:30:00+14:00", "2024-01-31Z", "", " ", "nan", "NaN", "inf", "-inf", "Infinity",
         "1e308", "1e400", "-0", "1,000", "0x10", "..", "null", "1.5", "-2", "\u00a0", "\x00", "é",
         "\ufeffdate", "date", "value", "level", "published", "note", "source_url", "\"", "a\nb", *FORMULAS]


# ---------------------------------------------------------------- strategies

def mutated(data: bytes) -> st.SearchStrategy[bytes]:
    """`data` with a few bytes inserted, deleted, replaced, or cut short."""
    edit = st.tuples(st.sampled_from("idrt"), st.integers(0, max(len(data) - 1, 0)),
                     st.binary(min_size=1, max_size=8))

    def apply(edits: list[tuple[str, int, bytes]]) -> bytes:
        out = bytearray(data)
        for op, at, blob in edits:
            at = min(at, len(out))
            if op == "i":
                out[at:at] = blob
            elif op == "d":
                del out[at:at + len(blob)]
            elif op == "r":
                out[at:at + len(blob)] = blob
            else:
                del out[at:]
        return bytes(out)

    return st.lists(edit, min_size=1, max_size=6).map(apply)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(CELLS) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(CELLS) | st.text(max_size=8),
                                                                inner, max_size=4),
    max_leaves=12)


def nodes(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        yield from nodes(value, (*path, key))


def one_value_replaced(doc: Any) -> st.SearchStrategy[Any]:
    """The real answer with the value at one random place replaced by random JSON."""
    paths = list(nodes(doc))

    def replace(path: tuple[Any, ...], value: Any) -> Any:
        if not path:
            return value
        out = copy.deepcopy(doc)
        here = out
        for key in path[:-1]:
            here = here[key]
        here[path[-1]] = value
        return out

    return st.builds(replace, st.sampled_from(paths), json_values)


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


def table_text(header: list[str]) -> st.SearchStrategy[str]:
    """A CSV-ish table: a usual or random header, rows of tricky cells, a random delimiter."""
    cell = st.sampled_from(CELLS) | st.text(max_size=10)
    heads = st.just(header) | st.lists(st.sampled_from(CELLS), min_size=1, max_size=6)

    def render(head: list[str], rows: list[list[str]], delimiter: str, quote: bool) -> str:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=delimiter, quoting=csv.QUOTE_ALL if quote else csv.QUOTE_MINIMAL,
                            lineterminator="\n")
        for row in [head, *rows]:
            writer.writerow(row)
        return out.getvalue()

    return st.builds(render, heads, st.lists(st.lists(cell, min_size=1, max_size=6), max_size=8),
                     st.sampled_from([",", ";", "\t"]), st.booleans())


def bodies(sample: bytes, doc: Any | None = None) -> st.SearchStrategy[bytes]:
    options = [st.binary(max_size=600), mutated(sample), json_values.map(dumps)]
    if doc is not None:
        options.append(one_value_replaced(doc).map(dumps))
    return st.one_of(options)


# ---------------------------------------------------------------- the parsers, fed directly


class FakeHttp:
    """Stands for tracker.sources.http.HttpClient: every request gets the same 200 answer."""

    def __init__(self, body: bytes, ctype: str) -> None:
        self.answer = Response(200, CaseInsensitiveDict({"Content-Type": ctype}), body, "http://127.0.0.1/x")

    def get(self, url: str, **kw: Any) -> Response:
        return self.answer

    def post(self, url: str, **kw: Any) -> Response:
        return self.answer


RECENT = (dt.date.today() - dt.timedelta(days=20)).isoformat()
SPECS: dict[str, dict[str, Any]] = {
    "csv": {"kind": "csv", "url": "http://127.0.0.1/x.csv"},
    "json": {"kind": "json", "url": "http://127.0.0.1/x.json", "records": "data.rows"},
    "gdelt": {"kind": "gdelt", "query": "x", "start": RECENT, "resample": "daily"},
    "worldbank": {"kind": "worldbank", "country": "CHN", "indicator": "X", "start": 2014, "end": 2025},
    "imf": {"kind": "imf", "dataflow": "IMF.STA/CPI/+", "key": "USA.CPI._T.IX.M"},
    "comtrade": {"kind": "comtrade", "reporter": 842, "partner": 392, "flow": "M", "periods": [2023]},
    "sipri": {"kind": "sipri", "supplier": "Russia", "recipient": "Algeria", "start": 2000, "end": 2001},
    "file": {"kind": "file", "path": "table.csv"},
}
CSV_SAMPLE = b"date,value,published,note\n2024-01-31,1.5,2024-02-15,ok\n2024-02-29,2,,=1+1\n"
JSON_SAMPLE = {"data": {"rows": [{"date": "2024-01-31", "value": 1.5, "note": "ok"},
                                 {"date": "2024-02-29", "value": "2", "published": "2024-03-10"}]}}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sipri_answer(text: bytes) -> bytes:
    return dumps({"bytes": base64.b64encode(text).decode()})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with Store(tmp_path_factory.mktemp("hostile") / "tracker.db") as s:
        yield s


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    total = sum(v for k, v in TALLY.items() if k.endswith(":tried"))
    kinds = sorted({k.split(":")[0] for k in TALLY})
    uncaught = sum(v for k, v in TALLY.items() if k.endswith(":uncaught"))
    print(f"\nhostile-input: {total} fuzzed inputs over {len(kinds)} readers ({', '.join(kinds)}), "
          f"{uncaught} uncaught exceptions")
    if BOUNDS:
        print(f"\ninput-bounds: {bounds_line()}")


def feed(kind: str, body: bytes, ctype: str, store: Store) -> None:
    """Parse `body` as source `kind` answers it, then merge and store the frame as ingest does.

    Passes when the parser returns a frame that keeps the contract and the store takes it (or
    ingest's own checks refuse it), or when it raises SourceError naming the source."""
    TALLY[f"{kind}:tried"] += 1
    spec = checked_indicator(indicator(f"fuzz-{kind}", SPECS[kind])).source
    ctx = FetchContext(http=FakeHttp(body, ctype), base_dirs=[], keys={}, indicator=f"fuzz-{kind}")
    try:
        frame = fetcher(kind).fetch(spec, ctx)
    except SourceError as exc:
        TALLY[f"{kind}:refused"] += 1
        assert str(exc).startswith(f"{kind} "), str(exc)
        return
    except BaseException:
        TALLY[f"{kind}:uncaught"] += 1
        raise
    check_frame(frame)
    store_like_ingest(kind, frame, store)


def check_frame(frame: pd.DataFrame) -> None:
    """The source contract (tracker.sources): dated rows, one per date, sorted; float values
    or text levels."""
    assert "date" in frame and ("value" in frame or "level" in frame), list(frame.columns)
    assert frame["date"].dtype.kind == "M" and frame["date"].is_monotonic_increasing
    assert not frame["date"].duplicated().any()
    if "value" in frame:
        assert frame["value"].dtype == "float64"


def store_like_ingest(kind: str, frame: pd.DataFrame, store: Store) -> None:
    kind_of = "ordinal" if "level" in frame and "value" not in frame else "numeric"
    doc = indicator(f"fuzz-{kind}-{kind_of}", SPECS[kind])
    if kind_of == "ordinal":
        doc = {k: v for k, v in doc.items() if k != "states"} | {
            "kind": "ordinal", "levels": ["low", "high"], "pace": {"A": "12M", "B": "12M", "C": "12M"},
            "likelihood": {"low": {"A": 0.5, "B": 0.3, "C": 0.2}, "high": {"A": 0.2, "B": 0.3, "C": 0.5}}}
    ind = checked_indicator(doc)
    outcome = {"frame": frame, "seconds": 0.0, "validators": {}}
    read = Base(store.latest_with_head(ind.id)[1], lambda latest: frame)
    result = ingest._store(store, ind, outcome, dt.datetime.now(dt.UTC).replace(microsecond=0), read)
    assert result["status"] in ("new", "unchanged", "failed"), result
    if result["status"] == "failed":
        TALLY[f"{kind}:refused"] += 1
        assert result["error"] and result["error"].startswith(f"{kind}: unusable data: "), result


@FUZZ
@given(body=bodies(CSV_SAMPLE) | table_text(["date", "value", "published", "note"]).map(str.encode),
       ctype=st.sampled_from(["text/csv", "text/csv; charset=latin-1", "text/plain; charset=nonsense",
                              "text/html", ""]))
def test_fuzz_csv_source(store, body, ctype):
    feed("csv", body, ctype, store)


@FUZZ
@given(body=bodies(dumps(JSON_SAMPLE), JSON_SAMPLE))
def test_fuzz_json_source(store, body):
    feed("json", body, "application/json", store)


GDELT = json.loads(sample("gdelt-doc-timelinevol.json"))


@FUZZ
@given(body=bodies(sample("gdelt-doc-timelinevol.json"), GDELT) | st.sampled_from(
    [sample("gdelt-doc-error-429.txt"), sample("gdelt-doc-error-timespan-too-short.txt"), b"{}"]))
def test_fuzz_gdelt_source(store, body):
    feed("gdelt", body, "application/json", store)


WORLDBANK = json.loads(sample("worldbank-v2-indicator.json"))
WORLDBANK_ONE = [WORLDBANK[0] | {"pages": 1}, [r | {"country": {"id": "CN"}} for r in WORLDBANK[1]]]


@FUZZ
@given(body=bodies(sample("worldbank-v2-indicator.json"), WORLDBANK_ONE))
def test_fuzz_worldbank_source(store, body):
    feed("worldbank", body, "application/json", store)


IMF = json.loads(sample("imf-sdmx3-data-json.json"))


@FUZZ
@given(body=bodies(sample("imf-sdmx3-data-json.json"), IMF))
def test_fuzz_imf_sdmx_json_source(store, body):
    feed("imf", body, "application/vnd.sdmx.data+json; version=2.0.0", store)


COMTRADE = json.loads(sample("un-comtrade-v1-preview.json"))


@FUZZ
@given(body=bodies(sample("un-comtrade-v1-preview.json"), COMTRADE))
def test_fuzz_comtrade_source(store, body):
    feed("comtrade", body, "application/json", store)


SIPRI = sample("sipri-trade-register.csv")


@FUZZ
@given(body=st.one_of(mutated(SIPRI).map(sipri_answer), st.binary(max_size=400).map(sipri_answer),
                      mutated(sipri_answer(SIPRI)), json_values.map(dumps),
                      st.text(max_size=60).map(lambda t: dumps({"bytes": t}))))
def test_fuzz_sipri_base64_source(store, body):
    feed("sipri", body, "application/json", store)


# ---------------------------------------------------------------- local tables and seeds


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tables")


def read_file_source(path: Path, store: Store, sheet: str | None = None) -> None:
    TALLY["file:tried"] += 1
    source = {"kind": "file", "path": path.name, "sheet": sheet}
    spec = checked_indicator(indicator("fuzz-file", source)).source
    try:
        frame = fetcher("file").fetch(spec, FetchContext(http=None, base_dirs=[path.parent]))
    except SourceError as exc:
        TALLY["file:refused"] += 1
        assert str(exc).startswith("file "), str(exc)
        return
    except BaseException:
        TALLY["file:uncaught"] += 1
        raise
    check_frame(frame)
    store_like_ingest("file", frame, store)


@FUZZ
@given(data=st.binary(max_size=600) | mutated(CSV_SAMPLE)
       | table_text(["date", "value", "published", "note"]).map(lambda t: t.encode("utf-8")))
def test_fuzz_file_source_csv(folder, store, data):
    path = folder / "table.csv"
    path.write_bytes(data)
    read_file_source(path, store)


xlsx_cells = (st.none() | st.sampled_from(CELLS) | st.floats(allow_nan=False) | st.integers(-10**15, 10**15)
              | st.booleans() | st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(9999, 12, 31))
              | st.dates(dt.date(1900, 1, 1)))


def workbook(header: list[Any], rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in [header, *rows]:
        sheet.append([c.replace("\x00", "") if isinstance(c, str) else c for c in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


VALID_XLSX = workbook(["date", "value", "note"], [[dt.date(2024, 1, 31), 1.5, "=1+1"], ["2024-02", 2, None]])


@settings(FUZZ, max_examples=max(EXAMPLES // 2, 1))
@given(data=st.builds(workbook,
                      st.just(["date", "value", "published", "note"]) | st.lists(xlsx_cells, max_size=5),
                      st.lists(st.lists(xlsx_cells, max_size=5), max_size=6))
       | mutated(VALID_XLSX) | st.binary(max_size=300))
def test_fuzz_file_source_xlsx(folder, store, data):
    path = folder / "table.xlsx"
    path.write_bytes(data)
    read_file_source(path, store)


SEED_IND = checked_indicator(indicator("seeded", {"kind": "manual"}))
SEED_SAMPLE = b"date,value,published,source_url,note\n2024-01-31,1.5,2024-02-15,https://example.org/a,ok\n"


@FUZZ
@given(data=st.binary(max_size=600) | mutated(SEED_SAMPLE)
       | table_text(["date", "value", "published", "source_url", "note"]).map(lambda t: t.encode("utf-8")))
def test_fuzz_seed_reader(folder, data):
    TALLY["seed:tried"] += 1
    path = folder / "seed.csv"
    path.write_bytes(data)
    try:
        frame = read_seed(path, SEED_IND, "seeds/seeded.csv")
    except ProblemsError as exc:
        TALLY["seed:refused"] += 1
        assert exc.problems and all(str(p).startswith("seeds/seeded.csv") for p in exc.problems)
        return
    except BaseException:
        TALLY["seed:uncaught"] += 1
        raise
    assert frame["value"].map(math.isfinite).all()
    assert frame["source_url"].map(lambda u: isinstance(u, str) and u.strip() != "").all()


# ---------------------------------------------------------------- the pack loader


@pytest.fixture(scope="module")
def pack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pack")
    write_project(root, [indicator("one", {"kind": "manual"}), indicator("two", {"kind": "csv", "url": "http://x"})])
    return root / "indicators"


VALID_SCEN = yaml.safe_dump(SCEN, sort_keys=False).encode()
VALID_IND = yaml.safe_dump(indicator("one", {"kind": "manual"}), sort_keys=False).encode()


@FUZZ
@given(name=st.sampled_from(["scenarios.yaml", "one.yaml"]),
       data=st.one_of(mutated(VALID_SCEN), mutated(VALID_IND), st.binary(max_size=300),
                      st.text(max_size=300).map(str.encode)))
def test_fuzz_pack_loader(pack_dir, name, data):
    TALLY["pack:tried"] += 1
    path = pack_dir / name
    original = path.read_bytes()
    path.write_bytes(data)
    try:
        load_pack(pack_dir)
    except ProblemsError as exc:
        TALLY["pack:refused"] += 1
        assert exc.problems and all(str(p).strip() for p in exc.problems)
    except BaseException:
        TALLY["pack:uncaught"] += 1
        raise
    finally:
        path.write_bytes(original)


# ---------------------------------------------------------------- explicit cases: seeds


def write_seed(root: Path, text: bytes) -> Path:
    path = root / "seed.csv"
    path.write_bytes(text)
    return path


@pytest.mark.parametrize(("cell", "message"), [
    ("nan", "value: expected a finite number, got 'nan'"),
    ("NaN", "value: expected a finite number, got 'NaN'"),
    ("inf", "value: expected a finite number, got 'inf'"),
    ("-inf", "value: expected a finite number, got '-inf'"),
    ("Infinity", "value: expected a finite number, got 'Infinity'"),
    ("1e400", "value: expected a finite number, got '1e400'"),
])
def test_seed_values_must_be_finite(tmp_path, cell, message):
    path = write_seed(tmp_path, f"date,value,source_url\n2024-01-31,{cell},https://example.org/a\n".encode())
    with pytest.raises(ProblemsError) as err:
        read_seed(path, SEED_IND, "seeds/x.csv")
    assert [str(p) for p in err.value.problems] == [f"seeds/x.csv:2:1: {message}"]


@pytest.mark.parametrize(("day", "message"), [
    ("0001-01-01", "date: date 0001-01-01 is out of range (1900–2200)"),
    ("9999-12-31", "date: date 9999-12-31 is out of range (1900–2200)"),
    ("2024-01-31T00:00:00+05:00", "date: expected a date as YYYY-MM-DD, got '2024-01-31T00:00:00+05:00'"),
    ("2024-01-31T23:00:00-08:00", "date: expected a date as YYYY-MM-DD, got '2024-01-31T23:00:00-08:00'"),
    ("2024-02-30", "date: expected a date as YYYY-MM-DD, got '2024-02-30'"),
])
def test_seed_dates_out_of_range_or_with_a_time_zone_are_refused(tmp_path, day, message):
    path = write_seed(tmp_path, f"date,value,source_url\n{day},1,https://example.org/a\n".encode())
    with pytest.raises(ProblemsError) as err:
        read_seed(path, SEED_IND, "seeds/x.csv")
    assert [str(p) for p in err.value.problems] == [f"seeds/x.csv:2:1: {message}"]


def test_seed_with_a_utf8_bom_reads_its_header(tmp_path):
    path = write_seed(tmp_path, "\ufeffdate,value,source_url,note\n2024-01-31,1.5,https://example.org/a,é\n"
                      .encode())
    frame = read_seed(path, SEED_IND, "seeds/x.csv")
    assert frame["value"].tolist() == [1.5] and frame["note"].tolist() == ["é"]


def test_seed_with_non_utf8_bytes_is_a_clear_problem(tmp_path):
    path = write_seed(tmp_path, b"date,value,source_url,note\n2024-01-31,1.5,https://example.org/a,caf\xe9\n")
    with pytest.raises(ProblemsError) as err:
        read_seed(path, SEED_IND, "seeds/x.csv")
    (problem,) = err.value.problems     # where the byte is: line and column (issue 17, item 2)
    assert str(problem) == "seeds/x.csv:2:41: not valid UTF-8 text (byte 0xe9); save the file as UTF-8"


@pytest.mark.parametrize("data", [b"", b"\n\n", b"\xef\xbb\xbf"])
def test_an_empty_seed_file_is_a_clear_problem(tmp_path, data):
    path = write_seed(tmp_path, data)
    with pytest.raises(ProblemsError) as err:
        read_seed(path, SEED_IND, "seeds/x.csv")
    assert [str(p) for p in err.value.problems] == [
        "seeds/x.csv:1:1: the file is empty; expected a header line: date, value, published, source_url, note"]


# ---------------------------------------------------------------- explicit cases: sources end to end

HOSTILE = {
    "far": b"date,value,note\n0001-01-01,1.0,year one\n2024-01-31,2.0,ok\n9999-12-31,3.0,year 9999\n",
    "zones": b"date,value\n2024-01-31T23:30:00-05:00,1\n2024-03-01T01:00:00+09:00,2\n"
             b"2024-04-01T00:00:00Z,3\n",
    "nan": b"date,value\n2024-01-31,nan\n2024-02-29,1\n",
    "inf": b"date,value\n2024-01-31,inf\n",
    "ninf": b"date,value\n2024-01-31,-inf\n",
    "huge": b"date,value\n2024-01-31,1e400\n",
    "bom": b"\xef\xbb\xbfdate,value\n2024-01-31,1\n",
    "latin": b"date,value,note\n2024-01-31,1,caf\xe9\n",
    "formulas": ("date,value,note\n"
                 + "".join(f"2024-0{m},{m},\"{f}\"\n" for m, f in enumerate(FORMULAS[:4], 1))).encode(),
    "jsonnan": b'{"rows": [{"date": "2024-01-31", "value": NaN}, {"date": "2024-02-29", "value": Infinity}]}',
}
EXPECTED_FAILURES = {
    "inf": "line 2: value 'inf' in column 'value' is not a number",
    "ninf": "line 2: value '-inf' in column 'value' is not a number",
    "huge": "csv: unusable data: values must be finite numbers",
    "latin": "not UTF-8 text: byte 0xe9 on line 2 (offset 32); save the file as UTF-8",
    "jsonnan": "rows[1]: value inf in column 'value' is not a number",
    "far": "csv: unusable data: date 0001-01-01 is out of range (1900–2200)",
}


def test_hostile_tables_from_sources_are_stored_or_refused_and_the_store_still_answers(tmp_path):
    with Sources(latency=0.0) as src:
        inds = []
        for name, body in HOSTILE.items():
            json_kind = name.startswith("json")
            src.routes[f"/{name}"] = answer(body, "application/json" if json_kind else "text/csv")
            source = {"kind": "json", "url": f"{src.url}/{name}", "records": "rows"} if json_kind \
                else {"kind": "csv", "url": f"{src.url}/{name}"}
            inds.append(indicator(name, source))
        cfg = write_project(tmp_path, inds)
        run = tracker("ingest", "--json", "--config", str(cfg), cwd=tmp_path)
    assert run.returncode == 3, run.stderr
    results = {r["indicator"]: r for r in json.loads(run.stdout)["results"]}
    failed = {i: r["error"] for i, r in results.items() if r["status"] == "failed"}
    assert set(failed) == set(EXPECTED_FAILURES), failed
    for iid, said in EXPECTED_FAILURES.items():
        assert said in failed[iid], failed[iid]
    assert "Traceback" not in run.stderr and not (tmp_path / "tracker-crash.log").exists()

    exported = export_rows(tmp_path, cfg)
    by_ind: dict[str, list[dict[str, str]]] = {}
    for row in exported:
        by_ind.setdefault(row["indicator"], []).append(row)
    # mixed zones become UTC calendar days; a BOM does not reach the header; NaN is a gap
    assert [r["date"] for r in by_ind["zones"]] == ["2024-02-01", "2024-02-29", "2024-04-01"]
    assert [(r["date"], r["value"]) for r in by_ind["bom"]] == [("2024-01-31", "1.0")]
    assert [(r["date"], r["value"]) for r in by_ind["nan"]] == [("2024-02-29", "1.0")]
    # far-off dates (year 1, year 9999) are refused whole, like seeds: never stored unseen
    assert "far" not in by_ind
    assert [r["note"] for r in by_ind["formulas"]] == ["'" + f for f in FORMULAS[:4]]
    for cmd in (("score", "--json"), ("explain",), ("backtest", "--from", "2024-01-01", "--json")):
        out = tracker(*cmd, "--config", str(cfg), cwd=tmp_path)
        assert out.returncode == 0, (cmd, out.stderr)


def in_process(*args: str) -> Any:
    """The same command line, run in this process (click's runner): quick checks of one command."""
    return CliRunner().invoke(main, list(args))


def answer(body: bytes, ctype: str) -> Any:
    return lambda handler, query: (200, ctype, body)


def export_rows(root: Path, cfg: Path) -> list[dict[str, str]]:
    out = tracker("export", "--config", str(cfg), cwd=root)
    assert out.returncode == 0, out.stderr
    return list(csv.DictReader(io.StringIO(out.stdout)))


# ---------------------------------------------------------------- explicit cases: formulas and observe


def test_formula_like_notes_and_urls_are_exported_as_text(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seeds = {"seeded": [{"date": f"2024-0{m}-01", "value": float(m), "note": note,
                         "source_url": f"https://example.org/{m}"} for m, note in enumerate(FORMULAS, 1)]}
    inds = [indicator("seeded", {"kind": "manual"}), indicator("watched", {"kind": "manual"})]
    cfg = write_project(tmp_path, inds, seeds)
    # A seed's source must be an http(s) address (tracker validate, issue 17); a stored row's may
    # be anything a source said, so the formula-like one goes into the store directly.
    with service.load(str(cfg)).store() as store:
        rows = store.latest("seeded")
        extra = {"date": pd.Timestamp("2024-09-01"), "value": 9.0, "level": None,
                 "published": pd.Timestamp("2024-09-01"), "source_url": "=HYPERLINK(\"x\")", "note": "plain"}
        store.write_vintage("seeded", pd.concat([rows, pd.DataFrame([extra])], ignore_index=True),
                            fetched_at=dt.datetime(2024, 9, 2, tzinfo=dt.UTC), origin="ingest")
    for n, note in enumerate(FORMULAS[:4], start=1):
        out = in_process("observe", "watched", str(n), "--date", f"2024-0{n}-15", "--url",
                         "https://example.org/o", "--note", note, "--config", str(cfg))
        assert out.exit_code == 0, out.output
    rows = export_rows(tmp_path, cfg)
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), (column, cell)
            if cell.startswith("-"):  # a negative number stays a number
                float(cell)
    notes = {(r["indicator"], r["date"]): r["note"] for r in rows}
    for m, note in enumerate(FORMULAS, 1):  # seeds and observe strip the tab or CR
        assert notes[("seeded", f"2024-0{m}-01")] == "'" + note.strip()
    for n, note in enumerate(FORMULAS[:4], 1):
        assert notes[("watched", f"2024-0{n}-15")] == "'" + note
    assert {r["source_url"] for r in rows if r["date"] == "2024-09-01"} == {"'=HYPERLINK(\"x\")"}


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e400"])
def test_observe_refuses_nan_and_infinity(tmp_path, monkeypatch, value):
    monkeypatch.chdir(tmp_path)
    cfg = write_project(tmp_path, [indicator("watched", {"kind": "manual"})])
    out = in_process("observe", "watched", value, "--date", "2024-01-15", "--url", "https://example.org/o",
                     "--note", "a number that is not one", "--config", str(cfg))
    assert out.exit_code == 2
    assert out.stderr == f"Error: watched takes a finite number, got {value!r}\n"
    assert in_process("export", "--config", str(cfg)).stdout.splitlines()[1:] == []


def test_pack_files_with_non_utf8_bytes_or_a_bom_are_handled(tmp_path):
    cfg = write_project(tmp_path, [indicator("one", {"kind": "manual"})])
    pack = tmp_path / "indicators"
    (pack / "one.yaml").write_bytes(b"\xef\xbb\xbf" + (pack / "one.yaml").read_bytes())
    assert list(load_pack(pack).indicators) == ["one"]
    broken = (pack / "one.yaml").read_bytes().replace(b"Indicator one", b"Indicator \xff")
    (pack / "one.yaml").write_bytes(broken)
    with pytest.raises(ProblemsError) as err:
        load_pack(pack)
    assert [str(p) for p in err.value.problems] == [
        "indicators/one.yaml:2:17: not valid UTF-8 text (byte 0xff); save the file as UTF-8"]
    out = tracker("score", "--config", str(cfg), cwd=tmp_path)
    assert out.returncode == 2 and "not valid UTF-8 text (byte 0xff)" in out.stderr



def test_observe_takes_a_negative_value(tmp_path, monkeypatch):
    """`-2.5` is the VALUE, not an unknown option `-2` (click would otherwise refuse it)."""
    monkeypatch.chdir(tmp_path)
    cfg = write_project(tmp_path, [indicator("watched", {"kind": "manual"})])
    out = in_process("observe", "watched", "-2.5", "--date", "2024-01-15", "--url", "https://example.org/o",
                     "--note", "fell", "--config", str(cfg))
    assert out.exit_code == 0, out.output
    assert [(r["date"], r["value"]) for r in export_rows(tmp_path, cfg)] == [("2024-01-15", "-2.5")]


# ---------------------------------------------------------------- input bounds (linear in the input)

MiB = 1024 * 1024
HUGE = 60 * MiB
BOUNDS: dict[str, Any] = {}
"""What the input-bound tests saw, for the `input-bounds:` summary line."""


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    """`head`, then NUL bytes up to `size`: a file with a hole that takes no disk space, yet
    reading it whole costs `size` bytes of memory and a YAML parse of every byte."""
    with path.open("wb") as fh:
        fh.write(head)
        fh.truncate(size)
    return path


def traced_peak(fn: Any) -> tuple[BaseException | None, int]:
    """What fn() raised (or None) and the peak of the memory Python allocated meanwhile."""
    tracemalloc.start()
    try:
        fn()
        raised = None
    except Exception as exc:  # noqa: BLE001 — returned to the test, which checks it
        raised = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return raised, peak


def test_a_pack_file_over_the_size_limit_is_refused_without_reading_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = write_project(tmp_path, [indicator("one", {"kind": "manual"})])
    pack = tmp_path / "indicators"
    load_pack(pack)  # pydantic imported and its schemas built before memory is traced
    sparse(pack / "huge.yaml", HUGE)
    raised, peak = traced_peak(lambda: load_pack(pack))
    said = "indicators/huge.yaml: the file is 60 MB; a pack file may be at most 1 MB"
    assert isinstance(raised, ProblemsError)
    assert [str(p) for p in raised.problems] == [said]
    assert peak < 8 * MiB, f"{peak / MiB:.1f} MiB allocated: the file was read"
    out = in_process("validate", "--config", str(cfg))
    assert out.exit_code == 2
    assert out.stderr == f"{said}\n1 problem(s) found.\n"
    BOUNDS["pack"] = peak


def test_a_pack_file_at_the_limit_loads_and_one_byte_more_is_refused(tmp_path):
    write_project(tmp_path, [indicator("one", {"kind": "manual"})])
    path = tmp_path / "indicators" / "one.yaml"
    text = path.read_bytes() + b"# "
    path.write_bytes(text + b"x" * (MiB - len(text) - 1) + b"\n")
    assert path.stat().st_size == MiB
    assert list(load_pack(path.parent).indicators) == ["one"]
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(ProblemsError) as err:
        load_pack(path.parent)
    assert [str(p) for p in err.value.problems] == [
        "indicators/one.yaml: the file is 1.1 MB; a pack file may be at most 1 MB"]


def test_a_config_file_over_the_size_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = write_project(tmp_path, [indicator("one", {"kind": "manual"})])
    sparse(cfg, HUGE, cfg.read_bytes())
    for command in (("score",), ("validate",)):
        out = in_process(*command, "--config", str(cfg))
        assert out.exit_code == 2, out.output
        assert out.stderr == "config.yaml: the file is 60 MB; a config file may be at most 1 MB\n" \
                             "1 problem(s) found.\n"
    BOUNDS["config"] = True


def test_every_duplicated_seed_date_is_reported_at_scale(tmp_path):
    """Thousands of duplicated dates in a long seed: each reported once, in date order."""
    days = [dt.date(1950, 1, 1) + dt.timedelta(days=i) for i in range(12_000)]
    twice, thrice = days[::4], days[7::1000]
    rows = [*days, *twice, *thrice, *thrice]
    lines = [f"{d},{n}.5,https://example.org/{n}" for n, d in enumerate(rows)]
    path = write_seed(tmp_path, ("date,value,source_url\n" + "\n".join(lines) + "\n").encode())
    with pytest.raises(ProblemsError) as err:
        read_seed(path, SEED_IND, "seeds/x.csv")
    duplicated = sorted({*twice, *thrice})
    lines: dict[dt.date, list[int]] = {}
    for n, d in enumerate(rows, start=2):
        lines.setdefault(d, []).append(n)
    # each at the line that repeats it, naming the others (issue 17: every error with FILE:LINE)
    expected = sorted((lines[d][1], d) for d in duplicated)
    assert [str(p) for p in err.value.problems] == [
        f"seeds/x.csv:{line}:1: date: {d} appears more than once (lines {', '.join(map(str, lines[d]))})"
        for line, d in expected]
    BOUNDS["seed"] = (len(rows), len(duplicated), len(err.value.problems))


def bounds_line() -> str:
    """The `input-bounds:` summary: what was refused unread, and how many duplicates were found."""
    parts = []
    if "pack" in BOUNDS:
        parts.append(f"a {HUGE // MiB} MB pack file refused unread (peak {BOUNDS['pack'] / MiB:.1f} MiB "
                     "allocated)")
    if "config" in BOUNDS:
        parts.append(f"a {HUGE // MiB} MB config.yaml refused")
    if "seed" in BOUNDS:
        rows, duplicated, reported = BOUNDS["seed"]
        parts.append(f"{reported:,} of {duplicated:,} duplicated dates reported in a {rows:,}-row seed")
    return "; ".join(parts)
