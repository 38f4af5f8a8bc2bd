"""Helpers shared by the client tests: a scripted fake API (one handler for sync and async clients) and
functions that await a result only when the async client returned one."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

import httpx

TOKEN = "tt-secret-TOKEN-0123456789abcdef"


class FakeAPI:
    """A scripted service: ``routes`` maps (METHOD, path-after-/api/public) to a handler or a list of
    responses served in order (the last one repeats). Every request is recorded."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str], Any] = {}
        self.fallback: Callable[[httpx.Request], httpx.Response] | None = None

    def on(self, method: str, path: str, *responses: Any) -> FakeAPI:
        self.routes[(method.upper(), path)] = list(responses)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/api/public")
        script = self.routes.get((request.method, path))
        if script is None:
            if self.fallback is not None:
                return self.fallback(request)
            return httpx.Response(404, json={"detail": "Not Found"})
        item = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(item, type) and issubclass(item, httpx.TransportError):
            raise item("simulated failure", request=request)
        if callable(item) and not isinstance(item, httpx.Response):
            item = item(request)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, httpx.Response):
            return item
        if isinstance(item, tuple):
            status, body, *headers = item
            return httpx.Response(status, json=body, headers=headers[0] if headers else None)
        return httpx.Response(200, json=item)

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.url.path.endswith(path))

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


def brief(client: Any) -> Any:
    """``client`` as it is once it has learnt that the service is the brief's: no post-process route, so
    ``sessions.analyze`` goes straight to the synchronous ``POST /sessions/analyze`` (tests of that path)."""
    client._core.missing_routes.add("sessions.post_process")
    return client


async def call(value: Any) -> Any:
    """The result of a client call: awaited for the async client, as is for the sync one."""
    if inspect.isawaitable(value):
        return await value
    return value


async def collect(iterator: Any) -> list[Any]:
    """Every item of a sync or async iterator."""
    if hasattr(iterator, "__aiter__"):
        return [item async for item in iterator]
    return list(iterator)


async def take(iterator: Any, n: int) -> list[Any]:
    """The first ``n`` items of a sync or async iterator (the rest left unfetched)."""
    out = []
    if hasattr(iterator, "__aiter__"):
        async for item in iterator:
            out.append(item)
            if len(out) == n:
                break
        await iterator.aclose()
    else:
        for item in iterator:
            out.append(item)
            if len(out) == n:
                break
        iterator.close()
    return out


async def close_all(clients: list[Any]) -> None:
    """Close the sync and async clients a fixture made."""
    for client in clients:
        if inspect.iscoroutinefunction(getattr(client, "aclose", None)):
            await client.aclose()
        else:
            client.close()
