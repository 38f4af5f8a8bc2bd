"""G7 hostile content: HTML / script in scenario names, e-mails, transcripts and feedback renders inert in every
card, widget and the report HTML.

Checked here in Python, with an HTML parser: a card (widget, report) rendered from hostile strings must have
exactly the element and attribute structure of the same card rendered from plain strings — hostile text can
add no element, no attribute, no ``javascript:`` link — and the hostile text must come back as text. The same
checks in a real browser (no dialog fires, the name reads as text, the practice page shows it as text) are in
``tests/browser/test_xss_and_themes.py``; that ``postMessage`` from a foreign origin or another frame is
ignored is ``tests/browser/test_origin_filter.py``.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest

import ttai_notebook as tt
from ttai_notebook import cards

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    '"><svg onload=alert(3)>',
    "' onmouseover='alert(4)' x='",
    "</textarea></div></td></table><iframe src=javascript:alert(5)>",
    "<!-- <script>alert(6)</script> -->",
    "</script><script>alert(7)</script>",
    "{{7*7}} ${alert(8)} __TTAI_CONFIG__",
    "&lt;b&gt;already escaped&lt;/b&gt; &amp; <b>bold</b>",
    "[click](javascript:alert(9)) <a href='javascript:alert(10)'>x</a>",
    "\u2028</style><style>*{display:none}</style>",
]
PLAIN = "Plain words only"


class Shape(HTMLParser):
    """Elements and attribute names of a document, its links, and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, tuple[str, ...]]] = []
        self.urls: list[str] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, tuple(sorted(name for name, _ in attrs))))
        for name, value in attrs:
            if name in ("href", "src", "action", "formaction") and value:
                self.urls.append(value)
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)


def shape(html: str) -> Shape:
    parser = Shape()
    parser.feed(html)
    parser.close()
    return parser


def assert_inert(hostile_html: str, plain_html: str, payload: str, *, expect_text: bool = True) -> None:
    bad, good = shape(hostile_html), shape(plain_html)
    assert bad.elements == good.elements, "hostile text changed the element structure"
    assert all(not u.strip().lower().startswith(("javascript:", "data:text", "vbscript:")) for u in bad.urls), bad.urls
    assert len(bad.scripts) == len(good.scripts)
    if expect_text:
        assert payload.strip() in "".join(bad.text) or payload[:20] in "".join(bad.text), "the text itself was lost"


def _scenario(text: str) -> tt.Scenario:
    return tt.Scenario.from_api({
        "id": "sc1", "name": text, "description": text + " (desc)", "user_friendly_description": text,
        "ai_instructions": f"You are {text}. Object: {text}.", "is_public": True, "is_recording": False,
        "session_analysis": {"admin_email": text, "is_auto_analysis": True},
    })


def _analysis_body(text: str) -> dict[str, Any]:
    return {"overall_score": "7/10", "final_score": 7.0, "strengths": f"- {text}\n- Good {text}",
            "weaknesses": f"- {text}", "detailed_feedback": text,
            "report_card": [{"topic": text, "score": 7, "score_str": "7/10", "note": text, "weight": 50},
                            {"topic": "Closing", "score": "INTP", "score_str": text, "note": "n", "weight": 50}]}


def _session(text: str) -> tt.Session:
    return tt.Session.from_api({
        "id": "s1", "scenario_id": "sc1", "scenario_name": text, "status": "completed", "user_email": text,
        "user_name": text, "created_at": "2025-02-26T18:02:00", "duration": 300,
        "metadata": {"team": text, text[:10]: "v"}, "analytics_url": "https://app.toughtongueai.com/a/s1",
        "finalized_transcript": f"[00:01] User: {text}\n\n[00:02] AI: {text}",
        "evaluation_results": _analysis_body(text), "improvement_results": {"action_items": f"1. {text}"},
    })


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_cards_render_hostile_text_inert(payload: str, tally) -> None:
    pairs = [
        (cards.render_scenario(_scenario(payload)), cards.render_scenario(_scenario(PLAIN))),
        (cards.render_session(_session(payload)), cards.render_session(_session(PLAIN))),
        (cards.render_analysis(tt.Analysis.from_api(_analysis_body(payload), session_id=payload)),
         cards.render_analysis(tt.Analysis.from_api(_analysis_body(PLAIN), session_id=PLAIN))),
        (_session(payload)._repr_html_(), _session(PLAIN)._repr_html_()),
    ]
    for hostile, plain in pairs:
        assert_inert(hostile, plain, payload)
    tally("G7 hostile content", payloads=1, cards_checked=len(pairs))


@pytest.mark.parametrize("url", ["javascript:alert(1)", " javascript:alert(1)", "JaVaScRiPt:alert(1)",
                                 "java\tscript:alert(1)", "data:text/html,<script>alert(1)</script>",
                                 "vbscript:msgbox(1)", '"https://x" onclick="alert(1)"', "//evil.example/x"])
def test_analytics_links_only_http(url: str) -> None:
    html = cards.render_session(tt.Session.from_api({"id": "s1", "status": "completed", "analytics_url": url}))
    parsed = shape(html)
    assert all(u.startswith(("http://", "https://")) for u in parsed.urls), parsed.urls
    assert all(not any(a.startswith("on") for a in attrs) for _, attrs in parsed.elements)


# --------------------------------------------------------------------------------------------------
# Widgets
# --------------------------------------------------------------------------------------------------


def _html_values(widget: Any) -> list[str]:
    import ipywidgets as W

    out = []
    if isinstance(widget, (W.HTML, W.HTMLMath)):
        out.append(widget.value)
    for child in getattr(widget, "children", ()) or ():
        out += _html_values(child)
    return out


def _sandbox_with(text: str) -> tuple[tt.Client, str, str]:
    client = tt.Client.sandbox(seed=3)
    scenario = client.scenarios.create(text, f"You are {text}. Say: {text}", user_friendly_description=text,
                                       description=text)
    link = client.sessions.create(scenario.id, user_email="eve@example.com", user_name=text, metadata={"team": text})
    return client, scenario.id, link


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_widgets_render_hostile_text_inert(payload: str, tally) -> None:
    from ttai_notebook.widgets import EmbeddedSession, PracticeLauncher, ScenarioBuilder

    hostile_client, hostile_id, hostile_link = _sandbox_with(payload)
    plain_client, plain_id, plain_link = _sandbox_with(PLAIN)
    checked = 0

    # ScenarioBuilder editing the scenario (header, preview of changes, status, saved card)
    def builder_html(client: tt.Client, sid: str, text: str) -> str:
        builder = ScenarioBuilder(client, scenario=sid, threaded=False)
        builder.set_fields(description=text + " edited")
        html_ = "".join(_html_values(builder))
        builder.submit()
        return html_ + "".join(_html_values(builder))

    assert_inert(builder_html(hostile_client, hostile_id, payload), builder_html(plain_client, plain_id, PLAIN), payload)
    checked += 1

    # PracticeLauncher with the scenario preselected
    def launcher_html(client: tt.Client, sid: str) -> str:
        return "".join(_html_values(PracticeLauncher(client, scenario_id=sid, threaded=False)))

    assert_inert(launcher_html(hostile_client, hostile_id), launcher_html(plain_client, plain_id), payload,
                 expect_text=False)
    checked += 1

    # EmbeddedSession's simulated practice page (srcdoc) embeds the scenario and persona lines
    hostile_page = EmbeddedSession(hostile_link, client=hostile_client, threaded=False)
    plain_page = EmbeddedSession(plain_link, client=plain_client, threaded=False)
    assert_inert(hostile_page.srcdoc, plain_page.srcdoc, payload, expect_text=False)
    script = "".join(shape(hostile_page.srcdoc).scripts)
    assert "</script" not in script.lower()
    assert hostile_page.get_state().get("label") == plain_page.get_state().get("label")
    checked += 1

    # Simulate the session ending with a hostile transcript: the result card stays inert
    for page, text in ((hostile_page, payload), (plain_page, PLAIN)):
        page._handle_custom_msg({"kind": "message", "via": "iframe", "data": {
            "type": "ttai-sandbox", "action": "transcript", "sessionId": page.session_id,
            "transcript": f"[00:01] User: {text} Could we meet on Tuesday?\n\n[00:02] AI: {text}"}}, [])
    assert hostile_page.analysis is not None and plain_page.analysis is not None
    assert_inert(cards.render_analysis(hostile_page.analysis), cards.render_analysis(plain_page.analysis),
                 payload, expect_text=False)
    checked += 1
    tally("G7 hostile content", widget_payloads=1, widgets_checked=checked)


@pytest.mark.parametrize("payload", [PAYLOADS[2]], ids=[2])
def test_dashboard_and_bulk_result_inert(payload: str) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from ttai_notebook.bulk import BulkResult
    from ttai_notebook.widgets.dashboard import AnalysisDashboard

    def sessions(text: str) -> list[tt.Session]:
        return [tt.Session.from_api({
            "id": f"s{i}", "scenario_id": "sc1", "scenario_name": text, "status": "completed",
            "user_email": f"t{i % 3}@example.com", "created_at": f"2025-02-{10 + i:02d}T10:00:00",
            "metadata": {"team": text}, "evaluation_results": {"overall_score": 60 + i}}) for i in range(8)]

    def dashboard_html(text: str) -> str:
        dash = AnalysisDashboard(tt.sessions_frame(sessions(text)))
        html_ = "".join(_html_values(dash))
        import matplotlib.pyplot as plt

        plt.close("all")
        return html_

    assert_inert(dashboard_html(payload), dashboard_html(PLAIN), payload)
    err = tt.APIError(f"server said {payload}", status_code=500)
    hostile = BulkResult(failed={payload: err}, succeeded={}, kind="analyze")._repr_html_()
    plain = BulkResult(failed={PLAIN: tt.APIError(f"server said {PLAIN}", status_code=500)}, kind="analyze")._repr_html_()
    assert_inert(hostile, plain, payload)


def test_server_error_text_is_shown_inert_in_the_builder() -> None:
    """A service error message is the service's words, but never markup."""
    import httpx

    payload = PAYLOADS[0]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"detail": [{"loc": ["body", "name"], "msg": payload, "type": "x"}]})

    def builder_html(text: str) -> str:
        def h(request: httpx.Request) -> httpx.Response:
            return httpx.Response(422, json={"detail": [{"loc": ["body", "name"], "msg": text, "type": "x"}]})

        client = tt.Client(token="t", base_url="https://api.example.test/api/public", transport=httpx.MockTransport(h))
        builder = tt.widgets.ScenarioBuilder(client, threaded=False)
        builder.set_fields(name="n", ai_instructions="i")
        builder.submit()
        assert builder.draft["name"] == "n"
        return "".join(_html_values(builder))

    assert_inert(builder_html(payload), builder_html(PLAIN), payload)


# --------------------------------------------------------------------------------------------------
# The report HTML (ttai-notebook report): cards and text outputs with hostile data, through nbconvert
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS[:6], ids=range(6))
def test_report_html_inert(payload: str, tally) -> None:
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbconvert")
    from ttai_notebook.cli import _to_html

    def report(text: str) -> str:
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("session")
        session = _session(text)
        cell.outputs = [
            nbformat.v4.new_output("display_data", data={"text/html": session._repr_html_(),
                                                         "text/plain": repr(session)}),
            nbformat.v4.new_output("stream", text=f"team {text}\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": repr(text)}, execution_count=1),
        ]
        nb.cells = [nbformat.v4.new_markdown_cell("## Scores by team"), cell]
        body, _ = _to_html(nb, f"Team report — {text}")
        return body

    assert_inert(report(payload), report(PLAIN), payload)
    tally("G7 hostile content", report_payloads=1)


def test_report_notebook_builds_no_markdown_from_data() -> None:
    """Data (team names, scenario names) reaching the report as Markdown would render as HTML."""
    import pathlib

    folder = pathlib.Path(__file__).resolve().parents[2] / "notebooks"
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        pytest.skip("notebooks/ not present yet")
    offenders = []
    for path in notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb.get("cells", [])):
            src = "".join(cell.get("source", [])) if isinstance(cell.get("source"), list) else cell.get("source", "")
            if cell.get("cell_type") == "code" and ("Markdown(f" in src or "HTML(f" in src):
                offenders.append(f"{path.name} cell {i}")
    assert not offenders, f"f-string Markdown/HTML built from data (escape it): {offenders}"
