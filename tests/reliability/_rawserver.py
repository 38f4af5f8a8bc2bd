"""A tiny raw-socket HTTP server on 127.0.0.1 that misbehaves on purpose (stalls mid-body, never answers,
closes mid-body), for the hostile-response tests."""

from __future__ import annotations

import socket
import threading
from typing import Literal

Behaviour = Literal["stall_mid_body", "stall_before_headers", "close_mid_body", "trickle", "in_time",
                    "head_trickle", "late_head_stall"]
#: A complete session answer, for the modes that send one
BODY = b'{"id": "s1", "status": "completed"}'


class RawServer:
    """Accepts connections and answers each request according to ``behaviour``.

    ``stall_*`` keep the socket open without sending more until :meth:`close`; ``trickle`` sends the body
    one byte every 0.1 s for 1.2 s, then closes (never idle long enough for a per-read timeout).
    ``in_time``: headers, then a complete JSON body in 4 pieces 0.05 s apart; ``head_trickle``: the status
    line one byte every 0.1 s for 1.2 s, then close; ``late_head_stall``: headers after 0.4 s, then silence.
    """

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests = 0
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/public"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _read_request(self, conn: socket.socket) -> bool:
        conn.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            body += chunk
        self.requests += 1
        return True

    def _handle(self, conn: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                if not self._read_request(conn):
                    return
                if self.behaviour in ("in_time", "head_trickle", "late_head_stall"):
                    self._answer_slowly(conn)
                    continue
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                if self.behaviour == "stall_before_headers":
                    self._stop.wait()
                    return
                conn.sendall(head + b'{"id": "s1", "status": "comp')
                if self.behaviour == "close_mid_body":
                    conn.shutdown(socket.SHUT_RDWR)
                    return
                if self.behaviour == "trickle":
                    for _ in range(12):
                        if self._stop.wait(0.1):
                            return
                        conn.sendall(b" ")
                    conn.shutdown(socket.SHUT_RDWR)
                    return
                self._stop.wait()
                return
        except OSError:
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _answer_slowly(self, conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)
        if self.behaviour == "in_time":
            conn.sendall(head)
            for i in range(0, len(BODY), 10):
                if self._stop.wait(0.05):
                    return
                conn.sendall(BODY[i:i + 10])
        elif self.behaviour == "head_trickle":
            for byte in head[:12]:
                if self._stop.wait(0.1):
                    return
                conn.sendall(bytes([byte]))
            conn.shutdown(socket.SHUT_RDWR)
        elif not self._stop.wait(0.4):  # late_head_stall
            conn.sendall(head + BODY[:5])
            self._stop.wait()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass
        self._thread.join(timeout=2)

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
