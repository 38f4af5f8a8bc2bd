"""Store.sync against the sandbox (in-process transport), in both profiles and both dialects: the first sync
lists everything, a second one lists only the overlap (counted by the sandbox), analyses that arrive, new
sessions and imports come back as changed / new, the overlap catches a change at the boundary, filter sets
keep their own marks, and a file store keeps its mark."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

import ttai_notebook as tt
from ttai_notebook.store import Store

PROFILES = ("current", "brief")
DIALECTS = ("documented", "spec")
#: The list route each profile serves (the client falls back to v1 only where v2 is absent).
LIST_ROUTE = {"current": "GET /v2/sessions", "brief": "GET /sessions"}
TRANSCRIPT = "[00:01] AI: Hello, thanks for taking my call.\n\n[00:05] User: Hi, sure, what is it about?"


@pytest.fixture(params=[(p, d) for p in PROFILES for d in DIALECTS], ids=lambda pd: f"{pd[0]}-{pd[1]}")
def sandbox_client(request):
    profile, dialect = request.param
    client = tt.Client.sandbox(seed=0, profile=profile, dialect=dialect, processing_time=0)
    try:
        yield profile, client, client.sandbox_instance
    finally:
        client.close()


def _list_requests(box, profile: str) -> int:
    return box.counters.requests[LIST_ROUTE[profile]]


def _unanalysed_completed(store: Store, n: int) -> list[str]:
    return [s.id for s in store.sessions() if s.status == "completed" and not s.is_analyzed][:n]


def test_the_sync_cycle(sandbox_client):
    profile, client, box = sandbox_client
    everything = client.sessions.list(page_size=500).to_list()
    with Store() as store:
        box.counters.reset()
        first = store.sync(client)
        assert first.full and (first.new, first.changed, first.unchanged) == (len(everything), 0, 0)
        assert first.total == len(store) == len(everything)
        assert store.analyzed_ids() == {s.id for s in everything if s.is_analyzed}
        full_requests = _list_requests(box, profile)
        assert full_requests >= 2  # 520 sessions do not fit one page of 500

        box.counters.reset()
        again = store.sync(client)
        assert (again.new, again.changed) == (0, 0) and again.total == len(everything)
        assert again.since is not None and again.listed <= 5  # only the overlap, not 520
        assert _list_requests(box, profile) == 1
        assert sum(box.counters.requests.values()) == 1  # nothing but that one page

        # Analyses that arrive for three sessions, a new practice session, and (current) an import.
        analysed = _unanalysed_completed(store, 3)
        for sid in analysed:
            client.sessions.analyze(sid)
        scenario = everything[0].scenario_id
        new_ids = [_practise(box, scenario)]
        if profile == "current":
            new_ids.append(client.sessions.import_transcript(scenario, transcript=TRANSCRIPT,
                                                             user_email="new.hire@example.com").id)
        box.counters.reset()
        result = store.sync(client)
        assert set(result.changed_ids) == set(analysed)
        assert set(result.new_ids) == set(new_ids)
        assert result.total == len(everything) + len(new_ids)
        assert _list_requests(box, profile) == 1
        for sid in analysed:
            assert store.get_session(sid).is_analyzed
        if profile == "current":  # the import was analysed in the background (processing_time=0)
            assert store.get_analysis(new_ids[1]) is not None

        settled = store.sync(client)
        assert (settled.new, settled.changed) == (0, 0)


def _practise(box, scenario_id: str) -> str:
    """A trainee runs a practice session to the end (the sandbox's own practice page does this)."""
    rec = box.state.create_session(scenario_id, user_email="trainee@example.com", user_name="Trainee")
    box.state.complete_session(rec.id, TRANSCRIPT)
    return rec.id


def test_overlap_catches_changes_at_and_just_before_the_boundary(sandbox_client):
    """A session the service stamped at the mark, or a little before it (visible only after our listing), is
    found by the next sync: at the mark even without overlap (inclusive), before it thanks to the overlap."""
    profile, client, box = sandbox_client
    with Store() as without, Store() as with_overlap:
        mark = without.sync(client).high_water_mark
        with_overlap.sync(client)
        at_mark, before_mark = [s.id for s in without.sessions() if s.status == "completed"][5:7]
        with box.state.lock:  # what a late-committing writer on the service would leave behind
            box.state.sessions[at_mark].user_name = "Renamed At Mark"
            box.state.sessions[at_mark].updated_at = mark
            box.state.sessions[before_mark].user_name = "Renamed Before Mark"
            box.state.sessions[before_mark].updated_at = mark - dt.timedelta(seconds=30)
        assert without.sync(client, overlap=0).changed_ids == (at_mark,)
        assert without.get_session(before_mark).user_name != "Renamed Before Mark"  # missed for good
        caught = with_overlap.sync(client, overlap=dt.timedelta(minutes=1))
        assert set(caught.changed_ids) == {at_mark, before_mark}
        assert with_overlap.get_session(before_mark).user_name == "Renamed Before Mark"


def test_filter_sets_keep_separate_marks(sandbox_client):
    profile, client, box = sandbox_client
    everything = client.sessions.list(page_size=500).to_list()
    by_scenario = Counter(s.scenario_id for s in everything)
    scenario, n_scenario = by_scenario.most_common(1)[0]
    mid = sum(1 for s in everything if s.user_metadata.get("team") == "Mid-Market")
    assert 0 < mid < len(everything)
    with Store() as store:
        one = store.sync(client, scenario_id=scenario)
        assert one.full and one.total == one.new == n_scenario
        team = store.sync(client, metadata={"team": "Mid-Market"})
        assert team.full and team.total == mid
        allofit = store.sync(client)
        assert allofit.full and allofit.total == len(everything)
        assert allofit.new == len(everything) - len({s.id for s in everything if s.scenario_id == scenario
                                                     or s.user_metadata.get("team") == "Mid-Market"})
        for call in (dict(scenario_id=scenario), dict(metadata={"team": "Mid-Market"}), {}):
            again = store.sync(client, **call)
            assert again.since is not None and (again.new, again.changed) == (0, 0)


def test_the_mark_survives_reopening(tmp_path, sandbox_client):
    profile, client, box = sandbox_client
    path = tmp_path / "mirror.sqlite"
    with Store(path) as store:
        first = store.sync(client)
    box.counters.reset()
    with Store(path) as store:
        again = store.sync(client)
        assert again.since is not None and again.high_water_mark == first.high_water_mark
        assert (again.new, again.changed, again.total) == (0, 0, first.total)
    assert _list_requests(box, profile) == 1


@pytest.mark.parametrize("dialect", DIALECTS)
def test_results_arriving_in_the_background_come_back_on_a_later_sync(dialect):
    """post-process runs in the background: a sync before the job finishes sees nothing new; once it has
    finished (which bumps ``updated_at``), the next sync brings the analysis."""
    client = tt.Client.sandbox(seed=0, dialect=dialect, processing_time=3, background="manual")
    box = client.sandbox_instance
    with client, Store() as store:
        store.sync(client)
        sid = _unanalysed_completed(store, 1)[0]
        client.sessions.post_process(sid)
        assert box.pending_jobs == 1
        early = store.sync(client)
        assert (early.new, early.changed) == (0, 0) and store.get_analysis(sid) is None
        box.advance(3)
        late = store.sync(client)
        assert late.changed_ids == (sid,) and store.get_analysis(sid) is not None


def test_the_mark_is_the_services_clock_when_the_listing_began(sandbox_client):
    """List items carry no updated_at: the mark comes from the service's Date header, so it moves with the
    service's clock even when no session is created (a quiet organisation does not re-list more and more)."""
    profile, client, box = sandbox_client
    with Store() as store:
        first = store.sync(client)
        server_now = box.state.clock.now().replace(microsecond=0)
        assert first.high_water_mark == server_now  # not the newest created_at/completed_at listed
        newest_stamp = max(t for s in store.sessions() for t in (s.created_at, s.completed_at) if t is not None)
        assert first.high_water_mark >= newest_stamp
        # A change after the listing is stamped later than the mark, so the next sync finds it.
        sid = _unanalysed_completed(store, 1)[0]
        client.sessions.analyze(sid)
        assert sid in store.sync(client).changed_ids
