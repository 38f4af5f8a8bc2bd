"""How the sandbox writes objects on the wire, per dialect. The dialects differ only where the brief
shows a shape (API.md §2): scenario-create, analyse, /test, error bodies, and a running session's status."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from .clock import format_ts
from .orgs import OrgRecord
from .records import IN_PROGRESS, ScenarioRecord, SessionRecord
from .scoring import documented_analysis
from .urls import analytics_url
from .validation import describe_errors

__all__ = [
    "DIALECTS",
    "PROFILES",
    "REMOVED_SESSION_FIELDS",
    "scenario_detail",
    "scenario_summary",
    "scenario_created",
    "session_summary",
    "session_detail",
    "analysis_body",
    "token_test_body",
    "balance_body",
    "page_meta",
    "error_body",
    "org_item",
    "import_body",
]

DIALECTS = ("documented", "spec")
#: ``current``: the service as its spec shows it today; ``brief``: as the product brief describes it.
PROFILES = ("current", "brief")
#: Session fields the vendor removed on 2026-09-30: written only in the ``brief`` profile.
REMOVED_SESSION_FIELDS = ("duration_minutes", "evaluation_score", "evaluation_note", "report_card",
                          "report_card_topics")


def _ts(dt: datetime | None) -> str | None:
    return format_ts(dt) if dt is not None else None


def _processed_rubrik(rec: ScenarioRecord) -> dict[str, Any] | None:
    if not rec.rubric:
        return None
    digest = "user-set" if rec.rubric_user_set else hashlib.sha256((rec.rubrik or "").encode()).hexdigest()
    return {
        "rubrik_hash": digest,
        "criteria": [{"topic": r["topic"], "weight": r["weight"], "prompt": r.get("prompt") or "",
                      "requires_video": bool(r.get("requires_video", False))} for r in rec.rubric],
        "report_instructions": None,
        "next_steps_instructions": None,
    }


def scenario_summary(rec: ScenarioRecord) -> dict[str, Any]:
    """A scenario as listed (``PublicScenarioResponse``, plus its timestamps). Both dialects."""
    return {
        "id": rec.id,
        "name": rec.name,
        "type": rec.type,
        "description": rec.description,
        "user_friendly_description": rec.user_friendly_description,
        "rubrik": rec.rubrik,
        "is_public": rec.is_public,
        "is_featured": False,
        "passcode": rec.extra.get("passcode"),
        "is_recording": rec.is_recording,
        "analysis_access": rec.extra.get("analysis_access"),
        "session_analysis": rec.session_analysis,
        "appearance": rec.extra.get("appearance"),
        "pricing": rec.extra.get("pricing"),
        "user_metadata": rec.user_metadata,
        "created_at": _ts(rec.created_at),
        "updated_at": _ts(rec.updated_at),
    }


def scenario_detail(rec: ScenarioRecord) -> dict[str, Any]:
    """One scenario (``PublicScenarioDetailResponse``). Both dialects."""
    body: dict[str, Any] = {
        "id": rec.id,
        "name": rec.name,
        "description": rec.description,
        "type": rec.type,
        "user_friendly_description": rec.user_friendly_description,
        "ai_instructions": rec.ai_instructions,
    }
    for key in ("user_instructions", "pdf_context", "stages", "constituent_scenarios", "strategy", "appearance",
                "memory"):
        body[key] = rec.extra.get(key)
    body["session_analysis"] = rec.session_analysis
    for key in ("ai_model_config", "tools_config", "transcribe_config", "meeting_config", "auto_update_config"):
        body[key] = rec.extra.get(key)
    body.update({
        "is_public": rec.is_public,
        "is_recording": rec.is_recording,
        "analysis_access": rec.extra.get("analysis_access"),
        "access": rec.extra.get("access"),
        "passcode": rec.extra.get("passcode"),
        "starts_at": rec.extra.get("starts_at"),
        "ends_at": rec.extra.get("ends_at"),
        "rubrik": rec.rubrik,
        "processed_rubrik": _processed_rubrik(rec),
        "pricing": rec.extra.get("pricing"),
        "user_metadata": rec.user_metadata,
        "created_at": _ts(rec.created_at),
        "updated_at": _ts(rec.updated_at),
    })
    return body


def scenario_created(rec: ScenarioRecord, dialect: str) -> dict[str, Any]:
    """The answer to ``POST /scenarios``: the spec's ``PublicScenarioResponse`` (no instructions, no
    timestamps), or in the documented dialect the full scenario (``{"id", "name", "is_public", ...}``)."""
    if dialect == "spec":
        body = scenario_summary(rec)
        del body["created_at"], body["updated_at"]
        return body
    return scenario_detail(rec)


def _status(rec: SessionRecord, dialect: str) -> str:
    return "active" if dialect == "spec" and rec.status == IN_PROGRESS else rec.status


def session_summary(rec: SessionRecord, dialect: str, scenario_name: str | None = None,
                    profile: str = "current") -> dict[str, Any]:
    """A session as listed (``PublicSessionResponse``); the ``brief`` profile adds the deprecated flat fields
    (:data:`REMOVED_SESSION_FIELDS`), which the ``current`` one no longer sends."""
    evaluation, improvement = rec.results()
    body = {
        "id": rec.id,
        "scenario_id": rec.scenario_id,
        "scenario_name": scenario_name or rec.scenario_name,
        "created_at": format_ts(rec.created_at),
        "completed_at": _ts(rec.completed_at),
        "status": _status(rec, dialect),
        "user_name": rec.user_name,
        "user_email": rec.user_email,
        "duration": rec.duration,
        "analytics_url": analytics_url(rec.id),
        "metadata": rec.metadata,
        "user_metadata": rec.user_metadata,
        "evaluation_results": evaluation,
        "improvement_results": improvement,
        "extraction_results": rec.extraction,
    }
    if profile == "brief":  # deprecated by the vendor, removed 2026-09-30
        body["duration_minutes"] = round(rec.duration / 60.0, 2) if rec.duration is not None else None
        body["evaluation_score"] = evaluation["final_score"] if evaluation else None
        body["evaluation_note"] = evaluation["overall_score"] if evaluation else None
        body["report_card"] = evaluation["report_card"] if evaluation else None
        body["report_card_topics"] = ", ".join(r["topic"] for r in evaluation["report_card"]) if evaluation else None
    return body


def session_detail(rec: SessionRecord, dialect: str, scenario: ScenarioRecord | None, owner_id: str) -> dict[str, Any]:
    """One session (``PublicEnrichedSession``: ``_id``, transcript, results, scenario overview)."""
    evaluation, improvement = rec.results()
    if scenario is not None:
        overview = {
            "_id": scenario.id,
            "name": scenario.name,
            "description": scenario.description,
            "user_friendly_description": scenario.user_friendly_description,
            "created_at": format_ts(scenario.created_at),
            "updated_at": format_ts(scenario.updated_at),
            "created_by": scenario.created_by,
            "type": scenario.type,
            "is_public": scenario.is_public,
            "is_featured": False,
            "is_recording": scenario.is_recording,
            "session_analysis": scenario.session_analysis,
        }
    else:  # the scenario was deleted; the session keeps what it knew
        overview = {"_id": rec.scenario_id, "name": rec.scenario_name, "created_by": owner_id}
    transcript = rec.get_transcript()
    return {
        "_id": rec.id,
        "scenario_id": rec.scenario_id,
        "scenario_name": scenario.name if scenario is not None else rec.scenario_name,
        "scenario_overview": overview,
        "status": _status(rec, dialect),
        "created_at": format_ts(rec.created_at),
        "updated_at": format_ts(rec.updated_at),
        "completed_at": _ts(rec.completed_at),
        "user_id": rec.user_id,
        "user_name": rec.user_name,
        "user_email": rec.user_email,
        "duration": rec.duration,
        "metadata": rec.metadata,
        "user_metadata": rec.user_metadata,
        "finalized_transcript": transcript,
        "running_transcript": "",
        "last_evaluated_at": _ts(rec.last_evaluated_at),
        "evaluation_results": evaluation,
        "improvement_results": improvement,
        "extraction_results": rec.extraction,
        "share_enabled": False,
        "single_use": False,
        "analytics_url": analytics_url(rec.id),
    }


def org_item(org: OrgRecord) -> dict[str, Any]:
    """One organisation of ``GET /v2/organizations`` (``PublicOrgItem``). Both dialects."""
    return {"id": org.id, "name": org.name, "slug": org.slug, "role": org.role}


def import_body(rec: SessionRecord) -> dict[str, Any]:
    """The answer to ``POST /v2/session`` (``PublicSessionCreateResponse``). Both dialects."""
    return {"session_id": rec.id, "analytics_url": analytics_url(rec.id), "created_at": format_ts(rec.created_at)}


def analysis_body(evaluation: Mapping[str, Any], improvement: Mapping[str, Any] | None, dialect: str) -> dict[str, Any]:
    """The answer to ``POST /sessions/analyze``."""
    if dialect == "spec":
        return {"evaluation": dict(evaluation), "improvement": dict(improvement or {}), "is_analyzing": False}
    return documented_analysis(evaluation, improvement)


def token_test_body(dialect: str) -> dict[str, Any]:
    """The answer to ``POST /test``."""
    if dialect == "spec":
        return {"message": "API token is valid"}
    return {"success": True, "message": "API token is valid"}


def balance_body(minutes: float, last_updated: datetime) -> dict[str, Any]:
    """The answer to ``GET /balance`` (``PublicWalletResponse``)."""
    return {"available_minutes": round(float(minutes), 2), "last_updated": format_ts(last_updated)}


def page_meta(page: int, limit: int, total: int) -> dict[str, Any]:
    """``PageMeta`` for a page of ``limit`` items out of ``total``."""
    total_pages = (total + limit - 1) // limit
    return {"page": page, "limit": limit, "total": total, "total_pages": total_pages,
            "has_next": page < total_pages, "has_prev": page > 1}


def error_body(dialect: str, message: str, *, details: Mapping[str, Any] | None = None,
               errors: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """An error body: spec ``{"detail": msg}`` (422: ``{"detail": [items]}``), documented
    ``{"error": msg, "details": {...}}`` (422: the items under ``details.errors``)."""
    if dialect == "spec":
        return {"detail": [dict(e) for e in errors]} if errors else {"detail": message}
    if errors:
        return {"error": describe_errors(errors), "details": {"errors": [dict(e) for e in errors]}}
    return {"error": message, "details": dict(details or {})}
