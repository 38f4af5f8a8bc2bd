"""Smoke test of ``bench/``: every benchmark runs at a tiny size so the code cannot rot. Timings are never
asserted (the machine is shared and noisy); only that each produces well-formed rows from real runs."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import __main__ as cli  # noqa: E402
from bench._util import Row, growth_exponent, interleaved, print_table  # noqa: E402


def _check(rows: list[Row], number: str) -> None:
    assert rows, "a benchmark returned no rows"
    for row in rows:
        assert row.number.startswith(number)
        assert row.figure not in ("", "error"), row.notes
        assert row.ok in (True, False, None)
        assert row.ratio is None or (math.isfinite(row.ratio) and row.ratio > 0)
    # the headline row has a target, a verdict and notes saying what was measured
    assert rows[0].ok is not None and rows[0].notes


_RUNS: dict[str, list[Row]] = {}


def _tiny(number: str) -> list[Row]:
    """Each benchmark's tiny run, once per test session."""
    if number not in _RUNS:
        _RUNS[number] = cli._module(number).run("tiny")
    return _RUNS[number]


@pytest.mark.parametrize("number", sorted(cli.BENCHMARKS))
def test_each_benchmark_runs_at_tiny_size(number: str) -> None:
    _check(_tiny(number), number)


def test_benchmark_1_counts_429s_and_never_loses_an_analysis() -> None:
    rows = _tiny("1")
    data = rows[0].data
    assert len(data["bulk16"]) == 1 and len(data["naive"]) == 1
    assert all(isinstance(n, int) and n >= 0 for n in data["429"])


def test_benchmark_1c_runs_through_post_process_and_counts_requests() -> None:
    (row,) = [r for r in _tiny("1") if r.number == "1c"]
    assert row.ok is not None and "post_process" in row.notes[-1]
    n = 24
    assert all(n <= r <= 2 * n for r in row.data["requests"])  # every trigger sent, polls batched


def test_benchmark_2_never_requests_more_pages_than_max_items_needs() -> None:
    rows = _tiny("2")
    assert rows[0].data["pages_for_max_items"] == 1  # 317 of 600 sessions at 500 per page


@pytest.mark.parametrize("number", cli.SCALING)
def test_scaling_studies_run_at_tiny_size(number: str) -> None:
    rows = cli._module(number).scaling("tiny")
    assert len(rows) == 3 and all(r.ok is None for r in rows)
    assert "growth exponent" in rows[-1].notes[0]


def test_main_prints_the_table_and_total_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rows.json"
    status = cli.main(["--size", "tiny", "--only", "4", "--quiet", "--json", str(out)])
    text = capsys.readouterr().out
    assert "| result" in text and "total wall time:" in text
    assert status in (0, 1)
    saved = json.loads(out.read_text())
    assert saved["rows"][0]["number"] == "4"


def test_main_refuses_an_unknown_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--only", "9"]) == 2
    assert "unknown benchmark 9" in capsys.readouterr().err


def test_growth_exponent_reads_linear_and_quadratic() -> None:
    sizes = [100, 400, 1600]
    assert growth_exponent(sizes, [s * 0.01 for s in sizes]) == pytest.approx(1.0)
    assert growth_exponent(sizes, [s * s * 1e-6 for s in sizes]) == pytest.approx(2.0)


def test_interleaved_alternates_contenders() -> None:
    order: list[str] = []
    times = interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, 3)
    assert order == ["a", "b"] * 3
    assert len(times["a"].samples) == 3


def test_table_has_one_line_per_row_and_the_notes() -> None:
    buf = io.StringIO()
    print_table([Row("9", "x", "1 s", "2 s", 0.5, "≤ 1×", True, ["a note"])], buf)
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("#") and "PASS" in lines[2] and "0.50×" in lines[2]
    assert lines[-1] == "  [9] a note"
