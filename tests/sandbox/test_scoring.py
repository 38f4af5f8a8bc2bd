"""The simulated scoring heuristic: parsing, signals, scores that follow behaviour, spec shapes, labels."""
from __future__ import annotations

import re

import pytest
from .helpers import GOOD_TRANSCRIPT, WEAK_TRANSCRIPT

from ttai_notebook.sandbox.demo_scripts import SCENARIOS
from ttai_notebook.sandbox.scoring import (
    DEFAULT_RUBRIC,
    SIMULATED_PREFIX,
    Turn,
    analyze_transcript,
    documented_analysis,
    extract_features,
    parse_transcript,
    signal_for_topic,
)

COLD_CALL_RUBRIC = next(s for s in SCENARIOS if s["key"] == "cold_call")["rubric"]


@pytest.mark.parametrize(("text", "turns"), [
    ("[00:01] AI: Hello.\n\n[00:04] User: Hi!", [Turn(1.0, "AI", "Hello."), Turn(4.0, "User", "Hi!")]),
    ("[01:02:03] Assistant: Hey", [Turn(3723.0, "AI", "Hey")]),
    ("AI: no time\n\nuser: lower case", [Turn(None, "AI", "no time"), Turn(None, "User", "lower case")]),
    ("[00:01] User: line one\ncontinues\n\nmore of it", [Turn(1.0, "User", "line one continues more of it")]),
    ("[x] Trainee: odd time", [Turn(None, "User", "odd time")]),
    ("stray text before any speaker", []),
    ("", []),
    (None, []),
])
def test_parse_transcript(text, turns):
    assert parse_transcript(text) == turns


@pytest.mark.parametrize(("topic", "signal"), [
    ("Opening & permission", "opening"),
    ("Discovery questions", "questions"),
    ("Value proposition", "value"),
    ("Objection handling", "objections"),
    ("Next step commitment", "next_steps"),
    ("Rapport", "empathy"),
    ("Open questions", "questions"),
    ("Active listening", "listening"),
    ("Pain quantification", "specificity"),
    ("Summary & next steps", "next_steps"),
    ("Acknowledgement", "empathy"),
    ("Clarifying questions", "questions"),
    ("Value reframing", "value"),
    ("Competitor objection", "objections"),
    ("Confident close", "next_steps"),
    ("Empathy & de-escalation", "empathy"),
    ("Ownership", "ownership"),
    ("Clear explanation", "clarity"),  # "explanation" must not read as "plan"
    ("Resolution plan", "resolution"),
    ("Follow-up commitment", "next_steps"),
    ("STAR structure", "structure"),
    ("Measurable impact", "specificity"),
    ("Conciseness", "clarity"),
    ("Self-reflection", "reflection"),
    ("Questions for the interviewer", "questions"),
    ("Starting strong", "engagement"),  # "start" is not "STAR"
    ("Something unusual", "engagement"),
])
def test_signal_for_topic(topic, signal):
    assert signal_for_topic(topic) == signal


def test_every_demo_topic_has_a_real_signal():
    for spec in SCENARIOS:
        for entry in spec["rubric"]:
            assert signal_for_topic(entry["topic"], entry["prompt"]) != "engagement", entry["topic"]


def test_features_found_in_a_good_call():
    f = extract_features(parse_transcript(GOOD_TRANSCRIPT))
    assert (f.greeting, f.intro, f.purpose) == (True, True, True)
    assert f.questions == 5 and f.open_questions == 3  # "Do you have...", "What if...", "What does...", "How do...", "Could we..."
    assert f.objections_raised == 1 and f.objections_answered == 1
    assert f.time_specific and f.next_steps >= 1
    assert f.fillers == 0
    assert f.user_turns == 4 and f.ai_turns == 4


def test_good_behaviour_scores_higher_on_every_topic():
    good, _ = analyze_transcript(GOOD_TRANSCRIPT, COLD_CALL_RUBRIC)
    weak, _ = analyze_transcript(WEAK_TRANSCRIPT, COLD_CALL_RUBRIC)
    assert good["final_score"] > weak["final_score"] + 3
    for g, w in zip(good["report_card"], weak["report_card"]):
        assert g["score"] >= w["score"], g["topic"]


def test_output_has_the_spec_shapes_and_is_labelled_simulated():
    evaluation, improvement = analyze_transcript(GOOD_TRANSCRIPT, COLD_CALL_RUBRIC)
    assert set(evaluation) == {"overall_score", "final_score", "strengths", "weaknesses", "detailed_feedback",
                               "report_card", "quiz_results"}
    assert re.fullmatch(r"\d+/10", evaluation["overall_score"])
    assert int(evaluation["overall_score"].split("/")[0]) == round(evaluation["final_score"])
    assert 0 <= evaluation["final_score"] <= 10
    assert evaluation["detailed_feedback"].startswith(SIMULATED_PREFIX)
    assert improvement["resources"].startswith(SIMULATED_PREFIX)
    assert all(line.startswith("- **") for line in evaluation["strengths"].splitlines())
    assert all(line.startswith("- **") for line in evaluation["weaknesses"].splitlines())
    assert re.match(r"1\. ", improvement["action_items"])
    card = evaluation["report_card"]
    assert [c["topic"] for c in card] == [r["topic"] for r in COLD_CALL_RUBRIC]
    assert sum(c["weight"] for c in card) == 100
    for c in card:
        assert set(c) == {"topic", "score", "score_str", "note", "weight", "requires_video"}
        assert 0 <= c["score"] <= 10 and c["score_str"].endswith("/10") and c["note"]
    weighted = sum(c["score"] * c["weight"] for c in card) / 100
    assert evaluation["final_score"] == round(weighted, 1)


def test_it_is_deterministic():
    assert analyze_transcript(GOOD_TRANSCRIPT, COLD_CALL_RUBRIC) == analyze_transcript(GOOD_TRANSCRIPT, COLD_CALL_RUBRIC)


def test_default_rubric_when_none_given():
    assert sum(r["weight"] for r in DEFAULT_RUBRIC) == 100
    evaluation, _ = analyze_transcript(GOOD_TRANSCRIPT, None)
    assert [c["topic"] for c in evaluation["report_card"]] == [r["topic"] for r in DEFAULT_RUBRIC]


def test_an_empty_transcript_scores_zero_with_a_reason():
    evaluation, improvement = analyze_transcript("", COLD_CALL_RUBRIC)
    assert evaluation["final_score"] == 0 and evaluation["overall_score"] == "0/10"
    assert "no trainee turns" in evaluation["detailed_feedback"]
    assert improvement["action_items"]


def test_weights_are_normalised_from_any_scale():
    rubric = [{"topic": "Open questions", "weight": 3}, {"topic": "Next steps", "weight": 1}]
    evaluation, _ = analyze_transcript(GOOD_TRANSCRIPT, rubric)
    card = evaluation["report_card"]
    expected = (card[0]["score"] * 3 + card[1]["score"]) / 4
    assert evaluation["final_score"] == round(expected, 1)


def test_documented_body_is_derived_from_the_evaluation():
    evaluation, improvement = analyze_transcript(GOOD_TRANSCRIPT, COLD_CALL_RUBRIC)
    body = documented_analysis(evaluation, improvement)
    assert body["overall_score"] == round(evaluation["final_score"] * 10)
    assert isinstance(body["overall_score"], int) and 0 <= body["overall_score"] <= 100
    assert len(body["strengths"]) == len(evaluation["strengths"].splitlines())
    assert len(body["improvements"]) == len(evaluation["weaknesses"].splitlines())
    assert all("**" not in s and not s.startswith("- ") for s in body["strengths"] + body["improvements"])
    assert body["simulated"] is True
