"""HTML cards for Scenario, Session and Analysis, shown by the models' ``_repr_html_``.

Pure string building: every user-supplied string goes through ``html.escape``; colours come from
JupyterLab's ``--jp-*`` CSS variables (with neutral fallbacks), so the cards read well in light and dark themes.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "render_analysis",
    "render_scenario",
    "render_session",
    "score_band",
    "is_simulated",
    "format_duration",
]

# Translucent greys and theme variables only: a fixed dark text colour would vanish on a dark theme.
_CARD = (
    "font-family:var(--jp-ui-font-family,system-ui,-apple-system,'Segoe UI',sans-serif);"
    "font-size:var(--jp-ui-font-size1,13px);line-height:1.45;"
    "color:var(--jp-content-font-color1,inherit);"
    "background:var(--jp-layout-color1,transparent);"
    "border:1px solid var(--jp-border-color2,rgba(127,127,127,.35));"
    "border-radius:8px;padding:12px 16px;margin:4px 0;max-width:780px;box-sizing:border-box"
)
_TITLE = "font-size:var(--jp-ui-font-size3,16px);font-weight:600;margin:0 0 2px 0"
_MUTED = "opacity:.72"
_MONO = "font-family:var(--jp-code-font-family,ui-monospace,SFMono-Regular,Menlo,monospace);font-size:.92em"
_SECTION = "font-weight:600;margin:12px 0 4px 0"
_BADGE = (
    "display:inline-block;padding:1px 8px;margin:0 4px 2px 0;border-radius:10px;font-size:.85em;"
    "border:1px solid {color};color:{color};white-space:nowrap"
)
# JupyterLab's rendered-HTML stylesheet right-aligns, stripes and centres tables; inline styles win over it.
_TABLE = "border-collapse:collapse;width:100%;margin:4px 0;font-size:.95em;table-layout:auto;border:none"
_TR = "background:transparent"
_TH = (
    "text-align:left;padding:4px 8px;font-weight:600;background:transparent;"
    "border:none;border-bottom:1px solid var(--jp-border-color1,rgba(127,127,127,.5))"
)
_TD = (
    "text-align:left;padding:4px 8px;vertical-align:top;background:transparent;border:none;"
    "border-bottom:1px solid var(--jp-border-color3,rgba(127,127,127,.2))"
)
_TRACK = "background:rgba(127,127,127,.22);border-radius:5px;overflow:hidden"
_PRE = (
    "white-space:pre-wrap;word-break:break-word;margin:4px 0;padding:8px;border-radius:4px;"
    "background:var(--jp-layout-color2,rgba(127,127,127,.1));max-height:320px;overflow:auto;"
    "font-family:var(--jp-code-font-family,ui-monospace,monospace);font-size:.9em"
)

_GOOD = "var(--jp-success-color1,#2e8540)"
_FAIR = "var(--jp-warn-color1,#c77c02)"
_POOR = "var(--jp-error-color1,#d13b3b)"
_NEUTRAL = "var(--jp-brand-color1,#1976d2)"
_GREY = "var(--jp-content-font-color2,rgba(127,127,127,.9))"

_STATUS_COLORS = {
    "completed": _GOOD,
    "in_progress": _NEUTRAL,
    "terminated": _FAIR,
    "failed": _POOR,
    "cancelled": _GREY,
    "archived": _GREY,
}


# --------------------------------------------------------------------------------------------------
# Small pure helpers
# --------------------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def score_band(score: float | None) -> str:
    """``"good"`` (≥ 80), ``"fair"`` (≥ 60), ``"poor"`` (below) or ``"none"`` for a 0–100 score.

    >>> score_band(85), score_band(60), score_band(12.5), score_band(None)
    ('good', 'fair', 'poor', 'none')
    """
    number = _finite(score)
    if number is None:
        return "none"
    if number >= 80:
        return "good"
    if number >= 60:
        return "fair"
    return "poor"


_BAND_COLORS = {"good": _GOOD, "fair": _FAIR, "poor": _POOR, "none": _GREY}


def format_duration(seconds: Any) -> str | None:
    """``754.2`` → ``"12 min 34 s"``; ``None`` or a negative/non-number → ``None``.

    >>> format_duration(754.2), format_duration(42), format_duration(3600)
    ('12 min 34 s', '42 s', '60 min 0 s')
    """
    number = _finite(seconds)
    if number is None or number < 0:
        return None
    total = int(round(number))
    minutes, secs = divmod(total, 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _format_time(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, str) and value:
        return value
    return None


def _format_number(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def _badge(text: str, color: str) -> str:
    return f'<span style="{_BADGE.format(color=color)}">{_e(text)}</span>'


def _safe_href(url: Any) -> str | None:
    """An http(s) URL fit for ``href``; anything else (``javascript:``, relative, junk) is refused."""
    if not isinstance(url, str) or not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def _items(values: Any) -> list[str]:
    if values is None or isinstance(values, (str, bytes)):
        return [str(values)] if isinstance(values, str) and values.strip() else []
    if isinstance(values, Iterable):
        return [str(v) for v in values if v is not None and str(v).strip()]
    return []


def _list_block(title: str, values: Any, marker_color: str, *, empty: str | None = None) -> str:
    items = _items(values)
    if not items and empty is None:
        return ""
    body = (
        "".join(f'<li style="margin:2px 0">{_e(item)}</li>' for item in items)
        if items
        else f'<li style="{_MUTED};list-style:none">{_e(empty)}</li>'
    )
    return (
        f'<div style="flex:1 1 280px;min-width:220px">'
        f'<div style="{_SECTION};color:{marker_color}">{_e(title)}</div>'
        f'<ul style="margin:0;padding-left:20px">{body}</ul></div>'
    )


def _score_gauge(score: Any, score_text: Any = None, *, label: str = "Score") -> str:
    """A big number plus a horizontal bar, coloured by band; accessible as a meter."""
    number = _finite(score)
    band = score_band(number)
    color = _BAND_COLORS[band]
    if number is None:
        shown = _e(score_text) if score_text else "—"
        return (
            f'<div style="display:flex;align-items:baseline;gap:10px;margin:8px 0">'
            f'<span style="font-size:1.6em;font-weight:600">{shown}</span>'
            f'<span style="{_MUTED}">{_e(label)}: no numeric score</span></div>'
        )
    width = max(0.0, min(100.0, number))
    extra = f' <span style="{_MUTED}">({_e(score_text)})</span>' if score_text else ""
    return (
        f'<div style="display:flex;align-items:center;gap:12px;margin:8px 0" role="meter" '
        f'aria-label="{_e(label)}" aria-valuemin="0" aria-valuemax="100" aria-valuenow="{_format_number(width)}">'
        f'<span style="font-size:1.9em;font-weight:700;color:{color};min-width:2.6em">{_format_number(number)}'
        f'<span style="font-size:.5em;font-weight:400;{_MUTED}">/100</span></span>'
        f'<div style="flex:1;max-width:420px">'
        f'<div style="{_TRACK};height:12px"><div data-band="{band}" style="height:100%;width:{width:.1f}%;'
        f'background:{color}"></div></div>'
        f'<div style="font-size:.85em;{_MUTED};margin-top:2px">{_e(label)}{extra}</div></div></div>'
    )


def _mini_bar(score: Any) -> str:
    number = _finite(score)
    if number is None:
        return ""
    width = max(0.0, min(100.0, number))
    color = _BAND_COLORS[score_band(number)]
    return (
        f'<div style="{_TRACK};height:6px;width:90px;display:inline-block;vertical-align:middle;'
        f'margin-left:6px"><div style="height:100%;width:{width:.1f}%;background:{color}"></div></div>'
    )


def _report_card_table(rows: Any) -> str:
    rows = list(rows or ())
    if not rows:
        return ""
    has_weight = any(_finite(getattr(r, "weight", None)) is not None for r in rows)
    has_note = any(getattr(r, "note", None) for r in rows)
    head = f'<th style="{_TH}">Topic</th><th style="{_TH}">Score</th>'
    head += f'<th style="{_TH}">Weight</th>' if has_weight else ""
    head += f'<th style="{_TH}">Note</th>' if has_note else ""
    body = []
    for row in rows:
        score = _finite(getattr(row, "score", None))
        text = getattr(row, "score_text", None)
        if score is not None:
            cell = f'<span style="white-space:nowrap">{_format_number(score)}{_mini_bar(score)}</span>'
        else:
            cell = _e(text) if text else f'<span style="{_MUTED}">—</span>'
        tds = f'<td style="{_TD}">{_e(getattr(row, "topic", "") or "—")}</td><td style="{_TD}">{cell}</td>'
        if has_weight:
            weight = _finite(getattr(row, "weight", None))
            tds += f'<td style="{_TD}">{"" if weight is None else _format_number(weight) + "%"}</td>'
        if has_note:
            tds += f'<td style="{_TD}">{_e(getattr(row, "note", None) or "")}</td>'
        body.append(f'<tr style="{_TR}">{tds}</tr>')
    return (
        f'<div style="{_SECTION}">Report card</div>'
        f'<table style="{_TABLE}"><thead><tr style="{_TR}">{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def is_simulated(analysis: Any) -> bool:
    """The sandbox's heuristic wrote it: feedback starting "Simulated analysis", or the documented-dialect
    body's ``"simulated": true`` (that body has no feedback text)."""
    feedback = getattr(analysis, "detailed_feedback", None)
    if isinstance(feedback, str) and feedback.lstrip().lower().startswith("simulated"):
        return True
    raw = getattr(analysis, "raw", None)
    return isinstance(raw, Mapping) and raw.get("simulated") is True


def _simulated_banner() -> str:
    return (
        f'<div data-ttai="simulated" style="margin:6px 0;padding:4px 10px;border-radius:4px;'
        f"border-left:4px solid {_FAIR};background:rgba(199,124,2,.12);font-size:.9em\">"
        "<b>Simulated analysis</b> — scored by the offline sandbox's transparent rubric heuristic, "
        "not by Tough Tongue AI.</div>"
    )


def _kv_rows(pairs: Iterable[tuple[str, str]]) -> str:
    """Label/value rows; values are already-escaped HTML."""
    cell = "text-align:left;background:transparent;border:none;vertical-align:top;"
    rows = "".join(
        f'<tr style="{_TR}"><td style="{cell}padding:1px 12px 1px 0;{_MUTED};white-space:nowrap">{_e(k)}</td>'
        f'<td style="{cell}padding:1px 0">{v}</td></tr>'
        for k, v in pairs
    )
    return (
        f'<table style="border-collapse:collapse;margin:6px 0;table-layout:auto;border:none">{rows}</table>'
        if rows else ""
    )


def _details(summary: str, body_html: str) -> str:
    return (
        f'<details style="margin:6px 0"><summary style="cursor:pointer;{_MUTED}">{_e(summary)}</summary>'
        f"{body_html}</details>"
    )


# --------------------------------------------------------------------------------------------------
# Public renderers
# --------------------------------------------------------------------------------------------------


def _analysis_body(analysis: Any, *, compact: bool = False) -> str:
    parts = []
    if is_simulated(analysis):
        parts.append(_simulated_banner())
    if getattr(analysis, "is_analyzing", False) and _finite(getattr(analysis, "score", None)) is None:
        parts.append(f'<div style="{_MUTED};margin:6px 0">Analysis in progress — check again in a few seconds.</div>')
    parts.append(_score_gauge(getattr(analysis, "score", None), getattr(analysis, "score_text", None)))
    lists = _list_block("Strengths", getattr(analysis, "strengths", ()), _GOOD, empty="None listed")
    lists += _list_block("To improve", getattr(analysis, "improvements", ()), _FAIR, empty="None listed")
    parts.append(f'<div style="display:flex;flex-wrap:wrap;gap:8px 24px">{lists}</div>')
    parts.append(_report_card_table(getattr(analysis, "report_card", ())))
    actions = _items(getattr(analysis, "action_items", ()))
    if actions:
        parts.append(
            f'<div style="{_SECTION}">Next steps</div><ol style="margin:0;padding-left:22px">'
            + "".join(f'<li style="margin:2px 0">{_e(a)}</li>' for a in actions)
            + "</ol>"
        )
    feedback = getattr(analysis, "detailed_feedback", None)
    if isinstance(feedback, str) and feedback.strip():
        block = f'<div style="white-space:pre-wrap;margin:4px 0">{_e(feedback.strip())}</div>'
        parts.append(_details("Detailed feedback", block) if compact else f'<div style="{_SECTION}">Detailed feedback</div>{block}')
    return "".join(parts)


def render_analysis(analysis: Any) -> str:
    """An analysis as an HTML card: score gauge, strengths, improvements, report card, next steps.

    Parameters
    ----------
    analysis : Analysis
        Any object with the ``Analysis`` fields (missing ones are treated as empty).

    Returns
    -------
    str
        Self-contained HTML; simulated (sandbox) analyses carry a visible "Simulated analysis" banner.
    """
    session_id = getattr(analysis, "session_id", None)
    sub = f'<div style="{_MUTED}">Session <span style="{_MONO}">{_e(session_id)}</span></div>' if session_id else ""
    return (
        f'<div class="ttai-card ttai-analysis" style="{_CARD}">'
        f'<div style="{_TITLE}">Session analysis</div>{sub}{_analysis_body(analysis)}</div>'
    )


def render_scenario(scenario: Any) -> str:
    """A scenario as an HTML card: name, id, visibility and recording badges, descriptions, AI instructions.

    Parameters
    ----------
    scenario : Scenario
        Any object with the ``Scenario`` fields.
    """
    name = getattr(scenario, "name", None) or "Untitled scenario"
    sid = getattr(scenario, "id", None)
    badges = []
    public = getattr(scenario, "is_public", None)
    if public is not None:
        badges.append(_badge("public" if public else "private", _NEUTRAL if public else _GREY))
    recording = getattr(scenario, "is_recording", None)
    if recording is not None:
        badges.append(_badge("recording" if recording else "not recording", _FAIR if recording else _GREY))
    parts = [
        f'<div class="ttai-card ttai-scenario" style="{_CARD}">',
        f'<div style="{_TITLE}">{_e(name)}</div>',
    ]
    if sid:
        parts.append(f'<div style="{_MUTED}">Scenario <span style="{_MONO}">{_e(sid)}</span></div>')
    if badges:
        parts.append(f'<div style="margin:6px 0">{"".join(badges)}</div>')
    friendly = getattr(scenario, "user_friendly_description", None)
    description = getattr(scenario, "description", None)
    if friendly:
        parts.append(f'<div style="margin:6px 0;white-space:pre-wrap">{_e(friendly)}</div>')
    if description and description != friendly:
        parts.append(
            f'<div style="margin:6px 0;white-space:pre-wrap"><span style="{_MUTED}">Description: </span>'
            f"{_e(description)}</div>"
        )
    instructions = getattr(scenario, "ai_instructions", None)
    if instructions:
        parts.append(_details(f"AI instructions ({len(instructions)} characters)", f'<div style="{_PRE}">{_e(instructions)}</div>'))
    analysis_settings = getattr(scenario, "session_analysis", None)
    if isinstance(analysis_settings, Mapping) and analysis_settings:
        rows = []
        if analysis_settings.get("admin_email"):
            rows.append(("Reports to", _e(analysis_settings["admin_email"])))
        for key, label in (("is_auto_analysis", "Auto-analysis"), ("is_auto_submit", "Auto-submit")):
            if key in analysis_settings and analysis_settings[key] is not None:
                rows.append((label, "on" if analysis_settings[key] else "off"))
        parts.append(_kv_rows(rows))
    times = [
        (label, _e(text))
        for label, text in (
            ("Created", _format_time(getattr(scenario, "created_at", None))),
            ("Updated", _format_time(getattr(scenario, "updated_at", None))),
        )
        if text
    ]
    if times:
        parts.append(f'<div style="font-size:.88em">{_kv_rows(times)}</div>')
    parts.append("</div>")
    return "".join(parts)


# A card is saved into the .ipynb: a 10 MB transcript must not become 10 MB of output.
_TRANSCRIPT_LIMIT = 20_000


def _cut_transcript(text: str, limit: int = _TRANSCRIPT_LIMIT) -> str:
    """The first ``limit`` characters of ``text``, ending at a turn boundary when one is in the second half."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    boundary = head.rfind("\n\n")
    return head[:boundary] if boundary >= limit // 2 else head


def _transcript_block(transcript: str) -> str:
    text = transcript.replace("\r\n", "\n").strip()
    shown = _cut_transcript(text)
    # Counting turns on the full text is cheap (no HTML built) and keeps the summary honest.
    turns = sum(1 for t in text.split("\n\n") if t.strip())
    body = f'<div style="{_PRE}">{_e(shown)}</div>'
    if len(shown) < len(text):
        note = f"transcript truncated: showing {len(shown):,} of {len(text):,} characters"
        body += f'<div style="{_MUTED};margin-top:4px">… {_e(note)}</div>'
    return _details(f"Transcript ({turns} turns)", body)


def render_session(session: Any) -> str:
    """A session as an HTML card: scenario, status, trainee, timing, metadata, and its analysis if any.

    Parameters
    ----------
    session : Session
        Any object with the ``Session`` fields.
    """
    title = getattr(session, "scenario_name", None) or "Practice session"
    status = getattr(session, "status", None)
    parts = [f'<div class="ttai-card ttai-session" style="{_CARD}">']
    head = f'<span style="{_TITLE}">{_e(title)}</span>'
    if status:
        head += " " + _badge(str(status).replace("_", " "), _STATUS_COLORS.get(str(status), _GREY))
    parts.append(f'<div style="display:flex;align-items:center;gap:8px;flex-wrap:wrap">{head}</div>')
    sid = getattr(session, "id", None)
    if sid:
        parts.append(f'<div style="{_MUTED}">Session <span style="{_MONO}">{_e(sid)}</span></div>')
    rows: list[tuple[str, str]] = []
    name, email = getattr(session, "user_name", None), getattr(session, "user_email", None)
    if name or email:
        who = _e(name) if name else ""
        if email:
            who += f' <span style="{_MUTED}">&lt;{_e(email)}&gt;</span>' if name else _e(email)
        rows.append(("Trainee", who))
    for label, attr in (("Started", "created_at"), ("Completed", "completed_at")):
        text = _format_time(getattr(session, attr, None))
        if text:
            rows.append((label, _e(text)))
    duration = format_duration(getattr(session, "duration_s", None))
    if duration:
        rows.append(("Duration", _e(duration)))
    metadata = getattr(session, "metadata", None)
    if isinstance(metadata, Mapping) and metadata:
        chips = "".join(_badge(f"{k}: {v}", _NEUTRAL) for k, v in sorted(metadata.items(), key=lambda kv: str(kv[0])))
        rows.append(("Metadata", chips))
    href = _safe_href(getattr(session, "analytics_url", None))
    if href:
        rows.append(("Analytics", f'<a href="{_e(href)}" target="_blank" rel="noopener noreferrer">open in Tough Tongue AI</a>'))
    parts.append(_kv_rows(rows))
    analysis = getattr(session, "analysis", None)
    if analysis is not None:
        parts.append(f'<div style="{_SECTION};border-top:1px solid var(--jp-border-color2,rgba(127,127,127,.3));'
                     f'padding-top:8px">Analysis</div>')
        parts.append(_analysis_body(analysis, compact=True))
    elif status == "completed":
        parts.append(f'<div style="{_MUTED};margin:6px 0">Not analysed yet: <code>client.sessions.analyze(session_id)</code></div>')
    transcript = getattr(session, "transcript", None)
    if isinstance(transcript, str) and transcript.strip():
        parts.append(_transcript_block(transcript))
    parts.append("</div>")
    return "".join(parts)
