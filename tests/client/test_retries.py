"""The retry policy end to end, for the sync and the async client (same handler, instant sleeps)."""

from __future__ import annotations

import logging

import httpx
import pytest

from ttai_notebook.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    OutcomeUnknownError,
    RateLimitError,
    ServerError,
)

from client_helpers import call, brief

SCENARIO = {"id": "69577496bd7c000fa3f4fc2a", "name": "Cold call", "is_public": True}
CREATE = dict(name="Cold call", ai_instructions="You are a busy CFO.")


async def test_429_then_200_is_retried_after_retry_after(make_client, api, slept):
    api.on("GET", "/balance", (429, {"detail": "Too many requests"}, {"Retry-After": "2"}), {"available_minutes": 12.5})
    client = make_client()
    balance = await call(client.balance())
    assert balance.available_minutes == 12.5
    assert api.count("GET", "/balance") == 2
    assert slept == [2.0]
    assert client.stats.retries == 1 and client.stats.waits == 1
    assert client.stats.wait_seconds == 2.0
    assert client.stats.errors == {429: 1}
    assert client.stats.requests == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_safe_request_retries_every_5xx(make_client, api, slept, status):
    api.on("GET", "/scenarios", (status, {"detail": "oops"}), {"scenarios": [SCENARIO]})
    client = make_client()
    scenarios = await call(client.scenarios.list())
    assert [s.id for s in scenarios] == [SCENARIO["id"]]
    assert len(slept) == 1 and 0.25 <= slept[0] <= 0.5  # first backoff, equal jitter


async def test_backoff_waits_grow_and_then_it_gives_up(make_client, api, slept):
    api.on("GET", "/balance", (503, {"detail": "down"}))
    client = make_client(max_retries=3)
    with pytest.raises(ServerError) as info:
        await call(client.balance())
    assert info.value.status_code == 503
    assert api.count("GET", "/balance") == 4  # 1 + 3 retries
    assert [0.25 <= slept[0] <= 0.5, 0.5 <= slept[1] <= 1.0, 1.0 <= slept[2] <= 2.0] == [True, True, True]


async def test_500_on_create_sends_exactly_one_post(make_client, api, slept):
    api.on("POST", "/scenarios", (500, {"detail": "Internal error"}))
    client = make_client()
    with pytest.raises(OutcomeUnknownError) as info:
        await call(client.scenarios.create(**CREATE))
    assert api.count("POST", "/scenarios") == 1
    assert slept == []
    message = str(info.value)
    assert "outcome is unknown" in message
    assert "client.scenarios.list(search='Cold call'" in message
    assert info.value.status_code == 500


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError])
async def test_failure_after_sending_a_create_is_not_retried(make_client, api, failure):
    api.on("POST", "/v2/sessions", failure)
    client = make_client()
    with pytest.raises(OutcomeUnknownError) as info:
        await call(client.sessions.create("scn1", user_email="ann@example.com"))
    assert api.count("POST", "/v2/sessions") == 1
    assert info.value.response is None
    assert "client.sessions.list(scenario_id='scn1', user_email='ann@example.com')" in str(info.value)


@pytest.mark.parametrize("failure", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
async def test_failure_before_sending_a_create_is_retried(make_client, api, slept, failure):
    api.on("POST", "/scenarios", failure, SCENARIO)
    client = make_client()
    scenario = await call(client.scenarios.create(**CREATE))
    assert scenario.id == SCENARIO["id"]
    assert api.count("POST", "/scenarios") == 2
    assert len(slept) == 1
    assert client.stats.errors == {failure.__name__: 1}


async def test_429_on_create_is_retried(make_client, api, slept):
    api.on("POST", "/v2/sessions", (429, {"error": "Rate limited"}, {"Retry-After": "1"}),
           {"session_id": "s1", "embed_url": "https://app.toughtongueai.com/embed/session/s1"})
    client = make_client()
    link = await call(client.sessions.create("scn1"))
    assert link.session_id == "s1"
    assert api.count("POST", "/v2/sessions") == 2
    assert slept == [1.0]


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError, httpx.ReadTimeout, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError],
)
async def test_transport_errors_on_safe_requests_are_retried(make_client, api, failure):
    api.on("GET", "/sessions/s1", failure, failure, {"id": "s1", "status": "completed"})
    client = make_client()
    session = await call(client.sessions.get("s1"))
    assert session.status == "completed"
    assert api.count("GET", "/sessions/s1") == 3


async def test_exhausted_transport_retries_raise_connection_errors(make_client, api):
    api.on("GET", "/balance", httpx.ConnectError)
    client = make_client(max_retries=2)
    with pytest.raises(APIConnectionError, match="after 2 retries") as info:
        await call(client.balance())
    assert not isinstance(info.value, APITimeoutError)
    assert api.count("GET", "/balance") == 3

    api.on("GET", "/balance", httpx.ReadTimeout)
    with pytest.raises(APITimeoutError, match="waiting for the answer"):
        await call(client.balance())


async def test_retry_after_above_the_cap_raises_with_the_wait(make_client, api, slept):
    api.on("GET", "/balance", (429, {"detail": "quota"}, {"Retry-After": "3600"}))
    client = make_client(retry_after_cap=60)
    with pytest.raises(RateLimitError) as info:
        await call(client.balance())
    assert api.count("GET", "/balance") == 1
    assert slept == []
    assert info.value.retry_after == 3600
    assert "3600 s" in str(info.value) and "retry_after_cap" in str(info.value)


async def test_retry_after_as_http_date(make_client, api, slept):
    api.on("GET", "/balance", (429, {"detail": "x"}, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), {"available_minutes": 1})
    client = make_client()
    await call(client.balance())
    # a date in the past means "now": the client falls back to its own backoff
    assert len(slept) == 1 and 0.25 <= slept[0] <= 0.5


async def test_429_exhausted_raises_rate_limit_error(make_client, api, slept):
    api.on("GET", "/balance", (429, {"detail": "x"}, {"Retry-After": "1"}))
    client = make_client(max_retries=2)
    with pytest.raises(RateLimitError) as info:
        await call(client.balance())
    assert info.value.retry_after == 1.0
    assert slept == [1.0, 1.0]


@pytest.mark.parametrize(("status", "cls"), [(400, BadRequestError), (401, AuthenticationError), (422, BadRequestError)])
async def test_client_errors_are_not_retried(make_client, api, slept, status, cls):
    api.on("GET", "/balance", (status, {"detail": "no"}))
    client = make_client()
    with pytest.raises(cls):
        await call(client.balance())
    assert api.count("GET", "/balance") == 1 and slept == []


async def test_per_call_max_retries_and_timeout_override(make_client, api, slept):
    api.on("GET", "/scenarios", (500, {"detail": "x"}))
    client = make_client(max_retries=5)
    with pytest.raises(ServerError):
        await call(client.scenarios.list(max_retries=1, timeout=2.5))
    assert api.count("GET", "/scenarios") == 2
    assert api.requests[-1].extensions["timeout"] == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}


async def test_request_with_zero_retries_raises_at_once(make_client, api):
    api.on("GET", "/thing", (503, {"detail": "x"}), {"ok": True})
    client = make_client()
    with pytest.raises(ServerError):
        await call(client.request("GET", "/thing", max_retries=0, timeout=1.0))
    assert api.count("GET", "/thing") == 1
    assert api.requests[-1].extensions["timeout"]["read"] == 1.0
    assert await call(client.request("GET", "/thing")) == {"ok": True}


async def test_default_timeout_and_analyze_timeout(make_client, api):
    api.on("GET", "/balance", {"available_minutes": 3})
    api.on("POST", "/sessions/analyze", {"overall_score": 80, "strengths": [], "improvements": []})
    client = make_client(timeout=7)
    await call(client.balance())
    assert api.requests[-1].extensions["timeout"]["read"] == 7
    await call(brief(client).sessions.analyze("s1"))
    assert api.requests[-1].extensions["timeout"]["read"] == 120  # analysis runs in the foreground


async def test_debug_log_tells_each_retry_and_wait(make_client, api, caplog):
    api.on("GET", "/balance", (429, {"detail": "x"}, {"Retry-After": "2"}), httpx.ConnectError, {"available_minutes": 1})
    client = make_client()
    with caplog.at_level(logging.DEBUG, logger="ttai_notebook"):
        await call(client.balance())
    lines = [r.getMessage() for r in caplog.records if r.name == "ttai_notebook"]
    assert any("429" in line and "Retry-After 2 s" in line and "retry 1/3 in 2.00 s" in line for line in lines)
    assert any("ConnectError" in line and "retry 2/3" in line for line in lines)


async def test_analyze_is_retried_after_a_5xx(make_client, api):
    # analyse is safe: without force a repeat returns the stored result at no charge
    api.on("POST", "/sessions/analyze", (502, {"detail": "x"}), {"overall_score": 70, "strengths": ["a"], "improvements": []})
    client = brief(make_client())
    analysis = await call(client.sessions.analyze("s1"))
    assert analysis.score == 70.0
    assert api.count("POST", "/sessions/analyze") == 2


async def test_update_through_upsert_is_retried_after_a_5xx(make_client, api):
    api.on("PATCH", "/scenarios/abc", (405, {"detail": "Method Not Allowed"}))
    api.on("POST", "/scenarios", (500, {"detail": "x"}), {"id": "abc", "name": "New"})
    client = make_client()
    scenario = await call(client.scenarios.update("abc", name="New"))
    assert scenario.name == "New"
    assert api.count("POST", "/scenarios") == 2  # POST with an id is an idempotent update


async def test_stats_read_well_and_reset(make_client, api):
    api.on("GET", "/balance", (503, {"detail": "x"}), httpx.ReadError, {"available_minutes": 1})
    client = make_client()
    await call(client.balance())
    text = repr(client.stats)
    assert text.startswith("ClientStats(requests=3, retries=2, waits=2 (")
    assert "errors={503: 1, 'ReadError': 1}" in text
    assert client.stats.as_dict()["requests"] == 3
    client.stats.reset()
    assert client.stats.as_dict() == {"requests": 0, "retries": 0, "waits": 0, "wait_seconds": 0.0, "errors": {}}
