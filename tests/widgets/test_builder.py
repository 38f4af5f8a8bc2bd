"""ScenarioBuilder against the sandbox: create, validate inline, edit with a PATCH of only what changed,
server errors in the form, and a draft that survives every failure."""

from __future__ import annotations

import pytest

import ttai_notebook as tt
from ttai_notebook.errors import BadRequestError, ValidationError
from ttai_notebook.widgets import ScenarioBuilder
from ttai_notebook.widgets.templates import TEMPLATES

INSTRUCTIONS = "You are Dana, a busy operations manager who did not expect this call."


@pytest.fixture()
def client() -> tt.Client:
    return tt.Client.sandbox(seed=0, max_retries=0)


def names(client: tt.Client) -> list[str]:
    return [s.name for s in client.scenarios.list(cache=False)]


def test_create_scenario_then_the_sandbox_lists_it(client: tt.Client) -> None:
    box = client.sandbox_instance
    builder = ScenarioBuilder(client)
    saved = []
    builder.observe(lambda change: saved.append(change["new"]), names="saved_scenario_id")
    builder.set_fields(
        name="Cold call: Dana",
        ai_instructions=INSTRUCTIONS,
        user_friendly_description="Earn 30 seconds.",
        is_recording=True,
        admin_email="lead@example.com",
        is_auto_analysis=True,
    )
    builder.submit_button.click()

    assert builder.errors == {} and not builder.busy
    assert box.counters.creates["scenario"] == 1
    record = box.state.scenarios[builder.saved_scenario_id]
    assert record.name == "Cold call: Dana"
    assert saved == [builder.saved_scenario_id] and builder.save_count == 1
    assert "Cold call: Dana" in names(client)
    scenario = builder.scenario
    assert scenario.id == builder.saved_scenario_id and scenario.ai_instructions == INSTRUCTIONS
    assert scenario.is_recording is True and scenario.session_analysis["admin_email"] == "lead@example.com"
    # After a create the form edits what it created; the card of the saved scenario is shown.
    assert builder.mode == "edit" and builder.pending_changes == {}
    assert builder.submit_button.description == "Save changes" and builder.submit_button.disabled
    assert "Cold call: Dana" in builder.saved_card.value and "Created" in builder.status_text


def test_invalid_draft_is_refused_inline_before_anything_is_sent(client: tt.Client) -> None:
    box = client.sandbox_instance
    builder = ScenarioBuilder(client)
    assert builder.errors == {}  # a fresh form does not shout
    builder.fields["admin_email"].value = "lead@example"
    assert set(builder.errors) == {"admin_email"}  # shown as soon as the field is touched
    assert "lead@example" in builder._error_labels["admin_email"].value

    builder.submit()
    assert set(builder.errors) == {"name", "ai_instructions", "admin_email"}
    assert "Required" in builder._error_labels["name"].value
    assert "nothing was sent" in builder.status_text
    assert box.counters.requests["POST /scenarios"] == 0

    builder.set_fields(name="Fixed", ai_instructions=INSTRUCTIONS, admin_email="lead@example.com")
    assert builder.errors == {} and builder._error_labels["name"].value == ""
    builder.submit()
    assert box.counters.creates["scenario"] == 1


def test_server_error_shows_the_servers_words_and_keeps_the_draft(client: tt.Client) -> None:
    box = client.sandbox_instance
    builder = ScenarioBuilder(client)
    builder.set_fields(name="Discovery", ai_instructions=INSTRUCTIONS, description="Internal note")
    draft = builder.draft
    box.fail_next(status=400, route="POST /scenarios")
    builder.submit()

    assert "refused" in builder.status_text and "400" in builder.status_text
    assert "Your draft is kept" in builder.status_text
    assert builder.draft == draft and builder.mode == "create" and not builder.busy
    assert builder.saved_scenario_id == "" and box.counters.creates["scenario"] == 0
    assert not builder.submit_button.disabled

    builder.submit()  # the same draft, sent again, succeeds once
    assert box.counters.creates["scenario"] == 1 and builder.scenario.name == "Discovery"


def test_outcome_unknown_on_create_keeps_the_draft_and_says_how_to_check(client: tt.Client) -> None:
    box = client.sandbox_instance
    builder = ScenarioBuilder(client)
    builder.set_fields(name="Escalation", ai_instructions=INSTRUCTIONS)
    box.fail_next(status=500, route="POST /scenarios", after_execute=True)
    builder.submit()
    assert builder.draft["name"] == "Escalation" and builder.mode == "create"
    assert "list" in builder.status_text.lower()  # how to check before trying again
    assert box.counters.requests["POST /scenarios"] == 1  # not retried: a duplicate would cost the user


def test_validation_errors_from_the_service_land_on_their_fields(client: tt.Client) -> None:
    builder = ScenarioBuilder(client)
    builder.set_fields(name="X", ai_instructions=INSTRUCTIONS)
    exc = BadRequestError(
        "body.session_analysis.admin_email: value is not a valid email address",
        status_code=422,
        details=[{"loc": ["body", "session_analysis", "admin_email"], "msg": "value is not a valid email address"}],
    )
    builder._failed(exc)
    assert "not a valid email" in builder.errors["admin_email"]
    assert "The service says" in builder._error_labels["admin_email"].value


def test_overlong_name_is_flagged_next_to_the_field_before_sending(client: tt.Client) -> None:
    box = client.sandbox_instance
    builder = ScenarioBuilder(client)
    builder.set_fields(name="N" * 501, ai_instructions=INSTRUCTIONS)
    draft = builder.draft
    builder.submit()
    assert "500 characters" in builder.errors["name"] and "500 characters" in builder._error_labels["name"].value
    assert "service" not in builder.status_text.lower() and builder.draft == draft
    assert box.counters.requests["POST /scenarios"] == 0


@pytest.mark.parametrize(
    ("field", "label"), [("name", "name"), ("session_analysis.admin_email", "admin_email"), (None, None)]
)
def test_client_side_validation_error_is_shown_as_itself(client: tt.Client, field, label) -> None:
    builder = ScenarioBuilder(client)
    builder.set_fields(name="X", ai_instructions=INSTRUCTIONS)
    draft = builder.draft
    builder._failed(ValidationError("name must be at most 500 characters", field=field))
    assert "refused" not in builder.status_text and "service" not in builder.status_text.lower()
    assert "name must be at most 500 characters" in builder.status_text and "draft is kept" in builder.status_text
    assert builder.draft == draft
    if label:
        assert builder.errors[label] == "name must be at most 500 characters"
        assert "at most 500" in builder._error_labels[label].value
    else:
        assert builder.errors == {}


def test_edit_sends_only_changed_fields_after_showing_them(client: tt.Client, monkeypatch) -> None:
    box = client.sandbox_instance
    original = client.scenarios.list()[0]  # a list item is a summary: the builder fetches the full scenario
    full = client.scenarios.get(original.id)
    assert original.ai_instructions is None and full.ai_instructions
    builder = ScenarioBuilder(client, scenario=original)
    assert builder.mode == "edit" and builder.fields["name"].value == original.name
    assert builder.fields["ai_instructions"].value == full.ai_instructions
    assert builder.submit_button.disabled  # nothing to save yet
    assert "No changes yet" in builder.changes.value

    calls = []
    real_update = client.scenarios.update

    def spy(scenario_id, **fields):
        calls.append((scenario_id, fields))
        return real_update(scenario_id, **fields)

    monkeypatch.setattr(client.scenarios, "update", spy)
    builder.fields["name"].value = "Renamed <scenario>"
    builder.fields["is_public"].value = not bool(original.is_public)

    # The change is visible before it is sent (escaped).
    assert set(builder.pending_changes) == {"name", "is_public"}
    assert "Renamed &lt;scenario&gt;" in builder.changes.value and "Will change 2 fields" in builder.changes.value
    assert calls == []

    builder.submit()
    assert calls == [(original.id, {"name": "Renamed <scenario>", "is_public": not bool(original.is_public)})]
    record = box.state.scenarios[original.id]
    assert record.name == "Renamed <scenario>"
    assert builder.saved_scenario_id == original.id and builder.pending_changes == {}
    assert client.scenarios.get(original.id, cache=False).ai_instructions == full.ai_instructions


def test_edit_by_id_and_revert(client: tt.Client) -> None:
    original = client.scenarios.list()[1]
    builder = ScenarioBuilder(client, scenario=original.id)
    builder.fields["description"].value = "Changed"
    assert builder.pending_changes
    builder.revert_button.click()
    assert builder.pending_changes == {} and builder.fields["description"].value == (original.description or "")


def test_edit_error_keeps_pending_changes(client: tt.Client) -> None:
    box = client.sandbox_instance
    original = client.scenarios.list()[0]
    builder = ScenarioBuilder(client, scenario=original)
    builder.fields["ai_instructions"].value = INSTRUCTIONS + " Stay polite."
    box.fail_next(status=503, route="PATCH /scenarios/{id}")
    builder.submit()
    assert "503" in builder.status_text
    assert set(builder.pending_changes) == {"ai_instructions"}  # still pending, still editable
    builder.submit()
    assert box.state.scenarios[original.id].ai_instructions == INSTRUCTIONS + " Stay polite."


def test_templates_fill_the_form_and_never_silently_replace_a_draft(client: tt.Client) -> None:
    builder = ScenarioBuilder(client)
    builder.template_picker.value = "Support escalation"
    builder.template_button.click()
    assert builder.draft["name"] == TEMPLATES["Support escalation"]["name"]
    assert builder.errors == {}

    builder.fields["name"].value = "My own name"
    builder.template_picker.value = "Interview"
    builder.template_button.click()  # first click only warns
    assert builder.draft["name"] == "My own name"
    assert builder.template_button.description == "Replace my draft?"
    builder.template_button.click()  # the deliberate second click replaces it
    assert builder.draft["name"] == TEMPLATES["Interview"]["name"]
    builder.submit()
    assert builder.scenario.name == TEMPLATES["Interview"]["name"]


def test_unknown_template_and_field_are_refused(client: tt.Client) -> None:
    builder = ScenarioBuilder(client)
    with pytest.raises(ValueError, match="Cold call"):
        builder.apply_template("Nope")
    with pytest.raises(ValueError, match="ai_instructions"):
        builder.set_fields(instructions="x")


def test_new_scenario_after_save(client: tt.Client) -> None:
    builder = ScenarioBuilder(client)
    builder.apply_template("Cold call")
    builder.submit()
    first = builder.saved_scenario_id
    builder.new_button.click()
    assert builder.mode == "create" and builder.draft["name"] == "" and builder.errors == {}
    builder.apply_template("Discovery call")
    builder.submit()
    assert builder.saved_scenario_id != first and builder.save_count == 2


def test_busy_state_while_a_threaded_request_runs() -> None:
    client = tt.Client.sandbox(seed=0, latency=0.3)
    builder = ScenarioBuilder(client, threaded=True)
    builder.apply_template("Discovery call")
    builder.submit()
    assert builder.busy and builder.submit_button.disabled
    assert builder.submit_button.description == "Creating…"
    builder.submit()  # a second click while busy sends nothing
    assert builder.wait(10)
    assert not builder.busy and builder.saved_scenario_id
    assert client.sandbox_instance.counters.creates["scenario"] == 1


def test_repr_is_stable(client: tt.Client) -> None:
    assert repr(ScenarioBuilder(client)) == "ScenarioBuilder(mode='create', saved_scenario_id='')"
