"""Sign-in widget: validates with /test on a sandbox that requires a token; the token never stays anywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator

import ipywidgets as W
import pytest

import ttai_notebook as tt
from ttai_notebook.sandbox import Sandbox
from ttai_notebook.widgets import login as login_fn
from ttai_notebook.widgets.login import LoginWidget, clear_current_client, current_client

GOOD = "tt_live_GOOD_7f3a9c2e"
BAD = "tt_live_WRONG_000000"


@pytest.fixture()
def box() -> Sandbox:
    return Sandbox(seed=0, token=GOOD)


@pytest.fixture(autouse=True)
def _signed_out() -> Iterator[None]:
    clear_current_client()
    yield
    clear_current_client()


def factory(box: Sandbox, **options):
    def build(token: str) -> tt.Client:
        return tt.Client(token=token, base_url=box.base_url, transport=box.transport(), **options)

    return build


def _type_token(widget: LoginWidget, token: str) -> None:
    # Exactly what the browser does on Enter / leaving the field (continuous_update=False).
    widget.token_field.set_state({"value": token})


def _all_widget_state() -> str:
    return json.dumps(W.Widget.get_manager_state(drop_defaults=False))


def test_good_token_signs_in_and_is_forgotten(box: Sandbox) -> None:
    seen = []
    widget = login_fn(client_factory=factory(box), on_success=seen.append)
    sent: list[dict] = []
    widget.token_field._send = lambda msg, buffers=None: sent.append(msg)  # what would go to the browser
    _type_token(widget, GOOD)

    assert widget.signed_in and widget.status == "signed in"
    assert widget.token_field.value == ""  # cleared at once
    assert current_client() is widget.client is seen[0]
    assert current_client().balance().available_minutes > 0  # the kernel's client uses the token
    assert box.counters.requests["POST /test"] == 1
    # Never echoed back, never in a synced state, never in a repr or a message.
    assert GOOD not in json.dumps(sent)
    assert GOOD not in _all_widget_state()
    assert GOOD not in repr(widget) and GOOD not in widget.message and GOOD not in repr(widget.client)
    assert "Signed in" in widget.status_html.value


def test_bad_token_gives_a_clear_message(box: Sandbox) -> None:
    widget = LoginWidget(client_factory=factory(box))
    _type_token(widget, BAD)
    assert not widget.signed_in and widget.status == "rejected"
    assert "not accepted" in widget.message
    assert current_client() is None
    assert widget.token_field.value == ""
    assert BAD not in widget.message and BAD not in _all_widget_state()


def test_bad_token_keeps_an_earlier_sign_in(box: Sandbox) -> None:
    widget = LoginWidget(client_factory=factory(box))
    _type_token(widget, GOOD)
    first = current_client()
    _type_token(widget, BAD)
    assert current_client() is first and widget.status == "rejected"


@pytest.mark.parametrize(
    ("value", "words"),
    [("   ", "empty"), ("tt live with spaces", "spaces"), ("tok\nen", "spaces")],
)
def test_malformed_tokens_are_refused_before_any_request(box: Sandbox, value: str, words: str) -> None:
    widget = LoginWidget(client_factory=factory(box))
    widget.submit(value)
    assert words in widget.message
    assert current_client() is None
    assert sum(box.counters.requests.values()) == 0


def test_button_without_a_token_explains(box: Sandbox) -> None:
    widget = LoginWidget(client_factory=factory(box))
    widget.button.click()
    assert "Paste your API token" in widget.message
    assert widget.status == "signed out"


def test_button_after_typing_signs_in(box: Sandbox) -> None:
    widget = LoginWidget(client_factory=factory(box))
    widget.token_field.value = GOOD  # e.g. value synced, observer path
    assert widget.signed_in and widget.token_field.value == ""
    widget.button.click()  # a late click after the sign-in is harmless
    assert widget.signed_in and "Signed in" in widget.message


def test_service_down_is_reported_in_place(box: Sandbox) -> None:
    widget = LoginWidget(client_factory=factory(box, max_retries=0))
    box.fail_next(status=503, count=3)
    _type_token(widget, GOOD)
    assert not widget.signed_in
    assert "Could not check the token" in widget.message and "503" in widget.message
    assert widget.button.disabled is False and widget.token_field.disabled is False


def test_threaded_check(box: Sandbox) -> None:
    widget = LoginWidget(client_factory=factory(box), threaded=True)
    _type_token(widget, GOOD)
    assert widget.wait(10)
    assert widget.signed_in and current_client() is widget.client


def test_repr_is_stable() -> None:
    assert repr(LoginWidget()) == "LoginWidget(status='signed out')"


def test_widgets_package_exports() -> None:
    assert tt.widgets.login is login_fn
    for name in ("login", "ScenarioBuilder", "EmbeddedSession", "PracticeLauncher", "current_client"):
        assert name in tt.widgets.__all__ and getattr(tt.widgets, name)
