"""``EmbeddedSession``: a practice session in an output cell, with its lifecycle events in Python.

An anywidget (``static/embed.js``) renders the iframe and relays the iframe's messages to the kernel; this
class turns them into ``events``, a ``status`` and hooks. Sandbox links get a simulated practice page whose
transcript the kernel completes and scores on the sandbox. The API token is never in a trait.
"""

from __future__ import annotations

import html
import pathlib
import threading
import time
from collections.abc import Mapping
from typing import Any, Callable

import anywidget
import traitlets

from . import events as E
from ._runner import TaskRunner, error_text
from ..cards import is_simulated
from .practice_page import SANDBOX_LABEL, build_practice_page, page_config

__all__ = ["EmbeddedSession", "richest_analysis"]

_STATIC = pathlib.Path(__file__).parent / "static"
_MAX_TRANSCRIPT = 1_000_000  # characters; the sandbox refuses larger bodies anyway


def _is_sandbox_url(url: str) -> bool:
    try:
        from ..sandbox import is_sandbox_url  # noqa: PLC0415 - the sandbox loads only when needed
    except ImportError:  # pragma: no cover - sandbox package always ships with ttai_notebook
        return url.startswith("https://sandbox.ttai.invalid/embed/")
    return bool(is_sandbox_url(url))


def richest_analysis(client: Any, session_id: str, analysis: Any) -> tuple[Any, Any]:
    """``(session, analysis)`` with the fullest analysis available.

    The documented analyse answer carries only score, strengths and improvements; the session object holds
    the whole evaluation (report card, feedback, next steps). Fetching it costs no analysis; if it fails or
    is poorer, the analyse answer is kept.
    """
    try:
        session = client.sessions.get(session_id)
    except Exception:  # noqa: BLE001 - the analyse answer is still a result
        return None, analysis
    full = getattr(session, "analysis", None)
    if full is not None and getattr(full, "has_results", False) and (
        len(full.report_card) >= len(getattr(analysis, "report_card", ())) or analysis is None
    ):
        return session, full
    return session, analysis


class EmbeddedSession(anywidget.AnyWidget):
    """Run a practice session inside the notebook and follow it from Python.

    Parameters
    ----------
    link_or_url : SessionLink or str
        The ``embed_url`` from ``client.sessions.create(...)`` (or the ``SessionLink`` itself), or any
        scenario embed URL (``https://app.toughtongueai.com/embed/<scenario_id>``).
    kind : {"full", "basic", "minimal"}, optional
        Embed style; sets the height (800 / 600 / 300 px). Default: read from the URL (``/embed/basic/...``).
    height : int, optional
        Frame height in pixels, overriding the kind's.
    allowed_origins : sequence of str
        Origins whose messages are accepted (default: the vendor app; plus the ``app_url`` of ``client``
        when the link is on it). Messages must also come from this widget's own frame.
    client : Client, optional
        Required for sandbox links: the kernel completes and scores the simulated session with it.
    threaded : bool, optional
        Run sandbox calls in a worker thread (default: yes inside a kernel, no elsewhere).

    Attributes
    ----------
    status : str
        ``ready → started → stopped | terminated → submitted`` (observable, synced).
    session_id : str
        The session id, once known (from the link, or from ``onStart``).
    events : list of dict
        Every event received, in order, repeated ones included: ``name``, ``kind``, ``session_id``,
        ``timestamp`` (ms, from the payload), ``received_at`` (ms, kernel clock), ``latency_ms``, ``origin``,
        ``via`` (``iframe`` or ``tab``), ``data`` (the payload).
    opened_in_tab : bool
        True once the user opened the session in a new tab (events may then not arrive: poll instead).
    analysis : Analysis or None
        Sandbox sessions: the analysis computed when the session ended.
    session : Session or None
        Sandbox sessions: the completed session.

    Examples
    --------
    >>> import ttai_notebook as tt
    >>> client = tt.Client.sandbox()
    >>> scenario = client.scenarios.list()[0]
    >>> link = client.sessions.create(scenario.id, user_email="ana@example.com")
    >>> practice = tt.widgets.EmbeddedSession(link, client=client)
    >>> practice.on("stop", lambda event: print("ended", event["session_id"]))  # doctest: +ELLIPSIS
    <function ...>
    >>> practice.status
    'ready'
    """

    _esm = _STATIC / "embed.js"
    _css = _STATIC / "embed.css"

    src = traitlets.Unicode("").tag(sync=True)
    srcdoc = traitlets.Unicode("").tag(sync=True)
    kind = traitlets.Unicode("full").tag(sync=True)
    height = traitlets.Int(800).tag(sync=True)
    allowed_origins = traitlets.List(traitlets.Unicode(), default_value=[E.VENDOR_ORIGIN]).tag(sync=True)
    label = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("ready").tag(sync=True)
    session_id = traitlets.Unicode("").tag(sync=True)
    # Kernel-side only (not synced: transcripts and payloads stay out of saved widget state).
    events = traitlets.List()
    error = traitlets.Unicode("")
    opened_in_tab = traitlets.Bool(False)

    def __init__(
        self,
        link_or_url: Any,
        *,
        kind: str | None = None,
        height: int | None = None,
        allowed_origins: Any = (E.VENDOR_ORIGIN,),
        client: Any = None,
        threaded: bool | None = None,
    ) -> None:
        url = getattr(link_or_url, "embed_url", link_or_url)
        url = E.check_embed_url(url)
        link_session = getattr(link_or_url, "session_id", None)
        kind = E.infer_kind(url) if kind is None else kind
        resolved_height = E.resolve_height(kind, height)
        if isinstance(allowed_origins, str):
            allowed_origins = [allowed_origins]
        origins = [str(o).rstrip("/") for o in allowed_origins or ()]
        app_url = getattr(client, "app_url", None)
        if isinstance(app_url, str) and app_url.startswith("https://") and E.origin_of(app_url) == E.origin_of(url):
            # A client configured for another vendor app origin (e.g. a staging app) made this link.
            origins = list(dict.fromkeys([*origins, E.origin_of(app_url)]))
        for origin in origins:
            if not origin.startswith(("https://", "http://")):
                raise ValueError(f"allowed_origins must be origins like 'https://app.toughtongueai.com'; got {origin!r}.")

        self._url = url
        self._client = client
        self._hooks: dict[str, list[Callable[[dict], Any]]] = {name: [] for name in E.HOOKS}
        self._runner = TaskRunner(threaded)
        self._lock = threading.Lock()
        self._finished_ids: set[str] = set()
        self._sandbox: dict[str, Any] | None = None
        self._scenario_id: str | None = None
        self.analysis: Any = None
        self.session: Any = None
        self.transcript: str | None = None
        self.is_sandbox = _is_sandbox_url(url)

        state: dict[str, Any] = {
            "kind": kind,
            "height": resolved_height,
            "allowed_origins": origins,
            "session_id": link_session or "",
        }
        if self.is_sandbox:
            if client is None:
                raise ValueError(
                    "This is a sandbox practice link: pass the sandbox client that created it, e.g. "
                    "EmbeddedSession(link, client=client)."
                )
            target = E.sandbox_target(url)
            self._sandbox = target
            scenario, session_id = self._load_sandbox_scenario(target)
            state["session_id"] = session_id or state["session_id"]
            script = self._persona_script(scenario)
            state["srcdoc"] = build_practice_page(
                page_config(scenario=scenario, script=script, session_id=session_id or None, kind=kind)
            )
            state["label"] = SANDBOX_LABEL
            self._scenario_name = getattr(scenario, "name", None) or "Practice session"
        else:
            state["src"] = url
            self._scenario_name = None
        super().__init__(**state)
        self.on_msg(self._on_front_end_message)

    # ---- sandbox set-up ----------------------------------------------------------------------------

    def _load_sandbox_scenario(self, target: Mapping[str, Any]) -> tuple[Any, str | None]:
        session_id = target.get("session_id")
        scenario_id = target.get("scenario_id")
        if session_id:
            session = self._client.sessions.get(session_id)
            scenario_id = getattr(session, "scenario_id", None)
            if not scenario_id:
                raise ValueError(f"Sandbox session {session_id!r} has no scenario to practise.")
        self._scenario_id = scenario_id
        return self._client.scenarios.get(scenario_id), session_id

    @staticmethod
    def _persona_script(scenario: Any) -> Mapping[str, Any]:
        from ..sandbox.practice import persona_script  # noqa: PLC0415

        return persona_script(scenario)

    # ---- display --------------------------------------------------------------------------------

    def __repr__(self) -> str:
        sandbox = ", sandbox=True" if self.is_sandbox else ""
        return f"EmbeddedSession(kind={self.kind!r}, url={E.public_url(self._url)!r}{sandbox}, status={self.status!r})"

    def _fallback_html(self) -> str:
        """What front ends without widgets show (static HTML export, GitHub): a link, never a blank box."""
        if self.is_sandbox:
            return (
                '<div class="ttai-embed-fallback" style="padding:8px 12px;border:1px dashed rgba(127,127,127,.5);'
                'border-radius:6px">Simulated practice session for “'
                f"{html.escape(self._scenario_name or '')}” ({html.escape(SANDBOX_LABEL)}). It runs only in a "
                "live notebook: open this notebook in Jupyter and run the cell.</div>"
            )
        href = html.escape(self._url, quote=True)
        return (
            '<div class="ttai-embed-fallback" style="padding:8px 12px;border:1px dashed rgba(127,127,127,.5);'
            f'border-radius:6px"><a href="{href}" target="_blank" rel="noopener noreferrer">Open the practice '
            "session</a> (Tough Tongue AI, opens in a new tab). Interactive widgets are not available in this "
            "view.</div>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:  # pragma: no cover - only when the widget has no view
            return {"text/plain": repr(self), "text/html": self._fallback_html()}
        data, metadata = bundle
        data = dict(data)
        data["text/plain"] = repr(self)
        data["text/html"] = self._fallback_html()
        return data, metadata

    # ---- hooks -------------------------------------------------------------------------------------

    def on(self, event: str, callback: Callable[[dict], Any]) -> Callable[[dict], Any]:
        """Call ``callback(event_record)`` on ``"start"``, ``"stop"``, ``"terminate"``, ``"submit"`` or ``"any"``.

        Vendor names (``"onStop"``) work too. Returns ``callback``, so it can be used as a decorator.
        """
        if not callable(callback):
            raise TypeError("callback must be callable, e.g. practice.on('stop', lambda event: ...)")
        self._hooks[E.hook_name(event)].append(callback)
        return callback

    def off(self, event: str, callback: Callable[[dict], Any]) -> None:
        """Remove a callback registered with :meth:`on` (no error if it was not registered)."""
        hooks = self._hooks[E.hook_name(event)]
        if callback in hooks:
            hooks.remove(callback)

    def _fire(self, kind: str | None, record: dict) -> None:
        for name in ([kind] if kind else []) + ["any"]:
            for callback in list(self._hooks[name]):
                callback(record)

    # ---- messages from the front end ---------------------------------------------------------------

    def _on_front_end_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, Mapping) and content.get("kind") == "tab_opened":
            self.opened_in_tab = True
            return
        if not isinstance(content, Mapping) or content.get("kind") != "message":
            return
        data = content.get("data")
        via = content.get("via") if content.get("via") in ("iframe", "tab") else "iframe"
        if isinstance(data, Mapping) and data.get("type") == "ttai-sandbox":
            if self.is_sandbox:
                self._on_sandbox_message(data, via)
            return
        normalised = E.normalize_message(data)
        if normalised is None:
            return
        received_at = time.time() * 1000.0
        stamp = normalised["timestamp"]
        record = {
            **normalised,
            "received_at": received_at,
            "latency_ms": (received_at - stamp) if stamp is not None else None,
            "origin": str(content.get("origin", ""))[:200],
            "via": via,
            "data": dict(data) if isinstance(data, Mapping) else data,
        }
        with self._lock:
            self.events = [*self.events, record]
            kind = normalised["kind"]
            if normalised["session_id"] and (kind == "start" or not self.session_id):
                self.session_id = normalised["session_id"]
            self.status = E.next_status(self.status, kind)
        self._fire(kind, record)

    def _reply(self, message: dict, via: str = "iframe") -> None:
        self.send({"kind": "to_iframe", "target": via, "message": message})

    def send_session_notes(self, notes: Any, *, source: str = "evaluator") -> None:
        """Push notes into the live session (``{"type": "session_notes", "notes": [...]}``).

        Parameters
        ----------
        notes : str or list of str or list of dict
            Each note's text (dicts are sent as given, with ``text``, ``timestamp``, ``source``).
        """
        if isinstance(notes, (str, Mapping)):
            notes = [notes]
        now = int(time.time() * 1000)
        items = []
        for note in notes:
            if isinstance(note, Mapping):
                if not isinstance(note.get("text"), str) or not note["text"].strip():
                    raise ValueError("Each note dict needs a non-empty 'text'.")
                items.append({"timestamp": now, "source": source, **dict(note)})
            elif isinstance(note, str) and note.strip():
                items.append({"text": note.strip(), "timestamp": now, "source": source})
            else:
                raise ValueError(f"A note must be non-empty text or a dict with 'text'; got {note!r}.")
        self.send({"kind": "to_iframe", "target": "all", "message": {"type": "session_notes", "notes": items}})

    # ---- the simulated session (sandbox links) ------------------------------------------------------

    def _on_sandbox_message(self, data: Mapping[str, Any], via: str) -> None:
        action = data.get("action")
        if action == "start-request":
            self._runner.run(self._sandbox_start, lambda sid: self._reply(
                {"type": "ttai-sandbox", "action": "session", "session_id": sid}, via),
                lambda exc: self._sandbox_error(exc, via))
        elif action == "transcript":
            self._on_transcript(data, via)

    def _sandbox_start(self) -> str:
        """The session id to run: the link's, or a new session for a scenario link."""
        assert self._sandbox is not None
        with self._lock:
            current = self.session_id
            finished = current in self._finished_ids
        if current and not finished:
            return current
        if current and finished and self._sandbox.get("session_id"):
            raise RuntimeError(
                "This practice session has already ended. Create a new one to practise again, e.g. "
                "client.sessions.create(scenario_id, ...) or PracticeLauncher's Start."
            )
        link = self._client.sessions.create(
            self._scenario_id,
            user_email=self._sandbox.get("user_email"),
            user_name=self._sandbox.get("user_name"),
        )
        if not getattr(link, "session_id", None):
            raise RuntimeError("The sandbox did not return a session id.")
        with self._lock:
            self.session_id = link.session_id
        return link.session_id

    def _on_transcript(self, data: Mapping[str, Any], via: str) -> None:
        session_id = data.get("sessionId") or self.session_id
        transcript = data.get("transcript")
        if not isinstance(session_id, str) or not session_id or not isinstance(transcript, str):
            self._reply({"type": "ttai-sandbox", "action": "error", "message": "No session id or transcript."}, via)
            return
        with self._lock:
            if session_id in self._finished_ids:
                return  # the page may resend; the session is completed and scored once
            self._finished_ids.add(session_id)
        status = "terminated" if data.get("status") == "terminated" else "completed"
        duration = data.get("duration_s")
        duration = float(duration) if isinstance(duration, (int, float)) and not isinstance(duration, bool) else None
        transcript = transcript[:_MAX_TRANSCRIPT]
        self.transcript = transcript

        def task() -> tuple[Any, Any]:
            from ..sandbox.practice import complete_session  # noqa: PLC0415

            completed = complete_session(self._client, session_id, transcript, duration_s=duration, status=status)
            if status != "completed":
                return completed, None
            fetched, analysis = richest_analysis(
                self._client, session_id, self._client.sessions.analyze(session_id)
            )
            return fetched or completed, analysis

        def done(result: tuple[Any, Any]) -> None:
            self.session, self.analysis = result
            if self.analysis is None:
                self._reply({"type": "ttai-sandbox", "action": "closed"}, via)
                return
            a = self.analysis
            self._reply(
                {
                    "type": "ttai-sandbox",
                    "action": "analysis",
                    "session_id": session_id,
                    "score": a.score,
                    "score_text": a.score_text,
                    "strengths": list(a.strengths)[:5],
                    "improvements": list(a.improvements)[:5],
                    "simulated": is_simulated(a),
                },
                via,
            )

        def failed(exc: BaseException) -> None:
            with self._lock:
                self._finished_ids.discard(session_id)  # let the page retry
            self._sandbox_error(exc, via)

        self._runner.run(task, done, failed)

    def _sandbox_error(self, exc: BaseException, via: str) -> None:
        self.error = error_text(exc)
        self._reply({"type": "ttai-sandbox", "action": "error", "message": self.error}, via)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the kernel-side work for the simulated session is done (threaded mode)."""
        return self._runner.join(timeout)
