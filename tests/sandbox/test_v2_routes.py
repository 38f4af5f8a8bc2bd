"""Today's routes through the transport and the real server, in both dialects: ``GET /v2/sessions`` filters,
``POST /v2/session`` imports, ``GET /v2/analytics``."""
from __future__ import annotations

from datetime import timedelta

import pytest

from ttai_notebook.sandbox import DEMO_NOW, Sandbox
from ttai_notebook.sandbox.clock import parse_ts
from ttai_notebook.sandbox.state import SIMULATED_RECORDING_NOTE

from .helpers import GOOD_TRANSCRIPT, first_scenario_id, make_http


@pytest.fixture(params=["documented", "spec"])
def dialect(request):
    return request.param


def message(r, dialect) -> str:
    return r.json()["detail"] if dialect == "spec" else r.json()["error"]


def ids(c, **params) -> list[str]:
    params.setdefault("limit", 500)
    out, page = [], 1
    while True:
        body = c.get("/v2/sessions", params={**params, "page": page}).json()
        out += [s["id"] for s in body["sessions"]]
        if not body["page_meta"]["has_next"]:
            return out
        page += 1


def test_v2_filters_against_the_records(connect, dialect):
    box, c = connect(dialect=dialect)
    recs = box.state._order
    scen = recs[0].scenario_id
    assert ids(c, scenario_id=scen) == [s.id for s in recs if s.scenario_id == scen]
    email = recs[5].user_email
    assert ids(c, user_email=email.upper()) == [s.id for s in recs if s.user_email == email]
    assert ids(c, user_email=f"{email},{recs[6].user_email}") == []  # one address, not a list
    lo, hi = "2026-03-02", "2026-03-20T12:00:00"
    want = [s.id for s in recs if s.created_at.date().isoformat() >= lo and s.created_at < parse_ts(hi)]
    assert ids(c, **{"$gte_created_at": lo, "$lt_created_at": hi}) == want and want
    want = [s.id for s in recs if s.user_metadata["team"] == "Mid-Market" and s.updated_at.date().isoformat() <= lo]
    assert ids(c, meta_team="Mid-Market", to_date=lo) == want and want
    # advanced wins over convenience on the same side
    assert ids(c, from_date="2026-05-01", **{"$gte_updated_at": "2026-01-01"}) == [s.id for s in recs]


def test_unknown_operator_is_422_in_the_dialects_shape(connect, dialect):
    _, c = connect(dialect=dialect)
    r = c.get("/v2/sessions", params={"$between_created_at": "2026-03-01"})
    assert r.status_code == 422
    items = r.json()["detail"] if dialect == "spec" else r.json()["details"]["errors"]
    assert items[0]["loc"] == ["query", "$between_created_at"] and "Unknown filter operator" in items[0]["msg"]
    if dialect == "documented":
        assert r.json()["error"].startswith("Invalid request: $between_created_at")
    r = c.get("/v2/sessions", params={"$gte_created_at": "March"})
    assert r.status_code == 400 and "$gte_created_at" in message(r, dialect)


def test_metadata_ranges_compare_numbers_as_numbers():
    box = Sandbox(processing_time=0)
    with make_http(box) as c:
        scenario = first_scenario_id(c)
        made = {}
        for level in (2, 9, 10, 30):
            r = c.post("/v2/session", json={"scenario_id": scenario, "transcript": GOOD_TRANSCRIPT,
                                            "user_metadata": {"level": level, "track": f"t{level}"}})
            made[level] = r.json()["session_id"]
        got = set(ids(c, **{"meta_$gte_level": "9", "meta_$lt_level": "30"}))
        assert got == {made[9], made[10]}  # as text "10" < "9"; as numbers it is in range
        assert ids(c, meta_level="10") == [made[10]]
        assert set(ids(c, **{"meta_$gt_track": "t2"})) == {made[9], made[30]}  # text: "t10" < "t2"


def test_newest_first_ties_by_id_and_stable_pages():
    box = Sandbox(sessions=60)
    recs = box.state._order
    same = recs[10].created_at
    for rec in recs[11:14]:  # three more sessions created at the same instant
        rec.created_at = same
    box.state._order.sort(key=lambda s: (-s.created_at.timestamp(), s.id))
    with make_http(box) as c:
        paged = [s for p in range(1, 13) for s in c.get("/v2/sessions", params={"limit": 5, "page": p}).json()["sessions"]]
    assert len({s["id"] for s in paged}) == 60
    tied = [s["id"] for s in paged if parse_ts(s["created_at"]) == same]
    assert len(tied) == 4 and tied == sorted(tied)
    stamps = [parse_ts(s["created_at"]) for s in paged]
    assert stamps == sorted(stamps, reverse=True)


def test_v2_pages_follow_the_state():
    box = Sandbox()
    with make_http(box) as c:
        first = c.get("/v2/sessions", params={"limit": 100, "meta_team": "Mid-Market"})
        assert c.get("/v2/sessions", params={"meta_team": "Mid-Market", "limit": 100}).content == first.content
        scenario_id = first.json()["sessions"][0]["scenario_id"]
        c.post("/scenarios", json={"id": scenario_id, "name": "Renamed drill"})
        again = c.get("/v2/sessions", params={"limit": 100, "meta_team": "Mid-Market"}).json()
        assert again["sessions"][0]["scenario_name"] == "Renamed drill"


def test_import_a_transcript(connect, dialect):
    box, c = connect(dialect=dialect, background="manual")
    scenario = first_scenario_id(c)
    r = c.post("/v2/session", json={"scenario_id": scenario, "transcript": GOOD_TRANSCRIPT, "user_name": "Imo",
                                    "user_email": "imo@example.com", "metadata": {"team": "Blue", "crm": {"id": 7}}})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"session_id", "analytics_url", "created_at"} and body["session_id"] in body["analytics_url"]
    sid = body["session_id"]
    detail = c.get(f"/sessions/{sid}").json()
    assert detail["status"] == "completed" and detail["finalized_transcript"] == GOOD_TRANSCRIPT
    assert detail["created_at"] == body["created_at"] and detail["completed_at"] and detail["duration"] > 0
    assert detail["metadata"] == {"team": "Blue", "crm": {"id": 7}} and detail["user_metadata"] == {"team": "Blue"}
    assert detail["evaluation_results"] is None  # analysed in the background
    assert box.counters.analyses[sid] == 1 and box.counters.creates["import"] == 1  # charged when accepted
    assert c.get("/balance").json()["available_minutes"] == 99_999
    box.advance(box.processing_time)
    done = c.get(f"/sessions/{sid}").json()
    assert done["evaluation_results"]["report_card"] and parse_ts(done["updated_at"]) > parse_ts(detail["updated_at"])
    assert ids(c, user_email="imo@example.com") == [sid]  # newest, listed


def test_import_a_recording_makes_a_simulated_transcript(connect, dialect):
    box, c = connect(dialect=dialect, processing_time=0)
    scenario = first_scenario_id(c)
    url = "https://recordings.example/call-42.mp3?sig=SECRET"
    r = c.post("/v2/session", json={"scenario_id": scenario, "recording_url": url,
                                    "user_metadata": {"source": "dialer"}})
    detail = c.get(f"/sessions/{r.json()['session_id']}").json()
    transcript = detail["finalized_transcript"]
    assert transcript.startswith(SIMULATED_RECORDING_NOTE) and "Simulated transcript" in transcript
    assert "SECRET" not in transcript and "User:" in transcript
    assert detail["evaluation_results"] is not None and detail["user_metadata"] == {"source": "dialer"}
    again = c.post("/v2/session", json={"scenario_id": scenario, "recording_url": url}).json()
    assert c.get(f"/sessions/{again['session_id']}").json()["finalized_transcript"] == transcript  # deterministic


@pytest.mark.parametrize(("body", "status", "needle"), [
    ({"transcript": GOOD_TRANSCRIPT}, 422, None),
    ({"scenario_id": "SCEN"}, 400, "Either transcript or recording_url is required"),
    ({"scenario_id": "SCEN", "transcript": "  ", "recording_url": None}, 400, "Either transcript or recording_url"),
    ({"scenario_id": "SCEN", "transcript": 5}, 422, None),
    ({"scenario_id": "SCEN", "transcript": GOOD_TRANSCRIPT, "user_metadata": {"k": [1]}}, 422, None),
    ({"scenario_id": "nope", "transcript": GOOD_TRANSCRIPT}, 404, "Scenario not found"),
])
def test_import_refusals(connect, dialect, body, status, needle):
    box, c = connect(dialect=dialect)
    if body.get("scenario_id") == "SCEN":
        body = dict(body, scenario_id=first_scenario_id(c))
    r = c.post("/v2/session", json=body)
    assert r.status_code == status
    if needle:
        assert needle in message(r, dialect)
    assert box.counters.creates["session"] == 0 and box.counters.total_analyses == 0


def test_import_at_zero_balance_imports_without_analysis():
    box = Sandbox(processing_time=0)
    box.state.set_balance(0)
    with make_http(box) as c:
        sid = c.post("/v2/session", json={"scenario_id": first_scenario_id(c), "transcript": GOOD_TRANSCRIPT}).json()
        assert c.get(f"/sessions/{sid['session_id']}").json()["evaluation_results"] is None
    assert box.counters.total_analyses == 0 and box.pending_jobs == 0


def test_read_only_token_cannot_import():
    box = Sandbox(read_only_tokens=("ro",))
    with make_http(box) as c:
        r = c.post("/v2/session", json={"scenario_id": first_scenario_id(c), "transcript": GOOD_TRANSCRIPT},
                   headers={"authorization": "Bearer ro"})
    assert r.status_code == 403 and box.counters.creates["session"] == 0


def test_personal_analytics(connect, dialect):
    box, c = connect(dialect=dialect)
    body = c.get("/v2/analytics").json()
    assert body["org_dashboard"] is None and body["member_usage"] is None
    stats = {s["_id"]: s for s in body["scenarios"]}
    assert set(stats) == set(box.state.scenarios)
    start = DEMO_NOW - timedelta(days=90)
    for sid, s in stats.items():
        window = [r for r in box.state._order if r.scenario_id == sid and r.created_at >= start]
        assert s["session_count"] == len(window) > 0
        assert s["total_duration_seconds"] == pytest.approx(sum(r.duration or 0 for r in window), abs=0.1)
    everything = c.get("/v2/analytics", params={"start_date": "2025-01-01"}).json()
    assert sum(s["session_count"] for s in everything["scenarios"]) == 520
    none = c.get("/v2/analytics", params={"start_date": "2020-01-01", "end_date": "2020-12-31"}).json()
    assert all(s["session_count"] == 0 for s in none["scenarios"])


def test_org_analytics(connect, dialect):
    box, c = connect(dialect=dialect)
    admin, viewer = (o.id for o in box.state.organizations)
    r = c.get("/v2/analytics", params={"is_org_wide": True})
    assert r.status_code == 400 and "X-TT-ORG" in message(r, dialect)
    r = c.get("/v2/analytics", params={"is_org_wide": True}, headers={"X-TT-ORG": viewer})
    assert r.status_code == 403 and "view (10)" in message(r, dialect)
    body = c.get("/v2/analytics", params={"is_org_wide": True, "start_date": "2026-04-01", "end_date": "2026-04-30"},
                 headers={"X-TT-ORG": admin}).json()
    window = [s for s in box.state._order if s.created_at.date().isoformat()[:7] == "2026-04"]
    summary = body["org_dashboard"]["summary"]
    assert summary["total_sessions"] == len(window) > 0
    assert summary["completed_sessions"] == sum(s.status == "completed" for s in window)
    assert summary["total_minutes"] == pytest.approx(sum((s.duration or 0) / 60 for s in window), abs=0.05)
    assert summary["wallet_balance"] == 100_000
    series = body["org_dashboard"]["time_series"]
    assert [d["date"] for d in series] == [f"2026-04-{d:02d}" for d in range(1, 31)]  # every day, gaps as zeros
    assert sum(d["session_count"] for d in series) == len(window)
    members = body["member_usage"]["members"]
    assert sum(m["session_count"] for m in members) == len(window)
    assert {m["email"] for m in members} == {s.user_email for s in window}
    assert [m["total_minutes"] for m in members] == sorted((m["total_minutes"] for m in members), reverse=True)
    assert [(u["user_id"], u["session_count"]) for u in body["org_dashboard"]["usage_by_member"]] == [
        (m["user_id"], m["session_count"]) for m in members]


@pytest.mark.parametrize(("params", "status"), [
    ({"start_date": "soon"}, 422),
    ({"end_date": "2026-02-30"}, 422),
    ({"is_org_wide": "perhaps"}, 422),
    ({"start_date": "2026-05-01", "end_date": "2026-04-01"}, 400),
    ({"start_date": "1900-01-01"}, 400),
])
def test_analytics_refusals(connect, dialect, params, status):
    _, c = connect(dialect=dialect)
    assert c.get("/v2/analytics", params=params).status_code == status


def test_a_rerun_reads_differently_like_a_new_model_run():
    """Lists carry no updated_at: a client polling them sees a forced re-run land only if its results differ."""
    box = Sandbox(processing_time=0)
    with make_http(box) as c:
        done = next(s for s in c.get("/v2/sessions", params={"limit": 500}).json()["sessions"]
                    if s["status"] == "completed" and s.get("evaluation_results"))
        sid = done["id"]
        feedback = [done["evaluation_results"]["detailed_feedback"]]
        for _ in range(2):
            assert c.post(f"/v2/sessions/{sid}/post-process", json={"run_analysis": True}).status_code == 200
            batch = c.get("/v2/sessions/batch", params={"session_ids": sid}).json()["sessions"][0]
            feedback.append(batch["evaluation_results"]["detailed_feedback"])
    assert feedback[1] == feedback[0] + " (run 2)" and feedback[2] == feedback[0] + " (run 3)"
    assert box.counters.analyses[sid] == 2
