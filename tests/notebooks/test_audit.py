"""The secrets audit: what counts as a secret (a table), where in a notebook it is found, and that it never
prints the secret itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ttai_notebook.audit import (
    KINDS,
    Finding,
    audit_notebook,
    audit_path,
    iter_notebook_paths,
    looks_like_token,
    redact_value,
    scan_text,
)

TOKEN = "tt_live_9f8e7d6c5b4a39281706f5e4"  # planted, token-shaped, not a real credential
REPO = Path(__file__).resolve().parents[2]


def nb_with(*cells: dict, metadata: dict | None = None) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata or {}, "cells": list(cells)}


def code(source: str = "", outputs: list | None = None, **metadata: object) -> dict:
    return {"cell_type": "code", "source": source, "metadata": metadata, "outputs": outputs or [],
            "execution_count": 1}


def stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def display(mime: str, value: object) -> dict:
    return {"output_type": "display_data", "data": {mime: value}, "metadata": {}}


# ----------------------------------------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        # real-looking secrets
        (f"Authorization: Bearer {TOKEN}", ["bearer-token"]),
        (f"curl -H 'Authorization: Bearer {TOKEN}' https://x", ["bearer-token"]),
        (f"headers = {{'Authorization': '{TOKEN}'}}", ["authorization-header"]),
        (f'"authorization": "Token {TOKEN}"', ["authorization-header"]),
        (f'token = "{TOKEN}"', ["token-assignment"]),
        (f"TTAI_TOKEN='{TOKEN}'", ["token-assignment"]),
        (f'os.environ["TTAI_TOKEN"] = "{TOKEN}"', ["token-assignment"]),
        (f"%env TTAI_TOKEN={TOKEN}", ["token-assignment"]),
        (f'tt.Client(token="{TOKEN}")', ["token-assignment"]),
        (f'{{"api_key": "{TOKEN}"}}', ["token-assignment"]),
        (f"https://api.example/x?access_token={TOKEN}&a=1", ["token-assignment"]),
        ("https://app.toughtongueai.com/embed/abc?scenarioAccessToken=eyJhbGc.x1.y2", ["embed-access-token"]),
        ("<iframe src='https://app.toughtongueai.com/embed/a?userName=A&amp;scenarioAccessToken=abc123'>",
         ["embed-access-token"]),
        (f"first Bearer {TOKEN}\nthen token = '{TOKEN}X'", ["bearer-token", "token-assignment"]),
        # placeholders, names and code: not secrets
        ("Authorization: Bearer <token>", []),
        ("Authorization: Bearer YOUR_API_TOKEN", []),
        ("Authorization: Bearer ***", []),
        ("Bearer sandbox", []),
        ("token = os.environ['TTAI_TOKEN']", []),
        ("token = client.config.token_value", []),
        ('token = "YOUR_TOKEN_HERE_PLEASE"', []),
        ('token = "xxxxxxxxxxxxxxxxxxxxxxxx"', []),
        ("max_tokens = 100000000000000000", []),
        ("scenario_id = '69577496bd7c000fa3f4fc2a'", []),
        ("if token == expected_token_value_123:", []),
        ("?scenarioAccessToken=<access token>", []),
        ("?scenarioAccessToken={token}", []),
        ("Secret('**********')", []),
        ("the token never appears in an embed URL", []),
    ],
)
def test_scan_text_table(text: str, kinds: list[str]) -> None:
    assert [kind for kind, _line, _red in scan_text(text)] == kinds


@pytest.mark.parametrize(
    ("text", "secret", "found"),
    [
        (f"the token is {TOKEN}.", TOKEN, True),
        (f'{{"value": "{TOKEN}"}}', TOKEN, True),
        ("nothing here", TOKEN, False),
        ('{"v": "ab\\"cdefghij"}', 'ab"cdefghij', True),  # escaped inside JSON text
        ("abc is everywhere: abc abc", "abc", False),  # too short to search for verbatim
        ("plainwords-only-token-value", "plainwords-only-token-value", True),  # verbatim: shape does not matter
    ],
)
def test_known_secret_is_found_verbatim(text: str, secret: str, found: bool) -> None:
    assert (("api-token" in [k for k, _l, _r in scan_text(text, [secret])])) is found


def test_overlapping_matches_report_the_most_specific_kind_once() -> None:
    hits = scan_text(f"headers={{'Authorization': 'Bearer {TOKEN}'}}", [TOKEN])
    assert [k for k, _l, _r in hits] == ["api-token"]


def test_line_numbers_are_one_based_within_the_text() -> None:
    hits = scan_text(f"a = 1\nb = 2\ntoken = '{TOKEN}'\n")
    assert [(k, line) for k, line, _r in hits] == [("token-assignment", 3)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (TOKEN, True),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc123", True),
        ("69577496bd7c000fa3f4fc2a", True),  # hex of token length: shape alone cannot tell it from an id
        ("short1", False),
        ("YOUR_API_TOKEN_HERE", False),
        ("alllowercaseletters", False),
        ("<your-token-goes-here>", False),
        ("${TTAI_TOKEN}xxxxxxxxxx", False),
        ("1111111111111111", False),
    ],
)
def test_looks_like_token_table(value: str, expected: bool) -> None:
    assert looks_like_token(value) is expected


def test_unquoted_dotted_names_are_expressions_not_tokens() -> None:
    assert looks_like_token("client.config.api_token", quoted=False) is False
    assert looks_like_token("tt_live_9f8e7d6c5b4a", quoted=False) is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [(TOKEN, "tt_l…[32 chars]"), ("abcdefgh12", "***[10 chars]")],
)
def test_redact_value_shows_at_most_a_short_prefix(value: str, expected: str) -> None:
    assert redact_value(value) == expected


# ------------------------------------------------------------------------------------------------------- notebook


def test_clean_notebook_has_no_findings() -> None:
    nb = nb_with(
        code("import ttai_notebook as tt\nclient = tt.connect()", [stream("Using the offline sandbox.\n")]),
        {"cell_type": "markdown", "source": "Set `TTAI_TOKEN` to use the real service.", "metadata": {}},
    )
    assert audit_notebook(nb, [TOKEN]) == []


def test_token_in_a_stream_output_is_found_with_its_location() -> None:
    nb = nb_with(code("x = 1"), code("print(x)", [stream("ok\n"), stream(f"header: Bearer {TOKEN}\n")]))
    [finding] = audit_notebook(nb, path="nb.ipynb")
    assert finding.kind == "bearer-token"
    assert finding.cell == 2
    assert str(finding) == "nb.ipynb:cell 2 output 2 (stdout) line 1: Bearer token: Bearer tt_l…[32 chars]"


def test_token_in_html_and_error_outputs_is_found() -> None:
    nb = nb_with(
        code("show()", [display("text/html", [f"<p>token = '{TOKEN}'</p>"])]),
        code("boom()", [{"output_type": "error", "ename": "APIError", "evalue": f"sent Bearer {TOKEN}",
                         "traceback": ["..."]}]),
    )
    wheres = [f.where for f in audit_notebook(nb)]
    assert wheres == ["cell 1 output 1 (text/html) line 1", "cell 2 output 1 (error) line 2"]


def test_known_secret_in_a_json_output_is_found() -> None:
    nb = nb_with(code("cfg", [display("application/json", {"headers": {"x": TOKEN}})]))
    assert [f.kind for f in audit_notebook(nb, [TOKEN])] == ["api-token"]


def test_image_outputs_are_not_scanned() -> None:
    # base64 of a PNG is not text anyone reads; only a verbatim token could matter and it cannot be in base64.
    nb = nb_with(code("plot()", [display("image/png", f"iVBOR{TOKEN}")]))
    assert audit_notebook(nb, [TOKEN]) == []


def test_token_in_cell_source_is_found_with_its_line() -> None:
    nb = nb_with(code(["import ttai_notebook as tt\n", f"client = tt.Client(token='{TOKEN}')\n"]))
    [finding] = audit_notebook(nb)
    assert finding.where == "cell 1 source line 2"


def test_token_in_saved_widget_state_is_found() -> None:
    state = {
        "application/vnd.jupyter.widget-state+json": {
            "version_major": 2,
            "version_minor": 0,
            "state": {
                "4f1c0e7a9b2d": {"model_name": "TextModel", "state": {"value": "ok"}},
                "7a1f93c2d4e5": {
                    "model_name": "AnyModel",
                    "state": {"src": f"https://app.toughtongueai.com/embed/s1?scenarioAccessToken={TOKEN}"},
                },
                "9b8c7d6e5f4a": {"model_name": "PasswordModel", "state": {"value": TOKEN}},
            },
        }
    }
    findings = audit_notebook(nb_with(code("w"), metadata={"widgets": state}), [TOKEN])
    assert [(f.where, f.kind, f.cell) for f in findings] == [
        ("metadata.widgets model 7a1f93c2", "api-token", None),
        ("metadata.widgets model 9b8c7d6e", "api-token", None),
    ]
    # without the known value, the URL shape alone still gives it away; a bare value in a Password does not
    findings = audit_notebook(nb_with(code("w"), metadata={"widgets": state}))
    assert [(f.where, f.kind) for f in findings] == [("metadata.widgets model 7a1f93c2", "embed-access-token")]


def test_token_in_other_notebook_metadata_is_found() -> None:
    nb = nb_with(code("x"), metadata={"kernelspec": {"name": "python3"}, "env": {"TTAI_TOKEN": TOKEN}})
    assert [(f.where, f.kind) for f in audit_notebook(nb)] == [("metadata", "token-assignment")]


def test_findings_never_contain_the_secret() -> None:
    nb = nb_with(
        code(f"token = '{TOKEN}'", [stream(f"Bearer {TOKEN}"), display("text/html", f"?scenarioAccessToken={TOKEN}")]),
        metadata={"widgets": {"w": {"state": {"m": {"state": {"v": TOKEN}}}}}},
    )
    findings = audit_notebook(nb, [TOKEN])
    assert len(findings) == 4
    for finding in findings:
        assert TOKEN not in str(finding) and TOKEN not in repr(finding)
        assert TOKEN[:8] not in str(finding)


def test_every_kind_has_a_label() -> None:
    assert Finding("bearer-token", "cell 1", "x").label == KINDS["bearer-token"]
    assert set(KINDS) == {"api-token", "embed-access-token", "bearer-token", "authorization-header",
                          "token-assignment"}


def test_odd_notebook_shapes_do_not_crash() -> None:
    nb = {"cells": [None, {"cell_type": "raw"}, code(None, [None, {"output_type": "weird"}])], "metadata": None}
    assert audit_notebook(nb) == []


# ---------------------------------------------------------------------------------------------------------- files


def test_audit_path_reads_files_and_refuses_non_notebooks(tmp_path: Path) -> None:
    good = tmp_path / "a.ipynb"
    good.write_text(json.dumps(nb_with(code(f"token = '{TOKEN}'"))))
    [finding] = audit_path(good)
    assert finding.path == str(good)
    bad = tmp_path / "b.ipynb"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a notebook"):
        audit_path(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="no 'cells' list"):
        audit_path(bad)


def test_iter_notebook_paths_expands_folders_and_skips_checkpoints(tmp_path: Path) -> None:
    for rel in ("a.ipynb", "sub/b.ipynb", ".ipynb_checkpoints/a-checkpoint.ipynb", "notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_notebook_paths([tmp_path])]
    assert found == ["a.ipynb", "sub/b.ipynb"]
    assert list(iter_notebook_paths([tmp_path / "notes.txt"])) == [tmp_path / "notes.txt"]


def test_committed_notebooks_are_clean() -> None:
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 5, "the five notebooks are committed"
    for path in notebooks:
        assert audit_path(path, ["sandbox-placeholder-token"]) == [], path.name
