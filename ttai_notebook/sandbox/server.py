"""The sandbox as a real HTTP/1.1 server on 127.0.0.1: asyncio + h11 in a background thread,
keep-alive, a deep listen backlog, non-blocking latency, 413 for large bodies, and dropped connections."""
from __future__ import annotations

import asyncio
import threading
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import h11

from .app import SandboxApp
from .urls import API_PREFIX

__all__ = ["SandboxServer", "HOST"]

#: The only interface the sandbox listens on.
HOST = "127.0.0.1"
_READ_CHUNK = 65536
#: Loop iterations between "stop accepting" and Server.close(); see SandboxServer._shutdown.
_ACCEPT_DRAIN_TICKS = 2


class SandboxServer:
    """An HTTP server for a sandbox app, bound to 127.0.0.1 only.

    Use it as a context manager, or call :meth:`start` and :meth:`close`.

    Parameters
    ----------
    app : SandboxApp
    port : int
        0 picks a free port.
    backlog : int
        Listen backlog (connections waiting to be accepted).

    Attributes
    ----------
    connections_total : int
        Connections accepted so far.
    protocol_errors : int
        Connections closed because the client sent something that is not HTTP/1.1 or left mid-request.
    """

    def __init__(self, app: SandboxApp, port: int = 0, *, backlog: int = 1024) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an integer 0–65535, got {port!r}")
        self._app = app
        self._requested_port = port
        self._backlog = backlog
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections_total = 0
        self.protocol_errors = 0

    # ---- lifecycle ----
    def start(self) -> "SandboxServer":
        """Start serving in a daemon thread; returns once the socket is listening."""
        if self._thread is not None:
            raise RuntimeError("this server was already started")
        self._thread = threading.Thread(target=self._run, name="ttai-sandbox-server", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)
        if self._error is not None:
            raise RuntimeError(f"the sandbox server could not start on {HOST}:{self._requested_port}: "
                               f"{self._error}") from self._error
        if self._port is None:
            raise RuntimeError("the sandbox server did not start within 10 s")
        return self

    def close(self) -> None:
        """Stop accepting, close every connection, and join the thread. Safe to call twice."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop already stopped
                pass
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> "SandboxServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        """The port being served."""
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/api/public`` — give this to a client."""
        return self.origin + API_PREFIX

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def __repr__(self) -> str:
        where = f"{HOST}:{self._port}" if self._port else "not started"
        return f"SandboxServer({where})"

    # ---- the loop ----
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            self._ready.set()
        finally:
            try:
                # Last resort if _main failed or its shutdown timed out: cancel and await everything left, as
                # asyncio.run does, so every socket is closed here rather than by the garbage collector.
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                for writer in list(self._writers):
                    writer.close()
                self._writers.clear()
                loop.run_until_complete(asyncio.sleep(0))  # let the transports finish closing
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._accept, HOST, self._requested_port,
                                            backlog=self._backlog, reuse_address=True, limit=_READ_CHUNK)
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self._shutdown(server)

    async def _shutdown(self, server: asyncio.Server) -> None:
        """Stop accepting, let half-accepted connections finish, then close every connection and the server."""
        # CPython gh-109564 (open upstream): the selector loop accepts a socket, then builds its transport in a
        # task one loop tick later; if Server.close() lands in that gap, the transport's constructor fails on
        # `assert server._sockets is not None`, the error is swallowed, and the accepted socket is left to the
        # garbage collector (ResourceWarning). So first stop reading the listening sockets - no new accepts -
        # and let the accept tasks already scheduled build their transports while the server is still open.
        loop = asyncio.get_running_loop()
        for sock in server.sockets:
            try:
                loop.remove_reader(sock.fileno())
            except NotImplementedError:  # not a selector loop: it accepts differently, nothing to drain
                break
        # Tick 1: pending accept tasks create their transports (scheduled before us, so they run before us).
        # Tick 2: the protocols' connection_made runs, calling _accept, which registers each writer.
        for _ in range(_ACCEPT_DRAIN_TICKS):
            await asyncio.sleep(0)
        server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        # A connection task cancelled before its first step never reaches its own `finally`.
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        # On 3.12+ wait_closed() waits until every transport is detached, which closing them above ensures;
        # bounded all the same, so a stuck transport can never hang close() (the _run clean-up follows).
        try:
            await asyncio.wait_for(server.wait_closed(), timeout=5)
        except asyncio.TimeoutError:
            pass

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
        # Called synchronously by asyncio as the connection is made: registering the writer here (not in the
        # coroutine) means a connection whose task is cancelled before it ever runs is still closed at shutdown.
        self._writers.add(writer)
        return self._on_connection(reader, writer)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections_total += 1
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            pass
        except (ConnectionError, OSError, h11.ProtocolError):
            self.protocol_errors += 1
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    @staticmethod
    async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(_READ_CHUNK))  # b"" means the client went away
                continue
            return event

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_READ_CHUNK)
        app = self._app
        while True:
            try:
                event = await self._next_event(conn, reader)
            except h11.RemoteProtocolError:
                self.protocol_errors += 1
                with app.lock:
                    body = app.error(400, "Bad Request: not a valid HTTP/1.1 request.", "req_sbx_400").body
                await self._send_simple(writer, 400, body)
                return
            if not isinstance(event, h11.Request):
                return  # ConnectionClosed, or anything unexpected
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}
            length = headers.get("content-length", "")
            limit = app.max_body_bytes
            declared = int(length) if length.isdigit() else None
            if declared is not None and declared > limit:
                await self._send_reply_too_large(reader, writer, 0, declared)
                return
            body = bytearray()
            while True:
                try:
                    part = await self._next_event(conn, reader)
                except h11.RemoteProtocolError:
                    self.protocol_errors += 1  # e.g. the client left halfway through the body
                    return
                if isinstance(part, h11.Data):
                    body += part.data
                    if len(body) > limit:
                        await self._send_reply_too_large(reader, writer, len(body), declared)
                        return
                elif isinstance(part, h11.EndOfMessage):
                    break
                else:
                    self.protocol_errors += 1
                    return
            target = event.target.decode("latin-1")
            path, _, query = target.partition("?")
            reply = await app.handle_async(event.method.decode("ascii"), unquote(path), query, headers, bytes(body))
            if reply.drop:
                return  # executed; now close without a word (finally: writer.close())
            out_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
            out_headers.append((b"content-length", str(len(reply.body)).encode()))
            out_headers.append((b"server", b"ttai-sandbox"))
            data = conn.send(h11.Response(status_code=reply.status, headers=out_headers,
                                          reason=_reason(reply.status)))
            if reply.body:
                data += conn.send(h11.Data(data=reply.body))
            data += conn.send(h11.EndOfMessage())
            writer.write(data)
            await writer.drain()
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    async def _send_reply_too_large(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                                    size: int, declared: int | None) -> None:
        app = self._app
        with app.lock:
            app.counters.requests["(body too large)"] += 1
            shown = max(size, declared or 0)
            reply = app.error(413, f"Request body too large: {shown} bytes; the limit is {app.max_body_bytes} bytes.",
                              "req_sbx_413", details={"limit": app.max_body_bytes, "size": shown})
            app.counters.responses[413] += 1
        await self._send_simple(writer, 413, reply.body)
        # Let the client finish sending before closing, so it reads the 413 instead of a reset.
        remaining = (declared - size) if declared is not None else 64 * 1024 * 1024
        try:
            while remaining > 0:
                chunk = await asyncio.wait_for(reader.read(_READ_CHUNK), timeout=2.0)
                if not chunk:
                    break
                remaining -= len(chunk)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass

    @staticmethod
    async def _send_simple(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
        """Answer and close, outside h11 (used when the request cannot be read any further)."""
        head = (f"HTTP/1.1 {status} {_reason(status).decode()}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\nserver: ttai-sandbox\r\n\r\n")
        writer.write(head.encode("latin-1") + body)
        try:
            await writer.drain()
        except (ConnectionError, OSError):
            pass


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""
