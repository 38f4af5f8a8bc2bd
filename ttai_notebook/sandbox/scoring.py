"""The sandbox's simulated analysis: a transparent, deterministic keyword heuristic that scores a
transcript against a scenario's rubric topics and writes the service's EvaluationResults /
ImprovementResults shapes. Everything it writes says it is simulated."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

__all__ = [
    "SIMULATED_PREFIX",
    "Turn",
    "Features",
    "parse_transcript",
    "extract_features",
    "signal_for_topic",
    "score_topic",
    "analyze_transcript",
    "documented_analysis",
    "DEFAULT_RUBRIC",
]

#: Every simulated evaluation's detailed feedback starts with this.
SIMULATED_PREFIX = "Simulated analysis (sandbox):"

#: Used when a scenario was created without a rubric. Weights are percent and sum to 100.
DEFAULT_RUBRIC: tuple[dict[str, Any], ...] = (
    {"topic": "Opening", "weight": 15, "prompt": "Introduces themselves and the purpose of the conversation."},
    {"topic": "Discovery questions", "weight": 25, "prompt": "Asks open questions to understand the other side."},
    {"topic": "Active listening", "weight": 20, "prompt": "Lets the other side talk and reflects what was said."},
    {"topic": "Clarity", "weight": 15, "prompt": "Speaks concisely, without filler words."},
    {"topic": "Next steps", "weight": 25, "prompt": "Ends with a concrete, time-bound next step."},
)


@dataclass(frozen=True)
class Turn:
    """One turn of a transcript: offset in seconds (None if unknown), speaker ("AI"/"User"), text."""

    t: float | None
    speaker: str
    text: str


_TURN_RE = re.compile(
    r"^\s*(?:\[(?P<time>[^\]]*)\]\s*)?(?P<who>AI|Assistant|Agent|Bot|User|Trainee|You|Human)\s*:\s*(?P<text>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_AI_NAMES = {"ai", "assistant", "agent", "bot"}


def _parse_offset(text: str | None) -> float | None:
    if not text:
        return None
    parts = text.strip().split(":")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        return None
    seconds = 0.0
    for n in nums:
        seconds = seconds * 60 + n
    return seconds


def parse_transcript(text: str | None) -> list[Turn]:
    """Split a transcript in the service's format into turns.

    Turns are separated by blank lines and start with ``[<time>] AI:`` or ``[<time>] User:``
    (the time is optional). A block without a speaker continues the previous turn.

    Examples
    --------
    >>> [t.speaker for t in parse_transcript("[00:01] AI: Hello.\\n\\n[00:04] User: Hi!")]
    ['AI', 'User']
    """
    turns: list[Turn] = []
    if not text:
        return turns
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        block = block.strip()
        if not block:
            continue
        m = _TURN_RE.match(block)
        if m:
            who = "AI" if m.group("who").lower() in _AI_NAMES else "User"
            turns.append(Turn(_parse_offset(m.group("time")), who, " ".join(m.group("text").split())))
        elif turns:
            last = turns[-1]
            turns[-1] = Turn(last.t, last.speaker, f"{last.text} {' '.join(block.split())}")
    return turns


# ---- phrase lists (lower case). Kept short and visible: this is the whole "model". ----
_GREETING = ("hi ", "hi,", "hello", "good morning", "good afternoon", "hey ", "thanks for taking", "thank you for taking")
_INTRO = ("my name is", "this is ", "i'm calling", "calling from", "i work with", "i'm with", "i'm the", " from ")
_PURPOSE = ("good time", "a minute", "two minutes", "quick", "reason for my call", "reason i'm calling", "the reason", "purpose")
_OPEN_Q = ("what", "how", "why", "tell me", "walk me", "could you describe", "can you describe", "describe",
           "help me understand", "in what way", "which")
_ACK = ("i understand", "that makes sense", "i hear you", "good point", "fair point", "i appreciate", "thanks for sharing",
        "thank you for sharing", "that's helpful", "totally fair", "understood", "fair enough", "great question")
_EMPATHY = ("i'm sorry", "i am sorry", "i apologize", "i apologise", "i can imagine", "that sounds frustrating",
            "i understand how", "i understand why", "that must be", "you have every right", "i'd feel the same",
            "i would feel the same", "i hear how")
_NEXT = ("next step", "follow up", "follow-up", "schedule", "book ", "calendar", "send you", "send over", "set up a",
         "set up time", "invite", "demo", "trial", "pilot", "get back to you", "call you back", "check in")
_WHEN = re.compile(r"\b(tomorrow|monday|tuesday|wednesday|thursday|friday|next week|this week|end of (the )?day|"
                   r"within \d+ (hours|days)|at \d{1,2}(:\d\d)?\s*(am|pm)?|by noon)\b")
_VALUE = ("save", "saving", "reduce", "increase", "faster", "roi", "return on", "payback", "results", "customers like",
          "teams like", "helped", "cut ", "grow", "revenue", "efficien", "fewer")
_FILLER = re.compile(r"\b(um+|uh+|erm|you know|basically|kind of|sort of|like,)(?=\W|$)")
_OWNERSHIP = ("i will", "i'll", "let me", "i'm going to", "i am going to", "i personally", "i take", "my responsibility",
              "i own", "i've gone ahead", "i have gone ahead")
_RESOLUTION = ("refund", "replace", "replacement", "credit", "fix", "resolve", "escalat", "engineer", "priority",
               "workaround", "here's what", "here is what", "the plan", "plan is")
_SUMMARY = ("to summarize", "to summarise", "to recap", "what i'm hearing", "if i understand", "let me make sure",
            "just to confirm", "sounds like", "you mentioned", "you said")
_STAR = ("situation", "the task", "my task", "my role", "i decided", "i led", "i built", "i organized", "i organised",
         "the result", "as a result", "the outcome", "we ended up", "in the end")
_REFLECTION = ("i learned", "i've learned", "i realized", "i realised", "in hindsight", "looking back", "next time",
               "do differently", "taught me")
_OBJECTION_CUES = ("expensive", "price", "budget", "cost", "not interested", "busy", "no time", "already use",
                   "already have", "competitor", "not sure", "risky", "concern", "too much", "can't afford",
                   "why should", "unacceptable", "ridiculous", "third time", "waste of")
_REFRAME = ("because", "what if", "compared", "the cost of", "value", "in fact", "the reason", "that's why",
            "which means", "so that", "for example", "one customer", "consider")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
_NUMBER = re.compile(r"(?<![\w])(\$?\d[\d,.]*%?|\d+x)(?![\w])")


def _count(text: str, phrases: Sequence[str]) -> int:
    return sum(text.count(p) for p in phrases)


def _has(text: str, phrases: Sequence[str]) -> bool:
    return any(p in text for p in phrases)


@dataclass(frozen=True)
class Features:
    """What the heuristic found in the trainee's ("User") turns."""

    user_turns: int
    ai_turns: int
    user_words: int
    ai_words: int
    questions: int
    open_questions: int
    acknowledgements: int
    empathy: int
    next_steps: int
    time_specific: bool
    value: int
    numbers: int
    fillers: int
    ownership: int
    resolution: int
    summary: int
    star: int
    reflection: int
    objections_raised: int
    objections_answered: int
    greeting: bool
    intro: bool
    purpose: bool

    @property
    def talk_share(self) -> float:
        """Share of all words spoken by the trainee (0–1)."""
        total = self.user_words + self.ai_words
        return self.user_words / total if total else 0.0

    @property
    def words_per_turn(self) -> float:
        """Average words per trainee turn."""
        return self.user_words / self.user_turns if self.user_turns else 0.0


def extract_features(turns: Sequence[Turn]) -> Features:
    """Count the heuristic's signals in a parsed transcript."""
    user = [t.text.lower() for t in turns if t.speaker == "User"]
    ai = [t.text.lower() for t in turns if t.speaker == "AI"]
    joined = " \n ".join(user)
    questions = open_q = 0
    for text in user:
        if "?" not in text:
            continue
        for sentence in _SENTENCE_END.split(text):
            if sentence.endswith("?"):
                questions += 1
                sentence = sentence.strip()
                if sentence.startswith(_OPEN_Q) or _has(sentence, (" what ", " how ", " why ")):
                    open_q += 1
    raised = answered = 0
    for i, t in enumerate(turns):
        if t.speaker == "AI" and _has(t.text.lower(), _OBJECTION_CUES):
            raised += 1
            reply = next((u.text.lower() for u in turns[i + 1:] if u.speaker == "User"), "")
            if (_has(reply, _ACK) or _has(reply, _EMPATHY)) and _has(reply, _REFRAME):
                answered += 1
    first = user[0] if user else ""
    return Features(
        user_turns=len(user),
        ai_turns=len(ai),
        user_words=sum(len(t.split()) for t in user),
        ai_words=sum(len(t.split()) for t in ai),
        questions=questions,
        open_questions=open_q,
        acknowledgements=_count(joined, _ACK),
        empathy=_count(joined, _EMPATHY),
        next_steps=_count(joined, _NEXT),
        time_specific=bool(_WHEN.search(joined)),
        value=_count(joined, _VALUE),
        numbers=len(_NUMBER.findall(joined)),
        fillers=len(_FILLER.findall(joined)),
        ownership=_count(joined, _OWNERSHIP),
        resolution=_count(joined, _RESOLUTION),
        summary=_count(joined, _SUMMARY),
        star=_count(joined, _STAR),
        reflection=_count(joined, _REFLECTION),
        objections_raised=raised,
        objections_answered=answered,
        greeting=_has(first, _GREETING),
        intro=_has(first, _INTRO),
        purpose=_has(" ".join(user[:2]), _PURPOSE),
    )


# Topic name → signal. First match wins; the order settles overlaps ("Summary & next steps" → next_steps).
_SIGNAL_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("objections", ("objection", "pushback", "push back", "push-back", "concern", "resistance")),
    ("opening", ("opening", "introduction", "intro", "first impression", "permission", "greeting", "hook")),
    ("next_steps", ("next step", "close", "closing", "commitment", "follow-up", "follow up", "call to action", "booking")),
    ("summary", ("summar", "recap", "paraphras")),
    ("questions", ("question", "discovery", "probing", "qualif", "clarif")),
    ("listening", ("listen", "talk ratio", "talk balance", "airtime", "pacing")),
    ("empathy", ("empath", "rapport", "acknowledg", "tone", "de-escalat", "calm")),
    ("ownership", ("ownership", "accountab", "responsib")),
    ("resolution", ("resolution", "solution", "plan", "fix", "remedy")),
    ("value", ("value", "benefit", "pitch", "proposition", "roi", "business case", "refram")),
    ("specificity", ("specific", "metric", "evidence", "impact", "quantif", "result", "data")),
    ("structure", ("structure", "star", "story", "organi")),
    ("clarity", ("clarity", "clear", "concise", "confiden", "filler", "articulat", "brevity")),
    ("reflection", ("reflect", "learning", "self-aware", "growth")),
)


# Short keywords that must match as whole words ("star" is not "start", "plan" is not "explanation").
_WHOLE_WORDS = {"star", "tone", "hook", "roi", "plan", "fix", "data", "calm", "close"}
_SIGNAL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (signal, re.compile("|".join(
        rf"\b{re.escape(w)}\b" if w in _WHOLE_WORDS else rf"\b{re.escape(w)}" for w in words)))
    for signal, words in _SIGNAL_KEYWORDS
)


def signal_for_topic(topic: str, prompt: str | None = "") -> str:
    """Which heuristic signal scores a rubric topic (by keywords in its name, then its prompt).

    Examples
    --------
    >>> signal_for_topic("Open questions")
    'questions'
    >>> signal_for_topic("Something unusual")
    'engagement'
    """
    for text in (topic.lower(), (prompt or "").lower()):
        for signal, pattern in _SIGNAL_PATTERNS:
            if pattern.search(text):
                return signal
    return "engagement"


def _clamp(x: float) -> float:
    return round(max(0.0, min(10.0, x)), 1)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _score_opening(f: Features) -> tuple[float, str]:
    parts = [f.greeting, f.intro, f.purpose]
    found = [name for ok, name in zip(parts, ("a greeting", "an introduction", "a reason or permission")) if ok]
    score = 1.5 + 3.0 * f.greeting + 3.0 * f.intro + 2.5 * f.purpose
    note = "Opened with " + ", ".join(found) + "." if found else "No greeting, introduction or purpose in the opening."
    return _clamp(score), note


def _score_questions(f: Features) -> tuple[float, str]:
    score = 1.0 + 1.3 * min(f.questions, 5) + 0.9 * min(f.open_questions, 3)
    return _clamp(score), f"Asked {_plural(f.questions, 'question')}, {f.open_questions} open-ended."


def _score_listening(f: Features) -> tuple[float, str]:
    share = f.talk_share
    # 30–50 % of the words is the band trainers usually ask for in a discovery conversation.
    distance = max(0.0, 0.30 - share, share - 0.50)
    score = 9.5 - 25.0 * distance + 0.6 * min(f.summary, 2)
    return _clamp(score), f"Spoke {share:.0%} of the words; reflected back {_plural(f.summary, 'time')}."


def _score_empathy(f: Features) -> tuple[float, str]:
    hits = f.empathy + f.acknowledgements
    return _clamp(1.5 + 2.2 * min(hits, 4)), f"Used {_plural(hits, 'acknowledgement')} of the other side's view or feelings."


def _score_objections(f: Features) -> tuple[float, str]:
    if f.objections_raised == 0:
        return _clamp(5.0 + 1.5 * min(f.acknowledgements, 3)), "No objection was raised; scored on acknowledgements."
    share = f.objections_answered / f.objections_raised
    score = 1.5 + 7.0 * share + 0.5 * min(f.acknowledgements, 3)
    return _clamp(score), (f"Answered {f.objections_answered} of {_plural(f.objections_raised, 'objection')} "
                           "by acknowledging and reframing.")


def _score_next_steps(f: Features) -> tuple[float, str]:
    score = 1.0 + 2.6 * min(f.next_steps, 2) + 3.0 * f.time_specific + 0.8 * min(f.summary, 1)
    when = "with a specific time" if f.time_specific else "without a specific time"
    return _clamp(score), f"Next-step language {_plural(f.next_steps, 'time')}, {when}."


def _score_summary(f: Features) -> tuple[float, str]:
    return _clamp(1.5 + 3.0 * min(f.summary, 3)), f"Summarised or reflected back {_plural(f.summary, 'time')}."


def _score_value(f: Features) -> tuple[float, str]:
    score = 1.5 + 1.5 * min(f.value, 3) + 1.0 * min(f.numbers, 3)
    return _clamp(score), f"{_plural(f.value, 'value statement')}, {_plural(f.numbers, 'number')} to back them."


def _score_specificity(f: Features) -> tuple[float, str]:
    return _clamp(1.5 + 1.5 * min(f.numbers, 5) + 0.3 * min(f.star, 3)), f"Gave {_plural(f.numbers, 'specific figure')}."


def _score_structure(f: Features) -> tuple[float, str]:
    return _clamp(1.5 + 1.6 * min(f.star, 5)), f"{_plural(f.star, 'structure marker')} (situation, task, action, result)."


def _score_clarity(f: Features) -> tuple[float, str]:
    per100 = 100.0 * f.fillers / f.user_words if f.user_words else 0.0
    wpt = f.words_per_turn
    score = 9.8 - 0.9 * per100 - max(0.0, (wpt - 45.0) / 6.0) - (2.5 if 0 < wpt < 6 else 0.0)
    return _clamp(score), f"{_plural(f.fillers, 'filler word')} ({per100:.1f} per 100 words); {wpt:.0f} words per turn."


def _score_ownership(f: Features) -> tuple[float, str]:
    return _clamp(1.5 + 2.2 * min(f.ownership, 4)), f"Committed to personal action {_plural(f.ownership, 'time')}."


def _score_resolution(f: Features) -> tuple[float, str]:
    score = 1.5 + 1.8 * min(f.resolution, 3) + 2.0 * f.time_specific
    return _clamp(score), f"{_plural(f.resolution, 'resolution step')} offered" + (
        ", with a timeline." if f.time_specific else ", no timeline.")


def _score_reflection(f: Features) -> tuple[float, str]:
    return _clamp(1.5 + 2.6 * min(f.reflection, 3)), f"{_plural(f.reflection, 'reflection')} on lessons learned."


def _score_engagement(f: Features) -> tuple[float, str]:
    score = 1.0 + 1.0 * min(f.user_turns, 6) + 1.0 * min(f.questions, 3)
    return _clamp(score), f"{_plural(f.user_turns, 'turn')} taken, {_plural(f.questions, 'question')} asked."


_SCORERS: dict[str, Callable[[Features], tuple[float, str]]] = {
    "opening": _score_opening,
    "questions": _score_questions,
    "listening": _score_listening,
    "empathy": _score_empathy,
    "objections": _score_objections,
    "next_steps": _score_next_steps,
    "summary": _score_summary,
    "value": _score_value,
    "specificity": _score_specificity,
    "structure": _score_structure,
    "clarity": _score_clarity,
    "ownership": _score_ownership,
    "resolution": _score_resolution,
    "reflection": _score_reflection,
    "engagement": _score_engagement,
}

_ADVICE = {
    "opening": "Open with your name, your company and a one-line reason for the conversation, then ask permission to go on.",
    "questions": "Ask at least three open questions (what / how / why) before presenting anything.",
    "listening": "Rebalance the airtime: aim for roughly 30–50% of the words being yours, and reflect back what you heard.",
    "empathy": "Name the other person's view or feeling before moving on (\"That sounds frustrating\").",
    "objections": "Meet each objection with an acknowledgement, one clarifying question, then a reason tied to their priority.",
    "next_steps": "End by proposing one concrete next step with a day and a time.",
    "summary": "Summarise what you heard (\"So what I'm hearing is...\") before proposing anything.",
    "value": "Quantify the value: connect a benefit to a number the other side cares about.",
    "specificity": "Back each claim with a specific figure, name or outcome.",
    "structure": "Structure each answer as Situation, Task, Action, Result.",
    "clarity": "Cut filler words and keep each turn under about 40 words.",
    "ownership": "Take ownership out loud: say what you will do and by when.",
    "resolution": "Offer a concrete resolution plan: the steps, who does them, and when.",
    "reflection": "Close each story with what you learned and what you would do differently.",
    "engagement": "Stay in the conversation: respond to each point raised and ask about it.",
}


def score_topic(topic: str, features: Features, prompt: str | None = "") -> tuple[float, str, str]:
    """Score one rubric topic 0–10. Returns ``(score, note, signal)``."""
    signal = signal_for_topic(topic, prompt)
    score, note = _SCORERS[signal](features)
    return score, note, signal


def _fmt_score(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _normalise_rubric(rubric: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    entries = [dict(e) for e in (rubric or ()) if isinstance(e, Mapping) and str(e.get("topic") or "").strip()]
    if not entries:
        entries = [dict(e) for e in DEFAULT_RUBRIC]
    for e in entries:
        try:
            e["weight"] = float(e.get("weight"))
        except (TypeError, ValueError):
            e["weight"] = 0.0
    if sum(e["weight"] for e in entries) <= 0:
        for e in entries:
            e["weight"] = 100.0 / len(entries)
    return entries


def analyze_transcript(
    transcript: str | None, rubric: Sequence[Mapping[str, Any]] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Score a transcript against rubric topics, in the spec's shapes.

    Parameters
    ----------
    transcript : str or None
        ``[time] AI: ...`` / ``[time] User: ...`` turns separated by blank lines.
    rubric : sequence of mappings, optional
        Entries ``{topic, weight (percent), prompt}``; :data:`DEFAULT_RUBRIC` when empty.

    Returns
    -------
    (evaluation, improvement) : tuple of dict
        ``EvaluationResults`` (``overall_score`` "a/10", ``final_score`` 0–10, markdown ``strengths`` /
        ``weaknesses``, ``detailed_feedback`` starting with :data:`SIMULATED_PREFIX`, ``report_card``)
        and ``ImprovementResults`` (``improvement_areas``, numbered ``action_items``, ``resources``).

    Examples
    --------
    >>> ev, imp = analyze_transcript("[00:00] AI: Hello?\\n\\n[00:03] User: Hi, this is Sam. What matters most to you?")
    >>> ev["detailed_feedback"].startswith(SIMULATED_PREFIX)
    True
    """
    turns = parse_transcript(transcript)
    features = extract_features(turns)
    entries = _normalise_rubric(rubric)
    total_weight = sum(e["weight"] for e in entries)
    card: list[dict[str, Any]] = []
    scored: list[tuple[float, str, str, str]] = []  # score, topic, note, signal
    for e in entries:
        topic = str(e["topic"]).strip()
        if features.user_words == 0:
            score, note, signal = 0.0, "No trainee turns found in the transcript.", signal_for_topic(topic, e.get("prompt"))
        else:
            score, note, signal = score_topic(topic, features, e.get("prompt"))
        card.append({
            "topic": topic,
            "score": score,
            "score_str": f"{_fmt_score(score)}/10",
            "note": note,
            "weight": round(e["weight"], 2),
            "requires_video": False,
        })
        scored.append((score, topic, note, signal))
    final = round(sum(c["score"] * c["weight"] for c in card) / total_weight, 1) if total_weight else 0.0

    ranked = sorted(scored, key=lambda s: (-s[0], s[1]))
    strong = [s for s in ranked if s[0] >= 7.0][:3] or ranked[:1]
    weak = [s for s in reversed(ranked) if s[0] < 6.0][:3] or [ranked[-1]]
    strengths = "\n".join(f"- **{topic}**: {note}" for _, topic, note, _ in strong)
    weaknesses = "\n".join(f"- **{topic}**: {note}" for _, topic, note, _ in weak)
    improvement_areas = "\n".join(f"- **{topic}**: {_ADVICE[signal]}" for _, topic, _, signal in weak)
    action_items = "\n".join(f"{i}. {_ADVICE[signal]}" for i, (_, _, _, signal) in enumerate(weak, 1))

    if features.user_words:
        summary = (
            f"{SIMULATED_PREFIX} scored by a transparent keyword heuristic, not by Tough Tongue AI's evaluator. "
            f"The trainee took {_plural(features.user_turns, 'turn')} and spoke {features.talk_share:.0%} of the words, "
            f"asked {_plural(features.questions, 'question')} ({features.open_questions} open), "
            f"acknowledged the other side {_plural(features.acknowledgements + features.empathy, 'time')} and used "
            f"next-step language {_plural(features.next_steps, 'time')}. "
            f"Weighted over {_plural(len(card), 'rubric topic')}: {_fmt_score(final)}/10."
        )
    else:
        summary = f"{SIMULATED_PREFIX} the transcript has no trainee turns, so every rubric topic scores 0."
    evaluation = {
        "overall_score": f"{round(final)}/10",
        "final_score": final,
        "strengths": strengths,
        "weaknesses": weaknesses,
        "detailed_feedback": summary,
        "report_card": card,
        "quiz_results": None,
    }
    improvement = {
        "improvement_areas": improvement_areas,
        "action_items": action_items,
        "resources": (f"{SIMULATED_PREFIX} no resources are generated offline. Re-run this scenario and compare "
                      "the report card topic by topic."),
    }
    return evaluation, improvement


_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def _markdown_items(text: str | None) -> list[str]:
    items = []
    for line in (text or "").splitlines():
        line = _BULLET.sub("", line).replace("**", "").strip()
        if line:
            items.append(line)
    return items


def documented_analysis(evaluation: Mapping[str, Any], improvement: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The documented dialect's analyse body, derived from a spec evaluation.

    ``overall_score`` is ``round(final_score * 10)`` (0–100); ``strengths`` / ``improvements`` are the
    markdown bullets as plain strings. ``simulated: true`` marks the body as the sandbox's.
    """
    final = evaluation.get("final_score")
    return {
        "overall_score": round(float(final) * 10) if isinstance(final, (int, float)) else None,
        "strengths": _markdown_items(evaluation.get("strengths")),
        "improvements": _markdown_items(evaluation.get("weaknesses")),
        "simulated": True,
    }
