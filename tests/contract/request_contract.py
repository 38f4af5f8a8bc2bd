"""Judge requests against the vendor spec with openapi-core, plus the one rule openapi-core does not check:
no query parameter the operation does not declare (except the ones its description documents in prose).

Decisions are pure functions of a :class:`recorder.Sent` request, so the workout test only counts outcomes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from werkzeug.datastructures import Headers, ImmutableMultiDict

from .recorder import Sent

__all__ = ["PROSE_QUERY", "SPEC_LACKS", "RequestJudge", "Verdict"]

#: Routes the client may use that the spec lacks (API.md §1): counted apart, never validated.
SPEC_LACKS: dict[str, re.Pattern[str]] = {
    "PATCH /scenarios/{id}": re.compile(r"^PATCH /api/public/scenarios/[^/]+$"),
    "DELETE /scenarios/{id}": re.compile(r"^DELETE /api/public/scenarios/[^/]+$"),
    "POST /v2/sessions": re.compile(r"^POST /api/public/v2/sessions$"),
}

#: Query parameters an operation documents only in its description (not in ``parameters``):
#: operation label -> name pattern. GET /v2/sessions: "Date filters (advanced — $op_<field> convention)" and
#: "Metadata filters: meta_<key>=value, meta_$gt_<key>=value ...".
PROSE_QUERY: dict[str, re.Pattern[str]] = {
    "GET /api/public/v2/sessions": re.compile(
        r"^(\$(gte|gt|lte|lt)_(created_at|updated_at)|meta_(\$(gte|gt|lte|lt)_)?[^$].*)$"),
}


@dataclass(frozen=True)
class Verdict:
    """What became of one request: ``kind`` is "validated", "spec-lacks" or "failed"; ``operation`` the spec
    label (or the SPEC_LACKS key); ``errors`` failure class names; ``prose`` the prose-documented parameters."""

    kind: str
    operation: str
    errors: tuple[str, ...] = ()
    prose: tuple[str, ...] = ()
    detail: str = ""


class _Request:
    """An openapi-core request made from a recorded httpx request, on the spec's own server URL."""

    def __init__(self, sent: Sent, host_url: str) -> None:
        self.host_url = host_url
        self.path = sent.url.path
        self.method = sent.method.lower()
        self.body = sent.body or None
        self.content_type = sent.headers.get("content-type", "")
        query = parse_qsl(sent.url.query.decode(), keep_blank_values=True)
        grouped: dict[str, list[str]] = {}
        for key, value in query:
            grouped.setdefault(key, []).append(value)
        self.parameters = RequestParameters(query=ImmutableMultiDict(grouped), header=Headers(dict(sent.headers)),
                                            cookie=ImmutableMultiDict())


class RequestJudge:
    """Validates recorded requests against ``spec`` (a dict; give it the ``HTTPBearer`` alias first)."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self.openapi = OpenAPI.from_dict(dict(spec))
        self.host_url = spec["servers"][0]["url"]
        self._routes = [
            (re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$"), method.upper(), path, op)
            for path, item in spec["paths"].items() for method, op in item.items()
        ]

    def declared_query(self, method: str, path: str) -> tuple[str, set[str]] | None:
        """(label, declared query parameter names) of the spec operation for ``method path``, else None.
        Literal paths win over templated ones (``/v2/sessions/batch`` before ``/v2/sessions/{id}``)."""
        hits = [(spec_path, op) for rx, m, spec_path, op in self._routes if m == method and rx.match(path)]
        if not hits:
            return None
        spec_path, op = min(hits, key=lambda hit: hit[0].count("{"))
        names = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
        return f"{method} {spec_path}", names

    def judge(self, sent: Sent) -> Verdict:
        key = f"{sent.method} {sent.url.path}"
        for name, pattern in SPEC_LACKS.items():
            if pattern.match(key):
                return Verdict("spec-lacks", name)
        found = self.declared_query(sent.method, sent.url.path)
        if found is None:
            return Verdict("failed", key, ("OperationNotInSpec",), detail=key)
        label, declared = found
        errors: list[str] = []
        details: list[str] = []
        try:
            self.openapi.validate_request(_Request(sent, self.host_url))
        except OpenAPIError as exc:  # openapi-core raises one error per request; its class is the finding
            errors.append(type(exc).__name__)
            details.append(_describe(exc))
        prose: list[str] = []
        for name in dict(parse_qsl(sent.url.query.decode(), keep_blank_values=True)):
            if name in declared:
                continue
            pattern = PROSE_QUERY.get(label)
            if pattern is not None and pattern.match(name):
                prose.append(name)
            else:
                errors.append("UndeclaredQueryParameter")
                details.append(f"query parameter {name!r} is not declared by {label}")
        kind = "failed" if errors else "validated"
        return Verdict(kind, label, tuple(errors), tuple(prose), "; ".join(details))


def _describe(exc: BaseException) -> str:
    """The exception and its causes / schema errors, short."""
    parts = [f"{type(exc).__name__}: {exc}"]
    cause = exc.__cause__
    while cause is not None and len(parts) < 4:
        parts.append(f"{type(cause).__name__}: {cause}")
        for sub in getattr(cause, "schema_errors", ())[:3]:
            parts.append(f"  {sub.message}")
        cause = cause.__cause__
    return " <- ".join(parts)[:600]
