"""Reliability and security suites (issue G): shared fixtures and the figures each suite reports.

Tests record their figures with the ``figures`` fixture (``figures("Fault soak", requests=1400, ...)``);
the ``pytest_terminal_summary`` hook below prints them at the end of every run, so they show in CI logs
without ``-s``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# suite title -> list of (test id, {figure: value}) in the order recorded
_FIGURES: dict[str, list[tuple[str, dict[str, Any]]]] = {}
# suite title -> summed counts over many (parametrised) tests, printed as one "totals" line
_TALLIES: dict[str, dict[str, int]] = {}
_LOCK = threading.Lock()


def record_figures(suite: str, test_id: str, values: dict[str, Any]) -> None:
    """Keep figures for the summary (also printed, for ``-s`` runs)."""
    with _LOCK:
        _FIGURES.setdefault(suite, []).append((test_id, dict(values)))
    print(f"[{suite}] {test_id}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in values.items()))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``figures(suite, **values)`` records this test's figures for the end-of-run summary."""
    test_id = request.node.name

    def add(suite: str, **values: Any) -> None:
        record_figures(suite, test_id, values)

    return add


@pytest.fixture
def tally() -> Callable[..., None]:
    """``tally(suite, **counts)`` adds counts to the suite's totals line (for parametrised tables)."""

    def add(suite: str, **counts: int) -> None:
        with _LOCK:
            totals = _TALLIES.setdefault(suite, {})
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value

    return add


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _FIGURES and not _TALLIES:
        return
    tr = terminalreporter
    tr.section("reliability figures (issue G)")
    with _LOCK:
        for suite in sorted(set(_FIGURES) | set(_TALLIES)):
            tr.write_line(f"{suite}:")
            for test_id, values in _FIGURES.get(suite, []):
                body = ", ".join(f"{k}={_fmt(v)}" for k, v in values.items())
                tr.write_line(f"  {test_id}: {body}")
            if suite in _TALLIES:
                body = ", ".join(f"{k}={v}" for k, v in _TALLIES[suite].items())
                tr.write_line(f"  totals: {body}")


# --------------------------------------------------------------------------------------------------
# Shared fixtures
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def fake_token() -> str:
    """A unique fake API token per test, so a leak can be found by a plain byte search."""
    return f"tt_fake_{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def stopwatch() -> Iterator[Callable[[], float]]:
    started = time.perf_counter()
    yield lambda: time.perf_counter() - started
