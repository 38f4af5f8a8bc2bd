"""Where settings come from, and the token never showing: reprs, errors of every status, connection
errors, OutcomeUnknownError, logs at DEBUG."""

from __future__ import annotations

import logging
import pickle
import traceback

import httpx
import pytest
from client_helpers import TOKEN, call

from ttai_notebook import _http
from ttai_notebook.client import AsyncClient, Client
from ttai_notebook.config import DEFAULT_BASE_URL, ClientConfig, Secret, resolve_base_url, resolve_token
from ttai_notebook.errors import APIConnectionError, APIError, AuthenticationError, TTAIError, ValidationError, redact


# -- configuration ------------------------------------------------------------------------------


def test_token_argument_beats_environment(monkeypatch):
    monkeypatch.setenv("TTAI_TOKEN", "from-env")
    assert resolve_token("from-arg").get_secret_value() == "from-arg"
    assert resolve_token(None).get_secret_value() == "from-env"
    monkeypatch.setenv("TTAI_TOKEN", "   ")
    assert resolve_token(None) is None
    monkeypatch.delenv("TTAI_TOKEN")
    assert resolve_token(None) is None
    assert resolve_token("  padded\n").get_secret_value() == "padded"


@pytest.mark.parametrize("token", ["two words", "line\nbreak", "tökén", "Bearer abc"])
def test_malformed_tokens_are_refused_without_echoing_them(token):
    with pytest.raises(ValidationError) as info:
        resolve_token(token)
    assert info.value.field == "token"
    assert token not in str(info.value)


def test_base_url_precedence(monkeypatch):
    monkeypatch.delenv("TTAI_BASE_URL", raising=False)
    assert resolve_base_url(None) == DEFAULT_BASE_URL == "https://api.toughtongueai.com/api/public"
    monkeypatch.setenv("TTAI_BASE_URL", "http://127.0.0.1:8765/api/public/")
    assert resolve_base_url(None) == "http://127.0.0.1:8765/api/public"
    assert resolve_base_url("https://eu.example.com/api/public") == "https://eu.example.com/api/public"


@pytest.mark.parametrize("url", ["", "ftp://x/api", "api.toughtongueai.com", 42])
def test_bad_base_url_is_refused(url):
    with pytest.raises(ValidationError) as info:
        resolve_base_url(url)
    assert info.value.field == "base_url"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": "30"}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 2.5}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"org_id": "  "}, "org_id"),
        ({"backoff_initial": 5, "backoff_max": 1}, "backoff_max"),
        ({"retry_after_cap": -1}, "retry_after_cap"),
        ({"app_url": "nope"}, "app_url"),
    ],
)
def test_bad_client_settings_are_refused(kwargs, field):
    with pytest.raises(ValidationError) as info:
        ClientConfig.build("tok", **kwargs)
    assert info.value.field == field


async def test_org_id_is_sent_as_x_tt_org(make_client, api):
    api.on("GET", "/balance", {"available_minutes": 1})
    client = make_client(org_id="org-7")
    await call(client.balance())
    request = api.requests[-1]
    assert request.headers["X-TT-ORG"] == "org-7"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"


async def test_no_token_fails_before_sending_and_says_how(make_client, api, monkeypatch):
    monkeypatch.delenv("TTAI_TOKEN", raising=False)
    client = make_client(token=None)
    assert client.has_token is False
    with pytest.raises(AuthenticationError) as info:
        await call(client.scenarios.list())
    assert api.requests == []
    message = str(info.value)
    assert "TTAI_TOKEN" in message and "token=" in message
    assert "tt.connect()" in message and "Client.sandbox()" in message
    assert info.value.status_code is None
    check = await call(client.test_token())  # the token check reports instead of raising
    assert check.valid is False and "TTAI_TOKEN" in check.message
    assert api.requests == []


async def test_absolute_urls_are_refused_so_the_token_stays_home(make_client, api):
    client = make_client()
    for target in ("https://evil.example/steal", "//evil.example/steal", "http:evil"):
        with pytest.raises(ValidationError, match="relative"):
            await call(client.request("GET", target))
    assert api.requests == []
    api.on("GET", "/thing", {"ok": 1})
    assert await call(client.request("GET", "/thing", params={"next": "https://x.example/"})) == {"ok": 1}


# -- the Secret ---------------------------------------------------------------------------------


def test_secret_never_shows_itself():
    secret = Secret(TOKEN)
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>40}", "%s" % secret):
        assert TOKEN not in text
    assert secret.get_secret_value() == TOKEN
    assert Secret(TOKEN) == Secret(TOKEN) and Secret(TOKEN) != Secret("other")
    assert bool(Secret("")) is False
    assert TOKEN not in repr(ClientConfig.build(TOKEN))
    assert TOKEN not in repr([secret, {"token": secret}])


@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_client_repr_and_vars_hide_the_token(cls):
    client = cls(token=TOKEN, transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    try:
        assert TOKEN not in repr(client)
        assert TOKEN not in repr(client.config)
        assert TOKEN not in str(vars(client))
        assert TOKEN not in repr(client.stats)
        assert TOKEN not in str(client._http.headers)  # the token is added per request, not kept in httpx
    finally:
        if cls is Client:
            client.close()


def test_redact():
    assert redact(f"token {TOKEN} here", [TOKEN]) == "token *** here"
    assert redact("Authorization: Bearer abc.def-ghi") == "Authorization: ***"
    assert redact("sent Bearer abc123, got 401") == "sent Bearer ***, got 401"
    assert redact("{'authorization': 'Bearer x'}") == "{'authorization': '***'}"


# -- errors never carry it ----------------------------------------------------------------------

ECHO_BODIES = [
    lambda: {"detail": f"Invalid token {TOKEN}"},
    lambda: {"error": f"Bearer {TOKEN} rejected", "details": {"header": f"Authorization: Bearer {TOKEN}"}},
    lambda: {"detail": [{"loc": ["header", "authorization"], "msg": f"bad value Bearer {TOKEN}"}]},
]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 422, 429, 500, 502, 503])
@pytest.mark.parametrize("body", ECHO_BODIES)
async def test_errors_of_every_status_never_contain_the_token(make_client, api, status, body):
    # even a server that echoes the token back does not get it into our messages
    api.on("GET", "/balance", (status, body()))
    api.on("POST", "/scenarios", (status, body()))
    client = make_client(max_retries=0)
    for attempt in (client.balance, lambda: client.scenarios.create(name="n", ai_instructions="i")):
        with pytest.raises(TTAIError) as info:
            await call(attempt())
        error = info.value
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error)
        assert TOKEN not in getattr(error, "message", "")
        assert "Bearer " + TOKEN not in str(error.args)


async def test_non_json_error_echoing_the_token_is_redacted(make_client, api):
    api.on("GET", "/balance", httpx.Response(502, text=f"<html>upstream said Bearer {TOKEN}</html>",
                                             headers={"content-type": "text/html"}))
    client = make_client(max_retries=0)
    with pytest.raises(APIError) as info:
        await call(client.balance())
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError, httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.UnsupportedProtocol],
)
async def test_connection_errors_never_contain_the_token(make_client, api, failure):
    def boom(request: httpx.Request) -> httpx.Response:
        raise failure(f"failed with headers {dict(request.headers)}", request=request)

    api.on("GET", "/balance", boom)
    api.on("POST", "/v2/sessions", boom)
    client = make_client(max_retries=1)
    for attempt in (client.balance, lambda: client.sessions.create("scn1")):
        with pytest.raises(TTAIError) as info:
            await call(attempt())
        assert isinstance(info.value, (APIConnectionError, APIError))
        assert TOKEN not in str(info.value)
        assert TOKEN not in repr(info.value)
        assert failure.__name__ in str(info.value)  # what happened is still said
        assert TOKEN not in "".join(traceback.format_exception(info.value))


async def test_logs_at_debug_never_contain_the_token(make_client, api, caplog):
    api.on("GET", "/balance", (429, {"detail": f"slow {TOKEN}"}, {"Retry-After": "1"}), httpx.ConnectError,
           {"available_minutes": 2})
    api.on("POST", "/scenarios", (500, {"detail": "x"}))
    api.on("PATCH", "/scenarios/abc", (405, {"detail": "Method Not Allowed"}))
    client = make_client()
    with caplog.at_level(logging.DEBUG):
        await call(client.balance())
        with pytest.raises(APIError):
            await call(client.scenarios.create(name="n", ai_instructions="i"))
        with pytest.raises(APIError):
            await call(client.scenarios.update("abc", name="x"))
    assert caplog.records, "expected debug logging"
    assert TOKEN not in caplog.text
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert "authorization" not in record.getMessage().lower()


def test_errors_are_picklable_enough_to_print():
    error = _http.error_from_response(httpx.Response(404, json={"detail": "Scenario not found"}))
    assert "Scenario not found" in str(error)
    clone = pickle.loads(pickle.dumps(ValidationError("x must be y", field="x")))
    assert str(clone) == "x must be y"
