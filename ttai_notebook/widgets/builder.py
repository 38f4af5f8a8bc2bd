"""``ScenarioBuilder``: create or edit a scenario in a form, without writing JSON.

Inline validation before anything is sent, a preview of exactly what an edit will change, a busy state
while a request runs, the server's own words on error — and the draft is never lost.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import traitlets

from ..errors import ValidationError
from . import draft as D
from ._runner import TaskRunner, error_text
from .templates import TEMPLATES

__all__ = ["ScenarioBuilder"]

_NO_TEMPLATE = "— start from a template —"
_ERR = "color:var(--jp-error-color1,#d13b3b);font-size:.9em"


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _preview(value: Any, limit: int = 140) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if not text:
        return "(empty)"
    return text if len(text) <= limit else text[: limit - 1] + f"… ({len(text)} characters)"


def changes_html(changes: dict[str, tuple[Any, Any]]) -> str:
    """The pending edit as a small before/after table (escaped)."""
    if not changes:
        return '<span style="opacity:.7">No changes yet: edit a field to see what will be sent.</span>'
    rows = "".join(
        f'<tr><td style="padding:2px 10px 2px 0;font-weight:600;vertical-align:top">{_esc(D.LABELS[k])}</td>'
        f'<td style="padding:2px 10px;vertical-align:top;text-decoration:line-through;opacity:.7">'
        f"{_esc(_preview(old))}</td>"
        f'<td style="padding:2px 0;vertical-align:top">{_esc(_preview(new))}</td></tr>'
        for k, (old, new) in changes.items()
    )
    return (
        f'<div style="font-weight:600;margin-bottom:2px">Will change {len(changes)} field'
        f'{"s" if len(changes) != 1 else ""} (only these are sent):</div>'
        f'<table style="border-collapse:collapse;font-size:.92em">'
        f'<tr><th></th><th style="text-align:left;padding:0 10px;opacity:.7">Before</th>'
        f'<th style="text-align:left;opacity:.7">After</th></tr>{rows}</table>'
    )


class ScenarioBuilder(W.VBox):
    """A form to create a scenario, or to edit one (``scenario=...``) with a PATCH of only what changed.

    Parameters
    ----------
    client : Client
        The client to send requests with (a sandbox client works offline).
    scenario : Scenario or str, optional
        Edit this scenario (or the scenario with this id) instead of creating a new one.
    threaded : bool, optional
        Run requests in a worker thread (default: yes inside a kernel, no elsewhere).

    Attributes
    ----------
    saved_scenario_id : str
        Id of the last scenario saved by this form (observable trait; ``""`` before the first save).
    save_count : int
        Number of successful saves (observable; changes even when the same scenario is saved twice).
    busy : bool
        True while a request runs.
    mode : str
        ``"create"`` or ``"edit"``.
    errors : dict
        Field → message for the problems shown in the form (validation or the server's).
    fields : dict
        Field name → input widget (``name``, ``description``, ``user_friendly_description``,
        ``ai_instructions``, ``is_public``, ``is_recording``, ``admin_email``, ``is_auto_analysis``,
        ``is_auto_submit``).

    Examples
    --------
    >>> import ttai_notebook as tt
    >>> client = tt.Client.sandbox()
    >>> builder = tt.widgets.ScenarioBuilder(client)
    >>> builder.apply_template("Cold call")
    >>> builder.submit()
    >>> builder.scenario.name
    'Cold call: first meeting ask'
    """

    saved_scenario_id = traitlets.Unicode("")
    save_count = traitlets.Int(0)
    busy = traitlets.Bool(False)
    mode = traitlets.Unicode("create")
    errors = traitlets.Dict()
    status_text = traitlets.Unicode("")

    def __init__(self, client: Any, scenario: Any = None, *, threaded: bool | None = None) -> None:
        self._client = client
        self._runner = TaskRunner(threaded)
        self._scenario: Any = None
        self._baseline = D.empty_draft()
        self._analysis_base: dict[str, Any] = {}
        self._touched: set[str] = set()
        self._submitted_once = False
        self._template_armed: str | None = None
        self._filling = False

        if isinstance(scenario, str):
            scenario = client.scenarios.get(scenario)
        elif scenario is not None and getattr(scenario, "ai_instructions", None) is None and getattr(scenario, "id", None):
            # Scenario lists are summaries (no AI instructions): edit the full scenario, not a partial one.
            scenario = client.scenarios.get(scenario.id)

        self.fields: dict[str, W.Widget] = {
            "name": W.Text(placeholder="e.g. Cold call: first meeting ask", layout=W.Layout(width="100%")),
            "description": W.Textarea(placeholder="Internal description (for trainers)", rows=2,
                                      layout=W.Layout(width="100%")),
            "user_friendly_description": W.Textarea(
                placeholder="What the trainee reads before starting", rows=2, layout=W.Layout(width="100%")
            ),
            "ai_instructions": W.Textarea(
                placeholder="Who the AI plays, how it behaves, which objections it raises, what to evaluate…",
                rows=14,
                layout=W.Layout(width="100%"),
            ),
            "is_public": W.Checkbox(description="Public (anyone with the link can practise)", indent=False),
            "is_recording": W.Checkbox(description="Record sessions", indent=False),
            "admin_email": W.Text(placeholder="manager@example.com, coach@example.com", layout=W.Layout(width="100%")),
            "is_auto_analysis": W.Checkbox(description="Analyse each session automatically", indent=False),
            "is_auto_submit": W.Checkbox(description="Submit session data automatically", indent=False),
        }
        self._error_labels = {key: W.HTML("") for key in D.FIELDS}
        for key, widget in self.fields.items():
            widget.observe(lambda change, key=key: self._on_field(key), names="value")

        self.header = W.HTML()
        self.template_picker = W.Dropdown(options=[_NO_TEMPLATE, *TEMPLATES], value=_NO_TEMPLATE,
                                          layout=W.Layout(width="260px"))
        self.template_button = W.Button(description="Use template", icon="clone")
        self.template_button.on_click(lambda _b: self._on_template_click())
        self.template_row = W.HBox([self.template_picker, self.template_button])
        self.changes = W.HTML()
        self.submit_button = W.Button(description="Create scenario", button_style="primary", icon="check")
        self.submit_button.on_click(lambda _b: self.submit())
        self.revert_button = W.Button(description="Discard changes", icon="undo")
        self.revert_button.on_click(lambda _b: self.revert())
        self.new_button = W.Button(description="New scenario", icon="plus")
        self.new_button.on_click(lambda _b: self.start_new())
        self.status = W.HTML()
        self.saved_card = W.HTML()

        def row(key: str) -> W.Widget:
            label = W.HTML(f"<b>{_esc(D.LABELS[key])}</b>", layout=W.Layout(width="150px", min_width="150px"))
            return W.VBox([W.HBox([label, self.fields[key]]), W.HBox([W.HTML(layout=W.Layout(width="150px",
                           min_width="150px")), self._error_labels[key]])], layout=W.Layout(margin="0 0 2px 0"))

        def check(key: str) -> W.Widget:
            return W.VBox([self.fields[key], self._error_labels[key]])

        analysis_box = W.VBox(
            [
                W.HTML("<b>After each session</b>"),
                row("admin_email"),
                W.HBox([check("is_auto_analysis"), check("is_auto_submit")]),
            ],
            layout=W.Layout(border="1px solid var(--jp-border-color2,#ccc)", padding="4px 8px", margin="6px 0"),
        )
        super().__init__(
            [
                self.header,
                self.template_row,
                row("name"),
                row("user_friendly_description"),
                row("description"),
                row("ai_instructions"),
                W.HBox([check("is_public"), check("is_recording")]),
                analysis_box,
                self.changes,
                W.HBox([self.submit_button, self.revert_button, self.new_button]),
                self.status,
                self.saved_card,
            ],
            layout=W.Layout(max_width="900px"),
        )
        if scenario is not None:
            self._enter_edit(scenario, D.draft_from_scenario(scenario))
            self._fill(self._baseline)
        else:
            self.header.value = '<div style="font-size:1.15em;font-weight:600">New scenario</div>'
            self._fill(D.empty_draft())
        self._refresh()

    # ---- reading and writing the form -------------------------------------------------------------

    @property
    def draft(self) -> dict[str, Any]:
        """The form's current values as a draft dict."""
        return {key: self.fields[key].value for key in D.FIELDS}

    @property
    def scenario(self) -> Any:
        """The last scenario saved by this form (or, in edit mode before any save, the one being edited)."""
        return self._scenario

    @property
    def pending_changes(self) -> dict[str, tuple[Any, Any]]:
        """Edit mode: ``{field: (saved value, new value)}`` for every field that will be sent."""
        return D.diff_drafts(self._baseline, self.draft)

    def set_fields(self, **values: Any) -> None:
        """Set form fields from code (names as in :attr:`fields`); unknown names are refused."""
        unknown = sorted(set(values) - set(D.FIELDS))
        if unknown:
            raise ValueError(f"Unknown field(s) {unknown}; the form has {list(D.FIELDS)}.")
        for key, value in values.items():
            self.fields[key].value = value

    def _fill(self, draft: dict[str, Any]) -> None:
        self._filling = True
        try:
            for key in D.FIELDS:
                self.fields[key].value = draft[key]
        finally:
            self._filling = False

    def _on_field(self, key: str) -> None:
        if self._filling:
            return
        self._touched.add(key)
        self._template_armed = None
        self._refresh()

    # ---- templates -------------------------------------------------------------------------------------

    def apply_template(self, name: str) -> None:
        """Fill the text fields from a starting template (``"Cold call"``, ``"Discovery call"``, ...)."""
        if name not in TEMPLATES:
            raise ValueError(f"Unknown template {name!r}; choose one of {list(TEMPLATES)}.")
        values = dict(TEMPLATES[name])
        self._filling = True
        try:
            for key, value in values.items():
                self.fields[key].value = value
        finally:
            self._filling = False
        self._touched.update(values)
        self._template_armed = None
        self._show_status("info", f"Filled from the “{name}” template: edit anything before saving.")
        self._refresh()

    def _on_template_click(self) -> None:
        name = self.template_picker.value
        if name == _NO_TEMPLATE:
            self._show_status("info", "Pick a template in the list first.")
            return
        has_text = any(str(self.fields[k].value).strip() for k in ("name", "description",
                                                                  "user_friendly_description", "ai_instructions"))
        if has_text and self._template_armed != name:
            # The draft is never lost silently: replacing typed text takes a second, deliberate click.
            self._template_armed = name
            self.template_button.description = "Replace my draft?"
            self.template_button.button_style = "warning"
            self._show_status("info", f"Your draft has text. Click “Replace my draft?” to overwrite it with "
                                      f"the “{name}” template.")
            return
        self.apply_template(name)

    # ---- validation and display ------------------------------------------------------------------------

    def _refresh(self) -> None:
        errors = D.validate_draft(self.draft)
        shown = {k: v for k, v in errors.items() if self._submitted_once or k in self._touched}
        self._set_errors(shown)
        if self._template_armed is None:
            self.template_button.description = "Use template"
            self.template_button.button_style = ""
        if self.mode == "edit":
            self.changes.value = changes_html(self.pending_changes)
        else:
            self.changes.value = ""
        self._update_buttons()

    def _set_errors(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        for key, label in self._error_labels.items():
            label.value = f'<span style="{_ERR}">⚠ {_esc(errors[key])}</span>' if key in errors else ""

    def _update_buttons(self) -> None:
        busy = self.busy
        self.submit_button.disabled = busy or (self.mode == "edit" and not self.pending_changes)
        self.revert_button.layout.display = "" if self.mode == "edit" else "none"
        self.revert_button.disabled = busy or not self.pending_changes
        self.new_button.layout.display = "" if self.mode == "edit" else "none"
        self.new_button.disabled = busy
        self.template_button.disabled = busy
        self.template_row.layout.display = "" if self.mode == "create" else "none"
        if self.mode == "create":
            self.submit_button.description = "Creating…" if busy else "Create scenario"
        else:
            self.submit_button.description = "Saving…" if busy else "Save changes"

    def _show_status(self, kind: str, text: str) -> None:
        colors = {"ok": "var(--jp-success-color1,#2e8540)", "error": "var(--jp-error-color1,#d13b3b)",
                  "busy": "var(--jp-brand-color1,#1976d2)", "info": "inherit"}
        icon = {"ok": "✔ ", "error": "✖ ", "busy": "⏳ ", "info": ""}[kind]
        self.status_text = text
        self.status.value = f'<div style="color:{colors[kind]};margin:4px 0;white-space:pre-wrap">{icon}{_esc(text)}</div>'

    @traitlets.observe("busy", "mode")
    def _on_busy_or_mode(self, _change: dict) -> None:
        if hasattr(self, "submit_button"):
            self._update_buttons()

    def _enter_edit(self, scenario: Any, baseline: dict[str, Any]) -> None:
        self._scenario = scenario
        self._baseline = baseline
        settings = getattr(scenario, "session_analysis", None)
        self._analysis_base = dict(settings) if isinstance(settings, dict) else {}
        self.mode = "edit"
        name = getattr(scenario, "name", None) or "Untitled"
        sid = getattr(scenario, "id", "")
        self.header.value = (f'<div style="font-size:1.15em;font-weight:600">Edit scenario: {_esc(name)}</div>'
                             f'<div style="opacity:.7;font-family:monospace">{_esc(sid)}</div>')

    # ---- actions -------------------------------------------------------------------------------------

    def submit(self) -> None:
        """Create the scenario (create mode) or send the pending changes (edit mode).

        Validation problems are shown next to their fields and nothing is sent. On a server error the
        message is shown in the form and every field keeps its value.
        """
        if self.busy:
            return
        self._submitted_once = True
        self._refresh()
        if self.errors:
            count = len(self.errors)
            self._show_status("error", f"Fix the {count} field{'s' if count > 1 else ''} marked ⚠ — nothing was sent.")
            return
        draft = self.draft
        if self.mode == "create":
            payload = D.create_payload(draft)
            self._run("Creating the scenario…", lambda: self._client.scenarios.create(**payload), draft)
        else:
            payload = D.update_payload(self._baseline, draft, session_analysis_base=self._analysis_base)
            if not payload:
                self._show_status("info", "Nothing to save: no field differs from the saved scenario.")
                return
            sid = self._scenario.id
            self._run("Saving the changes…", lambda: self._client.scenarios.update(sid, **payload), draft)

    def _run(self, busy_text: str, call: Any, sent_draft: dict[str, Any]) -> None:
        self.busy = True
        self._show_status("busy", busy_text)

        def task() -> Any:
            saved = call()
            # The documented create answer is partial ({id, name, is_public}); fetch the whole scenario so
            # `.scenario` is complete. A failed fetch is not a failed save.
            if not getattr(saved, "ai_instructions", None) and getattr(saved, "id", None):
                try:
                    saved = self._client.scenarios.get(saved.id)
                except Exception:  # noqa: BLE001
                    pass
            return saved

        self._runner.run(task, lambda saved: self._saved(saved, sent_draft), self._failed, self._idle)

    def _saved(self, saved: Any, sent_draft: dict[str, Any]) -> None:
        created = self.mode == "create"
        # What the server now holds is what we sent; edits typed while the request ran stay pending.
        self._enter_edit(saved, dict(sent_draft))
        self._touched.clear()
        self._submitted_once = False
        verb = "Created" if created else "Saved"
        self._show_status("ok", f"{verb} “{getattr(saved, 'name', '') or sent_draft['name']}” "
                                f"({getattr(saved, 'id', '')}).")
        render = getattr(saved, "_repr_html_", None)
        self.saved_card.value = render() if callable(render) else ""
        self._refresh()
        self.save_count += 1
        self.saved_scenario_id = getattr(saved, "id", "") or ""

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, ValidationError):
            # Refused by the client before any request: not the service's word, so say what it is.
            field = D.field_from_error_location(exc.field.split(".")) if exc.field else None
            if field:
                self._set_errors({**self.errors, field: exc.message})
            self._show_status("error", f"Not sent — {exc.message}\nYour draft is kept: fix it and try again.")
            return
        field_errors: dict[str, str] = {}
        details = getattr(exc, "details", None)
        if isinstance(details, list):
            for item in details:
                if isinstance(item, dict):
                    field = D.field_from_error_location(item.get("loc"))
                    if field and isinstance(item.get("msg"), str):
                        field_errors[field] = f"The service says: {item['msg']}"
        if field_errors:
            self._set_errors({**self.errors, **field_errors})
        self._show_status("error", f"The service refused the request — {error_text(exc)}\n"
                                   "Your draft is kept: fix it and try again.")

    def _idle(self) -> None:
        self.busy = False

    def revert(self) -> None:
        """Edit mode: put back the saved values, dropping the pending changes."""
        if self.mode == "edit":
            self._fill(self._baseline)
            self._touched.clear()
            self._show_status("info", "Changes discarded.")
            self._refresh()

    def start_new(self) -> None:
        """Switch to creating a new scenario with a blank form (the saved scenario is untouched)."""
        if self.busy:
            return
        self.mode = "create"
        self._baseline = D.empty_draft()
        self._touched.clear()
        self._submitted_once = False
        self.header.value = '<div style="font-size:1.15em;font-weight:600">New scenario</div>'
        self._fill(D.empty_draft())
        self.saved_card.value = ""
        self._show_status("info", "")
        self._refresh()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a running request finishes (threaded mode); True when idle."""
        return self._runner.join(timeout)

    def __repr__(self) -> str:
        return f"ScenarioBuilder(mode={self.mode!r}, saved_scenario_id={self.saved_scenario_id!r})"
