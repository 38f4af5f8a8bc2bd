"""``python -m bench``: run every benchmark against the sandbox's real HTTP server on 127.0.0.1 and print
one table of ratios measured in this run (``--scaling`` for the growth studies, ``--only 1,3`` to pick)."""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from ._util import Row, fmt_s, print_table

__all__ = ["main", "BENCHMARKS"]

#: number -> (title, module name). The default run executes them in SCHEDULE order.
BENCHMARKS = {
    "1": ("analyze_many vs the limit and the naive loop; 1c through post-process", "b1_analyze_many"),
    "2": ("list 20 000 sessions into models", "b2_list_sessions"),
    "3": ("sessions_frame + report_card_frame", "b3_frames"),
    "4": ("import ttai_notebook", "b4_import"),
    "5": ("execute the curated notebooks", "b5_notebooks"),
    "6": ("sandbox server throughput", "b6_server"),
    "7": ("Store write + read back", "b7_store"),
    "8": ("store.sync after 1% changed vs a full listing", "b8_sync"),
}
# Benchmark 2's server builds and warms 20 000 sessions (~15 s of one core) while 4, 3 and 7 run on the other:
# those three are ratios of alternated runs, so both of their sides see the same neighbour.
SCHEDULE = ("4", "3", "7", "2", "1", "6", "5", "8")
SCALING = ("1", "3")
BUDGET = 180.0


def _module(number: str) -> Any:
    import importlib

    return importlib.import_module(f"bench.{BENCHMARKS[number][1]}")


def _guarded(number: str, fn: Callable[[], list[Row]]) -> list[Row]:
    """A benchmark that crashes becomes a FAIL row with the error; the others still run."""
    try:
        return fn()
    except Exception as exc:  # reported in the table, with the traceback on stderr
        traceback.print_exc()
        return [Row(number, BENCHMARKS[number][0], "error", "—", None, "—", False, [f"{type(exc).__name__}: {exc}"])]


def run(numbers: Sequence[str], size: str, *, progress: Callable[[str], None]) -> list[Row]:
    """The default benchmarks in ``numbers`` (in schedule order)."""
    rows: list[Row] = []
    wanted = [n for n in SCHEDULE if n in numbers]
    server2 = _module("2").prepare(size) if "2" in wanted else None
    try:
        for number in wanted:
            progress(f"[{number}] {BENCHMARKS[number][0]} ...")
            started = time.perf_counter()
            module = _module(number)
            if number == "2":
                got = _guarded(number, lambda m=module: m.run(size, server=server2))
            else:
                got = _guarded(number, lambda m=module: m.run(size))
            progress(f"[{number}] done in {fmt_s(time.perf_counter() - started)}: "
                     + ", ".join(f"{r.number} {r.verdict}" for r in got))
            rows += got
    finally:
        if server2 is not None:
            server2.close()
    return sorted(rows, key=lambda r: (r.number.rstrip("b"), r.number))


def run_scaling(numbers: Sequence[str], size: str, *, progress: Callable[[str], None]) -> list[Row]:
    """The growth studies (benchmark 1 at 100/400/1600 sessions, 3 at 2 000/20 000/200 000)."""
    rows: list[Row] = []
    for number in SCALING:
        if number in numbers:
            progress(f"[scaling {number}] ...")
            rows += _guarded(number, lambda n=number: _module(n).scaling(size))
    return rows


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--scaling", action="store_true",
                   help="run the growth studies (1 at 100/400/1600 sessions, 3 at 2k/20k/200k) instead")
    p.add_argument("--only", default="", help="comma-separated benchmark numbers, e.g. 1,3 (default: all)")
    p.add_argument("--size", choices=("full", "tiny"), default="full",
                   help="tiny: a smoke run in seconds (figures meaningless)")
    p.add_argument("--json", metavar="PATH", help="also write the rows (with raw samples) as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the table and the total wall time; exit status 1 if any target failed."""
    args = build_parser().parse_args(argv)
    numbers = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in numbers if n not in BENCHMARKS]
    if unknown:
        print(f"error: unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2

    def progress(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    runner = run_scaling if args.scaling else run
    rows = runner(numbers, args.size, progress=progress)
    total = time.perf_counter() - started
    out = sys.stdout
    out.write(f"\nttai_notebook benchmarks ({'scaling' if args.scaling else 'default'}, size={args.size}); "
              "every ratio is measured in this run against its baseline or limit\n\n")
    print_table(rows, out)
    over = "" if args.scaling or args.size != "full" or total <= BUDGET else f"  (over the {BUDGET:.0f} s budget)"
    out.write(f"\ntotal wall time: {total:.1f} s{over}\n")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"total_s": total, "rows": [r.__dict__ for r in rows]}, fh, indent=1, default=str)
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
