"""The decisions behind :meth:`Store.sync <ttai_notebook.store.Store.sync>`, as pure functions, and its result.

Which filter set a mark belongs to, how far back the next listing must reach, and whether a listed session
is new, changed or unchanged against the stored copy. The store does the SQL; everything here is tested by
tables in ``tests/analysis/test_store_sync_rules.py``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import math
from collections.abc import Mapping
from typing import Any

from .models import Session

__all__ = [
    "DEFAULT_OVERLAP",
    "SyncResult",
    "filter_key",
    "service_time",
    "next_since",
    "differs",
    "check_overlap",
    "format_instant",
]

#: How far before the high-water mark a later sync starts listing. It covers a write the service stamped
#: a little before it became visible to listings (a session stamped exactly at the mark included).
DEFAULT_OVERLAP = dt.timedelta(minutes=2)

_UTC = dt.timezone.utc


def check_overlap(overlap: Any) -> dt.timedelta:
    """``overlap=`` as a timedelta (seconds accepted); a clear error for anything negative or not a duration."""
    if isinstance(overlap, (int, float)) and not isinstance(overlap, bool) and math.isfinite(overlap):
        overlap = dt.timedelta(seconds=overlap)
    if not isinstance(overlap, dt.timedelta) or overlap < dt.timedelta(0):
        raise ValueError(f"overlap must be a timedelta (or seconds) of zero or more, got {overlap!r}")
    return overlap


def _emails(user_email: Any) -> list[str] | None:
    if user_email is None:
        return None
    given = [user_email] if isinstance(user_email, str) else list(user_email)
    return sorted({str(e).strip().lower() for e in given})


def filter_key(
    *,
    base_url: str | None,
    org_id: str | None,
    scenario_id: str | None = None,
    user_email: Any = None,
    metadata: Mapping[str, Any] | None = None,
    is_org: bool = False,
) -> str:
    """The canonical text naming one filter set on one service (the key of its mark and membership).

    Spellings that list the same sessions give the same key: addresses are case-folded and sorted, metadata
    keys sorted. The service (base URL) and the organisation are part of it, since one store file may mirror
    the sandbox and the live service, or two organisations; the token never is.
    """
    key = {
        "service": (base_url or "").rstrip("/"),
        "org": org_id,
        "scenario_id": scenario_id,
        "user_email": _emails(user_email),
        "metadata": dict(metadata) if metadata else None,
        "is_org": bool(is_org),
    }
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)


def service_time(session: Session) -> dt.datetime | None:
    """The latest instant the service itself wrote on ``session``: ``updated_at`` where the listing carries
    it, else the later of ``completed_at`` and ``created_at`` (never later than ``updated_at``; the spec's
    list items have no ``updated_at``). ``None`` when the session carries no timestamp at all."""
    stamps = [t for t in (session.updated_at, session.completed_at, session.created_at) if t is not None]
    if not stamps:
        return None
    return max(t if t.tzinfo is not None else t.replace(tzinfo=_UTC) for t in stamps)


def next_since(
    mark: dt.datetime | None, overlap: dt.timedelta, previous_listing_s: float
) -> dt.datetime | None:
    """Where the next listing starts (``updated_since``), or ``None`` for a full listing.

    ``mark`` is the largest service timestamp seen so far. The window reaches back ``overlap``, and at least
    as long as the previous listing took: a session updated while a long listing ran, on a page already
    fetched, is stamped no earlier than the mark minus that duration. The duration is measured on the local
    monotonic clock, so clock skew between us and the service plays no part. (With the default overlap of
    minutes the window is the overlap itself, so the ``since`` a notebook prints does not vary run to run.)
    """
    if mark is None:
        return None
    listing = dt.timedelta(seconds=previous_listing_s) if previous_listing_s > 0 else dt.timedelta(0)
    return mark - max(overlap, listing)


def _said_nothing(value: Any) -> bool:
    return value is None or (isinstance(value, (dict, tuple, list, str)) and not value)


_COMPARED = tuple(f.name for f in dataclasses.fields(Session) if f.name != "raw")


def differs(stored: Session, listed: Session) -> bool:
    """Whether ``listed`` (a session as the service lists it now) tells anything the stored copy does not.

    Different ``updated_at`` stamps mean changed. Otherwise every field the listing carries is compared
    (the analysis included); a field it leaves empty says nothing: a list answer carries no transcript, and
    that must not count as a change of a session stored from its detail.
    """
    if listed.updated_at is not None and stored.updated_at is not None and listed.updated_at != stored.updated_at:
        return True
    for name in _COMPARED:
        value = getattr(listed, name)
        if name == "analysis" and value is not None and not value.has_results:
            continue  # still running: the store never keeps it, so it cannot differ meaningfully
        if not _said_nothing(value) and value != getattr(stored, name):
            return True
    return False


def format_instant(value: dt.datetime | None, *, seconds_only: bool = False) -> str:
    """An aware instant as ``2026-05-14T10:00:00Z`` (UTC; microseconds kept unless ``seconds_only``)."""
    if value is None:
        return "—"
    utc = value.astimezone(_UTC) if value.tzinfo is not None else value
    text = utc.replace(tzinfo=None).isoformat(timespec="seconds" if seconds_only or not utc.microsecond else "microseconds")
    return text + "Z"


def _instant_repr(value: dt.datetime | None) -> str:
    return "None" if value is None else format_instant(value)


@dataclasses.dataclass(frozen=True)
class SyncResult:
    """What one :meth:`Store.sync <ttai_notebook.store.Store.sync>` did.

    Attributes
    ----------
    new, changed, unchanged : int
        Listed sessions the store did not hold, held in another state, or held exactly so.
    total : int
        Sessions in the store for this filter set after the sync.
    since : datetime or None
        The ``updated_since`` the listing used; ``None`` for a full listing (the first sync, or ``full=True``).
    high_water_mark : datetime or None
        The largest service timestamp seen for this filter set so far (the next sync lists from it, less the
        overlap). ``None`` while the service has listed nothing.
    listed : int
        Sessions the service answered (duplicates across pages counted once).
    removed : int or None
        With ``full=True``: sessions of this filter set the service no longer lists (left in the store, since
        their analyses were paid for, but no longer counted in ``total``). ``None`` when not checked.
    new_ids, changed_ids, removed_ids : tuple of str
        Which ones.
    filters : dict
        The filters of this sync (for display).
    """

    new: int
    changed: int
    unchanged: int
    total: int
    since: dt.datetime | None
    high_water_mark: dt.datetime | None
    listed: int = 0
    removed: int | None = None
    new_ids: tuple[str, ...] = ()
    changed_ids: tuple[str, ...] = ()
    removed_ids: tuple[str, ...] = ()
    filters: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def full(self) -> bool:
        """True when this sync listed everything (no ``updated_since``)."""
        return self.since is None

    def _how(self) -> str:
        if self.since is None:
            return "full listing"
        return f"listed since {format_instant(self.since, seconds_only=True)}"

    def __str__(self) -> str:
        gone = f", {self.removed} no longer listed" if self.removed else ""
        return (
            f"synced: {self.new} new, {self.changed} changed, {self.unchanged} unchanged{gone} ({self._how()}); "
            f"{self.total} in the store for these filters"
        )

    def __repr__(self) -> str:
        removed = "" if self.removed is None else f", removed={self.removed}"
        filters = "".join(f", {k}={v!r}" for k, v in self.filters.items())
        return (
            f"SyncResult(new={self.new}, changed={self.changed}, unchanged={self.unchanged}, total={self.total}"
            f"{removed}, since={_instant_repr(self.since)}, high_water_mark={_instant_repr(self.high_water_mark)}"
            f"{filters})"
        )

    def _repr_html_(self) -> str:
        esc = html.escape
        rows: list[tuple[str, Any]] = [
            ("New", self.new),
            ("Changed", self.changed),
            ("Unchanged", self.unchanged),
        ]
        if self.removed is not None:
            rows.append(("No longer listed", self.removed))
        rows += [
            ("In the store for these filters", self.total),
            ("Listed", "everything" if self.since is None else f"since {format_instant(self.since)}"),
            ("High-water mark", format_instant(self.high_water_mark)),
        ]
        rows += [(f"Filter {k}", v) for k, v in self.filters.items()]
        body = "".join(f"<tr><th style='text-align:left'>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in rows)
        return (
            f"<div class='ttai-sync-result'><strong>Synced: {self.new} new, {self.changed} changed, "
            f"{self.unchanged} unchanged</strong><table>{body}</table></div>"
        )
