"""Shared helpers of the sandbox tests: transcripts, plain httpx clients, shortcuts for common calls."""
from __future__ import annotations

import ssl
from typing import Any

import httpx

from ttai_notebook.sandbox import Sandbox

GOOD_TRANSCRIPT = (
    "[00:00] AI: Dana speaking.\n\n"
    "[00:03] User: Hi Dana, this is Sam from RouteWise. The reason for my call is fuel costs. Do you have two minutes?\n\n"
    "[00:12] AI: We looked at tools like this and they were too expensive.\n\n"
    "[00:16] User: I understand, that's a fair concern. What if we compared it to the cost of doing nothing? "
    "One customer cut fuel by 12% in 90 days, which means it paid for itself.\n\n"
    "[00:30] AI: Hm. Go on.\n\n"
    "[00:32] User: What does your planning process look like today? How do you handle sick drivers?\n\n"
    "[00:50] AI: Spreadsheets, mostly, and one tired dispatcher.\n\n"
    "[00:55] User: That makes sense. Could we book 30 minutes on Tuesday at 10 am to walk through it? "
    "I'll send the invite today."
)
WEAK_TRANSCRIPT = (
    "[00:00] AI: Dana speaking.\n\n"
    "[00:02] User: Yeah hi, um, so I'm calling about, uh, some software stuff.\n\n"
    "[00:08] AI: We looked at tools like this and they were too expensive.\n\n"
    "[00:11] User: Um, well, I mean, everyone says that, but, you know, it's basically the best on the market and "
    "it, like, does everything and more, kind of, for everyone, you know, basically.\n\n"
    "[00:30] AI: I have to go.\n\n"
    "[00:31] User: Okay, well, um, let me know if you're interested I guess."
)


# Building an SSL context costs ~50 ms; every plain-HTTP client to 127.0.0.1 shares this one.
_SSL = ssl.create_default_context()


def local_client(base_url: str, **kwargs: Any) -> httpx.Client:
    """An httpx client for a sandbox server on 127.0.0.1 (cheap to build)."""
    kwargs.setdefault("timeout", 10)
    return httpx.Client(base_url=base_url, verify=_SSL, **kwargs)


def make_http(box: Sandbox) -> httpx.Client:
    return httpx.Client(transport=box.transport(), base_url=box.base_url)


def first_scenario_id(client: httpx.Client) -> str:
    return client.get("/scenarios").json()["scenarios"][0]["id"]


def new_session(client: httpx.Client, scenario_id: str | None = None, **extra: Any) -> str:
    sid = scenario_id or first_scenario_id(client)
    r = client.post("/v2/sessions", json={"scenario_id": sid, **extra})
    assert r.status_code == 200, r.text
    return r.json()["session_id"]


def complete(client: httpx.Client, session_id: str, transcript: str = GOOD_TRANSCRIPT, **extra: Any) -> httpx.Response:
    return client.post(f"/sandbox/sessions/{session_id}/complete", json={"transcript": transcript, **extra})
