"""HTML cards: every user string escaped, scores drawn right, simulated analyses labelled, odd input survives."""

from __future__ import annotations

import datetime as dt
import html.parser
import re

import pytest

from ttai_notebook import cards
from ttai_notebook.models import Analysis, RubricScore, Scenario, Session

XSS = '<img src=x onerror=alert(1)>'
SCRIPT = "</div><script>alert('x')</script>"


class _Collector(html.parser.HTMLParser):
    """Collects tags and checks the markup is balanced enough to render as intended."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(markup: str) -> _Collector:
    collector = _Collector()
    collector.feed(markup)
    collector.close()
    return collector


ALLOWED_TAGS = {"div", "span", "table", "thead", "tbody", "tr", "th", "td", "ul", "ol", "li", "b", "a",
                "details", "summary", "code"}


def _hostile_scenario() -> Scenario:
    return Scenario.from_api(
        {
            "id": 'sc"1<>',
            "name": XSS,
            "description": SCRIPT,
            "user_friendly_description": "Tom & Jerry's <b>bold</b>",
            "ai_instructions": "You are <script>evil()</script>",
            "is_public": False,
            "is_recording": True,
            "session_analysis": {"admin_email": "a@b.co<script>", "is_auto_analysis": True},
            "created_at": "2025-02-26T18:02:00.945000",
        }
    )


def _hostile_session() -> Session:
    return Session.from_api(
        {
            "id": "s<1>",
            "scenario_name": XSS,
            "status": "completed",
            "user_name": "<b>Ana</b>",
            "user_email": "ana@example.com\"><script>",
            "created_at": "2025-02-26T18:02:00",
            "completed_at": "2025-02-26T18:14:34",
            "duration": 754.2,
            "metadata": {"team<": "north\"'><img src=x>"},
            "finalized_transcript": "[00:01] AI: <i>hi</i>\n\n[00:05] User: hello & bye",
            "analytics_url": "javascript:alert(1)",
            "evaluation_results": {
                "final_score": 7.4,
                "strengths": ["<script>s()</script>"],
                "weaknesses": [XSS],
                "report_card": [{"topic": XSS, "score": 8, "weight": 30, "note": SCRIPT}],
                "detailed_feedback": SCRIPT,
            },
        }
    )


def _hostile_analysis() -> Analysis:
    return Analysis.from_api(
        {
            "overall_score": 85,
            "strengths": [XSS, "Clear <b>opening</b>"],
            "improvements": [SCRIPT],
        },
        session_id="<sid>",
    )


@pytest.mark.parametrize(
    ("render", "obj"),
    [
        (cards.render_scenario, _hostile_scenario()),
        (cards.render_session, _hostile_session()),
        (cards.render_analysis, _hostile_analysis()),
    ],
    ids=["scenario", "session", "analysis"],
)
def test_every_user_string_is_escaped(render, obj) -> None:
    markup = render(obj)
    assert "<script" not in markup.lower()
    assert "<img" not in markup.lower()
    assert "<i>" not in markup and "<b>Ana" not in markup
    parsed = parse(markup)
    assert set(parsed.tags) <= ALLOWED_TAGS, set(parsed.tags) - ALLOWED_TAGS
    assert not any(name.startswith("on") for name, _ in parsed.attrs)
    text = "".join(parsed.text)
    # The hostile strings are still shown to the reader, as text.
    assert XSS in text or "<script>s()</script>" in text


def test_models_repr_html_goes_through_cards() -> None:
    scenario = _hostile_scenario()
    assert scenario._repr_html_() == cards.render_scenario(scenario)
    session = _hostile_session()
    assert session._repr_html_() == cards.render_session(session)
    analysis = _hostile_analysis()
    assert analysis._repr_html_() == cards.render_analysis(analysis)


def test_javascript_urls_are_not_links() -> None:
    markup = cards.render_session(_hostile_session())
    assert "javascript:" not in markup
    good = Session.from_api({"id": "s1", "analytics_url": "https://app.toughtongueai.com/a?x=1&y=2"})
    assert 'href="https://app.toughtongueai.com/a?x=1&amp;y=2"' in cards.render_session(good)
    assert 'rel="noopener noreferrer"' in cards.render_session(good)


@pytest.mark.parametrize(
    ("score", "band", "width"),
    [(85, "good", "85.0%"), (80, "good", "80.0%"), (79.9, "fair", "79.9%"), (60, "fair", "60.0%"),
     (12.5, "poor", "12.5%"), (0, "poor", "0.0%"), (100, "good", "100.0%")],
)
def test_score_gauge_width_and_band(score, band, width) -> None:
    markup = cards.render_analysis(Analysis(score=score))
    assert f'data-band="{band}"' in markup
    assert f"width:{width}" in markup
    assert f'aria-valuenow="{cards._format_number(score)}"' in markup


@pytest.mark.parametrize(("score", "band"), [(None, "none"), (float("nan"), "none"), (True, "none"), (59.99, "poor")])
def test_score_band(score, band) -> None:
    assert cards.score_band(score) == band


def test_no_score_shows_score_text_or_dash() -> None:
    assert "no numeric score" in cards.render_analysis(Analysis(score=None))
    assert "INTP" in cards.render_analysis(Analysis(score=None, score_text="INTP"))


def test_report_card_table_rows_and_categorical_scores() -> None:
    analysis = Analysis(
        score=74.0,
        report_card=(
            RubricScore(topic="Opening", score=80.0, weight=30.0, note="Warm"),
            RubricScore(topic="Type", score=None, score_text="INTP"),
        ),
    )
    markup = cards.render_analysis(analysis)
    assert "Report card" in markup
    assert markup.count("<tr ") == 3  # header + 2 rows
    assert ">Opening<" in markup and ">INTP<" in markup and "30%" in markup and ">Warm<" in markup


def test_strengths_improvements_and_action_items_are_lists() -> None:
    analysis = Analysis(score=50, strengths=("A", "B"), improvements=("C",), action_items=("Do X", "Do Y"))
    markup = cards.render_analysis(analysis)
    assert "Strengths" in markup and "To improve" in markup and "Next steps" in markup
    assert markup.count("<li") == 5


@pytest.mark.parametrize(
    ("feedback", "simulated"),
    [("Simulated analysis: heuristic", True), ("  simulated analysis", True), ("Great job", False), (None, False)],
)
def test_simulated_analyses_are_labelled(feedback, simulated) -> None:
    markup = cards.render_analysis(Analysis(score=70, detailed_feedback=feedback))
    assert ('data-ttai="simulated"' in markup) is simulated
    session = Session(id="s", analysis=Analysis(score=70, detailed_feedback=feedback))
    assert ('data-ttai="simulated"' in cards.render_session(session)) is simulated


def test_documented_dialect_simulated_flag_is_labelled() -> None:
    analysis = Analysis.from_api({"overall_score": 27, "strengths": [], "improvements": [], "simulated": True})
    assert 'data-ttai="simulated"' in cards.render_analysis(analysis)
    assert 'data-ttai="simulated"' not in cards.render_analysis(Analysis.from_api({"overall_score": 27}))


def test_theme_variables_with_fallbacks() -> None:
    markup = cards.render_analysis(Analysis(score=90, strengths=("x",)))
    # Every colour comes from a JupyterLab variable with a fallback, so light and dark themes both work.
    for var in re.findall(r"var\((--jp-[a-z0-9-]+)", markup):
        assert re.search(rf"var\({var},[^)]+\)", markup), var
    assert "color:#" not in markup.replace(" ", "")  # no fixed text colour that vanishes on a dark theme


@pytest.mark.parametrize("obj", [Scenario(id=""), Session(id=""), Analysis()])
def test_empty_objects_render(obj) -> None:
    markup = obj._repr_html_()
    assert markup.startswith('<div class="ttai-card')
    parse(markup)


def test_session_card_details() -> None:
    session = Session(
        id="s1",
        scenario_name="Cold call",
        status="completed",
        user_name="Ana",
        user_email="ana@example.com",
        created_at=dt.datetime(2025, 2, 26, 18, 2, tzinfo=dt.timezone.utc),
        duration_s=754.2,
        metadata={"team": "north"},
        transcript="[00:01] AI: hi\n\n[00:05] User: hello",
    )
    markup = cards.render_session(session)
    assert "2025-02-26 18:02 UTC" in markup
    assert "12 min 34 s" in markup
    assert "team: north" in markup
    assert "Transcript (2 turns)" in markup
    assert "Not analysed yet" in markup


def test_long_transcript_is_cut_at_a_turn_with_a_note_and_stays_escaped() -> None:
    turn = "[00:01] User: <b>&</b> " + "y" * 80
    transcript = "\n\n".join([turn] * 50_000)  # ~5 MB
    markup = cards.render_session(Session(id="s1", transcript=transcript))
    assert len(markup) < 60_000
    assert "Transcript (50000 turns)" in markup
    match = re.search(r"transcript truncated: showing ([\d,]+) of ([\d,]+) characters", markup)
    assert match, "the cut must be announced"
    shown, total = (int(g.replace(",", "")) for g in match.groups())
    assert total == len(transcript) and 10_000 <= shown <= 20_000
    assert shown % (len(turn) + 2) == len(turn)  # ends on a whole turn
    assert "<b>" not in markup and "&lt;b&gt;&amp;&lt;/b&gt;" in markup
    parse(markup)


def test_transcript_without_turn_boundaries_is_cut_at_the_limit() -> None:
    markup = cards.render_session(Session(id="s1", transcript="x " * 5_000_000))
    assert len(markup) < 30_000 and "showing 20,000 of 9,999,999 characters" in markup


def test_short_transcript_is_shown_whole_without_a_note() -> None:
    markup = cards.render_session(Session(id="s1", transcript="[00:01] AI: hi\n\n[00:05] User: hello"))
    assert "User: hello" in markup and "truncated" not in markup


def test_cards_are_deterministic() -> None:
    assert cards.render_session(_hostile_session()) == cards.render_session(_hostile_session())


@pytest.mark.parametrize(("seconds", "text"), [(0, "0 s"), (59.6, "1 min 0 s"), (-1, None), (None, None), ("x", None)])
def test_format_duration(seconds, text) -> None:
    assert cards.format_duration(seconds) == text
