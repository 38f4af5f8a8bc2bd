"""Issue H, "done when": one charge per session when post-process answers 5xx after running, or runs and
loses its answer — through ``analyze_many`` (batched polls) and ``sessions.analyze`` (one session), on both
dialects, in-process and over real HTTP (where a dropped answer is a closed connection). The sandbox's
per-session counters are the proof: each session analysed exactly once, each trigger sent exactly once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import ttai_notebook as tt
from ttai_notebook.bulk import analyze_many
from ttai_notebook.sandbox import Sandbox

POST_PROCESS = "POST /v2/sessions/{id}/post-process"


def _fresh(box: Sandbox, n: int) -> list[str]:
    records = [r for r in box.state.sessions.values() if r.status == "completed"][:n]
    for r in records:  # sessions just finished: no analysis yet (reaches into the state on purpose)
        r.analyzed, r.evaluation, r.improvement = False, None, None
    return [r.id for r in records]


@pytest.fixture(params=[("documented", "transport"), ("spec", "transport"), ("documented", "http"), ("spec", "http")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def setup(request) -> Iterator[tuple[Sandbox, tt.Client]]:
    dialect, way = request.param
    box = Sandbox(seed=3, dialect=dialect, processing_time=0.05)
    fast = {"backoff_initial": 0.01, "backoff_max": 0.05}
    if way == "transport":
        with tt.Client(token="sandbox", base_url=box.base_url, transport=box.transport(), **fast) as client:
            yield box, client
    else:
        with box.serve() as server, tt.Client(token="sandbox", base_url=server.base_url, **fast) as client:
            yield box, client


def test_analyze_many_charges_each_session_once_under_ambiguous_failures(setup, figures) -> None:
    box, client = setup
    ids = _fresh(box, 40)
    box.fail_next(500, count=8, route=POST_PROCESS, after_execute=True)  # ran, then 500
    box.fail_next(500, count=8, route=POST_PROCESS, drop=True)  # ran, answer lost
    box.fail_next(502, count=4, route="GET /v2/sessions/batch")  # and some polls fail (retried: reads)
    box.counters.reset()
    result = analyze_many(client, ids, concurrency=8, progress=False, poll_interval=0.02, wait_timeout=10)
    counters = box.counters
    assert list(result.succeeded) == ids and not result.failed and not result.outcome_unknown
    assert {i: counters.analyses[i] for i in ids} == dict.fromkeys(ids, 1)  # exactly one charge each
    assert {i: counters.post_processes[i] for i in ids} == dict.fromkeys(ids, 1)  # no trigger sent twice
    assert counters.injected["forced"] >= 16
    figures("H charged once", sessions=len(ids), ambiguous_triggers=16, charges=counters.total_analyses,
            triggers=counters.requests[POST_PROCESS], poll_requests=result.stats["poll_requests"])


def test_single_analyze_charges_once_under_ambiguous_failures(setup) -> None:
    box, client = setup
    ids = _fresh(box, 2)
    box.fail_next(500, count=1, route=POST_PROCESS, after_execute=True)
    box.fail_next(500, count=1, route=POST_PROCESS, drop=True)
    box.counters.reset()
    analyses = [client.sessions.analyze(i, wait_timeout=10, interval=0.02) for i in ids]
    assert all(a.has_results for a in analyses)
    assert {i: box.counters.analyses[i] for i in ids} == dict.fromkeys(ids, 1)
    assert {i: box.counters.post_processes[i] for i in ids} == dict.fromkeys(ids, 1)


def test_forced_rerun_with_a_lost_answer_is_reported_not_paid_twice(setup) -> None:
    box, client = setup
    ids = [r.id for r in box.state.sessions.values() if r.status == "completed" and r.analyzed][:3]
    box.fail_next(500, count=3, route=POST_PROCESS, drop=True)
    box.counters.reset()
    result = analyze_many(client, ids, force=True, progress=False, poll_interval=0.02, wait_timeout=10)
    assert list(result.outcome_unknown) == ids and not result.succeeded
    assert {i: box.counters.analyses[i] for i in ids} == dict.fromkeys(ids, 1)  # the lost run, never a second
    assert {i: box.counters.post_processes[i] for i in ids} == dict.fromkeys(ids, 1)
