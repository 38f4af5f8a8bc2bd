"""Many calls at once: ``analyze_many`` and ``fetch_many`` with bounded concurrency, an optional rate limit,
adaptive slow-down on 429 (AIMD), a progress bar, and results written to a :class:`~ttai_notebook.store.Store`
as they arrive, so an interrupted run resumes where it stopped.
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
    OutcomeUnknownError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from .models import Analysis, Session

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

    @property
    def ok(self) -> bool:
        """True when nothing failed and the run was not interrupted."""
        return not self.failed and not self.interrupted and not self.store_errors

    @property
    def failed_ids(self) -> list[str]:
        """Ids that failed, for a retry: ``client.sessions.analyze_many(result.failed_ids)``."""
        return list(self.failed)

    def _summary(self) -> str:
        parts = [f"{len(self.succeeded)} succeeded", f"{len(self.failed)} failed", f"{len(self.skipped)} skipped"]
        if self.remaining:
            parts.append(f"{len(self.remaining)} not done")
        if self.store_errors:
            parts.append(f"{len(self.store_errors)} not saved")
        return ", ".join(parts)

    def __repr__(self) -> str:
        flag = ", interrupted" if self.interrupted else ""
        return (
            f"BulkResult({self.kind}: succeeded={len(self.succeeded)}, failed={len(self.failed)}, "
            f"skipped={len(self.skipped)}{flag}, elapsed={self.elapsed:.2f}s)"
        )

    def _repr_html_(self) -> str:
        esc = html.escape
        verb = "Analysed" if self.kind == "analyze" else "Fetched"
        status = "interrupted" if self.interrupted else ("finished" if not self.failed else "finished with failures")
        rows = [
            ("Succeeded", len(self.succeeded)),
            ("Failed", len(self.failed)),
            ("Skipped (already stored)", len(self.skipped)),
        ]
        if self.remaining:
            rows.append(("Not done (interrupted)", len(self.remaining)))
        if self.store_errors:
            rows.append(("Not saved to the store", len(self.store_errors)))
        rows.append(("Elapsed", f"{self.elapsed:.2f} s"))
        for key in ("requests", "responses_429", "wait_seconds", "peak_in_flight"):
            if key in self.stats:
                rows.append((key.replace("_", " ").capitalize(), self.stats[key]))
        body = "".join(f"<tr><th style='text-align:left'>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in rows)
        failures = ""
        if self.failed:
            items = "".join(
                f"<li><code>{esc(sid)}</code>: {esc(type(exc).__name__)}: {esc(str(exc)[:200])}</li>"
                for sid, exc in list(self.failed.items())[:20]
            )
            more = f"<li>… and {len(self.failed) - 20} more</li>" if len(self.failed) > 20 else ""
            failures = f"<details><summary>Failures</summary><ul>{items}{more}</ul></details>"
        return (
            f"<div class='ttai-bulk-result'><strong>{esc(verb)} {len(self.succeeded)} sessions</strong> "
            f"({esc(status)})<table>{body}</table>{failures}</div>"
        )


class BulkInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a kernel interrupt) stopped a bulk run; raised after a clean stop.

    It is a ``KeyboardInterrupt``, so the cell stops as you asked. Everything finished before the
    interrupt is in the store (when one was given) and in ``.result`` (a :class:`BulkResult` with
    ``interrupted=True``); rerunning the same call with the same store resumes without redoing it.
    """

    def __init__(self, result: BulkResult) -> None:
        self.result = result
        super().__init__(
            f"bulk run interrupted after {result.elapsed:.1f} s: {result._summary()}. "
            "Finished results are saved; run the same call again with the same store to resume "
            "(the partial BulkResult is this exception's .result)."
        )


@dataclasses.dataclass(frozen=True)
class BulkEvent:
    """One finished item, as passed to a ``progress=`` callable (in the calling thread)."""

    session_id: str
    outcome: Literal["succeeded", "failed"]
    value: Any = None
    error: BaseException | None = None
    done: int = 0
    total: int = 0


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
    def __init__(self, progress: bool | Callable[[BulkEvent], Any], *, total: int, desc: str) -> None:
        self.callback = progress if callable(progress) else None
        self.total = total
        self.done = 0
        self.failed = 0
        self.bar = None
        if progress is True and total:
            from tqdm.auto import tqdm  # widget in Jupyter, text in a terminal

            self.bar = tqdm(total=total, desc=desc, unit="session", dynamic_ncols=True)
        self._postfix = ""

    def event(self, event: BulkEvent) -> None:
        self.done += 1
        if event.outcome == "failed":
            self.failed += 1
        if self.bar is not None:
            self.bar.update(1)
        if self.callback is not None:
            self.callback(dataclasses.replace(event, done=self.done, total=self.total))

    def tick(self, wait: tuple[float, str] | None) -> None:
        if self.bar is None:
            return
        parts = [f"{self.failed} failed"] if self.failed else []
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
    """Runs units on an event loop: a pool of workers, the limiter, store writes on one writer thread."""

    def __init__(
        self,
        units: list[_Unit],
        op: Callable[[AsyncClient, _Unit], Awaitable[Any]],
        split: _Split,
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
        self.store_errors: dict[str, BaseException] = {}
        self.writes = 0
        self.requeues = 0
        self.client_stats: dict[str, Any] = {}
        self._stop: asyncio.Event | None = None
        self._stop_requested = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.interrupted = False

    def request_stop(self) -> None:
        """Ask the run to stop; callable from any thread, before or during the run."""
        self._stop_requested.set()
        loop, stop = self.loop, self._stop
        if loop is not None and stop is not None:
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop has already closed: the run is over
                pass

    async def run(self, client: Client | AsyncClient) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_requested.is_set():  # asked before the loop existed
            self._stop.set()
        queue_: deque[tuple[_Unit, int]] = deque((u, 0) for u in self.units)
        # Twice the slots in workers: a worker sleeping before a retry holds no slot, and the others
        # keep the window full meanwhile.
        n_workers = max(1, min(len(self.units), 2 * self.concurrency))
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ttai-bulk-store") if self.write else None
        twin = _async_twin(client, self.limiter, n_workers)

        # Writes whose worker was cancelled while they were queued or running: (unit, ok, bad, write).
        # They are shielded, so they still run; the items count as succeeded only once they have.
        orphaned: list[tuple[_Unit, dict[str, Any], dict[str, BaseException], asyncio.Future[Any]]] = []
        config = twin.config

        async def worker() -> None:
            while queue_:
                unit, tries = queue_.popleft()
                try:
                    value = await self.op(twin, unit)
                except RateLimitError as exc:
                    wait = exc.retry_after if exc.retry_after is not None else DEFAULT_PAUSE
                    if tries < MAX_REQUEUES and wait <= MAX_PAUSE:
                        # The client would not sleep that long on its own; a bulk run can, visibly.
                        self.requeues += 1
                        self.limiter.pause(wait, "429")
                        queue_.append((unit, tries + 1))
                        continue
                    self._settle(unit, {}, dict.fromkeys(unit, exc))
                except (ServerError, APIConnectionError) as exc:
                    # Transient, and the client's retries ran out: back off this item only (a burst on
                    # one request says nothing about the others) and put it back. Never an
                    # OutcomeUnknownError: repeating the request could create a duplicate.
                    if tries < MAX_REQUEUES and not isinstance(exc, OutcomeUnknownError):
                        self.requeues += 1
                        delay = backoff_delay(
                            config.max_retries + tries, initial=config.backoff_initial, cap=config.backoff_max
                        )
                        reason = "retry after a connection error" if isinstance(exc, APIConnectionError) else (
                            f"retry after {exc.status_code}" if getattr(exc, "status_code", None) else "retry"
                        )
                        await self.limiter.wait(delay, reason)
                        queue_.append((unit, tries + 1))
                        continue
                    self._settle(unit, {}, dict.fromkeys(unit, exc))
                except Exception as exc:  # one item's failure never stops the others
                    self._settle(unit, {}, dict.fromkeys(unit, exc))
                else:
                    ok, bad = self.split(unit, value)
                    if ok and writer is not None:
                        write = self.loop.run_in_executor(writer, self.write, ok)  # type: ignore[union-attr,arg-type]
                        try:
                            # Shielded: cancelling the worker must not cancel a write still queued behind
                            # another on the writer thread; what was paid for is kept.
                            await asyncio.shield(write)
                            self.writes += len(ok)
                        except asyncio.CancelledError:
                            orphaned.append((unit, ok, bad, write))
                            raise
                        except Exception as exc:
                            self.store_errors.update(dict.fromkeys(ok, exc))
                    self._settle(unit, ok, bad)

        workers = [asyncio.ensure_future(worker()) for _ in range(n_workers)]
        everything = asyncio.gather(*workers)
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait([stopper, everything], return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not everything.done():
                self.interrupted = True
            for task in (*workers, stopper):
                task.cancel()
            await asyncio.gather(everything, stopper, return_exceptions=True)
            for unit, ok, bad, write in orphaned:
                # Settled only after the write completed, so whatever is reported succeeded is stored.
                try:
                    await write
                    self.writes += len(ok)
                except Exception as exc:
                    self.store_errors.update(dict.fromkeys(ok, exc))
                self._settle(unit, ok, bad)
            if writer is not None:
                # Writes already handed to the writer thread finish (at most one is running): what was
                # paid for is kept.
                writer.shutdown(wait=True)
            self.client_stats = twin.stats.as_dict()
            await twin.aclose()
        if not self.interrupted and everything.exception() is not None:
            raise everything.exception()  # a bug, not an item's failure: do not hide it

    def _settle(self, unit: _Unit, ok: dict[str, Any], bad: dict[str, BaseException]) -> None:
        self.succeeded.update(ok)
        self.failed.update(bad)
        for sid in unit:
            if sid in ok:
                self.emit(BulkEvent(sid, "succeeded", value=ok[sid]))
            elif sid in bad:
                self.emit(BulkEvent(sid, "failed", error=bad[sid]))

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


@dataclasses.dataclass
class _Plan:
    kind: str
    units: list[_Unit]
    skipped: list[str]
    op: Callable[[AsyncClient, _Unit], Awaitable[Any]]
    split: _Split
    write: Callable[[dict[str, Any]], Any] | None
    desc: str


def _analyze_plan(ids: list[str], store: Store | None, skip_analyzed: bool, force: bool) -> _Plan:
    skipped: list[str] = []
    todo = ids
    if store is not None and skip_analyzed and not force:
        done = store.analyzed_ids()
        skipped = [i for i in ids if i in done]
        todo = [i for i in ids if i not in done]

    async def op(twin: AsyncClient, unit: _Unit) -> Analysis:
        return await twin.sessions.analyze(unit[0], force=force)

    def split(unit: _Unit, value: Analysis) -> tuple[dict[str, Any], dict[str, BaseException]]:
        return {unit[0]: value}, {}

    write = (lambda ok: store.put_analyses(ok)) if store is not None else None
    desc = "Analysing" + (f" ({len(skipped)} already stored)" if skipped else "")
    return _Plan("analyze", [(i,) for i in todo], skipped, op, split, write, desc)


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
    desc = "Fetching" + (f" ({len(skipped)} already stored)" if skipped else "")
    return _Plan("fetch", units, skipped, op, split, write, desc)


def _result(plan: _Plan, engine: _Engine, ids: list[str], started: float) -> BulkResult:
    succeeded = {i: engine.succeeded[i] for i in ids if i in engine.succeeded}
    failed = {i: engine.failed[i] for i in ids if i in engine.failed}
    skipped_set = set(plan.skipped)
    remaining = [i for i in ids if i not in succeeded and i not in failed and i not in skipped_set]
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
    )


def _execute_sync(client: Client, plan: _Plan, ids: list[str], concurrency: int, rate_limit: float | None,
                  progress: bool | Callable[[BulkEvent], Any]) -> BulkResult:
    started = time.perf_counter()
    bar = _Progress(progress, total=sum(len(u) for u in plan.units), desc=plan.desc)
    engine = _Engine(plan.units, plan.op, plan.split, plan.write, concurrency=concurrency,
                     rate_limit=rate_limit, emit=bar.event)
    try:
        if plan.units:
            _run_sync(engine, client, bar)
    except KeyboardInterrupt as exc:
        raise BulkInterrupted(_result(plan, engine, ids, started)) from exc
    finally:
        bar.close()
    return _result(plan, engine, ids, started)


async def _execute_async(client: Client | AsyncClient, plan: _Plan, ids: list[str], concurrency: int,
                         rate_limit: float | None, progress: bool | Callable[[BulkEvent], Any]) -> BulkResult:
    started = time.perf_counter()
    bar = _Progress(progress, total=sum(len(u) for u in plan.units), desc=plan.desc)
    engine = _Engine(plan.units, plan.op, plan.split, plan.write, concurrency=concurrency,
                     rate_limit=rate_limit, emit=bar.event)
    try:
        if plan.units:
            await _run_async(engine, client, bar)
    except KeyboardInterrupt as exc:
        raise BulkInterrupted(_result(plan, engine, ids, started)) from exc
    finally:
        bar.close()
    return _result(plan, engine, ids, started)


_ANALYZE_DOC = """
    Parameters
    ----------
    client : Client or AsyncClient
        Any client (sandbox or service). Its settings (token, base URL, retries, timeouts) are used.
    ids : iterable of str or Session
        Sessions to analyse (duplicates are done once; the result keeps the order given).
    concurrency : int
        Most requests in flight at once (1–256). A 429 halves the allowed number and successes grow it
        back (AIMD); it never exceeds ``concurrency``. Set it to the service's limit when you know it.
    rate_limit : float, optional
        Most requests per minute (every attempt counts, retries included), evenly spaced.
    store : Store, optional
        Each analysis is written there as it arrives.
    progress : bool or callable
        ``True``: a ``tqdm.auto`` bar (a widget in Jupyter, text in a terminal) that also shows waits
        ("waiting 1.0 s (429)"); ``False``: nothing; a callable: called with a :class:`BulkEvent` per
        finished session, in the calling thread.
    skip_analyzed : bool
        Skip, without any request, ids whose analysis the store already holds. Without a store nothing
        can be skipped without asking the service; asking is free, though: the service returns an
        existing analysis without charging again unless ``force=True``.
    force : bool
        Analyse again even what is already analysed (charged again by the service; skips nothing).

    Returns
    -------
    BulkResult
        ``.succeeded`` (id → Analysis), ``.failed`` (id → exception), ``.skipped``, ``.stats``.

    Raises
    ------
    BulkInterrupted
        On Ctrl-C / kernel interrupt (a ``KeyboardInterrupt``): the run stops at once, in-flight writes
        finish, and the exception's ``.result`` holds the partial :class:`BulkResult`. With a store,
        rerunning the same call resumes: nothing already stored is requested again. Analyses whose
        request was cut off are not lost money: asking again returns them without a new charge.
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
    id_list = _check_ids(ids)
    plan = _analyze_plan(id_list, store, skip_analyzed, force)
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
) -> BulkResult:
    """``await`` form of :func:`analyze_many`, run on the caller's event loop.

    Cancelling the awaiting task stops the run the same way; results so far are in the store.
    """
    _check(client, concurrency, rate_limit, progress, store, {"skip_analyzed": skip_analyzed, "force": force})
    id_list = _check_ids(ids)
    plan = _analyze_plan(id_list, store, skip_analyzed, force)
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
