"""Issue L, item 4: the sandbox refuses what the service refuses. Request bodies of the spec's operations are checked
against the vendor spec's request schemas (nested models, enums, bounds, required fields), with the service's 422
items; valid nested values are kept and come back on GET in a shape the spec's response schema accepts."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from .helpers import GOOD_TRANSCRIPT, complete, first_scenario_id, new_session
from .test_openapi_schema import validator_for

from ttai_notebook.sandbox import Sandbox

BASE = {"name": "n", "ai_instructions": "x"}
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ttai-openapi-2026-05.json"

#: (field, invalid value, loc after "body", pydantic type): every one is refused by the service's schema.
INVALID_SCENARIO_VALUES: list[tuple[str, Any, list[Any], str]] = [
    ("ai_model_config", {}, ["ai_model_config", "provider"], "missing"),
    ("ai_model_config", {"provider": "Ocean"}, ["ai_model_config", "model"], "missing"),
    ("ai_model_config", {"provider": "Acme", "model": "gemini"}, ["ai_model_config", "provider"], "enum"),
    ("ai_model_config", {"provider": "Ocean", "model": "gemini", "tts_provider": "siri"},
     ["ai_model_config", "tts_provider"], "literal_error"),
    ("ai_model_config", "gpt", ["ai_model_config"], "model_attributes_type"),
    ("stages", "one", ["stages"], "list_type"),
    ("stages", [{}], ["stages", 0, "name"], "missing"),
    ("stages", [{"name": "s", "instructions": "i", "goal": "g", "role": "r", "flows": [{"name": "f"}]}],
     ["stages", 0, "flows", 0, "instructions"], "missing"),
    ("strategy", {"max_duration_seconds": 0}, ["strategy", "max_duration_seconds"], "greater_than_equal"),
    ("strategy", {"disable_transcription": "perhaps"}, ["strategy", "disable_transcription"], "bool_parsing"),
    ("strategy", {"silence": {"silence_threshold": 100}}, ["strategy", "silence", "silence_threshold"],
     "greater_than_equal"),
    ("strategy", ["fast"], ["strategy"], "model_attributes_type"),
    ("appearance", {"live_avatar_provider": "other"}, ["appearance", "live_avatar_provider"], "literal_error"),
    ("appearance", {"start_sound": "boom"}, ["appearance", "start_sound"], "literal_error"),
    ("appearance", [], ["appearance"], "model_attributes_type"),
    ("memory", {"is_memory": []}, ["memory", "is_memory"], "bool_type"),
    ("memory", "on", ["memory"], "model_attributes_type"),
    ("session_analysis", {"video_config": {"fps": "fast"}}, ["session_analysis", "video_config", "fps"],
     "float_parsing"),
    ("session_analysis", {"video_config": {"start_offset_s": 1.5}},
     ["session_analysis", "video_config", "start_offset_s"], "int_from_float"),
    ("session_analysis", {"video_config": "all"}, ["session_analysis", "video_config"], "model_attributes_type"),
    ("session_analysis", {"extraction_vars": [{"name": "budget"}]},
     ["session_analysis", "extraction_vars", 0, "description"], "missing"),
    ("session_analysis", {"extraction_vars": [{"name": "b", "description": "d", "type": "blob"}]},
     ["session_analysis", "extraction_vars", 0, "type"], "enum"),
    ("session_analysis", {"extraction_vars": "budget"}, ["session_analysis", "extraction_vars"], "list_type"),
    ("transcribe_config", {"language": 5}, ["transcribe_config", "language"], "string_type"),
    ("transcribe_config", "en", ["transcribe_config"], "model_attributes_type"),
    ("meeting_config", {"is_notetaker": None}, ["meeting_config", "is_notetaker"], "bool_type"),
    ("meeting_config", {"public_meet_bot": "sometimes"}, ["meeting_config", "public_meet_bot"], "bool_parsing"),
    ("access", {"is_one_time_access": {}}, ["access", "is_one_time_access"], "bool_type"),
    ("access", True, ["access"], "model_attributes_type"),
    ("pricing", {"payment_provider": "paypal"}, ["pricing", "payment_provider"], "literal_error"),
    ("pricing", {"configs": [{}]}, ["pricing", "configs", 0, "amount"], "missing"),
    ("pricing", {"configs": [{"amount": "lots"}]}, ["pricing", "configs", 0, "amount"], "float_parsing"),
    ("pricing", {"configs": [{"amount": 5, "billing_interval": "weekly"}]},
     ["pricing", "configs", 0, "billing_interval"], "enum"),
    ("tools_config", {"tools": {"timer": {"should_register": "maybe"}}},
     ["tools_config", "tools", "timer", "should_register"], "bool_parsing"),
    ("auto_update_config", {"placeholders": {"news": {"source": "rss", "prompt": "p"}}},
     ["auto_update_config", "placeholders", "news", "source"], "literal_error"),
    ("constituent_scenarios", ["s1"], ["constituent_scenarios", 0], "dict_type"),
    ("analysis_access", "sometimes", ["analysis_access"], "enum"),
]

#: Valid nested values: accepted, stored, and returned as sent (pydantic's lax coercion aside).
VALID_SCENARIO_VALUES: list[tuple[str, Any]] = [
    ("ai_model_config", {"provider": "Ocean", "model": "gemini", "tts_provider": "cartesia", "stt_provider": None}),
    ("stages", [{"name": "s", "instructions": "i", "goal": "g", "role": "r",
                 "flows": [{"name": "f", "instructions": "fi", "tool_ids": ["t1"],
                            "ai_model": {"provider": "standby", "model": "standby"}}]}]),
    ("strategy", {"max_duration_seconds": 600, "silence": {"silence_threshold": 5000, "end_session": False},
                  "conductor": {"enabled": True, "messages": [{"time_seconds": 60, "message": "One minute"}]},
                  "backchannel": {"enabled": True, "frequency": "low", "volume": 0.5}}),
    ("appearance", {"voice": "Kore", "live_avatar_provider": "anam", "start_sound": "click"}),
    ("memory", {"is_memory": True, "short_mem_prompt": "Summarise"}),
    ("session_analysis", {"is_auto_analysis": True, "video_config": {"start_offset_s": 5, "fps": 0.5},
                          "enable_extraction": True,
                          "extraction_vars": [{"name": "budget", "description": "Stated budget", "type": "number"}]}),
    ("transcribe_config", {"language": "de-DE"}),
    ("meeting_config", {"is_notetaker": True, "audit_mode": None, "public_meet_bot": False}),
    ("access", {"is_one_time_access": True}),
    ("pricing", {"enabled": True, "payment_provider": "dodo",
                 "configs": [{"amount": 9.5, "billing_interval": "month", "currency": "EUR"}]}),
    ("tools_config", {"tools": {"timer": {"should_register": True, "tool_settings": {"minutes": 5}}}}),
    ("auto_update_config", {"placeholders": {"news": {"source": "url", "prompt": "p", "urls": ["https://x.y"]}}}),
    ("constituent_scenarios", [{"id": "abc", "anything": [1, 2]}]),
    ("analysis_access", "never"),
    ("ai_model_config", None),
    ("strategy", None),
]


@pytest.fixture(params=["documented", "spec"])
def dialect(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=["current", "brief"])
def profile(request: pytest.FixtureRequest) -> str:
    return request.param


def _items(response: httpx.Response, dialect: str) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    body = response.json()
    if dialect == "spec":
        assert set(body) == {"detail"}
        items = body["detail"]
    else:
        assert set(body) == {"error", "details"} and body["error"].startswith("Invalid request: ")
        items = body["details"]["errors"]
    assert isinstance(items, list) and items
    for item in items:
        assert {"loc", "msg", "type"} <= set(item) and isinstance(item["msg"], str) and item["msg"]
    return items


def _client(dialect: str, profile: str = "current") -> tuple[Sandbox, httpx.Client]:
    box = Sandbox(seed=0, dialect=dialect, profile=profile, background="manual")
    return box, httpx.Client(transport=box.transport(), base_url=box.base_url)


def test_the_issue_example_is_refused(dialect, profile):
    box, c = _client(dialect, profile)
    with c:
        r = c.post("/scenarios", json={"name": "n", "ai_instructions": "x", "ai_model_config": {}})
        items = _items(r, dialect)
    assert [(i["loc"], i["type"], i["msg"]) for i in items] == [
        (["body", "ai_model_config", "provider"], "missing", "Field required"),
        (["body", "ai_model_config", "model"], "missing", "Field required")]
    if dialect == "documented":
        assert r.json()["error"] == ("Invalid request: ai_model_config.provider: Field required; "
                                     "ai_model_config.model: Field required")
    assert box.counters.creates["scenario"] == 0


@pytest.mark.parametrize(("field", "value", "loc", "type_"), INVALID_SCENARIO_VALUES,
                         ids=[f"{f}-{i}" for i, (f, *_rest) in enumerate(INVALID_SCENARIO_VALUES)])
def test_invalid_nested_values_are_refused(dialect, profile, field, value, loc, type_):
    box, c = _client(dialect, profile)
    with c:
        items = _items(c.post("/scenarios", json={**BASE, field: value}), dialect)
        assert any(i["loc"] == ["body", *loc] and i["type"] == type_ for i in items), items
        sid = first_scenario_id(c)  # an update through the upsert (and PATCH) is checked the same way
        _items(c.post("/scenarios", json={"id": sid, field: value}), dialect)
        _items(c.patch(f"/scenarios/{sid}", json={field: value}), dialect)
    assert box.counters.creates["scenario"] == 0


def test_messages_say_what_is_allowed():
    _box, c = _client("spec")
    with c:
        items = c.post("/scenarios", json={**BASE, "appearance": {"start_sound": "boom"},
                                           "ai_model_config": {"provider": "Acme", "model": "gemini"},
                                           "strategy": {"max_duration_seconds": 0}}).json()["detail"]
    by_loc = {tuple(i["loc"][1:]): i for i in items}
    assert by_loc[("appearance", "start_sound")]["msg"] == \
        "Input should be 'countdown_blip', 'ringtone', 'click' or 'none'"
    assert by_loc[("appearance", "start_sound")]["input"] == "boom"
    assert by_loc[("ai_model_config", "provider")]["msg"] == "Input should be 'Ocean', 'Galaxy' or 'Landmass'"
    assert by_loc[("strategy", "max_duration_seconds")] == {
        "type": "greater_than_equal", "loc": ["body", "strategy", "max_duration_seconds"],
        "msg": "Input should be greater than or equal to 1", "input": 0, "ctx": {"ge": 1}}


@pytest.mark.parametrize(("field", "value"), VALID_SCENARIO_VALUES,
                         ids=[f"{f}-{i}" for i, (f, _v) in enumerate(VALID_SCENARIO_VALUES)])
def test_valid_nested_values_round_trip(dialect, profile, field, value):
    _box, c = _client(dialect, profile)
    with c:
        r = c.post("/scenarios", json={**BASE, field: value})
        assert r.status_code == 200, r.text
        sid = r.json()["id"]
        got = c.get(f"/scenarios/{sid}")
    assert got.status_code == 200
    detail = got.json()
    assert detail[field] == value
    if dialect == "spec":
        errors = list(validator_for("/scenarios/{scenario_id}", "GET", 200).iter_errors(detail))
        assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_lax_values_are_coerced_like_pydantic():
    """"yes" for a boolean and "600" for an integer are what pydantic's lax mode accepts: stored as coerced."""
    _box, c = _client("spec")
    with c:
        r = c.post("/scenarios", json={**BASE, "strategy": {"max_duration_seconds": "600", "skip_auto_start": "yes"},
                                       "pricing": {"configs": [{"amount": 10}]}, "unknown": 1,
                                       "memory": {"is_memory": 1, "not_a_memory_field": "dropped"}})
        assert r.status_code == 200, r.text
        detail = c.get(f"/scenarios/{r.json()['id']}").json()
    assert detail["strategy"] == {"max_duration_seconds": 600, "skip_auto_start": True}
    assert detail["pricing"] == {"configs": [{"amount": 10.0}]}
    assert detail["memory"] == {"is_memory": True}
    assert not list(validator_for("/scenarios/{scenario_id}", "GET", 200).iter_errors(detail))


#: (route, profiles, body or None for "no body", loc after "body", type). ``{sid}``/``{session}`` are filled in.
OTHER_ROUTES: list[tuple[str, tuple[str, ...], Any, list[Any], str]] = [
    ("/v2/session", ("current",), {"transcript": GOOD_TRANSCRIPT}, ["scenario_id"], "missing"),
    ("/v2/session", ("current",), {"scenario_id": "{sid}", "transcript": 5}, ["transcript"], "string_type"),
    ("/v2/session", ("current",), {"scenario_id": "{sid}", "transcript": "t", "metadata": []}, ["metadata"],
     "dict_type"),
    ("/v2/session", ("current",), {"scenario_id": "{sid}", "transcript": "t", "force_analysis": "maybe"},
     ["force_analysis"], "bool_parsing"),
    ("/v2/session", ("current",), {"scenario_id": "{sid}", "transcript": "t", "user_metadata": {"k": {}}},
     ["user_metadata", "k", "str"], "string_type"),
    ("/v2/sessions/{session}/post-process", ("current",), {"run_analysis": "perhaps"}, ["run_analysis"],
     "bool_parsing"),
    ("/v2/sessions/{session}/post-process", ("current",), [], [], "model_attributes_type"),
    ("/v2/sessions/{session}/post-process", ("current",), None, [], "missing"),
    ("/scenario-access-token", ("current", "brief"), {"scenario_id": "{sid}", "valid_for_hours": 0},
     ["valid_for_hours"], "greater_than_equal"),
    ("/scenario-access-token", ("current", "brief"), {"scenario_id": "{sid}", "valid_for_hours": 25},
     ["valid_for_hours"], "less_than_equal"),
    ("/scenario-access-token", ("current", "brief"), {"scenario_id": "{sid}", "valid_for_hours": "x"},
     ["valid_for_hours"], "int_parsing"),
    ("/scenario-access-token", ("current", "brief"), {"scenario_id": "{sid}", "email": 5}, ["email"], "string_type"),
    ("/scenario-access-token", ("current", "brief"), {}, ["scenario_id"], "missing"),
    ("/sessions/analyze", ("current", "brief"), {"session_id": 5}, ["session_id"], "string_type"),
    ("/sessions/analyze", ("current", "brief"), {"session_id": "{session}", "force": "sure"}, ["force"],
     "bool_parsing"),
    ("/sessions/analyze", ("current", "brief"), {"session_id": "{session}", "multimodal": []}, ["multimodal"],
     "bool_type"),
]


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


@pytest.mark.parametrize(("route", "profiles", "body", "loc", "type_"), OTHER_ROUTES,
                         ids=[f"{r}-{i}" for i, (r, *_rest) in enumerate(OTHER_ROUTES)])
def test_other_spec_operations_are_refused(dialect, profile, route, profiles, body, loc, type_):
    if profile not in profiles:
        pytest.skip(f"{route} is not served on profile {profile}")
    box, c = _client(dialect, profile)
    with c:
        sid = first_scenario_id(c)
        session = new_session(c, sid)
        assert complete(c, session).status_code == 200
        names = {"{sid}": sid, "{session}": session}
        url = route.replace("{session}", session)
        r = c.post(url) if body is None else c.post(url, json=_fill(body, names))
        items = _items(r, dialect)
    assert any(i["loc"] == ["body", *loc] and i["type"] == type_ for i in items), items
    assert box.counters.total_analyses == 0


def test_token_test_body_in_spec_dialect():
    _box, c = _client("spec")
    with c:
        items = _items(c.post("/test", json={"input": 5}), "spec")
        assert items[0]["loc"] == ["body", "input"] and items[0]["type"] == "string_type"
        items = _items(c.post("/test", json={}), "spec")
        assert items[0]["loc"] == ["body", "input"] and items[0]["type"] == "missing"
        assert c.post("/test", json={"input": "ok", "extra": 1}).status_code == 200


def test_valid_bodies_of_other_operations_still_pass():
    _box, c = _client("spec")
    with c:
        sid = first_scenario_id(c)
        r = c.post("/v2/session", json={"scenario_id": sid, "transcript": GOOD_TRANSCRIPT, "metadata": {"a": [1]},
                                        "user_metadata": {"team": "West", "n": 3, "ok": True}, "user_email": None})
        assert r.status_code == 200, r.text
        r = c.post("/scenario-access-token", json={"scenario_id": sid, "valid_for_hours": "2", "email": None})
        assert r.status_code == 200, r.text
        session = new_session(c, sid)
        assert complete(c, session).status_code == 200
        r = c.post("/sessions/analyze", json={"session_id": session, "force": "true"})
        assert r.status_code == 200, r.text
        r = c.post(f"/v2/sessions/{session}/post-process", json={"run_analysis": 1, "run_extraction": False})
        assert r.status_code == 200, r.text


def test_packaged_spec_is_the_reference_copy():
    """The wheel's copy of the spec (read at run time) is byte for byte the reference in tests/fixtures."""
    from ttai_notebook.sandbox import spec_schemas

    assert spec_schemas.spec_path().read_bytes() == FIXTURE.read_bytes()
    assert json.loads(FIXTURE.read_text(encoding="utf-8"))["info"] == spec_schemas.spec()["info"]


def test_validators_are_compiled_once():
    from ttai_notebook.sandbox import spec_schemas

    assert spec_schemas.validator("PublicScenarioUpsert") is spec_schemas.validator("PublicScenarioUpsert")
