"""The done-when path of issue 15 end to end through the nightly run (`tracker run`): a CSV
source over loopback HTTP, a real SMTP server for the alerts, a real store, one run a night.

Night 1 stores 48 months. Night 2 revises three past months (one across a state boundary) and
adds January: `flags` names the revision and the alert names the past state it changed. Night 3
adds a ten-sigma jump for February: it is held back, the call does not move, the alert says
"held back". Night 4 keeps February and adds March: February is confirmed, the state moves and
the alert says so."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import yaml
from holdback_helpers import LIKELIHOOD, STATES, months, walk
from packbuilder import numeric, scenarios, write_pack
from pytest_httpserver import HTTPServer
from smtpserver import smtp_server

from tracker import service
from tracker.ops import nightly
from tracker.store.db import Store

NIGHTS = [dt.datetime(2026, 6, d, 3, 30, tzinfo=dt.UTC) for d in (1, 2, 3, 4)]


def csv_body(values: np.ndarray) -> str:
    lines = ["date,value,source_url"]
    lines += [f"{d},{float(v)!r},https://stats.example.org/trade/{d}" for d, v in zip(months(len(values)), values,
                                                                               strict=True)]
    return "\n".join(lines) + "\n"


def bodies() -> list[str]:
    values = walk(49)
    revised = values.copy()
    revised[[23, 29]] += 1.0
    revised[35] = 91.0                                     # 2024-12: stable → contraction
    feb = np.r_[revised, revised[-1] + 10.0]              # the steps are about 1: a ten-sigma jump
    return [csv_body(values[:48]), csv_body(revised), csv_body(feb), csv_body(np.r_[feb, feb[-1] + 0.4])]


@pytest.fixture
def smtp():
    with smtp_server() as (inbox, port):
        yield port, inbox


@pytest.fixture(autouse=True)
def _own_logging():
    yield
    nightly.reset_logging()


def serve(server: HTTPServer, body: str) -> None:
    server.clear()
    server.expect_request("/trade.csv").respond_with_data(body, content_type="text/csv")


def test_the_done_when_path_through_the_nightly_run(tmp_path, httpserver, smtp):
    port, inbox = smtp
    path = write_pack(tmp_path, scenarios({"A": 0.5, "B": 0.5}, {"t": 1.0}), [
        numeric("trade", "t", STATES, LIKELIHOOD, source={"kind": "csv", "url": httpserver.url_for("/trade.csv")},
                frequency="monthly", unit="index", half_life="3650d", stale_after="3650d")])
    doc = yaml.safe_load(path.read_text())
    doc.update({"timezone": "Europe/London", "http": {"retries": 0, "timeout": 10, "deadline": 20},
                "digest": {"from": "tracker@example.org", "to": ["analysts@example.org"],
                           "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 5}}})
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    ctx = service.load(str(path))
    details, sent = [], []
    for night, body in zip(NIGHTS, bodies(), strict=True):
        serve(httpserver, body)
        assert nightly.run_nightly(ctx, now=night) == 0
        with Store(ctx.config.store_path) as store:
            details.append(store.runs(kind="run", limit=1)[0]["detail"])
        sent.append(len(inbox.messages))
    first, second, third, fourth = details
    assert first["flags"] == [] and sent == [0, 1, 2, 3]              # one alert a night after the first

    [rev] = second["flags"]
    assert rev["kind"] == "revised" and rev["detail"].startswith("3 points revised on 2026-06-02 "
                                                                  "(2023-12-31 … 2024-12-31)")
    line = "Indicator trade: 2024-12 revised from stable to contraction"
    assert rev["past_state"]["line"] == line
    assert inbox.parsed(0)["Subject"] == f"tracker alert: Test pack: {line}"
    assert f"  {line} (a revision)" in inbox.parsed(0).get_content()

    held = [f for f in third["flags"] if f["kind"] == "unconfirmed"]
    assert [(f["indicator"], f["date"]) for f in held] == [("trade", "2026-02-28")]
    assert third["states"] == second["states"] == {"trade": "stable"}
    assert third["probabilities"] == second["probabilities"] and third["trend"] == second["trend"]
    assert third["evidence"]["trade"]["date"] == "2026-01-31"
    alert = inbox.parsed(1)
    assert alert["Subject"] == "tracker alert: Test pack: held back: trade 2026-02-28"
    body = alert.get_content()
    assert "  held back: trade (Indicator trade) 2026-02-28: not counted yet" in body
    assert "a step of +10 from" in body

    assert [f for f in fourth["flags"] if f["kind"] == "unconfirmed"] == []
    assert fourth["states"] == {"trade": "growth"} and fourth["evidence"]["trade"]["date"] == "2026-03-31"
    assert inbox.parsed(2)["Subject"] == "tracker alert: Test pack: trade stable → growth"
