"""An httpx transport wrapper that keeps a copy of every request the client sends (method, URL, headers,
body) before passing it on to the wrapped transport (the sandbox's)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

__all__ = ["RecordingTransport", "Sent"]


@dataclass(frozen=True)
class Sent:
    """One request as it went on the wire."""

    method: str
    url: httpx.URL
    headers: httpx.Headers
    body: bytes


class RecordingTransport(httpx.BaseTransport):
    """Records each request in :attr:`sent`, then lets ``inner`` answer it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.sent: list[Sent] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.sent.append(Sent(request.method, request.url, httpx.Headers(request.headers), body))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
