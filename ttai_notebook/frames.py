"""Tidy pandas DataFrames of sessions, report cards and feedback, and KPI summaries (no plotting, no network).

Frames take `Session` models, a store (anything with ``.sessions()``) or raw API session dicts of either
dialect; all normalisation is the models' (`Session.from_api`). Charts and exports build on these frames.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._gc import gc_paused
from .models import Session

__all__ = [
    "DEFAULT_THRESHOLD",
    "FEEDBACK_COLUMNS",
    "INCOMPLETE_STATUSES",
    "REPORT_CARD_COLUMNS",
    "SESSION_COLUMNS",
    "SMALL_SAMPLE",
    "SUMMARY_COLUMNS",
    "SmallSampleWarning",
    "as_sessions",
    "cap_groups",
    "feedback_frame",
    "first_vs_best",
    "report_card_frame",
    "rubric_topics",
    "scored_sessions",
    "sessions_frame",
    "summary",
    "theme_key",
    "topic_matrix",
    "weekly_scores",
]

#: Pass threshold (score on 0–100) used by `summary` and the charts unless told otherwise.
DEFAULT_THRESHOLD = 70.0
#: Fewer analysed sessions than this in a group and its numbers are observations, not statistics.
SMALL_SAMPLE = 10
#: Sessions with these statuses are left out of score statistics unless ``include_incomplete=True``.
#: A running or abandoned session has no comparable score; an unknown status is kept (analysed ⇒ finished).
INCOMPLETE_STATUSES = frozenset({"in_progress", "terminated", "failed", "cancelled"})

SESSION_COLUMNS = (
    "session_id",
    "scenario_id",
    "scenario_name",
    "user_email",
    "user_name",
    "status",
    "created_at",
    "completed_at",
    "duration_min",
    "score",
    "analyzed",
    "attempt",
    "week",
)
REPORT_CARD_COLUMNS = (
    "session_id",
    "scenario_id",
    "scenario_name",
    "user_email",
    "created_at",
    "topic",
    "score",
    "score_text",
    "weight",
    "note",
)
FEEDBACK_COLUMNS = ("session_id", "scenario_id", "user_email", "kind", "text", "theme")
# A metadata key named like any standard column becomes ``meta_<key>`` in every frame alike.
_RESERVED = frozenset((*SESSION_COLUMNS, *REPORT_CARD_COLUMNS, *FEEDBACK_COLUMNS))
SUMMARY_COLUMNS = (
    "sessions",
    "learners",
    "analyzed",
    "coverage",
    "mean_score",
    "median_score",
    "pass_rate",
    "median_duration_min",
    "first_to_best",
    "small_sample",
)

_US_PER_DAY = 86_400_000_000
_NAT = np.iinfo(np.int64).min



class SmallSampleWarning(UserWarning):
    """A group has fewer than `SMALL_SAMPLE` analysed sessions: its numbers are observations, not statistics."""


# --------------------------------------------------------------------------------------------------
# Input: models, a store, or raw dicts
# --------------------------------------------------------------------------------------------------


def as_sessions(data: Any) -> list[Session]:
    """Normalise frame input into a list of `Session` models.

    Parameters
    ----------
    data
        A `Store` (anything with a ``.sessions()`` method), an iterable of `Session` models and/or raw API
        session dicts (either dialect, converted with `Session.from_api`), a single session (model or dict),
        or a ``{"sessions": [...]}`` list page.

    Raises
    ------
    TypeError
        For a DataFrame, a string, or an item that is neither a `Session` nor a mapping.
    """
    if isinstance(data, Session):
        return [data]
    sessions_method = getattr(data, "sessions", None)
    if callable(sessions_method):
        return as_sessions(sessions_method())
    if isinstance(data, pd.DataFrame):
        raise TypeError(
            "expected sessions (Session models, a Store, or API session dicts), got a DataFrame; "
            "frames are built from sessions, and summary()/charts take the frames"
        )
    if isinstance(data, Mapping):
        page = data.get("sessions")
        if isinstance(page, list):
            return as_sessions(page)
        return [Session.from_api(data)]
    if data is None or isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise TypeError(
            "expected sessions: a Store, an iterable of Session models or API session dicts; "
            f"got {type(data).__name__}"
        )
    out: list[Session] = []
    for i, item in enumerate(data):
        if isinstance(item, Session):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(Session.from_api(item))
        else:
            raise TypeError(f"item {i} is a {type(item).__name__}; expected a Session model or an API session dict")
    return out


# --------------------------------------------------------------------------------------------------
# Column builders: Python lists in, one typed array out (no per-row pandas work)
# --------------------------------------------------------------------------------------------------


def _category(values: Sequence[Any]) -> pd.Categorical:
    """A categorical from a list of hashables (None → missing), categories sorted.

    One hash pass over an object array: cheaper than letting pandas infer a string array first.
    """
    array = np.empty(len(values), dtype=object)
    array[:] = values
    try:
        codes, uniques = pd.factorize(array, sort=True)
    except TypeError:  # mixed types cannot be sorted: keep first-seen order
        codes, uniques = pd.factorize(array, sort=False)
    return pd.Categorical.from_codes(codes, categories=uniques)


def _floats(values: Sequence[float | None]) -> pd.api.extensions.ExtensionArray:
    arr = np.array(values, dtype=float) if len(values) else np.empty(0, dtype=float)  # None → nan
    return pd.arrays.FloatingArray(arr, np.isnan(arr))


def _epoch_us(values: Sequence[dt.datetime | None]) -> np.ndarray:
    """Aware datetimes → int64 microseconds since the epoch (`_NAT` for None), exact to the microsecond."""
    if not len(values):
        return np.empty(0, dtype=np.int64)
    parsed = pd.DatetimeIndex(pd.to_datetime(list(values), utc=True)).as_unit("us")
    return np.asarray(parsed.asi8, dtype=np.int64)


def _datetimes(epoch_us: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(epoch_us.view("datetime64[us]")).tz_localize("UTC")


def _week_start(epoch_us: np.ndarray) -> pd.DatetimeIndex:
    """Monday 00:00 UTC of each timestamp's ISO week (NaT stays NaT)."""
    missing = epoch_us == _NAT
    days = np.floor_divide(epoch_us, _US_PER_DAY)
    monday = days - (days + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    out = np.where(missing, _NAT, monday * _US_PER_DAY)
    return _datetimes(out)


def _attempts(email: pd.Categorical, scenario: pd.Categorical, created_us: np.ndarray) -> pd.arrays.IntegerArray:
    """1-based attempt number per learner × scenario, ordered by created_at (ties: input order)."""
    n = len(email)
    if n == 0:
        return pd.arrays.IntegerArray(np.empty(0, dtype=np.int64), np.empty(0, dtype=bool))
    e = np.asarray(email.codes, dtype=np.int64)
    s = np.asarray(scenario.codes, dtype=np.int64)
    t = np.where(created_us == _NAT, np.iinfo(np.int64).max, created_us)  # unknown time sorts last
    order = np.lexsort((np.arange(n), t, s, e))
    es, ss = e[order], s[order]
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    starts[1:] = (es[1:] != es[:-1]) | (ss[1:] != ss[:-1])
    positions = np.arange(n)
    group_start = np.maximum.accumulate(np.where(starts, positions, 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = positions - group_start + 1
    return pd.arrays.IntegerArray(rank, e < 0)  # no learner email → no attempt number


_KINDS = {bool: "bool", int: "int", float: "float", str: "str"}


def _scalar_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return "object"


def _metadata_array(values: list[Any]) -> Any:
    """One metadata column: strings → category, bools → boolean, ints → Int64, numbers → Float64."""
    types = set(map(type, values))
    types.discard(type(None))
    kinds = {_KINDS.get(t) or _scalar_kind(next(v for v in values if type(v) is t)) for t in types}
    if not kinds or kinds == {"str"}:
        return _category(values)
    if kinds == {"bool"}:
        return pd.array(values, dtype="boolean")
    if kinds == {"int"}:
        return pd.array(values, dtype="Int64")
    if kinds <= {"int", "float"}:
        return _floats([float(v) if v is not None else None for v in values])
    if "object" not in kinds:  # mixed scalars (e.g. team 3 and team "B"): compare them as text
        return _category([str(v) if v is not None else None for v in values])
    out = np.empty(len(values), dtype=object)
    out[:] = values  # nested dicts/lists stay as they are
    return out


def _merged_metadata(s: Session) -> dict[Any, Any]:
    """``metadata`` keys, then the ``user_metadata`` keys it does not already have."""
    return {**s.metadata, **{k: v for k, v in s.user_metadata.items() if k not in s.metadata}}


def _metadata_columns(
    items: Sequence[Session], reserved: Iterable[str], keys: bool | Sequence[str]
) -> dict[str, Any]:
    """Metadata (then user_metadata) keys → one array per key, in order of first appearance.

    ``metadata`` wins over ``user_metadata`` for the same key. A key that collides with a standard column
    is prefixed ``meta_`` so no standard column is shadowed.
    """
    if keys is False:
        return {}
    metas = [_merged_metadata(s) if s.user_metadata else s.metadata for s in items]
    found = dict.fromkeys(itertools.chain.from_iterable(metas))
    if keys is not True:
        wanted = {str(k) for k in keys}  # type: ignore[union-attr]
        found = {k: None for k in found if str(k) in wanted}
    reserved = set(reserved)
    columns: dict[str, Any] = {}
    for key in found:
        name = str(key)
        column = name if name and name not in reserved else f"meta_{name}"
        if column not in columns:
            columns[column] = _metadata_array([m.get(key) for m in metas])
    return columns


def _take(array: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of a session-level array (numpy, extension array or index; categoricals keep their
    categories, so the long frames repeat codes, not strings)."""
    return array.take(index)


def _analysed(items: Sequence[Session], include_incomplete: bool, part: Any) -> list[tuple[int, Any]]:
    """``(row, part(analysis))`` for each analysed session that counts (complete unless asked)."""
    return [
        (i, part(s.analysis))
        for i, s in enumerate(items)
        if s.analysis is not None and (include_incomplete or s.status not in INCOMPLETE_STATUSES)
    ]


def _is_counted(statuses: Sequence[str | None]) -> np.ndarray:
    return np.fromiter((s not in INCOMPLETE_STATUSES for s in statuses), dtype=bool, count=len(statuses))


# --------------------------------------------------------------------------------------------------
# The frames
# --------------------------------------------------------------------------------------------------


@gc_paused()
def sessions_frame(sessions: Any, *, metadata: bool | Sequence[str] = True) -> pd.DataFrame:
    """One row per session: who practised what, when, for how long, and the score.

    Parameters
    ----------
    sessions
        `Session` models, a `Store` (anything with ``.sessions()``), or raw API session dicts of either
        dialect (see `as_sessions`).
    metadata
        ``True`` (default): one column per ``metadata`` key (then per ``user_metadata`` key not already
        present), in order of first appearance; ``False``: none; a list: only those keys.

    Returns
    -------
    pandas.DataFrame
        Columns, in this order, with these dtypes:

        ==============  ======================  ==========================================================
        session_id      category                the session id (categorical like every id, for cheap joins)
        scenario_id     category
        scenario_name   category
        user_email      category                the trainee's email (NaN when unknown)
        user_name       category
        status          category                in_progress, completed, terminated, archived, failed, ...
        created_at      datetime64[us, UTC]
        completed_at    datetime64[us, UTC]     NaT while running
        duration_min    Float64                 minutes of conversation
        score           Float64                 analysis score on 0–100; <NA> if not analysed
        analyzed        bool                    the session carries analysis results
        attempt         Int64                   1-based per learner × scenario, by created_at (all
                                                statuses count); <NA> without a learner email
        week            datetime64[us, UTC]     Monday 00:00 UTC of created_at's week
        <metadata key>  category / boolean /    one per metadata key (``team``, ...): all strings →
                        Int64 / Float64 /       category, bools → boolean, ints → Int64, numbers →
                        object                  Float64, mixed scalars → category of their text,
                                                nested values → object
        ==============  ======================  ==========================================================

        A metadata key named like a standard column of any frame (``score``, ``topic``, ``kind``, ...)
        becomes ``meta_<key>``, in every frame alike. Missing strings are NaN in categoricals; missing
        numbers are ``<NA>``. For raw dicts, convert once with `as_sessions` when building several frames:
        the models' normalisation is the costly step.

    Examples
    --------
    >>> import ttai_notebook as tt
    >>> client = tt.Client.sandbox(seed=0)
    >>> df = tt.sessions_frame(client.sessions.list(max_items=50))
    >>> list(df.columns[:6])
    ['session_id', 'scenario_id', 'scenario_name', 'user_email', 'user_name', 'status']
    """
    lean = getattr(sessions, "_frame_sessions", None)
    if callable(lean):
        # A Store reads only what this frame shows: scores from SQL, no analysis or raw JSON decoded.
        items, scores, analyzed = lean()
    else:
        items = as_sessions(sessions)
        analyses = [s.analysis for s in items]
        scores = [a.score if a is not None else None for a in analyses]
        analyzed = [a is not None and a.has_results for a in analyses]
    created_us = _epoch_us([s.created_at for s in items])
    completed_us = _epoch_us([s.completed_at for s in items])
    email = _category([s.user_email for s in items])
    scenario_id = _category([s.scenario_id for s in items])
    columns: dict[str, Any] = {
        "session_id": _category([s.id for s in items]),
        "scenario_id": scenario_id,
        "scenario_name": _category([s.scenario_name for s in items]),
        "user_email": email,
        "user_name": _category([s.user_name for s in items]),
        "status": _category([s.status for s in items]),
        "created_at": _datetimes(created_us),
        "completed_at": _datetimes(completed_us),
        "duration_min": _floats([s.duration_s / 60.0 if s.duration_s is not None else None for s in items]),
        "score": _floats(scores),
        "analyzed": np.fromiter(analyzed, dtype=bool, count=len(items)),
        "attempt": _attempts(email, scenario_id, created_us),
        "week": _week_start(created_us),
    }
    columns.update(_metadata_columns(items, _RESERVED, metadata))
    return pd.DataFrame(columns, copy=False)


@gc_paused()
def report_card_frame(
    sessions: Any, *, include_incomplete: bool = False, metadata: bool | Sequence[str] = True
) -> pd.DataFrame:
    """One row per analysed session × report-card topic (long format).

    Topics belong to their scenario's rubric: compare a topic only within one scenario (or scenarios sharing
    the same topic set); `topic_matrix` and the topic heatmap enforce this.

    Parameters
    ----------
    sessions
        As for `sessions_frame`.
    include_incomplete
        Keep report cards of sessions whose status is in `INCOMPLETE_STATUSES` (default: left out).
    metadata
        As for `sessions_frame` (metadata columns follow the fixed ones).

    Returns
    -------
    pandas.DataFrame
        ==============  ======================  ==========================================================
        session_id      category
        scenario_id     category
        scenario_name   category
        user_email      category
        created_at      datetime64[us, UTC]     the session's creation time
        topic           category                the rubric topic
        score           Float64                 topic score on 0–100; <NA> for a categorical result
        score_text      category                the service's own text (``"8/10"``, ``"INTP"``), if any
        weight          Float64                 the topic's weight in percent, if given
        note            category                the evaluator's note on this topic
        <metadata key>  as in `sessions_frame`
        ==============  ======================  ==========================================================
    """
    items = as_sessions(sessions)
    cards = _analysed(items, include_incomplete, lambda a: a.report_card)
    flat = [r for _, card in cards for r in card]
    rows = np.repeat(np.asarray([i for i, _ in cards], dtype=np.intp), [len(card) for _, card in cards])
    topic = [r.topic for r in flat]
    score = [r.score for r in flat]
    score_text = [r.score_text for r in flat]
    weight = [r.weight for r in flat]
    note = [r.note for r in flat]
    return _long_frame(
        items,
        rows,
        {
            "topic": _category(topic),
            "score": _floats(score),
            "score_text": _category(score_text),
            "weight": _floats(weight),
            "note": _category(note),
        },
        REPORT_CARD_COLUMNS,
        metadata,
        with_name_and_time=True,
    )


@gc_paused()
def feedback_frame(
    sessions: Any, *, include_incomplete: bool = False, metadata: bool | Sequence[str] = True
) -> pd.DataFrame:
    """One row per strength or improvement item of each analysed session, with a theme key.

    Parameters
    ----------
    sessions
        As for `sessions_frame`.
    include_incomplete
        Keep feedback of sessions whose status is in `INCOMPLETE_STATUSES` (default: left out).
    metadata
        As for `sessions_frame` (metadata columns follow the fixed ones).

    Returns
    -------
    pandas.DataFrame
        ==============  ===========  =====================================================================
        session_id      category
        scenario_id     category
        user_email      category
        kind            category     ``"strength"`` or ``"improvement"`` (categories in that order)
        text            category     the item as the models normalised it (markdown stripped)
        theme           category     `theme_key` of the text: a short normalised key for counting
        <metadata key>  as in `sessions_frame`
        ==============  ===========  =====================================================================
    """
    items = as_sessions(sessions)
    feedback = _analysed(items, include_incomplete, lambda a: (a.strengths, a.improvements))
    sizes = [(len(st), len(im)) for _, (st, im) in feedback]
    rows = np.repeat(np.asarray([i for i, _ in feedback], dtype=np.intp), [a + b for a, b in sizes])
    kind = list(itertools.chain.from_iterable([0] * a + [1] * b for a, b in sizes))
    text = [t for _, (st, im) in feedback for t in (*st, *im)]
    text_cat = _category(text)
    # Theme each distinct wording once: feedback repeats a lot, so this is far cheaper than per row.
    themes = [theme_key(t) for t in text_cat.categories]
    theme_values = pd.Categorical(themes)
    theme_cat = pd.Categorical.from_codes(
        np.asarray(theme_values.codes, dtype=np.int64)[text_cat.codes] if len(text) else np.empty(0, dtype=int),
        categories=theme_values.categories,
    )
    kind_cat = pd.Categorical.from_codes(np.asarray(kind, dtype=np.int8), categories=["strength", "improvement"])
    return _long_frame(
        items,
        rows,
        {"kind": kind_cat, "text": text_cat, "theme": theme_cat},
        FEEDBACK_COLUMNS,
        metadata,
        with_name_and_time=False,
    )


def _long_frame(
    items: Sequence[Session],
    rows: np.ndarray,
    own: dict[str, Any],
    order: Sequence[str],
    metadata: bool | Sequence[str],
    *,
    with_name_and_time: bool,
) -> pd.DataFrame:
    """Session-level columns built once per session, repeated onto the long rows by index."""
    base: dict[str, Any] = {
        "session_id": _category([s.id for s in items]),
        "scenario_id": _category([s.scenario_id for s in items]),
        "user_email": _category([s.user_email for s in items]),
    }
    if with_name_and_time:
        base["scenario_name"] = _category([s.scenario_name for s in items])
        base["created_at"] = _datetimes(_epoch_us([s.created_at for s in items]))
    columns: dict[str, Any] = {}
    for name in order:
        columns[name] = own[name] if name in own else _take(base[name], rows)
    # The same metadata columns as sessions_frame (from every session), whichever sessions have rows here.
    for name, array in _metadata_columns(items, _RESERVED, metadata).items():
        columns[name] = _take(array, rows)
    return pd.DataFrame(columns, copy=False)


# --------------------------------------------------------------------------------------------------
# Feedback themes
# --------------------------------------------------------------------------------------------------

_STOPWORDS = frozenset(
    """a an the and or but to of in on at by for with from into about as than then that this these those
    it its it's is are was were be been being do does did done has have had having not no very more most
    much many some any all each every own so too just also well really quite
    you your yours yourself he she they them their his her we our us i me my mine
    when where what which who whom whose why how while if can could should would will may might must
    customer customers client clients prospect prospects user users""".split()
)
_LABEL = re.compile(r"^\s*([^:.;!?]{2,40}?)\s*[:\u2013\u2014-]\s+\S")
_WORD = re.compile(r"[a-z]+")


def _restore_e(stem: str) -> str:
    # "handl(ed)" → "handle", "summaris(ing)" → "summarise", "refram(ing)" → "reframe", "solv(ing)" → "solve";
    # "focus(ed)", "claim(ed)" and "ask(ed)" stay as they are.
    if len(stem) < 3:
        return stem
    if (stem[-1] == "l" and stem[-2] not in "aeiouyl") or stem.endswith(("dg", "lv")):
        return stem + "e"
    if (
        stem[-1] in "sczvgkm"
        and stem[-2] in "aeiouy"
        and stem[-3] not in "aeiouy"
        and not stem.endswith("us")
    ):
        return stem + "e"
    return stem


def _stem(word: str) -> str:
    """A deliberately light stemmer: enough to fold plurals and verb endings, never clever."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for ending, minimum in (("ing", 6), ("ed", 5)):
        if len(word) >= minimum and word.endswith(ending):
            stem = word[: -len(ending)]
            if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "ls":
                return stem[:-1]  # "stopped" → "stop", but "called" and "passed" keep their double letter
            return _restore_e(stem)
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def theme_key(text: str, *, max_words: int = 3) -> str:
    """A short key that groups feedback items worded alike (pure, deterministic).

    The wording is lower-cased, accents and punctuation removed. A ``"Label: detail"`` item is keyed by its
    label; otherwise by its first ``max_words`` content words (stop words dropped, plurals and ``-ing`` /
    ``-ed`` endings folded). An item with no content words is ``"other"``.

    >>> theme_key("**Rapport**: warm opener")
    'rapport'
    >>> theme_key("Asked open questions"), theme_key("Asking more open questions!")
    ('ask open question', 'ask open question')
    """
    folded = str(text).replace("\u2013", "-").replace("\u2014", "-")
    folded = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode().lower()
    folded = folded.replace("'s ", " ").replace("\u2019s ", " ")
    label = _LABEL.match(folded)
    if label and len(label.group(1).split()) <= 4:
        folded = label.group(1)
    words = [_stem(w) for w in _WORD.findall(folded) if w not in _STOPWORDS and len(w) > 1]
    words = [w for w in words if w not in _STOPWORDS]
    return " ".join(words[:max_words]) if words else "other"


# --------------------------------------------------------------------------------------------------
# Summaries and chart-ready wrangling (pure functions of frames)
# --------------------------------------------------------------------------------------------------


def _require(df: Any, columns: Iterable[str], what: str, source: str = "sessions_frame(...)") -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what} takes a DataFrame from {source}, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what} needs column(s) {', '.join(missing)}; build the frame with {source}"
        )


def _keys(by: str | Sequence[str] | None, df: pd.DataFrame, what: str) -> list[str]:
    if by is None:
        return []
    keys = [by] if isinstance(by, str) else list(by)
    missing = [k for k in keys if k not in df.columns]
    if missing:
        raise ValueError(
            f"{what}: no column {', '.join(map(repr, missing))} to group by; "
            f"available: {', '.join(map(str, df.columns))}"
        )
    return keys


def _float_values(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype=float, na_value=np.nan)


def _counted_mask(df: pd.DataFrame, include_incomplete: bool) -> np.ndarray:
    if include_incomplete or "status" not in df.columns:
        return np.ones(len(df), dtype=bool)
    return ~df["status"].isin(INCOMPLETE_STATUSES).to_numpy(dtype=bool)


def scored_sessions(df: pd.DataFrame, *, include_incomplete: bool = False) -> pd.DataFrame:
    """The rows of a sessions frame that count for score statistics: scored and (by default) complete."""
    _require(df, ("score",), "scored_sessions")
    mask = _counted_mask(df, include_incomplete) & ~np.isnan(_float_values(df["score"]))
    return df.loc[mask]


def _group_label(key: Any) -> str:
    if isinstance(key, tuple):
        return " / ".join(_group_label(k) for k in key)
    return "(none)" if key is None or (isinstance(key, float) and np.isnan(key)) or key is pd.NA else str(key)


def summary(
    df: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    include_incomplete: bool = False,
    min_analyzed: int = SMALL_SAMPLE,
) -> pd.DataFrame:
    """KPIs per group of a `sessions_frame`: volume, coverage, scores, pass rate, duration, improvement.

    Sessions whose status is in `INCOMPLETE_STATUSES` count in ``sessions`` and ``learners`` only, unless
    ``include_incomplete=True``. A group with fewer than ``min_analyzed`` analysed sessions is flagged in
    ``small_sample`` and a `SmallSampleWarning` says so: its numbers are observations, not statistics.

    Parameters
    ----------
    df
        A `sessions_frame` (one row per session).
    by
        Column name(s) to group by (``"team"``, ``["scenario_name", "team"]``); ``None`` for one row,
        labelled ``"all"``.
    threshold
        Pass mark on 0–100: a session passes when ``score >= threshold``.
    include_incomplete
        Count running / terminated / failed / cancelled sessions in the score statistics too.
    min_analyzed
        The small-sample limit (default `SMALL_SAMPLE` = 10).

    Returns
    -------
    pandas.DataFrame
        Indexed by the group key(s), with columns:

        ===================  ========  ==============================================================
        sessions             Int64     all sessions in the group, any status
        learners             Int64     distinct learner emails in the group
        analyzed             Int64     sessions with a score that count (complete unless asked)
        coverage             Float64   analysed ÷ counted sessions (0–1)
        mean_score           Float64   mean score (0–100) of the analysed sessions
        median_score         Float64   median score (0–100)
        pass_rate            Float64   share of analysed sessions with score ≥ threshold (0–1)
        median_duration_min  Float64   median minutes of the counted sessions
        first_to_best        Float64   mean points gained from a learner's first to best analysed
                                       attempt, over learner × scenario pairs with ≥ 2 analysed
                                       attempts (scenarios are never mixed); <NA> when none
        small_sample         bool      analysed < min_analyzed
        ===================  ========  ==============================================================

        ``attrs["threshold"]`` records the pass mark used.

    Raises
    ------
    ValueError
        If the frame has several rows per session (a long frame such as `report_card_frame`).

    Examples
    --------
    >>> import ttai_notebook as tt
    >>> client = tt.Client.sandbox(seed=0)
    >>> df = tt.sessions_frame(client.sessions.list())
    >>> tt.summary(df, by="team").columns[:4].tolist()
    ['sessions', 'learners', 'analyzed', 'coverage']
    """
    _require(df, ("session_id", "score"), "summary")
    keys = _keys(by, df, "summary")
    if df["session_id"].duplicated().any():
        raise ValueError(
            "summary expects one row per session (a sessions_frame); this frame repeats session ids "
            f"({len(df)} rows for {df['session_id'].nunique()} sessions) — is it a report_card_frame or "
            "feedback_frame? Summarise those with topic_matrix(...) or a groupby."
        )
    if not 0 <= float(threshold) <= 100:
        raise ValueError(f"threshold is a score on 0–100, got {threshold!r}")
    n = len(df)
    counted = _counted_mask(df, include_incomplete)
    score = _float_values(df["score"])
    scored = counted & ~np.isnan(score)
    duration = _float_values(df["duration_min"]) if "duration_min" in df.columns else np.full(n, np.nan)
    work = pd.DataFrame(
        {
            "_counted": counted,
            "_scored": scored,
            "_score": np.where(scored, score, np.nan),
            "_pass": np.where(scored, score >= float(threshold), np.nan),
            "_duration": np.where(counted, duration, np.nan),
            "_email": df["user_email"].to_numpy() if "user_email" in df.columns else np.full(n, None),
        }
    )
    if keys:
        for k in keys:
            work[k] = df[k].to_numpy() if not isinstance(df[k].dtype, pd.CategoricalDtype) else df[k].array
        group_keys: list[str] = keys
    else:
        work["_all"] = "all"
        group_keys = ["_all"]
    grouped = work.groupby(group_keys, observed=True, dropna=False, sort=True)
    counted_n = grouped["_counted"].sum()
    analyzed = grouped["_scored"].sum()
    out = pd.DataFrame(
        {
            "sessions": grouped.size(),
            "learners": grouped["_email"].nunique(),
            "analyzed": analyzed,
            "coverage": analyzed / counted_n.where(counted_n > 0),
            "mean_score": grouped["_score"].mean(),
            "median_score": grouped["_score"].median(),
            "pass_rate": grouped["_pass"].mean(),
            "median_duration_min": grouped["_duration"].median(),
        }
    )
    out["first_to_best"] = _first_to_best(df, work, group_keys, scored).reindex(out.index)
    for column in ("sessions", "learners", "analyzed"):
        out[column] = out[column].astype("Int64")
    for column in ("coverage", "mean_score", "median_score", "pass_rate", "median_duration_min", "first_to_best"):
        out[column] = out[column].astype("Float64")
    if not keys:
        # One row, labelled "all", even for an empty frame (zero sessions is a KPI too).
        out = out.reindex(["all"])
        out.index = pd.Index(["all"])
        for column in ("sessions", "learners", "analyzed"):
            out[column] = out[column].fillna(0)
    out["small_sample"] = (out["analyzed"] < min_analyzed).to_numpy(dtype=bool)
    out.attrs["threshold"] = float(threshold)
    small = out.index[out["small_sample"].to_numpy()]
    if len(small):
        shown = ", ".join(
            f"{_group_label(k)}: {int(out.loc[k, 'analyzed'])}" for k in list(small)[:6]
        ) + (", ..." if len(small) > 6 else "")
        warnings.warn(
            f"{len(small)} of {len(out)} group(s) have fewer than {min_analyzed} analysed sessions ({shown}): "
            "these numbers are observations, not statistics.",
            SmallSampleWarning,
            stacklevel=2,
        )
    return out


def _first_to_best(df: pd.DataFrame, work: pd.DataFrame, group_keys: list[str], scored: np.ndarray) -> pd.Series:
    """Mean (best − first) analysed score per group, over learner × scenario pairs with ≥ 2 attempts."""
    if not scored.any() or "user_email" not in df.columns:
        return pd.Series(dtype=float)
    pairs = work.loc[scored, group_keys].copy()
    pairs["_email"] = df["user_email"].to_numpy()[scored]
    pairs["_scenario"] = df["scenario_id"].to_numpy()[scored] if "scenario_id" in df.columns else "?"
    pairs["_score"] = work["_score"].to_numpy()[scored]
    if "created_at" in df.columns:
        pairs["_t"] = df["created_at"].to_numpy()[scored]
        pairs = pairs.sort_values("_t", kind="stable")
    pairs = pairs[pairs["_email"].notna()]
    if pairs.empty:
        return pd.Series(dtype=float)
    per_pair = pairs.groupby([*group_keys, "_email", "_scenario"], observed=True, dropna=False, sort=False)[
        "_score"
    ].agg(["first", "max", "size"])
    per_pair = per_pair[per_pair["size"] >= 2]
    if per_pair.empty:
        return pd.Series(dtype=float)
    gain = (per_pair["max"] - per_pair["first"]).rename("gain").reset_index()
    return gain.groupby(group_keys, observed=True, dropna=False, sort=True)["gain"].mean()


def cap_groups(values: pd.Series, max_groups: int, *, other: str = "Other") -> pd.Series:
    """Keep the ``max_groups`` most frequent values and fold the rest into ``"Other (k groups)"``.

    Keeps charts readable at hundreds of learners. Returns a categorical Series aligned with ``values``,
    categories ordered by frequency (the folded group last); missing values become ``"(none)"``.

    >>> cap_groups(pd.Series(list("aaabbc")), 2).tolist()
    ['a', 'a', 'a', 'b', 'b', 'Other (1 group)']
    """
    if max_groups < 1:
        raise ValueError(f"max_groups must be at least 1, got {max_groups}")
    labels = values.astype(object).where(values.notna(), "(none)").astype(str)
    counts = labels.value_counts(sort=False)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) <= max_groups:
        return pd.Series(pd.Categorical(labels, categories=[k for k, _ in ranked]), index=values.index)
    keep = [k for k, _ in ranked[:max_groups]]
    rest = len(ranked) - max_groups
    folded = f"{other} ({rest} group{'s' if rest != 1 else ''})"
    out = labels.where(labels.isin(keep), folded)
    return pd.Series(pd.Categorical(out, categories=[*keep, folded]), index=values.index)


def weekly_scores(
    df: pd.DataFrame,
    by: str | None = None,
    *,
    max_groups: int | None = None,
    include_incomplete: bool = False,
) -> pd.DataFrame:
    """Mean analysed score per week (and group): columns week, group, n, mean_score.

    ``group`` is the ``by`` value (capped with `cap_groups` when ``max_groups`` is given) or ``"all"``.
    """
    _require(df, ("score", "created_at"), "weekly_scores")
    keys = _keys(by, df, "weekly_scores")
    rows = scored_sessions(df, include_incomplete=include_incomplete)
    week = rows["week"] if "week" in rows.columns else None
    if week is None:
        created = rows["created_at"]
        week = created.dt.floor("D") - pd.to_timedelta(created.dt.day_of_week, unit="D")
    if keys:
        group = cap_groups(rows[keys[0]], max_groups) if max_groups else rows[keys[0]].astype(str)
    else:
        group = pd.Series("all", index=rows.index)
    work = pd.DataFrame(
        {"week": week.to_numpy(), "group": np.asarray(group, dtype=object), "score": _float_values(rows["score"])}
    )
    out = work.groupby(["group", "week"], sort=True)["score"].agg(n="size", mean_score="mean").reset_index()
    out["week"] = pd.DatetimeIndex(out["week"]).tz_convert("UTC") if len(out) else out["week"]
    return out[["week", "group", "n", "mean_score"]]


def first_vs_best(
    df: pd.DataFrame, *, by: str | None = None, include_incomplete: bool = False
) -> pd.DataFrame:
    """First and best analysed score per learner × scenario (never across scenarios).

    Returns columns user_email, scenario_id, scenario_name, attempts (analysed attempts), first_score,
    best_score, gain (best − first), and ``by`` (the value on the learner's first attempt) when given.
    """
    _require(df, ("user_email", "scenario_id", "score", "created_at"), "first_vs_best")
    # A key that is already an output column (user_email, scenario_*) needs no extra column.
    keys = [k for k in _keys(by, df, "first_vs_best") if k not in ("user_email", "scenario_id", "scenario_name")]
    rows = scored_sessions(df, include_incomplete=include_incomplete)
    rows = rows[rows["user_email"].notna()].sort_values("created_at", kind="stable")
    columns = ["user_email", "scenario_id", "scenario_name", "attempts", "first_score", "best_score", "gain", *keys]
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=float if c.endswith(("score", "gain")) else object) for c in columns})
    work = pd.DataFrame(
        {
            "user_email": rows["user_email"].astype(str).to_numpy(),
            "scenario_id": rows["scenario_id"].astype(object).to_numpy(),
            "scenario_name": rows["scenario_name"].astype(object).to_numpy()
            if "scenario_name" in rows.columns
            else None,
            "score": _float_values(rows["score"]),
        }
    )
    for k in keys:
        work[k] = rows[k].astype(object).to_numpy()
    grouped = work.groupby(["user_email", "scenario_id"], sort=True, dropna=False)
    out = grouped.agg(
        scenario_name=("scenario_name", "first"),
        attempts=("score", "size"),
        first_score=("score", "first"),
        best_score=("score", "max"),
        **{k: (k, "first") for k in keys},
    ).reset_index()
    out["gain"] = out["best_score"] - out["first_score"]
    return out[columns]


def topic_matrix(
    report_cards: pd.DataFrame,
    by: str | None = "team",
    *,
    scenario: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean topic score per group × topic, refusing to average a topic across different rubrics.

    Parameters
    ----------
    report_cards
        A `report_card_frame`.
    by
        The row grouping (a column such as ``"team"`` or ``"user_email"``); ``None`` for one row ``"all"``.
    scenario
        Restrict to one scenario, by id or name. Required when the frame holds several scenarios whose
        topic sets differ.

    Returns
    -------
    (mean, n)
        Two DataFrames indexed by group with one column per topic (rubric order): the mean topic score on
        0–100 and the number of scored topic results behind each cell.

    Raises
    ------
    ValueError
        When the scenarios in the frame have different report-card topics: averaging "Discovery" of one
        rubric with "Discovery" of another would mix different criteria, so the message names each
        scenario's topics and says how to choose one.
    """
    _require(report_cards, ("scenario_id", "topic", "score"), "topic_matrix", "report_card_frame(...)")
    df = report_cards
    if scenario is not None:
        names = df["scenario_name"].astype(object) if "scenario_name" in df.columns else None
        mask = (df["scenario_id"].astype(object) == scenario).to_numpy()
        if names is not None:
            mask = mask | (names == scenario).to_numpy()
        if not mask.any():
            known = sorted(set(map(str, df["scenario_name" if names is not None else "scenario_id"].dropna())))
            raise ValueError(f"no report cards for scenario {scenario!r}; the frame has: {', '.join(known) or 'none'}")
        df = df.loc[mask]
    keys = _keys(by, df, "topic_matrix")
    rubrics = rubric_topics(df)
    distinct = {frozenset(t) for t in rubrics.values()}
    if len(distinct) > 1:
        label = _scenario_labels(df)
        described = "; ".join(f"{label.get(sid, sid)}: {', '.join(t)}" for sid, t in rubrics.items())
        raise ValueError(
            f"these {len(rubrics)} scenarios have different report-card topics, so a topic's scores cannot "
            f"be averaged across them (each rubric defines its own criteria) — {described}. "
            "Pick one with scenario=<id or name>, or draw one heatmap per scenario "
            "(charts.facet_topic_heatmaps)."
        )
    topics = list(dict.fromkeys(t for ts in rubrics.values() for t in ts))
    work = pd.DataFrame(
        {
            "group": df[keys[0]].astype(object).where(df[keys[0]].notna(), "(none)").to_numpy()
            if keys
            else np.full(len(df), "all", dtype=object),
            "topic": df["topic"].astype(object).to_numpy(),
            "score": _float_values(df["score"]),
        }
    ).dropna(subset=["score"])
    mean = work.pivot_table(index="group", columns="topic", values="score", aggfunc="mean", sort=True)
    count = work.pivot_table(index="group", columns="topic", values="score", aggfunc="size", sort=True)
    mean = mean.reindex(columns=topics)
    count = count.reindex(index=mean.index, columns=topics).fillna(0).astype(int)
    mean.columns.name = count.columns.name = "topic"
    mean.index.name = count.index.name = by
    return mean, count


def rubric_topics(report_cards: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Each scenario's report-card topics in rubric order (first appearance): ``{scenario_id: topics}``."""
    pairs = pd.DataFrame(
        {"scenario_id": report_cards["scenario_id"].astype(object), "topic": report_cards["topic"].astype(object)}
    ).drop_duplicates()
    out: dict[str, list[str]] = {}
    for sid, topic in zip(pairs["scenario_id"], pairs["topic"]):
        out.setdefault(str(sid), []).append(topic)
    return {k: tuple(v) for k, v in out.items()}


def _scenario_labels(df: pd.DataFrame) -> dict[str, str]:
    if "scenario_name" not in df.columns:
        return {}
    pairs = df[["scenario_id", "scenario_name"]].astype(object).dropna().drop_duplicates("scenario_id")
    return {str(i): str(n) for i, n in zip(pairs["scenario_id"], pairs["scenario_name"])}
