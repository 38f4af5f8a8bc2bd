"""(b) A full simulated practice session in the iframe reaches Python as start → stop → submit, and the
analysis card appears. Also measures the event latency (payload timestamp → kernel receive time)."""

from __future__ import annotations

import pathlib
import statistics

import pytest

import ttai_notebook as tt

from .conftest import client_cell, open_notebook, read_json_when, run_all_cells, screenshot, wait_idle

pytestmark = pytest.mark.browser

REPLIES = [
    "Hi, I'm Sam from Routewise. I'm calling because dispatch teams lose hours to spreadsheets. "
    "How do you schedule drivers today?",
    "That makes sense. What would it be worth to get six hours a week back? Could we meet on Tuesday at 10?",
]


def test_simulated_session_start_stop_submit_and_card(page, lab, served_sandbox, out_dir: pathlib.Path, artifacts) -> None:
    box, base_url = served_sandbox
    with tt.Client(token="sandbox", base_url=base_url) as mine:
        scenario = next(s for s in mine.scenarios.list() if "cold" in (s.name or "").lower()) \
            if any("cold" in (s.name or "").lower() for s in mine.scenarios.list()) else mine.scenarios.list()[0]
    out = out_dir / "practice.json"
    nb = lab.write_notebook(
        "practice",
        [
            client_cell(base_url)
            + f"OUT = pathlib.Path({str(out)!r})\n"
            f"launcher = tt.widgets.PracticeLauncher(client, scenario_id={scenario.id!r})\n"
            "def dump(_change=None):\n"
            "    e = launcher.embedded\n"
            "    if e is not None and not getattr(e, 'dump_hooked', False):\n"
            "        e.on('any', dump)\n"
            "        e.dump_hooked = True\n"
            "    OUT.write_text(json.dumps({'phase': launcher.phase, 'session_id': launcher.session_id,\n"
            "        'events': e.events if e else [], 'status': e.status if e else None,\n"
            "        'score': getattr(launcher.analysis, 'score', None)}))\n"
            "launcher.observe(dump, names=['phase', 'session_id'])\n"
            "dump()\n"
            "launcher",
        ],
    )
    open_notebook(page, lab, nb)
    run_all_cells(page)
    wait_idle(page)

    page.locator("input[placeholder='trainee@example.com']").fill("sam@example.com")
    page.locator("input[placeholder^='optional, e.g. north']").fill("north")
    page.get_by_role("button", name="Start practice").click()
    frame_el = page.locator("iframe.ttai-embed-frame")
    frame_el.wait_for(timeout=30_000)
    assert frame_el.get_attribute("sandbox") == "allow-scripts allow-forms"
    assert "microphone" in frame_el.get_attribute("allow")
    frame = page.frame_locator("iframe.ttai-embed-frame")
    frame.get_by_text("Sandbox — simulated persona and scoring").wait_for(timeout=30_000)
    page.get_by_text("Sandbox — simulated persona and scoring").first.wait_for()  # the widget's own label too

    frame.locator("#start").click()
    ai_turns = frame.locator(".turn.ai")
    ai_turns.first.wait_for(timeout=15_000)  # the persona's greeting
    for count, reply in enumerate(REPLIES, start=2):
        frame.locator("#input").fill(reply)
        frame.locator("#input").press("Enter")
        ai_turns.nth(count - 1).wait_for(timeout=10_000)
    state = read_json_when(out, lambda d: d["status"] == "started")
    assert state["phase"] == "practising"
    screenshot(page, artifacts, "b_practice_live", page.locator(".jp-OutputArea-output").last)

    frame.locator("#end").click()
    frame.get_by_text("Scored (simulated)").wait_for(timeout=30_000)
    card = page.locator(".ttai-analysis")
    card.wait_for(timeout=30_000)
    state = read_json_when(out, lambda d: d["phase"] == "done")

    events = state["events"]
    assert [e["name"] for e in events] == ["onStart", "onStop", "onSubmit"]
    assert {e["session_id"] for e in events} == {state["session_id"]}
    assert all(e["origin"] == "null" and e["via"] == "iframe" for e in events)
    assert state["status"] == "submitted" and isinstance(state["score"], float)

    # The sandbox (in this process) holds the completed, scored session with the browser's transcript.
    record = box.state.sessions[state["session_id"]]
    assert record.status == "completed" and record.user_email == "sam@example.com"
    assert record.metadata == {"team": "north"}
    transcript = record.get_transcript()
    assert f"] User: {REPLIES[0]}" in transcript and "] AI: " in transcript
    assert all(turn.startswith("[") for turn in transcript.split("\n\n"))
    assert box.counters.analyses[state["session_id"]] == 1

    card_text = card.inner_text()
    assert "Simulated analysis" in card_text and "Strengths" in card_text
    assert f"{state['score']:.0f}" in card_text

    latencies = [e["latency_ms"] for e in events]
    print("\n[latency] simulated page postMessage → kernel: "
          + ", ".join(f"{e['name']} {e['latency_ms']:.1f} ms" for e in events)
          + f" (median {statistics.median(latencies):.1f} ms)")
    assert all(0 <= x < 5000 for x in latencies)

    card.scroll_into_view_if_needed()
    shot = screenshot(page, artifacts, "b_practice_done", page.locator(".jp-OutputArea-output").last)
    assert shot.stat().st_size > 20_000
    assert page.dialogs == []


def test_simulated_session_in_a_new_tab_still_reports_to_python(page, lab, served_sandbox, out_dir: pathlib.Path,
                                                               artifacts) -> None:
    """"Open in a new tab" (for front ends that block the microphone in frames): events still arrive."""
    box, base_url = served_sandbox
    out = out_dir / "tab.json"
    with tt.Client(token="sandbox", base_url=base_url) as mine:
        scenario = mine.scenarios.list()[0]
    nb = lab.write_notebook(
        "new_tab",
        [
            client_cell(base_url)
            + f"OUT = pathlib.Path({str(out)!r})\n"
            f"link = client.sessions.create({scenario.id!r}, user_email='tab@example.com')\n"
            "practice = tt.widgets.EmbeddedSession(link, client=client, kind='minimal')\n"
            "def dump(_event=None):\n"
            "    OUT.write_text(json.dumps({'events': practice.events, 'status': practice.status,\n"
            "        'tab': practice.opened_in_tab, 'score': getattr(practice.analysis, 'score', None)}))\n"
            "practice.on('any', dump)\n"
            "practice.observe(dump, names='opened_in_tab')\n"
            "practice",
        ],
    )
    open_notebook(page, lab, nb)
    run_all_cells(page)
    wait_idle(page)
    page.locator("iframe.ttai-embed-frame").wait_for(timeout=30_000)
    with page.context.expect_page() as popup_info:
        page.locator("a.ttai-embed-open").click()
    tab = popup_info.value
    tab.wait_for_load_state()
    assert tab.url.startswith("blob:")
    tab.get_by_text("Sandbox — simulated persona and scoring").wait_for(timeout=15_000)
    tab.locator("#start").click()
    tab.locator(".turn.ai").first.wait_for(timeout=15_000)
    tab.locator("#input").fill("Hi, what would help your team most this quarter? Shall we meet Tuesday at 10?")
    tab.locator("#input").press("Enter")
    tab.locator(".turn.ai").nth(1).wait_for(timeout=10_000)
    tab.locator("#end").click()
    tab.get_by_text("Scored (simulated)").wait_for(timeout=30_000)
    state = read_json_when(out, lambda d: d["status"] == "submitted")
    assert state["tab"] is True
    assert [e["name"] for e in state["events"]] == ["onStart", "onStop", "onSubmit"]
    assert all(e["via"] == "tab" and e["origin"] == lab.url for e in state["events"])
    assert isinstance(state["score"], float)
    session_id = state["events"][0]["session_id"]
    assert box.state.sessions[session_id].status == "completed"
    screenshot(tab, artifacts, "b_practice_new_tab")
    tab.close()
