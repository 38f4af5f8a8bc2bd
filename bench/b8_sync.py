"""Benchmark 8: ``store.sync(client)`` of 20 000 sessions when 1% changed, against a full listing of the same
sessions into models (``client.sessions.list(page_size=500).to_list()``), both over HTTP with 50 ms latency
(benchmark 2's server), alternated in one run. Target: the sync takes at most a tenth of the full listing."""

from __future__ import annotations

import math
import statistics
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from . import b2_list_sessions as b2
from ._server import ServerProcess
from ._util import Row, fmt_s, interleaved, timed

__all__ = ["run", "SIZES", "CHANGED", "TARGET"]

SIZES = b2.SIZES
#: Share of the sessions that change between two syncs.
CHANGED = 0.01
TARGET = 0.1
LIST_ROUTE = "GET /v2/sessions"
TRANSCRIPT = "[00:01] AI: Hello, thanks for calling.\n\n[00:04] User: Hi, I would like to hear about pricing."


def _requests(server: ServerProcess) -> int:
    counts = server.counters()["requests"]
    return int(counts.get(LIST_ROUTE, 0) + counts.get("GET /sessions", 0))


def change(server: ServerProcess, session_ids: list[str], scenario_id: str) -> str:
    """What happens on the service between two syncs: analyses arrive for ``session_ids`` (the brief's
    synchronous analyse, in both profiles; each bumps ``updated_at``), and one finished call is imported (a new
    session, so the newest service timestamp moves on as it does in an organisation in use; its analysis
    finishes in the background a moment later). Returns the imported session's id."""
    with httpx.Client(base_url=server.base_url, headers={"Authorization": "Bearer sandbox"}, timeout=60) as http:
        def analyse(sid: str) -> None:
            http.post("/sessions/analyze", json={"session_id": sid}).raise_for_status()

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(analyse, session_ids))
        answer = http.post("/v2/session", json={"scenario_id": scenario_id, "transcript": TRANSCRIPT})
        answer.raise_for_status()
        return str(answer.json()["session_id"])


def _exact(results: list[Any], batches: list[list[str]], imports: list[str]) -> bool:
    """Each sync found exactly what changed: the analysed batch as changed, the import as new; the only other
    change allowed is the previous import, whose background analysis finished after the previous sync."""
    for i, result in enumerate(results):
        extra = set(result.changed_ids) - set(batches[i])
        if (result.since is None or result.new_ids != (imports[i],) or not set(batches[i]) <= set(result.changed_ids)
                or not extra <= set(imports[:i])):
            return False
    return True


def run(size: str = "full", server: ServerProcess | None = None) -> list[Row]:
    """Alternate a full listing with a sync after 1% of the sessions changed; compare the medians."""
    import ttai_notebook as tt

    n = SIZES[size]
    repeat = 3 if size == "full" else 1
    per_run = max(1, round(n * CHANGED))
    with server or b2.prepare(size) as server, tempfile.TemporaryDirectory() as folder, \
            tt.Client(token="sandbox", base_url=server.base_url) as client, \
            tt.Store(f"{folder}/mirror.sqlite") as store:
        first_s, first = timed(lambda: store.sync(client))  # fills the store (and warms both sides)
        if first.new != n:
            raise RuntimeError(f"the first sync stored {first.new} of {n} sessions")
        pending = [s.id for s in store.sessions() if s.status == "completed" and not s.is_analyzed]
        if len(pending) < per_run * repeat:
            raise RuntimeError(f"only {len(pending)} unanalysed sessions to change, need {per_run * repeat}")
        scenario_id = store.sessions(ids=pending[:1])[0].scenario_id
        batches = [pending[i * per_run:(i + 1) * per_run] for i in range(repeat)]
        results: list[Any] = []
        requests: list[int] = []
        imports: list[str] = []

        def setup(name: str) -> None:
            if name == "sync":  # untimed: the service changes 1% of the sessions
                imports.append(change(server, batches[len(results)], scenario_id))
                requests.append(_requests(server))

        def sync() -> None:
            results.append(store.sync(client))
            requests[-1] = _requests(server) - requests[-1]

        times = interleaved({"full listing": lambda: b2.toolkit(server.base_url), "sync": sync}, repeat, setup=setup)
    listing, synced = times["full listing"].median, times["sync"].median
    ratio = synced / listing
    exact = _exact(results, batches, imports)
    notes = [
        f"{n} sessions; {per_run} ({CHANGED:.0%}) analysed on the service before each sync, plus one import "
        "(whose background analysis the next sync finds); "
        f"medians of {repeat} alternated runs: full listing {fmt_s(listing)} {_all(times['full listing'].samples)}, "
        f"sync {fmt_s(synced)} {_all(times['sync'].samples)}",
        "each sync: " + "; ".join(
            f"{r.new} new, {r.changed} changed, {r.unchanged} unchanged from {q} list request(s)"
            for r, q in zip(results, requests)
        ) + ("" if exact else "  <-- NOT the sessions that changed"),
        f"first sync (everything into an empty store file): {fmt_s(first_s)} "
        f"({first_s / listing:.2f}× the full listing: the listing plus writing {n} rows)",
        f"a sync lists only what the service updated since the high-water mark less the 2-minute overlap: "
        f"{math.ceil(statistics.mean(r.listed for r in results))} sessions on average",
    ]
    return [
        Row(
            "8",
            f"store.sync of {n} sessions, {CHANGED:.0%} changed (50 ms)",
            fmt_s(synced),
            f"full listing {fmt_s(listing)}",
            ratio,
            f"≤ {TARGET}×",
            ratio <= TARGET and exact,
            notes,
            {"full_listing": times["full listing"].samples, "sync": times["sync"].samples, "first_sync": first_s},
        )
    ]


def _all(samples: list[float]) -> str:
    return "[" + ", ".join(f"{s:.2f}" for s in samples) + "]"
