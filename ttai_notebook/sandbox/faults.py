"""Fault injection for the sandbox: latency, random 429 / 5xx / dropped connections (seeded),
a concurrency cap, and one-shot forced failures. Decisions only; the app applies them."""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass, fields, replace
from typing import Any

from .urls import API_PREFIX

__all__ = ["FaultConfig", "ForcedFault", "FaultInjector"]


@dataclass(frozen=True)
class FaultConfig:
    """Fault settings (all off by default).

    Parameters
    ----------
    latency : float
        Seconds added to every API request.
    jitter : float
        Up to this many extra seconds, uniformly at random.
    rate_429 : float
        Share (0–1) of API requests answered 429 with ``Retry-After`` (not executed).
    retry_after : float
        Seconds written in ``Retry-After``.
    rate_5xx : float
        Share (0–1) of API requests answered 500/502/503 (not executed).
    rate_drop : float
        Share (0–1) of API requests executed and then left without a response (connection closed).
    concurrency_cap : int or None
        Requests in flight above this are answered 429.
    """

    latency: float = 0.0
    jitter: float = 0.0
    rate_429: float = 0.0
    retry_after: float = 1
    rate_5xx: float = 0.0
    rate_drop: float = 0.0
    concurrency_cap: int | None = None

    def __post_init__(self) -> None:
        for name in ("latency", "jitter", "retry_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
        for name in ("rate_429", "rate_5xx", "rate_drop"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a share between 0 and 1, got {value!r}")
        cap = self.concurrency_cap
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ValueError(f"concurrency_cap must be None or an integer >= 1, got {cap!r}")

    @property
    def retry_after_header(self) -> str:
        """``Retry-After`` as written: whole seconds when integral."""
        value = float(self.retry_after)
        return str(int(value)) if value.is_integer() else f"{value:g}"


@dataclass
class ForcedFault:
    """A one-shot failure queued by ``fail_next``."""

    status: int
    remaining: int
    route: str | None
    drop: bool
    after_execute: bool

    def matches(self, method: str, pattern: str, path: str) -> bool:
        """Whether this fault applies to a request (``route`` None matches every route)."""
        if self.route is None:
            return True
        want_method, _, want_path = self.route.strip().partition(" ")
        if not want_path:  # only a path was given
            want_method, want_path = "", want_method
        if want_method and want_method.upper() != method:
            return False
        want_path = want_path.strip()
        if want_path.startswith(API_PREFIX):
            want_path = want_path[len(API_PREFIX):]
        return want_path in (pattern, path)


FAULT_NAMES = tuple(f.name for f in fields(FaultConfig))


class FaultInjector:
    """Seeded fault decisions plus the queue of forced failures. Thread-safe."""

    def __init__(self, seed: int, config: FaultConfig | None = None) -> None:
        self._seed = seed
        self.config = config or FaultConfig()
        self._lock = threading.Lock()
        self._rng = random.Random(f"ttai-sandbox/{seed}/faults")
        self._forced: list[ForcedFault] = []

    def set(self, **changes: Any) -> FaultConfig:
        """Change some settings (names as :class:`FaultConfig`); returns the new configuration."""
        unknown = sorted(set(changes) - set(FAULT_NAMES))
        if unknown:
            raise TypeError(f"unknown fault setting(s) {unknown}; allowed: {', '.join(FAULT_NAMES)}")
        with self._lock:
            self.config = replace(self.config, **changes)
            return self.config

    def fail_next(self, status: int = 500, *, count: int = 1, route: str | None = None, drop: bool = False,
                  after_execute: bool = False) -> None:
        """Queue ``count`` forced failures (see :meth:`Sandbox.fail_next`)."""
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error code 400–599, got {status!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be an integer >= 1, got {count!r}")
        if route is not None and (not isinstance(route, str) or not route.strip()):
            raise ValueError(f"route must be None or a route like 'POST /scenarios', got {route!r}")
        with self._lock:
            self._forced.append(ForcedFault(status, count, route, drop, after_execute))

    def take_forced(self, method: str, pattern: str, path: str, *, control: bool = False) -> ForcedFault | None:
        """Consume one matching forced failure, if any. A sandbox control route (``control``) is only
        hit by a fault that names it."""
        with self._lock:
            for fault in self._forced:
                if control and fault.route is None:
                    continue
                if fault.matches(method, pattern, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._forced.remove(fault)
                    return fault
        return None

    @property
    def pending(self) -> int:
        """Forced failures still queued."""
        with self._lock:
            return sum(f.remaining for f in self._forced)

    def delay(self) -> float:
        """Seconds to wait before answering."""
        cfg = self.config
        if cfg.jitter <= 0:
            return float(cfg.latency)
        with self._lock:
            return float(cfg.latency) + cfg.jitter * self._rng.random()

    def _roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def roll_429(self) -> bool:
        """Answer this request 429?"""
        return self._roll(self.config.rate_429)

    def roll_5xx(self) -> int | None:
        """A 5xx status to answer with, or None."""
        if not self._roll(self.config.rate_5xx):
            return None
        with self._lock:
            return self._rng.choice((500, 502, 503))

    def roll_drop(self) -> bool:
        """Drop the connection after executing this request?"""
        return self._roll(self.config.rate_drop)

    def reset(self) -> None:
        """Re-seed the randomness and clear forced failures (settings are kept)."""
        with self._lock:
            self._rng = random.Random(f"ttai-sandbox/{self._seed}/faults")
            self._forced.clear()
