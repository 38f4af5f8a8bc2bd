"""Request validation the way the service's FastAPI/pydantic layer does it: lax coercion of JSON
bodies and query strings, and 422 error items ``{type, loc, msg, input[, ctx]}`` with pydantic's wording."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Field",
    "parse_json_body",
    "validate_model",
    "validate_query",
    "SCENARIO_UPSERT",
    "ANALYZE_REQUEST",
    "CREATE_SESSION",
    "COMPLETE_SESSION",
    "ACCESS_TOKEN_REQUEST",
    "TOKEN_TEST",
    "POST_PROCESS",
    "IMPORT_SESSION",
    "V2_SESSION_QUERY",
    "ANALYTICS_QUERY",
]

_MISSING = object()
_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


@dataclass(frozen=True)
class Field:
    """One field of a request model.

    ``kind`` is one of ``str``, ``bool``, ``int``, ``float``, ``dict``, ``scalar_map``, ``list``,
    ``str_list``, ``enum``, ``model``. ``nullable`` allows JSON null; ``required`` means it must be present.
    """

    kind: str
    required: bool = False
    nullable: bool = True
    ge: float | None = None
    le: float | None = None
    choices: tuple[str, ...] = ()
    model: Mapping[str, "Field"] | None = None
    items: "Field | None" = None


def _err(type_: str, loc: Sequence[Any], msg: str, value: Any, ctx: Mapping[str, Any] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": type_, "loc": list(loc), "msg": msg, "input": value}
    if ctx:
        item["ctx"] = dict(ctx)
    return item


def _coerce_bool(value: Any, loc: Sequence[Any]) -> tuple[Any, dict[str, Any] | None]:
    if isinstance(value, bool):
        return value, None
    if isinstance(value, int) and value in (0, 1):
        return bool(value), None
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True, None
        if low in _FALSE:
            return False, None
        return None, _err("bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", value)
    return None, _err("bool_type", loc, "Input should be a valid boolean", value)


def _coerce_int(value: Any, loc: Sequence[Any]) -> tuple[Any, dict[str, Any] | None]:
    if isinstance(value, bool):
        return int(value), None
    if isinstance(value, int):
        return value, None
    if isinstance(value, float):
        if value.is_integer():
            return int(value), None
        return None, _err("int_from_float", loc, "Input should be a valid integer, got a number with a fractional part", value)
    if isinstance(value, str):
        try:
            return int(value.strip()), None
        except ValueError:
            return None, _err("int_parsing", loc, "Input should be a valid integer, unable to parse string as an integer", value)
    return None, _err("int_type", loc, "Input should be a valid integer", value)


def _coerce_float(value: Any, loc: Sequence[Any]) -> tuple[Any, dict[str, Any] | None]:
    if isinstance(value, bool):
        return float(value), None
    if isinstance(value, (int, float)):
        return float(value), None
    if isinstance(value, str):
        try:
            return float(value.strip()), None
        except ValueError:
            return None, _err("float_parsing", loc, "Input should be a valid number, unable to parse string as a number", value)
    return None, _err("float_type", loc, "Input should be a valid number", value)


def _fmt_num(x: float) -> Any:
    return int(x) if float(x).is_integer() else x


def _check_bounds(value: Any, spec: Field, loc: Sequence[Any]) -> dict[str, Any] | None:
    if spec.ge is not None and value < spec.ge:
        ge = _fmt_num(spec.ge)
        return _err("greater_than_equal", loc, f"Input should be greater than or equal to {ge}", value, {"ge": ge})
    if spec.le is not None and value > spec.le:
        le = _fmt_num(spec.le)
        return _err("less_than_equal", loc, f"Input should be less than or equal to {le}", value, {"le": le})
    return None


def _validate_value(value: Any, spec: Field, loc: list[Any], errors: list[dict[str, Any]]) -> Any:
    if value is None:
        if spec.nullable:
            return None
        kind_msg = {"str": ("string_type", "Input should be a valid string"),
                    "bool": ("bool_type", "Input should be a valid boolean"),
                    "int": ("int_type", "Input should be a valid integer"),
                    "float": ("float_type", "Input should be a valid number"),
                    "dict": ("dict_type", "Input should be a valid dictionary"),
                    "list": ("list_type", "Input should be a valid list"),
                    "str_list": ("list_type", "Input should be a valid list")}.get(
            spec.kind, ("model_type", "Input should be a valid dictionary or instance of the model"))
        errors.append(_err(kind_msg[0], loc, kind_msg[1], value))
        return None
    kind = spec.kind
    if kind == "str":
        if isinstance(value, str):
            return value
        errors.append(_err("string_type", loc, "Input should be a valid string", value))
        return None
    if kind in ("bool", "int", "float"):
        coerced, err = {"bool": _coerce_bool, "int": _coerce_int, "float": _coerce_float}[kind](value, loc)
        if err is None and kind != "bool":
            err = _check_bounds(coerced, spec, loc)
            if err is not None:
                err["input"] = value  # pydantic reports what was sent ("0"), not the coerced 0
        if err is not None:
            errors.append(err)
            return None
        return coerced
    if kind == "enum":
        if isinstance(value, str) and value in spec.choices:
            return value
        quoted = [f"'{c}'" for c in spec.choices]
        expected = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" or {quoted[-1]}"
        errors.append(_err("literal_error", loc, f"Input should be {expected}", value, {"expected": expected}))
        return None
    if kind == "dict":
        if isinstance(value, dict):
            return value
        errors.append(_err("dict_type", loc, "Input should be a valid dictionary", value))
        return None
    if kind == "scalar_map":
        if not isinstance(value, dict):
            errors.append(_err("dict_type", loc, "Input should be a valid dictionary", value))
            return None
        out = {}
        for k, v in value.items():
            if isinstance(v, (str, int, float, bool)):
                out[k] = v
            else:
                errors.append(_err("string_type", [*loc, k, "str"], "Input should be a valid string", v))
        return out
    if kind in ("list", "str_list"):
        if not isinstance(value, list):
            errors.append(_err("list_type", loc, "Input should be a valid list", value))
            return None
        if kind == "str_list":
            return [_validate_value(v, Field("str", nullable=False), [*loc, i], errors) for i, v in enumerate(value)]
        if spec.items is not None:
            return [_validate_value(v, spec.items, [*loc, i], errors) for i, v in enumerate(value)]
        return value
    if kind == "model":
        assert spec.model is not None
        if not isinstance(value, dict):
            errors.append(_err("model_attributes_type", loc,
                               "Input should be a valid dictionary or object to extract fields from", value))
            return None
        return _validate_fields(value, spec.model, loc, errors)
    raise ValueError(f"unknown field kind {kind!r}")  # a programming error, not bad input


def _validate_fields(data: Mapping[str, Any], model: Mapping[str, Field], loc: list[Any],
                     errors: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in model.items():
        value = data.get(name, _MISSING)
        if value is _MISSING:
            if spec.required:
                errors.append(_err("missing", [*loc, name], "Field required", dict(data)))
            continue
        out[name] = _validate_value(value, spec, [*loc, name], errors)
    return out


def parse_json_body(body: bytes) -> tuple[Any, list[dict[str, Any]]]:
    """Decode a JSON request body. Returns ``(value, errors)``; an empty body is ``(missing, [])``.

    The missing marker is returned as the module's private sentinel; use :func:`validate_model`,
    which reports it as FastAPI does (``loc: ["body"]``, ``Field required``).
    """
    if not body or not body.strip():
        return _MISSING, []
    try:
        return json.loads(body), []
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        pos = getattr(exc, "pos", 0)
        reason = getattr(exc, "msg", "Invalid UTF-8")
        return _MISSING, [_err("json_invalid", ["body", pos], "JSON decode error", {}, {"error": reason})]


def validate_model(data: Any, model: Mapping[str, Field] | str, *,
                   body_required: bool = True) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Validate a decoded JSON body against a model. Returns ``(values present, errors)``.

    ``model`` is a field table, or the name of a request schema of the vendor spec (``"PublicScenarioUpsert"``),
    checked with :func:`.spec_schemas.check`: nested models, enums, bounds and required fields as the service's
    pydantic models have them. Only fields present in the body are returned (pydantic's ``exclude_unset``), so an
    update changes exactly what was sent. Unknown fields are ignored, as pydantic does by default.
    """
    errors: list[dict[str, Any]] = []
    if data is _MISSING:
        if body_required:
            return {}, [_err("missing", ["body"], "Field required", None)]
        data = {}
    if not isinstance(data, dict):
        return {}, [_err("model_attributes_type", ["body"],
                         "Input should be a valid dictionary or object to extract fields from", data)]
    if isinstance(model, str):
        # Lazy: the spec is read and jsonschema imported on the first such body only.
        from . import spec_schemas

        return spec_schemas.check(data, model)
    values = _validate_fields(data, model, ["body"], errors)
    return values, errors


def validate_query(query: Mapping[str, list[str]], model: Mapping[str, Field]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Validate query parameters (repeated keys arrive as lists). Missing optional ones are left out."""
    errors: list[dict[str, Any]] = []
    out: dict[str, Any] = {}
    for name, spec in model.items():
        values = query.get(name)
        if not values:
            if spec.required:
                errors.append(_err("missing", ["query", name], "Field required", None))
            continue
        if spec.kind == "str_list":
            out[name] = list(values)
            continue
        out[name] = _validate_value(values[-1], spec, ["query", name], errors)
    return out, errors


def _opt(kind: str, **kw: Any) -> Field:
    return Field(kind, **kw)


#: Bodies of the spec's operations are checked against the spec's request schemas (:mod:`.spec_schemas`), named
#: here; the hand-written tables below are only for what the spec does not have (sandbox routes, v2 session links).
SCENARIO_UPSERT = "PublicScenarioUpsert"  # POST /scenarios; the sandbox's PATCH takes the same fields
ANALYZE_REQUEST = "PublicSessionAnalysisRequest"
ACCESS_TOKEN_REQUEST = "SATWithEmailRequest"
TOKEN_TEST = "APITokenTestRequest"
POST_PROCESS = "PublicSessionPostProcessRequest"
IMPORT_SESSION = "PublicSessionCreateRequest"  # POST /v2/session: import a finished call

#: ``POST /v2/sessions`` (the brief's session-link request).
CREATE_SESSION: dict[str, Field] = {
    "scenario_id": Field("str", required=True, nullable=False),
    "user_email": _opt("str"),
    "user_name": _opt("str"),
    "metadata": _opt("dict"),
}

#: ``POST /sandbox/sessions/{id}/complete`` (sandbox only).
COMPLETE_SESSION: dict[str, Field] = {
    "transcript": Field("str", required=True, nullable=False),
    "duration_s": Field("float", ge=0),
    "status": Field("enum", nullable=False, choices=("completed", "terminated")),
}

#: Query of ``GET /sessions``.
SESSION_QUERY: dict[str, Field] = {
    "scenario_id": _opt("str"),
    "user_email": _opt("str"),
    "from_date": _opt("str"),
    "to_date": _opt("str"),
    "is_org": Field("bool", nullable=False),
    "page": Field("int", nullable=False, ge=1),
    "limit": Field("int", nullable=False, ge=1, le=500),
}

#: Query of ``GET /v2/sessions`` (its ``$op_`` and ``meta_`` filters are parsed by :mod:`.filters`).
V2_SESSION_QUERY: dict[str, Field] = dict(SESSION_QUERY)

#: ``POST /sandbox/advance`` (sandbox only).
ADVANCE: dict[str, Field] = {"seconds": Field("float", required=True, nullable=False, ge=0)}

#: Query of ``GET /v2/analytics`` (the dates are parsed by the route).
ANALYTICS_QUERY: dict[str, Field] = {
    "is_org_wide": Field("bool", nullable=False),
    "start_date": _opt("str"),
    "end_date": _opt("str"),
}

#: Query of ``GET /scenarios``.
SCENARIO_QUERY: dict[str, Field] = {
    "search": _opt("str"),
    "type": _opt("str"),
    "is_featured": Field("bool", nullable=False),
}

#: Query of ``GET /v2/sessions/batch``.
BATCH_QUERY: dict[str, Field] = {"session_ids": Field("str_list", required=True)}


def describe_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """One readable line for a list of 422 items (used by the documented dialect's ``error``)."""
    parts = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", []) if p not in ("body", "query", "path")]
        where = ".".join(loc) or "body"
        parts.append(f"{where}: {e.get('msg')}")
    return "Invalid request: " + "; ".join(parts)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, as the sandbox writes every body."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
