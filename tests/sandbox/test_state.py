"""Domain rules without HTTP: scenarios, sessions, filters, pagination, analysis, charging, reset."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from .helpers import GOOD_TRANSCRIPT

from ttai_notebook.sandbox import DEMO_NOW
from ttai_notebook.sandbox.clock import CLOCK_STEP
from ttai_notebook.sandbox.state import STARTING_MINUTES, SandboxError, SandboxState, parse_rubric_text

HEX24 = re.compile(r"[0-9a-f]{24}")


@pytest.fixture
def state():
    return SandboxState(seed=0)


def _scenario(state, **extra):
    return state.create_scenario({"name": "Pitch", "ai_instructions": "You are a buyer.", **extra})


def test_create_get_update_delete_scenario(state):
    rec = _scenario(state, description="d", session_analysis={"is_auto_analysis": False}, passcode="42")
    assert HEX24.fullmatch(rec.id)
    assert rec.created_at == DEMO_NOW + CLOCK_STEP and rec.is_public is True and rec.is_recording is False
    assert rec.extra == {"passcode": "42"}
    assert state.get_scenario(rec.id) is rec
    state.update_scenario(rec.id, {"name": " Pitch v2 ", "is_public": False})
    assert (rec.name, rec.is_public, rec.description) == ("Pitch v2", False, "d")  # partial: description kept
    assert rec.updated_at == DEMO_NOW + 2 * CLOCK_STEP
    state.delete_scenario(rec.id)
    with pytest.raises(SandboxError) as err:
        state.get_scenario(rec.id)
    assert err.value.status == 404 and rec.id in err.value.message
    assert state.counters.creates["scenario"] == 1


@pytest.mark.parametrize(("fields", "field"), [
    ({"ai_instructions": "x"}, "name"),
    ({"name": "   ", "ai_instructions": "x"}, "name"),
    ({"name": None, "ai_instructions": "x"}, "name"),
    ({"name": "x"}, "ai_instructions"),
    ({"name": "x", "ai_instructions": ""}, "ai_instructions"),
])
def test_create_requires_name_and_instructions(state, fields, field):
    with pytest.raises(SandboxError) as err:
        state.create_scenario(fields)
    assert err.value.status == 400 and field in err.value.message and err.value.details == {"field": field}
    assert state.counters.creates["scenario"] == 0


def test_update_refuses_blank_and_unknown(state):
    rec = _scenario(state)
    with pytest.raises(SandboxError) as err:
        state.update_scenario(rec.id, {"ai_instructions": " "})
    assert err.value.status == 400
    with pytest.raises(SandboxError) as err:
        state.update_scenario("0" * 24, {"name": "x"})
    assert err.value.status == 404


def test_list_scenarios_newest_first_and_search(state):
    mine = _scenario(state, description="Handles a LOUD customer")
    listed = state.list_scenarios()
    assert listed[0] is mine and len(listed) == 6
    assert [s.id for s in state.list_scenarios(search="loud")] == [mine.id]  # description, case-insensitive
    assert len(state.list_scenarios(search="cold call")) == 1
    assert state.list_scenarios(search="no such thing") == []


def test_rubric_from_text_and_from_processed(state):
    rec = _scenario(state, rubrik="- Empathy (60%): names feelings\n- Next steps (40%)")
    assert [(r["topic"], r["weight"]) for r in rec.rubric] == [("Empathy", 60.0), ("Next steps", 40.0)]
    rec2 = _scenario(state, processed_rubrik={"criteria": [{"topic": "A", "weight": 1, "prompt": "p"}]})
    assert rec2.rubric == [{"topic": "A", "weight": 1.0, "prompt": "p", "requires_video": False}]


@pytest.mark.parametrize(("text", "expected"), [
    ("Empathy (60%)\nNext steps (40%)", [("Empathy", 60.0), ("Next steps", 40.0)]),
    ("1. Opening\n2. Questions\n3. Close\n4. Tone", [("Opening", 25.0), ("Questions", 25.0), ("Close", 25.0),
                                                     ("Tone", 25.0)]),
    ("A 30%\nB", [("A", 30.0), ("B", 70.0)]),
    ("A (3%)\nB (1%)", [("A", 75.0), ("B", 25.0)]),
    ("", []),
])
def test_parse_rubric_text(text, expected):
    assert [(r["topic"], r["weight"]) for r in parse_rubric_text(text)] == expected


def test_session_lifecycle_and_charging(state):
    scen = _scenario(state)
    rec = state.create_session(scen.id, user_email="Ann@Example.com", user_name="Ann", metadata={"team": "A", "x": [1]})
    assert rec.status == "in_progress" and rec.completed_at is None
    assert rec.user_metadata == {"team": "A"}  # flat scalars only
    assert state.list_sessions(limit=1)[0][0] is rec  # newest first
    with pytest.raises(SandboxError) as err:
        state.analyze_session(rec.id)
    assert err.value.status == 400 and "in progress" in err.value.message
    state.complete_session(rec.id, GOOD_TRANSCRIPT)
    assert rec.status == "completed" and rec.duration > 0 and rec.completed_at > rec.created_at
    before = state.available_minutes
    _, charged = state.analyze_session(rec.id)
    assert charged and state.available_minutes == before - 1
    assert rec.evaluation["detailed_feedback"].startswith("Simulated analysis (sandbox):")
    _, charged = state.analyze_session(rec.id)  # existing results, no charge
    assert not charged and state.available_minutes == before - 1
    _, charged = state.analyze_session(rec.id, force=True)
    assert charged and state.available_minutes == before - 2
    assert state.counters.analyses[rec.id] == 2 and state.counters.analysis_reuses[rec.id] == 1


def test_terminated_sessions_are_not_analysed(state):
    rec = state.create_session(_scenario(state).id)
    state.complete_session(rec.id, "", status="terminated")
    with pytest.raises(SandboxError) as err:
        state.analyze_session(rec.id)
    assert err.value.status == 400 and "terminated" in err.value.message


def test_complete_rules(state):
    rec = state.create_session(_scenario(state).id)
    with pytest.raises(SandboxError) as err:
        state.complete_session(rec.id, "   ")
    assert err.value.status == 400 and "transcript is empty" in err.value.message
    state.complete_session(rec.id, GOOD_TRANSCRIPT, duration_s=321.04)
    assert rec.duration == 321.0
    assert state.complete_session(rec.id, GOOD_TRANSCRIPT) is rec  # a retried completion is harmless
    with pytest.raises(SandboxError) as err:
        state.complete_session(rec.id, "[00:00] User: different")
    assert err.value.status == 409
    with pytest.raises(SandboxError) as err:
        state.complete_session("f" * 24, GOOD_TRANSCRIPT)
    assert err.value.status == 404


def test_auto_analysis_on_completion(state):
    scen = _scenario(state, session_analysis={"is_auto_analysis": True})
    rec = state.create_session(scen.id)
    state.complete_session(rec.id, GOOD_TRANSCRIPT)
    assert rec.analyzed and state.available_minutes == STARTING_MINUTES - 1
    _, charged = state.analyze_session(rec.id)
    assert not charged


def test_empty_balance_refuses_with_403(state):
    rec = next(s for s in state.sessions.values() if s.status == "completed" and not s.analyzed)
    state.set_balance(0)
    with pytest.raises(SandboxError) as err:
        state.analyze_session(rec.id)
    assert err.value.status == 403 and "Insufficient balance" in err.value.message and "1 minute" in err.value.message
    assert not rec.analyzed and state.counters.total_analyses == 0
    analysed = next(s for s in state.sessions.values() if s.analyzed)
    assert state.analyze_session(analysed.id)[1] is False  # reading results costs nothing, so it still works


def test_unknown_scenario_for_a_session_is_404(state):
    with pytest.raises(SandboxError) as err:
        state.create_session("nope")
    assert err.value.status == 404


def test_filters_and_pagination(state):
    all_items, total = state.list_sessions(limit=500)
    assert total == len(state.sessions) == 520
    assert [s.created_at for s in all_items] == sorted((s.created_at for s in all_items), reverse=True)
    scen = state.list_scenarios()[0]
    by_scenario, n = state.list_sessions(scenario_id=scen.id, limit=500)
    assert n == len(by_scenario) > 0 and all(s.scenario_id == scen.id for s in by_scenario)
    a, b = sorted({s.user_email for s in state.sessions.values()})[:2]
    both, n = state.list_sessions(user_emails=[a.upper(), f" {b} "], limit=500)
    assert {s.user_email for s in both} == {a, b} and n == len(both)
    pages = [state.list_sessions(page=p, limit=100)[0] for p in range(1, 7)]
    assert [len(p) for p in pages] == [100, 100, 100, 100, 100, 20]
    assert len({s.id for p in pages for s in p}) == 520


def test_date_filter_is_on_updated_at_inclusive(state):
    some = sorted(state.sessions.values(), key=lambda s: s.updated_at)[100]
    lo = hi = some.updated_at
    found, _ = state.list_sessions(updated_from=lo, updated_to=hi, limit=500)
    assert some in found and all(s.updated_at == lo for s in found)


def test_batch_keeps_order_and_skips_unknown(state):
    ids = [s.id for s in state.list_sessions(limit=3)[0]]
    got = state.get_sessions([ids[2], "nope", ids[0], ids[2]])
    assert [s.id for s in got] == [ids[2], ids[0]]


def test_access_tokens(state):
    scen = state.list_scenarios()[0]
    sat = state.create_access_token(scen.id, 2)
    assert sat["access_token"].startswith("sat_") and sat["expires_at"] == DEMO_NOW + CLOCK_STEP + timedelta(hours=2)
    with pytest.raises(SandboxError):
        state.create_access_token("nope")


def test_reset_returns_to_the_seeded_state(state):
    ids_before = sorted(state.sessions)
    scen = _scenario(state)
    first_new_id = scen.id
    state.create_session(scen.id)
    state.set_balance(3)
    state.reset()
    assert sorted(state.sessions) == ids_before and len(state.scenarios) == 5
    assert state.available_minutes == STARTING_MINUTES and state.clock.now() == DEMO_NOW
    assert _scenario(state).id == first_new_id  # ids and clock restart too


def test_runs_are_reproducible():
    def run():
        s = SandboxState(seed=4)
        scen = _scenario(s)
        sess = s.create_session(scen.id)
        s.complete_session(sess.id, GOOD_TRANSCRIPT)
        s.analyze_session(sess.id)
        return scen.id, scen.created_at, sess.id, sess.completed_at, sess.evaluation, s.balance()

    assert run() == run()


def test_real_clock_uses_wall_time():
    s = SandboxState(clock="real")
    rec = _scenario(s)
    assert abs(rec.created_at - datetime.now(timezone.utc)) < timedelta(seconds=5)
    with pytest.raises(ValueError, match="clock must be"):
        SandboxState(clock="fake")


def test_set_balance_validates():
    with pytest.raises(ValueError):
        SandboxState(sessions=0).set_balance(-1)


def test_summary(state):
    size = state.summary()
    assert size["sessions"] == 520 and size["available_minutes"] == STARTING_MINUTES and size["scenarios"] == 5
