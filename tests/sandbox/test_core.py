"""The ``Sandbox`` façade: construction, re-runs that print the same ids and times, switching, reset."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ttai_notebook.sandbox import DEMO_NOW, Sandbox

from .helpers import GOOD_TRANSCRIPT, complete, make_http


def _notebook_run(box: Sandbox) -> list:
    with make_http(box) as c:
        scenario = c.post("/scenarios", json={"name": "Drill", "ai_instructions": "You are a buyer."}).json()
        sid = c.post("/v2/sessions", json={"scenario_id": scenario["id"], "user_email": "a@b.c"}).json()["session_id"]
        complete(c, sid, GOOD_TRANSCRIPT)
        analysis = c.post("/sessions/analyze", json={"session_id": sid}).json()
        detail = c.get(f"/sessions/{sid}").json()
        return [scenario["id"], scenario["created_at"], sid, detail["created_at"], detail["completed_at"],
                detail["last_evaluated_at"], analysis, c.get("/balance").json()]


def test_a_re_run_prints_identical_ids_and_times():
    first = _notebook_run(Sandbox(seed=0))
    assert first == _notebook_run(Sandbox(seed=0))
    assert first[1] == "2026-05-15T09:00:02.500000"  # DEMO_NOW plus one clock step
    other = _notebook_run(Sandbox(seed=1))
    assert other[0] != first[0] and other[1] == first[1]  # other ids, same clock


def test_reset_replays_the_same_run():
    box = Sandbox(seed=2)
    first = _notebook_run(box)
    box.reset()
    assert _notebook_run(box) == first


def test_real_clock():
    box = Sandbox(clock="real")
    with make_http(box) as c:
        created = c.post("/scenarios", json={"name": "n", "ai_instructions": "i"}).json()["created_at"]
        sid = c.post("/v2/sessions", json={"scenario_id": c.get("/scenarios").json()["scenarios"][0]["id"]}).json()
        newest = c.get("/v2/sessions", params={"limit": 1}).json()["sessions"][0]
    stamp = datetime.fromisoformat(created).replace(tzinfo=timezone.utc)
    assert abs(stamp - datetime.now(timezone.utc)) < timedelta(seconds=10)
    assert newest["id"] == sid["session_id"]  # still newest first
    with pytest.raises(ValueError, match="clock must be"):
        Sandbox(clock="lunar")


def test_size_and_summary():
    box = Sandbox(sessions=1000, seed=9)
    size = box.summary()
    assert size["sessions"] == 1000 and size["scenarios"] == 5 and size["available_minutes"] == 100_000
    assert "sessions=1000" in repr(box)
    assert max(s.created_at for s in box.state.sessions.values()) < DEMO_NOW


def test_options_are_live():
    box = Sandbox()
    with make_http(box) as c:
        sid = c.get("/scenarios").json()["scenarios"][0]["id"]
        assert c.delete(f"/scenarios/{sid}").status_code == 204
        box.dialect = "spec"
        box.spec_routes_only = True
        r = c.delete(f"/scenarios/{sid}")
        assert r.status_code == 405 and r.json() == {"detail": "Method Not Allowed"}
    assert box.spec_routes_only and box.max_body_bytes == 1_000_000 and box.token is None


def test_cached_answers_follow_every_change():
    box = Sandbox()
    with make_http(box) as c:
        session = next(s for s in box.state.sessions.values() if s.status == "completed" and not s.analyzed)
        first = c.get(f"/sessions/{session.id}").json()
        assert c.get(f"/sessions/{session.id}").json() == first  # served from the cache
        c.post("/scenarios", json={"id": session.scenario_id, "name": "Renamed scenario"})
        assert c.get(f"/sessions/{session.id}").json()["scenario_name"] == "Renamed scenario"
        c.post("/sessions/analyze", json={"session_id": session.id})
        assert c.get(f"/sessions/{session.id}").json()["evaluation_results"] is not None
        box.dialect = "spec"
        running = next(s for s in box.state.sessions.values() if s.status == "in_progress")
        assert c.get(f"/sessions/{running.id}").json()["status"] == "active"
        box.dialect = "documented"
        assert c.get(f"/sessions/{running.id}").json()["status"] == "in_progress"
        box.reset()
        assert c.get(f"/sessions/{session.id}").json()["scenario_name"] == first["scenario_name"]


def test_the_date_header_is_the_sandbox_clock():
    from email.utils import parsedate_to_datetime

    box = Sandbox()
    with make_http(box) as c:
        first = parsedate_to_datetime(c.get("/balance").headers["date"])
        assert first == DEMO_NOW  # nothing has happened yet: the demo "now"
        assert parsedate_to_datetime(c.get("/nowhere").headers["date"]) == first  # errors carry it too
        for _ in range(4):  # four mutations, 2.5 s each on the demo clock
            c.post("/scenarios", json={"name": "n", "ai_instructions": "i"})
        assert parsedate_to_datetime(c.get("/balance").headers["date"]) == DEMO_NOW + timedelta(seconds=10)
    real = Sandbox(clock="real")
    with make_http(real) as c:
        stamp = parsedate_to_datetime(c.get("/balance").headers["date"])
    assert abs(stamp - datetime.now(timezone.utc)) < timedelta(seconds=5)
