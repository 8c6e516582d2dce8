"""Security: secrets never leave the environment, what sources write is escaped, no code is
evaluated, TLS cannot be switched off, `file` paths stay in their folders, and the store and
the log are owner-only.

(a) A known SMTP password and two API keys in the environment; loopback sources that echo the
    key back (in an error body, in a 200 answer that is not JSON, in an HTML page) and one that
    answers 500; a nightly run whose alert and a digest whose send meet an SMTP relay that
    rejects the login and echoes the password in its reply. Then stdout, stderr, the log
    file, any crash log, every TEXT value of every table and the raw store files are searched
    for each secret (and the base64 forms an SMTP AUTH exchange carries).
(b) A `<script>` in an observation note is escaped in the digest HTML.
(c) No eval/exec/unsafe YAML: ruff's bandit rules (S) and an AST scan of tracker/.
(d) TLS verification cannot be turned off: no such setting exists, an unknown key is refused,
    an untrusted certificate fails, `security: none` is refused for a remote relay.
(e) A `file` path (relative with `..`, or absolute) cannot leave the project's folders and
    config.yaml's `data_dirs:` (tests/test_private_files.py has links, `~` and what errors quote).
(f) The store and the log are created owner-only (0o600) whatever the umask.
"""

from __future__ import annotations

import ast
import base64
import datetime as dt
import http.server
import inspect
import json
import os
import re
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml
from aiosmtpd.smtp import AuthResult, LoginPassword
from packbuilder import checked_indicator
from reliability_helpers import (
    CLI,
    Sources,
    cli_env,
    csv_body,
    indicator,
    text_columns,
    tracker,
    write_project,
)
from smtpserver import Inbox, smtp_server

from tracker import service
from tracker.errors import ProblemsError
from tracker.pack.config_schema import Http, Smtp, load_config
from tracker.sources import FetchContext, SourceError, fetcher
from tracker.sources.http import HttpClient

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "S3cr3t-XYZ-pw"
USER = "digest-bot"
COMTRADE_KEY = "CTkey-7f3a9c1e"
IMF_KEY = "IMFkey-52b8d0aa"
SECRETS = [PASSWORD, COMTRADE_KEY, IMF_KEY]
FORMS = SECRETS + [base64.b64encode(s.encode()).decode() for s in
                   (PASSWORD, f"\0{USER}\0{PASSWORD}", f"{USER}\0{PASSWORD}")]
"""The secrets and the base64 forms in which AUTH PLAIN / LOGIN send the password."""
ENV = {"TRACKER_SMTP_USER": USER, "TRACKER_SMTP_PASSWORD": PASSWORD,
       "TRACKER_COMTRADE_KEY": COMTRADE_KEY, "TRACKER_IMF_KEY": IMF_KEY}


# ---------------------------------------------------------------- a relay that refuses the login


class Refuse:
    """aiosmtpd authenticator: refuses everyone and, carelessly, says the password back."""

    def __init__(self) -> None:
        self.tries: list[str] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.tries.append(data.password.decode())
        return AuthResult(success=False, handled=False,
                          message=f"535 5.7.8 bad credentials {data.login.decode()}/{data.password.decode()}")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def relay(ca: trustme.CA, tmp_path: Path) -> Iterator[tuple[int, str, Refuse, Inbox]]:
    """STARTTLS relay on 127.0.0.1 with a private CA (its file given as ca_file), AUTH refused."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    refuse = Refuse()
    with smtp_server(tls_context=server_ctx, require_starttls=True, authenticator=refuse,
                     auth_require_tls=True, auth_required=True) as (inbox, port):
        yield port, str(ca_file), refuse, inbox


# ---------------------------------------------------------------- (a) secrets


def echo_key(header: str, status: int, ctype: str, wrap: str) -> Any:
    """A route answering `status` with a body that repeats the request's key header."""
    def route(handler: Any, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        return status, ctype, wrap.format(key=handler.headers.get(header, "(none)")).encode()
    return route


def test_secrets_never_reach_output_logs_or_the_store(tmp_path, relay):
    port, ca_file, refuse, sink = relay
    key_header = "Ocp-Apim-Subscription-Key"
    state = {"value": 100}
    with Sources(latency=0.0) as src:
        src.routes["/comtrade/data/v1/get/C/A/HS"] = echo_key(key_header, 401, "application/json",
                                                              '{{"error": "invalid subscription key {key}"}}')
        src.routes["/imf-html/data/dataflow/IMF.STA/IMTS/1.0.0/A.B"] = echo_key(
            key_header, 200, "text/html", "<html><body>Access denied for key {key}</body></html>")
        src.routes["/imf-json/data/dataflow/IMF.STA/IMTS/1.0.0/A.B"] = echo_key(
            key_header, 200, "application/json", '{{"key": "{key}", oops')
        src.routes["/fail.csv"] = lambda h, q: (500, "text/plain", b"internal error, please retry")
        src.routes["/mover.csv"] = lambda h, q: (200, "text/csv",
                                                 f"date,value\n2024-01-31,{state['value']}\n".encode())
        inds = [
            indicator("trade", {"kind": "comtrade", "reporter": 156, "partner": 643, "flow": "X",
                                "preview": False, "api_key": "comtrade", "periods": [2023],
                                "url": f"{src.url}/comtrade"}),
            indicator("imf-html", {"kind": "imf", "key": "A.B", "api_key": "imf",
                                   "url": f"{src.url}/imf-html"}),
            indicator("imf-json", {"kind": "imf", "key": "A.B", "api_key": "imf",
                                   "url": f"{src.url}/imf-json"}),
            indicator("failing", {"kind": "csv", "url": f"{src.url}/fail.csv"}),
            indicator("mover", {"kind": "csv", "url": f"{src.url}/mover.csv"}),
            indicator("steady", {"kind": "csv", "url": f"{src.url}/s1.csv"}),
        ]
        cfg = write_project(
            tmp_path, inds, keys={"comtrade": "TRACKER_COMTRADE_KEY", "imf": "TRACKER_IMF_KEY"},
            http={"retries": 1, "timeout": 5, "deadline": 20},
            digest={"from": "tracker@example.org", "to": ["analysts@example.org"],
                    "smtp": {"host": "127.0.0.1", "port": port, "security": "starttls", "ca_file": ca_file,
                             "timeout": 10, "username_env": "TRACKER_SMTP_USER",
                             "password_env": "TRACKER_SMTP_PASSWORD"}})
        env = cli_env(**ENV)
        outs = [tracker("ingest", "--config", str(cfg), cwd=tmp_path, env=env)]
        outs.append(tracker("run", "--config", str(cfg), cwd=tmp_path, env=env))
        state["value"] = 150  # low → high: the next run alerts, and the relay refuses the login
        outs.append(tracker("run", "--config", str(cfg), cwd=tmp_path, env=env))
        outs.append(tracker("digest", "--send", "--config", str(cfg), cwd=tmp_path, env=env))
        outs.append(tracker("status", "--config", str(cfg), cwd=tmp_path, env=env))
        outs.append(tracker("status", "--json", "--config", str(cfg), cwd=tmp_path, env=env))

    ingest, run1, run2, send, status, status_json = outs
    # the attempts really happened, and failed for the reasons staged
    assert ingest.returncode == 3 and run1.returncode == 3 and run2.returncode == 3, ingest.stderr
    assert "HTTP 401" in ingest.stdout and "HTTP 500" in ingest.stdout
    assert "expected json from" in ingest.stdout and "malformed JSON from" in ingest.stdout
    assert send.returncode == 1 and "SMTP login to 127.0.0.1" in send.stderr
    # the alert, then the digest (smtplib tries each mechanism the relay offers)
    assert len(refuse.tries) >= 2 and set(refuse.tries) == {PASSWORD} and sink.messages == []
    detail = json.loads(status_json.stdout)["last_run"]
    assert detail["kind"] == "run" and "SMTP login" in detail["alert_error"]

    places: dict[str, str] = {}
    for n, out in enumerate(outs):
        places[f"{' '.join(out.args[3:5])} #{n} stdout"] = out.stdout
        places[f"{' '.join(out.args[3:5])} #{n} stderr"] = out.stderr
    for name in ("tracker.log", "tracker-crash.log"):
        if (tmp_path / name).exists():
            places[name] = (tmp_path / name).read_text(errors="replace")
    assert (tmp_path / "tracker.log").exists() and not (tmp_path / "tracker-crash.log").exists()
    for table, column, value in text_columns(tmp_path / "tracker.db"):
        places[f"store {table}.{column}"] = places.get(f"store {table}.{column}", "") + "\n" + value
    for path in tmp_path.glob("tracker.db*"):
        places[f"file {path.name}"] = path.read_bytes().decode("latin-1")
    leaks = [(where, form) for where, text in places.items() for form in FORMS if form in text]
    assert leaks == [], leaks
    assert "***" in ingest.stdout  # the echoed keys were there, masked
    print(f"\nsecurity: 3 secrets (+{len(FORMS) - 3} encoded forms) searched in {len(places)} places "
          f"(stdout, stderr, log, store tables and files) after ingest, 2 runs, an alert, a digest send "
          f"and status: 0 found")


# ---------------------------------------------------------------- (b) the digest escapes notes


def test_digest_html_escapes_what_analysts_and_sources_wrote(tmp_path):
    seeds = {"deal": [{"date": "2024-01-31", "value": 100.0, "note": "<img src=x onerror=alert(1)>"}]}
    cfg = write_project(tmp_path, [indicator("deal", {"kind": "manual"})], seeds)
    # A seed's source must be an http(s) address (tracker validate, issue 17); a stored row's may
    # be anything a source said, so the hostile one goes into the store directly.
    with service.load(str(cfg)).store() as store:
        rows = store.latest("deal")
        rows["source_url"] = "javascript:alert(1)"
        store.write_vintage("deal", rows, fetched_at=dt.datetime(2024, 2, 1, tzinfo=dt.UTC), origin="ingest")
    note = "Signed <script>alert('x')</script> & more"
    today = dt.date.today()
    recorded = tracker("observe", "deal", "150", "--date", today.isoformat(),
                       "--url", "https://example.org/a?b=1&c=\"2\"", "--note", note, "--config", str(cfg),
                       cwd=tmp_path)
    assert recorded.returncode == 0, recorded.stderr
    out = tracker("digest", "--out", str(tmp_path / "preview"), "--config", str(cfg), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (html_path,) = (tmp_path / "preview").glob("*.html")
    html = html_path.read_text()
    assert "Signed &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in html
    assert "<script" not in html.lower()
    assert "<img src=x" not in html and 'href="javascript' not in html.lower()
    assert 'href="https://example.org/a?b=1&amp;c=&#34;2&#34;"' in html


# ---------------------------------------------------------------- (c) no code is evaluated


def test_ruff_security_rules_pass_on_tracker():
    ruff = Path(sys.executable).with_name("ruff")
    command = [str(ruff)] if ruff.exists() else [sys.executable, "-m", "ruff"]
    out = subprocess.run([*command, "check", "--select", "S", "tracker"], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


UNSAFE_CALLS = {"eval", "exec", "compile", "__import__", "execfile"}
UNSAFE_ATTRS = {("yaml", "load"), ("yaml", "unsafe_load"), ("yaml", "full_load"), ("yaml", "load_all"),
                ("yaml", "unsafe_load_all"), ("pickle", "load"), ("pickle", "loads"), ("marshal", "loads"),
                ("os", "system"), ("os", "popen"), ("shelve", "open")}
UNSAFE_NAMES = {"UnsafeLoader", "FullLoader", "Loader"}


def test_no_eval_exec_or_unsafe_yaml_in_tracker():
    files = sorted((ROOT / "tracker").rglob("*.py"))
    found = []
    for path in files:
        text = path.read_text()
        for rx in (r"\byaml\.load\(", r"(?<![.\w])eval\(", r"(?<![.\w])exec\("):
            found += [f"{path.name}: {m.group()}" for m in re.finditer(rx, text)]
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call):
                fn = node.func
                if isinstance(fn, ast.Name) and fn.id in UNSAFE_CALLS:
                    found.append(f"{path.name}:{node.lineno}: {fn.id}()")
                if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) \
                        and (fn.value.id, fn.attr) in UNSAFE_ATTRS:
                    found.append(f"{path.name}:{node.lineno}: {fn.value.id}.{fn.attr}()")
                if any(k.arg == "shell" and isinstance(k.value, ast.Constant) and k.value.value
                       for k in node.keywords):
                    found.append(f"{path.name}:{node.lineno}: shell=True")
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == "yaml" and node.attr in UNSAFE_NAMES:
                found.append(f"{path.name}:{node.lineno}: yaml.{node.attr}")
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names]
                module = getattr(node, "module", None) or ""
                if {"pickle", "marshal", "shelve"} & {*names, module}:
                    found.append(f"{path.name}:{node.lineno}: import {module or names}")
    assert len(files) > 20 and found == []


# ---------------------------------------------------------------- (d) TLS cannot be switched off


VERIFY_WORDS = re.compile(r"verif|insecure|tls|ssl|cert|check_host", re.I)


def test_no_setting_turns_tls_verification_off(tmp_path):
    assert [f for f in Http.model_fields if VERIFY_WORDS.search(f)] == []
    # Smtp has ca_file (trust one more CA, never less) and security: starttls | ssl | none,
    # where none is only for a relay on localhost (below)
    assert [f for f in Smtp.model_fields if VERIFY_WORDS.search(f)] == []
    assert [p for p in inspect.signature(HttpClient).parameters if VERIFY_WORDS.search(p)] == []
    for section, key in (("http", "verify"), ("http", "insecure"), ("smtp", "verify"),
                         ("smtp", "tls_verify")):
        cfg = write_project(tmp_path / f"{section}-{key}", [indicator("one", {"kind": "manual"})])
        doc = yaml.safe_load(cfg.read_text())
        smtp = {"host": "smtp.example.org"} | ({key: False} if section == "smtp" else {})
        doc["digest"] = {"from": "a@example.org", "to": ["b@example.org"], "smtp": smtp}
        if section == "http":
            doc["http"][key] = False
        cfg.write_text(yaml.safe_dump(doc))
        with pytest.raises(ProblemsError) as err:
            load_config(cfg)
        assert key in str(err.value) and "unknown" in str(err.value).lower(), str(err.value)
    client = HttpClient()
    try:
        assert client.session.verify is True
    finally:
        client.close()


@pytest.fixture
def https_server(ca: trustme.CA) -> Iterator[str]:
    """HTTPS on 127.0.0.1 with a certificate from a CA nobody trusts."""
    class Quiet(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = csv_body(1, 0)
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # the client hanging up on our certificate is the point

    server = Server(("127.0.0.1", 0), Quiet)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("env", [{}, {"CURL_CA_BUNDLE": ""}, {"REQUESTS_CA_BUNDLE": ""},
                                 {"PYTHONHTTPSVERIFY": "0"}])
def test_an_untrusted_certificate_fails_whatever_the_environment(https_server, monkeypatch, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    doc = indicator("tls", {"kind": "csv", "url": f"{https_server}/s1.csv"})
    source = checked_indicator(doc).source
    with HttpClient(retries=0, timeout=(5, 5), deadline=10) as client:
        with pytest.raises(SourceError) as err:
            fetcher("csv").fetch(source, FetchContext(http=client, base_dirs=[]))
    said = str(err.value)
    assert "TLS failed" in said and "CERTIFICATE_VERIFY_FAILED" in said.upper(), said


def test_security_none_is_refused_for_a_remote_relay(tmp_path):
    cfg = write_project(tmp_path, [indicator("one", {"kind": "manual"})],
                        digest={"from": "a@example.org", "to": ["b@example.org"],
                                "smtp": {"host": "smtp.example.org", "port": 25, "security": "none"}})
    out = tracker("digest", "--send", "--config", str(cfg), cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith("Error: digest.smtp.security: none sends mail in clear text; it is "
                                 "allowed only for a relay on localhost, not smtp.example.org.")


# ---------------------------------------------------------------- (e) file paths stay in their folders


def test_file_paths_cannot_leave_the_project_or_data_dirs(tmp_path):
    outside = tmp_path / "elsewhere" / "table.csv"
    outside.parent.mkdir()
    outside.write_bytes(csv_body(3, 0))
    project = tmp_path / "project"
    depth = len(project.resolve().parts)
    escapes = {"passwd": "../" * depth + "etc/passwd", "sibling": "../elsewhere/table.csv",
               "sneaky": "indicators/../../elsewhere/table.csv", "dotdot": "./sub/../../../etc/hostname"}
    inds = [indicator(name, {"kind": "file", "path": path}) for name, path in escapes.items()]
    inds.append(indicator("absolute", {"kind": "file", "path": str(outside)}))
    inds.append(indicator("inside", {"kind": "file", "path": "data/table.csv"}))
    cfg = write_project(project, inds)
    (project / "data").mkdir()
    (project / "data" / "table.csv").write_bytes(csv_body(4, 0))
    out = tracker("ingest", "--json", "--config", str(cfg), cwd=project)
    assert out.returncode == 3, out.stderr
    results = {r["indicator"]: r for r in json.loads(out.stdout)["results"]}
    folders = {"passwd": Path("/etc"), "sibling": outside.parent, "sneaky": outside.parent,
               "dotdot": tmp_path.parent / "etc", "absolute": outside.parent}
    for name, path in {**escapes, "absolute": str(outside)}.items():
        assert results[name]["status"] == "failed"
        assert results[name]["error"] == (
            f"file {path}: outside the project folder and data_dirs, so it was not read; to allow it, add "
            f"{folders[name].resolve()} to data_dirs: in config.yaml")
    assert results["inside"]["status"] == "new" and results["inside"]["rows"] == 24
    assert "root:" not in out.stdout + out.stderr


# ---------------------------------------------------------------- (f) owner-only files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_store_log_and_lock_are_owner_only_whatever_the_umask(tmp_path):
    with Sources(latency=0.0) as src:
        cfg = write_project(tmp_path, [indicator("one", {"kind": "csv", "url": f"{src.url}/s1.csv"})])
        wide_open = {"preexec_fn": lambda: os.umask(0)}
        score = subprocess.run([*CLI, "score", "--config", str(cfg)], cwd=tmp_path, env=cli_env(),
                               capture_output=True, text=True, check=False, **wide_open)
        assert score.returncode == 0, score.stderr
        modes = {p.name: _mode(p) for p in tmp_path.glob("tracker.db*")}
        assert modes["tracker.db"] == 0o600 and set(modes.values()) == {0o600}, modes
        run = subprocess.run([*CLI, "run", "--config", str(cfg)], cwd=tmp_path, env=cli_env(),
                             capture_output=True, text=True, check=False, **wide_open)
        assert run.returncode == 0, run.stderr
    files = {p.name: _mode(p) for p in tmp_path.iterdir() if p.name.startswith("tracker")}
    assert {"tracker.db", "tracker.log", "tracker.db.lock"} <= set(files), files
    assert {name: mode for name, mode in files.items() if mode != 0o600} == {}
