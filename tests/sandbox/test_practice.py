"""The practice helpers: persona lines from a scenario's text, and completing a session through a client."""
from __future__ import annotations

from typing import Any

import pytest
from .helpers import GOOD_TRANSCRIPT

from ttai_notebook.sandbox import Sandbox
from ttai_notebook.sandbox.practice import complete_session, persona_script


def _scenarios():
    return Sandbox().state.list_scenarios()


@pytest.mark.parametrize("scenario", _scenarios(), ids=lambda s: s.name.split(":")[0])
def test_persona_script_for_every_demo_scenario(scenario):
    script = persona_script(scenario)
    assert set(script) >= {"role", "greeting", "questions", "objections", "closing", "simulated"}
    assert script["simulated"] is True and script["greeting"] and script["closing"]
    assert 1 <= len(script["questions"]) <= 4 and 1 <= len(script["objections"]) <= 3
    assert script["role"] in scenario.ai_instructions
    assert persona_script(scenario) == script  # deterministic


def test_persona_script_uses_quoted_lines():
    script = persona_script({
        "name": "Renewal", "ai_instructions": 'You are Kim, a buyer. Say "Morning, Kim here." Ask "Why now?" '
                                              'Complain: "This is far too expensive for us."'})
    assert script["name"] == "Kim" and script["greeting"] == "Morning, Kim here."
    assert script["questions"][0] == "Why now?" and script["objections"][0] == "This is far too expensive for us."


@pytest.mark.parametrize(("text", "domain"), [
    ("You are a hiring manager interviewing a candidate.", "interview"),
    ("You are an angry customer calling support about a refund.", "support"),
    ("You are a CFO. Push back on budget.", "sales"),
    ("", "sales"),
])
def test_persona_script_domains(text, domain):
    script = persona_script({"name": "x", "ai_instructions": text})
    assert script["domain"] == domain and script["questions"]


class _FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def request(self, method: str, path: str, *, json: Any = None, **_: Any) -> dict[str, Any]:
        self.calls.append((method, path, json))
        return {"_id": "s1", "scenario_id": "sc", "status": "completed", "finalized_transcript": json["transcript"],
                "duration": 12.0, "created_at": "2026-05-15T09:00:00.000000"}


def test_complete_session_calls_the_sandbox_route():
    fake = _FakeClient()
    session = complete_session(fake, " s1 ", "[00:00] User: hi", duration_s=12)
    assert fake.calls == [("POST", "/sandbox/sessions/s1/complete",
                           {"transcript": "[00:00] User: hi", "status": "completed", "duration_s": 12.0})]
    assert session.id == "s1" and session.status == "completed" and session.transcript == "[00:00] User: hi"


@pytest.mark.parametrize(("args", "error"), [
    (("", GOOD_TRANSCRIPT), ValueError),
    (("s1", None), TypeError),
])
def test_complete_session_checks_its_input(args, error):
    with pytest.raises(error):
        complete_session(_FakeClient(), *args)
    with pytest.raises(ValueError, match="status"):
        complete_session(_FakeClient(), "s1", "x", status="paused")
