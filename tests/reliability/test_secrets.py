"""G4 secrets (client side): a full client workout logged at DEBUG, every exception path, and every embed URL
carry 0 occurrences of the API token. The token is unique per test, so a byte search finds any leak; a
fragment of it is searched too, so a truncated leak is found as well."""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any

import httpx
import pytest

import ttai_notebook as tt
from ttai_notebook.bulk import analyze_many, fetch_many
from ttai_notebook.sandbox import Sandbox
from ttai_notebook.sandbox.practice import complete_session

TRANSCRIPT = (
    "[00:00] AI: Dana speaking.\n\n"
    "[00:03] User: Hi Dana, this is Sam. The reason for my call is fuel costs. Do you have two minutes?\n\n"
    "[00:12] AI: It sounds expensive.\n\n"
    "[00:16] User: I understand. One customer cut fuel by 12% in 90 days. Could we meet on Tuesday at 10?"
)


def needles(token: str) -> list[str]:
    """The token, and an inner fragment of it (a leak may be truncated or wrapped)."""
    return [token, token[8:28]]


def leaks(text: str, token: str) -> int:
    return sum(text.count(n) for n in needles(token))


def exception_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for attr in ("message", "details", "request_id"):
        if hasattr(exc, attr):
            texts.append(str(getattr(exc, attr)))
    return texts


# --------------------------------------------------------------------------------------------------
# A full workout at DEBUG, on the served sandbox that requires exactly this token
# --------------------------------------------------------------------------------------------------


def test_debug_logs_of_a_full_workout_hold_no_token(fake_token, caplog, capfd, tmp_path, figures) -> None:
    caplog.set_level(logging.DEBUG)  # root: ttai_notebook, httpx, httpcore, asyncio, ...
    for name in ("ttai_notebook", "httpx", "httpcore", "hpack", "h11"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    box = Sandbox(seed=5, token=fake_token)
    errors: list[BaseException] = []
    calls = 0
    with box.serve() as server:
        with tt.Client(token=fake_token, base_url=server.base_url, backoff_initial=0.0, backoff_max=0.0,
                       retry_after_cap=2) as client:
            box.set_faults(retry_after=0)
            shown: list[str] = [repr(client), str(client.config), repr(client.config), repr(client.stats)]
            shown.append(repr(client.test_token()))
            shown.append(repr(client.balance()))
            scenarios = client.scenarios.list()
            shown += [repr(s) for s in scenarios]
            created = client.scenarios.create("Secret workout", "You are a buyer.", description="d")
            shown.append(repr(client.scenarios.get(created.id)))
            shown.append(repr(client.scenarios.update(created.id, name="Secret workout 2")))
            token_info = client.scenarios.access_token(created.id, valid_for_hours=1)
            shown.append(str(token_info))
            sessions = client.sessions.list(max_items=40, page_size=10).to_list()
            shown += [repr(s) for s in sessions[:5]]
            shown += [repr(s) for s in client.sessions.get_many([s.id for s in sessions[:15]])]
            link = client.sessions.create(created.id, user_email="eve@example.com", user_name="Eve",
                                          metadata={"team": "north"})
            shown += [repr(link), link.embed_url]
            shown.append(repr(complete_session(client, link.session_id, TRANSCRIPT)))
            shown.append(repr(client.sessions.wait(link.session_id, timeout=5, interval=0.1)))
            shown.append(repr(client.sessions.analyze(link.session_id)))
            shown.append(repr(client.sessions.analyze(link.session_id, force=True)))
            shown.append(str(client.request("GET", "/balance")))
            # faults: retried 429 / 5xx / drop on safe calls
            box.fail_next(429, route="GET /balance")
            box.fail_next(503, route="GET /scenarios")
            box.fail_next(drop=True, route="GET /sessions/{id}")
            client.balance()
            client.scenarios.list(cache=False)
            client.sessions.get(link.session_id)
            # errors reaching the caller
            box.fail_next(500, route="POST /scenarios")
            box.fail_next(drop=True, route="POST /v2/sessions")
            box.set_faults(retry_after=30)
            box.fail_next(429, route="GET /balance")
            for call in (
                lambda: client.scenarios.create("Unknown outcome", "x"),
                lambda: client.sessions.create(created.id, user_email="eve@example.com"),
                lambda: client.balance(),
                lambda: client.sessions.get("no-such-session"),
                lambda: client.sessions.analyze(sessions[0].id if sessions[0].status != "completed" else "nope"),
                lambda: client.scenarios.create("", "x"),
            ):
                try:
                    call()
                except tt.TTAIError as exc:
                    errors.append(exc)
            box.set_faults(retry_after=0)
            client.scenarios.delete(created.id)
            # bulk: both engines' transports (sharded HTTP pools) and the store
            done = [s.id for s in sessions if s.status == "completed"][:12]
            store = tt.Store(tmp_path / "secrets.sqlite")
            shown.append(repr(analyze_many(client, done, store=store, progress=False, concurrency=4)))
            shown.append(repr(fetch_many(client, done, store=store, progress=False, batch_size=5)))
            store.close()
            calls = client.stats.requests
        # a wrong token: rejected, with the server's words, never the token
        wrong = fake_token[::-1]
        with tt.Client(token=wrong, base_url=server.base_url) as other:
            check = other.test_token()
            assert check.valid is False
            shown.append(repr(check))
            try:
                other.balance()
            except tt.AuthenticationError as exc:
                errors.append(exc)

        async def async_workout() -> None:
            async with tt.AsyncClient(token=fake_token, base_url=server.base_url) as aclient:
                shown.append(repr(await aclient.balance()))
                shown.append(repr(await aclient.sessions.list(max_items=5).to_list()))
                try:
                    await aclient.scenarios.get("missing-scenario")
                except tt.NotFoundError as exc:
                    errors.append(exc)

        asyncio.run(async_workout())

    out, err = capfd.readouterr()
    log_text = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert len(caplog.records) > 50, "DEBUG logging should have produced a trail"
    assert len(errors) >= 7
    found = {
        "logs": leaks(log_text, fake_token),
        "stdout/stderr": leaks(out + err, fake_token),
        "reprs/urls": sum(leaks(t, fake_token) for t in shown),
        "errors": sum(leaks(t, fake_token) for e in errors for t in exception_texts(e)),
    }
    assert found == {k: 0 for k in found}, found
    # the workout really authenticated with the token (else it would prove little)
    assert box.counters.responses[200] > 30
    figures("G4 secrets", workout_requests=calls, log_records=len(caplog.records), errors_checked=len(errors),
            reprs_checked=len(shown), occurrences=sum(found.values()))


# --------------------------------------------------------------------------------------------------
# Every exception path: each status × body shape that echoes the token, transport failures, validation
# --------------------------------------------------------------------------------------------------

STATUSES = [400, 401, 403, 404, 405, 408, 409, 410, 413, 422, 429, 451, 500, 502, 503, 504]


def _bodies(token: str) -> dict[str, tuple[bytes, str]]:
    return {
        "documented": (f'{{"error": "bad token Bearer {token}", "details": {{"token": "{token}"}}}}'.encode(),
                       "application/json"),
        "fastapi": (f'{{"detail": "Authorization: Bearer {token} rejected"}}'.encode(), "application/json"),
        "422 list": (f'{{"detail": [{{"loc": ["header", "{token}"], "msg": "bad {token}", "type": "x"}}]}}'
                     .encode(), "application/json"),
        "html": (f"<html><title>Error {token}</title><body>token={token}</body></html>".encode(), "text/html"),
        "text": (f"upstream said: {token}".encode(), "text/plain"),
        "echo headers": (f'{{"message": "request headers: {{\'authorization\': \'Bearer {token}\'}}"}}'.encode(),
                         "application/json"),
    }


@pytest.mark.parametrize("status", STATUSES)
def test_error_statuses_never_show_the_token(status: int, fake_token: str, tally) -> None:
    checked = 0
    for shape, (body, ctype) in _bodies(fake_token).items():
        def handler(request: httpx.Request) -> httpx.Response:
            assert request.headers["authorization"] == f"Bearer {fake_token}"
            headers = {"content-type": ctype, "x-request-id": "req_1"}
            if status == 429:
                headers["retry-after"] = "3600"  # above the cap: raised at once
            return httpx.Response(status, content=body, headers=headers)

        with tt.Client(token=fake_token, base_url="https://api.example.test/api/public",
                       transport=httpx.MockTransport(handler), max_retries=1, backoff_initial=0.0,
                       backoff_max=0.0) as client:
            for call in (
                lambda: client.sessions.get("s1"),
                lambda: client.scenarios.create("n", "i"),  # a create: may be OutcomeUnknownError
                lambda: client.sessions.analyze("s1"),
                lambda: client.scenarios.delete("s1"),
                lambda: client.request("GET", "/balance"),
            ):
                with pytest.raises(tt.TTAIError) as info:
                    call()
                for text in exception_texts(info.value):
                    assert leaks(text, fake_token) == 0, (status, shape, type(info.value).__name__, text)
                checked += 1
    tally("G4 secrets", statuses=1, error_paths_checked=checked, occurrences=0)


def _raiser(exc_type: type[Exception], token: str):
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type(f"failed talking to https://user:{token}@proxy.example.test (Bearer {token})", request=request)

    return handler


TRANSPORT_FAILURES = [httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.WriteTimeout,
                      httpx.PoolTimeout, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError,
                      httpx.ProxyError, httpx.LocalProtocolError, httpx.UnsupportedProtocol]


@pytest.mark.parametrize("exc_type", TRANSPORT_FAILURES, ids=lambda t: t.__name__)
def test_transport_failures_never_show_the_token(exc_type, fake_token: str, tally) -> None:
    with tt.Client(token=fake_token, base_url="https://api.example.test/api/public",
                   transport=httpx.MockTransport(_raiser(exc_type, fake_token)), max_retries=1,
                   backoff_initial=0.0, backoff_max=0.0) as client:
        for call in (lambda: client.balance(), lambda: client.scenarios.create("n", "i"),
                     lambda: client.sessions.create("sc1", user_email="a@example.com")):
            with pytest.raises(tt.TTAIError) as info:
                call()
            assert isinstance(info.value, (tt.APIConnectionError, tt.OutcomeUnknownError)), repr(info.value)
            for text in exception_texts(info.value):
                assert leaks(text, fake_token) == 0, (exc_type.__name__, text)
    tally("G4 secrets", transport_failure_paths=3)


async def test_async_failures_never_show_the_token(fake_token: str) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/balance"):
            raise httpx.ReadTimeout(f"timeout, token {fake_token}", request=request)
        return httpx.Response(401, json={"detail": f"Invalid token {fake_token}"})

    async with tt.AsyncClient(token=fake_token, base_url="https://api.example.test/api/public",
                              transport=httpx.MockTransport(handler), max_retries=0) as client:
        for call in (client.balance, lambda: client.sessions.get("x")):
            with pytest.raises(tt.TTAIError) as info:
                await call()
            for text in exception_texts(info.value):
                assert leaks(text, fake_token) == 0, text
        check = await client.test_token()
        assert check.valid is False and leaks(repr(check) + str(check.message), fake_token) == 0


@pytest.mark.parametrize("bad", ["{t} ", " {t}\n", "Bearer {t}", "{t}\x00", "{t}é", "{t} {t}"])
def test_validation_of_the_token_never_echoes_it(bad: str, fake_token: str) -> None:
    token = bad.format(t=fake_token)
    try:
        client = tt.Client(token=token, base_url="https://api.example.test/api/public",
                           transport=httpx.MockTransport(lambda r: httpx.Response(200, json={})))
    except tt.ValidationError as exc:
        assert exc.field == "token"
        for text in exception_texts(exc):
            assert leaks(text, fake_token) == 0, text
    else:  # surrounding whitespace is trimmed: the client is fine and shows nothing
        assert leaks(repr(client) + repr(client.config), fake_token) == 0
        client.close()


def test_secret_and_config_never_show_the_token(fake_token: str) -> None:
    secret = tt.Secret(fake_token)
    texts = [repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s" % secret, format(secret, ">80")]
    client = tt.Client(token=fake_token, base_url="https://api.example.test/api/public",
                       transport=httpx.MockTransport(lambda r: httpx.Response(200, json={})))
    texts += [repr(client), repr(client.config), str(vars(client.config)), repr(client.stats)]
    assert all(leaks(t, fake_token) == 0 for t in texts), texts
    client.close()


# --------------------------------------------------------------------------------------------------
# Embed URLs
# --------------------------------------------------------------------------------------------------


def _vendor_like(token: str, *, spec_routes_only: bool) -> tt.Client:
    """A client that believes it talks to the real service (vendor app_url), served by a sandbox."""
    box = Sandbox(seed=9, token=token, spec_routes_only=spec_routes_only)
    client = tt.Client(token=token, base_url="https://api.toughtongueai.com/api/public",
                       transport=_rebase(box.transport()))
    client.sandbox_instance = None
    client._box = box  # type: ignore[attr-defined]
    return client


class _rebase(httpx.BaseTransport):
    """Serve requests for the vendor host with the sandbox (the client keeps the vendor's URLs)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="https", host="sandbox.ttai.invalid")
        return self.inner.handle_request(request)


@pytest.mark.parametrize("spec_routes_only", [False, True], ids=["v2-sessions", "scenario-embed-fallback"])
def test_embed_urls_never_carry_the_token(spec_routes_only: bool, fake_token: str, figures) -> None:
    client = _vendor_like(fake_token, spec_routes_only=spec_routes_only)
    scenario = client.scenarios.list()[0]
    urls = []
    for email, name in (("eve@example.com", "Eve"), (None, None), ("a+b@example.co.uk", "Ann <b>")):
        link = client.sessions.create(scenario.id, user_email=email, user_name=name, metadata=None)
        urls.append(link.embed_url)
        assert leaks(repr(link), fake_token) == 0
    info = client.scenarios.access_token(scenario.id, valid_for_hours=2)
    urls += [str(v) for v in info.values()]
    from ttai_notebook import _http

    urls.append(_http.scenario_embed_url(client.app_url, scenario.id, user_email="x@example.com", user_name="X"))
    assert all(u for u in urls[:3])
    assert all(leaks(u, fake_token) == 0 for u in urls), urls
    # the widget built on them keeps no token in its state either
    from ttai_notebook.widgets import EmbeddedSession

    states = [EmbeddedSession(u, client=client, threaded=False).get_state() for u in urls[:3]]
    assert all(leaks(str(s), fake_token) == 0 for s in states)
    client.close()
    figures("G4 secrets", **{f"embed_urls_{'fallback' if spec_routes_only else 'v2'}": len(urls)})


# --------------------------------------------------------------------------------------------------
# The sign-in widget: the token crosses into the kernel once and stays out of every widget state
# --------------------------------------------------------------------------------------------------


def _all_states(widget: Any) -> list[dict]:
    states = [widget.get_state()]
    for child in getattr(widget, "children", ()) or ():
        states += _all_states(child)
    return states


@pytest.mark.parametrize("right", [True, False], ids=["accepted", "rejected"])
def test_login_widget_keeps_no_token_in_state(right: bool, fake_token: str) -> None:
    from ttai_notebook.widgets import LoginWidget, clear_current_client

    box = Sandbox(seed=2, token=fake_token)
    with box.serve() as server:
        widget = LoginWidget(base_url=server.base_url, threaded=False)
        typed = fake_token if right else fake_token[::-1]
        widget.token_field.value = typed  # what the browser sends when the user presses Enter
        assert widget.signed_in is right
        texts = [repr(widget), widget.message, widget.status, json_dump(_all_states(widget))]
        if right:
            texts.append(repr(widget.client))
            assert widget.client.test_token().valid
            widget.client.close()
        clear_current_client()
    for needle in {typed, fake_token}:
        assert all(leaks(t, needle) == 0 for t in texts), texts
    assert widget.token_field.value == ""


def json_dump(value: Any) -> str:
    import json

    return json.dumps(value, default=str)
