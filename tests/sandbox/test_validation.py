"""The FastAPI/pydantic-like validation layer, by table."""
from __future__ import annotations

import pytest

from ttai_notebook.sandbox.validation import (
    ANALYZE_REQUEST,
    SCENARIO_UPSERT,
    SESSION_QUERY,
    Field,
    describe_errors,
    parse_json_body,
    validate_model,
    validate_query,
)


@pytest.mark.parametrize(("kind", "value", "expected"), [
    ("bool", True, True),
    ("bool", "yes", True),
    ("bool", "OFF", False),
    ("bool", 0, False),
    ("int", "42", 42),
    ("int", 3.0, 3),
    ("float", "2.5", 2.5),
    ("float", 2, 2.0),
    ("str", "x", "x"),
    ("str", None, None),
])
def test_lax_coercion(kind, value, expected):
    values, errors = validate_model({"f": value}, {"f": Field(kind)})
    assert errors == [] and values == {"f": expected}


@pytest.mark.parametrize(("spec", "value", "type_", "msg"), [
    (Field("bool"), "maybe", "bool_parsing", "Input should be a valid boolean, unable to interpret input"),
    (Field("bool"), [1], "bool_type", "Input should be a valid boolean"),
    (Field("int"), "x", "int_parsing", "Input should be a valid integer, unable to parse string as an integer"),
    (Field("int"), 2.5, "int_from_float", "Input should be a valid integer, got a number with a fractional part"),
    (Field("int", ge=1), 0, "greater_than_equal", "Input should be greater than or equal to 1"),
    (Field("int", le=24), 25, "less_than_equal", "Input should be less than or equal to 24"),
    (Field("float"), "abc", "float_parsing", "Input should be a valid number, unable to parse string as a number"),
    (Field("str"), 7, "string_type", "Input should be a valid string"),
    (Field("str", nullable=False), None, "string_type", "Input should be a valid string"),
    (Field("dict"), [], "dict_type", "Input should be a valid dictionary"),
    (Field("list"), {}, "list_type", "Input should be a valid list"),
    (Field("enum", choices=("a", "b", "c")), "d", "literal_error", "Input should be 'a', 'b' or 'c'"),
    (Field("enum", choices=("a",)), "d", "literal_error", "Input should be 'a'"),
])
def test_error_items(spec, value, type_, msg):
    values, errors = validate_model({"f": value}, {"f": spec})
    assert len(errors) == 1
    assert errors[0]["type"] == type_ and errors[0]["msg"] == msg and errors[0]["loc"] == ["body", "f"]
    assert errors[0]["input"] == value


def test_missing_required_and_unknown_ignored():
    values, errors = validate_model({"force": True, "other": 1}, ANALYZE_REQUEST)
    assert values == {"force": True}
    assert errors == [{"type": "missing", "loc": ["body", "session_id"], "msg": "Field required",
                       "input": {"force": True, "other": 1}}]


def test_only_sent_fields_are_returned():
    values, errors = validate_model({"name": "n", "description": None}, SCENARIO_UPSERT)
    assert errors == [] and values == {"name": "n", "description": None}


@pytest.mark.parametrize(("body", "first_type"), [
    (b"", "missing"),
    (b"   ", "missing"),
    (b"{bad", "json_invalid"),
    (b"\xff\xfe", "json_invalid"),
    (b"[1, 2]", "model_attributes_type"),
    (b"null", "model_attributes_type"),
])
def test_bodies(body, first_type):
    data, errors = parse_json_body(body)
    if not errors:
        _, errors = validate_model(data, ANALYZE_REQUEST)
    assert errors[0]["type"] == first_type


def test_optional_body():
    data, _ = parse_json_body(b"")
    assert validate_model(data, {"x": Field("str")}, body_required=False) == ({}, [])


def test_query():
    values, errors = validate_query({"page": ["2"], "limit": ["10"], "is_org": ["true"]}, SESSION_QUERY)
    assert errors == [] and values == {"page": 2, "limit": 10, "is_org": True}
    _, errors = validate_query({"limit": ["0"]}, SESSION_QUERY)
    assert errors[0]["loc"] == ["query", "limit"] and errors[0]["input"] == "0" and errors[0]["ctx"] == {"ge": 1}


def test_describe_errors():
    _, errors = validate_model({"name": 1}, {"name": Field("str"), "x": Field("int", required=True)})
    assert describe_errors(errors) == "Invalid request: name: Input should be a valid string; x: Field required"
