"""End to end through ``tt.Client`` / ``tt.AsyncClient`` against the sandbox, in both dialects, in process
and over HTTP: create scenario → list → create session → complete (sandbox route) → analyse → balance −1."""
from __future__ import annotations

import pytest
from .helpers import GOOD_TRANSCRIPT

import ttai_notebook as tt
from ttai_notebook.sandbox import Sandbox, is_sandbox_url
from ttai_notebook.sandbox.practice import acomplete_session, complete_session


def _round_trip(client) -> None:
    box = client.sandbox_instance
    start = client.balance().available_minutes
    scenario = client.scenarios.create("Price pushback drill", "You are a CFO. Push back on price.",
                                       description="Round trip", is_public=False)
    assert scenario.id and scenario.name == "Price pushback drill"
    assert scenario.id in [s.id for s in client.scenarios.list(cache=False)]
    link = client.sessions.create(scenario.id, user_email="ann@example.com", user_name="Ann",
                                  metadata={"team": "Blue"})
    assert link.session_id and is_sandbox_url(link.embed_url)
    assert client.sessions.get(link.session_id).status == "in_progress"
    session = complete_session(client, link.session_id, GOOD_TRANSCRIPT)
    assert session.status == "completed" and session.transcript == GOOD_TRANSCRIPT and session.analysis is None
    analysis = client.sessions.analyze(link.session_id)
    assert analysis.score is not None and 0 <= analysis.score <= 100
    assert analysis.strengths and analysis.improvements
    assert client.balance().available_minutes == start - 1
    again = client.sessions.analyze(link.session_id)  # stored result, no new charge
    assert again.score == analysis.score and client.balance().available_minutes == start - 1
    fetched = client.sessions.get(link.session_id)
    assert fetched.analysis is not None and fetched.metadata == {"team": "Blue"}
    assert [s.id for s in client.sessions.list(user_email="ann@example.com", page_size=10)] == [link.session_id]
    if box is not None:
        assert box.counters.creates["scenario"] == 1 and box.counters.creates["session"] == 1
        assert box.counters.analyses[link.session_id] == 1


@pytest.mark.parametrize("dialect", ["documented", "spec"])
def test_round_trip_in_process(dialect):
    with tt.Client.sandbox(seed=0, dialect=dialect) as client:
        _round_trip(client)
        assert client.sandbox_instance.dialect == dialect


@pytest.mark.parametrize("dialect", ["documented", "spec"])
def test_round_trip_over_http(dialect):
    box = Sandbox(seed=0, dialect=dialect, token="tok-e2e")
    with box.serve() as server, tt.Client(token="tok-e2e", base_url=server.base_url) as client:
        _round_trip(client)
    assert box.counters.creates["scenario"] == 1 and box.counters.total_analyses == 1


@pytest.mark.parametrize("dialect", ["documented", "spec"])
async def test_round_trip_async(dialect):
    async with tt.AsyncClient.sandbox(seed=0, dialect=dialect) as client:
        start = (await client.balance()).available_minutes
        scenario = await client.scenarios.create("Async drill", "You are a buyer.")
        link = await client.sessions.create(scenario.id, user_email="bo@example.com")
        session = await acomplete_session(client, link.session_id, GOOD_TRANSCRIPT)
        assert session.status == "completed"
        analysis = await client.sessions.analyze(link.session_id)
        assert analysis.score is not None
        assert (await client.balance()).available_minutes == start - 1


def test_analysing_the_demo_org_through_the_client():
    with tt.Client.sandbox(seed=0, dialect="spec") as client:
        sessions = client.sessions.list(page_size=500).to_list()
        assert len(sessions) == 520
        analysed = [s for s in sessions if s.analysis is not None]
        assert len(analysed) >= 400
        assert all(0 <= s.analysis.score <= 100 for s in analysed)
        assert {s.metadata.get("team") for s in sessions} >= {"Enterprise East", "Customer Success"}
        card = analysed[0].analysis.report_card
        assert 4 <= len(card) <= 6 and sum(r.weight for r in card) == 100
