"""Helpers for the simulated practice page: finish a sandbox session through the client, and derive
a persona's lines (greeting, questions, objections, closing) from a scenario's instructions."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["complete_session", "acomplete_session", "persona_script"]


def complete_session(client: Any, session_id: str, transcript: str, *, duration_s: float | None = None,
                     status: str = "completed") -> Any:
    """Finish a sandbox session with a transcript, over HTTP like every other call.

    Calls ``POST /sandbox/sessions/{id}/complete`` through ``client.request`` (so the client's retry
    policy and error mapping apply) and returns the session as a ``ttai_notebook.models.Session``.

    Parameters
    ----------
    client : ttai_notebook.Client
        A client on a sandbox (``Client.sandbox()`` or one pointed at ``Sandbox.serve()``).
    session_id : str
    transcript : str
        Turns such as ``[00:05] User: ...`` separated by blank lines.
    duration_s : float, optional
        Seconds; estimated from the transcript when omitted.
    status : {"completed", "terminated"}

    Returns
    -------
    Session
    """
    path, payload = _completion(session_id, transcript, duration_s, status)
    return _session(client.request("POST", path, json=payload))


async def acomplete_session(client: Any, session_id: str, transcript: str, *, duration_s: float | None = None,
                            status: str = "completed") -> Any:
    """:func:`complete_session` for an ``AsyncClient`` (``await acomplete_session(aclient, ...)``)."""
    path, payload = _completion(session_id, transcript, duration_s, status)
    return _session(await client.request("POST", path, json=payload))


def _completion(session_id: str, transcript: str, duration_s: float | None, status: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(session_id, str) or not session_id.strip():
        raise ValueError("session_id must be a non-empty string")
    if not isinstance(transcript, str):
        raise TypeError(f"transcript must be a string, got {type(transcript).__name__}")
    if status not in ("completed", "terminated"):
        raise ValueError(f"status must be 'completed' or 'terminated', got {status!r}")
    payload: dict[str, Any] = {"transcript": transcript, "status": status}
    if duration_s is not None:
        payload["duration_s"] = float(duration_s)
    return f"/sandbox/sessions/{session_id.strip()}/complete", payload


def _session(data: Any) -> Any:
    from ..models import Session  # local: models belong to the client layer

    return Session.from_api(data)


def _field(scenario: Any, name: str) -> str:
    value = scenario.get(name) if isinstance(scenario, Mapping) else getattr(scenario, name, None)
    return value if isinstance(value, str) else ""


_OBJECTION_WORDS = ("expensive", "price", "budget", "cost", "busy", "no time", "don't have time", "competitor", "already",
                    "not interested", "risk", "secur", "angry", "frustrat", "third time", "cancel", "not sure",
                    "concern", "too much")
_QUESTION_STARTS = ("tell me", "describe", "walk me", "what", "how", "why", "can you", "could you", "would you")
_CANNED_OBJECTIONS = (
    (("price", "expensive", "budget", "cost"), "Honestly, this sounds more expensive than what we budgeted for."),
    (("busy", "no time", "don't have time"), "I really don't have much time for this right now."),
    (("competitor", "already", "vendor"), "We already work with another provider and it's fine."),
    (("risk", "secur", "complian"), "I'm worried about the risk. What happens if this goes wrong?"),
    (("angry", "frustrat", "third time", "cancel", "outage", "complain"), "This is the third time I've had to call about this!"),
    (("skeptic", "sceptic", "not sure", "doubt"), "I'm not convinced this is a priority for us."),
)
_DOMAINS = {
    "interview": (("interview", "candidate", "hiring", "recruit"), {
        "greeting": "Hi, thanks for joining. Shall we get started?",
        "questions": ["Tell me about yourself.", "Tell me about a time you handled a difficult situation.",
                      "What result are you most proud of, and how did you measure it?"],
        "objections": ["Can you be more specific about your own contribution?"],
        "closing": "That's all from me. What questions do you have for me?",
    }),
    "support": (("support", "ticket", "refund", "escalat", "outage", "complain", "angry"), {
        "greeting": "Hi. I've got a problem and I need it fixed today.",
        "questions": ["What are you going to do about it?", "When will this be resolved?",
                      "How do I know it won't happen again?"],
        "objections": ["That's not good enough.", "The last person told me the same thing."],
        "closing": "Okay. I'll hold you to that.",
    }),
    "sales": ((), {
        "greeting": "Hello, who's this?",
        "questions": ["What exactly does your product do?", "Why should we change what we do today?",
                      "How much does it cost?"],
        "objections": ["Honestly, this sounds more expensive than what we budgeted for."],
        "closing": "Alright, send me something and we'll see.",
    }),
}


def persona_script(scenario: Any) -> dict[str, Any]:
    """Lines for the simulated practice page's AI persona, drawn from a scenario's text.

    Quoted sentences in ``ai_instructions`` are used first (a question in quotes becomes a question, a
    quoted complaint an objection, the first quote the greeting); the rest comes from the scenario's
    domain (sales, support, interview), detected from its words. Deterministic.

    Parameters
    ----------
    scenario : Scenario or mapping
        Anything with ``name``, ``description``, ``user_friendly_description`` and ``ai_instructions``.

    Returns
    -------
    dict
        ``{"role", "name", "greeting", "questions": [...], "objections": [...], "closing", "simulated": True}``
    """
    instructions = _field(scenario, "ai_instructions")
    text = " ".join(filter(None, (_field(scenario, "name"), _field(scenario, "description"),
                                  _field(scenario, "user_friendly_description"), instructions)))
    low = text.lower()
    domain = next((d for d, (words, _) in _DOMAINS.items() if words and any(w in low for w in words)), "sales")
    base = _DOMAINS[domain][1]
    role_match = re.search(r"\byou are ([^.;\n]{3,120})", instructions, re.IGNORECASE)
    role = role_match.group(1).strip() if role_match else None
    name_match = re.match(r"([A-Z][a-z]+)(?: [A-Z][a-z]+)?", role or "")
    quotes = [q.strip() for q in re.findall(r"[\"“]([^\"”]{6,240})[\"”]", instructions)]
    questions = [q for q in quotes if q.endswith("?") or q.lower().startswith(_QUESTION_STARTS)]
    objections = [q for q in quotes if q not in questions and any(w in q.lower() for w in _OBJECTION_WORDS)]
    others = [q for q in quotes if q not in questions and q not in objections]
    for words, line in _CANNED_OBJECTIONS:
        if len(objections) >= 3:
            break
        covered = any(w in o.lower() for o in objections for w in words)
        if any(w in instructions.lower() for w in words) and not covered:
            objections.append(line)
    greeting = others[0] if others else (quotes[0] if quotes and quotes[0] not in questions else base["greeting"])
    if greeting in objections and len(objections) > 1:
        objections.remove(greeting)
    return {
        "role": role or f"the other side of \"{_field(scenario, 'name') or 'this scenario'}\"",
        "name": name_match.group(1) if name_match and name_match.group(1).lower() not in ("a", "an", "the") else None,
        "greeting": greeting,
        "questions": (questions + [q for q in base["questions"] if q not in questions])[:4],
        "objections": objections[:3] or list(base["objections"]),
        "closing": base["closing"],
        "domain": domain,
        "simulated": True,
    }
