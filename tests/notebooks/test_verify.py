"""``ttai_notebook.verify`` without a server: shapes, snapshot comparison, field reports, the table, the spend
decision, and the known-key tables checked against what the models actually read and the vendor spec."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from ttai_notebook import models
from ttai_notebook.verify import (
    DOCUMENTED_KEYS,
    MODEL_KEYS,
    NESTED_KINDS,
    SNAPSHOT_FORMAT,
    SPEC_SCHEMAS,
    Check,
    ShapeDifference,
    VerifyReport,
    compare_shapes,
    compare_snapshots,
    field_report,
    format_table,
    load_snapshot,
    merge_shapes,
    route_of,
    shape_of,
    spend_decision,
    write_snapshot,
)

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "ttai-openapi-2026-05.json"

# ------------------------------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        (None, {"null": None}),
        (True, {"boolean": None}),
        (3, {"number": None}),
        (3.5, {"number": None}),
        ("x", {"string": None}),
        ([], {"array": {}}),
        ([1, 2.5], {"array": {"number": None}}),
        ([1, None, "a"], {"array": {"null": None, "number": None, "string": None}}),
        ({}, {"object": {}}),
        ({"a": {"b": [True]}}, {"object": {"a": {"object": {"b": {"array": {"boolean": None}}}}}}),
        ([{"a": 1}, {"b": "x"}], {"array": {"object": {"a": {"number": None}, "b": {"string": None}}}}),
        ({"metadata": {"team": "North", "level": 3}},
         {"object": {"metadata": {"object": {"*": {"number": None, "string": None}}}}}),
        ({"user_metadata": {}}, {"object": {"user_metadata": {"object": {}}}}),
    ],
)
def test_shape_of(value: Any, shape: dict) -> None:
    assert shape_of(value) == shape


def test_shapes_hold_no_values() -> None:
    body = {"sessions": [{"id": "6a06dcd1af116fb7fa3f5d56", "user_email": "kim@northwind.example",
                          "metadata": {"kim@northwind.example": "secret-team"}, "score": 87}]}
    text = json.dumps(shape_of(body))
    for value in ("6a06dcd1", "kim@", "northwind", "secret-team", "87"):
        assert value not in text


@pytest.mark.parametrize(
    ("a", "b", "merged"),
    [
        ({}, {"string": None}, {"string": None}),
        ({"string": None}, {"null": None}, {"null": None, "string": None}),
        ({"object": {"a": {"number": None}}}, {"object": {"b": {"null": None}}},
         {"object": {"a": {"number": None}, "b": {"null": None}}}),
        ({"array": {}}, {"array": {"number": None}}, {"array": {"number": None}}),
        ({"object": {"a": {"number": None}}}, {"object": {"a": {"string": None}}},
         {"object": {"a": {"number": None, "string": None}}}),
    ],
)
def test_merge_shapes(a: dict, b: dict, merged: dict) -> None:
    assert merge_shapes(a, b) == merged
    assert merge_shapes(b, a) == merged


def _diffs(old: Any, new: Any) -> list[tuple[str, str]]:
    return [(d.path, d.change) for d in compare_shapes(shape_of(old), shape_of(new))]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"a": 1}, {"a": 2.5}, []),  # one JSON number type
        ({"a": 1, "b": "x"}, {"a": 1}, [("b", "missing")]),
        ({"a": 1}, {"a": 1, "c": True}, [("c", "new")]),
        ({"a": 1}, {"a": "1"}, [("a", "type")]),
        ({"a": None}, {"a": "x"}, []),  # null only: no type known
        ({"a": "x"}, {"a": None}, []),
        ({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}}, [("a.c", "new")]),
        ({"s": [{"x": 1}]}, {"s": [{"x": "1"}]}, [("s[].x", "type")]),
        ({"s": [{"x": 1}]}, {"s": []}, []),  # an empty list says nothing about its items
        ({"s": [1]}, {"s": {"x": 1}}, [("s", "type")]),
        ({"metadata": {"team": "N"}}, {"metadata": {"level": "3"}}, []),  # user-chosen keys are not schema
        ({"metadata": {"team": "N"}}, {"metadata": {"level": 3}}, [("metadata.*", "type")]),
        ([1], {"a": 1}, [("(body)", "type")]),
    ],
)
def test_compare_shapes(old: Any, new: Any, expected: list) -> None:
    assert _diffs(old, new) == expected


def _snapshot(checks: dict) -> dict:
    return {"format": SNAPSHOT_FORMAT, "toolkit_version": "0", "host": "h", "date": "2026-01-01", "checks": checks}


def _route(status: list[int], body: Any) -> dict:
    return {"status": status, "shape": shape_of(body)}


def test_compare_snapshots_routes_statuses_and_keys() -> None:
    old = _snapshot({
        "sessions": {"GET /v2/sessions": _route([200], {"sessions": [{"id": "a", "duration": 3}]})},
        "v1": {"GET /sessions": _route([404], {"detail": "Not Found"})},
        "write": {"POST /scenarios": _route([200], {"id": "x"})},  # not run now: not compared
        "batch": {"GET /v2/sessions/batch": _route([200], {"sessions": []})},
    })
    new = _snapshot({
        "sessions": {
            "GET /v2/sessions": _route([404], {"detail": "Not Found"}),
            "GET /sessions": _route([200], {"sessions": [{"id": "a", "duration_minutes": 1}]}),
        },
        "v1": {"GET /sessions": _route([404], {"error": "Not Found"})},
        "batch": {"GET /sessions/{id}": _route([200], {"id": "a"})},
        "extra": {"GET /x": _route([200], {})},  # only now: not compared
    })
    found = [(d.check, d.route, d.path, d.change) for d in compare_snapshots(old, new)]
    assert found == [
        ("sessions", "GET /v2/sessions", "", "status"),
        ("sessions", "GET /sessions", "", "route"),
        ("v1", "GET /sessions", "detail", "missing"),
        ("v1", "GET /sessions", "error", "new"),
        ("batch", "GET /v2/sessions/batch", "", "route"),
        ("batch", "GET /sessions/{id}", "", "route"),
    ]
    assert str(compare_snapshots(old, new)[0]) == "sessions: GET /v2/sessions: status (200 → 404)"
    assert compare_snapshots(old, old) == []


def test_snapshot_file_round_trip_and_refusals(tmp_path: Path) -> None:
    snap = _snapshot({"token": {"POST /test": _route([200], {"message": "ok"})}})
    path = write_snapshot(snap, tmp_path / "deep" / "s.json")
    assert load_snapshot(path) == snap
    (tmp_path / "bad.json").write_text("{nope", encoding="utf-8")
    with pytest.raises(ValueError, match="not JSON"):
        load_snapshot(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"checks": {}}', encoding="utf-8")
    with pytest.raises(ValueError, match="not a shape snapshot"):
        load_snapshot(tmp_path / "other.json")


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/api/public/v2/sessions", "/v2/sessions"),
        ("/api/public/sessions/6a06dcd1af116fb7fa3f5d56", "/sessions/{id}"),
        ("/api/public/v2/sessions/3f2c9d8e-1b7a-4c55-9e0f-2a6b8c1d0e9f/post-process", "/v2/sessions/{id}/post-process"),
        ("/api/public/scenario-access-token", "/scenario-access-token"),
        ("/other/balance", "/other/balance"),
    ],
)
def test_route_of(path: str, route: str) -> None:
    assert route_of(path, "/api/public") == route


# ------------------------------------------------------------------------------------------------ field reports


def test_field_report_known_documented_unknown_and_absent() -> None:
    session = {
        "id": "s1", "status": "completed", "created_at": "2026-01-01", "scenario_id": "x",
        "extraction_results": None,  # documented, not read
        "coach_notes_v3": "…",  # neither
        "evaluation_results": {"final_score": 7, "quiz_results": None, "mood": 1,
                               "report_card": [{"topic": "A", "score": 5, "requires_video": False, "emoji": "x"}]},
    }
    report = field_report("session", [session])
    assert report.unknown == ("coach_notes_v3", "evaluation_results.mood", "evaluation_results.report_card[].emoji")
    assert report.raw_only == ("evaluation_results.quiz_results", "evaluation_results.report_card[].requires_video",
                               "extraction_results")
    assert report.absent == () and report.result == "warn"
    assert "coach_notes_v3" in report.detail() and "kept only in .raw" in report.detail()

    renamed = {"sessionId": "s1", "state": "completed", "created_at": "x", "scenario_id": "y"}
    report = field_report("session", [renamed])
    assert report.absent == ("id", "status") and report.result == "warn"
    assert "no object carries id, status" in report.detail()

    plain = field_report("organization", [{"id": "o", "name": "N", "slug": "n", "role": 30}])
    assert plain.result == "ok" and plain.detail() == "1 object; every key is read by our models"
    assert field_report("session", []).absent == ()


def test_field_report_lists_are_elided() -> None:
    report = field_report("balance", [{f"k{i:02d}": i for i in range(12)}])
    assert report.detail(limit=3).endswith("k00, k01, k02 (+9 more)")


# ------------------------------------------------------------------------------------------------ table, spend


def test_format_table() -> None:
    text = format_table([Check("token", "ok", "accepted"), Check("sessions (v2 list)", "warn", "v1 fallback")])
    assert text.splitlines() == [
        "check               result   detail",
        "------------------  -------  -----------",
        "token               ok       accepted",
        "sessions (v2 list)  warn     v1 fallback",
    ]


def test_report_exit_code() -> None:
    ok = VerifyReport([Check("a", "ok"), Check("b", "warn"), Check("c", "skipped")], {})
    assert ok.exit_code == 0 and ok.failed == []
    bad = VerifyReport([Check("a", "ok"), Check("b", "fail", "x")], {})
    assert bad.exit_code == 1 and bad["b"].detail == "x"
    with pytest.raises(KeyError):
        bad["nope"]


@pytest.mark.parametrize(
    ("count", "yes", "tty", "decision"),
    [
        (0, False, False, "none"),
        (0, True, True, "none"),
        (2, True, False, "proceed"),
        (2, True, True, "proceed"),
        (2, False, True, "ask"),
        (2, False, False, "refuse"),
    ],
)
def test_spend_decision(count: int, yes: bool, tty: bool, decision: str) -> None:
    assert spend_decision(count, assume_yes=yes, interactive=tty) == decision


def test_shape_difference_text() -> None:
    assert str(ShapeDifference("c", "GET /x", "a.b", "missing")) == "c: GET /x: a.b: missing"


# ---------------------------------------------------------------------------- known keys = what the models read


class _ReadLog:
    """Records, per original payload object, the keys a model's ``from_api`` asked for."""

    def __init__(self) -> None:
        self.reads: dict[int, set[str]] = {}
        self.alive: list[Any] = []  # keep every payload seen alive, so no id is reused by a later object

    def mapping(self, data: Any) -> dict[str, Any]:
        self.alive.append(data)
        log = self.reads.setdefault(id(data), set())

        class Recording(dict):
            def get(self, key: Any, default: Any = None) -> Any:
                log.add(key)
                return super().get(key, default)

            def __getitem__(self, key: Any) -> Any:
                log.add(key)
                return super().__getitem__(key)

            def __contains__(self, key: Any) -> bool:
                log.add(key)
                return super().__contains__(key)

            def copy(self) -> Recording:
                return Recording(self)

        return Recording(data) if isinstance(data, Mapping) else Recording()

    def of(self, obj: Any) -> set[str]:
        return self.reads.get(id(obj), set())


def _nones(keys: frozenset[str], **values: Any) -> dict[str, Any]:
    """Every key with None (so each fallback is read) except the given values."""
    return {**dict.fromkeys(keys), **values}


@pytest.fixture()
def read_log(monkeypatch: pytest.MonkeyPatch) -> _ReadLog:
    log = _ReadLog()
    monkeypatch.setattr(models, "_as_mapping", log.mapping)
    return log


def test_session_keys_read_match_model_keys(read_log: _ReadLog) -> None:
    entry = _nones(MODEL_KEYS["report_card_entry"])
    evaluation = _nones(MODEL_KEYS["evaluation"], report_card=[entry])
    improvement = _nones(MODEL_KEYS["improvement"])
    overview: dict[str, Any] = _nones(MODEL_KEYS["scenario_overview"])
    with_results = _nones(MODEL_KEYS["session"], evaluation_results=evaluation, improvement_results=improvement,
                          scenario_overview=overview)
    embedded = _nones(MODEL_KEYS["session"], analysis={"overall_score": 80})  # the embedded-analysis branch
    removed = _nones(MODEL_KEYS["session"], evaluation_score=7.0, report_card=[entry])  # the removed fields
    for payload in (with_results, embedded, removed):
        models.Session.from_api(payload)
    read = read_log.of(with_results) | read_log.of(embedded) | read_log.of(removed)
    assert read == MODEL_KEYS["session"], "update MODEL_KEYS['session'] in ttai_notebook/verify.py"
    assert read_log.of(evaluation) == MODEL_KEYS["evaluation"]
    assert read_log.of(improvement) <= MODEL_KEYS["improvement"]
    assert read_log.of(entry) == MODEL_KEYS["report_card_entry"]
    assert read_log.of(overview) == MODEL_KEYS["scenario_overview"]


def test_improvement_keys_read_match_model_keys(read_log: _ReadLog) -> None:
    improvement = _nones(MODEL_KEYS["improvement"])
    evaluation = {"final_score": 5}  # no improvements / action items of its own: the improvement block is read
    models.Session.from_api({"id": "s", "evaluation_results": evaluation, "improvement_results": improvement})
    assert read_log.of(improvement) == MODEL_KEYS["improvement"]


def test_scenario_keys_read_match_model_keys(read_log: _ReadLog) -> None:
    payload = _nones(MODEL_KEYS["scenario"])
    scenario = models.Scenario.from_api(payload)
    scenario.rubric_topics  # noqa: B018  (a property that reads raw keys)
    assert read_log.of(payload) == MODEL_KEYS["scenario"]


@pytest.mark.parametrize(
    ("kind", "build"),
    [
        ("token", lambda d: models.TokenCheck.from_api(d)),
        ("balance", lambda d: models.Balance.from_api(d)),
        ("organization", lambda d: models.Organization.from_api(d)),
    ],
)
def test_small_model_keys_read_match_model_keys(read_log: _ReadLog, kind: str, build: Any) -> None:
    payload = _nones(MODEL_KEYS[kind])
    build(payload)
    assert read_log.of(payload) == MODEL_KEYS[kind]


def test_sandbox_answers_read_no_key_outside_model_keys(read_log: _ReadLog) -> None:
    """Real payloads (both dialects) take the models' usual branches: nothing read outside the tables."""
    import httpx

    from ttai_notebook.sandbox import Sandbox

    for dialect in ("documented", "spec"):
        box = Sandbox(dialect=dialect)
        with httpx.Client(transport=box.transport(), base_url=box.base_url,
                          headers={"Authorization": "Bearer t"}) as http:
            sessions = http.get("/v2/sessions", params={"limit": 60}).json()["sessions"]
            scenarios = http.get("/scenarios").json()["scenarios"]
        for payload in sessions:
            models.Session.from_api(payload)
            assert read_log.of(payload) <= MODEL_KEYS["session"]
            for key, kind in NESTED_KINDS["session"].items():
                if isinstance(payload.get(key), Mapping):
                    assert read_log.of(payload[key]) <= MODEL_KEYS[kind]
        for payload in scenarios:
            models.Scenario.from_api(payload).rubric_topics  # noqa: B018
            assert read_log.of(payload) <= MODEL_KEYS["scenario"]


def test_documented_keys_are_the_vendor_spec_schemas() -> None:
    schemas = json.loads(SPEC.read_text(encoding="utf-8"))["components"]["schemas"]
    assert set(DOCUMENTED_KEYS) == set(SPEC_SCHEMAS)
    for kind, names in SPEC_SCHEMAS.items():
        spec_keys = set().union(*(schemas[name].get("properties", {}) for name in names))
        assert DOCUMENTED_KEYS[kind] == spec_keys, kind
    assert set(NESTED_KINDS) <= set(MODEL_KEYS)
