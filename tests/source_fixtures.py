"""One answer in the provider's genuine format per HTTP connector (the samples in tests/samples),
a changed variant of it, and the `source:` that reads it from a Loopback server: shared by the
provenance, conditional-request, empty-answer and `tracker sources` tests (issue 15)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest_helpers import Loopback, csv_text, sample, sipri_answer, worldbank_one_country

RECENT = (dt.date.today() - dt.timedelta(days=20)).isoformat()
IMF_BODY = sample("imf-sdmx3-data-json.json")
COMTRADE_BODY = sample("un-comtrade-v1-preview.json")
GDELT_BODY = sample("gdelt-doc-timelinevol.json")
SIPRI_TEXT = sample("sipri-trade-register.csv")


@dataclass(frozen=True)
class Fixture:
    kind: str
    path: str
    body: str
    changed: str
    """The same answer with one figure revised."""
    content_type: str
    source: Callable[[Loopback], dict[str, Any]]
    values: list[float]
    """What the first answer stores."""


def _changed(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


FIXTURES: dict[str, Fixture] = {f.kind: f for f in [
    Fixture("csv", "/stats/trade.csv", csv_text([("2024-01-31", 10), ("2024-02-29", 11)]),
            csv_text([("2024-01-31", 10), ("2024-02-29", 11.5)]), "text/csv",
            lambda s: {"kind": "csv", "url": s.url("/stats/trade.csv")}, [10.0, 11.0]),
    Fixture("json", "/stats/series.json",
            '{"data": {"items": [{"period": "2024-01", "obs": 1.5}, {"period": "2024-02", "obs": 2.5}]}}',
            '{"data": {"items": [{"period": "2024-01", "obs": 1.5}, {"period": "2024-02", "obs": 2.75}]}}',
            "application/json",
            lambda s: {"kind": "json", "url": s.url("/stats/series.json"), "records": "data.items",
                       "date": "period", "value": "obs"}, [1.5, 2.5]),
    Fixture("imf", "/imf/sdmx/3.0/data/dataflow/IMF.STA/CPI/+/USA.CPI._T.IX.M", IMF_BODY,
            _changed(IMF_BODY, '"151.4352997287388"', '"151.5"'),
            "application/vnd.sdmx.data+json; version=2.0.0",
            lambda s: {"kind": "imf", "url": s.url("/imf/sdmx/3.0"), "dataflow": "IMF.STA/CPI/+",
                       "key": "USA.CPI._T.IX.M"}, [151.4352997287388, 152.7225866809138]),
    Fixture("worldbank", "/wb/v2/country/ARG/indicator/NY.GDP.MKTP.CD", worldbank_one_country("1A"),
            _changed(worldbank_one_country("1A"), "2867811095547.36", "2900000000000.0"),
            "application/json;charset=utf-8",
            lambda s: {"kind": "worldbank", "url": s.url("/wb/v2"), "country": "ARG",
                       "indicator": "NY.GDP.MKTP.CD", "start": 2010, "scale": 1e-9}, [2867.81109554736]),
    Fixture("comtrade", "/ct/public/v1/preview/C/A/HS", COMTRADE_BODY,
            _changed(COMTRADE_BODY, '"primaryValue":151580564290', '"primaryValue":160000000000'),
            "application/json",
            lambda s: {"kind": "comtrade", "url": s.url("/ct"), "reporter": 842, "partner": 392, "flow": "M",
                       "periods": [2023], "scale": 1e-9}, [151.58056429]),
    Fixture("gdelt", "/gdelt/api/v2/doc/doc", GDELT_BODY, _changed(GDELT_BODY, '"value": 1.9942', '"value": 3.9942'),
            "application/json",
            lambda s: {"kind": "gdelt", "url": s.url("/gdelt/api/v2/doc/doc"), "query": '"Power of Siberia"',
                       "start": RECENT}, [21.6794 / 18]),
    Fixture("sipri", "/sipri/trade-register-csv/", sipri_answer(SIPRI_TEXT),
            sipri_answer(_changed(SIPRI_TEXT, "Sensors,1997,Yes,1,No,2000,No,New,5,5,5,No",
                                  "Sensors,1997,Yes,1,No,2000,No,New,5,5,6,No")),
            "application/json",
            lambda s: {"kind": "sipri", "url": s.url("/sipri/trade-register-csv/"), "supplier": "Russia",
                       "recipient": "Algeria", "start": 2000, "end": 2001}, [13.0, 0.0]),
]}
HTTP_KINDS = sorted(FIXTURES)


def observations(cfg: Path, iid: str) -> list[tuple[Any, ...]]:
    """(date, value, source_url) of the newest vintage of `iid`."""
    con = sqlite3.connect(cfg.parent / "tracker.db")
    try:
        return con.execute("""
            SELECT o.date, o.value, o.source_url FROM observations o WHERE o.vintage_id =
              (SELECT id FROM vintages WHERE indicator = ? ORDER BY fetched_at DESC, id DESC LIMIT 1)
            ORDER BY o.date""", (iid,)).fetchall()
    finally:
        con.close()


def writes(statements: list[str]) -> list[str]:
    """The statements of a trace that change stored data other than the run's own records."""
    own = ("INSERT INTO RUNS", "UPDATE RUNS", "INSERT INTO SOURCE_RESULTS")
    return [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "REPLACE"))
            and not s.lstrip().upper().startswith(own)]


def gdelt_doc(day: str, value: float) -> str:
    """A GDELT DOC 2.0 timelinevol answer with one bucket, in the API's own shape."""
    return json.dumps({"query_details": {"title": "test", "date_resolution": "1d"},
                       "timeline": [{"series": "Volume Intensity", "data": [{"date": f"{day}T000000Z",
                                                                              "value": value}]}]})
