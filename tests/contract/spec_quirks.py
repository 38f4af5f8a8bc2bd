"""The vendor spec's known quirks, as pure decisions shared by the contract suites (tested by tables in
test_spec_quirks.py). Each one names a way the spec (not the sandbox or client) is wrong or incomplete.

- ``HTTPBearer``: every operation's ``security`` names a scheme ``HTTPBearer`` that ``components`` does not
  define (it defines ``bearerAuth``, the same HTTP bearer scheme): :func:`with_bearer_alias` adds it as an alias.
- Naive timestamps: the service writes ``format: date-time`` values without an offset
  (``2025-02-26T18:02:00.945000``, API.md §2: naive means UTC), which RFC 3339 refuses:
  :func:`with_utc_offsets` appends ``Z`` to exactly those strings, counting them, before schema validation.
- Undocumented 4xx: the spec lists only 200 and 422, yet the service answers 400, 401, 403 and 404 (API.md §3).
  :func:`is_known_4xx` accepts those codes only with the service's error shape ``{"detail": ...}``.
- Rules written in prose: a request the schema allows can still be refused with 400 for a rule the spec states in
  a description (or the brief states): :func:`prose_rule` names the rule from the error's detail.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "KNOWN_4XX",
    "NAIVE_TIMESTAMP",
    "PROSE_RULES",
    "is_known_4xx",
    "prose_rule",
    "with_bearer_alias",
    "with_utc_offsets",
]

#: Codes the service answers that the spec's responses never list (API.md §3).
KNOWN_4XX: frozenset[int] = frozenset({400, 401, 403, 404})

#: An ISO-8601 date-time without an offset (what ``datetime.isoformat()`` writes for a naive value).
NAIVE_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")

#: Rules a schema-valid request can break, each stated in prose: name -> (where it is stated, detail pattern).
PROSE_RULES: dict[str, tuple[str, re.Pattern[str]]] = {
    "scenario-create-needs-name-and-instructions": (
        "brief (API.md §1): name and ai_instructions required to create; the upsert schema cannot require them",
        re.compile(r"required to create a scenario|must not be blank"),
    ),
    "import-needs-transcript-or-recording": (
        "POST /v2/session description: 'Create a completed session from transcript or recording URL'",
        re.compile(r"Either transcript or recording_url is required|transcript is empty"),
    ),
    "date-filter-format": (
        "GET /v2/sessions from_date/to_date descriptions: 'Accepts YYYY-MM-DD ... or full ISO'",
        re.compile(r"must be a date \(YYYY-MM-DD\) or an ISO-8601 timestamp"),
    ),
    "analytics-window-order": (
        "GET /v2/analytics description: start_date filters 'from', end_date 'until' (a window)",
        re.compile(r"start_date must not be after end_date"),
    ),
    "org-scope-needs-org-context": (
        "is_org / is_org_wide descriptions: '(requires org context)', 'if in org context'",
        re.compile(r"is_org(_wide)?=true needs an organisation context"),
    ),
    "analyse-completed-only": (
        "API.md §2: a session that is not completed cannot be analysed (400, the service's error shape)",
        re.compile(r"only completed sessions can be|is still in progress"),
    ),
}


def with_bearer_alias(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``spec`` whose ``components.securitySchemes`` also defines ``HTTPBearer``, as the
    ``bearerAuth`` scheme it stands for (the operations name the one, the components define the other)."""
    fixed = copy.deepcopy(dict(spec))
    schemes = fixed.setdefault("components", {}).setdefault("securitySchemes", {})
    if "HTTPBearer" not in schemes:
        schemes["HTTPBearer"] = {"type": "http", "scheme": "bearer"}
    return fixed


def with_utc_offsets(value: Any) -> tuple[Any, int]:
    """``value`` with every naive ISO date-time string given a ``Z`` offset, and how many were changed.

    Only whole strings shaped like a naive timestamp change; dates, offset-aware timestamps and any other
    text stay as they are, so every other schema violation still shows.
    """
    if isinstance(value, str):
        return (value + "Z", 1) if NAIVE_TIMESTAMP.match(value) else (value, 0)
    if isinstance(value, list):
        items = [with_utc_offsets(item) for item in value]
        return [item for item, _ in items], sum(n for _, n in items)
    if isinstance(value, dict):
        pairs = {key: with_utc_offsets(item) for key, item in value.items()}
        return {key: item for key, (item, _) in pairs.items()}, sum(n for _, n in pairs.values())
    return value, 0


def is_known_4xx(status: int, body: Any) -> bool:
    """Whether an answer the spec does not list is one of the service's known 4xx with its error shape:
    ``{"detail": "message"}`` or ``{"detail": [{"loc", "msg", "type"}, ...]}``."""
    if status not in KNOWN_4XX or not isinstance(body, Mapping) or set(body) != {"detail"}:
        return False
    detail = body["detail"]
    if isinstance(detail, str):
        return bool(detail.strip())
    return isinstance(detail, list) and bool(detail) and all(
        isinstance(item, Mapping) and {"loc", "msg", "type"} <= set(item) for item in detail)


def prose_rule(status: int, body: Any,
               rules: Mapping[str, tuple[str, re.Pattern[str]]] = PROSE_RULES) -> str | None:
    """The name of the rule a 400 answer says was broken (one of ``rules``, by default :data:`PROSE_RULES`),
    else None."""
    if status != 400 or not isinstance(body, Mapping) or not isinstance(body.get("detail"), str):
        return None
    for name, (_, pattern) in rules.items():
        if pattern.search(body["detail"]):
            return name
    return None
