"""Binder without Docker: the binder/ files are consistent with the package, and a fresh virtualenv built from
them exactly as repo2docker would (requirements.txt, then postBuild from the repository root) runs every notebook."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BINDER = REPO / "binder"
NOTEBOOKS = ("01_quickstart", "02_build_a_scenario", "03_practice_in_the_notebook", "04_score_analysis",
             "05_team_report")


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _requirements() -> dict[str, str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return {_name(line): line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")}


# ------------------------------------------------------------------------------------------------ static checks


def test_runtime_is_python_311() -> None:
    # repo2docker's default is 3.10; the package's pins (pandas 3) need 3.11.
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"


def test_no_environment_yml_shadowing_requirements() -> None:
    # With an environment.yml present, repo2docker silently ignores requirements.txt.
    assert not (BINDER / "environment.yml").exists()
    assert not (REPO / "environment.yml").exists()


def test_requirements_cover_the_package_and_its_lab_extra() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    needed = {_name(r) for r in project["dependencies"]} | {_name(r) for r in project["optional-dependencies"]["lab"]}
    reqs = _requirements()
    assert needed - set(reqs) == set(), "binder/requirements.txt misses these"
    unpinned = [line for line in reqs.values() if "==" not in line]
    assert unpinned == [], "Binder images are rebuilt months later: pin exact versions"


def test_post_build_installs_the_checkout() -> None:
    post = BINDER / "postBuild"
    text = post.read_text()
    assert text.startswith("#!/bin/bash\n")
    assert "set -euo pipefail" in text
    assert re.search(r"^python -m pip install .*-e \.$", text, re.M), "postBuild must install the package itself"
    assert os.access(post, os.X_OK), "repo2docker runs postBuild directly: it must be executable"


# ---------------------------------------------------------------------------------------------- the real thing


def _uv() -> str | None:
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else shutil.which("uv")


_RUNNER = r"""
import json, os, sys, time
import nbformat
from nbclient import NotebookClient

timings = {}
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    # A finite timeout matters: nbclient can sit on a reply it already has until the timeout when a cell writes
    # into an ipywidgets Output (jupyter/nbclient#312), and with no timeout it never returns.
    NotebookClient(nb, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    timings[os.path.basename(path)] = round(time.perf_counter() - started, 1)
    if os.path.basename(path) == "probe.ipynb":
        timings["probe"] = "".join(o.get("text", "") for o in nb.cells[0].outputs)
print(json.dumps(timings))
"""


@pytest.mark.slow
def test_binder_environment_runs_every_notebook(tmp_path: Path) -> None:
    missing = [n for n in NOTEBOOKS if not (REPO / "notebooks" / f"{n}.ipynb").is_file()]
    assert not missing, f"notebooks missing: {missing}"

    # A copy of the checkout without its venv or caches: postBuild must work from the files alone.
    repo = tmp_path / "repo"
    shutil.copytree(
        REPO,
        repo,
        ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", ".pytest_cache", ".hypothesis", "output",
                                      "test-artifacts", "*.egg-info", ".ipynb_checkpoints", "*.sqlite*"),
    )
    venv = tmp_path / "venv"
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("TTAI_TOKEN", "TTAI_BASE_URL", "PYTHONPATH")}
    env.update(
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
        IPYTHONDIR=str(tmp_path / "ipython"),
        MPLCONFIGDIR=str(tmp_path / "mpl"),
    )
    env.pop("JUPYTER_PATH", None)

    def run(*cmd: str | Path) -> str:
        proc = subprocess.run([str(c) for c in cmd], cwd=repo, env=env, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, f"{cmd[:3]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout

    started = time.perf_counter()
    uv = _uv()
    if uv:  # uv: seconds; pip: half a minute
        run(uv, "venv", "--quiet", "--seed", "--python", sys.executable, venv)
        run(uv, "pip", "install", "--quiet", "--python", py, "-r", repo / "binder" / "requirements.txt")
    else:
        run(sys.executable, "-m", "venv", venv)
        run(py, "-m", "pip", "install", "--quiet", "-r", repo / "binder" / "requirements.txt")
    run("bash", repo / "binder" / "postBuild")
    installed = time.perf_counter() - started

    probe = repo / "notebooks" / "probe.ipynb"
    probe.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "id": "probe", "metadata": {}, "execution_count": None, "outputs": [],
                   "source": "import sys, ttai_notebook\nprint(sys.prefix)\nprint(ttai_notebook.__file__)"}],
    }))
    paths = [probe] + [repo / "notebooks" / f"{n}.ipynb" for n in NOTEBOOKS]
    timings = json.loads(run(py, "-c", _RUNNER, *paths).strip().splitlines()[-1])

    # The kernel ran in the Binder venv and imported the checkout installed by postBuild.
    prefix, module = timings.pop("probe").split()
    assert Path(prefix) == venv
    assert Path(module) == repo / "ttai_notebook" / "__init__.py"
    timings.pop("probe.ipynb")
    print(f"\nbinder venv built in {installed:.1f} s; notebooks (s): {timings}")
    assert set(timings) == {f"{n}.ipynb" for n in NOTEBOOKS}
