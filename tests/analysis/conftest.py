"""Shared inputs for the analysis tests: hand-built API session objects of both dialects, and the demo org."""

from __future__ import annotations

import datetime as dt
import pathlib

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere in these tests: no display, deterministic output

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from ttai_notebook.models import parse_datetime  # noqa: E402

ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts" / "charts"

SCN_A = "69574d1380fd29548dc34979"  # rubric: Rapport, Discovery, Closing
SCN_B = "6959f0d9a1bbc7f398535245"  # rubric: Empathy, Ownership


def spec_session(
    sid: str,
    *,
    email: str = "ana@example.com",
    name: str | None = "Ana Lima",
    scenario: str = SCN_A,
    scenario_name: str = "Cold Call",
    status: str = "completed",
    created: str = "2026-03-04T10:00:00.250000",
    duration: float | None = 330.0,
    final: float | None = 7.4,
    topics: list[tuple[str, float | None, str | None]] | None = None,
    metadata: dict | None = None,
    id_key: str = "id",
) -> dict:
    """A session as the spec's PublicSessionResponse shapes it (naive timestamps, 0–10 scores, markdown)."""
    data: dict = {
        id_key: sid,
        "scenario_id": scenario,
        "scenario_name": scenario_name,
        "status": status,
        "user_email": email,
        "user_name": name,
        "created_at": created,
        "completed_at": None
        if status == "active"
        else (parse_datetime(created) + dt.timedelta(seconds=duration or 300)).isoformat(),
        "duration": duration,
        "metadata": {"team": "North"} if metadata is None else metadata,
        "finalized_transcript": "[00:01] AI: Hello\n\n[00:03] User: Hi",
    }
    if final is not None:
        if topics is None:
            topics = [("Rapport", 8, None), ("Discovery", 6.5, None), ("Closing", 7, None)]
        data["evaluation_results"] = {
            "overall_score": f"{round(final)}/10",
            "final_score": final,
            "strengths": "- **Rapport**: warm opener\n- Asked open questions",
            "weaknesses": "1. Slow down when explaining pricing\n2. Confirm the next steps",
            "detailed_feedback": "Good call overall.",
            "report_card": [
                {"topic": t, "score": s, "score_str": text, "note": f"note on {t}", "weight": 100 / len(topics),
                 "requires_video": False}
                for t, s, text in topics
            ],
        }
        data["improvement_results"] = {"improvement_areas": "- Pace", "action_items": "1. Practise the close"}
    return data


def documented_session(sid: str, score: float = 85, **kwargs) -> dict:
    """A session whose analysis is the documented dialect's body ``{overall_score, strengths, improvements}``."""
    data = spec_session(sid, final=None, **kwargs)
    data["analysis"] = {
        "overall_score": score,
        "strengths": ["Clear agenda", "Asked open questions"],
        "improvements": ["Slow down"],
    }
    return data


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def demo_sessions():
    """Every session of the sandbox's deterministic demo organisation (as models)."""
    import ttai_notebook as tt

    client = tt.Client.sandbox(seed=0)
    return list(client.sessions.list())


@pytest.fixture(scope="session")
def artifacts() -> pathlib.Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
