"""Pure pagination logic for ``sessions.list``: filters → query params, which page to ask for next, and
how to read a page of either shape. The clients only do the fetching (sequentially or a few at a time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._http import check_email, check_int, list_items, require_id
from .errors import APIError, ValidationError

__all__ = [
    "PageRequest",
    "Page",
    "PagePlan",
    "page_request",
    "parse_page",
    "session_filters",
    "SessionQuery",
    "META_OPERATORS",
    "prefetch_workers",
]

MAX_PAGE_SIZE = 500
#: Most pages planned ahead from a first page's ``total`` (a lying ``total`` must not plan billions of pages;
#: past these the listing continues one page at a time).
MAX_PLANNED_PAGES = 1000
#: Consecutive non-empty pages without a single new session id before the listing is refused as looping
#: (a service that ignores ``page`` would otherwise be paged for ever).
MAX_STALE_PAGES = 3


@dataclass(frozen=True)
class PageRequest:
    """One page to fetch: ``page`` (from 1) and ``limit`` as sent; ``take`` = how many of its items we keep."""

    page: int
    limit: int
    take: int

    @property
    def offset(self) -> int:
        """Index of the page's first item in the whole result."""
        return (self.page - 1) * self.limit


@dataclass(frozen=True)
class Page:
    """A parsed page: raw items plus what ``page_meta`` said (None where it said nothing)."""

    items: list[Any]
    complete: bool = False  # a bare JSON list: the whole result, no further pages
    has_next: bool | None = None
    total: int | None = None
    total_pages: int | None = None
    limit: int | None = None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_page(body: Any) -> Page:
    """Read a ``GET /sessions`` body: a bare list (complete) or ``{"sessions": [...], "page_meta": {...}}``."""
    if isinstance(body, list):
        return Page(items=body, complete=True)
    items = list_items(body, "sessions")
    if items is None:
        keys = sorted(body)[:8] if isinstance(body, Mapping) else type(body).__name__
        raise APIError(
            f"unexpected sessions list response: expected a list or {{'sessions': [...]}}, got {keys}"
        )
    meta = body.get("page_meta") if isinstance(body, Mapping) else None
    if not isinstance(meta, Mapping):
        return Page(items=items)
    has_next = meta.get("has_next")
    return Page(
        items=items,
        has_next=has_next if isinstance(has_next, bool) else None,
        total=_int(meta.get("total")),
        total_pages=_int(meta.get("total_pages")),
        limit=_int(meta.get("limit")) or None,
    )


def page_request(offset: int, remaining: int | None, page_size: int) -> PageRequest:
    """The request for the items starting at ``offset`` (a multiple of ``page_size``).

    When fewer than a page remain (``max_items`` is near), ask for less: the smallest ``limit`` in
    ``[remaining, page_size]`` that divides ``offset``, so that ``page = offset // limit + 1`` still starts
    exactly at ``offset`` (``page`` and ``limit`` define the offset together; shrinking only ``limit``
    would skip or repeat items).

    >>> page_request(0, 30, 100), page_request(200, 50, 100), page_request(200, 30, 100)
    (PageRequest(page=1, limit=30, take=30), PageRequest(page=5, limit=50, take=50), PageRequest(page=6, limit=40, take=30))
    """
    if remaining is None or remaining >= page_size:
        return PageRequest(page=offset // page_size + 1, limit=page_size, take=page_size)
    if offset == 0:
        return PageRequest(page=1, limit=remaining, take=remaining)
    limit = next(d for d in range(remaining, page_size + 1) if offset % d == 0)
    return PageRequest(page=offset // limit + 1, limit=limit, take=remaining)


class PagePlan:
    """Which pages to fetch and when to stop, for one listing.

    Feed each fetched page to :meth:`accept` in order; it returns the items to yield and whether the
    listing is finished. :meth:`next_request` gives the next page for sequential fetching;
    :meth:`known_requests` (after the first page) lists every remaining page when ``page_meta`` told the
    total, so they can be fetched concurrently — never past ``max_items``.
    """

    def __init__(self, page_size: int, max_items: int | None) -> None:
        self.page_size = page_size
        self.max_items = max_items
        self.yielded = 0
        self.offset = 0
        self.pages = 0
        self._seen: set[str] = set()
        self._stale = 0

    def _remaining(self, offset: int) -> int | None:
        return None if self.max_items is None else self.max_items - offset

    def next_request(self) -> PageRequest | None:
        """The next page to fetch, or None when ``max_items`` is reached."""
        remaining = self._remaining(self.yielded)
        if remaining is not None and remaining <= 0:
            return None
        return page_request(self.offset, remaining, self.page_size)

    def accept(self, request: PageRequest, page: Page) -> tuple[list[Any], bool]:
        """(items to yield, finished?) for a fetched page."""
        self.pages += 1
        if page.complete:
            keep = page.items if self.max_items is None else page.items[: self.max_items - self.yielded]
            self.yielded += len(keep)
            return keep, True
        effective = request.limit
        if request.page == 1 and page.limit is not None and page.limit < request.limit:
            # The service capped the page size: continue with its size so offsets stay aligned.
            effective = self.page_size = page.limit
        self._check_progress(request, page.items)
        keep = page.items[: request.take]
        if self.max_items is not None:
            keep = keep[: max(0, self.max_items - self.yielded)]
        self.yielded += len(keep)
        self.offset = request.offset + effective
        finished = (
            not page.items
            or page.has_next is False
            or (page.has_next is None and len(page.items) < effective)
            or (self.max_items is not None and self.yielded >= self.max_items)
        )
        return keep, finished

    def _check_progress(self, request: PageRequest, items: list[Any]) -> None:
        """Refuse a listing whose pages keep repeating the same sessions (the service ignores ``page``)."""
        ids = [_item_id(item) for item in items]
        fresh = any(i is None or i not in self._seen for i in ids)
        self._seen.update(i for i in ids if i is not None)
        self._stale = 0 if fresh or not items else self._stale + 1
        if self._stale >= MAX_STALE_PAGES:
            raise APIError(
                f"the service returned {self._stale} pages in a row (up to page {request.page}) with no session "
                "not already seen: it seems to ignore the 'page' parameter, so the listing was stopped instead "
                "of looping for ever. Pass max_items= to read only the first page(s)."
            )

    def known_requests(self, first: Page) -> list[PageRequest] | None:
        """Every page after the first, when the first page's ``page_meta`` told the total; else None."""
        if first.complete or first.has_next is not True:
            return None
        if first.total is not None:
            target = first.total
        elif first.total_pages is not None:
            target = first.total_pages * self.page_size
        else:
            return None
        if self.max_items is not None:
            target = min(target, self.max_items)
        requests = []
        offset = self.offset
        while offset < target and len(requests) < MAX_PLANNED_PAGES:
            request = page_request(offset, self._remaining(offset), self.page_size)
            requests.append(request)
            offset += request.limit
        return requests


def _item_id(item: Any) -> str | None:
    if isinstance(item, Mapping):
        for key in ("id", "_id", "session_id"):
            value = item.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def _as_datetime(value: Any, field: str, *, end_of_day: bool) -> tuple[str, dt.datetime]:
    """(ISO string to send, aware UTC instant for comparing) for a date filter."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        aware = aware.astimezone(dt.timezone.utc)
        return aware.isoformat(), aware
    if isinstance(value, dt.date):
        instant = dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
        if end_of_day:
            instant += dt.timedelta(days=1) - dt.timedelta(microseconds=1)
        return value.isoformat(), instant
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            if len(text) == 10:
                return text, _as_datetime(dt.date.fromisoformat(text), field, end_of_day=end_of_day)[1]
            parsed = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "zZ" else text)
        except ValueError:
            pass
        else:
            aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
            return text, aware.astimezone(dt.timezone.utc)
    raise ValidationError(
        f"{field} must be a date, a datetime or an ISO-8601 string like '2025-03-01' or "
        f"'2025-03-01T09:00:00Z', got {value!r}",
        field=field,
    )


def session_filters(
    *,
    scenario_id: Any = None,
    user_email: Any = None,
    from_date: Any = None,
    to_date: Any = None,
) -> dict[str, str]:
    """Validated query parameters for the brief's ``GET /sessions`` filters (dates sent as ISO strings).

    ``user_email`` may be one address or a list of them (sent comma-separated). Kept for callers of the v1
    route; :class:`SessionQuery` is what ``sessions.list`` uses.
    """
    query = SessionQuery.build(scenario_id=scenario_id, user_email=user_email)
    params: dict[str, str] = {}
    if query.scenario_id is not None:
        params["scenario_id"] = query.scenario_id
    if query.emails:
        params["user_email"] = ",".join(query.emails)
    start = end = None
    if from_date is not None:
        params["from_date"], start = _as_datetime(from_date, "from_date", end_of_day=False)
    if to_date is not None:
        params["to_date"], end = _as_datetime(to_date, "to_date", end_of_day=True)
    _check_order(params.get("from_date"), start, params.get("to_date"), end)
    return params


def _check_order(start_text: str | None, start: dt.datetime | None, end_text: str | None,
                 end: dt.datetime | None) -> None:
    if start is not None and end is not None and start > end:
        raise ValidationError(
            f"from_date ({start_text}) is after to_date ({end_text}); swap them or widen the range",
            field="from_date",
        )


#: Range operators a metadata filter may use, as in ``metadata={"level": {"$gte": 3}}``.
META_OPERATORS = ("$gt", "$gte", "$lt", "$lte")
_Scalar = (str, int, float, bool)


def _check_meta(metadata: Any) -> tuple[tuple[str, str | None, Any], ...]:
    """``metadata=`` as (key, operator or None, value) triples, refusing what the service cannot filter on."""
    if metadata is None:
        return ()
    if not isinstance(metadata, Mapping) or not metadata:
        raise ValidationError(
            "metadata must be a non-empty dict such as {'team': 'North'} or {'level': {'$gte': 3}}, got "
            f"{metadata!r}",
            field="metadata",
        )
    out: list[tuple[str, str | None, Any]] = []
    for key, value in metadata.items():
        if not isinstance(key, str) or not key.strip() or any(c in key for c in "&=#"):
            raise ValidationError(f"metadata keys must be plain non-empty strings, got {key!r}", field="metadata")
        if isinstance(value, Mapping):
            if not value:
                raise ValidationError(f"metadata[{key!r}] is an empty dict; give an operator such as {{'$gte': 3}}",
                                      field="metadata")
            for op, bound in value.items():
                if op not in META_OPERATORS:
                    raise ValidationError(
                        f"metadata[{key!r}] uses {op!r}; the operators are {', '.join(META_OPERATORS)}",
                        field="metadata",
                    )
                if not isinstance(bound, _Scalar):
                    raise ValidationError(
                        f"metadata[{key!r}][{op!r}] must be a string, number or bool, got {bound!r}", field="metadata"
                    )
                out.append((key, op, bound))
        elif isinstance(value, _Scalar):
            out.append((key, None, value))
        else:
            raise ValidationError(
                f"metadata[{key!r}] must be a string, number, bool or an operator dict, got {value!r}",
                field="metadata",
            )
    return tuple(out)


def _wire_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _meta_match(actual: Any, op: str | None, wanted: Any) -> bool:
    """The service's metadata comparison, for filtering locally where the v1 route cannot."""
    if actual is None:
        return False
    if op is None:
        return _wire_scalar(actual) == _wire_scalar(wanted)
    try:
        left, right = float(actual), float(wanted)  # numbers compare as numbers when both parse
    except (TypeError, ValueError):
        left, right = _wire_scalar(actual), _wire_scalar(wanted)  # type: ignore[assignment]
    return {"$gt": left > right, "$gte": left >= right, "$lt": left < right, "$lte": left <= right}[op]


@dataclass(frozen=True)
class SessionQuery:
    """What ``sessions.list`` was asked for, and how to ask each route for it (API.md §6).

    ``from_date`` / ``to_date`` mean *created* (sent to v2 as ``$gte_created_at`` / ``$lte_created_at``);
    ``updated_since`` is v2's ``from_date`` (which filters ``updated_at``). Several addresses are listed one
    request stream each and merged (the spec documents one ``user_email``). The v1 route knows only
    ``from_date`` / ``to_date`` on ``updated_at``: there the client sends the tightest ``from_date`` that is
    still correct and checks the rest (created range, metadata) itself (:meth:`matches`).
    """

    scenario_id: str | None = None
    emails: tuple[str, ...] = ()
    created_from: tuple[str, dt.datetime] | None = None
    created_to: tuple[str, dt.datetime] | None = None
    updated_since: tuple[str, dt.datetime] | None = None
    metadata: tuple[tuple[str, str | None, Any], ...] = ()
    is_org: bool = False

    @classmethod
    def build(
        cls,
        *,
        scenario_id: Any = None,
        user_email: Any = None,
        from_date: Any = None,
        to_date: Any = None,
        updated_since: Any = None,
        metadata: Any = None,
        is_org: Any = False,
    ) -> SessionQuery:
        """Validate the filters (a clear :class:`ValidationError` naming the filter otherwise)."""
        sid = require_id(scenario_id, "scenario_id") if scenario_id is not None else None
        emails: tuple[str, ...] = ()
        if user_email is not None:
            given = [user_email] if isinstance(user_email, str) else user_email
            if not isinstance(given, (list, tuple, set, frozenset)) or not given:
                raise ValidationError(
                    f"user_email must be an e-mail address or a non-empty list of them, got {user_email!r}",
                    field="user_email",
                )
            emails = tuple(dict.fromkeys(check_email(e) for e in given))
        start = _as_datetime(from_date, "from_date", end_of_day=False) if from_date is not None else None
        end = _as_datetime(to_date, "to_date", end_of_day=True) if to_date is not None else None
        _check_order(start and start[0], start and start[1], end and end[0], end and end[1])
        since = (
            _as_datetime(updated_since, "updated_since", end_of_day=False) if updated_since is not None else None
        )
        if not isinstance(is_org, bool):
            raise ValidationError(f"is_org must be True or False, got {is_org!r}", field="is_org")
        return cls(sid, emails, start, end, since, _check_meta(metadata), is_org)

    @property
    def legs(self) -> tuple[str | None, ...]:
        """One listing per address (or one for all when no address was given)."""
        return self.emails or (None,)

    def v2_params(self, email: str | None) -> dict[str, str]:
        """Query parameters for ``GET /v2/sessions``."""
        params: dict[str, str] = {}
        if self.scenario_id is not None:
            params["scenario_id"] = self.scenario_id
        if email is not None:
            params["user_email"] = email
        if self.created_from is not None:
            params["$gte_created_at"] = self.created_from[0]
        if self.created_to is not None:
            params["$lte_created_at"] = self.created_to[0]
        if self.updated_since is not None:
            params["from_date"] = self.updated_since[0]
        for key, op, value in self.metadata:
            params[f"meta_{op}_{key}" if op else f"meta_{key}"] = _wire_scalar(value)
        if self.is_org:
            params["is_org"] = "true"
        return params

    def v1_params(self, email: str | None) -> dict[str, str]:
        """Query parameters for the brief's ``GET /sessions`` (its dates filter ``updated_at``).

        A session is updated no earlier than it was created, so "created on or after X" implies "updated on
        or after X": the later of that and ``updated_since`` is a safe ``from_date``.
        """
        params: dict[str, str] = {}
        if self.scenario_id is not None:
            params["scenario_id"] = self.scenario_id
        if email is not None:
            params["user_email"] = email
        bounds = [b for b in (self.created_from, self.updated_since) if b is not None]
        if bounds:
            params["from_date"] = max(bounds, key=lambda b: b[1])[0]
        return params

    @property
    def v1_needs_local_filter(self) -> bool:
        """True when the v1 route cannot apply every filter (the rest is checked by :meth:`matches`)."""
        return self.created_from is not None or self.created_to is not None or bool(self.metadata)

    def matches(self, created_at: dt.datetime | None, user_metadata: Mapping[str, Any]) -> bool:
        """Whether a session listed through v1 passes the filters v1 could not apply."""
        if self.created_from is not None and (created_at is None or _aware(created_at) < self.created_from[1]):
            return False
        if self.created_to is not None and (created_at is None or _aware(created_at) > self.created_to[1]):
            return False
        return all(_meta_match(user_metadata.get(key), op, value) for key, op, value in self.metadata)

    def describe(self) -> dict[str, str]:
        """The filters as v2 would receive them (for reprs and logs)."""
        params = self.v2_params(None)
        if self.emails:
            params["user_email"] = ",".join(self.emails)
        return params


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def check_paging(page_size: Any, max_items: Any) -> tuple[int, int | None]:
    """Validated ``page_size`` (1–500) and ``max_items`` (None or an int >= 0)."""
    size = check_int(page_size, "page_size", 1, MAX_PAGE_SIZE)
    if max_items is not None:
        if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 0:
            raise ValidationError(f"max_items must be None or an integer >= 0, got {max_items!r}", field="max_items")
    return size, max_items


def prefetch_workers(prefetch: Any) -> int:
    """How many pages may be in flight: True → 4, False → 1 (sequential), an int 1–16 as given."""
    if prefetch is True:
        return 4
    if prefetch is False or prefetch is None:
        return 1
    return check_int(prefetch, "prefetch", 1, 16)
