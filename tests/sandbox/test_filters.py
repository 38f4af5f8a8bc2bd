"""The v2 list filters as pure functions, by tables: ``$op_<field>`` keys, date-only vs datetime bounds,
precedence of advanced over convenience bounds, metadata exact / range (numbers vs text), matching."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pytest

from ttai_notebook.sandbox.filters import (
    Bound,
    FilterError,
    SessionFilter,
    date_bound,
    matches,
    meta_compare,
    meta_equals,
    parse_filters,
    parse_op_key,
    select,
)

UTC = timezone.utc


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(("key", "expected"), [
    ("$gte_created_at", ("gte", "created_at")),
    ("$LT_updated_at", ("lt", "updated_at")),
    ("$between_created_at", ("between", "created_at")),
    ("$gte_", ("gte", "")),
    ("$team", None),
    ("gte_created_at", None),
    ("meta_team", None),
])
def test_parse_op_key(key, expected):
    assert parse_op_key(key) == expected


@pytest.mark.parametrize(("op", "text", "expected"), [
    # a date-only value is the whole day: [00:00, next midnight)
    ("gte", "2026-03-10", Bound("gte", at(2026, 3, 10))),
    ("gt", "2026-03-10", Bound("gte", at(2026, 3, 11))),
    ("lte", "2026-03-10", Bound("lt", at(2026, 3, 11))),
    ("lt", "2026-03-10", Bound("lt", at(2026, 3, 10))),
    ("lte", "2026-12-31", Bound("lt", at(2027, 1, 1))),
    # a timestamp is the instant; naive means UTC; offsets are converted
    ("gte", "2026-03-10T08:30:00", Bound("gte", at(2026, 3, 10, 8, 30))),
    ("lt", "2026-03-10T08:30:00.250000Z", Bound("lt", at(2026, 3, 10, 8, 30, 0, 250000))),
    ("lte", "2026-03-10T10:30:00+02:00", Bound("lte", at(2026, 3, 10, 8, 30))),
    ("gt", " 2026-03-10T08:30:00 ", Bound("gt", at(2026, 3, 10, 8, 30))),
])
def test_date_bound(op, text, expected):
    assert date_bound(op, text, name="x") == expected


@pytest.mark.parametrize("text", ["last week", "2026-13-01", "10/03/2026", ""])
def test_date_bound_refuses_what_does_not_parse(text):
    with pytest.raises(FilterError) as exc:
        date_bound("gte", text, name="$gte_created_at")
    assert exc.value.status == 400 and "$gte_created_at" in exc.value.message


def q(**params: Any) -> dict[str, list[str]]:
    return {k.replace("__", "$"): [str(v)] for k, v in params.items()}


@pytest.mark.parametrize(("query", "expected"), [
    ({}, SessionFilter()),
    ({"scenario_id": ["s1"], "user_email": [" Ann@Example.COM "]},
     SessionFilter(scenario_id="s1", user_email="ann@example.com")),
    ({"user_email": ["a@x.io,b@x.io"]}, SessionFilter(user_email="a@x.io,b@x.io")),  # v2: one address
    ({"scenario_id": ["  "], "page": ["2"], "limit": ["10"], "is_org": ["true"], "other": ["x"]}, SessionFilter()),
    ({"from_date": ["2026-03-01"], "to_date": ["2026-03-31"]},
     SessionFilter(updated=(Bound("gte", at(2026, 3, 1)), Bound("lt", at(2026, 4, 1))))),
    ({"$gte_created_at": ["2026-03-01"], "$lt_created_at": ["2026-03-05T12:00:00"]},
     SessionFilter(created=(Bound("gte", at(2026, 3, 1)), Bound("lt", at(2026, 3, 5, 12))))),
    # advanced bounds take precedence over the convenience ones on the same side only
    ({"from_date": ["2026-03-01"], "to_date": ["2026-03-31"], "$gt_updated_at": ["2026-03-10T00:00:00"]},
     SessionFilter(updated=(Bound("gt", at(2026, 3, 10)), Bound("lt", at(2026, 4, 1))))),
    ({"from_date": ["2026-03-01"], "to_date": ["2026-03-31"], "$lte_updated_at": ["2026-03-20"]},
     SessionFilter(updated=(Bound("lt", at(2026, 3, 21)), Bound("gte", at(2026, 3, 1))))),
    # created bounds do not displace the updated ones
    ({"from_date": ["2026-03-01"], "$gte_created_at": ["2026-02-01"]},
     SessionFilter(created=(Bound("gte", at(2026, 2, 1)),), updated=(Bound("gte", at(2026, 3, 1)),))),
    # the last of repeated values counts; blank values are no filter
    ({"from_date": ["2026-01-01", "2026-02-01"], "$gte_created_at": [""]},
     SessionFilter(updated=(Bound("gte", at(2026, 2, 1)),))),
    ({"meta_team": ["North"], "meta_$gte_level": ["3"], "meta_$lt_level": ["10"], "meta_cohort": [""]},
     SessionFilter(meta_exact=(("team", "North"),),
                   meta_ranges=(("level", Bound("gte", "3")), ("level", Bound("lt", "10"))))),
    ({"meta_a_b": ["1"]}, SessionFilter(meta_exact=(("a_b", "1"),))),
])
def test_parse_filters(query, expected):
    got = parse_filters(query)
    assert got.scenario_id == expected.scenario_id and got.user_email == expected.user_email
    assert got.created == expected.created and set(got.updated) == set(expected.updated)
    assert len(got.updated) == len(expected.updated)
    assert got.meta_exact == expected.meta_exact and set(got.meta_ranges) == set(expected.meta_ranges)
    assert got.empty == expected.empty


@pytest.mark.parametrize(("query", "status", "needle"), [
    ({"$between_created_at": ["2026-01-01"]}, 422, "Unknown filter operator"),
    ({"$gte_deleted_at": ["2026-01-01"]}, 422, "Unknown date field"),
    ({"$gte_created_at": ["yesterday"]}, 400, "$gte_created_at must be a date"),
    ({"$eq_created_at": [""]}, 422, "Unknown filter operator"),  # refused even without a value
    ({"$": ["x"]}, 422, "Unknown filter operator"),
    ({"meta_$ne_team": ["North"]}, 422, "Unknown metadata filter"),
    ({"meta_$gte_": ["3"]}, 422, "Unknown metadata filter"),
    ({"meta_": ["3"]}, 422, "needs a key"),
    ({"from_date": ["soon"]}, 400, "from_date must be a date"),
    ({"to_date": ["2026-02-30"]}, 400, "to_date must be a date"),
])
def test_parse_filters_refusals(query, status, needle):
    with pytest.raises(FilterError) as exc:
        parse_filters(query)
    assert exc.value.status == status and needle in exc.value.message
    if status == 422:
        (item,) = exc.value.errors
        assert item["loc"] == ["query", next(iter(query))] and item["type"] == "value_error"


@pytest.mark.parametrize(("stored", "wanted", "expected"), [
    ("North", "North", True),
    ("North", "north", False),  # exact
    ("North", "Nor", False),
    (3, "3", True),
    (3, "3.0", True),  # numbers as numbers
    (2.5, "2.5", True),
    (3, "three", False),
    ("3", "3.0", False),  # stored text stays text
    (True, "true", True),
    (True, "True", True),
    (False, "true", False),
    (True, "1", False),
    (None, "", False),
])
def test_meta_equals(stored, wanted, expected):
    assert meta_equals(stored, wanted) is expected


@pytest.mark.parametrize(("stored", "op", "wanted", "expected"), [
    (10, "gte", "9", True),
    ("10", "gt", "9", True),  # both parse: numbers, not text ("10" < "9" as text)
    ("10", "lt", "9", False),
    (2, "lte", "2", True),
    (2, "lt", "2", False),
    ("b", "gt", "a", True),  # text
    ("North", "lt", "South", True),
    ("10", "gt", "nine", False),  # one side is text: compared as text ("1" < "n")
    (True, "gte", "true", True),
    ("nan", "gt", "1", True),  # not a finite number: text ("n" > "1"); as a float NaN it would be False
    (None, "gte", "0", False),
    (float("inf"), "gt", "1", True),  # a stored float is a number even when infinite
])
def test_meta_compare(stored, op, wanted, expected):
    assert meta_compare(stored, Bound(op, wanted)) is expected


@dataclass
class Rec:
    scenario_id: str = "s1"
    user_email: str | None = "ann@example.com"
    created_at: datetime = field(default_factory=lambda: at(2026, 3, 10, 9))
    updated_at: datetime = field(default_factory=lambda: at(2026, 3, 12, 9))
    user_metadata: dict[str, Any] | None = None


@pytest.mark.parametrize(("query", "rec", "expected"), [
    ({}, Rec(), True),
    ({"scenario_id": ["s2"]}, Rec(), False),
    ({"user_email": ["ANN@example.com"]}, Rec(), True),
    ({"user_email": ["ann@example.com"]}, Rec(user_email=None), False),
    ({"$gte_created_at": ["2026-03-10"]}, Rec(), True),
    ({"$gt_created_at": ["2026-03-10"]}, Rec(), False),  # after that day
    ({"$lte_created_at": ["2026-03-10"]}, Rec(), True),  # within that day
    ({"$lt_created_at": ["2026-03-10"]}, Rec(), False),
    ({"$lt_created_at": ["2026-03-10T09:00:00"]}, Rec(), False),
    ({"$lte_created_at": ["2026-03-10T09:00:00"]}, Rec(), True),
    ({"to_date": ["2026-03-12"]}, Rec(), True),  # updated on that day: end of day counts
    ({"from_date": ["2026-03-13"]}, Rec(), False),
    ({"from_date": ["2026-03-13"], "$gte_updated_at": ["2026-03-01"]}, Rec(), True),  # advanced wins
    ({"meta_team": ["North"]}, Rec(user_metadata={"team": "North"}), True),
    ({"meta_team": ["North"]}, Rec(user_metadata=None), False),
    ({"meta_team": ["North"], "meta_$gte_level": ["3"]}, Rec(user_metadata={"team": "North", "level": 2}), False),
    ({"meta_$gte_level": ["3"], "meta_$lte_level": ["5"]}, Rec(user_metadata={"level": "4"}), True),
])
def test_matches(query, rec, expected):
    assert matches(parse_filters(query), rec) is expected


def test_select_keeps_order_and_short_cuts_the_empty_filter():
    recs = [Rec(scenario_id=f"s{i % 2}") for i in range(6)]
    assert select(SessionFilter(), recs) == recs
    assert select(parse_filters({"scenario_id": ["s1"]}), recs) == recs[1::2]
