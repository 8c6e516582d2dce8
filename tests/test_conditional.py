"""Conditional requests and the identical-body shortcut for every HTTP connector (issue 15, item 2).

Each connector is ingested twice from a loopback server answering in the provider's genuine format:
- the 304 path: the server gives an ETag and Last-Modified; the second ingest sends them back,
  gets 304 Not Modified, and ends `unchanged` without parsing or writing;
- the identical-body path: the server gives no validators (GDELT, SIPRI); the second answer is the
  same bytes, known by their hash before any parsing, and nothing is written;
- a changed answer after either is parsed and stored: the shortcut never hides a change.
"No write" is checked on the store's own connection: every statement the second ingest ran.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from ingest_helpers import Loopback, cli, query, utc, vintage_counts, write_project
from source_fixtures import FIXTURES, HTTP_KINDS, gdelt_doc, observations, writes
from werkzeug import Request
from werkzeug import Response as WResponse

from tracker import service
from tracker.sources.ingest import ingest

ETAG, MODIFIED = '"fixture-1"', "Mon, 02 Nov 2026 10:00:00 GMT"


def _project(tmp_path: Path, srv: Loopback, kind: str, validators: bool) -> Path:
    fx = FIXTURES[kind]
    extra = {"etag": ETAG, "last_modified": MODIFIED} if validators else {}
    srv.route(fx.path, body=fx.body, content_type=fx.content_type, **extra)
    return write_project(tmp_path, {kind: fx.source(srv)})


def _second_ingest(cfg: Path) -> tuple[dict, list[str]]:
    """An ingest in this process, with every statement the store ran recorded."""
    ctx = service.load(str(cfg))
    statements: list[str] = []
    with ctx.store() as store:
        store.db.set_trace_callback(statements.append)
        report = ingest(ctx, store, now=utc("2026-11-24"))
        store.db.set_trace_callback(None)
    (result,) = report.results
    return result, statements


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_a_second_ingest_answered_304_parses_nothing_and_writes_nothing(tmp_path, monkeypatch, kind) -> None:
    monkeypatch.chdir(tmp_path)
    with Loopback() as srv:
        cfg = _project(tmp_path, srv, kind, validators=True)
        first = cli(cfg, "--json")
        assert first.code == 0 and first.by_id[kind]["status"] == "new", first.stdout
        assert not any("If-None-Match" in h.headers for h in srv.hits)
        before = len(srv.hits)
        result, statements = _second_ingest(cfg)
        later = srv.hits[before:]
    assert later, "the second ingest asked again"
    if kind == "sipri":  # a POST: a conditional header would be a precondition (RFC 9110 §13.1.2)
        assert result["answer"] == "same_body"
        assert all("If-None-Match" not in h.headers and h.status == 200 for h in later)
    else:
        assert result["answer"] == "not_modified"
        assert all(h.headers.get("If-None-Match") == ETAG and h.headers.get("If-Modified-Since") == MODIFIED
                   and h.status == 304 for h in later)
    assert result["status"] == "unchanged" and result["rows"] is None  # nothing parsed
    assert writes(statements) == []
    assert vintage_counts(cfg) == {kind: 1}


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_a_server_without_validators_sending_the_same_body_costs_no_write(tmp_path, monkeypatch, kind) -> None:
    monkeypatch.chdir(tmp_path)
    with Loopback() as srv:
        cfg = _project(tmp_path, srv, kind, validators=False)
        assert cli(cfg).code == 0
        before = len(srv.hits)
        result, statements = _second_ingest(cfg)
        later = srv.hits[before:]
    assert all(h.status == 200 and "If-None-Match" not in h.headers and "If-Modified-Since" not in h.headers
               for h in later)
    assert (result["status"], result["answer"], result["rows"]) == ("unchanged", "same_body", None)
    assert writes(statements) == []
    assert vintage_counts(cfg) == {kind: 1}
    assert query(cfg, "SELECT answer FROM source_results ORDER BY rowid") == [("data",), ("same_body",)]


@pytest.mark.parametrize("validators", [True, False], ids=["304", "same-body"])
@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_a_changed_answer_after_an_unchanged_one_is_stored(tmp_path, monkeypatch, kind, validators) -> None:
    monkeypatch.chdir(tmp_path)
    fx = FIXTURES[kind]
    with Loopback() as srv:
        cfg = _project(tmp_path, srv, kind, validators=validators)
        assert cli(cfg).code == 0
        assert cli(cfg, "--json").by_id[kind]["status"] == "unchanged"
        srv.routes[fx.path].body = fx.changed
        if validators:
            srv.routes[fx.path].etag = '"fixture-2"'
        third = cli(cfg, "--json")
    assert (third.by_id[kind]["status"], third.by_id[kind]["answer"]) == ("new", "data")
    assert vintage_counts(cfg) == {kind: 2}
    assert [round(v, 6) for _, v, _ in observations(cfg, kind)] != [round(v, 6) for v in fx.values]


def test_one_window_changed_and_one_answered_304_asks_that_one_again_and_keeps_both(tmp_path, monkeypatch) -> None:
    """GDELT asks in windows of three months. When one window answers 304 and another changed,
    the whole series is parsed again, so the 304 window is asked once more without validators."""
    monkeypatch.chdir(tmp_path)
    start = dt.date.today() - dt.timedelta(days=120)
    first_day, second_day = start.strftime("%Y%m%d"), (start + dt.timedelta(days=100)).strftime("%Y%m%d")
    bodies = {True: gdelt_doc(first_day, 2.0), False: gdelt_doc(second_day, 4.0)}

    def window(request: Request) -> WResponse:
        is_first = request.args["startdatetime"].startswith(start.strftime("%Y%m%d"))
        if request.headers.get("If-None-Match") == '"w"' and (is_first or not changed):
            return WResponse(status=304, headers={"ETag": '"w"'})
        return WResponse(bodies[is_first], content_type="application/json", headers={"ETag": '"w"'})

    changed = False
    with Loopback() as srv:
        route = srv.route("/doc", content_type="application/json")
        route.answer = window  # type: ignore[method-assign]
        cfg = write_project(tmp_path, {"news": {"kind": "gdelt", "url": srv.url("/doc"), "query": "x",
                                                "start": start.isoformat(), "resample": "daily"}})
        assert cli(cfg).code == 0
        assert cli(cfg, "--json").by_id["news"]["answer"] == "not_modified"
        changed, bodies[False] = True, gdelt_doc(second_day, 5.0)
        before = len(srv.hits)
        third = cli(cfg, "--json")
        later = [(h.args["startdatetime"][:8], h.headers.get("If-None-Match"), h.status) for h in srv.hits[before:]]
    assert later == [(first_day, '"w"', 304), (later[1][0], '"w"', 200), (first_day, None, 200)]
    assert third.by_id["news"]["status"] == "new"
    values = {d: v for d, v, _ in observations(cfg, "news")}
    assert values[f"{start:%Y-%m-%d}"] == 2.0  # the window answered 304, asked again and kept
    assert values[f"{start + dt.timedelta(days=100):%Y-%m-%d}"] == 5.0


def test_a_pack_edit_is_not_hidden_by_a_304(tmp_path, monkeypatch) -> None:
    """Validators are kept with a fingerprint of the source spec: after the pack changes the
    scale, the server's 304 would keep the old figures, so the validators are not sent."""
    monkeypatch.chdir(tmp_path)
    with Loopback() as srv:
        cfg = _project(tmp_path, srv, "csv", validators=True)
        assert cli(cfg).code == 0
        spec_file = cfg.parent / "indicators" / "csv.yaml"
        doc = yaml.safe_load(spec_file.read_text())
        doc["source"]["scale"] = 1000
        spec_file.write_text(yaml.safe_dump(doc, sort_keys=False))
        before = len(srv.hits)
        run = cli(cfg, "--json")
        (hit,) = srv.hits[before:]
    assert "If-None-Match" not in hit.headers and hit.status == 200
    assert run.by_id["csv"]["status"] == "new"
    assert [v for _, v, _ in observations(cfg, "csv")] == [10000.0, 11000.0]
    saved = query(cfg, "SELECT etag, body_sha256 IS NOT NULL, spec IS NOT NULL FROM validators")
    assert saved == [(ETAG, 1, 1)]


def test_validators_are_not_rewritten_when_they_did_not_change(tmp_path, monkeypatch) -> None:
    """A body that differs only where it does not matter is parsed, equals the stored rows and
    ends `unchanged`; the validators are saved again only because its hash is new."""
    monkeypatch.chdir(tmp_path)
    with Loopback() as srv:
        cfg = _project(tmp_path, srv, "json", validators=False)
        assert cli(cfg).code == 0
        srv.routes[FIXTURES["json"].path].body = json.dumps(json.loads(FIXTURES["json"].body), indent=2)
        result, statements = _second_ingest(cfg)
    assert (result["status"], result["answer"], result["rows"]) == ("unchanged", "data", 2)
    assert [" ".join(s.split()[:3]).upper() for s in writes(statements)] == [
        "DELETE FROM VALIDATORS", "INSERT INTO VALIDATORS"]
    assert vintage_counts(cfg) == {"json": 1}
