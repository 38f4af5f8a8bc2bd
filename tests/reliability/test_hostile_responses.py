"""G6 hostile responses: truncated JSON, HTML error pages, wrong types, missing fields, a 10 MB transcript,
lying or looping pagination, and a server that stops answering mid-body. Each gives a clear error or is
parsed tolerantly; nothing hangs beyond the timeout; no widget crashes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import ttai_notebook as tt
from ttai_notebook import cards
from ttai_notebook.bulk import fetch_many

from ._rawserver import RawServer

BASE = "https://api.example.test/api/public"


def client_for(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> tt.Client:
    kw.setdefault("max_retries", 1)
    kw.setdefault("backoff_initial", 0.0)
    kw.setdefault("backoff_max", 0.0)
    return tt.Client(token="tt_test_token_hostile", base_url=BASE, transport=httpx.MockTransport(handler), **kw)


def always(status: int, body: bytes | str | Any, ctype: str = "application/json",
           headers: dict[str, str] | None = None) -> Callable[[httpx.Request], httpx.Response]:
    content = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"content-type": ctype, **(headers or {})})

    return handler


HTML_PAGE = ("<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>body{color:red}</style>"
             "<script>var x = 1;</script></head><body><h1>502 Bad Gateway</h1><hr>nginx/1.25</body></html>")

# (label, status, body, ctype, call, expected exception, words in the message)
ERROR_CASES = [
    ("truncated JSON, 200", 200, '{"id": "s1", "status": "compl', "application/json",
     lambda c: c.sessions.get("s1"), tt.APIError, ("expected JSON", "application/json")),
    ("truncated JSON, 500", 500, '{"detail": "boo', "application/json",
     lambda c: c.sessions.get("s1"), tt.ServerError, ("500", "non-JSON")),
    ("HTML error page, 502", 502, HTML_PAGE, "text/html", lambda c: c.balance(), tt.ServerError,
     ("502", "text/html", "Bad Gateway")),
    ("HTML page with 200 (captive portal)", 200, HTML_PAGE, "text/html", lambda c: c.scenarios.list(),
     tt.APIError, ("expected JSON", "text/html")),
    ("HTML error on a create", 503, HTML_PAGE, "text/html", lambda c: c.scenarios.create("n", "i"),
     tt.OutcomeUnknownError, ("outcome is unknown", "503")),
    ("empty 401", 401, "", "application/json", lambda c: c.balance(), tt.AuthenticationError, ("401",)),
    ("binary garbage 400", 400, b"\xff\xfe\x00\x01garbage\x9c", "application/octet-stream",
     lambda c: c.sessions.get("s1"), tt.BadRequestError, ("400", "non-JSON")),
    ("list route answers an object", 200, {"unexpected": True}, "application/json",
     lambda c: c.scenarios.list(), tt.APIError, ("unexpected", "scenarios")),
    ("sessions list answers a number", 200, 42, "application/json",
     lambda c: c.sessions.list().to_list(), tt.APIError, ("unexpected sessions list",)),
    ("access token without token", 200, {"expires_at": "x"}, "application/json",
     lambda c: c.scenarios.access_token("sc1"), tt.APIError, ("access_token",)),
    ("huge error message", 400, {"detail": "x" * 2_000_000}, "application/json",
     lambda c: c.sessions.get("s1"), tt.BadRequestError, ("400",)),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_bad_bodies_give_clear_errors(case, tally) -> None:
    label, status, body, ctype, call, expected, words = case
    with client_for(always(status, body, ctype)) as client:
        started = time.perf_counter()
        with pytest.raises(expected) as info:
            call(client)
        elapsed = time.perf_counter() - started
    text = str(info.value)
    for word in words:
        assert word in text, f"{label}: {word!r} not in {text[:300]!r}"
    assert "<script" not in text and "<style" not in text
    assert elapsed < 5
    tally("G6 hostile responses", bodies_tried=1, clear_errors=1)


def test_huge_error_message_is_cut_short() -> None:
    """A 2 MB ``detail`` must not become a 2 MB exception message (fixed in _http.error_from_response)."""
    with client_for(always(400, {"detail": "x" * 2_000_000})) as client:
        with pytest.raises(tt.BadRequestError) as info:
            client.sessions.get("s1")
    assert len(str(info.value)) < 10_000


# --------------------------------------------------------------------------------------------------
# 200 with wrong types / missing fields: parsed tolerantly, and every card and widget still renders
# --------------------------------------------------------------------------------------------------

WRONG_ANALYSES = [
    {"overall_score": "eighty", "strengths": "not a list", "improvements": 5},
    {"overall_score": None, "strengths": [None, 3, {"a": 1}], "improvements": [[]]},
    {"overall_score": float("inf")},
    {"overall_score": -40, "final_score": "NaN"},
    {"overall_score": 1e308, "report_card": "nope"},
    {"evaluation": "text instead of an object", "improvement": ["x"], "is_analyzing": "false"},
    {"evaluation": {"final_score": "7,4", "report_card": [{"topic": None, "score": "high"}, 5, None]}},
    {"evaluation": {"overall_score": "8/0", "strengths": {"nested": "dict"}}},
    {},
    [],
    "just a string",
]


@pytest.mark.parametrize("body", WRONG_ANALYSES, ids=range(len(WRONG_ANALYSES)))
def test_analyze_with_wrong_types_is_tolerant(body: Any, tally) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/sessions/analyze"):
            return httpx.Response(200, content=json.dumps(body, allow_nan=True).encode(),
                                  headers={"content-type": "application/json"})
        # the polling fallback (is_analyzing-looking answers) sees a finished, analysed session
        return httpx.Response(200, json={"id": "s1", "status": "completed",
                                         "evaluation_results": {"overall_score": 70}})

    with client_for(handler) as client:
        try:
            analysis = client.sessions.analyze("s1", wait_timeout=2, interval=0.01)
        except tt.APIError as exc:  # a clear error is acceptable; a crash is not
            assert "Traceback" not in str(exc)
            tally("G6 hostile responses", wrong_type_bodies=1, clear_errors=1)
            return
    assert analysis.score is None or 0 <= analysis.score <= 100
    assert all(isinstance(s, str) for s in analysis.strengths + analysis.improvements)
    html = cards.render_analysis(analysis)
    assert isinstance(html, str) and html
    tally("G6 hostile responses", wrong_type_bodies=1, parsed_tolerantly=1)


WRONG_SESSIONS = [
    {"id": 5, "status": ["x"], "created_at": "yesterday", "duration": "long", "metadata": "team=north",
     "finalized_transcript": {"not": "text"}, "evaluation_results": "bad", "user_email": 7},
    {"_id": "s2", "created_at": 1e20, "completed_at": -1, "duration": float("nan"), "metadata": [1, 2],
     "evaluation_results": {"overall_score": "eighty", "report_card": [{"score": {}}]}},
    {"session_id": "s3", "status": "ACTIVE", "duration_minutes": "12", "user_metadata": {"team": None}},
    {},
    {"id": None, "scenario_name": "<b>x</b>" * 1000},
]


@pytest.mark.parametrize("body", WRONG_SESSIONS, ids=range(len(WRONG_SESSIONS)))
def test_sessions_with_wrong_types_and_missing_fields(body: dict, tally) -> None:
    pd = pytest.importorskip("pandas")
    listing = {"sessions": [body, body, "not an object", None], "page_meta": {"has_next": False}}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/sessions"):
            return httpx.Response(200, content=json.dumps(listing, allow_nan=True).encode())
        return httpx.Response(200, content=json.dumps(body, allow_nan=True).encode())

    with client_for(handler) as client:
        one = client.sessions.get("s1")
        many = client.sessions.list().to_list()
    assert len(many) == 2  # non-objects are skipped, objects kept
    for session in (one, *many):
        assert session.score is None or 0 <= session.score <= 100
        assert isinstance(cards.render_session(session), str)
    frame = tt.sessions_frame(many)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 2
    tally("G6 hostile responses", wrong_type_sessions=1, parsed_tolerantly=1)


def test_ten_megabyte_transcript(figures) -> None:
    turn = "[00:01] User: " + "word " * 40 + "\n\n[00:02] AI: " + "reply " * 40 + "\n\n"
    transcript = turn * (10_000_000 // len(turn) + 1)
    body = {"id": "big", "status": "completed", "finalized_transcript": transcript,
            "evaluation_results": {"overall_score": 81, "strengths": ["Clear"], "improvements": ["Slower"]}}
    payload = json.dumps(body).encode()
    assert len(payload) > 10_000_000

    with client_for(always(200, payload)) as client:
        started = time.perf_counter()
        session = client.sessions.get("big")
        parse_s = time.perf_counter() - started
    assert session.transcript == transcript and session.score == 81
    started = time.perf_counter()
    html = cards.render_session(session)
    card_s = time.perf_counter() - started
    frame = tt.sessions_frame([session])
    assert frame.loc[0, "score"] == 81
    assert parse_s < 5 and card_s < 5
    figures("G6 hostile responses", transcript_mb=round(len(payload) / 1e6, 1), parse_s=round(parse_s, 2),
            card_s=round(card_s, 2), card_mb=round(len(html) / 1e6, 1))


def test_card_of_a_ten_megabyte_transcript_stays_small() -> None:
    session = tt.Session.from_api({"id": "big", "status": "completed", "finalized_transcript": "x " * 5_000_000})
    assert len(cards.render_session(session)) < 1_000_000


# --------------------------------------------------------------------------------------------------
# Pagination that lies or loops must end
# --------------------------------------------------------------------------------------------------


def test_lying_total_does_not_plan_billions_of_pages(figures) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page, limit = int(request.url.params["page"]), int(request.url.params["limit"])
        items = [{"id": f"p{page}-{i}"} for i in range(limit)] if page <= 3 else []
        return httpx.Response(200, json={"sessions": items, "page_meta": {
            "page": page, "limit": limit, "total": 10**12, "total_pages": 10**10, "has_next": page < 3}})

    with client_for(handler) as client:
        started = time.perf_counter()
        sessions = client.sessions.list(page_size=100).to_list()
        elapsed = time.perf_counter() - started
    assert len(sessions) == 300 and elapsed < 5
    figures("G6 hostile responses", lying_total=10**12, listed=len(sessions), list_s=round(elapsed, 2))


def test_service_ignoring_page_is_refused_not_looped() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params["limit"])
        return httpx.Response(200, json={"sessions": [{"id": f"s{i}"} for i in range(limit)],
                                         "page_meta": {"page": 1, "limit": limit, "has_next": True}})

    with client_for(handler) as client:
        started = time.perf_counter()
        with pytest.raises(tt.APIError, match="ignore the 'page' parameter"):
            client.sessions.list(page_size=50).to_list()
        assert len(client.sessions.list(page_size=50, max_items=50).to_list()) == 50
    assert time.perf_counter() - started < 5


# --------------------------------------------------------------------------------------------------
# A real socket that stops answering: bounded by the timeout
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("behaviour", ["stall_mid_body", "stall_before_headers", "close_mid_body"])
def test_server_that_stops_answering(behaviour: str, figures) -> None:
    timeout, retries = 0.5, 1
    with RawServer(behaviour) as server:  # type: ignore[arg-type]
        with tt.Client(token="tt_test", base_url=server.base_url, timeout=timeout, max_retries=retries,
                       backoff_initial=0.05, backoff_max=0.05) as client:
            started = time.perf_counter()
            with pytest.raises(tt.APIConnectionError) as info:
                client.sessions.get("s1")
            safe_s = time.perf_counter() - started
            started = time.perf_counter()
            with pytest.raises(tt.OutcomeUnknownError) as unknown:
                client.scenarios.create("n", "i")
            create_s = time.perf_counter() - started
    budget = timeout * (retries + 1) + 0.05 * retries + 1.0
    assert safe_s < budget and create_s < timeout + 1.0, (safe_s, create_s)
    if behaviour.startswith("stall"):
        assert isinstance(info.value, tt.APITimeoutError)
    assert server.requests == retries + 1 + 1  # the create was sent once, never repeated
    assert "outcome is unknown" in str(unknown.value)
    figures("G6 hostile responses", **{f"{behaviour}_s": round(safe_s, 2), f"{behaviour}_create_s": round(create_s, 2)})


async def test_async_client_and_bulk_on_a_stalled_server(figures) -> None:
    with RawServer("stall_mid_body") as server:
        async with tt.AsyncClient(token="tt_test", base_url=server.base_url, timeout=0.5, max_retries=0) as aclient:
            started = time.perf_counter()
            with pytest.raises(tt.APITimeoutError):
                await aclient.balance()
            assert time.perf_counter() - started < 2
        # fetch_many: analyses deliberately get at least 120 s per request (ANALYZE_TIMEOUT), reads get timeout=
        client = tt.Client(token="tt_test", base_url=server.base_url, timeout=0.5, max_retries=0)
        started = time.perf_counter()
        result = fetch_many(client, [f"s{i}" for i in range(6)], concurrency=3, batch_size=1, progress=False)
        bulk_s = time.perf_counter() - started
        client.close()
    assert len(result.failed) == 6 and all(isinstance(e, tt.APITimeoutError) for e in result.failed.values())
    # Bounded by the policy, never a hang: each item gets 1 + MAX_REQUEUES attempts of at most timeout= each, with
    # the engine's backoff (≤ 0.5·2^k s) between them; 6 items at concurrency 3 run in 2 rounds.
    from ttai_notebook.bulk import MAX_REQUEUES

    per_item = (MAX_REQUEUES + 1) * 0.5 + sum(min(8.0, 0.5 * 2**k) for k in range(1, MAX_REQUEUES + 1))
    assert bulk_s < 2 * per_item + 2.0
    figures("G6 hostile responses", stalled_bulk_items=6, stalled_bulk_s=round(bulk_s, 2))


async def _get_s1(kind: str, base_url: str, **options: Any) -> tuple[Any, float]:
    """``sessions.get("s1")`` with a sync or async client: (the session or the exception raised, seconds)."""
    started = time.perf_counter()
    try:
        if kind == "sync":
            with tt.Client(token="tt_test", base_url=base_url, max_retries=0, **options) as client:
                result: Any = client.sessions.get("s1")
        else:
            async with tt.AsyncClient(token="tt_test", base_url=base_url, max_retries=0, **options) as aclient:
                result = await aclient.sessions.get("s1")
    except tt.TTAIError as exc:
        result = exc
    return result, time.perf_counter() - started


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_body_arriving_in_pieces_within_the_timeout_is_unaffected(kind: str) -> None:
    with RawServer("in_time") as server:
        session, elapsed = await _get_s1(kind, server.base_url, timeout=1.0)
    assert isinstance(session, tt.Session) and session.status == "completed", session
    assert 0.15 < elapsed < 1.0, elapsed


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_client_without_a_timeout_is_not_cut(kind: str) -> None:
    # Client(timeout=None) is refused, but an httpx.Timeout(None) on the pool means "no limit": no deadline
    # either, so the trickle runs until the server hangs up (1.2 s) and fails as a broken body, not a timeout.
    started = time.perf_counter()
    with RawServer("trickle") as server:
        if kind == "sync":
            with tt.Client(token="tt_test", base_url=server.base_url, timeout=0.3, max_retries=0) as client:
                client._http.timeout = httpx.Timeout(None)
                with pytest.raises(tt.APIConnectionError) as info:
                    client.sessions.get("s1")
        else:
            async with tt.AsyncClient(token="tt_test", base_url=server.base_url, timeout=0.3, max_retries=0) as aclient:
                aclient._http.timeout = httpx.Timeout(None)
                with pytest.raises(tt.APIConnectionError) as info:
                    await aclient.sessions.get("s1")
    elapsed = time.perf_counter() - started
    assert not isinstance(info.value, tt.APITimeoutError), info.value
    assert "incomplete" in str(info.value) or "complete message body" in str(info.value), info.value
    assert elapsed > 1.0, elapsed


@pytest.mark.parametrize(
    ("mode", "timeout", "limit"),
    [
        ("trickle", 0.3, 0.9),  # the body one byte every 0.1 s: no single read ever waits 0.3 s
        ("head_trickle", 0.3, 0.9),  # the status line one byte every 0.1 s
        # headers at 0.4 s, then silence: the call ends near 0.5 s rather than a whole read timeout later
        ("late_head_stall", 0.5, 0.75),
    ],
)
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_slow_answers_are_cut_at_the_deadline(kind: str, mode: str, timeout: float, limit: float) -> None:
    with RawServer(mode) as server:  # type: ignore[arg-type]
        error, elapsed = await _get_s1(kind, server.base_url, timeout=timeout)
    assert isinstance(error, tt.APITimeoutError), error
    assert elapsed < limit, elapsed


# --------------------------------------------------------------------------------------------------
# Retry-After garbage
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-5", "nan", "inf", "1e308", "soon", "", "Wed, 21 Oct 2015 07:28:00 GMT",
                                   "99999999999", "0", "1.5.3"])
def test_retry_after_garbage_never_hangs(value: str, tally) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(429, json={"detail": "slow down"}, headers={"retry-after": value})

    slept: list[float] = []
    with client_for(handler, max_retries=2, sleep=slept.append, retry_after_cap=60) as client:
        with pytest.raises(tt.RateLimitError) as info:
            client.balance()
    assert all(0 <= s <= 60 for s in slept), slept
    assert len(calls) <= 3
    assert "slow down" in str(info.value)
    tally("G6 hostile responses", retry_after_values=1)


# --------------------------------------------------------------------------------------------------
# Widgets fed hostile answers show an error; they never raise
# --------------------------------------------------------------------------------------------------


def _hostile_api(request: httpx.Request) -> httpx.Response:
    path, method = request.url.path, request.method
    if method == "GET" and path.endswith("/scenarios"):
        return httpx.Response(200, json={"scenarios": [
            {"id": 5, "name": ["x"], "ai_instructions": {"a": 1}}, "junk", None,
            {"id": "sc1", "name": None, "is_public": "maybe"}]})
    if method == "POST" and path.endswith("/scenarios"):
        return httpx.Response(200, content=b'{"id": "new", "name": "trunc')
    if path.endswith("/test"):
        return httpx.Response(500, content=HTML_PAGE.encode(), headers={"content-type": "text/html"})
    if "/scenarios/" in path:
        return httpx.Response(200, content=HTML_PAGE.encode(), headers={"content-type": "text/html"})
    if path.endswith("/v2/sessions"):
        return httpx.Response(200, json={"session_id": None, "embed_url": "javascript:alert(1)"})
    return httpx.Response(503, content=HTML_PAGE.encode(), headers={"content-type": "text/html"})


def test_widgets_survive_hostile_responses(tally) -> None:
    from ttai_notebook.widgets import LoginWidget, PracticeLauncher, ScenarioBuilder, clear_current_client

    client = client_for(_hostile_api, max_retries=0)
    launcher = PracticeLauncher(client, threaded=False)
    options = getattr(launcher.scenario_picker, "options", ())
    launcher.email.value = "eve@example.com"
    launcher.start()  # the link is unusable: the launcher says so
    assert launcher.phase in ("error", "setup"), launcher.phase
    assert launcher.status.value

    builder = ScenarioBuilder(client, threaded=False)
    builder.set_fields(name="Cold call", ai_instructions="You are a buyer.")
    draft = dict(builder.draft)
    builder.submit()
    assert builder.draft == draft and builder.status_text

    login = LoginWidget(client_factory=lambda token: client_for(_hostile_api, max_retries=0), threaded=False)
    login.token_field.value = "tt_some_token_value_123456"
    assert not login.signed_in and login.message
    clear_current_client()
    client.close()
    tally("G6 hostile responses", widgets_fed_hostile_answers=3, scenario_options_shown=len(options))
