"""The toolkit's data models: one normalised shape for both API dialects (API.md §2).

Every model is a frozen dataclass built by ``from_api(data)``, which never raises on odd input: unknown
fields stay in ``raw`` and a missing or malformed optional field becomes ``None``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "Analysis",
    "Analytics",
    "Balance",
    "Organization",
    "ROLE_NAMES",
    "RubricScore",
    "Scenario",
    "Session",
    "SessionLink",
    "TokenCheck",
    "normalize_status",
    "parse_datetime",
    "parse_score",
    "split_items",
]

T = TypeVar("T")

# --------------------------------------------------------------------------------------------------
# Pure normalisers (each one tested by a table in tests/client/test_models.py)
# --------------------------------------------------------------------------------------------------

_STATUS = {
    "active": "in_progress",
    "in_progress": "in_progress",
    "in-progress": "in_progress",
    "inprogress": "in_progress",
    "running": "in_progress",
    "started": "in_progress",
    "pending": "in_progress",
    "completed": "completed",
    "complete": "completed",
    "finished": "completed",
    "done": "completed",
    "analyzed": "completed",
    "analysed": "completed",
    "terminated": "terminated",
    "archived": "archived",
    "failed": "failed",
    "error": "failed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}

STATUSES = ("in_progress", "completed", "terminated", "archived", "failed", "cancelled")


def normalize_status(value: Any) -> str | None:
    """Map any status spelling the service uses to the canonical vocabulary.

    ``active`` (the spec's word for a running session) becomes ``in_progress``; an unknown word is kept
    lower-cased rather than guessed, and a non-string is ``None``.

    >>> normalize_status("active"), normalize_status("Completed"), normalize_status(None)
    ('in_progress', 'completed', None)
    """
    if not isinstance(value, str) or not value.strip():
        return None
    key = value.strip().lower()
    return _STATUS.get(key, key)


def parse_datetime(value: Any) -> dt.datetime | None:
    """Parse an ISO-8601 timestamp (or epoch seconds/ms) into an aware UTC datetime.

    The service often writes naive timestamps with microseconds; naive means UTC (API.md §2).

    >>> parse_datetime("2025-02-26T18:02:00.945000").isoformat()
    '2025-02-26T18:02:00.945000+00:00'
    """
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            return None
        seconds = value / 1000.0 if abs(value) > 1e11 else float(value)  # epoch ms from JS
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            # Python 3.10's fromisoformat rejects some fractions (e.g. 3 or 7 digits): pad/trim them.
            match = re.match(r"^(.*T\d{2}:\d{2}:\d{2})\.(\d+)(.*)$", text)
            if not match:
                return None
            head, frac, tail = match.groups()
            try:
                parsed = dt.datetime.fromisoformat(f"{head}.{frac[:6].ljust(6, '0')}{tail}")
            except ValueError:
                return None
    else:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def _number(value: Any) -> float | None:
    """A finite float from a number or numeric string; bools and garbage are ``None``."""
    kind = type(value)
    if kind is float:  # the common case first: this runs ~10 times per listed session
        return value if value - value == 0.0 else None  # inf - inf and nan - nan are nan: not finite
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().rstrip("%"))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


_FRACTION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*$")


def _fraction(value: Any) -> float | None:
    """``"8/10"`` → 80.0 (on 0–100); anything else → ``None``."""
    if not isinstance(value, str):
        return None
    match = _FRACTION.match(value)
    if not match:
        return None
    num, den = float(match.group(1)), float(match.group(2))
    return 100.0 * num / den if den > 0 else None


def _in_range(score: float | None) -> float | None:
    # A score outside 0–100 is a malformed payload, not a real result: refuse it rather than clamp.
    if score is None or not (0.0 <= score <= 100.0):
        return None
    return round(score, 4)


def parse_score(overall_score: Any = None, final_score: Any = None) -> float | None:
    """The 0–100 score of an analysis from whichever fields the dialect supplies (API.md §2).

    Documented ``overall_score`` (a number on 0–100) wins; then the spec's ``final_score`` (0–10) × 10;
    then a ``"a/b"`` string as 100·a/b; then a numeric string on 0–100. Anything else is ``None``.

    >>> parse_score(85), parse_score("8/10", 7.4), parse_score("8/10"), parse_score("eighty")
    (85.0, 74.0, 80.0, None)
    """
    if isinstance(overall_score, (int, float)) and not isinstance(overall_score, bool):
        return _in_range(_number(overall_score))
    final = _number(final_score)
    if final is not None:
        return _in_range(final * 10.0)
    fraction = _fraction(overall_score)
    if fraction is not None:
        return _in_range(fraction)
    return _in_range(_number(overall_score))


# "7", "5.9", "5.9/10": text that is certainly a number or a fraction with a non-zero denominator
_PLAIN_SCORE_TEXT = re.compile(r"\d{1,3}(?:\.\d+)?(?:/[1-9]\d{0,2}(?:\.\d+)?)?")


def _topic_score(score: Any, score_str: Any) -> float | None:
    """A report-card topic on 0–100: the spec scores topics 0–10; a categorical ``score_str`` has none."""
    if (type(score) is float and score - score == 0.0 and type(score_str) is str
            and _PLAIN_SCORE_TEXT.fullmatch(score_str)):
        # The service's usual entry ({"score": 5.9, "score_str": "5.9/10"}): a finite number and a plainly
        # numeric text, so the number decides; the general path below gives the same answer ~4× slower.
        return _in_range(score * 10.0)
    text = score_str.strip() if isinstance(score_str, str) else None
    if text and _fraction(text) is None and _number(text) is None:
        return None  # categorical, e.g. "INTP": keep the text, no number
    number = _number(score)
    if number is not None:
        return _in_range(number * 10.0)
    if text:
        fraction = _fraction(text)
        if fraction is not None:
            return _in_range(fraction)
        number = _number(text)
        if number is not None:
            return _in_range(number * 10.0 if number <= 10 else number)
    return None


_BULLET = re.compile(r"^\s*(?:[-*•+‣–]|\d{1,3}[.)])\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_BOLD = re.compile(r"(\*\*|__)(.+?)\1")


_BULLET_START = frozenset("-*•+‣–0123456789")  # a list item starts with one of these or with whitespace


def _bold_inner(match: re.Match[str]) -> str:
    return match.group(2)


def _clean_item(text: str) -> str:
    if "**" in text or "__" in text:  # the regex is the slow part: skip it when there is no bold
        text = _BOLD.sub(_bold_inner, text)  # a function replacement: 2× faster than the template r"\2"
    return " ".join(text.split())


# _BULLET over a whole text: the same marker, with whitespace that cannot cross a line
_BULLET_LINE = re.compile(r"^[^\S\n]*(?:[-*•+‣–]|\d{1,3}[.)])[^\S\n]+(.*)$", re.MULTILINE)


def _clean_items(items: list[str]) -> tuple[str, ...]:
    """``_clean_item`` over items that hold no newline, dropping empty ones."""
    joined = "\n".join(items)
    if "**" in joined or "__" in joined:
        # One regex pass for all items: no item holds a newline and ``.`` stops at one, so this is exactly
        # the per-item substitution, in one call instead of one per item.
        items = _BOLD.sub(_bold_inner, joined).split("\n")
    return tuple(item for item in (" ".join(i.split()) for i in items) if item)


def split_items(value: Any) -> tuple[str, ...]:
    """Feedback as a clean tuple of strings, from a list or from markdown text.

    Lists pass through (blank items dropped); markdown is split into its bullet or numbered items with the
    markers and ``**bold**`` removed; text without any list markers is split into paragraphs.

    >>> split_items("- **Rapport**: warm opener\\n- Asked 4 questions")
    ('Rapport: warm opener', 'Asked 4 questions')
    >>> split_items("1. Slow down\\n2) Confirm next steps")
    ('Slow down', 'Confirm next steps')
    """
    if value is None:
        return ()
    if isinstance(value, str):
        text = value.replace("\r\n", "\n")
        items = _BULLET_LINE.findall(text)
        if items and len(items) == text.count("\n") + 1:
            return _clean_items(items)  # every line is a list item (the usual shape): one regex pass
        lines = text.split("\n")
        matches = [_BULLET.match(line) for line in lines]
        if any(matches):
            items: list[str] = []
            for line, match in zip(lines, matches):
                if not line.strip() or (line.lstrip().startswith("#") and _HEADING.match(line)):
                    continue
                if match:
                    items.append(line[match.end():])
                elif items:
                    items[-1] += " " + line.strip()  # a wrapped continuation of the previous bullet
                # prose before the first bullet is a heading or lead-in, not an item
            return _clean_items(items)
        paragraphs = re.split(r"\n\s*\n", value)
        return tuple(p for p in (_clean_item(_HEADING.sub("", p)) for p in paragraphs) if p)
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        out = []
        for item in value:
            if isinstance(item, str):
                first = item[:1]
                match = _BULLET.match(item) if first in _BULLET_START or first.isspace() else None
                text = _clean_item(item[match.end():] if match else item)
            elif isinstance(item, Mapping):
                # Some payloads wrap items as {"text": ...} / {"title": ..., "description": ...}.
                parts = [str(item[k]) for k in ("title", "text", "description", "item") if isinstance(item.get(k), str)]
                text = _clean_item(": ".join(parts))
            elif isinstance(item, (int, float)) and not isinstance(item, bool):
                text = str(item)
            else:
                text = ""
            if text:
                out.append(text)
        return tuple(out)
    return ()


# --------------------------------------------------------------------------------------------------
# Small field readers: tolerant, never raising
# --------------------------------------------------------------------------------------------------


def _as_mapping(data: Any) -> dict[str, Any]:
    if type(data) is dict:  # decoded JSON: skip the slow ABC check
        return data.copy()
    if isinstance(data, Mapping):
        return dict(data)
    return {}


def _str(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Mapping) and isinstance(value.get("$oid"), str):  # Mongo-style ids
        return value["$oid"]
    return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _first(data: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = data.get(key)
        if value is not None:
            return value
    return None


def _mapping_or_none(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, Mapping) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.to_dict()  # type: ignore[attr-defined]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _strip_query(url: str | None) -> str | None:
    """A URL without its query string or fragment, for reprs (query strings may carry access tokens)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<url>"
    suffix = "?…" if parts.query else ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) + suffix


def _short(text: str | None, limit: int = 60) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


#: Instance-dict key set only on models built by ``from_api`` (see ``Analysis.from_api``).
FROM_RAW = "_from_raw"


def _make(cls: type[T], fields: dict[str, Any]) -> T:
    """Build a frozen model from *every* one of its fields, bypassing the generated ``__init__``.

    A frozen dataclass sets each field through ``object.__setattr__``: ~3× slower than filling ``__dict__``,
    which showed when listing 20 000 sessions builds ~130 000 models. Only ``from_api`` uses this, always
    with all fields (``tests/client/test_models_fast_paths.py`` checks that every field is set).
    """
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


class _Model:
    """Shared behaviour: JSON-safe ``to_dict`` and an HTML card for Jupyter."""

    raw: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The normalised fields as JSON-safe values (``raw`` left out; it is the service's own JSON)."""
        return {
            f.name: _jsonable(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.name != "raw"
        }

    def _repr_html_(self) -> str:
        from . import cards  # lazy: cards are only needed when a notebook displays the object

        renderer = getattr(cards, "render_" + type(self).__name__.lower(), None)
        if renderer is None:
            return "<pre>" + html.escape(repr(self)) + "</pre>"
        return renderer(self)


def _fields_repr(obj: Any, names: Sequence[str]) -> str:
    parts = []
    for name in names:
        value = getattr(obj, name)
        if value is None:
            continue
        if isinstance(value, dt.datetime):
            value = value.isoformat()
        parts.append(f"{name}={value!r}")
    return f"{type(obj).__name__}({', '.join(parts)})"


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, repr=False)
class RubricScore(_Model):
    """One report-card topic: ``score`` on 0–100 (``None`` for a categorical result such as ``"INTP"``)."""

    topic: str
    score: float | None = None
    score_text: str | None = None
    weight: float | None = None
    note: str | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> RubricScore:
        """Build from a spec ``report_card`` entry ``{topic, score (0–10), score_str, note, weight}``."""
        d = _as_mapping(data)
        score_text = d.get("score_str")
        if type(score_text) is not str:
            score_text = _str(score_text)
        topic = d.get("topic")
        note = d.get("note")
        return _make(cls, {
            "topic": topic if type(topic) is str else _str(_first(d, "topic", "name", "title")) or "",
            "score": _topic_score(d.get("score"), score_text),
            "score_text": score_text,
            "weight": _number(d.get("weight")),
            "note": note if type(note) is str else _str(_first(d, "note", "notes", "feedback")),
            "raw": d,
        })

    def __repr__(self) -> str:
        return _fields_repr(self, ("topic", "score", "score_text", "weight"))


@dataclasses.dataclass(frozen=True, repr=False)
class Analysis(_Model):
    """The scored result of a session, the same whichever dialect the service spoke.

    ``score`` is always on 0–100 (or ``None``); ``strengths``, ``improvements`` and ``action_items`` are
    tuples of plain strings.

    Examples
    --------
    >>> Analysis.from_api({"overall_score": 85, "strengths": ["Clear"], "improvements": ["Pace"]}).score
    85.0
    >>> Analysis.from_api({"evaluation": {"final_score": 7.4, "overall_score": "7/10"}}).score
    74.0
    """

    session_id: str | None = None
    score: float | None = None
    score_text: str | None = None
    strengths: tuple[str, ...] = ()
    improvements: tuple[str, ...] = ()
    report_card: tuple[RubricScore, ...] = ()
    detailed_feedback: str | None = None
    action_items: tuple[str, ...] = ()
    is_analyzing: bool = False
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    @classmethod
    def from_api(cls, data: Any, session_id: str | None = None) -> Analysis:
        """Build from a documented analyse body, a spec analyse body, or a bare ``evaluation_results``."""
        d = _as_mapping(data)
        if any(k in d for k in ("evaluation", "improvement", "is_analyzing")):
            evaluation = _as_mapping(d.get("evaluation"))
            improvement = _as_mapping(d.get("improvement"))
        elif "evaluation_results" in d or "improvement_results" in d:
            evaluation = _as_mapping(d.get("evaluation_results"))
            improvement = _as_mapping(d.get("improvement_results"))
        else:
            evaluation, improvement = d, _as_mapping(d.get("improvement"))
        overall = evaluation.get("overall_score")
        improvements = split_items(evaluation.get("improvements"))
        if not improvements:
            improvements = split_items(evaluation.get("weaknesses"))
        if not improvements:
            improvements = split_items(improvement.get("improvement_areas"))
        cards = evaluation.get("report_card")
        from_card = RubricScore.from_api
        report_card = (
            tuple([from_card(e) for e in cards if type(e) is dict or isinstance(e, Mapping)])
            if isinstance(cards, list)
            else ()
        )
        return _make(cls, {
            "session_id": session_id or _str(_first(d, "session_id", "id", "_id")),
            "score": parse_score(overall, evaluation.get("final_score")),
            "score_text": overall if isinstance(overall, str) else None,
            "strengths": split_items(evaluation.get("strengths")),
            "improvements": improvements,
            "report_card": report_card,
            "detailed_feedback": _str(evaluation.get("detailed_feedback")),
            "action_items": split_items(_first(improvement, "action_items") or evaluation.get("action_items")),
            "is_analyzing": _bool(d.get("is_analyzing")) or False,
            "raw": d,
            # Not a field: marks an analysis that is exactly ``from_api(raw, session_id)``, so the store may
            # keep only the service's JSON and rebuild it (a constructor or dataclasses.replace drops it).
            FROM_RAW: True,
        })

    @property
    def is_simulated(self) -> bool:
        """True for an analysis written by the sandbox's heuristic scorer, not the service's AI."""
        if self.raw.get("simulated") is True:  # the documented-dialect body carries no feedback text, only the flag
            return True
        return bool(self.detailed_feedback and self.detailed_feedback.lstrip().lower().startswith("simulated"))

    @property
    def has_results(self) -> bool:
        """True once the analysis carries a score or feedback (not merely ``is_analyzing``)."""
        return self.score is not None or bool(self.strengths or self.improvements or self.report_card)

    def __repr__(self) -> str:
        return (
            f"Analysis(session_id={self.session_id!r}, score={self.score!r}, "
            f"strengths={len(self.strengths)}, improvements={len(self.improvements)}, "
            f"topics={len(self.report_card)}{', is_analyzing=True' if self.is_analyzing else ''})"
        )


@dataclasses.dataclass(frozen=True, repr=False)
class Scenario(_Model):
    """A practice scenario: the AI persona and its settings."""

    id: str
    name: str | None = None
    description: str | None = None
    user_friendly_description: str | None = None
    ai_instructions: str | None = None
    is_public: bool | None = None
    is_recording: bool | None = None
    session_analysis: dict[str, Any] | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> Scenario:
        """Build from a scenario object of either dialect (ids under ``id``, ``_id`` or ``scenario_id``)."""
        d = _as_mapping(data)
        return cls(
            id=_str(_first(d, "id", "_id", "scenario_id")) or "",
            name=_str(d.get("name")),
            description=_str(d.get("description")),
            user_friendly_description=_str(d.get("user_friendly_description")),
            ai_instructions=_str(d.get("ai_instructions")),
            is_public=_bool(d.get("is_public")),
            is_recording=_bool(d.get("is_recording")),
            session_analysis=_mapping_or_none(d.get("session_analysis")),
            created_at=parse_datetime(d.get("created_at")),
            updated_at=parse_datetime(d.get("updated_at")),
            raw=d,
        )

    @property
    def rubric_topics(self) -> tuple[str, ...]:
        """Report-card topics the scenario declares (from ``processed_rubrik`` / ``rubric``), if any."""
        for key in ("processed_rubrik", "rubric"):
            value = self.raw.get(key)
            # The spec's ProcessedRubrik keeps its entries under ``criteria``; older shapes used ``entries``.
            entries = (value.get("criteria") or value.get("entries")) if isinstance(value, Mapping) else value
            if isinstance(entries, list):
                return tuple(
                    t for t in (_str(_first(_as_mapping(e), "topic", "name", "title")) for e in entries) if t
                )
        return ()

    def __repr__(self) -> str:
        return _fields_repr(self, ("id", "name", "is_public", "is_recording"))


#: Session fields the service removed on 2026-09-30 (API.md §6), read only when ``evaluation_results`` is absent.
_REMOVED_RESULT_FIELDS = ("evaluation_score", "evaluation_note", "report_card")


def _analysis_from_removed_fields(d: Mapping[str, Any], session_id: str | None) -> Analysis | None:
    """An analysis from the pre-2026-09-30 flat fields: ``evaluation_score`` was ``final_score`` (0–10),
    ``evaluation_note`` was ``overall_score``, ``report_card`` the same entries."""
    evaluation: dict[str, Any] = {}
    if d.get("evaluation_score") is not None:
        evaluation["final_score"] = d["evaluation_score"]
    if d.get("evaluation_note") is not None:
        evaluation["overall_score"] = d["evaluation_note"]
    if isinstance(d.get("report_card"), list):
        evaluation["report_card"] = d["report_card"]
    if not evaluation:
        return None
    analysis = Analysis.from_api({"evaluation_results": evaluation}, session_id=session_id)
    return analysis if analysis.has_results else None


@dataclasses.dataclass(frozen=True, repr=False)
class Session(_Model):
    """One practice run, with its analysis when the service has one."""

    id: str
    scenario_id: str | None = None
    scenario_name: str | None = None
    status: str | None = None
    user_email: str | None = None
    user_name: str | None = None
    created_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    duration_s: float | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    transcript: str | None = None
    analytics_url: str | None = None
    analysis: Analysis | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)
    updated_at: dt.datetime | None = None
    user_metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_api(cls, data: Any) -> Session:
        """Build from a session object of either dialect.

        The analysis comes from ``evaluation_results`` / ``improvement_results`` (spec shape, used by both
        dialects for session objects) or an embedded ``analysis`` object; ``active`` becomes ``in_progress``.
        """
        d = _as_mapping(data)
        session_id = _str(_first(d, "id", "_id", "session_id")) or ""
        analysis = None
        if isinstance(d.get("evaluation_results"), Mapping) and d["evaluation_results"]:
            analysis = Analysis.from_api(
                {
                    "evaluation_results": d["evaluation_results"],
                    "improvement_results": d.get("improvement_results"),
                },
                session_id=session_id or None,
            )
        elif isinstance(d.get("analysis"), Mapping) and d["analysis"]:
            analysis = Analysis.from_api(d["analysis"], session_id=session_id or None)
        elif any(d.get(k) is not None for k in _REMOVED_RESULT_FIELDS):
            analysis = _analysis_from_removed_fields(d, session_id or None)
        duration = _number(_first(d, "duration", "duration_s", "duration_seconds"))
        if duration is None:
            minutes = _number(d.get("duration_minutes"))
            duration = minutes * 60.0 if minutes is not None else None
        if duration is not None and duration < 0:
            duration = None
        overview = _as_mapping(d.get("scenario_overview"))
        metadata = d.get("metadata")
        user_metadata = d.get("user_metadata")
        return _make(cls, {
            "id": session_id,
            "scenario_id": _str(d.get("scenario_id")) or _str(_first(overview, "id", "_id")),
            "scenario_name": _str(d.get("scenario_name")) or _str(overview.get("name")),
            "status": normalize_status(d.get("status")),
            "user_email": _str(d.get("user_email")),
            "user_name": _str(d.get("user_name")),
            "created_at": parse_datetime(d.get("created_at")),
            "completed_at": parse_datetime(d.get("completed_at")),
            "duration_s": duration,
            "metadata": dict(metadata) if isinstance(metadata, Mapping) else {},
            "transcript": _str(_first(d, "finalized_transcript", "transcript_content", "transcript"))
            or (_str(d.get("running_transcript")) or None),
            "analytics_url": _str(d.get("analytics_url")),
            "analysis": analysis,
            "raw": d,
            "updated_at": parse_datetime(d.get("updated_at")),
            "user_metadata": dict(user_metadata) if isinstance(user_metadata, Mapping) else {},
        })

    @property
    def score(self) -> float | None:
        """The analysis score on 0–100, or ``None`` when the session has not been analysed."""
        return self.analysis.score if self.analysis is not None else None

    @property
    def is_analyzed(self) -> bool:
        """True when the session carries analysis results."""
        return self.analysis is not None and self.analysis.has_results

    def __repr__(self) -> str:
        return _fields_repr(self, ("id", "scenario_name", "status", "user_email", "created_at", "score"))


@dataclasses.dataclass(frozen=True, repr=False)
class Balance(_Model):
    """Remaining credit: minutes of agent time."""

    available_minutes: float | None = None
    last_updated: dt.datetime | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> Balance:
        """Build from ``{"available_minutes", "last_updated"}``."""
        d = _as_mapping(data)
        return cls(
            available_minutes=_number(_first(d, "available_minutes", "balance", "minutes")),
            last_updated=parse_datetime(d.get("last_updated")),
            raw=d,
        )

    def __repr__(self) -> str:
        return _fields_repr(self, ("available_minutes", "last_updated"))


@dataclasses.dataclass(frozen=True, repr=False)
class TokenCheck(_Model):
    """The answer of ``/test``: whether the token is accepted, in the service's words."""

    valid: bool
    message: str | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> TokenCheck:
        """Build from a 200 answer: documented ``{success, message}`` or spec ``{message}``."""
        d = _as_mapping(data)
        success = _bool(d.get("success"))
        return cls(valid=True if success is None else success, message=_str(d.get("message")), raw=d)

    def __bool__(self) -> bool:
        return self.valid

    def __repr__(self) -> str:
        return f"TokenCheck(valid={self.valid!r}, message={self.message!r})"


@dataclasses.dataclass(frozen=True, repr=False)
class SessionLink(_Model):
    """Where to run a session: ``embed_url`` for the iframe; ``session_id`` is ``None`` when the service only
    creates the session once the iframe starts (the id then arrives with ``onStart``)."""

    session_id: str | None
    embed_url: str
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> SessionLink:
        """Build from ``{"session_id", "embed_url"}``."""
        d = _as_mapping(data)
        return cls(
            session_id=_str(_first(d, "session_id", "id", "_id")),
            embed_url=_str(_first(d, "embed_url", "iframe_src", "url")) or "",
            raw=d,
        )

    def __repr__(self) -> str:
        # The query string may carry a scenario access token or the trainee's email: never print it.
        return f"SessionLink(session_id={self.session_id!r}, embed_url={_strip_query(self.embed_url)!r})"


#: The service's organisation roles (``GET /v2/organizations``), as readable names.
ROLE_NAMES: dict[int, str] = {-1: "no access", 10: "view", 20: "read", 30: "admin", 99: "owner"}
#: The lowest role that may read organisation-wide data (``is_org=True``, org-wide analytics).
ADMIN_LEVEL = 30


@dataclasses.dataclass(frozen=True, repr=False)
class Organization(_Model):
    """An organisation the token's user belongs to; pass ``id`` (or ``slug`` / ``name``) as ``org_id``.

    ``role`` is readable (``"view"``, ``"read"``, ``"admin"``, ``"owner"``, ``"no access"``); ``role_level`` is
    the service's number (-1, 10, 20, 30, 99). Team-wide listings need ``is_admin``.

    Examples
    --------
    >>> org = Organization.from_api({"id": "65f0", "name": "Acme", "slug": "acme", "role": 30})
    >>> org.role, org.is_admin
    ('admin', True)
    """

    id: str
    name: str | None = None
    slug: str | None = None
    role: str | None = None
    role_level: int | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> Organization:
        """Build from a ``PublicOrgItem`` ``{id, name, slug, role}`` (role a number; a name is kept as given)."""
        d = _as_mapping(data)
        role = d.get("role")
        level = int(role) if isinstance(role, (int, float)) and not isinstance(role, bool) and math.isfinite(role) else None
        if level is not None:
            name = ROLE_NAMES.get(level, f"role {level}")
        else:
            name = _str(role)
            level = next((k for k, v in ROLE_NAMES.items() if name and v == name.strip().lower()), None)
        return cls(
            id=_str(_first(d, "id", "_id", "org_id")) or "",
            name=_str(d.get("name")),
            slug=_str(d.get("slug")),
            role=name,
            role_level=level,
            raw=d,
        )

    @property
    def is_admin(self) -> bool:
        """True when the role may read organisation-wide data (edit/admin or owner)."""
        return self.role_level is not None and self.role_level >= ADMIN_LEVEL

    def matches(self, key: str) -> bool:
        """Whether ``key`` names this organisation: its id exactly, or its slug or name ignoring case."""
        wanted = key.strip()
        folded = wanted.casefold()
        return wanted == self.id or any(v is not None and v.strip().casefold() == folded for v in (self.slug, self.name))

    def __repr__(self) -> str:
        return _fields_repr(self, ("id", "name", "slug", "role"))


@dataclasses.dataclass(frozen=True, repr=False)
class Analytics(_Model):
    """``GET /v2/analytics``: per-scenario stats and, for an organisation-wide view, its dashboard and members.

    ``raw`` is the service's answer as it came; the frames are tidy views of it (pandas loads on first use).

    Examples
    --------
    >>> a = Analytics.from_api({"scenarios": [{"name": "Cold call", "session_count": 3}]})
    >>> a.scenarios[0]["session_count"], a.org_wide
    (3, False)
    """

    scenarios: tuple[dict[str, Any], ...] = ()
    summary: dict[str, Any] | None = None
    time_series: tuple[dict[str, Any], ...] = ()
    members: tuple[dict[str, Any], ...] = ()
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> Analytics:
        """Build from a ``UnifiedAnalyticsResponse`` ``{scenarios, org_dashboard?, member_usage?}``."""
        d = _as_mapping(data)
        dashboard = _as_mapping(d.get("org_dashboard"))
        usage = _as_mapping(d.get("member_usage"))

        def rows(value: Any) -> tuple[dict[str, Any], ...]:
            return tuple(dict(r) for r in value if isinstance(r, Mapping)) if isinstance(value, list) else ()

        summary = dashboard.get("summary")
        return cls(
            scenarios=rows(d.get("scenarios")),
            summary=dict(summary) if isinstance(summary, Mapping) else None,
            time_series=rows(dashboard.get("time_series")),
            members=rows(usage.get("members")),
            raw=d,
        )

    @property
    def org_wide(self) -> bool:
        """True when the answer carries the organisation's dashboard (an org-wide view)."""
        return self.summary is not None or bool(self.time_series or self.members)

    def scenarios_frame(self) -> Any:
        """One row per scenario: ``scenario_id``, ``name``, ``session_count``, ``total_minutes``, ... (a DataFrame)."""
        import pandas as pd

        frame = pd.DataFrame([{**r, "scenario_id": r.get("_id") or r.get("id")} for r in self.scenarios])
        if frame.empty:
            return pd.DataFrame(columns=["scenario_id", "name", "session_count", "total_minutes"])
        frame = frame.drop(columns=[c for c in ("_id", "id") if c in frame.columns])
        if "total_duration_seconds" in frame.columns:
            frame["total_minutes"] = pd.to_numeric(frame["total_duration_seconds"], errors="coerce") / 60.0
        for col in ("created_at", "starts_at", "ends_at"):
            if col in frame.columns:
                frame[col] = pd.to_datetime(frame[col], utc=True, errors="coerce", format="ISO8601")
        first = [c for c in ("scenario_id", "name", "session_count", "total_minutes") if c in frame.columns]
        return frame[first + [c for c in frame.columns if c not in first]]

    def time_series_frame(self) -> Any:
        """One row per day: ``date`` (UTC), ``session_count``, ``total_minutes`` (empty unless org-wide)."""
        import pandas as pd

        frame = pd.DataFrame(list(self.time_series), columns=["date", "session_count", "total_minutes"])
        frame["date"] = pd.to_datetime(frame["date"], utc=True, errors="coerce", format="ISO8601")
        return frame.sort_values("date", ignore_index=True)

    def members_frame(self) -> Any:
        """One row per member: ``user_id``, ``name``, ``email``, ``session_count``, ``total_minutes``, ``wallet_balance``."""
        import pandas as pd

        columns = ["user_id", "name", "email", "session_count", "total_minutes", "wallet_balance"]
        frame = pd.DataFrame(list(self.members))
        return frame.reindex(columns=columns + [c for c in frame.columns if c not in columns])

    def __repr__(self) -> str:
        view = "org-wide" if self.org_wide else "personal"
        return f"Analytics({view}, scenarios={len(self.scenarios)}, days={len(self.time_series)}, members={len(self.members)})"
