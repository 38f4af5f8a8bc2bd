"""Benchmark 7: ``Store`` write of 10 000 analyses and read back to a frame, against persisting the same
analyses with ``DataFrame.to_sql`` and reading them back with ``pd.read_sql`` (same SQLite, same disk)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import time
from contextlib import closing
from itertools import count
from typing import Any

from ._data import session_dicts
from ._util import Row, fmt_s, interleaved

__all__ = ["run", "pandas_roundtrip", "store_roundtrip"]

SIZES = {"full": 10_000, "tiny": 200}
TARGET = 1.0


def _analyses(n: int) -> dict[str, Any]:
    """``n`` analyses keyed by session id, as ``analyze_many`` returns them (models)."""
    from ttai_notebook.models import Session

    out: dict[str, Any] = {}
    for item in session_dicts(int(n * 1.25) + 50):
        if item.get("evaluation_results"):
            session = Session.from_api(item)
            out[session.id] = session.analysis
            if len(out) == n:
                return out
    raise RuntimeError("not enough analysed sessions in the benchmark data")


def store_roundtrip(path: str, analyses: dict[str, Any]) -> tuple[Any, dict[str, float]]:
    """The toolkit: ``Store.put_analyses`` then ``store.sessions_frame()``."""
    import ttai_notebook as tt

    with tt.Store(path) as store:
        t0 = time.perf_counter()
        written = store.put_analyses(analyses)
        t1 = time.perf_counter()
        frame = store.sessions_frame()
        t2 = time.perf_counter()
    if written != len(analyses) or len(frame) != len(analyses):
        raise RuntimeError(f"store wrote {written} and read back {len(frame)} of {len(analyses)} analyses")
    return frame, {"write": t1 - t0, "read": t2 - t1}


def pandas_roundtrip(path: str, analyses: dict[str, Any]) -> tuple[Any, dict[str, float]]:
    """The obvious pandas code: flatten the service's JSON of each analysis, JSON-encode the nested columns
    (SQLite cannot hold lists), ``to_sql``; then ``read_sql`` back."""
    import pandas as pd

    t0 = time.perf_counter()
    df = pd.json_normalize([dict(a.raw, session_id=sid) for sid, a in analyses.items()])
    for column in df.columns:
        if df[column].map(lambda v: isinstance(v, (list, dict))).any():
            df[column] = df[column].map(json.dumps)
    return _to_sql_and_back(path, df, t0)


def prebuilt_rows_roundtrip(path: str, rows: Any) -> tuple[Any, dict[str, float]]:
    """The I/O floor: the store's own encoded rows, already in a DataFrame, through ``to_sql``/``read_sql``."""
    return _to_sql_and_back(path, rows, time.perf_counter())


def _to_sql_and_back(path: str, df: Any, t0: float) -> tuple[Any, dict[str, float]]:
    """``df.to_sql`` into ``path``, then ``read_sql`` it back; times from ``t0`` (when preparing ``df`` began).

    ``closing``: a sqlite3 connection used as a context manager commits but is not closed.
    """
    import pandas as pd

    with closing(sqlite3.connect(path)) as conn, conn:
        df.to_sql("analyses", conn, index=False)
    t1 = time.perf_counter()
    with closing(sqlite3.connect(path)) as conn:
        frame = pd.read_sql("SELECT * FROM analyses", conn)
    return frame, {"write": t1 - t0, "read": time.perf_counter() - t1}


def run(size: str = "full") -> list[Row]:
    """Both round trips into fresh files in one temporary folder, alternated."""
    import pandas as pd

    from ttai_notebook.store import analysis_row

    n = SIZES[size]
    repeat = 3 if size == "full" else 1
    analyses = _analyses(n)
    now = time.time()
    rows = pd.DataFrame(
        [analysis_row(sid, a, now) for sid, a in analyses.items()],
        columns=["session_id", "score", "data", "raw", "stored_at"],
    )
    folder = tempfile.mkdtemp(prefix="ttai-bench-store-")
    files = count()
    parts: dict[str, list[dict[str, float]]] = {"store": [], "pandas": [], "floor": []}

    def fresh() -> str:
        return os.path.join(folder, f"{next(files)}.sqlite")

    def go(name: str, fn: Any, data: Any) -> Any:
        def call() -> None:
            _, split = fn(fresh(), data)
            parts[name].append(split)

        return call

    try:
        times = interleaved(
            {
                "store": go("store", store_roundtrip, analyses),
                "pandas": go("pandas", pandas_roundtrip, analyses),
                "floor": go("floor", prebuilt_rows_roundtrip, rows),
            },
            repeat,
            warmup=1 if size == "full" else 0,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ours, base, floor = times["store"].median, times["pandas"].median, times["floor"].median
    ratio = ours / base

    def split(name: str) -> str:
        w = sorted(p["write"] for p in parts[name])[len(parts[name]) // 2]
        r = sorted(p["read"] for p in parts[name])[len(parts[name]) // 2]
        return f"write {fmt_s(w)} + read {fmt_s(r)}"

    notes = [
        f"{n} analyses, medians of {repeat} alternated runs, a fresh SQLite file each: Store {fmt_s(ours)} "
        f"({split('store')}, put_analyses then store.sessions_frame()); pandas {fmt_s(base)} ({split('pandas')}, "
        "json_normalize of the service JSON, nested columns json.dumps'd, to_sql, read_sql)",
        f"I/O floor: the store's own encoded rows prebuilt in a DataFrame through to_sql/read_sql: {fmt_s(floor)} "
        f"({split('floor')}) — the Store's extra cost is encoding the service JSON of each analysis (stored "
        "once; from_api rebuilds models on demand) and the upsert; the frame reads scores straight from SQL",
    ]
    return [
        Row(
            "7",
            f"Store: write {n} analyses, read back to a frame",
            fmt_s(ours),
            f"to_sql + read_sql {fmt_s(base)}",
            ratio,
            f"≤ {TARGET}×",
            ratio <= TARGET,
            notes,
            {"store": times["store"].samples, "pandas": times["pandas"].samples, "floor": times["floor"].samples},
        )
    ]
