"""Where the sandbox lives: its origin, API prefix, embed and analytics URLs, and how to recognise them."""
from __future__ import annotations

from urllib.parse import urlencode, urlsplit

__all__ = [
    "SANDBOX_ORIGIN",
    "API_PREFIX",
    "TRANSPORT_BASE_URL",
    "embed_session_url",
    "embed_scenario_url",
    "analytics_url",
    "is_sandbox_url",
]

#: Origin of every sandbox URL. ``.invalid`` never resolves (RFC 2606), so nothing can leave the machine.
SANDBOX_ORIGIN = "https://sandbox.ttai.invalid"
#: Path prefix of the public API (as in the vendor spec).
API_PREFIX = "/api/public"
#: Base URL of the in-process transport.
TRANSPORT_BASE_URL = SANDBOX_ORIGIN + API_PREFIX


def embed_session_url(session_id: str) -> str:
    """The sandbox ``embed_url`` of a session (what ``POST /v2/sessions`` returns)."""
    return f"{SANDBOX_ORIGIN}/embed/session/{session_id}"


def embed_scenario_url(scenario_id: str, **params: str) -> str:
    """The sandbox embed URL of a scenario, with optional query parameters (e.g. ``scenarioAccessToken``)."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{SANDBOX_ORIGIN}/embed/{scenario_id}" + (f"?{query}" if query else "")


def analytics_url(session_id: str) -> str:
    """Where the service would show a session's analytics (a sandbox URL; never fetched)."""
    return f"{SANDBOX_ORIGIN}/analytics/session/{session_id}"


def is_sandbox_url(url: object) -> bool:
    """Whether ``url`` is a sandbox embed URL (``https://sandbox.ttai.invalid/embed/...``).

    Examples
    --------
    >>> is_sandbox_url("https://sandbox.ttai.invalid/embed/session/abc")
    True
    >>> is_sandbox_url("https://app.toughtongueai.com/embed/abc")
    False
    """
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    return origin == SANDBOX_ORIGIN and parts.path.startswith("/embed/") and len(parts.path) > len("/embed/")
