"""Every xAPI statement the export produces round-trips through ADL's ``tincan`` library (issue L).

Each statement is parsed with ``tincan.Statement(<parsed JSON>)`` and written back with ``.to_json("1.0.0")``
(the statement version the export sets, `ttai_notebook.export.XAPI_STATEMENT_VERSION`); the essential fields of
both sides are compared after normalising what tincan legitimately rewrites (``PT8M`` ↔ ``PT08M``, ``0`` ↔ ``0.0``,
``Z`` ↔ ``+00:00``). tincan checks little of an Agent's ``mbox`` (only that it is not empty), so each actor is
also checked here to be one ``mailto:`` IRI with one address — the defect of issue L item 3 that tincan alone
would let through.

Sources: the demo organisation in both dialects and both profiles (models and frames, with scenario
descriptions), the issue's analyse-then-fetch scenario (a store written by ``analyze_many`` and the same sessions
fetched again), and sessions whose every text field carries the hostile payloads of
``tests/reliability/test_hostile_content.py`` plus xAPI-specific ones (IRI breakers, control characters,
lookalike quotes, learner emails that are not one address). Each test reports its count of statements and its
failures by class.

No warning filter is needed under the project's ``filterwarnings = error``: tincan 1.0.0 raises no
DeprecationWarning on these paths (its one deprecated call, ``datetime.utcfromtimestamp``, is reached only for
numeric timestamps, and the export writes ISO 8601 strings).
"""

from __future__ import annotations

import collections
import datetime as dt
import importlib.util
import json
import pathlib
import re
import uuid
import warnings
from typing import Any

import pytest
import tincan

import ttai_notebook as tt
from ttai_notebook import export as X
from ttai_notebook import frames as F

from .conftest import documented_session, spec_session

HOSTILE_MODULE = pathlib.Path(__file__).resolve().parents[1] / "reliability" / "test_hostile_content.py"
_spec = importlib.util.spec_from_file_location("_hostile_content_payloads", HOSTILE_MODULE)
assert _spec is not None and _spec.loader is not None, f"payloads not found at {HOSTILE_MODULE}"
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
HOSTILE: list[str] = [*_module.PAYLOADS, *[
    # xAPI-specific: strings that would break an IRI, a JSON reader, a language map or a terminal.
    "http://evil.example/ a b?c#d%zz",
    "\u0000nul \u0007bel \u001b[31mred\u001b[0m",
    "\u202eRTL override \u200bzero-width \ufeffBOM",
    '{"objectType": "Agent", "mbox": "mailto:admin@evil.example"}',
    "x" * 5000,
    "😀 emoji, Ünïcödé, 漢字",
]]
#: Learner emails that are not one valid address: the export must skip them (with a reason), never emit them.
HOSTILE_EMAILS = [
    "<ana@example.com",
    "a@x.com,b@y.com",
    "a@x.com; b@y.com",
    "ana@example.com <bo@example.com>",
    "ana @example.com",
    "ana@exa mple.com",
    "ana@@example.com",
    "ana@example.com?subject=hi",
    "javascript:alert(1)//@example.com",
    "<script>alert(1)</script>@example.com",
    "ana@example.com\nBcc: eve@evil.example",
    "\u0000ana@example.com",
    "",
    "   ",
]

# One mailto IRI with exactly one address: no spaces, brackets, separators, quotes or query (RFC 6068 / 3987).
MAILTO = re.compile(r"^mailto:[^\s<>\"',;()\[\]\\@?#%&=/]+@[^\s<>\"',;()\[\]\\@?#%&=/:]+$")
DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


def _seconds(duration: str) -> float:
    match = DURATION.match(duration)
    assert match, f"not an ISO 8601 duration: {duration!r}"
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return round(hours * 3600 + minutes * 60 + seconds, 2)


def _instant(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(dt.timezone.utc)


def _numbers(value: Any) -> Any:
    """JSON numbers compared by value (tincan writes ``0`` back as ``0.0``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def essential(statement: dict[str, Any]) -> dict[str, Any]:
    """The fields an LRS stores and compares, in a form both sides of the round trip can be compared in."""
    result = dict(statement.get("result", {}))
    if "duration" in result:
        result["duration"] = _seconds(result["duration"])
    actor = statement["actor"]
    activity = statement["object"]
    return {
        "id": statement["id"],
        "actor": {k: actor.get(k) for k in ("objectType", "mbox", "name")},
        "verb": statement["verb"],
        "object": {
            "objectType": activity.get("objectType", "Activity"),
            "id": activity["id"],
            "definition": activity.get("definition"),
        },
        "result": _numbers(result),
        "context": _numbers(statement.get("context")),
        "timestamp": _instant(statement["timestamp"]) if "timestamp" in statement else None,
        "version": statement.get("version"),
    }


def round_trip(statement: dict[str, Any]) -> dict[str, Any]:
    # A parsed copy: tincan's constructors rename keys of the nested dicts they are given, in place.
    parsed = tincan.Statement(json.loads(json.dumps(statement)))
    return json.loads(parsed.to_json(X.XAPI_STATEMENT_VERSION))


def failures_by_class(statements: list[dict[str, Any]]) -> collections.Counter[str]:
    """Round-trip every statement; count what went wrong by class (an empty counter: all held)."""
    failures: collections.Counter[str] = collections.Counter()
    for statement in statements:
        mbox = statement.get("actor", {}).get("mbox")
        if not isinstance(mbox, str) or not MAILTO.match(mbox):
            failures["actor.mbox is not one mailto IRI"] += 1
        try:
            parsed = uuid.UUID(statement["id"])
            if str(parsed) != statement["id"] or parsed.variant != uuid.RFC_4122:
                failures["id is not a canonical RFC 4122 UUID"] += 1
        except (KeyError, ValueError):
            failures["id is not a UUID"] += 1
        try:
            back = round_trip(statement)
        except Exception as exc:  # noqa: BLE001 - every way tincan refuses is a failure class to count
            failures[f"tincan refused: {type(exc).__name__}"] += 1
            continue
        before, after = essential(statement), essential(back)
        for field in before:
            if before[field] != after[field]:
                failures[f"changed by the round trip: {field}"] += 1
    return failures


def report(label: str, statements: list[dict[str, Any]]) -> collections.Counter[str]:
    failures = failures_by_class(statements)
    print(f"tincan round trip [{label}]: {len(statements)} statements, failures by class: {dict(failures)}")
    return failures


# --------------------------------------------------------------------------------------------------
# The round-trip checker itself can fail
# --------------------------------------------------------------------------------------------------


def test_checker_counts_broken_statements():
    good = X.to_xapi([spec_session("ok")])
    assert len(good) == 2 and not failures_by_class(good)
    bad_mbox = json.loads(json.dumps(good[0]))
    bad_mbox["actor"]["mbox"] = "mailto:<ana@example.com>"
    two = json.loads(json.dumps(good[0]))
    two["actor"]["mbox"] = "mailto:a@x.com,b@y.com"
    bad_id = json.loads(json.dumps(good[1]))
    bad_id["id"] = "not-a-uuid"
    no_verb = json.loads(json.dumps(good[1]))
    del no_verb["verb"]["id"]
    failures = failures_by_class([bad_mbox, two, bad_id, no_verb])
    assert failures["actor.mbox is not one mailto IRI"] == 2
    assert failures["id is not a UUID"] == 1
    assert sum(v for k, v in failures.items() if k.startswith("tincan refused")) >= 1


def test_round_trip_normalisation_is_by_value():
    assert _seconds("PT08M33.8S") == _seconds("PT8M33.8S") == 513.8
    assert _instant("2026-05-14T16:04:39.672Z") == _instant("2026-05-14T16:04:39.672000+00:00")
    assert _numbers({"min": 0, "raw": [1, True]}) == {"min": 0.0, "raw": [1.0, True]}


# --------------------------------------------------------------------------------------------------
# The demo organisation: both dialects, both profiles, models and frames
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["current", "brief"])
@pytest.mark.parametrize("dialect", ["documented", "spec"])
def test_demo_organisation_round_trips(dialect, profile):
    client = tt.Client.sandbox(seed=0, dialect=dialect, profile=profile)
    sessions = list(client.sessions.list())
    scenarios = list(client.scenarios.list())
    statements = X.to_xapi(sessions, scenarios=scenarios)
    statements += X.to_xapi(F.sessions_frame(sessions), report_cards=F.report_card_frame(sessions), mastery=50)
    assert len(statements) >= 1600
    assert not report(f"demo {dialect}/{profile}", statements)


@pytest.mark.parametrize("profile", ["brief", "current"])
def test_analyse_then_fetch_round_trips(profile):
    """Issue L item 2's path: the store after ``analyze_many`` (documented dialect), then the sessions fetched."""
    client = tt.Client.sandbox(seed=0, dialect="documented", profile=profile, processing_time=0)
    listed = list(client.sessions.list())
    todo = [s.id for s in listed if not s.is_analyzed and s.status not in F.INCOMPLETE_STATUSES]
    assert todo
    with tt.Store() as store:
        store.put_sessions(listed)
        client.sessions.analyze_many(todo, store=store, progress=False)
        statements = X.to_xapi(store) + X.to_xapi(client.sessions.get_many(todo))
    assert len(statements) >= 2 * len(todo)
    assert not report(f"analyse then fetch, {profile}", statements)


# --------------------------------------------------------------------------------------------------
# Hostile content
# --------------------------------------------------------------------------------------------------


def _hostile_sessions() -> list[dict[str, Any]]:
    out = []
    for i, payload in enumerate(HOSTILE):
        out.append(
            spec_session(
                f"h{i}-{payload[:12]}",
                name=payload,
                scenario=payload[:40] or "s",
                scenario_name=payload,
                topics=[(payload or "t", 7, None), ("Plain", 4, payload)],
                metadata={"team": payload, payload[:30] or "k": [payload, {"nested": payload}]},
                final=3.0 + i % 7,
            )
        )
    return out


def _hostile_documented() -> list[dict[str, Any]]:
    """The same payloads in sessions whose analysis is the documented dialect's body."""
    out = []
    for i, payload in enumerate(HOSTILE):
        session = documented_session(f"d{i}-{payload[:12]}", score=40 + i, name=payload, scenario_name=payload,
                                     metadata={"team": payload})
        session["analysis"]["strengths"] = [payload]
        out.append(session)
    return out


def test_hostile_content_round_trips():
    sessions = _hostile_sessions()
    statements = X.to_xapi(sessions, platform=HOSTILE[0], language="en")
    assert len(statements) == 2 * len(HOSTILE)
    documented = X.to_xapi(_hostile_documented())
    frame = X.to_xapi(F.sessions_frame(sessions), report_cards=F.report_card_frame(sessions))
    assert len(documented) == len(frame) == 2 * len(HOSTILE)
    assert not report("hostile content", statements + documented + frame)
    # The text comes back as text (nothing was dropped or rewritten on the way).
    names = {s["object"]["definition"]["name"]["en"] for s in statements}
    assert set(HOSTILE) <= names


def test_hostile_emails_never_become_statements():
    data = [spec_session(f"e{i}", email=email) for i, email in enumerate(HOSTILE_EMAILS)]
    data.append(spec_session("fine", email="  Ana Lima <Ana@Example.COM> "))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        statements = X.to_xapi(data)
    failures = report("hostile emails", statements)
    assert {s["actor"]["mbox"] for s in statements} == {"mailto:Ana@example.com"}
    assert not failures
    assert [str(w.message) for w in caught if issubclass(w.category, UserWarning)], "skips must be reported"
