"""EmbeddedSession in plain Python: front-end messages simulated with ``_handle_custom_msg`` exactly as the
widget's JS sends them (``model.send``); the simulated practice session completed and scored on the sandbox."""

from __future__ import annotations

import json
import time

import pytest

import ttai_notebook as tt
from ttai_notebook.sandbox import Sandbox
from ttai_notebook.widgets import EmbeddedSession
from ttai_notebook.widgets.events import VENDOR_ORIGIN
from ttai_notebook.widgets.practice_page import SANDBOX_LABEL

URL = "https://app.toughtongueai.com/embed/session/s123?userEmail=ana%40example.com&scenarioAccessToken=SAT_x9"
TRANSCRIPT = (
    "[00:01] AI: Dana speaking, who is this?\n\n"
    "[00:06] User: Hi Dana, it's Sam from Routewise. I'm calling because dispatch teams lose hours to spreadsheets. "
    "Could I ask how you schedule drivers today?\n\n"
    "[00:20] AI: We already have a system for that.\n\n"
    "[00:31] User: Understood. What does it cost you each week in time? Would a 20-minute meeting on Tuesday work?"
)


def message(data, *, origin=VENDOR_ORIGIN, via="iframe"):
    """The content the widget's JS sends with model.send for an accepted window message."""
    return {"kind": "message", "data": data, "origin": origin, "via": via, "received_ms": time.time() * 1000}


def post(widget: EmbeddedSession, data, **kw) -> None:
    widget._handle_custom_msg(message(data, **kw), [])


class Outbox(list):
    """What the kernel sends to the front end (captured instead of a comm)."""

    def __call__(self, content, buffers=None) -> None:
        self.append(content)

    def to_page(self) -> list[dict]:
        return [m["message"] for m in self if m.get("kind") == "to_iframe"]


@pytest.fixture()
def real() -> EmbeddedSession:
    return EmbeddedSession(URL)


# ---- a real (vendor) link ------------------------------------------------------------------------------


def test_real_link_traits_and_stable_repr(real: EmbeddedSession) -> None:
    assert real.src == URL and real.srcdoc == "" and real.label == ""
    assert real.kind == "full" and real.height == 800 and real.allowed_origins == [VENDOR_ORIGIN]
    assert real.status == "ready" and real.session_id == "" and not real.is_sandbox
    assert repr(real) == ("EmbeddedSession(kind='full', url='https://app.toughtongueai.com/embed/session/s123?…', "
                          "status='ready')")


def test_mimebundle_has_a_link_for_front_ends_without_widgets(real: EmbeddedSession) -> None:
    data, _meta = real._repr_mimebundle_()
    assert data["text/plain"] == repr(real)
    assert "application/vnd.jupyter.widget-view+json" in data
    html = data["text/html"]
    assert "Open the practice session" in html
    assert 'href="https://app.toughtongueai.com/embed/session/s123?userEmail=ana%40example.com&amp;scenarioAccessToken=SAT_x9"' in html
    assert "SAT_x9" not in data["text/plain"] and "ana%40example.com" not in data["text/plain"]
    assert "0x" not in data["text/plain"]


@pytest.mark.parametrize(
    ("url", "kwargs", "kind", "height"),
    [
        ("https://app.toughtongueai.com/embed/basic/sc1", {}, "basic", 600),
        ("https://app.toughtongueai.com/embed/minimal/sc1", {}, "minimal", 300),
        ("https://app.toughtongueai.com/embed/sc1", {"kind": "minimal"}, "minimal", 300),
        ("https://app.toughtongueai.com/embed/sc1", {"height": 720}, "full", 720),
    ],
)
def test_kind_and_height(url, kwargs, kind, height) -> None:
    widget = EmbeddedSession(url, **kwargs)
    assert (widget.kind, widget.height) == (kind, height)


@pytest.mark.parametrize(
    ("args", "kwargs", "words"),
    [
        (("javascript:alert(1)",), {}, "https://"),
        ((None,), {}, "embed URL"),
        ((URL,), {"kind": "large"}, "full, basic, minimal"),
        ((URL,), {"height": 5}, "between 100 and 4000"),
        ((URL,), {"allowed_origins": ["app.toughtongueai.com"]}, "origins like"),
        (("https://sandbox.ttai.invalid/embed/session/x",), {}, "pass the sandbox client"),
    ],
)
def test_bad_arguments_are_refused_clearly(args, kwargs, words) -> None:
    with pytest.raises(ValueError, match=words):
        EmbeddedSession(*args, **kwargs)


def test_client_app_url_origin_is_allowed_for_its_links() -> None:
    client = tt.Client(token="t", app_url="https://staging.toughtongueai.com")
    widget = EmbeddedSession("https://staging.toughtongueai.com/embed/sc1", client=client)
    assert widget.allowed_origins == [VENDOR_ORIGIN, "https://staging.toughtongueai.com"]
    other = EmbeddedSession("https://elsewhere.example/embed/sc1", client=client)
    assert other.allowed_origins == [VENDOR_ORIGIN]


def test_lifecycle_events_reach_python_in_both_formats(real: EmbeddedSession) -> None:
    seen: dict[str, list] = {"start": [], "stop": [], "submit": [], "any": []}
    for name in seen:
        real.on(name, seen[name].append)
    now = time.time() * 1000
    post(real, {"event": "onStart", "sessionId": "s123", "timestamp": now - 250})
    assert real.status == "started" and real.session_id == "s123"
    post(real, {"type": "onStop", "data": {"session_id": "s123", "timestamp": str(int(now))}})
    assert real.status == "stopped"
    post(real, {"event": "onSubmit", "sessionId": "s123", "timestamp": now})
    assert real.status == "submitted"
    assert [e["name"] for e in real.events] == ["onStart", "onStop", "onSubmit"]
    assert [e["kind"] for e in seen["any"]] == ["start", "stop", "submit"]
    assert len(seen["start"]) == len(seen["stop"]) == len(seen["submit"]) == 1
    first = real.events[0]
    assert first["origin"] == VENDOR_ORIGIN and first["via"] == "iframe"
    assert 200 <= first["latency_ms"] < 5000  # payload timestamp vs kernel receive time


def test_identical_repeated_events_are_not_lost(real: EmbeddedSession) -> None:
    payload = {"event": "onStop", "sessionId": "s123", "timestamp": 1_700_000_000_000}
    calls = []
    real.on("stop", calls.append)
    post(real, payload)
    post(real, payload)
    assert len(real.events) == 2 and len(calls) == 2


def test_events_trait_is_observable(real: EmbeddedSession) -> None:
    counts = []
    real.observe(lambda change: counts.append(len(change["new"])), names="events")
    post(real, {"event": "onStart", "sessionId": "a"})
    post(real, {"event": "onStart", "sessionId": "a"})
    assert counts == [1, 2]


@pytest.mark.parametrize(
    "content",
    [
        {"kind": "other", "data": {"event": "onStart"}},
        {"kind": "message", "data": "onStart"},
        {"kind": "message", "data": {"hello": "world"}},
        {"kind": "message", "data": {"type": "ttai-sandbox", "action": "transcript", "transcript": "x"}},
        "garbage",
    ],
)
def test_non_events_are_ignored(real: EmbeddedSession, content) -> None:
    real._handle_custom_msg(content, [])
    assert real.events == [] and real.status == "ready"


def test_other_events_are_kept_but_do_not_move_status(real: EmbeddedSession) -> None:
    post(real, {"event": "onResize", "height": 400})
    assert real.events[0]["kind"] is None and real.status == "ready"


def test_hooks_accept_vendor_names_and_can_be_removed(real: EmbeddedSession) -> None:
    calls = []
    callback = real.on("onStop", calls.append)
    assert callback is calls.append or callback == calls.append
    post(real, {"event": "onStop", "sessionId": "s"})
    real.off("stop", calls.append)
    post(real, {"event": "onStop", "sessionId": "s"})
    assert len(calls) == 1
    with pytest.raises(ValueError, match="start, stop"):
        real.on("finished", print)
    with pytest.raises(TypeError):
        real.on("stop", "not callable")


def test_new_onstart_begins_a_new_cycle(real: EmbeddedSession) -> None:
    post(real, {"event": "onStart", "sessionId": "first"})
    post(real, {"event": "onSubmit", "sessionId": "first"})
    post(real, {"event": "onStart", "sessionId": "second"})
    assert real.status == "started" and real.session_id == "second"


def test_session_notes_are_sent_to_the_frame(real: EmbeddedSession, monkeypatch) -> None:
    out = Outbox()
    monkeypatch.setattr(real, "send", out)
    real.send_session_notes(["Strong opening", {"text": "Ask for the meeting", "source": "coach"}])
    (msg,) = out.to_page()
    assert msg["type"] == "session_notes"
    assert [n["text"] for n in msg["notes"]] == ["Strong opening", "Ask for the meeting"]
    assert msg["notes"][0]["source"] == "evaluator" and msg["notes"][1]["source"] == "coach"
    assert all(isinstance(n["timestamp"], int) for n in msg["notes"])
    with pytest.raises(ValueError, match="non-empty"):
        real.send_session_notes([""])


# ---- a sandbox link: the simulated practice page ----------------------------------------------------


@pytest.fixture()
def client() -> tt.Client:
    # Background analyses finish before the trigger's answer: the widgets' polling is tested, not the clock.
    return tt.Client.sandbox(seed=0, max_retries=0, processing_time=0)


@pytest.fixture()
def link(client: tt.Client):
    scenario = client.scenarios.list()[0]
    return client.sessions.create(scenario.id, user_email="sam@example.com", user_name="Sam")


def sandbox_widget(client, link, monkeypatch, **kw) -> tuple[EmbeddedSession, Outbox]:
    widget = EmbeddedSession(link, client=client, **kw)
    out = Outbox()
    monkeypatch.setattr(widget, "send", out)
    return widget, out


def test_sandbox_link_renders_the_simulated_page(client, link) -> None:
    widget = EmbeddedSession(link, client=client)
    scenario = client.scenarios.get(client.sessions.get(link.session_id).scenario_id)
    assert widget.is_sandbox and widget.src == "" and widget.label == SANDBOX_LABEL
    assert widget.session_id == link.session_id
    assert SANDBOX_LABEL in widget.srcdoc
    assert json.dumps(scenario.name)[1:-1] in widget.srcdoc
    assert "Hi, thanks for joining" in widget.srcdoc or "greeting" in widget.srcdoc
    assert repr(widget).startswith("EmbeddedSession(kind='full', url='https://sandbox.ttai.invalid/embed/session/")
    html = widget._repr_mimebundle_()[0]["text/html"]
    assert "live notebook" in html and "sandbox.ttai.invalid" not in html


def test_full_simulated_session_start_stop_submit(client, link, monkeypatch) -> None:
    box = client.sandbox_instance
    widget, out = sandbox_widget(client, link, monkeypatch)
    order = []
    widget.on("any", lambda e: order.append(e["kind"]))
    sid = link.session_id

    post(widget, {"type": "ttai-sandbox", "action": "start-request", "sessionId": sid}, origin="null")
    assert out.to_page()[-1] == {"type": "ttai-sandbox", "action": "session", "session_id": sid}
    t0 = time.time() * 1000
    post(widget, {"event": "onStart", "sessionId": sid, "timestamp": t0}, origin="null")
    post(widget, {"event": "onStop", "sessionId": sid, "timestamp": t0 + 1}, origin="null")
    assert widget.status == "stopped"
    post(widget, {"type": "ttai-sandbox", "action": "transcript", "sessionId": sid, "transcript": TRANSCRIPT,
                  "duration_s": 42.5, "status": "completed", "timestamp": t0 + 2}, origin="null")

    reply = out.to_page()[-1]
    assert reply["action"] == "analysis" and reply["session_id"] == sid
    assert isinstance(reply["score"], float) and 0 <= reply["score"] <= 100 and reply["simulated"] is True
    record = box.state.sessions[sid]
    assert record.status == "completed" and record.transcript == TRANSCRIPT and record.duration == 42.5
    assert record.analyzed
    assert widget.session.status == "completed" and widget.transcript == TRANSCRIPT
    assert widget.analysis.score == reply["score"] and widget.analysis.is_simulated
    assert widget.analysis.report_card  # the full evaluation from the session, not only the analyse answer

    post(widget, {"event": "onSubmit", "sessionId": sid, "timestamp": t0 + 3}, origin="null")
    assert widget.status == "submitted"
    assert order == ["start", "stop", "submit"]
    # Sandbox protocol messages are not lifecycle events.
    assert [e["name"] for e in widget.events] == ["onStart", "onStop", "onSubmit"]


def test_a_resent_transcript_is_completed_and_scored_once(client, link, monkeypatch) -> None:
    box = client.sandbox_instance
    widget, out = sandbox_widget(client, link, monkeypatch)
    sid = link.session_id
    data = {"type": "ttai-sandbox", "action": "transcript", "sessionId": sid, "transcript": TRANSCRIPT,
            "status": "completed"}
    post(widget, data, origin="null")
    post(widget, data, origin="null")
    assert box.counters.requests["POST /sandbox/sessions/{id}/complete"] == 1
    assert analysis_triggers(box) == 1
    assert box.counters.analyses[sid] == 1  # charged once (this scenario even auto-analyses on completion)
    assert [m["action"] for m in out.to_page()] == ["analysis"]


def test_terminated_session_is_recorded_and_not_scored(client, link, monkeypatch) -> None:
    box = client.sandbox_instance
    widget, out = sandbox_widget(client, link, monkeypatch)
    sid = link.session_id
    post(widget, {"event": "onStart", "sessionId": sid}, origin="null")
    post(widget, {"event": "onTerminated", "sessionId": sid}, origin="null")
    post(widget, {"type": "ttai-sandbox", "action": "transcript", "sessionId": sid,
                  "transcript": "[00:01] AI: Hello?", "status": "terminated"}, origin="null")
    assert widget.status == "terminated"
    assert box.state.sessions[sid].status == "terminated"
    assert analysis_triggers(box) == 0 and widget.analysis is None
    assert out.to_page()[-1] == {"type": "ttai-sandbox", "action": "closed"}


def test_a_finished_session_link_cannot_be_started_again(client, link, monkeypatch) -> None:
    widget, out = sandbox_widget(client, link, monkeypatch)
    sid = link.session_id
    post(widget, {"type": "ttai-sandbox", "action": "transcript", "sessionId": sid, "transcript": TRANSCRIPT},
         origin="null")
    post(widget, {"type": "ttai-sandbox", "action": "start-request", "sessionId": sid}, origin="null")
    reply = out.to_page()[-1]
    assert reply["action"] == "error" and "already ended" in reply["message"]


def test_scenario_link_creates_the_session_on_start(client, monkeypatch) -> None:
    box = client.sandbox_instance
    scenario = client.scenarios.list()[1]
    url = f"https://sandbox.ttai.invalid/embed/basic/{scenario.id}?userEmail=kim%40example.com&userName=Kim"
    widget, out = sandbox_widget(client, url, monkeypatch)
    assert widget.kind == "basic" and widget.height == 600 and widget.session_id == ""
    before = box.counters.creates["session"]
    post(widget, {"type": "ttai-sandbox", "action": "start-request", "sessionId": None}, origin="null")
    reply = out.to_page()[-1]
    assert reply["action"] == "session" and box.counters.creates["session"] == before + 1
    record = box.state.sessions[reply["session_id"]]
    assert record.scenario_id == scenario.id and record.user_email == "kim@example.com"
    assert widget.session_id == reply["session_id"]


def test_sandbox_failure_is_told_to_the_page_and_can_be_retried(client, link, monkeypatch) -> None:
    box = client.sandbox_instance
    widget, out = sandbox_widget(client, link, monkeypatch)
    sid = link.session_id
    data = {"type": "ttai-sandbox", "action": "transcript", "sessionId": sid, "transcript": TRANSCRIPT}
    box.fail_next(status=503, route="POST /sandbox/sessions/{id}/complete")
    post(widget, data, origin="null")
    assert out.to_page()[-1]["action"] == "error" and "503" in widget.error
    post(widget, data, origin="null")
    assert out.to_page()[-1]["action"] == "analysis"


def test_sandbox_protocol_is_ignored_on_a_real_link(real: EmbeddedSession, monkeypatch) -> None:
    out = Outbox()
    monkeypatch.setattr(real, "send", out)
    post(real, {"type": "ttai-sandbox", "action": "start-request"})
    assert out == [] and real.events == []


def test_threaded_sandbox_scoring(client, link, monkeypatch) -> None:
    widget, out = sandbox_widget(client, link, monkeypatch, threaded=True)
    post(widget, {"type": "ttai-sandbox", "action": "transcript", "sessionId": link.session_id,
                  "transcript": TRANSCRIPT}, origin="null")
    assert widget.wait(10)
    assert out.to_page()[-1]["action"] == "analysis" and widget.analysis is not None


def test_no_token_in_any_trait_or_output() -> None:
    secret = "tt_live_SECRET_e5b1d0"
    box = Sandbox(seed=0, token=secret)
    client = tt.Client(token=secret, base_url=box.base_url, transport=box.transport())
    scenario = client.scenarios.list()[0]
    link = client.sessions.create(scenario.id, user_email="ana@example.com")
    widget = EmbeddedSession(link, client=client)
    post(widget, {"type": "ttai-sandbox", "action": "transcript", "sessionId": link.session_id,
                  "transcript": TRANSCRIPT}, origin="null")
    blob = json.dumps(widget.get_state(), default=str) + repr(widget) + json.dumps(widget._repr_mimebundle_()[0])
    assert secret not in blob and secret not in link.embed_url


def analysis_triggers(box) -> int:
    """Analyses asked of the service, through whichever route it has (post-process today, v1 analyse before)."""
    return box.counters.requests["POST /sessions/analyze"] + box.counters.requests["POST /v2/sessions/{id}/post-process"]
