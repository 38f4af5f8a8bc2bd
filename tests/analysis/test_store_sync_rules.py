"""The pure decisions behind Store.sync (ttai_notebook._sync), as tables: filter keys, service time, the next
listing window, what counts as a change, and how a SyncResult reads."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ttai_notebook._sync import (
    DEFAULT_OVERLAP,
    SyncResult,
    check_overlap,
    differs,
    filter_key,
    format_instant,
    next_since,
    service_time,
)
from ttai_notebook.models import Analysis, Session

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 5, 14, 10, 0, 0, tzinfo=UTC)
SVC = {"base_url": "https://api.example/api/public", "org_id": None}


# --------------------------------------------------------------------------------------------------
# filter_key
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({}, {}),
        ({"user_email": "Ana@Example.com"}, {"user_email": "ana@example.com"}),
        ({"user_email": ["b@x.io", "a@x.io"]}, {"user_email": ("a@x.io", "B@x.io")}),
        ({"metadata": {"team": "North", "level": 3}}, {"metadata": {"level": 3, "team": "North"}}),
        ({"is_org": False}, {}),
    ],
)
def test_spellings_of_the_same_filters_share_a_key(a, b):
    assert filter_key(**SVC, **a) == filter_key(**SVC, **b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({}, {"scenario_id": "s1"}),
        ({"scenario_id": "s1"}, {"scenario_id": "s2"}),
        ({"user_email": "a@x.io"}, {"user_email": ["a@x.io", "b@x.io"]}),
        ({"metadata": {"team": "North"}}, {"metadata": {"team": "South"}}),
        ({}, {"is_org": True}),
    ],
)
def test_different_filters_have_different_keys(a, b):
    assert filter_key(**SVC, **a) != filter_key(**SVC, **b)


def test_the_service_and_org_are_part_of_the_key_and_a_trailing_slash_is_not():
    base = filter_key(base_url="https://a.example/api", org_id=None)
    assert base == filter_key(base_url="https://a.example/api/", org_id=None)
    assert base != filter_key(base_url="https://b.example/api", org_id=None)
    assert base != filter_key(base_url="https://a.example/api", org_id="org-1")


# --------------------------------------------------------------------------------------------------
# service_time and next_since
# --------------------------------------------------------------------------------------------------

H = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("created", "completed", "updated", "expected"),
    [
        (T0, T0 + H, T0 + 2 * H, T0 + 2 * H),  # updated_at when the listing carries it
        (T0, T0 + H, None, T0 + H),  # the spec's list items: no updated_at
        (T0, None, None, T0),  # still running
        (None, None, None, None),
        (T0.replace(tzinfo=None), None, None, T0),  # naive means UTC
    ],
)
def test_service_time_is_the_latest_stamp_the_service_wrote(created, completed, updated, expected):
    session = Session(id="s", created_at=created, completed_at=completed, updated_at=updated)
    assert service_time(session) == expected


S = dt.timedelta(seconds=1)


@pytest.mark.parametrize(
    ("mark", "overlap", "listing_s", "expected"),
    [
        (None, DEFAULT_OVERLAP, 0.0, None),  # never listed: everything
        (T0, dt.timedelta(0), 0.0, T0),  # inclusive from the mark itself
        (T0, 5 * S, 0.3, T0 - 5 * S),
        (T0, 5 * S, 7.25, T0 - 7.25 * S),  # a listing longer than the overlap widens the window
        (T0, DEFAULT_OVERLAP, 1.5, T0 - DEFAULT_OVERLAP),
        (T0, 0 * S, -1.0, T0),  # a clock oddity never narrows it below the overlap
    ],
)
def test_next_since(mark, overlap, listing_s, expected):
    assert next_since(mark, overlap, listing_s) == expected


@pytest.mark.parametrize(("given", "expected"), [(0, dt.timedelta(0)), (2.5, dt.timedelta(seconds=2.5)), (H, H)])
def test_overlap_accepts_seconds_or_a_timedelta(given, expected):
    assert check_overlap(given) == expected


@pytest.mark.parametrize("bad", [-1, dt.timedelta(seconds=-1), "5m", True, None, float("nan")])
def test_a_bad_overlap_is_refused_clearly(bad):
    with pytest.raises(ValueError, match="overlap must be a timedelta"):
        check_overlap(bad)


# --------------------------------------------------------------------------------------------------
# differs
# --------------------------------------------------------------------------------------------------

ANALYSIS = Analysis(session_id="s", score=74.0, strengths=("Warm opener",))
STORED = Session(
    id="s", scenario_id="scn", status="completed", user_email="ana@example.com", created_at=T0,
    updated_at=T0 + H, transcript="[00:01] AI: Hello", metadata={"team": "North"}, analysis=ANALYSIS,
)


@pytest.mark.parametrize(
    ("listed", "expected"),
    [
        (STORED, False),
        (dataclasses.replace(STORED, transcript=None), False),  # a list answer carries no transcript
        (dataclasses.replace(STORED, metadata={}), False),  # nor, say, metadata: it says nothing
        (dataclasses.replace(STORED, updated_at=None), False),  # the spec's list items: no updated_at
        (dataclasses.replace(STORED, updated_at=T0 + 2 * H), True),
        (dataclasses.replace(STORED, status="archived"), True),
        (dataclasses.replace(STORED, analysis=dataclasses.replace(ANALYSIS, score=80.0)), True),
        (dataclasses.replace(STORED, analysis=Analysis(session_id="s", is_analyzing=True)), False),
        (dataclasses.replace(STORED, updated_at=None, analysis=dataclasses.replace(ANALYSIS, score=1.0)), True),
    ],
)
def test_what_counts_as_a_change(listed, expected):
    assert differs(STORED, listed) is expected


def test_a_listed_analysis_where_none_was_stored_is_a_change():
    assert differs(dataclasses.replace(STORED, analysis=None), STORED) is True


# --------------------------------------------------------------------------------------------------
# SyncResult
# --------------------------------------------------------------------------------------------------


def test_str_reads_as_one_line_with_counts_and_window():
    result = SyncResult(new=3, changed=5, unchanged=512, total=520, since=T0, high_water_mark=T0 + H)
    assert str(result) == (
        "synced: 3 new, 5 changed, 512 unchanged (listed since 2026-05-14T10:00:00Z); "
        "520 in the store for these filters"
    )
    first = SyncResult(new=520, changed=0, unchanged=0, total=520, since=None, high_water_mark=T0)
    assert "(full listing)" in str(first) and first.full and not result.full
    gone = SyncResult(new=0, changed=0, unchanged=9, total=9, since=None, high_water_mark=T0, removed=2)
    assert "2 no longer listed" in str(gone)


def test_repr_names_every_count_and_the_instants():
    result = SyncResult(new=1, changed=2, unchanged=3, total=6, since=None, high_water_mark=T0 + 2.5 * S,
                        filters={"scenario_id": "scn"})
    assert repr(result) == (
        "SyncResult(new=1, changed=2, unchanged=3, total=6, since=None, "
        "high_water_mark=2026-05-14T10:00:02.500000Z, scenario_id='scn')"
    )


def test_html_escapes_what_it_shows():
    result = SyncResult(new=1, changed=0, unchanged=0, total=1, since=T0, high_water_mark=T0,
                        filters={"metadata": {"team": "<script>alert(1)</script>"}}, removed=0)
    page = result._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "No longer listed" in page and "since 2026-05-14T10:00:00Z" in page


@pytest.mark.parametrize(
    ("value", "seconds_only", "expected"),
    [
        (T0, False, "2026-05-14T10:00:00Z"),
        (T0 + 2.5 * S, False, "2026-05-14T10:00:02.500000Z"),
        (T0 + 2.5 * S, True, "2026-05-14T10:00:02Z"),
        (T0.astimezone(dt.timezone(dt.timedelta(hours=2))), False, "2026-05-14T10:00:00Z"),
        (None, False, "—"),
    ],
)
def test_format_instant(value, seconds_only, expected):
    assert format_instant(value, seconds_only=seconds_only) == expected
