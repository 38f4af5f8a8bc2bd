"""Fault injection and counters: latency, 429 with Retry-After, 5xx, dropped connections, the
concurrency cap, forced one-shot failures; seeded; and counts of what really executed."""
from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest
from .helpers import complete, first_scenario_id, make_http, new_session

from ttai_notebook.sandbox import Sandbox
from ttai_notebook.sandbox.app import Reply
from ttai_notebook.sandbox.faults import FaultConfig

NEW = {"name": "n", "ai_instructions": "i"}


def test_latency_in_sync_clients():
    box = Sandbox(latency=0.15)
    with make_http(box) as c:
        started = time.perf_counter()
        assert c.get("/balance").status_code == 200
        assert time.perf_counter() - started >= 0.15
        started = time.perf_counter()
        c.get("/sandbox/counters")  # control routes are not slowed down
        assert time.perf_counter() - started < 0.1


async def test_latency_in_async_clients_does_not_block_other_requests():
    box = Sandbox(latency=0.3)
    async with httpx.AsyncClient(transport=box.transport(), base_url=box.base_url) as c:
        started = time.perf_counter()
        results = await asyncio.gather(*(c.get("/balance") for _ in range(6)))
        elapsed = time.perf_counter() - started
    assert all(r.status_code == 200 for r in results)
    assert 0.3 <= elapsed < 0.9  # six requests waited together, not one after another (1.8 s)


def _delays(box, n=6):
    out = []
    for _ in range(n):
        ticket = box.app.admit("GET", "/api/public/balance", "", {}, b"")
        assert not isinstance(ticket, Reply)
        out.append(ticket.delay)
        box.app.release(ticket)
    return out


def test_jitter_is_seeded_and_bounded():
    a, b, other = Sandbox(seed=1, latency=0.1, jitter=0.05), Sandbox(seed=1, latency=0.1, jitter=0.05), Sandbox(
        seed=2, latency=0.1, jitter=0.05)
    da = _delays(a)
    assert da == _delays(b) and da != _delays(other)
    assert all(0.1 <= d <= 0.15 for d in da) and len(set(da)) > 1


def test_random_429_carries_retry_after_and_executes_nothing():
    box = Sandbox(rate_429=1.0, retry_after=2)
    with make_http(box) as c:
        r = c.post("/scenarios", json=NEW)
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    assert "Rate limit" in r.json()["error"]
    assert box.counters.creates["scenario"] == 0 and box.counters.executed["POST /scenarios"] == 0
    assert box.counters.injected_429 == 1 and box.counters.requests["POST /scenarios"] == 1


def test_random_5xx_executes_nothing():
    box = Sandbox(rate_5xx=1.0, dialect="spec")
    with make_http(box) as c:
        statuses = {c.post("/scenarios", json=NEW).status_code for _ in range(12)}
    assert statuses <= {500, 502, 503} and len(statuses) > 1
    assert box.counters.creates["scenario"] == 0 and box.counters.injected_5xx == 12


def test_a_dropped_connection_executes_then_raises():
    box = Sandbox(rate_drop=1.0)
    with make_http(box) as c:
        with pytest.raises(httpx.RemoteProtocolError, match="Server disconnected without sending a response."):
            c.post("/scenarios", json=NEW)
    assert box.counters.creates["scenario"] == 1 and box.counters.drops == 1
    assert box.counters.executed["POST /scenarios"] == 1 and sum(box.counters.responses.values()) == 0


async def test_a_dropped_connection_in_async_clients():
    box = Sandbox()
    box.fail_next(route="POST /scenarios", drop=True)
    async with httpx.AsyncClient(transport=box.transport(), base_url=box.base_url) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            await c.post("/scenarios", json=NEW)
        assert (await c.post("/scenarios", json=NEW)).status_code == 200
    assert box.counters.creates["scenario"] == 2 and box.counters.drops == 1


def _pattern(seed):
    box = Sandbox(seed=seed, rate_429=0.3, rate_5xx=0.2)
    with make_http(box) as c:
        return [c.get("/balance").status_code for _ in range(40)]


def test_fault_randomness_is_seeded():
    first = _pattern(11)
    assert first == _pattern(11) and first != _pattern(12)
    assert {200, 429} <= set(first)


def test_concurrency_cap_answers_429_above_the_cap():
    box = Sandbox(latency=0.4, concurrency_cap=2, retry_after=3)
    barrier = threading.Barrier(5)
    statuses: list[int] = []
    lock = threading.Lock()

    def call():
        with make_http(box) as c:
            barrier.wait()
            r = c.get("/balance")
            with lock:
                statuses.append(r.status_code)
                if r.status_code == 429:
                    assert r.headers["retry-after"] == "3" and "limit is 2" in r.json()["error"]

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 200, 429, 429, 429]
    assert box.counters.injected["concurrency"] == 3 and box.counters.executed["GET /balance"] == 2
    with make_http(box) as c:
        assert c.get("/balance").status_code == 200  # slots were released


async def test_concurrency_cap_in_async_clients():
    box = Sandbox(latency=0.3, concurrency_cap=3)
    async with httpx.AsyncClient(transport=box.transport(), base_url=box.base_url) as c:
        results = await asyncio.gather(*(c.get("/balance") for _ in range(7)))
    assert sorted(r.status_code for r in results) == [200] * 3 + [429] * 4


@pytest.mark.parametrize("route", ["POST /scenarios", "/scenarios", "POST /api/public/scenarios", None])
def test_fail_next_route_forms(route):
    box = Sandbox()
    box.fail_next(503, route=route)
    with make_http(box) as c:
        if route is not None:
            assert c.get("/scenarios").status_code == (503 if route == "/scenarios" else 200)
        if route == "/scenarios":
            return
        r = c.post("/scenarios", json=NEW)
        assert r.status_code == 503 and "forced" in r.json()["error"]
        assert c.post("/scenarios", json=NEW).status_code == 200  # one shot
    assert box.counters.injected["forced"] == 1 and box.counters.creates["scenario"] == 1


def test_fail_next_counts_patterns_and_concrete_paths():
    box = Sandbox()
    with make_http(box) as c:
        sid = first_scenario_id(c)
        box.fail_next(404, route="GET /scenarios/{id}", count=2)
        assert [c.get(f"/scenarios/{sid}").status_code for _ in range(3)] == [404, 404, 200]
        box.fail_next(500, route=f"/scenarios/{sid}")
        assert c.get("/scenarios/other").status_code == 404  # a real 404: unknown id
        assert c.get(f"/scenarios/{sid}").status_code == 500
        box.fail_next(429, route="GET /balance")
        r = c.get("/balance")
        assert r.status_code == 429 and r.headers["retry-after"] == "1"


def test_fail_next_after_execute_and_drop():
    box = Sandbox()
    with make_http(box) as c:
        box.fail_next(500, route="POST /v2/sessions", after_execute=True)
        r = c.post("/v2/sessions", json={"scenario_id": first_scenario_id(c)})
        assert r.status_code == 500 and "after the request took effect" in r.json()["error"]
        assert box.counters.creates["session"] == 1
        sid = new_session(c)
        box.fail_next(route="POST /sessions/analyze", drop=True)
        complete(c, sid)
        with pytest.raises(httpx.RemoteProtocolError):
            c.post("/sessions/analyze", json={"session_id": sid})
        assert box.counters.analyses[sid] == 1 and box.counters.drops == 1
        r = c.post("/sessions/analyze", json={"session_id": sid})  # the retry finds the result: no second charge
        assert r.status_code == 200 and box.counters.analyses[sid] == 1 and box.counters.analysis_reuses[sid] == 1


def test_a_catch_all_forced_fault_leaves_the_control_routes_alone():
    box = Sandbox()
    with make_http(box) as c:
        sid = new_session(c)
        box.fail_next(500)
        assert complete(c, sid).status_code == 200
        assert c.get("/balance").status_code == 500
        box.fail_next(500, route="/sandbox/counters")
        assert c.get("/sandbox/counters").status_code == 500


def test_fault_settings_change_and_validate():
    box = Sandbox()
    cfg = box.set_faults(rate_429=0.5, retry_after=1.5)
    assert cfg == box.faults and cfg.rate_429 == 0.5 and cfg.retry_after_header == "1.5"
    assert box.set_faults(latency=0.01).rate_429 == 0.5  # unspecified settings are kept
    with pytest.raises(TypeError, match="unknown fault setting"):
        box.set_faults(rate_404=1)
    for bad in ({"rate_429": 1.5}, {"latency": -1}, {"concurrency_cap": 0}, {"rate_drop": "often"},
                {"retry_after": True}):
        with pytest.raises(ValueError):
            box.set_faults(**bad)
    with pytest.raises(ValueError):
        Sandbox(rate_5xx=-0.1)
    for bad_kwargs in ({"status": 200}, {"count": 0}, {"route": " "}):
        with pytest.raises(ValueError):
            box.fail_next(**bad_kwargs)
    assert FaultConfig().retry_after_header == "1"


def test_counters_track_requests_executions_and_responses():
    box = Sandbox(token="t")
    with make_http(box) as c:
        c.get("/balance")  # 401: received, not executed
        c.headers["authorization"] = "Bearer t"
        sid = first_scenario_id(c)
        c.get(f"/scenarios/{sid}")
        c.get("/scenarios/nope")
        c.get("/nowhere")
        c.put("/balance")
    n = box.counters
    assert n.requests["GET /balance"] == 1 and n.executed["GET /balance"] == 0
    assert n.requests["GET /scenarios/{id}"] == 2 and n.executed["GET /scenarios/{id}"] == 2
    assert n.requests["GET (no route)"] == 1 and n.requests["PUT (no route)"] == 1
    assert n.responses[401] == 1 and n.responses[404] == 2 and n.responses[405] == 1 and n.responses[200] == 2
    snap = n.snapshot()
    assert json.loads(json.dumps(snap)) == snap
    assert "Counters(" in repr(n)
    box.reset()
    assert sum(box.counters.requests.values()) == 0


def test_reset_keeps_settings_but_clears_forced_failures():
    box = Sandbox(latency=0.01)
    box.fail_next(500, count=3)
    box.reset()
    assert box.faults.latency == 0.01 and box.app.faults.pending == 0


def test_sandbox_arguments_are_checked_and_the_token_never_shows():
    with pytest.raises(ValueError, match="dialect must be one of 'documented', 'spec'"):
        Sandbox(dialect="openapi")
    with pytest.raises(ValueError):
        Sandbox(token="")
    with pytest.raises(ValueError):
        Sandbox(read_only_tokens="abc")
    with pytest.raises(ValueError):
        Sandbox(max_body_bytes=0)
    with pytest.raises(TypeError):
        Sandbox(seed="1")
    box = Sandbox(token="very-secret-token")
    assert "very-secret-token" not in repr(box) and "token=required" in repr(box)
    box.dialect = "spec"
    assert box.dialect == "spec"
    with pytest.raises(ValueError):
        box.dialect = "nope"
