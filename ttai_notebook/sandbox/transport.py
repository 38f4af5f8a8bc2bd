"""The sandbox as an httpx transport: one object serving both ``httpx.Client`` and ``httpx.AsyncClient``."""
from __future__ import annotations

import time

import httpx

from .app import DROP_MESSAGE, Reply, SandboxApp

__all__ = ["SandboxTransport"]


class SandboxTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An in-process transport onto a sandbox; no sockets, no network.

    Latency waits with ``time.sleep`` in sync clients and ``asyncio.sleep`` in async ones. A dropped
    connection raises :class:`httpx.RemoteProtocolError` *after* the request has executed.

    Examples
    --------
    >>> from ttai_notebook.sandbox import Sandbox
    >>> sb = Sandbox()
    >>> with httpx.Client(transport=sb.transport(), base_url=sb.base_url) as http:
    ...     http.get("/balance").json()["available_minutes"]
    100000.0
    """

    def __init__(self, app: SandboxApp) -> None:
        self._app = app

    @staticmethod
    def _headers(request: httpx.Request) -> dict[str, str]:
        return {k.lower(): v for k, v in request.headers.items()}

    @staticmethod
    def _response(reply: Reply, request: httpx.Request) -> httpx.Response:
        if reply.drop:
            raise httpx.RemoteProtocolError(DROP_MESSAGE, request=request)
        return httpx.Response(reply.status, headers=reply.headers, content=reply.body, request=request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        reply = self._app.handle(request.method, request.url.path, request.url.query.decode("ascii", "replace"),
                                 self._headers(request), body, sleep=time.sleep)
        return self._response(reply, request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        reply = await self._app.handle_async(request.method, request.url.path,
                                             request.url.query.decode("ascii", "replace"),
                                             self._headers(request), body)
        return self._response(reply, request)

    def __repr__(self) -> str:
        return "SandboxTransport()"
