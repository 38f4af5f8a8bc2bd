"""SandboxServer.close() leaves nothing for the garbage collector: connections accepted in the very loop
iteration that close() is requested in (CPython gh-109564), open keep-alive clients, and a full backlog."""
from __future__ import annotations

import gc
import socket
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ttai_notebook.sandbox import Sandbox
from ttai_notebook.sandbox.server import SandboxServer

_REQUEST = b"GET /api/public/balance HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sandbox\r\n\r\n"


@contextmanager
def _leaks() -> Iterator[list[str]]:
    """Collect unclosed-socket/transport reports from any thread, until a final gc.collect().

    With warnings as errors a ResourceWarning raised in ``__del__`` reaches ``sys.unraisablehook``; without,
    it is an ordinary warning. Both are process-wide, so the server thread's reports land here too.
    """
    found: list[str] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: found.append(f"{unraisable.exc_type.__name__}: "
                                                         f"{str(unraisable.exc_value)[:120]}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            yield found
            gc.collect()
        found.extend(str(w.message)[:120] for w in caught if issubclass(w.category, ResourceWarning))
    finally:
        sys.unraisablehook = previous


@contextmanager
def _loop_paused(server: SandboxServer, seconds: float = 0.2) -> Iterator[None]:
    """Hold the server's event loop busy, so whatever the test does meanwhile is seen in one loop iteration."""
    busy = threading.Event()

    def block() -> None:
        busy.set()
        time.sleep(seconds)

    # White-box on purpose: only a blocked loop lines up "connection accepted" and "close requested" in the
    # same iteration every time, which is the window the race needs.
    assert server._loop is not None
    server._loop.call_soon_threadsafe(block)
    assert busy.wait(5), "the server loop never ran the blocking callback"
    yield


@pytest.mark.parametrize("payload", [b"", _REQUEST], ids=["silent", "with-request"])
def test_connection_accepted_in_the_same_iteration_as_close_is_closed(payload: bytes) -> None:
    # The loop wakes with the listening socket readable and the stop request queued: it accepts and
    # schedules the transport's creation, while the server task is told to shut down. Closing the
    # asyncio.Server before that creation makes asyncio drop the accepted socket on the floor.
    with _leaks() as leaks:
        for _ in range(5):
            server = Sandbox().serve()
            with _loop_paused(server):
                client = socket.create_connection(("127.0.0.1", server.port), timeout=2)
                client.sendall(payload)
                server.close()  # requests the stop while the loop is still busy, then joins
            assert not server.running
            client.close()
    assert leaks == [], f"{len(leaks)} unclosed sockets/transports, e.g. {leaks[:2]}"


def test_a_full_backlog_at_close_leaves_no_socket_behind() -> None:
    with _leaks() as leaks:
        server = Sandbox().serve()
        with _loop_paused(server, seconds=0.3):
            clients = [socket.create_connection(("127.0.0.1", server.port), timeout=2) for _ in range(64)]
            server.close()
        assert not server.running
        for client in clients:
            client.close()
    assert leaks == [], f"{len(leaks)} unclosed sockets/transports, e.g. {leaks[:2]}"


def test_close_ends_open_keep_alive_connections() -> None:
    with _leaks() as leaks:
        server = Sandbox().serve()
        clients = []
        for _ in range(8):
            client = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            client.sendall(_REQUEST)
            assert client.recv(65536).startswith(b"HTTP/1.1 200")  # served, and the connection stays open
            clients.append(client)
        server.close()
        assert not server.running
        for client in clients:
            assert client.recv(65536) == b"", "close() must end every open connection"
            client.close()
    assert leaks == [], f"{len(leaks)} unclosed sockets/transports, e.g. {leaks[:2]}"


def test_nothing_is_accepted_after_close() -> None:
    server = Sandbox().serve()
    port = server.port
    server.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
