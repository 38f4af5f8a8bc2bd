"""The sandbox's route table and handlers: parse and validate a request like the service's FastAPI
layer, call the domain state, and shape the answer for the dialect. No faults, auth or I/O here."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timezone
from typing import TYPE_CHECKING, Any

from . import filters
from . import validation as v
from . import wire
from .clock import format_ts, parse_ts
from .state import SandboxError
from .urls import embed_scenario_url, embed_session_url

if TYPE_CHECKING:
    from .app import SandboxApp
    from .orgs import OrgRecord

__all__ = ["Ctx", "Result", "Route", "ROUTES", "match_route", "RouteNotFound", "MethodNotAllowed", "ValidationFailed"]


@dataclass
class Ctx:
    """What a handler sees: the app (state, dialect, profile, counters), path params, query, body and the
    organisation the call is scoped to (``X-TT-ORG``; None is the personal context)."""

    app: "SandboxApp"
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, list[str]]
    body: bytes
    org: "OrgRecord | None" = None

    @property
    def dialect(self) -> str:
        return self.app.dialect

    @property
    def profile(self) -> str:
        return self.app.profile


@dataclass
class Result:
    """A handler's answer: status, JSON-able body (None = empty) and extra headers; ``raw`` is a body
    already encoded (a cached answer)."""

    status: int
    body: Any
    headers: list[tuple[str, str]] = field(default_factory=list)
    raw: bytes | None = None


class ValidationFailed(Exception):
    """422 with FastAPI-style items."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("validation failed")
        self.errors = errors


@dataclass(frozen=True)
class Route:
    """One route. ``in_spec``: the vendor spec has it (served with ``spec_routes_only``);
    ``mutating``: refused to read-only tokens; ``sandbox_only``: a control route, exempt from random faults;
    ``profiles``: the sandbox profiles that serve it (elsewhere it answers 404 like a removed route)."""

    method: str
    pattern: str
    handler: Callable[[Ctx], Result]
    in_spec: bool = True
    mutating: bool = False
    sandbox_only: bool = False
    profiles: tuple[str, ...] = wire.PROFILES
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rx = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.pattern)) + "$"
        object.__setattr__(self, "regex", re.compile(rx))

    @property
    def key(self) -> str:
        """``"GET /sessions/{id}"``: how counters name the route."""
        return f"{self.method} {self.pattern}"


class RouteNotFound(Exception):
    """No route has this path."""


class MethodNotAllowed(Exception):
    """A route has this path but not this method."""

    def __init__(self, allowed: list[str]) -> None:
        super().__init__("method not allowed")
        self.allowed = allowed


# ---- helpers ----
def _body(ctx: Ctx, model: Mapping[str, v.Field] | str, *, required: bool = True) -> dict[str, Any]:
    data, errors = v.parse_json_body(ctx.body)
    if errors:
        raise ValidationFailed(errors)
    values, errors = v.validate_model(data, model, body_required=required)
    if errors:
        raise ValidationFailed(errors)
    return values


def _query(ctx: Ctx, model: Mapping[str, v.Field]) -> dict[str, Any]:
    values, errors = v.validate_query(ctx.query, model)
    if errors:
        raise ValidationFailed(errors)
    return values


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse_bound(name: str, text: str | None, *, upper: bool) -> datetime | None:
    if text is None or not text.strip():
        return None
    raw = text.strip()
    try:
        if _DATE_ONLY.match(raw):
            day = datetime.fromisoformat(raw).date()
            # A date-only upper bound means the whole day (the service bumps it to end of day).
            moment = time.max if upper else time.min
            return datetime.combine(day, moment, tzinfo=timezone.utc)
        return parse_ts(raw)
    except ValueError:
        raise SandboxError(400, f"{name} must be a date (YYYY-MM-DD) or an ISO-8601 timestamp, got {text!r}.",
                           field=name) from None


# ---- handlers ----
def test_token(ctx: Ctx) -> Result:
    if ctx.dialect == "spec":
        _body(ctx, v.TOKEN_TEST)
    return Result(200, wire.token_test_body(ctx.dialect))


def get_balance(ctx: Ctx) -> Result:
    minutes, updated = ctx.app.state.balance()
    return Result(200, wire.balance_body(minutes, updated))


def list_scenarios(ctx: Ctx) -> Result:
    q = _query(ctx, v.SCENARIO_QUERY)
    if q.get("is_featured"):
        return Result(200, {"scenarios": []})  # the sandbox features nothing
    items = ctx.app.state.list_scenarios(search=q.get("search"), type=q.get("type"))
    return Result(200, {"scenarios": [wire.scenario_summary(s) for s in items]})


def upsert_scenario(ctx: Ctx) -> Result:
    fields = _body(ctx, v.SCENARIO_UPSERT)
    state = ctx.app.state
    if fields.get("id") is not None:  # the spec's way to update
        rec = state.update_scenario(fields["id"], {k: val for k, val in fields.items() if k != "id"})
    else:
        rec = state.create_scenario(fields)
    return Result(200, wire.scenario_created(rec, ctx.dialect))


def get_scenario(ctx: Ctx) -> Result:
    return Result(200, wire.scenario_detail(ctx.app.state.get_scenario(ctx.params["id"])))


def patch_scenario(ctx: Ctx) -> Result:
    fields = _body(ctx, v.SCENARIO_UPSERT)
    fields.pop("id", None)
    return Result(200, wire.scenario_detail(ctx.app.state.update_scenario(ctx.params["id"], fields)))


def delete_scenario(ctx: Ctx) -> Result:
    ctx.app.state.delete_scenario(ctx.params["id"])
    # The brief says "empty / {}": documented answers 204 with no body, spec-style 200 {}.
    return Result(204, None) if ctx.dialect == "documented" else Result(200, {})


def _page_body(ctx: Ctx, items: list[Any], page: int, limit: int, total: int) -> bytes:
    names = {sid: s.name for sid, s in ctx.app.state.scenarios.items()}
    dialect, profile = ctx.dialect, ctx.profile
    body = [wire.session_summary(s, dialect, names.get(s.scenario_id), profile) for s in items]
    return v.dumps({"sessions": body, "page_meta": wire.page_meta(page, limit, total)})


def list_sessions(ctx: Ctx) -> Result:
    """v1 ``GET /sessions`` (profile ``brief``): comma-separated e-mails; dates filter ``updated_at``."""
    q = _query(ctx, v.SESSION_QUERY)
    page, limit = q.get("page", 1), q.get("limit", 50)
    emails = [e for e in (q.get("user_email") or "").split(",") if e.strip()] or None
    lo = _parse_bound("from_date", q.get("from_date"), upper=False)
    hi = _parse_bound("to_date", q.get("to_date"), upper=True)
    state = ctx.app.state
    with state.lock:
        items, total = state.list_sessions(scenario_id=q.get("scenario_id") or None, user_emails=emails,
                                           updated_from=lo, updated_to=hi, page=page, limit=limit)
        raw = _page_body(ctx, items, page, limit, total)
    return Result(200, None, raw=raw)


def list_sessions_v2(ctx: Ctx) -> Result:
    """``GET /v2/sessions`` (profile ``current``): the spec's filters (:mod:`.filters`), org scope by ``is_org``.

    Pages are not cached (unlike single sessions): a list is built per request, as the service would, so
    benchmark 2's plain-httpx baseline meets the same server work as the client it is compared with."""
    q = _query(ctx, v.V2_SESSION_QUERY)
    try:
        selection = filters.parse_filters(ctx.query)
    except filters.FilterError as exc:
        if exc.status == 422:
            raise ValidationFailed(exc.errors) from None
        raise SandboxError(exc.status, exc.message, field=exc.field) from None
    page, limit = q.get("page", 1), q.get("limit", 50)
    state = ctx.app.state
    with state.lock:
        items, total = state.query_sessions(selection, org=ctx.org, is_org=bool(q.get("is_org")), page=page,
                                            limit=limit)
        raw = _page_body(ctx, items, page, limit, total)
    return Result(200, None, raw=raw)


def get_session(ctx: Ctx) -> Result:
    # The hottest read (benchmarks hammer it): answers are cached until the state next changes.
    state = ctx.app.state
    key = ("session", ctx.params["id"], ctx.dialect)
    with state.lock:
        raw = ctx.app.cached(key)
        if raw is None:
            rec = state.get_session(ctx.params["id"])
            raw = v.dumps(wire.session_detail(rec, ctx.dialect, state.scenarios.get(rec.scenario_id), state.owner_id))
            ctx.app.remember(key, raw)
    return Result(200, None, raw=raw)


def sessions_batch(ctx: Ctx) -> Result:
    q = _query(ctx, v.BATCH_QUERY)
    state = ctx.app.state
    with state.lock:
        items = state.get_sessions(q["session_ids"])
        names = {sid: s.name for sid, s in state.scenarios.items()}
        body = [wire.session_summary(s, ctx.dialect, names.get(s.scenario_id), ctx.profile) for s in items]
    return Result(200, {"sessions": body, "page_meta": wire.page_meta(1, max(1, len(body)), len(body))})


def post_process(ctx: Ctx) -> Result:
    """Queue analysis / extraction in the background; charged per call with ``run_analysis``."""
    fields = _body(ctx, v.POST_PROCESS)
    ctx.app.state.post_process(ctx.params["id"], run_analysis=bool(fields.get("run_analysis")),
                               run_extraction=bool(fields.get("run_extraction")))
    return Result(200, {"ok": True})


def list_organizations(ctx: Ctx) -> Result:
    state = ctx.app.state
    with state.lock:
        return Result(200, [wire.org_item(o) for o in state.organizations])


def import_session(ctx: Ctx) -> Result:
    fields = _body(ctx, v.IMPORT_SESSION)
    rec = ctx.app.state.import_session(
        fields["scenario_id"], transcript=fields.get("transcript"), recording_url=fields.get("recording_url"),
        user_email=fields.get("user_email"), user_name=fields.get("user_name"), metadata=fields.get("metadata"),
        user_metadata=fields.get("user_metadata"))
    return Result(200, wire.import_body(rec))


def _query_datetime(name: str, text: str | None, *, upper: bool) -> datetime | None:
    if text is not None and not text.strip():  # present but empty: FastAPI refuses it, it is not "absent"
        raise ValidationFailed([{"type": "datetime_from_date_parsing", "loc": ["query", name],
                                 "msg": "Input should be a valid datetime or date, input is too short",
                                 "input": text}])
    try:
        return _parse_bound(name, text, upper=upper)
    except SandboxError:  # FastAPI validates a datetime query parameter: 422
        raise ValidationFailed([{"type": "datetime_from_date_parsing", "loc": ["query", name],
                                 "msg": "Input should be a valid datetime or date, invalid character in year",
                                 "input": text}]) from None


def get_analytics(ctx: Ctx) -> Result:
    q = _query(ctx, v.ANALYTICS_QUERY)
    start = _query_datetime("start_date", q.get("start_date"), upper=False)
    end = _query_datetime("end_date", q.get("end_date"), upper=True)
    body = ctx.app.state.analytics(org=ctx.org, org_wide=bool(q.get("is_org_wide")), start=start, end=end)
    return Result(200, body)


def analyze_session(ctx: Ctx) -> Result:
    fields = _body(ctx, v.ANALYZE_REQUEST)
    state = ctx.app.state
    with state.lock:
        rec, _charged = state.analyze_session(fields["session_id"], force=bool(fields.get("force")))
        evaluation, improvement = rec.results()
        assert evaluation is not None
        body = wire.analysis_body(evaluation, improvement, ctx.dialect)
    return Result(200, body)


def create_session(ctx: Ctx) -> Result:
    fields = _body(ctx, v.CREATE_SESSION)
    rec = ctx.app.state.create_session(fields["scenario_id"], user_email=fields.get("user_email"),
                                       user_name=fields.get("user_name"), metadata=fields.get("metadata"))
    return Result(200, {"session_id": rec.id, "embed_url": embed_session_url(rec.id)})


def scenario_access_token(ctx: Ctx) -> Result:
    fields = _body(ctx, v.ACCESS_TOKEN_REQUEST)
    sat = ctx.app.state.create_access_token(fields["scenario_id"], fields.get("valid_for_hours") or 1,
                                            fields.get("email"))
    return Result(200, {
        "access_token": sat["access_token"],
        "expires_at": format_ts(sat["expires_at"]),
        "iframe_src": embed_scenario_url(sat["scenario_id"], scenarioAccessToken=sat["access_token"]),
    })


def complete_session(ctx: Ctx) -> Result:
    fields = _body(ctx, v.COMPLETE_SESSION)
    state = ctx.app.state
    with state.lock:
        rec = state.complete_session(ctx.params["id"], fields["transcript"], duration_s=fields.get("duration_s"),
                                     status=fields.get("status") or "completed")
        body = wire.session_detail(rec, ctx.dialect, state.scenarios.get(rec.scenario_id), state.owner_id)
    return Result(200, body)


def sandbox_counters(ctx: Ctx) -> Result:
    return Result(200, {"counters": ctx.app.counters.snapshot(), "state": ctx.app.state.summary(),
                        "pending_jobs": ctx.app.state.pending_jobs})


def sandbox_advance(ctx: Ctx) -> Result:
    """Move the background clock (how a server in ``--background manual`` is driven from outside)."""
    fields = _body(ctx, v.ADVANCE)
    done = ctx.app.state.advance(fields["seconds"])
    return Result(200, {"advanced": fields["seconds"], "jobs_done": done, "pending_jobs": ctx.app.state.pending_jobs})


def sandbox_reset(ctx: Ctx) -> Result:
    ctx.app.reset()
    return Result(200, {"reset": True, "state": ctx.app.state.summary()})


ROUTES: tuple[Route, ...] = (
    Route("POST", "/test", test_token),
    Route("GET", "/balance", get_balance),
    Route("GET", "/scenarios", list_scenarios),
    Route("POST", "/scenarios", upsert_scenario, mutating=True),
    Route("GET", "/scenarios/{id}", get_scenario),
    Route("PATCH", "/scenarios/{id}", patch_scenario, in_spec=False, mutating=True),
    Route("DELETE", "/scenarios/{id}", delete_scenario, in_spec=False, mutating=True),
    Route("GET", "/sessions", list_sessions, profiles=("brief",)),
    Route("POST", "/sessions/analyze", analyze_session, mutating=True),
    Route("GET", "/sessions/{id}", get_session),
    Route("GET", "/v2/sessions", list_sessions_v2, profiles=("current",)),
    Route("POST", "/v2/sessions", create_session, in_spec=False, mutating=True),
    Route("GET", "/v2/sessions/batch", sessions_batch),
    Route("POST", "/v2/sessions/{id}/post-process", post_process, mutating=True, profiles=("current",)),
    Route("GET", "/v2/organizations", list_organizations, profiles=("current",)),
    Route("POST", "/v2/session", import_session, mutating=True, profiles=("current",)),
    Route("GET", "/v2/analytics", get_analytics, profiles=("current",)),
    Route("POST", "/scenario-access-token", scenario_access_token),
    Route("POST", "/sandbox/sessions/{id}/complete", complete_session, sandbox_only=True),
    Route("GET", "/sandbox/counters", sandbox_counters, sandbox_only=True),
    Route("POST", "/sandbox/advance", sandbox_advance, sandbox_only=True),
    Route("POST", "/sandbox/reset", sandbox_reset, sandbox_only=True),
)


def match_route(method: str, path: str, *, spec_routes_only: bool = False,
                profile: str = "current") -> tuple[Route, dict[str, str]]:
    """Find the route for a request, as Starlette does: first full match wins; a path matched only
    under other methods is 405; no match is 404. Routes the ``profile`` does not serve do not exist.

    Raises
    ------
    RouteNotFound, MethodNotAllowed
    """
    allowed: list[str] = []
    for route in ROUTES:
        if (spec_routes_only and not route.in_spec) or profile not in route.profiles:
            continue
        m = route.regex.match(path)
        if m is None:
            continue
        if route.method == method:
            return route, m.groupdict()
        allowed.append(route.method)
    if allowed:
        raise MethodNotAllowed(sorted(set(allowed)))
    raise RouteNotFound()
