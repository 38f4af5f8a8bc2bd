"""Resources end to end on a fake service: the right models from both dialects' bodies (API.md §1–§2),
request bodies checked against the vendor spec, fallbacks for missing routes, the scenario cache,
analysis polling and ``wait``, for the sync and the async client."""

from __future__ import annotations

import json
import pathlib
from urllib.parse import parse_qs, urlsplit

import httpx
import jsonschema
import pytest
from client_helpers import call, brief

from ttai_notebook.errors import (
    APIError,
    BadRequestError,
    NotFoundError,
    NotSupportedError,
    PermissionDeniedError,
    WaitTimeoutError,
)
from ttai_notebook.models import Analysis, Balance, Scenario, Session, SessionLink, TokenCheck

SPEC = json.loads(
    (pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "ttai-openapi-2026-05.json").read_text()
)


def assert_matches_spec(body: object, schema_name: str) -> None:
    """Validate a body we send (or a fake answer) against a schema of the vendor's OpenAPI spec."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)


SID = "69577496bd7c000fa3f4fc2a"
SESSION_ID = "67bf5a3ce1b2c3d4e5f60718"

# Spec-dialect bodies (API.md §2)
EVALUATION = {
    "overall_score": "8/10",
    "final_score": 7.4,
    "strengths": "- **Rapport**: warm opener\n- Asked open questions",
    "weaknesses": "1. Rushed the close\n2. Skipped budget",
    "detailed_feedback": "Good call overall.",
    "report_card": [
        {"topic": "Discovery", "score": 8, "score_str": "8/10", "note": "Good", "weight": 40, "requires_video": False},
        {"topic": "Personality", "score": None, "score_str": "INTP", "note": "", "weight": None},
    ],
    "quiz_results": None,
}
IMPROVEMENT = {"improvement_areas": "- Closing", "action_items": "1. Summarise next steps\n2. Ask for budget", "resources": ""}
SPEC_SESSION = {
    "_id": SESSION_ID,
    "scenario_id": SID,
    "scenario_name": "Cold call",
    "status": "completed",
    "user_name": "Ann Lee",
    "user_email": "ann@example.com",
    "created_at": "2025-02-26T18:02:00.945000",
    "updated_at": "2025-02-26T18:12:00.100000",
    "completed_at": "2025-02-26T18:10:30.000000",
    "duration": 510.0,
    "metadata": {"team": "north"},
    "user_metadata": {"cohort": 3},
    "finalized_transcript": "[00:01] AI: Hello\n\n[00:03] User: Hi",
    "analytics_url": "https://app.toughtongueai.com/analytics/x",
    "evaluation_results": EVALUATION,
    "improvement_results": IMPROVEMENT,
}
ACTIVE_SESSION = {"id": SESSION_ID, "scenario_id": SID, "status": "active", "created_at": "2025-02-26T18:02:00"}
DOCUMENTED_ANALYSIS = {"overall_score": 85, "strengths": ["Clear opener"], "improvements": ["Slow down"]}
SPEC_ANALYSIS = {"evaluation": EVALUATION, "improvement": IMPROVEMENT, "is_analyzing": False}
SCENARIO = {
    "id": SID,
    "name": "Cold call",
    "description": "A CFO who is busy",
    "ai_instructions": "You are a busy CFO.",
    "is_public": True,
    "is_recording": False,
    "created_at": "2025-01-01T00:00:00",
}


def test_fake_bodies_match_the_spec():
    listed = {k: v for k, v in SPEC_SESSION.items() if k != "_id"} | {"id": SESSION_ID}
    assert_matches_spec(listed, "PublicSessionResponse")
    assert_matches_spec({"sessions": [listed], "page_meta": {"page": 1, "limit": 1, "total": 1, "total_pages": 1,
                                                          "has_next": False, "has_prev": False}}, "PublicSessionList")
    assert_matches_spec(SPEC_ANALYSIS, "SessionAnalysisResponse")
    assert_matches_spec({"scenarios": [SCENARIO]}, "PublicScenarioList")
    assert_matches_spec({"available_minutes": 4109.7, "last_updated": "2026-05-01T10:00:00"}, "PublicWalletResponse")


# -- token, balance -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [{"success": True, "message": "API token is valid"}, {"message": "API token is valid"}]
)
async def test_test_token_valid_in_both_dialects(make_client, api, body):
    api.on("POST", "/test", body)
    check = await call(make_client().test_token())
    assert isinstance(check, TokenCheck)
    assert check.valid is True and check.message == "API token is valid"
    assert_matches_spec(json.loads(api.requests[-1].content), "APITokenTestRequest")


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, {"detail": "Invalid or expired token"}, "Invalid or expired token"),
        (401, {"error": "Invalid API token", "details": {}}, "Invalid API token"),
        (403, {"detail": "Token lacks scope"}, "Token lacks scope"),
    ],
)
async def test_test_token_rejected_gives_valid_false(make_client, api, status, body, message):
    api.on("POST", "/test", (status, body))
    check = await call(make_client().test_token())
    assert check.valid is False and check.message == message
    assert api.count("POST", "/test") == 1


async def test_test_token_other_errors_still_raise(make_client, api):
    api.on("POST", "/test", (422, {"detail": [{"loc": ["body", "input"], "msg": "Field required"}]}))
    with pytest.raises(BadRequestError, match="body.input: Field required"):
        await call(make_client().test_token())


async def test_balance(make_client, api):
    api.on("GET", "/balance", {"available_minutes": 4109.7, "last_updated": "2026-05-01T10:00:00"})
    balance = await call(make_client().balance())
    assert isinstance(balance, Balance)
    assert balance.available_minutes == 4109.7
    assert balance.last_updated.isoformat() == "2026-05-01T10:00:00+00:00"


# -- scenarios ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [[SCENARIO], {"scenarios": [SCENARIO]}])
async def test_scenarios_list_reads_both_shapes(make_client, api, body):
    api.on("GET", "/scenarios", body)
    scenarios = await call(make_client().scenarios.list())
    assert scenarios == [Scenario.from_api(SCENARIO)]
    assert scenarios[0].ai_instructions == "You are a busy CFO."


async def test_scenarios_search_is_sent(make_client, api):
    api.on("GET", "/scenarios", {"scenarios": []})
    await call(make_client().scenarios.list(search="cold"))
    assert api.requests[-1].url.params["search"] == "cold"


async def test_scenario_reads_are_cached_and_invalidated(make_client, api):
    api.on("GET", "/scenarios", {"scenarios": [SCENARIO]})
    api.on("GET", f"/scenarios/{SID}", SCENARIO)
    api.on("POST", "/scenarios", {"id": "new1", "name": "B", "is_public": True})
    client = make_client()
    for _ in range(3):
        await call(client.scenarios.list())
        await call(client.scenarios.get(SID))
    assert api.count("GET", "/scenarios") == 1 and api.count("GET", f"/scenarios/{SID}") == 1
    await call(client.scenarios.list(cache=False))
    assert api.count("GET", "/scenarios") == 2
    await call(client.scenarios.create(name="B", ai_instructions="x"))  # a write invalidates
    await call(client.scenarios.list())
    await call(client.scenarios.get(SID))
    assert api.count("GET", "/scenarios") == 3 and api.count("GET", f"/scenarios/{SID}") == 2


async def test_scenario_cache_expires(make_client, api):
    api.on("GET", "/scenarios", {"scenarios": [SCENARIO]})
    client = make_client(cache_ttl=300)
    now = [1000.0]
    client._core.clock = lambda: now[0]
    await call(client.scenarios.list())
    now[0] += 299
    await call(client.scenarios.list())
    assert api.count("GET", "/scenarios") == 1
    now[0] += 2
    await call(client.scenarios.list())
    assert api.count("GET", "/scenarios") == 2
    nocache = make_client(cache_ttl=0)
    await call(nocache.scenarios.list())
    await call(nocache.scenarios.list())
    assert api.count("GET", "/scenarios") == 4


async def test_scenario_get_unknown_id(make_client, api):
    api.on("GET", "/scenarios/nope", (404, {"detail": "Scenario not found"}))
    with pytest.raises(NotFoundError, match="Scenario not found"):
        await call(make_client().scenarios.get("nope"))


@pytest.mark.parametrize(
    "response",
    [
        {"id": SID, "name": "Cold call", "is_public": True},  # documented: partial
        dict(SCENARIO, type="default", is_featured=False),  # spec: PublicScenarioResponse
    ],
)
async def test_scenario_create_sends_only_given_fields(make_client, api, response):
    api.on("POST", "/scenarios", response)
    client = make_client()
    scenario = await call(
        client.scenarios.create(
            "Cold call",
            "You are a busy CFO.",
            is_recording=True,
            session_analysis={"admin_email": "lead@example.com", "is_auto_analysis": True},
            user_instructions="Sell the product",
        )
    )
    sent = json.loads(api.requests[-1].content)
    assert sent == {
        "name": "Cold call",
        "ai_instructions": "You are a busy CFO.",
        "is_recording": True,
        "session_analysis": {"admin_email": "lead@example.com", "is_auto_analysis": True},
        "user_instructions": "Sell the product",
    }
    assert "is_public" not in sent and "description" not in sent  # None = not sent: the default applies
    assert_matches_spec(sent, "PublicScenarioUpsert")
    assert isinstance(scenario, Scenario)
    assert scenario.id == SID and scenario.name == "Cold call"
    assert scenario.ai_instructions == "You are a busy CFO."  # completed from what was sent
    assert scenario.is_public is True


async def test_scenario_update_uses_patch(make_client, api):
    api.on("PATCH", f"/scenarios/{SID}", dict(SCENARIO, name="Warm call"))
    client = make_client()
    scenario = await call(client.scenarios.update(SID, name="Warm call", is_public=False, description=None))
    assert scenario.name == "Warm call"
    assert json.loads(api.requests[-1].content) == {"name": "Warm call", "is_public": False}


@pytest.mark.parametrize("status,body", [(405, {"detail": "Method Not Allowed"}), (404, {"detail": "Not Found"})])
async def test_scenario_update_falls_back_to_post_with_id(make_client, api, status, body):
    api.on("PATCH", f"/scenarios/{SID}", (status, body))
    api.on("POST", "/scenarios", lambda r: dict(SCENARIO, **json.loads(r.content)))
    client = make_client()
    scenario = await call(client.scenarios.update(SID, name="Warm call"))
    assert scenario.name == "Warm call" and scenario.id == SID
    posted = json.loads(api.requests[-1].content)
    assert posted == {"id": SID, "name": "Warm call"}
    assert_matches_spec(posted, "PublicScenarioUpsert")
    # remembered: the next update goes straight to the fallback
    await call(client.scenarios.update(SID, name="Hot call"))
    assert api.count("PATCH", f"/scenarios/{SID}") == 1
    assert api.count("POST", "/scenarios") == 2


async def test_scenario_update_unknown_id_is_not_a_missing_route(make_client, api):
    api.on("PATCH", "/scenarios/nope", (404, {"detail": "Scenario nope not found"}))
    client = make_client()
    with pytest.raises(NotFoundError, match="Scenario nope not found"):
        await call(client.scenarios.update("nope", name="x"))
    assert api.count("POST", "/scenarios") == 0
    assert "scenarios.update" not in client._core.missing_routes


async def test_scenario_delete(make_client, api):
    api.on("DELETE", f"/scenarios/{SID}", httpx.Response(204))
    client = make_client()
    assert await call(client.scenarios.delete(SID)) is None
    assert api.count("DELETE", f"/scenarios/{SID}") == 1


@pytest.mark.parametrize("status,body", [(405, {"detail": "Method Not Allowed"}), (404, {"detail": "Not Found"})])
async def test_scenario_delete_not_supported(make_client, api, status, body):
    api.on("DELETE", f"/scenarios/{SID}", (status, body))
    client = make_client()
    for _ in range(2):
        with pytest.raises(NotSupportedError, match="does not support deleting scenarios"):
            await call(client.scenarios.delete(SID))
    assert api.count("DELETE", f"/scenarios/{SID}") == 1  # not probed again


async def test_scenario_delete_unknown_id(make_client, api):
    api.on("DELETE", "/scenarios/nope", (404, {"error": "Scenario not found"}))
    with pytest.raises(NotFoundError) as info:
        await call(make_client().scenarios.delete("nope"))
    assert not isinstance(info.value, NotSupportedError)


async def test_scenario_access_token(make_client, api):
    answer = {"access_token": "sat_abc", "expires_at": "2026-05-01T11:00:00Z", "iframe_src": "https://app/embed/x?scenarioAccessToken=sat_abc"}
    api.on("POST", "/scenario-access-token", answer)
    result = await call(make_client().scenarios.access_token(SID, valid_for_hours=3))
    assert result == answer
    sent = json.loads(api.requests[-1].content)
    assert sent == {"scenario_id": SID, "valid_for_hours": 3}
    assert_matches_spec(sent, "SATWithEmailRequest")


# -- sessions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["_id", "id", "session_id"])
async def test_session_get_reads_the_spec_shape(make_client, api, key):
    body = dict(SPEC_SESSION)
    body.pop("_id")
    body[key] = SESSION_ID
    api.on("GET", f"/sessions/{SESSION_ID}", body)
    session = await call(make_client().sessions.get(SESSION_ID))
    assert isinstance(session, Session)
    assert session.id == SESSION_ID and session.status == "completed"
    assert session.metadata == {"team": "north"}
    assert session.transcript.startswith("[00:01] AI: Hello")
    assert session.analysis.score == 74.0
    assert session.analysis.strengths == ("Rapport: warm opener", "Asked open questions")
    assert session.analysis.improvements == ("Rushed the close", "Skipped budget")
    assert [r.topic for r in session.analysis.report_card] == ["Discovery", "Personality"]
    assert session.analysis.report_card[1].score is None and session.analysis.report_card[1].score_text == "INTP"


async def test_session_ids_are_opaque_and_escaped(make_client, api):
    api.on("GET", "/sessions/scenario_abc123", ACTIVE_SESSION)
    client = make_client()
    session = await call(client.sessions.get("scenario_abc123"))  # not 24 hex: still fine
    assert session.status == "in_progress"
    with pytest.raises(NotFoundError):
        await call(client.sessions.get("a/b"))
    assert api.requests[-1].url.raw_path.endswith(b"/sessions/a%2Fb")


async def test_sessions_create_link(make_client, api):
    api.on("POST", "/v2/sessions", {"session_id": SESSION_ID, "embed_url": f"https://app.toughtongueai.com/embed/session/{SESSION_ID}"})
    link = await call(
        make_client().sessions.create(SID, user_email="ann@example.com", user_name="Ann", metadata={"team": "north"})
    )
    assert isinstance(link, SessionLink)
    assert link.session_id == SESSION_ID and link.embed_url.endswith(f"/embed/session/{SESSION_ID}")
    assert json.loads(api.requests[-1].content) == {
        "scenario_id": SID,
        "user_email": "ann@example.com",
        "user_name": "Ann",
        "metadata": {"team": "north"},
    }


@pytest.mark.parametrize("status,body", [(405, {"detail": "Method Not Allowed"}), (404, {"detail": "Not Found"})])
async def test_sessions_create_falls_back_to_the_scenario_embed_url(make_client, api, caplog, status, body):
    api.on("POST", "/v2/sessions", (status, body))
    client = make_client()
    link = await call(client.sessions.create(SID, user_email="ann@example.com", user_name="Ann Lee", metadata={"t": 1}))
    assert link.session_id is None
    parts = urlsplit(link.embed_url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"https://app.toughtongueai.com/embed/{SID}"
    assert parse_qs(parts.query) == {"userEmail": ["ann@example.com"], "userName": ["Ann Lee"]}
    assert "metadata" in caplog.text  # the dropped metadata is reported
    await call(client.sessions.create(SID))
    assert api.count("POST", "/v2/sessions") == 1  # remembered


async def test_sessions_create_unknown_scenario(make_client, api):
    api.on("POST", "/v2/sessions", (404, {"detail": f"Scenario {SID} not found"}))
    with pytest.raises(NotFoundError):
        await call(make_client().sessions.create(SID))


async def test_sessions_create_uses_app_url(make_client, api):
    api.on("POST", "/v2/sessions", (405, {"detail": "Method Not Allowed"}))
    client = make_client(app_url="https://sandbox.ttai.invalid")
    link = await call(client.sessions.create(SID))
    assert link.embed_url == f"https://sandbox.ttai.invalid/embed/{SID}"


@pytest.mark.parametrize(
    ("body", "score", "strengths", "improvements"),
    [
        (DOCUMENTED_ANALYSIS, 85.0, ("Clear opener",), ("Slow down",)),
        (SPEC_ANALYSIS, 74.0, ("Rapport: warm opener", "Asked open questions"), ("Rushed the close", "Skipped budget")),
    ],
)
async def test_analyze_reads_both_dialects(make_client, api, body, score, strengths, improvements):
    api.on("POST", "/sessions/analyze", body)
    analysis = await call(brief(make_client()).sessions.analyze(SESSION_ID))
    assert isinstance(analysis, Analysis)
    assert analysis.session_id == SESSION_ID
    assert (analysis.score, analysis.strengths, analysis.improvements) == (score, strengths, improvements)
    sent = json.loads(api.requests[-1].content)
    assert sent == {"session_id": SESSION_ID}  # force only when asked
    assert_matches_spec(sent, "PublicSessionAnalysisRequest")


async def test_analyze_force_is_sent_only_when_true(make_client, api):
    api.on("POST", "/sessions/analyze", DOCUMENTED_ANALYSIS)
    await call(brief(make_client()).sessions.analyze(SESSION_ID, force=True))
    assert json.loads(api.requests[-1].content) == {"session_id": SESSION_ID, "force": True}


async def test_analyze_still_running_polls_the_session(make_client, api, slept):
    api.on("POST", "/sessions/analyze", {"evaluation": None, "improvement": None, "is_analyzing": True})
    api.on("GET", f"/sessions/{SESSION_ID}", dict(SPEC_SESSION, evaluation_results=None), dict(SPEC_SESSION, evaluation_results={}), SPEC_SESSION)
    analysis = await call(brief(make_client()).sessions.analyze(SESSION_ID, interval=3))
    assert analysis.score == 74.0 and not analysis.is_analyzing
    assert api.count("GET", f"/sessions/{SESSION_ID}") == 3
    assert slept == [3, 3]


async def test_analyze_not_completed_session(make_client, api):
    api.on("POST", "/sessions/analyze", (400, {"error": "Session is not completed"}))
    with pytest.raises(BadRequestError, match="Session is not completed"):
        await call(brief(make_client()).sessions.analyze(SESSION_ID))


async def test_analyze_out_of_credit(make_client, api):
    api.on("POST", "/sessions/analyze", (403, {"detail": "Insufficient balance: 0 minutes left"}))
    with pytest.raises(PermissionDeniedError, match="Insufficient balance"):
        await call(brief(make_client()).sessions.analyze(SESSION_ID))


async def test_wait_until_completed(make_client, api, slept):
    api.on("GET", f"/sessions/{SESSION_ID}", (404, {"detail": "Session not found"}), ACTIVE_SESSION, ACTIVE_SESSION, dict(SPEC_SESSION, evaluation_results=None))
    session = await call(make_client().sessions.wait(SESSION_ID, interval=1))
    assert session.status == "completed" and session.analysis is None
    assert slept == [1, 1, 1]


async def test_wait_until_analyzed(make_client, api):
    api.on("GET", f"/sessions/{SESSION_ID}", dict(SPEC_SESSION, evaluation_results=None), SPEC_SESSION)
    session = await call(make_client().sessions.wait(SESSION_ID, until="analyzed", interval=1))
    assert session.analysis.score == 74.0


async def test_wait_times_out(make_client, api, slept):
    api.on("GET", f"/sessions/{SESSION_ID}", ACTIVE_SESSION)
    with pytest.raises(WaitTimeoutError) as info:
        await call(make_client().sessions.wait(SESSION_ID, timeout=5, interval=2))
    assert slept == [2, 2, 1]  # never sleeps past the deadline
    assert info.value.session.status == "in_progress"
    assert "not completed after 5 s" in str(info.value)


async def test_wait_gives_up_on_an_id_that_never_appears(make_client, api, slept):
    api.on("GET", "/sessions/typo", (404, {"detail": "Session not found"}))
    with pytest.raises(NotFoundError):
        await call(make_client().sessions.wait("typo", timeout=120, interval=2))
    assert sum(slept) == 10  # a short grace period, not the whole timeout


async def test_get_many_uses_the_batch_route_in_chunks(make_client, api):
    ids = [f"id{i:03d}" for i in range(250)]

    def batch(request: httpx.Request) -> httpx.Response:
        asked = request.url.params.get_list("session_ids")
        found = [{"id": i, "status": "completed"} for i in reversed(asked) if i != "id007"]
        return httpx.Response(200, json={"sessions": found, "page_meta": {"page": 1, "limit": 100, "total": len(found),
                                                                          "total_pages": 1, "has_next": False, "has_prev": False}})

    api.on("GET", "/v2/sessions/batch", batch)
    sessions = await call(make_client().sessions.get_many(ids + ["id001"]))  # a duplicate is fetched once
    assert [s.id for s in sessions] == [i for i in ids if i != "id007"]  # the order asked, unknown left out
    chunks = [r.url.params.get_list("session_ids") for r in api.requests]
    assert [len(c) for c in chunks] == [100, 100, 50]


@pytest.mark.parametrize("status,body", [(405, {"detail": "Method Not Allowed"}), (404, {"detail": "Not Found"})])
async def test_get_many_falls_back_to_single_gets(make_client, api, status, body):
    api.on("GET", "/v2/sessions/batch", (status, body))

    def single(request: httpx.Request) -> httpx.Response:
        sid = request.url.path.rsplit("/", 1)[1]
        if sid == "gone":
            return httpx.Response(404, json={"detail": "Session not found"})
        return httpx.Response(200, json={"_id": sid, "status": "completed"})

    api.fallback = single
    client = make_client()
    sessions = await call(client.sessions.get_many(["a", "gone", "b", "c"]))
    assert [s.id for s in sessions] == ["a", "b", "c"]
    assert api.count("GET", "/v2/sessions/batch") == 1
    await call(client.sessions.get_many(["a"]))
    assert api.count("GET", "/v2/sessions/batch") == 1  # remembered


async def test_get_many_empty(make_client, api):
    assert await call(make_client().sessions.get_many([])) == []
    assert api.requests == []


async def test_request_is_public_and_decodes_json(make_client, api):
    api.on("POST", "/sandbox/sessions/s1/complete", dict(SPEC_SESSION))
    client = make_client()
    body = await call(client.request("POST", "/sandbox/sessions/s1/complete", json={"transcript": "hi"}))
    assert body["scenario_id"] == SID
    api.on("DELETE", "/thing", httpx.Response(204))
    assert await call(client.request("delete", "/thing")) is None


async def test_unexpected_success_bodies_give_clear_errors(make_client, api):
    api.on("GET", "/scenarios", {"unexpected": True})
    api.on("GET", "/balance", httpx.Response(200, text="<html>login page</html>", headers={"content-type": "text/html"}))
    client = make_client()
    with pytest.raises(APIError, match="unexpected scenarios list response"):
        await call(client.scenarios.list())
    with pytest.raises(APIError, match="expected JSON but got text/html"):
        await call(client.balance())
