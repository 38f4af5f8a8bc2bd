"""Every route, through the in-process transport and through the real server, in both dialects:
shapes, validation and error bodies like the service's."""
from __future__ import annotations

import re
from collections import Counter

import pytest
from .helpers import GOOD_TRANSCRIPT, complete, first_scenario_id, new_session

from ttai_notebook.sandbox import is_sandbox_url
from ttai_notebook.sandbox.clock import parse_ts

HEX24 = re.compile(r"[0-9a-f]{24}")


@pytest.fixture(params=["documented", "spec"])
def dialect(request):
    return request.param


@pytest.fixture(params=[("brief", "/sessions"), ("current", "/v2/sessions")], ids=["v1-brief", "v2-current"])
def listing(request):
    """(profile, path) of the session list: v1 in the brief's service, v2 in today's."""
    return request.param


def error_text(response, dialect):
    body = response.json()
    if dialect == "spec":
        assert set(body) == {"detail"}, body
        return body["detail"]
    assert set(body) == {"error", "details"} and isinstance(body["details"], dict), body
    return body["error"]


def validation_items(response, dialect):
    assert response.status_code == 422
    body = response.json()
    items = body["detail"] if dialect == "spec" else body["details"]["errors"]
    assert isinstance(items, list) and items
    for item in items:
        assert {"loc", "msg", "type"} <= set(item)
    return items


def test_token_check(connect, dialect):
    _, c = connect(dialect=dialect)
    if dialect == "documented":
        assert c.post("/test").json() == {"success": True, "message": "API token is valid"}
    else:
        items = validation_items(c.post("/test"), dialect)  # the spec requires {"input": ...}
        assert items[0]["loc"] == ["body"] and items[0]["msg"] == "Field required"
        assert c.post("/test", json={"input": "check"}).json() == {"message": "API token is valid"}


def test_balance(connect, dialect):
    _, c = connect(dialect=dialect)
    body = c.get("/balance").json()
    assert body["available_minutes"] == 100000
    parse_ts(body["last_updated"])


def test_scenario_crud(connect, dialect):
    box, c = connect(dialect=dialect)
    r = c.post("/scenarios", json={"name": "Pitch", "ai_instructions": "You are a buyer.", "is_public": False,
                                   "session_analysis": {"admin_email": "a@b.c", "is_auto_analysis": False},
                                   "unknown_field": "ignored"})
    assert r.status_code == 200
    created = r.json()
    assert HEX24.fullmatch(created["id"]) and created["name"] == "Pitch" and created["is_public"] is False
    assert "unknown_field" not in created
    if dialect == "documented":
        assert created["ai_instructions"] == "You are a buyer." and created["created_at"]
    else:  # PublicScenarioResponse has neither
        assert "ai_instructions" not in created and "created_at" not in created
    sid = created["id"]
    detail = c.get(f"/scenarios/{sid}").json()
    assert detail["ai_instructions"] == "You are a buyer." and detail["session_analysis"]["admin_email"] == "a@b.c"
    listed = c.get("/scenarios").json()
    assert list(listed) == ["scenarios"] and listed["scenarios"][0]["id"] == sid and len(listed["scenarios"]) == 6
    assert [s["id"] for s in c.get("/scenarios", params={"search": "PITCH"}).json()["scenarios"]] == [sid]
    patched = c.patch(f"/scenarios/{sid}", json={"description": "new"}).json()
    assert patched["description"] == "new" and patched["name"] == "Pitch"
    upserted = c.post("/scenarios", json={"id": sid, "name": "Pitch v2"}).json()  # the spec's update
    assert upserted["id"] == sid and upserted["name"] == "Pitch v2"
    assert c.get(f"/scenarios/{sid}").json()["description"] == "new"
    r = c.delete(f"/scenarios/{sid}")
    if dialect == "documented":
        assert r.status_code == 204 and r.content == b""
    else:
        assert r.status_code == 200 and r.json() == {}
    r = c.get(f"/scenarios/{sid}")
    assert r.status_code == 404 and sid in error_text(r, dialect)
    assert box.counters.creates["scenario"] == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"ai_instructions": "x"}, "name"),
    ({"name": "  ", "ai_instructions": "x"}, "name"),
    ({"name": "x"}, "ai_instructions"),
    ({"name": "x", "ai_instructions": None}, "ai_instructions"),
])
def test_missing_or_blank_required_fields_are_400(connect, dialect, body, field):
    box, c = connect(dialect=dialect)
    r = c.post("/scenarios", json=body)
    assert r.status_code == 400
    assert field in error_text(r, dialect)
    if dialect == "documented":
        assert r.json()["details"] == {"field": field}
    assert box.counters.creates["scenario"] == 0


@pytest.mark.parametrize(("body", "loc", "kind"), [
    ({"name": 3, "ai_instructions": "x"}, ["body", "name"], "string_type"),
    ({"name": "x", "ai_instructions": "x", "is_public": "perhaps"}, ["body", "is_public"], "bool_parsing"),
    ({"name": "x", "ai_instructions": "x", "session_analysis": "yes"}, ["body", "session_analysis"],
     "model_attributes_type"),
    ({"name": "x", "ai_instructions": "x", "session_analysis": {"is_auto_analysis": []}},
     ["body", "session_analysis", "is_auto_analysis"], "bool_type"),
    ({"name": "x", "ai_instructions": "x", "type": "weird"}, ["body", "type"], "literal_error"),
    ({"name": "x", "ai_instructions": "x", "user_metadata": {"k": [1]}}, ["body", "user_metadata", "k", "str"],
     "string_type"),
    ({"name": "x", "ai_instructions": "x", "processed_rubrik": {"criteria": [{"topic": "t"}]}},
     ["body", "processed_rubrik", "criteria", 0, "weight"], "missing"),
    (["not", "an", "object"], ["body"], "model_attributes_type"),
])
def test_wrong_types_are_422_like_fastapi(connect, dialect, body, loc, kind):
    box, c = connect(dialect=dialect)
    items = validation_items(c.post("/scenarios", json=body), dialect)
    assert any(i["loc"] == loc and i["type"] == kind for i in items), items
    assert box.counters.creates["scenario"] == 0


def test_bad_json_and_missing_body(connect, dialect):
    _, c = connect(dialect=dialect)
    items = validation_items(c.post("/scenarios", content=b"{nope", headers={"content-type": "application/json"}),
                             dialect)
    assert items[0]["type"] == "json_invalid" and items[0]["loc"][0] == "body"
    items = validation_items(c.post("/sessions/analyze"), dialect)
    assert items[0] == {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}
    items = validation_items(c.post("/sessions/analyze", json={}), dialect)
    assert items[0]["loc"] == ["body", "session_id"] and items[0]["type"] == "missing"
    if dialect == "documented":
        assert c.post("/sessions/analyze", json={}).json()["error"].startswith("Invalid request: session_id")


def test_list_sessions_pagination_and_meta(connect, dialect, listing):
    profile, path = listing
    _, c = connect(dialect=dialect, profile=profile)
    body = c.get(path, params={"limit": 200, "page": 2}).json()
    assert set(body) == {"sessions", "page_meta"}
    assert body["page_meta"] == {"page": 2, "limit": 200, "total": 520, "total_pages": 3, "has_next": True,
                                 "has_prev": True}
    assert len(body["sessions"]) == 200
    default = c.get(path).json()
    assert default["page_meta"]["limit"] == 50 and default["page_meta"]["has_prev"] is False
    last = c.get(path, params={"limit": 200, "page": 3}).json()
    assert len(last["sessions"]) == 120 and last["page_meta"]["has_next"] is False
    beyond = c.get(path, params={"limit": 200, "page": 9}).json()
    assert beyond["sessions"] == [] and beyond["page_meta"]["total"] == 520
    created = [parse_ts(s["created_at"]) for s in c.get(path, params={"limit": 500}).json()["sessions"]]
    assert created == sorted(created, reverse=True)
    statuses = Counter(s["status"] for s in c.get(path, params={"limit": 500}).json()["sessions"])
    running = "active" if dialect == "spec" else "in_progress"
    assert statuses[running] == 3 and statuses["completed"] > 400 and statuses["terminated"] > 0


@pytest.mark.parametrize(("params", "loc", "kind"), [
    ({"limit": 0}, ["query", "limit"], "greater_than_equal"),
    ({"limit": 501}, ["query", "limit"], "less_than_equal"),
    ({"limit": "ten"}, ["query", "limit"], "int_parsing"),
    ({"page": 0}, ["query", "page"], "greater_than_equal"),
])
def test_list_sessions_validation(connect, dialect, listing, params, loc, kind):
    profile, path = listing
    _, c = connect(dialect=dialect, profile=profile)
    items = validation_items(c.get(path, params=params), dialect)
    assert items[0]["loc"] == loc and items[0]["type"] == kind
    assert items[0]["input"] == str(next(iter(params.values())))  # the query string as sent


def test_v1_list_sessions_filters(connect, dialect):
    _, c = connect(dialect=dialect, profile="brief")
    everything = [s for page in (1, 2) for s in c.get("/sessions", params={"limit": 500, "page": page}).json()["sessions"]]
    assert len(everything) == 520
    scen = everything[0]["scenario_id"]
    only = c.get("/sessions", params={"scenario_id": scen, "limit": 500}).json()
    assert only["page_meta"]["total"] == sum(s["scenario_id"] == scen for s in everything)
    emails = sorted({s["user_email"] for s in everything})[:2]
    two = c.get("/sessions", params={"user_email": ",".join(emails), "limit": 500}).json()["sessions"]
    assert {s["user_email"] for s in two} == set(emails)
    assert len(two) == sum(s["user_email"] in emails for s in everything)


def test_date_only_upper_bound_means_end_of_day(connect, dialect, listing):
    profile, path = listing
    box, c = connect(dialect=dialect, profile=profile)
    target = sorted(box.state.sessions.values(), key=lambda s: s.updated_at)[200]
    day = target.updated_at.date().isoformat()
    same_day = [s for s in box.state.sessions.values() if s.updated_at.date().isoformat() == day]
    r = c.get(path, params={"from_date": day, "to_date": day, "limit": 500}).json()
    assert r["page_meta"]["total"] == len(same_day) > 0
    assert target.id in {s["id"] for s in r["sessions"]}
    up_to = c.get(path, params={"to_date": day, "limit": 500}).json()["page_meta"]["total"]
    assert up_to == sum(s.updated_at.date().isoformat() <= day for s in box.state.sessions.values())
    stamp = target.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%f")
    exact = c.get(path, params={"from_date": stamp, "to_date": stamp + "Z", "limit": 500}).json()
    assert target.id in {s["id"] for s in exact["sessions"]}
    r = c.get(path, params={"from_date": "last week"})
    assert r.status_code == 400 and "from_date" in error_text(r, dialect)


def test_get_session_detail(connect, dialect):
    _, c = connect(dialect=dialect)
    summary = next(s for s in c.get("/v2/sessions", params={"limit": 100}).json()["sessions"]
                   if s["evaluation_results"])
    detail = c.get(f"/sessions/{summary['id']}").json()
    assert detail["_id"] == summary["id"] and "id" not in detail
    assert detail["scenario_overview"]["name"] == summary["scenario_name"]
    assert detail["evaluation_results"] == summary["evaluation_results"]
    assert detail["finalized_transcript"].startswith("[00:00] AI: ")
    assert detail["metadata"]["team"] and detail["user_id"]
    r = c.get("/sessions/" + "0" * 24)
    assert r.status_code == 404 and "Session not found" in error_text(r, dialect)
    r = c.get("/sessions/analyze")  # GET on the analyse path is "a session called analyze", as in FastAPI
    assert r.status_code == 404


def test_create_complete_analyse(connect, dialect):
    box, c = connect(dialect=dialect)
    scenario_id = first_scenario_id(c)
    r = c.post("/v2/sessions", json={"scenario_id": scenario_id, "user_email": "ann@example.com",
                                     "user_name": "Ann", "metadata": {"team": "Blue"}})
    assert set(r.json()) == {"session_id", "embed_url"}
    sid = r.json()["session_id"]
    assert is_sandbox_url(r.json()["embed_url"]) and r.json()["embed_url"].endswith(f"/embed/session/{sid}")
    detail = c.get(f"/sessions/{sid}").json()
    assert detail["status"] == ("active" if dialect == "spec" else "in_progress")
    assert detail["metadata"] == {"team": "Blue"} and detail["evaluation_results"] is None
    r = c.post("/sessions/analyze", json={"session_id": sid})
    assert r.status_code == 400 and "in progress" in error_text(r, dialect)
    done = complete(c, sid)
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert done.json()["finalized_transcript"] == GOOD_TRANSCRIPT
    r = c.post("/sessions/analyze", json={"session_id": sid})
    assert r.status_code == 200
    body = r.json()
    if dialect == "spec":
        assert set(body) == {"evaluation", "improvement", "is_analyzing"} and body["is_analyzing"] is False
        assert body["evaluation"]["detailed_feedback"].startswith("Simulated analysis (sandbox):")
        score = body["evaluation"]["final_score"] * 10
    else:
        assert {"overall_score", "strengths", "improvements"} <= set(body)
        assert all(isinstance(x, str) for x in body["strengths"] + body["improvements"])
        score = body["overall_score"]
    assert 0 <= score <= 100
    assert c.get("/balance").json()["available_minutes"] == 99999
    again = c.post("/sessions/analyze", json={"session_id": sid, "force": False}).json()
    assert again == body and c.get("/balance").json()["available_minutes"] == 99999
    c.post("/sessions/analyze", json={"session_id": sid, "force": True})
    assert c.get("/balance").json()["available_minutes"] == 99998
    assert box.counters.analyses[sid] == 2
    stored = c.get(f"/sessions/{sid}").json()
    assert stored["evaluation_results"]["report_card"] and stored["improvement_results"]["action_items"]
    r = c.post("/v2/sessions", json={"scenario_id": "nope"})
    assert r.status_code == 404 and "Scenario not found" in error_text(r, dialect)


def test_complete_route_validation(connect, dialect):
    _, c = connect(dialect=dialect)
    sid = new_session(c)
    items = validation_items(complete(c, sid, transcript=None), dialect)
    assert items[0]["loc"] == ["body", "transcript"]
    items = validation_items(complete(c, sid, status="paused"), dialect)
    assert items[0]["type"] == "literal_error"
    r = complete(c, sid, transcript="", status="terminated", duration_s=12)
    assert r.status_code == 200 and r.json()["status"] == "terminated" and r.json()["duration"] == 12
    r = complete(c, sid)
    assert r.status_code == 409 and "already terminated" in error_text(r, dialect)
    r = c.post("/sessions/analyze", json={"session_id": sid})
    assert r.status_code == 400 and "terminated" in error_text(r, dialect)


@pytest.mark.parametrize("profile", ["current", "brief"])
def test_batch_in_both_profiles(connect, dialect, profile):
    box, c = connect(dialect=dialect, profile=profile)
    ids = [s.id for s in box.state.list_sessions(limit=5)[0]]
    r = c.get("/v2/sessions/batch", params=[("session_ids", ids[3]), ("session_ids", "nope"),
                                              ("session_ids", ids[0])])
    body = r.json()
    assert [s["id"] for s in body["sessions"]] == [ids[3], ids[0]]
    assert all(("report_card" in s) == (profile == "brief") for s in body["sessions"])  # removed in current
    assert body["page_meta"] == {"page": 1, "limit": 2, "total": 2, "total_pages": 1, "has_next": False,
                                 "has_prev": False}
    items = validation_items(c.get("/v2/sessions/batch"), dialect)
    assert items[0]["loc"] == ["query", "session_ids"] and items[0]["type"] == "missing"


def test_scenario_access_token(connect, dialect):
    box, c = connect(dialect=dialect, token="api-token-123")
    c.headers["authorization"] = "Bearer api-token-123"
    scenario_id = first_scenario_id(c)
    body = c.post("/scenario-access-token", json={"scenario_id": scenario_id, "valid_for_hours": 2}).json()
    assert set(body) == {"access_token", "expires_at", "iframe_src"}
    assert body["access_token"].startswith("sat_") and body["access_token"] != "api-token-123"
    assert is_sandbox_url(body["iframe_src"]) and "scenarioAccessToken=" + body["access_token"] in body["iframe_src"]
    assert "api-token-123" not in body["iframe_src"]
    parse_ts(body["expires_at"])
    items = validation_items(c.post("/scenario-access-token", json={"scenario_id": scenario_id,
                                                                     "valid_for_hours": 25}), dialect)
    assert items[0]["type"] == "less_than_equal" and items[0]["ctx"] == {"le": 24}
    r = c.post("/scenario-access-token", json={"scenario_id": "nope"})
    assert r.status_code == 404
    assert box.counters.creates["access_token"] == 1


def test_unknown_routes_and_methods(connect, dialect):
    _, c = connect(dialect=dialect)
    r = c.get("/nothing/here")
    assert r.status_code == 404 and error_text(r, dialect) == "Not Found"
    r = c.put("/scenarios")
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST" and error_text(r, dialect) == "Method Not Allowed"
    assert c.get(c.base_url.copy_with(path="/elsewhere")).status_code == 404  # outside /api/public


def test_spec_routes_only_refuses_what_the_spec_lacks(connect, dialect):
    box, c = connect(dialect=dialect, spec_routes_only=True)
    scenario_id = first_scenario_id(c)
    for method, path, body in (("PATCH", f"/scenarios/{scenario_id}", {"name": "x"}),
                               ("DELETE", f"/scenarios/{scenario_id}", None),
                               ("POST", "/v2/sessions", {"scenario_id": scenario_id})):
        r = c.request(method, path, json=body)
        assert r.status_code == 405, (method, path)
        assert error_text(r, dialect) == "Method Not Allowed"
    assert box.counters.creates["session"] == 0 and c.get(f"/scenarios/{scenario_id}").json()["name"] != "x"
    # what the spec has still works, including its update-by-POST and the sandbox-only completion route
    assert c.post("/scenarios", json={"id": scenario_id, "name": "Renamed"}).json()["name"] == "Renamed"
    running = next(s for s in box.state.sessions.values() if s.status == "in_progress")
    assert complete(c, running.id).status_code == 200
    box.spec_routes_only = False
    assert c.patch(f"/scenarios/{scenario_id}", json={"name": "y"}).status_code == 200


def test_auth_when_the_sandbox_has_a_token(connect, dialect):
    box, c = connect(dialect=dialect, token="secret-1", read_only_tokens=("ro-2",))
    r = c.get("/balance")
    assert r.status_code == 401 and "Authorization: Bearer" in error_text(r, dialect)
    r = c.get("/balance", headers={"authorization": "Bearer wrong"})
    assert r.status_code == 401 and "wrong" not in r.text and "secret-1" not in r.text
    r = c.get("/balance", headers={"authorization": "Basic secret-1"})
    assert r.status_code == 401
    assert c.get("/balance", headers={"authorization": "Bearer secret-1"}).status_code == 200
    ro = {"authorization": "Bearer ro-2"}
    assert c.get("/scenarios", headers=ro).status_code == 200
    assert c.post("/test", headers=ro, json={"input": "check"}).status_code == 200
    scenario_id = first_scenario_id(c.__class__(base_url=c.base_url, transport=c._transport, headers=ro))
    for method, path, body in (("POST", "/scenarios", {"name": "n", "ai_instructions": "i"}),
                               ("PATCH", f"/scenarios/{scenario_id}", {"name": "n"}),
                               ("DELETE", f"/scenarios/{scenario_id}", None),
                               ("POST", "/v2/sessions", {"scenario_id": scenario_id}),
                               ("POST", "/sessions/analyze", {"session_id": "x"})):
        r = c.request(method, path, json=body, headers=ro)
        assert r.status_code == 403, (method, path)
        assert "read-only" in error_text(r, dialect)
    assert c.post("/scenario-access-token", json={"scenario_id": scenario_id}, headers=ro).status_code == 200
    assert box.counters.creates["scenario"] == 0 and box.counters.creates["session"] == 0


def test_read_only_tokens_without_a_main_token(connect, dialect):
    _, c = connect(dialect=dialect, read_only_tokens=("viewer",))
    assert c.post("/scenarios", json={"name": "n", "ai_instructions": "i"},
                  headers={"authorization": "Bearer anyone"}).status_code == 200
    r = c.post("/scenarios", json={"name": "n", "ai_instructions": "i"}, headers={"authorization": "Bearer viewer"})
    assert r.status_code == 403


def test_bodies_over_the_limit_are_413(connect, dialect):
    box, c = connect(dialect=dialect, max_body_bytes=2_000)
    r = c.post("/scenarios", json={"name": "big", "ai_instructions": "x" * 5_000})
    assert r.status_code == 413 and "too large" in error_text(r, dialect)
    assert box.counters.creates["scenario"] == 0
    assert c.get("/balance").status_code == 200  # and the sandbox keeps serving


def test_sandbox_control_routes(connect, dialect):
    box, c = connect(dialect=dialect)
    c.post("/scenarios", json={"name": "n", "ai_instructions": "i"})
    counters = c.get("/sandbox/counters").json()
    assert counters["counters"]["creates"] == {"scenario": 1} and counters["state"]["scenarios"] == 6
    assert c.post("/sandbox/reset").json()["state"]["scenarios"] == 5
    assert len(box.state.scenarios) == 5 and box.counters.creates["scenario"] == 0
