"""openapi-core validates every request the client sends during a workout of its whole surface, on the sandbox
in both profiles ("current", "brief") and both dialects ("documented", "spec").

Requests are recorded by :class:`recorder.RecordingTransport` around the sandbox's transport and judged by
:class:`request_contract.RequestJudge` against the vendor spec (with the ``HTTPBearer`` alias, see
spec_quirks.py). Counted apart, never validated: requests to routes the spec lacks
(:data:`request_contract.SPEC_LACKS`: PATCH / DELETE /scenarios/{id}, POST /v2/sessions, API.md §1). Query
parameters documented only in an operation's description (:data:`request_contract.PROSE_QUERY`:
``$gte_created_at`` ... and ``meta_<key>`` / ``meta_$gte_<key>`` ... on GET /v2/sessions) are listed, not failed;
any other undeclared query parameter fails (``UndeclaredQueryParameter``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ttai_notebook.client import Client
from ttai_notebook.errors import NotSupportedError
from ttai_notebook.sandbox import SANDBOX_ORIGIN, Sandbox

from . import spec_quirks as q
from .recorder import RecordingTransport, Sent
from .request_contract import RequestJudge

SPEC_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "ttai-openapi-2026-05.json"
TOKEN = "contract-openapi-core-token"
TRANSCRIPT = "[00:00] AI: Tell me about a launch you led.\n\n[00:05] User: I led the checkout redesign."


@pytest.fixture(scope="module")
def judge() -> RequestJudge:
    return RequestJudge(q.with_bearer_alias(json.loads(SPEC_PATH.read_text(encoding="utf-8"))))


def _client(box: Sandbox, recorder: RecordingTransport, **options: Any) -> Client:
    client = Client(token=TOKEN, base_url=box.base_url, transport=recorder, app_url=SANDBOX_ORIGIN,
                    sleep=lambda seconds: box.advance(seconds), **options)
    client.sandbox_instance = box
    return client


def _step(done: list[str], name: str, action: Callable[[], Any]) -> None:
    """Run one workout step; a service without the route (NotSupportedError) is a normal answer here."""
    try:
        action()
        done.append(name)
    except NotSupportedError:
        done.append(f"{name} (not supported)")


def workout(box: Sandbox, recorder: RecordingTransport) -> list[str]:
    """Drive the whole client surface once; returns the steps run."""
    done: list[str] = []
    home = next(org for org in box.state.organizations if org.home)
    with _client(box, recorder) as client, _client(box, recorder, org_id=home.id) as org_client:
        _step(done, "test_token", client.test_token)
        _step(done, "balance", client.balance)
        _step(done, "organizations.list", client.organizations.list)
        scenarios = client.scenarios.list(cache=False)
        done.append("scenarios.list")
        _step(done, "scenarios.list(search)", lambda: client.scenarios.list("interview", cache=False))
        _step(done, "scenarios.get", lambda: client.scenarios.get(scenarios[0].id, cache=False))
        made = client.scenarios.create("Contract drill", "Be a tough customer.", description="d", is_public=False,
                                       session_analysis={"is_auto_analysis": True})
        done.append("scenarios.create")
        _step(done, "scenarios.update", lambda: client.scenarios.update(made.id, description="changed"))
        _step(done, "scenarios.access_token", lambda: client.scenarios.access_token(made.id, 2))
        first = [s for s in client.sessions.list(max_items=40).to_list() if s.status == "completed"][:3]
        assert len(first) == 3
        done.append("sessions.list")
        _step(done, "sessions.list(filters)", lambda: client.sessions.list(
            scenario_id=scenarios[0].id, user_email=first[0].user_email, from_date="2026-01-01",
            to_date="2026-12-31", updated_since="2026-02-01T00:00:00+00:00",
            metadata={"team": "Enterprise West", "level": {"$gte": 2}}, max_items=5).to_list())
        _step(done, "sessions.list(user_email list)", lambda: client.sessions.list(
            user_email=[first[0].user_email, "nobody@example.com"], max_items=5).to_list())
        _step(done, "sessions.list(is_org)", lambda: org_client.sessions.list(is_org=True, max_items=5).to_list())
        _step(done, "sessions.get", lambda: client.sessions.get(first[0].id))
        _step(done, "sessions.get_many", lambda: client.sessions.get_many([s.id for s in first]))
        _step(done, "sessions.create", lambda: client.sessions.create(
            scenarios[0].id, user_email="ana@example.com", user_name="Ana", metadata={"cohort": "A"}))
        _step(done, "sessions.post_process", lambda: client.sessions.post_process(first[1].id))
        _step(done, "sessions.analyze", lambda: client.sessions.analyze(first[2].id, force=True, wait_timeout=30))
        _step(done, "sessions.import_transcript", lambda: client.sessions.import_transcript(
            scenarios[0].id, transcript=TRANSCRIPT, user_email="ana@example.com", user_name="Ana",
            metadata={"source": "contract"}, user_metadata={"team": "North"}))
        _step(done, "analytics", lambda: client.analytics(start="2026-01-01", end="2026-06-30"))
        _step(done, "analytics(org_wide)", lambda: org_client.analytics(org_wide=True))
        _step(done, "scenarios.delete", lambda: client.scenarios.delete(made.id))
    return done


@pytest.fixture(params=[("current", "spec"), ("current", "documented"), ("brief", "spec"), ("brief", "documented")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def recorded(request: pytest.FixtureRequest) -> Iterator[tuple[list[str], list[Sent]]]:
    profile, dialect = request.param
    box = Sandbox(seed=0, profile=profile, dialect=dialect, token=TOKEN, processing_time=0)
    recorder = RecordingTransport(box.transport())
    yield workout(box, recorder), recorder.sent


def test_every_client_request_validates(recorded: tuple[list[str], list[Sent]], judge: RequestJudge,
                                        contract_figures: Callable[..., None]) -> None:
    steps, sent = recorded
    verdicts = [judge.judge(request) for request in sent]
    kinds = Counter(v.kind for v in verdicts)
    failures = Counter(error for v in verdicts for error in v.errors)
    contract_figures("openapi-core (client requests, 4 profile x dialect workouts)", workouts=1,
                     steps=len(steps), steps_not_supported=sum("(not supported)" in s for s in steps),
                     requests=len(sent), validated=kinds["validated"], spec_lacks=kinds["spec-lacks"],
                     failed=kinds["failed"], **{f"failure {k}": n for k, n in failures.items()},
                     **{f"spec lacks {k}": n for k, n in Counter(
                         v.operation for v in verdicts if v.kind == "spec-lacks").items()},
                     **{f"prose parameter {k}": n for k, n in Counter(
                         name for v in verdicts for name in v.prose).items()})
    assert len(steps) == 22 and kinds["validated"] >= len(steps) - 3
    assert not [v for v in verdicts if v.kind == "failed"], "\n".join(
        f"{v.operation}: {v.detail}" for v in verdicts if v.kind == "failed")
