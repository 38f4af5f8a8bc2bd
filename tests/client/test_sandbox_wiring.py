"""The client's wiring to the sandbox: ``Client.sandbox()``, ``tt.connect()``, and the retry / fallback
rules proven against the sandbox's own counters (what it really executed)."""

from __future__ import annotations

import httpx
import pytest
from client_helpers import TOKEN, call

import ttai_notebook.client as client_module
from ttai_notebook.client import Client, connect
from ttai_notebook.errors import AuthenticationError, NotSupportedError, OutcomeUnknownError
from ttai_notebook.sandbox import SANDBOX_ORIGIN, Sandbox, is_sandbox_url


@pytest.fixture(params=["current", "brief"])
def sandbox_client(sandbox_client, request):
    """The conftest factory, on each sandbox profile (the service today, and as the brief describes it)."""

    def build(**options):
        options.setdefault("profile", request.param)
        return sandbox_client(**options)

    return build


async def test_sandbox_client_is_wired(sandbox_client):
    client = sandbox_client(seed=3, max_retries=1, timeout=5)
    assert client.is_sandbox
    assert isinstance(client.sandbox_instance, Sandbox)
    assert client.sandbox_instance.seed == 3
    assert client.app_url == SANDBOX_ORIGIN
    assert client.config.max_retries == 1 and client.config.timeout == 5  # client options went to the client
    assert (await call(client.test_token())).valid
    assert (await call(client.balance())).available_minutes > 0


async def test_sandbox_token_is_used_by_the_client(sandbox_client):
    client = sandbox_client(token=TOKEN)
    assert client.sandbox_instance.token == TOKEN
    assert (await call(client.test_token())).valid
    assert TOKEN not in repr(client)


def test_a_wrong_token_is_rejected_by_a_guarded_sandbox():
    box = Sandbox(token="right")
    with Client(token="wrong", base_url=box.base_url, transport=box.transport()) as client:
        check = client.test_token()
        assert check.valid is False and check.message
        with pytest.raises(AuthenticationError):
            client.balance()


@pytest.mark.parametrize("dialect", ["documented", "spec"])
@pytest.mark.parametrize("spec_routes_only", [False, True])
async def test_full_round_trip_in_each_dialect(sandbox_client, dialect, spec_routes_only):
    client = sandbox_client(dialect=dialect, spec_routes_only=spec_routes_only)
    box = client.sandbox_instance
    scenario = await call(client.scenarios.create("Pitch", "You are a skeptical buyer.", is_public=False))
    assert scenario.id and scenario.ai_instructions == "You are a skeptical buyer."
    updated = await call(client.scenarios.update(scenario.id, name="Pitch v2"))
    assert updated.name == "Pitch v2"
    assert (await call(client.scenarios.get(scenario.id, cache=False))).name == "Pitch v2"
    link = await call(client.sessions.create(scenario.id, user_email="ann@example.com"))
    assert is_sandbox_url(link.embed_url)
    assert (link.session_id is None) == spec_routes_only
    if spec_routes_only:
        with pytest.raises(NotSupportedError):
            await call(client.scenarios.delete(scenario.id))
    else:
        await call(client.scenarios.delete(scenario.id))
    assert box.counters.creates["scenario"] == 1
    assert box.counters.creates["session"] == (0 if spec_routes_only else 1)


async def test_listing_and_analysing_the_demo_organisation(sandbox_client):
    client = sandbox_client(dialect="spec")
    iterator = client.sessions.list(page_size=50)
    sessions = await (iterator.to_list() if hasattr(iterator, "__aiter__") else call(iterator.to_list()))
    assert len(sessions) == len({s.id for s in sessions}) > 100
    finished = next(s for s in sessions if s.status == "completed" and s.analysis is None)
    analysis = await call(client.sessions.analyze(finished.id))
    assert analysis.score is not None and 0 <= analysis.score <= 100
    again = await call(client.sessions.analyze(finished.id))  # no force: the stored result, no new charge
    assert again.score == analysis.score
    assert client.sandbox_instance.counters.analyses[finished.id] == 1


async def test_a_create_dropped_after_executing_is_reported_not_repeated(sandbox_client):
    client = sandbox_client()
    box = client.sandbox_instance
    box.fail_next(route="POST /scenarios", drop=True)
    with pytest.raises(OutcomeUnknownError, match="outcome is unknown"):
        await call(client.scenarios.create("Once", "Only once"))
    assert box.counters.creates["scenario"] == 1  # executed once, never repeated
    names = [s.name for s in await call(client.scenarios.list(search="Once", cache=False))]
    assert names.count("Once") == 1


async def test_a_5xx_on_create_is_reported_not_repeated(sandbox_client):
    client = sandbox_client()
    box = client.sandbox_instance
    box.fail_next(500, route="POST /v2/sessions", after_execute=True)
    scenario_id = (await call(client.scenarios.list()))[0].id
    with pytest.raises(OutcomeUnknownError):
        await call(client.sessions.create(scenario_id, user_email="bo@example.com"))
    assert box.counters.creates["session"] == 1


async def test_injected_faults_on_reads_are_absorbed(sandbox_client):
    client = sandbox_client()
    box = client.sandbox_instance
    scenario_id = (await call(client.scenarios.list()))[0].id
    box.fail_next(503, route="GET /balance", count=2)
    box.fail_next(429, route="GET /scenarios/{id}")
    box.fail_next(route="GET /scenarios/{id}", drop=True)
    assert (await call(client.balance())).available_minutes > 0
    assert (await call(client.scenarios.get(scenario_id, cache=False))).id == scenario_id
    stats = client.stats.as_dict()
    assert stats["errors"] == {503: 2, 429: 1, "RemoteProtocolError": 1}
    assert stats["retries"] == 4
    assert box.counters.injected["forced"] == 4


def test_connect_uses_the_token_when_there_is_one(monkeypatch, capsys):
    monkeypatch.setenv("TTAI_TOKEN", TOKEN)
    client = connect(transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"message": "ok"})))
    try:
        assert not client.is_sandbox and client.sandbox_instance is None
        assert client.test_token().valid
    finally:
        client.close()
    assert capsys.readouterr().out == ""


def test_connect_without_a_token_uses_the_sandbox_and_says_so_once(monkeypatch, capsys):
    monkeypatch.delenv("TTAI_TOKEN", raising=False)
    monkeypatch.setattr(client_module, "_sandbox_notice_shown", False)
    first = connect(seed=1)
    second = connect()
    try:
        assert first.is_sandbox and second.is_sandbox
        assert first.sandbox_instance.seed == 1
        out = capsys.readouterr().out
        assert out.count("offline sandbox") == 1
        assert "TTAI_TOKEN" in out
        with pytest.raises(Exception, match="no token"):
            connect(base_url="https://api.toughtongueai.com/api/public")
    finally:
        first.close()
        second.close()
