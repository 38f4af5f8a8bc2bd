"""G5 bad input table: each wrong input gets the documented exception, raised before anything is sent when the
client can tell, with a message that names the field and says what is allowed. In the ScenarioBuilder the same
inputs show the message and keep the draft."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import ttai_notebook as tt
from ttai_notebook.bulk import analyze_many, fetch_many
from ttai_notebook.store import StoreError


@dataclass
class Env:
    client: tt.Client
    box: Any
    scenario_id: str
    completed_id: str
    running_id: str
    tmp: Any


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Env:
    client = tt.Client.sandbox(seed=4)
    box = client.sandbox_instance
    sessions = list(box.state.sessions.values())
    completed = next(s.id for s in sessions if s.status == "completed")
    running = next(s.id for s in sessions if s.status == "in_progress")
    return Env(client, box, next(iter(box.state.scenarios)), completed, running, tmp_path_factory.mktemp("bad"))


def _corrupt_store(env: Env) -> Any:
    path = env.tmp / "corrupt.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)  # a header, then garbage
    return tt.Store(path)


def _truncated_store(env: Env) -> Any:
    good = env.tmp / "good.sqlite"
    with tt.Store(good) as store:
        store.put_sessions(env.client.sessions.list(max_items=50))
    data = good.read_bytes()
    cut = env.tmp / "cut.sqlite"
    cut.write_bytes(data[: len(data) // 3])
    store = tt.Store(cut)
    return store.sessions()


def _text_store(env: Env) -> Any:
    path = env.tmp / "notes.sqlite"
    path.write_text("these are my notes, not a database\n" * 50)
    return tt.Store(path)


# (id, call, exception, field or None, regexes the message must match: the field and what is allowed)
Row = tuple[str, Callable[[Env], Any], type[BaseException], str | None, tuple[str, ...]]
V = tt.ValidationError
ROWS: list[Row] = [
    ("blank name", lambda e: e.client.scenarios.create("", "x"), V, "name", ("name", "empty")),
    ("whitespace name", lambda e: e.client.scenarios.create(" \t\n ", "x"), V, "name", ("name", "whitespace")),
    ("100 kB name", lambda e: e.client.scenarios.create("N" * 100_000, "x"), V, "name",
     ("name", r"at most \d+ characters")),
    ("100 kB name on update", lambda e: e.client.scenarios.update(e.scenario_id, name="N" * 100_000), V, "name",
     ("name", r"at most \d+ characters")),
    ("name not a string", lambda e: e.client.scenarios.create(42, "x"), V, "name", ("name", "string")),
    ("missing instructions", lambda e: e.client.scenarios.create("n", ""), V, "ai_instructions",
     ("ai_instructions", "empty")),
    ("instructions None", lambda e: e.client.scenarios.create("n", None), V, "ai_instructions",
     ("ai_instructions", "string")),
    ("malformed email", lambda e: e.client.sessions.create(e.scenario_id, user_email="not-an-email"), V,
     "user_email", ("user_email", "name@example.com")),
    ("email without domain dot", lambda e: e.client.sessions.create(e.scenario_id, user_email="a@b"), V,
     "user_email", ("user_email", "e-mail address")),
    ("email with spaces", lambda e: e.client.sessions.create(e.scenario_id, user_email="a b@example.com"), V,
     "user_email", ("user_email", "e-mail address")),
    ("malformed admin email", lambda e: e.client.scenarios.create(
        "n", "x", session_analysis={"admin_email": "boss at example"}), V, "admin_email",
     ("admin_email", "name@example.com")),
    ("bad email in a filter list", lambda e: e.client.sessions.list(user_email=["ok@example.com", "bad"]), V,
     "user_email", ("user_email", "e-mail address")),
    ("metadata a list", lambda e: e.client.sessions.create(e.scenario_id, metadata=["team"]), V, "metadata",
     ("metadata", "dict")),
    ("metadata a string", lambda e: e.client.sessions.create(e.scenario_id, metadata="team=north"), V, "metadata",
     ("metadata", "dict")),
    ("metadata not JSON", lambda e: e.client.sessions.create(e.scenario_id, metadata={"a": {1, 2}}), V,
     "metadata", ("metadata", "JSON")),
    ("metadata NaN", lambda e: e.client.sessions.create(e.scenario_id, metadata={"score": math.nan}), V,
     "metadata", ("metadata", "JSON")),
    ("metadata int keys", lambda e: e.client.sessions.create(e.scenario_id, metadata={1: "x"}), V, "metadata",
     ("metadata", "keys must be strings")),
    ("session_analysis not a dict", lambda e: e.client.scenarios.create("n", "x", session_analysis="yes"), V,
     "session_analysis", ("session_analysis", "dict")),
    ("unknown scenario id", lambda e: e.client.scenarios.get("no-such-scenario"), tt.NotFoundError, None,
     ("[Ss]cenario", "no-such-scenario")),
    ("unknown session id", lambda e: e.client.sessions.get("no-such-session"), tt.NotFoundError, None,
     ("[Ss]ession", "no-such-session")),
    ("analyse unknown id", lambda e: e.client.sessions.analyze("no-such-session"), tt.NotFoundError, None,
     ("[Ss]ession", "no-such-session")),
    ("link for unknown scenario", lambda e: e.client.sessions.create("no-such-scenario"), tt.NotFoundError, None,
     ("[Ss]cenario", "no-such-scenario")),
    ("analyse a running session", lambda e: e.client.sessions.analyze(e.running_id), tt.BadRequestError, None,
     ("in progress", "completed")),
    ("empty id", lambda e: e.client.sessions.get("  "), V, "session_id", ("session_id", "empty")),
    ("id not a string", lambda e: e.client.sessions.get(123), V, "session_id", ("session_id", "string")),
    ("flag as text", lambda e: e.client.scenarios.create("n", "x", is_public="yes"), V, "is_public",
     ("is_public", "True, False or None")),
    ("force as text", lambda e: e.client.sessions.analyze(e.completed_id, force="yes"), V, "force",
     ("force", "True or False")),
    ("page size as text", lambda e: e.client.sessions.list(page_size="10"), V, "page_size",
     ("page_size", "1 to 500")),
    ("page size over 500", lambda e: e.client.sessions.list(page_size=501), V, "page_size", ("page_size", "1 to 500")),
    ("page size zero", lambda e: e.client.sessions.list(page_size=0), V, "page_size", ("page_size", "1 to 500")),
    ("negative max_items", lambda e: e.client.sessions.list(max_items=-1), V, "max_items", ("max_items", ">= 0")),
    ("dates in the wrong order", lambda e: e.client.sessions.list(from_date=dt.date(2025, 3, 1),
                                                                 to_date=dt.date(2025, 1, 1)), V, "from_date",
     ("from_date", "after to_date", "swap")),
    ("date not a date", lambda e: e.client.sessions.list(from_date="last tuesday"), V, "from_date",
     ("from_date", "ISO-8601")),
    ("negative concurrency", lambda e: analyze_many(e.client, [e.completed_id], concurrency=-1, progress=False), V,
     "concurrency", ("concurrency", r"1 to \d+")),
    ("zero concurrency", lambda e: analyze_many(e.client, [e.completed_id], concurrency=0, progress=False), V,
     "concurrency", ("concurrency", r"1 to \d+")),
    ("rate limit zero", lambda e: analyze_many(e.client, [e.completed_id], rate_limit=0, progress=False), V,
     "rate_limit", ("rate_limit", "positive")),
    ("ids as one string", lambda e: analyze_many(e.client, "abc", progress=False), V, "ids", ("ids", "list")),
    ("store as a path string", lambda e: analyze_many(e.client, [e.completed_id], store="x.sqlite", progress=False),
     V, "store", ("store", "tt.Store")),
    ("batch size zero", lambda e: fetch_many(e.client, [e.completed_id], batch_size=0, progress=False), V,
     "batch_size", ("batch_size", "1 to 100")),
    ("access token for 48 h", lambda e: e.client.scenarios.access_token(e.scenario_id, valid_for_hours=48), V,
     "valid_for_hours", ("valid_for_hours", "1 to 24")),
    ("wait until 'done'", lambda e: e.client.sessions.wait(e.completed_id, until="done"), V, "until",
     ("until", "'completed' or 'analyzed'")),
    ("update with nothing", lambda e: e.client.scenarios.update(e.scenario_id), V, "fields", ("update", "field")),
    ("negative timeout", lambda e: tt.Client(token="t", timeout=-1), V, "timeout", ("timeout", "> 0")),
    ("100 retries", lambda e: tt.Client(token="t", max_retries=100), V, "max_retries", ("max_retries", "0 to 20")),
    ("ftp base URL", lambda e: tt.Client(token="t", base_url="ftp://example.com"), V, "base_url",
     ("base_url", "http")),
    ("corrupt store file", _corrupt_store, StoreError, None, ("corrupt.sqlite", "move it aside|another path")),
    ("truncated store file", _truncated_store, StoreError, None, ("cut.sqlite", "move it aside|another path")),
    ("text file as store", _text_store, StoreError, None, ("notes.sqlite", "not a usable SQLite|move it aside")),
    ("folder as store", lambda e: tt.Store(e.tmp), StoreError, None, ("folder", "path of a file")),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input(row: Row, env: Env, tally) -> None:
    label, call, expected, field, patterns = row
    before = sum(env.box.counters.requests.values())
    with pytest.raises(expected) as info:
        call(env)
    exc = info.value
    message = str(exc)
    if expected is V:
        assert exc.field is not None and field in exc.field, (exc.field, message)
        # refused before anything was sent
        assert sum(env.box.counters.requests.values()) == before
    for pattern in patterns:
        assert re.search(pattern, message), f"{label}: {pattern!r} not in {message!r}"
    assert len(message) < 400, "a message, not a dump"
    assert "Traceback" not in message
    tally("G5 bad input", inputs_tried=1, **{f"raised_{type(exc).__name__}": 1})


def test_table_has_at_least_20_rows() -> None:
    assert len(ROWS) >= 20


# --------------------------------------------------------------------------------------------------
# The ScenarioBuilder: the same inputs show the message and keep the draft
# --------------------------------------------------------------------------------------------------

BUILDER_ROWS = [
    ("blank name", {"name": "", "ai_instructions": "You are a buyer."}, "name", "Required"),
    ("whitespace name", {"name": "  \t ", "ai_instructions": "You are a buyer."}, "name", "Required"),
    ("missing instructions", {"name": "Cold call", "ai_instructions": ""}, "ai_instructions", "Required"),
    ("whitespace instructions", {"name": "Cold call", "ai_instructions": "\n\n  "}, "ai_instructions", "Required"),
    ("malformed admin email", {"name": "Cold call", "ai_instructions": "x", "admin_email": "boss at example"},
     "admin_email", "Not an email address"),
    ("one bad email of two", {"name": "Cold call", "ai_instructions": "x",
                              "admin_email": "lead@example.com, coach@"}, "admin_email", "coach@"),
    ("100 kB name", {"name": "N" * 100_000, "ai_instructions": "You are a buyer."}, "name", "at most"),
    ("hostile name is data", {"name": "<img src=x onerror=alert(1)>", "ai_instructions": ""}, "ai_instructions",
     "Required"),
]


@pytest.mark.parametrize("row", BUILDER_ROWS, ids=[r[0] for r in BUILDER_ROWS])
def test_builder_shows_the_message_and_keeps_the_draft(row, tally) -> None:
    label, values, field, words = row
    client = tt.Client.sandbox(seed=4)
    box = client.sandbox_instance
    scenarios_before = len(box.state.scenarios)
    builder = tt.widgets.ScenarioBuilder(client, threaded=False)
    builder.set_fields(**values)
    draft = dict(builder.draft)
    builder.submit()
    shown = " ".join([builder.status_text, *builder.errors.values()])
    assert words in shown, f"{label}: {words!r} not shown; status={builder.status_text!r} errors={builder.errors}"
    assert builder.draft == draft, "the draft must be kept"
    assert len(box.state.scenarios) == scenarios_before, "nothing may be created"
    assert builder.save_count == 0 and not builder.busy
    tally("G5 bad input", builder_inputs_tried=1)


def test_builder_flags_an_overlong_name_next_to_the_field() -> None:
    client = tt.Client.sandbox(seed=4)
    builder = tt.widgets.ScenarioBuilder(client, threaded=False)
    builder.set_fields(name="N" * 100_000, ai_instructions="You are a buyer.")
    builder.submit()
    assert "name" in builder.errors and "service" not in builder.status_text.lower()
