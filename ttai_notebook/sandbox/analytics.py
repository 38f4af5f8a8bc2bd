"""``GET /v2/analytics`` computed from the sandbox's data: the spec's ``UnifiedAnalyticsResponse``
(scenario stats; for the org view also the dashboard — daily time series, usage summary, wallet balance —
and member usage). A pure function of records and a window."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from .clock import format_ts
from .records import COMPLETED, ScenarioRecord, SessionRecord

__all__ = ["DEFAULT_WINDOW_DAYS", "MAX_WINDOW_DAYS", "build_analytics"]

#: The service's default window: 90 days up to now.
DEFAULT_WINDOW_DAYS = 90
#: Longer windows are refused (one time-series row per day).
MAX_WINDOW_DAYS = 3660


def _minutes(rec: SessionRecord) -> float:
    return (rec.duration or 0.0) / 60.0


def build_analytics(scenarios: Iterable[ScenarioRecord], sessions: Iterable[SessionRecord], *, start: datetime,
                    end: datetime, org_wide: bool, wallet_balance: float) -> dict[str, Any]:
    """The analytics answer for sessions created in ``[start, end]``.

    Parameters
    ----------
    scenarios, sessions
        What the caller may see (personal: the user's scenarios; org view: the organisation's).
    start, end : datetime
        Aware UTC bounds, both inclusive.
    org_wide : bool
        Add ``org_dashboard`` and ``member_usage`` (else both are None).
    wallet_balance : float
        The organisation's available minutes.
    """
    in_window = [s for s in sessions if start <= s.created_at <= end]
    per_scenario: dict[str, list[float]] = {}
    for s in in_window:
        acc = per_scenario.setdefault(s.scenario_id, [0, 0.0])
        acc[0] += 1
        acc[1] += s.duration or 0.0
    stats = []
    for sc in sorted(scenarios, key=lambda x: x.created_at, reverse=True):
        count, seconds = per_scenario.get(sc.id, [0, 0.0])
        stats.append({
            "_id": sc.id, "name": sc.name, "created_at": format_ts(sc.created_at), "is_public": sc.is_public,
            "session_count": int(count), "total_duration_seconds": round(float(seconds), 1),
            "description": sc.description, "is_recording": sc.is_recording, "is_featured": False,
            "starts_at": sc.extra.get("starts_at"), "ends_at": sc.extra.get("ends_at"),
        })
    body: dict[str, Any] = {"scenarios": stats, "org_dashboard": None, "member_usage": None}
    if not org_wide:
        return body

    days: dict[date, list[float]] = {}
    day = start.date()
    while day <= end.date():  # every day of the window, so a chart has no gaps
        days[day] = [0, 0.0]
        day += timedelta(days=1)
    members: dict[str, dict[str, Any]] = {}
    completed = 0
    total_minutes = 0.0
    for s in in_window:
        minutes = _minutes(s)
        total_minutes += minutes
        completed += s.status == COMPLETED
        row = days.get(s.created_at.date())
        if row is not None:
            row[0] += 1
            row[1] += minutes
        m = members.setdefault(s.user_id, {"user_id": s.user_id, "name": s.user_name or "", "email": s.user_email or "",
                                           "session_count": 0, "total_minutes": 0.0, "wallet_balance": 0.0})
        m["session_count"] += 1
        m["total_minutes"] += minutes
    ranked = sorted(members.values(), key=lambda m: (-m["total_minutes"], m["user_id"]))
    for m in ranked:
        m["total_minutes"] = round(m["total_minutes"], 2)
    body["org_dashboard"] = {
        "summary": {"total_sessions": len(in_window), "completed_sessions": completed,
                    "total_minutes": round(total_minutes, 2), "wallet_balance": round(float(wallet_balance), 2)},
        "usage_by_member": [{"user_id": m["user_id"], "total_minutes": m["total_minutes"],
                             "session_count": m["session_count"]} for m in ranked],
        "time_series": [{"date": d.isoformat(), "session_count": int(c), "total_minutes": round(mins, 2)}
                        for d, (c, mins) in days.items()],
    }
    body["member_usage"] = {"members": ranked}
    return body
