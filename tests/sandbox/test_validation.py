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


# ---- request bodies of the spec's operations: the spec's schemas, pydantic's coercion and error items ----
@pytest.mark.parametrize(("schema", "value", "expected"), [
    ({"type": "boolean"}, "yes", True),
    ({"type": "boolean"}, 0, False),
    ({"type": "boolean"}, "perhaps", "perhaps"),  # left for the validator to report
    ({"type": "integer"}, "42", 42),
    ({"type": "integer"}, 3.0, 3),
    ({"type": "integer"}, 2.5, 2.5),
    ({"type": "integer"}, True, True),  # pydantic refuses a bool for an int
    ({"type": "number"}, 2, 2.0),
    ({"type": "number"}, "2.5", 2.5),
    ({"type": "string"}, 7, 7),  # no str from int in pydantic v2
    ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, None, None),
    ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, "5", 5),
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "5", "5"),  # smart union: the exact type wins
    ({"type": "object", "properties": {"a": {"type": "integer"}}}, {"a": "1", "b": 2}, {"a": 1}),  # extra ignored
    ({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": True}, {"b": 2}, {"b": 2}),
    ({"type": "object", "additionalProperties": {"type": "boolean"}}, {"k": "on"}, {"k": True}),
    ({"type": "object", "additionalProperties": True}, {"k": [1]}, {"k": [1]}),
    ({"type": "array", "items": {"type": "number"}}, [1, "2"], [1.0, 2.0]),
    ({"$ref": "#/components/schemas/ProcessedRubrikEntry"}, {"topic": "t", "weight": "2", "x": 1},
     {"topic": "t", "weight": 2.0}),
])
def test_spec_coercion(schema, value, expected):
    from ttai_notebook.sandbox.spec_schemas import coerce

    got = coerce(value, schema)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(("body", "items"), [
    ({"session_id": "s", "force": "yes"}, []),
    ({"session_id": None}, [{"type": "string_type", "loc": ["body", "session_id"],
                             "msg": "Input should be a valid string", "input": None}]),
    ({"session_id": "s", "force": 2}, [{"type": "bool_parsing", "loc": ["body", "force"],
                                        "msg": "Input should be a valid boolean, unable to interpret input",
                                        "input": 2}]),
])
def test_spec_check_items(body, items):
    _values, errors = validate_model(body, ANALYZE_REQUEST)
    assert errors == items


def test_spec_check_union_members_are_tagged_like_pydantic():
    _, errors = validate_model({"name": "n", "user_metadata": {"k": {}}}, SCENARIO_UPSERT)
    assert [(e["loc"], e["type"]) for e in errors] == [
        (["body", "user_metadata", "k", "str"], "string_type"), (["body", "user_metadata", "k", "int"], "int_type"),
        (["body", "user_metadata", "k", "float"], "float_type"), (["body", "user_metadata", "k", "bool"], "bool_type")]


def test_spec_check_enum_kinds():
    """A ``$ref``'d enum is a Python Enum in the service (``enum``); an inline one a Literal (``literal_error``);
    a wrong type for either is that same one error, not a second ``string_type``."""
    _, errors = validate_model({"type": None, "analysis_access": 3}, SCENARIO_UPSERT)
    assert [(e["loc"], e["type"], e["msg"]) for e in errors] == [
        (["body", "type"], "literal_error", "Input should be 'default', 'super' or 'composite'"),
        (["body", "analysis_access"], "enum", "Input should be 'default', 'always' or 'never'")]


def test_spec_check_returns_only_sent_fields_coerced():
    values, errors = validate_model({"name": "n", "strategy": {"max_duration_seconds": "60", "junk": 1},
                                     "unknown": 1}, SCENARIO_UPSERT)
    assert errors == [] and values == {"name": "n", "strategy": {"max_duration_seconds": 60}}


@pytest.mark.parametrize(("schema", "value", "type_", "loc", "msg"), [
    ({"type": "string", "minLength": 2}, "a", "string_too_short", [], "String should have at least 2 characters"),
    ({"type": "string", "maxLength": 1}, "ab", "string_too_long", [], "String should have at most 1 character"),
    ({"type": "string", "pattern": "^a"}, "b", "string_pattern_mismatch", [], "String should match pattern '^a'"),
    ({"type": "integer", "exclusiveMinimum": 0}, 0, "greater_than", [], "Input should be greater than 0"),
    ({"type": "number", "maximum": 0.8}, 0.9, "less_than_equal", [], "Input should be less than or equal to 0.8"),
    ({"type": "object", "properties": {"a": {}}, "additionalProperties": False}, {"a": 1, "b": 2},
     "extra_forbidden", ["b"], "Extra inputs are not permitted"),
    ({"type": "null"}, 1, "none_required", [], "Input should be None"),
    ({"const": "x"}, "y", "literal_error", [], "Input should be 'x'"),
])
def test_spec_error_translation(schema, value, type_, loc, msg):
    """Keywords the request schemas use rarely or not yet, translated all the same (by table)."""
    from jsonschema import Draft202012Validator

    from ttai_notebook.sandbox.spec_schemas import _translate

    errors = list(Draft202012Validator(schema).iter_errors(value))
    assert len(errors) == 1
    items = _translate(errors[0], {"f": value}, lambda p: ["body", "f", *p])
    assert [(i["type"], i["loc"], i["msg"]) for i in items] == [(type_, ["body", "f", *loc], msg)]
