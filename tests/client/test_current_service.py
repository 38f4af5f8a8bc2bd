"""The client against the service as it is today (API.md §6) and as the brief describes it, on the sandbox in
both profiles and both dialects: which routes it uses, what it falls back to, and what the sandbox executed
(its counters) — one charge per analysis whatever the network does."""

from __future__ import annotations

import json

import httpx
import pytest
from client_helpers import TOKEN, call

import ttai_notebook as tt
from ttai_notebook.client import Client
from ttai_notebook.errors import (
    BadRequestError,
    NotSupportedError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ValidationError,
)

PROFILES = ["current", "brief"]
DIALECTS = ["documented", "spec"]
POST_PROCESS = "POST /v2/sessions/{id}/post-process"


async def listed(client, **filters):
    iterator = client.sessions.list(**filters)
    return await iterator.to_list() if hasattr(iterator, "__aiter__") else iterator.to_list()


async def unanalysed(client, n=1):
    sessions = await listed(client, page_size=500)
    todo = [s for s in sessions if s.status == "completed" and not s.is_analyzed]
    assert len(todo) >= n
    return todo[:n]


# --------------------------------------------------------------------------------------------------
# Listing: v2 today, v1 where v2 is absent, the same sessions either way
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_both_profiles_list_the_same_sessions_through_their_own_route(sandbox_client, dialect):
    current = sandbox_client(profile="current", dialect=dialect)
    brief = sandbox_client(profile="brief", dialect=dialect)
    now, then = await listed(current, page_size=200), await listed(brief, page_size=200)
    assert [s.id for s in now] == [s.id for s in then] and len(now) > 100
    assert [s.score for s in now] == [s.score for s in then]  # removed fields read only as a fallback
    requests = current.sandbox_instance.counters.requests
    assert requests["GET /v2/sessions"] >= 1 and requests["GET /sessions"] == 0
    assert "sessions.list_v2" not in current.missing_routes
    assert "sessions.list_v2" in brief.missing_routes  # learnt once, from one 404
    assert brief.sandbox_instance.counters.requests["GET /v2/sessions"] == 0  # brief: the route is absent
    assert brief.sandbox_instance.counters.requests["GET (no route)"] == 1


@pytest.mark.parametrize("profile", PROFILES)
async def test_filters_mean_the_same_in_both_profiles(sandbox_client, profile):
    client = sandbox_client(profile=profile)
    everything = await listed(client, page_size=500)
    team = everything[0].user_metadata["team"]
    created = sorted(s.created_at for s in everything)
    lo, hi = created[len(created) // 4], created[len(created) // 2]
    got = await listed(client, metadata={"team": team}, from_date=lo, to_date=hi)
    expected = [s.id for s in everything if s.user_metadata.get("team") == team and lo <= s.created_at <= hi]
    assert [s.id for s in got] == expected and expected


@pytest.mark.parametrize("profile", PROFILES)
async def test_updated_since_lists_only_what_changed(sandbox_client, profile):
    client = sandbox_client(profile=profile, processing_time=0)
    iterator = client.sessions.list(page_size=500)
    everything = await iterator.to_list() if hasattr(iterator, "__aiter__") else iterator.to_list()
    mark = iterator.server_time  # the service's clock (its Date header): lists carry no updated_at
    assert mark is not None and mark.tzinfo is not None
    todo = next(s for s in everything if s.status == "completed" and not s.is_analyzed)
    await call(client.sessions.analyze(todo.id))
    changed = await listed(client, updated_since=mark)
    assert todo.id in [s.id for s in changed] and len(changed) < 5


# --------------------------------------------------------------------------------------------------
# Analysis: post-process in the background today, the synchronous analyse where it is absent
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("dialect", DIALECTS)
async def test_analyze_charges_once_and_reuses_results(sandbox_client, profile, dialect):
    client = sandbox_client(profile=profile, dialect=dialect)
    box = client.sandbox_instance
    [todo] = await unanalysed(client)
    analysis = await call(client.sessions.analyze(todo.id))
    assert analysis.has_results and 0 <= analysis.score <= 100
    again = await call(client.sessions.analyze(todo.id))
    assert again.score == analysis.score
    assert box.counters.analyses[todo.id] == 1
    if profile == "current":
        assert box.counters.requests[POST_PROCESS] == 1 and box.counters.requests["POST /sessions/analyze"] == 0
        assert "sessions.post_process" not in client.missing_routes
    else:
        assert box.counters.requests["POST /sessions/analyze"] >= 1
        assert "sessions.post_process" in client.missing_routes


async def test_analyze_polls_until_the_background_run_is_done(sandbox_client):
    client = sandbox_client(processing_time=5)
    box = client.sandbox_instance
    [todo] = await unanalysed(client)
    analysis = await call(client.sessions.analyze(todo.id, interval=2))
    assert analysis.has_results
    # Three polls: at 0 s (nothing), 2 s (nothing), 4 s (nothing), 6 s (done) -> four GETs after the first read.
    assert box.counters.requests["GET /sessions/{id}"] == 5


async def test_force_reruns_and_waits_for_the_new_results(sandbox_client):
    client = sandbox_client(processing_time=3)
    box = client.sandbox_instance
    [todo] = await unanalysed(client)
    first = await call(client.sessions.analyze(todo.id))
    before = await call(client.sessions.get(todo.id))
    await call(client.sessions.analyze(todo.id, force=True))
    after = await call(client.sessions.get(todo.id))
    assert box.counters.analyses[todo.id] == 2
    assert after.updated_at > before.updated_at and first.has_results


@pytest.mark.parametrize("fault", ["5xx after processing", "dropped response"])
async def test_an_ambiguous_trigger_is_polled_not_repeated(sandbox_client, fault):
    client = sandbox_client()
    box = client.sandbox_instance
    [todo] = await unanalysed(client)
    if fault == "dropped response":
        box.fail_next(route=POST_PROCESS, drop=True)
    else:
        box.fail_next(500, route=POST_PROCESS, after_execute=True)
    analysis = await call(client.sessions.analyze(todo.id))
    assert analysis.has_results
    assert box.counters.analyses[todo.id] == 1  # the lost request ran; it was not sent again
    assert box.counters.requests[POST_PROCESS] == 1


async def test_a_trigger_that_never_ran_is_reported_unknown_not_repeated(sandbox_client):
    client = sandbox_client()
    box = client.sandbox_instance
    [todo] = await unanalysed(client)
    box.fail_next(503, route=POST_PROCESS)  # refused before running; the client cannot know that
    with pytest.raises(OutcomeUnknownError, match="each run is charged"):
        await call(client.sessions.analyze(todo.id, wait_timeout=30, interval=5))
    assert box.counters.analyses[todo.id] == 0 and box.counters.requests[POST_PROCESS] == 1


async def test_a_forced_rerun_with_a_lost_answer_is_outcome_unknown(sandbox_client):
    client = sandbox_client()
    box = client.sandbox_instance
    [todo] = await unanalysed(client)
    await call(client.sessions.analyze(todo.id))
    box.fail_next(500, route=POST_PROCESS, after_execute=True)
    with pytest.raises(OutcomeUnknownError, match="triggering again would charge again"):
        await call(client.sessions.analyze(todo.id, force=True))
    assert box.counters.analyses[todo.id] == 2  # the re-run happened once; nothing was sent blind after it


async def test_post_process_is_a_charging_request(sandbox_client):
    client = sandbox_client(processing_time=0)
    box = client.sandbox_instance
    [todo] = await unanalysed(client)
    box.fail_next(429, route=POST_PROCESS)  # provably not run: retried
    assert await call(client.sessions.post_process(todo.id)) is None
    assert await call(client.sessions.post_process(todo.id)) is None  # every call runs again
    assert box.counters.analyses[todo.id] == 2 and box.counters.requests[POST_PROCESS] == 3
    in_progress = (await listed(client, page_size=500))
    running = next(s for s in in_progress if s.status == "in_progress")
    with pytest.raises(BadRequestError):
        await call(client.sessions.post_process(running.id))


async def test_post_process_on_the_brief_service_says_what_to_use(sandbox_client):
    client = sandbox_client(profile="brief")
    [todo] = await unanalysed(client)
    for _ in range(2):
        with pytest.raises(NotSupportedError, match="sessions.analyze"):
            await call(client.sessions.post_process(todo.id))
    assert client.sandbox_instance.counters.requests["POST (no route)"] == 1  # remembered


# --------------------------------------------------------------------------------------------------
# Organisations
# --------------------------------------------------------------------------------------------------


async def test_organizations_have_readable_roles(sandbox_client):
    client = sandbox_client()
    orgs = await call(client.organizations.list())
    assert {o.role for o in orgs} >= {"admin", "view"}
    admin = next(o for o in orgs if o.is_admin)
    assert admin.role_level == 30 and admin.slug and len(admin.id) == 24


@pytest.mark.parametrize("pick", ["id", "slug", "name", "NAME-UPPER"])
async def test_org_id_accepts_an_id_slug_or_name(sandbox_client, pick):
    probe = sandbox_client()
    admin = next(o for o in await call(probe.organizations.list()) if o.is_admin)
    key = {"id": admin.id, "slug": admin.slug, "name": admin.name, "NAME-UPPER": admin.name.upper()}[pick]
    client = sandbox_client(org_id=key)
    sessions = await listed(client, is_org=True, max_items=5)
    assert len(sessions) == 5
    assert client._core.org_header == admin.id


async def test_team_listing_needs_an_admin_role(sandbox_client):
    probe = sandbox_client()
    viewer = next(o for o in await call(probe.organizations.list()) if not o.is_admin)
    client = sandbox_client(org_id=viewer.slug)
    with pytest.raises(PermissionDeniedError):
        await listed(client, is_org=True)
    assert len(await listed(client, max_items=3)) == 3  # personal listing still works in that org


async def test_an_unknown_org_is_refused_with_the_choices(sandbox_client):
    client = sandbox_client(org_id="No Such Team")
    with pytest.raises(ValidationError) as info:
        await call(client.balance())
    assert "Northwind Demo" in str(info.value) and "role admin" in str(info.value)


async def test_the_brief_service_takes_org_id_as_given(sandbox_client):
    client = sandbox_client(profile="brief", org_id="67f7889030969212e1320296")
    assert (await call(client.balance())).available_minutes > 0
    assert client._core.org_header == "67f7889030969212e1320296"
    with pytest.raises(NotSupportedError, match="X-TT-ORG"):
        await call(client.organizations.list())


def test_org_header_is_the_resolved_id_and_org_list_is_unscoped():
    box = tt.Sandbox()
    seen = []

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("x-tt-org")))
        return box.transport().handle_request(request)

    with Client(token=TOKEN, base_url=box.base_url, transport=httpx.MockTransport(spy), org_id="northwind-demo") as c:
        c.balance()
        c.balance()
    assert seen[0] == ("/api/public/v2/organizations", None)
    assert seen[1][1] == seen[2][1] and len(seen[1][1]) == 24 and len(seen) == 3


def test_connect_takes_org():
    client = tt.connect(org="northwind-academy")
    try:
        assert client.is_sandbox and client.config.org_id == "northwind-academy"
        with pytest.raises(PermissionDeniedError):
            client.sessions.list(is_org=True).to_list()
    finally:
        client.close()


# --------------------------------------------------------------------------------------------------
# Imports and analytics
# --------------------------------------------------------------------------------------------------

TRANSCRIPT = "[00:00] AI: Thanks for taking the call.\n\n[00:04] User: Happy to. What does it cost?"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_import_transcript_makes_a_completed_session_analysed_in_the_background(sandbox_client, dialect):
    client = sandbox_client(dialect=dialect)
    box = client.sandbox_instance
    scenario = (await call(client.scenarios.list()))[0]
    session = await call(client.sessions.import_transcript(
        scenario.id, transcript=TRANSCRIPT, user_email="ana@example.com", user_metadata={"team": "North"},
    ))
    assert session.status == "completed" and session.id and session.analysis is None
    assert session.analytics_url and session.user_email == "ana@example.com"
    done = await call(client.sessions.wait(session.id, until="analyzed", interval=1))
    assert done.is_analyzed and box.counters.analyses[session.id] == 1
    found = await listed(client, metadata={"team": "North"})
    assert session.id in [s.id for s in found]


async def test_import_is_never_repeated_blind(sandbox_client):
    client = sandbox_client()
    box = client.sandbox_instance
    scenario = (await call(client.scenarios.list()))[0]
    box.fail_next(502, route="POST /v2/session", after_execute=True)
    with pytest.raises(OutcomeUnknownError, match="imported session"):
        await call(client.sessions.import_transcript(scenario.id, transcript=TRANSCRIPT, user_email="bo@example.com"))
    assert box.counters.requests["POST /v2/session"] == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of transcript"),
        ({"transcript": "x", "recording_url": "https://x.example/a.mp3"}, "exactly one of transcript"),
        ({"recording_url": "ftp://x.example/a.mp3"}, "http(s) URL"),
        ({"transcript": "   "}, "transcript"),
        ({"transcript": "x", "user_metadata": {"team": ["a"]}}, "flat values"),
    ],
)
def test_import_validates_before_sending(kwargs, message):
    with Client(token=TOKEN, transport=httpx.MockTransport(lambda r: pytest.fail("no request expected"))) as c:
        with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
            c.sessions.import_transcript("scn1", **kwargs)


async def test_import_on_the_brief_service_is_not_supported(sandbox_client):
    client = sandbox_client(profile="brief")
    scenario = (await call(client.scenarios.list()))[0]
    with pytest.raises(NotSupportedError, match="import"):
        await call(client.sessions.import_transcript(scenario.id, transcript=TRANSCRIPT))


async def test_analytics_personal_and_org_wide(sandbox_client):
    probe = sandbox_client()
    orgs = await call(probe.organizations.list())
    admin = next(o for o in orgs if o.is_admin)
    viewer = next(o for o in orgs if not o.is_admin)
    personal = await call(probe.analytics())
    assert not personal.org_wide and personal.scenarios
    frame = personal.scenarios_frame()
    assert {"scenario_id", "name", "session_count"} <= set(frame.columns) and frame["session_count"].sum() > 0
    team = await call(sandbox_client(org_id=admin.id).analytics(org_wide=True, start="2026-01-01"))
    assert team.org_wide and team.summary["total_sessions"] > 0
    series = team.time_series_frame()
    assert series["date"].is_monotonic_increasing and series["session_count"].sum() > 0
    assert series["date"].min().date().isoformat() >= "2026-01-01"
    assert not team.members_frame().empty
    with pytest.raises(PermissionDeniedError):
        await call(sandbox_client(org_id=viewer.id).analytics(org_wide=True))


async def test_analytics_on_the_brief_service_is_not_supported(sandbox_client):
    with pytest.raises(NotSupportedError, match="sessions_frame"):
        await call(sandbox_client(profile="brief").analytics())


def test_analytics_sends_the_window_as_datetimes():
    sent = []

    def handler(request):
        sent.append(dict(request.url.params))
        return httpx.Response(200, json={"scenarios": []})

    with Client(token=TOKEN, transport=httpx.MockTransport(handler)) as c:
        assert c.analytics(org_wide=True, start="2026-03-01", end="2026-03-31").scenarios == ()
    assert sent == [{"is_org_wide": "true", "start_date": "2026-03-01T00:00:00+00:00",
                     "end_date": "2026-03-31T23:59:59.999999+00:00"}]


def test_no_token_in_the_new_errors():
    box = tt.Sandbox(token=TOKEN)
    box.fail_next(500, route=POST_PROCESS, after_execute=True)
    with Client(token=TOKEN, base_url=box.base_url, transport=box.transport(), sleep=box.advance) as c:
        todo = next(s for s in c.sessions.list(page_size=500) if s.status == "completed" and not s.is_analyzed)
        with pytest.raises(OutcomeUnknownError) as info:
            c.sessions.post_process(todo.id)
        with pytest.raises(ValidationError) as bad:
            Client(token=TOKEN, transport=box.transport(), base_url=box.base_url, org_id="nope").balance()
    for text in (str(info.value), repr(info.value), str(bad.value), json.dumps(info.value.details or {})):
        assert TOKEN not in text
