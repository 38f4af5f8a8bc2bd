"""Normalisation of both API dialects into one set of models (API.md §2), tested by tables."""

from __future__ import annotations

import datetime as dt
import json
import pathlib

import pytest

from ttai_notebook.models import (
    Analysis,
    Analytics,
    Balance,
    Organization,
    RubricScore,
    Scenario,
    Session,
    SessionLink,
    TokenCheck,
    normalize_status,
    parse_datetime,
    parse_score,
    split_items,
)

UTC = dt.timezone.utc
SPEC = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "ttai-openapi-2026-05.json"


@pytest.mark.parametrize(
    ("overall", "final", "expected"),
    [
        (85, None, 85.0),  # documented: 0–100 as is
        (85.5, None, 85.5),
        (0, None, 0.0),
        (100, None, 100.0),
        ("8/10", 7.4, 74.0),  # spec: final_score wins over the text
        ("8/10", None, 80.0),  # a/b when final_score is missing
        ("17/20", None, 85.0),
        (None, 7.4, 74.0),
        (None, "7.4", 74.0),  # numeric strings are numbers
        ("72", None, 72.0),
        ("eighty", None, None),  # hostile: wrong type
        (None, None, None),
        (True, None, None),  # a bool is not a score
        (150, None, None),  # out of range: refuse rather than clamp
        (-5, None, None),
        (None, 11, None),
        ("8/0", None, None),
        (float("nan"), None, None),
        ({"x": 1}, None, None),
    ],
)
def test_parse_score(overall, final, expected):
    assert parse_score(overall, final) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ()),
        (["Clear opener", "  ", "Good questions "], ("Clear opener", "Good questions")),
        ("- **Rapport**: warm opener\n- Asked 4 questions", ("Rapport: warm opener", "Asked 4 questions")),
        ("* one\n* two\n  continued", ("one", "two continued")),
        ("1. Slow down\n2) Confirm next steps", ("Slow down", "Confirm next steps")),
        ("### Strengths\n- a\n- b", ("a", "b")),
        ("Plain paragraph one.\n\nParagraph two.", ("Plain paragraph one.", "Paragraph two.")),
        ("", ()),
        ("• bullet dot\n• second", ("bullet dot", "second")),
        ([{"title": "Pace", "description": "slow down"}], ("Pace: slow down",)),
        ([1, None, True], ("1",)),
        (42, ()),
        ({"a": 1}, ()),
    ],
)
def test_split_items(value, expected):
    assert split_items(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("active", "in_progress"),
        ("in_progress", "in_progress"),
        ("ACTIVE", "in_progress"),
        ("completed", "completed"),
        ("terminated", "terminated"),
        ("archived", "archived"),
        ("failed", "failed"),
        ("canceled", "cancelled"),
        ("cancelled", "cancelled"),
        ("something_new", "something_new"),
        ("", None),
        (None, None),
        (3, None),
    ],
)
def test_normalize_status(value, expected):
    assert normalize_status(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-02-26T18:02:00.945000", dt.datetime(2025, 2, 26, 18, 2, 0, 945000, tzinfo=UTC)),
        ("2025-02-26T18:02:00Z", dt.datetime(2025, 2, 26, 18, 2, tzinfo=UTC)),
        ("2025-02-26T19:02:00+01:00", dt.datetime(2025, 2, 26, 18, 2, tzinfo=UTC)),
        ("2025-02-26T18:02:00.9451Z", dt.datetime(2025, 2, 26, 18, 2, 0, 945100, tzinfo=UTC)),
        ("2025-02-26", dt.datetime(2025, 2, 26, tzinfo=UTC)),
        (1740592920, dt.datetime(2025, 2, 26, 18, 2, tzinfo=UTC)),
        (1740592920000, dt.datetime(2025, 2, 26, 18, 2, tzinfo=UTC)),  # epoch ms from JavaScript
        (dt.date(2025, 2, 26), dt.datetime(2025, 2, 26, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
        (True, None),
        (float("inf"), None),
    ],
)
def test_parse_datetime(value, expected):
    assert parse_datetime(value) == expected


# ---- the brief's examples (documented dialect) ---------------------------------------------------

DOC_ANALYSIS = {"overall_score": 85, "strengths": ["Clear opener", "Good discovery"], "improvements": ["Pace"]}

SPEC_EVALUATION = {
    "overall_score": "7/10",
    "final_score": 7.4,
    "strengths": "- **Rapport**: warm, personal opener\n- Asked four open questions",
    "weaknesses": "- Talked over the prospect\n- No clear next step",
    "detailed_feedback": "The rep built rapport quickly...",
    "report_card": [
        {"topic": "Discovery", "score": 8, "score_str": "8/10", "note": "Good", "weight": 40, "requires_video": False},
        {"topic": "Closing", "score": 5.5, "score_str": None, "note": None, "weight": 60},
        {"topic": "Personality", "score": 0.0, "score_str": "INTP", "note": "categorical", "weight": None},
    ],
    "quiz_results": None,
}
SPEC_IMPROVEMENT = {
    "improvement_areas": "- Listening",
    "action_items": "1. Pause after each question\n2. Propose a meeting time",
    "resources": "",
}


def test_analysis_documented_dialect():
    a = Analysis.from_api(DOC_ANALYSIS, session_id="s1")
    assert (a.session_id, a.score, a.score_text) == ("s1", 85.0, None)
    assert a.strengths == ("Clear opener", "Good discovery")
    assert a.improvements == ("Pace",)
    assert a.report_card == () and a.is_analyzing is False
    assert a.raw == DOC_ANALYSIS


def test_analysis_spec_dialect():
    body = {"evaluation": SPEC_EVALUATION, "improvement": SPEC_IMPROVEMENT, "is_analyzing": False}
    a = Analysis.from_api(body)
    assert a.score == 74.0 and a.score_text == "7/10"
    assert a.strengths == ("Rapport: warm, personal opener", "Asked four open questions")
    assert a.improvements == ("Talked over the prospect", "No clear next step")  # from weaknesses
    assert a.action_items == ("Pause after each question", "Propose a meeting time")
    assert [r.topic for r in a.report_card] == ["Discovery", "Closing", "Personality"]
    assert [r.score for r in a.report_card] == [80.0, 55.0, None]  # 0–10 → 0–100; categorical kept as text
    assert a.report_card[2].score_text == "INTP"
    assert [r.weight for r in a.report_card] == [40.0, 60.0, None]
    assert a.detailed_feedback.startswith("The rep")


def test_analysis_still_running():
    a = Analysis.from_api({"evaluation": None, "improvement": None, "is_analyzing": True})
    assert a.is_analyzing and a.score is None and not a.has_results


def test_analysis_simulated_flag():
    a = Analysis.from_api({"final_score": 6, "detailed_feedback": "Simulated analysis (sandbox): ..."})
    assert a.is_simulated and a.score == 60.0


def test_rubric_score_table():
    assert RubricScore.from_api({"topic": "T", "score_str": "6/10"}).score == 60.0
    assert RubricScore.from_api({"topic": "T", "score": "nine"}).score is None
    assert RubricScore.from_api({}).topic == ""


SPEC_SESSION = {
    "_id": "69577496bd7c000fa3f4fc2a",
    "scenario_id": "69577496bd7c000fa3f4fc00",
    "user_id": "u1",
    "scenario_overview": {"id": "69577496bd7c000fa3f4fc00", "name": "Cold call"},
    "status": "completed",
    "created_at": "2025-02-26T18:02:00.945000",
    "updated_at": "2025-02-26T18:12:00",
    "completed_at": "2025-02-26T18:09:30.000000",
    "user_email": "ana@example.com",
    "user_name": "Ana",
    "duration": 450,
    "metadata": {"team": "North"},
    "user_metadata": {"level": 2},
    "finalized_transcript": "[00:01] AI: Hello\n\n[00:03] User: Hi",
    "evaluation_results": SPEC_EVALUATION,
    "improvement_results": SPEC_IMPROVEMENT,
    "share_enabled": False,
    "brand_new_field": {"kept": True},
}


def test_session_spec_shape():
    s = Session.from_api(SPEC_SESSION)
    assert s.id == "69577496bd7c000fa3f4fc2a"
    assert s.scenario_name == "Cold call"  # from scenario_overview when scenario_name is absent
    assert s.status == "completed"
    assert s.created_at == dt.datetime(2025, 2, 26, 18, 2, 0, 945000, tzinfo=UTC)
    assert s.completed_at.tzinfo is UTC
    assert s.duration_s == 450.0
    assert s.metadata == {"team": "North"} and s.user_metadata == {"level": 2}
    assert s.transcript.startswith("[00:01] AI:")
    assert s.analysis is not None and s.analysis.session_id == s.id and s.score == 74.0
    assert s.raw["brand_new_field"] == {"kept": True}  # unknown fields kept
    assert s.is_analyzed


@pytest.mark.parametrize("key", ["id", "_id", "session_id"])
def test_session_id_keys(key):
    assert Session.from_api({key: "abc"}).id == "abc"


def test_session_variants():
    s = Session.from_api({"id": "x", "status": "active", "duration_minutes": 2.5, "evaluation_results": None})
    assert (s.status, s.duration_s, s.analysis, s.score) == ("in_progress", 150.0, None, None)
    assert Session.from_api({"id": "x", "analysis": DOC_ANALYSIS}).score == 85.0


@pytest.mark.parametrize("junk", [None, [], "text", 42, {"id": 5, "status": 9, "metadata": "team", "duration": "long"}])
def test_from_api_never_raises(junk):
    for model in (Scenario, Session, Balance, TokenCheck, SessionLink, RubricScore, Analysis):
        model.from_api(junk)


def test_scenario_and_others():
    sc = Scenario.from_api(
        {"id": "sc1", "name": "Cold call", "is_public": True, "is_recording": False, "ai_instructions": "Be a CFO",
         "session_analysis": {"admin_email": "a@b.co"}, "created_at": "2025-01-01T00:00:00", "extra": 1}
    )
    assert (sc.id, sc.name, sc.is_public, sc.is_recording) == ("sc1", "Cold call", True, False)
    assert sc.session_analysis == {"admin_email": "a@b.co"} and sc.raw["extra"] == 1
    assert sc.created_at == dt.datetime(2025, 1, 1, tzinfo=UTC)
    b = Balance.from_api({"available_minutes": 4109.7, "last_updated": "2026-05-01T10:00:00"})
    assert b.available_minutes == 4109.7 and b.last_updated.tzinfo is UTC
    assert TokenCheck.from_api({"success": True, "message": "API token is valid"}).valid
    assert TokenCheck.from_api({"message": "API token is valid"}).valid  # spec dialect
    link = SessionLink.from_api({"session_id": "s", "embed_url": "https://app.toughtongueai.com/embed/session/s"})
    assert (link.session_id, link.embed_url) == ("s", "https://app.toughtongueai.com/embed/session/s")


def test_reprs_are_stable_and_hide_query_strings():
    link = SessionLink(session_id=None, embed_url="https://app.toughtongueai.com/embed/x?scenarioAccessToken=SECRET1")
    assert "SECRET1" not in repr(link) and "0x" not in repr(link)
    s = Session.from_api(SPEC_SESSION)
    assert repr(s) == (
        "Session(id='69577496bd7c000fa3f4fc2a', scenario_name='Cold call', status='completed', "
        "user_email='ana@example.com', created_at='2025-02-26T18:02:00.945000+00:00', score=74.0)"
    )


def test_to_dict_is_json_safe():
    s = Session.from_api(SPEC_SESSION)
    d = s.to_dict()
    json.dumps(d)
    assert d["analysis"]["score"] == 74.0 and "raw" not in d
    assert d["created_at"] == "2025-02-26T18:02:00.945000+00:00"


def test_models_are_frozen():
    s = Session.from_api({"id": "x"})
    with pytest.raises(AttributeError):
        s.status = "completed"  # type: ignore[misc]


def test_spec_fields_are_understood():
    """Every EvaluationResults / EvalReportEntry field of the vendor spec is either read or kept in raw."""
    spec = json.loads(SPEC.read_text())["components"]["schemas"]
    assert set(spec["EvaluationResults"]["properties"]) >= {"overall_score", "final_score", "strengths", "weaknesses",
                                                             "report_card", "detailed_feedback"}
    assert set(spec["EvalReportEntry"]["properties"]) >= {"topic", "score", "score_str", "note", "weight"}


def test_documented_simulated_flag():
    assert Analysis.from_api({"overall_score": 60, "strengths": [], "improvements": [], "simulated": True}).is_simulated
    assert not Analysis.from_api({"overall_score": 60}).is_simulated


# ---- the service as it is today (API.md §6) --------------------------------------------------------

REPORT_CARD = [{"topic": "Rapport", "score": 8.0, "score_str": "8/10", "note": "warm", "weight": 50}]


@pytest.mark.parametrize(
    ("fields", "score", "score_text", "topics"),
    [
        # Today's fields.
        ({"evaluation_results": {"final_score": 7.4, "overall_score": "7/10", "report_card": REPORT_CARD}},
         74.0, "7/10", ("Rapport",)),
        # Only the fields removed on 2026-09-30: evaluation_score was final_score (0–10), evaluation_note was
        # overall_score, report_card the same entries.
        ({"evaluation_score": 6.5, "evaluation_note": "6.5/10", "report_card": REPORT_CARD}, 65.0, "6.5/10",
         ("Rapport",)),
        ({"evaluation_note": "3/4"}, 75.0, "3/4", ()),
        # Both: today's win.
        ({"evaluation_results": {"final_score": 9.0}, "evaluation_score": 2.0, "report_card": REPORT_CARD},
         90.0, None, ()),
        # Removed fields that say nothing: no analysis.
        ({"evaluation_score": None, "evaluation_note": None, "report_card": None}, None, None, None),
    ],
)
def test_removed_session_fields_are_only_a_fallback(fields, score, score_text, topics):
    session = Session.from_api({"id": "s1", "status": "completed", **fields})
    if topics is None:
        assert session.analysis is None
        return
    assert session.analysis.score == score and session.analysis.score_text == score_text
    assert tuple(t.topic for t in session.analysis.report_card) == topics


@pytest.mark.parametrize(
    ("fields", "seconds"),
    [({"duration": 90}, 90.0), ({"duration_minutes": 1.5}, 90.0), ({"duration": 30, "duration_minutes": 9}, 30.0)],
)
def test_duration_reads_seconds_first(fields, seconds):
    assert Session.from_api({"id": "s1", **fields}).duration_s == seconds


@pytest.mark.parametrize(
    ("rubrik", "topics"),
    [
        ({"criteria": [{"topic": "Opening", "weight": 40, "prompt": "..."}, {"topic": "Close"}]}, ("Opening", "Close")),
        ({"entries": [{"topic": "Old shape"}]}, ("Old shape",)),
        ({"criteria": []}, ()),
    ],
)
def test_rubric_topics_read_the_spec_criteria(rubrik, topics):
    assert Scenario.from_api({"id": "x", "processed_rubrik": rubrik}).rubric_topics == topics


@pytest.mark.parametrize(
    ("role", "name", "level", "admin"),
    [(-1, "no access", -1, False), (10, "view", 10, False), (20, "read", 20, False), (30, "admin", 30, True),
     (99, "owner", 99, True), (42, "role 42", 42, True), ("admin", "admin", 30, True), (None, None, None, False),
     (True, None, None, False)],
)
def test_organization_roles_are_readable(role, name, level, admin):
    org = Organization.from_api({"id": "o1", "name": "Acme Sales", "slug": "acme", "role": role})
    assert (org.role, org.role_level, org.is_admin) == (name, level, admin)
    assert org.matches("o1") and org.matches("ACME") and org.matches(" acme sales ") and not org.matches("acm")


def test_analytics_frames_are_tidy():
    body = {
        "scenarios": [{"_id": "a" * 24, "name": "Cold call", "session_count": 4, "total_duration_seconds": 600,
                       "created_at": "2026-05-01T10:00:00", "is_public": False}],
        "org_dashboard": {
            "summary": {"total_sessions": 4, "completed_sessions": 3, "total_minutes": 10.0, "wallet_balance": 5.0},
            "usage_by_member": [],
            "time_series": [{"date": "2026-05-02", "session_count": 1, "total_minutes": 4.0},
                            {"date": "2026-05-01", "session_count": 3, "total_minutes": 6.0}],
        },
        "member_usage": {"members": [{"user_id": "u1", "name": "Ana", "email": "ana@example.com",
                                      "session_count": 4, "total_minutes": 10.0, "wallet_balance": 5.0}]},
    }
    analytics = Analytics.from_api(body)
    assert analytics.org_wide and analytics.summary["completed_sessions"] == 3
    scenarios = analytics.scenarios_frame()
    assert list(scenarios.columns[:4]) == ["scenario_id", "name", "session_count", "total_minutes"]
    assert scenarios.loc[0, "total_minutes"] == 10.0 and str(scenarios["created_at"].dt.tz) == "UTC"
    series = analytics.time_series_frame()
    assert list(series["session_count"]) == [3, 1] and series["date"].is_monotonic_increasing
    assert analytics.members_frame().loc[0, "email"] == "ana@example.com"
    personal = Analytics.from_api({"scenarios": []})
    assert not personal.org_wide and personal.scenarios_frame().empty and personal.time_series_frame().empty
    assert repr(personal) == "Analytics(personal, scenarios=0, days=0, members=0)"
