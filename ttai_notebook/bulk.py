"""Many calls at once: ``analyze_many`` and ``fetch_many`` with bounded concurrency, an optional rate limit,
adaptive slow-down on 429 (AIMD), a progress bar, and results written to a :class:`~ttai_notebook.store.Store`
as they arrive, so an interrupted run resumes where it stopped.

``analyze_many`` speaks the service as it is today (API.md §6): one batch read of the sessions first (what is
already analysed is not triggered), then ``post-process`` triggers with bounded concurrency, and the results
collected by batched polls (``GET /v2/sessions/batch``, 100 ids a request). A trigger is a *charging* request:
after an ambiguous failure the run polls before deciding and never triggers the same session twice. Where the
service has no post-process route, the whole run uses the brief's synchronous ``POST /sessions/analyze``.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import html
import math
import queue
import ssl
import threading
import time
import urllib.request
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

import httpx

from .config import NO_TOKEN_MESSAGE
from ._http import backoff_delay
from .errors import (
    APIConnectionError,
    AuthenticationError,
    NotFoundError,
    NotSupportedError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
    WaitTimeoutError,
)
from .client import has_new_results
from .models import Session

if TYPE_CHECKING:  # pragma: no cover
    from .client import AsyncClient, Client
    from .store import Store

__all__ = [
    "AIMD",
    "BulkEvent",
    "BulkInterrupted",
    "BulkResult",
    "analyze_many",
    "analyze_many_async",
    "fetch_many",
    "fetch_many_async",
]

#: Largest ``concurrency`` accepted (each slot is one request in flight).
MAX_CONCURRENCY = 256
#: A 429 whose ``RateLimitError`` reaches the engine (the client gave up: Retry-After above its cap, or
#: retries used up) pauses the whole run and puts the item back, at most this many times per item. The
#: same budget covers a 5xx or connection error that outlasted the client's retries: the item goes back
#: after the client's backoff (continued where its retries stopped), without pausing the run.
MAX_REQUEUES = 3
#: Longest pause the engine takes on the service's word (``Retry-After``); longer fails the item instead.
MAX_PAUSE = 900.0
#: Pause when a ``RateLimitError`` carries no ``Retry-After``.
DEFAULT_PAUSE = 5.0
#: Waits shorter than this are not shown on the progress bar (they would only flicker).
SHOW_WAIT_FROM = 0.5


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class BulkResult:
    """What a bulk run did.

    Attributes
    ----------
    succeeded : dict
        Session id → :class:`~ttai_notebook.models.Analysis` (``analyze_many``) or
        :class:`~ttai_notebook.models.Session` (``fetch_many``), in the order the ids were given.
    failed : dict
        Session id → the exception that item ended with (the others are unaffected).
    skipped : list of str
        Ids not requested because the store already had them.
    outcome_unknown : dict
        Session id → the error of a trigger whose outcome stays unknown (``analyze_many`` only): the
        request failed ambiguously (5xx, lost response) and either no results appeared within the wait
        timeout, or the session already had results (a forced re-run), so new ones could not be told
        apart. These were deliberately not triggered again (it could charge twice): check them later
        with ``client.sessions.get(id)``.
    remaining : list of str
        Ids never finished because the run was interrupted (pass them to a new run, or just rerun
        with the same store: finished ids are skipped).
    interrupted : bool
        True when the run was stopped (Ctrl-C / kernel interrupt / cancellation) before the end.
    elapsed : float
        Wall time of the run in seconds.
    stats : dict
        Requests sent, responses by status, 429s, waits, peak requests in flight, the concurrency window
        the AIMD ended with, store writes, and the client's own counters.
    store_errors : dict
        Session id → the error raised while writing that result to the store (the result itself is in
        ``succeeded``).
    """

    succeeded: dict[str, Any] = dataclasses.field(default_factory=dict)
    failed: dict[str, BaseException] = dataclasses.field(default_factory=dict)
    skipped: list[str] = dataclasses.field(default_factory=list)
    remaining: list[str] = dataclasses.field(default_factory=list)
    interrupted: bool = False
    elapsed: float = 0.0
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)
    store_errors: dict[str, BaseException] = dataclasses.field(default_factory=dict)
    kind: str = "analyze"
    outcome_unknown: dict[str, BaseException] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every item succeeded (or was skipped) and the run was not interrupted."""
        return not self.failed and not self.outcome_unknown and not self.interrupted and not self.store_errors

    @property
    def failed_ids(self) -> list[str]:
        """Ids that failed, for a retry: ``client.sessions.analyze_many(result.failed_ids)``."""
        return list(self.failed)

    def _summary(self) -> str:
        parts = [f"{len(self.succeeded)} succeeded", f"{len(self.failed)} failed", f"{len(self.skipped)} skipped"]
        if self.outcome_unknown:
            parts.append(f"{len(self.outcome_unknown)} outcome unknown")
        if self.remaining:
            parts.append(f"{len(self.remaining)} not done")
        if self.store_errors:
            parts.append(f"{len(self.store_errors)} not saved")
        return ", ".join(parts)

    def __repr__(self) -> str:
        flag = ", interrupted" if self.interrupted else ""
        unknown = f", outcome_unknown={len(self.outcome_unknown)}" if self.kind == "analyze" else ""
        return (
            f"BulkResult({self.kind}: succeeded={len(self.succeeded)}, failed={len(self.failed)}, "
            f"skipped={len(self.skipped)}{unknown}{flag}, elapsed={self.elapsed:.2f}s)"
        )

    def _repr_html_(self) -> str:
        esc = html.escape
        verb = "Analysed" if self.kind == "analyze" else "Fetched"
        status = (
            "interrupted"
            if self.interrupted
            else ("finished" if not self.failed and not self.outcome_unknown else "finished with failures")
        )
        rows: list[tuple[str, Any]] = [
            ("Succeeded", len(self.succeeded)),
            ("Failed", len(self.failed)),
            ("Skipped (already stored)", len(self.skipped)),
        ]
        if self.kind == "analyze":
            rows.append(("Outcome unknown (not triggered again)", len(self.outcome_unknown)))
        if self.remaining:
            rows.append(("Not done (interrupted)", len(self.remaining)))
        if self.store_errors:
            rows.append(("Not saved to the store", len(self.store_errors)))
        rows.append(("Elapsed", f"{self.elapsed:.2f} s"))
        for key in ("requests", "triggered", "poll_requests", "responses_429", "wait_seconds", "peak_in_flight"):
            if key in self.stats:
                rows.append((key.replace("_", " ").capitalize(), self.stats[key]))
        body = "".join(f"<tr><th style='text-align:left'>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in rows)
        details = _errors_html("Failures", self.failed) + _errors_html(
            "Outcome unknown (check these later; not triggered again)", self.outcome_unknown
        )
        return (
            f"<div class='ttai-bulk-result'><strong>{esc(verb)} {len(self.succeeded)} sessions</strong> "
            f"({esc(status)})<table>{body}</table>{details}</div>"
        )


def _errors_html(title: str, errors: dict[str, BaseException]) -> str:
    """A collapsed list of the first 20 errors (escaped), or nothing."""
    if not errors:
        return ""
    esc = html.escape
    items = "".join(
        f"<li><code>{esc(sid)}</code>: {esc(type(exc).__name__)}: {esc(str(exc)[:200])}</li>"
        for sid, exc in list(errors.items())[:20]
    )
    more = f"<li>… and {len(errors) - 20} more</li>" if len(errors) > 20 else ""
    return f"<details><summary>{esc(title)}</summary><ul>{items}{more}</ul></details>"


class BulkInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a kernel interrupt) stopped a bulk run; raised after a clean stop.

    It is a ``KeyboardInterrupt``, so the cell stops as you asked. Everything finished before the
    interrupt is in the store (when one was given) and in ``.result`` (a :class:`BulkResult` with
    ``interrupted=True``); rerunning the same call with the same store resumes without redoing it.
    """

    def __init__(self, result: BulkResult) -> None:
        self.result = result
        running = result.stats.get("still_running") or 0
        note = (
            f" {running} triggered analyses are still running on the service: a rerun in this kernel within "
            "wait_timeout polls for them instead of triggering (and paying for) them again."
            if running
            else ""
        )
        super().__init__(
            f"bulk run interrupted after {result.elapsed:.1f} s: {result._summary()}. "
            "Finished results are saved; run the same call again with the same store to resume "
            f"(the partial BulkResult is this exception's .result).{note}"
        )


@dataclasses.dataclass(frozen=True)
class BulkEvent:
    """One finished item, as passed to a ``progress=`` callable (in the calling thread).

    ``triggered`` is how many analyses this run had triggered (accepted by the service) by then; it is
    always 0 for ``fetch_many``.
    """

    session_id: str
    outcome: Literal["succeeded", "failed", "outcome_unknown"]
    value: Any = None
    error: BaseException | None = None
    done: int = 0
    total: int = 0
    triggered: int = 0


# --------------------------------------------------------------------------------------------------
# Adaptive concurrency (pure decisions, tested by a table)
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class AIMD:
    """Additive-increase / multiplicative-decrease window of requests in flight.

    A 429 halves the window, once per congestion event: 429s for requests sent before the last decrease
    belong to the same event. The event also estimates the service's capacity (``ceiling``: the requests
    still in flight once the rejected ones are back). Below the ceiling the window grows by one per
    success, so it is back within about one round trip; at or above it, by one per ``probe`` × window
    successes, so the service's limit is probed rarely instead of being tripped every round trip.

    Examples
    --------
    >>> w = AIMD(limit=16)
    >>> w.on_429(sent_at=0.0, in_flight=15, now=1.0)
    True
    >>> w.allowed()
    8
    >>> for _ in range(7): w.on_success()
    >>> w.allowed()
    15
    """

    limit: int
    window: float = 0.0
    ceiling: float = math.inf
    probe: int = 32
    successes: int = 0
    last_decrease: float = -math.inf
    decreases: int = 0
    lowest: float = 0.0

    def __post_init__(self) -> None:
        if self.window <= 0:
            self.window = float(self.limit)
        self.lowest = self.window

    def allowed(self) -> int:
        """How many requests may be in flight now (at least one)."""
        return max(1, min(self.limit, int(self.window)))

    def on_429(self, *, sent_at: float, in_flight: int, now: float) -> bool:
        """Record a 429 for a request sent at ``sent_at``; ``in_flight`` excludes it. True if the window shrank."""
        if sent_at < self.last_decrease:
            self.ceiling = max(1.0, min(self.ceiling, float(in_flight)))  # same event: refine the estimate
            return False
        self.ceiling = max(1.0, float(in_flight))
        self.window = max(1.0, self.window / 2.0)
        self.last_decrease = now
        self.successes = 0
        self.decreases += 1
        self.lowest = min(self.lowest, self.window)
        return True

    def on_success(self) -> None:
        """Record a successful response; grow the window when enough have come back."""
        if self.window >= self.limit:
            return
        self.successes += 1
        needed = 1 if self.window < self.ceiling else self.probe * max(1, int(self.window))
        if self.successes >= needed:
            self.successes = 0
            self.window = min(float(self.limit), self.window + 1.0)


# --------------------------------------------------------------------------------------------------
# The gate every HTTP attempt of a run passes through: window, rate limit, pauses
# --------------------------------------------------------------------------------------------------

# Set in the task that sent the request, so the retry sleep right after it can say why it waits.
_last_status: contextvars.ContextVar[int | None] = contextvars.ContextVar("ttai_bulk_last_status", default=None)
# Set in a poll's task: its requests go to the head of the queue for a slot. Results of analyses already paid
# for must not wait behind thousands of triggers (they are what the store and the progress bar show).
_urgent: contextvars.ContextVar[bool] = contextvars.ContextVar("ttai_bulk_urgent", default=False)


class _Limiter:
    """Admission of HTTP attempts (FIFO): AIMD window, requests-per-minute spacing, and global pauses."""

    def __init__(self, concurrency: int, rate_limit: float | None, clock: Callable[[], float] = time.monotonic):
        self.aimd = AIMD(limit=concurrency)
        self.interval = 60.0 / rate_limit if rate_limit else 0.0
        self.clock = clock
        self.in_flight = 0
        self.peak = 0
        self.requests = 0
        self.statuses: Counter[int | str] = Counter()
        self.pause_until = 0.0
        self.pause_reason = ""
        self._next_start = 0.0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._wake_pending = False
        # Waits in progress, shown on the progress bar: token -> (until, reason).
        self.waits: dict[object, tuple[float, str]] = {}
        self.wait_seconds = 0.0

    # -- waits shown to the user ------------------------------------------------------------------

    async def wait(self, seconds: float, reason: str) -> None:
        if seconds <= 0:
            return
        token = object()
        self.waits[token] = (self.clock() + seconds, reason)
        self.wait_seconds += seconds
        try:
            await asyncio.sleep(seconds)
        finally:
            self.waits.pop(token, None)

    def current_wait(self) -> tuple[float, str] | None:
        """The longest wait in progress: (seconds left, reason), or None."""
        now = self.clock()
        best: tuple[float, str] | None = None
        for until, reason in list(self.waits.values()):
            left = until - now
            if left >= 0.05 and (best is None or left > best[0]):
                best = (left, reason)
        return best

    # -- admission --------------------------------------------------------------------------------

    async def acquire(self) -> float:
        """Wait for a slot, then for any pause and the rate limit; returns the send time."""
        if self.in_flight < self.aimd.allowed():
            self._take()  # may pass queued waiters: see _wake_soon
        else:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if _urgent.get():
                self._waiters.appendleft(fut)
            else:
                self._waiters.append(fut)
            try:
                await fut  # resolved by _wake, which has taken the slot for us
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._give_back()
                else:
                    try:
                        self._waiters.remove(fut)
                    except ValueError:
                        pass
                raise
        try:
            now = self.clock()
            start = max(now, self.pause_until)
            reason = self.pause_reason if self.pause_until > now else "rate limit"
            if self.interval:
                start = max(start, self._next_start)
                self._next_start = start + self.interval
            await self.wait(start - now, reason)
        except asyncio.CancelledError:
            self._give_back()
            raise
        self.requests += 1
        return self.clock()

    def _take(self) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)

    def _give_back(self) -> None:
        self.in_flight -= 1
        self._wake_soon()

    def _wake_soon(self) -> None:
        # Deferred by one loop turn on purpose: the worker that just released a slot usually sends its
        # next request in the same turn and takes the slot back without suspending. Handing the slot to
        # a waiter instead would start every new request one turn late, after all the responses that
        # arrived together were processed, locking the requests in step (measured: 16 in flight at
        # 50 ms took 1.48 s instead of 1.32 s for 400 requests).
        if self._waiters and not self._wake_pending:
            self._wake_pending = True
            asyncio.get_running_loop().call_soon(self._wake)

    def _wake(self) -> None:
        self._wake_pending = False
        while self._waiters and self.in_flight < self.aimd.allowed():
            fut = self._waiters.popleft()
            if not fut.done():
                self._take()
                fut.set_result(None)

    def release(self, sent_at: float, status: int | None, error: str | None = None) -> None:
        self.in_flight -= 1
        self.statuses[status if status is not None else (error or "error")] += 1
        if status == 429:
            self.aimd.on_429(sent_at=sent_at, in_flight=self.in_flight, now=self.clock())
        elif status is not None and status < 400:
            self.aimd.on_success()
        self._wake_soon()

    def pause(self, seconds: float, reason: str) -> None:
        """Hold every new attempt for ``seconds`` (the service asked the whole run to wait)."""
        until = self.clock() + seconds
        if until > self.pause_until:
            self.pause_until, self.pause_reason = until, reason


def _is_read(response: httpx.Response) -> bool:
    """True for a response whose body is already in memory (an in-process transport's)."""
    try:
        response.content  # noqa: B018
    except httpx.ResponseNotRead:
        return False
    return True


def _with_body(response: httpx.Response, raw: bytes, request: httpx.Request) -> httpx.Response:
    """``response`` with its body read: raw bytes, so the client still decodes any Content-Encoding."""
    return httpx.Response(
        status_code=response.status_code,
        headers=response.headers,
        content=raw,
        extensions=response.extensions,
        request=request,
    )


class _GatedTransport(httpx.AsyncBaseTransport):
    """Passes each HTTP attempt (first tries and the client's retries alike) through the limiter."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limiter: _Limiter, *, owned: bool) -> None:
        self._inner = inner
        self._limiter = limiter
        self._owned = owned

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sent_at = await self._limiter.acquire()
        try:
            response = await self._inner.handle_async_request(request)
            if not _is_read(response):
                # Read the body here so the slot is held exactly while the service works on the request.
                try:
                    raw = b"".join([chunk async for chunk in response.aiter_raw()])
                finally:
                    await response.aclose()
                response = _with_body(response, raw, request)
        except BaseException as exc:
            self._limiter.release(sent_at, None, type(exc).__name__)
            _last_status.set(None)
            raise
        self._limiter.release(sent_at, response.status_code)
        _last_status.set(response.status_code)
        return response

    async def aclose(self) -> None:
        if self._owned:
            await self._inner.aclose()


class _ThreadedTransport(httpx.AsyncBaseTransport):
    """A custom synchronous transport driven from the engine's loop on worker threads."""

    def __init__(self, inner: httpx.BaseTransport, workers: int) -> None:
        self._inner = inner
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ttai-bulk-http")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        loop = asyncio.get_running_loop()
        request.read()

        def send() -> httpx.Response:
            response = self._inner.handle_request(request)
            if _is_read(response):
                return response
            try:
                raw = b"".join(response.iter_raw())  # on this thread: the loop must not block on I/O
            finally:
                response.close()
            return _with_body(response, raw, request)

        return await loop.run_in_executor(self._pool, send)

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False)


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once: loading the CA bundle takes ~25 ms, per transport."""
    return httpx.create_ssl_context(verify=True, trust_env=True)


def _env_proxy(url: str) -> str | None:
    """The proxy the environment sets for ``url`` (what httpx would use with trust_env), if any."""
    parsed = httpx.URL(url)
    if urllib.request.proxy_bypass(parsed.host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parsed.scheme) or proxies.get("all")


def _async_twin(client: Client | AsyncClient, limiter: _Limiter, workers: int) -> AsyncClient:
    """An :class:`AsyncClient` with ``client``'s settings and service, its requests passing the limiter.

    The sync client's own connection pool is not usable from another thread's event loop, so the twin
    gets an async transport to the same place: the sandbox's transport (both sync and async), the same
    custom transport when it speaks async, a thread-driven wrapper when it does not, or a fresh
    ``httpx.AsyncHTTPTransport`` (honouring the proxy environment variables) for the real service.
    """
    from .client import AsyncClient

    config = client.config
    inner = getattr(getattr(client, "_http", None), "_transport", None)
    owned = False
    if not isinstance(inner, httpx.AsyncBaseTransport):
        owned = True
        if inner is None or type(inner) is httpx.HTTPTransport:
            size = limiter.aimd.limit  # the limiter never lets more requests than this be in flight
            inner = httpx.AsyncHTTPTransport(
                verify=_ssl_context(),
                proxy=_env_proxy(config.base_url),
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            )
        else:
            inner = _ThreadedTransport(inner, workers)

    async def sleep(seconds: float) -> None:
        status = _last_status.get()
        if status == 429:
            reason = "429"
        elif status is None:
            reason = "retry after a connection error"
        elif status >= 500:
            reason = f"retry after {status}"
        else:
            reason = "analysis running" if status < 400 else f"retry after {status}"
        await limiter.wait(seconds, reason)

    twin = AsyncClient(
        token=config.token,
        base_url=config.base_url,
        timeout=config.timeout,
        max_retries=config.max_retries,
        org_id=config.org_id,
        transport=_GatedTransport(inner, limiter, owned=owned),
        app_url=config.app_url,
        retry_after_cap=config.retry_after_cap,
        backoff_initial=config.backoff_initial,
        backoff_max=config.backoff_max,
        cache_ttl=config.cache_ttl,
        sleep=sleep,
    )
    twin.sandbox_instance = getattr(client, "sandbox_instance", None)
    return twin


# --------------------------------------------------------------------------------------------------
# Progress: a tqdm.auto bar and/or a callable, always fed in the calling thread
# --------------------------------------------------------------------------------------------------


class _Progress:
    """A tqdm bar and/or a callable, fed in the calling thread.

    ``status`` (set by the engine) returns extra postfix parts, e.g. ``["triggered 120 · analysed 80"]``.
    """

    def __init__(self, progress: bool | Callable[[BulkEvent], Any], *, total: int, desc: str) -> None:
        self.callback = progress if callable(progress) else None
        self.total = total
        self.done = 0
        self.failed = 0
        self.unknown = 0
        self.bar = None
        self.status: Callable[[], list[str]] = list
        if progress is True and total:
            from tqdm.auto import tqdm  # widget in Jupyter, text in a terminal

            self.bar = tqdm(total=total, desc=desc, unit="session", dynamic_ncols=True)
        self._postfix = ""

    def event(self, event: BulkEvent) -> None:
        self.done += 1
        if event.outcome == "failed":
            self.failed += 1
        elif event.outcome == "outcome_unknown":
            self.unknown += 1
        if self.bar is not None:
            self.bar.update(1)
        if self.callback is not None:
            self.callback(dataclasses.replace(event, done=self.done, total=self.total))

    def tick(self, wait: tuple[float, str] | None) -> None:
        if self.bar is None:
            return
        parts = list(self.status())
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.unknown:
            parts.append(f"{self.unknown} outcome unknown")
        if wait is not None and wait[0] >= SHOW_WAIT_FROM:
            parts.append(f"waiting {wait[0]:.1f} s ({wait[1]})")
        postfix = ", ".join(parts)
        if postfix != self._postfix:
            self._postfix = postfix
            self.bar.set_postfix_str(postfix, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.tick(None)
            self.bar.close()
            self.bar = None


# --------------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------------

# A unit of work: the ids it covers (one for an analysis, up to a batch for a fetch).
_Unit = tuple[str, ...]
# Turns a unit's value into per-id results and per-id failures.
_Split = Callable[[_Unit, Any], tuple[dict[str, Any], dict[str, BaseException]]]


class _Engine:
    """Runs units on an event loop: a pool of workers, the limiter, store writes on one writer thread.

    Subclasses replace :meth:`_work` (what the run does with the async twin); the scaffolding around it
    (stop requests, shielded store writes, closing the twin) is shared.
    """

    def __init__(
        self,
        units: list[_Unit],
        op: Callable[[AsyncClient, _Unit], Awaitable[Any]] | None,
        split: _Split | None,
        write: Callable[[dict[str, Any]], Any] | None,
        *,
        concurrency: int,
        rate_limit: float | None,
        emit: Callable[[BulkEvent], None],
    ) -> None:
        self.units = units
        self.op = op
        self.split = split
        self.write = write
        self.concurrency = concurrency
        self.limiter = _Limiter(concurrency, rate_limit)
        self.emit = emit
        self.succeeded: dict[str, Any] = {}
        self.failed: dict[str, BaseException] = {}
        self.outcome_unknown: dict[str, BaseException] = {}
        self.store_errors: dict[str, BaseException] = {}
        self.writes = 0
        self.requeues = 0
        self.client_stats: dict[str, Any] = {}
        self._stop: asyncio.Event | None = None
        self._stop_requested = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.interrupted = False
        self._writer: ThreadPoolExecutor | None = None
        # Writes whose task was cancelled while they were queued or running: (ids, ok, bad, write).
        # They are shielded, so they still run; the items count as succeeded only once they have.
        self._orphaned: list[tuple[_Unit, dict[str, Any], dict[str, BaseException], asyncio.Future[Any]]] = []

    def request_stop(self) -> None:
        """Ask the run to stop; callable from any thread, before or during the run."""
        self._stop_requested.set()
        loop, stop = self.loop, self._stop
        if loop is not None and stop is not None:
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop has already closed: the run is over
                pass

    def n_workers(self) -> int:
        # Twice the slots in workers: a worker sleeping before a retry holds no slot, and the others
        # keep the window full meanwhile.
        return max(1, min(len(self.units), 2 * self.concurrency))

    def progress_status(self) -> list[str]:
        """Extra parts for the progress bar's postfix (read from the caller's thread)."""
        return []

    async def run(self, client: Client | AsyncClient) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_requested.is_set():  # asked before the loop existed
            self._stop.set()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ttai-bulk-store") if self.write else None
        twin = _async_twin(client, self.limiter, self.n_workers())
        main = asyncio.ensure_future(self._work(twin))
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait([stopper, main], return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not main.done():
                self.interrupted = True
            for task in (main, stopper):
                task.cancel()
            await asyncio.gather(main, stopper, return_exceptions=True)
            for unit, ok, bad, write in self._orphaned:
                # Settled only after the write completed, so whatever is reported succeeded is stored.
                try:
                    await write
                    self.writes += len(ok)
                except Exception as exc:
                    self.store_errors.update(dict.fromkeys(ok, exc))
                self._settle(unit, ok, bad)
            if self._writer is not None:
                # Writes already handed to the writer thread finish (at most one is running): what was
                # paid for is kept.
                self._writer.shutdown(wait=True)
            self.client_stats = twin.stats.as_dict()
            await twin.aclose()
        if not self.interrupted and not main.cancelled() and main.exception() is not None:
            raise main.exception()  # type: ignore[misc]  # a bug, not an item's failure: do not hide it

    async def _work(self, twin: AsyncClient) -> None:
        """Units through ``op`` on a pool of workers."""
        assert self.op is not None and self.split is not None
        op, split = self.op, self.split
        queue_: deque[_Unit] = deque(self.units)

        async def worker() -> None:
            while queue_:
                unit = queue_.popleft()
                try:
                    value = await self._call(twin, lambda u=unit: op(twin, u), repeatable=True)
                except Exception as exc:  # one item's failure never stops the others
                    self._settle(unit, {}, dict.fromkeys(unit, exc))
                else:
                    ok, bad = split(unit, value)
                    await self._deliver(unit, ok, bad)

        await asyncio.gather(*(worker() for _ in range(self.n_workers())))

    async def _call(self, twin: AsyncClient, call: Callable[[], Awaitable[Any]], *, repeatable: bool) -> Any:
        """``call()`` with the run's requeue policy on top of the client's own retries.

        A ``RateLimitError`` (the client gave up: Retry-After above its cap, or retries used up) pauses the
        whole run and tries again, at most :data:`MAX_REQUEUES` times. A 5xx or connection error that
        outlasted the client's retries backs off this call only (a burst on one request says nothing about
        the others) and tries again — only when ``repeatable``; a charging request (``repeatable=False``) is
        tried again only after a connection error the client reports as before sending. Never an
        :class:`OutcomeUnknownError`: repeating it could create or charge twice.
        """
        config = twin.config
        tries = 0
        while True:
            try:
                return await call()
            except RateLimitError as exc:
                wait = exc.retry_after if exc.retry_after is not None else DEFAULT_PAUSE
                if tries >= MAX_REQUEUES or wait > MAX_PAUSE:
                    raise
                # The client would not sleep that long on its own; a bulk run can, visibly.
                self.requeues += 1
                self.limiter.pause(wait, "429")
            except (ServerError, APIConnectionError) as exc:
                again = repeatable or isinstance(exc, APIConnectionError)
                if tries >= MAX_REQUEUES or not again:
                    raise
                self.requeues += 1
                delay = backoff_delay(config.max_retries + tries, initial=config.backoff_initial, cap=config.backoff_max)
                reason = "retry after a connection error" if isinstance(exc, APIConnectionError) else (
                    f"retry after {exc.status_code}" if getattr(exc, "status_code", None) else "retry"
                )
                await self.limiter.wait(delay, reason)
            tries += 1

    async def _deliver(self, unit: _Unit, ok: dict[str, Any], bad: dict[str, BaseException]) -> None:
        """Write ``ok`` to the store (shielded from cancellation), then settle the unit."""
        if ok and self._writer is not None:
            assert self.loop is not None and self.write is not None
            write = self.loop.run_in_executor(self._writer, self.write, ok)
            try:
                # Shielded: cancelling the task must not cancel a write still queued behind another on
                # the writer thread; what was paid for is kept.
                await asyncio.shield(write)
                self.writes += len(ok)
            except asyncio.CancelledError:
                self._orphaned.append((unit, ok, bad, write))
                raise
            except Exception as exc:
                self.store_errors.update(dict.fromkeys(ok, exc))
        self._settle(unit, ok, bad)

    def _settle(self, unit: _Unit, ok: dict[str, Any], bad: dict[str, BaseException]) -> None:
        self.succeeded.update(ok)
        self.failed.update(bad)
        for sid in unit:
            if sid in ok:
                self.emit(self._event(sid, "succeeded", value=ok[sid]))
            elif sid in bad:
                self.emit(self._event(sid, "failed", error=bad[sid]))

    def _settle_unknown(self, sid: str, error: BaseException) -> None:
        self.outcome_unknown[sid] = error
        self.emit(self._event(sid, "outcome_unknown", error=error))

    def _event(self, sid: str, outcome: Any, *, value: Any = None, error: BaseException | None = None) -> BulkEvent:
        return BulkEvent(sid, outcome, value=value, error=error)

    def stats(self) -> dict[str, Any]:
        lim = self.limiter
        return {
            "requests": lim.requests,
            "responses": dict(lim.statuses),
            "responses_429": lim.statuses.get(429, 0),
            "peak_in_flight": lim.peak,
            "concurrency": self.concurrency,
            "window_final": lim.aimd.allowed(),
            "window_lowest": max(1, int(lim.aimd.lowest)),
            "window_decreases": lim.aimd.decreases,
            "wait_seconds": round(lim.wait_seconds, 3),
            "requeues": self.requeues,
            "store_writes": self.writes,
            "client": self.client_stats,
        }


# --------------------------------------------------------------------------------------------------
# Analysis as the service does it today: trigger post-process, poll in batches (pure decisions first)
# --------------------------------------------------------------------------------------------------

#: Ids per poll request (``GET /v2/sessions/batch`` takes up to 100).
POLL_BATCH = 100
#: Adaptive polling: a session still without results is asked again after this share of its age ...
POLL_STEP_RATIO = 0.25
#: ... but never sooner than this, nor later than this (seconds).
POLL_MIN_STEP = 0.5
POLL_MAX_STEP = 5.0
#: Least time between two poll rounds: sessions that come due meanwhile share the next round's requests.
POLL_MIN_GAP = 0.25
#: A round also takes sessions due within this many seconds, to fill requests that are sent anyway.
POLL_LOOKAHEAD = 0.5


@dataclasses.dataclass
class _PollSchedule:
    """When to ask again about a triggered session that has no results yet: pure decisions.

    With a fixed ``interval`` (the caller's ``poll_interval``) every session is polled that often. Without
    one (the default) the schedule adapts to the service: a session is polled after a quarter of its age
    (0.5–5 s), so a 3 s analysis is seen within ~0.75 s and a 30 s one costs a handful of polls; and once
    this run has seen results arrive (``expected``: the shortest trigger-to-results time seen), a session
    is not polled before it is that old.

    Examples
    --------
    >>> s = _PollSchedule()
    >>> s.next_age(0.0), s.next_age(4.0), s.next_age(60.0)
    (0.5, 5.0, 65.0)
    >>> s.learn(3.0)
    >>> s.next_age(0.5)
    3.0
    >>> _PollSchedule(interval=1.0).next_age(7.0)
    8.0
    """

    interval: float | None = None
    expected: float | None = None

    def next_age(self, age: float) -> float:
        """The age (seconds since its trigger) at which to poll a session not done at ``age``."""
        if self.interval is not None:
            return age + self.interval
        step = min(POLL_MAX_STEP, max(POLL_MIN_STEP, POLL_STEP_RATIO * age))
        if self.expected is not None and age + step < self.expected:
            return self.expected  # results are not expected before then: skip the polls in between
        return age + step

    def learn(self, age: float) -> None:
        """A session's results were seen ``age`` seconds after its trigger."""
        if age > 0 and (self.expected is None or age < self.expected):
            self.expected = age


def _poll_round(due: dict[str, float], now: float, *, batch: int = POLL_BATCH,
               lookahead: float = POLL_LOOKAHEAD) -> list[list[str]]:
    """The requests of one poll round: id lists of at most ``batch`` ids.

    Every session due by ``now`` is asked about, in ``ceil(due / batch)`` requests; room left in the last
    request goes to the sessions due next (within ``lookahead``), which cost nothing extra.

    Examples
    --------
    >>> _poll_round({"a": 1.0, "b": 5.0, "c": 1.2}, 2.0)
    [['a', 'c']]
    >>> [len(r) for r in _poll_round({str(i): float(i) for i in range(250)}, 150.0, lookahead=0.0)]
    [100, 51]
    """
    ready = sorted((d, sid) for sid, d in due.items() if d <= now)
    if not ready:
        return []
    room = -len(ready) % batch
    if room:
        later = sorted((d, sid) for sid, d in due.items() if now < d <= now + lookahead)
        ready += later[:room]
    ids = [sid for _, sid in ready]
    return [ids[i : i + batch] for i in range(0, len(ids), batch)]


@dataclasses.dataclass
class _Pending:
    """A triggered session waiting for its results."""

    triggered_at: float
    due: float
    before: Session | None  # as it was before the trigger: new results are told from old ones by it
    ambiguous: BaseException | None = None  # the trigger failed ambiguously: did it take effect?
    last: Session | None = None


class _Triggered:
    """Triggers whose results a run has not seen yet, kept per service for the rest of the process.

    A run stopped by Ctrl-C leaves analyses running on the service; rerunning the cell must not trigger
    (and pay for) them again. The rerun finds them here and polls for their results instead, until their
    wait timeout has passed since the trigger.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_service: dict[Any, dict[str, tuple[float, Session | None, BaseException | None]]] = {}

    def take(
        self, key: Any, sid: str, now: float, wait_timeout: float
    ) -> tuple[float, Session | None, BaseException | None] | None:
        with self._lock:
            entry = self._by_service.get(key, {}).get(sid)
            if entry is not None and now - entry[0] >= wait_timeout:
                return None
            return entry

    def add(self, key: Any, sid: str, at: float, before: Session | None, ambiguous: BaseException | None) -> None:
        with self._lock:
            self._by_service.setdefault(key, {})[sid] = (at, before, ambiguous)

    def drop(self, key: Any, sid: str) -> None:
        with self._lock:
            entries = self._by_service.get(key)
            if entries is not None:
                entries.pop(sid, None)
                if not entries:
                    del self._by_service[key]


_TRIGGERED = _Triggered()
#: Services (see :func:`_service_key`) found without a post-process route: later runs start on v1 at once.
_NO_POST_PROCESS: set[Any] = set()


def _service_key(client: Client | AsyncClient) -> Any:
    """Which service a client talks to: base URL and organisation, and the sandbox object if any (every
    in-process sandbox has the same base URL)."""
    config = client.config
    box = getattr(client, "sandbox_instance", None)
    transport = getattr(getattr(client, "_http", None), "_transport", None)
    return (config.base_url, config.org_id, id(box) if box is not None else id(transport))


def _unknown_after_wait(sid: str, error: BaseException, wait_timeout: float) -> OutcomeUnknownError:
    exc = OutcomeUnknownError(
        f"post-process for session {sid} failed without a clear answer ({error}), and no results appeared "
        f"within {wait_timeout:g} s. It may still be running (and charged once), or it never started. It was "
        f"not triggered again, so as not to charge twice: check client.sessions.get({sid!r}) later, and "
        "analyse it again only if it still has no results.",
        status_code=getattr(error, "status_code", None),
    )
    exc.__cause__ = error
    return exc


def _unknown_forced(sid: str, error: BaseException) -> OutcomeUnknownError:
    exc = OutcomeUnknownError(
        f"the forced re-run of session {sid} failed without a clear answer ({error}). The session already had "
        "results, so whether a new run started (and was charged) cannot be told from them. It was not "
        f"triggered again, so as not to charge twice: check client.sessions.get({sid!r}) later.",
        status_code=getattr(error, "status_code", None),
    )
    exc.__cause__ = error
    return exc


def _timed_out(sid: str, wait_timeout: float, last: Session | None, before: Session | None) -> WaitTimeoutError:
    same = (
        " Its results still read exactly as before the re-run (a batch read carries no updated_at, so a re-run "
        "with identical results cannot be told from none)."
        if before is not None and before.is_analyzed
        else ""
    )
    return WaitTimeoutError(
        f"session {sid}: no new analysis results within {wait_timeout:g} s of triggering post-process (the "
        f"service accepted it and charged it once).{same} It may still finish: check client.sessions.get("
        f"{sid!r}) later; analysing it again would be charged again. Pass a larger wait_timeout= to wait longer.",
        session=last,
    )


class _AnalyzeEngine(_Engine):
    """``analyze_many`` through post-process: batch read, bounded triggers, batched polls.

    1. One batch read of every session (``get_many``, 100 ids a request): unknown ids fail, sessions that
       already have results succeed without a charge (unless ``force``), the rest are remembered as they
       were (to tell new results from old ones).
    2. Triggers (``post_process``) on a pool of workers under the run's window; the first alone, so a
       service without the route costs one request before the whole run switches to v1 ``analyze``.
    3. One poller: rounds of batched reads of the sessions that are due (:class:`_PollSchedule`,
       :func:`_poll_round`), results written to the store as each round brings them.
    """

    def __init__(self, ids: list[str], *, force: bool, wait_timeout: float, poll_interval: float | None,
                 service: Any, write: Callable[[dict[str, Any]], Any] | None, concurrency: int,
                 rate_limit: float | None, emit: Callable[[BulkEvent], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__([(i,) for i in ids], None, None, write, concurrency=concurrency, rate_limit=rate_limit,
                         emit=emit)
        self.ids = ids
        self.force = force
        self.wait_timeout = wait_timeout
        self.schedule = _PollSchedule(interval=poll_interval)
        self.service = service
        self.clock = clock
        self.mode = "post_process"
        self.pending: dict[str, _Pending] = {}
        self.triggered = 0
        self.already_analyzed = 0
        self.resumed = 0
        self.prefetch_requests = 0
        self.poll_requests = 0
        self.poll_rounds = 0
        self.poll_errors = 0
        self.v1_analyses = 0
        self._changed: asyncio.Event | None = None
        self._triggers_done = False
        self._wake_at = -math.inf  # when the poller's next round is planned (inf: waiting for triggers)

    # -- reporting ---------------------------------------------------------------------------------

    def progress_status(self) -> list[str]:
        if self.mode == "v1":
            return [f"v1 analyse · analysed {len(self.succeeded)}"]
        return [f"triggered {self.triggered} · analysed {len(self.succeeded)}"]

    def _event(self, sid: str, outcome: Any, *, value: Any = None, error: BaseException | None = None) -> BulkEvent:
        return BulkEvent(sid, outcome, value=value, error=error, triggered=self.triggered)

    def stats(self) -> dict[str, Any]:
        out = super().stats()
        out.update(
            mode=self.mode,
            triggered=self.triggered,
            already_analyzed=self.already_analyzed,
            resumed_from_earlier_run=self.resumed,
            v1_analyses=self.v1_analyses,
            prefetch_requests=self.prefetch_requests,
            poll_requests=self.poll_requests,
            poll_rounds=self.poll_rounds,
            poll_errors=self.poll_errors,
            expected_analysis_s=None if self.schedule.expected is None else round(self.schedule.expected, 3),
            still_running=len(self.pending),
        )
        return out

    def n_workers(self) -> int:
        return max(1, min(len(self.ids), 2 * self.concurrency))

    # -- the run -----------------------------------------------------------------------------------

    async def _work(self, twin: AsyncClient) -> None:
        self._changed = asyncio.Event()
        if self.mode == "v1":
            # Known to lack post-process: the brief's analyse answers analysed sessions free, so there is
            # nothing to read first (and no probe to send).
            queue_ = deque(self.ids)

            async def worker() -> None:
                while queue_:
                    await self._analyze_v1(twin, queue_.popleft())

            await asyncio.gather(*(worker() for _ in range(self.n_workers())))
            return
        before = await self._prefetch(twin)
        now = self.clock()
        free: dict[str, Any] = {}
        todo: list[str] = []
        for sid in self.ids:
            if sid in self.failed or sid not in before:
                continue
            session = before[sid]
            earlier = _TRIGGERED.take(self.service, sid, now, self.wait_timeout)
            fresh = earlier is not None and has_new_results(session, earlier[1])
            if session.is_analyzed and (not self.force or fresh):
                free[sid] = session.analysis  # already there: no trigger, no charge
                _TRIGGERED.drop(self.service, sid)
            elif earlier is not None:
                # Triggered by an earlier, interrupted run and still within its wait: poll, do not pay again.
                at, was, ambiguous = earlier
                self.resumed += 1
                self._add_pending(sid, _Pending(at, now, was, ambiguous), remember=False)
            else:
                todo.append(sid)
        self.already_analyzed = len(free)
        if free:
            await self._deliver(tuple(free), free, {})
        poller = asyncio.ensure_future(self._poller(twin))
        try:
            await self._trigger_all(twin, todo, before)
            self._triggers_done = True
            self._changed.set()  # an idle poller must see that nothing more is coming
            await poller
        finally:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)

    async def _prefetch(self, twin: AsyncClient) -> dict[str, Session]:
        """Every session once, by batch reads; unknown ids fail here without a trigger."""
        found: dict[str, Session] = {}

        async def chunk(ids: list[str]) -> None:
            try:
                self.prefetch_requests += 1
                sessions = await self._call(twin, lambda: twin.sessions.get_many(ids), repeatable=True)
            except Exception as exc:
                self._settle(tuple(ids), {}, dict.fromkeys(ids, exc))
                return
            got = {s.id: s for s in sessions}
            found.update(got)
            missing = {sid: NotFoundError(f"Session {sid} not found", status_code=404) for sid in ids if sid not in got}
            if missing:
                self._settle(tuple(missing), {}, missing)  # type: ignore[arg-type]

        ids = self.ids
        await asyncio.gather(*(chunk(ids[i : i + POLL_BATCH]) for i in range(0, len(ids), POLL_BATCH)))
        return found

    async def _trigger_all(self, twin: AsyncClient, todo: list[str], before: dict[str, Session]) -> None:
        if not todo:
            return
        # The first alone: on a service without post-process, one request (not a window of them) finds out.
        await self._one(twin, todo[0], before)
        queue_ = deque(todo[1:])

        async def worker() -> None:
            while queue_:
                sid = queue_.popleft()
                await self._one(twin, sid, before)

        await asyncio.gather(*(worker() for _ in range(min(len(queue_), self.n_workers()))))

    async def _one(self, twin: AsyncClient, sid: str, before: dict[str, Session]) -> None:
        if self.mode == "v1":
            await self._analyze_v1(twin, sid)
            return
        was = before.get(sid)
        try:
            await self._call(twin, lambda: twin.sessions.post_process(sid), repeatable=False)  # type: ignore[attr-defined]
        except NotSupportedError:
            self.mode = "v1"  # the client remembers: later post_process calls raise at once, unsent
            _NO_POST_PROCESS.add(self.service)  # and so does this process, for the next run
            await self._analyze_v1(twin, sid)
        except (OutcomeUnknownError, ServerError) as exc:
            if was is not None and was.is_analyzed:
                # A forced re-run: old and new results cannot be told apart reliably, and a second trigger
                # could be a second charge. Reported, not retried.
                self._settle_unknown(sid, _unknown_forced(sid, exc))
                return
            # Did the first run take effect? Results that appear for a session that had none say it did.
            now = self.clock()
            self._add_pending(sid, _Pending(now, now + self.schedule.next_age(0.0), was, exc))
        except Exception as exc:  # not completed (400), unknown (404), no credit (403), ...
            self._settle((sid,), {}, {sid: exc})
        else:
            self.triggered += 1
            now = self.clock()
            self._add_pending(sid, _Pending(now, now + self.schedule.next_age(0.0), was))

    async def _analyze_v1(self, twin: AsyncClient, sid: str) -> None:
        """The brief's synchronous analyse, for a service without post-process (free when analysed)."""
        try:
            analysis = await self._call(
                twin,
                lambda: twin.sessions.analyze(sid, force=self.force, wait_timeout=self.wait_timeout),
                repeatable=not self.force,  # a forced analyse charges: not repeated after an ambiguous failure
            )
        except (OutcomeUnknownError, ServerError) as exc:
            if self.force:
                self._settle_unknown(sid, _unknown_forced(sid, exc))
            else:
                self._settle((sid,), {}, {sid: exc})
        except Exception as exc:
            self._settle((sid,), {}, {sid: exc})
        else:
            self.v1_analyses += 1
            await self._deliver((sid,), {sid: analysis}, {})

    def _add_pending(self, sid: str, pending: _Pending, *, remember: bool = True) -> None:
        pending.due = min(pending.due, pending.triggered_at + self.wait_timeout)
        self.pending[sid] = pending
        if remember:
            _TRIGGERED.add(self.service, sid, pending.triggered_at, pending.before, pending.ambiguous)
        if pending.due < self._wake_at:  # else the poller's next round comes first anyway: let it sleep
            assert self._changed is not None
            self._changed.set()

    # -- polling -----------------------------------------------------------------------------------

    async def _poller(self, twin: AsyncClient) -> None:
        assert self._changed is not None
        changed = self._changed
        last_round = -math.inf
        interval = self.schedule.interval
        gap = POLL_MIN_GAP if interval is None else min(POLL_MIN_GAP, interval)  # the caller's interval wins
        while True:
            changed.clear()
            if not self.pending:
                if self._triggers_done:
                    return
                self._wake_at = math.inf
                await changed.wait()
                continue
            now = self.clock()
            wake = max(min(p.due for p in self.pending.values()), last_round + gap)
            self._wake_at = wake
            if wake > now:
                try:
                    # Woken early only by a session due before the planned round (see _add_pending).
                    await asyncio.wait_for(changed.wait(), wake - now)
                except asyncio.TimeoutError:
                    pass
                continue
            last_round = now
            rounds = _poll_round({sid: p.due for sid, p in self.pending.items()}, now)
            self.poll_rounds += 1
            await asyncio.gather(*(self._poll(twin, ids) for ids in rounds))

    async def _poll(self, twin: AsyncClient, ids: list[str]) -> None:
        self.poll_requests += 1
        _urgent.set(True)  # this task only (gather wraps each poll in its own task)
        try:
            sessions = await twin.sessions.get_many(ids)
        except RateLimitError as exc:
            self.poll_errors += 1
            wait = exc.retry_after if exc.retry_after is not None else DEFAULT_PAUSE
            self.limiter.pause(min(wait, MAX_PAUSE), "429")
            self._reschedule(ids, self.clock())
            return
        except (AuthenticationError, PermissionDeniedError) as exc:
            # Will not get better by asking again: these sessions cannot be followed.
            for sid in ids:
                if self.pending.pop(sid, None) is not None:
                    _TRIGGERED.drop(self.service, sid)
                    self._settle((sid,), {}, {sid: exc})
            return
        except Exception:
            self.poll_errors += 1  # transient (the client's retries ran out): the next round asks again
            self._reschedule(ids, self.clock())
            return
        now = self.clock()
        got = {s.id: s for s in sessions}
        done: dict[str, Any] = {}
        for sid in ids:
            pending = self.pending.get(sid)
            if pending is None:
                continue
            session = got.get(sid)
            if session is not None:
                pending.last = session
            if session is not None and has_new_results(session, pending.before):
                del self.pending[sid]
                if pending.ambiguous is None:
                    self.schedule.learn(now - pending.triggered_at)
                else:
                    self.triggered += 1  # the ambiguous trigger did take effect (charged once)
                done[sid] = session.analysis
            elif now - pending.triggered_at >= self.wait_timeout:
                del self.pending[sid]
                _TRIGGERED.drop(self.service, sid)
                if pending.ambiguous is not None:
                    self._settle_unknown(sid, _unknown_after_wait(sid, pending.ambiguous, self.wait_timeout))
                else:
                    self._settle((sid,), {}, {sid: _timed_out(sid, self.wait_timeout, pending.last, pending.before)})
        self._reschedule(ids, now)
        if done:
            for sid in done:
                _TRIGGERED.drop(self.service, sid)
            await self._deliver(tuple(done), done, {})

    def _reschedule(self, ids: list[str], now: float) -> None:
        for sid in ids:
            pending = self.pending.get(sid)
            if pending is not None:
                age = now - pending.triggered_at
                pending.due = min(pending.triggered_at + self.schedule.next_age(age),
                                  pending.triggered_at + self.wait_timeout)


# --------------------------------------------------------------------------------------------------
# Running the engine: from sync code on a private loop in a worker thread; from async code in place
# --------------------------------------------------------------------------------------------------

_TICK = 0.1  # seconds between progress-bar refreshes (waits count down on the bar)


def _run_sync(engine: _Engine, client: Client | AsyncClient, progress: _Progress) -> None:
    """Run the engine on its own loop in a worker thread; feed the progress bar from this thread.

    A notebook cell already runs inside Jupyter's event loop, so ``asyncio.run`` cannot be used here; the
    private loop in a thread works from any caller. A KeyboardInterrupt arriving in this thread (Ctrl-C,
    the kernel's interrupt button, or raised by a ``progress=`` callable) stops the engine cleanly and
    is re-raised as :class:`BulkInterrupted` by the caller.
    """
    events: queue.SimpleQueue[BulkEvent | None] = queue.SimpleQueue()
    engine.emit = events.put
    failure: list[BaseException] = []

    def target() -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(engine.run(client))
            loop.run_until_complete(loop.shutdown_asyncgens())
        except BaseException as exc:  # reported to the caller's thread
            failure.append(exc)
        finally:
            loop.close()
            events.put(None)

    thread = threading.Thread(target=target, name="ttai-bulk", daemon=True)
    thread.start()
    finished = False
    try:
        while not finished:
            try:
                event = events.get(timeout=_TICK)
            except queue.Empty:
                progress.tick(engine.limiter.current_wait())
                continue
            if event is None:
                finished = True
            else:
                progress.event(event)
                progress.tick(engine.limiter.current_wait())
    except BaseException:
        engine.request_stop()
        engine.interrupted = True
        _join(thread)
        progress.callback = None  # the caller asked to stop: no more calls into its code
        while True:  # results that arrived meanwhile still count on the bar (and are in the result)
            try:
                event = events.get_nowait()
            except queue.Empty:
                break
            if event is not None:
                progress.event(event)
        raise
    if failure:
        raise failure[0]


def _join(thread: threading.Thread) -> None:
    # A second Ctrl-C while the run winds down must not leave the store half-written: keep waiting.
    while thread.is_alive():
        try:
            thread.join()
        except KeyboardInterrupt:
            continue


async def _run_async(engine: _Engine, client: Client | AsyncClient, progress: _Progress) -> None:
    async def ticker() -> None:
        while True:
            progress.tick(engine.limiter.current_wait())
            await asyncio.sleep(_TICK)

    callback_error: list[BaseException] = []

    def emit(event: BulkEvent) -> None:
        try:
            progress.event(event)
        except BaseException as exc:  # a KeyboardInterrupt from the callback stops the run cleanly
            callback_error.append(exc)
            progress.callback = None
            engine.request_stop()

    engine.emit = emit
    tick = asyncio.ensure_future(ticker())
    try:
        await engine.run(client)
    finally:
        tick.cancel()
        await asyncio.gather(tick, return_exceptions=True)
    if callback_error:
        raise callback_error[0]


# --------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------


def _check(client: Any, concurrency: Any, rate_limit: Any, progress: Any, store: Any, flags: dict[str, Any]) -> None:
    """Refuse bad arguments before anything is sent or started."""
    _check_client(client)
    _check_options(concurrency, rate_limit, progress, flags)
    _check_store(store)


def _check_options(concurrency: Any, rate_limit: Any, progress: Any, flags: dict[str, Any]) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValidationError(
            f"concurrency must be an integer from 1 to {MAX_CONCURRENCY} (requests in flight), got {concurrency!r}",
            field="concurrency",
        )
    if rate_limit is not None and (
        isinstance(rate_limit, bool)
        or not isinstance(rate_limit, (int, float))
        or not math.isfinite(rate_limit)
        or rate_limit <= 0
    ):
        raise ValidationError(
            f"rate_limit must be None or a positive number of requests per minute, got {rate_limit!r}",
            field="rate_limit",
        )
    if not (isinstance(progress, bool) or callable(progress)):
        raise ValidationError(
            f"progress must be True, False or a callable taking a BulkEvent, got {progress!r}", field="progress"
        )
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise ValidationError(f"{name} must be True or False, got {value!r}", field=name)


def _check_ids(ids: Any) -> list[str]:
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise ValidationError(
            f"ids must be a list of session ids (or Session objects), got {type(ids).__name__}", field="ids"
        )
    out: list[str] = []
    for item in ids:
        sid = item.id if isinstance(item, Session) else item
        if not isinstance(sid, str) or not sid.strip():
            raise ValidationError(f"every id must be a non-empty string or a Session, got {item!r}", field="ids")
        out.append(sid.strip())
    return list(dict.fromkeys(out))  # once each, in the order given


def _check_store(store: Any) -> None:
    from .store import Store

    if store is not None and not isinstance(store, Store):
        raise ValidationError(f"store must be a tt.Store or None, got {type(store).__name__}", field="store")


def _check_client(client: Any) -> None:
    if not hasattr(client, "config") or not hasattr(client, "sessions"):
        raise ValidationError(f"client must be a tt.Client or tt.AsyncClient, got {type(client).__name__}", field="client")
    if client.config.token is None:
        raise AuthenticationError(NO_TOKEN_MESSAGE)


# Builds a plan's engine: (concurrency, rate_limit, emit) -> engine.
_EngineFactory = Callable[[int, "float | None", Callable[[BulkEvent], None]], _Engine]


@dataclasses.dataclass
class _Plan:
    kind: str
    todo: list[str]
    skipped: list[str]
    engine: _EngineFactory
    desc: str


def _analyze_plan(client: Client | AsyncClient, ids: list[str], store: Store | None, skip_analyzed: bool,
                  force: bool, wait_timeout: float, poll_interval: float | None) -> _Plan:
    skipped: list[str] = []
    todo = ids
    if store is not None and skip_analyzed and not force:
        done = store.analyzed_ids()
        skipped = [i for i in ids if i in done]
        todo = [i for i in ids if i not in done]
    write = (lambda ok: store.put_analyses(ok)) if store is not None else None
    service = _service_key(client)
    v1 = service in _NO_POST_PROCESS or "sessions.post_process" in getattr(client, "missing_routes", ())

    def engine(concurrency: int, rate_limit: float | None, emit: Callable[[BulkEvent], None]) -> _Engine:
        run = _AnalyzeEngine(todo, force=force, wait_timeout=wait_timeout, poll_interval=poll_interval,
                             service=service, write=write, concurrency=concurrency, rate_limit=rate_limit,
                             emit=emit)
        if v1:
            run.mode = "v1"
        return run

    desc = "Analysing" + (f" ({len(skipped)} already stored)" if skipped else "")
    return _Plan("analyze", todo, skipped, engine, desc)


def _fetch_plan(ids: list[str], store: Store | None, skip_stored: bool, batch_size: int) -> _Plan:
    skipped: list[str] = []
    todo = ids
    if store is not None and skip_stored:
        known = store.session_ids()
        skipped = [i for i in ids if i in known]
        todo = [i for i in ids if i not in known]
    units = [tuple(todo[i : i + batch_size]) for i in range(0, len(todo), batch_size)]

    async def op(twin: AsyncClient, unit: _Unit) -> list[Session]:
        return await twin.sessions.get_many(list(unit))

    def split(unit: _Unit, sessions: list[Session]) -> tuple[dict[str, Any], dict[str, BaseException]]:
        found = {s.id: s for s in sessions}
        ok = {sid: found[sid] for sid in unit if sid in found}
        bad: dict[str, BaseException] = {
            sid: NotFoundError(f"session {sid} was not found", status_code=404) for sid in unit if sid not in found
        }
        return ok, bad

    write = (lambda ok: store.put_sessions(ok.values())) if store is not None else None

    def engine(concurrency: int, rate_limit: float | None, emit: Callable[[BulkEvent], None]) -> _Engine:
        return _Engine(units, op, split, write, concurrency=concurrency, rate_limit=rate_limit, emit=emit)

    desc = "Fetching" + (f" ({len(skipped)} already stored)" if skipped else "")
    return _Plan("fetch", todo, skipped, engine, desc)


def _result(plan: _Plan, engine: _Engine, ids: list[str], started: float) -> BulkResult:
    succeeded = {i: engine.succeeded[i] for i in ids if i in engine.succeeded}
    failed = {i: engine.failed[i] for i in ids if i in engine.failed}
    unknown = {i: engine.outcome_unknown[i] for i in ids if i in engine.outcome_unknown}
    skipped_set = set(plan.skipped)
    remaining = [i for i in ids if i not in succeeded and i not in failed and i not in unknown and i not in skipped_set]
    return BulkResult(
        succeeded=succeeded,
        failed=failed,
        skipped=list(plan.skipped),
        remaining=remaining,
        interrupted=engine.interrupted,
        elapsed=time.perf_counter() - started,
        stats=engine.stats(),
        store_errors=dict(engine.store_errors),
        kind=plan.kind,
        outcome_unknown=unknown,
    )


def _execute_sync(client: Client, plan: _Plan, ids: list[str], concurrency: int, rate_limit: float | None,
                  progress: bool | Callable[[BulkEvent], Any]) -> BulkResult:
    started = time.perf_counter()
    bar = _Progress(progress, total=len(plan.todo), desc=plan.desc)
    engine = plan.engine(concurrency, rate_limit, bar.event)
    bar.status = engine.progress_status
    try:
        if plan.todo:
            _run_sync(engine, client, bar)
    except KeyboardInterrupt as exc:
        raise BulkInterrupted(_result(plan, engine, ids, started)) from exc
    finally:
        bar.close()
    return _result(plan, engine, ids, started)


async def _execute_async(client: Client | AsyncClient, plan: _Plan, ids: list[str], concurrency: int,
                         rate_limit: float | None, progress: bool | Callable[[BulkEvent], Any]) -> BulkResult:
    started = time.perf_counter()
    bar = _Progress(progress, total=len(plan.todo), desc=plan.desc)
    engine = plan.engine(concurrency, rate_limit, bar.event)
    bar.status = engine.progress_status
    try:
        if plan.todo:
            await _run_async(engine, client, bar)
    except KeyboardInterrupt as exc:
        raise BulkInterrupted(_result(plan, engine, ids, started)) from exc
    finally:
        bar.close()
    return _result(plan, engine, ids, started)


def _check_waits(wait_timeout: Any, poll_interval: Any) -> None:
    if isinstance(wait_timeout, bool) or not isinstance(wait_timeout, (int, float)) or not (
        math.isfinite(wait_timeout) and wait_timeout > 0
    ):
        raise ValidationError(
            f"wait_timeout must be a positive number of seconds, got {wait_timeout!r}", field="wait_timeout"
        )
    if poll_interval is not None and (
        isinstance(poll_interval, bool)
        or not isinstance(poll_interval, (int, float))
        or not (math.isfinite(poll_interval) and poll_interval > 0)
    ):
        raise ValidationError(
            f"poll_interval must be None (adaptive) or a positive number of seconds, got {poll_interval!r}",
            field="poll_interval",
        )


_ANALYZE_DOC = """
    Parameters
    ----------
    client : Client or AsyncClient
        Any client (sandbox or service). Its settings (token, base URL, retries, timeouts) are used.
    ids : iterable of str or Session
        Sessions to analyse (duplicates are done once; the result keeps the order given).
    concurrency : int
        Most requests in flight at once (1–256): triggers and polls alike. A 429 halves the allowed
        number and successes grow it back (AIMD); it never exceeds ``concurrency``.
    rate_limit : float, optional
        Most requests per minute (every attempt counts, retries and polls included), evenly spaced.
    store : Store, optional
        Each analysis is written there as it arrives.
    progress : bool or callable
        ``True``: a ``tqdm.auto`` bar (a widget in Jupyter, text in a terminal) counting finished
        sessions, with ``triggered N · analysed M`` and any waits ("waiting 1.0 s (429)") beside it;
        ``False``: nothing; a callable: called with a :class:`BulkEvent` per finished session, in the
        calling thread.
    skip_analyzed : bool
        Skip, without any request, ids whose analysis the store already holds. Sessions that already
        carry results on the service are never triggered either (unless ``force``): their analysis comes
        from the first batch read, free, and is in ``.succeeded``.
    force : bool
        Analyse again even what is already analysed (charged again by the service; skips nothing). A
        session counts as done when its results are *new* (a later ``updated_at`` or a different
        evaluation).
    wait_timeout : float
        Seconds to wait for each session's results after its trigger (default 120). A session whose
        results do not arrive in time is in ``.failed`` (:class:`WaitTimeoutError`, charged once: the
        analysis may still finish), or in ``.outcome_unknown`` when its trigger had failed ambiguously.
    poll_interval : float, optional
        Seconds between polls of a session still waiting. Default None: adaptive — a quarter of the time
        the session has waited (0.5–5 s), and no sooner than results have been taking in this run. Polls
        are batched (100 sessions a request) whatever the interval.

    Returns
    -------
    BulkResult
        ``.succeeded`` (id → Analysis), ``.failed`` (id → exception), ``.skipped``,
        ``.outcome_unknown`` (id → error; not triggered again), ``.stats`` (``mode``: ``"post_process"``
        or ``"v1"``, ``triggered``, ``already_analyzed``, ``poll_requests``, ...).

    Notes
    -----
    How it runs: one batch read of the sessions (100 ids a request); a ``post-process`` trigger for each
    one without results (the first alone: where the service has no such route, the whole run uses the
    synchronous v1 ``POST /sessions/analyze`` instead); batched polls until each has results. A trigger
    is charged on every call, so it is never repeated after an ambiguous failure (5xx, lost response):
    the run polls, and results that appear for a session that had none mean the first trigger took
    effect (charged once). For a forced re-run the old results cannot vouch for a new run, so such an item
    is reported in ``.outcome_unknown`` at once.

    Raises
    ------
    BulkInterrupted
        On Ctrl-C / kernel interrupt (a ``KeyboardInterrupt``): the run stops at once, in-flight writes
        finish, and the exception's ``.result`` holds the partial :class:`BulkResult`. With a store,
        rerunning the same call resumes: nothing already stored is requested again, and analyses the
        stopped run had triggered are polled for (within ``wait_timeout``), not triggered and paid again.
"""


def analyze_many(
    client: Client | AsyncClient,
    ids: Iterable[str | Session],
    *,
    concurrency: int = 8,
    rate_limit: float | None = None,
    store: Store | None = None,
    progress: bool | Callable[[BulkEvent], Any] = True,
    skip_analyzed: bool = True,
    force: bool = False,
    wait_timeout: float = 120.0,
    poll_interval: float | None = None,
) -> BulkResult:
    """Analyse many sessions concurrently; usable from a plain (sync) notebook cell.

    The engine runs on a private event loop in a worker thread (a notebook cell already runs inside
    Jupyter's loop), through an async twin of ``client`` with the same settings.

    Examples
    --------
    >>> import ttai_notebook as tt
    >>> client = tt.Client.sandbox(seed=0)
    >>> ids = [s.id for s in client.sessions.list(max_items=40) if s.status == "completed"][:10]
    >>> store = tt.Store()                      # tt.Store("team.sqlite") to keep results across kernels
    >>> result = client.sessions.analyze_many(ids, concurrency=4, store=store, progress=False)
    >>> len(result.succeeded), len(result.failed)
    (10, 0)
    >>> client.sessions.analyze_many(ids, store=store, progress=False).skipped == ids   # a rerun asks nothing
    True
    """
    _check(client, concurrency, rate_limit, progress, store, {"skip_analyzed": skip_analyzed, "force": force})
    _check_waits(wait_timeout, poll_interval)
    id_list = _check_ids(ids)
    plan = _analyze_plan(client, id_list, store, skip_analyzed, force, wait_timeout, poll_interval)
    return _execute_sync(client, plan, id_list, concurrency, rate_limit, progress)  # type: ignore[arg-type]


async def analyze_many_async(
    client: Client | AsyncClient,
    ids: Iterable[str | Session],
    *,
    concurrency: int = 8,
    rate_limit: float | None = None,
    store: Store | None = None,
    progress: bool | Callable[[BulkEvent], Any] = True,
    skip_analyzed: bool = True,
    force: bool = False,
    wait_timeout: float = 120.0,
    poll_interval: float | None = None,
) -> BulkResult:
    """``await`` form of :func:`analyze_many`, run on the caller's event loop.

    Cancelling the awaiting task stops the run the same way; results so far are in the store.
    """
    _check(client, concurrency, rate_limit, progress, store, {"skip_analyzed": skip_analyzed, "force": force})
    _check_waits(wait_timeout, poll_interval)
    id_list = _check_ids(ids)
    plan = _analyze_plan(client, id_list, store, skip_analyzed, force, wait_timeout, poll_interval)
    return await _execute_async(client, plan, id_list, concurrency, rate_limit, progress)


_FETCH_DOC = """
    Parameters
    ----------
    client : Client or AsyncClient
        Any client; sessions are read with ``sessions.get_many`` (``GET /v2/sessions/batch``, single gets
        where the service lacks it).
    ids : iterable of str or Session
        Sessions to fetch.
    concurrency, rate_limit, progress
        As for :func:`analyze_many`.
    store : Store, optional
        Each batch of sessions is written there as it arrives.
    skip_stored : bool
        Skip ids whose details the store already holds (pass False to refresh them).
    batch_size : int
        Ids per batch request (1–100).

    Returns
    -------
    BulkResult
        ``.succeeded`` is id → Session; unknown ids are in ``.failed`` as :class:`NotFoundError`.
"""


def _check_batch(batch_size: Any) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 100:
        raise ValidationError(f"batch_size must be an integer from 1 to 100, got {batch_size!r}", field="batch_size")


def fetch_many(
    client: Client | AsyncClient,
    ids: Iterable[str | Session],
    *,
    concurrency: int = 8,
    rate_limit: float | None = None,
    store: Store | None = None,
    progress: bool | Callable[[BulkEvent], Any] = True,
    skip_stored: bool = True,
    batch_size: int = 100,
) -> BulkResult:
    """Fetch the details of many sessions (transcript, analysis) concurrently, from sync code.

    Examples
    --------
    >>> import ttai_notebook as tt
    >>> client = tt.Client.sandbox(seed=0)
    >>> ids = [s.id for s in client.sessions.list(max_items=20)]
    >>> with tt.Store() as store:
    ...     result = fetch_many(client, ids, store=store, progress=False)
    ...     print(len(result.succeeded), len(store))
    20 20
    """
    _check(client, concurrency, rate_limit, progress, store, {"skip_stored": skip_stored})
    _check_batch(batch_size)
    id_list = _check_ids(ids)
    plan = _fetch_plan(id_list, store, skip_stored, batch_size)
    return _execute_sync(client, plan, id_list, concurrency, rate_limit, progress)  # type: ignore[arg-type]


async def fetch_many_async(
    client: Client | AsyncClient,
    ids: Iterable[str | Session],
    *,
    concurrency: int = 8,
    rate_limit: float | None = None,
    store: Store | None = None,
    progress: bool | Callable[[BulkEvent], Any] = True,
    skip_stored: bool = True,
    batch_size: int = 100,
) -> BulkResult:
    """``await`` form of :func:`fetch_many`, run on the caller's event loop."""
    _check(client, concurrency, rate_limit, progress, store, {"skip_stored": skip_stored})
    _check_batch(batch_size)
    id_list = _check_ids(ids)
    plan = _fetch_plan(id_list, store, skip_stored, batch_size)
    return await _execute_async(client, plan, id_list, concurrency, rate_limit, progress)


for _fn in (analyze_many, analyze_many_async):
    _fn.__doc__ = (_fn.__doc__ or "") + _ANALYZE_DOC
for _fn in (fetch_many, fetch_many_async):
    _fn.__doc__ = (_fn.__doc__ or "") + _FETCH_DOC
del _fn
