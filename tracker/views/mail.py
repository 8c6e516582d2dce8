"""E-mail: build the MIME message and hand it to an SMTP server, safely (PITFALLS §2.6).

* The tree is multipart/alternative[text/plain, multipart/related[text/html, image/png…]]:
  the last alternative is the preferred one (RFC 2046 §5.1.4), and the charts travel with
  the HTML that shows them by Content-ID (RFC 2387).
* The server's certificate is always verified: `starttls(context=…)` by keyword, since with
  no context smtplib encrypts without authenticating the server (§2.6.1), and a positional
  context bound to `keyfile` in older Pythons (certtools/intelmq#1152).
* Every connection has a timeout (§2.6.2); credentials come from environment variables at the
  moment of use, are sent only over TLS and never appear in a message (§2.6.6). They go out as
  UTF-8, which smtplib cannot do by itself (`_SMTP`).
* Control characters are dropped from the subject and both bodies (they would reach mail
  clients and terminals as they are: HTML escaping leaves an ESC alone).
* A failure is either certain (nothing was handed over: `SendFailed`) or ambiguous (the
  connection broke while the message itself was in flight: `DeliveryUnknown`); the digest's
  exactly-once record treats the two differently (§2.6.5).
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid
from typing import Any

from tracker.config import Config, Smtp, secret
from tracker.errors import InputError, TrackerError
from tracker.text import strip_controls

DOMAIN = "tracker.local"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class SendFailed(TrackerError):
    """The server did not take the message: nothing was delivered, sending again is safe."""


class DeliveryUnknown(TrackerError):
    """The connection failed while the message was being handed over: it may have arrived."""


def new_id() -> str:
    """A Message-ID or Content-ID, with its angle brackets: `<…@tracker.local>`."""
    return make_msgid(domain=DOMAIN)


def cid_src(cid: str) -> str:
    """The `src=` that points an <img> at a related part (`cid:` without the brackets)."""
    return f"cid:{cid[1:-1]}"


def build_message(*, sender: str, to: Sequence[str], subject: str, text: str, html: str | None = None,
                  images: Mapping[str, bytes] | None = None, message_id: str | None = None,
                  date: dt.datetime | None = None, attachments: Mapping[str, bytes] | None = None) -> EmailMessage:
    """text/plain, or multipart/alternative[text/plain, multipart/related[text/html, PNGs]],
    inside multipart/mixed with CSV files when there are `attachments` (file name -> bytes).

    `images` maps Content-IDs (from `new_id()`, with brackets) to PNG bytes; the HTML shows
    each with `src="{cid_src(cid)}"`."""
    msg = EmailMessage(policy=default_policy)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = " ".join(strip_controls(subject).split())   # no CR/LF (or ESC) may reach a header
    msg["Date"] = format_datetime(date or dt.datetime.now(dt.UTC))
    msg["Message-ID"] = message_id or new_id()
    msg["Auto-Submitted"] = "auto-generated"         # RFC 3834: no vacation replies to a robot
    # quoted-printable: 7-bit clean for any relay (no reliance on 8BITMIME) and no line over
    # the 998 octets SMTP allows (RFC 5322 §2.1.1), whatever a note's length.
    msg.set_content(strip_controls(text), cte="quoted-printable")
    if html is not None:
        msg.add_alternative(strip_controls(html), subtype="html", cte="quoted-printable")
        html_part = msg.get_payload()[1]
        for n, (cid, png) in enumerate((images or {}).items(), start=1):
            html_part.add_related(png, maintype="image", subtype="png", cid=cid, disposition="inline",
                                  filename="chart.png" if n == 1 else f"chart-{n}.png")
    for name, data in (attachments or {}).items():
        msg.add_attachment(data, maintype="text", subtype="csv", filename=name)
    return msg


def check_security(cfg: Smtp) -> None:
    """Refuse settings that would send mail or a password in clear text over a network."""
    if cfg.security == "none" and cfg.host.strip("[]").lower() not in LOCAL_HOSTS:
        raise InputError(
            f"digest.smtp.security: none sends mail in clear text; it is allowed only for a relay on "
            f"localhost, not {cfg.host}. Use starttls (port 587) or ssl (port 465).")
    if cfg.security == "none" and (cfg.username_env or cfg.password_env):
        raise InputError("digest.smtp: credentials are sent only over TLS; with security: none, "
                         "remove username_env and password_env (or use starttls or ssl)")
    if bool(cfg.username_env) != bool(cfg.password_env):
        raise InputError("digest.smtp: set both username_env and password_env, or neither")


def preflight(cfg: Smtp) -> None:
    """Everything that can be checked before connecting: security, credentials, CA file."""
    check_security(cfg)
    _credentials(cfg)
    if cfg.security != "none":
        _tls_context(cfg)


def _credentials(cfg: Smtp) -> tuple[str, str] | None:
    if not cfg.username_env:
        return None
    found = {}
    for field in ("username_env", "password_env"):
        name = getattr(cfg, field)
        value = secret(name)
        if not value:
            raise InputError(f"environment variable {name} (digest.smtp.{field}) is not set; "
                             "the SMTP login needs it")
        found[field] = value
    return found["username_env"], found["password_env"]


def _tls_context(cfg: Smtp) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=cfg.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"digest.smtp.ca_file {cfg.ca_file}: cannot load it as a CA bundle "
                         f"({exc})") from None


def _wire(text: str) -> bytes:
    """Credentials as sent: UTF-8 (RFC 4616, RFC 4954), and a byte the environment held that is
    not UTF-8 (os.environ keeps it as a surrogate) as that same byte."""
    return text.encode("utf-8", "surrogateescape")


class _SMTP(smtplib.SMTP):
    """smtplib encodes every AUTH answer as ASCII (python/cpython#73936, open since 2017): a
    non-ASCII user name or password raises UnicodeEncodeError, whose text shows the character.
    This is SMTP.auth with the answers encoded by `_wire`; aiosmtpd and common servers read
    PLAIN and LOGIN as UTF-8. (_SMTPSSL below inherits it.)"""

    def auth(self, mechanism: str, authobject: Any, *, initial_response_ok: bool = True) -> tuple[int, bytes]:
        mechanism = mechanism.upper()
        initial = authobject() if initial_response_ok else None
        if initial is not None:
            code, resp = self.docmd("AUTH", f"{mechanism} {_b64(initial)}")
            self._auth_challenge_count = 1
        else:
            code, resp = self.docmd("AUTH", mechanism)
            self._auth_challenge_count = 0
        while code == 334:
            self._auth_challenge_count += 1
            code, resp = self.docmd(_b64(authobject(base64.decodebytes(resp))))
            if self._auth_challenge_count > _MAX_CHALLENGES:
                raise smtplib.SMTPException(f"SMTP server AUTH {mechanism} asked too many times")
        if code in (235, 503):
            return code, resp
        raise smtplib.SMTPAuthenticationError(code, resp)

    def auth_cram_md5(self, challenge: bytes | None = None) -> str | None:
        if challenge is None:
            return None
        return f"{self.user} {hmac.HMAC(_wire(self.password), challenge, 'md5').hexdigest()}"


_MAX_CHALLENGES = 5
"""As smtplib's _MAXCHALLENGE: a server that keeps asking is broken."""


def _b64(answer: str) -> str:
    return base64.b64encode(_wire(answer)).decode("ascii")


class _SMTPSSL(_SMTP, smtplib.SMTP_SSL):
    """Implicit TLS (SMTP_SSL's connection) with the UTF-8 AUTH above."""


def send(cfg: Smtp, msg: EmailMessage) -> dict[str, str]:
    """Deliver `msg` to its To: addresses through the configured server.

    Returns the recipients the server refused (address → reply) when it took the others.
    Raises InputError (configuration), SendFailed (not delivered) or DeliveryUnknown."""
    check_security(cfg)
    creds = _credentials(cfg)
    context = None if cfg.security == "none" else _tls_context(cfg)
    where = f"{cfg.host}:{cfg.port}"
    secrets = _secret_forms(creds)
    sender = msg["From"].addresses[0].addr_spec
    rcpts = [a.addr_spec for a in msg["To"].addresses]
    data = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    phase = "connect"
    conn: smtplib.SMTP | None = None
    try:
        if cfg.security == "ssl":
            conn = _SMTPSSL(cfg.host, cfg.port, timeout=cfg.timeout, context=context)
        else:
            conn = _SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        conn.ehlo()
        if cfg.security == "starttls":
            phase = "starttls"
            if not conn.has_extn("starttls"):
                raise SendFailed(f"SMTP server {where} does not offer STARTTLS; the digest is never sent "
                                 "in clear text (use security: ssl if it listens for TLS directly)")
            conn.starttls(context=context)   # keyword: positionally it was `keyfile` (intelmq#1152)
            conn.ehlo()
        if creds:
            phase = "login"
            conn.login(*creds)
        phase = "envelope"
        code, reply = conn.mail(sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        refused = {}
        for rcpt in rcpts:
            code, reply = conn.rcpt(rcpt)
            if code not in (250, 251):
                refused[rcpt] = f"{code} {_text(reply)}"
        if len(refused) == len(rcpts):
            raise SendFailed(f"SMTP server {where} refused every recipient: "
                             + "; ".join(f"{r}: {why}" for r, why in refused.items()))
        phase = "data"
        code, reply = conn.data(data)
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
        return refused
    except TrackerError:
        raise
    except (smtplib.SMTPException, ssl.SSLError, ssl.CertificateError, OSError, ValueError) as exc:
        reason = _redact(_describe(exc, phase, where, creds), secrets)
        if phase == "data" and not isinstance(exc, smtplib.SMTPResponseException):
            raise DeliveryUnknown(reason) from None
        raise SendFailed(reason) from None
    finally:
        if conn is not None:
            _close(conn)


def _close(conn: smtplib.SMTP) -> None:
    """QUIT politely, then close whatever happens: after DATA was accepted the mail is sent."""
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        conn.close()


def _describe(exc: BaseException, phase: str, where: str, creds: tuple[str, str] | None) -> str:
    if isinstance(exc, UnicodeError):   # its text quotes one character, which may be a secret's
        return f"SMTP with {where} failed during {phase} ({type(exc).__name__})"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        user = creds[0] if creds else "?"
        return (f"SMTP login to {where} as {user} failed ({exc.smtp_code} {_text(exc.smtp_error)}); "
                "check the user name and password environment variables")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"the TLS certificate of {where} could not be verified ({exc.verify_message}); "
                "if the relay uses a private CA, set digest.smtp.ca_file")
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {where} failed during {phase} ({exc.reason or exc})"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return (f"SMTP server {where} refused the sender {exc.sender} "
                f"({exc.smtp_code} {_text(exc.smtp_error)})")
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP server {where} answered {exc.smtp_code} {_text(exc.smtp_error)} during {phase}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"SMTP server {where} does not support {phase} ({exc})"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"SMTP server {where} closed the connection during {phase} ({exc})"
    if isinstance(exc, TimeoutError):
        return f"SMTP server {where} did not answer within the timeout during {phase}"
    if phase == "connect":
        return f"cannot connect to SMTP server {where} ({exc.strerror or exc})" if isinstance(exc, OSError) \
            else f"cannot connect to SMTP server {where} ({exc})"
    return f"SMTP with {where} failed during {phase} ({type(exc).__name__}: {exc})"


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _secret_forms(creds: tuple[str, str] | None) -> list[str]:
    """The password and the encodings an AUTH exchange carries it in, longest first."""
    if not creds:
        return []
    user, password = creds
    forms = [password, _text(_wire(password))]      # as a server's reply would quote it back
    for raw in (password, f"\0{user}\0{password}", f"{user}\0{password}"):
        forms.append(base64.b64encode(_wire(raw)).decode())
    return sorted({f for f in forms if f}, key=len, reverse=True)


def _redact(text: str, secrets: list[str]) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    return text


def send_alert(config: Config, subject: str, text: str, html: str | None = None) -> str:
    """Send an alert e-mail (a tripped signpost, a failed run) to digest.alerts_to, or to
    digest.to when no alert list is set. Returns the Message-ID; raises TrackerError."""
    if config.digest is None:
        raise InputError("config.yaml has no digest: section; "
                         "alerts are sent with its from, to and smtp settings")
    to = config.digest.alerts_to or config.digest.to
    msg = build_message(sender=config.digest.sender, to=to, subject=subject, text=text, html=html)
    send(config.digest.smtp, msg)
    return str(msg["Message-ID"])
