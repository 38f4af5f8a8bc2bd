"""G4 secrets (notebooks): every notebook runs with ``TTAI_TOKEN`` set to a unique fake token against the served
sandbox that requires exactly that token (``TTAI_BASE_URL``); then ``ttai-notebook audit`` and a raw byte search
find 0 occurrences in sources, outputs and ``metadata.widgets``. A planted leak is found by both, so the checks
can fail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from ttai_notebook.sandbox import Sandbox

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CLI = [sys.executable, "-m", "ttai_notebook.cli"]


def _areas(nb: dict, needle: str) -> dict[str, int]:
    """Occurrences of ``needle`` by area of a notebook's JSON."""
    def count(value: object) -> int:
        return json.dumps(value, ensure_ascii=False).count(needle)

    cells = nb.get("cells", [])
    metadata = dict(nb.get("metadata", {}))
    widgets = metadata.pop("widgets", None)
    return {
        "sources": sum(count(c.get("source", "")) for c in cells),
        "outputs": sum(count(c.get("outputs", [])) for c in cells),
        "cell metadata": sum(count(c.get("metadata", {})) for c in cells),
        "metadata.widgets": count(widgets) if widgets is not None else 0,
        "metadata": count(metadata),
    }


@pytest.mark.slow
def test_notebooks_with_a_token_leak_nothing(tmp_path, fake_token, figures) -> None:
    pytest.importorskip("nbconvert")
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        pytest.skip("notebooks/ has no notebooks yet")
    work = tmp_path / "notebooks"
    work.mkdir()
    for path in paths:  # run copies: outputs (CSV, SQLite) land in the temp folder, not the checkout
        shutil.copy(path, work / path.name)

    boxes = {p.name: Sandbox(seed=0, token=fake_token) for p in paths}  # one per notebook: no cross-talk
    servers = {name: box.serve() for name, box in boxes.items()}
    timings: dict[str, float] = {}

    def run(path: Path) -> None:
        # nbconvert in its own process (as a user would run it): the kernel inherits this environment.
        # Cells take ≤ 3 s; 40 s bounds the intermittent headless stall of notebook 04's dashboard cell (an
        # Output widget written during the cell: nbclient waits out the full cell timeout in ~1 of 5 runs).
        env = dict(os.environ, TTAI_TOKEN=fake_token, TTAI_BASE_URL=servers[path.name].base_url,
                   MPLBACKEND="module://matplotlib_inline.backend_inline")
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
             "--ExecutePreprocessor.timeout=40", "--ExecutePreprocessor.kernel_name=python3", path.name],
            cwd=work, env=env, capture_output=True, text=True, timeout=300)
        timings[path.name] = round(time.perf_counter() - started, 1)
        assert done.returncode == 0, f"{path.name} failed:\n{done.stderr[-3000:]}"
        assert fake_token not in done.stdout + done.stderr

    try:
        with ThreadPoolExecutor(max_workers=len(paths)) as pool:
            list(pool.map(run, paths))
    finally:
        for server in servers.values():
            server.close()

    # The notebooks really used the token against the server (else the search proves little).
    answered = {name: box.counters.responses[200] for name, box in boxes.items()}
    assert all(n > 0 for n in answered.values()), answered
    assert sum(box.counters.responses[401] for box in boxes.values()) == 0
    assert any("widgets" in json.loads((work / p.name).read_text()).get("metadata", {}) for p in paths), \
        "no executed notebook saved widget state: metadata.widgets would not be tested"

    # Raw byte search, and by area, for the token and a fragment of it.
    fragment = fake_token[8:28]
    raw_hits = {p.name: (work / p.name).read_bytes().count(fake_token.encode())
                + (work / p.name).read_bytes().count(fragment.encode()) for p in paths}
    by_area: dict[str, int] = {}
    for p in paths:
        nb = json.loads((work / p.name).read_text(encoding="utf-8"))
        for area, n in _areas(nb, fake_token).items():
            by_area[area] = by_area.get(area, 0) + n
    assert raw_hits == {p.name: 0 for p in paths}, raw_hits
    assert set(by_area.values()) == {0}, by_area

    # ttai-notebook audit, with TTAI_TOKEN in its environment so it searches for the value too.
    audit_env = dict(os.environ, TTAI_TOKEN=fake_token)
    audit = subprocess.run([*CLI, "audit", str(work)], capture_output=True, text=True, env=audit_env, timeout=60)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert f"{len(paths)} notebook(s) checked: no secrets found" in audit.stderr

    # Control: a planted leak in an output and in the widget state is found by both checks.
    planted = work / "planted" / paths[0].name
    planted.parent.mkdir()
    nb = json.loads((work / paths[0].name).read_text(encoding="utf-8"))
    nb["cells"][0].setdefault("outputs", []).append(
        {"output_type": "stream", "name": "stdout", "text": f"debug: token={fake_token}\n"})
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {"m1": {"state": {"value": fake_token}}}, "version_major": 2, "version_minor": 0}}
    planted.write_text(json.dumps(nb), encoding="utf-8")
    caught = subprocess.run([*CLI, "audit", str(planted)], capture_output=True, text=True, env=audit_env, timeout=60)
    assert caught.returncode == 1 and caught.stdout.count("\n") >= 2, caught.stdout + caught.stderr
    assert fake_token not in caught.stdout + caught.stderr, "the audit must not print the secret it found"
    assert planted.read_bytes().count(fake_token.encode()) == 2

    figures("G4 secrets", notebooks=len(paths), notebook_requests=sum(answered.values()),
            notebook_occurrences=sum(raw_hits.values()) + sum(by_area.values()),
            audit_findings=0, planted_leaks_found=2, **{f"run_{k[:2]}_s": v for k, v in sorted(timings.items())})


def test_a_client_on_the_served_sandbox_knows_it_is_a_sandbox(fake_token) -> None:
    """The notebooks branch on ``client.is_sandbox`` (e.g. to finish a simulated session): through
    TTAI_BASE_URL a served sandbox must count as one, once it has answered."""
    import ttai_notebook as tt

    with Sandbox(token=fake_token).serve() as server, tt.Client(token=fake_token, base_url=server.base_url) as client:
        client.balance()
        assert client.is_sandbox
    nginx = httpx.MockTransport(lambda r: httpx.Response(200, json={}, headers={"server": "nginx"}))
    with tt.Client(token=fake_token, base_url="https://api.example.test/api/public", transport=nginx) as other:
        other.balance()
        assert not other.is_sandbox
