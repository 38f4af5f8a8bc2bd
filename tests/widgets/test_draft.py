"""The scenario builder's pure decisions: validation, create payload, PATCH of only what changed."""

from __future__ import annotations

import pytest

from ttai_notebook.models import Scenario
from ttai_notebook.widgets import draft as D
from ttai_notebook.widgets.templates import TEMPLATES


def _draft(**changes):
    base = D.empty_draft()
    base.update(name="Cold call", ai_instructions="You are Dana, a busy operations manager.")
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({}, set()),
        ({"name": ""}, {"name"}),
        ({"name": "   "}, {"name"}),
        ({"ai_instructions": ""}, {"ai_instructions"}),
        ({"ai_instructions": "\n\t "}, {"ai_instructions"}),
        ({"name": "", "ai_instructions": ""}, {"name", "ai_instructions"}),
        ({"admin_email": "lead@example.com"}, set()),
        ({"admin_email": "lead@example.com, coach@example.org"}, set()),
        ({"admin_email": "lead@example.com; coach@example.org"}, set()),
        ({"admin_email": "lead@example"}, {"admin_email"}),
        ({"admin_email": "lead example.com"}, {"admin_email"}),
        ({"admin_email": "ok@example.com, nope"}, {"admin_email"}),
        ({"admin_email": " , "}, set()),  # blanks only: nothing to send
        ({"is_auto_submit": True}, set()),
        ({"name": "N" * 500}, set()),  # the client's limit, inclusive
        ({"name": "  " + "N" * 500 + "  "}, set()),  # surrounding blanks are not sent
        ({"name": "N" * 501}, {"name"}),
        ({"name": "N" * 100_000}, {"name"}),
    ],
)
def test_validate_draft(changes, errors) -> None:
    assert set(D.validate_draft(_draft(**changes))) == errors


def test_validation_messages_say_what_is_allowed() -> None:
    problems = D.validate_draft(_draft(name="", admin_email="ok@example.com, nope"))
    assert "Required" in problems["name"]
    assert "nope" in problems["admin_email"] and "name@example.com" in problems["admin_email"]


def test_overlong_name_message_names_the_field_and_the_limit_the_client_enforces() -> None:
    from ttai_notebook.client import MAX_NAME_LENGTH

    message = D.validate_draft(_draft(name="N" * 600))["name"]
    assert "name" in message and f"at most {MAX_NAME_LENGTH} characters" in message and "600" in message


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, {"name": "Cold call", "ai_instructions": "You are Dana, a busy operations manager.",
              "is_public": True, "is_recording": False}),
        ({"name": "  Padded  ", "description": "  "}, {"name": "Padded"}),
        ({"description": "Internal", "user_friendly_description": "For trainees"},
         {"description": "Internal", "user_friendly_description": "For trainees"}),
        ({"admin_email": "a@example.com ;b@example.com"},
         {"session_analysis": {"admin_email": "a@example.com, b@example.com", "is_auto_analysis": False,
                               "is_auto_submit": False}}),
        ({"is_auto_analysis": True},
         {"session_analysis": {"admin_email": None, "is_auto_analysis": True, "is_auto_submit": False}}),
    ],
)
def test_create_payload(changes, expected) -> None:
    payload = D.create_payload(_draft(**changes))
    for key, value in expected.items():
        assert payload[key] == value
    if "description" not in expected:
        assert "description" not in payload  # blank optional text: not sent
    if "session_analysis" not in expected:
        assert "session_analysis" not in payload


def test_draft_from_scenario_round_trip() -> None:
    scenario = Scenario.from_api(
        {
            "id": "sc1",
            "name": "Discovery",
            "ai_instructions": "You are Priya.",
            "description": None,
            "is_public": False,
            "session_analysis": {"admin_email": "lead@example.com", "is_auto_analysis": True, "multimodal_analysis": True},
        }
    )
    draft = D.draft_from_scenario(scenario)
    assert draft["name"] == "Discovery" and draft["description"] == ""
    assert draft["is_public"] is False and draft["is_recording"] is False
    assert draft["admin_email"] == "lead@example.com" and draft["is_auto_analysis"] is True
    assert D.diff_drafts(draft, dict(draft)) == {}
    assert D.update_payload(draft, dict(draft)) == {}


@pytest.mark.parametrize(
    ("changes", "payload"),
    [
        ({"name": "Renamed"}, {"name": "Renamed"}),
        ({"name": "  Cold call  "}, {}),  # whitespace only: no change
        ({"description": "New"}, {"description": "New"}),
        ({"is_public": False}, {"is_public": False}),
        ({"ai_instructions": "You are Sam, a skeptical buyer."}, {"ai_instructions": "You are Sam, a skeptical buyer."}),
    ],
)
def test_update_payload_sends_only_changes(changes, payload) -> None:
    before = _draft(description="Old" if "description" in changes else "")
    assert D.update_payload(before, {**before, **changes}) == payload


def test_cleared_text_is_sent_as_empty_string() -> None:
    before = _draft(description="Old")
    assert D.update_payload(before, {**before, "description": ""}) == {"description": ""}


def test_report_settings_change_keeps_unshown_settings() -> None:
    before = _draft(admin_email="a@example.com", is_auto_analysis=True)
    after = {**before, "is_auto_submit": True}
    payload = D.update_payload(before, after, session_analysis_base={"multimodal_analysis": True, "admin_email": "x"})
    assert payload == {
        "session_analysis": {
            "multimodal_analysis": True,
            "admin_email": "a@example.com",
            "is_auto_analysis": True,
            "is_auto_submit": True,
        }
    }


def test_diff_drafts_before_after() -> None:
    before = _draft()
    changes = D.diff_drafts(before, {**before, "name": "X", "is_recording": True})
    assert changes == {"name": ("Cold call", "X"), "is_recording": (False, True)}


@pytest.mark.parametrize(
    ("loc", "field"),
    [(["body", "name"], "name"), (["body", "session_analysis", "admin_email"], "admin_email"),
     (("body", "ai_instructions"), "ai_instructions"), (["body", "unknown"], None), ("name", None), (None, None)],
)
def test_field_from_error_location(loc, field) -> None:
    assert D.field_from_error_location(loc) == field


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_templates_are_valid_drafts(name) -> None:
    draft = {**D.empty_draft(), **TEMPLATES[name]}
    assert D.validate_draft(draft) == {}
    assert len(draft["ai_instructions"]) > 200
    assert set(TEMPLATES[name]) <= set(D.FIELDS)


def test_four_templates() -> None:
    assert list(TEMPLATES) == ["Cold call", "Discovery call", "Support escalation", "Interview"]
