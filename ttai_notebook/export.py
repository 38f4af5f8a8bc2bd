"""Exports of the analysis frames: CSV / Excel / Parquet files, and xAPI statements for a learning record store.

Excel needs the optional ``openpyxl`` (``pip install 'ttai-notebook[excel]'``), Parquet ``pyarrow``
(``[parquet]``). xAPI statements follow the xAPI 1.0.3 data rules (checked field by field in the tests).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import os
import re
import uuid
import warnings
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import numpy as np
import pandas as pd

from . import frames as _frames
from .models import Scenario, Session

__all__ = [
    "VERB_COMPLETED",
    "VERB_FAILED",
    "VERB_PASSED",
    "XAPI_ACTIVITY_TYPE",
    "iso8601_duration",
    "to_csv",
    "to_excel",
    "to_parquet",
    "to_xapi",
    "write_xapi",
]

PathLike = str | os.PathLike

# --------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------


def _require_extra(module: str, extra: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ImportError(
            f"{what} needs the optional package {module!r}, which is not installed. "
            f"Install it with: pip install 'ttai-notebook[{extra}]' (or pip install {module})"
        )


def _frame(data: Any) -> pd.DataFrame:
    """A DataFrame as is; anything else is sessions, turned into a `sessions_frame`."""
    return data if isinstance(data, pd.DataFrame) else _frames.sessions_frame(data)


def _flatten_objects(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding dicts/lists (nested metadata) become JSON text: files want flat cells."""
    out = df
    for column in df.columns:
        series = df[column]
        if series.dtype == object and series.map(lambda v: isinstance(v, (dict, list, tuple))).any():
            if out is df:
                out = df.copy()
            out[column] = series.map(
                lambda v: json.dumps(v, default=str, sort_keys=True) if isinstance(v, (dict, list, tuple)) else v
            )
    return out


def to_csv(data: Any, path: PathLike, **kwargs: Any) -> None:
    """Write a frame (or sessions, as a `sessions_frame`) to CSV.

    Datetimes are written as pandas writes them, with their UTC offset (``2026-03-04 10:00:00.250+00:00``);
    nested metadata as JSON text; no index unless
    ``index=True``. Other keyword arguments go to `pandas.DataFrame.to_csv`.
    """
    kwargs.setdefault("index", False)
    _flatten_objects(_frame(data)).to_csv(path, **kwargs)


def _excel_ready(df: pd.DataFrame) -> pd.DataFrame:
    # Excel has no time zones: write the UTC wall time (every frame's datetimes are UTC, as documented).
    out = _flatten_objects(df)
    tz_columns = [c for c in out.columns if isinstance(out[c].dtype, pd.DatetimeTZDtype)]
    if tz_columns:
        out = out.copy() if out is df else out
        for column in tz_columns:
            out[column] = out[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def to_excel(data: Any, path: PathLike, *, sheet_name: str = "sessions", **kwargs: Any) -> None:
    """Write one frame, or several as sheets, to an ``.xlsx`` workbook (needs ``openpyxl``).

    Parameters
    ----------
    data
        A DataFrame, a mapping ``{sheet name: DataFrame}``, or sessions (written as a `sessions_frame`).
    path
        The workbook to write.
    sheet_name
        Sheet name for a single frame.
    **kwargs
        Passed to `pandas.DataFrame.to_excel` (``index`` defaults to False).

    Notes
    -----
    Excel cells cannot hold time zones, so datetimes are written as UTC wall-clock times.
    """
    _require_extra("openpyxl", "excel", "Excel export")
    kwargs.setdefault("index", False)
    sheets = dict(data) if isinstance(data, Mapping) else {sheet_name: _frame(data)}
    for name in sheets:
        if not isinstance(name, str) or not 0 < len(name) <= 31 or any(ch in name for ch in "[]:*?/\\"):
            raise ValueError(f"sheet name {name!r} is not allowed by Excel (1–31 characters, none of []:*?/\\)")
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            _excel_ready(_frame(frame)).to_excel(writer, sheet_name=name, **kwargs)


def to_parquet(data: Any, path: PathLike, **kwargs: Any) -> None:
    """Write a frame (or sessions, as a `sessions_frame`) to Parquet (needs ``pyarrow``).

    Dtypes survive the round trip (categoricals, UTC datetimes, nullable numbers); nested metadata is written
    as JSON text. Keyword arguments go to `pandas.DataFrame.to_parquet`.
    """
    _require_extra("pyarrow", "parquet", "Parquet export")
    kwargs.setdefault("index", False)
    _flatten_objects(_frame(data)).to_parquet(path, engine="pyarrow", **kwargs)


# --------------------------------------------------------------------------------------------------
# xAPI statements
# --------------------------------------------------------------------------------------------------

VERB_COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
VERB_PASSED = "http://adlnet.gov/expapi/verbs/passed"
VERB_FAILED = "http://adlnet.gov/expapi/verbs/failed"
XAPI_ACTIVITY_TYPE = "http://adlnet.gov/expapi/activities/simulation"
DEFAULT_ACTIVITY_BASE = "https://app.toughtongueai.com/embed/"
DEFAULT_EXTENSION_BASE = "https://app.toughtongueai.com/xapi/extensions/"
#: xAPI 1.0.3 §2.4.10: a Learning Record Provider that sets ``version`` MUST set "1.0.0" (the patch level
#: travels in the X-Experience-API-Version header), so that is the default.
XAPI_STATEMENT_VERSION = "1.0.0"
# Statement ids and registrations are uuid5 in this namespace (see `_statement_id` for what an id covers).
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://app.toughtongueai.com/xapi/statements")
# Not part of what a statement id identifies: the id itself, and `version`, which an LRS ignores when it compares
# two statements with one id (xAPI 1.0.3 Part Two §2.3.1: "version" is assigned, not content).
_NOT_IDENTIFYING = frozenset({"id", "version"})
_VERB_NAMES = {VERB_COMPLETED: "completed", VERB_PASSED: "passed", VERB_FAILED: "failed"}


def iso8601_duration(seconds: float) -> str:
    """Seconds as an xAPI duration (ISO 8601 §4.4.3.2), at most 0.01 s precision.

    >>> iso8601_duration(330), iso8601_duration(3725.5), iso8601_duration(0)
    ('PT5M30S', 'PT1H2M5.5S', 'PT0S')
    """
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration is a finite number of seconds ≥ 0, got {seconds!r}")
    hundredths = int(round(seconds * 100))
    hours, rest = divmod(hundredths, 360_000)
    minutes, rest = divmod(rest, 6_000)
    secs = rest / 100
    parts = "PT"
    if hours:
        parts += f"{hours}H"
    if minutes:
        parts += f"{minutes}M"
    if secs or parts == "PT":
        parts += (f"{secs:.2f}".rstrip("0").rstrip(".") if secs % 1 else f"{int(secs)}") + "S"
    return parts


def _timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# One e-mail address as a mailto IRI can carry it without escapes (RFC 6068 §2, RFC 3987): the local part is
# ASCII letters, digits and ``.!$'*+-_~`` or any non-ASCII letter (an IRI's ucschar); characters the mailto IRI
# reserves (``? # % & = /``, brackets, quotes, separators) are refused rather than percent-encoded, because an
# encoded address would no longer match the one the learning platform holds for the same person.
_LOCAL = re.compile(r"^[A-Za-z0-9.!$'*+\-_~\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef]+$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9\-\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef]{1,63}(?<!-)$")
# "Display Name <address>" (the name may be quoted): the one unambiguous wrapper around an address.
_NAME_ADDR = re.compile(r'^(?P<name>"[^"]*"\s*|[^<>"]*)<(?P<addr>[^<>]*)>$')
# RFC 5646 in its common shape (language, then subtags): what an LRS accepts as a language-map key.
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
_LEARNER_RULE = (
    "one address like 'ana@example.com' (surrounding spaces, a 'mailto:' prefix, angle brackets and a display "
    "name as in 'Ana Lima <ana@example.com>' are removed; the domain is lower-cased)"
)


def _learner_mbox(email: Any) -> tuple[str | None, str | None]:
    """A learner's e-mail as an xAPI ``mbox`` IRI, or why it cannot be one: ``(mbox, None)`` or ``(None, reason)``.

    Normalises only what is unambiguous (see ``_LEARNER_RULE``); anything that could name two people, or
    no one, or break the IRI is refused with a reason.
    """
    if email is None or (isinstance(email, float) and math.isnan(email)):
        return None, "no learner e-mail"
    if not isinstance(email, str):
        return None, f"the learner e-mail is a {type(email).__name__}, not text"
    text = email.strip()
    if not text:
        return None, "no learner e-mail"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return None, "the learner e-mail contains control characters (a line break, NUL, ...)"
    wrapped = _NAME_ADDR.match(text)
    if wrapped:
        name, text = wrapped["name"].strip().strip('"'), wrapped["addr"].strip()
        if "@" in name and name.lower() != text.lower():
            return None, "the display name is another address (which one is the learner?)"
    if text[:7].lower() == "mailto:":
        text = text[7:].strip()
    if any(sep in text for sep in ",;"):
        return None, "several addresses in one field: an xAPI actor is one person with one address"
    if any(ch in text for ch in "<>"):
        return None, "unbalanced angle brackets"
    if text.count("@") != 1:
        return None, "an address has exactly one '@'" if "@" in text else "not an e-mail address (no '@')"
    local, domain = text.split("@")
    if any(ch.isspace() for ch in text):
        return None, "spaces inside the address"
    if not local or not domain:
        return None, "an address needs text on both sides of the '@'"
    if not _LOCAL.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        return None, "characters a mailto IRI cannot carry in the name before the '@'"
    if not all(_LABEL.match(label) for label in domain.split(".")):
        return None, "not a domain name after the '@'"
    return f"mailto:{local}@{domain.lower()}", None  # the domain is case-insensitive: send it lower-case


def _canonical(value: Any) -> Any:
    """JSON values as an LRS compares them: numbers by value (``80`` and ``80.0`` are one number)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _statement_id(content: Mapping[str, Any]) -> str:
    """The statement id: uuid5 of the canonical JSON of everything the statement says, except ``version``.

    An id names one content. Two exports of the same facts give the same id (re-sending is idempotent: the
    LRS already has it); any difference in what the statement says — a report card the analyse answer lacked,
    a re-analysed score, another actor name or scenario description — gives another id, never a second body
    for one id (an LRS answers 409 Conflict to that). ``version`` is left out because an LRS ignores it when it
    compares statements.
    """
    identifying = {k: v for k, v in content.items() if k not in _NOT_IDENTIFYING}
    canonical = json.dumps(_canonical(identifying), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(uuid.uuid5(_NAMESPACE, "statement:" + canonical))


def _shorten(value: Any, limit: int = 80) -> str:
    text = repr(value[:limit] if isinstance(value, str) else value)
    return text + "..." if isinstance(value, str) and len(value) > limit else text


def _skipped_message(skipped: Sequence[tuple[str, Any, str]], shown: int = 10) -> str:
    """The warning for sessions left out for their learner e-mail: which session, what was wrong, what is allowed."""
    lines = [
        f"  session {sid}: user_email {_shorten(email)}: {reason}" for sid, email, reason in skipped[:shown]
    ]
    if len(skipped) > shown:
        lines.append(f"  ... and {len(skipped) - shown} more")
    return (
        f"to_xapi skipped {len(skipped)} analysed session(s) without a usable learner email (an xAPI actor is "
        f"identified by one 'mailto:' IRI):\n" + "\n".join(lines) + f"\nAllowed: {_LEARNER_RULE}."
    )


def _absolute_iri(value: str, name: str) -> str:
    parts = urlsplit(value)
    if not parts.scheme or not (parts.netloc or parts.scheme in ("urn", "tag")):
        raise ValueError(f"{name} must be an absolute IRI such as 'https://lms.example.com/scenarios/', got {value!r}")
    return value


def _clean(value: Any) -> Any:
    """Drop None members recursively (xAPI rejects nulls outside extensions; we keep extensions tidy too)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return _timestamp(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _records_from_sessions(items: Sequence[Session]) -> list[dict[str, Any]]:
    out = []
    for s in items:
        a = s.analysis
        out.append(
            {
                "session_id": s.id,
                "scenario_id": s.scenario_id,
                "scenario_name": s.scenario_name,
                "user_email": s.user_email,
                "user_name": s.user_name,
                "status": s.status,
                "created_at": s.created_at,
                "completed_at": s.completed_at,
                "duration_s": s.duration_s,
                "score": a.score if a is not None else None,
                "analyzed": a is not None and a.has_results,
                "report_card": [
                    {"topic": r.topic, "score": r.score, "score_text": r.score_text, "weight": r.weight, "note": r.note}
                    for r in (a.report_card if a is not None else ())
                ],
                "metadata": _frames._merged_metadata(s),
            }
        )
    return out


def _records_from_frame(df: pd.DataFrame, report_cards: pd.DataFrame | None) -> list[dict[str, Any]]:
    _frames._require(df, ("session_id", "scenario_id", "user_email", "score"), "to_xapi")
    cards: dict[str, list[dict[str, Any]]] = {}
    if report_cards is not None:
        _frames._require(report_cards, ("session_id", "topic", "score"), "to_xapi(report_cards=...)",
                         "report_card_frame(...)")
        fields = [c for c in ("topic", "score", "score_text", "weight", "note") if c in report_cards.columns]
        for row in report_cards[["session_id", *fields]].astype(object).itertuples(index=False):
            cards.setdefault(str(row[0]), []).append({f: _json_value(v) for f, v in zip(fields, row[1:])})
    meta_columns = [c for c in df.columns if c not in _frames.SESSION_COLUMNS]
    out = []
    for row in df.astype(object).to_dict("records"):
        row = {k: (None if v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)) else v)
               for k, v in row.items()}
        duration_min = row.get("duration_min")
        sid = str(row["session_id"])
        score = row.get("score")
        out.append(
            {
                "session_id": sid,
                "scenario_id": row.get("scenario_id"),
                "scenario_name": row.get("scenario_name"),
                "user_email": row.get("user_email"),
                "user_name": row.get("user_name"),
                "status": row.get("status"),
                "created_at": row.get("created_at"),
                "completed_at": row.get("completed_at"),
                "duration_s": float(duration_min) * 60.0 if duration_min is not None else None,
                "score": float(score) if score is not None else None,
                "analyzed": bool(row["analyzed"]) if row.get("analyzed") is not None else score is not None,
                "report_card": cards.get(sid, []),
                "metadata": {c: _json_value(row.get(c)) for c in meta_columns if row.get(c) is not None},
            }
        )
    return out


def to_xapi(
    sessions_or_frame: Any,
    *,
    mastery: float = 70,
    platform: str = "Tough Tongue AI",
    activity_base: str = DEFAULT_ACTIVITY_BASE,
    extension_base: str = DEFAULT_EXTENSION_BASE,
    report_cards: pd.DataFrame | None = None,
    scenarios: Mapping[str, Scenario] | Sequence[Scenario] | None = None,
    language: str = "en-US",
    version: str | None = XAPI_STATEMENT_VERSION,
) -> list[dict[str, Any]]:
    """xAPI statements for each analysed, finished session: ``completed``, then ``passed`` or ``failed``.

    Parameters
    ----------
    sessions_or_frame
        Sessions (models, a store, raw API dicts) or a `sessions_frame`. With a frame, pass the matching
        `report_card_frame` as ``report_cards`` to include report cards.
    mastery
        Pass mark on 0–100: ``passed`` (``success: true``) when ``score >= mastery``, else ``failed``.
    platform
        ``context.platform``.
    activity_base
        Absolute IRI prefix of the scenario Activity ids: ``activity_base + <scenario id>`` (the id
        percent-encoded). Default: the scenario's embed address on the service.
    extension_base
        Absolute IRI prefix of the extension keys (``session-id``, ``report-card``, ``metadata``).
    report_cards
        A `report_card_frame` to use with a sessions frame (models carry their own report cards).
    scenarios
        `Scenario` models (or ``{id: Scenario}``) to describe Activities with the scenario's own description.
    language
        RFC 5646 tag of the language-map entries.
    version
        The statement ``version`` property; ``None`` leaves it to the LRS. xAPI 1.0.3 §2.4.10 says a
        provider that sets it MUST use ``"1.0.0"`` (the default).

    Returns
    -------
    list of dict
        Two statements per analysed session with a score (one, ``completed``, when the analysis has no overall
        score). Each has: an ``id`` derived from the statement's content (see Notes); ``actor`` an Agent with
        ``mbox: mailto:<email>`` and ``name`` when known; ``verb`` the ADL IRI with ``display``; ``object`` the
        scenario Activity (``definition``: name, description, type ``.../activities/simulation``);
        ``result`` with ``completion: true`` and an ISO-8601 ``duration``, and on passed/failed the ``score``
        (scaled 0–1, raw, min 0, max 100), ``success`` and the report card under the ``report-card`` extension;
        ``context`` with ``registration`` (uuid5 of the session id: both statements of a session share it),
        ``platform`` and the session id / metadata extensions; ``timestamp`` (the session's completion time,
        UTC, milliseconds) and ``version``.

        Sessions that are running, terminated, failed or cancelled are not exported (they were not completed);
        nor are unanalysed ones. Sessions without a usable learner email are skipped (see Notes).

    Notes
    -----
    **Statement ids name content.** The id is a uuid5 of the canonical JSON of the whole statement except
    ``version`` (numbers by value, keys sorted), so one id never carries two bodies: exporting the same facts
    again gives the same ids (re-sending to an LRS is idempotent), while anything that changed — for example
    the report card that a later fetch adds to what the analyse answer held, or a forced re-analysis — gives new
    ids instead of a second body for an old id, which an LRS refuses with 409 Conflict. Ids are not "one per
    session and verb": the LRS keeps the earlier statement too; both share the session's ``registration`` and
    ``session-id`` extension, so a reader can take the latest per registration (or void the older one). For
    the fullest statements, export sessions fetched after analysis (``client.sessions.get_many(ids)``) rather
    than the analyse answers a store holds. The same session given twice yields its statements once.

    **Learner e-mails.** The actor's ``mbox`` is one ``mailto:`` IRI. What is unambiguous is normalised:
    surrounding spaces, a ``mailto:`` prefix, angle brackets and a display name (``Ana Lima <ana@example.com>``)
    are removed and the domain is lower-cased (the local part keeps its case). Anything else — several addresses
    (``a@x.com,b@y.com``), unbalanced brackets, a display name that is another address, spaces, control
    characters, characters a mailto IRI reserves (``? # % & = /``), no ``@`` — is never emitted: the session is
    skipped and one `UserWarning` lists each skipped session id with its reason and what is allowed. Skipping
    rather than raising keeps one bad row from blocking the export of a whole organisation; turn the warning
    into an error with ``warnings.simplefilter("error", UserWarning)`` to refuse instead.

    Examples
    --------
    >>> import ttai_notebook as tt
    >>> statements = tt.export.to_xapi(tt.Client.sandbox().sessions.list(max_items=5), mastery=70)
    >>> sorted({s["verb"]["display"]["en-US"] for s in statements}) <= ["completed", "failed", "passed"]
    True
    """
    if isinstance(mastery, bool) or not isinstance(mastery, (int, float)) or not 0 <= mastery <= 100:
        raise ValueError(f"mastery is a pass mark on 0–100, got {mastery!r}")
    if not isinstance(platform, str) or not platform.strip():
        raise ValueError("platform must be a non-empty string")
    base = _absolute_iri(activity_base, "activity_base")
    ext = _absolute_iri(extension_base, "extension_base")
    ext = ext if ext.endswith(("/", "#")) else ext + "/"
    if not isinstance(language, str) or not _LANGUAGE_TAG.match(language):
        raise ValueError(f"language must be an RFC 5646 tag such as 'en-US' (the language-map key), got {language!r}")
    if version is not None and not str(version).startswith("1.0."):
        raise ValueError(f"xAPI statement version must start with '1.0.', got {version!r}")
    if isinstance(sessions_or_frame, pd.DataFrame):
        records = _records_from_frame(sessions_or_frame, report_cards)
    else:
        records = _records_from_sessions(_frames.as_sessions(sessions_or_frame))
    catalog: dict[str, Scenario] = {}
    if scenarios is not None:
        values = scenarios.values() if isinstance(scenarios, Mapping) else scenarios
        catalog = {s.id: s for s in values if isinstance(s, Scenario)}

    statements: list[dict[str, Any]] = []
    skipped: list[tuple[str, Any, str]] = []
    seen: set[str] = set()
    for r in records:
        if not r["analyzed"] or r["status"] in _frames.INCOMPLETE_STATUSES:
            continue
        mbox, reason = _learner_mbox(r["user_email"])
        if mbox is None:
            skipped.append((str(r["session_id"]), r["user_email"], str(reason)))
            continue
        sid = r["session_id"]
        scenario_id = str(r["scenario_id"]) if r["scenario_id"] is not None else "unknown"
        known = catalog.get(scenario_id)
        name = (known.name if known else None) or r["scenario_name"] or f"Scenario {scenario_id}"
        description = (
            (known.user_friendly_description or known.description) if known else None
        ) or f"AI role-play practice scenario \u201c{name}\u201d on {platform}"
        activity = {
            "objectType": "Activity",
            "id": base + quote(scenario_id, safe=""),
            "definition": {
                "name": {language: str(name)},
                "description": {language: str(description)},
                "type": XAPI_ACTIVITY_TYPE,
            },
        }
        actor = {"objectType": "Agent", "mbox": mbox}
        if r["user_name"]:
            actor["name"] = str(r["user_name"])
        context_ext: dict[str, Any] = {ext + "session-id": sid}
        if r["metadata"]:
            context_ext[ext + "metadata"] = r["metadata"]
        context = {
            "registration": str(uuid.uuid5(_NAMESPACE, f"registration:{sid}")),
            "platform": platform,
            "extensions": context_ext,
        }
        when = r["completed_at"]
        if when is None and r["created_at"] is not None and r["duration_s"] is not None:
            when = r["created_at"] + dt.timedelta(seconds=r["duration_s"])
        when = when if when is not None else r["created_at"]
        completion: dict[str, Any] = {"completion": True}
        if r["duration_s"] is not None and math.isfinite(r["duration_s"]) and r["duration_s"] >= 0:
            completion["duration"] = iso8601_duration(r["duration_s"])

        def statement(verb: str, result: dict[str, Any]) -> dict[str, Any]:
            body: dict[str, Any] = {
                "actor": actor,
                "verb": {"id": verb, "display": {language: _VERB_NAMES[verb]}},
                "object": activity,
                "result": result,
                "context": context,
            }
            if when is not None:
                body["timestamp"] = _timestamp(pd.Timestamp(when).to_pydatetime())
            if version is not None:
                body["version"] = str(version)
            content = _clean(json.loads(json.dumps(body, default=_json_value)))
            return {"id": _statement_id(content), **content}

        def add(one: dict[str, Any]) -> None:
            # The same session given twice gives the same statement twice: an LRS refuses a batch that
            # repeats an id, so send it once (equal ids mean equal content, see `_statement_id`).
            if one["id"] not in seen:
                seen.add(one["id"])
                statements.append(one)

        add(statement(VERB_COMPLETED, dict(completion)))
        score = r["score"]
        if score is not None and math.isfinite(score) and 0 <= score <= 100:
            verb = VERB_PASSED if score >= mastery else VERB_FAILED
            result: dict[str, Any] = {
                "score": {"scaled": round(score / 100.0, 4), "raw": round(score, 2), "min": 0, "max": 100},
                "success": score >= mastery,
                **completion,
            }
            card = [{k: v for k, v in entry.items() if v is not None} for entry in r["report_card"]]
            if card:
                result["extensions"] = {ext + "report-card": card}
            add(statement(verb, result))
    if skipped:
        warnings.warn(_skipped_message(skipped), UserWarning, stacklevel=2)
    return statements


def write_xapi(path: PathLike, sessions_or_frame: Any, **kwargs: Any) -> int:
    """Write `to_xapi` statements to ``path``: a JSON array, or one statement per line for ``.jsonl`` / ``.ndjson``.

    Keyword arguments are those of `to_xapi`. Returns the number of statements written.
    """
    statements = to_xapi(sessions_or_frame, **kwargs)
    target = os.fspath(path)
    with open(target, "w", encoding="utf-8") as handle:
        if target.endswith((".jsonl", ".ndjson")):
            for s in statements:
                handle.write(json.dumps(s, ensure_ascii=False) + "\n")
        else:
            json.dump(statements, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
    return len(statements)
