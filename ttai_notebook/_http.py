"""Pure, I/O-free HTTP policy: request kinds, the retry decision table, backoff, ``Retry-After``, responses and
transport failures turned into :mod:`ttai_notebook.errors`, and argument validation. Nothing here sends a
request or sleeps.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import enum
import http
import json as _json
import math
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, quote, urlencode

import httpx

from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
    redact,
)

__all__ = [
    "RequestKind",
    "Verdict",
    "RetryPolicy",
    "classify_request",
    "decide",
    "parse_retry_after",
    "backoff_delay",
    "retry_wait",
    "exception_class_for_status",
    "error_from_response",
    "error_from_exception",
    "outcome_unknown_error",
    "decode_json",
    "route_missing",
    "first_text",
    "parse_http_date",
    "check_url",
    "check_flat_metadata",
    "path_id",
    "scenario_embed_url",
    "list_items",
]

# --------------------------------------------------------------------------------------------------
# Request kinds and the retry decision table (API.md §3)
# --------------------------------------------------------------------------------------------------


class RequestKind(str, enum.Enum):
    """Whether repeating a request is harmless (SAFE) or could duplicate something the user pays for."""

    SAFE = "safe"
    CREATE = "create"


Verdict = Literal["ok", "retry", "raise", "unknown"]

# POSTs that change nothing twice: checking the token, analysing (without ``force`` a repeat returns the
# stored result at no charge), minting a short-lived scenario access token.
_SAFE_POSTS = ("test", "sessions/analyze", "scenario-access-token", "scenario-access-token/me")


def _norm_path(path: str) -> str:
    path = path.split("?", 1)[0]
    if "://" in path:  # an absolute URL: keep what follows the public API prefix
        path = path.split("://", 1)[1].partition("/")[2]
    path = path.strip("/")
    for prefix in ("api/public/",):
        if path.startswith(prefix):
            path = path[len(prefix):]
    return path


def classify_request(method: str, path: str, json: Any = None) -> RequestKind:
    """Say whether a request may be repeated after an ambiguous failure.

    GET/HEAD/OPTIONS/PUT/PATCH/DELETE, ``POST /test``, ``POST /sessions/analyze`` without ``force`` and
    ``POST /scenario-access-token`` are SAFE; so is ``POST /scenarios`` carrying an ``id`` (an update
    through the upsert route). Every other POST is CREATE — notably ``POST /scenarios``, ``POST /v2/sessions``,
    ``POST /v2/session`` (an import), and the *charging* ones: ``POST /v2/sessions/{id}/post-process`` (every
    call re-runs and charges) and a forced ``POST /sessions/analyze``. An unknown POST is treated as
    non-repeatable, to be safe.

    >>> classify_request("POST", "/scenarios").value, classify_request("GET", "/sessions").value
    ('create', 'safe')
    >>> classify_request("POST", "/v2/sessions/abc/post-process").value
    'create'
    """
    if method.upper() != "POST":
        return RequestKind.SAFE
    norm = _norm_path(path)
    if norm == "sessions/analyze" and isinstance(json, Mapping) and json.get("force") is True:
        return RequestKind.CREATE  # a forced analysis runs, and is charged, again
    if norm in _SAFE_POSTS:
        return RequestKind.SAFE
    if norm == "scenarios" and isinstance(json, Mapping) and json.get("id"):
        return RequestKind.SAFE
    return RequestKind.CREATE


# Transport failures that prove the request never left this machine (so even a create may be repeated).
_BEFORE_SENT: tuple[type[BaseException], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
)
# Failures that repeating cannot fix: a malformed URL or request built on this side.
_NEVER_RETRY: tuple[type[BaseException], ...] = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def decide(kind: RequestKind, *, status: int | None = None, exc: BaseException | None = None) -> Verdict:
    """The retry decision for one attempt's outcome: a status code or a transport exception.

    Returns ``"ok"`` (2xx), ``"retry"``, ``"raise"`` (a definite error) or ``"unknown"`` (a create whose
    outcome cannot be known: raise :class:`OutcomeUnknownError`).

    SAFE requests retry 408, 429, every 5xx and every transport error; CREATE requests retry only 429
    and failures before the request was sent (connect error/timeout, pool timeout, proxy refusal).

    >>> decide(RequestKind.CREATE, status=502), decide(RequestKind.SAFE, status=502)
    ('unknown', 'retry')
    """
    if exc is not None:
        if isinstance(exc, _NEVER_RETRY) or not isinstance(exc, httpx.TransportError):
            return "raise"
        if kind is RequestKind.SAFE or isinstance(exc, _BEFORE_SENT):
            return "retry"
        return "unknown"
    if status is None:
        raise ValueError("decide() needs a status or an exception")
    if 200 <= status < 300:
        return "ok"
    if status == 429:
        return "retry"
    if status >= 500:
        return "retry" if kind is RequestKind.SAFE else "unknown"
    if status == 408 and kind is RequestKind.SAFE:
        return "retry"
    return "raise"


# --------------------------------------------------------------------------------------------------
# Waiting: backoff with jitter, Retry-After
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """The numbers of the retry policy (defaults: 3 retries, 0.5 s initial, 8 s cap, 60 s Retry-After cap)."""

    max_retries: int = 3
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    retry_after_cap: float = 60.0
    jitter: Literal["equal", "full"] = "equal"


def backoff_delay(
    retry_index: int,
    *,
    initial: float = 0.5,
    cap: float = 8.0,
    jitter: Literal["equal", "full"] = "equal",
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``retry_index`` (0 for the first retry).

    The ceiling is ``min(cap, initial * 2**retry_index)``; *full* jitter draws uniformly from
    ``[0, ceiling]``, *equal* jitter from ``[ceiling/2, ceiling]`` (never a hot loop).
    """
    if retry_index < 0:
        raise ValueError("retry_index must be >= 0")
    ceiling = min(cap, initial * (2.0 ** min(retry_index, 62)))
    draw = (rng or random).random()
    if jitter == "full":
        return ceiling * draw
    if jitter == "equal":
        return ceiling / 2.0 + (ceiling / 2.0) * draw
    raise ValueError(f"jitter must be 'equal' or 'full', got {jitter!r}")


def parse_retry_after(value: Any, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (or a headers mapping holding one).

    Accepts delta-seconds (``"2"``, ``"1.5"``) and an HTTP date (seconds until then, 0 if past).
    A headers mapping may instead carry ``retry-after-ms``. Garbage, negative or non-finite → None.

    >>> parse_retry_after("3"), parse_retry_after("-1"), parse_retry_after("soon")
    (3.0, None, None)
    """
    if isinstance(value, (Mapping, httpx.Headers)):
        headers = {str(k).lower(): v for k, v in value.items()}
        millis = headers.get("retry-after-ms")
        if millis is not None:
            seconds = _seconds(millis)
            if seconds is not None:
                return seconds / 1000.0
        value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    if not isinstance(value, str):
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+(\.\d+)?\s*", value):
        number = float(value)
    else:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return number


def retry_wait(
    policy: RetryPolicy,
    retry_index: int,
    retry_after: float | None,
    *,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before a retry: the server's ``Retry-After`` when it gave a positive one, else backoff.

    The caller checks ``retry_after`` against ``policy.retry_after_cap`` first (above it: raise).
    """
    if retry_after is not None and retry_after > 0:
        return retry_after
    return backoff_delay(
        retry_index,
        initial=policy.backoff_initial,
        cap=policy.backoff_max,
        jitter=policy.jitter,
        rng=rng,
    )


# --------------------------------------------------------------------------------------------------
# Responses and failures → errors
# --------------------------------------------------------------------------------------------------

#: Longest server message put into an exception (a megabyte ``detail`` is cut; the body stays in ``.response``).
MAX_MESSAGE = 2000
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "x-correlation-id", "cf-ray")


def exception_class_for_status(status: int) -> type[APIError]:
    """The :class:`APIError` subclass for an HTTP status (400/422, 401, 403, 404, 429, 5xx; else APIError)."""
    if status in (400, 422):
        return BadRequestError
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    return APIError


def _reason(response: httpx.Response) -> str:
    if response.reason_phrase:
        return response.reason_phrase
    try:
        return http.HTTPStatus(response.status_code).phrase
    except ValueError:
        return ""


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TAG = re.compile(r"<[^>]*>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SCRIPT = re.compile(r"<(script|style)[^>]*>.*?</\1>", re.IGNORECASE | re.DOTALL)


def _excerpt(text: str, limit: int = 160) -> str:
    """A short, single-line, escaped excerpt of a body (tags dropped from HTML)."""
    looks_html = "<html" in text[:500].lower() or "<!doctype" in text[:500].lower()
    if looks_html:
        title = _TITLE.search(text)
        body = _TAG.sub(" ", _SCRIPT.sub(" ", text))
        text = (title.group(1).strip() + " — " if title else "") + body
    text = re.sub(r"\s+", " ", text).strip()
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _render_validation_items(items: list[Any]) -> str:
    """FastAPI 422 ``detail`` items as ``"body.name: Field required; ..."``."""
    parts = []
    for item in items:
        if isinstance(item, Mapping):
            loc = item.get("loc")
            where = ".".join(str(p) for p in loc) if isinstance(loc, (list, tuple)) else ""
            msg = str(item.get("msg") or item.get("message") or item.get("type") or "invalid")
            parts.append(f"{where}: {msg}" if where else msg)
        elif item is not None:
            parts.append(str(item))
    return "; ".join(parts)


def _message_from_body(body: Any) -> tuple[str | None, Any]:
    """(message, details) from a JSON error body of either dialect, or (None, body) if it has neither."""
    if isinstance(body, Mapping):
        detail = body.get("detail")
        if isinstance(detail, str) and detail.strip():
            return detail.strip(), body.get("details")
        if isinstance(detail, list):
            return _render_validation_items(detail) or "validation error", detail
        if isinstance(detail, Mapping):
            inner, inner_details = _message_from_body(detail)
            if inner:
                return inner, inner_details if inner_details is not None else detail
        for key in ("error", "message", "msg", "error_description", "title"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip(), body.get("details", body.get("errors"))
            if isinstance(value, Mapping):
                inner, _ = _message_from_body(value)
                if inner:
                    return inner, body.get("details", value)
        return None, body
    if isinstance(body, list):
        rendered = _render_validation_items(body)
        return (rendered or None), body
    if isinstance(body, str) and body.strip():
        return body.strip(), None
    return None, body


def _body_text(response: httpx.Response) -> str:
    try:
        return response.text
    except Exception:  # undecodable bytes: show them escaped rather than fail while reporting a failure
        return response.content.decode("latin-1", errors="replace")


def _redact_data(value: Any, secrets: tuple[str, ...], depth: int = 0) -> Any:
    """``value`` (decoded JSON) with every string passed through :func:`redact`: a server that echoes the
    token in an error body must not put it into ``APIError.details``, which notebooks display."""
    if isinstance(value, str):
        return redact(value, secrets)
    if depth > 50:  # pathological nesting: drop rather than recurse without end
        return None
    if isinstance(value, Mapping):
        return {
            (redact(k, secrets) if isinstance(k, str) else k): _redact_data(v, secrets, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_data(v, secrets, depth + 1) for v in value)
    return value


def error_from_response(response: httpx.Response, *, secrets: Iterable[str] = ()) -> APIError:
    """The :class:`APIError` subclass for an error response, with the server's own words.

    The message comes from ``detail`` (FastAPI; 422 items rendered as ``"body.name: Field required"``)
    or ``error`` (documented dialect). A non-JSON body (an HTML error page, truncated JSON) gives its
    content type and a short escaped excerpt. Every text is redacted of ``secrets``.
    """
    secrets = tuple(secrets)
    status = response.status_code
    reason = _reason(response)
    text = _body_text(response)
    message: str | None = None
    details: Any = None
    if text.strip():
        try:
            body = _json.loads(text)
        except ValueError:
            ctype = response.headers.get("content-type", "no content type").split(";")[0].strip()
            # Redact before the excerpt cuts the text short: a token split at the limit would escape it.
            message = f"non-JSON response ({ctype}, {len(response.content)} bytes): {_excerpt(redact(text, secrets))!r}"
        else:
            message, details = _message_from_body(body)
            if message is None:
                message = f"error body without a message: {_excerpt(redact(text, secrets))!r}"
    if not message:
        message = f"{reason or 'error'} (empty response body)"
    message = redact(message, secrets)
    if len(message) > MAX_MESSAGE:  # cut after redacting, so no secret is split past redaction
        message = f"{message[:MAX_MESSAGE]}… ({len(message)} characters in all; the whole body is in .response)"
    details = _redact_data(details, secrets)
    request_id = next((response.headers[h] for h in _REQUEST_ID_HEADERS if h in response.headers), None)
    cls = exception_class_for_status(status)
    kwargs: dict[str, Any] = {
        "status_code": status,
        "details": details,
        "request_id": request_id,
        "response": response,
        "reason": reason,
    }
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=parse_retry_after(response.headers), **kwargs)
    return cls(message, **kwargs)


def _describe_exception(exc: BaseException, secrets: Iterable[str]) -> str:
    text = str(exc).strip() or type(exc).__name__
    return redact(f"{type(exc).__name__}: {text}" if not text.startswith(type(exc).__name__) else text, secrets)


def error_from_exception(
    exc: BaseException, method: str, url: str, *, secrets: Iterable[str] = (), retries: int = 0
) -> APIConnectionError:
    """An :class:`APIConnectionError` (or :class:`APITimeoutError`) for a transport failure, token-free."""
    tried = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""
    cause = _describe_exception(exc, secrets)
    if isinstance(exc, httpx.TimeoutException):
        phase = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for the answer",
            httpx.WriteTimeout: "sending the request",
            httpx.PoolTimeout: "waiting for a free connection",
        }.get(type(exc), "waiting")
        return APITimeoutError(
            f"{method} {url} timed out while {phase}{tried} ({cause}). "
            "Pass a larger timeout=, or check the service and your network."
        )
    return APIConnectionError(
        f"{method} {url} failed{tried}: no usable answer from the service ({cause}). "
        "Check the network and the base URL."
    )


def outcome_unknown_error(
    method: str,
    path: str,
    json: Any,
    *,
    error: APIError | None = None,
    exc: BaseException | None = None,
    secrets: Iterable[str] = (),
) -> OutcomeUnknownError:
    """The :class:`OutcomeUnknownError` for a create that failed after it may have taken effect."""
    norm = _norm_path(path)
    body = json if isinstance(json, Mapping) else {}
    if norm == "scenarios":
        what = "the scenario"
        name = body.get("name")
        hint = (
            f"Check with client.scenarios.list(search={name!r}, cache=False) "
            if isinstance(name, str)
            else "Check with client.scenarios.list(cache=False) "
        ) + "before creating it again."
    elif norm == "v2/sessions":
        what = "the session"
        sid = body.get("scenario_id")
        email = body.get("user_email")
        args = ", ".join(
            f"{k}={v!r}" for k, v in (("scenario_id", sid), ("user_email", email)) if isinstance(v, str)
        )
        hint = f"Check with client.sessions.list({args}) before creating another."
    elif norm.startswith("v2/sessions/") and norm.endswith("/post-process") or norm == "sessions/analyze":
        sid = norm.split("/")[2] if norm != "sessions/analyze" else body.get("session_id")
        what = "an analysis run (each run is charged)"
        hint = (
            f"Poll client.sessions.get({sid!r}) (or wait(..., until='analyzed')): results that appear mean it ran; "
            "triggering again would charge again."
        )
    elif norm == "v2/session":
        what = "the imported session"
        args = ", ".join(
            f"{k}={v!r}" for k, v in (("scenario_id", body.get("scenario_id")), ("user_email", body.get("user_email")))
            if isinstance(v, str)
        )
        hint = f"Check with client.sessions.list({args}) before importing it again."
    else:
        what = "what it creates"
        hint = "Check the service's state before sending it again."
    if error is not None:
        cause = f"the service answered {error.status_code} {error.reason or ''}".rstrip() + f" ({error.message})"
    else:
        cause = f"the connection failed after the request was sent ({_describe_exception(exc, secrets)})" if exc else "unknown"
    message = redact(
        f"{method} /{norm}: the outcome is unknown — the service may or may not have created {what}, "
        f"because {cause}. It was not retried, since a second attempt could create a duplicate. {hint}",
        secrets,
    )
    if error is not None:
        return OutcomeUnknownError(
            message,
            status_code=error.status_code,
            details=error.details,
            request_id=error.request_id,
            response=error.response,
            reason=error.reason,
        )
    return OutcomeUnknownError(message)


def decode_json(response: httpx.Response, *, secrets: Iterable[str] = ()) -> Any:
    """The decoded JSON of a successful response; None for an empty body; APIError for a non-JSON body."""
    if not response.content.strip():
        return None
    try:
        return _json.loads(_body_text(response))
    except ValueError:
        ctype = response.headers.get("content-type", "no content type").split(";")[0].strip()
        raise APIError(
            f"expected JSON but got {ctype}: {_excerpt(redact(_body_text(response), secrets))!r}",
            status_code=response.status_code,
            response=response,
            reason=_reason(response),
        ) from None


# --------------------------------------------------------------------------------------------------
# Missing routes (API.md §1, "Endpoints the vendor spec lacks")
# --------------------------------------------------------------------------------------------------

_GENERIC_NOT_FOUND = {
    "",
    "not found",
    "404 not found",
    "404: not found",
    "404",
    "no route",
    "route not found",
    "no such route",
    "endpoint not found",
    "method not allowed",
    "the requested url was not found on the server",
    "the requested resource could not be found",
}


def route_missing(error: APIError, resource_id: str | None = None) -> bool:
    """True when a 404/405 means "this service has no such route", not "no such scenario/session".

    405 always means the route. A 404 means the route when its message is a framework's generic one
    (FastAPI's plain ``"Not Found"``) or the body is not JSON, and it names neither the id nor a
    scenario/session.
    """
    if error.status_code == 405:
        return True
    if error.status_code != 404:
        return False
    message = (error.message or "").strip().lower()
    blob = message + " " + (_json.dumps(error.details, default=str).lower() if error.details else "")
    if resource_id and resource_id.strip().lower() in blob:
        return False
    if "scenario" in blob or "session" in blob:
        return False
    if message.startswith("non-json response") or message.endswith("(empty response body)"):
        return True
    return message.rstrip(".!") in _GENERIC_NOT_FOUND


# --------------------------------------------------------------------------------------------------
# Request building helpers
# --------------------------------------------------------------------------------------------------


def path_id(value: str) -> str:
    """An id escaped for use as one path segment (ids are opaque: anything but empty is allowed)."""
    return quote(value, safe="")


def scenario_embed_url(
    app_url: str, scenario_id: str, *, user_email: str | None = None, user_name: str | None = None
) -> str:
    """``{app_url}/embed/<scenario_id>?userEmail=..&userName=..`` — the link when sessions can't be pre-created."""
    query = {k: v for k, v in (("userEmail", user_email), ("userName", user_name)) if v}
    url = f"{app_url.rstrip('/')}/embed/{path_id(scenario_id)}"
    return f"{url}?{urlencode(query)}" if query else url


def list_items(body: Any, key: str) -> list[Any] | None:
    """The items of a list response: a bare list, or ``body[key]`` (also ``items`` / ``data``); None if neither."""
    if isinstance(body, list):
        return body
    if isinstance(body, Mapping):
        for k in (key, "items", "data", "results"):
            value = body.get(k)
            if isinstance(value, list):
                return value
    return None


def parse_http_date(value: str | None) -> dt.datetime | None:
    """An HTTP ``Date`` header as an aware UTC datetime (None when absent or unreadable).

    >>> parse_http_date("Tue, 08 Dec 2026 02:08:54 GMT").isoformat()
    '2026-12-08T02:08:54+00:00'
    """
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def first_text(body: Mapping[str, Any], *keys: str) -> str | None:
    """The first of ``keys`` holding a non-empty string."""
    for key in keys:
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


# --------------------------------------------------------------------------------------------------
# Argument validation (before any request; ids are opaque, only empty ones are refused)
# --------------------------------------------------------------------------------------------------


def check_url(value: Any, field: str) -> str:
    """An absolute http(s) URL (a recording the service will fetch)."""
    text = value.strip() if isinstance(value, str) else ""
    parts = urlsplit(text) if text else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(
            f"{field} must be an http(s) URL such as 'https://example.com/call.mp3', got {value!r}", field=field
        )
    return text


def check_flat_metadata(value: Any, field: str) -> dict[str, str | int | float | bool] | None:
    """None or a flat dict of string keys to scalars (what the service can filter on with ``meta_<key>``)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(f"{field} must be a dict such as {{'team': 'North'}}, got {type(value).__name__}",
                              field=field)
    out: dict[str, str | int | float | bool] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise ValidationError(f"{field} keys must be non-empty strings, got {key!r}", field=field)
        if isinstance(item, float) and not math.isfinite(item) or not isinstance(item, (str, int, float, bool)):
            raise ValidationError(
                f"{field}[{key!r}] must be a string, number or bool (the service filters on flat values), "
                f"got {item!r}",
                field=field,
            )
        out[key] = item
    return out

_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>.]{1,}$")


def require_id(value: Any, field: str) -> str:
    """A non-empty id (surrounding whitespace removed); any other content is the service's business."""
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string id, got {type(value).__name__}", field=field)
    if not value.strip():
        raise ValidationError(f"{field} must not be empty", field=field)
    return value.strip()


def require_text(value: Any, field: str) -> str:
    """A string with at least one non-space character."""
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string, got {type(value).__name__}", field=field)
    if not value.strip():
        raise ValidationError(f"{field} must not be empty or only whitespace", field=field)
    return value


def optional_text(value: Any, field: str) -> str | None:
    """None or a string (empty allowed: it clears the field)."""
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"{field} must be a string or None, got {type(value).__name__}", field=field)
    return value


def optional_bool(value: Any, field: str) -> bool | None:
    """None or exactly True/False (``"yes"`` or 1 are refused, so a typo never flips a setting)."""
    if value is not None and not isinstance(value, bool):
        raise ValidationError(f"{field} must be True, False or None, got {value!r}", field=field)
    return value


def check_email(value: Any, field: str = "user_email") -> str:
    """A plausible e-mail address (``name@domain.tld``)."""
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise ValidationError(
            f"{field} must be an e-mail address like 'name@example.com', got {value!r}", field=field
        )
    return value.strip()


def check_metadata(value: Any, field: str = "metadata") -> dict[str, Any] | None:
    """None or a JSON-serialisable dict with string keys."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"{field} must be a dict of JSON values (e.g. {{'team': 'north'}}), got {type(value).__name__}",
            field=field,
        )
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise ValidationError(f"{field} keys must be strings, got {bad[0]!r}", field=field)
    try:
        _json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{field} must hold only JSON values: {exc}", field=field) from None
    return dict(value)


def check_int(value: Any, field: str, low: int, high: int) -> int:
    """An int within ``[low, high]`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{field} must be an integer from {low} to {high}, got {value!r}", field=field)
    return value


def check_seconds(value: Any, field: str, *, allow_none: bool = False) -> float | None:
    """A positive, finite number of seconds (or None when allowed)."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if not ok:
        raise ValidationError(f"{field} must be a number of seconds > 0, got {value!r}", field=field)
    return float(value)


_SESSION_ANALYSIS_BOOLS = (
    "is_auto_analysis",
    "is_auto_submit",
    "multimodal_analysis",
    "email_analysis",
    "email_transcript",
    "enable_extraction",
)


def check_session_analysis(value: Any) -> dict[str, Any] | None:
    """None or a dict like ``{"admin_email": str, "is_auto_analysis": bool, "is_auto_submit": bool}``."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(
            "session_analysis must be a dict such as {'admin_email': 'lead@example.com', "
            f"'is_auto_analysis': True, 'is_auto_submit': False}}, got {type(value).__name__}",
            field="session_analysis",
        )
    for key in _SESSION_ANALYSIS_BOOLS:
        if key in value and value[key] is not None and not isinstance(value[key], bool):
            raise ValidationError(
                f"session_analysis[{key!r}] must be True or False, got {value[key]!r}", field="session_analysis"
            )
    admin = value.get("admin_email")
    if admin is not None:
        if not isinstance(admin, str):
            raise ValidationError(
                f"session_analysis['admin_email'] must be a string, got {admin!r}", field="session_analysis"
            )
        for part in admin.split(","):
            check_email(part, "session_analysis['admin_email']")
    return dict(value)
