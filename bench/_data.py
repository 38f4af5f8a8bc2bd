"""Raw session dicts for the frame and store benchmarks: the sandbox's own wire shape (``GET /sessions``
items, documented dialect), scored on a six-topic rubric, for any number of sessions."""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["session_dicts", "TOPICS", "POOL"]

TOPICS = 6
#: Distinct sessions actually scored by the sandbox; larger sets repeat them under new ids and times.
POOL = 3000
_EXTRA_TOPIC = {"topic": "Professional tone", "weight": 10.0,
                "prompt": "Stays calm, polite and professional throughout.", "requires_video": False}


@functools.lru_cache(maxsize=1)
def _pool() -> tuple[dict[str, Any], ...]:
    # Sandbox internals on purpose: the demo scenarios have five rubric topics and the benchmark asks for
    # six, so each record is re-scored on its scenario's rubric plus one topic, then written as the wire does.
    from ttai_notebook.sandbox import Sandbox, wire
    from ttai_notebook.sandbox.scoring import analyze_transcript

    sandbox = Sandbox(seed=0, sessions=POOL)
    state = sandbox.state
    names = {sid: s.name for sid, s in state.scenarios.items()}
    out = []
    for rec in state.sessions.values():
        if rec.analyzed:
            base = [dict(r, weight=float(r["weight"]) * 0.9) for r in (rec.rubric or [])]
            rubric = base + [_EXTRA_TOPIC]
            rec.evaluation, rec.improvement = analyze_transcript(rec.get_transcript(), rubric)
            assert len(rec.evaluation["report_card"]) == TOPICS
        out.append(wire.session_summary(rec, "documented", names.get(rec.scenario_id)))
    return tuple(out)


def session_dicts(n: int) -> list[dict[str, Any]]:
    """``n`` raw session dicts with unique ids. Beyond :data:`POOL` the pool repeats under new ids (the first
    four hex digits count the repetition); nested values are shared between repeats, which nothing reading
    them can tell apart (every consumer here copies or only reads)."""
    pool = _pool()
    size = len(pool)
    out = []
    for i in range(n):
        item = pool[i % size]
        rep = i // size
        out.append(dict(item, id=f"{rep:04x}{item['id'][4:]}") if rep else dict(item))
    return out
