"""Sandbox defects the outside tools found, each as a minimal reproduction: marked ``xfail(strict=True)`` while
open (with an entry in test_schemathesis_sandbox.KNOWN_DEFECTS); once fixed, a plain regression test."""

from __future__ import annotations

import httpx
import pytest

from ttai_notebook.sandbox import Sandbox


@pytest.mark.parametrize("name", ["start_date", "end_date"])
def test_empty_date_time_query_is_refused(name: str) -> None:
    """Fixed defect empty-date-time-query-accepted: an empty start_date/end_date was treated as absent (200); the
    spec types them date-time|null and FastAPI answers 422 to an empty datetime."""
    box = Sandbox(dialect="spec", profile="current")
    with httpx.Client(transport=box.transport(), base_url=box.base_url) as http:
        response = http.get("/v2/analytics", params={name: ""})
    assert response.status_code == 422, response.text[:200]
