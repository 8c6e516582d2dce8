"""`csv` and `json` over real loopback HTTP."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pandas as pd
import pytest
from rawserver import RawServer, head

from tracker.pack.schema import CsvSource, JsonSource
from tracker.sources import FetchContext, NotModified, SourceError, fetch
from tracker.sources.http import HttpClient


@pytest.fixture
def ctx() -> Iterator[FetchContext]:
    slept: list[float] = []
    with HttpClient(timeout=(2.0, 2.0), retries=1, deadline=5.0, sleep=slept.append) as client:
        yield FetchContext(http=client, base_dirs=[])


CSV = "period,usd_bn\n2025-12-31,245.2\n2024-12-31,244.8\n"


# ---------------------------------------------------------------- csv


def test_csv_with_params_then_conditional_get(httpserver, ctx) -> None:
    httpserver.expect_ordered_request("/t.csv", query_string={"series": "cn-ru"}).respond_with_data(
        CSV, content_type="text/csv; charset=utf-8", headers={"ETag": '"v7"'}
    )
    httpserver.expect_ordered_request("/t.csv", headers={"If-None-Match": '"v7"'}).respond_with_data(
        "", status=304
    )
    spec = CsvSource(
        kind="csv",
        url=httpserver.url_for("/t.csv"),
        date="period",
        value="usd_bn",
        params={"series": "cn-ru"},
    )
    frame = fetch(spec, ctx)
    assert frame["date"].tolist() == [pd.Timestamp("2024-12-31"), pd.Timestamp("2025-12-31")]
    assert frame["value"].tolist() == [244.8, 245.2]
    assert [v.get("etag") for v in ctx.validators.values()] == ['"v7"']  # and the body's hash
    with pytest.raises(NotModified):
        fetch(spec, ctx)


def test_csv_that_fails_to_parse_is_not_remembered(httpserver, ctx) -> None:
    httpserver.expect_request("/t.csv").respond_with_data(
        "date,value\n2024-01-31,x\n", content_type="text/csv", headers={"ETag": '"bad"'}
    )
    with pytest.raises(SourceError, match="line 2: value 'x'"):
        fetch(CsvSource(kind="csv", url=httpserver.url_for("/t.csv")), ctx)
    assert ctx.validators == {}


def test_csv_html_answer_is_refused(httpserver, ctx) -> None:
    httpserver.expect_request("/t.csv").respond_with_data(
        "<html>Please log in</html>", content_type="text/html"
    )
    url = httpserver.url_for("/t.csv")
    with pytest.raises(
        SourceError,
        match=rf"^csv {url}: expected csv from {url}, got text/html: "
        r"'<html>Please log in</html>'$",
    ):
        fetch(CsvSource(kind="csv", url=url), ctx)


def test_csv_renamed_column_non_numeric_and_duplicates(httpserver, ctx) -> None:
    url = httpserver.url_for("/t.csv")
    spec = CsvSource(kind="csv", url=url, date="period", value="usd_bn")
    httpserver.expect_ordered_request("/t.csv").respond_with_data(
        "period,usd_billion\n2024-12-31,1\n", content_type="text/csv"
    )
    httpserver.expect_ordered_request("/t.csv").respond_with_data(
        "period,usd_bn\n2024-12-31,1 234\n", content_type="text/csv"
    )
    httpserver.expect_ordered_request("/t.csv").respond_with_data(
        "period,usd_bn\n2024,1\n2024-12-31,2\n", content_type="text/csv"
    )
    with pytest.raises(
        SourceError, match=rf"^csv {url}: no column 'usd_bn' \(did you mean 'usd_billion'\?\)"
    ):
        fetch(spec, ctx)
    with pytest.raises(SourceError, match=r"line 2: value '1 234' in column 'usd_bn' is not a number$"):
        fetch(spec, ctx)
    with pytest.raises(SourceError, match=r"2 rows dated 2024-12-31; expected one row per date$"):
        fetch(spec, ctx)


def test_csv_truncated_download(ctx) -> None:
    body = CSV.encode()
    with RawServer(lambda conn, srv: conn.sendall(head(len(body) + 40) + body[:-6])) as srv:
        with pytest.raises(SourceError, match=rf"^csv {srv.url()}/t.csv: GET .*connection broken mid-body"):
            fetch(CsvSource(kind="csv", url=srv.url() + "/t.csv", date="period", value="usd_bn"), ctx)

    def cut(conn: socket.socket, srv: RawServer) -> None:  # no length: the close ends the body
        conn.sendall(head(None) + body[:-10])

    with (
        RawServer(cut) as srv,
        pytest.raises(
            SourceError,
            match=r"line 3 has 1 fields, the header has 2: "
            r"the data looks truncated$",
        ),
    ):
        fetch(CsvSource(kind="csv", url=srv.url() + "/t.csv", date="period", value="usd_bn"), ctx)


def test_csv_declared_latin1_is_decoded(httpserver, ctx) -> None:
    httpserver.expect_request("/l.csv").respond_with_data(
        "date,value,note\n2024-01-31,1,café\n".encode("latin-1"), content_type="text/csv; charset=ISO-8859-1"
    )
    frame = fetch(CsvSource(kind="csv", url=httpserver.url_for("/l.csv")), ctx)
    assert frame["note"].tolist() == ["café"]


# ---------------------------------------------------------------- json


def test_json_records_by_dotted_path(httpserver, ctx) -> None:
    doc = {
        "data": [
            {"rows": [{"d": "2024-03", "v": "1.5"}, {"d": "2024-01", "v": 2}, {"d": "2024-02", "v": None}]}
        ]
    }
    httpserver.expect_request("/j").respond_with_json(doc)
    frame = fetch(
        JsonSource(kind="json", url=httpserver.url_for("/j"), records="data[0].rows", date="d", value="v"),
        ctx,
    )
    assert frame["date"].tolist() == [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-03-31")]
    assert frame["value"].tolist() == [2.0, 1.5]


def test_json_missing_path_lists_the_keys(httpserver, ctx) -> None:
    httpserver.expect_request("/j").respond_with_json({"data": {"records": []}, "meta": {}})
    url = httpserver.url_for("/j")
    with pytest.raises(
        SourceError,
        match=rf"^json {url}: path 'data.items': no key 'items' in data "
        r"\(keys: records\)$",
    ):
        fetch(JsonSource(kind="json", url=url, records="data.items"), ctx)


def test_json_path_errors(httpserver, ctx) -> None:
    httpserver.expect_request("/j").respond_with_json({"data": [{"rows": {"a": 1}}]})
    url = httpserver.url_for("/j")
    with pytest.raises(
        SourceError, match=r"path 'data\[3\]': no item \[3\] in data \(a list of 1 dict items\)"
    ):
        fetch(JsonSource(kind="json", url=url, records="data[3]"), ctx)
    with pytest.raises(
        SourceError,
        match=r"records path 'data\[0\].rows' should lead to a list of objects, "
        r"found an object",
    ):
        fetch(JsonSource(kind="json", url=url, records="data[0].rows"), ctx)
    with pytest.raises(SourceError, match=r"path 'data\[x\]': cannot read it from '\[x\]' on"):
        fetch(JsonSource(kind="json", url=url, records="data[x]"), ctx)


def test_json_malformed_body(httpserver, ctx) -> None:
    httpserver.expect_request("/j").respond_with_data(
        '[{"date": "2024-01-31", "value": 1}', content_type="application/json"
    )
    with pytest.raises(
        SourceError, match=r"^json http://.*/j: malformed JSON from http://.*/j at line 1 column 36"
    ):
        fetch(JsonSource(kind="json", url=httpserver.url_for("/j")), ctx)


def test_json_boolean_value_is_not_a_number(httpserver, ctx) -> None:
    httpserver.expect_request("/j").respond_with_data(
        json.dumps([{"date": "2024-01-31", "value": True}]), content_type="application/json"
    )
    with pytest.raises(SourceError, match=r"records\[0\]: value True in column 'value' is not a number"):
        fetch(JsonSource(kind="json", url=httpserver.url_for("/j")), ctx)


def test_json_infinite_value_is_not_a_number(httpserver, ctx) -> None:
    httpserver.expect_request("/j").respond_with_data(
        '[{"date": "2024-01-31", "value": 1}, {"date": "2024-02-29", "value": 1e400}]',
        content_type="application/json",
    )
    with pytest.raises(SourceError, match=r"records\[1\]: value inf in column 'value' is not a number"):
        fetch(JsonSource(kind="json", url=httpserver.url_for("/j")), ctx)
