"""``ttai-notebook verify`` against the sandbox server on 127.0.0.1: both profiles, both dialects, the optional
write and spend checks, answers our models do not expect (through an httpx transport that rewrites them),
shape snapshots (same target, other profile, the committed fixture) and token safety."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ttai_notebook.cli import main
from ttai_notebook.sandbox import Sandbox
from ttai_notebook.verify import VerifyReport, compare_snapshots, load_snapshot, verify

TOKEN = "tt_live_7c1e5a9b3d2f4e6a8b0c1d2e"  # planted, token-shaped, not a real credential
SHAPES = Path(__file__).resolve().parents[1] / "fixtures" / "shapes"
READ_ONLY_ROWS = [
    "token", "balance", "organisations", "fields: organisations", "scenarios", "fields: scenarios",
    "sessions (v2 list)", "fields: sessions", "sessions (batch get)", "fields: sessions (batch)",
    "v1 list (GET /sessions)",
]
BRIEF_ROWS = [r for r in READ_ONLY_ROWS if r != "fields: organisations"]  # no organisations to look at


@contextlib.contextmanager
def served(profile: str = "current", dialect: str = "spec", **options: Any) -> Iterator[tuple[Sandbox, str]]:
    options.setdefault("processing_time", 0)
    box = Sandbox(dialect=dialect, profile=profile, token=TOKEN, **options)
    with box.serve() as server:
        yield box, server.base_url


def run(base_url: str, **options: Any) -> VerifyReport:
    return verify(token=TOKEN, base_url=base_url, **options)


def results(report: VerifyReport) -> dict[str, str]:
    return {c.name: c.result for c in report.checks}


class Rewrite(httpx.BaseTransport):
    """Talks to the real server, then lets ``change(path, status, body)`` rewrite the answer.

    ``change`` returns None (answer unchanged) or ``(status, body)``; a ``bytes`` body is sent as is.
    """

    def __init__(self, change: Callable[[str, int, Any], tuple[int, Any] | None]) -> None:
        self._inner = httpx.HTTPTransport()
        self._change = change

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        raw = b"".join(response.stream)  # type: ignore[union-attr]
        response.close()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = request.url.path.removeprefix("/api/public")
        out = self._change(f"{request.method} {path}", response.status_code, body)
        if out is None:
            return httpx.Response(response.status_code, headers=response.headers, content=raw)
        status, new = out
        if isinstance(new, bytes):
            return httpx.Response(status, content=new, headers={"content-type": "text/html"})
        return httpx.Response(status, json=new)

    def close(self) -> None:
        self._inner.close()


def _each_session(body: Any, edit: Callable[[dict], None]) -> Any:
    items = body.get("sessions") if isinstance(body, dict) else body
    for item in items if isinstance(items, list) else [body]:
        if isinstance(item, dict):
            edit(item)
    return body


# --------------------------------------------------------------------------------- profiles x dialects, read-only


@pytest.mark.parametrize("dialect", ["documented", "spec"])
def test_current_profile_everything_ok_and_nothing_changed(dialect: str) -> None:
    with served("current", dialect) as (box, base_url):
        before = box.summary()
        report = run(base_url)
        after = box.summary()
    assert [c.name for c in report.checks] == READ_ONLY_ROWS
    assert set(results(report).values()) == {"ok"}, report.table()
    assert report.exit_code == 0
    assert "through GET /v2/sessions" in report["sessions (v2 list)"].detail
    assert "through GET /v2/sessions/batch" in report["sessions (batch get)"].detail
    assert report["v1 list (GET /sessions)"].detail.startswith("removed (404)")
    assert "2 organisations (roles: admin, view)" == report["organisations"].detail
    assert before == after  # read-only: no scenario created, nothing analysed, no balance spent
    assert box.counters.total_analyses == 0


@pytest.mark.parametrize("dialect", ["documented", "spec"])
def test_brief_profile_warns_about_the_fallbacks(dialect: str) -> None:
    with served("brief", dialect) as (_box, base_url):
        report = run(base_url)
    got = results(report)
    assert list(got) == BRIEF_ROWS
    assert got["organisations"] == "warn" and "no GET /v2/organizations" in report["organisations"].detail
    assert got["sessions (v2 list)"] == "warn" and "v1 GET /sessions" in report["sessions (v2 list)"].detail
    assert got["v1 list (GET /sessions)"] == "ok" and "still answers" in report["v1 list (GET /sessions)"].detail
    assert got["fields: sessions"] == "ok"  # the removed fields are documented by the spec
    assert report.exit_code == 0


def test_org_scope_by_slug_and_an_unknown_org() -> None:
    with served() as (_box, base_url):
        report = run(base_url, org="northwind-demo")
        assert report.exit_code == 0, report.table()
        assert report["organisations"].detail.endswith("scoped to Northwind Demo (role admin)")
        wrong = run(base_url, org="no-such-org")
    assert wrong.exit_code == 1
    assert any("no-such-org" in c.detail for c in wrong.failed), wrong.table()


def test_org_scope_where_the_service_has_no_organisations_route() -> None:
    with served("brief") as (_box, base_url):
        report = run(base_url, org="northwind-demo")
    assert report["organisations"].result == "warn" and "X-TT-ORG" in report["organisations"].detail
    assert report.exit_code == 0


# ---------------------------------------------------------------------------------------------- write and spend


@pytest.mark.parametrize("profile", ["current", "brief"])
def test_write_creates_and_deletes_a_private_scratch_scenario(profile: str) -> None:
    with served(profile) as (box, base_url):
        report = run(base_url, write=True)
        assert box.summary()["scenarios"] == 5
    assert results(report)["write: create scenario"] == "ok"
    assert results(report)["write: delete scenario"] == "ok"
    assert "ttai-notebook verify scratch" in report["write: create scenario"].detail


def test_write_where_delete_is_not_a_route_says_how_to_remove_it() -> None:
    with served(spec_routes_only=True) as (box, base_url):
        report = run(base_url, write=True)
        assert box.summary()["scenarios"] == 6  # still there: the row says how to remove it
    delete = report["write: delete scenario"]
    assert delete.result == "warn" and "in the Tough Tongue AI app" in delete.detail
    assert "ttai-notebook verify scratch" in delete.detail
    assert report.exit_code == 0


@pytest.mark.parametrize("dialect", ["documented", "spec"])
@pytest.mark.parametrize("profile", ["current", "brief"])
def test_spend_states_the_cost_asks_and_charges_n(profile: str, dialect: str) -> None:
    asked: list[str] = []
    with served(profile, dialect) as (box, base_url):
        before = box.summary()["available_minutes"]
        report = run(base_url, spend=2, confirm=lambda text: asked.append(text) or True)
        after = box.summary()["available_minutes"]
        analysed = box.counters.total_analyses
    assert len(asked) == 1 and "charges" in asked[0] and f"Balance now: {before:g} minutes" in asked[0]
    row = report["spend: analyse 2"]
    assert row.result == "ok", report.table()
    assert before - after == 2 and analysed == 2
    assert f"balance {before:g} → {after:g} minutes" in row.detail


def test_spend_declined_charges_nothing() -> None:
    with served() as (box, base_url):
        report = run(base_url, spend=3, confirm=lambda text: False)
        assert box.counters.total_analyses == 0
    assert report["spend: analyse 3"].result == "skipped"


def test_spend_needs_a_confirm_callable() -> None:
    with pytest.raises(ValueError, match="confirm"):
        verify(token=TOKEN, base_url="http://127.0.0.1:9/api/public", spend=1)


# --------------------------------------------------------------------------- answers our models do not expect


def _add_unknown(route: str, status: int, body: Any) -> tuple[int, Any] | None:
    if status != 200:
        return None
    if route.startswith("GET /v2/sessions"):
        return status, _each_session(body, lambda s: s.update(coach_notes_v3={"x": 1}))
    if route == "GET /scenarios":
        for item in body["scenarios"]:
            item["voice_clone_id"] = "v"
        return status, body
    if route == "GET /v2/organizations":
        return status, [{**o, "plan": "pro"} for o in body]
    return None


def _rename(route: str, status: int, body: Any) -> tuple[int, Any] | None:
    if status != 200 or not route.startswith("GET /v2/sessions"):
        return None

    def edit(session: dict) -> None:
        session["sessionId"] = session.pop("id")
        session["state"] = session.pop("status")

    return status, _each_session(body, edit)


def _drop_routes(*prefixes: str) -> Callable[[str, int, Any], tuple[int, Any] | None]:
    def change(route: str, status: int, body: Any) -> tuple[int, Any] | None:
        if any(route.startswith(p) for p in prefixes):
            return 404, {"detail": "Not Found"}
        return None

    return change


@pytest.mark.parametrize("dialect", ["documented", "spec"])
def test_unknown_fields_are_listed_as_warnings(dialect: str) -> None:
    with served("current", dialect) as (_box, base_url):
        report = run(base_url, transport=Rewrite(_add_unknown))
    got = results(report)
    assert got["fields: sessions"] == got["fields: scenarios"] == got["fields: organisations"] == "warn"
    assert "coach_notes_v3" in report["fields: sessions"].detail
    assert "voice_clone_id" in report["fields: scenarios"].detail
    assert "plan" in report["fields: organisations"].detail
    assert report.exit_code == 0


def test_renamed_fields_are_warnings_not_a_crash() -> None:
    with served() as (_box, base_url):
        report = run(base_url, transport=Rewrite(_rename))
    fields = report["fields: sessions"]
    assert fields.result == "warn"
    assert "no object carries id, status" in fields.detail and "sessionId" in fields.detail
    assert report["sessions (batch get)"].result == "skipped"  # listed sessions carry no id to fetch
    assert report.exit_code == 0


def test_removed_v2_routes_are_warnings() -> None:
    with served() as (_box, base_url):
        report = run(base_url, transport=Rewrite(_drop_routes("GET /v2/sessions/batch", "GET /v2/organizations")))
    got = results(report)
    assert got["sessions (batch get)"] == "warn" and "one by one" in report["sessions (batch get)"].detail
    assert got["organisations"] == "warn"
    assert got["fields: sessions (batch)"] == "ok"
    assert report.exit_code == 0


def test_removed_v2_list_falls_back_to_v1_with_a_warning() -> None:
    # A service with the brief's v1 list but neither v2 list nor organisations (profile brief has both gone).
    with served("brief") as (_box, base_url):
        report = run(base_url, transport=Rewrite(_drop_routes("GET /v2/sessions?", "GET /v2/sessions")))
    assert results(report)["sessions (v2 list)"] == "warn"
    assert results(report)["sessions (batch get)"] == "warn"
    assert report.exit_code == 0


def test_a_broken_answer_fails_its_row_and_the_run_goes_on() -> None:
    def html_scenarios(route: str, status: int, body: Any) -> tuple[int, Any] | None:
        return (200, b"<html>maintenance</html>") if route == "GET /scenarios" else None

    with served() as (_box, base_url):
        report = run(base_url, transport=Rewrite(html_scenarios))
    got = results(report)
    assert got["scenarios"] == "fail" and got["fields: scenarios"] == "skipped"
    assert got["sessions (v2 list)"] == "ok" and got["balance"] == "ok"
    assert report.exit_code == 1


def test_a_changed_type_shows_in_the_comparison() -> None:
    def stringly(route: str, status: int, body: Any) -> tuple[int, Any] | None:
        if status == 200 and route.startswith("GET /v2/sessions"):
            return status, _each_session(body, lambda s: s.update(duration=str(s.get("duration"))))
        return None

    with served() as (_box, base_url):
        baseline = run(base_url).snapshot
        report = run(base_url, transport=Rewrite(stringly), compare=baseline)
    found = {(d.check, d.path, d.change) for d in report.differences}
    assert ("sessions (v2 list)", "sessions[].duration", "type") in found
    assert report.checks[-1].result == "warn" and report.checks[-1].name.startswith("compare with snapshot")


# ---------------------------------------------------------------------------------------------------- snapshots


def test_snapshot_same_profile_no_difference_other_profile_lists_them() -> None:
    with served("current", "spec") as (_box, base_url):
        first = run(base_url)
        again = run(base_url, compare=first.snapshot)
    assert again.differences == [] and again.checks[-1].result == "ok"
    with served("brief", "spec") as (_box, base_url):
        brief = run(base_url, compare=first.snapshot)
    found = {str(d) for d in brief.differences}
    assert "sessions (batch get): GET /v2/sessions/batch: sessions[].duration_minutes: new" in found
    assert "sessions (batch get): GET /v2/sessions/batch: sessions[].evaluation_score: new" in found
    assert any(d.route == "GET /v2/sessions" and d.change == "status" for d in brief.differences)
    assert any(d.route == "GET /v2/organizations" and d.change == "status" for d in brief.differences)
    # and the other way round: the fields the current service removed
    back = {(d.path, d.change) for d in compare_snapshots(brief.snapshot, first.snapshot)}
    assert ("sessions[].report_card_topics", "missing") in back


def test_snapshot_holds_no_values() -> None:
    with served("current", "documented") as (_box, base_url):
        report = run(base_url, write=True)
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            sessions = http.get("/v2/sessions", params={"limit": 20}).json()["sessions"]
            scenarios = http.get("/scenarios").json()["scenarios"]
    text = json.dumps(report.snapshot)
    assert report.snapshot["host"] == "127.0.0.1" and ":" not in report.snapshot["host"]
    assert TOKEN not in text and "Bearer" not in text and "@" not in text
    for session in sessions:
        assert session["id"] not in text and session["user_name"] not in text
    for scenario in scenarios:
        assert scenario["id"] not in text and scenario["name"] not in text
    for team in ("Enterprise West", "North"):
        assert team not in text


def test_sandbox_matches_the_committed_snapshot() -> None:
    """The committed shape snapshot of the sandbox (profile current, spec dialect). A user's snapshot of the live
    service can sit beside it in tests/fixtures/shapes/ and be compared the same way."""
    committed = load_snapshot(SHAPES / "sandbox-current-spec.json")
    with served("current", "spec") as (_box, base_url):
        report = run(base_url, write=True, spend=1, confirm=lambda text: True, compare=committed)
    assert report.differences == [], "\n".join(str(d) for d in report.differences)
    assert report.exit_code == 0


# ------------------------------------------------------------------------------------------- CLI, token safety


def test_cli_against_the_server_keeps_the_token_out_of_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def echo_token(route: str, status: int, body: Any) -> tuple[int, Any] | None:
        # A service that echoes the token back: in a key, in a value, and in an error message.
        if route == "GET /balance":
            return 500, {"detail": f"wallet lookup failed for Bearer {TOKEN} ({TOKEN})"}
        if status == 200 and route.startswith("GET /v2/sessions"):
            return status, _each_session(body, lambda s: s.update({TOKEN: TOKEN, "note": f"token={TOKEN}"}))
        return None

    monkeypatch.setenv("TTAI_TOKEN", TOKEN)
    monkeypatch.setattr("ttai_notebook.verify._default_transport", lambda: Rewrite(echo_token))
    caplog.set_level(logging.DEBUG)
    snapshot = tmp_path / "snap.json"
    with served() as (_box, base_url):
        status = main(["verify", "--base-url", base_url, "--write", "--spend", "1", "--yes",
                       "--snapshot", str(snapshot)])
    out, err = capsys.readouterr()
    assert status == 1  # the balance row failed
    assert "balance" in out and "fail" in out and "***" in out
    everything = out + err + caplog.text + snapshot.read_text(encoding="utf-8")
    assert TOKEN not in everything
    assert "Wrote the shape snapshot" in err and "ok" in out


def test_cli_wrong_token_fails_and_skips_the_rest(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    other = "tt_live_0000aaaa1111bbbb2222cccc"
    monkeypatch.setenv("MY_TTAI", other)
    monkeypatch.delenv("TTAI_TOKEN", raising=False)
    with served() as (_box, base_url):
        status = main(["verify", "--base-url", base_url, "--token-env", "MY_TTAI"])
    out, err = capsys.readouterr()
    assert status == 1
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "fail" in lines["token"] and "skipped" in lines["balance"]
    assert other not in out + err and TOKEN not in out + err


def test_cli_without_a_token_says_how(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("TTAI_TOKEN", raising=False)
    assert main(["verify"]) == 1
    assert "no token: set $TTAI_TOKEN" in capsys.readouterr().err


class _Stdin:
    def __init__(self, tty: bool) -> None:
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_cli_spend_refuses_without_a_terminal_or_yes(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTAI_TOKEN", TOKEN)
    monkeypatch.setattr(sys, "stdin", _Stdin(False))
    with served() as (box, base_url):
        assert main(["verify", "--base-url", base_url, "--spend", "2"]) == 1
        assert not box.counters.requests  # refused before any call
    err = capsys.readouterr().err
    assert "stdin is not a terminal" in err and "--yes" in err


def test_cli_spend_asks_on_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTAI_TOKEN", TOKEN)
    monkeypatch.setattr(sys, "stdin", _Stdin(True))
    prompts: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt="": prompts.append(prompt) or "n")
    with served() as (box, base_url):
        assert main(["verify", "--base-url", base_url, "--spend", "1"]) == 0
        assert box.counters.total_analyses == 0
    out, err = capsys.readouterr()
    assert prompts and "[y/N]" in prompts[0]
    assert "charges every analysis" in err and "not confirmed" in out


def test_cli_compare_with_the_committed_snapshot(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTAI_TOKEN", TOKEN)
    with served("brief", "spec") as (_box, base_url):
        status = main(["verify", "--base-url", base_url, "--compare", str(SHAPES / "sandbox-current-spec.json")])
    out = capsys.readouterr().out
    assert status == 0  # differences are warnings
    assert "Differences from" in out and "duration_minutes: new" in out


def test_cli_compare_refuses_a_file_that_is_not_a_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTAI_TOKEN", TOKEN)
    (tmp_path / "x.json").write_text("[]", encoding="utf-8")
    assert main(["verify", "--compare", str(tmp_path / "x.json")]) == 1
    assert "not a shape snapshot" in capsys.readouterr().err


def test_a_very_short_test_token_does_not_garble_the_output(tmp_path: Path) -> None:
    box = Sandbox(token="t", processing_time=0)
    with box.serve() as server:
        report = verify(token="t", base_url=server.base_url)
    assert report["token"].detail == "accepted (API token is valid)"
    assert report.snapshot["checks"]["token"]["POST /test"]["status"] == [200]
    path = tmp_path / "s.json"
    from ttai_notebook.verify import write_snapshot

    assert load_snapshot(write_snapshot(report.snapshot, path))["checks"] == report.snapshot["checks"]
