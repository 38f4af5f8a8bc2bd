"""Where the token, base URL and client settings come from, and the :class:`Secret` that never prints itself.

Precedence: an argument, else the environment (``TTAI_TOKEN``, ``TTAI_BASE_URL``), else the vendor default.
"""

from __future__ import annotations

import hmac
import math
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ValidationError

__all__ = [
    "Secret",
    "ClientConfig",
    "DEFAULT_BASE_URL",
    "DEFAULT_APP_URL",
    "ENV_TOKEN",
    "ENV_BASE_URL",
    "NO_TOKEN_MESSAGE",
    "resolve_token",
    "resolve_base_url",
]

DEFAULT_BASE_URL = "https://api.toughtongueai.com/api/public"
DEFAULT_APP_URL = "https://app.toughtongueai.com"
ENV_TOKEN = "TTAI_TOKEN"
ENV_BASE_URL = "TTAI_BASE_URL"

NO_TOKEN_MESSAGE = (
    "No API token is set. Pass Client(token=...) or set the TTAI_TOKEN environment variable "
    "(tokens are created in the Tough Tongue AI app, https://app.toughtongueai.com). "
    "To work offline without a token, use tt.connect() or tt.Client.sandbox(): "
    "they run against the built-in sandbox, with no network."
)

_MASK = "**********"


class Secret:
    """A string that never shows itself in ``repr``, ``str``, f-strings or logs.

    Parameters
    ----------
    value : str
        The secret (e.g. the API token).

    Examples
    --------
    >>> s = Secret("tt_live_abc")
    >>> s
    Secret('**********')
    >>> f"{s}"
    '**********'
    >>> s.get_secret_value()
    'tt_live_abc'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.get_secret_value()
        if not isinstance(value, str):
            raise ValidationError(
                f"token must be a string, got {type(value).__name__}", field="token"
            )
        self._value = value

    def get_secret_value(self) -> str:
        """Return the secret itself (only for building the ``Authorization`` header)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return format(_MASK, spec)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            # Constant-time, so comparing tokens leaks nothing through timing.
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


def resolve_token(token: str | Secret | None) -> Secret | None:
    """The token from the argument, else ``TTAI_TOKEN``; None when neither is set (or both are blank)."""
    if token is None:
        token = os.environ.get(ENV_TOKEN)
        if token is None:
            return None
    secret = Secret(token)
    value = secret.get_secret_value().strip()
    if not value:
        return None
    if not value.isascii() or not value.isprintable() or any(ch.isspace() for ch in value):
        # Say what is wrong without echoing the token.
        raise ValidationError(
            "token contains spaces, line breaks or non-ASCII characters, so it cannot be a valid API "
            "token: copy it again (only the token itself, without 'Bearer ')",
            field="token",
        )
    return Secret(value)


def resolve_base_url(base_url: str | None) -> str:
    """The base URL from the argument, else ``TTAI_BASE_URL``, else the vendor's; no trailing slash."""
    url = base_url if base_url is not None else os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
    return _check_url(url, "base_url")


def _check_url(url: Any, name: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValidationError(
            f"{name} must be a non-empty http(s) URL, got {url!r}", field=name
        )
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(
            f"{name} must be an absolute http:// or https:// URL, got {url!r}", field=name
        )
    return url


def _positive(value: Any, name: str, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        need = "a number >= 0" if allow_zero else "a number > 0"
        raise ValidationError(f"{name} must be {need} (seconds), got {value!r}", field=name)
    return float(value)


@dataclass(frozen=True)
class ClientConfig:
    """Settings of one client, resolved and checked once (its repr never shows the token).

    Attributes mirror the ``Client`` arguments; ``token`` is a :class:`Secret` or None.
    """

    token: Secret | None
    base_url: str = DEFAULT_BASE_URL
    org_id: str | None = None
    timeout: float = 30.0
    max_retries: int = 3
    app_url: str = DEFAULT_APP_URL
    retry_after_cap: float = 60.0
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    cache_ttl: float = 300.0

    @classmethod
    def build(
        cls,
        token: str | Secret | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        org_id: str | None = None,
        app_url: str | None = None,
        retry_after_cap: float = 60.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        cache_ttl: float = 300.0,
    ) -> ClientConfig:
        """Resolve arguments against the environment and validate them."""
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or not 0 <= max_retries <= 20:
            raise ValidationError(
                f"max_retries must be an integer from 0 to 20, got {max_retries!r}", field="max_retries"
            )
        if org_id is None and os.environ.get("TTAI_ORG", "").strip():
            org_id = os.environ["TTAI_ORG"]
        if org_id is not None and (not isinstance(org_id, str) or not org_id.strip()):
            raise ValidationError(
                f"org_id must be a non-empty string or None, got {org_id!r}", field="org_id"
            )
        backoff_initial = _positive(backoff_initial, "backoff_initial", allow_zero=True)
        backoff_max = _positive(backoff_max, "backoff_max", allow_zero=True)
        if backoff_max < backoff_initial:
            raise ValidationError(
                f"backoff_max ({backoff_max}) must be >= backoff_initial ({backoff_initial})",
                field="backoff_max",
            )
        return cls(
            token=resolve_token(token),
            base_url=resolve_base_url(base_url),
            org_id=org_id.strip() if org_id else None,
            timeout=_positive(timeout, "timeout"),
            max_retries=max_retries,
            app_url=_check_url(app_url if app_url is not None else DEFAULT_APP_URL, "app_url"),
            retry_after_cap=_positive(retry_after_cap, "retry_after_cap", allow_zero=True),
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            cache_ttl=_positive(cache_ttl, "cache_ttl", allow_zero=True),
        )
