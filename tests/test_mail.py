"""Sending, against real SMTP servers on loopback (aiosmtpd; PITFALLS §2.6.7): the MIME tree as
it arrives, STARTTLS with a verified certificate, implicit TLS, AUTH only over TLS, exactly-once
sending, and errors that are clear and never carry the password."""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import AuthResult, LoginPassword
from smtpserver import free_port, smtp_server
from test_digest import SCRIPT_NOTE, WEEK, Site, make_site, score_json, table_probabilities

from tracker.errors import InputError, TrackerError
from tracker.pack.config_schema import Smtp, load_config
from tracker.views import mail

USER, PASSWORD = "digest-bot", "s3cret-Pa55word!"
W = "2025-06-02"


class Auth:
    """Accepts `user` / `password` (USER / PASSWORD unless given), sent as UTF-8; a failure reply
    that echoes the password checks redaction."""

    def __init__(self, user: str = USER, password: str = PASSWORD) -> None:
        self.logins: list[str] = []
        self.mechanisms: list[str] = []
        self.user, self.password = user, password

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append(data.login.decode())
        self.mechanisms.append(mechanism)
        if (data.login.decode(), data.password.decode()) == (self.user, self.password):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False,
                          message=f"535 5.7.8 no such user/password: {data.password.decode()}")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    """A private CA (trustme) and a server context for 127.0.0.1 / localhost; the CA's file."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return server, str(path)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRACKER_TEST_USER", USER)
    monkeypatch.setenv("TRACKER_TEST_PASSWORD", PASSWORD)
    return make_site(tmp_path)


def send(site: Site, *extra: str) -> Any:
    return site.run("digest", "--send", "--week", W, *extra)


def sends(site: Site) -> list[dict[str, Any]]:
    with site.store() as store:
        return store.sends()


def assert_digest_tree(msg: EmailMessage) -> str:
    """multipart/mixed[multipart/alternative[text/plain, multipart/related[text/html, image/png]],
    text/csv]; every cid: in the HTML has its part; the CSV lists every indicator. Returns the HTML."""
    assert msg.get_content_type() == "multipart/mixed"
    body, table = msg.get_payload()
    assert table.get_content_type() == "text/csv" and table.get_filename().endswith("-indicators.csv")
    assert table.get_content().startswith("indicator,name,group,state,state_week_before,")
    assert body.get_content_type() == "multipart/alternative"
    plain, related = body.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    parts = related.get_payload()
    assert [p.get_content_type() for p in parts] == ["text/html", "image/png"]
    html = parts[0].get_content()
    cids = re.findall(r'src="cid:([^"]+)"', html)
    assert cids
    assert set(cids) <= {p["Content-ID"][1:-1] for p in parts[1:]}
    assert parts[1].get_content().startswith(b"\x89PNG")
    return html


# ---------------------------------------------------------------------------- the digest arrives


def test_digest_arrives_whole_on_a_local_relay(site: Site) -> None:
    with smtp_server() as (inbox, port):
        site.set_digest({"port": port})
        result = send(site)
    assert result.exit_code == 0, result.output
    assert len(inbox.messages) == 1
    sender, rcpts, raw = inbox.messages[0]
    assert (sender, rcpts) == ("tracker@example.org", ["analysts@example.org", "chief@example.org"])
    assert raw.isascii() and max(map(len, raw.split(b"\r\n"))) <= 998     # 7-bit, SMTP line limit
    assert len(raw) < 100_000
    msg = inbox.parsed()
    html = assert_digest_tree(msg)
    assert msg["Subject"] == "tracker digest: Test <pack> & co — week of 2025-06-02"
    assert msg["To"] == "analysts@example.org, chief@example.org"
    assert msg["Message-ID"].endswith("@tracker.local>")
    assert msg["Auto-Submitted"] == "auto-generated"
    assert "&lt;script&gt;" in html and "<script" not in html
    text = msg.get_body(("plain",)).get_content()
    assert SCRIPT_NOTE in text
    doc = score_json(site, WEEK)
    assert table_probabilities(text) == {s["id"]: f"{s['probability']:.2f}" for s in doc["scenarios"]}
    [row] = sends(site)
    assert (row["week"], row["status"], row["message_id"]) == (W, "sent", msg["Message-ID"])
    assert result.output == (f"Sent the digest for week {W} to analysts@example.org, chief@example.org "
                             f"({msg['Message-ID']}).\n")


def test_any_day_of_the_week_is_that_weeks_digest(site: Site) -> None:
    with smtp_server() as (inbox, port):
        site.set_digest({"port": port})
        assert send(site).exit_code == 0
        again = site.run("digest", "--send", "--week", "2025-06-05")
    assert again.exit_code == 1
    assert f"Error: digest for week {W} was already sent at" in again.output
    assert len(inbox.messages) == 1


# ---------------------------------------------------------------------------- exactly once


def test_a_sent_week_is_refused_and_force_sends_again(site: Site) -> None:
    with smtp_server() as (inbox, port):
        site.set_digest({"port": port})
        assert send(site).exit_code == 0
        sent_at = sends(site)[0]["sent_at"]
        second = send(site)
        assert second.exit_code == 1
        assert second.output == (f"Error: digest for week {W} was already sent at {sent_at} "
                                 "(use --force to send again)\n")
        assert len(inbox.messages) == 1
        forced = send(site, "--force")
        assert forced.exit_code == 0, forced.output
    assert len(inbox.messages) == 2
    first_id, second_id = (inbox.parsed(n)["Message-ID"] for n in (0, 1))
    assert first_id != second_id and sends(site)[0]["message_id"] == second_id


def test_a_started_unconfirmed_send_is_reported_not_repeated(site: Site) -> None:
    with site.store() as store:      # a crash between claiming the week and confirming it
        store.send_started(W, "<crashed@tracker.local>")
        started_at = store.send_state(W)["started_at"]
    with smtp_server() as (inbox, port):
        site.set_digest({"port": port})
        result = send(site)
        assert result.exit_code == 1
        assert result.output == (f"Error: a send for week {W} was started at {started_at} but never "
                                 "confirmed: check the inbox; use --force to send again\n")
        assert inbox.messages == []
        assert send(site, "--force").exit_code == 0
    assert len(inbox.messages) == 1 and sends(site)[0]["status"] == "sent"


def test_a_failed_send_is_recorded_and_retried_without_force(site: Site) -> None:
    site.set_digest({"port": free_port()})            # nobody listens there
    result = send(site)
    assert result.exit_code == 1
    assert re.search(r"Error: cannot connect to SMTP server 127\.0\.0\.1:\d+ \(Connection refused\)",
                     result.output)
    with site.store() as store:
        state = store.send_state(W)
    assert state["status"] == "failed" and "Connection refused" in state["detail"]
    with smtp_server() as (inbox, port):
        site.set_digest({"port": port})
        retry = send(site)
    assert retry.exit_code == 0, retry.output
    assert len(inbox.messages) == 1 and sends(site)[0]["status"] == "sent"


def test_a_connection_lost_during_data_is_unconfirmed(site: Site) -> None:
    with hangup_server() as port:
        site.set_digest({"port": port})
        result = send(site)
    assert result.exit_code == 1
    assert "closed the connection during data" in result.output
    assert "may or may not have arrived: check the inbox; use --force to send again" in result.output
    with site.store() as store:
        assert store.send_state(W)["status"] == "unconfirmed"
    again = send(site)
    assert again.exit_code == 1
    assert f"Error: a send for week {W} at " in again.output
    assert "broke off while the message was in flight" in again.output


@contextmanager
def hangup_server() -> Iterator[int]:
    """A raw SMTP server that takes the whole message and hangs up instead of answering DATA."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 hangup ESMTP\r\n")
            for line in lines:
                verb = line[:4].upper()
                if verb == b"EHLO":
                    conn.sendall(b"250-hangup\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    for body in lines:
                        if body == b".\r\n":
                            return
                else:
                    conn.sendall(b"250 ok\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        thread.join(10)
        listener.close()


# ---------------------------------------------------------------------------- TLS and AUTH


def test_starttls_with_a_verified_certificate_and_auth(site: Site, tls: tuple[ssl.SSLContext, str]) -> None:
    server_ctx, ca_file = tls
    auth = Auth()
    with smtp_server(tls_context=server_ctx, require_starttls=True, authenticator=auth,
                     auth_require_tls=True, auth_required=True) as (inbox, port):
        site.set_digest({"port": port, "security": "starttls", "ca_file": ca_file,
                         "username_env": "TRACKER_TEST_USER", "password_env": "TRACKER_TEST_PASSWORD"})
        result = send(site)
    assert result.exit_code == 0, result.output
    assert auth.logins == [USER]
    assert_digest_tree(inbox.parsed())


def test_implicit_tls(site: Site, tls: tuple[ssl.SSLContext, str]) -> None:
    server_ctx, ca_file = tls
    with smtp_server(ssl_context=server_ctx) as (inbox, port):
        site.set_digest({"port": port, "security": "ssl", "ca_file": ca_file})
        result = send(site)
    assert result.exit_code == 0, result.output
    assert_digest_tree(inbox.parsed())


def test_an_unknown_certificate_is_refused(site: Site, tls: tuple[ssl.SSLContext, str]) -> None:
    server_ctx, _ = tls
    with smtp_server(tls_context=server_ctx, require_starttls=True, authenticator=Auth(),
                     auth_require_tls=True) as (inbox, port):
        site.set_digest({"port": port, "security": "starttls",     # no ca_file: the system CAs only
                         "username_env": "TRACKER_TEST_USER", "password_env": "TRACKER_TEST_PASSWORD"})
        result = send(site)
    assert result.exit_code == 1
    assert (f"Error: the TLS certificate of 127.0.0.1:{port} could not be verified (unable to get local "
            "issuer certificate); if the relay uses a private CA, set digest.smtp.ca_file") in result.output
    assert PASSWORD not in result.output and inbox.messages == []
    assert sends(site)[0]["status"] == "failed"


def test_a_wrong_password_is_a_clear_error_without_the_password(site: Site, tls: tuple[ssl.SSLContext, str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    server_ctx, ca_file = tls
    wrong = "not-the-Pa55word"
    monkeypatch.setenv("TRACKER_TEST_PASSWORD", wrong)
    with smtp_server(tls_context=server_ctx, require_starttls=True, authenticator=Auth(),
                     auth_require_tls=True, auth_required=True) as (inbox, port):
        site.set_digest({"port": port, "security": "starttls", "ca_file": ca_file,
                         "username_env": "TRACKER_TEST_USER", "password_env": "TRACKER_TEST_PASSWORD"})
        result = send(site)
    assert result.exit_code == 1
    assert result.output == (f"Error: SMTP login to 127.0.0.1:{port} as {USER} failed (535 5.7.8 no such "
                             "user/password: ***); check the user name and password environment variables\n")
    assert wrong not in result.output and inbox.messages == []
    with site.store() as store:
        state = store.send_state(W)
    assert state["status"] == "failed" and wrong not in state["detail"]


NON_ASCII_USER, NON_ASCII_PASSWORD = "bot-Jürgen", "pässwörd-€-密码"
SECRET_CHARS = {c for c in NON_ASCII_PASSWORD if not c.isascii()} - set(NON_ASCII_USER)
"""The password's non-ASCII characters that the user name (shown in errors) does not hold: an
error quoting smtplib's UnicodeEncodeError would show one of them."""


def _auth_server(tls: tuple[ssl.SSLContext, str], auth: Auth, mechanism: str = "PLAIN") -> Any:
    """STARTTLS, AUTH required, and only `mechanism` offered (aiosmtpd offers PLAIN and LOGIN)."""
    return smtp_server(tls_context=tls[0], require_starttls=True, authenticator=auth, auth_require_tls=True,
                       auth_required=True, auth_exclude_mechanism=[m for m in ("PLAIN", "LOGIN") if m != mechanism])


def _use_credentials(site: Site, monkeypatch: pytest.MonkeyPatch, port: int, ca_file: str, user: str,
                     password: str) -> None:
    monkeypatch.setenv("TRACKER_TEST_USER", user)
    monkeypatch.setenv("TRACKER_TEST_PASSWORD", password)
    site.set_digest({"port": port, "security": "starttls", "ca_file": ca_file,
                     "username_env": "TRACKER_TEST_USER", "password_env": "TRACKER_TEST_PASSWORD"})


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_a_non_ascii_user_and_password_log_in_as_utf8(site: Site, tls: tuple[ssl.SSLContext, str],
                                                      monkeypatch: pytest.MonkeyPatch, mechanism: str) -> None:
    """smtplib sends AUTH as ASCII (python/cpython#73936): RFC 4616 says UTF-8, and so do we."""
    auth = Auth(NON_ASCII_USER, NON_ASCII_PASSWORD)
    with _auth_server(tls, auth, mechanism) as (inbox, port):
        _use_credentials(site, monkeypatch, port, tls[1], NON_ASCII_USER, NON_ASCII_PASSWORD)
        result = send(site)
    assert result.exit_code == 0, result.output
    assert (auth.logins, auth.mechanisms) == ([NON_ASCII_USER], [mechanism])
    assert_digest_tree(inbox.parsed())
    assert sends(site)[0]["status"] == "sent"


def test_a_wrong_non_ascii_password_is_one_line_and_never_shown(site: Site, tls: tuple[ssl.SSLContext, str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "wröng-€-密码"
    with _auth_server(tls, Auth(NON_ASCII_USER, NON_ASCII_PASSWORD)) as (inbox, port):
        _use_credentials(site, monkeypatch, port, tls[1], NON_ASCII_USER, wrong)
        result = send(site)
    assert result.exit_code == 1
    assert result.output == (f"Error: SMTP login to 127.0.0.1:{port} as {NON_ASCII_USER} failed (535 5.7.8 no such "
                             "user/password: ***); check the user name and password environment variables\n")
    assert inbox.messages == [] and not Path("tracker-crash.log").exists()
    state = sends(site)[0]
    assert state["status"] == "failed"                 # never left "started": nothing was sent
    with site.store() as store:
        detail = store.send_state(W)["detail"]
    shown = result.output + detail
    secret_chars = {c for c in wrong if not c.isascii()} - set(NON_ASCII_USER)
    assert wrong not in shown and secret_chars & set(shown) == set()


def test_an_alert_with_a_non_ascii_password_fails_cleanly(site: Site, tls: tuple[ssl.SSLContext, str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The nightly run records an alert's error in the store and the log: it must hold no secret."""
    with _auth_server(tls, Auth(NON_ASCII_USER, "something else")) as (inbox, port):
        _use_credentials(site, monkeypatch, port, tls[1], NON_ASCII_USER, NON_ASCII_PASSWORD)
        with pytest.raises(mail.SendFailed) as caught:
            mail.send_alert(load_config(site.config), "tracker alert", "text")
    assert str(caught.value).startswith(f"SMTP login to 127.0.0.1:{port} as {NON_ASCII_USER} failed (535")
    assert NON_ASCII_PASSWORD not in str(caught.value) and SECRET_CHARS & set(str(caught.value)) == set()
    assert inbox.messages == []


def test_a_password_that_is_not_utf8_is_sent_as_the_bytes_given(site: Site, tls: tuple[ssl.SSLContext, str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A Latin-1 byte in the environment (os.environ holds it as a surrogate) goes out unchanged."""
    password = b"caf\xe9-pw".decode("utf-8", "surrogateescape")
    received: list[bytes] = []

    def auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        received.append(data.password)
        return AuthResult(success=data.password == b"caf\xe9-pw")

    with smtp_server(tls_context=tls[0], require_starttls=True, authenticator=auth, auth_require_tls=True,
                     auth_required=True) as (inbox, port):
        _use_credentials(site, monkeypatch, port, tls[1], USER, password)
        result = send(site)
    assert result.exit_code == 0, result.output
    assert received == [b"caf\xe9-pw"] and len(inbox.messages) == 1


@pytest.mark.parametrize("args", [["--send", "--week", W], ["--out", "preview", "--week", W]])
def test_a_line_break_in_an_address_is_a_config_error(site: Site, args: list[str]) -> None:
    """It used to reach the From: header and crash (ValueError, a crash log); now the config check says where."""
    with smtp_server() as (inbox, port):
        site.set_digest({"port": port})
        site.config.write_text(site.config.read_text().replace(
            "from: tracker@example.org", 'from: "tracker@example.org\\r\\nBcc: spy@example.org"'))
        result = site.run("digest", *args)
    assert result.exit_code == 2, result.output
    [problem, count] = result.stderr.splitlines()
    assert re.fullmatch(r"config\.yaml:\d+:\d+: digest\.from: expected an e-mail address on one line, without "
                        r"control characters; got 'tracker@example\.org\\r\\nBcc: spy@example\.org'", problem)
    assert count == "1 problem(s) found."
    assert inbox.messages == [] and sends(site) == [] and not Path("tracker-crash.log").exists()


def test_starttls_missing_is_not_a_reason_to_send_in_clear(site: Site) -> None:
    with smtp_server() as (inbox, port):
        site.set_digest({"port": port, "security": "starttls"})
        result = send(site)
    assert result.exit_code == 1
    assert f"Error: SMTP server 127.0.0.1:{port} does not offer STARTTLS" in result.output
    assert inbox.messages == []


def test_security_none_is_refused_for_a_remote_host(site: Site) -> None:
    site.set_digest({"host": "smtp.example.org", "security": "none"})
    result = send(site)
    assert result.exit_code == 2
    assert result.output == ("Error: digest.smtp.security: none sends mail in clear text; it is allowed only "
                             "for a relay on localhost, not smtp.example.org. Use starttls (port 587) or "
                             "ssl (port 465).\n")
    assert sends(site) == []


def test_a_missing_secret_names_the_variable_and_claims_nothing(site: Site,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACKER_TEST_PASSWORD")
    site.set_digest({"security": "starttls", "username_env": "TRACKER_TEST_USER",
                     "password_env": "TRACKER_TEST_PASSWORD"})
    result = send(site)
    assert result.exit_code == 2
    assert result.output == ("Error: environment variable TRACKER_TEST_PASSWORD (digest.smtp.password_env) "
                             "is not set; the SMTP login needs it\n")
    assert sends(site) == []


@pytest.mark.parametrize(("smtp", "message"), [
    ({"host": "::1", "security": "none", "username_env": "U"}, "credentials are sent only over TLS"),
    ({"host": "mail.example.org", "username_env": "U"}, "set both username_env and password_env, or neither"),
    ({"host": "localhost", "security": "none"}, None),
    ({"host": "[::1]", "security": "none"}, None),
])
def test_check_security(smtp: dict[str, Any], message: str | None) -> None:
    cfg = Smtp(**smtp)
    if message is None:
        mail.check_security(cfg)
    else:
        with pytest.raises(InputError, match=message):
            mail.check_security(cfg)


def test_redaction_covers_the_auth_encodings() -> None:
    forms = mail._secret_forms((USER, PASSWORD))
    import base64

    plain = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    assert mail._redact(f"x {plain} y {PASSWORD}", forms) == "x *** y ***"


# ---------------------------------------------------------------------------- alerts


def test_send_alert_goes_to_the_alert_list(site: Site) -> None:
    with smtp_server() as (inbox, port):
        site.set_digest({"port": port}, alerts_to=["oncall@example.org"])
        cfg = load_config(site.config)
        mid = mail.send_alert(cfg, "tracker: signpost deal reached signed", "deal: talks -> signed")
        mail.send_alert(cfg, "html too", "text", html="<p>html</p>")
    (_, rcpts, _), _ = inbox.messages
    assert rcpts == ["oncall@example.org"]
    first, second = inbox.parsed(0), inbox.parsed(1)
    assert first["Message-ID"] == mid and first.get_content_type() == "text/plain"
    assert first["Subject"] == "tracker: signpost deal reached signed"
    assert [p.get_content_type() for p in second.get_payload()] == ["text/plain", "text/html"]


def test_send_alert_falls_back_to_the_digest_list_and_needs_a_digest_section(site: Site) -> None:
    with pytest.raises(TrackerError, match="config.yaml has no digest: section"):
        mail.send_alert(load_config(site.config), "s", "t")
    with smtp_server() as (inbox, port):
        site.set_digest({"port": port})
        mail.send_alert(load_config(site.config), "s", "t")
    assert inbox.messages[0][1] == ["analysts@example.org", "chief@example.org"]


def test_build_message_headers_cannot_be_injected() -> None:
    msg = mail.build_message(sender="a@example.org", to=["b@example.org"], subject="one\r\nBcc: x@evil.org",
                             text="t")
    assert msg["Subject"] == "one Bcc: x@evil.org" and msg["Bcc"] is None


def test_smtp_errors_are_tracker_errors() -> None:
    # the exceptions the boundary turns into `Error: …` (exit 1), never a traceback
    assert issubclass(mail.SendFailed, TrackerError) and issubclass(mail.DeliveryUnknown, TrackerError)
    assert not issubclass(smtplib.SMTPException, TrackerError)
