"""``ttai-notebook verify``: a live check of a Tough Tongue AI service that anyone with a token can run.

In the spirit of moto's ``@aws_verified`` and LocalStack's validated snapshots: the same calls the toolkit makes,
made once against the real target, each reported as a row of a table (``ok`` / ``warn`` / ``fail`` /
``skipped``), plus whether every answer parses into our models without loss (keys our models do not read are
listed). By default it only reads, and costs nothing; ``write=True`` creates and deletes one private scratch
scenario; ``spend=N`` analyses N completed sessions, which the service charges.

A *shape snapshot* keeps, for each check, the keys and value types of every answer (recursively; a list is the
union of its items' shapes) — never a value, so no PII and no token — plus the toolkit version, the target's
host name and the date. :func:`compare_snapshots` lists what changed between two snapshots (keys missing, keys
new, types changed, routes that now answer differently), so a user's snapshot of the live service can be kept
in ``tests/fixtures/shapes/`` as evidence and compared with the sandbox.

The module has three parts: pure shape functions (tested on literal dicts), the known-key tables behind the
"fields" checks, and the runner that makes the calls through a recording transport.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import textwrap
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import httpx

from .errors import APIError, NotSupportedError, TTAIError, redact

if TYPE_CHECKING:
    from .client import Client

__all__ = [
    "DOCUMENTED_KEYS",
    "MIN_SECRET",
    "MODEL_KEYS",
    "SCRATCH_PREFIX",
    "SNAPSHOT_FORMAT",
    "Check",
    "FieldReport",
    "RecordingTransport",
    "ShapeDifference",
    "VerifyReport",
    "compare_shapes",
    "compare_snapshots",
    "field_report",
    "format_table",
    "load_snapshot",
    "merge_shapes",
    "route_of",
    "shape_of",
    "spend_decision",
    "verify",
    "write_snapshot",
]

Result = Literal["ok", "warn", "fail", "skipped"]
RESULTS: tuple[Result, ...] = ("ok", "warn", "fail", "skipped")

SNAPSHOT_FORMAT = "ttai-notebook shape snapshot 1"
#: Name prefix of the scenario ``--write`` creates (and deletes); a timestamp follows.
SCRATCH_PREFIX = "ttai-notebook verify scratch"
#: Shorter tokens are not masked in the output (see ``verify``): no real token is this short.
MIN_SECRET = 8
#: What the sandbox charges per analysis; the live service's price is its own (see your plan).
SANDBOX_MINUTES_PER_ANALYSIS = 1

# --------------------------------------------------------------------------------------------------------------
# Shapes: keys and value types only (pure)
# --------------------------------------------------------------------------------------------------------------

#: Keys whose values are maps chosen by the user (their keys are data, not schema): summarised as ``{"*": ...}``.
FREE_FORM_KEYS = frozenset({"metadata", "user_metadata", "custom_variables"})
#: Maps keyed by a wildcard in a shape.
ANY_KEY = "*"

Shape = dict[str, Any]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"  # JSON has one number type: 85 and 85.5 are the same kind
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def shape_of(value: Any, *, free_form: bool = False) -> Shape:
    """The shape of a decoded JSON value: its kinds, object keys and array item shapes, never a value.

    A shape maps each kind seen to its detail: ``"object"`` to ``{key: shape}``, ``"array"`` to the union of
    the items' shapes (``{}`` for an empty list), scalar kinds to None. Values under :data:`FREE_FORM_KEYS`
    (user-chosen keys such as ``metadata``) keep no keys: their values' shapes are merged under ``"*"``.

    Examples
    --------
    >>> shape_of({"id": "a1", "tags": [1, "x"], "n": None})
    {'object': {'id': {'string': None}, 'tags': {'array': {'number': None, 'string': None}}, 'n': {'null': None}}}
    >>> shape_of({"metadata": {"team": "North", "email": "kim@example.com"}})
    {'object': {'metadata': {'object': {'*': {'string': None}}}}}
    """
    kind = _kind(value)
    if kind == "object":
        if free_form:
            inner: Shape = {}
            for item in value.values():
                inner = merge_shapes(inner, shape_of(item))
            return {"object": {ANY_KEY: inner} if value else {}}
        return {"object": {str(k): shape_of(v, free_form=str(k) in FREE_FORM_KEYS) for k, v in value.items()}}
    if kind == "array":
        items: Shape = {}
        for item in value:
            items = merge_shapes(items, shape_of(item))
        return {"array": items}
    return {kind: None}


def merge_shapes(a: Shape, b: Shape) -> Shape:
    """The union of two shapes: kinds of both; objects merged key by key; array items merged.

    Examples
    --------
    >>> merge_shapes(shape_of({"a": 1}), shape_of({"a": None, "b": "x"}))
    {'object': {'a': {'null': None, 'number': None}, 'b': {'string': None}}}
    """
    out: Shape = {}
    for kind in sorted(set(a) | set(b)):
        if kind not in a or kind not in b:
            out[kind] = (a if kind in a else b)[kind]
        elif kind == "object":
            keys = list(a[kind]) + [k for k in b[kind] if k not in a[kind]]
            out[kind] = {k: merge_shapes(a[kind].get(k, {}), b[kind].get(k, {})) for k in keys}
        elif kind == "array":
            out[kind] = merge_shapes(a[kind], b[kind])
        else:
            out[kind] = None
    return out


@dataclasses.dataclass(frozen=True)
class ShapeDifference:
    """One difference between a snapshot and what the target answers now.

    ``change`` is ``"missing"`` (in the snapshot, not now), ``"new"`` (now, not in the snapshot), ``"type"``
    (the kinds of a key differ), ``"status"`` (a route answers another HTTP status) or ``"route"`` (a route
    is called now but was not, or the reverse).
    """

    check: str
    route: str
    path: str
    change: Literal["missing", "new", "type", "status", "route"]
    detail: str = ""

    def __str__(self) -> str:
        where = f"{self.check}: {self.route}" + (f": {self.path}" if self.path else "")
        return f"{where}: {self.change}" + (f" ({self.detail})" if self.detail else "")


def _kinds_text(kinds: Iterable[str]) -> str:
    return "|".join(sorted(kinds)) or "nothing"


def compare_shapes(old: Shape, new: Shape, path: str = "") -> list[ShapeDifference]:
    """Differences from ``old`` to ``new`` (``check`` and ``route`` left empty; see :func:`compare_snapshots`).

    A value seen only as ``null`` on one side says nothing about its type, so it is not a type change; an
    object key absent on one side is ``missing`` / ``new``; an array seen only empty is not compared.

    Examples
    --------
    >>> [str(d) for d in compare_shapes(shape_of({"a": 1, "b": "x"}), shape_of({"a": "1", "c": None}))]
    [': : a: type (number → string)', ': : b: missing', ': : c: new']
    """
    diffs: list[ShapeDifference] = []
    old_kinds, new_kinds = set(old) - {"null"}, set(new) - {"null"}
    if old_kinds and new_kinds and old_kinds != new_kinds:
        diffs.append(ShapeDifference("", "", path or "(body)", "type",
                                     f"{_kinds_text(old_kinds)} → {_kinds_text(new_kinds)}"))
    if "object" in old and "object" in new:
        before, after = old["object"], new["object"]
        if not (ANY_KEY in before and ANY_KEY in after):
            for key in before:
                if key not in after:
                    diffs.append(ShapeDifference("", "", _join(path, key), "missing"))
            for key in after:
                if key not in before:
                    diffs.append(ShapeDifference("", "", _join(path, key), "new"))
        for key in before:
            if key in after:
                diffs.extend(compare_shapes(before[key], after[key], _join(path, key)))
    if "array" in old and "array" in new and old["array"] and new["array"]:
        diffs.extend(compare_shapes(old["array"], new["array"], (path or "") + "[]"))
    return sorted(diffs, key=lambda d: (d.path, d.change)) if not path else diffs


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def compare_snapshots(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[ShapeDifference]:
    """Differences between two shape snapshots, check by check and route by route.

    Only checks present in both are compared (a snapshot taken with ``--write`` compared with a read-only
    run is not a difference). Within a check, a route answering another status is reported as such, without
    comparing the two bodies (an error body against a listing says nothing useful).
    """
    diffs: list[ShapeDifference] = []
    old_checks, new_checks = old.get("checks", {}), new.get("checks", {})
    for check in old_checks:
        if check not in new_checks:
            continue
        before, after = old_checks[check], new_checks[check]
        for route in before:
            if route not in after:
                diffs.append(ShapeDifference(check, route, "", "route", "called in the snapshot, not now"))
                continue
            b, a = before[route], after[route]
            if b.get("status") != a.get("status"):
                diffs.append(ShapeDifference(check, route, "", "status",
                                             f"{_status_text(b.get('status'))} → {_status_text(a.get('status'))}"))
                continue
            for d in compare_shapes(b.get("shape", {}), a.get("shape", {})):
                diffs.append(dataclasses.replace(d, check=check, route=route))
        for route in after:
            if route not in before:
                diffs.append(ShapeDifference(check, route, "", "route", "called now, not in the snapshot"))
    return diffs


def _status_text(status: Any) -> str:
    if isinstance(status, list):
        return "/".join(str(s) for s in status)
    return str(status)


# --------------------------------------------------------------------------------------------------------------
# Known keys: what our models read, and what the vendor spec documents
# --------------------------------------------------------------------------------------------------------------

#: Keys each model's ``from_api`` (and its properties) read, by kind of object. A test records what the models
#: actually read (tests/notebooks/test_verify.py) and fails when a model reads a key missing here.
MODEL_KEYS: dict[str, frozenset[str]] = {
    "token": frozenset({"success", "message"}),
    "balance": frozenset({"available_minutes", "balance", "minutes", "last_updated"}),
    "scenario": frozenset({
        "id", "_id", "scenario_id", "name", "description", "user_friendly_description", "ai_instructions",
        "is_public", "is_recording", "session_analysis", "created_at", "updated_at",
        "processed_rubrik", "rubric",  # Scenario.rubric_topics
    }),
    "session": frozenset({
        "id", "_id", "session_id", "scenario_id", "scenario_name", "scenario_overview", "status", "user_email",
        "user_name", "created_at", "completed_at", "updated_at", "duration", "duration_s", "duration_seconds",
        "duration_minutes", "metadata", "user_metadata", "finalized_transcript", "transcript_content",
        "transcript", "running_transcript", "analytics_url", "evaluation_results", "improvement_results",
        "analysis",
        "evaluation_score", "evaluation_note", "report_card",  # removed 2026-09-30: read only as a fallback
    }),
    "scenario_overview": frozenset({"id", "_id", "name"}),
    "evaluation": frozenset({
        "overall_score", "final_score", "strengths", "improvements", "weaknesses", "report_card",
        "detailed_feedback", "action_items",
    }),
    "improvement": frozenset({"improvement_areas", "action_items"}),
    "report_card_entry": frozenset({
        "topic", "name", "title", "score", "score_str", "weight", "note", "notes", "feedback",
    }),
    "organization": frozenset({"id", "_id", "org_id", "name", "slug", "role"}),
}

#: Keys the vendor spec (tests/fixtures/ttai-openapi-2026-05.json) documents for each kind of object: what a
#: model does not read but the spec names is kept in ``.raw`` on purpose (an ``ok``); a key in neither is news
#: (a ``warn``). The spec schemas per kind are listed in ``SPEC_SCHEMAS``; a test checks the two agree.
DOCUMENTED_KEYS: dict[str, frozenset[str]] = {
    "token": frozenset({"message"}),
    "balance": frozenset({"available_minutes", "last_updated"}),
    "scenario": frozenset({
        "access", "ai_instructions", "ai_model_config", "analysis_access", "appearance", "auto_update_config",
        "constituent_scenarios", "created_at", "description", "ends_at", "id", "is_featured", "is_public",
        "is_recording", "meeting_config", "memory", "name", "passcode", "pdf_context", "pricing",
        "processed_rubrik", "rubrik", "session_analysis", "stages", "starts_at", "strategy", "tools_config",
        "transcribe_config", "type", "updated_at", "user_friendly_description", "user_instructions",
        "user_metadata",
    }),
    "session": frozenset({
        "_id", "analytics_url", "completed_at", "created_at", "duration", "duration_minutes", "editor_content",
        "eval_start_ts", "evaluation_note", "evaluation_results", "evaluation_score", "extraction_results",
        "finalized_transcript", "id", "improvement_results", "last_evaluated_at", "max_duration_seconds",
        "metadata", "org", "recording_key", "recording_url", "report_card", "report_card_topics",
        "running_transcript", "scenario_id", "scenario_name", "scenario_overview", "share_enabled",
        "share_expires_at", "share_token", "single_use", "status", "transcript_content", "transcript_key",
        "updated_at", "user_email", "user_id", "user_metadata", "user_name",
    }),
    "scenario_overview": frozenset({
        "_id", "access", "analysis_access", "appearance", "created_at", "created_by", "description",
        "is_featured", "is_public", "is_recording", "memory", "metadata", "name", "pricing", "session_analysis",
        "type", "updated_at", "user_friendly_description",
    }),
    "evaluation": frozenset({
        "detailed_feedback", "final_score", "overall_score", "quiz_results", "report_card", "strengths",
        "weaknesses",
    }),
    "improvement": frozenset({"action_items", "improvement_areas", "resources"}),
    "report_card_entry": frozenset({"note", "requires_video", "score", "score_str", "topic", "weight"}),
    "organization": frozenset({"id", "name", "role", "slug"}),
}

#: The spec schemas each kind's documented keys come from.
SPEC_SCHEMAS: dict[str, tuple[str, ...]] = {
    "token": ("APITokenTestResponse",),
    "balance": ("PublicWalletResponse",),
    "scenario": ("PublicScenarioResponse", "PublicScenarioDetailResponse"),
    "session": ("PublicSessionResponse", "PublicEnrichedSession"),
    "scenario_overview": ("ScenarioOverview",),
    "evaluation": ("EvaluationResults",),
    "improvement": ("ImprovementResults",),
    "report_card_entry": ("EvalReportEntry",),
    "organization": ("PublicOrgItem",),
}

#: Nested objects checked with their own kind: ``{kind: {key: nested kind}}`` (a list holds objects of it).
NESTED_KINDS: dict[str, dict[str, str]] = {
    "session": {
        "evaluation_results": "evaluation",
        "improvement_results": "improvement",
        "scenario_overview": "scenario_overview",
    },
    "evaluation": {"report_card": "report_card_entry"},
}

#: Groups of keys of which at least one must appear in some object of the kind, or the models lose the field.
ESSENTIAL_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "session": (("id", "_id", "session_id"), ("status",), ("created_at",), ("scenario_id", "scenario_overview")),
    "scenario": (("id", "_id", "scenario_id"), ("name",)),
    "organization": (("id",), ("name", "slug"), ("role",)),
}


@dataclasses.dataclass(frozen=True)
class FieldReport:
    """What :func:`field_report` found in a batch of objects of one kind."""

    kind: str
    objects: int
    unknown: tuple[str, ...]  # keys neither read by our models nor documented by the spec
    raw_only: tuple[str, ...]  # documented keys our models do not read (kept in ``.raw``)
    absent: tuple[str, ...]  # essential fields found in none of the objects

    @property
    def result(self) -> Result:
        return "warn" if self.unknown or self.absent else "ok"

    def detail(self, limit: int = 8) -> str:
        parts = []
        if self.absent:
            parts.append("no object carries " + _names(self.absent, limit) + " (renamed or removed?)")
        if self.unknown:
            parts.append("not read by our models nor in the vendor spec: " + _names(self.unknown, limit))
        if self.raw_only:
            parts.append("in the spec, kept only in .raw: " + _names(self.raw_only, limit))
        head = f"{self.objects} object{'s' if self.objects != 1 else ''}"
        if not parts:
            return f"{head}; every key is read by our models"
        return f"{head}; " + "; ".join(parts)


def _names(names: Sequence[str], limit: int) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


def field_report(kind: str, objects: Iterable[Any]) -> FieldReport:
    """Compare the keys of a batch of decoded JSON objects with what our models read and the spec documents.

    Examples
    --------
    >>> r = field_report("organization", [{"id": "o1", "name": "N", "role": 30, "slug": "n", "plan": "pro"}])
    >>> r.result, r.unknown
    ('warn', ('plan',))
    """
    unknown: set[str] = set()
    raw_only: set[str] = set()
    seen: set[str] = set()
    count = 0

    def walk(kind: str, obj: Mapping[str, Any], prefix: str) -> None:
        read, documented = MODEL_KEYS.get(kind, frozenset()), DOCUMENTED_KEYS.get(kind, frozenset())
        nested = NESTED_KINDS.get(kind, {})
        for key, value in obj.items():
            key = str(key)
            path = prefix + key
            if prefix == "":
                seen.add(key)
            if key not in read:
                (raw_only if key in documented else unknown).add(path)
            if key in nested:
                items = value if isinstance(value, list) else [value]
                for item in items:
                    if isinstance(item, Mapping):
                        walk(nested[key], item, path + ("[]." if isinstance(value, list) else "."))

    for obj in objects:
        if isinstance(obj, Mapping):
            count += 1
            walk(kind, obj, "")
    absent = tuple(group[0] for group in ESSENTIAL_KEYS.get(kind, ()) if count and not seen.intersection(group))
    return FieldReport(kind, count, tuple(sorted(unknown)), tuple(sorted(raw_only)), absent)


# --------------------------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Check:
    """One row of the verify table."""

    name: str
    result: Result
    detail: str = ""


def format_table(checks: Sequence[Check], width: int | None = None) -> str:
    """The checks as a plain-text table with the columns check, result, detail.

    ``width`` wraps the detail column so that lines fit (a terminal's width); None never wraps, so the table
    stays one row per line when piped or pasted.

    Examples
    --------
    >>> print(format_table([Check("token", "ok", "accepted"), Check("v1 list", "skipped", "")]))
    check    result   detail
    -------  -------  --------
    token    ok       accepted
    v1 list  skipped
    >>> print(format_table([Check("token", "ok", "accepted by the service")], width=28))
    check  result   detail
    -----  -------  -----------
    token  ok       accepted by
                    the service
    """
    rows = [("check", "result", "detail")] + [(c.name, c.result, c.detail) for c in checks]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    widths[1] = max(widths[1], len("skipped"))
    indent = widths[0] + widths[1] + 4
    room = max(12, width - indent) if width else None
    wrapped = [textwrap.wrap(r[2], room) or [""] if room else [r[2]] for r in rows]
    detail_width = max(len(line) for lines in wrapped for line in lines)
    out = []
    for index, (row, lines) in enumerate(zip(rows, wrapped)):
        out.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {lines[0]}".rstrip())
        out += [" " * indent + line for line in lines[1:]]
        if index == 0:
            out.append("  ".join("-" * w for w in (*widths, detail_width)))
    return "\n".join(out)


def spend_decision(count: int, *, assume_yes: bool, interactive: bool) -> Literal["none", "proceed", "ask", "refuse"]:
    """Whether ``--spend`` may go ahead: ``none`` (nothing to spend), ``proceed`` (``--yes``), ``ask`` (a terminal
    can confirm) or ``refuse`` (no terminal and no ``--yes``: nobody could have agreed to the cost).

    Examples
    --------
    >>> spend_decision(2, assume_yes=False, interactive=False)
    'refuse'
    """
    if count <= 0:
        return "none"
    if assume_yes:
        return "proceed"
    return "ask" if interactive else "refuse"


@dataclasses.dataclass
class VerifyReport:
    """The outcome of :func:`verify`: the table's rows, the shape snapshot and, if compared, the differences."""

    checks: list[Check]
    snapshot: dict[str, Any]
    differences: list[ShapeDifference] = dataclasses.field(default_factory=list)
    target: str = ""

    @property
    def failed(self) -> list[Check]:
        """The rows whose result is ``fail``."""
        return [c for c in self.checks if c.result == "fail"]

    @property
    def exit_code(self) -> int:
        """0 when no check failed, else 1."""
        return 1 if self.failed else 0

    def table(self, width: int | None = None) -> str:
        """The rows as :func:`format_table` prints them."""
        return format_table(self.checks, width)

    def __getitem__(self, name: str) -> Check:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)


def write_snapshot(snapshot: Mapping[str, Any], path: str | Path) -> Path:
    """Write a shape snapshot as indented, key-sorted JSON (stable diffs when committed)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return target


def load_snapshot(path: str | Path) -> dict[str, Any]:
    """Read a shape snapshot written by :func:`write_snapshot`.

    Raises
    ------
    ValueError
        The file is not JSON or not a shape snapshot.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT or not isinstance(data.get("checks"), dict):
        raise ValueError(f"{path} is not a shape snapshot (written by `ttai-notebook verify --snapshot`)")
    return data


# --------------------------------------------------------------------------------------------------------------
# Recording what the target answers
# --------------------------------------------------------------------------------------------------------------

_ID_SEGMENT = re.compile(r"^(?=.*\d)[A-Za-z0-9_-]{12,}$|^[0-9a-fA-F-]{32,36}$")


def route_of(path: str, base_path: str) -> str:
    """A request path as a route: relative to the base URL, ids replaced by ``{id}``, no query string.

    Examples
    --------
    >>> route_of("/api/public/v2/sessions/6a06dcd1af116fb7fa3f5d56/post-process", "/api/public")
    '/v2/sessions/{id}/post-process'
    """
    base = base_path.rstrip("/")
    if base and path.startswith(base):
        path = path[len(base):] or "/"
    return "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/"))


class _Recorder:
    """Collects, per check, each route's statuses and the union of its bodies' shapes."""

    def __init__(self, base_path: str) -> None:
        self.base_path = base_path
        self.current: str | None = None
        self.checks: dict[str, dict[str, dict[str, Any]]] = {}
        self.bodies: dict[str, list[tuple[str, int, Any]]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def check(self, name: str) -> Iterator[None]:
        self.current = name
        try:
            yield
        finally:
            self.current = None

    def record(self, method: str, path: str, status: int, body: Any, decoded: bool) -> None:
        label = self.current
        if label is None:
            return
        route = f"{method} {route_of(path, self.base_path)}"
        shape = shape_of(body) if decoded else ({"empty": None} if body is None else {"non-json": None})
        with self._lock:
            entry = self.checks.setdefault(label, {}).setdefault(route, {"status": [], "shape": {}})
            if status not in entry["status"]:
                entry["status"] = sorted([*entry["status"], status])
            entry["shape"] = merge_shapes(entry["shape"], shape)
            self.bodies.setdefault(label, []).append((route, status, body))


class RecordingTransport(httpx.BaseTransport):
    """An httpx transport that hands every answer's decoded body to a recorder, then passes it on unchanged.

    The body is read here, inside the attempt (over the client's deadline transport every socket read still
    stops at the attempt's deadline).
    """

    def __init__(self, inner: httpx.BaseTransport, recorder: _Recorder) -> None:
        self._inner = inner
        self._recorder = recorder

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if self._recorder.current is None:
            return response
        try:
            raw = b"".join(response.stream)  # type: ignore[union-attr]
        finally:
            response.close()
        copy = httpx.Response(response.status_code, headers=response.headers, content=raw,
                              extensions=response.extensions, request=request)
        decoded_ok, body = _decode(httpx.Response(response.status_code, headers=response.headers, content=raw))
        self._recorder.record(request.method, request.url.path, response.status_code, body, decoded_ok)
        return copy

    def close(self) -> None:
        self._inner.close()


def _decode(response: httpx.Response) -> tuple[bool, Any]:
    try:
        content = response.read()  # decodes gzip / br as the client would
    except httpx.DecodingError:
        return False, b""
    if not content.strip():
        return False, None
    try:
        return True, json.loads(content)
    except ValueError:
        return False, b""


# --------------------------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------------------------


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, TTAIError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _minutes(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value:g}"


def _role_text(org: Any) -> str:
    role = getattr(org, "role", None)
    return role if isinstance(role, str) and role else "unknown"


class _Run:
    """One verify run: the client, the recorder and the rows so far."""

    def __init__(self, client: Client, recorder: _Recorder, secrets: Sequence[str]) -> None:
        self.client = client
        self.recorder = recorder
        self.secrets = tuple(s for s in secrets if s)
        self.checks: list[Check] = []
        self.sessions: list[Any] = []
        self.token_ok = True
        self.failed: set[str] = set()

    def add(self, name: str, result: Result, detail: str = "") -> Check:
        check = Check(name, result, redact(detail, self.secrets))
        self.checks.append(check)
        return check

    @contextmanager
    def check(self, name: str) -> Iterator[None]:
        """Run one check; an exception becomes a ``fail`` row (never a traceback, never the token)."""
        with self.recorder.check(name):
            try:
                yield
            except Exception as exc:  # a verify run reports what went wrong, row by row, and goes on
                self.add(name, "fail", _error_text(exc))
                self.failed.add(name)

    def bodies(self, name: str) -> list[tuple[str, int, Any]]:
        return self.recorder.bodies.get(name, [])

    def fields(self, name: str, kind: str, objects: list[Any]) -> None:
        if not objects:
            self.add(name, "skipped", "no objects answered to look at")
            return
        report = field_report(kind, objects)
        self.add(name, report.result, report.detail())


def _items(body: Any, key: str) -> list[Any]:
    """The list of objects in a listing body: a bare list, or under ``key`` / ``items`` / ``data``."""
    if isinstance(body, list):
        return body
    if isinstance(body, Mapping):
        for k in (key, "items", "data"):
            if isinstance(body.get(k), list):
                return body[k]
    return []


def _session_objects(body: Any) -> list[Any]:
    """Sessions in a batch body (a listing) or a single-session body (bare, or under ``session``)."""
    if isinstance(body, list) or (isinstance(body, Mapping) and isinstance(body.get("sessions"), list)):
        return _items(body, "sessions")
    if isinstance(body, Mapping):
        return [body["session"] if isinstance(body.get("session"), Mapping) else body]
    return []


def _ok_bodies(run: _Run, name: str) -> list[Any]:
    return [body for _route, status, body in run.bodies(name) if 200 <= status < 300]


def _check_token(run: _Run) -> None:
    run.token_ok = False
    with run.check("token"):
        result = run.client.test_token()
        if result.valid:
            run.token_ok = True
            run.add("token", "ok", f"accepted ({result.message})" if result.message else "accepted")
        else:
            run.add("token", "fail", f"rejected: {result.message or 'the service refused it'}")


def _check_balance(run: _Run) -> None:
    with run.check("balance"):
        balance = run.client.balance()
        run.add("balance", "ok", f"{_minutes(balance.available_minutes)} minutes available")


def _check_organizations(run: _Run, org: str | None) -> None:
    name = "organisations"
    with run.check(name):
        try:
            orgs = run.client.organizations.list()
        except NotSupportedError:
            run.add(name, "warn", "the service has no GET /v2/organizations (the brief's API): "
                                  "an organisation is chosen by id only (X-TT-ORG)")
            return
        except APIError as exc:
            if exc.status_code in (404, 405):
                run.add(name, "warn", f"GET /v2/organizations answered {exc.status_code}: the service has no "
                                      "organisations route; choose an organisation by id only (X-TT-ORG)")
                return
            raise
        roles = ", ".join(sorted(_role_text(o) for o in orgs)) or "none"
        detail = f"{len(orgs)} organisation{'s' if len(orgs) != 1 else ''} (roles: {roles})"
        if org:
            match = [o for o in orgs if o.matches(org)]
            if not match:
                run.add(name, "fail", f"--org {org!r} matches none of your organisations; {detail}")
                return
            detail += f"; scoped to {getattr(match[0], 'name', None) or org} (role {_role_text(match[0])})"
        run.add(name, "ok", detail)
    run.fields("fields: organisations", "organization",
               [o for body in _ok_bodies(run, name) for o in _items(body, "organizations")])


def _check_scenarios(run: _Run) -> None:
    name = "scenarios"
    with run.check(name):
        scenarios = run.client.scenarios.list(cache=False)
        run.add(name, "ok", f"{len(scenarios)} scenario{'s' if len(scenarios) != 1 else ''}")
    run.fields("fields: scenarios", "scenario",
               [s for body in _ok_bodies(run, name) for s in _items(body, "scenarios")])


def _check_sessions(run: _Run, page: int) -> None:
    name = "sessions (v2 list)"
    with run.check(name):
        sessions = run.client.sessions.list(max_items=page, page_size=page).to_list()
        run.sessions = sessions
        analysed = sum(1 for s in sessions if s.is_analyzed)
        routes = [r for r, status, _ in run.bodies(name)]
        fell_back = "sessions.list_v2" in run.client.missing_routes or not any("/v2/sessions" in r for r in routes)
        counts = f"{len(sessions)} session{'s' if len(sessions) != 1 else ''} ({analysed} analysed)"
        if fell_back:
            run.add(name, "warn", f"{counts} through the v1 GET /sessions: the service has no GET /v2/sessions")
        else:
            run.add(name, "ok", f"{counts} through GET /v2/sessions")
    objects = [s for body in _ok_bodies(run, name) for s in _items(body, "sessions")]
    run.fields("fields: sessions", "session", objects)


def _check_batch(run: _Run, batch: int) -> None:
    name = "sessions (batch get)"
    if not run.sessions:
        run.add(name, "skipped", "no sessions listed to fetch")
        return
    # Prefer an analysed session among the few fetched, so the analysis fields are looked at too.
    ordered = sorted((s for s in run.sessions if s.id), key=lambda s: not s.is_analyzed)
    ids = [s.id for s in ordered[:batch]]
    if not ids:
        run.add(name, "skipped", "the listed sessions carry no id to fetch")
        return
    with run.check(name):
        got = run.client.sessions.get_many(ids)
        fell_back = "sessions.batch" in run.client.missing_routes
        counts = f"{len(got)} of {len(ids)} returned"
        if len(got) != len(ids):
            run.add(name, "fail", f"{counts}: ids just listed were not found")
        elif fell_back:
            run.add(name, "warn", f"{counts} one by one (GET /sessions/{{id}}): no GET /v2/sessions/batch")
        else:
            run.add(name, "ok", f"{counts} through GET /v2/sessions/batch")
    objects = [s for body in _ok_bodies(run, name) for s in _session_objects(body)]
    run.fields("fields: sessions (batch)", "session", objects)


def _check_v1_list(run: _Run) -> None:
    name = "v1 list (GET /sessions)"
    with run.check(name):
        try:
            run.client.request("GET", "/sessions", params={"limit": 1})
        except APIError as exc:
            if exc.status_code in (404, 405):
                run.add(name, "ok", f"removed ({exc.status_code}), as the vendor announced for 2026-02-28")
                return
            raise
        run.add(name, "ok", "still answers (deprecated: the vendor announced its removal for 2026-02-28)")


def _check_write(run: _Run, now: dt.datetime) -> None:
    create, delete = "write: create scenario", "write: delete scenario"
    name = f"{SCRATCH_PREFIX} {now.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    created = None
    with run.check(create):
        created = run.client.scenarios.create(
            name,
            "Scratch scenario created by `ttai-notebook verify --write` to check the write path. Safe to delete.",
            description="Created and deleted by ttai-notebook verify; if you see it, delete it.",
            is_public=False,
        )
        run.add(create, "ok", f"created private scenario {name!r} (id {created.id})")
    if created is None:
        run.add(delete, "skipped", "nothing was created")
        return
    with run.check(delete):
        try:
            run.client.scenarios.delete(created.id)
        except NotSupportedError:
            run.add(delete, "warn", f"the service cannot delete scenarios through the API: delete {name!r} "
                                    f"(id {created.id}) in the Tough Tongue AI app")
            return
        run.add(delete, "ok", f"deleted {created.id}")


def _check_spend(run: _Run, count: int, confirm: Callable[[str], bool], scan: int) -> None:
    name = f"spend: analyse {count}"
    candidates: list[Any] = []
    with run.check(name):
        for session in run.client.sessions.list(max_items=scan, page_size=min(scan, 100)):
            if session.status == "completed" and not session.is_analyzed:
                candidates.append(session)
                if len(candidates) == count:
                    break
    if name in run.failed:  # the listing failed (already a row)
        return
    if not candidates:
        run.add(name, "skipped", f"no completed, not-yet-analysed session among the newest {scan}")
        return
    with run.check(name):
        before = run.client.balance().available_minutes
        statement = (
            f"--spend {count}: analyse {len(candidates)} completed, not-yet-analysed session"
            f"{'s' if len(candidates) != 1 else ''}. The service charges every analysis (the sandbox charges "
            f"{SANDBOX_MINUTES_PER_ANALYSIS} minute of balance each; the live price is your plan's). "
            f"Balance now: {_minutes(before)} minutes."
        )
        if not confirm(redact(statement, run.secrets)):
            run.add(name, "skipped", "not confirmed; nothing was charged")
            return
        scores, errors = [], []
        for session in candidates:
            try:
                analysis = run.client.sessions.analyze(session.id)
            except TTAIError as exc:
                errors.append(f"{session.id}: {_error_text(exc)}")
                continue
            scores.append("–" if analysis is None or analysis.score is None else f"{analysis.score:g}")
        after = run.client.balance().available_minutes
        change = f"balance {_minutes(before)} → {_minutes(after)} minutes"
        done = f"analysed {len(scores)} of {len(candidates)} (scores {', '.join(scores) or 'none'}); {change}"
        if errors:
            run.add(name, "fail", f"{done}; failed: {'; '.join(errors[:3])}")
        else:
            run.add(name, "ok", done)


def verify(
    *,
    token: str | None = None,
    base_url: str | None = None,
    org: str | None = None,
    write: bool = False,
    spend: int = 0,
    confirm: Callable[[str], bool] | None = None,
    compare: Mapping[str, Any] | None = None,
    page: int = 20,
    batch: int = 3,
    spend_scan: int = 500,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 30.0,
    now: Callable[[], dt.datetime] | None = None,
) -> VerifyReport:
    """Check a Tough Tongue AI service the way the toolkit uses it; nothing is charged by default.

    Parameters
    ----------
    token : str, optional
        The API token (default ``TTAI_TOKEN``). It never appears in the report, the snapshot or an error.
    base_url : str, optional
        Default ``TTAI_BASE_URL``, else the live service.
    org : str, optional
        Organisation id, slug or name (``Client(org_id=...)``).
    write : bool
        Also create one private scratch scenario and delete it.
    spend : int
        Also analyse this many completed, not-yet-analysed sessions: **charged** by the service.
        ``confirm`` is asked first, with the cost stated.
    confirm : callable, optional
        ``confirm(statement) -> bool``; required when ``spend > 0`` (the CLI asks on the terminal).
    compare : mapping, optional
        A shape snapshot (see :func:`load_snapshot`) to compare the answers with.
    page, batch : int
        Sessions listed, and of those fetched again by the batch route.
    transport : httpx.BaseTransport, optional
        The transport below the recording one (tests wrap the sandbox server's answers this way).

    Returns
    -------
    VerifyReport
    """
    from . import __version__
    from .client import Client

    if spend and confirm is None:
        raise ValueError("spend > 0 charges the service: pass confirm=callable(statement) -> bool")
    clock = now or (lambda: dt.datetime.now(dt.timezone.utc))
    recorder = _Recorder("")
    inner = transport if transport is not None else _default_transport()
    client = Client(token=token, base_url=base_url, org_id=org, timeout=timeout,
                    transport=RecordingTransport(inner, recorder))
    recorder.base_path = urlsplit(client.base_url).path
    secret = client.config.token
    # Masking a very short "token" (a sandbox's "t") would garble every word; a real token is far longer.
    secrets = tuple(v for v in ([secret.get_secret_value()] if secret is not None else []) if len(v) >= MIN_SECRET)
    run = _Run(client, recorder, secrets)
    started = clock()
    try:
        _check_token(run)
        if run.token_ok:
            _check_balance(run)
            _check_organizations(run, org)
            _check_scenarios(run)
            _check_sessions(run, page)
            _check_batch(run, batch)
            _check_v1_list(run)
            if write:
                _check_write(run, started)
            if spend:
                _check_spend(run, spend, confirm, spend_scan)  # type: ignore[arg-type]
        else:
            for skipped in ("balance", "organisations", "scenarios", "sessions (v2 list)", "sessions (batch get)",
                            "v1 list (GET /sessions)"):
                run.add(skipped, "skipped", "the token was not accepted")
        is_sandbox = bool(client.is_sandbox)
    finally:
        client.close()
    host = urlsplit(client.base_url).hostname or ""
    snapshot = {
        "format": SNAPSHOT_FORMAT,
        "toolkit_version": __version__,
        "host": host,
        "date": started.date().isoformat(),
        "sandbox": is_sandbox,
        "org_scoped": bool(org),
        "checks": recorder.checks,
    }
    snapshot = _scrub(snapshot, secrets)
    report = VerifyReport(run.checks, snapshot, target=redact(client.base_url, secrets))
    if compare is not None:
        report.differences = compare_snapshots(compare, snapshot)
        count = len(report.differences)
        label = f"compare with snapshot ({compare.get('host', '?')}, {compare.get('date', '?')})"
        if count:
            report.checks.append(Check(label, "warn", f"{count} difference{'s' if count != 1 else ''}; first: "
                                       + redact(str(report.differences[0]), secrets)))
        else:
            report.checks.append(Check(label, "ok", "same keys and types in every compared answer"))
    return report


def _default_transport() -> httpx.BaseTransport:
    from ._deadline import deadline_transport

    return deadline_transport()


def _scrub(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` with every secret masked in its keys and strings (keys are the service's: one could echo the
    token). Walked rather than redacted as JSON text, so masking can never break the document."""
    if isinstance(value, Mapping):
        return {_scrub(k, secrets): _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    if isinstance(value, str):
        return redact(value, secrets)
    return value
