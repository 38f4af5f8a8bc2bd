"""The per-attempt deadline: ``timeout=`` bounds a whole attempt (headers and body), not each read.

Tables for the pure helpers, then both clients on a fake API whose bodies arrive slowly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from client_helpers import TOKEN, call, brief

import ttai_notebook as tt
from ttai_notebook import _deadline
from ttai_notebook._deadline import _attempt_budget, _DeadlineStream
from ttai_notebook.client import ANALYZE_TIMEOUT

BASE = "https://api.example.test/api/public"
SESSION = {"id": "s1", "status": "completed"}
ANALYSIS = {"overall_score": 85, "strengths": ["Clear opener"], "improvements": ["Slow down"]}

# --------------------------------------------------------------------------------------------------
# _attempt_budget: the request's timeout mapping -> seconds for the whole attempt, or None
# --------------------------------------------------------------------------------------------------

BUDGETS = [
    ("client default", httpx.Timeout(30.0).as_dict(), 30.0),
    ("small", httpx.Timeout(0.3).as_dict(), 0.3),
    ("largest part wins", httpx.Timeout(5.0, read=60.0).as_dict(), 60.0),
    ("largest part is connect", httpx.Timeout(2.0, connect=9.0).as_dict(), 9.0),
    ("ints", {"connect": 3, "read": 4, "write": 3, "pool": 3}, 4.0),
    ("one part", {"read": 7.5}, 7.5),
    ("no limit", httpx.Timeout(None).as_dict(), None),
    ("read without limit", httpx.Timeout(5.0, read=None).as_dict(), None),
    ("pool without limit", httpx.Timeout(5.0, pool=None).as_dict(), None),
    ("no timeout extension", None, None),
    ("empty mapping", {}, None),
    ("not a mapping", 30.0, None),
]


@pytest.mark.parametrize(("label", "timeouts", "expected"), BUDGETS, ids=[b[0] for b in BUDGETS])
def test_attempt_budget(label: str, timeouts: Any, expected: float | None) -> None:
    budget = _attempt_budget(timeouts)
    assert budget == expected
    assert budget is None or isinstance(budget, float)


# --------------------------------------------------------------------------------------------------
# The deadline each request gets is its effective timeout (client, per call, analyse)
# --------------------------------------------------------------------------------------------------

EFFECTIVE = [
    ("client default", {}, lambda c: c.sessions.get("s1"), 30.0),
    ("client timeout", {"timeout": 0.3}, lambda c: c.sessions.get("s1"), 0.3),
    ("per-call override", {"timeout": 0.3}, lambda c: c.sessions.get("s1", timeout=2.0), 2.0),
    ("per-call on request()", {}, lambda c: c.request("GET", "/sessions/s1", timeout=7.0), 7.0),
    ("analyse gets ANALYZE_TIMEOUT", {"timeout": 0.3}, lambda c: brief(c).sessions.analyze("s1"), ANALYZE_TIMEOUT),
    ("analyse keeps a longer client timeout", {"timeout": 300.0}, lambda c: brief(c).sessions.analyze("s1"), 300.0),
    ("analyse per-call override", {}, lambda c: brief(c).sessions.analyze("s1", timeout=5.0), 5.0),
]


@pytest.mark.parametrize(("label", "options", "op", "expected"), EFFECTIVE, ids=[e[0] for e in EFFECTIVE])
async def test_each_request_is_bounded_by_its_effective_timeout(make_client, api, label, options, op, expected):
    api.on("GET", "/sessions/s1", SESSION)
    api.on("POST", "/sessions/analyze", ANALYSIS)
    await call(op(make_client(**options)))
    assert [_attempt_budget(r.extensions.get("timeout")) for r in api.requests] == [expected]


# --------------------------------------------------------------------------------------------------
# _DeadlineStream: passes chunks through until the deadline, then raises ReadTimeout and still closes
# --------------------------------------------------------------------------------------------------


class _Chunks(httpx.SyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks

    def close(self) -> None:
        self.closed = True


STREAMS = [
    ("in time", [b"ab", b"cd"], 60.0, [b"ab", b"cd"]),
    ("empty body in time", [], 60.0, []),
    ("past the deadline", [b"ab", b"cd"], -1.0, httpx.ReadTimeout),
    ("empty body past the deadline", [], -1.0, []),  # nothing arrived late: nothing to refuse
]


@pytest.mark.parametrize(("label", "chunks", "offset", "expected"), STREAMS, ids=[s[0] for s in STREAMS])
def test_deadline_stream(label: str, chunks: list[bytes], offset: float, expected: Any) -> None:
    inner = _Chunks(chunks)
    request = httpx.Request("GET", f"{BASE}/sessions/s1")
    stream = _DeadlineStream(inner, time.monotonic() + offset, 0.3, request)
    if isinstance(expected, list):
        assert list(stream) == expected
    else:
        with pytest.raises(expected, match="0.3 s timeout") as info:
            list(stream)
        assert info.value.request is request
    stream.close()
    assert inner.closed


# --------------------------------------------------------------------------------------------------
# Both clients on bodies that arrive slowly (no sockets: the deadline is ours, not httpx's per-read one)
# --------------------------------------------------------------------------------------------------


class _SlowBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A JSON body sent in ``pieces`` pieces ``gap`` seconds apart; records whether it was closed."""

    def __init__(self, body: Any, pieces: int, gap: float) -> None:
        import json

        data = json.dumps(body).encode()
        size = -(-len(data) // pieces)
        self.parts = [data[i:i + size] for i in range(0, len(data), size)]
        self.gap = gap
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for part in self.parts:
            time.sleep(self.gap)
            yield part

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            await asyncio.sleep(self.gap)
            yield part

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def _slow(body: Any, pieces: int = 5, gap: float = 0.1, status: int = 200) -> tuple[list[_SlowBody], Any]:
    """A handler answering each request with a fresh slow body, and the list of bodies it made."""
    made: list[_SlowBody] = []

    def handler(request: httpx.Request) -> httpx.Response:
        made.append(_SlowBody(body, pieces, gap))
        return httpx.Response(status, headers={"content-type": "application/json"}, stream=made[-1])

    return made, handler


async def test_a_slow_body_is_cut_at_the_timeout_and_closed(make_client):
    bodies, handler = _slow(SESSION, pieces=10, gap=0.1)  # 1 s of body
    client = make_client(handler, timeout=0.25, max_retries=0)
    started = time.perf_counter()
    with pytest.raises(tt.APITimeoutError, match="0.25 s timeout") as info:
        await call(client.sessions.get("s1"))
    elapsed = time.perf_counter() - started
    assert elapsed < 0.6, elapsed
    assert "waiting for the answer" in str(info.value)
    assert len(bodies) == 1 and bodies[0].closed
    assert client.stats.errors == {"ReadTimeout": 1}


async def test_a_slow_body_within_the_timeout_is_read_whole(make_client):
    bodies, handler = _slow(SESSION, pieces=3, gap=0.05)
    session = await call(make_client(handler, timeout=2.0).sessions.get("s1"))
    assert session.id == "s1" and session.status == "completed"
    assert bodies[0].closed


async def test_per_call_and_analyse_timeouts_lengthen_the_deadline(make_client):
    # 0.5 s of body against a 0.2 s client timeout: cut by default, whole with a longer effective timeout.
    _, handler = _slow(SESSION, pieces=5, gap=0.1)
    client = make_client(handler, timeout=0.2, max_retries=0)
    with pytest.raises(tt.APITimeoutError):
        await call(client.sessions.get("s1"))
    assert (await call(client.sessions.get("s1", timeout=3.0))).id == "s1"
    _, analyse = _slow(ANALYSIS, pieces=5, gap=0.1)
    analysis = await call(brief(make_client(analyse, timeout=0.2, max_retries=0)).sessions.analyze("s1"))
    assert analysis.score == 85


async def test_a_cut_attempt_follows_the_retry_policy(make_client):
    # A read is retried (then raises APITimeoutError); a create is sent once and its outcome is unknown.
    bodies, handler = _slow(SESSION, pieces=10, gap=0.1)
    client = make_client(handler, timeout=0.15, max_retries=1, backoff_initial=0.0, backoff_max=0.0)
    with pytest.raises(tt.APITimeoutError, match="after 1 retry"):
        await call(client.sessions.get("s1"))
    assert len(bodies) == 2 and client.stats.retries == 1
    bodies.clear()
    with pytest.raises(tt.OutcomeUnknownError):
        await call(client.sessions.create("sc1"))
    assert len(bodies) == 1


async def test_in_process_answers_are_returned_as_before(make_client, api):
    # Bodies already in memory (MockTransport, the sandbox) take the fast path: nothing to wait for.
    api.on("GET", "/sessions/s1", SESSION)
    client = make_client(timeout=0.01)
    assert (await call(client.sessions.get("s1"))).id == "s1"


def test_the_sandbox_transport_still_works_with_the_deadline() -> None:
    with tt.Client.sandbox(seed=0, timeout=5.0) as client:
        first = client.sessions.list(max_items=3).to_list()
        assert len(first) == 3
        assert client.sessions.get(first[0].id).id == first[0].id


async def test_the_sandbox_transport_still_works_with_the_deadline_async() -> None:
    async with tt.AsyncClient.sandbox(seed=0, timeout=5.0) as client:
        first = [s async for s in client.sessions.list(max_items=3)]
        assert len(first) == 3
        assert (await client.sessions.get(first[0].id)).id == first[0].id


def test_token_stays_out_of_the_timeout_error() -> None:
    _, handler = _slow(SESSION, pieces=10, gap=0.1)
    with tt.Client(token=TOKEN, base_url=BASE, transport=httpx.MockTransport(handler), timeout=0.1,
                   max_retries=0) as client:
        with pytest.raises(tt.APITimeoutError) as info:
            client.sessions.get("s1")
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)


# ---------------------------------------------------------------------------------------------------
# Deadline-aware sockets (the sync client's default transport)
# ---------------------------------------------------------------------------------------------------


class _FakeStream:
    def __init__(self) -> None:
        self.timeouts: list[float | None] = []
        self.closed = False

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.timeouts.append(timeout)
        return b"x"

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.timeouts.append(timeout)

    def close(self) -> None:
        self.closed = True

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        return _FakeStream()

    def get_extra_info(self, info: str) -> Any:
        return f"info:{info}"


@pytest.mark.parametrize(
    ("label", "left", "read_timeout", "expect"),
    [
        ("no deadline: httpx's timeout as it is", None, 5.0, 5.0),
        ("no deadline, no timeout", None, None, None),
        ("deadline sooner than the read timeout", 0.5, 5.0, 0.5),
        ("read timeout sooner than the deadline", 9.0, 2.0, 2.0),
        ("no read timeout: the deadline bounds", 0.5, None, 0.5),
    ],
)
def test_socket_reads_wait_at_most_until_the_deadline(label: str, left: float | None, read_timeout: float | None,
                                                      expect: float | None) -> None:
    inner = _FakeStream()
    stream = _deadline._DeadlineNetworkStream(inner)
    token = _deadline._DEADLINE.set(None if left is None else time.monotonic() + left)
    try:
        assert stream.read(10, read_timeout) == b"x"
    finally:
        _deadline._DEADLINE.reset(token)
    got = inner.timeouts[0]
    if expect is None:
        assert got is None, label
    else:
        assert got is not None and expect - 0.05 <= got <= expect, (label, got)


def test_a_read_after_the_deadline_fails_at_once_and_tls_streams_stay_wrapped() -> None:
    import httpcore

    inner = _FakeStream()
    stream = _deadline._DeadlineNetworkStream(inner)
    token = _deadline._DEADLINE.set(time.monotonic() - 0.01)
    try:
        with pytest.raises(httpcore.ReadTimeout):
            stream.read(10, 5.0)
        assert inner.timeouts == []  # the socket was not touched
        stream.write(b"GET", 1.0)  # writes are not cut (requests are small)
    finally:
        _deadline._DEADLINE.reset(token)
    tls = stream.start_tls(None, "example.invalid")
    assert isinstance(tls, _deadline._DeadlineNetworkStream)
    assert stream.get_extra_info("socket") == "info:socket"
    stream.close()
    assert inner.closed


def test_the_deadline_of_one_thread_does_not_touch_another() -> None:
    import threading

    seen: list[float | None] = []
    token = _deadline._DEADLINE.set(time.monotonic() + 0.1)
    try:
        thread = threading.Thread(target=lambda: seen.append(_deadline._DEADLINE.get()))
        thread.start()
        thread.join()
    finally:
        _deadline._DEADLINE.reset(token)
    assert seen == [None] and _deadline._DEADLINE.get() is None


def test_the_sync_client_default_transport_has_deadline_sockets_and_a_given_one_is_kept() -> None:
    with tt.Client(token=TOKEN, base_url=BASE) as client:
        transport = client._http._transport
        assert isinstance(transport._pool._network_backend, _deadline._DeadlineNetworkBackend)
    mock = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with tt.Client(token=TOKEN, base_url=BASE, transport=mock) as client:
        assert client._http._transport is mock
