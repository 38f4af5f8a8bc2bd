"""Pure decisions of the embedded practice session: lifecycle messages, status, embed kinds and URLs.

The iframe posts ``{event, sessionId, timestamp}`` or ``{type, data: {session_id, ...}}`` (API.md §4); these
functions turn either into one record and move the session's status forward. No widgets, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

__all__ = [
    "VENDOR_ORIGIN",
    "LIFECYCLE",
    "KIND_HEIGHTS",
    "STATUSES",
    "normalize_message",
    "next_status",
    "hook_name",
    "infer_kind",
    "resolve_height",
    "public_url",
    "check_embed_url",
    "sandbox_target",
    "timestamp_ms",
    "origin_of",
]

VENDOR_ORIGIN = "https://app.toughtongueai.com"

#: lower-cased event name → lifecycle kind
LIFECYCLE = {
    "onstart": "start",
    "onstop": "stop",
    "onterminated": "terminate",
    "onterminate": "terminate",
    "onsubmit": "submit",
}
HOOKS = ("start", "stop", "terminate", "submit", "any")
KIND_HEIGHTS = {"full": 800, "basic": 600, "minimal": 300}
STATUSES = ("ready", "started", "stopped", "terminated", "submitted")


def timestamp_ms(value: Any) -> float | None:
    """A payload timestamp as epoch milliseconds: numbers (ms, or seconds if small), numeric or ISO strings."""
    if isinstance(value, bool):
        return None
    number: float | None = None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            number = float(value.strip())
        except ValueError:
            from ..models import parse_datetime  # noqa: PLC0415

            parsed = parse_datetime(value)
            return parsed.timestamp() * 1000.0 if parsed is not None else None
    if number is None or not math.isfinite(number) or number <= 0:
        return None
    return number * 1000.0 if number < 1e11 else number  # epoch seconds → ms


def normalize_message(data: Any) -> dict[str, Any] | None:
    """One record for a message posted by the practice iframe, whichever of the two formats it uses.

    Returns ``None`` for anything that is not an event message. The record has ``name`` (as sent),
    ``kind`` (``start``/``stop``/``terminate``/``submit`` or ``None`` for other events), ``session_id`` and
    ``timestamp`` (epoch ms or ``None``).

    >>> normalize_message({"event": "onStart", "sessionId": "s1", "timestamp": 1700000000000})["kind"]
    'start'
    >>> normalize_message({"type": "onStop", "data": {"session_id": "s1"}})["session_id"]
    's1'
    """
    if not isinstance(data, Mapping):
        return None
    inner = data.get("data") if isinstance(data.get("data"), Mapping) else {}
    name = data.get("event")
    if not isinstance(name, str) or not name:
        name = data.get("type")
    if not isinstance(name, str) or not name.strip():
        return None
    name = name.strip()[:100]
    session_id = None
    for source in (data, inner):
        for key in ("sessionId", "session_id", "sessionID"):
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                session_id = value.strip()[:200]
                break
        if session_id:
            break
    stamp = data.get("timestamp")
    if stamp is None:
        stamp = inner.get("timestamp")
    return {
        "name": name,
        "kind": LIFECYCLE.get(name.lower()),
        "session_id": session_id,
        "timestamp": timestamp_ms(stamp),
    }


# Status per (current status, event kind). A new onStart after an ended session begins a new cycle;
# otherwise a late or repeated event never moves the status backwards.
_TRANSITIONS: dict[str, dict[str, str]] = {
    "ready": {"start": "started", "stop": "stopped", "terminate": "terminated", "submit": "submitted"},
    "started": {"start": "started", "stop": "stopped", "terminate": "terminated", "submit": "submitted"},
    "stopped": {"start": "started", "stop": "stopped", "terminate": "terminated", "submit": "submitted"},
    "terminated": {"start": "started", "stop": "terminated", "terminate": "terminated", "submit": "submitted"},
    "submitted": {"start": "started", "stop": "submitted", "terminate": "submitted", "submit": "submitted"},
}


def next_status(current: str, kind: str | None) -> str:
    """The widget's status after a lifecycle event (``ready → started → stopped | terminated → submitted``).

    >>> next_status("started", "stop"), next_status("submitted", "stop"), next_status("stopped", None)
    ('stopped', 'submitted', 'stopped')
    """
    if kind is None:
        return current
    return _TRANSITIONS.get(current, _TRANSITIONS["ready"]).get(kind, current)


def hook_name(name: str) -> str:
    """Normalise a hook name: ``"stop"``, ``"onStop"`` and ``"on_stop"`` all mean ``"stop"``."""
    if not isinstance(name, str):
        raise TypeError(f"event name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "")
    if key in HOOKS:
        return key
    if key in LIFECYCLE:
        return LIFECYCLE[key]
    if key in ("terminated",):
        return "terminate"
    raise ValueError(f"Unknown event {name!r}; use one of {', '.join(HOOKS)} (or onStart/onStop/onTerminated/onSubmit).")


def infer_kind(url: str) -> str:
    """The embed kind a URL asks for: ``/embed/basic/…`` → basic, ``/embed/minimal/…`` → minimal, else full."""
    try:
        parts = [p for p in urlsplit(url).path.split("/") if p]
    except ValueError:
        return "full"
    if "embed" in parts:
        rest = parts[parts.index("embed") + 1 :]
        if rest and rest[0] in ("basic", "minimal"):
            return rest[0]
    return "full"


def resolve_height(kind: str, height: Any = None) -> int:
    """Pixel height for a kind (full 800, basic 600, minimal 300) unless ``height`` overrides it."""
    if kind not in KIND_HEIGHTS:
        raise ValueError(f"kind must be one of {', '.join(KIND_HEIGHTS)}; got {kind!r}.")
    if height is None:
        return KIND_HEIGHTS[kind]
    if isinstance(height, bool) or not isinstance(height, (int, float)) or not math.isfinite(height):
        raise ValueError(f"height must be a number of pixels (100–4000); got {height!r}.")
    if not 100 <= height <= 4000:
        raise ValueError(f"height must be between 100 and 4000 pixels; got {height!r}.")
    return int(height)


def public_url(url: str) -> str:
    """The URL without query string or fragment (which may carry an access token or an email), for reprs.

    >>> public_url("https://app.toughtongueai.com/embed/abc?userEmail=a%40b.c&scenarioAccessToken=x")
    'https://app.toughtongueai.com/embed/abc?…'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<url>"
    suffix = "?…" if parts.query or parts.fragment else ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) + suffix


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL (lower-cased), as a browser reports ``MessageEvent.origin``."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def check_embed_url(url: Any) -> str:
    """Refuse anything but an absolute http(s) URL, with a message that says what is allowed."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError(
            "Expected an embed URL (https://app.toughtongueai.com/embed/...) or a SessionLink from "
            f"client.sessions.create(...); got {type(url).__name__ if not isinstance(url, str) else 'an empty string'}."
        )
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError(f"Not a valid URL: {public_url(url)!r} ({exc}).") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"The embed URL must start with https:// (or http:// for a local page); got {public_url(url)!r}."
        )
    return url


def sandbox_target(url: str) -> dict[str, str | None]:
    """What a sandbox embed URL points at: ``{"session_id"}`` or ``{"scenario_id"}``, plus user fields.

    >>> sandbox_target("https://sandbox.ttai.invalid/embed/session/s1")["session_id"]
    's1'
    >>> sandbox_target("https://sandbox.ttai.invalid/embed/basic/sc1?userEmail=a%40b.c")["user_email"]
    'a@b.c'
    """
    parts = urlsplit(url)
    segments = [p for p in parts.path.split("/") if p]
    rest = segments[segments.index("embed") + 1 :] if "embed" in segments else segments
    query = parse_qs(parts.query)

    def first(key: str) -> str | None:
        values = query.get(key)
        return values[0] if values else None

    out: dict[str, str | None] = {
        "session_id": None,
        "scenario_id": None,
        "user_email": first("userEmail"),
        "user_name": first("userName"),
    }
    if len(rest) >= 2 and rest[0] == "session":
        out["session_id"] = rest[1]
    elif len(rest) >= 2 and rest[0] in ("basic", "minimal"):
        out["scenario_id"] = rest[1]
    elif rest:
        out["scenario_id"] = rest[0]
    if not out["session_id"] and not out["scenario_id"]:
        raise ValueError(f"This sandbox URL names neither a session nor a scenario: {public_url(url)!r}.")
    return out
