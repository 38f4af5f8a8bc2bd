"""Request bodies checked against the vendor spec's request schemas, as the service's FastAPI/pydantic layer checks
them: pydantic's lax coercion first (``"yes"`` → ``True``, ``"600"`` → ``600``; unknown fields of a model dropped),
then jsonschema on the coerced value, and every jsonschema error translated into pydantic's 422 item
``{type, loc, msg, input[, ctx]}``.

The spec ships inside the package (``spec/ttai-openapi-2026-05.json``, a verbatim copy of the reference file) and is
read once, on the first body checked; validators are compiled once per schema. ``jsonschema`` is imported lazily so
``import ttai_notebook`` stays cheap.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

__all__ = ["SPEC_FILE", "check", "coerce", "component", "spec", "spec_path", "validator"]

#: The packaged copy of the vendor spec (identical to tests/fixtures/ttai-openapi-2026-05.json).
SPEC_FILE = "ttai-openapi-2026-05.json"
_URI = "urn:ttai:openapi-2026-05"
_REF_PREFIX = "#/components/schemas/"
_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}
# pydantic names a union member in ``loc`` by its Python type (``["user_metadata", "k", "str"]``).
_UNION_TAGS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "array": "list",
               "object": "dict", "null": "none"}


def spec_path() -> Path:
    """Where the packaged spec lies."""
    return Path(str(resources.files(__package__ or "ttai_notebook.sandbox").joinpath("spec", SPEC_FILE)))


@functools.cache
def spec() -> dict[str, Any]:
    """The vendor spec, parsed once."""
    return json.loads(spec_path().read_text(encoding="utf-8"))


def component(name: str) -> dict[str, Any]:
    """One schema of ``components/schemas``."""
    return spec()["components"]["schemas"][name]


@functools.cache
def _component_ids() -> frozenset[int]:
    # A ``$ref``'d enum is a Python Enum in the service ("enum" errors); an inline one is a Literal ("literal_error").
    return frozenset(id(s) for s in spec()["components"]["schemas"].values())


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """A compiled validator for ``components/schemas/<name>`` (cached: one per schema per process)."""
    try:
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RuntimeError("The sandbox checks request bodies against the vendor spec with the 'jsonschema' package; "
                           "install it: pip install 'jsonschema>=4.18'") from exc
    registry = Registry().with_resource(_URI, Resource.from_contents(spec(), default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"{_URI}{_REF_PREFIX}{name}"}, registry=registry)


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith(_REF_PREFIX):
            raise ValueError(f"unsupported $ref {ref!r}")  # the spec only refers to its own components
        schema = component(ref[len(_REF_PREFIX):])
    return schema


# ---- pydantic's lax coercion, driven by the schema ----
def _lax_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    return value


def _lax_int(value: Any) -> Any:
    if isinstance(value, bool):
        return value  # pydantic refuses a bool for an int field
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return value
    return value


def _lax_float(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    return value


def _exact(value: Any, schema: Mapping[str, Any]) -> bool:
    """Does ``value`` already have the branch's JSON type (pydantic's smart union prefers an exact match)?"""
    kind = _resolve(schema).get("type")
    return {"string": isinstance(value, str), "boolean": isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool),
            "object": isinstance(value, dict), "array": isinstance(value, list),
            "null": value is None}.get(kind, False) if isinstance(kind, str) else False


def coerce(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` as pydantic's lax mode would read it under ``schema``; what cannot be read is left as it is,
    for the validator to report. Unknown keys of a model (``properties`` without ``additionalProperties``) are
    dropped, as pydantic ignores them."""
    schema = _resolve(schema)
    branches = schema.get("anyOf")
    if branches is not None:
        real = [b for b in branches if _resolve(b).get("type") != "null"]
        if value is None and len(real) < len(branches):
            return None
        if len(real) == 1:
            return coerce(value, real[0])
        for branch in real:
            if _exact(value, branch):
                return coerce(value, branch)
        return value
    kind = schema.get("type")
    if kind == "boolean":
        return _lax_bool(value)
    if kind == "integer":
        return _lax_int(value)
    if kind == "number":
        return _lax_float(value)
    if kind == "object" and isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in props:
                out[key] = coerce(item, props[key])
            elif isinstance(extra, dict):
                out[key] = coerce(item, extra)
            elif extra is not None or not props:  # dict[str, Any], extra="allow", or extra="forbid" (reported)
                out[key] = item
        return out
    if kind == "array" and isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [coerce(item, schema["items"]) for item in value]
    return value


# ---- jsonschema errors as pydantic's 422 items ----
def _at(data: Any, path: Sequence[Any]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _item(type_: str, loc: list[Any], msg: str, value: Any, ctx: Mapping[str, Any] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": type_, "loc": loc, "msg": msg, "input": value}
    if ctx:
        item["ctx"] = dict(ctx)
    return item


def _num(x: float) -> Any:
    return int(x) if float(x).is_integer() else x


def _expected(choices: Sequence[Any]) -> str:
    quoted = [repr(c) if isinstance(c, str) else str(c) for c in choices]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" or {quoted[-1]}"


def _type_item(expected: str, schema: Mapping[str, Any], loc: list[Any], sent: Any) -> dict[str, Any]:
    if expected == "string":
        return _item("string_type", loc, "Input should be a valid string", sent)
    if expected == "boolean":
        if isinstance(sent, (str, int)) and not isinstance(sent, bool):
            return _item("bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", sent)
        return _item("bool_type", loc, "Input should be a valid boolean", sent)
    if expected == "integer":
        if isinstance(sent, float):
            return _item("int_from_float", loc, "Input should be a valid integer, got a number with a fractional part",
                         sent)
        if isinstance(sent, str):
            return _item("int_parsing", loc, "Input should be a valid integer, unable to parse string as an integer",
                         sent)
        return _item("int_type", loc, "Input should be a valid integer", sent)
    if expected == "number":
        if isinstance(sent, str):
            return _item("float_parsing", loc, "Input should be a valid number, unable to parse string as a number",
                         sent)
        return _item("float_type", loc, "Input should be a valid number", sent)
    if expected == "object":
        if "properties" in schema:
            return _item("model_attributes_type", loc,
                         "Input should be a valid dictionary or object to extract fields from", sent)
        return _item("dict_type", loc, "Input should be a valid dictionary", sent)
    if expected == "array":
        return _item("list_type", loc, "Input should be a valid list", sent)
    if expected == "null":
        return _item("none_required", loc, "Input should be None", sent)
    return _item(f"{expected}_type", loc, f"Input should be a valid {expected}", sent)


def _union_tag(schema: Mapping[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    kind = schema.get("type")
    return _UNION_TAGS.get(kind, str(kind)) if isinstance(kind, str) else "union"


def _translate(error: ValidationError, sent: Any, loc_of: Any) -> list[dict[str, Any]]:
    """pydantic items for one jsonschema error. ``loc_of(path)`` maps an absolute instance path to a ``loc``."""
    path = list(error.absolute_path)
    loc = loc_of(path)
    value = _at(sent, path)
    kind, expected, schema = error.validator, error.validator_value, error.schema
    if kind == "anyOf":
        # Optional[X] is transparent in pydantic (only X's errors); a real union reports each member, tagged.
        real = [i for i, b in enumerate(expected) if _resolve(b).get("type") != "null"]
        items: list[dict[str, Any]] = []
        for index in real:
            if len(real) == 1:
                sub_loc = loc_of
            else:
                tag, depth = _union_tag(expected[index]), len(path)

                def sub_loc(p: list[Any], _tag: str = tag, _depth: int = depth) -> list[Any]:
                    return loc_of(p[:_depth]) + [_tag] + list(p[_depth:])
            for sub in error.context or ():
                if sub.relative_schema_path and sub.relative_schema_path[0] == index:
                    items.extend(_translate(sub, sent, sub_loc))
        return items or [_item("union_error", loc, error.message, value)]
    if kind == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        return [_item("missing", loc + [name], "Field required", value) for name in expected if name not in present]
    if kind == "type":
        if "enum" in schema:
            return []  # pydantic reports a Literal/Enum field's wrong type as the enum error jsonschema also gives
        return [_type_item(expected if isinstance(expected, str) else expected[0], schema, loc, value)]
    if kind in ("enum", "const"):
        choices = expected if kind == "enum" else [expected]
        text = _expected(choices)
        type_ = "enum" if id(schema) in _component_ids() else "literal_error"
        return [_item(type_, loc, f"Input should be {text}", value, {"expected": text})]
    bounds = {"minimum": ("greater_than_equal", "greater than or equal to", "ge"),
              "maximum": ("less_than_equal", "less than or equal to", "le"),
              "exclusiveMinimum": ("greater_than", "greater than", "gt"),
              "exclusiveMaximum": ("less_than", "less than", "lt")}
    if kind in bounds:
        type_, words, key = bounds[kind]
        return [_item(type_, loc, f"Input should be {words} {_num(expected)}", value, {key: _num(expected)})]
    if kind in ("minLength", "maxLength"):
        short = kind == "minLength"
        return [_item("string_too_short" if short else "string_too_long", loc,
                      f"String should have at {'least' if short else 'most'} {expected} "
                      f"character{'' if expected == 1 else 's'}", value,
                      {"min_length" if short else "max_length": expected})]
    if kind in ("minItems", "maxItems"):
        short = kind == "minItems"
        return [_item("too_short" if short else "too_long", loc,
                      f"List should have at {'least' if short else 'most'} {expected} item"
                      f"{'' if expected == 1 else 's'} after validation, not {len(error.instance)}", value)]
    if kind == "pattern":
        return [_item("string_pattern_mismatch", loc, f"String should match pattern '{expected}'", value,
                      {"pattern": expected})]
    if kind == "additionalProperties" and expected is False:
        allowed = set(schema.get("properties", {}))
        extras = [k for k in (error.instance or {}) if k not in allowed]
        return [_item("extra_forbidden", loc + [k], "Extra inputs are not permitted", _at(value, [k]))
                for k in extras]
    return [_item(str(kind), loc, error.message, value)]  # a keyword the spec does not use today


def check(data: Mapping[str, Any], name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Coerce and validate a decoded JSON object against ``components/schemas/<name>``.

    Returns ``(fields sent, coerced; 422 items)``: only the schema's own fields that were sent (pydantic's
    ``exclude_unset``); ``loc`` starts with ``"body"``.
    """
    schema = component(name)
    coerced = coerce(dict(data), schema)
    errors: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for error in validator(name).iter_errors(coerced):
        for item in _translate(error, data, lambda p: ["body", *p]):
            # jsonschema gives one "required" error per missing field, each naming them all: report each once.
            key = (item["type"], json.dumps(item["loc"]))
            if key not in seen:
                seen.add(key)
                errors.append(item)
    return coerced, errors
