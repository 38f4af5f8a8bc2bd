"""Shared benchmark machinery: timing (median of N, interleaved with the baseline), peak memory, growth
fits, and the result table. Every figure is a ratio measured in one run, never an absolute time."""

from __future__ import annotations

import gc
import math
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

__all__ = [
    "Row",
    "Timings",
    "interleaved",
    "timed",
    "peak_memory",
    "growth_exponent",
    "fmt_s",
    "fmt_bytes",
    "print_table",
    "SIZES",
]

#: "full" is what ``python -m bench`` measures; "tiny" is what the smoke test runs so the code cannot rot.
SIZES = ("full", "tiny")


@dataclass
class Row:
    """One line of the result table.

    ``ratio`` is figure ÷ baseline (or ÷ limit) measured in the same run; ``ok`` is None when the line is
    informational (no target), True/False otherwise.
    """

    number: str
    name: str
    figure: str
    baseline: str
    ratio: float | None
    target: str
    ok: bool | None
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "info" if self.ok is None else ("PASS" if self.ok else "FAIL")


@dataclass
class Timings:
    """Wall-clock seconds of each repetition; ``median`` is what the table uses."""

    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """(max - min) / median: how noisy the repetitions were."""
        return (max(self.samples) - min(self.samples)) / self.median if self.median else 0.0


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once: (seconds, its return value). The garbage collector runs before, not during."""
    gc.collect()
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def interleaved(
    contenders: dict[str, Callable[[], Any]],
    repeat: int,
    *,
    setup: Callable[[str], Any] | None = None,
    warmup: int = 0,
) -> dict[str, Timings]:
    """Time each contender ``repeat`` times, alternating them (A B A B ...) so that a noisy neighbour on
    the shared machine slows both sides alike. ``setup(name)`` runs untimed before each call."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for i in range(warmup + repeat):
        for name, fn in contenders.items():
            if setup is not None:
                setup(name)
            seconds, _ = timed(fn)
            if i >= warmup:
                samples[name].append(seconds)
    return {name: Timings(s) for name, s in samples.items()}


def peak_memory(fn: Callable[[], Any]) -> tuple[int, Any]:
    """(peak bytes allocated by Python while ``fn`` ran, its return value), measured with tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        value = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base, value


def growth_exponent(sizes: Sequence[float], seconds: Sequence[float]) -> float:
    """Least-squares slope of log(time) against log(size): 1.0 is linear, 2.0 quadratic."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(max(t, 1e-9)) for t in seconds]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    den = sum((x - mx) ** 2 for x in xs)
    return num / den if den else float("nan")


def describe_growth(exponent: float) -> str:
    """Plain words for a growth exponent."""
    if exponent < 0.85:
        return "sub-linear (fixed costs dominate at the small end)"
    if exponent <= 1.15:
        return "linear"
    if exponent <= 1.4:
        return "slightly super-linear"
    return "super-linear"


def fmt_s(seconds: float) -> str:
    """Seconds for humans: 12.5 µs, 0.80 ms, 41 ms, 1.32 s."""
    if seconds < 0.001:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 0.01:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def fmt_bytes(n: float) -> str:
    """Bytes for humans: 812 KiB, 41.3 MiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit in ("B", "KiB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover - unreachable


def _cells(row: Row) -> list[str]:
    ratio = "—" if row.ratio is None else f"{row.ratio:.2f}×"
    return [row.number, row.name, row.figure, row.baseline, ratio, row.target, row.verdict]


def print_table(rows: Sequence[Row], out: TextIO, *, notes: bool = True) -> None:
    """The result table (plain text, fixed width), then each row's notes."""
    header = ["#", "benchmark", "figure", "baseline / limit", "ratio", "target", "result"]
    table = [header] + [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    rule = "-+-".join("-" * w for w in widths)

    def line(cells: list[str]) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    out.write(line(header) + "\n" + rule + "\n")
    for cells in table[1:]:
        out.write(line(cells) + "\n")
    if notes:
        noted = [r for r in rows if r.notes]
        if noted:
            out.write("\nnotes:\n")
            for r in noted:
                for n in r.notes:
                    out.write(f"  [{r.number}] {n}\n")
