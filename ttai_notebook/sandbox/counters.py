"""What the sandbox actually executed, so tests can prove nothing was lost or done twice."""
from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["Counters"]


class Counters:
    """Counts kept by a :class:`~ttai_notebook.sandbox.Sandbox`.

    Attributes
    ----------
    requests : Counter[str]
        Requests received, by route (``"GET /sessions/{id}"``); unknown routes as ``"GET (no route)"``.
    executed : Counter[str]
        Requests whose handler ran (after auth and injected faults), by route.
    creates : Counter[str]
        Objects created: ``scenario``, ``session``, ``access_token``; ``import`` counts the sessions that
        ``POST /v2/session`` created (also counted as ``session``).
    analyses : Counter[str]
        Charged analyses actually run, by session id.
    analysis_reuses : Counter[str]
        Analyse calls answered with existing results (no charge), by session id.
    post_processes : Counter[str]
        ``POST /v2/sessions/{id}/post-process`` calls that took effect, by session id (charged ones are also
        in ``analyses``).
    jobs_done : Counter[str]
        Background jobs finished, by kind (``analysis``, ``extraction``).
    responses : Counter[int]
        Responses sent, by status code (dropped connections are not responses).
    drops : int
        Connections closed without a response after the request executed.
    injected : Counter[str]
        Faults injected: ``"429"`` (random), ``"5xx"`` (random), ``"concurrency"`` (cap exceeded),
        ``"forced"`` (from ``fail_next``).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Zero everything."""
        self.requests: Counter[str] = Counter()
        self.executed: Counter[str] = Counter()
        self.creates: Counter[str] = Counter()
        self.analyses: Counter[str] = Counter()
        self.analysis_reuses: Counter[str] = Counter()
        self.post_processes: Counter[str] = Counter()
        self.jobs_done: Counter[str] = Counter()
        self.responses: Counter[int] = Counter()
        self.injected: Counter[str] = Counter()
        self.drops = 0

    @property
    def injected_429(self) -> int:
        """429 answers injected at random (``rate_429``) plus those over the concurrency cap."""
        return self.injected["429"] + self.injected["concurrency"]

    @property
    def injected_5xx(self) -> int:
        """5xx answers injected at random (``rate_5xx``)."""
        return self.injected["5xx"]

    @property
    def total_analyses(self) -> int:
        """All charged analyses."""
        return sum(self.analyses.values())

    def snapshot(self) -> dict[str, Any]:
        """A JSON-safe copy."""
        return {
            "requests": dict(self.requests),
            "executed": dict(self.executed),
            "creates": dict(self.creates),
            "analyses": dict(self.analyses),
            "analysis_reuses": dict(self.analysis_reuses),
            "post_processes": dict(self.post_processes),
            "jobs_done": dict(self.jobs_done),
            "responses": {str(k): v for k, v in sorted(self.responses.items())},
            "drops": self.drops,
            "injected": dict(self.injected),
        }

    def __repr__(self) -> str:
        return (f"Counters(requests={sum(self.requests.values())}, executed={sum(self.executed.values())}, "
                f"creates={dict(self.creates)}, analyses={self.total_analyses}, drops={self.drops}, "
                f"injected={dict(self.injected)})")
