"""The scenario builder's decisions as pure functions: a draft, its validation, and what to send.

A *draft* is a flat dict of the form's fields (strings and booleans). Nothing here touches widgets or the
network, so each rule is tested by a table in ``tests/widgets/test_draft.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..client import MAX_NAME_LENGTH

__all__ = [
    "FIELDS",
    "TEXT_FIELDS",
    "BOOL_FIELDS",
    "LABELS",
    "empty_draft",
    "draft_from_scenario",
    "validate_draft",
    "create_payload",
    "update_payload",
    "diff_drafts",
    "split_emails",
    "field_from_error_location",
]

TEXT_FIELDS = ("name", "description", "user_friendly_description", "ai_instructions", "admin_email")
BOOL_FIELDS = ("is_public", "is_recording", "is_auto_analysis", "is_auto_submit")
FIELDS = (
    "name",
    "description",
    "user_friendly_description",
    "ai_instructions",
    "is_public",
    "is_recording",
    "admin_email",
    "is_auto_analysis",
    "is_auto_submit",
)
LABELS = {
    "name": "Name",
    "description": "Description",
    "user_friendly_description": "Shown to trainees",
    "ai_instructions": "AI instructions",
    "is_public": "Public",
    "is_recording": "Recording",
    "admin_email": "Report emails",
    "is_auto_analysis": "Auto-analysis",
    "is_auto_submit": "Auto-submit",
}
_ANALYSIS_KEYS = ("admin_email", "is_auto_analysis", "is_auto_submit")
_TOP_LEVEL = ("name", "description", "user_friendly_description", "ai_instructions", "is_public", "is_recording")

# Deliberately loose: one "@", no spaces, a dot in the domain. The service is the final judge.
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


def empty_draft() -> dict[str, Any]:
    """A blank draft with the service's defaults (public, not recording, no automatic analysis)."""
    return {
        "name": "",
        "description": "",
        "user_friendly_description": "",
        "ai_instructions": "",
        "is_public": True,
        "is_recording": False,
        "admin_email": "",
        "is_auto_analysis": False,
        "is_auto_submit": False,
    }


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def draft_from_scenario(scenario: Any) -> dict[str, Any]:
    """The draft that shows an existing scenario (missing fields take the service's defaults)."""
    draft = empty_draft()
    for key in ("name", "description", "user_friendly_description", "ai_instructions"):
        draft[key] = _text(getattr(scenario, key, None))
    for key, default in (("is_public", True), ("is_recording", False)):
        value = getattr(scenario, key, None)
        draft[key] = value if isinstance(value, bool) else default
    settings = getattr(scenario, "session_analysis", None)
    if isinstance(settings, Mapping):
        draft["admin_email"] = _text(settings.get("admin_email"))
        draft["is_auto_analysis"] = settings.get("is_auto_analysis") is True
        draft["is_auto_submit"] = settings.get("is_auto_submit") is True
    return draft


def split_emails(text: str) -> list[str]:
    """``"a@x.com, b@y.org"`` → ``["a@x.com", "b@y.org"]`` (commas or semicolons; blanks dropped)."""
    return [part.strip() for part in re.split(r"[,;]", text or "") if part.strip()]


def validate_draft(draft: Mapping[str, Any]) -> dict[str, str]:
    """Problems with a draft, as ``{field: message}``; empty when it can be sent.

    Rules: a name and AI instructions are required (the service refuses a scenario without them), the
    name is at most ``MAX_NAME_LENGTH`` characters (the client's own limit), and report emails must each
    look like an address. Anything else is the service's to judge.
    """
    errors: dict[str, str] = {}
    name = _text(draft.get("name")).strip()
    if not name:
        errors["name"] = "Required: give the scenario a name trainees will recognise."
    elif len(name) > MAX_NAME_LENGTH:
        # Same limit as client._scenario_fields, so the trainer hears it here, before submitting.
        errors["name"] = (
            f"Too long: the name must be at most {MAX_NAME_LENGTH} characters (it is the title trainees see), "
            f"this one has {len(name)}. Put longer text in the description or AI instructions."
        )
    instructions = _text(draft.get("ai_instructions")).strip()
    if not instructions:
        errors["ai_instructions"] = "Required: describe the AI persona, how it behaves, and what to evaluate."
    emails = split_emails(_text(draft.get("admin_email")))
    bad = [e for e in emails if not _EMAIL.match(e)]
    if bad:
        errors["admin_email"] = (
            f"Not an email address: {', '.join(bad)}. Use name@example.com; separate several with commas."
        )
    return errors


def _session_analysis(draft: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    emails = split_emails(_text(draft.get("admin_email")))
    out = dict(base or {})  # keep settings the form does not show (e.g. multimodal_analysis)
    out["admin_email"] = ", ".join(emails) if emails else None
    out["is_auto_analysis"] = bool(draft.get("is_auto_analysis"))
    out["is_auto_submit"] = bool(draft.get("is_auto_submit"))
    return out


def create_payload(draft: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``client.scenarios.create`` from a valid draft.

    Blank optional texts are left out (the service's default applies); ``session_analysis`` is sent only
    when the trainer set something in it.
    """
    payload: dict[str, Any] = {
        "name": _text(draft.get("name")).strip(),
        "ai_instructions": _text(draft.get("ai_instructions")).strip(),
        "is_public": bool(draft.get("is_public")),
        "is_recording": bool(draft.get("is_recording")),
    }
    for key in ("description", "user_friendly_description"):
        text = _text(draft.get(key)).strip()
        if text:
            payload[key] = text
    if split_emails(_text(draft.get("admin_email"))) or draft.get("is_auto_analysis") or draft.get("is_auto_submit"):
        payload["session_analysis"] = _session_analysis(draft)
    return payload


def _normalised(draft: Mapping[str, Any], key: str) -> Any:
    if key in BOOL_FIELDS:
        return bool(draft.get(key))
    if key == "admin_email":
        return ", ".join(split_emails(_text(draft.get(key))))
    return _text(draft.get(key)).strip()


def diff_drafts(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Fields whose value differs (ignoring surrounding whitespace), as ``{field: (before, after)}``."""
    return {
        key: (_normalised(before, key), _normalised(after, key))
        for key in FIELDS
        if _normalised(before, key) != _normalised(after, key)
    }


def update_payload(
    before: Mapping[str, Any], after: Mapping[str, Any], *, session_analysis_base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``client.scenarios.update``: only what changed.

    A cleared text is sent as ``""`` (so the service clears it); a change to any report setting sends the
    whole ``session_analysis`` object, merged over the scenario's current one so settings the form does not
    show are kept.
    """
    changes = diff_drafts(before, after)
    payload: dict[str, Any] = {key: changes[key][1] for key in _TOP_LEVEL if key in changes}
    if any(key in changes for key in _ANALYSIS_KEYS):
        payload["session_analysis"] = _session_analysis(after, session_analysis_base)
    return payload


def field_from_error_location(loc: Any) -> str | None:
    """The form field a FastAPI 422 ``loc`` (e.g. ``["body", "session_analysis", "admin_email"]``) refers to."""
    if not isinstance(loc, (list, tuple)):
        return None
    for part in reversed(loc):
        if isinstance(part, str) and part in FIELDS:
            return part
    return None
