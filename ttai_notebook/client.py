"""``Client`` and ``AsyncClient`` for the Tough Tongue AI public API, with resources ``scenarios`` and ``sessions``.

Each operation is written once, as a generator yielding the requests it needs; each client drives it with a few
lines of its own I/O. Decisions (retries, errors, validation, paging) live in ``_http`` and ``_pagination``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import sys
import random
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from . import _http
from ._deadline import asend_by_deadline, deadline_transport, send_by_deadline
from ._gc import gc_paused
from ._http import (
    RequestKind,
    RetryPolicy,
    check_email,
    check_flat_metadata,
    check_int,
    check_metadata,
    check_url,
    check_seconds,
    check_session_analysis,
    optional_bool,
    optional_text,
    path_id,
    require_id,
    require_text,
)
from ._pagination import Page, PagePlan, PageRequest, SessionQuery, check_paging, parse_page, prefetch_workers
from .config import NO_TOKEN_MESSAGE, ClientConfig, Secret
from .errors import (
    APIError,
    AuthenticationError,
    NotFoundError,
    NotSupportedError,
    PermissionDeniedError,
    RateLimitError,
    OutcomeUnknownError,
    ServerError,
    ValidationError,
    WaitTimeoutError,
)
from .models import Analysis, Analytics, Balance, Organization, Scenario, Session, SessionLink, TokenCheck

__all__ = ["Client", "AsyncClient", "ClientStats", "SessionIterator", "AsyncSessionIterator", "connect"]

logger = logging.getLogger("ttai_notebook")

#: The analyse call runs the evaluation in the foreground (5–30 s, sometimes more): give it room.
ANALYZE_TIMEOUT = 120.0
#: At most this many session ids per ``GET /v2/sessions/batch`` request.
BATCH_SIZE = 100
#: Concurrent single gets when the batch route is missing.
FALLBACK_CONCURRENCY = 8
#: How long ``wait()`` tolerates 404 at the start (a session may need 1–2 s after ``onStop`` to appear).
NOT_FOUND_GRACE = 10.0

_FINAL_STATUSES = frozenset({"completed", "terminated", "archived", "failed", "cancelled"})
_SANDBOX_ORIGIN = "https://sandbox.ttai.invalid"
_SANDBOX_SERVER = "ttai-sandbox"  # the Server header of Sandbox.serve()
_CLIENT_OPTIONS = frozenset(
    {"timeout", "max_retries", "org_id", "retry_after_cap", "backoff_initial", "backoff_max", "cache_ttl", "sleep"}
)

# --------------------------------------------------------------------------------------------------
# Health counters and the scenario cache
# --------------------------------------------------------------------------------------------------


class ClientStats:
    """What a client has done so far: requests sent, retries, waits, errors by status.

    Errors are keyed by HTTP status (``429``) or by transport failure name (``"ConnectError"``); retried
    failures count too, so a run that finally succeeded still shows the trouble it met.

    Examples
    --------
    >>> client.stats  # doctest: +SKIP
    ClientStats(requests=14, retries=2, waits=2 (1.37 s), errors={429: 1, 'ReadTimeout': 1})
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self.requests = 0
            self.retries = 0
            self.waits = 0
            self.wait_seconds = 0.0
            self.errors: Counter[int | str] = Counter()

    def _count_request(self) -> None:
        with self._lock:
            self.requests += 1

    def _count_error(self, key: int | str) -> None:
        with self._lock:
            self.errors[key] += 1

    def _count_retry(self, wait: float) -> None:
        with self._lock:
            self.retries += 1
            self.waits += 1
            self.wait_seconds += wait

    def as_dict(self) -> dict[str, Any]:
        """The counters as a plain dict (errors keyed by status or failure name)."""
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "waits": self.waits,
                "wait_seconds": round(self.wait_seconds, 3),
                "errors": dict(self.errors),
            }

    def __repr__(self) -> str:
        d = self.as_dict()
        return (
            f"ClientStats(requests={d['requests']}, retries={d['retries']}, "
            f"waits={d['waits']} ({d['wait_seconds']:.2f} s), errors={d['errors']})"
        )


class _TTLCache:
    """A tiny thread-safe cache whose entries expire ``ttl`` seconds after they were stored."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self.ttl = ttl
        self._clock = clock
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            if self._clock() - hit[0] >= self.ttl:
                del self._data[key]
                return None
            return hit[1]

    def set(self, key: Any, value: Any) -> None:
        if self.ttl > 0:
            with self._lock:
                self._data[key] = (self._clock(), value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


# --------------------------------------------------------------------------------------------------
# Steps an operation yields
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    json: Any = None
    params: Any = None
    timeout: float | None = None
    max_retries: int | None = None
    scoped: bool = True  # carries X-TT-ORG (listing the organisations themselves must not)
    with_date: bool = False  # answer (body, the response's Date header as an aware datetime or None)


@dataclass(frozen=True)
class _Sleep:
    seconds: float


@dataclass(frozen=True)
class _Gather:
    """Several calls at once (bounded); the result is a list of values or exceptions, in order."""

    calls: tuple[_Call, ...]
    concurrency: int = FALLBACK_CONCURRENCY


_Op = Generator["_Call | _Sleep | _Gather", Any, Any]


@dataclass
class _Attempt:
    call: _Call
    kind: RequestKind
    max_retries: int
    retries: int = 0


@dataclass(frozen=True)
class _Done:
    value: Any


# --------------------------------------------------------------------------------------------------
# The shared, I/O-free core of both clients
# --------------------------------------------------------------------------------------------------


def _user_agent() -> str:
    try:
        from importlib.metadata import version

        return f"ttai-notebook/{version('ttai-notebook')}"
    except Exception:  # not installed (running from a checkout)
        return "ttai-notebook"


class _Core:
    """Settings, counters, cache and the per-attempt decisions shared by ``Client`` and ``AsyncClient``."""

    def __init__(self, config: ClientConfig, *, rng: random.Random | None = None) -> None:
        self.config = config
        self.policy = RetryPolicy(
            max_retries=config.max_retries,
            backoff_initial=config.backoff_initial,
            backoff_max=config.backoff_max,
            retry_after_cap=config.retry_after_cap,
        )
        self.stats = ClientStats()
        self.clock: Callable[[], float] = time.monotonic
        self.cache = _TTLCache(config.cache_ttl, lambda: self.clock())
        self.missing_routes: set[str] = set()
        self.rng = rng or random.Random()
        self.user_agent = _user_agent()
        # Set once a response comes from ``Sandbox.serve()`` (it signs ``Server: ttai-sandbox``): a client
        # pointed at the served sandbox through TTAI_BASE_URL is a sandbox client too.
        self.served_sandbox = False
        # ``org_id`` may be an id, a slug or a name: resolved to the id on the first scoped request.
        self.org: Organization | None = None
        self.org_header: str | None = None
        self.org_pending = config.org_id is not None

    def resolve_org(self, body: Any | None) -> None:
        """Pick the organisation ``org_id`` names from a ``GET /v2/organizations`` answer (None: route absent)."""
        key = self.config.org_id
        assert key is not None
        if body is None:  # a service without the organisations route: X-TT-ORG as given (the brief's way)
            self.org_header, self.org_pending = key, False
            return
        items = body if isinstance(body, list) else (_http.list_items(body, "organizations") or [])
        orgs = [Organization.from_api(item) for item in items if isinstance(item, Mapping)]
        exact = [o for o in orgs if o.id == key.strip()]
        found = exact or [o for o in orgs if o.matches(key)]
        if len(found) != 1:
            known = "; ".join(f"{o.name!r} (slug {o.slug!r}, id {o.id}, role {o.role})" for o in orgs) or "none"
            problem = "matches several organisations" if found else "is not an organisation this token belongs to"
            raise ValidationError(
                f"org_id {key!r} {problem}. Give an id, slug or name from client.organizations.list(): {known}",
                field="org_id",
            )
        self.org, self.org_header, self.org_pending = found[0], found[0].id, False

    @property
    def secrets(self) -> tuple[str, ...]:
        token = self.config.token
        return (token.get_secret_value(),) if token else ()

    def mark_missing(self, route: str, error: APIError) -> None:
        if route not in self.missing_routes:
            logger.info(
                "this service has no %s route (%s %s); using the fallback from now on",
                route,
                error.status_code,
                error.message,
            )
        self.missing_routes.add(route)

    # -- building -------------------------------------------------------------------------------

    def begin(self, call: _Call) -> _Attempt:
        """Check the call can be sent at all (a token is set, the path is relative)."""
        if self.config.token is None:
            raise AuthenticationError(NO_TOKEN_MESSAGE)
        target = urlsplit(call.path) if isinstance(call.path, str) else None
        if target is None or target.scheme or target.netloc:
            # An absolute URL would carry the token to another host.
            raise ValidationError(
                f"path must be relative to the base URL (e.g. '/scenarios'), got {call.path!r}", field="path"
            )
        max_retries = self.policy.max_retries if call.max_retries is None else call.max_retries
        check_int(max_retries, "max_retries", 0, 20)
        return _Attempt(call=call, kind=_http.classify_request(call.method, call.path, call.json), max_retries=max_retries)

    def request_args(self, call: _Call) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client.build_request`` (the only place the token is read)."""
        assert self.config.token is not None
        headers = {
            "Authorization": f"Bearer {self.config.token.get_secret_value()}",
            "Accept": "application/json",
            "User-Agent": self.user_agent,
        }
        if call.scoped and self.org_header:
            headers["X-TT-ORG"] = self.org_header
        args: dict[str, Any] = {"method": call.method, "url": call.path, "headers": headers}
        if call.params:
            args["params"] = call.params
        if call.json is not None:
            args["json"] = call.json
        if call.timeout is not None:
            args["timeout"] = call.timeout
        return args

    # -- deciding -------------------------------------------------------------------------------

    def after_response(self, attempt: _Attempt, response: httpx.Response) -> _Done | float:
        """The decoded body, or the seconds to wait before retrying; raises the error otherwise."""
        status = response.status_code
        if not self.served_sandbox and response.headers.get("server") == _SANDBOX_SERVER:
            self.served_sandbox = True
        if 200 <= status < 300:
            body = _http.decode_json(response, secrets=self.secrets)
            return _Done((body, _http.parse_http_date(response.headers.get("date"))) if attempt.call.with_date else body)
        self.stats._count_error(status)
        error = _http.error_from_response(response, secrets=self.secrets)
        call = attempt.call
        verdict = _http.decide(attempt.kind, status=status)
        if verdict == "unknown":
            logger.debug("%s %s: %s on a create; outcome unknown, not retried", call.method, call.path, status)
            raise _http.outcome_unknown_error(call.method, call.path, call.json, error=error, secrets=self.secrets)
        if verdict == "retry":
            retry_after = _http.parse_retry_after(response.headers) if status in (429, 503) else None
            if retry_after is not None and retry_after > self.policy.retry_after_cap:
                raise self._wait_too_long(error, retry_after)
            if attempt.retries < attempt.max_retries:
                reason = f"{status} {error.reason or ''}".rstrip()
                if retry_after is not None:
                    reason += f" (Retry-After {retry_after:g} s)"
                return self._schedule(attempt, reason, retry_after)
            logger.debug("%s %s: %s, giving up after %d retries", call.method, call.path, status, attempt.retries)
        raise error

    def after_exception(self, attempt: _Attempt, exc: Exception) -> float:
        """The seconds to wait before retrying after a transport failure; raises the error otherwise."""
        name = type(exc).__name__
        self.stats._count_error(name)
        call = attempt.call
        verdict = _http.decide(attempt.kind, exc=exc)
        if verdict == "retry" and attempt.retries < attempt.max_retries:
            return self._schedule(attempt, name, None)
        if verdict == "unknown":
            logger.debug("%s %s: %s on a create; outcome unknown, not retried", call.method, call.path, name)
            # "from None": the transport's own text stays out of tracebacks (ours is redacted and says
            # what happened); the original remains reachable as __context__ for debugging.
            raise _http.outcome_unknown_error(call.method, call.path, call.json, exc=exc, secrets=self.secrets) from None
        raise _http.error_from_exception(
            exc, call.method, call.path, secrets=self.secrets, retries=attempt.retries
        ) from None

    def _schedule(self, attempt: _Attempt, reason: str, retry_after: float | None) -> float:
        wait = _http.retry_wait(self.policy, attempt.retries, retry_after, rng=self.rng)
        attempt.retries += 1
        self.stats._count_retry(wait)
        logger.debug(
            "%s %s: %s; retry %d/%d in %.2f s",
            attempt.call.method,
            attempt.call.path,
            reason,
            attempt.retries,
            attempt.max_retries,
            wait,
        )
        return wait

    def _wait_too_long(self, error: APIError, retry_after: float) -> APIError:
        cap = self.policy.retry_after_cap
        message = (
            f"{error.message} — the service asked to wait {retry_after:.0f} s before retrying, more than "
            f"retry_after_cap ({cap:g} s), so this call stops here instead of sleeping. Try again in "
            f"{retry_after:.0f} s, or create the client with a larger retry_after_cap."
        )
        logger.debug("Retry-After %.0f s exceeds the cap of %g s; raising", retry_after, cap)
        kwargs = {
            "status_code": error.status_code,
            "details": error.details,
            "request_id": error.request_id,
            "response": error.response,
            "reason": error.reason,
        }
        if isinstance(error, RateLimitError):
            return RateLimitError(message, retry_after=retry_after, **kwargs)
        return ServerError(message, **kwargs)


# --------------------------------------------------------------------------------------------------
# Operations, written once (generators of steps)
# --------------------------------------------------------------------------------------------------

_SCENARIO_TEXT_REQUIRED = ("name", "ai_instructions")
#: Longest scenario name accepted: it is a title (lists, cards, the practice page); 100 kB is a paste mistake.
MAX_NAME_LENGTH = 500
_SCENARIO_TEXT_OPTIONAL = ("description", "user_friendly_description")
_SCENARIO_BOOLS = ("is_public", "is_recording")


def _scenario_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validated scenario fields to send; None values are left out (the service's value stays)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "id":
            raise ValidationError(
                "id cannot be set as a field: use client.scenarios.update(id, ...) to change a scenario",
                field="id",
            )
        if value is None:
            continue
        if key in _SCENARIO_TEXT_REQUIRED:
            out[key] = require_text(value, key)
            if key == "name" and len(value) > MAX_NAME_LENGTH:
                raise ValidationError(
                    f"name must be at most {MAX_NAME_LENGTH} characters (it is the title trainees see), got "
                    f"{len(value)} characters; put longer text in description or ai_instructions",
                    field="name",
                )
        elif key in _SCENARIO_TEXT_OPTIONAL:
            out[key] = optional_text(value, key)
        elif key in _SCENARIO_BOOLS:
            out[key] = optional_bool(value, key)
        elif key == "session_analysis":
            out[key] = check_session_analysis(value)
        else:
            # Fields the spec knows and this toolkit does not model (user_instructions, appearance, ...).
            out[key] = check_metadata({key: value}, key)[key]  # type: ignore[index]
    return out


def _scenario_from(body: Any, sent: Mapping[str, Any], scenario_id: str | None = None) -> Scenario:
    """A Scenario from a create/update answer, completed by what was sent (some answers are partial)."""
    data = body if isinstance(body, Mapping) else {}
    if "id" not in data and "_id" not in data and isinstance(data.get("scenario"), Mapping):
        data = data["scenario"]
    merged = {**sent, **data}
    if scenario_id and not any(merged.get(k) for k in ("id", "_id", "scenario_id")):
        merged["id"] = scenario_id
    return Scenario.from_api(merged)


def _sessions_from(items: Iterable[Any]) -> list[Session]:
    with gc_paused():  # a page of models: thousands of small acyclic objects
        return [Session.from_api(item) for item in items if isinstance(item, Mapping)]


@dataclass
class _Leg:
    """One request stream of a listing: a route, its parameters, its page plan."""

    route: Literal["v2", "v1"]
    params: dict[str, str]
    plan: PagePlan
    local: bool  # the route cannot apply every filter: the rest is checked here

    @property
    def path(self) -> str:
        return "/v2/sessions" if self.route == "v2" else "/sessions"


class _Listing:
    """The I/O-free side of ``sessions.list``: route per leg (v2, else v1), local filtering, merging, limits.

    The iterators below only fetch pages; this decides what to ask and what to yield.
    """

    def __init__(self, core: _Core, query: SessionQuery, page_size: int, max_items: int | None) -> None:
        self.core = core
        self.query = query
        self.page_size = page_size
        self.remaining = max_items
        self.plans: list[PagePlan] = []
        self.server_time: dt.datetime | None = None
        # Several addresses are listed separately; a session seen under one is not yielded twice.
        self.seen: set[str] | None = set() if len(query.legs) > 1 else None

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    def leg(self, email: str | None) -> _Leg:
        query = self.query
        if "sessions.list_v2" not in self.core.missing_routes:
            route: Literal["v2", "v1"] = "v2"
            params, local = query.v2_params(email), False
        else:
            route, params, local = "v1", query.v1_params(email), query.v1_needs_local_filter
            if query.is_org and "sessions.list_v1_is_org" not in self.core.missing_routes:
                self.core.missing_routes.add("sessions.list_v1_is_org")
                logger.info("is_org=True: the v1 session list has no such filter; the org scope is X-TT-ORG alone")
        plan = PagePlan(self.page_size, None if local else self.remaining)
        self.plans.append(plan)
        return _Leg(route, params, plan, local)

    def call(self, leg: _Leg, request: PageRequest, timeout: float | None, max_retries: int | None) -> _Call:
        params = {**leg.params, "page": request.page, "limit": request.limit}
        # The first page's Date header is the service's clock when the listing began (see server_time).
        first = request.page == 1 and self.server_time is None
        return _Call("GET", leg.path, params=params, timeout=timeout, max_retries=max_retries, with_date=first)

    def page(self, call: _Call, answer: Any) -> Page:
        if call.with_date:
            answer, date = answer
            if self.server_time is None:
                self.server_time = date
        return parse_page(answer)

    def falls_back(self, leg: _Leg, error: APIError) -> bool:
        """True when the v2 list route is absent here (404/405 for the route): use v1 from now on."""
        if leg.route != "v2" or not _http.route_missing(error):
            return False
        self.core.mark_missing("sessions.list_v2", error)
        return True

    def keep(self, leg: _Leg, items: list[Any]) -> tuple[list[Session], bool]:
        """(sessions to yield, stop?) for a page's items."""
        sessions = _sessions_from(items)
        if leg.local:
            query = self.query
            sessions = [s for s in sessions if query.matches(s.created_at, s.user_metadata or s.metadata)]
        if self.seen is not None:
            fresh = []
            for s in sessions:
                if s.id not in self.seen:
                    self.seen.add(s.id)
                    fresh.append(s)
            sessions = fresh
        if self.remaining is not None:
            sessions = sessions[: self.remaining]
            self.remaining -= len(sessions)
        return sessions, self.exhausted

    @property
    def pages(self) -> int:
        return sum(plan.pages for plan in self.plans)

    @property
    def yielded(self) -> int:
        return sum(plan.yielded for plan in self.plans)


def _check_overrides(timeout: Any, max_retries: Any) -> None:
    check_seconds(timeout, "timeout", allow_none=True)
    if max_retries is not None:
        check_int(max_retries, "max_retries", 0, 20)


class _ClientOps:
    _core: _Core

    def _test_token_op(self) -> _Op:
        if self._core.config.token is None:
            return TokenCheck(valid=False, message=NO_TOKEN_MESSAGE)
        try:
            body = yield _Call("POST", "/test", json={"input": "check"})
        except (AuthenticationError, PermissionDeniedError) as exc:
            return TokenCheck(valid=False, message=exc.message, raw={"status_code": exc.status_code})
        return TokenCheck.from_api(body)

    def _balance_op(self) -> _Op:
        body = yield _Call("GET", "/balance")
        return Balance.from_api(body)

    def _organizations_op(self) -> _Op:
        try:
            body = yield _Call("GET", "/v2/organizations", scoped=False)
        except APIError as exc:
            if not _http.route_missing(exc):
                raise
            self._core.mark_missing("organizations", exc)
            raise NotSupportedError(
                "This service has no organisations route (GET /v2/organizations). Scope calls with "
                "Client(org_id=<organisation id>), which is sent as X-TT-ORG.",
                status_code=exc.status_code, request_id=exc.request_id, response=exc.response, reason=exc.reason,
            ) from None
        items = body if isinstance(body, list) else _http.list_items(body, "organizations")
        if items is None:
            raise APIError(f"unexpected organisations response: {type(body).__name__}")
        return [Organization.from_api(item) for item in items if isinstance(item, Mapping)]

    def _analytics_op(self, org_wide: Any, start: Any, end: Any) -> _Op:
        optional_bool(org_wide, "org_wide")
        params: dict[str, str] = {"is_org_wide": "true" if org_wide else "false"}
        bounds = SessionQuery.build(from_date=start, to_date=end)  # the same date rules as sessions.list
        if bounds.created_from is not None:
            params["start_date"] = bounds.created_from[1].isoformat()
        if bounds.created_to is not None:
            params["end_date"] = bounds.created_to[1].isoformat()
        try:
            body = yield _Call("GET", "/v2/analytics", params=params)
        except APIError as exc:
            if not _http.route_missing(exc):
                raise
            self._core.mark_missing("analytics", exc)
            raise NotSupportedError(
                "This service has no analytics route (GET /v2/analytics); build the figures from "
                "client.sessions.list() with tt.sessions_frame() and tt.summary() instead.",
                status_code=exc.status_code, request_id=exc.request_id, response=exc.response, reason=exc.reason,
            ) from None
        return Analytics.from_api(body)


class _ScenarioOps:
    _core: _Core

    def _list_op(self, search: Any, cache: bool, timeout: Any, max_retries: Any) -> _Op:
        optional_text(search, "search")
        optional_bool(cache, "cache")
        _check_overrides(timeout, max_retries)
        key = ("list", search or None)
        if cache:
            hit = self._core.cache.get(key)
            if hit is not None:
                return list(hit)
        params = {"search": search} if search else None
        body = yield _Call("GET", "/scenarios", params=params, timeout=timeout, max_retries=max_retries)
        items = _http.list_items(body, "scenarios")
        if items is None:
            raise APIError(f"unexpected scenarios list response: {type(body).__name__}")
        scenarios = [Scenario.from_api(item) for item in items if isinstance(item, Mapping)]
        self._core.cache.set(key, tuple(scenarios))
        return scenarios

    def _get_op(self, scenario_id: Any, cache: bool, timeout: Any, max_retries: Any) -> _Op:
        sid = require_id(scenario_id, "scenario_id")
        optional_bool(cache, "cache")
        _check_overrides(timeout, max_retries)
        key = ("get", sid)
        if cache:
            hit = self._core.cache.get(key)
            if hit is not None:
                return hit
        body = yield _Call("GET", f"/scenarios/{path_id(sid)}", timeout=timeout, max_retries=max_retries)
        data = body.get("scenario") if isinstance(body, Mapping) and isinstance(body.get("scenario"), Mapping) else body
        scenario = Scenario.from_api(data)
        self._core.cache.set(key, scenario)
        return scenario

    def _create_op(self, fields: dict[str, Any], timeout: Any, max_retries: Any) -> _Op:
        require_text(fields.get("name"), "name")
        require_text(fields.get("ai_instructions"), "ai_instructions")
        payload = _scenario_fields(fields)
        _check_overrides(timeout, max_retries)
        self._core.cache.clear()
        body = yield _Call("POST", "/scenarios", json=payload, timeout=timeout, max_retries=max_retries)
        self._core.cache.clear()
        return _scenario_from(body, payload)

    def _update_op(self, scenario_id: Any, fields: dict[str, Any], timeout: Any, max_retries: Any) -> _Op:
        sid = require_id(scenario_id, "scenario_id")
        payload = _scenario_fields(fields)
        if not payload:
            raise ValidationError(
                "update needs at least one field to change, e.g. update(id, name='New name') "
                "(None values are not sent)",
                field="fields",
            )
        _check_overrides(timeout, max_retries)
        core = self._core
        core.cache.clear()
        try:
            if "scenarios.update" not in core.missing_routes:
                try:
                    body = yield _Call(
                        "PATCH", f"/scenarios/{path_id(sid)}", json=payload, timeout=timeout, max_retries=max_retries
                    )
                except APIError as exc:
                    if not _http.route_missing(exc, sid):
                        raise
                    core.mark_missing("scenarios.update", exc)
                else:
                    return _scenario_from(body, payload, sid)
            # The spec's way: POST /scenarios with the id updates that scenario (an idempotent upsert).
            body = yield _Call(
                "POST", "/scenarios", json={"id": sid, **payload}, timeout=timeout, max_retries=max_retries
            )
            return _scenario_from(body, payload, sid)
        finally:
            core.cache.clear()

    def _delete_op(self, scenario_id: Any, timeout: Any, max_retries: Any) -> _Op:
        sid = require_id(scenario_id, "scenario_id")
        _check_overrides(timeout, max_retries)
        core = self._core
        unsupported = (
            "This service does not support deleting scenarios through the API (DELETE /scenarios/{id} is "
            "not a route it serves). Delete it in the Tough Tongue AI app, or hide it with "
            "client.scenarios.update(id, is_public=False)."
        )
        if "scenarios.delete" in core.missing_routes:
            raise NotSupportedError(unsupported)
        core.cache.clear()
        try:
            yield _Call("DELETE", f"/scenarios/{path_id(sid)}", timeout=timeout, max_retries=max_retries)
        except APIError as exc:
            if not _http.route_missing(exc, sid):
                raise
            core.mark_missing("scenarios.delete", exc)
            raise NotSupportedError(
                unsupported,
                status_code=exc.status_code,
                details=exc.details,
                request_id=exc.request_id,
                response=exc.response,
                reason=exc.reason,
            ) from None
        finally:
            core.cache.clear()
        return None

    def _access_token_op(self, scenario_id: Any, valid_for_hours: Any, timeout: Any, max_retries: Any) -> _Op:
        sid = require_id(scenario_id, "scenario_id")
        hours = check_int(valid_for_hours, "valid_for_hours", 1, 24)
        _check_overrides(timeout, max_retries)
        body = yield _Call(
            "POST",
            "/scenario-access-token",
            json={"scenario_id": sid, "valid_for_hours": hours},
            timeout=timeout,
            max_retries=max_retries,
        )
        if not isinstance(body, Mapping) or not body.get("access_token"):
            raise APIError("unexpected scenario-access-token response: no access_token in it")
        return dict(body)


class _SessionOps:
    _core: _Core

    def _get_op(self, session_id: Any, timeout: Any, max_retries: Any) -> _Op:
        sid = require_id(session_id, "session_id")
        _check_overrides(timeout, max_retries)
        body = yield _Call("GET", f"/sessions/{path_id(sid)}", timeout=timeout, max_retries=max_retries)
        data = body.get("session") if isinstance(body, Mapping) and isinstance(body.get("session"), Mapping) else body
        return Session.from_api(data)

    def _get_many_op(self, session_ids: Any, timeout: Any, max_retries: Any) -> _Op:
        if isinstance(session_ids, str) or not isinstance(session_ids, Iterable):
            raise ValidationError(
                f"session_ids must be a list of session ids, got {type(session_ids).__name__}", field="session_ids"
            )
        ids = list(dict.fromkeys(require_id(i, "session_ids[]") for i in session_ids))
        _check_overrides(timeout, max_retries)
        core = self._core
        found: dict[str, Session] = {}
        use_batch = "sessions.batch" not in core.missing_routes
        if use_batch and ids:
            try:
                for start in range(0, len(ids), BATCH_SIZE):
                    chunk = ids[start : start + BATCH_SIZE]
                    body = yield _Call(
                        "GET",
                        "/v2/sessions/batch",
                        params=[("session_ids", i) for i in chunk],
                        timeout=timeout,
                        max_retries=max_retries,
                    )
                    items = _http.list_items(body, "sessions")
                    if items is None:
                        raise APIError(f"unexpected sessions batch response: {type(body).__name__}")
                    for session in _sessions_from(items):
                        found[session.id] = session
            except APIError as exc:
                # A batch route never 404s for unknown ids (it returns fewer), so any 404/405 is the route.
                if exc.status_code not in (404, 405):
                    raise
                core.mark_missing("sessions.batch", exc)
                use_batch = False
        if not use_batch:
            todo = [i for i in ids if i not in found]
            results = yield _Gather(
                tuple(
                    _Call("GET", f"/sessions/{path_id(i)}", timeout=timeout, max_retries=max_retries) for i in todo
                )
            )
            for i, result in zip(todo, results):
                if isinstance(result, NotFoundError):
                    continue
                if isinstance(result, BaseException):
                    raise result
                found[i] = Session.from_api(result)
        missing = [i for i in ids if i not in found]
        if missing:
            logger.warning(
                "%d of %d session ids were not found (first: %s)", len(missing), len(ids), ", ".join(missing[:3])
            )
        return [found[i] for i in ids if i in found]

    def _create_op(
        self, scenario_id: Any, user_email: Any, user_name: Any, metadata: Any, timeout: Any, max_retries: Any
    ) -> _Op:
        sid = require_id(scenario_id, "scenario_id")
        payload: dict[str, Any] = {"scenario_id": sid}
        if user_email is not None:
            payload["user_email"] = check_email(user_email, "user_email")
        if user_name is not None:
            payload["user_name"] = require_text(user_name, "user_name").strip()
        meta = check_metadata(metadata)
        if meta is not None:
            payload["metadata"] = meta
        _check_overrides(timeout, max_retries)
        core = self._core
        if "sessions.create" not in core.missing_routes:
            try:
                body = yield _Call("POST", "/v2/sessions", json=payload, timeout=timeout, max_retries=max_retries)
            except APIError as exc:
                if not _http.route_missing(exc, sid):
                    raise
                core.mark_missing("sessions.create", exc)
            else:
                link = SessionLink.from_api(body)
                if not link.embed_url and link.session_id:
                    link = SessionLink(
                        session_id=link.session_id,
                        embed_url=f"{core.config.app_url}/embed/session/{path_id(link.session_id)}",
                        raw=link.raw,
                    )
                return link
        if meta:
            logger.warning(
                "this service cannot pre-create sessions, so metadata %s is not attached; the session is "
                "created when the iframe starts (its id arrives with onStart)",
                sorted(meta),
            )
        url = _http.scenario_embed_url(
            core.config.app_url, sid, user_email=payload.get("user_email"), user_name=payload.get("user_name")
        )
        return SessionLink(session_id=None, embed_url=url)

    def _post_process_op(
        self, session_id: Any, run_analysis: Any, run_extraction: Any, timeout: Any, max_retries: Any
    ) -> _Op:
        sid = require_id(session_id, "session_id")
        for name, flag in (("run_analysis", run_analysis), ("run_extraction", run_extraction)):
            if not isinstance(flag, bool):
                raise ValidationError(f"{name} must be True or False, got {flag!r}", field=name)
        if not (run_analysis or run_extraction):
            raise ValidationError("post_process needs run_analysis=True or run_extraction=True", field="run_analysis")
        _check_overrides(timeout, max_retries)
        core = self._core
        unsupported = (
            "This service has no POST /v2/sessions/{id}/post-process route: analyse with "
            "client.sessions.analyze(id), which then uses POST /sessions/analyze."
        )
        if "sessions.post_process" in core.missing_routes:
            raise NotSupportedError(unsupported)
        try:
            # A charging request: the core retries it only after a 429 or a failure before sending, and turns
            # a 5xx or a lost response into OutcomeUnknownError (the run may have started).
            yield _Call(
                "POST",
                f"/v2/sessions/{path_id(sid)}/post-process",
                json={"run_analysis": run_analysis, "run_extraction": run_extraction},
                timeout=timeout,
                max_retries=max_retries,
            )
        except APIError as exc:
            if not _http.route_missing(exc, sid):
                raise
            core.mark_missing("sessions.post_process", exc)
            raise NotSupportedError(
                unsupported, status_code=exc.status_code, request_id=exc.request_id, response=exc.response,
                reason=exc.reason,
            ) from None
        return None

    def _analyze_op(
        self, session_id: Any, force: Any, timeout: Any, max_retries: Any, wait_timeout: Any, interval: Any
    ) -> _Op:
        sid = require_id(session_id, "session_id")
        if not isinstance(force, bool):
            raise ValidationError(f"force must be True or False, got {force!r}", field="force")
        _check_overrides(timeout, max_retries)
        check_seconds(wait_timeout, "wait_timeout")
        check_seconds(interval, "interval")
        core = self._core
        if "sessions.post_process" not in core.missing_routes:
            before = yield from self._get_op(sid, timeout, max_retries)
            if before.is_analyzed and not force:
                assert before.analysis is not None
                return before.analysis  # already analysed: nothing is triggered, nothing charged
            try:
                yield from self._post_process_op(sid, True, False, timeout, max_retries)
            except NotSupportedError:
                pass  # the brief's service: analyse through v1 below
            except OutcomeUnknownError as exc:
                if before.is_analyzed:
                    # A forced re-run whose request was lost: old and new results cannot be told apart, so
                    # triggering again could charge twice. Say so instead.
                    raise
                # The session had no results: results that appear now can only come from that request.
                try:
                    session = yield from self._wait_op(sid, "analyzed", wait_timeout, interval)
                except WaitTimeoutError:
                    raise exc from None
                assert session.analysis is not None
                return session.analysis
            else:
                session = yield from self._wait_op(sid, "analyzed", wait_timeout, interval, before=before)
                assert session.analysis is not None
                return session.analysis
        # The brief's synchronous analyse.
        body: dict[str, Any] = {"session_id": sid}
        if force:
            body["force"] = True  # only when asked: a forced analysis runs (and is charged) again
        call_timeout = timeout if timeout is not None else max(core.config.timeout, ANALYZE_TIMEOUT)
        result = yield _Call("POST", "/sessions/analyze", json=body, timeout=call_timeout, max_retries=max_retries)
        analysis = Analysis.from_api(result, session_id=sid)
        if analysis.is_analyzing or (result is None):
            session = yield from self._wait_op(sid, "analyzed", wait_timeout, interval)
            assert session.analysis is not None
            return session.analysis
        return analysis

    def _wait_op(
        self, session_id: Any, until: Any, timeout: Any, interval: Any, before: Session | None = None
    ) -> _Op:
        sid = require_id(session_id, "session_id")
        if until not in ("completed", "analyzed"):
            raise ValidationError(f"until must be 'completed' or 'analyzed', got {until!r}", field="until")
        limit = check_seconds(timeout, "timeout")
        pause = check_seconds(interval, "interval")
        assert limit is not None and pause is not None
        clock = self._core.clock
        started, slept = clock(), 0.0
        last: Session | None = None
        while True:
            try:
                body = yield _Call("GET", f"/sessions/{path_id(sid)}")
            except NotFoundError:
                # Right after onStop a session can take a moment to appear; an id that stays unknown is a typo.
                if last is not None or max(clock() - started, slept) >= min(limit, NOT_FOUND_GRACE):
                    raise
            else:
                last = Session.from_api(body)
                if until == "completed" and last.status in _FINAL_STATUSES:
                    return last
                if until == "analyzed" and has_new_results(last, before):
                    return last
            elapsed = max(clock() - started, slept)
            if elapsed >= limit:
                state = f"status {last.status!r}" if last is not None else "never found"
                hint = (
                    "Analysis usually takes 5–30 s." if until == "analyzed" else "Is the practice session still running?"
                )
                raise WaitTimeoutError(
                    f"session {sid} was not {until} after {limit:g} s ({state}). {hint} "
                    f"Call client.sessions.wait({sid!r}, until={until!r}) again, or check client.sessions.get().",
                    session=last,
                )
            step = min(pause, limit - elapsed)
            slept += step
            yield _Sleep(step)

    def _import_op(
        self, scenario_id: Any, transcript: Any, recording_url: Any, user_email: Any, user_name: Any,
        metadata: Any, user_metadata: Any, timeout: Any, max_retries: Any,
    ) -> _Op:
        sid = require_id(scenario_id, "scenario_id")
        if (transcript is None) == (recording_url is None):
            raise ValidationError(
                "import_transcript needs exactly one of transcript= (the conversation as text) or "
                "recording_url= (an https link to the audio or video)",
                field="transcript",
            )
        payload: dict[str, Any] = {"scenario_id": sid}
        if transcript is not None:
            payload["transcript"] = require_text(transcript, "transcript")
        else:
            payload["recording_url"] = check_url(recording_url, "recording_url")
        if user_email is not None:
            payload["user_email"] = check_email(user_email, "user_email")
        if user_name is not None:
            payload["user_name"] = require_text(user_name, "user_name").strip()
        meta = check_metadata(metadata)
        if meta is not None:
            payload["metadata"] = meta
        flat = check_flat_metadata(user_metadata, "user_metadata")
        if flat is not None:
            payload["user_metadata"] = flat
        _check_overrides(timeout, max_retries)
        try:
            body = yield _Call("POST", "/v2/session", json=payload, timeout=timeout, max_retries=max_retries)
        except APIError as exc:
            if not _http.route_missing(exc, sid):
                raise
            self._core.mark_missing("sessions.import", exc)
            raise NotSupportedError(
                "This service cannot import finished sessions (it has no POST /v2/session route).",
                status_code=exc.status_code, request_id=exc.request_id, response=exc.response, reason=exc.reason,
            ) from None
        data = body if isinstance(body, Mapping) else {}
        if not _http.first_text(data, "session_id", "id", "_id"):
            raise APIError("unexpected import response: no session_id in it")
        # The answer names the new session; the rest is what was sent (the service stores it as given).
        return Session.from_api({
            "status": "completed",
            "finalized_transcript": payload.get("transcript"),
            **{k: v for k, v in payload.items() if k != "transcript"},
            **data,
        })


def has_new_results(session: Session, before: Session | None) -> bool:
    """True when ``session`` carries analysis results that ``before`` (the state before a trigger) did not.

    A re-run overwrites results, so "new" means: none before, or ``updated_at`` moved on, or different results.
    """
    if not session.is_analyzed:
        return False
    if before is None or not before.is_analyzed:
        return True
    if session.updated_at is not None and before.updated_at is not None and session.updated_at > before.updated_at:
        return True
    assert session.analysis is not None and before.analysis is not None
    return session.analysis.raw != before.analysis.raw


# --------------------------------------------------------------------------------------------------
# Shared client plumbing
# --------------------------------------------------------------------------------------------------


class _ClientBase(_ClientOps):
    _core: _Core
    sandbox_instance: Any

    def _setup(
        self,
        token: str | Secret | None,
        base_url: str | None,
        *,
        timeout: float,
        max_retries: int,
        org_id: str | None,
        app_url: str | None,
        retry_after_cap: float,
        backoff_initial: float,
        backoff_max: float,
        cache_ttl: float,
    ) -> ClientConfig:
        config = ClientConfig.build(
            token,
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            org_id=org_id,
            app_url=app_url,
            retry_after_cap=retry_after_cap,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            cache_ttl=cache_ttl,
        )
        self._core = _Core(config)
        self.sandbox_instance = None
        return config

    @classmethod
    def sandbox(cls, seed: int = 0, **sandbox_options: Any) -> Any:
        """A client on an in-process sandbox: no network, no token, a seeded demo organisation.

        Parameters
        ----------
        seed : int
            Seed of the demo data (the same seed gives the same organisation).
        **sandbox_options
            Passed to :class:`ttai_notebook.sandbox.Sandbox` (``dialect``, ``sessions``, faults, ...);
            client options (``timeout``, ``max_retries``, ``org_id``, ``retry_after_cap``,
            ``backoff_initial``, ``backoff_max``, ``cache_ttl``, ``sleep``) go to the client.

        Examples
        --------
        >>> client = Client.sandbox(seed=0)  # doctest: +SKIP
        >>> client.is_sandbox  # doctest: +SKIP
        True
        """
        from .sandbox import SANDBOX_ORIGIN, Sandbox  # lazy: the sandbox is only loaded when used

        client_options = {k: sandbox_options.pop(k) for k in list(sandbox_options) if k in _CLIENT_OPTIONS}
        box = Sandbox(seed=seed, **sandbox_options)
        token = sandbox_options.get("token") or "sandbox"
        client = cls(
            token=token, base_url=box.base_url, transport=box.transport(), app_url=SANDBOX_ORIGIN, **client_options
        )
        client.sandbox_instance = box
        return client

    # -- read-only views ------------------------------------------------------------------------

    @property
    def stats(self) -> ClientStats:
        """Counters of requests, retries, waits and errors by status (see :class:`ClientStats`)."""
        return self._core.stats

    @property
    def config(self) -> ClientConfig:
        """The resolved settings (the token inside is a :class:`~ttai_notebook.config.Secret`)."""
        return self._core.config

    @property
    def base_url(self) -> str:
        """The API base URL this client talks to."""
        return self._core.config.base_url

    @property
    def app_url(self) -> str:
        """The origin used for embed URLs."""
        return self._core.config.app_url

    @property
    def org_id(self) -> str | None:
        """The organisation sent as ``X-TT-ORG``, if any."""
        return self._core.config.org_id

    @property
    def has_token(self) -> bool:
        """True when a token is set (the token itself is never exposed)."""
        return self._core.config.token is not None

    @property
    def is_sandbox(self) -> bool:
        """True when this client talks to the offline sandbox (in-process, or served: known after its first answer)."""
        return (
            self.sandbox_instance is not None
            or self.base_url.startswith(_SANDBOX_ORIGIN)
            or self._core.served_sandbox
        )

    @property
    def missing_routes(self) -> frozenset[str]:
        """Routes this service turned out not to have, each answered by its fallback from then on.

        E.g. ``"sessions.list_v2"`` (listing through the brief's ``GET /sessions``),
        ``"sessions.post_process"`` (analysing through ``POST /sessions/analyze``), ``"scenarios.update"``.
        """
        return frozenset(self._core.missing_routes)

    def clear_cache(self) -> None:
        """Forget cached scenario reads."""
        self._core.cache.clear()

    def __repr__(self) -> str:
        kind = "sandbox" if self.is_sandbox else "service"
        token = "set" if self.has_token else "missing"
        return f"<{type(self).__name__} {kind} base_url={self.base_url!r} token={token}>"

    def _http_options(self, transport: Any) -> dict[str, Any]:
        return {
            "base_url": self._core.config.base_url,
            "timeout": httpx.Timeout(self._core.config.timeout),
            "transport": transport,
            "follow_redirects": False,
        }


def _call_for_request(
    method: Any, path: Any, json: Any, params: Any, timeout: Any, max_retries: Any
) -> _Call:
    if not isinstance(method, str) or not method.strip().isalpha():
        raise ValidationError(f"method must be an HTTP method such as 'GET', got {method!r}", field="method")
    if not isinstance(path, str) or not path.strip():
        raise ValidationError(f"path must be a non-empty string such as '/scenarios', got {path!r}", field="path")
    _check_overrides(timeout, max_retries)
    return _Call(method.strip().upper(), path, json=json, params=params, timeout=timeout, max_retries=max_retries)


# --------------------------------------------------------------------------------------------------
# Sync client
# --------------------------------------------------------------------------------------------------


class Organizations(_ClientOps):
    """``client.organizations``: the organisations this token's user belongs to (``GET /v2/organizations``)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._core = client._core

    def list(self) -> list[Organization]:
        """Every organisation with the user's role in it; pass one's ``id``, ``slug`` or ``name`` as ``org_id``.

        Raises :class:`NotSupportedError` on a service without the route (use ``org_id=<id>`` directly).

        Examples
        --------
        >>> client = Client.sandbox()
        >>> [o.role for o in client.organizations.list()]  # doctest: +SKIP
        ['admin', 'view']
        """
        return self._client._drive(self._organizations_op())


class AsyncOrganizations(_ClientOps):
    """``async_client.organizations``: see :class:`Organizations`."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._core = client._core

    async def list(self) -> list[Organization]:
        """See :meth:`Organizations.list`."""
        return await self._client._drive(self._organizations_op())


class Scenarios(_ScenarioOps):
    """``client.scenarios``: list, create, get, update, delete scenarios; mint access tokens."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._core = client._core

    def list(
        self, search: str | None = None, *, cache: bool = True, timeout: float | None = None, max_retries: int | None = None
    ) -> list[Scenario]:
        """The scenarios this token can see.

        Parameters
        ----------
        search : str, optional
            Case-insensitive match on name and description (done by the service).
        cache : bool
            Use a cached answer younger than the client's ``cache_ttl`` (default 300 s); False fetches.
        timeout, max_retries : optional
            Per-call overrides of the client's settings.
        """
        return self._client._drive(self._list_op(search, cache, timeout, max_retries))

    def get(
        self, scenario_id: str, *, cache: bool = True, timeout: float | None = None, max_retries: int | None = None
    ) -> Scenario:
        """One scenario by id (cached like :meth:`list`); :class:`NotFoundError` if unknown."""
        return self._client._drive(self._get_op(scenario_id, cache, timeout, max_retries))

    def create(
        self,
        name: str,
        ai_instructions: str,
        *,
        description: str | None = None,
        user_friendly_description: str | None = None,
        is_public: bool | None = None,
        is_recording: bool | None = None,
        session_analysis: dict[str, Any] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        **extra: Any,
    ) -> Scenario:
        """Create a scenario; only the fields given are sent (None = the service's default applies).

        Parameters
        ----------
        name, ai_instructions : str
            Required, not blank.
        description, user_friendly_description : str, optional
        is_public, is_recording : bool, optional
            The service defaults to public and not recording.
        session_analysis : dict, optional
            ``{"admin_email": str, "is_auto_analysis": bool, "is_auto_submit": bool}``.
        **extra
            Other spec fields (e.g. ``user_instructions``), sent as given.

        Raises
        ------
        ValidationError
            Before sending, for a blank name, a non-bool flag, and so on.
        OutcomeUnknownError
            After a 5xx or a lost connection: the scenario may exist; the message says how to check.
        """
        fields = dict(
            name=name,
            ai_instructions=ai_instructions,
            description=description,
            user_friendly_description=user_friendly_description,
            is_public=is_public,
            is_recording=is_recording,
            session_analysis=session_analysis,
            **extra,
        )
        return self._client._drive(self._create_op(fields, timeout, max_retries))

    def update(
        self, scenario_id: str, *, timeout: float | None = None, max_retries: int | None = None, **fields: Any
    ) -> Scenario:
        """Change some fields of a scenario (``PATCH``; through ``POST /scenarios`` with the id where the
        service lacks ``PATCH``). None values are not sent."""
        return self._client._drive(self._update_op(scenario_id, fields, timeout, max_retries))

    def delete(self, scenario_id: str, *, timeout: float | None = None, max_retries: int | None = None) -> None:
        """Delete a scenario; :class:`NotSupportedError` where the service has no delete route."""
        return self._client._drive(self._delete_op(scenario_id, timeout, max_retries))

    def access_token(
        self,
        scenario_id: str,
        valid_for_hours: int = 1,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> dict[str, Any]:
        """A short-lived token to embed a private scenario: ``{"access_token", "expires_at", "iframe_src"}``.

        It is not the API token; it goes into the embed URL as ``scenarioAccessToken`` (1–24 hours).
        """
        return self._client._drive(self._access_token_op(scenario_id, valid_for_hours, timeout, max_retries))


class Sessions(_SessionOps):
    """``client.sessions``: list, get, create (an embeddable link), analyse and wait for sessions."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._core = client._core

    def list(
        self,
        *,
        scenario_id: str | None = None,
        user_email: str | Iterable[str] | None = None,
        from_date: Any = None,
        to_date: Any = None,
        updated_since: Any = None,
        metadata: Mapping[str, Any] | None = None,
        is_org: bool = False,
        page_size: int = 100,
        max_items: int | None = None,
        prefetch: bool | int = True,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> SessionIterator:
        """Sessions, newest first, pages fetched only as you iterate.

        Lists through ``GET /v2/sessions``; only where that route is absent (a service as the brief
        describes it) through ``GET /sessions``, applying there whatever filter it lacks on this side.

        Parameters
        ----------
        scenario_id : str, optional
        user_email : str or list of str, optional
            One address or several (one listing each, merged; a session is yielded once).
        from_date, to_date : date, datetime or ISO string, optional
            When the session was **created** (inclusive; a date-only ``to_date`` is the whole day). Sent
            as ``$gte_created_at`` / ``$lte_created_at``: the service's own ``from_date`` / ``to_date``
            filter ``updated_at`` instead. Naive datetimes are UTC.
        updated_since : date, datetime or ISO string, optional
            Only sessions changed (``updated_at``) at or after this instant: what an incremental sync asks
            (see :meth:`ttai_notebook.Store.sync`).
        metadata : dict, optional
            Filters on the sessions' ``user_metadata``: ``{"team": "North"}`` (exact, sent as
            ``meta_team=North``) or ``{"level": {"$gte": 3}}`` (``$gt``, ``$gte``, ``$lt``, ``$lte``).
        is_org : bool
            Organisation-wide listing (needs an admin role in the organisation chosen by ``org_id``).
        page_size : int
            Items per request, 1–500 (default 100).
        max_items : int, optional
            Stop after this many; never requests more than it needs.
        prefetch : bool or int
            Once the first page tells the total, fetch up to 4 (or this many) next pages concurrently,
            still yielding in order. False fetches one page at a time.

        Returns
        -------
        SessionIterator
            Iterate it (``for s in ...``) or call ``.to_list()``.

        Examples
        --------
        >>> client = Client.sandbox()
        >>> north = client.sessions.list(metadata={"team": "North"}, max_items=3).to_list()
        >>> [s.user_metadata["team"] for s in north]
        ['North', 'North', 'North']
        """
        query = SessionQuery.build(
            scenario_id=scenario_id, user_email=user_email, from_date=from_date, to_date=to_date,
            updated_since=updated_since, metadata=metadata, is_org=is_org,
        )
        size, limit = check_paging(page_size, max_items)
        workers = prefetch_workers(prefetch)
        _check_overrides(timeout, max_retries)
        return SessionIterator(self._client, _Listing(self._core, query, size, limit), workers, timeout, max_retries)

    def get(self, session_id: str, *, timeout: float | None = None, max_retries: int | None = None) -> Session:
        """One session with its transcript and analysis (if any); :class:`NotFoundError` if unknown."""
        return self._client._drive(self._get_op(session_id, timeout, max_retries))

    def get_many(
        self, session_ids: Iterable[str], *, timeout: float | None = None, max_retries: int | None = None
    ) -> list[Session]:
        """Many sessions by id, in the order asked (duplicates once; unknown ids left out, with a warning).

        Uses ``GET /v2/sessions/batch`` (100 ids per request); where the service lacks it, concurrent
        single gets.
        """
        return self._client._drive(self._get_many_op(session_ids, timeout, max_retries))

    def create(
        self,
        scenario_id: str,
        *,
        user_email: str | None = None,
        user_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> SessionLink:
        """A session to embed: ``SessionLink(session_id, embed_url)``.

        Where the service cannot pre-create sessions, the link is the scenario's embed URL and
        ``session_id`` is None (the id arrives with the iframe's ``onStart``; ``metadata`` is dropped).
        """
        return self._client._drive(
            self._create_op(scenario_id, user_email, user_name, metadata, timeout, max_retries)
        )

    def analyze(
        self,
        session_id: str,
        *,
        force: bool = False,
        timeout: float | None = None,
        max_retries: int | None = None,
        wait_timeout: float = 120.0,
        interval: float = 2.0,
    ) -> Analysis:
        """Analyse a finished session (or get its stored analysis) as an :class:`Analysis` (score 0–100).

        As the service works today (API.md §6): a session that already has results is returned as it is, with
        nothing charged (unless ``force=True``); otherwise the analysis is started in the background
        (``POST /v2/sessions/{id}/post-process``, charged once) and the session is polled every ``interval``
        seconds until results appear (at most ``wait_timeout``). Where the service lacks post-process, the
        brief's synchronous ``POST /sessions/analyze`` is used (its request gets at least 120 s unless
        ``timeout`` is given).

        A lost trigger response is never answered by triggering again: the session is polled, and results that
        appear for a session that had none are the run that was asked for. For a forced re-run, whose old and
        new results cannot be told apart, :class:`OutcomeUnknownError` says so instead.
        """
        return self._client._drive(
            self._analyze_op(session_id, force, timeout, max_retries, wait_timeout, interval)
        )

    def wait(
        self,
        session_id: str,
        *,
        until: Literal["completed", "analyzed"] = "completed",
        timeout: float = 120,
        interval: float = 2,
    ) -> Session:
        """Poll a session until it has finished (``"completed"``: any final status) or has analysis results.

        Raises :class:`WaitTimeoutError` after ``timeout`` seconds (its ``.session`` is the last state seen).
        """
        return self._client._drive(self._wait_op(session_id, until, timeout, interval))

    def post_process(
        self,
        session_id: str,
        *,
        run_analysis: bool = True,
        run_extraction: bool = False,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None:
        """Start the service's background processing of a finished session (``POST /v2/sessions/{id}/post-process``).

        It returns at once; results appear on :meth:`get` 5–30 s later (use :meth:`wait` with
        ``until="analyzed"``, or :meth:`analyze`, which does all of it). **Every call runs and is charged
        again**, so it is retried only when the request provably did not arrive (429, connection refused).

        Raises
        ------
        NotSupportedError
            The service has no such route (a service as the brief describes it): use :meth:`analyze`.
        OutcomeUnknownError
            A 5xx or a lost response: the run may have started. Poll before triggering again.
        BadRequestError
            The session is not completed.
        """
        return self._client._drive(
            self._post_process_op(session_id, run_analysis, run_extraction, timeout, max_retries)
        )

    def import_transcript(
        self,
        scenario_id: str,
        *,
        transcript: str | None = None,
        recording_url: str | None = None,
        user_email: str | None = None,
        user_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        user_metadata: dict[str, str | int | float | bool] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Session:
        """Add a finished conversation (a transcript, or a recording to transcribe) as a completed session.

        ``POST /v2/session``; the service analyses it in the background (and charges for it), so the returned
        :class:`Session` has no analysis yet: ``client.sessions.wait(s.id, until="analyzed")``. It creates
        something, so it is never retried blindly: after a 5xx or a lost response an
        :class:`OutcomeUnknownError` says how to check. ``user_metadata`` (flat values) can be filtered on
        later with ``sessions.list(metadata=...)``; ``metadata`` is free-form.

        Examples
        --------
        >>> client = Client.sandbox()
        >>> sid = client.scenarios.list()[0].id
        >>> s = client.sessions.import_transcript(sid, transcript="[00:00] AI: Hello\\n\\n[00:02] User: Hi")
        >>> s.status
        'completed'
        """
        return self._client._drive(self._import_op(
            scenario_id, transcript, recording_url, user_email, user_name, metadata, user_metadata, timeout,
            max_retries,
        ))

    def analyze_many(
        self,
        ids: Iterable[str | Session],
        *,
        concurrency: int = 8,
        rate_limit: float | None = None,
        store: Any = None,
        progress: Any = True,
        skip_analyzed: bool = True,
        force: bool = False,
        wait_timeout: float = 120.0,
        poll_interval: float | None = None,
    ) -> Any:
        """Analyse many sessions at once; a :class:`~ttai_notebook.bulk.BulkResult`.

        See :func:`ttai_notebook.bulk.analyze_many` (concurrency, rate limit, store, progress, resume,
        background analysis polled in batches).
        """
        from .bulk import analyze_many  # lazy: the bulk engine loads on first use

        return analyze_many(
            self._client, ids, concurrency=concurrency, rate_limit=rate_limit, store=store,
            progress=progress, skip_analyzed=skip_analyzed, force=force, wait_timeout=wait_timeout,
            poll_interval=poll_interval,
        )


class SessionIterator(Iterator[Session]):
    """The lazy result of ``client.sessions.list()``: pages are fetched as you iterate.

    ``.close()`` stops early (pending prefetches are cancelled); ``.to_list()`` collects the rest.
    """

    def __init__(
        self, client: Client, listing: _Listing, workers: int, timeout: float | None, max_retries: int | None
    ) -> None:
        self._client = client
        self._listing = listing
        self._workers = workers
        self._timeout = timeout
        self._max_retries = max_retries
        self._gen = self._run()

    def __iter__(self) -> SessionIterator:
        return self

    def __next__(self) -> Session:
        return next(self._gen)

    def close(self) -> None:
        """Stop: no further pages are requested."""
        self._gen.close()

    def to_list(self) -> list[Session]:
        """All remaining sessions as a list."""
        # No user code runs until this returns, so the cyclic GC can rest for the whole listing: otherwise the
        # pages decoded in the prefetch threads trigger full collections that walk every model built so far
        # (~15 % of the client CPU of a 20 000-session listing; the models hold no cycles).
        with gc_paused():
            return list(self)

    def __enter__(self) -> SessionIterator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def pages_fetched(self) -> int:
        """Pages received so far."""
        return self._listing.pages

    @property
    def server_time(self) -> dt.datetime | None:
        """The service's clock when the listing began (its first answer's ``Date`` header), or None.

        Session lists carry no ``updated_at``, so an incremental sync takes its next ``updated_since`` from
        here (minus a small overlap): the service's clock, not this machine's.
        """
        return self._listing.server_time

    def __repr__(self) -> str:
        listing = self._listing
        return f"<SessionIterator filters={listing.query.describe()} yielded={listing.yielded} pages={listing.pages}>"

    def _fetch(self, leg: _Leg, request: PageRequest) -> Any:
        call = self._listing.call(leg, request, self._timeout, self._max_retries)
        return self._listing.page(call, self._client._send(call))

    def _run(self) -> Iterator[Session]:
        listing = self._listing
        for email in listing.query.legs:
            if listing.exhausted:
                return
            leg = listing.leg(email)
            request = leg.plan.next_request()
            if request is None:
                return
            try:
                first = self._fetch(leg, request)
            except APIError as exc:
                if not listing.falls_back(leg, exc):
                    raise
                leg = listing.leg(email)
                request = leg.plan.next_request()
                assert request is not None
                first = self._fetch(leg, request)
            for items in self._pages(leg, request, first):
                sessions, stop = listing.keep(leg, items)
                yield from sessions
                if stop:
                    return

    def _pages(self, leg: _Leg, request: PageRequest, first: Any) -> Iterator[list[Any]]:
        """The items of each page of one leg, in order (prefetching when the first page told the total)."""
        plan = leg.plan
        items, done = plan.accept(request, first)
        yield items
        ahead = None if done or self._workers < 2 else plan.known_requests(first)
        if ahead:
            pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="ttai-pages")
            todo = iter(ahead)
            pending: deque[tuple[PageRequest, Any]] = deque()

            def fill() -> None:
                while len(pending) < self._workers:
                    nxt = next(todo, None)
                    if nxt is None:
                        return
                    pending.append((nxt, pool.submit(self._fetch, leg, nxt)))

            try:
                fill()
                while pending:
                    request, future = pending.popleft()
                    items, done = plan.accept(request, future.result())
                    if not done:
                        fill()
                    yield items
                    if done:
                        return
            finally:
                for _, future in pending:
                    future.cancel()
                pool.shutdown(wait=False, cancel_futures=True)
        # One page at a time: when the total is unknown, or the service still says there is more.
        while not done:
            nxt = plan.next_request()
            if nxt is None:
                return
            items, done = plan.accept(nxt, self._fetch(leg, nxt))
            yield items


class Client(_ClientBase):
    """A client for the Tough Tongue AI public API.

    Parameters
    ----------
    token : str, optional
        The API token; default ``TTAI_TOKEN``. Without one, the first call raises
        :class:`AuthenticationError` saying how to set it (``Client.sandbox()`` needs none).
    base_url : str, optional
        Default ``TTAI_BASE_URL``, else ``https://api.toughtongueai.com/api/public``.
    timeout : float
        Seconds per request attempt (default 30).
    max_retries : int
        Retries of a failed attempt, where the retry policy allows (default 3).
    org_id : str, optional
        Organisation scope, sent as ``X-TT-ORG``.
    transport : httpx.BaseTransport, optional
        Passed to httpx (the sandbox's transport, a ``MockTransport`` in tests).
    app_url : str, optional
        Origin of embed URLs (default ``https://app.toughtongueai.com``).
    retry_after_cap : float
        Longest ``Retry-After`` honoured (default 60 s); longer raises :class:`RateLimitError`.
    backoff_initial, backoff_max : float
        Exponential backoff with jitter: first ceiling and cap (defaults 0.5 s, 8 s).
    cache_ttl : float
        Seconds scenario reads are cached (default 300; 0 disables).
    sleep : callable, optional
        Replaces ``time.sleep`` for retry waits and polling (tests pass a recorder).

    Examples
    --------
    >>> import ttai_notebook as tt
    >>> with tt.Client.sandbox() as client:  # doctest: +SKIP
    ...     print(client.test_token().valid)
    True
    """

    def __init__(
        self,
        token: str | Secret | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        org_id: str | None = None,
        transport: httpx.BaseTransport | None = None,
        app_url: str | None = None,
        retry_after_cap: float = 60.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        cache_ttl: float = 300.0,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        self._setup(
            token,
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            org_id=org_id,
            app_url=app_url,
            retry_after_cap=retry_after_cap,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            cache_ttl=cache_ttl,
        )
        self._sleep = sleep or time.sleep
        # The default transport's sockets honour the per-attempt deadline (see _deadline.py).
        transport = transport if transport is not None else deadline_transport()
        self._http = httpx.Client(**self._http_options(transport))
        self._org_lock = threading.Lock()
        self.scenarios = Scenarios(self)
        self.sessions = Sessions(self)
        self.organizations = Organizations(self)

    # -- the few lines of I/O -------------------------------------------------------------------

    def _resolve_org(self) -> None:
        with self._org_lock:  # one lookup even when a bulk run starts many threads at once
            if not self._core.org_pending:
                return
            try:
                body = self._send(_Call("GET", "/v2/organizations", scoped=False))
            except APIError as exc:
                if not _http.route_missing(exc):
                    raise
                self._core.mark_missing("organizations", exc)
                body = None
            self._core.resolve_org(body)

    def _send(self, call: _Call) -> Any:
        if call.scoped and self._core.org_pending:
            self._resolve_org()
        attempt = self._core.begin(call)
        while True:
            request = self._http.build_request(**self._core.request_args(call))
            self._core.stats._count_request()
            try:
                response = send_by_deadline(self._http, request)
            except httpx.RequestError as exc:
                wait = self._core.after_exception(attempt, exc)
            else:
                outcome = self._core.after_response(attempt, response)
                if isinstance(outcome, _Done):
                    return outcome.value
                wait = outcome
            self._sleep(wait)

    def _gather(self, step: _Gather) -> list[Any]:
        def one(call: _Call) -> Any:
            try:
                return self._send(call)
            except Exception as exc:  # handed back to the operation, which decides
                return exc

        if not step.calls:
            return []
        with ThreadPoolExecutor(max_workers=min(step.concurrency, len(step.calls))) as pool:
            return list(pool.map(one, step.calls))

    def _drive(self, op: _Op) -> Any:
        value: Any = None
        error: BaseException | None = None
        try:
            while True:
                step = op.throw(error) if error is not None else op.send(value)
                value, error = None, None
                try:
                    if isinstance(step, _Call):
                        value = self._send(step)
                    elif isinstance(step, _Sleep):
                        self._sleep(step.seconds)
                    else:
                        value = self._gather(step)
                except Exception as exc:
                    error = exc
        except StopIteration as stop:
            return stop.value

    # -- public ---------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Any:
        """Send one request with the client's retry policy; returns the decoded JSON (None if empty).

        ``path`` is relative to the base URL (e.g. ``"/sandbox/sessions/<id>/complete"``).
        """
        return self._send(_call_for_request(method, path, json, params, timeout, max_retries))

    def test_token(self) -> TokenCheck:
        """Check the token: ``TokenCheck(valid, message)``; a rejected token gives ``valid=False``."""
        return self._drive(self._test_token_op())

    def balance(self) -> Balance:
        """Remaining credit: ``Balance(available_minutes, last_updated)``."""
        return self._drive(self._balance_op())

    def analytics(self, *, org_wide: bool = False, start: Any = None, end: Any = None) -> Analytics:
        """Usage analytics (``GET /v2/analytics``): per-scenario stats; with ``org_wide=True`` also the
        organisation's daily time series, summary and member usage (needs an edit/owner role there).

        ``start`` / ``end`` are dates, datetimes or ISO strings (the service's default window is the last
        90 days). The result keeps the service's answer in ``.raw`` and offers tidy frames:
        ``.scenarios_frame()``, ``.time_series_frame()``, ``.members_frame()``.

        Examples
        --------
        >>> client = Client.sandbox()
        >>> client.analytics().scenarios_frame()[["name", "session_count"]].shape[1]
        2
        """
        return self._drive(self._analytics_op(org_wide, start, end))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --------------------------------------------------------------------------------------------------
# Async client
# --------------------------------------------------------------------------------------------------


class AsyncScenarios(_ScenarioOps):
    """``async_client.scenarios``: the awaitable twin of :class:`Scenarios`."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._core = client._core

    async def list(
        self, search: str | None = None, *, cache: bool = True, timeout: float | None = None, max_retries: int | None = None
    ) -> list[Scenario]:
        """See :meth:`Scenarios.list`."""
        return await self._client._drive(self._list_op(search, cache, timeout, max_retries))

    async def get(
        self, scenario_id: str, *, cache: bool = True, timeout: float | None = None, max_retries: int | None = None
    ) -> Scenario:
        """See :meth:`Scenarios.get`."""
        return await self._client._drive(self._get_op(scenario_id, cache, timeout, max_retries))

    async def create(
        self,
        name: str,
        ai_instructions: str,
        *,
        description: str | None = None,
        user_friendly_description: str | None = None,
        is_public: bool | None = None,
        is_recording: bool | None = None,
        session_analysis: dict[str, Any] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        **extra: Any,
    ) -> Scenario:
        """See :meth:`Scenarios.create`."""
        fields = dict(
            name=name,
            ai_instructions=ai_instructions,
            description=description,
            user_friendly_description=user_friendly_description,
            is_public=is_public,
            is_recording=is_recording,
            session_analysis=session_analysis,
            **extra,
        )
        return await self._client._drive(self._create_op(fields, timeout, max_retries))

    async def update(
        self, scenario_id: str, *, timeout: float | None = None, max_retries: int | None = None, **fields: Any
    ) -> Scenario:
        """See :meth:`Scenarios.update`."""
        return await self._client._drive(self._update_op(scenario_id, fields, timeout, max_retries))

    async def delete(self, scenario_id: str, *, timeout: float | None = None, max_retries: int | None = None) -> None:
        """See :meth:`Scenarios.delete`."""
        return await self._client._drive(self._delete_op(scenario_id, timeout, max_retries))

    async def access_token(
        self,
        scenario_id: str,
        valid_for_hours: int = 1,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> dict[str, Any]:
        """See :meth:`Scenarios.access_token`."""
        return await self._client._drive(self._access_token_op(scenario_id, valid_for_hours, timeout, max_retries))


class AsyncSessions(_SessionOps):
    """``async_client.sessions``: the awaitable twin of :class:`Sessions` (``list`` supports ``async for``)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._core = client._core

    def list(
        self,
        *,
        scenario_id: str | None = None,
        user_email: str | Iterable[str] | None = None,
        from_date: Any = None,
        to_date: Any = None,
        updated_since: Any = None,
        metadata: Mapping[str, Any] | None = None,
        is_org: bool = False,
        page_size: int = 100,
        max_items: int | None = None,
        prefetch: bool | int = True,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> AsyncSessionIterator:
        """See :meth:`Sessions.list`; use ``async for`` (or ``await it.to_list()``)."""
        query = SessionQuery.build(
            scenario_id=scenario_id, user_email=user_email, from_date=from_date, to_date=to_date,
            updated_since=updated_since, metadata=metadata, is_org=is_org,
        )
        size, limit = check_paging(page_size, max_items)
        workers = prefetch_workers(prefetch)
        _check_overrides(timeout, max_retries)
        return AsyncSessionIterator(
            self._client, _Listing(self._core, query, size, limit), workers, timeout, max_retries
        )

    async def get(self, session_id: str, *, timeout: float | None = None, max_retries: int | None = None) -> Session:
        """See :meth:`Sessions.get`."""
        return await self._client._drive(self._get_op(session_id, timeout, max_retries))

    async def get_many(
        self, session_ids: Iterable[str], *, timeout: float | None = None, max_retries: int | None = None
    ) -> list[Session]:
        """See :meth:`Sessions.get_many`."""
        return await self._client._drive(self._get_many_op(session_ids, timeout, max_retries))

    async def create(
        self,
        scenario_id: str,
        *,
        user_email: str | None = None,
        user_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> SessionLink:
        """See :meth:`Sessions.create`."""
        return await self._client._drive(
            self._create_op(scenario_id, user_email, user_name, metadata, timeout, max_retries)
        )

    async def analyze(
        self,
        session_id: str,
        *,
        force: bool = False,
        timeout: float | None = None,
        max_retries: int | None = None,
        wait_timeout: float = 120.0,
        interval: float = 2.0,
    ) -> Analysis:
        """See :meth:`Sessions.analyze`."""
        return await self._client._drive(
            self._analyze_op(session_id, force, timeout, max_retries, wait_timeout, interval)
        )

    async def wait(
        self,
        session_id: str,
        *,
        until: Literal["completed", "analyzed"] = "completed",
        timeout: float = 120,
        interval: float = 2,
    ) -> Session:
        """See :meth:`Sessions.wait`."""
        return await self._client._drive(self._wait_op(session_id, until, timeout, interval))

    async def post_process(
        self,
        session_id: str,
        *,
        run_analysis: bool = True,
        run_extraction: bool = False,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None:
        """See :meth:`Sessions.post_process`."""
        return await self._client._drive(
            self._post_process_op(session_id, run_analysis, run_extraction, timeout, max_retries)
        )

    async def import_transcript(
        self,
        scenario_id: str,
        *,
        transcript: str | None = None,
        recording_url: str | None = None,
        user_email: str | None = None,
        user_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        user_metadata: dict[str, str | int | float | bool] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Session:
        """See :meth:`Sessions.import_transcript`."""
        return await self._client._drive(self._import_op(
            scenario_id, transcript, recording_url, user_email, user_name, metadata, user_metadata, timeout,
            max_retries,
        ))

    async def analyze_many(
        self,
        ids: Iterable[str | Session],
        *,
        concurrency: int = 8,
        rate_limit: float | None = None,
        store: Any = None,
        progress: Any = True,
        skip_analyzed: bool = True,
        force: bool = False,
        wait_timeout: float = 120.0,
        poll_interval: float | None = None,
    ) -> Any:
        """See :meth:`Sessions.analyze_many` (run on the caller's event loop)."""
        from .bulk import analyze_many_async  # lazy: the bulk engine loads on first use

        return await analyze_many_async(
            self._client, ids, concurrency=concurrency, rate_limit=rate_limit, store=store,
            progress=progress, skip_analyzed=skip_analyzed, force=force, wait_timeout=wait_timeout,
            poll_interval=poll_interval,
        )


class AsyncSessionIterator(AsyncIterator[Session]):
    """The lazy result of ``async_client.sessions.list()``: ``async for session in ...``.

    ``await it.aclose()`` stops early (pending prefetches are cancelled); ``await it.to_list()`` collects.
    """

    def __init__(
        self, client: AsyncClient, listing: _Listing, workers: int, timeout: float | None, max_retries: int | None
    ) -> None:
        self._client = client
        self._listing = listing
        self._workers = workers
        self._timeout = timeout
        self._max_retries = max_retries
        self._gen = self._run()

    def __aiter__(self) -> AsyncSessionIterator:
        return self

    async def __anext__(self) -> Session:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        """Stop: no further pages are requested."""
        await self._gen.aclose()

    async def to_list(self) -> list[Session]:
        """All remaining sessions as a list."""
        return [session async for session in self]

    async def __aenter__(self) -> AsyncSessionIterator:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    @property
    def pages_fetched(self) -> int:
        """Pages received so far."""
        return self._listing.pages

    @property
    def server_time(self) -> dt.datetime | None:
        """The service's clock when the listing began (its first answer's ``Date`` header), or None.

        Session lists carry no ``updated_at``, so an incremental sync takes its next ``updated_since`` from
        here (minus a small overlap): the service's clock, not this machine's.
        """
        return self._listing.server_time

    def __repr__(self) -> str:
        listing = self._listing
        return (
            f"<AsyncSessionIterator filters={listing.query.describe()} yielded={listing.yielded} "
            f"pages={listing.pages}>"
        )

    async def _fetch(self, leg: _Leg, request: PageRequest) -> Any:
        call = self._listing.call(leg, request, self._timeout, self._max_retries)
        return self._listing.page(call, await self._client._send(call))

    async def _run(self) -> AsyncIterator[Session]:
        listing = self._listing
        for email in listing.query.legs:
            if listing.exhausted:
                return
            leg = listing.leg(email)
            request = leg.plan.next_request()
            if request is None:
                return
            try:
                first = await self._fetch(leg, request)
            except APIError as exc:
                if not listing.falls_back(leg, exc):
                    raise
                leg = listing.leg(email)
                request = leg.plan.next_request()
                assert request is not None
                first = await self._fetch(leg, request)
            async for items in self._pages(leg, request, first):
                sessions, stop = listing.keep(leg, items)
                for session in sessions:
                    yield session
                if stop:
                    return

    async def _pages(self, leg: _Leg, request: PageRequest, first: Any) -> AsyncIterator[list[Any]]:
        """See :meth:`SessionIterator._pages`."""
        plan = leg.plan
        items, done = plan.accept(request, first)
        yield items
        ahead = None if done or self._workers < 2 else plan.known_requests(first)
        if ahead:
            todo = iter(ahead)
            pending: deque[tuple[PageRequest, asyncio.Task[Any]]] = deque()

            def fill() -> None:
                while len(pending) < self._workers:
                    nxt = next(todo, None)
                    if nxt is None:
                        return
                    pending.append((nxt, asyncio.ensure_future(self._fetch(leg, nxt))))

            try:
                fill()
                while pending:
                    request, task = pending.popleft()
                    items, done = plan.accept(request, await task)
                    if not done:
                        fill()
                    yield items
                    if done:
                        return
            finally:
                tasks = [task for _, task in pending]
                for task in tasks:
                    task.cancel()
                if tasks:
                    await asyncio.gather(*tasks, return_exceptions=True)
        while not done:
            nxt = plan.next_request()
            if nxt is None:
                return
            items, done = plan.accept(nxt, await self._fetch(leg, nxt))
            yield items


class AsyncClient(_ClientBase):
    """The asynchronous twin of :class:`Client`: same arguments, same resources, ``await`` each call.

    ``sleep`` (if given) must be an async callable, like ``asyncio.sleep``.

    Examples
    --------
    >>> async with tt.AsyncClient.sandbox() as client:  # doctest: +SKIP
    ...     async for session in client.sessions.list(max_items=5):
    ...         print(session.id)
    """

    def __init__(
        self,
        token: str | Secret | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        org_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        app_url: str | None = None,
        retry_after_cap: float = 60.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        cache_ttl: float = 300.0,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
    ) -> None:
        self._setup(
            token,
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            org_id=org_id,
            app_url=app_url,
            retry_after_cap=retry_after_cap,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            cache_ttl=cache_ttl,
        )
        self._sleep = sleep or asyncio.sleep
        self._http = httpx.AsyncClient(**self._http_options(transport))
        self.scenarios = AsyncScenarios(self)
        self.sessions = AsyncSessions(self)
        self.organizations = AsyncOrganizations(self)

    # -- the few lines of I/O -------------------------------------------------------------------

    async def _resolve_org(self) -> None:
        # No lock: concurrent first calls may each look the organisations up once; the answer is the same.
        try:
            body = await self._send(_Call("GET", "/v2/organizations", scoped=False))
        except APIError as exc:
            if not _http.route_missing(exc):
                raise
            self._core.mark_missing("organizations", exc)
            body = None
        if self._core.org_pending:
            self._core.resolve_org(body)

    async def _send(self, call: _Call) -> Any:
        if call.scoped and self._core.org_pending:
            await self._resolve_org()
        attempt = self._core.begin(call)
        while True:
            request = self._http.build_request(**self._core.request_args(call))
            self._core.stats._count_request()
            try:
                response = await asend_by_deadline(self._http, request)
            except httpx.RequestError as exc:
                wait = self._core.after_exception(attempt, exc)
            else:
                outcome = self._core.after_response(attempt, response)
                if isinstance(outcome, _Done):
                    return outcome.value
                wait = outcome
            await self._sleep(wait)

    async def _gather(self, step: _Gather) -> list[Any]:
        gate = asyncio.Semaphore(step.concurrency)

        async def one(call: _Call) -> Any:
            async with gate:
                try:
                    return await self._send(call)
                except Exception as exc:  # handed back to the operation, which decides
                    return exc

        return list(await asyncio.gather(*(one(call) for call in step.calls)))

    async def _drive(self, op: _Op) -> Any:
        value: Any = None
        error: BaseException | None = None
        try:
            while True:
                step = op.throw(error) if error is not None else op.send(value)
                value, error = None, None
                try:
                    if isinstance(step, _Call):
                        value = await self._send(step)
                    elif isinstance(step, _Sleep):
                        await self._sleep(step.seconds)
                    else:
                        value = await self._gather(step)
                except Exception as exc:
                    error = exc
        except StopIteration as stop:
            return stop.value

    # -- public ---------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Any:
        """See :meth:`Client.request`."""
        return await self._send(_call_for_request(method, path, json, params, timeout, max_retries))

    async def test_token(self) -> TokenCheck:
        """See :meth:`Client.test_token`."""
        return await self._drive(self._test_token_op())

    async def analytics(self, *, org_wide: bool = False, start: Any = None, end: Any = None) -> Analytics:
        """See :meth:`Client.analytics`."""
        return await self._drive(self._analytics_op(org_wide, start, end))

    async def balance(self) -> Balance:
        """See :meth:`Client.balance`."""
        return await self._drive(self._balance_op())

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


# --------------------------------------------------------------------------------------------------
# tt.connect()
# --------------------------------------------------------------------------------------------------

_sandbox_notice_shown = False


def connect(*, org: str | None = None, **kwargs: Any) -> Client:
    """The real service when a token is available (``token=`` or ``TTAI_TOKEN``), else the offline sandbox.

    With the sandbox it says so once, in plain words. ``org`` picks an organisation by id, slug or name
    (the same as ``org_id=``; see ``client.organizations.list()``). Other keyword arguments go to
    :class:`Client` (or, for the sandbox, to :meth:`Client.sandbox`: ``seed``, sandbox options, client options).

    Examples
    --------
    >>> import ttai_notebook as tt
    >>> client = tt.connect()  # doctest: +SKIP
    Using the offline sandbox (no TTAI_TOKEN is set): ...
    """
    global _sandbox_notice_shown
    if org is not None:
        if kwargs.get("org_id") not in (None, org):
            raise ValidationError("give org= or org_id=, not both", field="org")
        kwargs["org_id"] = org
    if not kwargs:
        # A notebook sign-in (tt.widgets.login) wins over the environment. Only look if the widget module is
        # already loaded, so connect() never imports ipywidgets itself.
        login = sys.modules.get("ttai_notebook.widgets.login")
        signed_in = login.current_client() if login is not None and hasattr(login, "current_client") else None
        if signed_in is not None:
            return signed_in
    token = kwargs.get("token")
    if token is None:
        token = os.environ.get("TTAI_TOKEN", "")
    if isinstance(token, Secret):
        token = token.get_secret_value()
    if isinstance(token, str) and token.strip():
        return Client(**kwargs)
    kwargs.pop("token", None)
    for key in ("base_url", "transport", "app_url"):
        if kwargs.get(key) is not None:
            raise ValidationError(
                f"{key}= was given but no token: set TTAI_TOKEN or pass token= to use that service "
                "(without a token tt.connect() uses the offline sandbox)",
                field=key,
            )
        kwargs.pop(key, None)
    client = Client.sandbox(**kwargs)
    if not _sandbox_notice_shown:
        _sandbox_notice_shown = True
        print(
            "Using the offline sandbox (no TTAI_TOKEN is set): simulated demo data, no network, nothing is "
            "charged. Set TTAI_TOKEN (or pass token=...) to use the real Tough Tongue AI service."
        )
    return client
