"""Background work of the sandbox (post-process analyses, imports) on a controllable clock, the way moto
controls state transitions: immediate, after a delay, or only when a test calls ``advance``. No threads —
due jobs are applied lazily by the state at the start of each request."""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from dataclasses import dataclass, field

__all__ = ["BACKGROUND_MODES", "DEFAULT_PROCESSING_TIME", "BackgroundClock", "Job", "JobQueue"]

#: ``auto``: the clock follows ``time.monotonic()`` (plus any ``advance``); ``manual``: it moves only on ``advance``.
BACKGROUND_MODES = ("auto", "manual")
#: Seconds a background job takes by default: short, so ``analyze`` simply works, yet a real poll is needed.
DEFAULT_PROCESSING_TIME = 1.5


class BackgroundClock:
    """The clock background jobs are due on.

    Parameters
    ----------
    mode : {"auto", "manual"}
        ``auto``: ``time.monotonic() + offset``; ``manual``: ``offset`` alone.

    Examples
    --------
    >>> clock = BackgroundClock("manual")
    >>> clock.now()
    0.0
    >>> clock.advance(2.5)
    >>> clock.now()
    2.5
    """

    def __init__(self, mode: str = "auto") -> None:
        check_mode(mode)
        self.mode = mode
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds on the background clock (only differences matter)."""
        if self.mode == "manual":
            return self._offset
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward (in both modes), so tests never sleep for real."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError(f"seconds must be a number >= 0, got {seconds!r}")
        with self._lock:
            self._offset += float(seconds)

    def reset(self) -> None:
        """Offset back to zero."""
        with self._lock:
            self._offset = 0.0

    def __repr__(self) -> str:
        return f"BackgroundClock(mode={self.mode!r}, offset={self._offset:g})"


def check_mode(mode: object) -> None:
    """Raise ``ValueError`` unless ``mode`` is one of :data:`BACKGROUND_MODES`."""
    if mode not in BACKGROUND_MODES:
        raise ValueError(f"background must be one of {', '.join(map(repr, BACKGROUND_MODES))}; got {mode!r}")


def check_processing_time(seconds: object) -> float:
    """``seconds`` as a float, or ``ValueError`` unless it is a number >= 0."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError(f"processing_time must be a number of seconds >= 0, got {seconds!r}")
    return float(seconds)


@dataclass(order=True)
class Job:
    """One piece of background work on one session, due at ``due`` on the background clock.

    ``kind`` is ``"analysis"`` or ``"extraction"``; ``seq`` keeps jobs due at the same moment in the order
    they were queued.
    """

    due: float
    seq: int
    kind: str = field(compare=False)
    session_id: str = field(compare=False)


class JobQueue:
    """Pending jobs ordered by due time (a heap). Not thread-safe: the state's lock guards it."""

    def __init__(self) -> None:
        self._heap: list[Job] = []
        self._seq = itertools.count()

    def push(self, due: float, kind: str, session_id: str) -> Job:
        """Queue a job; returns it."""
        job = Job(due, next(self._seq), kind, session_id)
        heapq.heappush(self._heap, job)
        return job

    def pop_due(self, now: float) -> list[Job]:
        """Remove and return the jobs due at ``now`` or earlier, oldest first."""
        out: list[Job] = []
        heap = self._heap
        while heap and heap[0].due <= now:
            out.append(heapq.heappop(heap))
        return out

    def next_due(self) -> float | None:
        """When the earliest pending job is due, or None."""
        return self._heap[0].due if self._heap else None

    def pending_for(self, session_id: str) -> int:
        """Jobs still pending for one session."""
        return sum(1 for job in self._heap if job.session_id == session_id)

    def clear(self) -> None:
        """Drop every pending job."""
        self._heap.clear()

    def __len__(self) -> int:
        return len(self._heap)

    def __bool__(self) -> bool:
        return bool(self._heap)
