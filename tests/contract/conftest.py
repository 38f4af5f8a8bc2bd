"""Contract suites (issue L): the figures each suite reports, printed at the end of every run.

Tests record counts with the ``contract_figures`` fixture (``contract_figures("schemathesis", cases=700, ...)``);
counts recorded under the same suite and key are summed, so parametrised tests add up to one line per suite.
The ``pytest_terminal_summary`` hook prints them, so they show in CI logs without ``-s``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

# suite -> figure -> summed value, in the order first recorded
_FIGURES: dict[str, dict[str, int]] = {}
_LOCK = threading.Lock()


def add_figures(suite: str, values: dict[str, int]) -> None:
    """Add ``values`` to the suite's running totals."""
    with _LOCK:
        totals = _FIGURES.setdefault(suite, {})
        for key, value in values.items():
            totals[key] = totals.get(key, 0) + value


@pytest.fixture
def contract_figures() -> Callable[..., None]:
    """``contract_figures(suite, **counts)`` adds counts to the suite's line in the end-of-run summary."""

    def add(suite: str, **counts: int) -> None:
        add_figures(suite, counts)

    return add


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("contract figures (issue L)")
    with _LOCK:
        for suite, totals in _FIGURES.items():
            terminalreporter.write_line(f"{suite}:")
            for key, value in totals.items():
                terminalreporter.write_line(f"  {key}: {value}")
