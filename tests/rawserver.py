"""A bare TCP server on 127.0.0.1 for what no well-behaved HTTP server does: hang, trickle,
reset mid-body, cut a body short. Shared by the HTTP-client, connector and ingest tests."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable

RawHandler = Callable[[socket.socket, "RawServer"], None]


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def head(length: int | None = None, ctype: str = "text/csv", status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Type: {ctype}", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def reset(conn: socket.socket) -> None:
    """Close with RST rather than FIN (SO_LINGER 0)."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


class RawServer:
    """Each connection goes to `handler(conn, server)`, or — given a mapping — to the handler
    of its request path (404 for any other path)."""

    def __init__(self, handler: RawHandler | dict[str, RawHandler]) -> None:
        self.paths = handler if isinstance(handler, dict) else {}
        self.handler = None if isinstance(handler, dict) else handler
        self.stop = threading.Event()
        self.requests: list[bytes] = []
        self.hits: list[tuple[str, float]] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, path: str) -> int:
        return sum(p == path for p, _ in self.hits)

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.conns.append(conn)
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(worker)
            worker.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            request = read_request(conn)
            self.requests.append(request)
            parts = request.split(b" ", 2)
            path = parts[1].decode().split("?")[0] if len(parts) > 1 else ""
            self.hits.append((path, time.monotonic()))
            handler = self.handler or self.paths.get(path)
            if handler is None:
                conn.sendall(head(9, "text/plain", "404 Not Found") + b"no route\n")
            else:
                handler(conn, self)
        except OSError:
            pass  # the client gave up first: that is what most of these tests are about
        finally:
            conn.close()

    def __enter__(self) -> RawServer:
        self.threads[0].start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for conn in self.conns:
            conn.close()
        for thread in self.threads:
            thread.join(timeout=5)
        self.sock.close()
