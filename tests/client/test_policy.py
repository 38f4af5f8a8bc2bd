"""The pure request policy of ``_http``: request kinds, the decision table, Retry-After, backoff, and
responses turned into errors — all tables, no client."""

from __future__ import annotations

import datetime as dt
import random

import httpx
import pytest

from ttai_notebook import _http
from ttai_notebook._http import RequestKind, RetryPolicy, backoff_delay, classify_request, decide, parse_retry_after
from ttai_notebook.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)

SAFE, CREATE = RequestKind.SAFE, RequestKind.CREATE
NOW = dt.datetime(2026, 5, 1, 12, 0, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("GET", "/scenarios", None, SAFE),
        ("GET", "/sessions", None, SAFE),
        ("PATCH", "/scenarios/abc", {"name": "x"}, SAFE),
        ("DELETE", "/scenarios/abc", None, SAFE),
        ("POST", "/test", {"input": "check"}, SAFE),
        ("POST", "/sessions/analyze", {"session_id": "s"}, SAFE),
        ("POST", "/sessions/analyze", {"session_id": "s", "force": True}, CREATE),  # charged again
        ("POST", "/v2/sessions/s1/post-process", {"run_analysis": True}, CREATE),  # every call charges
        ("POST", "/api/public/v2/sessions/s1/post-process", None, CREATE),
        ("POST", "/v2/session", {"scenario_id": "s", "transcript": "t"}, CREATE),  # an import
        ("GET", "/v2/sessions", None, SAFE),
        ("GET", "/v2/organizations", None, SAFE),
        ("POST", "/scenario-access-token", {"scenario_id": "s"}, SAFE),
        ("POST", "/scenarios", {"id": "abc", "name": "x"}, SAFE),  # update through the upsert route
        ("POST", "/scenarios", {"name": "x", "ai_instructions": "y"}, CREATE),
        ("POST", "/scenarios/", {"name": "x"}, CREATE),
        ("POST", "/v2/sessions", {"scenario_id": "s"}, CREATE),
        ("POST", "/api/public/v2/sessions", {"scenario_id": "s"}, CREATE),
        ("post", "/v2/sessions", None, CREATE),
        ("POST", "/sandbox/sessions/x/complete", {}, CREATE),  # unknown POSTs: not repeated blindly
    ],
)
def test_classify_request(method, path, body, expected):
    assert classify_request(method, path, body) is expected


@pytest.mark.parametrize(
    ("kind", "status", "exc", "expected"),
    [
        # successes
        (SAFE, 200, None, "ok"),
        (CREATE, 201, None, "ok"),
        (SAFE, 204, None, "ok"),
        # safe requests retry 429, every 5xx, 408
        (SAFE, 429, None, "retry"),
        (SAFE, 500, None, "retry"),
        (SAFE, 502, None, "retry"),
        (SAFE, 503, None, "retry"),
        (SAFE, 504, None, "retry"),
        (SAFE, 599, None, "retry"),
        (SAFE, 408, None, "retry"),
        # definite client errors are raised at once
        (SAFE, 400, None, "raise"),
        (SAFE, 401, None, "raise"),
        (SAFE, 403, None, "raise"),
        (SAFE, 404, None, "raise"),
        (SAFE, 405, None, "raise"),
        (SAFE, 422, None, "raise"),
        (SAFE, 302, None, "raise"),
        # creates retry only 429 ...
        (CREATE, 429, None, "retry"),
        (CREATE, 400, None, "raise"),
        (CREATE, 422, None, "raise"),
        (CREATE, 408, None, "raise"),
        # ... and a 5xx leaves the outcome unknown
        (CREATE, 500, None, "unknown"),
        (CREATE, 502, None, "unknown"),
        (CREATE, 503, None, "unknown"),
        # transport errors: safe requests retry them all
        (SAFE, None, httpx.ConnectError("x"), "retry"),
        (SAFE, None, httpx.ConnectTimeout("x"), "retry"),
        (SAFE, None, httpx.ReadTimeout("x"), "retry"),
        (SAFE, None, httpx.WriteTimeout("x"), "retry"),
        (SAFE, None, httpx.PoolTimeout("x"), "retry"),
        (SAFE, None, httpx.ReadError("x"), "retry"),
        (SAFE, None, httpx.WriteError("x"), "retry"),
        (SAFE, None, httpx.RemoteProtocolError("Server disconnected without sending a response."), "retry"),
        (SAFE, None, httpx.NetworkError("x"), "retry"),
        # creates retry only failures before the request left
        (CREATE, None, httpx.ConnectError("x"), "retry"),
        (CREATE, None, httpx.ConnectTimeout("x"), "retry"),
        (CREATE, None, httpx.PoolTimeout("x"), "retry"),
        (CREATE, None, httpx.ReadTimeout("x"), "unknown"),
        (CREATE, None, httpx.ReadError("x"), "unknown"),
        (CREATE, None, httpx.WriteError("x"), "unknown"),
        (CREATE, None, httpx.WriteTimeout("x"), "unknown"),
        (CREATE, None, httpx.RemoteProtocolError("Server disconnected without sending a response."), "unknown"),
        # errors no retry can fix
        (SAFE, None, httpx.UnsupportedProtocol("x"), "raise"),
        (SAFE, None, httpx.LocalProtocolError("x"), "raise"),
        (SAFE, None, httpx.DecodingError("x"), "raise"),
    ],
)
def test_decision_table(kind, status, exc, expected):
    assert decide(kind, status=status, exc=exc) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (" 7 ", 7.0),
        (120, 120.0),
        ("Fri, 01 May 2026 12:00:30 GMT", 30.0),  # HTTP date, 30 s ahead
        ("Fri, 01 May 2026 11:59:00 GMT", 0.0),  # a date in the past: no wait
        ("-1", None),  # negative
        (-5, None),
        ("soon", None),  # garbage
        ("", None),
        ("1e9999", None),
        ("nan", None),
        (None, None),
        (True, None),
        ({"Retry-After": "4"}, 4.0),  # a headers mapping
        ({"retry-after-ms": "250"}, 0.25),
        (httpx.Headers({"Retry-After": "Fri, 01 May 2026 12:01:00 GMT"}), 60.0),
        ({}, None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize("jitter", ["equal", "full"])
@pytest.mark.parametrize("retry_index", [0, 1, 2, 3, 4, 5, 10, 100])
def test_backoff_stays_within_bounds(jitter, retry_index):
    rng = random.Random(retry_index)
    ceiling = min(8.0, 0.5 * 2**retry_index)
    floor = ceiling / 2 if jitter == "equal" else 0.0
    draws = [backoff_delay(retry_index, initial=0.5, cap=8.0, jitter=jitter, rng=rng) for _ in range(2000)]
    assert all(floor <= d <= ceiling for d in draws)
    # jitter really spreads the waits (a constant would pass the bounds and still be wrong)
    assert max(draws) - min(draws) > 0.3 * (ceiling - floor)


def test_backoff_grows_then_caps():
    mid = [backoff_delay(i, initial=0.5, cap=8.0, jitter="equal", rng=random.Random(0)) for i in range(8)]
    ceilings = [min(8.0, 0.5 * 2**i) for i in range(8)]
    for wait, ceiling in zip(mid, ceilings):
        assert ceiling / 2 <= wait <= ceiling
    assert ceilings[-1] == 8.0


def test_backoff_rejects_bad_arguments():
    with pytest.raises(ValueError):
        backoff_delay(-1)
    with pytest.raises(ValueError):
        backoff_delay(0, jitter="none")  # type: ignore[arg-type]


def test_retry_wait_prefers_a_positive_retry_after():
    policy = RetryPolicy()
    assert _http.retry_wait(policy, 0, 5.0) == 5.0
    assert 0.25 <= _http.retry_wait(policy, 0, 0.0, rng=random.Random(1)) <= 0.5  # 0 → backoff
    assert 0.25 <= _http.retry_wait(policy, 0, None, rng=random.Random(1)) <= 0.5


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (422, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (409, APIError),
        (405, APIError),
    ],
)
def test_status_to_exception(status, cls):
    assert _http.exception_class_for_status(status) is cls
    error = _http.error_from_response(httpx.Response(status, json={"detail": "nope"}))
    assert type(error) is cls
    assert error.status_code == status
    assert error.message == "nope"


def _resp(status: int, **kwargs) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", "https://x.test/api/public/scenarios"), **kwargs)


@pytest.mark.parametrize(
    ("response", "message", "details"),
    [
        (_resp(400, json={"error": "Invalid parameters", "details": {"field": "name"}}), "Invalid parameters", {"field": "name"}),
        (_resp(404, json={"detail": "Scenario not found"}), "Scenario not found", None),
        (
            _resp(422, json={"detail": [
                {"loc": ["body", "name"], "msg": "Field required", "type": "missing"},
                {"loc": ["body", "ai_instructions"], "msg": "Field required", "type": "missing"},
            ]}),
            "body.name: Field required; body.ai_instructions: Field required",
            [
                {"loc": ["body", "name"], "msg": "Field required", "type": "missing"},
                {"loc": ["body", "ai_instructions"], "msg": "Field required", "type": "missing"},
            ],
        ),
        (_resp(422, json={"detail": [{"loc": ["query", "limit", 0], "msg": "too big"}]}), "query.limit.0: too big", [{"loc": ["query", "limit", 0], "msg": "too big"}]),
        (_resp(403, json={"detail": {"error": "Out of credit"}}), "Out of credit", {"error": "Out of credit"}),
        (_resp(500, json={"message": "boom"}), "boom", None),
        (_resp(404, json={"detail": "Not Found"}), "Not Found", None),
    ],
)
def test_error_message_in_the_servers_words(response, message, details):
    error = _http.error_from_response(response)
    assert error.message == message
    assert error.details == details
    assert str(error).startswith(f"{response.status_code} ")
    assert message in str(error)


@pytest.mark.parametrize(
    ("response", "expected_parts"),
    [
        (
            _resp(502, text="<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
                  "<hr>nginx</body></html>", headers={"content-type": "text/html"}),
            ["502 Bad Gateway:", "non-JSON response (text/html", "502 Bad Gateway — "],
        ),
        (_resp(500, text='{"detail": "trunc', headers={"content-type": "application/json"}), ["500 Internal Server Error:", "non-JSON", '{"detail": "trunc']),
        (_resp(503, content=b""), ["503 Service Unavailable:", "empty response body"]),
        (_resp(400, text="bad\x00\x1b[31mred", headers={"content-type": "text/plain"}), ["\\x00", "\\x1b"]),
        (_resp(500, text="x" * 5000, headers={"content-type": "text/plain"}), ["…"]),
    ],
)
def test_non_json_bodies_give_a_clear_message(response, expected_parts):
    error = _http.error_from_response(response)
    text = str(error)
    for part in expected_parts:
        assert part in text
    assert len(error.message) < 300
    assert "\x00" not in text and "\x1b" not in text


def test_request_id_and_retry_after_are_kept():
    response = _resp(429, json={"detail": "slow down"}, headers={"x-request-id": "req-42", "retry-after": "7"})
    error = _http.error_from_response(response)
    assert isinstance(error, RateLimitError)
    assert error.request_id == "req-42"
    assert error.retry_after == 7.0
    assert "request id: req-42" in str(error)
    assert error.response is response


@pytest.mark.parametrize(
    ("status", "body", "resource_id", "missing"),
    [
        (405, {"detail": "Method Not Allowed"}, "abc", True),
        (405, {"detail": "Scenario abc not found"}, "abc", True),  # 405 always means the route
        (404, {"detail": "Not Found"}, "abc", True),  # FastAPI's plain 404: no such route
        (404, {"error": "Not found"}, "abc", True),
        (404, None, "abc", True),  # empty body
        (404, "<html>404</html>", "abc", True),  # a proxy's HTML page
        (404, {"detail": "Scenario not found"}, "abc", False),  # names the resource
        (404, {"detail": "Session abc does not exist"}, "abc", False),
        (404, {"detail": "No item with id abc"}, "abc", False),  # names the id
        (404, {"error": "Not found", "details": {"id": "abc"}}, "abc", False),
        (400, {"detail": "Not Found"}, "abc", False),
        (500, {"detail": "Not Found"}, "abc", False),
    ],
)
def test_route_missing_versus_unknown_id(status, body, resource_id, missing):
    if body is None:
        response = _resp(status)
    elif isinstance(body, str):
        response = _resp(status, text=body, headers={"content-type": "text/html"})
    else:
        response = _resp(status, json=body)
    error = _http.error_from_response(response)
    assert _http.route_missing(error, resource_id) is missing


def test_outcome_unknown_message_says_how_to_check():
    server = _http.error_from_response(_resp(502, json={"detail": "bad gateway"}))
    error = _http.outcome_unknown_error("POST", "/scenarios", {"name": "Cold call"}, error=server)
    assert isinstance(error, OutcomeUnknownError) and isinstance(error, APIError)
    assert error.status_code == 502
    assert "outcome is unknown" in str(error)
    assert "client.scenarios.list(search='Cold call'" in str(error)
    lost = _http.outcome_unknown_error(
        "POST", "/v2/sessions", {"scenario_id": "s1", "user_email": "a@b.co"}, exc=httpx.ReadError("reset")
    )
    assert lost.status_code is None and lost.response is None
    assert "client.sessions.list(scenario_id='s1', user_email='a@b.co')" in str(lost)


def test_decode_json():
    assert _http.decode_json(_resp(200, content=b"")) is None
    assert _http.decode_json(_resp(200, json={"a": 1})) == {"a": 1}
    with pytest.raises(APIError, match="expected JSON but got text/html"):
        _http.decode_json(_resp(200, text="<html>captive portal</html>", headers={"content-type": "text/html"}))


@pytest.mark.parametrize(
    ("app_url", "scenario_id", "email", "name", "expected"),
    [
        ("https://app.toughtongueai.com", "abc", None, None, "https://app.toughtongueai.com/embed/abc"),
        (
            "https://app.toughtongueai.com/",
            "abc",
            "ann@example.com",
            "Ann Lee",
            "https://app.toughtongueai.com/embed/abc?userEmail=ann%40example.com&userName=Ann+Lee",
        ),
        ("https://sandbox.ttai.invalid", "a/b?c", None, "Bo", "https://sandbox.ttai.invalid/embed/a%2Fb%3Fc?userName=Bo"),
    ],
)
def test_scenario_embed_url(app_url, scenario_id, email, name, expected):
    assert _http.scenario_embed_url(app_url, scenario_id, user_email=email, user_name=name) == expected
