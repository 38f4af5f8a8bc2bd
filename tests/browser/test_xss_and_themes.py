"""(d) A scenario named ``<img src=x onerror=alert(1)>`` renders as text everywhere it appears (card, builder,
launcher, simulated practice page); and the cards read well in JupyterLab's light and dark themes."""

from __future__ import annotations

import json
import pathlib

import pytest

import ttai_notebook as tt

from .conftest import client_cell, open_notebook, run_all_cells, screenshot, wait_idle

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"


def test_hostile_scenario_name_renders_as_text(page, lab, served_sandbox, artifacts) -> None:
    _box, base_url = served_sandbox
    with tt.Client(token="sandbox", base_url=base_url) as mine:
        scenario = mine.scenarios.create(
            XSS,
            "You are <b>Eve</b>. Say \"<script>alert(2)</script> hello?\" then object: \"It costs too much <img src=y onerror=alert(3)>\".",
            user_friendly_description="<svg onload=alert(4)>Practise safely",
        )
    nb = lab.write_notebook(
        "xss",
        [
            client_cell(base_url) + f"SID = {scenario.id!r}\nclient.scenarios.get(SID)",
            "tt.widgets.ScenarioBuilder(client, scenario=SID)",
            "tt.widgets.PracticeLauncher(client, scenario_id=SID)",
            "link = client.sessions.create(SID, user_email='eve@example.com')\n"
            "tt.widgets.EmbeddedSession(link, client=client, kind='basic')",
        ],
    )
    open_notebook(page, lab, nb)
    run_all_cells(page)
    wait_idle(page)
    frame = page.frame_locator("iframe.ttai-embed-frame")
    frame.locator("#title").wait_for(timeout=30_000)
    frame.locator("#start").click()
    frame.locator(".turn.ai").first.wait_for(timeout=15_000)
    for reply in ("Hello <b>Eve</b>", "Why?"):  # the persona answers with the scenario's quoted lines
        frame.locator("#input").fill(reply)
        frame.locator("#input").press("Enter")
    frame.locator(".turn.ai").nth(2).wait_for(timeout=10_000)
    page.wait_for_timeout(1000)  # an injected onerror/onload would have fired by now

    assert page.dialogs == []
    assert page.locator("img[src='x'], img[src='y'], svg[onload]").count() == 0
    assert frame.locator("img, svg, script[src]").count() == 0
    card = page.locator(".ttai-scenario").first
    assert card.locator("div").first.inner_text() == XSS
    assert XSS in page.locator(".jp-OutputArea-output").nth(1).inner_text()  # builder header
    options = page.locator("select option").evaluate_all("els => els.map(e => e.textContent.replace(/\\u00a0/g, ' '))")
    assert any(XSS in option for option in options), options  # the launcher's scenario list
    assert frame.locator("#title").inner_text() == XSS
    assert "<svg onload=alert(4)>Practise safely" == frame.locator("#intro").inner_text()
    persona_lines = "\n".join(frame.locator(".turn.ai").all_inner_texts())
    assert "<script>alert(2)</script> hello?" in persona_lines
    assert "It costs too much <img src=y onerror=alert(3)>" in persona_lines
    assert "Hello <b>Eve</b>" in frame.locator(".turn.user").first.inner_text()
    outputs = page.locator(".jp-OutputArea-output")
    shots = [
        screenshot(page, artifacts, "d_xss_card", outputs.nth(0)),
        screenshot(page, artifacts, "d_xss_practice_page", outputs.last),
    ]
    assert all(shot.stat().st_size > 10_000 for shot in shots)


def _set_theme(lab, theme: str | None) -> None:
    base = pathlib.Path(lab.root).parent / "settings" / "@jupyterlab" / "apputils-extension"
    path = base / "themes.jupyterlab-settings"
    if theme is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(json.dumps({"theme": theme}))


def _luminance(css_color: str) -> float:
    parts = css_color[css_color.index("(") + 1 : css_color.index(")")].split(",")
    r, g, b = (float(p) / 255 for p in parts[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_cards_in_light_and_dark_themes(page, lab, served_sandbox, artifacts, theme: str) -> None:
    _box, base_url = served_sandbox
    _set_theme(lab, theme)
    try:
        nb = lab.write_notebook(
            f"cards_{theme.split()[-1].lower()}",
            [
                client_cell(base_url)
                + "scenario = client.scenarios.get(client.scenarios.list()[0].id)\nscenario",
                "session = next(s for s in client.sessions.list(max_items=200) if s.is_analyzed)\n"
                "client.sessions.get(session.id)",
            ],
        )
        open_notebook(page, lab, nb)
        run_all_cells(page)
        wait_idle(page)
        page.locator(".ttai-session").first.wait_for(timeout=30_000)
        is_dark = page.evaluate("() => document.body.dataset.jpThemeLight === 'false'")
        assert is_dark == (theme == "JupyterLab Dark")
        colors = page.evaluate(
            """() => [...document.querySelectorAll('.ttai-card')].map(el => {
                const style = getComputedStyle(el);
                return [style.color, style.backgroundColor];
            })"""
        )
        assert len(colors) == 2
        for text, background in colors:
            # Readable: light text on a dark card in the dark theme, dark text on a light card otherwise.
            if is_dark:
                assert _luminance(text) > 0.6 and _luminance(background) < 0.3, (text, background)
            else:
                assert _luminance(text) < 0.35 and _luminance(background) > 0.8, (text, background)
        name = "e_cards_dark" if is_dark else "e_cards_light"
        shot = screenshot(page, artifacts, name, page.locator(".jp-Notebook"))
        assert shot.stat().st_size > 20_000
    finally:
        _set_theme(lab, None)
