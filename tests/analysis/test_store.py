"""tt.Store: round-trips of both dialects, upsert rules, schema version, bad files, two processes at once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import multiprocessing
import os
import sqlite3
import threading
from pathlib import Path

import pytest

import ttai_notebook as tt
from ttai_notebook import store as store_mod
from ttai_notebook.models import Analysis, RubricScore, Session
from ttai_notebook.store import SCHEMA_VERSION, Store, StoreError

UTC = dt.timezone.utc


@pytest.fixture(scope="module", params=["documented", "spec"])
def dialect_data(request):
    """Sessions (with and without analyses) from a sandbox of each dialect, and analyse answers of the brief's
    synchronous ``POST /sessions/analyze`` (profile "brief"), whose body differs by dialect."""
    client = tt.Client.sandbox(seed=0, dialect=request.param)
    brief = tt.Client.sandbox(seed=0, dialect=request.param, profile="brief")
    try:
        sessions = list(client.sessions.list())
        done = [s for s in sessions if s.status == "completed"][:6]
        # Details (with transcripts) for some: a list answer carries none.
        detailed = {s.id: client.sessions.get(s.id) for s in sessions[:20]}
        sessions = [detailed.get(s.id, s) for s in sessions]
        analyses = {s.id: brief.sessions.analyze(s.id, force=True) for s in done}
    finally:
        client.close()
        brief.close()
    return request.param, sessions, analyses


def _same_session(a: Session, b: Session) -> None:
    assert a == b  # every compared field, the analysis (and its report card) included
    assert a.raw == b.raw
    if a.analysis is not None:
        assert a.analysis.raw == b.analysis.raw
        assert type(b.analysis.strengths) is tuple
        assert all(type(r) is RubricScore for r in b.analysis.report_card)


# --------------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------------


def test_sessions_round_trip_both_dialects(tmp_path, dialect_data):
    dialect, sessions, _ = dialect_data
    path = tmp_path / f"{dialect}.sqlite"
    with Store(path) as store:
        assert store.put_sessions(sessions) == len(sessions)
    with Store(path) as store:  # read back by a fresh connection
        back = {s.id: s for s in store.sessions()}
        assert len(store) == len(sessions)
        analyzed = store.analyzed_ids()
    assert set(back) == {s.id for s in sessions}
    for original in sessions:
        _same_session(original, back[original.id])
    assert analyzed == {s.id for s in sessions if s.is_analyzed}
    assert any(s.transcript for s in sessions)  # the transcript de-duplication path is exercised


def test_analyses_round_trip_both_dialects(dialect_data):
    dialect, _, analyses = dialect_data
    with Store() as store:
        for sid, analysis in analyses.items():
            assert store.put_analysis(sid, analysis) is True
        back = store.analyses()
        assert back == analyses
        for sid, analysis in analyses.items():
            assert back[sid].raw == analysis.raw
            assert store.get_analysis(sid) == analysis
        assert store.analyzed_ids() == set(analyses)
    raw_keys = set(next(iter(analyses.values())).raw)
    assert ("evaluation" in raw_keys) == (dialect == "spec")  # both answer shapes really were stored


def test_hand_built_models_round_trip_without_raw():
    analysis = Analysis(
        session_id=None,
        score=72.5,
        score_text="7/10",
        strengths=("Warm opener",),
        improvements=("Pace", "Close"),
        report_card=(RubricScore(topic="Rapport", score=80.0, score_text="8/10", weight=50.0, note="ok"),
                     RubricScore(topic="Type", score=None, score_text="INTP")),
        detailed_feedback="Fine.",
        action_items=("Practise",),
    )
    session = Session(
        id="s-1",
        scenario_id="scn",
        status="completed",
        created_at=dt.datetime(2026, 3, 4, 10, 0, 0, 250000, tzinfo=UTC),
        duration_s=330.0,
        metadata={"team": "North", "cohort": 3},
        transcript="[00:01] AI: Hello",
        analysis=analysis,
    )
    with Store() as store:
        store.put_session(session)
        back = store.get_session("s-1")
    assert back == dataclasses.replace(session, analysis=dataclasses.replace(analysis, session_id="s-1"))
    assert back.created_at.tzinfo is not None
    assert back.analysis.report_card[1].score is None and back.analysis.report_card[1].score_text == "INTP"


def test_fast_decoder_builds_the_same_objects_as_the_constructor(dialect_data):
    _, sessions, _ = dialect_data
    session = next(s for s in sessions if s.is_analyzed)
    row = store_mod.session_row(session, 0.0)
    arow = store_mod.analysis_row(session.id, session.analysis, 0.0)
    back = store_mod.session_from_row(row[5], row[6], store_mod.analysis_from_row(session.id, arow[2], arow[3]))
    rebuilt = Session(**{f.name: getattr(back, f.name) for f in dataclasses.fields(Session)})
    assert rebuilt == back and vars(rebuilt).keys() == vars(back).keys()


def test_rows_from_another_layout_still_decode():
    analysis = Analysis(session_id="s", score=50.0, strengths=("a",))
    _, score, data, raw, _ = store_mod.analysis_row("s", analysis, 0.0)
    fields = json.loads(data)
    fields["field_from_the_future"] = 1  # written by a newer version
    del fields["action_items"]  # written by an older version
    back = store_mod.analysis_from_row("s", json.dumps(fields), raw)
    assert back == analysis


def test_orphan_analyses_come_back_as_sessions_with_only_id_and_analysis():
    a = Analysis(session_id="x", score=90.0)
    with Store() as store:
        store.put_analysis("x", a)
        store.put_session(Session(id="y", status="completed", created_at=dt.datetime(2026, 1, 1, tzinfo=UTC)))
        sessions = store.sessions()
        assert [s.id for s in sessions] == ["y", "x"]  # stored sessions first, orphans after
        assert sessions[1].analysis == a and sessions[1].status is None and sessions[1].metadata == {}
        assert store.get_session("x").score == 90.0
        assert store.get_session("nope") is None
        assert len(store) == 2 and "x" in store and "nope" not in store


def test_sessions_by_ids_keep_the_order_asked():
    with Store() as store:
        store.put_sessions(Session(id=f"s{i}") for i in range(5))
        assert [s.id for s in store.sessions(ids=["s3", "s1", "zz", "s3"])] == ["s3", "s1"]


def test_sessions_are_ordered_by_creation_time():
    times = [dt.datetime(2026, 1, d, tzinfo=UTC) for d in (3, 1, 2)]
    with Store() as store:
        store.put_sessions([Session(id=f"s{i}", created_at=t) for i, t in enumerate(times)] + [Session(id="n")])
        assert [s.id for s in store.sessions()] == ["s1", "s2", "s0", "n"]


# --------------------------------------------------------------------------------------------------
# Upsert rules
# --------------------------------------------------------------------------------------------------


def test_upsert_latest_wins_and_a_session_without_analysis_keeps_the_stored_one():
    first = Session(id="s", status="in_progress")
    analysed = Session(id="s", status="completed", analysis=Analysis(session_id="s", score=61.0))
    listed_again = Session(id="s", status="archived")  # e.g. from a list endpoint without evaluation
    with Store() as store:
        store.put_session(first)
        store.put_session(analysed)
        store.put_session(listed_again)
        back = store.get_session("s")
        assert back.status == "archived" and back.score == 61.0
        store.put_analysis("s", Analysis(session_id="s", score=77.0))  # a forced re-analysis
        assert store.get_session("s").score == 77.0
        assert len(store) == 1


def test_an_analysis_still_running_is_not_stored_and_hides_nothing():
    pending = Analysis(session_id="s", is_analyzing=True)
    with Store() as store:
        assert store.put_analysis("s", pending) is False
        assert store.analyzed_ids() == set()
        store.put_analysis("s", Analysis(session_id="s", score=55.0))
        store.put_session(Session(id="s", analysis=pending))
        assert store.get_analysis("s").score == 55.0


def test_put_analyses_accepts_mapping_pairs_and_bare_analyses():
    with Store() as store:
        n = store.put_analyses({"a": Analysis(score=1.0)})
        n += store.put_analyses([("b", Analysis(score=2.0)), (None, Analysis(session_id="c", score=3.0))])
        n += store.put_analyses([Analysis(session_id="d", score=4.0)])
        assert n == 4
        assert {k: v.score for k, v in store.analyses().items()} == {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
        assert store.get_analysis("a").session_id == "a"  # the key fills a missing session_id


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.put_analysis(None, Analysis(score=1.0)), ValueError),
        (lambda s: s.put_analysis("", Analysis(score=1.0)), ValueError),
        (lambda s: s.put_analysis("x", {"overall_score": 1}), TypeError),
        (lambda s: s.put_sessions([{"id": "x"}]), TypeError),
        (lambda s: s.put_session(Session(id="")), ValueError),
        (lambda s: s.get_session(""), ValueError),
    ],
)
def test_bad_input_is_refused_clearly(call, error):
    with Store() as store:
        with pytest.raises(error, match="session|Session|Analysis"):
            call(store)
        assert len(store) == 0  # nothing half-written


def test_a_failed_batch_writes_nothing():
    with Store() as store:
        with pytest.raises(TypeError):
            store.put_sessions([Session(id="ok"), "not a session"])
        assert len(store) == 0


# --------------------------------------------------------------------------------------------------
# Files: default path, schema version, bad files, closing
# --------------------------------------------------------------------------------------------------


def test_default_path_and_nothing_written_without_opt_in(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("TTAI_STORE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert store_mod.default_path() == tmp_path / ".cache" / "ttai_notebook" / "store.sqlite"
    monkeypatch.chdir(tmp_path)
    for spelling in (None, ":memory:"):
        with Store(spelling) as store:  # in memory
            store.put_session(Session(id="s"))
            assert store.path is None and "in memory" in repr(store)
    assert list(tmp_path.iterdir()) == []  # no file anywhere
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert store_mod.default_path() == tmp_path / "xdg" / "ttai_notebook" / "store.sqlite"
    monkeypatch.setenv("TTAI_STORE", str(tmp_path / "mine.sqlite"))
    with Store.default() as store:
        store.put_session(Session(id="s"))
        assert store.path == tmp_path / "mine.sqlite"
    assert (tmp_path / "mine.sqlite").exists()


def test_new_file_is_wal_with_schema_version(tmp_path):
    path = tmp_path / "sub" / "dir" / "s.sqlite"  # folders are created
    Store(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "new.sqlite"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match=rf"newer ttai_notebook.*schema {SCHEMA_VERSION + 1}.*Upgrade") as info:
        Store(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, tt.TTAIError)


@pytest.mark.parametrize(
    "content", [b"this is not a database, just text\n" * 200, os.urandom(8192), b"SQLite format 3\x00" + b"\xff" * 4096]
)
def test_a_non_sqlite_or_corrupt_file_gives_a_clear_error_naming_it(tmp_path, content):
    path = tmp_path / "bad.sqlite"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="not a usable SQLite database") as info:
        Store(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == content  # the user's file is left as it was


def test_damage_found_on_read_names_the_file(tmp_path):
    path = tmp_path / "damaged.sqlite"
    with Store(path) as store:
        store.put_sessions(Session(id=f"s{i:04d}", transcript="x" * 2000) for i in range(300))
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(page * 2, len(data) - page, page):  # wreck every page but the schema page
        data[offset : offset + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as info:
        with Store(path) as store:
            store.sessions()
    assert str(path) in str(info.value)


def test_an_sqlite_file_of_another_program_is_not_taken_over(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a ttai_notebook store.*invoices"):
        Store(path)


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(StoreError, match="is a folder"):
        Store(tmp_path)


def test_closed_store_raises_and_close_is_idempotent(tmp_path):
    store = Store(tmp_path / "c.sqlite")
    with store:
        pass
    assert store.closed
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.sessions()
    assert "closed" in repr(store)


# --------------------------------------------------------------------------------------------------
# Concurrency: threads sharing one store, two processes sharing one file
# --------------------------------------------------------------------------------------------------


def test_threads_can_share_one_store():
    with Store() as store:
        def write(k: int) -> None:
            for i in range(50):
                store.put_analysis(f"t{k}-{i}", Analysis(score=float(i)))

        threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(store.analyzed_ids()) == 200


def _write_from_process(path: str, prefix: str, n: int, barrier) -> None:
    barrier.wait()  # start together so the writes really interleave
    with Store(path) as store:
        for i in range(n):
            sid = f"{prefix}{i:04d}"
            store.put_session(Session(id=sid, status="completed", metadata={"writer": prefix}))
            store.put_analysis(sid, Analysis(session_id=sid, score=float(i % 100), strengths=("x",)))
            if i % 25 == 0:
                store.sessions(ids=[sid])  # readers interleave with the other writer too


def test_two_processes_write_the_same_file_concurrently(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    Store(path).close()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_write_from_process, args=(path, p, 150, barrier)) for p in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    with Store(path) as store:
        assert len(store) == 300
        assert len(store.analyzed_ids()) == 300
        writers = {s.metadata["writer"] for s in store.sessions()}
    assert writers == {"a", "b"}
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------------------


def test_sessions_frame_delegates_to_frames(dialect_data):
    _, sessions, _ = dialect_data
    with Store() as store:
        store.put_sessions(sessions)
        df = store.sessions_frame()
        expected = tt.sessions_frame(sessions)
    assert len(df) == len(sessions)
    assert sorted(df["session_id"]) == sorted(expected["session_id"])
    assert df.set_index("session_id")["score"].sort_index().equals(expected.set_index("session_id")["score"].sort_index())


def test_lean_frame_equals_the_frame_of_the_stored_models(dialect_data):
    """store.sessions_frame() reads scores from SQL instead of rebuilding models: the same frame, to the dtype."""
    _, sessions, analyses = dialect_data
    with Store() as store:
        store.put_sessions(sessions[:300])
        store.put_analyses(analyses)  # some of these sessions' details are not stored: orphans
        store.put_analysis("only-analysis", Analysis(session_id="only-analysis", strengths=("Clear",)))  # no score
        lean = store.sessions_frame()
        full = tt.sessions_frame(store.sessions())
    assert len(lean) > 300 and lean["analyzed"].any() and not lean["analyzed"].all()
    assert bool(lean.set_index("session_id").loc["only-analysis", "analyzed"]) is True
    import pandas as pd

    pd.testing.assert_frame_equal(lean, full)


def test_analyses_from_the_service_are_stored_as_their_json_alone(dialect_data):
    _, _, analyses = dialect_data
    sid, analysis = next(iter(analyses.items()))
    _, score, data, raw, _ = store_mod.analysis_row(sid, analysis, 0.0)
    assert data == "" and json.loads(raw) == analysis.raw and score == analysis.score
    changed = dataclasses.replace(analysis, score=12.5)  # no longer what the JSON says: its fields are kept
    _, _, data, _, _ = store_mod.analysis_row(sid, changed, 0.0)
    assert json.loads(data)["score"] == 12.5
    _, _, data, _, _ = store_mod.analysis_row("another-id", analysis, 0.0)  # filed under another session
    assert data != ""
    with Store() as store:
        store.put_analyses({sid: analysis, "other": changed})
        assert store.get_analysis(sid) == analysis and store.get_analysis(sid).raw == analysis.raw
        assert store.get_analysis("other").score == 12.5


def test_a_version_1_file_is_read_and_upgraded(tmp_path):
    """Files written before schema 2 hold every analysis's fields; they still read, and are marked 2."""
    path = tmp_path / "v1.sqlite"
    analysis = Analysis.from_api({"overall_score": 70, "strengths": ["Pace"]}, session_id="s1")
    fields = {f.name: getattr(analysis, f.name) for f in dataclasses.fields(Analysis) if f.name != "raw"}
    conn = sqlite3.connect(path)
    for statement in filter(str.strip, store_mod._SCHEMA.split(";")):
        conn.execute(statement)
    conn.execute("INSERT INTO analyses VALUES (?, ?, ?, ?, ?)",
                 ("s1", 70.0, json.dumps(fields), json.dumps(analysis.raw), 0.0))
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.get_analysis("s1") == analysis
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert {"sync_marks", "sync_members"} <= tables  # version 3's sync tables come with the upgrade


def test_import_of_store_does_not_load_pandas():
    import subprocess
    import sys

    code = "import sys, ttai_notebook.store; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_store_path_accepts_pathlike_and_str(tmp_path):
    for p in (tmp_path / "a.sqlite", str(tmp_path / "b.sqlite")):
        with Store(p) as store:
            assert isinstance(store.path, Path)
