"""G9 property tests (hypothesis): the normalisers never raise on arbitrary JSON-like input, ``Analysis.score``
is always within 0–100 or None, error parsing never raises, and frames built from arbitrary valid sessions keep
their documented dtypes."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ttai_notebook as tt
from ttai_notebook import _http, models

from .conftest import record_figures

# database=None: nothing is written into the checkout (.hypothesis/); CI runs are reproducible by seed.
SETTINGS = settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
COUNTS: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    """After this module's tests: how many generated inputs each property saw."""
    yield
    if COUNTS:
        record_figures("G9 property tests", "hypothesis", {"examples": sum(COUNTS.values()), **COUNTS})


def _count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1


# --------------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["8/10", "7.5", "eighty", "0/0", "3/0", "-2/5", "1e400", "NaN", "INTP", "**bold**",
                     "- a\n- b", "1. one\n2. two", "2025-02-26T18:02:00.945000", "active", "COMPLETED", ""]),
)
json_like = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5),
                               st.dictionaries(st.text(max_size=12), children, max_size=6)),
    max_leaves=25,
)
MODEL_KEYS = [
    "id", "_id", "session_id", "scenario_id", "scenario_name", "name", "status", "user_email", "user_name",
    "created_at", "updated_at", "completed_at", "duration", "duration_minutes", "metadata", "user_metadata",
    "finalized_transcript", "transcript", "analytics_url", "evaluation_results", "improvement_results",
    "overall_score", "final_score", "strengths", "weaknesses", "improvements", "report_card", "evaluation",
    "improvement", "is_analyzing", "detailed_feedback", "action_items", "topic", "score", "score_str", "weight",
    "note", "available_minutes", "last_updated", "embed_url", "success", "message", "ai_instructions",
    "description", "is_public", "is_recording", "session_analysis",
]
# Dicts built from the keys the normalisers read, with arbitrary JSON values (hits the real code paths).
keyed = st.dictionaries(st.sampled_from(MODEL_KEYS), json_like, max_size=12)
nested_analysis = st.fixed_dictionaries({}, optional={
    "evaluation_results": keyed, "improvement_results": keyed, "evaluation": keyed, "improvement": keyed,
}).flatmap(lambda d: keyed.map(lambda k: {**k, **d}))
anything = st.one_of(json_like, keyed, nested_analysis)

MODELS = [models.Scenario, models.Session, models.Analysis, models.RubricScore, models.Balance,
          models.TokenCheck, models.SessionLink]


# --------------------------------------------------------------------------------------------------
# Normalisers never raise; everything they build can be shown and serialised
# --------------------------------------------------------------------------------------------------


@settings(SETTINGS, max_examples=150)
@given(data=anything)
def test_from_api_never_raises(data: Any) -> None:
    for cls in MODELS:
        obj = cls.from_api(data)
        repr(obj)
        json.dumps(obj.to_dict())  # JSON-serialisable: no datetimes, sets or objects left
        assert isinstance(obj._repr_html_(), str)
    _count("Model.from_api x7")


@SETTINGS
@given(data=anything, session_id=st.one_of(st.none(), st.text(max_size=10)))
def test_analysis_score_always_0_to_100_or_none(data: Any, session_id: str | None) -> None:
    analysis = models.Analysis.from_api(data, session_id=session_id)
    score = analysis.score
    assert score is None or (isinstance(score, float) and 0.0 <= score <= 100.0), score
    for item in analysis.report_card:
        assert item.score is None or 0.0 <= item.score <= 100.0, item
        assert item.weight is None or math.isfinite(item.weight)
    assert all(isinstance(s, str) for s in analysis.strengths + analysis.improvements + analysis.action_items)
    session = models.Session.from_api(data)
    assert session.score is None or 0.0 <= session.score <= 100.0
    _count("Analysis.score in range")


numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**30), 10**30),
                    st.text(alphabet="0123456789./-+eE, ", max_size=12))


@SETTINGS
@given(overall=numbers, final=numbers)
def test_parse_score_range(overall: Any, final: Any) -> None:
    for score in (models.parse_score(overall, final), models.parse_score(overall), models.parse_score(None, final)):
        assert score is None or 0.0 <= score <= 100.0
    _count("parse_score")


@SETTINGS
@given(value=json_like)
def test_small_normalisers_never_raise(value: Any) -> None:
    models.normalize_status(value)
    when = models.parse_datetime(value)
    assert when is None or when.tzinfo is not None
    assert all(isinstance(s, str) for s in models.split_items(value))
    _count("small normalisers")


@SETTINGS
@given(status=st.integers(min_value=400, max_value=599), body=st.one_of(json_like.map(json.dumps), st.binary(max_size=300),
                                                                         st.text(max_size=300)),
       retry_after=st.one_of(st.none(), st.text(max_size=30)))
def test_error_parsing_never_raises(status: int, body: Any, retry_after: str | None) -> None:
    headers = {"content-type": "application/json"}
    if retry_after is not None and retry_after.isprintable() and retry_after.isascii():
        headers["retry-after"] = retry_after
    content = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    response = httpx.Response(status, content=content, headers=headers)
    error = _http.error_from_response(response, secrets=("tt_secret_value_123",))
    assert isinstance(error, tt.APIError) and error.status_code == status
    str(error), repr(error)
    wait = _http.parse_retry_after(response.headers)
    assert wait is None or (math.isfinite(wait) and wait >= 0)
    _count("error_from_response")


# --------------------------------------------------------------------------------------------------
# Frames from arbitrary valid sessions keep their documented dtypes
# --------------------------------------------------------------------------------------------------

ids = st.text(alphabet="0123456789abcdef", min_size=4, max_size=24)
moments = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1),
                       timezones=st.one_of(st.none(), st.just(dt.timezone.utc)))
words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
rubric_item = st.fixed_dictionaries({
    "topic": words, "score": st.one_of(st.none(), st.floats(0, 10)), "weight": st.one_of(st.none(), st.floats(0, 100)),
}, optional={"score_str": st.sampled_from(["8/10", "INTP", "7.5"]), "note": words})
evaluation = st.one_of(
    st.fixed_dictionaries({"overall_score": st.floats(0, 100), "strengths": st.lists(words, max_size=3),
                           "improvements": st.lists(words, max_size=3)}),
    st.fixed_dictionaries({"final_score": st.floats(0, 10), "overall_score": st.sampled_from(["8/10", "6/10"]),
                           "strengths": st.lists(words, max_size=3).map(lambda w: "\n".join(f"- {x}" for x in w)),
                           "weaknesses": st.lists(words, max_size=3).map(lambda w: "\n".join(f"- {x}" for x in w)),
                           "report_card": st.lists(rubric_item, max_size=4)}),
)
valid_session = st.fixed_dictionaries(
    {"id": ids, "scenario_id": ids, "status": st.sampled_from(
        ["active", "in_progress", "completed", "terminated", "archived", "failed", "cancelled"]),
     "created_at": moments.map(lambda d: d.isoformat())},
    optional={
        "scenario_name": words, "user_email": st.emails(), "user_name": words,
        "completed_at": moments.map(lambda d: d.isoformat()), "duration": st.floats(0, 7200),
        "metadata": st.fixed_dictionaries({}, optional={"team": st.sampled_from(["north", "south", "west"]),
                                                         "cohort": st.integers(1, 5), "pilot": st.booleans(),
                                                         "ratio": st.floats(0, 1)}),
        "evaluation_results": evaluation,
    },
)
SESSION_DTYPES = {
    "session_id": "category", "scenario_id": "category", "scenario_name": "category", "user_email": "category",
    "user_name": "category", "status": "category", "created_at": "datetime64[us, UTC]",
    "completed_at": "datetime64[us, UTC]", "duration_min": "Float64", "score": "Float64", "analyzed": "bool",
    "attempt": "Int64", "week": "datetime64[us, UTC]",
}
REPORT_DTYPES = {"session_id": "category", "scenario_id": "category", "scenario_name": "category",
                 "user_email": "category", "created_at": "datetime64[us, UTC]", "topic": "category",
                 "score": "Float64", "score_text": "category", "weight": "Float64", "note": "category"}
FEEDBACK_DTYPES = {"session_id": "category", "scenario_id": "category", "user_email": "category",
                   "kind": "category", "text": "category", "theme": "category"}
META_DTYPES = {"team": {"category"}, "cohort": {"Int64"}, "pilot": {"boolean"}, "ratio": {"Float64"}}


def _dtypes(df: Any, expected: dict[str, str]) -> None:
    assert list(df.columns[: len(expected)]) == list(expected)
    for column, dtype in expected.items():
        assert str(df[column].dtype) == dtype, (column, str(df[column].dtype), dtype)


@settings(SETTINGS, max_examples=25)
@given(rows=st.lists(valid_session, max_size=12, unique_by=lambda r: r["id"]))
def test_frames_keep_documented_dtypes(rows: list[dict]) -> None:
    sessions = [tt.Session.from_api(r) for r in rows]
    df = tt.sessions_frame(sessions)
    assert len(df) == len(rows)
    _dtypes(df, SESSION_DTYPES)
    for key, allowed in META_DTYPES.items():
        if key in df.columns:
            assert str(df[key].dtype) in allowed, (key, str(df[key].dtype))
    assert ((df["score"].dropna() >= 0) & (df["score"].dropna() <= 100)).all()
    _dtypes(tt.report_card_frame(sessions), REPORT_DTYPES)
    feedback = tt.feedback_frame(sessions)
    _dtypes(feedback, FEEDBACK_DTYPES)
    assert list(feedback["kind"].cat.categories) == ["strength", "improvement"]
    # raw dicts give the same frame as models
    assert tt.sessions_frame(rows).equals(df)
    _count("frames")
