"""(c) EmbeddedSession ignores postMessages from a foreign origin or from a frame that is not its own.

A local page (127.0.0.1, its own origin) plays the vendor iframe. Two widgets show it: ``good`` allows that
origin, ``bad`` allows only the vendor's. Forged messages come from the notebook window itself, from an extra
frame on the allowed origin, and from a same-origin srcdoc frame. Only ``good``'s own frame gets through —
including an identical repeated event, which must arrive twice.
"""

from __future__ import annotations

import http.server
import pathlib
import statistics
import threading
from collections.abc import Iterator

import pytest

from .conftest import open_notebook, read_json_when, run_all_cells, screenshot, wait_idle

pytestmark = pytest.mark.browser

FRAME_PAGE = """<!doctype html>
<html><body style="font:14px sans-serif;margin:8px">
<b>Stand-in for the vendor iframe</b> <button id="stop">Stop</button>
<script>
const sid = new URLSearchParams(location.search).get("sid");
const start = {event: "onStart", sessionId: sid, timestamp: Date.now()};
parent.postMessage(start, "*");
parent.postMessage(start, "*");  // identical repeat: must not be lost
document.getElementById("stop").onclick = () =>
  parent.postMessage({type: "onStop", data: {session_id: sid, timestamp: Date.now()}}, "*");
</script></body></html>
"""


@pytest.fixture(scope="module")
def frame_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("frame")
    (root / "frame.html").write_text(FRAME_PAGE)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_foreign_origin_and_other_frames_are_ignored(page, lab, out_dir: pathlib.Path, frame_server: str, artifacts) -> None:
    out = out_dir / "events.json"
    url = f"{frame_server}/frame.html"
    nb = lab.write_notebook(
        "origin_filter",
        [
            "import json, pathlib\n"
            "from ttai_notebook.widgets import EmbeddedSession\n"
            f"OUT = pathlib.Path({str(out)!r})\n"
            f"good = EmbeddedSession({url + '?sid=good'!r}, allowed_origins=[{frame_server!r}], height=120)\n"
            f"bad = EmbeddedSession({url + '?sid=bad'!r}, height=120)  # vendor origin only\n"
            "def dump(_event=None):\n"
            "    OUT.write_text(json.dumps({'good': good.events, 'bad': bad.events,\n"
            "                               'good_status': good.status, 'bad_status': bad.status}))\n"
            "good.on('any', dump)\n"
            "bad.on('any', dump)\n"
            "dump()\n"
            "display(good, bad)",
        ],
    )
    open_notebook(page, lab, nb)
    run_all_cells(page)
    wait_idle(page)
    frames = page.locator("iframe.ttai-embed-frame")
    frames.nth(1).wait_for(timeout=30_000)
    good_frame = page.frame_locator("iframe.ttai-embed-frame").nth(0)
    bad_frame = page.frame_locator("iframe.ttai-embed-frame").nth(1)
    good_frame.locator("#stop").wait_for(timeout=30_000)
    bad_frame.locator("#stop").wait_for(timeout=30_000)

    # Forgeries: the notebook window itself, a second frame on the allowed origin, a same-origin srcdoc frame.
    page.evaluate(
        """async (url) => {
            window.postMessage({event: 'onStart', sessionId: 'forged-top', timestamp: Date.now()}, '*');
            const loaded = (frame) => new Promise((resolve) => frame.addEventListener('load', resolve));
            const other = document.createElement('iframe');
            other.src = url + '?sid=forged-frame';
            const waitOther = loaded(other);
            document.body.appendChild(other);
            await waitOther;
            const local = document.createElement('iframe');
            local.srcdoc = "<script>parent.postMessage({event:'onStop', sessionId:'forged-srcdoc', timestamp: Date.now()}, '*')<\\/script>";
            const waitLocal = loaded(local);
            document.body.appendChild(local);
            await waitLocal;
            await new Promise((resolve) => setTimeout(resolve, 300));
        }""",
        url,
    )
    bad_frame.locator("#stop").click()  # right frame, wrong origin for `bad`
    good_frame.locator("#stop").click()  # the positive control, sent last

    state = read_json_when(out, lambda d: d["good_status"] == "stopped")
    page.wait_for_timeout(500)  # anything still in flight would arrive now
    state = read_json_when(out, lambda d: True)

    good = state["good"]
    assert [e["name"] for e in good] == ["onStart", "onStart", "onStop"]  # the identical repeat kept
    assert good[0]["data"] == good[1]["data"]
    assert {e["session_id"] for e in good} == {"good"}
    assert all(e["origin"] == frame_server and e["via"] == "iframe" for e in good)
    assert state["bad"] == [] and state["bad_status"] == "ready"
    assert "forged" not in out.read_text()

    latencies = [e["latency_ms"] for e in good if e["latency_ms"] is not None]
    print(f"\n[latency] iframe postMessage → kernel, local page: {[round(x, 1) for x in latencies]} ms "
          f"(median {statistics.median(latencies):.1f} ms)")
    assert all(0 <= x < 5000 for x in latencies)

    # Both widgets offer "Open in a new tab" with the frame's URL.
    links = page.locator("a.ttai-embed-open")
    assert links.count() == 2 and links.nth(0).get_attribute("href") == url + "?sid=good"
    shot = screenshot(page, artifacts, "c_origin_filter", page.locator(".jp-OutputArea").first)
    assert shot.stat().st_size > 5_000
    assert page.dialogs == []
