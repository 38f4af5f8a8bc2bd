"""Bad input is refused before any request, with a ValidationError naming the field and what is allowed."""

from __future__ import annotations

import datetime as dt

import pytest
from client_helpers import call

from ttai_notebook.errors import TTAIError, ValidationError

OK = dict(name="Cold call", ai_instructions="You are a busy CFO.")

CASES = [
    # (call, field, words the message must contain)
    (lambda c: c.scenarios.create("", "x"), "name", "empty"),
    (lambda c: c.scenarios.create("   \n", "x"), "name", "whitespace"),
    (lambda c: c.scenarios.create(None, "x"), "name", "string"),
    (lambda c: c.scenarios.create("n", " "), "ai_instructions", "empty"),
    (lambda c: c.scenarios.create("n", 42), "ai_instructions", "string"),
    (lambda c: c.scenarios.create(**OK, is_public="yes"), "is_public", "True, False or None"),
    (lambda c: c.scenarios.create(**OK, is_recording=1), "is_recording", "True, False or None"),
    (lambda c: c.scenarios.create(**OK, description=3), "description", "string"),
    (lambda c: c.scenarios.create(**OK, session_analysis="auto"), "session_analysis", "dict"),
    (lambda c: c.scenarios.create(**OK, session_analysis={"is_auto_analysis": "yes"}), "session_analysis", "True or False"),
    (lambda c: c.scenarios.create(**OK, session_analysis={"admin_email": "boss"}), "session_analysis['admin_email']", "e-mail"),
    (lambda c: c.scenarios.create(**OK, id="abc"), "id", "update"),
    (lambda c: c.scenarios.create(**OK, appearance={1, 2}), "appearance", "JSON"),
    (lambda c: c.scenarios.get(""), "scenario_id", "empty"),
    (lambda c: c.scenarios.get("  "), "scenario_id", "empty"),
    (lambda c: c.scenarios.get(123), "scenario_id", "string"),
    (lambda c: c.scenarios.list(search=5), "search", "string"),
    (lambda c: c.scenarios.update("abc"), "fields", "at least one field"),
    (lambda c: c.scenarios.update("abc", name=""), "name", "empty"),
    (lambda c: c.scenarios.update("", name="x"), "scenario_id", "empty"),
    (lambda c: c.scenarios.delete(" "), "scenario_id", "empty"),
    (lambda c: c.scenarios.access_token("abc", valid_for_hours=0), "valid_for_hours", "1 to 24"),
    (lambda c: c.scenarios.access_token("abc", valid_for_hours=25), "valid_for_hours", "1 to 24"),
    (lambda c: c.sessions.get(""), "session_id", "empty"),
    (lambda c: c.sessions.create("scn", user_email="not-an-email"), "user_email", "e-mail"),
    (lambda c: c.sessions.create("scn", user_email="a@b"), "user_email", "e-mail"),
    (lambda c: c.sessions.create("scn", user_name="  "), "user_name", "empty"),
    (lambda c: c.sessions.create("scn", metadata=["team", "north"]), "metadata", "dict"),
    (lambda c: c.sessions.create("scn", metadata={1: "x"}), "metadata", "strings"),
    (lambda c: c.sessions.create("scn", metadata={"when": dt.datetime(2025, 1, 1)}), "metadata", "JSON"),
    (lambda c: c.sessions.create(""), "scenario_id", "empty"),
    (lambda c: c.sessions.analyze("s1", force="yes"), "force", "True or False"),
    (lambda c: c.sessions.analyze(" "), "session_id", "empty"),
    (lambda c: c.sessions.wait("s1", until="done"), "until", "'completed' or 'analyzed'"),
    (lambda c: c.sessions.wait("s1", timeout=0), "timeout", "> 0"),
    (lambda c: c.sessions.wait("s1", interval=-1), "interval", "> 0"),
    (lambda c: c.sessions.get_many("abc"), "session_ids", "list"),
    (lambda c: c.sessions.get_many(["a", ""]), "session_ids[]", "empty"),
    (lambda c: c.sessions.list(page_size=0), "page_size", "1 to 500"),
    (lambda c: c.sessions.list(page_size=501), "page_size", "1 to 500"),
    (lambda c: c.sessions.list(page_size="100"), "page_size", "1 to 500"),
    (lambda c: c.sessions.list(max_items=-1), "max_items", ">= 0"),
    (lambda c: c.sessions.list(from_date="2025-03-01", to_date="2025-02-01"), "from_date", "after to_date"),
    (lambda c: c.sessions.list(from_date=dt.datetime(2025, 3, 1, 12), to_date=dt.date(2025, 3, 1)), None, None),
    (lambda c: c.sessions.list(from_date="yesterday"), "from_date", "ISO-8601"),
    (lambda c: c.sessions.list(to_date=20250101), "to_date", "ISO-8601"),
    (lambda c: c.sessions.list(user_email=["ann@example.com", "bob"]), "user_email", "e-mail"),
    (lambda c: c.sessions.list(user_email=[]), "user_email", "non-empty list"),
    (lambda c: c.sessions.list(scenario_id=""), "scenario_id", "empty"),
    (lambda c: c.sessions.list(prefetch=0), "prefetch", "1 to 16"),
    (lambda c: c.scenarios.list(timeout=-1), "timeout", "> 0"),
    (lambda c: c.scenarios.list(max_retries=-1), "max_retries", "0 to 20"),
    (lambda c: c.request("GET", ""), "path", "non-empty"),
    (lambda c: c.request("G E T", "/x"), "method", "HTTP method"),
]


@pytest.mark.parametrize(("operation", "field", "words"), CASES)
async def test_bad_input_is_refused_before_any_request(make_client, api, operation, field, words):
    api.fallback = lambda request: pytest.fail(f"unexpected request {request.method} {request.url}")
    client = make_client()
    if field is None:
        # a valid edge case: the same day as a date covers the whole day
        iterator = operation(client)
        assert iterator is not None
        return
    with pytest.raises(ValidationError) as info:
        result = operation(client)
        await call(result)
        # lazy iterators validate when created; nothing else may get here
    error = info.value
    assert error.field == field
    assert words in str(error)
    assert isinstance(error, (TTAIError, ValueError))
    assert api.requests == []


def test_there_are_enough_rows():
    assert len([c for c in CASES if c[1] is not None]) >= 15
