"""``analyze_many`` through post-process (API.md §6): batched polls, the poll schedule by table, ambiguous
triggers (polled, never re-sent), outcome_unknown, wait timeouts, progress, the v1 fallback and resuming an
interrupted run without paying twice — against the sandbox on both dialects, its clock driven by the test."""

from __future__ import annotations

import asyncio
import math

import pytest

import ttai_notebook as tt
from ttai_notebook import bulk
from ttai_notebook.bulk import BulkEvent, _poll_round, _PollSchedule
from ttai_notebook.sandbox import Sandbox
from ttai_notebook.store import Store

POST_PROCESS = "POST /v2/sessions/{id}/post-process"
BATCH = "GET /v2/sessions/batch"
ONE = "GET /sessions/{id}"
QUICK = {"poll_interval": 0.02}


def fresh(box: Sandbox, n: int) -> list[str]:
    """``n`` completed sessions made unanalysed (as sessions just finished are; the demo has few)."""
    records = [r for r in box.state.sessions.values() if r.status == "completed"][:n]
    assert len(records) == n
    for r in records:  # reaches into the state on purpose: the API has no "un-analyse"
        r.analyzed, r.evaluation, r.improvement = False, None, None
    return [r.id for r in records]


@pytest.fixture(params=["documented", "spec"])
def box(request) -> Sandbox:
    return Sandbox(seed=0, dialect=request.param, processing_time=0)


@pytest.fixture
def client(box):
    with tt.Client(token="sandbox", base_url=box.base_url, transport=box.transport(),
                   backoff_initial=0.01, backoff_max=0.05) as c:
        yield c


# --------------------------------------------------------------------------------------------------
# Pure decisions, by table
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "expected", "age", "next_age"),
    [
        (None, None, 0.0, 0.5),  # first poll: the shortest step
        (None, None, 1.0, 1.5),
        (None, None, 4.0, 5.0),  # a quarter of the age ...
        (None, None, 40.0, 45.0),  # ... at most 5 s
        (None, 3.0, 0.5, 3.0),  # results take ~3 s here: no polls before then
        (None, 3.0, 2.8, 3.5),  # at the expected time: the usual step
        (None, 3.0, 10.0, 12.5),
        (1.0, None, 0.0, 1.0),  # a fixed interval is just that
        (1.0, 30.0, 7.0, 8.0),
    ],
)
def test_poll_schedule_table(interval, expected, age, next_age):
    s = _PollSchedule(interval=interval, expected=expected)
    assert s.next_age(age) == pytest.approx(next_age)


def test_poll_schedule_learns_the_shortest_time_seen():
    s = _PollSchedule()
    for age in (3.4, 3.1, 5.0, 0.0):
        s.learn(age)
    assert s.expected == 3.1


@pytest.mark.parametrize(
    ("due", "now", "lookahead", "sizes", "first"),
    [
        ({}, 1.0, 0.5, [], None),
        ({"a": 2.0}, 1.0, 0.5, [], None),  # nothing due: no request
        ({"a": 1.0, "b": 1.2, "c": 9.0}, 1.0, 0.5, [2], ["a", "b"]),  # b rides along (due soon, free)
        ({str(i): 0.0 for i in range(100)}, 1.0, 0.5, [100], None),
        ({str(i): 0.0 for i in range(101)}, 1.0, 0.5, [100, 1], None),  # ceil(101 / 100) requests
        ({**{f"d{i}": 0.0 for i in range(150)}, **{f"l{i}": 1.1 for i in range(80)}}, 1.0, 0.5, [100, 100], None),
        ({**{f"d{i}": 0.0 for i in range(150)}, **{f"l{i}": 1.1 for i in range(80)}}, 1.0, 0.0, [100, 50], None),
    ],
)
def test_poll_round_table(due, now, lookahead, sizes, first):
    rounds = _poll_round(due, now, lookahead=lookahead)
    assert [len(r) for r in rounds] == sizes
    ready = sum(1 for d in due.values() if d <= now)
    assert len(rounds) == math.ceil(ready / 100)  # never more requests than the due sessions need
    if first is not None:
        assert rounds[0] == first


# --------------------------------------------------------------------------------------------------
# Against the sandbox
# --------------------------------------------------------------------------------------------------


def test_triggers_each_once_and_polls_in_batches(client, box):
    ids = fresh(box, 250)
    box.processing_time = 0.2
    box.counters.reset()
    with Store() as store:
        result = bulk.analyze_many(client, ids, concurrency=16, store=store, progress=False, **QUICK)
        assert list(result.succeeded) == ids and result.ok
        assert store.analyzed_ids() == set(ids)
    c = box.counters
    assert c.requests[POST_PROCESS] == 250 and all(c.analyses[i] == 1 for i in ids)
    assert c.requests[ONE] == 0  # never one poll per session
    stats = result.stats
    assert stats["prefetch_requests"] == 3  # ceil(250 / 100)
    assert c.requests[BATCH] == stats["prefetch_requests"] + stats["poll_requests"]
    # Each round asks about at most 250 pending sessions: at most ceil(250 / 100) requests a round.
    assert stats["poll_requests"] <= stats["poll_rounds"] * 3
    assert stats["triggered"] == 250 and stats["mode"] == "post_process"


def test_already_analysed_sessions_are_read_not_triggered(client, box):
    done = [r.id for r in box.state.sessions.values() if r.status == "completed" and r.analyzed][:30]
    result = bulk.analyze_many(client, done, progress=False, **QUICK)
    assert list(result.succeeded) == done and result.stats["already_analyzed"] == 30
    assert box.counters.requests[POST_PROCESS] == 0 and box.counters.total_analyses == 0
    assert box.counters.requests[BATCH] == 1


def test_ambiguous_trigger_is_polled_and_charged_once(client, box):
    ids = fresh(box, 6)
    box.fail_next(500, count=2, route=POST_PROCESS, after_execute=True)  # ran, then answered 500
    box.fail_next(500, count=2, route=POST_PROCESS, drop=True)  # ran, answer lost
    result = bulk.analyze_many(client, ids, concurrency=1, progress=False, **QUICK)
    assert list(result.succeeded) == ids and not result.outcome_unknown and not result.failed
    assert {i: box.counters.analyses[i] for i in ids} == dict.fromkeys(ids, 1)
    assert box.counters.requests[POST_PROCESS] == 6  # nothing sent twice
    assert result.stats["triggered"] == 6


def test_ambiguous_trigger_that_never_ran_is_outcome_unknown_not_resent(client, box):
    ids = fresh(box, 3)
    box.fail_next(503, count=1, route=POST_PROCESS)  # refused before running: no results will come
    result = bulk.analyze_many(client, ids, concurrency=1, progress=False, wait_timeout=0.3, **QUICK)
    (unknown,) = result.outcome_unknown
    assert unknown == ids[0] and list(result.succeeded) == ids[1:]
    error = result.outcome_unknown[unknown]
    assert isinstance(error, tt.OutcomeUnknownError) and "not triggered again" in str(error)
    assert box.counters.analyses[unknown] == 0 and box.counters.requests[POST_PROCESS] == 3
    assert not result.ok and "1 outcome unknown" in result._summary()
    assert "outcome_unknown=1" in repr(result) and "Outcome unknown" in result._repr_html_()


def test_forced_rerun_with_an_ambiguous_failure_is_outcome_unknown_at_once(client, box):
    ids = [r.id for r in box.state.sessions.values() if r.status == "completed" and r.analyzed][:2]
    box.fail_next(500, count=1, route=POST_PROCESS, after_execute=True)
    result = bulk.analyze_many(client, ids[:1], force=True, progress=False, wait_timeout=5, **QUICK)
    assert list(result.outcome_unknown) == ids[:1] and not result.succeeded
    assert "cannot be told" in str(result.outcome_unknown[ids[0]])
    assert box.counters.requests[POST_PROCESS] == 1 and box.counters.analyses[ids[0]] == 1  # once, never twice
    assert result.elapsed < 2  # decided at once, not after the wait


def test_results_that_never_come_fail_with_a_clear_timeout(box):
    manual = Sandbox(seed=0, dialect=box.dialect, background="manual", processing_time=5)
    ids = fresh(manual, 2)
    with tt.Client(token="sandbox", base_url=manual.base_url, transport=manual.transport()) as c:
        result = bulk.analyze_many(c, ids, progress=False, wait_timeout=0.2, **QUICK)
    assert set(result.failed) == set(ids)
    error = result.failed[ids[0]]
    assert isinstance(error, tt.WaitTimeoutError) and "0.2 s" in str(error) and "charged it once" in str(error)
    assert manual.counters.requests[POST_PROCESS] == 2 and manual.pending_jobs == 2


def test_results_are_stored_as_they_arrive_and_events_say_triggered(client, box):
    ids = fresh(box, 8)
    seen: list[tuple[BulkEvent, bool]] = []
    with Store() as store:
        bulk.analyze_many(client, ids, concurrency=2, store=store,
                          progress=lambda e: seen.append((e, e.session_id in store.analyzed_ids())), **QUICK)
    assert sorted(e.session_id for e, _ in seen) == sorted(ids)
    assert all(in_store for _, in_store in seen)  # written before it was reported
    assert all(e.outcome == "succeeded" and 1 <= e.triggered <= 8 for e, _ in seen)
    assert [e.done for e, _ in seen] == list(range(1, 9))


def test_progress_bar_shows_triggered_and_analysed(client, box, capsys):
    ids = fresh(box, 5)
    bulk.analyze_many(client, ids, concurrency=2, progress=True, **QUICK)
    err = capsys.readouterr().err
    assert "5/5" in err and "triggered 5 · analysed 5" in err


def test_brief_profile_falls_back_to_v1_analyse_for_the_whole_run(box):
    brief = Sandbox(seed=0, dialect=box.dialect, profile="brief")
    ids = fresh(brief, 10)
    with tt.Client(token="sandbox", base_url=brief.base_url, transport=brief.transport()) as c:
        result = bulk.analyze_many(c, ids, concurrency=4, progress=False)
    assert list(result.succeeded) == ids and result.stats["mode"] == "v1"
    counters = brief.counters
    assert counters.requests["POST (no route)"] == 1  # one probe, not a window of 404s
    assert counters.requests["POST /sessions/analyze"] == 10
    assert all(counters.analyses[i] == 1 for i in ids)


async def test_a_rerun_after_an_interrupt_polls_instead_of_paying_again(box):
    manual = Sandbox(seed=0, dialect=box.dialect, background="manual", processing_time=5)
    ids = fresh(manual, 6)
    async with tt.AsyncClient(token="sandbox", base_url=manual.base_url, transport=manual.transport()) as ac:
        with Store() as store:
            task = asyncio.ensure_future(bulk.analyze_many_async(ac, ids, store=store, progress=False, **QUICK))
            while manual.counters.requests[POST_PROCESS] < 6:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises((asyncio.CancelledError, bulk.BulkInterrupted)):
                await task
            manual.advance(5)  # the analyses the stopped run paid for finish on the service
            again = await bulk.analyze_many_async(ac, ids, store=store, progress=False, **QUICK)
    assert list(again.succeeded) == ids
    assert manual.counters.requests[POST_PROCESS] == 6  # none triggered twice
    assert {i: manual.counters.analyses[i] for i in ids} == dict.fromkeys(ids, 1)


async def test_async_client_delegates_with_the_new_options(box):
    ids = fresh(box, 3)
    async with tt.AsyncClient(token="sandbox", base_url=box.base_url, transport=box.transport()) as ac:
        result = await ac.sessions.analyze_many(ids, progress=False, wait_timeout=5, poll_interval=0.02)
    assert list(result.succeeded) == ids and result.stats["triggered"] == 3
