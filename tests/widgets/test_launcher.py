"""PracticeLauncher end to end on the sandbox: pick, start, practise (front-end messages simulated), analyse,
card; the vendor-link path (wait, then analyse), the polling fallback, errors in place."""

from __future__ import annotations

import time

import pytest

import ttai_notebook as tt
from ttai_notebook.models import SessionLink
from ttai_notebook.sandbox.practice import complete_session
from ttai_notebook.widgets import EmbeddedSession, PracticeLauncher
from ttai_notebook.widgets.launcher import parse_metadata

from .test_embed import TRANSCRIPT, Outbox, post


@pytest.fixture()
def client() -> tt.Client:
    # Background analyses finish before the trigger's answer: the widgets' polling is tested, not the clock.
    return tt.Client.sandbox(seed=0, max_retries=0, processing_time=0)


def start(launcher: PracticeLauncher, email: str = "sam@example.com", **fields) -> None:
    launcher.email.value = email
    for name, value in fields.items():
        getattr(launcher, name).value = value
    launcher.start_button.click()


def run_simulated_page(embedded: EmbeddedSession, transcript: str = TRANSCRIPT) -> None:
    """What the simulated page posts when the trainee presses Start, chats, and presses End."""
    sid = embedded.session_id
    post(embedded, {"type": "ttai-sandbox", "action": "start-request", "sessionId": sid}, origin="null")
    post(embedded, {"event": "onStart", "sessionId": sid, "timestamp": time.time() * 1000}, origin="null")
    post(embedded, {"event": "onStop", "sessionId": sid, "timestamp": time.time() * 1000}, origin="null")
    post(embedded, {"type": "ttai-sandbox", "action": "transcript", "sessionId": sid, "transcript": transcript,
                    "duration_s": 61.0, "status": "completed"}, origin="null")
    post(embedded, {"event": "onSubmit", "sessionId": sid, "timestamp": time.time() * 1000}, origin="null")


def test_lists_scenarios_and_preselects(client: tt.Client) -> None:
    scenarios = client.scenarios.list()
    launcher = PracticeLauncher(client, scenario_id=scenarios[2].id)
    assert [value for _label, value in launcher.scenario_picker.options] == [s.id for s in scenarios]
    assert launcher.scenario_picker.value == scenarios[2].id
    assert launcher.phase == "setup" and repr(launcher) == "PracticeLauncher(phase='setup')"
    other = PracticeLauncher(client, scenario_id="nope")
    assert "not in your list" in other.status.value


def test_full_simulated_practice_shows_the_card(client: tt.Client, monkeypatch) -> None:
    box = client.sandbox_instance
    launcher = PracticeLauncher(client)
    phases = []
    launcher.observe(lambda c: phases.append(c["new"]), names="phase")
    start(launcher, team="north", extra="cohort: 2026-q2", name="Sam")

    embedded = launcher.embedded
    assert isinstance(embedded, EmbeddedSession) and embedded.is_sandbox
    assert launcher.session_box.children == (embedded,)
    record = box.state.sessions[launcher.session_id]
    assert record.user_email == "sam@example.com" and record.user_name == "Sam"
    assert record.metadata == {"team": "north", "cohort": "2026-q2"}
    assert launcher.form.layout.display == "none"  # the form gives way to the practice frame

    monkeypatch.setattr(embedded, "send", Outbox())
    run_simulated_page(embedded)

    assert launcher.phase == "done"
    assert phases == ["starting", "practising", "analysing", "done"]
    assert launcher.analysis is embedded.analysis and launcher.analysis.score is not None
    assert "ttai-analysis" in launcher.result.value and 'data-ttai="simulated"' in launcher.result.value
    assert "Report card" in launcher.result.value
    assert f"scored {launcher.analysis.score:.0f}/100" in launcher.status.value
    assert box.counters.analyses[launcher.session_id] == 1
    assert launcher.again_button.layout.display == ""


def _vendor_like(client: tt.Client, monkeypatch) -> tuple[str, list]:
    """Make sessions.create answer as the live service does: a vendor embed URL (not a sandbox one)."""
    scenario = client.scenarios.list()[0]
    real_create = client.sessions.create
    calls = []

    def create(scenario_id, **kw):
        link = real_create(scenario_id, **kw)
        calls.append(link.session_id)
        return SessionLink(session_id=link.session_id,
                           embed_url=f"https://app.toughtongueai.com/embed/session/{link.session_id}")

    monkeypatch.setattr(client.sessions, "create", create)
    return scenario.id, calls


def test_vendor_link_waits_for_the_session_then_analyses(client: tt.Client, monkeypatch) -> None:
    box = client.sandbox_instance
    scenario_id, _ = _vendor_like(client, monkeypatch)
    launcher = PracticeLauncher(client, scenario_id=scenario_id, poll_interval=0.05)
    start(launcher)
    embedded = launcher.embedded
    assert not embedded.is_sandbox and embedded.src.startswith("https://app.toughtongueai.com/embed/session/")
    sid = launcher.session_id
    post(embedded, {"event": "onStart", "sessionId": sid, "timestamp": time.time() * 1000})
    complete_session(client, sid, TRANSCRIPT)  # what the vendor's app does when the trainee ends the call
    post(embedded, {"type": "onStop", "data": {"session_id": sid}})

    assert launcher.phase == "done" and launcher.analysis.score is not None
    assert analysis_triggers(box) == 1
    assert "ttai-analysis" in launcher.result.value
    # onSubmit after the card (the vendor's own analysis finished): nothing is analysed twice.
    post(embedded, {"event": "onSubmit", "sessionId": sid})
    launcher.check_results()
    assert analysis_triggers(box) == 1


def test_session_never_saved_shows_a_clear_error_and_a_retry(client: tt.Client, monkeypatch) -> None:
    scenario_id, _ = _vendor_like(client, monkeypatch)
    launcher = PracticeLauncher(client, scenario_id=scenario_id, wait_timeout=0.3, poll_interval=0.05)
    start(launcher)
    sid = launcher.session_id
    post(launcher.embedded, {"event": "onStop", "sessionId": sid})
    assert launcher.phase == "error"
    assert "Could not get the analysis" in launcher.status.value and "Check for results" in launcher.status.value
    assert launcher.check_button.layout.display == "" and not launcher.check_button.disabled

    complete_session(client, sid, TRANSCRIPT)
    launcher.check_button.click()  # the polling fallback does the same job
    assert launcher.phase == "done" and launcher.analysis is not None


def test_opening_a_new_tab_switches_to_polling(client: tt.Client, monkeypatch) -> None:
    scenario_id, _ = _vendor_like(client, monkeypatch)
    launcher = PracticeLauncher(client, scenario_id=scenario_id, poll_interval=0.05, practice_timeout=5)
    start(launcher)
    complete_session(client, launcher.session_id, TRANSCRIPT)  # the trainee finished in the other tab
    launcher.embedded._handle_custom_msg({"kind": "tab_opened"}, [])
    assert launcher.embedded.opened_in_tab
    assert launcher.phase == "done" and launcher.analysis is not None


def test_terminated_session_is_reported(client: tt.Client, monkeypatch) -> None:
    launcher = PracticeLauncher(client)
    start(launcher)
    embedded = launcher.embedded
    monkeypatch.setattr(embedded, "send", Outbox())
    sid = embedded.session_id
    post(embedded, {"event": "onStart", "sessionId": sid}, origin="null")
    post(embedded, {"event": "onTerminated", "sessionId": sid}, origin="null")
    post(embedded, {"type": "ttai-sandbox", "action": "transcript", "sessionId": sid,
                    "transcript": "[00:01] AI: Hello?", "status": "terminated"}, origin="null")
    assert launcher.phase == "terminated" and "ended abnormally" in launcher.status.value
    assert launcher.analysis is None and client.sandbox_instance.state.sessions[sid].status == "terminated"


def test_errors_on_start_are_shown_in_place_and_nothing_is_lost(client: tt.Client) -> None:
    box = client.sandbox_instance
    launcher = PracticeLauncher(client)
    start(launcher, extra="not a pair")
    assert "Metadata line 1" in launcher.status.value and box.counters.creates["session"] == 0

    box.fail_next(status=500, route="POST /v2/sessions")
    start(launcher, extra="")
    assert launcher.phase == "error" and "Could not start the session" in launcher.status.value
    assert launcher.embedded is None and launcher.form.layout.display == ""
    assert launcher.email.value == "sam@example.com"

    start(launcher, email="not-an-email")
    assert "user_email" in launcher.status.value and launcher.embedded is None

    start(launcher)
    assert launcher.phase == "practising" and launcher.embedded is not None


def test_practise_again_resets(client: tt.Client, monkeypatch) -> None:
    launcher = PracticeLauncher(client)
    start(launcher)
    monkeypatch.setattr(launcher.embedded, "send", Outbox())
    run_simulated_page(launcher.embedded)
    first = launcher.session_id
    launcher.again_button.click()
    assert launcher.phase == "setup" and launcher.embedded is None and launcher.result.value == ""
    start(launcher)
    assert launcher.session_id and launcher.session_id != first


def test_threaded_start(client: tt.Client) -> None:
    launcher = PracticeLauncher(client, threaded=True)
    start(launcher)
    assert launcher.wait(10)
    assert launcher.phase == "practising" and launcher.embedded is not None


def test_no_scenarios(client: tt.Client, monkeypatch) -> None:
    monkeypatch.setattr(client.scenarios, "list", lambda **kw: [])
    launcher = PracticeLauncher(client)
    assert launcher.start_button.disabled and "ScenarioBuilder" in launcher.status.value


@pytest.mark.parametrize(
    ("team", "extra", "expected"),
    [
        ("", "", {}),
        (" north ", "", {"team": "north"}),
        ("", "cohort: 2026-q2\n\nmanager = Lee Park", {"cohort": "2026-q2", "manager": "Lee Park"}),
        ("south", "team: override", {"team": "override"}),
        ("", "url: https://x.example/a", {"url": "https://x.example/a"}),
    ],
)
def test_parse_metadata(team, extra, expected) -> None:
    assert parse_metadata(team, extra) == expected


@pytest.mark.parametrize(("extra", "words"), [("just text", "line 1"), ("ok: 1\nkey:", "line 2"),
                                              ("1abc: x", "must start with a letter"), ("a b: x", "must start")])
def test_parse_metadata_refuses(extra, words) -> None:
    with pytest.raises(ValueError, match=words):
        parse_metadata("", extra)


def analysis_triggers(box) -> int:
    """Analyses asked of the service, through whichever route it has (post-process today, v1 analyse before)."""
    return box.counters.requests["POST /sessions/analyze"] + box.counters.requests["POST /v2/sessions/{id}/post-process"]
