"""The demo organisation, deterministic from a seed: five rubric-scored scenarios, trainees in teams,
and months of sessions whose scores rise with practice. Transcripts are built on demand."""
from __future__ import annotations

import bisect
import gc
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .clock import DEMO_NOW, IdGenerator
from .demo_scripts import COMPANIES, FILLERS, SCENARIOS, TOPICS, USER_LINES
from .records import COMPLETED, IN_PROGRESS, TERMINATED, ScenarioRecord, SessionRecord

__all__ = [
    "DEFAULT_SESSIONS",
    "MAX_SESSIONS",
    "SHORT_TRANSCRIPTS_ABOVE",
    "ORG_DOMAIN",
    "DemoOrg",
    "Trainee",
    "build_demo",
    "build_transcript",
    "make_transcript",
]

#: Sessions in the default demo organisation.
DEFAULT_SESSIONS = 520
#: The largest organisation ``sessions=`` may ask for.
MAX_SESSIONS = 100_000
#: Organisations larger than this get shorter transcripts (cheaper to build and score on first read).
SHORT_TRANSCRIPTS_ABOVE = 5_000
#: E-mail domain of the demo trainees (``.example`` never resolves).
ORG_DOMAIN = "northwind-demo.example"

_TEAMS: tuple[tuple[str, float], ...] = (
    # name, skill offset: teams differ, and the order is not the ranking
    ("Enterprise East", 0.07),
    ("Mid-Market", -0.01),
    ("Customer Success", 0.03),
    ("SMB Inside Sales", -0.06),
    ("Enterprise West", 0.01),
    ("Partnerships", 0.04),
    ("Graduate Programme", -0.09),
    ("Public Sector", 0.0),
    ("EMEA Sales", 0.02),
    ("APAC Sales", -0.03),
    ("Renewals", 0.05),
    ("Solutions Engineering", 0.06),
)
# Teams that practise some scenarios more, and are better at them.
_AFFINITY = {
    "Customer Success": {"support": 0.10, "cold_call": -0.04},
    "Renewals": {"objection": 0.08},
    "SMB Inside Sales": {"cold_call": 0.05},
    "Graduate Programme": {"interview": 0.08},
}
_FIRST = (
    "Aisha", "Ben", "Carmen", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Liam", "Maya", "Noah",
    "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Xavier", "Yara", "Zane", "Amara", "Bruno",
    "Chloe", "Diego", "Esme", "Felix", "Gita", "Hugo", "Ivy", "Jamal", "Kira", "Leo", "Mina", "Nils", "Ona", "Priyanka",
    "Rafael", "Sofia", "Tomas", "Uma", "Viktor", "Willa", "Yusuf", "Zoe", "Anton", "Bea", "Cyrus", "Dalia", "Emil",
    "Freya", "Gabriel", "Hana", "Ibrahim", "Julia",
)
_LAST = (
    "Okafor", "Lindqvist", "Moreno", "Patel", "Novak", "Haddad", "Kim", "Tanaka", "Ferreira", "Weber", "Adeyemi",
    "Murphy", "Cohen", "Bianchi", "Ivanova", "Santos", "Reilly", "Alvarez", "Nakamura", "Schmidt", "Rahman", "Dubois",
    "Chen", "Mensah", "Kowalski", "Larsen", "Oyelaran", "Silva", "Horvat", "Fischer", "Nguyen", "Brennan", "Costa",
    "Yilmaz", "Olsen", "Rossi", "Sato", "Mwangi", "Petrov", "Garcia", "Ahmed", "Becker", "Duarte", "Eriksen", "Fontaine",
    "Gallo", "Huang", "Ito", "Jensen", "Kaur",
)


@dataclass(frozen=True)
class Trainee:
    """A demo trainee."""

    user_id: str
    name: str
    first: str
    email: str
    team: str
    cohort: str
    talent: float
    start: datetime
    activity: float


@dataclass
class DemoOrg:
    """The generated organisation: scenario and session records plus who and when.

    Attributes
    ----------
    scenarios : list of ScenarioRecord
    sessions : list of SessionRecord, newest first
    trainees : list of Trainee
    teams : list of str
    weeks : int
        Span of the session history, in weeks, ending at :data:`DEMO_NOW`.
    owner_id : str
        The API token's user (creator of the scenarios).
    """

    seed: int
    scenarios: list[ScenarioRecord]
    sessions: list[SessionRecord]
    trainees: list[Trainee]
    teams: list[str]
    weeks: int
    owner_id: str

    def summary(self) -> dict[str, Any]:
        """Sizes of the organisation (scenarios, sessions by status, trainees, teams, weeks)."""
        by_status: dict[str, int] = {}
        analysed = 0
        for s in self.sessions:
            by_status[s.status] = by_status.get(s.status, 0) + 1
            analysed += s.analyzed
        return {
            "scenarios": len(self.scenarios),
            "sessions": len(self.sessions),
            "by_status": dict(sorted(by_status.items())),
            "analysed": analysed,
            "completed_unanalysed": by_status.get(COMPLETED, 0) - analysed,
            "trainees": len(self.trainees),
            "teams": len(self.teams),
            "weeks": self.weeks,
        }


def _rubric_text(rubric: list[dict[str, Any]]) -> str:
    return "\n".join(f"- {r['topic']} ({r['weight']}%): {r['prompt']}" for r in rubric)


def _sizes(n: int) -> tuple[int, int, int]:
    """(trainees, teams, weeks) for an organisation of ``n`` sessions."""
    trainees = max(min(36, max(1, n // 4)), round(n / 14.5))
    teams = min(len(_TEAMS), 5 + max(0, trainees - 36) // 250)
    weeks = 16 if n <= DEFAULT_SESSIONS else 16 + round(4 * math.log2(n / DEFAULT_SESSIONS))
    return trainees, min(teams, max(1, trainees)), weeks


def _working_time(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A random moment between ``lo`` and ``hi`` in working hours (Mon–Fri, 08:00–18:00 UTC)."""
    span = max(0.0, (hi - lo).total_seconds())
    for _ in range(8):
        t = lo + timedelta(seconds=rng.random() * span)
        if t.weekday() < 5 and 8 <= t.hour < 18 and t <= hi:
            return t
    day = lo + timedelta(seconds=rng.random() * span)
    t = day.replace(hour=8 + rng.randrange(10), minute=rng.randrange(60), second=rng.randrange(60),
                    microsecond=rng.randrange(1_000_000))
    return min(max(t, lo), hi)


def build_demo(seed: int = 0, sessions: int | None = None) -> DemoOrg:
    """Generate the demo organisation.

    Parameters
    ----------
    seed : int
        Same seed, same organisation (ids, people, times, transcripts, scores).
    sessions : int, optional
        Number of sessions (default :data:`DEFAULT_SESSIONS`, at most :data:`MAX_SESSIONS`). Larger
        organisations get more trainees, teams and weeks.

    Returns
    -------
    DemoOrg
    """
    if sessions is not None and (isinstance(sessions, bool) or not isinstance(sessions, int)):
        raise TypeError(f"sessions must be an integer or None, got {sessions!r}")
    n = DEFAULT_SESSIONS if sessions is None else sessions
    if not 0 <= n <= MAX_SESSIONS:
        raise ValueError(f"sessions must be between 0 and {MAX_SESSIONS}, got {sessions!r}")
    # Building 100 000 records creates no reference cycles; pausing the cyclic GC saves a good share of the time.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(seed, n)
    finally:
        if was_enabled:
            gc.enable()


def _build(seed: int, n: int) -> DemoOrg:
    rng = random.Random(f"ttai-sandbox/{seed}/demo")
    ids = IdGenerator(seed, "demo")
    n_trainees, n_teams, weeks = _sizes(n)
    history_start = DEMO_NOW - timedelta(weeks=weeks)
    owner_id = ids.new_id(history_start - timedelta(days=200))

    # Scenarios, created a few weeks before the history starts.
    scenarios: list[ScenarioRecord] = []
    for i, spec in enumerate(SCENARIOS):
        created = history_start - timedelta(days=21 - 2 * i, hours=rng.randrange(8), seconds=rng.random() * 3600)
        rubric = [dict(r, requires_video=False) for r in spec["rubric"]]
        scenarios.append(ScenarioRecord(
            id=ids.new_id(created), name=spec["name"], ai_instructions=spec["ai_instructions"],
            created_at=created, updated_at=created + timedelta(hours=2, seconds=rng.random() * 600),
            created_by=owner_id, description=spec["description"],
            user_friendly_description=spec["user_friendly_description"], is_public=False, is_recording=False,
            session_analysis={"admin_email": None, "is_auto_analysis": False, "is_auto_submit": False},
            rubrik=_rubric_text(rubric), rubric=rubric, rubric_user_set=True,
            user_metadata={"track": "sales" if spec["key"] != "interview" else "hiring", "demo": True},
        ))
    by_key = {spec["key"]: (spec, rec) for spec, rec in zip(SCENARIOS, scenarios)}

    # Trainees: staggered start dates, different talent and activity.
    teams = [name for name, _ in _TEAMS[:n_teams]]
    team_offset = dict(_TEAMS)
    names: list[tuple[str, str]] = []
    seen: set[str] = set()
    pairs = [(f, last) for f in _FIRST for last in _LAST]
    rng.shuffle(pairs)
    for k in range(n_trainees):
        first, last = pairs[k % len(pairs)]
        suffix = "" if k < len(pairs) else str(k // len(pairs) + 1)
        names.append((first, last + suffix))
    trainees: list[Trainee] = []
    for k, (first, last) in enumerate(names):
        team = teams[k % n_teams] if k < n_teams else rng.choice(teams)
        # Most start in the first month; about a fifth join later (new hires).
        start_week = rng.uniform(0, 3) if rng.random() < 0.8 else rng.uniform(3, max(4.0, weeks * 0.6))
        start = history_start + timedelta(weeks=start_week)
        email = f"{first}.{last}@{ORG_DOMAIN}".lower()
        if email in seen:  # defensive: suffixes keep them unique
            email = f"{first}.{last}.{k}@{ORG_DOMAIN}".lower()
        seen.add(email)
        trainees.append(Trainee(
            user_id=ids.new_id(start - timedelta(days=3)), name=f"{first} {last}", first=first, email=email,
            team=team, cohort=start.strftime("%Y-%m"), talent=rng.gauss(0.0, 0.07), start=start,
            activity=rng.lognormvariate(0.0, 0.45),
        ))
    if not trainees or n == 0:
        return DemoOrg(seed, scenarios, [], trainees, teams, weeks, owner_id)

    # Sessions: who, when, which scenario. The newest few are still running.
    n_running = min(n, max(3, round(n * 0.004)))
    cutoff = DEMO_NOW - timedelta(minutes=15 + 7 * n_running + 60)
    cum = list(_accumulate([t.activity for t in trainees]))
    keys = [spec["key"] for spec in SCENARIOS]
    # Teams practise the scenarios they are good at a little more.
    team_cum = {team: list(_accumulate([max(0.2, 1.0 + 20.0 * _AFFINITY.get(team, {}).get(key, 0.0)) for key in keys]))
                for team in teams}
    plan: list[tuple[datetime, int, str]] = []
    for _ in range(n - n_running):
        ti = min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(trainees) - 1)
        tr = trainees[ti]
        key = rng.choices(keys, cum_weights=team_cum[tr.team])[0]
        plan.append((_working_time(rng, tr.start, cutoff), ti, key))
    for j in range(n_running):
        ti = rng.randrange(len(trainees))
        plan.append((DEMO_NOW - timedelta(minutes=15 + 7 * j, seconds=rng.random() * 60), ti, rng.choice(keys)))
    plan.sort(key=lambda p: p[0])

    # Statuses: exact shares, chosen at random among the finished sessions.
    finished = list(range(len(plan) - n_running))
    rng.shuffle(finished)
    n_term = round(len(finished) * 0.06)
    n_unanalysed = round(len(finished) * 0.05)
    terminated = set(finished[:n_term])
    unanalysed = set(finished[n_term:n_term + n_unanalysed])

    # Benchmark-sized organisations get shorter conversations, so reading one for the first time stays cheap.
    short = n > SHORT_TRANSCRIPTS_ABOVE
    attempts: dict[tuple[int, str], int] = {}
    total_attempts: dict[int, int] = {}
    records: list[SessionRecord] = []
    for idx, (created, ti, key) in enumerate(plan):
        tr = trainees[ti]
        spec, scen = by_key[key]
        k = attempts.get((ti, key), 0)
        total = total_attempts.get(ti, 0)
        attempts[(ti, key)] = k + 1
        total_attempts[ti] = total + 1
        skill = (0.30 + team_offset.get(tr.team, 0.0) + _AFFINITY.get(tr.team, {}).get(key, 0.0) + tr.talent
                 + spec["difficulty"] + 0.42 * (1.0 - math.exp(-k / 3.5)) + 0.08 * (1.0 - math.exp(-total / 12.0))
                 + rng.gauss(0.0, 0.07))
        skill = round(min(0.97, max(0.03, skill)), 4)
        meta = {"team": tr.team, "cohort": tr.cohort}
        if idx >= len(plan) - n_running:
            status, completed_at, duration, analyzed, evaluated = IN_PROGRESS, None, None, False, None
        else:
            status = TERMINATED if idx in terminated else COMPLETED
            if status == TERMINATED:
                duration = round(rng.uniform(35.0, 150.0), 1)
            else:
                duration = round(rng.uniform(210.0, 420.0) + 240.0 * skill, 1)
            completed_at = created + timedelta(seconds=duration)
            analyzed = status == COMPLETED and idx not in unanalysed
            evaluated = completed_at + timedelta(seconds=rng.uniform(20.0, 240.0)) if analyzed else None
        gen = (seed, idx, key, skill, status, tr.first, duration, short)
        records.append(SessionRecord(
            id=ids.new_id(created), scenario_id=scen.id, scenario_name=scen.name, status=status,
            created_at=created, updated_at=evaluated or completed_at or created, user_id=tr.user_id,
            user_email=tr.email, user_name=tr.name, metadata=meta, user_metadata={"team": tr.team},
            completed_at=completed_at, duration=duration, last_evaluated_at=evaluated, analyzed=analyzed,
            transcript_gen=None if status == IN_PROGRESS else gen, rubric=scen.rubric,
        ))
    records.reverse()  # newest first
    return DemoOrg(seed, scenarios, records, trainees, teams, weeks, owner_id)


def _accumulate(values: list[float]) -> list[float]:
    out, acc = [], 0.0
    for v in values:
        acc += v
        out.append(acc)
    return out


def _fmt_offset(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60:02d}:{s % 60:02d}"


def _with_fillers(rng: random.Random, text: str, rate: float) -> str:
    if rng.random() >= rate:
        return text
    words = text.split(" ")
    at = rng.randrange(min(len(words), 6)) if words else 0
    filler = rng.choice(FILLERS)
    if at == 0:
        return f"{filler.capitalize()} {text[0].lower()}{text[1:]}" if text else filler
    return " ".join(words[:at] + [filler] + words[at:])


def _tier(rng: random.Random, skill: float) -> str:
    u = rng.random()
    if u < skill:
        return "good"
    if u < skill + (1.0 - skill) * 0.55:
        return "mid"
    return "weak"


def _fresh(rng: random.Random, options: list[str], used: set[str]) -> str:
    """A random option not used yet in this conversation (repeats only once all are used)."""
    free = [o for o in options if o not in used] or options
    choice = rng.choice(free)
    used.add(choice)
    return choice


def _user_line(rng: random.Random, beat: str, skill: float, used: set[str]) -> str:
    tier = _tier(rng, skill)
    if beat == "discover":
        if tier == "good":
            q = _fresh(rng, USER_LINES["open_question"]["good"], used)
            return f"{rng.choice(USER_LINES['ack']['good'])} {q}" if rng.random() < 0.6 else q
        if tier == "mid":
            return _fresh(rng, USER_LINES["closed_question"]["mid"], used)
        return _fresh(rng, USER_LINES["value"]["weak"], used)
    pool = USER_LINES[{"objection": "objection_reply"}.get(beat, beat)]
    order = {"good": ("good", "mid", "weak"), "mid": ("mid", "good", "weak"), "weak": ("weak", "mid", "good")}[tier]
    tier_found = next(t for t in order if t in pool)
    return _fresh(rng, pool[tier_found], used)


def make_transcript(
    scenario_key: str, skill: float, *, rng: random.Random, me: str = "Sam", status: str = COMPLETED,
    duration: float | None = None, short: bool = False,
) -> str:
    """A transcript for one of the demo scenarios, played by a trainee of the given skill (0–1).

    Better trainees open properly, ask open questions, acknowledge, reframe objections, quantify and
    close with a dated next step; weaker ones pitch, ramble and use filler words. The sandbox's scoring
    heuristic finds exactly those things, which is how scores rise with practice.

    Parameters
    ----------
    scenario_key : str
        One of ``cold_call``, ``discovery``, ``objection``, ``support``, ``interview``.
    skill : float
        0 (novice) to 1 (expert).
    rng : random.Random
        Source of randomness (seed it for a stable transcript).
    me : str
        The trainee's first name.
    status : str
        ``terminated`` cuts the conversation short.
    duration : float, optional
        Seconds; turn times are stretched to fit it.
    short : bool
        Keep only the first two beats and the last one (about half the turns).
    """
    spec = next((s for s in SCENARIOS if s["key"] == scenario_key), None)
    if spec is None:
        raise ValueError(f"unknown demo scenario {scenario_key!r}; expected one of {[s['key'] for s in SCENARIOS]}")
    fmt = {"me": me, "them": spec["persona"], "company": COMPANIES[scenario_key], "topic": TOPICS[scenario_key]}
    ai = spec["ai"]
    filler_rate = 0.1 + 0.6 * (1.0 - skill)
    turns: list[tuple[str, str]] = [("AI", rng.choice(ai["opening"]))]
    said: set[str] = set()
    turns.append(("User", _with_fillers(rng, _user_line(rng, spec.get("first_user", "opening"), skill, said), filler_rate)))
    used: dict[str, set[int]] = {}
    plan = spec["plan"][:2] + spec["plan"][-1:] if short else spec["plan"]
    for beat in plan:
        ai_pool = {"objection": "objection", "story": "question", "ask_back": "ask_back"}.get(beat, "answer")
        options = ai[ai_pool]
        free = [i for i in range(len(options)) if i not in used.setdefault(ai_pool, set())] or list(range(len(options)))
        choice = rng.choice(free)
        used[ai_pool].add(choice)
        turns.append(("AI", options[choice]))
        turns.append(("User", _with_fillers(rng, _user_line(rng, beat, skill, said), filler_rate)))
    if status == TERMINATED:
        keep = 2 + 2 * rng.randrange(1, 3)
        turns = turns[:keep] + [("AI", rng.choice(ai["terminate"]))]
    else:
        turns.append(("AI", rng.choice(ai["close"])))

    # Times: speech at ~2.6 words/s plus pauses, stretched to the session's duration when given.
    raw, t = [], 0.0
    for _, text in turns:
        raw.append(t)
        t += len(text.split()) / 2.6 + rng.uniform(0.8, 2.6)
    scale = (duration - 6.0) / raw[-1] if duration and raw[-1] > 0 and duration > raw[-1] + 6.0 else 1.0
    lines = []
    for (who, text), start in zip(turns, raw):
        lines.append(f"[{_fmt_offset(start * scale)}] {who}: {text.format(**fmt)}")
    return "\n\n".join(lines)


def build_transcript(seed: int, index: int, scenario_key: str, skill: float, status: str, me: str,
                     duration: float | None, short: bool = False) -> str:
    """The transcript of demo session ``index`` (what :class:`SessionRecord` builds on demand)."""
    rng = random.Random(f"ttai-sandbox/{seed}/transcript/{index}")
    return make_transcript(scenario_key, skill, rng=rng, me=me, status=status, duration=duration, short=short)

