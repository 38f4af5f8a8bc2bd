"""``python -m ttai_notebook.sandbox``: arguments, and a real run on 127.0.0.1 stopped by SIGTERM."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from .helpers import local_client

from ttai_notebook.sandbox.__main__ import build_parser, main


def test_parser_defaults_and_options():
    args = build_parser().parse_args([])
    assert (args.port, args.seed, args.sessions, args.dialect, args.token, args.latency) == (8765, 0, None,
                                                                                           "documented", None, 0.0)
    args = build_parser().parse_args(["--port", "0", "--seed", "3", "--sessions", "100", "--dialect", "spec",
                                      "--token", "t", "--latency", "0.05", "--rate-429", "0.1",
                                      "--read-only-token", "r1", "--read-only-token", "r2", "--spec-routes-only"])
    assert (args.seed, args.sessions, args.dialect, args.rate_429) == (3, 100, "spec", 0.1)
    assert args.read_only_token == ["r1", "r2"] and args.spec_routes_only
    assert (args.profile, args.processing_time, args.background) == ("current", 1.5, "auto")
    args = build_parser().parse_args(["--profile", "brief", "--processing-time", "3", "--background", "manual"])
    assert (args.profile, args.processing_time, args.background) == ("brief", 3.0, "manual")


@pytest.mark.parametrize("argv", [["--rate-429", "2"], ["--latency", "-1"], ["--sessions", "100001"],
                                  ["--dialect", "openapi"], ["--profile", "v3"], ["--processing-time", "-1"],
                                  ["--background", "never"]])
def test_bad_arguments_exit_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_a_bad_combination_is_reported(capsys):
    assert main(["--port", "0", "--concurrency-cap", "0"]) == 2
    assert "concurrency_cap" in capsys.readouterr().err


def test_runs_serves_and_stops_without_printing_the_token():
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttai_notebook.sandbox", "--port", "0", "--dialect", "spec", "--token", "tok-SECRET-1",
         "--sessions", "50", "--background", "manual", "--processing-time", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        match = re.search(r"serving (http://127\.0\.0\.1:\d+/api/public)", first)
        assert match, first
        base = match.group(1)
        with local_client(base) as c:
            assert c.get("/balance").status_code == 401
            auth = {"authorization": "Bearer tok-SECRET-1"}
            assert c.get("/sessions", headers=auth).status_code == 404  # profile current: the v1 list is gone
            r = c.get("/v2/sessions", headers=auth, params={"$lte_created_at": "2026-05-14"})
            assert r.status_code == 200 and r.json()["page_meta"]["total"] > 40
            sid = next(s["id"] for s in r.json()["sessions"] if s["status"] == "completed")
            assert c.post(f"/v2/sessions/{sid}/post-process", headers=auth, json={"run_analysis": True}).json() == {
                "ok": True}
            assert c.get("/sandbox/counters", headers=auth).json()["pending_jobs"] == 1  # manual: nothing moves by itself
            done = c.post("/sandbox/advance", headers=auth, json={"seconds": 3}).json()
            assert done == {"advanced": 3.0, "jobs_done": 1, "pending_jobs": 0}
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "sandbox stopped." in out
    assert "tok-SECRET-1" not in first + out + err
