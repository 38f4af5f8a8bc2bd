"""Benchmark 2: listing 20 000 sessions into models (page size 500, 50 ms server latency) against a plain
sequential httpx loop over the same pages that only decodes the JSON."""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

import httpx

from ._server import ServerProcess
from ._util import Row, fmt_s, interleaved, timed

__all__ = ["run", "SIZES"]

#: sessions in the organisation, per size
SIZES = {"full": 20_000, "tiny": 600}
PAGE = 500
LATENCY = 0.05
TARGET = 0.8


def plain_loop(base_url: str) -> int:
    """The baseline: one page after another, JSON decoded, nothing else."""
    count = 0
    with httpx.Client(base_url=base_url, headers={"Authorization": "Bearer sandbox"}, timeout=60) as http:
        page = 1
        while True:
            body = http.get("/v2/sessions", params={"page": page, "limit": PAGE}).json()  # the route the client lists through
            count += len(body["sessions"])
            if not body["page_meta"]["has_next"]:
                return count
            page += 1


def toolkit(base_url: str, **options: Any) -> list[Any]:
    """The candidate: ``client.sessions.list(page_size=500)`` into :class:`Session` models."""
    import ttai_notebook as tt

    with tt.Client(token="sandbox", base_url=base_url) as client:
        return client.sessions.list(page_size=PAGE, **options).to_list()


def _model_cpu(items: list[Any]) -> float:
    """CPU seconds of ``Session.from_api`` over the listed items, GC paused as the client does."""
    import gc

    from ttai_notebook.models import Session

    gc.disable()
    try:
        start = time.process_time()
        for item in items:
            Session.from_api(item)
        return time.process_time() - start
    finally:
        gc.enable()


def _pages_requested(server: ServerProcess) -> int:
    return int(server.counters()["requests"].get("GET /v2/sessions", 0))


def prepare(size: str = "full") -> ServerProcess:
    """Start this benchmark's server without waiting: building and warming 20 000 sessions takes ~15 s of one
    core, which ``python -m bench`` overlaps with benchmarks that use only the other core."""
    return ServerProcess(sessions=SIZES[size], warm=True, latency=LATENCY).start(wait=False)


def run(size: str = "full", server: ServerProcess | None = None) -> list[Row]:
    """Time the toolkit's listing against the plain loop, alternated; check it never over-fetches."""
    n = SIZES[size]
    repeat = 3 if size == "full" else 1
    with server or prepare(size) as server:
        url = server.base_url
        sessions = toolkit(url)  # also a warm-up of connections and code paths
        assert len(sessions) == n and len({s.id for s in sessions}) == n, "the listing lost or repeated sessions"
        analysed = sum(1 for s in sessions if s.analysis is not None)
        cpu: dict[str, list[float]] = {"plain": [], "toolkit": []}

        def with_cpu(name: str, fn: Any) -> Any:
            def call() -> None:
                start = time.process_time()  # this process only: the server runs in its own
                fn()
                cpu[name].append(time.process_time() - start)

            return call

        times = interleaved(
            {"plain": with_cpu("plain", lambda: plain_loop(url)), "toolkit": with_cpu("toolkit", lambda: toolkit(url))},
            repeat,
        )
        seq, _ = timed(lambda: toolkit(url, prefetch=False))  # once: how much the concurrent pages bring
        models_cpu = _model_cpu([s.raw for s in sessions])  # the service's own dicts, as received
        # "never past what max_items needs": count the page requests the server saw.
        limit = n // 2 + 17
        before = _pages_requested(server)
        got = len(toolkit(url, max_items=limit))
        pages = _pages_requested(server) - before
        needed = math.ceil(limit / PAGE)
    plain, ours = times["plain"].median, times["toolkit"].median
    ratio = ours / plain
    notes = [
        f"{n} sessions ({analysed} with analyses) in {math.ceil(n / PAGE)} pages; medians of {repeat} alternated runs: "
        f"plain loop {fmt_s(plain)} {_all(times['plain'].samples)}, toolkit (prefetch=True) {fmt_s(ours)} "
        f"{_all(times['toolkit'].samples)}; once with prefetch=False (pages one by one) {fmt_s(seq)} "
        f"({seq / plain:.2f}×)",
        f"client CPU per run (median): toolkit {fmt_s(statistics.median(cpu['toolkit']))}, plain loop "
        f"{fmt_s(statistics.median(cpu['plain']))}; Session.from_api alone for the {n} decoded items: "
        f"{fmt_s(models_cpu)} CPU — with the server in its own process, the toolkit is bound by its own CPU, "
        f"not by latency (pages × latency ÷ 4 in flight = {fmt_s(math.ceil(n / PAGE) * LATENCY / 4)})",
        f"server built and warmed in a child process before timing ({server.startup['warm_s']:.1f} s of lazy "
        "demo analyses)",
        f"max_items={limit}: {got} sessions from {pages} page requests (needed {needed})"
        + ("" if pages == needed and got == limit else "  <-- OVER-FETCH or short result"),
    ]
    return [
        Row(
            "2",
            f"list {n} sessions into models (page 500, 50 ms)",
            fmt_s(ours),
            f"plain httpx loop {fmt_s(plain)}",
            ratio,
            f"≤ {TARGET}×",
            ratio <= TARGET and pages == needed and got == limit,
            notes,
            {"plain": times["plain"].samples, "toolkit": times["toolkit"].samples, "pages_for_max_items": pages},
        )
    ]


def _all(samples: list[float]) -> str:
    return "[" + ", ".join(f"{s:.2f}" for s in samples) + "]"
