"""Every model field against the vendor spec's schemas (issue L, item 1).

Each row says which spec property a model field is read from, as a path through the spec's schemas (``$ref``,
``anyOf``, ``items`` followed). A path that does not resolve is a field the models would look for in vain on the
service's data — as ``Scenario.rubric_topics`` once read ``processed_rubrik.entries`` where the spec says
``criteria``. Keys the models read that the spec does not have are listed in ``NOT_IN_SPEC`` with the reason,
and a test keeps that list honest against what the models really read.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from ttai_notebook import models
from ttai_notebook.verify import MODEL_KEYS

SPEC = json.loads((pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "ttai-openapi-2026-05.json").read_text())
SCHEMAS = SPEC["components"]["schemas"]

#: (model.field, spec schema, dotted path inside it) — the primary source of each normalised field.
FIELDS: list[tuple[str, str, str]] = [
    # Session: the list shape (GET /v2/sessions, batch) and the detail shape (GET /sessions/{id}).
    ("Session.id", "PublicSessionResponse", "id"),
    ("Session.id", "PublicEnrichedSession", "_id"),
    ("Session.scenario_id", "PublicSessionResponse", "scenario_id"),
    ("Session.scenario_name", "PublicSessionResponse", "scenario_name"),
    ("Session.scenario_name", "PublicEnrichedSession", "scenario_overview.name"),
    ("Session.status", "PublicSessionResponse", "status"),
    ("Session.user_email", "PublicSessionResponse", "user_email"),
    ("Session.user_name", "PublicSessionResponse", "user_name"),
    ("Session.created_at", "PublicSessionResponse", "created_at"),
    ("Session.completed_at", "PublicSessionResponse", "completed_at"),
    ("Session.updated_at", "PublicEnrichedSession", "updated_at"),
    ("Session.duration_s", "PublicSessionResponse", "duration"),
    ("Session.duration_s", "PublicSessionResponse", "duration_minutes"),  # removed 2026-09-30: fallback
    ("Session.metadata", "PublicSessionResponse", "metadata"),
    ("Session.user_metadata", "PublicSessionResponse", "user_metadata"),
    ("Session.transcript", "PublicEnrichedSession", "finalized_transcript"),
    ("Session.transcript", "PublicEnrichedSession", "transcript_content"),
    ("Session.transcript", "PublicEnrichedSession", "running_transcript"),
    ("Session.analytics_url", "PublicSessionResponse", "analytics_url"),
    ("Session.analysis", "PublicSessionResponse", "evaluation_results"),
    ("Session.analysis", "PublicSessionResponse", "improvement_results"),
    ("Session.analysis", "PublicSessionResponse", "evaluation_score"),  # removed 2026-09-30: fallback
    ("Session.analysis", "PublicSessionResponse", "evaluation_note"),  # removed 2026-09-30: fallback
    ("Session.analysis", "PublicSessionResponse", "report_card"),  # removed 2026-09-30: fallback
    # Analysis, from a session's evaluation_results / improvement_results and the analyse answer.
    ("Analysis.score", "EvaluationResults", "final_score"),
    ("Analysis.score", "EvaluationResults", "overall_score"),
    ("Analysis.score_text", "EvaluationResults", "overall_score"),
    ("Analysis.strengths", "EvaluationResults", "strengths"),
    ("Analysis.improvements", "EvaluationResults", "weaknesses"),
    ("Analysis.improvements", "ImprovementResults", "improvement_areas"),
    ("Analysis.report_card", "EvaluationResults", "report_card"),
    ("Analysis.detailed_feedback", "EvaluationResults", "detailed_feedback"),
    ("Analysis.action_items", "ImprovementResults", "action_items"),
    # RubricScore, one report-card entry.
    ("RubricScore.topic", "EvalReportEntry", "topic"),
    ("RubricScore.score", "EvalReportEntry", "score"),
    ("RubricScore.score_text", "EvalReportEntry", "score_str"),
    ("RubricScore.weight", "EvalReportEntry", "weight"),
    ("RubricScore.note", "EvalReportEntry", "note"),
    # Scenario.
    ("Scenario.id", "PublicScenarioDetailResponse", "id"),
    ("Scenario.name", "PublicScenarioDetailResponse", "name"),
    ("Scenario.description", "PublicScenarioDetailResponse", "description"),
    ("Scenario.user_friendly_description", "PublicScenarioDetailResponse", "user_friendly_description"),
    ("Scenario.ai_instructions", "PublicScenarioDetailResponse", "ai_instructions"),
    ("Scenario.is_public", "PublicScenarioDetailResponse", "is_public"),
    ("Scenario.is_recording", "PublicScenarioDetailResponse", "is_recording"),
    ("Scenario.session_analysis", "PublicScenarioDetailResponse", "session_analysis"),
    ("Scenario.created_at", "PublicScenarioDetailResponse", "created_at"),
    ("Scenario.updated_at", "PublicScenarioDetailResponse", "updated_at"),
    ("Scenario.rubric_topics", "PublicScenarioDetailResponse", "processed_rubrik.criteria.topic"),
    ("Scenario.id", "PublicScenarioResponse", "id"),
    ("Scenario.name", "PublicScenarioResponse", "name"),
    # The rest.
    ("Balance.available_minutes", "PublicWalletResponse", "available_minutes"),
    ("Balance.last_updated", "PublicWalletResponse", "last_updated"),
    ("TokenCheck.message", "APITokenTestResponse", "message"),
    ("Organization.id", "PublicOrgItem", "id"),
    ("Organization.name", "PublicOrgItem", "name"),
    ("Organization.slug", "PublicOrgItem", "slug"),
    ("Organization.role", "PublicOrgItem", "role"),
    ("Organization.role_level", "PublicOrgItem", "role"),
    ("Analytics.scenarios", "UnifiedAnalyticsResponse", "scenarios"),
    ("Analytics.summary", "UnifiedAnalyticsResponse", "org_dashboard.summary"),
    ("Analytics.time_series", "UnifiedAnalyticsResponse", "org_dashboard.time_series"),
    ("Analytics.members", "UnifiedAnalyticsResponse", "member_usage.members"),
    ("Session (import answer)", "PublicSessionCreateResponse", "session_id"),
    ("Session (import answer)", "PublicSessionCreateResponse", "analytics_url"),
]

#: Keys the models read that no spec schema of their kind has, and why each is read anyway.
NOT_IN_SPEC: dict[str, dict[str, str]] = {
    "token": {"success": "the brief's documented /test answer {success, message}"},
    "balance": {"balance": "alias seen in older answers", "minutes": "alias seen in older answers"},
    "scenario": {
        "_id": "Mongo-style id some answers carry", "scenario_id": "id key of partial create answers",
        "rubric": "the sandbox's and older answers' rubric list",
    },
    "session": {
        "session_id": "id key of the brief's create/import answers", "duration_s": "our own to_dict shape",
        "duration_seconds": "alias", "transcript": "alias", "analysis": "an embedded analysis object",
    },
    "scenario_overview": {"id": "alias of _id"},
    "evaluation": {
        "improvements": "the brief's documented analyse answer",
        "action_items": "the documented dialect puts them beside the evaluation",
    },
    "improvement": {},
    "report_card_entry": {"name": "alias of topic", "title": "alias of topic", "notes": "alias of note",
                          "feedback": "alias of note"},
    "organization": {"_id": "alias of id", "org_id": "alias of id"},
}
KIND_SCHEMAS = {
    "token": ("APITokenTestResponse",), "balance": ("PublicWalletResponse",),
    "scenario": ("PublicScenarioResponse", "PublicScenarioDetailResponse"),
    "session": ("PublicSessionResponse", "PublicEnrichedSession"), "scenario_overview": ("ScenarioOverview",),
    "evaluation": ("EvaluationResults",), "improvement": ("ImprovementResults",),
    "report_card_entry": ("EvalReportEntry",), "organization": ("PublicOrgItem",),
}


def _deref(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The object schemas a schema may be: ``$ref`` followed, ``anyOf`` / ``allOf`` / ``items`` opened."""
    if "$ref" in schema:
        return _deref(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
    if "items" in schema:
        return _deref(schema["items"])
    out = []
    for key in ("anyOf", "allOf", "oneOf"):
        for option in schema.get(key, ()):
            out.extend(_deref(option))
    return out or [schema]


def resolve(schema_name: str, path: str) -> bool:
    """Whether ``path`` (dotted) names a property reachable in the spec schema."""
    current = [SCHEMAS[schema_name]]
    for part in path.split("."):
        nxt = []
        for schema in current:
            for option in _deref(schema):
                prop = option.get("properties", {}).get(part)
                if prop is not None:
                    nxt.append(prop)
        if not nxt:
            return False
        current = nxt
    return True


@pytest.mark.parametrize(("field", "schema", "path"), FIELDS, ids=[f"{f}<-{s}.{p}" for f, s, p in FIELDS])
def test_each_model_field_is_read_from_a_property_the_spec_has(field, schema, path):
    assert resolve(schema, path), f"{field} reads {schema}.{path}, which the vendor spec does not have"


def test_every_public_model_field_is_covered():
    covered = {row[0] for row in FIELDS}
    fields = {
        f"{cls.__name__}.{f.name}"
        for cls in (models.Session, models.Analysis, models.RubricScore, models.Scenario, models.Balance,
                    models.Organization, models.Analytics)
        for f in cls.__dataclass_fields__.values()
        if f.name not in ("raw", "session_id", "is_analyzing")  # ids given by the caller; the v1 answer's flag
    }
    assert fields - covered == set()


@pytest.mark.parametrize("kind", sorted(KIND_SCHEMAS))
def test_keys_read_outside_the_spec_are_listed_with_a_reason(kind):
    spec_keys = {key for name in KIND_SCHEMAS[kind] for key in SCHEMAS[name].get("properties", {})}
    outside = MODEL_KEYS[kind] - spec_keys
    assert outside == set(NOT_IN_SPEC[kind]), (
        f"{kind}: keys read that the spec lacks: {sorted(outside)}; listed: {sorted(NOT_IN_SPEC[kind])}"
    )


def test_the_check_would_have_caught_the_rubric_defect():
    assert not resolve("PublicScenarioDetailResponse", "processed_rubrik.entries.topic")
    assert resolve("PublicScenarioDetailResponse", "processed_rubrik.criteria.topic")
