"""Timestamps as the service writes them, the deterministic clock, and seeded 24-hex ids."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from ttai_notebook.sandbox import DEMO_NOW
from ttai_notebook.sandbox.clock import CLOCK_STEP, DeterministicClock, IdGenerator, RealClock, format_ts, parse_ts


def test_demo_now_is_aware_utc():
    assert DEMO_NOW.tzinfo is not None and DEMO_NOW.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("value", "written"), [
    (datetime(2025, 2, 26, 18, 2, 0, 945000, tzinfo=timezone.utc), "2025-02-26T18:02:00.945000"),
    (datetime(2025, 2, 26, 18, 2), "2025-02-26T18:02:00.000000"),  # naive is UTC
    (datetime(2025, 2, 26, 20, 2, tzinfo=timezone(timedelta(hours=2))), "2025-02-26T18:02:00.000000"),
])
def test_format_ts_is_naive_utc_with_microseconds(value, written):
    assert format_ts(value) == written


@pytest.mark.parametrize(("text", "expected"), [
    ("2025-02-26T18:02:00.945000", datetime(2025, 2, 26, 18, 2, 0, 945000, tzinfo=timezone.utc)),
    ("2025-02-26T18:02:00Z", datetime(2025, 2, 26, 18, 2, tzinfo=timezone.utc)),
    ("2025-02-26T20:02:00+02:00", datetime(2025, 2, 26, 18, 2, tzinfo=timezone.utc)),
    ("2025-02-26", datetime(2025, 2, 26, tzinfo=timezone.utc)),
])
def test_parse_ts(text, expected):
    assert parse_ts(text) == expected


def test_parse_ts_rejects_garbage():
    with pytest.raises(ValueError):
        parse_ts("last tuesday")


def test_deterministic_clock_steps_from_demo_now():
    clock = DeterministicClock()
    assert clock.now() == DEMO_NOW
    assert clock.tick() == DEMO_NOW + CLOCK_STEP
    assert clock.tick() == DEMO_NOW + 2 * CLOCK_STEP
    clock.reset()
    assert clock.now() == DEMO_NOW


def test_real_clock_is_wall_time():
    before = datetime.now(timezone.utc)
    assert before - timedelta(seconds=1) <= RealClock().tick() <= datetime.now(timezone.utc) + timedelta(seconds=1)


def test_ids_are_24_hex_seeded_and_carry_their_time():
    a, b, c = IdGenerator(7), IdGenerator(7), IdGenerator(8)
    first = [a.new_id(DEMO_NOW) for _ in range(5)]
    assert first == [b.new_id(DEMO_NOW) for _ in range(5)]
    assert first != [c.new_id(DEMO_NOW) for _ in range(5)]
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in first)
    assert len(set(first)) == 5
    assert int(first[0][:8], 16) == int(DEMO_NOW.timestamp())
    a.reset()
    assert a.new_id(DEMO_NOW) == first[0]


def test_token_hex_length():
    assert re.fullmatch(r"[0-9a-f]{40}", IdGenerator(0).token_hex(20))
