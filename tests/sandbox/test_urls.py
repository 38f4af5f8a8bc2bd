"""Sandbox URLs are recognisable and never point anywhere real."""
from __future__ import annotations

import pytest

from ttai_notebook.sandbox import SANDBOX_ORIGIN, TRANSPORT_BASE_URL, is_sandbox_url
from ttai_notebook.sandbox.urls import embed_scenario_url, embed_session_url


def test_constants():
    assert SANDBOX_ORIGIN == "https://sandbox.ttai.invalid"
    assert TRANSPORT_BASE_URL == "https://sandbox.ttai.invalid/api/public"


@pytest.mark.parametrize(("url", "expected"), [
    ("https://sandbox.ttai.invalid/embed/session/abc", True),
    ("https://sandbox.ttai.invalid/embed/64f0c0ffee?scenarioAccessToken=sat_1", True),
    ("  https://SANDBOX.ttai.invalid/embed/x  ", True),
    ("https://sandbox.ttai.invalid/embed/", False),
    ("https://sandbox.ttai.invalid/analytics/session/abc", False),
    ("http://sandbox.ttai.invalid/embed/x", False),
    ("https://app.toughtongueai.com/embed/abc", False),
    ("https://sandbox.ttai.invalid.evil.com/embed/x", False),
    ("", False),
    (None, False),
    (42, False),
])
def test_is_sandbox_url(url, expected):
    assert is_sandbox_url(url) is expected


def test_builders_make_sandbox_urls():
    assert is_sandbox_url(embed_session_url("s1"))
    url = embed_scenario_url("sc1", scenarioAccessToken="sat_x", userName=None)
    assert url == "https://sandbox.ttai.invalid/embed/sc1?scenarioAccessToken=sat_x"
    assert is_sandbox_url(url)
