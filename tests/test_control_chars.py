"""Text that reaches a terminal or a mail is safe (issue 16, item 9): control characters in
notes, source URLs, names, run errors or any stored text are shown escaped on a terminal
(`\\x1b`) and dropped from the digest and alerts (HTML, text and subject).

An ESC can clear the screen, retitle the window (OSC … BEL) or rewrite what a line says; the
C1 byte U+009B is CSI on some terminals. Real parts only: the command line, real SQLite stores,
an aiosmtpd server on loopback, and a loopback HTTP source."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from packbuilder import frame, numeric, ordinal, scenarios, utc, write_pack
from reliability_helpers import Sources
from smtpserver import smtp_server
from test_digest import WEEK, Site, make_site

from tracker import service
from tracker.cli import main
from tracker.store.db import Store
from tracker.text import escape_controls, strip_controls
from tracker.views import mail

EVIL = "Signed\x1b]0;pwned\x07 \x1b[2J\x1b[1A\x9b31m done\x7f\x00\x08\r"
"""OSC window title ending in BEL, clear screen, cursor up, C1 CSI, DEL, NUL, backspace, CR."""
EVIL_URL = "https://example.org/a\x1b[31m?b=\x9b2J"
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
"""Every C0 (newline aside), DEL and C1 character."""


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def assert_terminal_safe(text: str) -> None:
    assert CONTROL.findall(text) == [], text
    assert "\\x1b" in text, text      # shown, not dropped: the analyst sees what was stored


# ---------------------------------------------------------------- the helpers


def test_escape_and_strip() -> None:
    assert escape_controls("a\x1b[2Jb\x07c\x9bd\x7f\te\nf") == "a\\x1b[2Jb\\x07c\\x9bd\\x7f\\te\\nf"
    assert escape_controls("a\nb\x1b", keep="\n") == "a\nb\\x1b"
    assert strip_controls("a\x1b[2Jb\x07c\x9bd\x7f\te\r\nf\rg") == "a[2Jbcd e\nfg"
    assert escape_controls("café — ok") == strip_controls("café — ok") == "café — ok"


# ---------------------------------------------------------------- terminal output


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pack whose names hold control characters, seeds whose notes and URLs do, an analyst
    observation, a failed run, a failing source and stored scores."""
    monkeypatch.chdir(tmp_path)
    scen = scenarios({"A": 0.5, "B": 0.5}, {"g": 1.0, "h": 1.0}, name="Watch\x1b[5m list")
    scen["scenarios"][0]["name"] = "Calm\x1b[8m hidden"
    states = [{"name": "low", "below": 0}, {"name": "high"}]
    lik = {"low": {"A": 0.3, "B": 0.7}, "high": {"A": 0.7, "B": 0.3}}
    inds = [numeric("growth", "g", states, lik, name="Growth\x07 bell", half_life="3650d", stale_after="3650d"),
            ordinal("deal", "h", ["talks", "signed"], {"talks": {"A": 0.6, "B": 0.4}, "signed": {"A": 0.3, "B": 0.7}},
                    {"A": "18M", "B": "9M"})]
    seeds = {"growth": [{"date": "2024-01-31", "value": -1.0, "note": EVIL, "source_url": EVIL_URL}],
             "deal": [{"date": "2023-01-10", "level": "talks", "note": EVIL, "source_url": EVIL_URL}]}
    cfg = write_pack(tmp_path, scen, inds, seeds)
    service.load(str(cfg)).store().close()       # seeded first, as any command does
    with Store(tmp_path / "tracker.db") as store:
        store.write_vintage("growth", frame([{"date": "2024-01-31", "value": -1.0, "note": EVIL,
                                              "source_url": EVIL_URL}]),
                            fetched_at=utc("2024-02-01"), origin="ingest")
        run = store.begin_run("run", now=utc("2024-06-01", 4))
        store.record_sources(run, [{"indicator": "growth", "status": "failed", "error": f"HTTP 500: {EVIL}"}])
        store.finish_run(run, "failed", {"error": f"RuntimeError: {EVIL}"}, now=utc("2024-06-01", 5))
        store.save_scores(run, pd.DataFrame({"A": [0.6], "B": [0.4]}, index=pd.to_datetime(["2024-05-31"])))
    return cfg


@pytest.mark.parametrize("args", [
    ["score", "--as-of", "2024-06-30"],
    ["explain", "--as-of", "2024-06-30"],
    ["explain", "A", "--as-of", "2024-06-30"],
    ["status"],
])
def test_terminal_reports_escape_stored_text(project: Path, args: list[str]) -> None:
    result = invoke(*args, "--config", str(project))
    assert result.exit_code in (0, 1), result.output      # status: 1, no good nightly run
    assert_terminal_safe(result.stdout)
    assert result.stderr == ""


def test_score_shows_the_escaped_url_on_one_line(project: Path) -> None:
    out = invoke("score", "--as-of", "2024-06-30", "--config", str(project)).stdout
    assert "Watch\\x1b[5m list — as of 2024-06-30" in out
    assert "· https://example.org/a\\x1b[31m?b=\\x9b2J\n" in out


def test_status_shows_a_run_error_escaped(project: Path) -> None:
    out = invoke("status", "--config", str(project)).stdout
    assert "growth: HTTP 500: Signed\\x1b]0;pwned\\x07 \\x1b[2J" in out


def test_history_escapes_stored_scenario_names(project: Path) -> None:
    with Store(project.parent / "tracker.db") as store:
        run = store.record_run("run", "ok", {}, now=utc("2024-06-08"))
        store.save_scores(run, pd.DataFrame({"A\x1b[2J": [0.6], "B": [0.4]}, index=pd.to_datetime(["2024-06-07"])))
    result = invoke("history", "--config", str(project))
    assert result.exit_code == 0, result.output
    assert_terminal_safe(result.stdout)


def test_observe_confirmation_escapes_the_url(project: Path) -> None:
    result = invoke("observe", "growth", "3", "--date", "2024-03-31", "--url", EVIL_URL, "--note", EVIL,
                    "--config", str(project))
    assert result.exit_code == 0, result.output
    assert_terminal_safe(result.stdout)


def test_ingest_table_escapes_what_a_server_said(project: Path) -> None:
    """The connectors quote a server only through sources/excerpt.py, which drops control
    characters too; the table escapes whatever else an error may hold."""
    with Sources(latency=0.0) as src:
        src.routes["/evil.csv"] = lambda h, q: (404, "text/plain", f"not here {EVIL}".encode())
        doc = yaml.safe_load((project.parent / "indicators" / "growth.yaml").read_text())
        doc["source"] = {"kind": "csv", "url": f"{src.url}/evil.csv"}
        (project.parent / "indicators" / "growth.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
        result = invoke("ingest", "growth", "--config", str(project))
    assert result.exit_code == 3, result.output
    assert "HTTP 404" in result.stdout and "not here Signed" in result.stdout
    assert CONTROL.findall(result.stdout) == [], result.stdout


# ---------------------------------------------------------------- the digest and alerts


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    """test_digest's site, with a pack name, an analyst note and URL that hold control characters."""
    monkeypatch.chdir(tmp_path)
    site = make_site(tmp_path)
    path = tmp_path / "indicators" / "scenarios.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["name"] = "Test\x1b[5m pack\x07"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    with site.store() as store:
        rows = [*store.latest("growth").to_dict("records"),
                {"date": pd.Timestamp("2025-05-31"), "value": 9.5, "published": pd.Timestamp("2025-06-01"),
                 "source_url": EVIL_URL, "note": EVIL}]
        store.write_vintage("growth", pd.DataFrame(rows), fetched_at=utc("2025-06-01", 9), origin="observe")
        run = store.begin_run("run", now=utc("2025-06-01", 4))
        store.record_sources(run, [{"indicator": "flows", "status": "failed", "error": f"HTTP 503 {EVIL}"}])
        store.finish_run(run, "partial", now=utc("2025-06-01", 5))
    return site


def assert_stripped(text: str) -> None:
    assert CONTROL.findall(text) == [], text
    assert "\x1b" not in text and "[2J" in text    # the character goes, the printable rest stays


def test_digest_mail_has_no_control_characters(site: Site) -> None:
    with smtp_server() as (inbox, port):
        site.set_digest({"port": port}, subject="{pack}: {headline}")
        result = site.run("digest", "--send", "--week", WEEK.isoformat())
    assert result.exit_code == 0, result.output
    msg = inbox.parsed()
    subject = str(msg["Subject"])
    assert CONTROL.findall(subject) == [] and subject.strip().startswith("Test[5m pack: B (Scenario B) leads")
    # the wire's line ends are CRLF (SMTP), whatever the content's were
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert_stripped(text)
    assert_stripped(html)
    assert "Signed]0;pwned [2J[1A31m done" in text and "Signed]0;pwned [2J[1A31m done" in html


def test_digest_preview_and_printed_text_have_no_control_characters(site: Site, tmp_path: Path) -> None:
    result = site.run("digest", "--out", str(tmp_path / "out"), "--week", WEEK.isoformat())
    assert result.exit_code == 0, result.output
    assert_stripped((tmp_path / "out" / f"digest-{WEEK}.html").read_text())
    printed = site.run("digest", "--week", WEEK.isoformat())
    assert printed.exit_code == 0, printed.output
    assert_stripped(printed.stdout)


def test_alert_mail_has_no_control_characters() -> None:
    msg = mail.build_message(sender="t@example.org", to=["a@example.org"], subject=f"alert: {EVIL}",
                             text=f"line one {EVIL}\nline two", html=f"<p>{EVIL}</p>",
                             date=dt.datetime(2025, 6, 2, tzinfo=dt.UTC))
    parsed = email.message_from_bytes(bytes(msg), policy=email.policy.default)
    assert CONTROL.findall(str(parsed["Subject"])) == []
    assert_stripped(parsed.get_body(("plain",)).get_content())
    assert_stripped(parsed.get_body(("html",)).get_content())
