"""Layout and opening of the results file (private to :mod:`benchmarks.store`).

The table schema, the column and filter constants, the format marker, and the helpers
that check, open and initialize a file given only its path and busy timeout (they need no
:class:`~benchmarks.store.ResultsStore`). :class:`StoreError` is defined here so that
these helpers can raise it without importing :mod:`benchmarks.store`; import it, like
every public name here, from :mod:`benchmarks.store`.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.keys import _versions
from crl.exceptions import CRLError

__all__ = [
    "DEFAULT_PATH",
    "FORMAT",
    "RESULT_COLUMNS",
    "SCHEMA_VERSION",
    "STATUSES",
    "StoreError",
]

logger = logging.getLogger(__name__)

#: Where ``ResultsStore()`` puts its file (relative to the working directory).
DEFAULT_PATH = Path("results") / "crl.sqlite"
#: Value of ``meta.format`` that marks a file as a results store.
FORMAT = "crl-results-v1"
#: Version of the table layout; a file with a newer version is refused.
SCHEMA_VERSION = 1
#: Valid task statuses.
STATUSES = ("ok", "error", "timeout")
#: Columns of the ``results`` view, of :meth:`~benchmarks.store.ResultsStore.rows` and of
#: the exports.
RESULT_COLUMNS = (
    "key",
    "suite",
    "scenario",
    "learner",
    "params",
    "seed",
    "metric",
    "value",
    "null_value",
    "status",
    "error",
    "wall_s",
    "peak_mem_mb",
    "config",
    "versions",
    "created_at",
)
_JSON_COLUMNS = ("params", "config", "versions")
_FILTERS = ("key", "suite", "scenario", "learner", "seed", "metric", "status")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_PARQUET_TYPES = {"seed": "int64", "value": "float64", "null_value": "float64",
                  "wall_s": "float64", "peak_mem_mb": "float64"}

_SCHEMA = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE tasks (
    key TEXT PRIMARY KEY,
    suite TEXT,
    scenario TEXT NOT NULL,
    learner TEXT NOT NULL,
    params TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'timeout')),
    error TEXT,
    wall_s REAL,
    peak_mem_mb REAL,
    config TEXT NOT NULL,
    versions TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX tasks_status ON tasks (status);
CREATE TABLE metrics (
    key TEXT NOT NULL REFERENCES tasks (key) ON DELETE CASCADE,
    metric TEXT NOT NULL,
    value REAL,
    null_value REAL,
    PRIMARY KEY (key, metric)
) WITHOUT ROWID;
CREATE TABLE artifacts (
    key TEXT NOT NULL REFERENCES tasks (key) ON DELETE CASCADE,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (key, name)
) WITHOUT ROWID;
CREATE VIEW results AS
SELECT t.key, t.suite, t.scenario, t.learner, t.params, t.seed, m.metric, m.value,
       m.null_value, t.status, t.error, t.wall_s, t.peak_mem_mb, t.config, t.versions,
       t.created_at
FROM tasks AS t LEFT JOIN metrics AS m ON m.key = t.key;
"""
_TABLES = frozenset({"meta", "tasks", "metrics", "artifacts", "results"})
_SELECT = (
    "SELECT t.key, t.suite, t.scenario, t.learner, t.params, t.seed, m.metric, m.value, "
    "m.null_value, t.status, t.error, t.wall_s, t.peak_mem_mb, t.config, t.versions, "
    "t.created_at FROM tasks AS t LEFT JOIN metrics AS m ON m.key = t.key"
)
_ORDER = " ORDER BY t.rowid, m.metric"


class StoreError(CRLError):
    """The results file is not usable: foreign, corrupted, locked, newer, closed or read-only.

    The message names the file and what was expected. Raised before anything is written,
    so the file is left as it was.
    """
    # Public home: tracebacks, pickles and docs name it benchmarks.store.StoreError.
    __module__ = "benchmarks.store"


# --------------------------------------------------------------------------- opening


def _store_error(path: Path, timeout: float, action: str, exc: sqlite3.Error) -> StoreError:
    """Translate a sqlite3 error into a StoreError that names the file."""
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return StoreError(
            f"{path}: {action}: the file is locked by another connection and "
            f"stayed locked for the busy timeout ({timeout:g} s); only one process "
            f"should write a results store (workers return results to the owner)"
        )
    if "malformed" in low or "not a database" in low or "corrupt" in low:
        return StoreError(
            f"{path}: {action}: the file is corrupted ({text}); expected an intact "
            f"crl results store ({FORMAT!r}). Restore it from a copy or use another path"
        )
    return StoreError(f"{path}: {action} failed: {text}")


def _probe(path: Path, timeout: float) -> str:
    """Classify the file without writing to it: missing, empty or store (else raise)."""
    if not path.exists():
        return "missing"
    if not path.is_file():
        raise StoreError(f"{path}: expected a SQLite results file, found a directory or "
                         f"special file")
    try:
        with open(path, "rb") as fh:
            header = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the file: {exc}") from exc
    if not header:
        return "empty"
    if header != _SQLITE_MAGIC:
        raise StoreError(
            f"{path}: not a SQLite database (the file does not start with the SQLite "
            f"header); expected a crl results store ({FORMAT!r}) or a path that does "
            f"not exist yet. The file was left unchanged"
        )
    # Without a -wal file no connection is open and the main file holds everything:
    # read it as immutable, which creates no -wal/-shm files beside a foreign or broken
    # file. With one (a live writer, or a killed one), read through it.
    wal = path.with_name(path.name + "-wal")
    mode = "ro" if wal.exists() else "ro&immutable=1"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True,
                               timeout=timeout)
    except sqlite3.Error as exc:
        raise _store_error(path, timeout, "open for inspection", exc) from exc
    try:
        return _check_schema(conn, path)
    except sqlite3.Error as exc:
        raise _store_error(path, timeout, "read the schema", exc) from exc
    finally:
        conn.close()


def _check_schema(conn: sqlite3.Connection, path: Path) -> str:
    """``"empty"`` (no table) or ``"store"`` (our marker); raise on anything else."""
    names = {row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    if not names:
        return "empty"
    expected = (f"expected a crl results store (a 'meta' table with format = {FORMAT!r} "
                f"and schema_version = {SCHEMA_VERSION})")
    if "meta" not in names:
        raise StoreError(
            f"{path}: a SQLite database of another application (tables: "
            f"{', '.join(sorted(names))}); {expected}. The file was left unchanged"
        )
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: its 'meta' table is not ours ({exc}); {expected}. "
                         f"The file was left unchanged") from exc
    if meta.get("format") != FORMAT:
        raise StoreError(f"{path}: meta.format is {meta.get('format')!r}; {expected}. "
                         f"The file was left unchanged")
    try:
        version = int(meta.get("schema_version", ""))
    except ValueError:
        version = None
    if version is None or version < 1:
        raise StoreError(f"{path}: meta.schema_version is "
                         f"{meta.get('schema_version')!r}; {expected}")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: written with results schema version {version}, newer than "
            f"this toolkit reads ({SCHEMA_VERSION}); upgrade crl-toolkit to read it"
        )
    missing = _TABLES - names
    if missing:
        raise StoreError(f"{path}: the results schema is incomplete (missing "
                         f"{', '.join(sorted(missing))}); {expected}")
    return "store"


def _journal_mode_wal(conn: sqlite3.Connection, timeout: float) -> str:
    """Switch to WAL, retrying while another process holds the lock.

    SQLite can answer a journal-mode change with "database is locked" at once,
    without calling the busy handler, when another connection is creating or
    writing the same new file; so the busy timeout alone does not cover it.
    """
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        try:
            return conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(2 * pause, 0.25)


def _connect(path: Path, timeout: float, *, readonly: bool) -> sqlite3.Connection:
    try:
        if readonly:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=timeout, isolation_level=None,
                                   check_same_thread=False)
        else:
            conn = sqlite3.connect(path, timeout=timeout,
                                   isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _store_error(path, timeout, "open", exc) from exc
    if readonly:
        return conn
    try:
        mode = _journal_mode_wal(conn, timeout)
        if str(mode).lower() != "wal":
            logger.warning("%s: could not switch to WAL mode (journal_mode=%s); writes "
                           "stay transactional but readers may wait for writers",
                           path, mode)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        conn.close()
        raise _store_error(path, timeout, "configure", exc) from exc
    return conn


def _initialize(conn: sqlite3.Connection, path: Path, timeout: float) -> None:
    """Create the schema in a new/empty file (one transaction), or check it again."""
    try:
        if _check_schema(conn, path) == "store":
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _check_schema(conn, path) == "empty":  # another process may have won
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)),
                     ("created_at", datetime.now(UTC).isoformat(timespec="seconds")),
                     ("created_by", dict(_versions()).get("crl-toolkit", "unknown"))],
                )
                logger.info("created results store %s", path)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise _store_error(path, timeout, "initialize", exc) from exc
