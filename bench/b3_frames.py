"""Benchmark 3: ``sessions_frame`` + ``report_card_frame`` for 20 000 sessions × 6 topics, against
``pd.json_normalize`` of the raw dicts plus an explode of the report cards (time, and
``memory_usage(deep=True)`` of the frames each produces)."""

from __future__ import annotations

import gc
from typing import Any

from ._data import TOPICS, session_dicts
from ._util import Row, describe_growth, fmt_bytes, fmt_s, growth_exponent, interleaved, peak_memory, timed

__all__ = ["run", "scaling", "baseline_frames", "toolkit_frames"]

SIZES = {"full": 20_000, "tiny": 300}
SCALING = (2_000, 20_000, 200_000)
TARGET_TIME = 1.0
TARGET_MEMORY = 0.6


def baseline_frames(raw: list[dict[str, Any]]) -> tuple[Any, Any]:
    """The obvious pandas code: flatten everything, explode the report cards, flatten those."""
    import pandas as pd

    df = pd.json_normalize(raw)
    card_col = "evaluation_results.report_card"
    cards = df[["id", "scenario_id", "user_email", card_col]].explode(card_col).dropna(subset=[card_col])
    topics = pd.json_normalize(cards[card_col].tolist())
    report = pd.concat([cards.drop(columns=card_col).reset_index(drop=True), topics], axis=1)
    return df, report


def toolkit_frames(sessions: Any) -> tuple[Any, Any]:
    """What an analyst writes: both frames from the sessions they listed."""
    import ttai_notebook as tt

    return tt.sessions_frame(sessions), tt.report_card_frame(sessions)


def toolkit_from_raw(raw: list[dict[str, Any]]) -> tuple[Any, Any]:
    """Both frames from raw dicts, converted to models once (the costly step is ``Session.from_api``)."""
    from ttai_notebook.frames import as_sessions

    return toolkit_frames(as_sessions(raw))


def _count(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _deep(frames: tuple[Any, Any]) -> int:
    return int(sum(f.memory_usage(deep=True).sum() for f in frames))


def _models(raw: list[dict[str, Any]]) -> list[Any]:
    from ttai_notebook.frames import as_sessions

    return as_sessions(raw)


def run(size: str = "full") -> list[Row]:
    """Time and memory of the toolkit's frames vs the json_normalize baseline, from the same sessions."""
    n = SIZES[size]
    repeat = 3 if size == "full" else 1
    raw = session_dicts(n)
    sessions = _models(raw)  # what client.sessions.list() hands the analyst (its cost is benchmark 2's)
    ours_frames, base_frames = toolkit_frames(sessions), baseline_frames(raw)
    rows_ours = (len(ours_frames[0]), len(ours_frames[1]))
    rows_base = (len(base_frames[0]), len(base_frames[1]))
    if rows_ours != rows_base:
        raise RuntimeError(f"the frames disagree on row counts: toolkit {rows_ours}, baseline {rows_base}")
    mem_ours, mem_base = _deep(ours_frames), _deep(base_frames)
    del ours_frames, base_frames
    times = interleaved({"baseline": lambda: baseline_frames(raw), "toolkit": lambda: toolkit_frames(sessions)}, repeat)
    raw_time, _ = timed(lambda: toolkit_from_raw(raw))
    peak_ours, _ = peak_memory(lambda: toolkit_frames(sessions))
    peak_base, _ = peak_memory(lambda: baseline_frames(raw))
    gc.collect()
    base, ours = times["baseline"].median, times["toolkit"].median
    ratio_t, ratio_m = ours / base, mem_ours / mem_base
    notes = [
        f"{n} sessions, {rows_ours[1]} report-card rows ({TOPICS} topics per analysed, completed session); "
        f"medians of {repeat} alternated runs: baseline {fmt_s(base)}, toolkit {fmt_s(ours)} (from Session models, "
        "as client.sessions.list() returns them; building the models is charged to benchmark 2)",
        f"frames' memory_usage(deep=True): toolkit {fmt_bytes(mem_ours)} vs baseline {fmt_bytes(mem_base)}; "
        f"tracemalloc peak while building: toolkit {fmt_bytes(peak_ours)}, baseline {fmt_bytes(peak_base)} "
        f"({peak_ours / peak_base:.2f}×)",
        f"from the raw dicts instead (Session.from_api once, then both frames): {fmt_s(raw_time)} = "
        f"{raw_time / base:.2f}× the baseline — the models' normalisation is the cost (see row 3b)",
    ]
    return [
        Row(
            "3",
            f"sessions_frame + report_card_frame, {_count(n)} sessions × {TOPICS}",
            f"{fmt_s(ours)}, {fmt_bytes(mem_ours)}",
            f"json_normalize {fmt_s(base)}, {fmt_bytes(mem_base)}",
            ratio_t,
            f"≤ {TARGET_TIME}× time; ≤ {TARGET_MEMORY}× memory ({ratio_m:.2f}×)",
            ratio_t <= TARGET_TIME and ratio_m <= TARGET_MEMORY,
            notes,
            {"time": times["toolkit"].samples, "baseline": times["baseline"].samples, "memory_ratio": ratio_m},
        ),
        Row(
            "3b",
            "  same, from raw dicts (incl. Session.from_api)",
            fmt_s(raw_time),
            f"json_normalize {fmt_s(base)}",
            raw_time / base,
            "info",
            None,
        ),
    ]


def scaling(size: str = "full") -> list[Row]:
    """Both frames at 2 000 / 20 000 / 200 000 sessions (from models) and the baseline: growth exponents."""
    sizes = SCALING if size == "full" else (100, 200, 400)
    ours_t, base_t, memory = [], [], []
    for n in sizes:
        raw = session_dicts(n)
        sessions = _models(raw)
        memory.append(_deep(toolkit_frames(sessions)) / _deep(baseline_frames(raw)))
        repeat = 3 if n <= 20_000 else 1
        times = interleaved(
            {"baseline": lambda r=raw: baseline_frames(r), "toolkit": lambda s=sessions: toolkit_frames(s)}, repeat
        )
        ours_t.append(times["toolkit"].median)
        base_t.append(times["baseline"].median)
        del raw, sessions
        gc.collect()
    e_ours, e_base = growth_exponent(sizes, ours_t), growth_exponent(sizes, base_t)
    rows = [
        Row("S3", f"frames, {n} sessions", fmt_s(t), f"json_normalize {fmt_s(b)}", t / b, f"per session {fmt_s(t / n)}",
            None)
        for n, t, b in zip(sizes, ours_t, base_t)
    ]
    rows[-1].notes.append(
        f"frames growth exponent {e_ours:.2f} ({describe_growth(e_ours)}); baseline {e_base:.2f} "
        f"({describe_growth(e_base)}) over {sizes} sessions; memory ratio (deep) "
        + ", ".join(f"{m:.2f}×" for m in memory)
    )
    return rows
