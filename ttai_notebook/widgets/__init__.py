"""Notebook widgets: sign-in, scenario builder, embedded practice session, practice launcher.

Nothing imports this package at ``import ttai_notebook`` time; it loads on first use (``tt.widgets...``).
The other widgets resolve lazily on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported eagerly on purpose: the function `login` shares its name with the submodule `login`, and the
# import system binds a submodule to the package attribute when it is first loaded. Loading it here, then
# binding the function, keeps `tt.widgets.login(...)` the function whatever is imported later.
from .login import LoginWidget, clear_current_client, current_client, login  # noqa: F401 (bound on purpose, see above)

# name -> submodule defining it
_EXPORTS = {
    "login": "login",
    "LoginWidget": "login",
    "current_client": "login",
    "clear_current_client": "login",
    "ScenarioBuilder": "builder",
    "EmbeddedSession": "embed",
    "PracticeLauncher": "launcher",
    "TEMPLATES": "templates",
    # The analysts' dashboard lives in widgets/dashboard.py (written by its own author).
    "AnalysisDashboard": "dashboard",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'ttai_notebook.widgets' has no attribute {name!r}")
    try:
        module = importlib.import_module(f".{module_name}", __name__)
    except ModuleNotFoundError as exc:  # e.g. an optional widget module not shipped in this build
        if exc.name != f"{__name__}.{module_name}":
            raise
        raise AttributeError(f"module 'ttai_notebook.widgets' has no attribute {name!r}") from None
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from .builder import ScenarioBuilder  # noqa: F401
    from .embed import EmbeddedSession  # noqa: F401
    from .launcher import PracticeLauncher  # noqa: F401
    from .templates import TEMPLATES  # noqa: F401
