"""A real SMTP server on loopback (aiosmtpd) that keeps what arrived, for the digest, alert,
scheduler and security tests."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


class Inbox:
    """An aiosmtpd handler: every message as (sender, recipients, raw bytes)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 — aiosmtpd's hook
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def parsed(self, n: int = -1) -> EmailMessage:
        return email.message_from_bytes(self.messages[n][2], policy=email.policy.default)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def smtp_server(handler: Any = None, **kw: Any) -> Iterator[tuple[Any, int]]:
    """(handler, port) of a running server; `kw` go to aiosmtpd's Controller (TLS, AUTH)."""
    handler, port = handler or Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kw)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
