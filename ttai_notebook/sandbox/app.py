"""The sandbox application: one request (method, path, query, headers, body) in, one reply out.
Applies the API prefix, body limit, concurrency cap, latency, injected faults, auth, dialect-shaped
errors and the counters. Transports and the HTTP server only do I/O around it."""
from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from . import wire
from .counters import Counters
from .faults import FaultInjector
from .routes import Ctx, MethodNotAllowed, Result, Route, RouteNotFound, ValidationFailed, match_route
from .state import SandboxError, SandboxState
from .urls import API_PREFIX
from .validation import dumps

__all__ = ["Reply", "Ticket", "SandboxApp", "DROP_MESSAGE"]

_CACHE_SIZE = 4096
# Cached list pages are large (500 sessions ≈ 1 MB): the cache also holds at most this many bytes.
_CACHE_BYTES = 256 * 1024 * 1024

#: What a client sees when the sandbox drops a connection (httpx's wording).
DROP_MESSAGE = "Server disconnected without sending a response."


@dataclass
class Reply:
    """An answer: status, body bytes, headers; ``drop`` means close the connection without answering."""

    status: int
    body: bytes
    headers: list[tuple[str, str]]
    drop: bool = False


@dataclass
class Ticket:
    """An admitted request waiting out its latency before it runs."""

    route: Route
    params: dict[str, str]
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    request_id: str
    delay: float
    in_flight: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class SandboxApp:
    """Request handling shared by the in-process transport and the HTTP server.

    Call :meth:`admit`, wait ``ticket.delay`` seconds (``time.sleep`` or ``asyncio.sleep``), then
    :meth:`run` and finally :meth:`release` — or use :meth:`handle` / :meth:`handle_async`.
    """

    def __init__(self, state: SandboxState, counters: Counters, faults: FaultInjector, *, dialect: str,
                 token: str | None, read_only_tokens: tuple[str, ...], spec_routes_only: bool,
                 max_body_bytes: int, profile: str = "current") -> None:
        self.state = state
        self.counters = counters
        self.faults = faults
        self.dialect = dialect
        self.profile = profile
        self._token = token
        self._read_only = frozenset(read_only_tokens)
        self.spec_routes_only = spec_routes_only
        self.max_body_bytes = max_body_bytes
        self.lock = state.lock
        self._in_flight = 0
        self._ids = itertools.count(1)
        self._cache: OrderedDict[tuple[Any, ...], tuple[int, bytes]] = OrderedDict()
        self._cache_bytes = 0
        self._date_second = -1
        self._date_text = ""

    # ---- answers cached until the state changes ----
    def cached(self, key: tuple[Any, ...]) -> bytes | None:
        """An encoded answer stored under ``key`` while the state has not changed since (call under the lock)."""
        hit = self._cache.get(key)
        if hit is None or hit[0] != self.state.version:
            return None
        self._cache.move_to_end(key)
        return hit[1]

    def remember(self, key: tuple[Any, ...], body: bytes) -> None:
        """Store an encoded answer for the current state (the oldest go beyond 4096 entries or 256 MB)."""
        old = self._cache.get(key)
        if old is not None:
            self._cache_bytes -= len(old[1])
        self._cache[key] = (self.state.version, body)
        self._cache_bytes += len(body)
        self._cache.move_to_end(key)
        while len(self._cache) > _CACHE_SIZE or (self._cache_bytes > _CACHE_BYTES and len(self._cache) > 1):
            self._cache_bytes -= len(self._cache.popitem(last=False)[1][1])

    # ---- building replies ----
    def _reply(self, status: int, body: Any, request_id: str, headers: list[tuple[str, str]] | None = None) -> Reply:
        hdrs = [("x-request-id", request_id)] + list(headers or [])
        if body is None:
            return Reply(status, b"", hdrs)
        return Reply(status, dumps(body), [("content-type", "application/json")] + hdrs)

    def error(self, status: int, message: str, request_id: str, *, details: Mapping[str, Any] | None = None,
              errors: list[dict[str, Any]] | None = None, headers: list[tuple[str, str]] | None = None) -> Reply:
        """A dialect-shaped error reply."""
        body = wire.error_body(self.dialect, message, details=details, errors=errors)
        return self._reply(status, body, request_id, headers)

    def _count_response(self, reply: Reply) -> Reply:
        self.counters.responses[reply.status] += 1
        reply.headers.append(("date", self._http_date()))
        return reply

    def _http_date(self) -> str:
        """``Date`` as the service sends it, from the sandbox's clock (the demo clock's "now" by default), so a
        client can take it as the high-water mark of an ``updated_since`` sync. Formatted once per second."""
        moment = self.state.clock.now()
        second = int(moment.timestamp())
        if second != self._date_second:
            self._date_second, self._date_text = second, format_datetime(moment.replace(microsecond=0), usegmt=True)
        return self._date_text

    def reset(self) -> None:
        """State back to the seed, counters zeroed, fault randomness re-seeded (settings kept)."""
        with self.lock:
            self.state.reset()
            self.counters.reset()
            self.faults.reset()
            self._cache.clear()
            self._cache_bytes = 0

    # ---- the three steps ----
    def admit(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> Ticket | Reply:
        """Route the request and apply the checks that answer before any work (404/405/413/cap)."""
        method = method.upper()
        with self.lock:
            request_id = f"req_sbx_{next(self._ids):08d}"
            if not path.startswith(API_PREFIX + "/"):
                self.counters.requests[f"{method} (no route)"] += 1
                return self._count_response(self.error(404, "Not Found", request_id))
            sub = path[len(API_PREFIX):]
            try:
                route, params = match_route(method, sub, spec_routes_only=self.spec_routes_only,
                                            profile=self.profile)
            except RouteNotFound:
                self.counters.requests[f"{method} (no route)"] += 1
                return self._count_response(self.error(404, "Not Found", request_id))
            except MethodNotAllowed as exc:
                self.counters.requests[f"{method} (no route)"] += 1
                return self._count_response(self.error(405, "Method Not Allowed", request_id,
                                                       headers=[("allow", ", ".join(exc.allowed))]))
            self.counters.requests[route.key] += 1
            if len(body) > self.max_body_bytes:
                return self._count_response(self.error(
                    413, f"Request body too large: {len(body)} bytes; the limit is {self.max_body_bytes} bytes.",
                    request_id, details={"limit": self.max_body_bytes, "size": len(body)}))
            cap = self.faults.config.concurrency_cap
            if not route.sandbox_only and cap is not None and self._in_flight >= cap:
                self.counters.injected["concurrency"] += 1
                retry = self.faults.config.retry_after_header
                return self._count_response(self.error(
                    429, f"Too many concurrent requests: the limit is {cap} in flight. Retry after {retry} s.",
                    request_id, details={"concurrency_cap": cap}, headers=[("retry-after", retry)]))
            query_map: dict[str, list[str]] = {}
            for k, val in parse_qsl(query, keep_blank_values=True):
                query_map.setdefault(k, []).append(val)
            delay = 0.0 if route.sandbox_only else self.faults.delay()
            ticket = Ticket(route, params, method, sub, query_map, headers, body, request_id, delay, in_flight=True)
            self._in_flight += 1
            return ticket

    def release(self, ticket: Ticket) -> None:
        """The request is over (answered, failed or dropped)."""
        with self.lock:
            if ticket.in_flight:
                ticket.in_flight = False
                self._in_flight -= 1

    def _auth(self, ticket: Ticket) -> Reply | None:
        header = ticket.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        presented = presented.strip() if scheme.lower() == "bearer" else ""
        if self._token is not None:
            if not presented:
                return self.error(401, "Not authenticated: send the header 'Authorization: Bearer <API token>'.",
                                  ticket.request_id)
            if presented != self._token and presented not in self._read_only:
                return self.error(401, "Invalid API token.", ticket.request_id)
        if presented and presented in self._read_only and ticket.route.mutating and not ticket.route.sandbox_only:
            return self.error(403, f"Insufficient permissions: this API token is read-only and cannot call "
                                   f"{ticket.method} {ticket.route.pattern}.", ticket.request_id)
        return None

    def run(self, ticket: Ticket) -> Reply:
        """Apply injected faults and auth, execute the handler, and count what happened."""
        route = ticket.route
        with self.lock:
            forced = self.faults.take_forced(ticket.method, route.pattern, ticket.path, control=route.sandbox_only)
            if forced is not None and not forced.drop and not forced.after_execute:
                self.counters.injected["forced"] += 1
                return self._count_response(self._fault_reply(forced.status, ticket, forced=True))
            if forced is None and not route.sandbox_only:
                if self.faults.roll_429():
                    self.counters.injected["429"] += 1
                    return self._count_response(self._fault_reply(429, ticket))
                status = self.faults.roll_5xx()
                if status is not None:
                    self.counters.injected["5xx"] += 1
                    return self._count_response(self._fault_reply(status, ticket))
            denied = self._auth(ticket)
            if denied is not None:
                return self._count_response(denied)
            reply = self._execute(ticket)
            drop = (forced is not None and forced.drop) or (forced is None and not route.sandbox_only
                                                              and self.faults.roll_drop())
            if drop:
                if forced is not None:
                    self.counters.injected["forced"] += 1
                self.counters.drops += 1
                reply.drop = True
                return reply
            if forced is not None and forced.after_execute:
                self.counters.injected["forced"] += 1
                reply = self._fault_reply(forced.status, ticket, forced=True, executed=True)
            return self._count_response(reply)

    def _fault_reply(self, status: int, ticket: Ticket, *, forced: bool = False, executed: bool = False) -> Reply:
        headers: list[tuple[str, str]] = []
        kind = "forced" if forced else "injected"
        if status == 429:
            retry = self.faults.config.retry_after_header
            headers.append(("retry-after", retry))
            message = f"Rate limit exceeded ({kind} by the sandbox). Retry after {retry} s."
        elif status >= 500:
            message = f"Internal server error ({kind} by the sandbox" + (
                ", after the request took effect)." if executed else ").")
        else:
            message = f"Request failed with status {status} ({kind} by the sandbox)."
        return self.error(status, message, ticket.request_id, details={"sandbox_fault": kind}, headers=headers)

    def _execute(self, ticket: Ticket) -> Reply:
        try:
            # Background work that fell due is finished first, so polling sees results as soon as they are due.
            self.state.apply_due()
            org = None
            if self.profile == "current" and not ticket.route.sandbox_only:
                org = self.state.org_scope(ticket.headers.get("x-tt-org"))
            ctx = Ctx(self, ticket.method, ticket.path, ticket.params, ticket.query, ticket.body, org)
            result: Result = ticket.route.handler(ctx)
        except ValidationFailed as exc:
            reply = self.error(422, "Validation failed", ticket.request_id, errors=exc.errors)
        except SandboxError as exc:
            reply = self.error(exc.status, exc.message, ticket.request_id, details=exc.details)
        except Exception as exc:  # a sandbox bug: answer 500 as a server would, and keep serving
            reply = self.error(500, f"Sandbox internal error: {type(exc).__name__}: {exc}", ticket.request_id,
                               details={"sandbox_bug": True})
        else:
            if result.raw is not None:
                reply = Reply(result.status, result.raw, [("content-type", "application/json"),
                                                          ("x-request-id", ticket.request_id), *result.headers])
            else:
                reply = self._reply(result.status, result.body, ticket.request_id, result.headers)
        self.counters.executed[ticket.route.key] += 1
        return reply

    # ---- convenience: the whole cycle ----
    def handle(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
               sleep: Callable[[float], Any] = time.sleep) -> Reply:
        """Admit, wait out the latency with ``sleep``, run, release."""
        ticket = self.admit(method, path, query, headers, body)
        if isinstance(ticket, Reply):
            return ticket
        try:
            if ticket.delay > 0:
                sleep(ticket.delay)
            return self.run(ticket)
        finally:
            self.release(ticket)

    async def handle_async(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
                           sleep: Callable[[float], Awaitable[Any]] | None = None) -> Reply:
        """As :meth:`handle`, waiting with ``asyncio.sleep`` so other requests proceed meanwhile."""
        ticket = self.admit(method, path, query, headers, body)
        if isinstance(ticket, Reply):
            return ticket
        try:
            if ticket.delay > 0:
                if sleep is None:
                    import asyncio

                    sleep = asyncio.sleep
                await sleep(ticket.delay)
            return self.run(ticket)
        finally:
            self.release(ticket)
