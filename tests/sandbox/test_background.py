"""Background work on the sandbox clock: the clock and queue themselves, and post-process through the routes —
immediate, delayed (auto clock moved by ``advance``), manual; charges on every call; re-runs overwrite."""
from __future__ import annotations

import time

import httpx
import pytest

from ttai_notebook.sandbox import Sandbox
from ttai_notebook.sandbox.background import BackgroundClock, JobQueue
from ttai_notebook.sandbox.clock import parse_ts

from .helpers import make_http, new_session


def test_manual_clock_moves_only_on_advance():
    clock = BackgroundClock("manual")
    assert clock.now() == 0.0
    clock.advance(1.5)
    clock.advance(0)
    assert clock.now() == 1.5
    clock.reset()
    assert clock.now() == 0.0
    with pytest.raises(ValueError, match="seconds"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="background must be"):
        BackgroundClock("sometimes")


def test_auto_clock_follows_monotonic_time_plus_the_offset():
    clock = BackgroundClock("auto")
    before = time.monotonic()
    clock.advance(100)
    assert before + 100 <= clock.now() <= time.monotonic() + 100


def test_job_queue_pops_due_jobs_in_order():
    queue = JobQueue()
    queue.push(2.0, "analysis", "b")
    queue.push(1.0, "analysis", "a")
    queue.push(2.0, "extraction", "b")
    assert len(queue) == 3 and queue.next_due() == 1.0 and queue.pending_for("b") == 2
    assert queue.pop_due(0.5) == []
    assert [(j.session_id, j.kind) for j in queue.pop_due(2.0)] == [("a", "analysis"), ("b", "analysis"),
                                                                    ("b", "extraction")]
    assert not queue and queue.next_due() is None


def completed_unanalysed(box: Sandbox, n: int = 1) -> list[str]:
    return [s.id for s in box.state._order if s.status == "completed" and not s.analyzed][:n]


def post_process(c: httpx.Client, sid: str, **body: bool) -> httpx.Response:
    return c.post(f"/v2/sessions/{sid}/post-process", json=body or {"run_analysis": True})


def test_immediate_processing():
    box = Sandbox(processing_time=0)
    (sid,) = completed_unanalysed(box)
    with make_http(box) as c:
        assert post_process(c, sid).json() == {"ok": True}
        assert box.pending_jobs == 0
        assert c.get(f"/sessions/{sid}").json()["evaluation_results"]["report_card"]


def test_delayed_processing_on_the_auto_clock():
    box = Sandbox()  # the default: a short real delay
    assert box.processing_time == 1.5 and box.background == "auto"
    (sid,) = completed_unanalysed(box)
    with make_http(box) as c:
        post_process(c, sid)
        assert box.pending_jobs == 1
        assert c.get(f"/sessions/{sid}").json()["evaluation_results"] is None  # still running
        box.advance(1.0)
        assert c.get(f"/sessions/{sid}").json()["evaluation_results"] is None
        box.advance(0.6)  # due now: the next read finishes it
        assert c.get(f"/sessions/{sid}").json()["evaluation_results"] is not None
        assert box.pending_jobs == 0 and box.counters.jobs_done["analysis"] == 1


def test_auto_clock_really_runs_out_without_advance():
    box = Sandbox(processing_time=0.05)
    (sid,) = completed_unanalysed(box)
    with make_http(box) as c:
        post_process(c, sid)
        time.sleep(0.08)
        assert c.get(f"/sessions/{sid}").json()["evaluation_results"] is not None


@pytest.mark.parametrize("read", ["get", "batch", "list"])
def test_manual_clock_results_appear_on_every_read_once_due(read):
    box = Sandbox(background="manual", processing_time=3)
    (sid,) = completed_unanalysed(box)

    def fetch(c: httpx.Client) -> dict:
        if read == "get":
            return c.get(f"/sessions/{sid}").json()
        if read == "batch":
            return c.get("/v2/sessions/batch", params={"session_ids": sid}).json()["sessions"][0]
        return next(s for s in c.get("/v2/sessions", params={"limit": 100}).json()["sessions"] if s["id"] == sid)

    with make_http(box) as c:
        assert fetch(c)["evaluation_results"] is None
        post_process(c, sid)
        time.sleep(0.01)
        assert fetch(c)["evaluation_results"] is None and box.pending_jobs == 1  # manual: wall time does nothing
        box.state.background.advance(3)  # the clock alone, no eager apply: the read itself must finish the job
        assert fetch(c)["evaluation_results"] is not None
        assert box.pending_jobs == 0


def test_post_process_charges_on_every_call_and_reruns_overwrite():
    box = Sandbox(background="manual")
    sid = next(s.id for s in box.state._order if s.analyzed)
    with make_http(box) as c:
        before = c.get(f"/sessions/{sid}").json()
        for k in range(3):
            assert post_process(c, sid).status_code == 200
            assert box.counters.analyses[sid] == k + 1  # charged at once, every call
        assert c.get("/balance").json()["available_minutes"] == 100_000 - 3
        assert c.get(f"/sessions/{sid}").json() == before  # old results stay until the re-run finishes
        # the re-run writes results from the transcript it has now
        box.state.sessions[sid].transcript = box.state.sessions[sid].get_transcript().split("\n\n")[0]
        box.advance(box.processing_time)
        after = c.get(f"/sessions/{sid}").json()
        assert after["evaluation_results"] != before["evaluation_results"]
        assert parse_ts(after["updated_at"]) > parse_ts(before["updated_at"])
        assert parse_ts(after["last_evaluated_at"]) > parse_ts(before["last_evaluated_at"])
        assert box.counters.jobs_done["analysis"] == 3 and box.counters.post_processes[sid] == 3


def test_extraction_only_is_not_charged_and_bumps_updated_at():
    box = Sandbox(processing_time=0)
    (sid,) = completed_unanalysed(box)
    with make_http(box) as c:
        before = c.get("/v2/sessions/batch", params={"session_ids": sid}).json()["sessions"][0]
        assert post_process(c, sid, run_extraction=True).status_code == 200
        detail = c.get(f"/sessions/{sid}").json()
        assert detail["extraction_results"] == {} and detail["evaluation_results"] is None
        assert parse_ts(detail["updated_at"]) > parse_ts(box.state.sessions[sid].created_at.isoformat())
        assert box.counters.total_analyses == 0 and box.state.available_minutes == 100_000
        assert post_process(c, sid, run_analysis=False, run_extraction=False).status_code == 200
        assert box.pending_jobs == 0
        assert before["extraction_results"] is None


@pytest.mark.parametrize("dialect", ["documented", "spec"])
def test_post_process_refusals(dialect):
    box = Sandbox(dialect=dialect, background="manual")
    running = next(s.id for s in box.state._order if s.status == "in_progress")
    terminated = next(s.id for s in box.state._order if s.status == "terminated")
    (ok,) = completed_unanalysed(box)

    def message(r: httpx.Response) -> str:
        body = r.json()
        return body["detail"] if dialect == "spec" else body["error"]

    with make_http(box) as c:
        r = post_process(c, "0" * 24)
        assert r.status_code == 404 and message(r) == f"Session {'0' * 24} not found"
        r = post_process(c, running)
        assert r.status_code == 400 and "still in progress" in message(r)
        r = post_process(c, terminated)
        assert r.status_code == 400 and "terminated" in message(r)
        r = c.post(f"/v2/sessions/{ok}/post-process")
        assert r.status_code == 422  # the body is required
        r = c.post(f"/v2/sessions/{ok}/post-process", json={"run_analysis": "perhaps"})
        assert r.status_code == 422
        box.state.set_balance(0)
        r = post_process(c, ok)
        assert r.status_code == 403 and "Insufficient balance" in message(r)
        assert post_process(c, ok, run_extraction=True).status_code == 200  # extraction costs nothing
        assert box.counters.total_analyses == 0 and box.pending_jobs == 1
        r = post_process(c, new_session(c))
        assert r.status_code == 400 and "still in progress" in message(r)


def test_read_only_tokens_cannot_post_process():
    box = Sandbox(read_only_tokens=("ro",), processing_time=0)
    (sid,) = completed_unanalysed(box)
    with make_http(box) as c:
        r = c.post(f"/v2/sessions/{sid}/post-process", json={"run_analysis": True},
                   headers={"authorization": "Bearer ro"})
        assert r.status_code == 403 and box.counters.total_analyses == 0


@pytest.mark.parametrize("fault", [{"status": 500, "after_execute": True}, {"drop": True}])
def test_ambiguous_post_process_failures_took_effect_once(fault):
    """5xx after processing and a dropped response: the call was charged once and its results arrive —
    what lets a client prove "charged once" by polling instead of retrying."""
    box = Sandbox(processing_time=0)
    (sid,) = completed_unanalysed(box)
    box.fail_next(route="POST /v2/sessions/{id}/post-process", **fault)
    with make_http(box) as c:
        if fault.get("drop"):
            with pytest.raises(httpx.RemoteProtocolError):
                post_process(c, sid)
        else:
            r = post_process(c, sid)
            assert r.status_code == 500 and "after the request took effect" in r.json()["error"]
        assert box.counters.analyses[sid] == 1 and box.counters.injected["forced"] == 1
        assert c.get(f"/sessions/{sid}").json()["evaluation_results"] is not None  # polling shows it worked
    assert box.counters.total_analyses == 1


def test_reset_drops_pending_jobs_and_rewinds_the_clock():
    box = Sandbox(background="manual")
    (sid,) = completed_unanalysed(box)
    with make_http(box) as c:
        post_process(c, sid)
        box.advance(0.5)
    assert box.pending_jobs == 1
    box.reset()
    assert box.pending_jobs == 0 and box.state.background.now() == 0.0
    assert not box.state.sessions[sid].analyzed


def test_options_are_checked_and_switchable():
    with pytest.raises(ValueError, match="processing_time"):
        Sandbox(processing_time=-1)
    with pytest.raises(ValueError, match="background must be"):
        Sandbox(background="threads")
    box = Sandbox(background="manual", processing_time=2)
    assert box.background == "manual" and box.processing_time == 2
    box.processing_time = 0
    (sid,) = completed_unanalysed(box)
    with make_http(box) as c:
        post_process(c, sid)
    assert box.pending_jobs == 0
    with pytest.raises(ValueError):
        box.processing_time = -0.1
