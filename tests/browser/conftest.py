"""Browser-test plumbing: one JupyterLab server for the session, Debian Chromium driven by Playwright.

Follows TESTING.md: ``jupyter lab`` on 127.0.0.1 with its config/runtime/settings dirs in a temp folder,
Chromium at ``/usr/bin/chromium`` (never ``playwright install``). Notebooks are written into a temp dir; the
kernel reports what it saw by writing JSON files the test reads. In CI (env ``CI`` set) a missing Chromium
is a failure, not a skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import nbformat
import pytest

CHROMIUM = os.environ.get("TTAI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts"


def _require_chromium() -> None:
    if pathlib.Path(CHROMIUM).exists():
        return
    message = f"Chromium not found at {CHROMIUM} (apt-get install chromium); browser tests cannot run."
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """A running JupyterLab server (token-protected, 127.0.0.1 only)."""

    def __init__(self, root: pathlib.Path, port: int, token: str, proc: subprocess.Popen, log: pathlib.Path) -> None:
        self.root = root
        self.port = port
        self.token = token
        self.proc = proc
        self.log = log
        self.url = f"http://127.0.0.1:{port}"

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", params={"token": self.token}, timeout=30, **kwargs)

    def shutdown_kernels(self) -> None:
        with contextlib.suppress(httpx.HTTPError):
            for session in self.api("GET", "/api/sessions").json():
                self.api("DELETE", f"/api/sessions/{session['id']}")

    def write_notebook(self, name: str, cells: list[str]) -> str:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        nbformat.write(nb, self.root / f"{name}.ipynb")
        return f"{name}.ipynb"


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One JupyterLab server for every browser test (started once, stopped by its PID)."""
    _require_chromium()
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    root.mkdir()
    env = dict(os.environ)
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
    ):
        (base / sub).mkdir()
        env[var] = str(base / sub)
    settings = base / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env.pop("TTAI_TOKEN", None)  # kernels must never see a real token in tests
    env["PYTHONUNBUFFERED"] = "1"
    port, token = _free_port(), secrets.token_hex(16)
    log = base / "jupyter.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
                "--allow-root",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Lab(root, port, token, proc, log)
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if server.api("GET", "/api/status").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter lab did not answer within 90 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield server
    finally:
        server.shutdown_kernels()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="package")
def browser(lab: Lab) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page(browser: Any, lab: Lab) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1800})
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]

    def on_dialog(dialog: Any) -> None:
        pg.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    try:
        yield pg
    finally:
        context.close()
        lab.shutdown_kernels()


@pytest.fixture()
def out_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    """Where the kernel writes what it observed (JSON files), read back by the test."""
    return tmp_path


@pytest.fixture(scope="session")
def artifacts() -> pathlib.Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def open_notebook(page: Any, lab: Lab, name: str) -> None:
    page.goto(f"{lab.url}/lab/tree/{name}?token={lab.token}&reset", wait_until="domcontentloaded")
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)


def run_all_cells(page: Any) -> None:
    """Run > Run All Cells, retried if the click is swallowed (TESTING.md)."""
    from playwright.sync_api import TimeoutError as PWTimeout

    prompt = page.locator(".jp-InputPrompt").filter(has_text=re.compile(r"\[(\*|\d+)\]"))
    for _attempt in range(4):
        page.locator("#jp-menu-panel .lm-MenuBar-itemLabel, .lm-MenuBar-itemLabel").filter(
            has_text=re.compile(r"^Run$")
        ).first.click()
        page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).first.click()
        try:
            prompt.first.wait_for(timeout=10_000)
            return
        except PWTimeout:
            page.keyboard.press("Escape")
    raise AssertionError("Run All Cells never started a cell")


def wait_idle(page: Any, timeout: float = 90_000) -> None:
    """Wait until no cell shows ``[*]``."""
    page.wait_for_function(
        """() => ![...document.querySelectorAll('.jp-InputPrompt')].some(e => e.textContent.includes('[*]'))""",
        timeout=timeout,
    )


def read_json_when(path: pathlib.Path, ready: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    """Poll a JSON file the kernel writes until ``ready(data)`` holds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if path.exists():
            with contextlib.suppress(json.JSONDecodeError, OSError):
                last = json.loads(path.read_text())
                if ready(last):
                    return last
        time.sleep(0.1)
    raise AssertionError(f"{path.name} never reached the expected state; last content: {last!r}")


def cell_errors(page: Any) -> list[str]:
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()


def screenshot(page: Any, artifacts: pathlib.Path, name: str, locator: Any = None) -> pathlib.Path:
    path = artifacts / f"{name}.png"
    if locator is not None:
        locator.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=False)
    return path


@pytest.fixture(autouse=True)
def _copy_lab_log_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "lab" in request.fixturenames:
        lab_server = request.getfixturevalue("lab")
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(lab_server.log, ARTIFACTS / "jupyter-lab.log")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture()
def served_sandbox() -> Iterator[tuple[Any, str]]:
    """A fresh sandbox served on 127.0.0.1: the notebook's kernel talks to it over HTTP, the test inspects it."""
    from ttai_notebook.sandbox import Sandbox

    box = Sandbox(seed=0)
    server = box.serve(port=0)
    try:
        yield box, server.base_url
    finally:
        server.close()


def client_cell(base_url: str) -> str:
    """Notebook code for a client on the served sandbox (no real token anywhere)."""
    return (
        "import json, pathlib\n"
        "import ttai_notebook as tt\n"
        f"client = tt.Client(token='sandbox', base_url={base_url!r}, max_retries=0)\n"
    )
