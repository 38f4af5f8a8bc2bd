"""The real HTTP server on 127.0.0.1: keep-alive, bursts of connections, non-blocking latency,
clients that vanish mid-request, malformed input, 413, dropped connections, shutdown."""
from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
from .helpers import local_client

from ttai_notebook.sandbox import Sandbox


def _raw(port: int, payload: bytes, *, read: bool = True, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        if not read:
            return b""
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_serves_on_loopback_and_closes_cleanly():
    box = Sandbox()
    with box.serve() as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/api/public" and server.running
        assert "127.0.0.1" in repr(server)
        assert httpx.get(server.base_url + "/balance").json()["available_minutes"] == 100000
    assert not server.running
    server.close()  # twice is fine
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base_url + "/balance", timeout=1)


def test_keep_alive_reuses_one_connection():
    with Sandbox().serve() as server, local_client(server.base_url) as c:
        for _ in range(25):
            assert c.get("/balance").status_code == 200
        assert server.connections_total == 1


def test_http_1_0_and_connection_close_are_honoured():
    with Sandbox().serve() as server:
        reply = _raw(server.port, b"GET /api/public/balance HTTP/1.0\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 200") and b"available_minutes" in reply  # then the server closed
        reply = _raw(server.port, b"GET /api/public/balance HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 200")


def test_a_burst_of_many_short_connections_does_not_stall():
    with Sandbox().serve() as server:
        sockets = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(200)]
        try:
            for s in sockets:  # all connected before any request is sent
                s.sendall(b"GET /api/public/balance HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            replies = []
            for s in sockets:
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
                replies.append(data)
        finally:
            for s in sockets:
                s.close()
        assert all(r.startswith(b"HTTP/1.1 200") for r in replies)
        assert server.connections_total == 200


def test_64_concurrent_keep_alive_clients():
    box = Sandbox()
    errors: list[BaseException] = []
    with box.serve() as server:
        ids = [s.id for s in box.state.list_sessions(limit=64)[0]]
        barrier = threading.Barrier(64)

        def client(k: int) -> None:
            try:
                with local_client(server.base_url) as c:
                    barrier.wait()
                    for _ in range(5):
                        assert c.get(f"/sessions/{ids[k]}").status_code == 200
            except BaseException as exc:  # collected and reported below
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(64)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    assert not errors, errors[:3]
    assert box.counters.executed["GET /sessions/{id}"] == 320
    print(f"\n64 clients x 5 requests in {elapsed:.2f} s")


def test_latency_does_not_block_other_requests():
    box = Sandbox(latency=0.4)
    with box.serve() as server:
        times: list[float] = []

        def call() -> None:
            with local_client(server.base_url) as c:
                started = time.perf_counter()
                assert c.get("/balance").status_code == 200
                times.append(time.perf_counter() - started)

        threads = [threading.Thread(target=call) for _ in range(8)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = time.perf_counter() - started
    assert min(times) >= 0.4
    assert total < 1.5  # eight 0.4 s requests overlapped (serially they would take 3.2 s)


def test_clients_that_leave_mid_request_do_not_hurt_the_server():
    box = Sandbox()
    with box.serve() as server:
        port = server.port
        _raw(port, b"", read=False)  # connect and leave
        _raw(port, b"GET /api/public/bal", read=False)  # half a request line
        _raw(port, b"POST /api/public/scenarios HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"name\"",
             read=False)  # half a body
        _raw(port, b"GET /api/public/balance HTTP/1.1\r\nHost: x\r\n\r\n", read=False)  # leaves before the answer
        deadline = time.time() + 5
        while server.protocol_errors < 2 and time.time() < deadline:
            time.sleep(0.02)
        assert server.protocol_errors >= 2
        with local_client(server.base_url) as c:
            assert c.get("/balance").status_code == 200
        assert box.counters.creates["scenario"] == 0 and server.running


def test_malformed_requests_get_400_and_the_server_keeps_serving():
    with Sandbox().serve() as server:
        reply = _raw(server.port, b"THIS IS NOT HTTP\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 400")
        reply = _raw(server.port, b"GET /api/public/balance HTTP/1.1\r\nBad Header Line\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 400")
        assert httpx.get(server.base_url + "/balance").status_code == 200


def test_413_for_declared_and_chunked_bodies():
    box = Sandbox(max_body_bytes=10_000)
    with box.serve() as server, local_client(server.base_url) as c:
        r = c.post("/scenarios", content=b"x" * 50_000, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["details"] == {"limit": 10_000, "size": 50_000}

        def chunks():
            for _ in range(20):
                yield b"y" * 4_000

        r = c.post("/scenarios", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and "too large" in r.json()["error"]
        assert c.get("/balance").status_code == 200
    assert box.counters.creates["scenario"] == 0 and box.counters.responses[413] == 2


def test_dropped_connections_over_http():
    box = Sandbox()
    box.fail_next(route="POST /scenarios", drop=True)
    with box.serve() as server, local_client(server.base_url) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.post("/scenarios", json={"name": "n", "ai_instructions": "i"})
        assert c.get("/balance").status_code == 200
    assert box.counters.creates["scenario"] == 1 and box.counters.drops == 1


def test_concurrency_cap_over_http():
    box = Sandbox(latency=0.4, concurrency_cap=2)
    statuses: list[int] = []
    with box.serve() as server:
        barrier = threading.Barrier(6)

        def call() -> None:
            with local_client(server.base_url) as c:
                barrier.wait()
                statuses.append(c.get("/balance").status_code)

        threads = [threading.Thread(target=call) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(statuses) == [200, 200, 429, 429, 429, 429]


def test_a_taken_port_is_a_clear_error():
    with Sandbox().serve() as server:
        with pytest.raises(RuntimeError, match=f"could not start on 127.0.0.1:{server.port}"):
            Sandbox().serve(port=server.port)


def test_throughput_smoke():
    # The real figure comes from the benchmark; this only guards against a stalled server.
    box = Sandbox()
    with box.serve() as server:
        ids = [s.id for s in box.state.list_sessions(limit=100)[0]]
        done = []

        def client(k: int) -> None:
            with local_client(server.base_url) as c:
                for i in range(40):
                    c.get(f"/sessions/{ids[(k * 7 + i) % len(ids)]}")
                    done.append(1)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rate = len(done) / (time.perf_counter() - started)
    print(f"\n16 keep-alive clients: {rate:.0f} requests/s (client and server in one process)")
    assert len(done) == 640 and rate > 100
