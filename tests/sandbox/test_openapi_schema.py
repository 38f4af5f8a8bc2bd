"""Every spec-dialect response of an operation the vendor spec has validates against that operation's
response schema in the spec (``$ref``s resolved with a ``referencing`` registry over the whole document)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from .helpers import GOOD_TRANSCRIPT, complete, local_client, new_session
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ttai_notebook.sandbox import Sandbox

SPEC_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "ttai-openapi-2026-05.json"
SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
URI = "urn:ttai:openapi-2026-05"
REGISTRY = Registry().with_resource(URI, Resource.from_contents(SPEC, default_specification=DRAFT202012))
PREFIX = "/api/public"


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def validator_for(path_template: str, method: str, status: int) -> Draft202012Validator:
    """A validator for the response schema of one operation, by reference into the spec."""
    op = SPEC["paths"][PREFIX + path_template][method.lower()]
    assert str(status) in op["responses"], f"the spec has no {status} for {method} {path_template}"
    pointer = "/".join(["", "paths", _escape(PREFIX + path_template), method.lower(), "responses", str(status),
                        "content", _escape("application/json"), "schema"])
    return Draft202012Validator({"$ref": f"{URI}#{pointer}"}, registry=REGISTRY)


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = REGISTRY.resolver().lookup(f"{URI}{schema['$ref']}").contents
    return schema


def declared(component: str) -> set[str]:
    return set(SPEC["components"]["schemas"][component]["properties"])


class Checker:
    """Validates responses and counts them."""

    def __init__(self) -> None:
        self.count = 0
        self.operations: set[str] = set()

    def check(self, response: httpx.Response, path_template: str, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        method = response.request.method
        body = response.json()
        errors = sorted(validator_for(path_template, method, status).iter_errors(body), key=lambda e: e.path)
        assert not errors, f"{method} {path_template}: " + "; ".join(
            f"{list(e.path)}: {e.message}" for e in errors[:5])
        self.count += 1
        self.operations.add(f"{method} {path_template} {status}")
        return body


@pytest.fixture(params=[("transport", "current"), ("server", "current"), ("transport", "brief")],
                ids=["transport-current", "server-current", "transport-brief"])
def spec_client(request):
    way, profile = request.param
    box = Sandbox(seed=0, dialect="spec", profile=profile, background="manual")
    if way == "transport":
        client = httpx.Client(transport=box.transport(), base_url=box.base_url)
        yield box, client
        client.close()
    else:
        with box.serve() as server, local_client(server.base_url) as client:
            yield box, client


def test_spec_dialect_responses_validate_against_the_vendor_spec(spec_client, capsys):
    box, c = spec_client
    v = Checker()
    v.check(c.post("/test", json={"input": "check"}), "/test")
    v.check(c.post("/test", json={}), "/test", 422)
    v.check(c.get("/balance"), "/balance")

    scenarios = v.check(c.get("/scenarios"), "/scenarios")["scenarios"]
    v.check(c.get("/scenarios", params={"search": "call"}), "/scenarios")
    for s in scenarios:
        v.check(c.get(f"/scenarios/{s['id']}"), "/scenarios/{scenario_id}")
    created = v.check(c.post("/scenarios", json={
        "name": "Schema check", "ai_instructions": "You are a buyer.", "is_public": False, "is_recording": True,
        "session_analysis": {"admin_email": "a@b.c", "is_auto_analysis": False}, "rubrik": "- Open questions (50%)\n- Next steps (50%)",
        "user_metadata": {"track": "x", "level": 2}, "appearance": {"voice": "Puck"}}), "/scenarios")
    v.check(c.post("/scenarios", json={"id": created["id"], "description": "updated"}), "/scenarios")
    v.check(c.get(f"/scenarios/{created['id']}"), "/scenarios/{scenario_id}")
    v.check(c.post("/scenarios", json={"name": 5}), "/scenarios", 422)

    # every session of the organisation, in pages, through the profile's list route
    current = box.profile == "current"
    listing = "/v2/sessions" if current else "/sessions"
    for page in (1, 2, 3):
        v.check(c.get(listing, params={"limit": 200, "page": page}), listing)
    v.check(c.get(listing, params={"limit": 0}), listing, 422)
    everything = [s for p in (1, 2) for s in c.get(listing, params={"limit": 500, "page": p}).json()["sessions"]]
    kinds = {}
    for s in everything:
        kind = (s["status"], s["evaluation_results"] is not None)
        kinds.setdefault(kind, s["id"])
    assert len(kinds) == 4  # active, terminated, completed analysed, completed unanalysed
    for sid in kinds.values():
        v.check(c.get(f"/sessions/{sid}"), "/sessions/{session_id}")
    for s in everything[::5]:  # a fifth of the organisation, every kind of session among them
        v.check(c.get(f"/sessions/{s['id']}"), "/sessions/{session_id}")

    # a session created, completed and analysed during the run
    sid = new_session(c, created["id"], user_email="ann@example.com", metadata={"team": "Blue", "n": 1})
    v.check(c.get(f"/sessions/{sid}"), "/sessions/{session_id}")
    assert complete(c, sid, GOOD_TRANSCRIPT).status_code == 200
    v.check(c.post("/sessions/analyze", json={"session_id": sid}), "/sessions/analyze")
    v.check(c.post("/sessions/analyze", json={"session_id": sid}), "/sessions/analyze")  # reused
    v.check(c.post("/sessions/analyze", json={"session_id": sid, "force": True}), "/sessions/analyze")
    unanalysed = kinds[("completed", False)]
    v.check(c.post("/sessions/analyze", json={"session_id": unanalysed}), "/sessions/analyze")
    v.check(c.post("/sessions/analyze", json={}), "/sessions/analyze", 422)
    v.check(c.get(f"/sessions/{sid}"), "/sessions/{session_id}")
    v.check(c.get(listing, params={"user_email": "ann@example.com"}), listing)
    if current:
        _check_current_routes(box, c, v, sid, unanalysed, created["id"])

    v.check(c.get("/v2/sessions/batch", params=[("session_ids", sid), ("session_ids", unanalysed)]),
            "/v2/sessions/batch")
    v.check(c.get("/v2/sessions/batch"), "/v2/sessions/batch", 422)
    v.check(c.post("/scenario-access-token", json={"scenario_id": created["id"], "valid_for_hours": 3}),
            "/scenario-access-token")
    v.check(c.post("/scenario-access-token", json={"scenario_id": created["id"], "valid_for_hours": 0}),
            "/scenario-access-token", 422)

    required = {"POST /test 200", "GET /balance 200", "GET /scenarios 200", "POST /scenarios 200",
                "GET /scenarios/{scenario_id} 200", f"GET {listing} 200", "GET /sessions/{session_id} 200",
                "POST /sessions/analyze 200", "GET /v2/sessions/batch 200", "POST /scenario-access-token 200"}
    if current:
        required |= {"POST /v2/sessions/{session_id}/post-process 200", "GET /v2/organizations 200",
                     "POST /v2/session 200", "GET /v2/analytics 200", "POST /v2/sessions/{session_id}/post-process 422",
                     "POST /v2/session 422", "GET /v2/analytics 422", "GET /v2/sessions 422"}
    assert required <= v.operations
    with capsys.disabled():
        print(f"\n[openapi] {v.count} spec-dialect responses validated across {len(v.operations)} "
              f"operation/status pairs")
    assert v.count >= 130


def _check_current_routes(box: Sandbox, c: httpx.Client, v: Checker, sid: str, unanalysed: str,
                          scenario_id: str) -> None:
    """The routes of today's service (profile current), each answer validated."""
    # filtered v2 listings: advanced dates, metadata, both convenience and advanced together
    v.check(c.get("/v2/sessions", params={"$gte_created_at": "2026-03-01", "$lt_created_at": "2026-04-01T12:00:00",
                                          "limit": 500}), "/v2/sessions")
    v.check(c.get("/v2/sessions", params={"meta_team": "Mid-Market", "from_date": "2026-02-01",
                                          "$lte_updated_at": "2026-05-01", "limit": 500}), "/v2/sessions")
    v.check(c.get("/v2/sessions", params={"$between_created_at": "2026-03-01"}), "/v2/sessions", 422)
    # post-process: trigger, pending, done; a re-run; validation
    pp = "/v2/sessions/{session_id}/post-process"
    v.check(c.post(f"/v2/sessions/{unanalysed}/post-process", json={"run_analysis": True}), pp)
    v.check(c.get("/v2/sessions/batch", params={"session_ids": unanalysed}), "/v2/sessions/batch")
    box.advance(box.processing_time)
    v.check(c.get(f"/sessions/{unanalysed}"), "/sessions/{session_id}")
    v.check(c.post(f"/v2/sessions/{sid}/post-process", json={"run_analysis": True, "run_extraction": True}), pp)
    box.advance(box.processing_time)
    v.check(c.get("/v2/sessions/batch", params=[("session_ids", sid), ("session_ids", unanalysed)]),
            "/v2/sessions/batch")
    v.check(c.get(f"/sessions/{sid}"), "/sessions/{session_id}")
    v.check(c.post(f"/v2/sessions/{sid}/post-process", json={"run_analysis": "maybe"}), pp, 422)
    v.check(c.post(f"/v2/sessions/{sid}/post-process"), pp, 422)
    # organisations, org-scoped listings and analytics
    orgs = v.check(c.get("/v2/organizations"), "/v2/organizations")
    admin = next(o["id"] for o in orgs if o["role"] == 30)
    v.check(c.get("/v2/sessions", params={"is_org": True, "limit": 100}, headers={"X-TT-ORG": admin}), "/v2/sessions")
    v.check(c.get("/v2/analytics"), "/v2/analytics")
    v.check(c.get("/v2/analytics", params={"start_date": "2026-01-01T00:00:00", "end_date": "2026-05-15"}),
            "/v2/analytics")
    v.check(c.get("/v2/analytics", params={"is_org_wide": True}, headers={"X-TT-ORG": admin}), "/v2/analytics")
    v.check(c.get("/v2/analytics", params={"is_org_wide": True, "start_date": "2026-04-01"},
                  headers={"X-TT-ORG": admin}), "/v2/analytics")
    v.check(c.get("/v2/analytics", params={"start_date": "soon"}), "/v2/analytics", 422)
    # imports: a transcript, a recording (simulated transcript), validation
    imported = v.check(c.post("/v2/session", json={"scenario_id": scenario_id, "transcript": GOOD_TRANSCRIPT,
                                                   "user_email": "imp@example.com", "metadata": {"team": "Blue"},
                                                   "user_metadata": {"team": "Blue", "level": 2}}), "/v2/session")
    v.check(c.post("/v2/session", json={"scenario_id": scenario_id, "recording_url": "https://rec.example/a.mp3"}),
            "/v2/session")
    v.check(c.post("/v2/session", json={"transcript": GOOD_TRANSCRIPT}), "/v2/session", 422)
    v.check(c.get(f"/sessions/{imported['session_id']}"), "/sessions/{session_id}")
    box.advance(box.processing_time)
    v.check(c.get(f"/sessions/{imported['session_id']}"), "/sessions/{session_id}")
    v.check(c.get("/v2/sessions", params={"meta_$gte_level": 2}), "/v2/sessions")


def test_the_validator_really_rejects_wrong_shapes():
    # guard against a validator that accepts anything (e.g. an unresolved $ref)
    wallet = validator_for("/balance", "GET", 200)
    assert not wallet.is_valid({"available_minutes": "lots"})
    assert not wallet.is_valid({"last_updated": "2026-01-01T00:00:00"})
    session = validator_for("/sessions/{session_id}", "GET", 200)
    assert not session.is_valid({"_id": "x", "scenario_id": "s", "user_id": "u", "scenario_overview": {}})
    listing = validator_for("/sessions", "GET", 200)
    assert not listing.is_valid({"sessions": [{"id": "a", "scenario_id": "b", "created_at": "c",
                                               "status": "in_progress"}],
                                 "page_meta": {"page": 1, "limit": 1, "total": 1, "total_pages": 1,
                                               "has_next": False, "has_prev": False}})  # "in_progress" is not spec
    assert not validator_for("/v2/organizations", "GET", 200).is_valid([{"id": "x", "name": "n", "slug": "s",
                                                                         "role": 25}])
    assert not validator_for("/v2/session", "POST", 200).is_valid({"session_id": "x"})
    analytics = validator_for("/v2/analytics", "GET", 200)
    assert not analytics.is_valid({"scenarios": [{"name": "n"}]})
    assert not analytics.is_valid({"scenarios": [], "org_dashboard": {"summary": {}, "usage_by_member": [],
                                                                      "time_series": []}})


@pytest.mark.parametrize("profile", ["current", "brief"])
def test_spec_dialect_sends_no_undeclared_fields_but_the_few_documented_extras(profile):
    box = Sandbox(seed=0, dialect="spec", profile=profile)
    with httpx.Client(transport=box.transport(), base_url=box.base_url) as c:
        summary = c.get("/scenarios").json()["scenarios"][0]
        assert set(summary) - declared("PublicScenarioResponse") == {"created_at", "updated_at"}
        detail = c.get(f"/scenarios/{summary['id']}").json()
        assert set(detail) - declared("PublicScenarioDetailResponse") == set()
        created = c.post("/scenarios", json={"name": "n", "ai_instructions": "i"}).json()
        assert set(created) - declared("PublicScenarioResponse") == set()
        listed = c.get("/v2/sessions" if profile == "current" else "/sessions", params={"limit": 50}).json()["sessions"]
        removed = {"duration_minutes", "evaluation_score", "evaluation_note", "report_card", "report_card_topics"}
        for s in listed:
            assert set(s) - declared("PublicSessionResponse") == set()
            assert (removed <= set(s)) if profile == "brief" else not (removed & set(s))
            if s["evaluation_results"]:
                assert set(s["evaluation_results"]) == declared("EvaluationResults")
                assert set(s["improvement_results"]) == declared("ImprovementResults")
                for entry in s["evaluation_results"]["report_card"]:
                    assert set(entry) == declared("EvalReportEntry")
        one = c.get(f"/sessions/{listed[0]['id']}").json()
        assert set(one) - declared("PublicEnrichedSession") == {"analytics_url"}
        assert set(one["scenario_overview"]) - declared("ScenarioOverview") == set()
        sat = c.post("/scenario-access-token", json={"scenario_id": summary["id"]}).json()
        assert set(sat) == declared("SATResponse")
        assert set(c.get("/balance").json()) == declared("PublicWalletResponse")
        if profile == "current":
            assert all(set(o) == declared("PublicOrgItem") for o in c.get("/v2/organizations").json())
            analytics = c.get("/v2/analytics", params={"is_org_wide": True},
                              headers={"X-TT-ORG": box.state.organizations[0].id}).json()
            assert set(analytics) == declared("UnifiedAnalyticsResponse")
            assert set(analytics["scenarios"][0]) == declared("ScenarioStatsResponse")
            assert set(analytics["member_usage"]["members"][0]) == declared("OrgMemberStats")
