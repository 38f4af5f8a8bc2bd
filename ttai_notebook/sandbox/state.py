"""The sandbox's domain state and rules, without HTTP: scenarios, sessions, analyses and the balance.
Errors are :class:`SandboxError` carrying the status code the service would answer with."""
from __future__ import annotations

import bisect
import random
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from . import filters as flt
from .analytics import DEFAULT_WINDOW_DAYS, MAX_WINDOW_DAYS, build_analytics
from .background import DEFAULT_PROCESSING_TIME, BackgroundClock, JobQueue, check_processing_time
from .clock import DEMO_NOW, DeterministicClock, IdGenerator, RealClock
from .counters import Counters
from .demo_data import DemoOrg, build_demo, make_transcript
from .demo_scripts import SCENARIOS as DEMO_SCRIPTS
from .orgs import OrgRecord, admin_refusal, default_organizations, make_organizations, scope_refusal
from .records import COMPLETED, IN_PROGRESS, TERMINATED, ScenarioRecord, SessionRecord
from .scoring import DEFAULT_RUBRIC, analyze_transcript, parse_transcript

__all__ = ["SandboxError", "SandboxState", "STARTING_MINUTES", "ANALYSIS_COST", "SIMULATED_RECORDING_NOTE",
           "parse_rubric_text"]

#: The demo organisation's starting balance, in minutes.
STARTING_MINUTES = 100_000.0
#: Minutes charged per new analysis.
ANALYSIS_COST = 1.0
#: First turn of a transcript the sandbox makes up for an imported ``recording_url`` (it fetches nothing).
SIMULATED_RECORDING_NOTE = ("[00:00] AI: [Simulated transcript: the offline sandbox does not download or transcribe "
                            "recordings; this conversation was generated in its place.]")

# Fields of the scenario upsert kept as first-class record attributes; the rest go to ``extra``.
_CORE_FIELDS = {"name", "ai_instructions", "description", "user_friendly_description", "is_public", "is_recording",
                "session_analysis", "type", "rubrik", "processed_rubrik", "user_metadata", "id"}


class SandboxError(Exception):
    """A refusal by the domain rules, with the HTTP status the service would use.

    Attributes
    ----------
    status : int
    message : str
    details : dict
        Extra context for the documented dialect's ``details``.
    """

    def __init__(self, status: int, message: str, /, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


def parse_rubric_text(text: str | None) -> list[dict[str, Any]]:
    """Turn free rubric text into weighted topics.

    One topic per non-empty line; ``Topic (25%): what good looks like`` or ``Topic - 25%``. Lines without
    weights share what is left; weights are scaled to sum to 100.

    Examples
    --------
    >>> [(r["topic"], r["weight"]) for r in parse_rubric_text("- Empathy (60%)\\n- Next steps (40%)")]
    [('Empathy', 60.0), ('Next steps', 40.0)]
    """
    entries: list[dict[str, Any]] = []
    for line in (text or "").splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip()
        if not line:
            continue
        weight_match = re.search(r"(\d+(?:\.\d+)?)\s*%", line)
        head, _, prompt = line.partition(":")
        topic = re.sub(r"\(?\s*\d+(?:\.\d+)?\s*%\s*\)?", "", head).strip(" -–(")
        if not topic:
            continue
        entries.append({"topic": topic[:120], "weight": float(weight_match.group(1)) if weight_match else None,
                        "prompt": prompt.strip() or topic, "requires_video": False})
    if not entries:
        return []
    given = sum(e["weight"] for e in entries if e["weight"] is not None)
    missing = [e for e in entries if e["weight"] is None]
    if missing:
        share = max(0.0, 100.0 - given) / len(missing) if given < 100 else 0.0
        for e in missing:
            e["weight"] = share
    total = sum(e["weight"] for e in entries)
    if total <= 0:
        for e in entries:
            e["weight"] = round(100.0 / len(entries), 2)
    elif abs(total - 100.0) > 1e-6:
        for e in entries:
            e["weight"] = round(e["weight"] * 100.0 / total, 2)
    return entries


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _estimate_duration(transcript: str) -> float:
    turns = parse_transcript(transcript)
    if not turns:
        return 0.0
    words = sum(len(t.text.split()) for t in turns)
    last = next((t for t in reversed(turns) if t.t is not None), None)
    if last is not None:
        return round(last.t + len(last.text.split()) / 2.6 + 1.0, 1)
    return round(words / 2.6 + 1.5 * len(turns), 1)


class SandboxState:
    """Scenarios, sessions, analyses and the balance of one sandbox organisation.

    Every public method takes :attr:`lock`, so the state may be shared by threads (the transport's
    callers and the HTTP server's loop).

    Parameters
    ----------
    seed : int
        Seeds the demo organisation and the ids of objects created later.
    sessions : int, optional
        Size of the demo organisation (see :func:`~ttai_notebook.sandbox.demo_data.build_demo`).
    clock : {"demo", "real"}
        ``demo``: timestamps start at :data:`DEMO_NOW` and advance a fixed step per mutation;
        ``real``: wall time.
    counters : Counters, optional
        Where creates and analyses are counted.
    processing_time : float
        Seconds a background job (post-process analysis, import analysis) takes on the background clock.
    background : {"auto", "manual"}
        ``auto``: the background clock follows ``time.monotonic()``; ``manual``: it moves only on :meth:`advance`.
    organizations : sequence of mappings, optional
        ``{name, role, slug?, id?, home?}`` replacing the demo organisations (see
        :func:`~ttai_notebook.sandbox.orgs.make_organizations`). :attr:`organizations` holds the records;
        tests may change a record's ``role``.
    """

    def __init__(self, seed: int = 0, sessions: int | None = None, clock: str = "demo",
                 counters: Counters | None = None, processing_time: float = DEFAULT_PROCESSING_TIME,
                 background: str = "auto", organizations: Sequence[Mapping[str, Any]] | None = None) -> None:
        if clock not in ("demo", "real"):
            raise ValueError(f"clock must be 'demo' or 'real', got {clock!r}")
        self.seed = seed
        self.size = sessions
        self.clock_kind = clock
        self.counters = counters if counters is not None else Counters()
        self.processing_time = check_processing_time(processing_time)
        self.background = BackgroundClock(background)
        self._org_specs = None if organizations is None else [dict(o) for o in organizations]
        make_organizations(seed, self._org_specs or [])  # fail early on a bad list
        self.jobs = JobQueue()
        self.lock = threading.RLock()
        #: Bumped by every change, so cached answers know when they are stale.
        self.version = 0
        self.reset()

    # ---- lifecycle ----
    def reset(self) -> None:
        """Back to the seeded demo organisation (new objects, the balance and the clock are reset)."""
        with self.lock:
            org = build_demo(self.seed, self.size)
            self.org: DemoOrg = org
            self.owner_id = org.owner_id
            self.scenarios: dict[str, ScenarioRecord] = {s.id: s for s in org.scenarios}
            self.sessions: dict[str, SessionRecord] = {s.id: s for s in org.sessions}
            # newest created first, ties by id (stable pages)
            self._order: list[SessionRecord] = sorted(org.sessions, key=_order_key)
            self.users: dict[str, str] = {t.email: t.user_id for t in org.trainees}
            self.available_minutes = STARTING_MINUTES
            self.balance_updated = DEMO_NOW - timedelta(days=1)
            self.access_tokens: dict[str, dict[str, Any]] = {}
            self.clock = DeterministicClock() if self.clock_kind == "demo" else RealClock()
            self.ids = IdGenerator(self.seed, "run")
            self.organizations: list[OrgRecord] = (default_organizations(self.seed) if self._org_specs is None
                                                   else make_organizations(self.seed, self._org_specs))
            self.jobs.clear()
            self.background.reset()
            self.version += 1

    def _new_id(self, at: datetime, taken: Mapping[str, Any]) -> str:
        new = self.ids.new_id(at)
        while new in taken:
            new = self.ids.new_id(at)
        return new

    def summary(self) -> dict[str, Any]:
        """Current sizes: scenarios, sessions by status, analysed, trainees, teams, weeks, balance."""
        with self.lock:
            by_status: dict[str, int] = {}
            for s in self._order:
                by_status[s.status] = by_status.get(s.status, 0) + 1
            return {
                "scenarios": len(self.scenarios),
                "sessions": len(self._order),
                "by_status": dict(sorted(by_status.items())),
                "analysed": sum(1 for s in self._order if s.analyzed),
                "trainees": len(self.org.trainees),
                "teams": len(self.org.teams),
                "weeks": self.org.weeks,
                "available_minutes": self.available_minutes,
            }

    # ---- scenarios ----
    def list_scenarios(self, search: str | None = None, type: str | None = None) -> list[ScenarioRecord]:
        """Scenarios, newest first; ``search`` is a case-insensitive substring of name or description."""
        with self.lock:
            items = sorted(self.scenarios.values(), key=lambda s: s.created_at, reverse=True)
            if search:
                needle = search.lower()
                items = [s for s in items if needle in s.name.lower() or needle in (s.description or "").lower()]
            if type:
                items = [s for s in items if s.type == type]
            return items

    def get_scenario(self, scenario_id: str) -> ScenarioRecord:
        """One scenario, or 404."""
        with self.lock:
            rec = self.scenarios.get(scenario_id)
            if rec is None:
                raise SandboxError(404, f"Scenario not found: {scenario_id}", scenario_id=scenario_id)
            return rec

    def _apply_rubric(self, rec: ScenarioRecord, fields: Mapping[str, Any]) -> None:
        processed = fields.get("processed_rubrik")
        if "rubrik" in fields:
            rec.rubrik = fields["rubrik"]
        if processed and processed.get("criteria"):
            rec.rubric = [{"topic": c["topic"], "weight": float(c["weight"]), "prompt": c["prompt"],
                           "requires_video": bool(c.get("requires_video") or False)} for c in processed["criteria"]]
            rec.rubric_user_set = True
        elif "rubrik" in fields:
            rec.rubric = parse_rubric_text(rec.rubrik)
            rec.rubric_user_set = False

    def create_scenario(self, fields: Mapping[str, Any]) -> ScenarioRecord:
        """Create a scenario from validated upsert fields. ``name`` and ``ai_instructions`` are required.

        Raises
        ------
        SandboxError
            400 when ``name`` or ``ai_instructions`` is missing or blank.
        """
        with self.lock:
            for name in ("name", "ai_instructions"):
                if _blank(fields.get(name)):
                    state = "blank" if name in fields and fields[name] is not None else "missing"
                    raise SandboxError(400, f"Field '{name}' is required to create a scenario and must not be blank"
                                       f" (it was {state}).", field=name)
            now = self.clock.tick()
            rec = ScenarioRecord(
                id=self._new_id(now, self.scenarios), name=fields["name"].strip(),
                ai_instructions=fields["ai_instructions"], created_at=now, updated_at=now, created_by=self.owner_id,
                description=fields.get("description"), user_friendly_description=fields.get("user_friendly_description"),
                is_public=True if fields.get("is_public") is None else bool(fields["is_public"]),
                is_recording=bool(fields.get("is_recording") or False),
                session_analysis=fields.get("session_analysis"), type=fields.get("type") or "default",
                user_metadata=fields.get("user_metadata"),
                extra={k: v for k, v in fields.items() if k not in _CORE_FIELDS},
            )
            self._apply_rubric(rec, fields)
            self.scenarios[rec.id] = rec
            self.counters.creates["scenario"] += 1
            self.version += 1
            return rec

    def update_scenario(self, scenario_id: str, fields: Mapping[str, Any]) -> ScenarioRecord:
        """Change exactly the given fields of a scenario (404 if unknown; 400 for a blank name/instructions)."""
        with self.lock:
            rec = self.get_scenario(scenario_id)
            for name in ("name", "ai_instructions"):
                if name in fields and _blank(fields[name]):
                    raise SandboxError(400, f"Field '{name}' must not be blank.", field=name)
            for key, value in fields.items():
                if key in ("id", "rubrik", "processed_rubrik"):
                    continue
                if key == "name":
                    rec.name = value.strip()
                elif key == "is_public":
                    rec.is_public = True if value is None else bool(value)
                elif key == "is_recording":
                    rec.is_recording = bool(value or False)
                elif key == "type":
                    rec.type = value or "default"
                elif key in _CORE_FIELDS:
                    setattr(rec, key, value)
                else:
                    rec.extra[key] = value
            self._apply_rubric(rec, fields)
            rec.updated_at = self.clock.tick()
            self.version += 1
            return rec

    def delete_scenario(self, scenario_id: str) -> None:
        """Delete a scenario (404 if unknown). Its sessions stay."""
        with self.lock:
            self.get_scenario(scenario_id)
            del self.scenarios[scenario_id]
            self.clock.tick()
            self.version += 1

    # ---- sessions ----
    def get_session(self, session_id: str) -> SessionRecord:
        """One session, or 404."""
        with self.lock:
            rec = self.sessions.get(session_id)
            if rec is None:
                raise SandboxError(404, f"Session not found: {session_id}", session_id=session_id)
            return rec

    def get_sessions(self, session_ids: Iterable[str]) -> list[SessionRecord]:
        """The known sessions among ``session_ids``, in the order asked, without duplicates."""
        with self.lock:
            seen: set[str] = set()
            out = []
            for sid in session_ids:
                rec = self.sessions.get(sid)
                if rec is not None and sid not in seen:
                    seen.add(sid)
                    out.append(rec)
            return out

    def list_sessions(self, *, scenario_id: str | None = None, user_emails: Sequence[str] | None = None,
                      updated_from: datetime | None = None, updated_to: datetime | None = None,
                      page: int = 1, limit: int = 50) -> tuple[list[SessionRecord], int]:
        """A page of sessions, newest first, and the total matching.

        ``user_emails`` match case-insensitively; the date range applies to ``updated_at`` (as the
        service's ``from_date`` / ``to_date`` do), both ends inclusive.
        """
        with self.lock:
            emails = {e.strip().lower() for e in user_emails or () if e.strip()} or None
            matched = [
                s for s in self._order
                if (scenario_id is None or s.scenario_id == scenario_id)
                and (emails is None or (s.user_email or "").lower() in emails)
                and (updated_from is None or s.updated_at >= updated_from)
                and (updated_to is None or s.updated_at <= updated_to)
            ]
            start = (page - 1) * limit
            return matched[start:start + limit], len(matched)

    def _user(self, user_email: str | None, now: datetime) -> tuple[str | None, str]:
        """(e-mail as given, trimmed; the user id it belongs to): the owner when there is none, else one id per
        address (case-insensitive), made on first sight."""
        email = user_email.strip() if user_email and user_email.strip() else None
        if email is None:
            return None, self.owner_id
        user_id = self.users.get(email.lower()) or self._new_id(now, {})
        self.users[email.lower()] = user_id
        return email, user_id

    def create_session(self, scenario_id: str, *, user_email: str | None = None, user_name: str | None = None,
                       metadata: Mapping[str, Any] | None = None) -> SessionRecord:
        """Start a session of a scenario (404 if the scenario is unknown). Status ``in_progress``."""
        with self.lock:
            scenario = self.get_scenario(scenario_id)
            now = self.clock.tick()
            email, user_id = self._user(user_email, now)
            flat = {k: v for k, v in (metadata or {}).items() if isinstance(v, (str, int, float, bool))}
            rec = SessionRecord(
                id=self._new_id(now, self.sessions), scenario_id=scenario.id, scenario_name=scenario.name,
                status=IN_PROGRESS, created_at=now, updated_at=now, user_id=user_id, user_email=email,
                user_name=user_name, metadata=dict(metadata) if metadata else None, user_metadata=flat or None,
                rubric=scenario.rubric or None,
            )
            self._insert(rec)
            return rec

    def _insert(self, rec: SessionRecord) -> None:
        self.sessions[rec.id] = rec
        # Keep newest-first order even when a real clock is behind the demo's history.
        self._order.insert(bisect.bisect_left(self._order, _order_key(rec), key=_order_key), rec)
        self.counters.creates["session"] += 1
        self.version += 1

    def complete_session(self, session_id: str, transcript: str, *, duration_s: float | None = None,
                         status: str = COMPLETED) -> SessionRecord:
        """Finish a running session with its transcript (what the practice page does).

        Completing again with the same transcript and status returns the session unchanged (a retried
        request is harmless); anything else on a finished session is 409.
        """
        if status not in (COMPLETED, TERMINATED):
            raise SandboxError(422, f"status must be 'completed' or 'terminated', got {status!r}", field="status")
        with self.lock:
            rec = self.get_session(session_id)
            if rec.status != IN_PROGRESS:
                if rec.status == status and rec.get_transcript() == transcript:
                    return rec
                raise SandboxError(409, f"Session {session_id} is already {rec.status}; it cannot be completed again.",
                                   session_id=session_id, status=rec.status)
            if status == COMPLETED and not transcript.strip():
                raise SandboxError(400, "transcript is empty; a completed session needs at least one turn "
                                   "('[00:05] User: ...'). Use status 'terminated' for a session that ended without one.",
                                   field="transcript")
            now = self.clock.tick()
            rec.transcript = transcript
            rec.transcript_gen = None
            rec.status = status
            rec.completed_at = now
            rec.updated_at = now
            rec.duration = round(float(duration_s), 1) if duration_s is not None else _estimate_duration(transcript)
            self.version += 1
            scenario = self.scenarios.get(rec.scenario_id)
            auto = bool(scenario and (scenario.session_analysis or {}).get("is_auto_analysis"))
            if auto and status == COMPLETED and self.available_minutes >= ANALYSIS_COST:
                self._run_analysis(rec)
            return rec

    # ---- analysis and balance ----
    def _apply_analysis(self, rec: SessionRecord, now: datetime) -> None:
        scenario = self.scenarios.get(rec.scenario_id)
        if scenario is not None:
            rec.rubric = scenario.rubric or None
        rubric = rec.rubric or list(DEFAULT_RUBRIC)
        rec.analysis_runs = max(rec.analysis_runs, 1 if rec.analyzed else 0) + 1
        rec.evaluation, rec.improvement = analyze_transcript(rec.get_transcript(), rubric)
        if rec.analysis_runs > 1:
            # A real re-run is a new model run whose text differs; the heuristic scorer would repeat itself word
            # for word, and a client polling list answers (no updated_at there) could not see the re-run land.
            rec.evaluation = {**rec.evaluation,
                              "detailed_feedback": f"{rec.evaluation.get('detailed_feedback') or ''} (run {rec.analysis_runs})"}
        rec.analyzed = True
        rec.last_evaluated_at = now
        rec.updated_at = now
        self.version += 1

    def _refuse_without_balance(self) -> None:
        if self.available_minutes < ANALYSIS_COST:
            raise SandboxError(403, f"Insufficient balance: {self.available_minutes:g} minutes available and an "
                               f"analysis costs {ANALYSIS_COST:g} minute. Top up the organisation's wallet to "
                               "analyse more sessions.", available_minutes=self.available_minutes)

    def _charge(self, rec: SessionRecord, now: datetime) -> None:
        self.available_minutes = round(self.available_minutes - ANALYSIS_COST, 4)
        self.balance_updated = now
        self.counters.analyses[rec.id] += 1
        self.version += 1

    def _run_analysis(self, rec: SessionRecord) -> None:
        now = self.clock.tick()
        self._apply_analysis(rec, now)
        self._charge(rec, now)

    def analyze_session(self, session_id: str, *, force: bool = False) -> tuple[SessionRecord, bool]:
        """Analyse a completed session. Returns ``(session, charged)``.

        Existing results are returned uncharged unless ``force``. Refuses a session that is not
        completed (400) and an empty balance (403).
        """
        with self.lock:
            rec = self.get_session(session_id)
            if rec.status == IN_PROGRESS:
                raise SandboxError(400, f"Session {session_id} is still in progress; it can be analysed once it is "
                                   "completed.", session_id=session_id, status=rec.status)
            if rec.status != COMPLETED:
                raise SandboxError(400, f"Session {session_id} is {rec.status}; only completed sessions can be analysed.",
                                   session_id=session_id, status=rec.status)
            if rec.analyzed and not force:
                rec.results()
                self.counters.analysis_reuses[rec.id] += 1
                return rec, False
            self._refuse_without_balance()
            self._run_analysis(rec)
            return rec, True

    def balance(self) -> tuple[float, datetime]:
        """``(available_minutes, last_updated)``."""
        with self.lock:
            return self.available_minutes, self.balance_updated

    def set_balance(self, minutes: float) -> None:
        """Set the balance (e.g. 0 to test refusals)."""
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes < 0:
            raise ValueError(f"minutes must be a number >= 0, got {minutes!r}")
        with self.lock:
            self.available_minutes = float(minutes)
            self.balance_updated = self.clock.tick()
            self.version += 1

    # ---- scenario access tokens ----
    def create_access_token(self, scenario_id: str, valid_for_hours: int = 1,
                            email: str | None = None) -> dict[str, Any]:
        """A short-lived token to embed one scenario (never the API token). 404 if unknown."""
        with self.lock:
            scenario = self.get_scenario(scenario_id)
            now = self.clock.tick()
            token = "sat_" + self.ids.token_hex(20)
            record = {"access_token": token, "scenario_id": scenario.id, "email": email,
                      "expires_at": now + timedelta(hours=valid_for_hours)}
            self.access_tokens[token] = record
            self.counters.creates["access_token"] += 1
            self.version += 1
            return record

    # ---- background jobs ----
    def apply_due(self) -> int:
        """Finish the background jobs that are due on the background clock; returns how many ran.

        Called at the start of every request (and by :meth:`advance`), so results appear as soon as they
        are due without a thread.
        """
        if not self.jobs:  # the common case: nothing queued, nothing to read
            return 0
        with self.lock:
            due = self.jobs.pop_due(self.background.now())
            for job in due:
                rec = self.sessions.get(job.session_id)
                if rec is None:
                    continue
                now = self.clock.tick()
                if job.kind == "analysis":
                    self._apply_analysis(rec, now)
                else:  # extraction: sandbox scenarios configure no extraction_vars, so nothing is extracted
                    rec.extraction = {}
                    rec.updated_at = now
                    self.version += 1
                self.counters.jobs_done[job.kind] += 1
            return len(due)

    def advance(self, seconds: float) -> int:
        """Move the background clock forward and finish what became due; returns how many jobs ran."""
        self.background.advance(seconds)
        return self.apply_due()

    @property
    def pending_jobs(self) -> int:
        """Background jobs not done yet (due ones are finished first)."""
        with self.lock:
            self.apply_due()
            return len(self.jobs)

    def _queue(self, kind: str, rec: SessionRecord) -> None:
        self.jobs.push(self.background.now() + self.processing_time, kind, rec.id)

    # ---- organisations ----
    def org_scope(self, header: str | None) -> OrgRecord | None:
        """The organisation an ``X-TT-ORG`` header scopes a call to (None: personal context).

        Raises
        ------
        SandboxError
            403 for an organisation the user is not a member of (or has no access to).
        """
        with self.lock:
            org, refusal = scope_refusal(self.organizations, header)
        if refusal is not None:
            raise SandboxError(refusal[0], refusal[1], org_id=(header or "").strip())
        return org

    @staticmethod
    def require_org_admin(org: OrgRecord | None, param: str) -> None:
        """Refuse an org-wide request: 400 without an org context, 403 below the admin role."""
        refusal = admin_refusal(org, param)
        if refusal is not None:
            raise SandboxError(refusal[0], refusal[1], parameter=param)

    # ---- v2 listing ----
    def query_sessions(self, selection: flt.SessionFilter, *, org: OrgRecord | None = None, is_org: bool = False,
                       page: int = 1, limit: int = 50) -> tuple[list[SessionRecord], int]:
        """A page of ``GET /v2/sessions``: newest created first (ties by id), and the total matching.

        Without ``is_org`` the demo user (who owns every sandbox scenario) sees every session; with it, the
        sessions of the organisation ``org`` (400 / 403 per :meth:`require_org_admin`).
        """
        with self.lock:
            if is_org:
                self.require_org_admin(org, "is_org")
                assert org is not None
                if not org.home:  # the sandbox keeps all its data in the home organisation
                    return [], 0
            start = (page - 1) * limit
            if selection.empty:
                return self._order[start:start + limit], len(self._order)
            matched = flt.select(selection, self._order)
            return matched[start:start + limit], len(matched)

    # ---- post-process, imports ----
    def post_process(self, session_id: str, *, run_analysis: bool = False,
                     run_extraction: bool = False) -> SessionRecord:
        """Queue a (re-)run of analysis and/or extraction on a completed session.

        Every call with ``run_analysis`` is charged at once (counted in ``counters.analyses``); the results
        replace any earlier ones when the job finishes, which bumps ``updated_at``.

        Raises
        ------
        SandboxError
            404 unknown session, 400 session not completed, 403 balance too low for an analysis.
        """
        with self.lock:
            rec = self.sessions.get(session_id)
            if rec is None:
                raise SandboxError(404, f"Session {session_id} not found", session_id=session_id)
            if rec.status != COMPLETED:
                state = "still in progress" if rec.status == IN_PROGRESS else rec.status
                raise SandboxError(400, f"Session {session_id} is {state}; only completed sessions can be "
                                   "post-processed.", session_id=session_id, status=rec.status)
            if run_analysis:
                self._refuse_without_balance()
                self._charge(rec, self.clock.tick())
                self._queue("analysis", rec)
            if run_extraction:
                self._queue("extraction", rec)
            self.counters.post_processes[rec.id] += 1
            self.apply_due()  # processing_time 0: done before the answer
            return rec

    def _simulated_transcript(self, scenario: ScenarioRecord, recording_url: str) -> str:
        script = next((s for s in DEMO_SCRIPTS if s["name"] == scenario.name), DEMO_SCRIPTS[0])
        rng = random.Random(f"ttai-sandbox/{self.seed}/recording/{recording_url}")
        body = make_transcript(script["key"], round(rng.uniform(0.25, 0.85), 3), rng=rng)
        return SIMULATED_RECORDING_NOTE + "\n\n" + body

    def import_session(self, scenario_id: str, *, transcript: str | None = None, recording_url: str | None = None,
                       user_email: str | None = None, user_name: str | None = None,
                       metadata: Mapping[str, Any] | None = None,
                       user_metadata: Mapping[str, Any] | None = None) -> SessionRecord:
        """Create a **completed** session from a finished call (``POST /v2/session``), analysed in the background.

        A ``recording_url`` is not fetched: the sandbox makes up a transcript whose first turn says it is
        simulated. The analysis is charged when the balance allows it (else the session is imported unanalysed).

        Raises
        ------
        SandboxError
            400 without a transcript or recording URL; 404 unknown scenario.
        """
        text = transcript if transcript is not None and transcript.strip() else None
        url = recording_url.strip() if recording_url is not None and recording_url.strip() else None
        if text is None and url is None:
            raise SandboxError(400, "Either transcript or recording_url is required to create a session "
                               "(a transcript as '[00:05] User: ...' turns, or a URL of the recording).",
                               field="transcript")
        with self.lock:
            scenario = self.get_scenario(scenario_id)
            if text is None:
                assert url is not None
                text = self._simulated_transcript(scenario, url)
            now = self.clock.tick()
            email, user_id = self._user(user_email, now)
            flat = dict(user_metadata) if user_metadata else {
                k: v for k, v in (metadata or {}).items() if isinstance(v, (str, int, float, bool))}
            rec = SessionRecord(
                id=self._new_id(now, self.sessions), scenario_id=scenario.id, scenario_name=scenario.name,
                status=COMPLETED, created_at=now, updated_at=now, user_id=user_id, user_email=email,
                user_name=user_name, metadata=dict(metadata) if metadata else None, user_metadata=flat or None,
                completed_at=now, duration=_estimate_duration(text), transcript=text, rubric=scenario.rubric or None,
            )
            self._insert(rec)
            self.counters.creates["import"] += 1
            if self.available_minutes >= ANALYSIS_COST:
                self._charge(rec, now)
                self._queue("analysis", rec)
                self.apply_due()
            return rec

    # ---- analytics ----
    def analytics(self, *, org: OrgRecord | None, org_wide: bool, start: datetime | None = None,
                  end: datetime | None = None) -> dict[str, Any]:
        """``GET /v2/analytics`` (``UnifiedAnalyticsResponse``); the window defaults to the 90 days before now.

        Raises
        ------
        SandboxError
            400 / 403 for the org view as :meth:`require_org_admin`; 400 for an empty or over-long window.
        """
        with self.lock:
            if org_wide:
                self.require_org_admin(org, "is_org_wide")
            end = end or self.clock.now()
            start = start or end - timedelta(days=DEFAULT_WINDOW_DAYS)
            if start > end:
                raise SandboxError(400, "start_date must not be after end_date.", field="start_date")
            if (end - start).days > MAX_WINDOW_DAYS:
                raise SandboxError(400, f"The analytics window is limited to {MAX_WINDOW_DAYS} days.",
                                   field="start_date")
            visible = not org_wide or (org is not None and org.home)
            return build_analytics(self.scenarios.values() if visible else (), self._order if visible else (),
                                   start=start, end=end, org_wide=org_wide, wallet_balance=self.available_minutes)


def _order_key(rec: SessionRecord) -> tuple[float, str]:
    """Sort key of the listing: newest created first, ties by id."""
    return (-rec.created_at.timestamp(), rec.id)
