"""A local SQLite cache of sessions and analyses (:class:`Store`): what was paid for is never fetched twice.

One file per store (stdlib ``sqlite3``, WAL journal, ``busy_timeout``), safe for several kernels at once.
Rows keep the service's raw JSON; an analysis that is exactly ``Analysis.from_api`` of it is stored as that
JSON alone and rebuilt on read, any other model also keeps its normalised fields: models read back as written.
:meth:`Store.sync` keeps the store an incremental mirror of the service's sessions, one high-water mark per
filter set (the decisions are in ``_sync``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import json.encoder as _json_encoder
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._gc import gc_paused
from ._sync import DEFAULT_OVERLAP, SyncResult, check_overlap, differs, filter_key, next_since, service_time
from .errors import TTAIError
from .models import FROM_RAW, Analysis, RubricScore, Session, _make

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "SyncResult", "default_path"]

#: Layout version written to ``PRAGMA user_version``. A file with a larger number came from a newer
#: ttai_notebook and is refused rather than misread.
SCHEMA_VERSION = 3
# 1 → 2: an analysis row may hold an empty ``data`` (rebuilt from ``raw`` by ``Analysis.from_api``); nothing
# to convert, but version 1 readers cannot read such rows, so the number tells them to refuse the file.
# 2 → 3: the sync tables (``sync_marks``, ``sync_members``), created empty on open, so the first sync of each
# filter set lists everything. The version names the layout; an older ttai_notebook (which would not know the
# tables' meaning) refuses a version 3 file with the "upgrade" message rather than guess.

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id          TEXT PRIMARY KEY NOT NULL,
    scenario_id TEXT,
    user_email  TEXT,
    status      TEXT,
    created_at  REAL,            -- epoch seconds (UTC), for ordering and SQL filters
    data        TEXT NOT NULL,   -- normalised fields as JSON (without the analysis)
    raw         TEXT NOT NULL,   -- the service's own JSON
    stored_at   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS analyses (
    session_id  TEXT PRIMARY KEY NOT NULL,
    score       REAL,
    data        TEXT NOT NULL,
    raw         TEXT NOT NULL,
    stored_at   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_marks (
    filter_key      TEXT PRIMARY KEY NOT NULL,  -- _sync.filter_key: the service, org and filters
    high_water_mark TEXT,                       -- ISO-8601 UTC: the largest service timestamp listed
    listing_s       REAL NOT NULL,              -- how long the last listing took (widens the next window)
    synced_at       REAL NOT NULL               -- local time of the last sync, for people only
);
CREATE TABLE IF NOT EXISTS sync_members (
    filter_key  TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    PRIMARY KEY (filter_key, session_id)
) WITHOUT ROWID;
"""
_OUR_TABLES = frozenset({"sessions", "analyses", "sync_marks", "sync_members"})


class StoreError(TTAIError, ValueError):
    """The store's file cannot be used: not SQLite, corrupt, locked too long, or from a newer version."""


def default_path() -> Path:
    """Where :meth:`Store.default` keeps its file.

    ``$TTAI_STORE`` if set; else ``$XDG_CACHE_HOME/ttai_notebook/store.sqlite`` if ``XDG_CACHE_HOME`` is set;
    else ``~/.cache/ttai_notebook/store.sqlite``.
    """
    env = os.environ.get("TTAI_STORE", "").strip()
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "ttai_notebook" / "store.sqlite"


# --------------------------------------------------------------------------------------------------
# Model <-> row codecs (pure). Generic over the dataclass fields, so a field added to a model is kept.
# --------------------------------------------------------------------------------------------------

_TUPLE, _DATETIME, _RUBRICS = "tuple", "datetime", "rubrics"


def _special_fields(cls: type, skip: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(name, kind) of the fields JSON cannot hold as they are; the kind comes from the annotation text."""
    out = []
    for field in dataclasses.fields(cls):
        annotation = str(field.type)
        if field.name in skip:
            continue
        if "RubricScore" in annotation:
            out.append((field.name, _RUBRICS))
        elif "datetime" in annotation:
            out.append((field.name, _DATETIME))
        elif annotation.startswith("tuple"):
            out.append((field.name, _TUPLE))
    return tuple(out)


# The codecs copy the instance __dict__ (every dataclass field) and convert only the special fields, so a
# field added to a model later is stored without touching this module. They run once per row of a
# 10 000-row write or read, hence no per-field Python loop over the plain fields.
_ANALYSIS_SPECIAL = _special_fields(Analysis, ("raw",))
_SESSION_SPECIAL = _special_fields(Session, ("raw", "analysis"))
_RUBRIC_FIELDS = tuple(f.name for f in dataclasses.fields(RubricScore) if f.name != "raw")
# Keys under which the service puts a transcript (models.Session.from_api reads the same ones); a transcript
# equal to the raw one is stored once, as a reference, since transcripts are the bulk of a session row.
_TRANSCRIPT_KEYS = ("finalized_transcript", "transcript_content", "transcript", "running_transcript")
# JSON codecs built once: json.dumps / json.loads with options rebuild an encoder on every call, which is a
# third of the cost of a 10 000-row write. The C encoder is used directly when the interpreter has it.
# default=str: a hand-built model may hold a value JSON cannot spell (a datetime in metadata, say).
if _json_encoder.c_make_encoder is not None:
    _c_encoder = _json_encoder.c_make_encoder(
        None, str, _json_encoder.encode_basestring, None, ":", ",", False, False, True
    )

    def _encode_json(value: Any) -> str:
        return "".join(_c_encoder(value, 0))

else:  # pragma: no cover - CPython always has the C encoder
    _encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
_scan_json = json.JSONDecoder().scan_once


def _decode_json(text: str) -> Any:
    return _scan_json(text, 0)[0]  # rows hold exactly one JSON value, written by _encode_json


def _defaults(cls: type) -> tuple[frozenset[str], dict[str, Any], tuple[tuple[str, Any], ...]]:
    names, plain, factories = set(), {}, []
    for field in dataclasses.fields(cls):
        names.add(field.name)
        if field.default is not dataclasses.MISSING:
            plain[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            factories.append((field.name, field.default_factory))
    return frozenset(names), plain, tuple(factories)


_MODEL_FIELDS = {cls: _defaults(cls) for cls in (Analysis, RubricScore, Session)}


def _new(cls: type, data: dict[str, Any]) -> Any:
    """Build a model from a complete field dict.

    Models are plain frozen dataclasses without ``__post_init__``; when ``data`` names exactly their fields,
    filling ``__dict__`` is the same object as ``cls(**data)`` at a seventh of the cost (reads build one
    model per row). Anything else goes through the constructor, which applies defaults and checks names.
    """
    names, _plain, _factories = _MODEL_FIELDS[cls]
    if data.keys() == names and not hasattr(cls, "__post_init__"):
        return _make(cls, data)
    # A row written by another version may lack a field (the default applies) or name one we lack (dropped).
    return cls(**{k: v for k, v in data.items() if k in names})


def _session_stub(session_id: str, analysis: Analysis | None) -> Session:
    """A session known only by its analysis."""
    _names, plain, factories = _MODEL_FIELDS[Session]
    data = dict(plain)
    for name, factory in factories:
        data[name] = factory()
    data["id"] = session_id
    data["analysis"] = analysis
    return _new(Session, data)


def _encode(obj: Any, special: tuple[tuple[str, str], ...], drop: tuple[str, ...]) -> dict[str, Any]:
    data = dict(obj.__dict__)
    for name in drop:
        data.pop(name, None)
    for name, kind in special:
        value = data[name]
        if value is None:
            continue
        if kind == _DATETIME:
            data[name] = value.isoformat()
        elif kind == _RUBRICS:
            # RubricScore.raw is not stored separately: the whole service JSON lives in Analysis.raw.
            data[name] = [[getattr(r, f) for f in _RUBRIC_FIELDS] for r in value]
        # tuples need nothing: JSON writes them as lists
    return data


def _decode(cls: type, data: dict[str, Any], special: tuple[tuple[str, str], ...], **extra: Any) -> Any:
    for name, kind in special:
        value = data.get(name)
        if value is None:
            continue
        if kind == _DATETIME:
            data[name] = dt.datetime.fromisoformat(value)
        elif kind == _RUBRICS:
            data[name] = tuple(_new(RubricScore, dict(zip(_RUBRIC_FIELDS, r), raw={})) for r in value)
        else:
            data[name] = tuple(value)
    data.update(extra)
    return _new(cls, data)


def analysis_row(session_id: str, analysis: Analysis, stored_at: float) -> tuple[Any, ...]:
    """The ``analyses`` row for one analysis (pure; exposed for tests).

    An analysis that ``Analysis.from_api`` built (every one the client returns) is stored as the service's
    JSON alone, with an empty ``data``: reading rebuilds it with ``from_api``. That halves the bytes encoded
    and written. Any other analysis (hand-built, or changed with ``dataclasses.replace``) keeps its fields.
    """
    raw = _encode_json(analysis.raw)
    if analysis.__dict__.get(FROM_RAW) and analysis.session_id in (None, session_id):
        return (session_id, analysis.score, "", raw, stored_at)
    data = _encode(analysis, _ANALYSIS_SPECIAL, ("raw", FROM_RAW))
    if data.get("session_id") is None:
        data["session_id"] = session_id
    return (session_id, analysis.score, _encode_json(data), raw, stored_at)


def analysis_from_row(session_id: str, data: str, raw: str) -> Analysis:
    """Rebuild an :class:`Analysis` from its stored row (``data`` empty: from the service JSON alone)."""
    if not data:
        return Analysis.from_api(_decode_json(raw), session_id=session_id)
    return _decode(Analysis, _decode_json(data), _ANALYSIS_SPECIAL, raw=_decode_json(raw))


def session_row(session: Session, stored_at: float) -> tuple[Any, ...]:
    """The ``sessions`` row for one session (pure; exposed for tests)."""
    data = _encode(session, _SESSION_SPECIAL, ("raw", "analysis"))
    raw = session.raw if isinstance(session.raw, Mapping) else {}
    transcript = data.get("transcript")
    if transcript is not None:
        for key in _TRANSCRIPT_KEYS:
            if raw.get(key) == transcript:
                data["transcript"] = None
                data["transcript_from_raw"] = key
                break
    created = session.created_at.timestamp() if session.created_at is not None else None
    return (
        session.id,
        session.scenario_id,
        session.user_email,
        session.status,
        created,
        _encode_json(data),
        _encode_json(raw),
        stored_at,
    )


def session_from_row(data: str, raw: str, analysis: Analysis | None) -> Session:
    """Rebuild a :class:`Session` from its stored JSON, with ``analysis`` merged in."""
    fields = _decode_json(data)
    raw_dict = _decode_json(raw)
    key = fields.pop("transcript_from_raw", None)
    if key is not None:
        fields["transcript"] = raw_dict.get(key)
    return _decode(Session, fields, _SESSION_SPECIAL, raw=raw_dict, analysis=analysis)


def _storable(analysis: Analysis | None) -> bool:
    # An analysis still running carries nothing worth keeping, and must not hide a finished one.
    return analysis is not None and analysis.has_results


def _check_id(session_id: Any, what: str) -> str:
    if not isinstance(session_id, str) or not session_id:
        raise ValueError(f"{what} needs a non-empty session id string, got {session_id!r}")
    return session_id


# --------------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------------

_UPSERT_SESSION = (
    "INSERT INTO sessions (id, scenario_id, user_email, status, created_at, data, raw, stored_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET scenario_id=excluded.scenario_id, "
    "user_email=excluded.user_email, status=excluded.status, created_at=excluded.created_at, "
    "data=excluded.data, raw=excluded.raw, stored_at=excluded.stored_at"
)
_UPSERT_ANALYSIS = (
    "INSERT INTO analyses (session_id, score, data, raw, stored_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT(session_id) DO UPDATE SET score=excluded.score, data=excluded.data, raw=excluded.raw, "
    "stored_at=excluded.stored_at"
)
_SELECT_SESSIONS = (
    "SELECT s.id, s.data, s.raw, a.data, a.raw FROM sessions s LEFT JOIN analyses a ON a.session_id = s.id"
)
# Analyses whose session details were never stored (analyze_many writes only analyses).
_SELECT_ORPHANS = (
    "SELECT a.session_id, a.data, a.raw FROM analyses a "
    "WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = a.session_id)"
)
_ADD_MEMBER = "INSERT OR IGNORE INTO sync_members (filter_key, session_id) VALUES (?, ?)"
_UPSERT_MARK = (
    "INSERT INTO sync_marks (filter_key, high_water_mark, listing_s, synced_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT(filter_key) DO UPDATE SET high_water_mark=excluded.high_water_mark, "
    "listing_s=excluded.listing_s, synced_at=excluded.synced_at"
)
#: Listed sessions compared and written per transaction: a listing that fails half-way keeps what it stored.
_SYNC_BATCH = 1000


class Store:
    """A local SQLite cache of sessions and analyses, keyed by session id.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The SQLite file (created with its folder if missing). ``None`` (the default) or ``":memory:"``
        keeps the store in memory: nothing is written to disk unless you give a path or call
        :meth:`Store.default` (``$TTAI_STORE`` or ``~/.cache/ttai_notebook/store.sqlite``).
    timeout : float
        Seconds to wait for another process's write lock before giving up (SQLite ``busy_timeout``).

    Notes
    -----
    Writes are upserts: the newest write for an id wins, except that an analysis still running
    (``is_analyzing`` with no results) is never stored, so it cannot hide a finished one. A session stored
    with an analysis also stores that analysis. The journal is WAL with ``synchronous=NORMAL``: several
    kernels may read and write the same file; a write survives a crash of Python, and at worst the last
    transactions are lost on a power cut. ``RubricScore.raw`` is not kept separately (the full service JSON
    is in ``Analysis.raw``). A store is safe to share between threads.

    Examples
    --------
    >>> import ttai_notebook as tt
    >>> client = tt.Client.sandbox(seed=0)
    >>> with tt.Store() as store:                      # in memory; tt.Store("scores.sqlite") for a file
    ...     written = store.put_sessions(client.sessions.list(max_items=5))
    ...     print(written, len(store), len(store.analyzed_ids()))
    5 5 2
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout: float = 30.0) -> None:
        self._lock = threading.RLock()
        # ":memory:" is SQLite's own spelling of "no file"; taken literally it would create a file of that name.
        self._path = None if path is None or path == ":memory:" else Path(path).expanduser()
        self._conn: sqlite3.Connection | None = None
        self._conn = self._open(timeout)

    @classmethod
    def default(cls, *, timeout: float = 30.0) -> Store:
        """Open the store at :func:`default_path` (``$TTAI_STORE`` or ``~/.cache/ttai_notebook/store.sqlite``)."""
        return cls(default_path(), timeout=timeout)

    @property
    def path(self) -> Path | None:
        """The file, or ``None`` for an in-memory store."""
        return self._path

    def _where(self) -> str:
        return "the in-memory store" if self._path is None else f"store file {str(self._path)!r}"

    def _open(self, timeout: float) -> sqlite3.Connection:
        target = ":memory:"
        if self._path is not None:
            if self._path.is_dir():
                raise StoreError(f"{self._where()} is a folder; pass the path of a file, e.g. {self._path / 'store.sqlite'}")
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder for {self._where()}: {exc}") from exc
            target = str(self._path)
        try:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE takes the write lock up front,
            # so two writers queue on busy_timeout instead of deadlocking on a lock upgrade).
            conn = sqlite3.connect(target, timeout=timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self._where()}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(conn)
        except StoreError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(
                f"{self._where()} is not a usable SQLite database ({exc}); move it aside or pass another path"
            ) from exc
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self._where()} was written by a newer ttai_notebook (store schema {version}; this version "
                    f"reads schema {SCHEMA_VERSION}). Upgrade ttai-notebook, or pass another path."
                )
            if version == 0:
                tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                foreign = sorted(tables - _OUR_TABLES)
                if foreign:
                    raise StoreError(
                        f"{self._where()} is an SQLite database but not a ttai_notebook store "
                        f"(it has tables {', '.join(foreign[:5])}); pass another path"
                    )
            # Statement by statement: executescript() would COMMIT the transaction half-way.
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            if version != SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # ---- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise StoreError(f"{self._where()} is closed")
            try:
                yield self._conn
            except StoreError:
                raise
            except sqlite3.OperationalError as exc:
                raise StoreError(f"{self._where()}: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self._where()} is damaged ({exc}); move it aside or pass another path") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._db() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # ---- writes --------------------------------------------------------------------------------

    def put_session(self, session: Session) -> None:
        """Store (or replace) one session, and its analysis if it carries one."""
        self.put_sessions([session])

    def put_sessions(self, sessions: Iterable[Session]) -> int:
        """Store many sessions in one transaction; returns how many were written."""
        now = time.time()
        rows, analyses = [], []
        with gc_paused():
            for session in sessions:
                if not isinstance(session, Session):
                    raise TypeError(f"put_sessions takes Session objects, got {type(session).__name__}")
                _check_id(session.id, "put_session")
                rows.append(session_row(session, now))
                if _storable(session.analysis):
                    analyses.append(analysis_row(session.id, session.analysis, now))  # type: ignore[arg-type]
        if rows:
            with self._write() as conn:
                conn.executemany(_UPSERT_SESSION, rows)
                if analyses:
                    conn.executemany(_UPSERT_ANALYSIS, analyses)
        return len(rows)

    def put_analysis(self, session_id: str | None, analysis: Analysis) -> bool:
        """Store (or replace) the analysis of ``session_id`` (``None``: use ``analysis.session_id``).

        Returns False, storing nothing, for an analysis still running (no score nor feedback yet).
        """
        return self.put_analyses([(session_id, analysis)]) == 1

    def put_analyses(
        self, analyses: Mapping[str, Analysis] | Iterable[Analysis | tuple[str | None, Analysis]]
    ) -> int:
        """Store many analyses in one transaction; returns how many were written.

        Takes a mapping ``{session_id: Analysis}``, ``(session_id, Analysis)`` pairs, or analyses that
        know their ``session_id``. Analyses still running are skipped.
        """
        items = analyses.items() if isinstance(analyses, Mapping) else analyses
        now = time.time()
        rows = []
        with gc_paused():
            for item in items:
                session_id, analysis = (item.session_id, item) if isinstance(item, Analysis) else item
                if not isinstance(analysis, Analysis):
                    raise TypeError(f"put_analysis takes Analysis objects, got {type(analysis).__name__}")
                if session_id is None:
                    session_id = analysis.session_id
                _check_id(session_id, "put_analysis")
                if _storable(analysis):
                    rows.append(analysis_row(session_id, analysis, now))  # type: ignore[arg-type]
        if rows:
            with self._write() as conn:
                conn.executemany(_UPSERT_ANALYSIS, rows)
        return len(rows)

    # ---- reads ---------------------------------------------------------------------------------

    def get_session(self, session_id: str) -> Session | None:
        """The stored session with its stored analysis, or ``None`` if the id is unknown.

        An id known only by its analysis gives a session with just ``id`` and ``analysis``.
        """
        sessions = self.sessions(ids=[_check_id(session_id, "get_session")])
        return sessions[0] if sessions else None

    def get_analysis(self, session_id: str) -> Analysis | None:
        """The stored analysis of ``session_id``, or ``None``."""
        with self._db() as conn:
            row = conn.execute(
                "SELECT data, raw FROM analyses WHERE session_id = ?", (_check_id(session_id, "get_analysis"),)
            ).fetchone()
        return analysis_from_row(session_id, *row) if row else None

    def sessions(self, ids: Iterable[str] | None = None) -> list[Session]:
        """Every stored session (or those in ``ids``), oldest first, with stored analyses merged in.

        Analyses stored without their session's details (as :func:`~ttai_notebook.bulk.analyze_many`
        writes them) come last as sessions holding only ``id`` and ``analysis``;
        :func:`~ttai_notebook.bulk.fetch_many` with the same store fills the details in.
        """
        wanted = None if ids is None else list(dict.fromkeys(ids))
        with self._db() as conn:
            if wanted is None:
                rows = conn.execute(_SELECT_SESSIONS + " ORDER BY s.created_at IS NULL, s.created_at, s.id").fetchall()
                orphans = conn.execute(_SELECT_ORPHANS + " ORDER BY a.session_id").fetchall()
            else:
                rows, orphans = [], []
                for chunk in _chunks(wanted, 500):  # stay under SQLite's bound-parameter limit
                    marks = ",".join("?" * len(chunk))
                    rows += conn.execute(_SELECT_SESSIONS + f" WHERE s.id IN ({marks})", chunk).fetchall()
                    orphans += conn.execute(_SELECT_ORPHANS + f" AND a.session_id IN ({marks})", chunk).fetchall()
        with gc_paused():
            out = [
                session_from_row(data, raw, analysis_from_row(sid, a_data, a_raw) if a_data is not None else None)
                for sid, data, raw, a_data, a_raw in rows
            ]
            out += [_session_stub(sid, analysis_from_row(sid, data, raw)) for sid, data, raw in orphans]
        if wanted is not None:
            position = {sid: i for i, sid in enumerate(wanted)}
            out.sort(key=lambda s: position[s.id])
        return out

    def analyses(self) -> dict[str, Analysis]:
        """Every stored analysis, by session id."""
        with self._db() as conn:
            rows = conn.execute("SELECT session_id, data, raw FROM analyses ORDER BY session_id").fetchall()
        with gc_paused():
            return {sid: analysis_from_row(sid, data, raw) for sid, data, raw in rows}

    def analyzed_ids(self) -> set[str]:
        """Ids of the sessions whose analysis is stored (what ``analyze_many`` skips)."""
        with self._db() as conn:
            return {row[0] for row in conn.execute("SELECT session_id FROM analyses")}

    def session_ids(self) -> set[str]:
        """Ids of the sessions whose details are stored (what ``fetch_many`` skips)."""
        with self._db() as conn:
            return {row[0] for row in conn.execute("SELECT id FROM sessions")}

    def sessions_frame(self, **kwargs: Any) -> pd.DataFrame:
        """``ttai_notebook.frames.sessions_frame`` of the stored sessions (pandas is imported on first use)."""
        from .frames import sessions_frame

        return sessions_frame(self, **kwargs)

    def _frame_sessions(self) -> tuple[list[Session], list[float | None], list[bool]]:
        """What ``sessions_frame`` needs, read lean: in the order of :meth:`sessions`, each session built from
        its normalised fields only (no ``raw``, no transcript, no analysis) with its stored analysis's score
        and whether one is stored, straight from SQL. A frame of 10 000 analyses then decodes no JSON."""
        with self._db() as conn:
            rows = conn.execute(
                "SELECT s.id, s.data, a.score, a.session_id IS NOT NULL FROM sessions s "
                "LEFT JOIN analyses a ON a.session_id = s.id ORDER BY s.created_at IS NULL, s.created_at, s.id"
            ).fetchall()
            orphans = conn.execute(
                "SELECT a.session_id, a.score FROM analyses a "
                "WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = a.session_id) ORDER BY a.session_id"
            ).fetchall()
        sessions: list[Session] = []
        with gc_paused():
            for _sid, data, _score, _analyzed in rows:
                fields = _decode_json(data)
                fields.pop("transcript_from_raw", None)
                sessions.append(_decode(Session, fields, _SESSION_SPECIAL, raw={}, analysis=None))
            sessions += [_session_stub(sid, None) for sid, _score in orphans]
        scores = [row[2] for row in rows] + [row[1] for row in orphans]
        analyzed = [bool(row[3]) for row in rows] + [True] * len(orphans)
        return sessions, scores, analyzed

    def __len__(self) -> int:
        """How many session ids the store knows (with details, an analysis, or both)."""
        with self._db() as conn:
            return conn.execute(
                "SELECT COUNT(*) FROM (SELECT id FROM sessions UNION SELECT session_id FROM analyses)"
            ).fetchone()[0]

    def __contains__(self, session_id: object) -> bool:
        if not isinstance(session_id, str):
            return False
        with self._db() as conn:
            return (
                conn.execute(
                    "SELECT 1 FROM sessions WHERE id = ? UNION ALL SELECT 1 FROM analyses WHERE session_id = ? LIMIT 1",
                    (session_id, session_id),
                ).fetchone()
                is not None
            )

    # ---- sync ----------------------------------------------------------------------------------

    def sync(
        self,
        client: Any,
        *,
        scenario_id: str | None = None,
        user_email: str | Iterable[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        is_org: bool = False,
        overlap: dt.timedelta | float = DEFAULT_OVERLAP,
        full: bool = False,
        progress: bool = False,
    ) -> SyncResult:
        """Bring the store up to date with the service's sessions: list only what changed since last time.

        The first sync of a filter set lists everything. Each later one lists the sessions updated since the
        filter set's high-water mark, less ``overlap`` (``client.sessions.list(updated_since=...)``, which
        the service answers from ``updated_at``), and upserts them with the analyses they carry. The mark is
        the largest timestamp *the service* wrote on what it listed (``updated_at``; where list items lack it,
        as the spec's do, ``completed_at`` / ``created_at``, which are never later), so the local clock and
        its skew play no part. A listing that fails half-way keeps the sessions it stored and leaves the mark
        where it was: the next sync lists them again.

        Parameters
        ----------
        client : Client
            A synchronous :class:`~ttai_notebook.Client` (its base URL and organisation are part of the mark,
            its token is not).
        scenario_id, user_email, metadata, is_org
            Filters, as ``client.sessions.list`` takes them. Each filter set keeps its own mark.
        overlap : timedelta or float
            How far before the mark a later sync starts (seconds or a timedelta; default 2 minutes): covers a
            session the service stamped a little before it became visible. The window is never shorter than
            the previous listing took, so an update made during a long listing is not missed.
        full : bool
            List everything again. Sessions of this filter set that the service no longer lists are reported
            (``removed``) and no longer counted in ``total``; they stay in the store (their analyses were
            paid for).
        progress : bool
            Show a progress bar (``tqdm.auto``) of sessions listed.

        Returns
        -------
        SyncResult
            Counts of new, changed and unchanged sessions (a session listed again through the overlap with
            the same content is unchanged, and is not rewritten), the total for this filter set, the
            ``updated_since`` used (``None``: a full listing) and the high-water mark.

        Notes
        -----
        A session counts as changed when its ``updated_at`` differs from the stored copy's or when any field
        the listing carries differs (the analysis included); a field the listing leaves empty says nothing,
        so a session stored from its detail is not "changed" by a list answer without the transcript, and a
        changed session keeps its stored transcript when the listing carries none. A session that changes so
        that it no longer matches the filters is not listed by an incremental sync; ``full=True`` finds it.

        Examples
        --------
        >>> import ttai_notebook as tt
        >>> client = tt.Client.sandbox(seed=0)
        >>> with tt.Store() as store:
        ...     first = store.sync(client)
        ...     again = store.sync(client)
        ...     print(first.new == first.total, again.new, again.changed, again.since is not None)
        True 0 0 True
        """
        window = check_overlap(overlap)
        filters: dict[str, Any] = {}
        if scenario_id is not None:
            filters["scenario_id"] = scenario_id
        if user_email is not None:
            filters["user_email"] = user_email if isinstance(user_email, str) else list(user_email)
        if metadata is not None:
            filters["metadata"] = dict(metadata)
        if is_org:
            filters["is_org"] = True
        key = filter_key(base_url=getattr(client, "base_url", None), org_id=getattr(client, "org_id", None), **filters)
        mark, previous_listing_s = self._read_mark(key)
        since = None if full else next_since(mark, window, previous_listing_s)
        options: dict[str, Any] = dict(filters, page_size=500)
        if since is not None:
            options["updated_since"] = since

        started = time.monotonic()
        listing = client.sessions.list(**options)
        if not hasattr(listing, "__iter__"):
            raise TypeError(
                f"Store.sync needs a synchronous Client (tt.Client / tt.connect), got {type(client).__name__}"
            )
        tally = _Tally(key)
        bar = None
        if progress:
            from tqdm.auto import tqdm  # widget in Jupyter, text in a terminal

            bar = tqdm(desc="sync", unit="session", dynamic_ncols=True)
        batch: list[Session] = []
        try:
            listed = iter(listing)
            while True:
                try:
                    session = next(listed)
                except StopIteration:
                    break
                except BaseException:
                    # The service failed (or Ctrl-C) mid-listing: keep what arrived, then let the error through.
                    # The mark is not moved, so the next sync lists these again.
                    if batch:
                        self._sync_batch(tally, batch)
                    raise
                if not isinstance(session, Session):
                    raise TypeError(f"client.sessions.list gave {type(session).__name__}, not Session")
                if session.id in tally.seen:  # a page boundary shifted by a new session: listed twice
                    continue
                tally.seen.add(_check_id(session.id, "sync"))
                batch.append(session)
                if len(batch) >= _SYNC_BATCH:
                    self._sync_batch(tally, batch)
                    batch = []
                if bar is not None:
                    bar.update(1)
            if batch:
                self._sync_batch(tally, batch)
        finally:
            close = getattr(listing, "close", None)
            if callable(close):  # stops prefetching pages if we stopped early (an error, Ctrl-C)
                close()
            if bar is not None:
                bar.close()
        listing_s = time.monotonic() - started

        with self._write() as conn:
            removed: list[str] | None = None
            if full:
                members = {row[0] for row in conn.execute(
                    "SELECT session_id FROM sync_members WHERE filter_key = ?", (key,))}
                removed = sorted(members - tally.seen)
                conn.executemany("DELETE FROM sync_members WHERE filter_key = ? AND session_id = ?",
                                 [(key, sid) for sid in removed])
            # Another kernel may have synced meanwhile: the mark only moves forward.
            stored_mark = _parse_mark(conn.execute(
                "SELECT high_water_mark FROM sync_marks WHERE filter_key = ?", (key,)).fetchone())
            # The service's clock when the listing began (its Date header) bounds what it can still change:
            # anything changed later is stamped later. List items carry no updated_at, so without it the mark
            # would lag behind the newest session created, and quiet organisations would re-list more.
            served = getattr(listing, "server_time", None)
            high = max((t for t in (stored_mark, tally.high, served) if t is not None), default=None)
            conn.execute(_UPSERT_MARK, (key, high.isoformat() if high else None, listing_s, time.time()))
            total = conn.execute("SELECT COUNT(*) FROM sync_members WHERE filter_key = ?", (key,)).fetchone()[0]
        return SyncResult(
            new=len(tally.new),
            changed=len(tally.changed),
            unchanged=tally.unchanged,
            total=total,
            since=since,
            high_water_mark=high,
            listed=len(tally.seen),
            removed=None if removed is None else len(removed),
            new_ids=tuple(tally.new),
            changed_ids=tuple(tally.changed),
            removed_ids=tuple(removed or ()),
            filters=filters,
        )

    def _read_mark(self, key: str) -> tuple[dt.datetime | None, float]:
        with self._db() as conn:
            row = conn.execute("SELECT high_water_mark, listing_s FROM sync_marks WHERE filter_key = ?",
                               (key,)).fetchone()
        return (_parse_mark(row), float(row[1])) if row else (None, 0.0)

    def _sync_batch(self, tally: _Tally, batch: list[Session]) -> None:
        """Compare one batch of listed sessions with the stored copies; write the new and changed ones."""
        ids = [s.id for s in batch]
        with self._db() as conn:
            stored: dict[str, tuple[str, str, str | None, str | None]] = {}
            for chunk in _chunks(ids, 500):  # stay under SQLite's bound-parameter limit
                marks = ",".join("?" * len(chunk))
                for sid, data, raw, a_data, a_raw in conn.execute(
                    _SELECT_SESSIONS + f" WHERE s.id IN ({marks})", chunk
                ):
                    stored[sid] = (data, raw, a_data, a_raw)
        now = time.time()
        rows, analyses = [], []
        with gc_paused():
            for session in batch:
                stamp = service_time(session)
                if stamp is not None and (tally.high is None or stamp > tally.high):
                    tally.high = stamp
                row = session_row(session, now)
                previous = stored.get(session.id)
                if previous is None:
                    tally.new.append(session.id)
                else:
                    data, raw, a_data, a_raw = previous
                    if raw == row[6]:  # the very JSON stored: by far the common case of an overlap
                        tally.unchanged += 1
                        continue
                    old = session_from_row(
                        data, raw, analysis_from_row(session.id, a_data, a_raw) if a_data is not None else None
                    )
                    if not differs(old, session):
                        tally.unchanged += 1
                        continue
                    tally.changed.append(session.id)
                    if session.transcript is None and old.transcript:
                        # A listing carries no transcript, and a finished session's transcript does not change.
                        session = dataclasses.replace(session, transcript=old.transcript)
                        row = session_row(session, now)
                rows.append(row)
                if _storable(session.analysis):
                    analyses.append(analysis_row(session.id, session.analysis, now))  # type: ignore[arg-type]
        with self._write() as conn:
            if rows:
                conn.executemany(_UPSERT_SESSION, rows)
            if analyses:
                conn.executemany(_UPSERT_ANALYSIS, analyses)
            conn.executemany(_ADD_MEMBER, [(tally.key, sid) for sid in ids])

    # ---- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file (idempotent). Later calls raise :class:`StoreError`."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._conn is None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "in memory" if self._path is None else repr(str(self._path))
        if self._conn is None:
            return f"Store({where}, closed)"
        with self._db() as conn:
            n_sessions = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
            n_analyses = conn.execute("SELECT COUNT(*) FROM analyses").fetchone()[0]
        return f"Store({where}, sessions={n_sessions}, analyses={n_analyses})"


@dataclasses.dataclass
class _Tally:
    """What one sync has seen so far (filled batch by batch)."""

    key: str
    seen: set[str] = dataclasses.field(default_factory=set)
    new: list[str] = dataclasses.field(default_factory=list)
    changed: list[str] = dataclasses.field(default_factory=list)
    unchanged: int = 0
    high: dt.datetime | None = None


def _parse_mark(row: tuple[Any, ...] | None) -> dt.datetime | None:
    if row is None or row[0] is None:
        return None
    return dt.datetime.fromisoformat(row[0])


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
