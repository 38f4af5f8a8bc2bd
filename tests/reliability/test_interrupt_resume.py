"""G3 interrupt and resume: a bulk run stopped by a real SIGINT (what Ctrl-C sends) keeps everything it
finished in the store; the rerun analyses only the rest (the sandbox's counters prove it) and nothing is
charged twice; the store file is never corrupt — also with two processes writing it at once, and with a
writer killed mid-transaction."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

import ttai_notebook as tt
from ttai_notebook.bulk import BulkInterrupted, analyze_many
from ttai_notebook.sandbox import Sandbox
from ttai_notebook.sandbox.practice import complete_session

N = 160
ANALYZE = "POST /sessions/analyze"
TRANSCRIPT = (
    "[00:00] AI: Dana speaking.\n\n"
    "[00:03] User: Hi Dana, this is Sam. The reason for my call is fuel costs. Do you have two minutes?\n\n"
    "[00:12] AI: We looked at tools like this and they were too expensive.\n\n"
    "[00:16] User: I understand. What if we compared it to the cost of doing nothing? Could we meet Tuesday?"
)


def integrity(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return ";".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def fresh_sessions(client: tt.Client, n: int) -> list[str]:
    """``n`` completed, never analysed sessions (the demo's are mostly analysed already)."""
    scenario = client.scenarios.create("Resume drill", "You are Dana, a busy fleet manager.")
    ids = []
    for i in range(n):
        link = client.sessions.create(scenario.id, user_email=f"t{i % 17}@example.com")
        complete_session(client, link.session_id, TRANSCRIPT)
        ids.append(link.session_id)
    return ids


@pytest.mark.slow
def test_ctrl_c_then_resume(tmp_path, figures) -> None:
    # The brief's synchronous analyse: a result per answered request. The post-process path's interrupt and
    # rerun (triggers remembered, never paid twice) is tests/analysis/test_bulk_post_process.py.
    box = Sandbox(seed=21, profile="brief")
    setup = tt.Client(token="sandbox", base_url=box.base_url, transport=box.transport())
    ids = fresh_sessions(setup, N)
    box.counters.reset()
    # Served over HTTP with latency, so requests are in flight at the interrupt (the sandbox still runs them).
    box.set_faults(latency=0.03, jitter=0.02)
    server = box.serve()
    client = tt.Client(token="sandbox", base_url=server.base_url)
    path = tmp_path / "resume.sqlite"
    store = tt.Store(path)

    armed = threading.Event()
    fired = threading.Event()
    checks: list[str] = []

    def on_sigint(signum, frame):  # a real SIGINT, raised as Ctrl-C would be, only while the run is going
        if armed.is_set():
            armed.clear()
            raise KeyboardInterrupt

    def watcher() -> None:
        while armed.is_set():
            if len(box.counters.analyses) >= N // 3:
                checks.append(integrity(path))  # a second connection reads the file mid-run
                fired.set()
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.005)

    previous = signal.signal(signal.SIGINT, on_sigint)
    interrupted: BulkInterrupted | None = None
    escaped = False
    thread = threading.Thread(target=watcher, daemon=True)
    try:
        armed.set()
        thread.start()
        started = time.perf_counter()
        try:
            analyze_many(client, ids, store=store, concurrency=8, progress=False)
        except BulkInterrupted as exc:
            interrupted = exc
        except KeyboardInterrupt:  # must never escape: it would stop the whole test session
            escaped = True
        first_s = time.perf_counter() - started
    finally:
        armed.clear()
        thread.join(timeout=5)
        time.sleep(0.05)  # a signal still pending meets the disarmed handler, not the default one
        signal.signal(signal.SIGINT, previous)
    assert not escaped, "the interrupt surfaced outside the bulk run"
    assert fired.is_set() and interrupted is not None, "the run finished before the interrupt"
    first = interrupted.result
    assert first.interrupted and first.remaining and not first.store_errors
    assert "resume" in str(interrupted)

    time.sleep(0.2)  # requests cut off by the stop still land on the server meanwhile
    stored = store.analyzed_ids()
    charged_first = Counter(box.counters.analyses)
    # What the store holds was finished and reported. (That everything reported as finished is also in the
    # store is test_every_reported_success_is_in_the_store_after_an_interrupt: today it is not, see there.)
    assert stored <= set(first.succeeded) <= set(ids)
    assert len(stored) >= N // 4
    assert set(stored) <= set(charged_first)
    assert checks == ["ok"] and integrity(path) == "ok"
    in_flight_lost = len(set(charged_first) - stored)  # ran on the service, answer cut off by the stop

    # The rerun asks only for the rest; what ran but was never stored comes back free of charge.
    calls_before = box.counters.requests[ANALYZE]
    reuses_before = Counter(box.counters.analysis_reuses)
    second = analyze_many(client, ids, store=store, concurrency=8, progress=False)
    assert second.ok and set(second.skipped) == stored
    assert set(second.succeeded) == set(ids) - stored
    # Sessions that ran but whose answers the stop cut off are read back (one batch read) with their results,
    # not analysed again.
    ran_unstored = set(charged_first) - stored
    assert box.counters.requests[ANALYZE] - calls_before == N - len(stored) - len(ran_unstored)
    asked_again = {sid for sid in ids if box.counters.analyses[sid] + box.counters.analysis_reuses[sid]
                   - charged_first[sid] - reuses_before[sid] > 0}
    assert asked_again == set(ids) - stored - ran_unstored, "the rerun asked for something already analysed"
    # Nothing was charged twice, over both runs.
    assert set(box.counters.analyses) == set(ids) and max(box.counters.analyses.values()) == 1
    assert store.analyzed_ids() == set(ids)
    store.close()
    client.close()
    server.close()
    assert integrity(path) == "ok"
    figures("G3 interrupt and resume", sessions=N, finished_before_ctrl_c=len(stored),
            reported_but_not_stored=len(set(first.succeeded) - stored),
            in_flight_at_ctrl_c=in_flight_lost, rerun_requests=N - len(stored) - len(ran_unstored), rerun_skipped=len(second.skipped),
            charged_twice=0, integrity="ok", first_run_s=round(first_s, 2))


class SlowStore(tt.Store):
    """A store on a slow disk: writes queue up behind the single writer thread."""

    def put_analyses(self, analyses):  # type: ignore[override]
        time.sleep(0.05)
        return super().put_analyses(analyses)


def test_every_reported_success_is_in_the_store_after_an_interrupt(figures) -> None:
    client = tt.Client.sandbox(seed=2, profile="brief")  # forced v1 analyses
    box = client.sandbox_instance
    ids = [s.id for s in box.state.sessions.values() if s.status == "completed"][:40]
    store = SlowStore()
    seen = []

    def progress(event) -> None:
        seen.append(event)
        if len(seen) == 5:
            raise KeyboardInterrupt  # as Ctrl-C inside the progress callback

    with pytest.raises(BulkInterrupted) as info:
        analyze_many(client, ids, force=True, store=store, concurrency=8, progress=progress)
    reported, stored = set(info.value.result.succeeded), store.analyzed_ids()
    figures("G3 interrupt and resume", slow_store_reported=len(reported), slow_store_stored=len(stored))
    assert reported <= stored, f"{len(reported - stored)} reported as done but not stored"


async def test_cancelled_async_run_keeps_what_finished(tmp_path) -> None:
    import asyncio

    from ttai_notebook.bulk import analyze_many_async

    client = tt.Client.sandbox(seed=22, profile="brief")  # forced v1 analyses
    box = client.sandbox_instance
    ids = fresh_sessions(client, 60)
    box.set_faults(latency=0.02)
    store = tt.Store(tmp_path / "async.sqlite")
    task = asyncio.ensure_future(analyze_many_async(client, ids, store=store, concurrency=4, progress=False))
    while len(box.counters.analyses) < 15:
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises((asyncio.CancelledError, BulkInterrupted)) as info:
        await task
    stored = store.analyzed_ids()
    assert 0 < len(stored) < len(ids)
    if isinstance(info.value, BulkInterrupted):
        assert set(info.value.result.succeeded) == stored
    second = await analyze_many_async(client, ids, store=store, concurrency=4, progress=False)
    assert set(second.skipped) == stored and set(second.succeeded) == set(ids) - stored
    assert max(box.counters.analyses.values()) == 1
    store.close()
    assert integrity(tmp_path / "async.sqlite") == "ok"


# --------------------------------------------------------------------------------------------------
# Two processes writing one store; a writer killed mid-transaction
# --------------------------------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys, time, random
    from ttai_notebook.store import Store
    from ttai_notebook.models import Analysis, Session
    path, tag, start, count, forever = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
    store = Store(path)
    rng = random.Random(tag)
    print("ready", flush=True)
    sys.stdin.readline()  # start together with the other writer
    n = 0
    while True:
        for first in range(start, start + count, 10):
            batch = range(first, min(first + 10, start + count))
            store.put_analyses({f"s{i:05d}": Analysis.from_api(
                {"overall_score": rng.randint(0, 100), "strengths": [f"{tag} strength {i}"],
                 "improvements": ["x" * 2000]}, session_id=f"s{i:05d}") for i in batch})
            store.put_sessions([Session.from_api({"id": f"s{i:05d}", "status": "completed",
                                                  "finalized_transcript": tag * 500}) for i in batch])
            n += len(batch)
        if not forever:
            break
    print("wrote", n, flush=True)
""")


def _writer(path: Path, tag: str, start: int, count: int, forever: bool = False) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag, str(start), str(count), "1" if forever else "0"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    return proc


@pytest.mark.slow
def test_two_processes_and_a_killed_writer(tmp_path, figures) -> None:
    path = tmp_path / "shared.sqlite"
    tt.Store(path).close()
    a = _writer(path, "A", 0, 1000)
    b = _writer(path, "B", 800, 1000)  # 200 ids overlap: last writer wins, never a torn row
    for proc in (a, b):
        proc.stdin.write("go\n")
        proc.stdin.flush()
    reads = 0
    with tt.Store(path) as reader:
        while a.poll() is None or b.poll() is None:
            reader.analyses()  # reading meanwhile, from a third connection
            reads += 1
            time.sleep(0.01)
    for proc in (a, b):
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert out.strip() == "wrote 1000", out
    assert integrity(path) == "ok"
    conn = sqlite3.connect(path)
    spans = {tag: conn.execute("SELECT min(stored_at), max(stored_at) FROM sessions WHERE raw LIKE ?",
                               (f'%"{tag * 20}%',)).fetchone() for tag in "AB"}
    conn.close()
    overlap = min(spans["A"][1], spans["B"][1]) - max(spans["A"][0], spans["B"][0])
    assert overlap > 0, f"the two writers did not write at the same time: {spans}"
    with tt.Store(path) as store:
        analyses = store.analyses()
        assert set(analyses) == {f"s{i:05d}" for i in range(1800)}
        for sid, analysis in analyses.items():
            tag = analysis.strengths[0].split()[0]
            assert analysis.strengths == (f"{tag} strength {int(sid[1:])}",)
        sessions = store.sessions()
        assert len(sessions) == 1800 and all(s.transcript in ("A" * 500, "B" * 500) for s in sessions)

    killed = _writer(path, "K", 5000, 300, forever=True)
    killed.stdin.write("go\n")
    killed.stdin.flush()
    time.sleep(0.4)
    killed.send_signal(signal.SIGKILL)  # mid-transaction, most likely
    killed.wait(timeout=10)
    for stream in (killed.stdin, killed.stdout, killed.stderr):
        stream.close()
    assert integrity(path) == "ok"
    with tt.Store(path) as store:
        after = store.analyses()
        assert set(after) >= {f"s{i:05d}" for i in range(1800)}
        assert all(a.score is not None for a in after.values())
        committed = len(after) - 1800
        assert committed % 10 == 0, "a batch was half-written"
    figures("G3 interrupt and resume", writers=2, rows_written=2000, overlapping_ids=200, concurrent_reads=reads,
            writers_overlap_s=round(overlap, 2),
            killed_writer_committed_rows=committed, integrity_after_kill="ok")
