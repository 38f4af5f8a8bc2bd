"""Benchmark 4: the cost of ``python -c "import ttai_notebook"`` as a whole process, against
``python -c "import httpx"``, and which heavy libraries the import pulls in (it must pull in none)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ._util import Row, fmt_s, interleaved

__all__ = ["run", "HEAVY"]

#: Must not be imported by ``import ttai_notebook``.
HEAVY = ("pandas", "matplotlib", "ipywidgets", "anywidget", "numpy")
TARGET = 1.5

_PROBE = (
    "import sys, json, ttai_notebook; "
    f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))))"
)


def _python(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(), stdout=subprocess.DEVNULL)


def _env() -> dict[str, str]:
    # No user site, no bytecode writing: both processes start alike (caches were warmed by a first run).
    return dict(os.environ, PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1")


def run(size: str = "full") -> list[Row]:
    """Median whole-process time of each import, alternated, plus the heavy-module check."""
    repeat = 7 if size == "full" else 1
    contenders = {
        "ttai_notebook": lambda: _python("import ttai_notebook"),
        "httpx": lambda: _python("import httpx"),
        "client": lambda: _python("import ttai_notebook as tt; tt.Client"),
        "bare": lambda: _python("pass"),
    }
    times = interleaved(contenders, repeat, warmup=1)
    heavy = json.loads(
        subprocess.run([sys.executable, "-c", _PROBE], check=True, env=_env(), capture_output=True, text=True).stdout
    )
    ours, base = times["ttai_notebook"].median, times["httpx"].median
    ratio = ours / base
    bare = times["bare"].median
    notes = [
        f"medians of {repeat} alternated runs: bare interpreter {fmt_s(bare)}, import httpx {fmt_s(base)}, "
        f"import ttai_notebook {fmt_s(ours)}, import ttai_notebook + first use of tt.Client "
        f"{fmt_s(times['client'].median)} ({times['client'].median / base:.2f}× httpx)",
        "heavy modules imported: " + (", ".join(heavy) if heavy else f"none of {', '.join(HEAVY)}"),
    ]
    return [
        Row(
            "4",
            'python -c "import ttai_notebook"',
            fmt_s(ours),
            f"import httpx {fmt_s(base)}",
            ratio,
            f"≤ {TARGET}×; no pandas/matplotlib/ipywidgets",
            ratio <= TARGET and not ({"pandas", "matplotlib", "ipywidgets"} & set(heavy)),
            notes,
            {"heavy": heavy},
        )
    ]
