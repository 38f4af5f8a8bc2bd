"""``PracticeLauncher``: pick a scenario, name the trainee, practise in the cell, and see the analysis card.

Start creates the session through the kernel's client and shows an :class:`EmbeddedSession`; when it stops,
the launcher waits until the session can be fetched, analyses it (with a visible spinner) and shows the
card. Where iframe events cannot arrive (a new tab), it polls instead. Long calls run in a worker thread.
"""

from __future__ import annotations

import html
import re
import threading
from typing import Any

import ipywidgets as W
import traitlets

from ._runner import TaskRunner, error_text
from .embed import EmbeddedSession, richest_analysis

__all__ = ["PracticeLauncher", "parse_metadata"]

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_SPINNER = (
    "<style>@keyframes ttai-spin{to{transform:rotate(360deg)}}</style>"
    '<span style="display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:-1px;'
    "border:2px solid currentColor;border-right-color:transparent;border-radius:50%;"
    'animation:ttai-spin .8s linear infinite"></span>'
)


def parse_metadata(team: str = "", extra: str = "") -> dict[str, str]:
    """Session metadata from the form: a team plus ``key: value`` (or ``key=value``) lines.

    Raises ``ValueError`` naming the line that is not ``key: value`` or whose key is not a simple name.

    >>> parse_metadata("north", "cohort: 2026-q2\\nmanager=Lee")
    {'team': 'north', 'cohort': '2026-q2', 'manager': 'Lee'}
    """
    out: dict[str, str] = {}
    if isinstance(team, str) and team.strip():
        out["team"] = team.strip()
    for number, line in enumerate((extra or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = re.match(r"^\s*([^:=]+?)\s*[:=]\s*(.*?)\s*$", line)
        if not match or not match.group(2):
            raise ValueError(f"Metadata line {number} ({line.strip()!r}) is not 'key: value'.")
        key, value = match.group(1), match.group(2)
        if not _KEY.match(key):
            raise ValueError(
                f"Metadata line {number}: key {key!r} must start with a letter and use letters, digits, _ . -"
            )
        out[key] = value
    return out


def _box(kind: str, text: str, *, spinner: bool = False) -> str:
    colors = {"ok": "var(--jp-success-color1,#2e8540)", "error": "var(--jp-error-color1,#d13b3b)",
              "busy": "var(--jp-brand-color1,#1976d2)", "info": "inherit"}
    lead = _SPINNER if spinner else ""
    return (f'<div style="color:{colors[kind]};margin:4px 0;white-space:pre-wrap">{lead}'
            f"{html.escape(text)}</div>")


class PracticeLauncher(W.VBox):
    """Run a practice session end to end in one output cell.

    Parameters
    ----------
    client : Client
        Creates, fetches and analyses the session (a sandbox client runs the simulated practice page).
    scenario_id : str, optional
        Preselect this scenario.
    kind : {"full", "basic", "minimal"}, optional
        Embed style for the practice frame (default: as the link says).
    wait_timeout : float
        Seconds to wait, after the session stops, for it to be fetchable and analysed (default 120).
    poll_interval : float
        Seconds between polls while waiting (default 2).
    practice_timeout : float
        How long the polling fallback waits for a session run in another tab (default 3600).
    threaded : bool, optional
        Run calls in a worker thread (default: yes inside a kernel, no elsewhere).

    Attributes
    ----------
    phase : str
        ``setup → starting → practising → waiting → analysing → done`` (or ``terminated`` / ``error``);
        observable.
    session_id : str
        The running session's id, once known (observable).
    analysis : Analysis or None
        The result shown in the card.
    embedded : EmbeddedSession or None
        The practice widget of the current session.
    """

    phase = traitlets.Unicode("setup")
    session_id = traitlets.Unicode("")

    def __init__(
        self,
        client: Any,
        *,
        scenario_id: str | None = None,
        kind: str | None = None,
        wait_timeout: float = 120.0,
        poll_interval: float = 2.0,
        practice_timeout: float = 3600.0,
        threaded: bool | None = None,
    ) -> None:
        self._client = client
        self._kind = kind
        self._wait_timeout = wait_timeout
        self._poll_interval = poll_interval
        self._practice_timeout = practice_timeout
        self._runner = TaskRunner(threaded)
        self._lock = threading.Lock()
        self._generation = 0
        self._collecting = False
        self.analysis: Any = None
        self.embedded: EmbeddedSession | None = None
        self.link: Any = None

        self.scenario_picker = W.Dropdown(description="Scenario", layout=W.Layout(width="480px"))
        self.refresh_button = W.Button(icon="refresh", tooltip="Reload the scenario list", layout=W.Layout(width="40px"))
        self.refresh_button.on_click(lambda _b: self.load_scenarios())
        self.email = W.Text(description="Trainee email", placeholder="trainee@example.com", layout=W.Layout(width="480px"),
                            style={"description_width": "110px"})
        self.name = W.Text(description="Trainee name", placeholder="optional", layout=W.Layout(width="480px"),
                           style={"description_width": "110px"})
        self.team = W.Text(description="Team", placeholder="optional, e.g. north", layout=W.Layout(width="480px"),
                           style={"description_width": "110px"})
        self.extra = W.Textarea(description="Metadata", placeholder="optional, one per line: cohort: 2026-q2",
                                rows=2, layout=W.Layout(width="480px"), style={"description_width": "110px"})
        self.scenario_picker.style = {"description_width": "110px"}
        self.start_button = W.Button(description="Start practice", button_style="primary", icon="play")
        self.start_button.on_click(lambda _b: self.start())
        self.check_button = W.Button(description="Check for results", icon="search",
                                     tooltip="Finished in another tab? Fetch and analyse the session.")
        self.check_button.on_click(lambda _b: self.check_results())
        self.again_button = W.Button(description="Practise again", icon="repeat")
        self.again_button.on_click(lambda _b: self.reset())
        self.status = W.HTML()
        self.session_box = W.VBox()
        self.result = W.HTML()
        self.form = W.VBox([W.HBox([self.scenario_picker, self.refresh_button]), self.email, self.name, self.team,
                            self.extra, self.start_button])
        super().__init__([
            W.HTML('<div style="font-size:1.15em;font-weight:600">Practice session</div>'),
            self.form, self.status, self.session_box, W.HBox([self.check_button, self.again_button]), self.result,
        ])
        self._scenarios: list[Any] = []
        self.load_scenarios(select=scenario_id)
        self._sync_buttons()

    def __repr__(self) -> str:
        return f"PracticeLauncher(phase={self.phase!r})"

    # ---- state -----------------------------------------------------------------------------------

    def _set(self, phase: str | None, kind: str, text: str, *, spinner: bool = False) -> None:
        if phase is not None:
            self.phase = phase
        self.status.value = _box(kind, text, spinner=spinner)
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        phase = self.phase
        self.form.layout.display = "" if phase in ("setup", "starting", "error") and self.embedded is None else "none"
        self.start_button.disabled = phase == "starting" or not self._scenarios
        self.check_button.layout.display = "" if self.embedded is not None and phase in ("practising", "error") else "none"
        self.check_button.disabled = not self.session_id or phase in ("waiting", "analysing")
        self.again_button.layout.display = "" if phase in ("done", "terminated", "error") and self.embedded else "none"

    # ---- scenarios -------------------------------------------------------------------------------

    def load_scenarios(self, select: str | None = None) -> None:
        """(Re)load the scenario list from the service."""
        try:
            scenarios = list(self._client.scenarios.list(cache=False))
        except Exception as exc:  # noqa: BLE001 - shown in place
            self._scenarios = []
            self.scenario_picker.options = []
            self._set(None, "error", f"Could not load the scenarios: {error_text(exc)}")
            return
        self._scenarios = scenarios
        options = [(f"{s.name or 'Untitled'}  ({s.id})", s.id) for s in scenarios]
        self.scenario_picker.options = options
        ids = [s.id for s in scenarios]
        if select in ids:
            self.scenario_picker.value = select
        else:
            if ids and self.scenario_picker.value not in ids:
                self.scenario_picker.value = ids[0]
            if select is not None:
                self._set(None, "error", f"Scenario {select!r} is not in your list; pick one above.")
        if not scenarios:
            self._set(None, "info", "No scenarios yet: create one with tt.widgets.ScenarioBuilder(client).")
        self._sync_buttons()

    # ---- start -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Create the session and show the practice frame."""
        if self.phase not in ("setup", "error") or self.embedded is not None:
            return
        scenario_id = self.scenario_picker.value
        if not scenario_id:
            self._set(None, "error", "Pick a scenario first.")
            return
        try:
            metadata = parse_metadata(self.team.value, self.extra.value)
        except ValueError as exc:
            self._set(None, "error", str(exc))
            return
        email = self.email.value.strip() or None
        name = self.name.value.strip() or None
        self._set("starting", "busy", "Creating the session…", spinner=True)
        self._runner.run(
            lambda: self._client.sessions.create(scenario_id, user_email=email, user_name=name,
                                                 metadata=metadata or None),
            self._started,
            lambda exc: self._set("error", "error", f"Could not start the session: {error_text(exc)}"),
        )

    def _started(self, link: Any) -> None:
        try:
            embedded = EmbeddedSession(link, client=self._client, kind=self._kind, threaded=self._runner.threaded)
        except Exception as exc:  # noqa: BLE001 - shown in place
            self._set("error", "error", f"Could not show the session: {error_text(exc)}")
            return
        self.link = link
        self.embedded = embedded
        embedded.on("start", self._on_start)
        embedded.on("stop", self._on_stop)
        embedded.on("terminate", self._on_terminate)
        embedded.on("submit", self._on_submit)
        embedded.observe(self._on_embedded_error, names="error")
        embedded.observe(self._on_tab, names="opened_in_tab")
        if embedded.session_id:
            self.session_id = embedded.session_id
        self.session_box.children = [embedded]
        hint = ("Press Start in the practice page, reply to the persona, then press End."
                if embedded.is_sandbox else
                "Press start in the practice frame. If the microphone is blocked there, use “Open in a new tab”.")
        self._set("practising", "info", hint)

    # ---- events --------------------------------------------------------------------------------

    def _on_start(self, event: dict) -> None:
        if event.get("session_id"):
            self.session_id = event["session_id"]
        self._set("practising", "info", "Session running…")

    def _on_stop(self, event: dict) -> None:
        if event.get("session_id"):
            self.session_id = event["session_id"]
        if self.embedded is not None and self.embedded.is_sandbox:
            # The simulated page's transcript is completed and scored by the EmbeddedSession itself.
            self._set("analysing", "busy", "Session ended. Scoring it (simulated)…", spinner=True)
            return
        self._collect()

    def _on_terminate(self, event: dict) -> None:
        if self.analysis is None and self.phase not in ("waiting", "analysing"):
            self._set("terminated", "error",
                      "The session ended abnormally (terminated), so it is not analysed. Practise again when ready.")

    def _on_submit(self, event: dict) -> None:
        if self.embedded is not None and self.embedded.analysis is not None:
            self._show(self.embedded.analysis)
        elif self.analysis is None:
            self._collect()  # the vendor analysed it: fetch the result (no new charge)

    def _on_embedded_error(self, change: dict) -> None:
        if change["new"]:
            self._set("error", "error", f"The practice session reported a problem: {change['new']}")

    def _on_tab(self, change: dict) -> None:
        # Events cannot come back from a vendor page in its own tab: poll instead.
        if change["new"] and self.embedded is not None and not self.embedded.is_sandbox and self.session_id:
            self._collect(until_timeout=self._practice_timeout, waiting_text=(
                "Practising in another tab: this cell will show the analysis when the session ends."))

    # ---- waiting and analysing ----------------------------------------------------------------------

    def check_results(self) -> None:
        """The polling fallback: wait for the session to finish, analyse it and show the card."""
        if not self.session_id:
            self._set(None, "error", "No session id yet: start the session in the practice frame first.")
            return
        self._collect()

    def _collect(self, *, until_timeout: float | None = None, waiting_text: str | None = None) -> None:
        session_id = self.session_id or (self.embedded.session_id if self.embedded else "")
        if not session_id:
            self._set("error", "error", "The session id never arrived, so the result cannot be fetched. "
                                        "Use “Check for results” once the frame shows the session.")
            return
        with self._lock:
            if self._collecting or self.analysis is not None:
                return
            self._collecting = True
            generation = self._generation
        self.session_id = session_id
        timeout = self._wait_timeout if until_timeout is None else until_timeout
        self._set("waiting", "busy", waiting_text or "Session ended. Waiting for it to be saved…", spinner=True)

        def task() -> Any:
            self._client.sessions.wait(session_id, until="completed", timeout=timeout, interval=self._poll_interval)
            if generation == self._generation:
                self._set("analysing", "busy", "Analysing the session (usually 5–30 s)…", spinner=True)
            analysis = self._client.sessions.analyze(session_id, wait_timeout=self._wait_timeout,
                                                     interval=self._poll_interval)
            return richest_analysis(self._client, session_id, analysis)[1]

        def done(analysis: Any) -> None:
            if generation == self._generation:
                self._show(analysis)

        def failed(exc: BaseException) -> None:
            if generation == self._generation:
                self._set("error", "error", f"Could not get the analysis: {error_text(exc)}\n"
                                            "Use “Check for results” to try again.")

        def finally_() -> None:
            with self._lock:
                if generation == self._generation:
                    self._collecting = False
            self._sync_buttons()

        self._runner.run(task, done, failed, finally_)

    def _show(self, analysis: Any) -> None:
        self.analysis = analysis
        render = getattr(analysis, "_repr_html_", None)
        self.result.value = render() if callable(render) else html.escape(repr(analysis))
        score = getattr(analysis, "score", None)
        text = f"Done: scored {score:.0f}/100." if isinstance(score, (int, float)) else "Done."
        self._set("done", "ok", text)

    # ---- again -------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the form for another session (the finished one stays on the service)."""
        with self._lock:
            self._generation += 1
            self._collecting = False
        self.embedded = None
        self.link = None
        self.analysis = None
        self.session_id = ""
        self.session_box.children = []
        self.result.value = ""
        self._set("setup", "info", "")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until running calls (the launcher's and its practice widget's) finish; True when idle."""
        ok = self._runner.join(timeout)
        if self.embedded is not None:
            ok = self.embedded.wait(timeout) and ok
            ok = self._runner.join(timeout) and ok
        return ok
