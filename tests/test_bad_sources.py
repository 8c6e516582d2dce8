"""One bad source never stops the others (issue 16, item 2).

A malformed URL (`http://[::1`) made `tracker ingest` exit 1 with a crash log before any source
was fetched, and `tracker run` print a traceback, while `tracker validate` accepted it: urllib
only finds the fault when the address is split, and ingest split every address (to take turns
between hosts) before fetching. Now the pack check refuses it with file:line, and if one still
reaches ingest (a record built in code), only that source fails.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from ingest_helpers import Loopback, closed_port, csv_text, write_project

from tracker import service
from tracker.cli import main
from tracker.sources import ingest

BAD = "http://[::1"


def _project(tmp_path: Path, srv: Loopback, bad: str) -> Path:
    srv.route("/good.csv", body=csv_text([("2024-01-31", 10), ("2024-02-29", 11)]))
    return write_project(tmp_path, {"good": {"kind": "csv", "url": srv.url("/good.csv")},
                                    "bad": {"kind": "csv", "url": bad}})


@pytest.mark.parametrize(("url", "reason"), [
    (BAD, "text 'http://[::1' (Invalid IPv6 URL)"),
    ("http://example.org:99999/x.csv", "text 'http://example.org:99999/x.csv' (Port out of range 0-65535)"),
    ("ftp://example.org/x.csv", "text 'ftp://example.org/x.csv'"),
    ("data.csv", "text 'data.csv'"),
])
@pytest.mark.parametrize("command", ["validate", "ingest", "run"])
def test_a_malformed_url_is_a_pack_problem_with_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        command: str, url: str, reason: str) -> None:
    monkeypatch.chdir(tmp_path)
    with Loopback() as srv:
        cfg = _project(tmp_path, srv, url)
        result = CliRunner().invoke(main, [command, "--config", str(cfg)])
    assert result.exit_code == 2, result.output
    line = next(n for n, text in enumerate((tmp_path / "indicators" / "bad.yaml").read_text().splitlines(), 1)
                if "url:" in text)
    assert result.stderr.splitlines()[0].startswith(f"indicators/bad.yaml:{line}:")
    assert (f"source.url: expected an http(s) address such as https://example.org/data.csv, got {reason}"
            in result.stderr)
    assert "Traceback" not in result.output and not (tmp_path / "tracker-crash.log").exists()


def test_a_malformed_url_that_reaches_ingest_fails_only_its_source(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Loopback() as srv:
        cfg = _project(tmp_path, srv, srv.url("/placeholder.csv"))
        ctx = service.load(str(cfg))
        bad = ctx.pack.indicators["bad"]
        ctx.pack.indicators["bad"] = dataclasses.replace(bad, source=dataclasses.replace(bad.source, url=BAD))
        with ctx.store() as store:
            report = ingest.ingest(ctx, store)
    by_id = {r["indicator"]: r for r in report.results}
    assert by_id["good"]["status"] == "new" and by_id["good"]["rows"] == 2
    assert by_id["bad"]["status"] == "failed" and "'[::1'" in by_id["bad"]["error"]
    assert report.exit_code == 3


def test_status_is_not_ok_after_a_run_in_which_every_live_source_failed(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    port = closed_port()
    cfg = write_project(tmp_path, {f"s{n}": {"kind": "csv", "url": f"http://127.0.0.1:{port}/s{n}.csv"}
                                   for n in range(2)})
    run = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert run.exit_code == 3, run.output
    status = CliRunner().invoke(main, ["status", "--json", "--config", str(cfg)])
    doc = json.loads(status.stdout)
    assert status.exit_code == 1 and doc["healthy"] is False
    assert doc["problems"] == ["every live source failed in the last nightly run (2 of 2); see failing_sources, "
                               "then `tracker ingest` to retry"]
