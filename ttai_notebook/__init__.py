"""ttai_notebook — the Tough Tongue AI API at home in Jupyter.

Everything public is importable from here; heavy parts (pandas, matplotlib, ipywidgets, the sandbox) load on
first use, so ``import ttai_notebook`` costs little more than ``import httpx``.

>>> import ttai_notebook as tt
>>> client = tt.Client.sandbox(seed=0)          # offline twin of the API, no token needed
>>> client.balance().available_minutes > 0
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__  # the one version source (pyproject.toml reads it too)

# name -> module that defines it (relative to this package). Resolved lazily by __getattr__ below.
_EXPORTS: dict[str, str] = {
    # clients and configuration
    "Client": "client",
    "AsyncClient": "client",
    "connect": "client",
    "ClientStats": "client",
    "Secret": "config",
    # models
    "Scenario": "models",
    "Session": "models",
    "Analysis": "models",
    "RubricScore": "models",
    "Balance": "models",
    "TokenCheck": "models",
    "SessionLink": "models",
    "Organization": "models",
    "Analytics": "models",
    # errors
    "TTAIError": "errors",
    "APIError": "errors",
    "BadRequestError": "errors",
    "AuthenticationError": "errors",
    "PermissionDeniedError": "errors",
    "NotFoundError": "errors",
    "RateLimitError": "errors",
    "ServerError": "errors",
    "APIConnectionError": "errors",
    "APITimeoutError": "errors",
    "ValidationError": "errors",
    "OutcomeUnknownError": "errors",
    "NotSupportedError": "errors",
    "WaitTimeoutError": "errors",
    # sandbox
    "Sandbox": "sandbox",
    # analyst's kit
    "BulkResult": "bulk",
    "Store": "store",
    "SyncResult": "store",
    "sessions_frame": "frames",
    "report_card_frame": "frames",
    "feedback_frame": "frames",
    "summary": "frames",
}

# Submodules reachable as attributes (``tt.charts.plot_score_distribution``, ``tt.widgets.ScenarioBuilder``).
_SUBMODULES = (
    "charts", "widgets", "export", "frames", "bulk", "store", "audit", "sandbox", "models", "errors", "verify",
)

__all__ = sorted([*_EXPORTS, *_SUBMODULES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value  # cache: the next access is a plain attribute lookup
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'ttai_notebook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import charts, export, widgets  # noqa: F401
    from .bulk import BulkResult  # noqa: F401
    from .client import AsyncClient, Client, ClientStats, connect  # noqa: F401
    from .config import Secret  # noqa: F401
    from .errors import (  # noqa: F401
        APIConnectionError,
        APIError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        NotFoundError,
        NotSupportedError,
        OutcomeUnknownError,
        PermissionDeniedError,
        RateLimitError,
        ServerError,
        TTAIError,
        ValidationError,
        WaitTimeoutError,
    )
    from .frames import feedback_frame, report_card_frame, sessions_frame, summary  # noqa: F401
    from .models import (  # noqa: F401
        Analysis,
        Analytics,
        Balance,
        Organization,
        RubricScore,
        Scenario,
        Session,
        SessionLink,
        TokenCheck,
    )
    from .sandbox import Sandbox  # noqa: F401
    from .store import Store, SyncResult  # noqa: F401
