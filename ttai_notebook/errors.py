"""The exceptions ttai_notebook raises, one tree rooted at :class:`TTAIError`.

::

    TTAIError
    ├── APIError                  the service answered with an error (status_code, message, details,
    │   │                         request_id, response)
    │   ├── BadRequestError       400, 422 (invalid parameters, validation)
    │   ├── AuthenticationError   401 (also raised before sending anything when no token is set)
    │   ├── PermissionDeniedError 403
    │   ├── NotFoundError         404
    │   ├── RateLimitError        429 (.retry_after, seconds or None)
    │   ├── ServerError           5xx
    │   ├── NotSupportedError     the service has no route for this operation (e.g. delete a scenario)
    │   └── OutcomeUnknownError   a create whose outcome is unknown (5xx or connection lost after sending)
    ├── APIConnectionError        no answer: connect / read / write error, connection closed
    │   └── APITimeoutError       the request timed out
    ├── WaitTimeoutError          sessions.wait() gave up before the session reached the wanted state
    └── ValidationError           input refused before any request was sent (.field); also a ValueError

No message built here ever contains the API token or an ``Authorization`` header: texts that come from
the server or from the transport are passed through :func:`redact` by the code that builds them.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

__all__ = [
    "TTAIError",
    "APIError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "NotSupportedError",
    "OutcomeUnknownError",
    "APIConnectionError",
    "APITimeoutError",
    "WaitTimeoutError",
    "ValidationError",
    "redact",
]

_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s'\",;]+")
_AUTH_HEADER = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\",}\n]+")
REDACTED = "***"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with every secret and every ``Bearer <token>`` / ``Authorization: ...`` value masked.

    Parameters
    ----------
    text : str
        Any text that may end up in an error message or a log line.
    secrets : iterable of str
        Literal values to mask wherever they occur (empty strings are ignored).
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)


class TTAIError(Exception):
    """Base class of every error raised by ttai_notebook."""


class APIError(TTAIError):
    """The service answered with an error status (or an unusable body).

    Attributes
    ----------
    status_code : int or None
        HTTP status, or None when no response was received (see :class:`OutcomeUnknownError`).
    message : str
        The server's own words (``detail`` or ``error`` of the body; 422 items rendered as
        ``"body.name: Field required"``), or a short description of a non-JSON body.
    details : Any
        The structured part of the error body (``details``, or the 422 ``detail`` list), or None.
    request_id : str or None
        The request id from a response header such as ``x-request-id``, for support tickets.
    response : httpx.Response or None
        The response itself (its request headers hold the token: never print them).
    """

    status_code: int | None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        details: Any = None,
        request_id: str | None = None,
        response: Any = None,
        reason: str | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.details = details
        self.request_id = request_id
        self.response = response
        self.reason = reason
        super().__init__(self._render())

    def _render(self) -> str:
        head = ""
        if self.status_code is not None:
            head = f"{self.status_code} {self.reason}".rstrip() + ": "
        tail = f" (request id: {self.request_id})" if self.request_id else ""
        return f"{head}{self.message}{tail}"

    def __str__(self) -> str:
        return self._render()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, message={self.message!r})"


class BadRequestError(APIError):
    """400 or 422: the service refused the parameters."""


class AuthenticationError(APIError):
    """401: the token is missing, invalid or expired (raised before sending when no token is set)."""


class PermissionDeniedError(APIError):
    """403: the token may not do this (or the organisation is out of credit)."""


class NotFoundError(APIError):
    """404: no such scenario / session (or, for a missing route, see :class:`NotSupportedError`)."""


class RateLimitError(APIError):
    """429: too many requests.

    Attributes
    ----------
    retry_after : float or None
        Seconds the service asked us to wait (``Retry-After``), if it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ServerError(APIError):
    """5xx: the service failed."""


class NotSupportedError(APIError):
    """The service has no route for this operation (it answered 404/405 for the route itself)."""


class OutcomeUnknownError(APIError):
    """A request that creates something failed in a way that leaves its outcome unknown.

    Raised after a 5xx, a read error or a read timeout on ``POST /scenarios`` or ``POST /v2/sessions``:
    the service may have created the object. It is not retried (a duplicate costs the user); the
    message says how to check. ``status_code`` and ``response`` are None when no response arrived.
    """


class APIConnectionError(TTAIError):
    """No usable answer: the connection failed, broke or was closed without a response."""


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, read, write or waiting for a pooled connection)."""


class WaitTimeoutError(TTAIError):
    """``sessions.wait()`` gave up before the session reached the wanted state.

    Attributes
    ----------
    session : Session or None
        The last state seen (None if the session could never be fetched).
    """

    def __init__(self, message: str, *, session: Any = None) -> None:
        self.session = session
        super().__init__(message)


class ValidationError(TTAIError, ValueError):
    """Input refused before any request was sent.

    Parameters
    ----------
    message : str
        What was wrong and what is allowed; it names the field.
    field : str, optional
        The argument that was wrong.

    Attributes
    ----------
    field : str or None
        The argument that was wrong.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        self.message = message
        super().__init__(message)
