"""(a) In JupyterLab, a trainer builds a scenario with the form (template, inline validation, Create) and the
sandbox then lists it."""

from __future__ import annotations

import pathlib

import pytest

import ttai_notebook as tt

from .conftest import client_cell, open_notebook, read_json_when, run_all_cells, screenshot, wait_idle

pytestmark = pytest.mark.browser


def test_builder_creates_a_scenario_the_sandbox_lists(page, lab, served_sandbox, out_dir: pathlib.Path, artifacts) -> None:
    box, base_url = served_sandbox
    out = out_dir / "saved.json"
    nb = lab.write_notebook(
        "builder",
        [
            client_cell(base_url)
            + f"OUT = pathlib.Path({str(out)!r})\n"
            "builder = tt.widgets.ScenarioBuilder(client)\n"
            "def saved(change):\n"
            "    OUT.write_text(json.dumps({'id': change['new'], 'names': [s.name for s in client.scenarios.list(cache=False)],\n"
            "                               'status': builder.status_text}))\n"
            "builder.observe(saved, names='saved_scenario_id')\n"
            "builder",
        ],
    )
    open_notebook(page, lab, nb)
    run_all_cells(page)
    wait_idle(page)
    form = page.locator(".jp-OutputArea-output").filter(has=page.locator("select")).first
    form.wait_for(timeout=30_000)

    # Create with an empty form: inline messages, nothing sent.
    page.get_by_role("button", name="Create scenario").click()
    page.get_by_text("Required: give the scenario a name").wait_for(timeout=10_000)
    page.get_by_text("Fix the 2 fields marked").wait_for(timeout=10_000)
    assert box.counters.requests["POST /scenarios"] == 0

    # Start from a template, make it ours, fix a bad report address.
    form.locator("select").select_option("Cold call")
    page.get_by_role("button", name="Use template").click()
    name_input = form.locator("input[placeholder^='e.g. Cold call']")
    name_input.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('input')].some(i => i.value.startsWith('Cold call: first meeting'))"
    )
    name_input.fill("Cold call: Northline Freight (browser)")
    email = form.locator("input[placeholder^='manager@example.com']")
    email.fill("lead@northline")
    page.get_by_text("Not an email address: lead@northline").wait_for(timeout=10_000)
    screenshot(page, artifacts, "a_builder_validation", form)
    email.fill("lead@northline.example")
    page.get_by_text("Not an email address").wait_for(state="detached", timeout=10_000)

    page.get_by_role("button", name="Create scenario").click()
    state = read_json_when(out, lambda d: bool(d.get("id")))
    assert "Cold call: Northline Freight (browser)" in state["names"]

    # The sandbox itself (in this process) holds and lists the scenario.
    record = box.state.scenarios[state["id"]]
    assert record.name == "Cold call: Northline Freight (browser)"
    assert box.counters.creates["scenario"] == 1
    with tt.Client(token="sandbox", base_url=base_url) as other:
        listed = {s.id: s.name for s in other.scenarios.list()}
        assert listed[state["id"]] == "Cold call: Northline Freight (browser)"
        full = other.scenarios.get(state["id"])
        assert full.ai_instructions.startswith("You are Dana Whitfield")
        assert full.session_analysis["admin_email"] == "lead@northline.example"

    page.get_by_role("button", name="Save changes").wait_for(timeout=10_000)  # the form now edits it
    page.locator(".ttai-scenario").first.wait_for(timeout=10_000)
    shot = screenshot(page, artifacts, "a_builder_created", form)
    assert shot.stat().st_size > 10_000
    assert page.dialogs == []
