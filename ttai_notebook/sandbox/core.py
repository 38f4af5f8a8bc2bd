"""``Sandbox``: the offline twin of the Tough Tongue AI API — state, dialect, faults and counters
behind one object, reachable in-process (an httpx transport) or over HTTP on 127.0.0.1."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .app import SandboxApp
from .background import DEFAULT_PROCESSING_TIME, check_processing_time
from .counters import Counters
from .faults import FaultConfig, FaultInjector
from .state import SandboxState
from .transport import SandboxTransport
from .urls import TRANSPORT_BASE_URL
from .wire import DIALECTS, PROFILES

if TYPE_CHECKING:
    from .server import SandboxServer

__all__ = ["Sandbox"]


class Sandbox:
    """A stateful, validating, fault-injecting offline twin of the Tough Tongue AI public API.

    Parameters
    ----------
    seed : int
        Seeds the demo organisation, new ids and fault randomness: same seed, same run.
    dialect : {"documented", "spec"}
        Response shapes: the brief's (default) or the vendor OpenAPI spec's (API.md §2).
    profile : {"current", "brief"}
        Which service to be (API.md §6), orthogonal to ``dialect``. ``"current"`` (default): the service as
        its spec shows it today — v1 ``GET /sessions`` answers 404 like a removed route; sessions lack the
        removed fields (``duration_minutes``, ``evaluation_score``, ``evaluation_note``, ``report_card``,
        ``report_card_topics``); ``GET /v2/sessions`` (filters ``$op_<field>``, ``meta_<key>``, ``is_org``),
        ``POST /v2/sessions/{id}/post-process`` (background analysis, charged per call),
        ``GET /v2/organizations`` with ``X-TT-ORG`` scoping, ``POST /v2/session`` (import a finished call) and
        ``GET /v2/analytics``. ``"brief"``: the API as the product brief describes it (v1 list, old session
        fields, the five routes above answer 404). ``POST /sessions/analyze`` (synchronous) is in both.
    processing_time : float
        Seconds background work (post-process, imports) takes on the background clock (default 1.5;
        0 = done before the answer).
    background : {"auto", "manual"}
        ``auto``: the background clock is ``time.monotonic()`` plus whatever :meth:`advance` added;
        ``manual``: it moves only on :meth:`advance`, so tests decide when jobs finish and never sleep.
    organizations : sequence of mappings, optional
        The user's organisations, ``{name, role, slug?, id?, home?}`` (role -1, 10, 20, 30 or 99; ids are
        seeded 24-hex unless given; the ``home`` one, by default the first, owns the demo data). Default:
        "Northwind Demo" (role 30, home) and "Northwind Academy" (role 10). The records are
        ``sandbox.state.organizations``; a test may change a record's ``role`` at any time.
    sessions : int, optional
        Size of the demo organisation (default 520 sessions; up to 100 000 for benchmarks).
    token : str, optional
        If given, requests must carry ``Authorization: Bearer <token>`` (else 401).
    read_only_tokens : tuple of str
        Tokens that may read but not create, change, delete or analyse (403).
    spec_routes_only : bool
        Refuse the routes the vendor spec lacks (PATCH / DELETE ``/scenarios/{id}``, ``POST /v2/sessions``)
        with 405, as the live service may.
    latency, jitter, rate_429, retry_after, rate_5xx, rate_drop, concurrency_cap
        Fault injection (see :meth:`set_faults`).
    max_body_bytes : int
        Larger request bodies are refused with 413.
    clock : {"demo", "real"}
        ``demo``: new objects are stamped from :data:`DEMO_NOW`, advancing a fixed step per mutation;
        ``real``: wall time.

    Examples
    --------
    >>> import httpx
    >>> sb = Sandbox(seed=0)
    >>> http = httpx.Client(transport=sb.transport(), base_url=sb.base_url)
    >>> len(http.get("/scenarios").json()["scenarios"])
    5

    Background analysis on a manual clock:

    >>> sb = Sandbox(background="manual")
    >>> http = httpx.Client(transport=sb.transport(), base_url=sb.base_url)
    >>> sid = http.get("/v2/sessions", params={"limit": 1, "$lte_created_at": "2026-05-14"}).json()["sessions"][0]["id"]
    >>> http.post(f"/v2/sessions/{sid}/post-process", json={"run_analysis": True}).json()
    {'ok': True}
    >>> sb.pending_jobs
    1
    >>> sb.advance(1.5)
    1
    >>> sb.pending_jobs
    0
    """

    base_url: str = TRANSPORT_BASE_URL

    def __init__(self, seed: int = 0, dialect: str = "documented", sessions: int | None = None,
                 token: str | None = None, read_only_tokens: tuple[str, ...] | list[str] = (),
                 spec_routes_only: bool = False, latency: float = 0.0, jitter: float = 0.0, rate_429: float = 0.0,
                 retry_after: float = 1, rate_5xx: float = 0.0, rate_drop: float = 0.0,
                 concurrency_cap: int | None = None, max_body_bytes: int = 1_000_000, clock: str = "demo",
                 profile: str = "current", processing_time: float = DEFAULT_PROCESSING_TIME,
                 background: str = "auto", organizations: Sequence[Mapping[str, Any]] | None = None) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an integer, got {seed!r}")
        _check_dialect(dialect)
        _check_profile(profile)
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise ValueError("token must be a non-empty string or None")
        if isinstance(read_only_tokens, str) or not all(isinstance(t, str) and t for t in read_only_tokens):
            raise ValueError("read_only_tokens must be a sequence of non-empty strings")
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be an integer >= 1, got {max_body_bytes!r}")
        self.seed = seed
        self._token = token
        self.counters = Counters()
        self.state = SandboxState(seed=seed, sessions=sessions, clock=clock, counters=self.counters,
                                  processing_time=processing_time, background=background, organizations=organizations)
        self._faults = FaultInjector(seed, FaultConfig(
            latency=latency, jitter=jitter, rate_429=rate_429, retry_after=retry_after, rate_5xx=rate_5xx,
            rate_drop=rate_drop, concurrency_cap=concurrency_cap))
        self._app = SandboxApp(self.state, self.counters, self._faults, dialect=dialect, token=token,
                               read_only_tokens=tuple(read_only_tokens), spec_routes_only=spec_routes_only,
                               max_body_bytes=max_body_bytes, profile=profile)
        self._transport: SandboxTransport | None = None

    # ---- configuration ----
    @property
    def dialect(self) -> str:
        """``"documented"`` or ``"spec"``; may be switched at any time."""
        return self._app.dialect

    @dialect.setter
    def dialect(self, value: str) -> None:
        _check_dialect(value)
        self._app.dialect = value

    @property
    def profile(self) -> str:
        """``"current"`` or ``"brief"``; may be switched at any time."""
        return self._app.profile

    @profile.setter
    def profile(self, value: str) -> None:
        _check_profile(value)
        self._app.profile = value

    @property
    def processing_time(self) -> float:
        """Seconds a background job takes (jobs queued from now on); 0 = done before the answer."""
        return self.state.processing_time

    @processing_time.setter
    def processing_time(self, value: float) -> None:
        self.state.processing_time = check_processing_time(value)

    @property
    def background(self) -> str:
        """``"auto"`` or ``"manual"``: how the background clock moves."""
        return self.state.background.mode

    def advance(self, seconds: float) -> int:
        """Move the background clock forward by ``seconds`` (either mode) and finish the jobs now due.

        Returns
        -------
        int
            How many jobs finished.
        """
        return self.state.advance(seconds)

    @property
    def pending_jobs(self) -> int:
        """Background jobs (analyses, extractions) not finished yet."""
        return self.state.pending_jobs

    @property
    def spec_routes_only(self) -> bool:
        """Whether the routes missing from the vendor spec answer 405."""
        return self._app.spec_routes_only

    @spec_routes_only.setter
    def spec_routes_only(self, value: bool) -> None:
        self._app.spec_routes_only = bool(value)

    @property
    def token(self) -> str | None:
        """The token requests must carry, or None (any token is accepted)."""
        return self._token

    @property
    def max_body_bytes(self) -> int:
        """Request bodies above this size are refused with 413."""
        return self._app.max_body_bytes

    @property
    def faults(self) -> FaultConfig:
        """The current fault settings."""
        return self._faults.config

    def set_faults(self, **settings: Any) -> FaultConfig:
        """Change fault settings; unspecified ones are kept.

        Parameters
        ----------
        latency : float
            Seconds added to every API request (``asyncio.sleep`` in async paths, so it blocks nothing else).
        jitter : float
            Up to this many extra seconds, uniformly at random (seeded).
        rate_429 : float
            Share of requests answered 429 with ``Retry-After: retry_after`` (not executed).
        retry_after : float
        rate_5xx : float
            Share of requests answered 500/502/503 (not executed).
        rate_drop : float
            Share of requests executed, then left without an answer (the connection is closed).
        concurrency_cap : int or None
            More requests in flight than this are answered 429.

        Returns
        -------
        FaultConfig
        """
        return self._faults.set(**settings)

    def fail_next(self, status: int = 500, *, count: int = 1, route: str | None = None, drop: bool = False,
                  after_execute: bool = False) -> None:
        """Make the next ``count`` matching requests fail once each.

        Parameters
        ----------
        status : int
            Status to answer with (429 carries ``Retry-After``). The request is not executed unless
            ``after_execute``.
        count : int
        route : str, optional
            ``"POST /scenarios"``, ``"GET /sessions/{id}"``, a concrete path (``"/sessions/abc"``), or a
            path without method. None matches every API route (``/sandbox/...`` routes only when named).
        drop : bool
            Execute the request, then close the connection without answering (``status`` is ignored).
        after_execute : bool
            Execute the request, then answer ``status`` anyway (the outcome looks unknown to the client).
        """
        self._faults.fail_next(status, count=count, route=route, drop=drop, after_execute=after_execute)

    # ---- ways in ----
    def transport(self) -> SandboxTransport:
        """The in-process transport (works for ``httpx.Client`` and ``httpx.AsyncClient``)."""
        if self._transport is None:
            self._transport = SandboxTransport(self._app)
        return self._transport

    def serve(self, port: int = 0) -> "SandboxServer":
        """Start a real HTTP server on 127.0.0.1 in a background thread.

        Returns a started :class:`~ttai_notebook.sandbox.server.SandboxServer` (a context manager with
        ``.base_url`` and ``.close()``). ``port=0`` picks a free port.

        Examples
        --------
        >>> with Sandbox().serve() as server:
        ...     server.base_url.startswith("http://127.0.0.1:")
        True
        """
        from .server import SandboxServer

        server = SandboxServer(self._app, port=port)
        server.start()
        return server

    @property
    def app(self) -> SandboxApp:
        """The request handler shared by the transport and the server."""
        return self._app

    # ---- state ----
    def reset(self) -> None:
        """Back to the seeded demo organisation (and its organisations); counters zeroed; forced failures and
        pending background jobs cleared, background clock back to zero (fault settings, profile kept)."""
        self._app.reset()

    def summary(self) -> dict[str, Any]:
        """Sizes of the organisation now (scenarios, sessions by status, trainees, teams, weeks, balance)."""
        return self.state.summary()

    def __repr__(self) -> str:
        auth = "required" if self._token else "any"
        return (f"Sandbox(seed={self.seed}, dialect={self.dialect!r}, profile={self.profile!r}, "
                f"sessions={len(self.state.sessions)}, token={auth})")


def _check_profile(value: object) -> None:
    if value not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(map(repr, PROFILES))}; got {value!r}")


def _check_dialect(value: object) -> None:
    if value not in DIALECTS:
        raise ValueError(f"dialect must be one of {', '.join(map(repr, DIALECTS))}; got {value!r}")
