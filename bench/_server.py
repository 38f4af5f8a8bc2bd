"""The sandbox's real HTTP server in a child process, so that the client under test and the server do not
share one GIL (on a 2-core machine each gets a core). ``python -m bench._server`` is the child's side."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import httpx

__all__ = ["ServerProcess", "main"]


class ServerProcess:
    """A sandbox server on 127.0.0.1 in a child process; a context manager.

    Parameters
    ----------
    sessions : int, optional
        Size of the demo organisation.
    warm : bool
        Compute every demo session's transcript and analysis before serving (the sandbox builds them lazily
        on first read; without warming, the first listing pays for that and the server is the bottleneck).
    list_completed : int
        Report the ids of up to this many completed sessions at start-up (:attr:`completed_ids`), read from
        the child's state directly: listing them over HTTP would compute every analysis on the way.
    unanalysed : bool
        Clear the analysis of the sessions reported in :attr:`completed_ids`, so that each needs one (as
        sessions just finished do): ``analyze_many`` then triggers every one of them, without ``force``.
    profile : {"current", "brief"}
        The sandbox profile: today's service (post-process in the background) or the brief's (v1 routes,
        synchronous analyse).
    processing_time : float, optional
        Seconds a background analysis takes (profile "current"); default the sandbox's.
    **faults
        ``latency``, ``concurrency_cap``, ... as :class:`~ttai_notebook.sandbox.Sandbox` takes them.
    """

    def __init__(self, *, sessions: int | None = None, seed: int = 0, warm: bool = False,
                 list_completed: int = 0, unanalysed: bool = False, profile: str = "current",
                 processing_time: float | None = None, **faults: Any) -> None:
        self.options = {"sessions": sessions, "seed": seed, "warm": warm, "list_completed": list_completed,
                        "unanalysed": unanalysed, "profile": profile, "processing_time": processing_time,
                        "faults": faults}
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.startup: dict[str, Any] = {}
        self.completed_ids: list[str] = []

    def __enter__(self) -> ServerProcess:
        if self.proc is None:
            self.start()
        return self.wait_ready()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, *, wait: bool = True) -> ServerProcess:
        """Start the child; with ``wait``, also wait for its base URL (building and warming take seconds).

        ``wait=False`` returns at once, so the child can build and warm while other work runs; the first use
        of :attr:`base_url` (or :meth:`wait_ready`) then waits.
        """
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench._server", json.dumps(self.options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> ServerProcess:
        """Block until the child serves (idempotent)."""
        if self.startup:
            return self
        if self.proc is None or self.proc.stdout is None:
            raise RuntimeError("the server process was not started")
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait(timeout=10)
            raise RuntimeError(f"the benchmark sandbox server exited with status {code} before serving")
        self.startup = json.loads(line)
        self.base_url = self.startup["base_url"]
        self.completed_ids = self.startup["completed_ids"]
        return self

    def close(self) -> None:
        """Closing the child's stdin tells it to stop; it is killed if it does not within 10 s."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()

    # sandbox-only control routes (not part of the vendor API)
    def counters(self) -> dict[str, Any]:
        """The server's counters (``GET /sandbox/counters``)."""
        return httpx.get(self.base_url + "/sandbox/counters", timeout=30).json()["counters"]

    def reset(self) -> None:
        """Back to the seeded organisation, counters zeroed (``POST /sandbox/reset``)."""
        httpx.post(self.base_url + "/sandbox/reset", timeout=60).raise_for_status()



def main(argv: Sequence[str] | None = None) -> int:
    """Child side: build the sandbox, optionally warm it, serve, print one JSON line, wait for stdin EOF."""
    parser = argparse.ArgumentParser(prog="python -m bench._server")
    parser.add_argument("options", help="JSON: {sessions, seed, warm, list_completed, unanalysed, profile, "
                                        "processing_time, faults}")
    options = json.loads(parser.parse_args(argv).options)
    from ttai_notebook.sandbox import Sandbox

    started = time.perf_counter()
    extra: dict[str, Any] = {"profile": options.get("profile", "current")}
    if options.get("processing_time") is not None:
        extra["processing_time"] = options["processing_time"]
    sandbox = Sandbox(seed=options["seed"], sessions=options["sessions"], **extra, **options["faults"])
    built = time.perf_counter() - started
    if options["warm"]:
        # Reaches into the sandbox's state on purpose: results are computed once and cached per record.
        for record in list(sandbox.state.sessions.values()):
            record.results()
            record.get_transcript()
    warmed = time.perf_counter() - started - built
    records = [r for r in sandbox.state.sessions.values() if r.status == "completed"][: options["list_completed"]]
    if options.get("unanalysed"):
        # Reaches into the state on purpose: sessions just finished, not analysed yet (the demo has few).
        for record in records:
            record.analyzed, record.evaluation, record.improvement = False, None, None
    completed = [r.id for r in records]
    server = sandbox.serve(port=0)
    print(json.dumps({"base_url": server.base_url, "build_s": built, "warm_s": warmed, "pid": os.getpid(),
                      "completed_ids": completed}),
          flush=True)
    try:
        sys.stdin.read()  # EOF: the parent is done (or died)
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
