"""``python -m ttai_notebook.sandbox``: serve the sandbox over HTTP on 127.0.0.1 until interrupted."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from .background import BACKGROUND_MODES, DEFAULT_PROCESSING_TIME
from .core import Sandbox
from .demo_data import MAX_SESSIONS
from .wire import DIALECTS, PROFILES

__all__ = ["main", "build_parser"]


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 seconds, got {text}")
    return value


def _sessions(text: str) -> int:
    value = int(text)
    if not 0 <= value <= MAX_SESSIONS:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_SESSIONS}, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m ttai_notebook.sandbox``."""
    p = argparse.ArgumentParser(prog="python -m ttai_notebook.sandbox",
                                description="Serve the offline Tough Tongue AI sandbox on 127.0.0.1.")
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0 = any free port; default 8765)")
    p.add_argument("--seed", type=int, default=0, help="seed of the demo organisation (default 0)")
    p.add_argument("--sessions", type=_sessions, default=None, help="demo sessions (default 520, max 100000)")
    p.add_argument("--dialect", choices=DIALECTS, default="documented", help="response shapes (default documented)")
    p.add_argument("--profile", choices=PROFILES, default="current",
                   help="the service today (current, default) or as the product brief describes it (brief)")
    p.add_argument("--processing-time", type=_seconds, default=DEFAULT_PROCESSING_TIME,
                   help=f"seconds background analyses take (default {DEFAULT_PROCESSING_TIME:g}; 0 = immediate)")
    p.add_argument("--background", choices=BACKGROUND_MODES, default="auto",
                   help="background clock: auto (wall time, default) or manual (only POST /sandbox/advance moves it)")
    p.add_argument("--token", default=None, help="require this bearer token (default: accept any)")
    p.add_argument("--read-only-token", action="append", default=[], help="a token that may only read (repeatable)")
    p.add_argument("--spec-routes-only", action="store_true", help="refuse routes the vendor spec lacks (405)")
    p.add_argument("--latency", type=_seconds, default=0.0, help="seconds added to each request")
    p.add_argument("--jitter", type=_seconds, default=0.0, help="up to this many extra seconds")
    p.add_argument("--rate-429", type=_share, default=0.0, help="share of requests answered 429")
    p.add_argument("--retry-after", type=_seconds, default=1.0, help="Retry-After seconds on 429 (default 1)")
    p.add_argument("--rate-5xx", type=_share, default=0.0, help="share of requests answered 5xx")
    p.add_argument("--rate-drop", type=_share, default=0.0, help="share of requests executed, then dropped")
    p.add_argument("--concurrency-cap", type=int, default=None, help="answer 429 above this many in flight")
    p.add_argument("--max-body-bytes", type=int, default=1_000_000, help="413 above this body size")
    p.add_argument("--clock", choices=("demo", "real"), default="demo", help="timestamps for new objects")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server in the foreground; Ctrl-C (or SIGTERM) stops it."""
    args = build_parser().parse_args(argv)
    try:
        sandbox = Sandbox(seed=args.seed, dialect=args.dialect, sessions=args.sessions, token=args.token,
                          read_only_tokens=tuple(args.read_only_token), spec_routes_only=args.spec_routes_only,
                          latency=args.latency, jitter=args.jitter, rate_429=args.rate_429,
                          retry_after=args.retry_after, rate_5xx=args.rate_5xx, rate_drop=args.rate_drop,
                          concurrency_cap=args.concurrency_cap, max_body_bytes=args.max_body_bytes, clock=args.clock,
                          profile=args.profile, processing_time=args.processing_time, background=args.background)
        server = sandbox.serve(port=args.port)
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    size = sandbox.summary()
    # The token itself is never printed.
    auth = "bearer token required" if args.token else "any token accepted"
    print(f"Tough Tongue AI sandbox (offline, simulated) serving {server.base_url}\n"
          f"  dialect={args.dialect} profile={args.profile} processing_time={args.processing_time:g}s "
          f"background={args.background} seed={args.seed} scenarios={size['scenarios']} sessions={size['sessions']} "
          f"({auth})\n  Ctrl-C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    print("sandbox stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
