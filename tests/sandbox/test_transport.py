"""The in-process transport: one object for sync and async clients, thread-safe state, no network."""
from __future__ import annotations

import asyncio
import threading

import httpx

from ttai_notebook.sandbox import TRANSPORT_BASE_URL, Sandbox

from .helpers import make_http


def test_one_object_serves_sync_and_async_clients():
    box = Sandbox()
    transport = box.transport()
    assert isinstance(transport, httpx.BaseTransport) and isinstance(transport, httpx.AsyncBaseTransport)
    assert box.transport() is transport and box.base_url == TRANSPORT_BASE_URL
    with httpx.Client(transport=transport, base_url=box.base_url) as c:
        sync_id = c.post("/scenarios", json={"name": "sync", "ai_instructions": "i"}).json()["id"]

    async def run() -> str:
        async with httpx.AsyncClient(transport=transport, base_url=box.base_url) as ac:
            r = await ac.get(f"/scenarios/{sync_id}")  # the async client sees what the sync one made
            assert r.json()["name"] == "sync"
            return (await ac.post("/scenarios", json={"name": "async", "ai_instructions": "i"})).json()["id"]

    async_id = asyncio.run(run())
    assert {sync_id, async_id} <= set(box.state.scenarios)


def test_concurrent_threads_lose_nothing_and_duplicate_nothing():
    box = Sandbox()
    ids: list[str] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        with make_http(box) as c:
            for i in range(10):
                r = c.post("/scenarios", json={"name": f"w{k}-{i}", "ai_instructions": "i"})
                assert r.status_code == 200
                with lock:
                    ids.append(r.json()["id"])

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == len(set(ids)) == 160
    assert box.counters.creates["scenario"] == 160 and len(box.state.scenarios) == 165


async def test_concurrent_async_analyses_charge_once_each():
    box = Sandbox()
    unanalysed = [s.id for s in box.state.sessions.values() if s.status == "completed" and not s.analyzed][:10]
    async with httpx.AsyncClient(transport=box.transport(), base_url=box.base_url) as c:
        results = await asyncio.gather(*(c.post("/sessions/analyze", json={"session_id": sid})
                                         for sid in unanalysed * 3))
    assert all(r.status_code == 200 for r in results)
    assert box.counters.total_analyses == 10 and set(box.counters.analyses.values()) == {1}
    assert box.state.available_minutes == 100_000 - 10


def test_query_strings_and_encoded_paths():
    box = Sandbox()
    with make_http(box) as c:
        assert c.get("/v2/sessions", params={"user_email": "nobody+tag@example.com"}).json()["sessions"] == []
        box.profile = "brief"
        assert c.get("/sessions", params={"user_email": "nobody+tag@example.com"}).json()["sessions"] == []
        assert c.get("/sessions/a%20b").status_code == 404
        assert "a b" in c.get("/sessions/a%20b").json()["error"]


def test_the_request_id_is_returned():
    box = Sandbox()
    with make_http(box) as c:
        first, second = c.get("/balance"), c.get("/balance")
    assert first.headers["x-request-id"] == "req_sbx_00000001" and second.headers["x-request-id"] == "req_sbx_00000002"
