"""Time and identity for the sandbox: the fixed demo "now", deterministic or wall clocks,
timestamps written the way the service writes them, and seeded 24-hex ids."""
from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

__all__ = [
    "DEMO_NOW",
    "CLOCK_STEP",
    "DeterministicClock",
    "RealClock",
    "IdGenerator",
    "format_ts",
    "parse_ts",
]

#: The fixed "now" of the demo organisation (tz-aware UTC). Demo sessions all happen before it;
#: objects created during a run with the deterministic clock get timestamps after it.
DEMO_NOW = datetime(2026, 5, 15, 9, 0, 0, tzinfo=timezone.utc)

#: How far the deterministic clock advances per mutation. The odd microseconds make written
#: timestamps carry a fractional part, as the service's do.
CLOCK_STEP = timedelta(seconds=2, microseconds=500_000)


def format_ts(dt: datetime) -> str:
    """Write a timestamp as the service does: naive UTC ISO-8601 with microseconds.

    Parameters
    ----------
    dt : datetime
        Aware (converted to UTC) or naive (taken as UTC).

    Examples
    --------
    >>> format_ts(DEMO_NOW)
    '2026-05-15T09:00:00.000000'
    """
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt.isoformat(timespec="microseconds")


def parse_ts(text: str) -> datetime:
    """Parse an ISO-8601 timestamp or date; naive values are UTC. Returns an aware UTC datetime.

    Raises
    ------
    ValueError
        If ``text`` is not ISO-8601.
    """
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    dt = datetime.fromisoformat(raw)
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


class DeterministicClock:
    """A clock that starts at ``start`` and advances ``step`` each time :meth:`tick` is called.

    Re-running the same notebook therefore writes the same timestamps.
    """

    def __init__(self, start: datetime = DEMO_NOW, step: timedelta = CLOCK_STEP) -> None:
        self._start = start
        self._step = step
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current time without advancing."""
        return self._now

    def tick(self) -> datetime:
        """Advance by one step (a mutation happened) and return the new time."""
        with self._lock:
            self._now = self._now + self._step
            return self._now

    def reset(self) -> None:
        """Back to the start."""
        with self._lock:
            self._now = self._start

    def __repr__(self) -> str:
        return f"DeterministicClock(now={format_ts(self._now)!r})"


class RealClock:
    """Wall-clock time in UTC (``Sandbox(clock="real")``)."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(timezone.utc)

    def tick(self) -> datetime:
        """The current UTC time (wall time advances by itself)."""
        return datetime.now(timezone.utc)

    def reset(self) -> None:
        """Nothing to reset."""

    def __repr__(self) -> str:
        return "RealClock()"


class IdGenerator:
    """Seeded generator of MongoDB-style ids: 8 hex of creation time, then 16 seeded hex.

    Parameters
    ----------
    seed : int
        Same seed, same sequence of ids.
    stream : str
        Separates independent sequences drawn from one seed.
    """

    def __init__(self, seed: int, stream: str = "ids") -> None:
        self._key = f"ttai-sandbox/{seed}/{stream}"
        self._rng = random.Random(self._key)
        self._lock = threading.Lock()

    def new_id(self, at: datetime) -> str:
        """A fresh 24-hex id whose leading 8 hex digits encode ``at`` (as an ObjectId does)."""
        with self._lock:
            tail = self._rng.getrandbits(64)
        return f"{int(at.timestamp()) & 0xFFFFFFFF:08x}{tail:016x}"

    def token_hex(self, nbytes: int) -> str:
        """``nbytes`` seeded random bytes as hex (for scenario access tokens)."""
        with self._lock:
            return f"{self._rng.getrandbits(8 * nbytes):0{2 * nbytes}x}"

    def reset(self) -> None:
        """Restart the sequence."""
        with self._lock:
            self._rng = random.Random(self._key)
