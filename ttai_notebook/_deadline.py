"""The per-attempt deadline: ``timeout=`` bounds a whole attempt (connect, headers and body), not each read.

httpx's timeout is per read, so a server trickling a byte at a time could hold a call for ever. The sync
client reads the body through a deadline check and, over :func:`deadline_transport`, gives every socket
read only the time left; the async client runs the attempt under ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

__all__ = ["asend_by_deadline", "deadline_transport", "send_by_deadline"]

#: The monotonic deadline of the attempt running in this thread (sync client), read by _DeadlineNetworkStream.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("ttai_deadline", default=None)


def _attempt_budget(timeouts: Any) -> float | None:
    """Seconds one attempt may take in all (connect + send + headers + body), or None for no deadline.

    ``timeouts`` is a request's ``extensions["timeout"]`` (``httpx.Timeout.as_dict()``), which already holds
    the effective value: the client's ``timeout``, a per-call ``timeout=``, or the analyse call's longer one.
    The budget is the largest part, so an attempt is never cut before any single phase's own limit could
    fire; a part set to None means "wait as long as it takes" for that phase, hence no deadline at all.
    """
    if not isinstance(timeouts, Mapping) or not timeouts:
        return None
    budget = 0.0
    for part in timeouts.values():  # a plain loop: this runs on every request
        if part is None:
            return None
        if part > budget:
            budget = part
    return float(budget)


def _deadline_error(budget: float, request: httpx.Request) -> httpx.ReadTimeout:
    # ReadTimeout, whatever the phase: it is the timeout that never repeats a create (the request may have
    # been sent), so the retry policy stays on the safe side.
    return httpx.ReadTimeout(f"no complete answer within the {budget:g} s timeout", request=request)


class _DeadlineStream(httpx.SyncByteStream):
    """A response body that raises ``httpx.ReadTimeout`` instead of waiting for more data past ``deadline``.

    Checked between chunks, so a server trickling bytes is cut at its next byte after the deadline.
    """

    def __init__(self, inner: httpx.SyncByteStream, deadline: float, budget: float, request: httpx.Request) -> None:
        self._inner = inner
        self._deadline = deadline
        self._budget = budget
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if time.monotonic() > self._deadline:
                raise _deadline_error(self._budget, self._request)
            yield chunk

    def close(self) -> None:
        self._inner.close()


def send_by_deadline(http: httpx.Client, request: httpx.Request) -> httpx.Response:
    """``http.send(request)`` with the whole attempt bounded by the request's timeout (see ``_attempt_budget``).

    Over a transport from :func:`deadline_transport` every socket read waits at most until the deadline, so
    a server trickling its status line and headers is cut too; over any other transport the body is bounded
    (checked between chunks) and the headers only per read (a blocking read cannot be interrupted from here).
    """
    budget = _attempt_budget(request.extensions.get("timeout"))
    if budget is None:
        return http.send(request)
    deadline = time.monotonic() + budget
    token = _DEADLINE.set(deadline)
    try:
        response = http.send(request, stream=True)
        if response.is_closed:  # already complete (in-process transports): nothing left to wait for
            return response
        return _read_by_deadline(response, request, deadline, budget)
    finally:
        _DEADLINE.reset(token)


def _read_by_deadline(
    response: httpx.Response, request: httpx.Request, deadline: float, budget: float
) -> httpx.Response:
    try:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _deadline_error(budget, request)
        timeouts = request.extensions.get("timeout")
        if isinstance(timeouts, Mapping) and timeouts.get("read") is not None:
            # httpcore reads the body's per-read timeout from this mapping when the body is first read: a
            # stall then ends at the deadline instead of one full timeout after it.
            request.extensions["timeout"] = {**timeouts, "read": min(timeouts["read"], remaining)}
        if isinstance(response.stream, httpx.SyncByteStream):
            response.stream = _DeadlineStream(response.stream, deadline, budget, request)
        response.read()
    except BaseException:
        response.close()
        raise
    return response


async def asend_by_deadline(http: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """``await http.send(request)`` with the whole attempt (headers and body) bounded by the request's timeout.

    On expiry httpx closes the half-read response (``send`` closes it on any exception, cancellation included).
    """
    budget = _attempt_budget(request.extensions.get("timeout"))
    if budget is None:
        return await http.send(request)
    if sys.version_info >= (3, 11):
        # asyncio.timeout cancels in place (wait_for before 3.12 starts a task per call) and tells our expiry
        # apart from a TimeoutError raised by the transport itself.
        scope = asyncio.timeout(budget)
        try:
            async with scope:
                return await http.send(request)
        except TimeoutError:
            if not scope.expired():
                raise
    else:  # pragma: no cover - Python 3.10
        try:
            return await asyncio.wait_for(http.send(request), budget)
        except asyncio.TimeoutError:
            pass
    raise _deadline_error(budget, request) from None


# --------------------------------------------------------------------------------------------------
# Deadline-aware sockets for the sync client's default transport
# --------------------------------------------------------------------------------------------------


class _DeadlineNetworkStream:
    """An httpcore network stream whose reads wait at most until the current attempt's deadline.

    httpcore gives every read the request's read timeout; a trickling server resets it with each byte. Here
    each read gets ``min(read timeout, time left)``, and a read starting past the deadline fails at once.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        deadline = _DEADLINE.get()
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                import httpcore  # loaded already: httpx's transport uses it

                raise httpcore.ReadTimeout("the attempt's deadline passed")
            timeout = left if timeout is None else min(timeout, left)
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        return _DeadlineNetworkStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineNetworkBackend:
    """Wraps an httpcore network backend so that every stream it opens is a :class:`_DeadlineNetworkStream`."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> _DeadlineNetworkStream:
        return _DeadlineNetworkStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        return _DeadlineNetworkStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def deadline_transport() -> httpx.HTTPTransport:
    """httpx's default transport, with sockets that honour the attempt deadline (see the module docstring).

    httpx offers no public way to pass an httpcore network backend, so this swaps the pool's backend before
    any connection exists. Should a future httpx or httpcore rename those attributes, the transport is
    returned as it is: bodies stay bounded, headers fall back to the per-read timeout.
    """
    transport = httpx.HTTPTransport()
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is not None and callable(getattr(backend, "connect_tcp", None)):
        pool._network_backend = _DeadlineNetworkBackend(backend)  # type: ignore[union-attr]
    return transport
