"""The simulated practice page (a self-contained HTML/JS ``srcdoc``) for sandbox sessions.

Built from ``static/practice_page.html`` and a JSON config (scenario name, persona script, session id). The
page is a text chat with a scripted persona; it posts the same lifecycle events as the real iframe.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping
from typing import Any

__all__ = ["build_practice_page", "page_config", "SANDBOX_LABEL", "TEMPLATE_PATH"]

TEMPLATE_PATH = pathlib.Path(__file__).parent / "static" / "practice_page.html"
SANDBOX_LABEL = "Sandbox — simulated persona and scoring"
_PLACEHOLDER = "/*__TTAI_CONFIG__*/null"


def _lines(value: Any, limit: int = 40) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return []
    return [str(v).strip()[:2000] for v in value if isinstance(v, (str, int, float)) and str(v).strip()][:limit]


def page_config(
    *,
    scenario: Any,
    script: Mapping[str, Any] | None,
    session_id: str | None,
    kind: str = "full",
    max_duration_s: float | None = None,
) -> dict[str, Any]:
    """The page's configuration: only what it shows, never a token or a URL."""
    script = script if isinstance(script, Mapping) else {}
    closing = script.get("closing", script.get("closing_lines", script.get("closings")))
    persona_name = script.get("name") or script.get("persona_name") or script.get("persona")
    return {
        "session_id": session_id,
        "scenario_id": getattr(scenario, "id", None),
        "scenario_name": getattr(scenario, "name", None) or "Practice session",
        "intro": getattr(scenario, "user_friendly_description", None) or None,
        "kind": kind,
        "max_duration_s": max_duration_s,
        "persona": {
            "name": str(persona_name)[:80] if isinstance(persona_name, str) and persona_name.strip() else "AI",
            "greeting": (_lines(script.get("greeting")) or ["Hello. You wanted to talk to me?"])[0],
            "questions": _lines(script.get("questions")),
            "objections": _lines(script.get("objections")),
            "closing": _lines(closing),
        },
    }


def _script_json(config: Mapping[str, Any]) -> str:
    text = json.dumps(config, ensure_ascii=False, sort_keys=True)
    # Inside <script>: no "</script>", no HTML comment openers, no JS line separators; and no marker the
    # widget's JS replaces later. JSON \u escapes keep every value identical once parsed.
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
        .replace("__TTAI", "\\u005f_TTAI")
    )


def build_practice_page(config: Mapping[str, Any]) -> str:
    """The full HTML document for ``srcdoc``, with ``config`` embedded as escaped JSON.

    >>> page = build_practice_page({"scenario_name": "</script><b>x</b>", "persona": {}})
    >>> "</script><b>" in page
    False
    """
    template = TEMPLATE_PATH.read_text(encoding="utf-8")
    if template.count(_PLACEHOLDER) != 1:  # pragma: no cover - guards an edit of the template
        raise RuntimeError("practice_page.html must contain the config placeholder exactly once")
    return template.replace(_PLACEHOLDER, _script_json(config), 1)
