"""Loopback stand-ins for Slack: its Web API (`/api/<method>`) and response URLs (`/respond/<name>`),
and its Socket Mode WebSocket.

It records every call, answers like Slack does for the methods the bot uses, and can be told to fail
the next calls to a method (e.g. a 429 with Retry-After). Tests wait for calls with a bounded poll.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qsl

BOT_USER_ID, BOT_ID, TEAM_ID = "UBOT0001", "BBOT0001", "T0TEST01"


@dataclass
class Call:
    path: str  # /api/chat.postMessage or /respond/<name>
    params: dict
    headers: dict
    status: int = 200
    at: float = field(default_factory=time.monotonic)

    @property
    def method(self) -> str:
        return self.path.removeprefix("/api/")


class _Server(ThreadingHTTPServer):
    request_queue_size = 64  # a burst of a dozen questions opens a few dozen connections at once


class SlackStandIn:
    def __init__(self):
        self.calls: list[Call] = []
        self._cond = threading.Condition()
        self._failures: dict[str, list[tuple[int, dict, dict]]] = {}
        self._ts = 0
        self.connections_open = {"ok": False, "error": "invalid_auth"}
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                stand_in._handle(self)

            def log_message(self, *args):
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -------------------------------------------------------------- lifecycle
    def __enter__(self) -> "SlackStandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.root + "/api/"

    def response_url(self, name: str) -> str:
        return f"{self.root}/respond/{name}"

    # -------------------------------------------------------------- control and inspection
    def fail_next(self, method: str, status: int, headers: dict | None = None, body: dict | None = None) -> None:
        with self._cond:
            self._failures.setdefault(method, []).append((status, headers or {}, body or {"ok": False}))

    def find(self, predicate: Callable[[Call], bool]) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if predicate(c)]

    def wait_for(self, predicate: Callable[[Call], bool], count: int = 1, timeout: float = 20.0) -> list[Call]:
        """The calls matching `predicate` once there are at least `count` of them; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self.calls if predicate(c)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [c.path for c in self.calls]
                    raise AssertionError(f"waited {timeout} s for {count} matching call(s); got {len(found)}; all calls: {seen}")
                self._cond.wait(left)

    # -------------------------------------------------------------- serving
    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        raw = req.rfile.read(int(req.headers.get("Content-Length") or 0)).decode("utf-8")
        if "json" in (req.headers.get("Content-Type") or ""):
            params = json.loads(raw) if raw else {}
        else:
            params = dict(parse_qsl(raw))
        for key in ("blocks", "view"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        path = req.path.split("?")[0]
        method = path.removeprefix("/api/")
        with self._cond:
            failures = self._failures.get(method)
            status, headers, body = failures.pop(0) if failures else (200, {}, None)
            if body is None:
                body = self._answer(path, method, params)
            self.calls.append(Call(path, params, dict(req.headers), status))
            self._cond.notify_all()
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        req.send_response(status)
        req.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        req.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(data)

    def _answer(self, path: str, method: str, params: dict):
        if path.startswith("/respond/"):
            return "ok"
        if method == "auth.test":
            return {"ok": True, "url": "https://standin.slack.test/", "team": "Test", "user": "newsqa",
                    "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID}
        if method == "chat.postMessage":
            self._ts += 1
            ts = f"1700000000.{self._ts:06d}"
            return {"ok": True, "channel": params.get("channel"), "ts": ts,
                    "message": {"type": "message", "ts": ts, "user": BOT_USER_ID, "bot_id": BOT_ID,
                                "text": params.get("text"), "blocks": params.get("blocks")}}
        if method == "apps.connections.open":
            return self.connections_open
        return {"ok": True}


class SocketModeStandIn:
    """A loopback stand-in for Slack's Socket Mode WebSocket: it accepts the client's handshake, sends
    envelopes as text frames, answers pings, and records what the client sends back (its acks)."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self):
        self.received: list[dict] = []
        self._cond = threading.Condition()
        self._conn: socket.socket | None = None
        self._server = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> "SocketModeStandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.close()
        with self._cond:
            if self._conn is not None:
                self._conn.close()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.getsockname()[1]}/link/?ticket=standin"

    def send(self, envelope: dict, timeout: float = 10.0) -> None:
        """Send an envelope once a client is connected."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._conn is not None, timeout):
                raise AssertionError("no Socket Mode client connected")
            self._conn.sendall(_frame(0x1, json.dumps(envelope).encode()))

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 20.0) -> list[dict]:
        with self._cond:
            if not self._cond.wait_for(lambda: any(predicate(m) for m in self.received), timeout):
                raise AssertionError(f"waited {timeout} s for a Socket Mode message; got {self.received}")
            return [m for m in self.received if predicate(m)]

    def _accept(self) -> None:
        try:
            conn, _ = self._server.accept()
        except OSError:
            return
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(1024)
        key = next(line.split(":", 1)[1].strip() for line in request.decode().split("\r\n")
                   if line.lower().startswith("sec-websocket-key:"))
        accept = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        with self._cond:
            self._conn = conn
            self._cond.notify_all()
        try:
            while True:
                opcode, payload = _read_frame(conn)
                if opcode == 0x9:  # ping
                    conn.sendall(_frame(0xA, payload))
                elif opcode == 0x1:
                    with self._cond:
                        self.received.append(json.loads(payload))
                        self._cond.notify_all()
                elif opcode == 0x8:
                    conn.sendall(_frame(0x8, payload))
                    return
        except (OSError, ConnectionError):
            return


def _frame(opcode: int, payload: bytes) -> bytes:
    """A server-to-client frame (unmasked, unfragmented)."""
    n = len(payload)
    size = bytes([n]) if n < 126 else bytes([126]) + n.to_bytes(2, "big") if n < 65536 else bytes([127]) + n.to_bytes(8, "big")
    return bytes([0x80 | opcode]) + size + payload


def _read_frame(conn: socket.socket) -> tuple[int, bytes]:
    """A client-to-server frame: (opcode, unmasked payload)."""
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError("client closed the connection")
            data += chunk
        return data

    b0, b1 = exactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(exactly(2), "big")
    elif n == 127:
        n = int.from_bytes(exactly(8), "big")
    mask = exactly(4) if b1 & 0x80 else b"\0\0\0\0"
    return b0 & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(exactly(n)))
