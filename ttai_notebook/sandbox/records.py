"""The sandbox's stored objects: scenario and session records (plain data, no HTTP).
Demo sessions build their transcript and analysis lazily, so a 100 000-session org is cheap."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["ScenarioRecord", "SessionRecord", "IN_PROGRESS", "COMPLETED", "TERMINATED"]

IN_PROGRESS = "in_progress"
COMPLETED = "completed"
TERMINATED = "terminated"


@dataclass(slots=True)
class ScenarioRecord:
    """A stored scenario. ``rubric`` is a list of ``{topic, weight, prompt, requires_video}``."""

    id: str
    name: str
    ai_instructions: str
    created_at: datetime
    updated_at: datetime
    created_by: str
    description: str | None = None
    user_friendly_description: str | None = None
    is_public: bool = True
    is_recording: bool = False
    session_analysis: dict[str, Any] | None = None
    type: str = "default"
    rubrik: str | None = None
    rubric: list[dict[str, Any]] = field(default_factory=list)
    rubric_user_set: bool = False
    user_metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SessionRecord:
    """A stored session.

    ``status`` is canonical (``in_progress``, ``completed``, ``terminated``); the wire layer writes it
    per dialect. ``analyzed`` says results exist; for demo sessions they are computed on first read
    from the (also lazily built) transcript, so they are the same whenever they are read.
    """

    id: str
    scenario_id: str
    scenario_name: str
    status: str
    created_at: datetime
    updated_at: datetime
    user_id: str
    user_email: str | None = None
    user_name: str | None = None
    metadata: dict[str, Any] | None = None
    user_metadata: dict[str, Any] | None = None
    completed_at: datetime | None = None
    duration: float | None = None
    last_evaluated_at: datetime | None = None
    analyzed: bool = False
    transcript: str | None = None
    # (seed, index, scenario_key, skill, status, trainee first name, duration, short) for demo sessions
    transcript_gen: tuple[Any, ...] | None = None
    rubric: list[dict[str, Any]] | None = None
    evaluation: dict[str, Any] | None = None
    improvement: dict[str, Any] | None = None
    # Analyses applied so far (a demo session's lazily computed results count as the first).
    analysis_runs: int = 0
    extraction: dict[str, Any] | None = None

    def get_transcript(self) -> str | None:
        """The transcript, built (once) from the demo generator when the session is a demo one."""
        if self.transcript is None and self.transcript_gen is not None:
            from .demo_data import build_transcript  # local: demo_data imports this module

            self.transcript = build_transcript(*self.transcript_gen)
        return self.transcript

    def results(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """``(evaluation, improvement)``, computing them for a demo session on first read."""
        if not self.analyzed:
            return None, None
        if self.evaluation is None:
            from .scoring import analyze_transcript

            self.evaluation, self.improvement = analyze_transcript(self.get_transcript(), self.rubric)
        return self.evaluation, self.improvement
