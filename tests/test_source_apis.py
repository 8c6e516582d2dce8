"""GDELT, World Bank, IMF, UN Comtrade and SIPRI against loopback servers serving the real sample
answers from shared/data/samples (copied to tests/samples) and variants of them."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from werkzeug import Request
from werkzeug import Response as WResponse

from tracker.pack.schema import ComtradeSource, GdeltSource, ImfSource, SipriSource, WorldBankSource
from tracker.sources import FetchContext, SourceError, fetch
from tracker.sources.http import HttpClient

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def sample_json(name: str) -> Any:
    return json.loads(sample(name))


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def ctx(slept: list[float]) -> Iterator[FetchContext]:
    with HttpClient(timeout=(2.0, 2.0), retries=2, deadline=5.0, backoff=0.01, sleep=slept.append) as client:
        yield FetchContext(http=client, base_dirs=[], keys={"comtrade": "CT-SECRET", "imf": "IMF-SECRET"})


def days(frame: pd.DataFrame) -> list[str]:
    return frame["date"].dt.strftime("%Y-%m-%d").tolist()


# ---------------------------------------------------------------- GDELT


def gdelt(url: str, **kw: Any) -> GdeltSource:
    start = (dt.date.today() - dt.timedelta(days=20)).isoformat()
    return GdeltSource(**{"kind": "gdelt", "query": '"Power of Siberia"', "start": start, "url": url, **kw})


def test_gdelt_timelinevol_fills_omitted_buckets_with_zero(httpserver, ctx) -> None:
    httpserver.expect_request("/doc").respond_with_data(
        sample("gdelt-doc-timelinevol.json"), content_type="application/json"
    )
    frame = fetch(gdelt(httpserver.url_for("/doc"), resample="daily"), ctx)
    # 10 buckets present between 18:15 and 22:30 on the 15-minute grid, which has 18
    assert days(frame) == ["2026-08-31"]
    assert frame["value"].iloc[0] == pytest.approx(21.6794 / 18)
    request = httpserver.log[0][0]
    assert request.args["mode"] == "timelinevol" and request.args["format"] == "json"
    assert request.args["query"] == '"Power of Siberia"'
    assert request.args["startdatetime"] == f"{dt.date.today() - dt.timedelta(days=20):%Y%m%d}000000"
    assert len(request.args["enddatetime"]) == 14


def test_gdelt_tone_is_a_mean_of_present_buckets(httpserver, ctx) -> None:
    httpserver.expect_request("/doc").respond_with_data(
        sample("gdelt-doc-timelinetone.json"), content_type="application/json"
    )
    frame = fetch(gdelt(httpserver.url_for("/doc"), mode="timelinetone", resample="weekly"), ctx)
    values = sample_json("gdelt-doc-timelinetone.json")["timeline"][0]["data"]
    aug31 = sum(p["value"] for p in values[:-1]) / 9
    assert days(frame) == ["2026-09-04"]  # weeks end on Friday
    assert frame["value"].iloc[0] == pytest.approx((aug31 + values[-1]["value"]) / 2)


def test_gdelt_windows_of_three_months_are_stitched(httpserver, ctx) -> None:
    start = dt.date.today() - dt.timedelta(days=120)
    seen: list[tuple[str, str]] = []

    def answer(request: Request) -> WResponse:
        seen.append((request.args["startdatetime"], request.args["enddatetime"]))
        day = request.args["startdatetime"][:8]
        doc = {
            "timeline": [
                {
                    "series": "Article Count",
                    "data": [
                        {"date": f"{day}T000000Z", "value": 3, "norm": 900},
                        {"date": f"{day}T120000Z", "value": 4, "norm": 950},
                    ],
                }
            ]
        }
        return WResponse(json.dumps(doc), content_type="application/json")

    httpserver.expect_request("/doc").respond_with_handler(answer)
    spec = gdelt(httpserver.url_for("/doc"), mode="timelinevolraw", start=start.isoformat(), smooth=3)
    frame = fetch(spec, ctx)
    second = (pd.Timestamp(start) + pd.DateOffset(months=3)).date()
    assert seen[0] == (f"{start:%Y%m%d}000000", f"{second - dt.timedelta(days=1):%Y%m%d}235959")
    assert seen[1][0] == f"{second:%Y%m%d}000000" and len(seen) == 2
    assert httpserver.log[0][0].args["timelinesmooth"] == "3"
    months = pd.period_range(pd.Period(start, "M"), pd.Period(second, "M"), freq="M")
    assert days(frame) == [m.end_time.strftime("%Y-%m-%d") for m in months]
    assert frame["value"].tolist() == [7.0] + [0.0] * (len(months) - 2) + [7.0]  # counts: summed, gaps are 0


def test_gdelt_empty_answer_gives_an_empty_frame(httpserver, ctx) -> None:
    httpserver.expect_request("/doc").respond_with_data(
        sample("gdelt-doc-unknown-theme-empty.json"), content_type="application/json"
    )
    frame = fetch(gdelt(httpserver.url_for("/doc")), ctx)
    assert frame.empty and list(frame.columns) == ["date", "value"]


def test_gdelt_timespan_too_short_is_explained(httpserver, ctx) -> None:
    httpserver.expect_request("/doc").respond_with_data(
        sample("gdelt-doc-error-timespan-too-short.txt"), content_type="text/html"
    )
    with pytest.raises(
        SourceError,
        match=r"^gdelt timelinevol '\"Power of Siberia\"': GDELT answered text/html "
        r"instead of JSON for .*: 'Timespan is too short.'; the window is too short",
    ):
        fetch(gdelt(httpserver.url_for("/doc")), ctx)


def test_gdelt_429_is_retried_then_reported(httpserver, ctx, slept) -> None:
    body = sample("gdelt-doc-error-429.txt")
    httpserver.expect_ordered_request("/doc").respond_with_data(body, status=429, content_type="text/plain")
    httpserver.expect_ordered_request("/doc").respond_with_data(
        sample("gdelt-doc-timelinevol.json"), content_type="application/json"
    )
    assert len(fetch(gdelt(httpserver.url_for("/doc")), ctx)) == 1
    assert len(slept) == 1
    httpserver.clear()
    httpserver.expect_request("/doc").respond_with_data(body, status=429, content_type="text/plain")
    with pytest.raises(
        SourceError,
        match=r"HTTP 429 from .*: Please limit requests to one every 5 seconds "
        r"\(after 3 attempts\)$",
    ):
        fetch(gdelt(httpserver.url_for("/doc")), ctx)


# ---------------------------------------------------------------- World Bank


def wb(url: str, **kw: Any) -> WorldBankSource:
    return WorldBankSource(
        **{
            "kind": "worldbank",
            "country": "CHN",
            "indicator": "MS.MIL.XPRT.KD",
            "start": 2014,
            "end": 2025,
            "url": url,
            **kw,
        }
    )


def wb_rows(values: dict[str, float | None]) -> list[dict[str, Any]]:
    template = sample_json("worldbank-v2-indicator.json")[1][0]
    rows = []
    for year, value in values.items():
        row = copy.deepcopy(template)
        row.update(date=year, value=value, country={"id": "CN", "value": "China"}, countryiso3code="CHN")
        rows.append(row)
    return rows


def test_worldbank_pages_and_nulls(httpserver, ctx) -> None:
    pages = {"1": wb_rows({"2025": None, "2024": 1.5e9, "2023": 2.0e9}), "2": wb_rows({"2022": 3.0e9})}

    def answer(request: Request) -> WResponse:
        page = request.args["page"]
        meta = {
            "page": int(page),
            "pages": 2,
            "per_page": 3,
            "total": 4,
            "sourceid": "2",
            "lastupdated": "2026-01-28",
        }
        return WResponse(json.dumps([meta, pages[page]]), content_type="application/json;charset=utf-8")

    httpserver.expect_request("/v2/country/CHN/indicator/MS.MIL.XPRT.KD").respond_with_handler(answer)
    frame = fetch(wb(httpserver.url_for("/v2"), scale=1e-9), ctx)
    assert days(frame) == ["2022-12-31", "2023-12-31", "2024-12-31"]
    assert frame["value"].tolist() == [3.0, 2.0, 1.5]
    args = httpserver.log[0][0].args
    assert (args["format"], args["date"], args["per_page"]) == ("json", "2014:2025", "1000")
    assert [r.args["page"] for r, _ in httpserver.log] == ["1", "2"]


def test_worldbank_real_sample_with_several_countries_is_refused(httpserver, ctx) -> None:
    httpserver.expect_request("/v2/country/CHN/indicator/NY.GDP.MKTP.CD").respond_with_data(
        sample("worldbank-v2-indicator.json"), content_type="application/json;charset=utf-8"
    )
    with pytest.raises(
        SourceError,
        match=r"^worldbank NY.GDP.MKTP.CD: the answer holds 4 countries "
        r"\(1A, B8, S3, V2\); ask for one country per indicator$",
    ):
        fetch(wb(httpserver.url_for("/v2"), indicator="NY.GDP.MKTP.CD"), ctx)


def test_worldbank_error_body_and_empty_answer(httpserver, ctx) -> None:
    error = [
        {
            "message": [
                {"id": "120", "key": "Invalid value", "value": "The provided parameter value is not valid"}
            ]
        }
    ]
    httpserver.expect_ordered_request("/v2/country/CHN/indicator/MS.MIL.XPRT.KD").respond_with_json(error)
    httpserver.expect_ordered_request("/v2/country/CHN/indicator/MS.MIL.XPRT.KD").respond_with_json(
        [{"page": 1, "pages": 0, "per_page": 1000, "total": 0}, None]
    )
    with pytest.raises(
        SourceError,
        match=r"^worldbank MS.MIL.XPRT.KD: the API refused the request: "
        r"120 Invalid value: The provided parameter value is not valid$",
    ):
        fetch(wb(httpserver.url_for("/v2")), ctx)
    assert fetch(wb(httpserver.url_for("/v2")), ctx).empty


# ---------------------------------------------------------------- IMF


IMF_PATH = "/sdmx/3.0/data/dataflow/IMF.STA/CPI/+/USA.CPI._T.IX.M"


def imf(url: str, **kw: Any) -> ImfSource:
    return ImfSource(
        **{"kind": "imf", "dataflow": "IMF.STA/CPI/+", "key": "USA.CPI._T.IX.M", "url": url, **kw}
    )


def test_imf_real_sample(httpserver, ctx) -> None:
    httpserver.expect_request(
        IMF_PATH,
        headers={
            "Accept": "application/vnd.sdmx.data+json;version=2.0.0",
            "Ocp-Apim-Subscription-Key": "IMF-SECRET",
        },
    ).respond_with_data(
        sample("imf-sdmx3-data-json.json"),
        content_type="application/vnd.sdmx.data+json; version=2.0.0",
        headers={"ETag": 'W/"1"'},
    )
    frame = fetch(imf(httpserver.url_for("/sdmx/3.0"), api_key="imf"), ctx)
    assert days(frame) == ["2026-03-31", "2026-04-30"]
    assert frame["value"].tolist() == [151.4352997287388, 152.7225866809138]
    assert [v.get("etag") for v in ctx.validators.values()] == ['W/"1"']  # and the body's hash


def imf_variant(series: dict[str, Any] | None, periods: list[str]) -> dict[str, Any]:
    doc = sample_json("imf-sdmx3-data-json.json")
    if series is None:
        del doc["data"]["dataSets"][0]["series"]
    else:
        doc["data"]["dataSets"][0]["series"] = series
    doc["data"]["structures"][0]["dimensions"]["observation"][0]["values"] = [{"value": p} for p in periods]
    return doc


def test_imf_quarterly_annual_and_start(httpserver, ctx) -> None:
    obs = {"0": ["1.5", None], "1": ["2.5", None], "2": [None, None]}
    httpserver.expect_request(IMF_PATH).respond_with_json(
        imf_variant({"0:0:0:0:0": {"observations": obs}}, ["2023-Q4", "2024-Q1", "2024-Q2"])
    )
    frame = fetch(imf(httpserver.url_for("/sdmx/3.0"), start="2024"), ctx)
    assert days(frame) == ["2024-03-31"] and frame["value"].tolist() == [2.5]


def test_imf_no_series_and_several_series(httpserver, ctx) -> None:
    httpserver.expect_ordered_request(IMF_PATH).respond_with_json(imf_variant(None, []))
    two = {"0:0:0:0:0": {"observations": {}}, "0:0:0:0:1": {"observations": {}}}
    doc = imf_variant(two, ["2024"])
    doc["data"]["structures"][0]["dimensions"]["series"][4]["values"].append({"id": "A"})
    httpserver.expect_ordered_request(IMF_PATH).respond_with_json(doc)
    # no series: an answer with nothing in it (ingest records it as `empty`, issue 15), not an error
    nothing = fetch(imf(httpserver.url_for("/sdmx/3.0")), ctx)
    assert nothing.empty and list(nothing.columns) == ["date", "value"]
    with pytest.raises(
        SourceError, match=r"2 series match key USA.CPI._T.IX.M \(USA.CPI._T.IX.M, USA.CPI._T.IX.A\)"
    ):
        fetch(imf(httpserver.url_for("/sdmx/3.0")), ctx)


# ---------------------------------------------------------------- UN Comtrade


def comtrade(url: str, **kw: Any) -> ComtradeSource:
    return ComtradeSource(
        **{
            "kind": "comtrade",
            "reporter": 842,
            "partner": 392,
            "flow": "M",
            "periods": [2023],
            "url": url,
            **kw,
        }
    )


def test_comtrade_real_preview_sample(httpserver, ctx) -> None:
    httpserver.expect_request(
        "/public/v1/preview/C/A/HS",
        query_string={
            "reporterCode": "842",
            "partnerCode": "392",
            "period": "2023",
            "cmdCode": "TOTAL",
            "flowCode": "M",
        },
    ).respond_with_data(sample("un-comtrade-v1-preview.json"), content_type="application/json")
    frame = fetch(comtrade(httpserver.url_for("/"), scale=1e-9), ctx)
    # the recorded answer holds both flows (it was asked for M,X): only the imports are kept
    assert days(frame) == ["2023-12-31"]
    assert frame["value"].tolist() == [pytest.approx(151.58056429)]


def ct_row(period: str, cmd: str, value: float, **kw: Any) -> dict[str, Any]:
    row = copy.deepcopy(sample_json("un-comtrade-v1-preview.json")["data"][0])
    row.update(period=period, refYear=int(period[:4]), cmdCode=cmd, primaryValue=value, **kw)
    return row


def test_comtrade_keeps_totals_and_computes_shares(httpserver, ctx) -> None:
    rows = [
        ct_row("2022", "TOTAL", 200.0),
        ct_row("2022", "27", 50.0),
        ct_row("2022", "27", 7.0, motCode=2100),
        ct_row("2023", "TOTAL", 400.0),
        ct_row("2023", "27", 300.0),
        ct_row("2024", "27", 1.0),
    ]
    httpserver.expect_request(
        "/data/v1/get/C/A/HS", headers={"Ocp-Apim-Subscription-Key": "CT-SECRET"}
    ).respond_with_json({"elapsedTime": "0.1 secs", "count": len(rows), "data": rows, "error": ""})
    frame = fetch(
        comtrade(
            httpserver.url_for("/"),
            cmd="27",
            share_of="TOTAL",
            periods=[2022, 2023, 2024],
            preview=False,
            api_key="comtrade",
        ),
        ctx,
    )
    assert days(frame) == ["2022-12-31", "2023-12-31"]
    assert frame["value"].tolist() == [25.0, 75.0]
    assert httpserver.log[0][0].args["cmdCode"] == "27,TOTAL"


def test_comtrade_monthly_periods_and_errors(httpserver, ctx) -> None:
    rows = [ct_row("202401", "TOTAL", 10.0), ct_row("202402", "TOTAL", 11.0)]
    httpserver.expect_ordered_request("/public/v1/preview/C/M/HS").respond_with_json(
        {"data": rows, "error": ""}
    )
    httpserver.expect_ordered_request("/public/v1/preview/C/M/HS").respond_with_json(
        {"data": [], "error": "quota"}
    )
    frame = fetch(comtrade(httpserver.url_for("/"), freq="M", periods=[2024]), ctx)
    assert days(frame) == ["2024-01-31", "2024-02-29"]
    assert httpserver.log[0][0].args["period"] == ",".join(f"2024{m:02d}" for m in range(1, 13))
    with pytest.raises(SourceError, match=r"^comtrade 842->392 M TOTAL: the API said: quota$"):
        fetch(comtrade(httpserver.url_for("/"), freq="M", periods=[202401]), ctx)


def test_comtrade_key_is_required_and_never_shown(httpserver, ctx) -> None:
    with pytest.raises(SourceError, match=r"the data endpoint needs an API key"):
        fetch(comtrade(httpserver.url_for("/"), preview=False, api_key="missing"), ctx)
    httpserver.expect_request("/data/v1/get/C/A/HS").respond_with_json(
        {"statusCode": 401, "message": "Access denied due to invalid subscription key CT-SECRET."}, status=401
    )
    with pytest.raises(SourceError) as err:
        fetch(comtrade(httpserver.url_for("/"), preview=False), ctx)
    assert "HTTP 401" in str(err.value) and "CT-SECRET" not in str(err.value)


# ---------------------------------------------------------------- SIPRI


def sipri_answer(text: str) -> dict[str, str]:
    return {"bytes": base64.b64encode(text.encode("utf-8")).decode("ascii")}


def sipri(url: str, **kw: Any) -> SipriSource:
    return SipriSource(
        **{
            "kind": "sipri",
            "supplier": "Russia",
            "recipient": "Algeria",
            "start": 2000,
            "end": 2001,
            "url": url,
            **kw,
        }
    )


def test_sipri_real_register_sums_by_delivery_year(httpserver, ctx) -> None:
    expected_body = {
        "filters": [
            {
                "field": "Delivery year",
                "condition": "contains",
                "value1": 2000,
                "value2": 2001,
                "listData": [],
            },
            {"field": "Order year", "condition": "contains", "value1": 0, "value2": 2001, "listData": []},
            {"field": "opendeals", "condition": "", "value1": "", "value2": "", "listData": []},
            {"field": "exportOption", "condition": "", "value1": "", "value2": "", "listData": []},
        ],
        "logic": "AND",
    }
    httpserver.expect_request("/trades", method="POST", json=expected_body).respond_with_json(
        sipri_answer(sample("sipri-trade-register.csv"))
    )
    russia = fetch(sipri(httpserver.url_for("/trades")), ctx)
    assert days(russia) == ["2000-12-31", "2001-12-31"]
    assert russia["value"].tolist() == [13.0, 0.0]  # 5 + 8 in 2000; none in 2001, which the register covers
    ctx.validators.clear()  # validators belong to one indicator: the same register read for another pair
    china = fetch(sipri(httpserver.url_for("/trades"), supplier="china", recipient="ALGERIA"), ctx)
    assert china["value"].tolist() == pytest.approx([9.7, 10.6])


def test_sipri_bad_answers(httpserver, ctx) -> None:
    httpserver.expect_ordered_request("/trades", method="POST").respond_with_json(
        sipri_answer("Transfers of major conventional arms\nSupplier,Recipient\n")
    )
    httpserver.expect_ordered_request("/trades", method="POST").respond_with_json({"bytes": "%%% not base64"})
    httpserver.expect_ordered_request("/trades", method="POST").respond_with_json(
        sipri_answer(sample("sipri-trade-register.csv").replace("TIV delivery values", "TIV"))
    )
    with pytest.raises(
        SourceError,
        match=r"^sipri Russia->Algeria: no header line starting 'SIPRI AT Database ID' "
        r"in the register \(first line: 'Transfers of major conventional arms'\)$",
    ):
        fetch(sipri(httpserver.url_for("/trades")), ctx)
    with pytest.raises(SourceError, match="the 'bytes' field is not valid base64"):
        fetch(sipri(httpserver.url_for("/trades")), ctx)
    with pytest.raises(SourceError, match=r"no column 'TIV delivery values' in the register"):
        fetch(sipri(httpserver.url_for("/trades")), ctx)
