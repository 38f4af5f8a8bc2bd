"""Tables for the spec-quirk decisions the contract suites rely on (each can fail)."""

from __future__ import annotations

from typing import Any

import pytest

from . import spec_quirks as q


@pytest.mark.parametrize(("value", "expected", "changed"), [
    ("2025-02-26T18:02:00.945000", "2025-02-26T18:02:00.945000Z", 1),
    ("2025-02-26T18:02:00", "2025-02-26T18:02:00Z", 1),
    ("2025-02-26T18:02", "2025-02-26T18:02Z", 1),
    ("2025-02-26T18:02:00Z", "2025-02-26T18:02:00Z", 0),
    ("2025-02-26T18:02:00+02:00", "2025-02-26T18:02:00+02:00", 0),
    ("2025-02-26", "2025-02-26", 0),
    ("see 2025-02-26T18:02:00", "see 2025-02-26T18:02:00", 0),
    ({"a": ["2025-02-26T18:02:00", 3, None], "b": {"c": "2025-02-26T18:02:00.1"}},
     {"a": ["2025-02-26T18:02:00Z", 3, None], "b": {"c": "2025-02-26T18:02:00.1Z"}}, 2),
])
def test_with_utc_offsets(value: Any, expected: Any, changed: int) -> None:
    assert q.with_utc_offsets(value) == (expected, changed)


@pytest.mark.parametrize(("status", "body", "known"), [
    (404, {"detail": "Scenario not found"}, True),
    (400, {"detail": [{"loc": ["query", "x"], "msg": "bad", "type": "value_error"}]}, True),
    (401, {"detail": "Invalid token"}, True),
    (403, {"detail": "Forbidden"}, True),
    (404, {"error": "Not found", "details": {}}, False),  # the documented dialect's shape, not the spec's
    (404, {"detail": ""}, False),
    (404, {"detail": "x", "extra": 1}, False),
    (400, {"detail": [{"msg": "no loc"}]}, False),
    (409, {"detail": "conflict"}, False),
    (500, {"detail": "boom"}, False),
    (404, None, False),
])
def test_is_known_4xx(status: int, body: Any, known: bool) -> None:
    assert q.is_known_4xx(status, body) is known


@pytest.mark.parametrize(("status", "body", "rule"), [
    (400, {"detail": "Field 'name' is required to create a scenario and must not be blank"},
     "scenario-create-needs-name-and-instructions"),
    (400, {"detail": "Either transcript or recording_url is required to create a session"},
     "import-needs-transcript-or-recording"),
    (400, {"detail": "from_date must be a date (YYYY-MM-DD) or an ISO-8601 timestamp, got 'x'."}, "date-filter-format"),
    (400, {"detail": "is_org=true needs an organisation context: send X-TT-ORG"}, "org-scope-needs-org-context"),
    (400, {"detail": "start_date must not be after end_date."}, "analytics-window-order"),
    (400, {"detail": "Session s is in_progress; only completed sessions can be analysed."}, "analyse-completed-only"),
    (422, {"detail": "start_date must not be after end_date."}, None),
    (400, {"detail": "something else"}, None),
    (400, {"error": "start_date must not be after end_date."}, None),
])
def test_prose_rule(status: int, body: Any, rule: str | None) -> None:
    assert q.prose_rule(status, body) == rule


def test_bearer_alias_added_without_touching_the_input() -> None:
    spec = {"components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}}}
    fixed = q.with_bearer_alias(spec)
    assert fixed["components"]["securitySchemes"]["HTTPBearer"] == {"type": "http", "scheme": "bearer"}
    assert "HTTPBearer" not in spec["components"]["securitySchemes"]
