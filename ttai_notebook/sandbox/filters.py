"""The filters of ``GET /v2/sessions`` as pure functions: the query (convenience ``from_date`` / ``to_date``,
advanced ``$op_<field>``, ``meta_<key>`` and ``meta_$op_<key>``) parsed into a :class:`SessionFilter`, and
a session matched against it. No HTTP, no state.

Date semantics (one rule for every bound): a date-only value means the whole day, 00:00 up to the next
midnight (UTC). So ``$gte_`` / ``from_date`` start at its midnight, ``$lte_`` / ``to_date`` end at the next
midnight (the service's "to_date bumps to end of day"), ``$gt_`` means after that day, ``$lt_`` before it.
A full ISO timestamp is the instant itself (naive = UTC). Advanced bounds take precedence over the
convenience ones on the same side of ``updated_at`` (the spec: "advanced filters take precedence on overlap").
"""
from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .clock import parse_ts

__all__ = [
    "OPERATORS",
    "DATE_FIELDS",
    "Bound",
    "SessionFilter",
    "FilterError",
    "parse_op_key",
    "date_bound",
    "parse_filters",
    "meta_equals",
    "meta_compare",
    "matches",
    "select",
]

#: Comparison operators of the ``$op_`` convention.
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "gte": operator.ge, "gt": operator.gt, "lte": operator.le, "lt": operator.lt,
}
#: Session timestamps the advanced date filters may name.
DATE_FIELDS = ("created_at", "updated_at")

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OP_KEY = re.compile(r"^\$([A-Za-z]*)_(.*)$")
_LOWER = ("gte", "gt")


class FilterError(Exception):
    """A query the service refuses: ``status`` 400 (a bad value, ``message``) or 422 (FastAPI-style ``errors``)."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []
        self.field = field


@dataclass(frozen=True)
class Bound:
    """``value <op> bound`` with ``op`` one of :data:`OPERATORS` (``bound`` a datetime or a query string)."""

    op: str
    value: Any

    def test(self, value: Any) -> bool:
        """Whether ``value`` satisfies this bound."""
        return OPERATORS[self.op](value, self.value)


@dataclass(frozen=True)
class SessionFilter:
    """What a v2 listing asks for. Empty tuples / None mean "no condition"."""

    scenario_id: str | None = None
    user_email: str | None = None  # lower-cased; one address
    created: tuple[Bound, ...] = ()
    updated: tuple[Bound, ...] = ()
    meta_exact: tuple[tuple[str, str], ...] = ()
    meta_ranges: tuple[tuple[str, Bound], ...] = ()

    @property
    def empty(self) -> bool:
        """True when every session matches."""
        return not (self.scenario_id or self.user_email or self.created or self.updated or self.meta_exact
                    or self.meta_ranges)


def _unknown(key: str, value: str, msg: str) -> FilterError:
    item = {"type": "value_error", "loc": ["query", key], "msg": msg, "input": value}
    return FilterError(422, msg, [item], field=key)


def parse_op_key(key: str) -> tuple[str, str] | None:
    """``"$gte_created_at"`` → ``("gte", "created_at")``; None if ``key`` is not of the ``$op_`` form.

    The operator is not checked here (see :func:`parse_filters`).

    Examples
    --------
    >>> parse_op_key("$lt_updated_at"), parse_op_key("meta_team")
    (('lt', 'updated_at'), None)
    """
    m = _OP_KEY.match(key)
    if m is None:
        return None
    return m.group(1).lower(), m.group(2)


def date_bound(op: str, text: str, *, name: str) -> Bound:
    """The bound ``$<op>_<field>=<text>`` stands for, on an aware UTC datetime (see the module docstring).

    Raises
    ------
    FilterError
        400 when ``text`` is neither a date nor an ISO-8601 timestamp.
    """
    raw = text.strip()
    try:
        if _DATE_ONLY.match(raw):
            day = date.fromisoformat(raw)
            start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
            following = start + timedelta(days=1)
            return {"gte": Bound("gte", start), "gt": Bound("gte", following),
                    "lte": Bound("lt", following), "lt": Bound("lt", start)}[op]
        return Bound(op, parse_ts(raw))
    except ValueError:
        raise FilterError(400, f"{name} must be a date (YYYY-MM-DD) or an ISO-8601 timestamp, got {text!r}.",
                          field=name) from None


def parse_filters(query: Mapping[str, Sequence[str]]) -> SessionFilter:
    """Parse the filters of a v2 listing (``page``, ``limit`` and ``is_org`` are validated elsewhere).

    Repeated keys: the last value counts, as in FastAPI. Blank values are no filter. Keys that are not
    filters are ignored, except a ``$``-operator the service does not know (422).

    Raises
    ------
    FilterError
        400 for a date that does not parse, 422 for an unknown ``$op`` or date field.
    """
    def last(key: str) -> str | None:
        values = query.get(key)
        if not values:
            return None
        value = values[-1].strip()
        return value or None

    created: list[Bound] = []
    advanced_updated: list[Bound] = []
    meta_exact: list[tuple[str, str]] = []
    meta_ranges: list[tuple[str, Bound]] = []
    for key in sorted(query):  # sorted: the same query always builds the same filter (it is a cache key too)
        value = last(key)
        if key.startswith("$"):
            parsed = parse_op_key(key)
            if parsed is None or parsed[0] not in OPERATORS:
                raise _unknown(key, value or "", f"Unknown filter operator in '{key}': use $gte_, $gt_, $lte_ or $lt_ "
                               f"followed by {' or '.join(DATE_FIELDS)}.")
            op, field = parsed
            if field not in DATE_FIELDS:
                raise _unknown(key, value or "", f"Unknown date field in '{key}': use {' or '.join(DATE_FIELDS)}.")
            if value is None:
                continue
            bound = date_bound(op, value, name=key)
            (created if field == "created_at" else advanced_updated).append(bound)
        elif key.startswith("meta_"):
            rest = key[len("meta_"):]
            if rest.startswith("$"):
                parsed = parse_op_key(rest)
                if parsed is None or parsed[0] not in OPERATORS or not parsed[1]:
                    raise _unknown(key, value or "", f"Unknown metadata filter '{key}': use meta_<key>=value or "
                                   "meta_$gte_<key>, meta_$gt_<key>, meta_$lte_<key>, meta_$lt_<key>.")
                if value is not None:
                    meta_ranges.append((parsed[1], Bound(parsed[0], value)))
            elif not rest:
                raise _unknown(key, value or "", "A metadata filter needs a key: meta_<key>=value.")
            elif value is not None:
                meta_exact.append((rest, value))

    updated = list(advanced_updated)
    # The convenience pair fills only the sides the advanced filters leave open.
    from_date, to_date = last("from_date"), last("to_date")
    if from_date is not None and not any(b.op in _LOWER for b in advanced_updated):
        updated.append(date_bound("gte", from_date, name="from_date"))
    if to_date is not None and not any(b.op not in _LOWER for b in advanced_updated):
        updated.append(date_bound("lte", to_date, name="to_date"))
    email = last("user_email")
    return SessionFilter(
        scenario_id=last("scenario_id"), user_email=email.lower() if email else None, created=tuple(created),
        updated=tuple(updated), meta_exact=tuple(meta_exact), meta_ranges=tuple(meta_ranges),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def meta_equals(stored: Any, wanted: str) -> bool:
    """``meta_<key>=wanted`` against a stored ``user_metadata`` value: booleans as ``true``/``false``,
    numbers as numbers, everything else as text.

    Examples
    --------
    >>> meta_equals(3, "3.0"), meta_equals("North", "north"), meta_equals(True, "true")
    (True, False, True)
    """
    if stored is None:
        return False
    if isinstance(stored, bool):
        return wanted.strip().lower() == ("true" if stored else "false")
    if isinstance(stored, (int, float)):
        number = _number(wanted)
        return number is not None and float(stored) == number
    return str(stored) == wanted


def meta_compare(stored: Any, bound: Bound) -> bool:
    """``meta_$op_<key>=value`` against a stored value: as numbers when both parse as numbers, else as text.

    Examples
    --------
    >>> meta_compare("10", Bound("gt", "9")), meta_compare("b", Bound("gt", "a"))
    (True, True)
    """
    if stored is None:
        return False
    a, b = _number(stored), _number(bound.value)
    if a is not None and b is not None:
        return OPERATORS[bound.op](a, b)
    text = ("true" if stored else "false") if isinstance(stored, bool) else str(stored)
    return OPERATORS[bound.op](text, str(bound.value))


def matches(flt: SessionFilter, rec: Any) -> bool:
    """Whether a session record (``scenario_id``, ``user_email``, ``created_at``, ``updated_at``,
    ``user_metadata``) satisfies the filter."""
    if flt.scenario_id is not None and rec.scenario_id != flt.scenario_id:
        return False
    if flt.user_email is not None and (rec.user_email or "").lower() != flt.user_email:
        return False
    for b in flt.created:
        if not b.test(rec.created_at):
            return False
    for b in flt.updated:
        if not b.test(rec.updated_at):
            return False
    if flt.meta_exact or flt.meta_ranges:
        meta = rec.user_metadata or {}
        for key, wanted in flt.meta_exact:
            if not meta_equals(meta.get(key), wanted):
                return False
        for key, bound in flt.meta_ranges:
            if not meta_compare(meta.get(key), bound):
                return False
    return True


def select(flt: SessionFilter, records: Iterable[Any]) -> list[Any]:
    """The records that match, in the order given."""
    if flt.empty:
        return list(records)
    return [r for r in records if matches(flt, r)]
