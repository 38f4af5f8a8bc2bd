"""The ``ttai-notebook`` command: help, lab, sandbox (a real server process), report (real notebook execution)
and audit."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ttai_notebook import cli
from ttai_notebook.cli import find_notebooks_dir, inject_parameters, main, parameters_source, report_parameters

REPO = Path(__file__).resolve().parents[2]
TOKEN = "tt_live_9f8e7d6c5b4a39281706f5e4"  # planted, token-shaped, not a real credential
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "TTAI_TOKEN"}


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ttai_notebook.cli", *args],
        capture_output=True, text=True, timeout=timeout, env=env or CHILD_ENV, cwd=REPO,
    )


def md(source: str) -> dict:
    return {"cell_type": "markdown", "id": f"m{abs(hash(source)) % 10**8}", "metadata": {}, "source": source}


def code(source: str, *tags: str, outputs: list | None = None) -> dict:
    return {"cell_type": "code", "id": f"c{abs(hash(source)) % 10**8}", "execution_count": None,
            "metadata": {"tags": list(tags)} if tags else {}, "outputs": outputs or [], "source": source}


def notebook(*cells: dict, metadata: dict | None = None) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "cells": list(cells),
            "metadata": metadata or {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                    "language": "python"}}}


# ------------------------------------------------------------------------------------------------------------ help


@pytest.mark.parametrize("command", [[], ["lab"], ["sandbox"], ["report"], ["audit"], ["verify"]])
def test_help_has_examples(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "ttai-notebook" in out


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "ttai-notebook"
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, env=CHILD_ENV, timeout=60)
    assert proc.returncode == 0 and "audit" in proc.stdout


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_unknown_options_are_refused_except_for_lab(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "--bogus", "x.ipynb"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------------------- lab


def test_notebooks_folder_is_found_next_to_the_package() -> None:
    assert find_notebooks_dir() == REPO / "notebooks"


def test_notebooks_folder_inside_an_installed_package(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "ttai_notebook"
    (package / "_notebooks").mkdir(parents=True)
    assert find_notebooks_dir(package) == package / "_notebooks"
    assert find_notebooks_dir(tmp_path / "elsewhere" / "ttai_notebook") is None


def test_lab_runs_jupyter_lab_on_the_notebooks_and_passes_extra_args(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TTAI_TOKEN", raising=False)
    assert main(["lab", "--dry-run", "--port", "9999", "--no-browser"]) == 0
    out, err = capsys.readouterr()
    as_root = ["--allow-root"] if os.geteuid() == 0 else []  # Jupyter refuses to start as root without it
    assert out.split() == [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={REPO / 'notebooks'}",
                           "--LabApp.default_url=/lab/tree/01_quickstart.ipynb", *as_root, "--port", "9999",
                           "--no-browser"]
    assert "offline sandbox" in err


def test_lab_says_when_the_real_service_is_used(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTAI_TOKEN", TOKEN)
    assert main(["lab", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert "real Tough Tongue AI service" in err
    assert TOKEN not in out + err
    assert main(["lab", "--dry-run", "--sandbox"]) == 0
    assert "offline sandbox" in capsys.readouterr().err


def test_lab_with_no_notebooks_anywhere_fails_clearly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(cli, "find_notebooks_dir", lambda: None)  # neither a checkout nor a bundled copy
    assert main(["lab", "--dry-run"]) == 1
    assert "pass --notebooks DIR" in capsys.readouterr().err
    assert main(["lab", "--dry-run", "--notebooks", str(tmp_path / "nope")]) == 1
    assert f"no such folder: {tmp_path / 'nope'}" in capsys.readouterr().err


def test_notebooks_folder_in_site_packages_is_not_mistaken_for_a_checkout(tmp_path: Path) -> None:
    # Another distribution may install a top-level notebooks/ into site-packages: without pyproject.toml beside
    # it, that is not our checkout, and the bundled copy is used.
    package = tmp_path / "site-packages" / "ttai_notebook"
    (package / "_notebooks").mkdir(parents=True)
    (tmp_path / "site-packages" / "notebooks").mkdir()
    assert find_notebooks_dir(package) == package / "_notebooks"
    (tmp_path / "site-packages" / "pyproject.toml").write_text("")
    assert find_notebooks_dir(package) == tmp_path / "site-packages" / "notebooks"


def nb_bytes(text: str) -> bytes:
    return json.dumps(notebook(md(text))).encode()


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed package's bundled notebooks (site-packages/ttai_notebook/_notebooks); cwd is an empty home."""
    bundled = tmp_path / "site-packages" / "ttai_notebook" / "_notebooks"
    bundled.mkdir(parents=True)
    (bundled / "01_quickstart.ipynb").write_bytes(nb_bytes("# Quickstart v1"))
    (bundled / "04_score_analysis.ipynb").write_bytes(nb_bytes("# Analysis v1"))
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    monkeypatch.setattr(cli, "find_notebooks_dir", lambda: bundled)
    monkeypatch.delenv("TTAI_TOKEN", raising=False)
    return bundled


@pytest.fixture
def jupyter_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd, **kw: calls.append(cmd) or 0)
    return calls


def test_lab_from_an_installed_package_copies_the_notebooks_to_a_working_folder(
    installed: Path, jupyter_calls: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    work = Path.cwd() / "ttai-notebooks"
    assert main(["lab", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert f"--ServerApp.root_dir={work}" in out.split()
    assert "--LabApp.default_url=/lab/tree/01_quickstart.ipynb" in out.split()
    assert f"Would copy 2 notebooks to {work}: 01_quickstart.ipynb, 04_score_analysis.ipynb" in err
    assert not work.exists()  # a dry run writes nothing

    assert main(["lab"]) == 0
    err = capsys.readouterr().err
    assert f"Copied 2 notebooks to {work}" in err and "This is your working folder" in err
    assert jupyter_calls[0][4] == f"--ServerApp.root_dir={work}"  # Lab opens the copy, never site-packages
    for name in ("01_quickstart.ipynb", "04_score_analysis.ipynb"):
        assert (work / name).read_bytes() == (installed / name).read_bytes()

    assert main(["lab"]) == 0  # again: nothing to do, and it says so
    assert f"Your notebooks in {work} are up to date." in capsys.readouterr().err


def test_lab_never_overwrites_a_changed_notebook_and_refresh_keeps_it_aside(
    installed: Path, jupyter_calls: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    work = Path.cwd() / "ttai-notebooks"
    assert main(["lab"]) == 0
    mine = nb_bytes("# Quickstart with my notes")
    (work / "01_quickstart.ipynb").write_bytes(mine)
    # An upgrade ships new versions of both notebooks.
    (installed / "01_quickstart.ipynb").write_bytes(nb_bytes("# Quickstart v2"))
    (installed / "04_score_analysis.ipynb").write_bytes(nb_bytes("# Analysis v2"))
    capsys.readouterr()

    assert main(["lab"]) == 0
    err = capsys.readouterr().err
    assert "Updated 1 notebook you had not changed to this version: 04_score_analysis.ipynb" in err
    assert "Kept 1 notebook you changed (the bundled version differs): 01_quickstart.ipynb" in err
    assert "For a fresh copy: ttai-notebook lab --refresh 01_quickstart" in err
    assert (work / "01_quickstart.ipynb").read_bytes() == mine
    assert (work / "04_score_analysis.ipynb").read_bytes() == nb_bytes("# Analysis v2")

    assert main(["lab", "--refresh", "01_quickstart"]) == 0
    err = capsys.readouterr().err
    assert "Replaced 01_quickstart.ipynb with a fresh copy; yours is kept as 01_quickstart.mine.ipynb" in err
    assert (work / "01_quickstart.ipynb").read_bytes() == nb_bytes("# Quickstart v2")
    assert (work / "01_quickstart.mine.ipynb").read_bytes() == mine


def test_lab_notebooks_dir_and_rerun_from_inside_the_working_folder(
    installed: Path, jupyter_calls: list[list[str]], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = Path.cwd() / "elsewhere" / "mine"
    assert main(["lab", "--notebooks", "elsewhere/mine"]) == 0
    assert sorted(p.name for p in target.glob("*.ipynb")) == ["01_quickstart.ipynb", "04_score_analysis.ipynb"]
    assert jupyter_calls[-1][4] == f"--ServerApp.root_dir={target}"
    monkeypatch.chdir(target)  # `cd mine && ttai-notebook lab` reuses it, no mine/ttai-notebooks
    assert main(["lab"]) == 0
    assert jupyter_calls[-1][4] == f"--ServerApp.root_dir={target}"
    assert not (target / "ttai-notebooks").exists()
    assert "up to date" in capsys.readouterr().err


def test_lab_refresh_refusals(
    installed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["lab", "--dry-run", "--refresh", "07_nope"]) == 1
    assert "--refresh 07_nope: no such bundled notebook; choose from 01_quickstart, 04_score_analysis, or all" in (
        capsys.readouterr().err)
    monkeypatch.setattr(cli, "find_notebooks_dir", lambda: REPO / "notebooks")  # a checkout: no copies to refresh
    assert main(["lab", "--dry-run", "--refresh", "01_quickstart"]) == 1
    assert "restore a file there with git" in capsys.readouterr().err


def test_version_is_the_one_version_source(capsys: pytest.CaptureFixture[str]) -> None:
    import ttai_notebook
    from ttai_notebook._version import __version__

    assert ttai_notebook.__version__ == __version__
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*", __version__)
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"ttai-notebook {__version__}"


def test_lab_really_starts_jupyter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The command line is handed to a real `jupyter lab` (which only prints its version here).
    calls: list[list[str]] = []
    real_call = subprocess.call

    def call(cmd: list[str], **kwargs: object) -> int:
        calls.append(cmd)
        return real_call([*cmd, "--version"], stdout=subprocess.DEVNULL, **kwargs)

    monkeypatch.setattr(cli.subprocess, "call", call)
    assert main(["lab"]) == 0
    assert calls and calls[0][:4] == [sys.executable, "-m", "jupyter", "lab"]


# --------------------------------------------------------------------------------------------------------- sandbox


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_balance(base: str, proc: subprocess.Popen, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"sandbox exited early: {proc.communicate()}")
        try:
            return httpx.get(f"{base}/balance", headers={"Authorization": "Bearer sandbox"}, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the sandbox never answered")


@pytest.mark.parametrize("stop", ["sigint", "terminate"])
def test_sandbox_serves_balance_and_stops(stop: str) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttai_notebook.cli", "sandbox", "--port", str(port), "--seed", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CHILD_ENV,
    )
    try:
        response = wait_for_balance(f"http://127.0.0.1:{port}/api/public", proc)
        assert response.status_code == 200
        assert response.json()["available_minutes"] > 0
        if stop == "sigint":
            proc.send_signal(signal.SIGINT)
        else:
            proc.terminate()
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


# ---------------------------------------------------------------------------------------------------------- report


@pytest.mark.parametrize(
    ("teams", "since", "until", "threshold", "expected"),
    [
        (None, None, None, 70, {"teams": [], "since": None, "until": None, "threshold": 70}),
        ([" North ", "South"], "2026-01-01", "2026-01-01", 80.5,
         {"teams": ["North", "South"], "since": "2026-01-01", "until": "2026-01-01", "threshold": 80.5}),
    ],
)
def test_report_parameters_table(teams, since, until, threshold, expected) -> None:
    assert report_parameters(teams, since, until, threshold) == expected


@pytest.mark.parametrize(
    ("teams", "since", "until", "message"),
    [
        ([""], None, None, "empty"),
        (None, "2026-03-02", "2026-03-01", "after --until"),
    ],
)
def test_report_parameters_refused(teams, since, until, message) -> None:
    with pytest.raises(ValueError, match=message):
        report_parameters(teams, since, until, 70)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "March"], "is not a date; use YYYY-MM-DD"),
        (["--threshold", "101"], "outside 0–100"),
        (["--threshold", "high"], "is not a number"),
    ],
)
def test_report_bad_options_are_usage_errors(args, message, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["report", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_inject_parameters_after_the_tagged_cell_and_only_once() -> None:
    nb = notebook(md("# T"), code("team = None", "parameters"), code("print(team)"))
    once = inject_parameters(nb, {"teams": ["North"], "threshold": 75})
    twice = inject_parameters(once, {"teams": ["North"], "threshold": 75})
    assert once == twice
    sources = [c["source"] for c in once["cells"]]
    assert sources[2] == parameters_source({"teams": ["North"], "threshold": 75})
    assert once["cells"][2]["metadata"]["tags"] == ["injected-parameters"]
    assert len(nb["cells"]) == 3  # the input is not modified
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        inject_parameters(notebook(code("x = 1")), {})


PLOT_NOTEBOOK = notebook(
    md("# A report"),
    code("teams = []\nthreshold = 70", "parameters"),
    code("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.bar(['a'], [threshold])\n"
         "print('teams:', teams, 'pass mark:', threshold)"),
)


def test_report_runs_the_notebook_with_parameters_and_embeds_charts(tmp_path: Path) -> None:
    src = tmp_path / "r.ipynb"
    src.write_text(json.dumps(PLOT_NOTEBOOK))
    out = tmp_path / "deep" / "r.html"
    proc = run_cli("report", "--notebook", str(src), "--team", "North", "--threshold", "85", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert '<img src="data:image/png;base64,' in html
    assert "teams: [&#39;North&#39;] pass mark: 85" in html or "teams: ['North'] pass mark: 85" in html
    assert "import matplotlib" not in html  # inputs hidden
    assert '<img src="data:image/png;base64,' in html and 'alt="Chart: A report"' in html  # the section names it
    assert "1 charts" in proc.stderr and "offline sandbox" in proc.stderr
    assert json.loads(src.read_text()) == PLOT_NOTEBOOK  # the source notebook is untouched


def test_report_failure_exits_nonzero_with_the_error(tmp_path: Path) -> None:
    src = tmp_path / "bad.ipynb"
    src.write_text(json.dumps(notebook(code("threshold = 70", "parameters"), code("x = 1"),
                                       code("raise RuntimeError('no sessions in that range')"))))
    out = tmp_path / "bad.html"
    proc = run_cli("report", "--notebook", str(src), "-o", str(out), "-q")
    assert proc.returncode == 1
    assert ("the report failed in cell 3 (\"raise RuntimeError('no sessions in that range')\"): "
            "RuntimeError: no sessions in that range") in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_report_without_parameters_cell_or_notebook_fails_clearly(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "plain.ipynb"
    src.write_text(json.dumps(notebook(code("x = 1"))))
    assert main(["report", "--notebook", str(src), "-o", str(tmp_path / "x.html")]) == 1
    assert "no cell tagged 'parameters'" in capsys.readouterr().err
    assert main(["report", "--notebook", str(tmp_path / "missing.ipynb")]) == 1
    assert "no such notebook" in capsys.readouterr().err
    assert main(["report", "--since", "2026-02-01", "--until", "2026-01-01"]) == 1
    assert "after --until" in capsys.readouterr().err


@pytest.mark.slow
def test_report_renders_the_team_report(tmp_path: Path) -> None:
    assert (REPO / "notebooks" / "05_team_report.ipynb").is_file()
    out = tmp_path / "east.html"
    env = {**CHILD_ENV, "TTAI_TOKEN": TOKEN}  # --sandbox must hide it from the kernel
    proc = run_cli("report", "--team", "Enterprise East", "--since", "2026-02-01", "--until", "2026-04-30",
                   "--threshold", "75", "--sandbox", "-o", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert html.count('<img src="data:image/png;base64,') == 5
    date = r"(\d\d \w{3} \d{4})"
    headline = re.search(rf"<strong>Enterprise East</strong> · {date} – {date} · pass mark 75", html)
    assert headline, "the headline names the team, the period and the pass mark"
    first, last = (dt.datetime.strptime(d, "%d %b %Y").date() for d in headline.groups())
    assert dt.date(2026, 2, 1) <= first <= last <= dt.date(2026, 4, 30)
    assert "tt.connect()" not in html and "import ttai_notebook" not in html  # a document, not code
    assert "offline sandbox" in html  # it says where the data came from
    assert TOKEN not in html
    from ttai_notebook.audit import scan_text

    assert scan_text(html, [TOKEN]) == []


@pytest.mark.slow
def test_report_for_an_unknown_team_says_so(tmp_path: Path) -> None:
    proc = run_cli("report", "--team", "Nobody", "-q", "-o", str(tmp_path / "x.html"))
    assert proc.returncode == 1
    assert "No analysed sessions for Nobody between the start and now. Check the team names" in proc.stderr
    assert not (tmp_path / "x.html").exists()


# ----------------------------------------------------------------------------------------------------------- audit


def write_nb(path: Path, nb: dict) -> Path:
    path.write_text(json.dumps(nb))
    return path


def test_audit_finds_a_planted_token_in_outputs_and_widget_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaky = notebook(
        code("client.request('GET', '/x')", outputs=[
            {"output_type": "stream", "name": "stderr", "text": f"DEBUG Authorization: Bearer {TOKEN}\n"}]),
        metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {"version_major": 2, "version_minor": 0,
                  "state": {"a1b2c3d4e5f6": {"model_name": "AnyModel", "state": {
                      "url": f"https://app.toughtongueai.com/embed/s?scenarioAccessToken={TOKEN}"}}}}}},
    )
    path = write_nb(tmp_path / "leaky.ipynb", leaky)
    clean = write_nb(tmp_path / "clean.ipynb", notebook(code("1 + 1")))
    assert main(["audit", str(clean), str(path)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{path}:cell 1 output 1 (stderr) line 1: Bearer token: Bearer tt_l…[32 chars]",
        f"{path}:metadata.widgets model a1b2c3d4: embed URL carrying a scenario access token: "
        "scenarioAccessToken=tt_l…[32 chars]",
    ]
    assert TOKEN not in out + err
    assert "2 secret(s) in 2 notebook(s)" in err


def test_audit_searches_for_the_value_of_ttai_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "plain words are a token too"
    path = write_nb(tmp_path / "a.ipynb", notebook(code("x", outputs=[
        {"output_type": "execute_result", "execution_count": 1, "metadata": {},
         "data": {"text/plain": f"'{secret}'"}}])))
    monkeypatch.delenv("TTAI_TOKEN", raising=False)
    assert main(["audit", str(path)]) == 0
    monkeypatch.setenv("TTAI_TOKEN", secret)
    assert main(["audit", str(path)]) == 1
    assert main(["audit", "--no-env", str(path)]) == 0
    out, err = capsys.readouterr()
    assert secret not in out + err
    assert f"{path}:cell 1 output 1 (text/plain) line 1: the API token" in out


def test_audit_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{")
    assert main(["audit", str(bad), str(tmp_path / "missing.ipynb")]) == 2
    err = capsys.readouterr().err
    assert "bad.ipynb: cannot audit: " in err and "not a notebook" in err
    assert "missing.ipynb: cannot audit: No such file or directory" in err


def test_audit_passes_the_committed_notebooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TTAI_TOKEN", raising=False)
    assert sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb")), "no notebooks committed"
    proc = run_cli("audit", "notebooks")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no secrets found" in proc.stderr
