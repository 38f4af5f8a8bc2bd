"""``profile="current" | "brief"``: which routes exist and which session fields are written, in both dialects."""
from __future__ import annotations

import pytest

from ttai_notebook.sandbox import Sandbox
from ttai_notebook.sandbox.wire import REMOVED_SESSION_FIELDS

from .helpers import make_http

NEW_ROUTES = (("GET", "/v2/organizations", None), ("GET", "/v2/analytics", None),
              ("POST", "/v2/session", {"scenario_id": "x", "transcript": "[00:01] User: hi"}))


@pytest.fixture(params=["documented", "spec"])
def dialect(request):
    return request.param


def not_found(r, dialect) -> bool:
    body = r.json()
    return r.status_code == 404 and (body == {"detail": "Not Found"} if dialect == "spec"
                                     else body == {"error": "Not Found", "details": {}})


def test_current_is_the_default_and_v1_list_is_gone(dialect):
    box = Sandbox(dialect=dialect)
    assert box.profile == "current" and "profile='current'" in repr(box)
    with make_http(box) as c:
        assert not_found(c.get("/sessions"), dialect)
        assert not_found(c.get("/sessions", params={"limit": 5}), dialect)
        assert c.get("/v2/sessions").status_code == 200
        sid = box.state._order[10].id
        # what stays: get one, batch, the deprecated synchronous analyse, the brief's session link
        assert c.get(f"/sessions/{sid}").status_code == 200
        assert c.get("/v2/sessions/batch", params={"session_ids": sid}).status_code == 200
        assert c.post("/sessions/analyze", json={"session_id": sid}).status_code == 200
    assert box.counters.requests["GET (no route)"] == 2


def test_brief_has_none_of_the_new_routes(dialect):
    box = Sandbox(dialect=dialect, profile="brief")
    with make_http(box) as c:
        for method, path, body in NEW_ROUTES:
            assert not_found(c.request(method, path, json=body), dialect), (method, path)
        sid = box.state._order[10].id
        assert not_found(c.post(f"/v2/sessions/{sid}/post-process", json={"run_analysis": True}), dialect)
        # the brief's POST /v2/sessions (session link) owns the path, so a GET there is 405, as FastAPI answers
        r = c.get("/v2/sessions")
        assert r.status_code == 405 and r.headers["allow"] == "POST"
        assert c.get("/sessions").json()["page_meta"]["total"] == 520
    assert box.counters.total_analyses == 0 and box.counters.creates["session"] == 0


@pytest.mark.parametrize(("profile", "path"), [("current", "/v2/sessions"), ("brief", "/sessions")])
def test_removed_fields_only_in_brief(dialect, profile, path):
    box = Sandbox(dialect=dialect, profile=profile)
    removed = set(REMOVED_SESSION_FIELDS)
    with make_http(box) as c:
        listed = c.get(path, params={"limit": 500}).json()["sessions"]
        batch = c.get("/v2/sessions/batch", params=[("session_ids", s["id"]) for s in listed[:50]]).json()["sessions"]
        one = c.get(f"/sessions/{listed[20]['id']}").json()
    for s in listed + batch:
        assert (removed <= set(s)) if profile == "brief" else not (removed & set(s))
    assert not removed & set(one)  # the detail never had them
    if profile == "brief":
        analysed = next(s for s in listed if s["evaluation_results"])
        assert analysed["evaluation_score"] == analysed["evaluation_results"]["final_score"]
        assert analysed["duration_minutes"] == round(analysed["duration"] / 60, 2)


def test_the_profile_can_be_switched_live_and_cached_answers_follow():
    box = Sandbox()
    with make_http(box) as c:
        sid = box.state._order[30].id
        current = c.get("/v2/sessions/batch", params={"session_ids": sid}).json()["sessions"][0]
        box.profile = "brief"
        brief = c.get("/v2/sessions/batch", params={"session_ids": sid}).json()["sessions"][0]
        assert "duration_minutes" in brief and "duration_minutes" not in current
        first = c.get("/sessions", params={"limit": 3}).json()
        assert c.get("/sessions", params={"limit": 3}).json() == first  # cached
        assert c.get("/v2/sessions").status_code == 405  # only the brief's POST /v2/sessions is there
        box.profile = "current"
        page = c.get("/v2/sessions", params={"limit": 3}).json()
        assert [s["id"] for s in page["sessions"]] == [s["id"] for s in first["sessions"]]
        assert "report_card" not in page["sessions"][0]
    with pytest.raises(ValueError, match="profile must be one of"):
        box.profile = "2026"
    with pytest.raises(ValueError, match="profile must be one of"):
        Sandbox(profile="v2")


def test_client_sandbox_forwards_the_profile_options():
    import ttai_notebook as tt

    with tt.Client.sandbox(profile="brief", processing_time=0, background="manual") as client:
        box = client.sandbox_instance
        assert (box.profile, box.processing_time, box.background) == ("brief", 0, "manual")
