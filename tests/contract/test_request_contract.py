"""Tables for the request judge: it must fail what the spec refuses, so the workout's zero failures mean something."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from . import spec_quirks as q
from .recorder import Sent
from .request_contract import RequestJudge

SPEC_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "ttai-openapi-2026-05.json"
AUTH = {"authorization": "Bearer t"}


@pytest.fixture(scope="module")
def judge() -> RequestJudge:
    return RequestJudge(q.with_bearer_alias(json.loads(SPEC_PATH.read_text(encoding="utf-8"))))


def sent(method: str, url: str, body: object = None, headers: dict[str, str] | None = None) -> Sent:
    raw = b"" if body is None else json.dumps(body).encode()
    hdrs = dict(AUTH if headers is None else headers)
    if body is not None:
        hdrs["content-type"] = "application/json"
    return Sent(method, httpx.URL("https://sandbox.ttai.invalid/api/public" + url), httpx.Headers(hdrs), raw)


@pytest.mark.parametrize(("request_", "kind", "errors", "prose"), [
    (sent("POST", "/test", {"input": "check"}), "validated", (), ()),
    (sent("POST", "/test", {}), "failed", ("InvalidRequestBody",), ()),
    (sent("POST", "/test", {"input": "check"}, headers={}), "failed", ("SecurityValidationError",), ()),
    (sent("GET", "/v2/sessions?limit=0"), "failed", ("InvalidParameter",), ()),
    (sent("GET", "/v2/sessions?limit=5&colour=red"), "failed", ("UndeclaredQueryParameter",), ()),
    (sent("GET", "/v2/sessions?meta_team=North&meta_%24gte_level=2&%24gte_created_at=2026-01-01"), "validated", (),
     ("meta_team", "meta_$gte_level", "$gte_created_at")),
    (sent("GET", "/v2/analytics?meta_team=North"), "failed", ("UndeclaredQueryParameter",), ()),
    (sent("GET", "/v2/sessions/batch?session_ids=a&session_ids=b"), "validated", (), ()),
    (sent("POST", "/v2/session", {"transcript": "x"}), "failed", ("InvalidRequestBody",), ()),
    (sent("PATCH", "/scenarios/abc", {"name": "n"}), "spec-lacks", (), ()),
    (sent("POST", "/v2/sessions", {"scenario_id": "s"}), "spec-lacks", (), ()),
    (sent("PUT", "/scenarios/abc", {"name": "n"}), "failed", ("OperationNotInSpec",), ()),
])
def test_judge(judge: RequestJudge, request_: Sent, kind: str, errors: tuple[str, ...],
               prose: tuple[str, ...]) -> None:
    verdict = judge.judge(request_)
    assert (verdict.kind, verdict.errors, verdict.prose) == (kind, errors, prose), verdict.detail
