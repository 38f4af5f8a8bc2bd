"""Pure decisions of EmbeddedSession: message formats, status machine, kinds, URLs, the practice page."""

from __future__ import annotations

import json
import re

import pytest

from ttai_notebook.widgets import events as E
from ttai_notebook.widgets.practice_page import SANDBOX_LABEL, build_practice_page, page_config


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"event": "onStart", "sessionId": "s1", "timestamp": 1_700_000_000_000},
         {"name": "onStart", "kind": "start", "session_id": "s1", "timestamp": 1_700_000_000_000.0}),
        ({"event": "onStop", "sessionId": "s1", "timestamp": 1_700_000_000},  # seconds → ms
         {"kind": "stop", "timestamp": 1_700_000_000_000.0}),
        ({"event": "onTerminated", "sessionId": "s1"}, {"kind": "terminate", "timestamp": None}),
        ({"event": "onSubmit", "sessionId": "s1"}, {"kind": "submit"}),
        ({"type": "onStart", "data": {"session_id": "s2", "timestamp": "1700000000000"}},
         {"kind": "start", "session_id": "s2", "timestamp": 1_700_000_000_000.0}),
        ({"type": "onStop", "data": {"session_id": "s2", "timestamp": "2023-11-14T22:13:20Z"}},
         {"kind": "stop", "timestamp": 1_700_000_000_000.0}),
        ({"type": "onstop", "data": {"sessionId": "s3"}}, {"kind": "stop", "session_id": "s3"}),
        ({"event": "resize", "height": 400}, {"name": "resize", "kind": None, "session_id": None}),
        ({"event": "onStart"}, {"kind": "start", "session_id": None}),
        ({"event": "onStart", "sessionId": "  "}, {"session_id": None}),
        ({"event": "onStart", "timestamp": True}, {"timestamp": None}),
        ({"event": "onStart", "timestamp": "garbage"}, {"timestamp": None}),
    ],
)
def test_normalize_message(data, expected) -> None:
    record = E.normalize_message(data)
    assert record is not None
    for key, value in expected.items():
        assert record[key] == value, key


@pytest.mark.parametrize("data", [None, "onStart", 42, [], {}, {"event": ""}, {"type": None}, {"event": 5}])
def test_non_events_are_ignored(data) -> None:
    assert E.normalize_message(data) is None


@pytest.mark.parametrize(
    ("current", "kind", "expected"),
    [
        ("ready", "start", "started"),
        ("started", "stop", "stopped"),
        ("started", "terminate", "terminated"),
        ("stopped", "submit", "submitted"),
        ("started", "submit", "submitted"),  # a missed onStop does not block the result
        ("submitted", "stop", "submitted"),  # a late event never moves backwards
        ("submitted", "terminate", "submitted"),
        ("terminated", "stop", "terminated"),
        ("terminated", "submit", "submitted"),
        ("stopped", "start", "started"),  # a new run in the same frame
        ("submitted", "start", "started"),
        ("started", "start", "started"),
        ("started", None, "started"),
        ("unknown", "start", "started"),
    ],
)
def test_next_status(current, kind, expected) -> None:
    assert E.next_status(current, kind) == expected


@pytest.mark.parametrize(
    ("name", "hook"),
    [("stop", "stop"), ("onStop", "stop"), ("on_stop", "stop"), ("STOP", "stop"), ("onTerminated", "terminate"),
     ("terminated", "terminate"), ("any", "any"), ("submit", "submit"), ("onStart", "start")],
)
def test_hook_names(name, hook) -> None:
    assert E.hook_name(name) == hook


def test_unknown_hook_name_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="start, stop, terminate, submit, any"):
        E.hook_name("finish")


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://app.toughtongueai.com/embed/abc", "full"),
        ("https://app.toughtongueai.com/embed/basic/abc?bg=black", "basic"),
        ("https://app.toughtongueai.com/embed/minimal/abc", "minimal"),
        ("https://app.toughtongueai.com/embed/session/abc", "full"),
        ("https://sandbox.ttai.invalid/embed/basic/sc1", "basic"),
        ("http://127.0.0.1:9/page.html", "full"),
    ],
)
def test_infer_kind(url, kind) -> None:
    assert E.infer_kind(url) == kind


@pytest.mark.parametrize(("kind", "height", "px"), [("full", None, 800), ("basic", None, 600), ("minimal", None, 300),
                                                   ("full", 500, 500), ("minimal", 120.0, 120)])
def test_resolve_height(kind, height, px) -> None:
    assert E.resolve_height(kind, height) == px


@pytest.mark.parametrize(("kind", "height"), [("huge", None), ("full", 50), ("full", 10_000), ("full", "800"),
                                              ("full", True), ("full", float("nan"))])
def test_resolve_height_refuses(kind, height) -> None:
    with pytest.raises(ValueError):
        E.resolve_height(kind, height)


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://app.toughtongueai.com/embed/abc?userEmail=a%40b.c&scenarioAccessToken=SAT",
         "https://app.toughtongueai.com/embed/abc?…"),
        ("https://app.toughtongueai.com/embed/abc", "https://app.toughtongueai.com/embed/abc"),
        ("https://app.toughtongueai.com/embed/abc#frag", "https://app.toughtongueai.com/embed/abc?…"),
    ],
)
def test_public_url_hides_query(url, public) -> None:
    assert E.public_url(url) == public


@pytest.mark.parametrize("url", ["", "   ", None, 5, "javascript:alert(1)", "ftp://x/y", "/embed/abc", "app.toughtongueai.com/embed/x"])
def test_check_embed_url_refuses(url) -> None:
    with pytest.raises(ValueError, match="embed URL|https://"):
        E.check_embed_url(url)


def test_check_embed_url_message_does_not_echo_the_query() -> None:
    with pytest.raises(ValueError) as info:
        E.check_embed_url("ftp://host/embed/x?scenarioAccessToken=SECRET")
    assert "SECRET" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://sandbox.ttai.invalid/embed/session/s1", {"session_id": "s1", "scenario_id": None}),
        ("https://sandbox.ttai.invalid/embed/sc1?userEmail=a%40b.co&userName=Ana",
         {"scenario_id": "sc1", "user_email": "a@b.co", "user_name": "Ana"}),
        ("https://sandbox.ttai.invalid/embed/minimal/sc2", {"scenario_id": "sc2", "session_id": None}),
    ],
)
def test_sandbox_target(url, expected) -> None:
    target = E.sandbox_target(url)
    for key, value in expected.items():
        assert target[key] == value


def test_sandbox_target_without_id() -> None:
    with pytest.raises(ValueError, match="neither a session nor a scenario"):
        E.sandbox_target("https://sandbox.ttai.invalid/embed/")


# ---- the simulated practice page -------------------------------------------------------------------


def _config(**overrides):
    class S:
        id = "sc1"
        name = overrides.pop("name", "Cold call")
        user_friendly_description = "Call Dana."

    script = overrides.pop("script", {"greeting": "Dana speaking.", "questions": ["Who is this?"],
                                      "objections": ["Send me an email."], "closing": ["Fine, Tuesday."]})
    return page_config(scenario=S(), script=script, session_id=overrides.pop("session_id", "s1"), **overrides)


def _embedded_config(page: str) -> dict:
    match = re.search(r"const CONFIG = (.*?);\nconst PARENT_ORIGIN", page, re.S)
    assert match, "config not found"
    return json.loads(match.group(1))


def test_practice_page_embeds_config_and_label() -> None:
    page = build_practice_page(_config())
    assert SANDBOX_LABEL in page
    config = _embedded_config(page)
    assert config["session_id"] == "s1"
    assert config["persona"]["greeting"] == "Dana speaking."
    assert config["persona"]["objections"] == ["Send me an email."]
    # The page posts the same lifecycle events as the real iframe, and the transcript in the service's format.
    for name in ("onStart", "onStop", "onTerminated", "onSubmit"):
        assert f'"{name}"' in page
    assert '"] " + t.who + ": "' in page and '.join("\\n\\n")' in page


@pytest.mark.parametrize(
    "hostile",
    ["</script><script>alert(1)</script>", "<!--", "a\u2028b\u2029c", "__TTAI_PARENT_ORIGIN__", "a & b < c > d"],
)
def test_practice_page_config_cannot_break_out(hostile) -> None:
    page = build_practice_page(_config(name=hostile, script={"greeting": hostile, "questions": [hostile]}))
    assert page.count("</script>") == 1  # only the template's own
    assert page.count("__TTAI_PARENT_ORIGIN__") == 1  # only the template's marker, which the widget replaces
    config = _embedded_config(page)
    assert config["scenario_name"] == hostile  # the value itself is intact once parsed
    assert config["persona"]["greeting"] == hostile


def test_practice_page_uses_text_not_markup() -> None:
    page = build_practice_page(_config())
    script = page[page.index("<script>"):]
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script


def test_page_config_is_tolerant_of_odd_scripts() -> None:
    config = _config(script={"greeting": ["Hi", "Hello"], "questions": "Only one?", "objections": None,
                             "closing_lines": ["Bye"], "name": "Dana"})
    persona = config["persona"]
    assert persona == {"name": "Dana", "greeting": "Hi", "questions": ["Only one?"], "objections": [],
                       "closing": ["Bye"]}
    assert _config(script=None)["persona"]["greeting"]
    assert "token" not in json.dumps(config).lower()
