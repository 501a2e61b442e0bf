"""The resumable results store of the benchmark harness (SQLite, standard library).

One SQLite file (default ``results/crl.sqlite``) holds every finished task of every sweep
written to it. The runner computes a task's key with :func:`task_key`, skips the keys in
:meth:`ResultsStore.finished_keys`, and hands each finished task to
:meth:`ResultsStore.record`, which writes it in one transaction.

The resolved task config that keys a task (:func:`task_config`) and the task keys
themselves are described in :mod:`benchmarks.keys`; the table layout lives in
``benchmarks._schema``. Their public names are re-exported here.

Storage
-------
Tables ``meta`` (``key``/``value``: ``format = "crl-results-v1"``, ``schema_version``),
``tasks`` (one row per task) and ``metrics`` (one row per task and metric), and the view
``results`` (``tasks LEFT JOIN metrics``): one row per task and metric with columns
:data:`RESULT_COLUMNS`; a task without metric rows (a failed task) appears once with
``metric`` NULL. Config and package versions are stored once per task rather than once
per metric row; queries and exports read the ``results`` view.

Durability and concurrency
--------------------------
The file runs in WAL mode with ``synchronous=NORMAL`` and a busy timeout. Each task is
written in one transaction (all its rows or none), so a killed process loses at most the
tasks in flight, and readers (``ResultsStore(path, readonly=True)``, ``crl bench report``)
can read while a sweep writes. The intended pattern is a single writer: the process that
owns the :class:`ResultsStore` (the runner's parent process) writes, and workers (process
pool or dask) return their results to it. Several writer processes are still safe --
SQLite serializes their transactions -- but one that waits longer than the busy timeout
gets a :class:`StoreError`.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import numbers
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._schema import (
    _FILTERS,
    _JSON_COLUMNS,
    _ORDER,
    _PARQUET_TYPES,
    _SELECT,
    DEFAULT_PATH,
    FORMAT,
    RESULT_COLUMNS,
    SCHEMA_VERSION,
    STATUSES,
    StoreError,
    _connect,
    _initialize,
    _probe,
    _store_error,
)
from benchmarks.keys import (
    KEY_LENGTH,
    _check_config,
    _dumps,
    _jsonable,
    _task_columns,
    package_versions,
    task_config,
    task_key,
)
from crl.exceptions import UnknownNameError, ValidationError
from crl.validation import check_choice

__all__ = [
    "DEFAULT_PATH",
    "FORMAT",
    "KEY_LENGTH",
    "RESULT_COLUMNS",
    "SCHEMA_VERSION",
    "STATUSES",
    "ResultsStore",
    "StoreError",
    "package_versions",
    "task_config",
    "task_key",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- values


def _metric_value(value: Any, where: str) -> float | None:
    """A metric value as a float, or ``None`` (SQL NULL) for None and NaN."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if value is None:
        return None
    if not isinstance(value, numbers.Real):
        raise ValidationError(f"{where}: expected a real number or None, got "
                              f"{type(value).__name__} ({value!r})")
    value = float(value)
    return None if math.isnan(value) else value


def _duration(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(f"{name}: expected a number >= 0 or None, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value >= 0):
        raise ValidationError(f"{name}: expected a finite number >= 0 or None, got {value}")
    return value


def _json_column(value: str | None) -> Any:
    return None if value is None else json.loads(value)


# --------------------------------------------------------------------------- the store


class ResultsStore:
    """SQLite file of benchmark results: one row per task and metric, resumable.

    Parameters
    ----------
    path : str or path-like
        The file; created (with its parent directories) when missing, unless
        ``readonly``. A 0-byte file or a SQLite database without any table is
        initialized; any other existing file must be a results store.
    readonly : bool
        Open for reading only (reports, or reading while a sweep writes); ``record``
        then raises :class:`StoreError`. The file must exist. Like any SQLite reader of a
        WAL file, it may leave empty ``-wal``/``-shm`` files beside it (the next writer
        removes them); the database file itself is never written.
    timeout : float
        Seconds to wait for a lock held by another connection before raising
        :class:`StoreError` (the SQLite busy timeout).

    Raises
    ------
    StoreError
        The file is not SQLite, is a SQLite database of another application, is
        corrupted, was written by a newer schema, or is locked. Such a file is not
        modified.

    Notes
    -----
    Use as a context manager, or call :meth:`close`. One instance may be shared by the
    threads of a process (calls are serialized by a lock); for other processes see the
    module docstring: workers return their results, the owner records them.

    Examples
    --------
    >>> with ResultsStore(tmp / "crl.sqlite") as store:  # doctest: +SKIP
    ...     config = task_config(scenario="rlcd", learner="rlcd", seed=0)
    ...     key = task_key(config)
    ...     if key not in store.finished_keys():
    ...         store.record(key, config=config, metrics={"shd": 2.0}, wall_s=1.5)
    """

    def __init__(self, path: str | os.PathLike = DEFAULT_PATH, *, readonly: bool = False,
                 timeout: float = 30.0) -> None:
        self._path = Path(path)
        self._readonly = bool(readonly)
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ValidationError(f"timeout: expected a number of seconds >= 0, got {timeout!r}")
        self._timeout = float(timeout)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        state = _probe(self._path, self._timeout)
        if self._readonly:
            if state != "store":
                raise StoreError(
                    f"{self._path}: cannot open read-only: "
                    + ("the file does not exist" if state == "missing"
                       else "the file has no results schema yet (expected a crl results "
                            f"store, format {FORMAT!r})")
                )
            self._conn = _connect(self._path, self._timeout, readonly=True)
        else:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = _connect(self._path, self._timeout, readonly=False)
            try:
                _initialize(self._conn, self._path, self._timeout)
            except BaseException:
                self._conn.close()
                self._conn = None
                raise
        logger.debug("opened results store %s (%s)", self._path,
                     "read-only" if self._readonly else "read-write")

    # ------------------------------------------------------------------ opening

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    @property
    def readonly(self) -> bool:
        """Whether this store was opened read-only."""
        return self._readonly

    def _fail(self, action: str, exc: sqlite3.Error) -> StoreError:
        """Translate a sqlite3 error into a StoreError that names the file."""
        return _store_error(self._path, self._timeout, action, exc)

    # ------------------------------------------------------------------ life cycle

    def close(self) -> None:
        """Close the connection (idempotent); later calls raise :class:`StoreError`."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
                logger.debug("closed results store %s", self._path)

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else ("read-only" if self._readonly else "open")
        return f"ResultsStore({str(self._path)!r}, {state})"

    def _open_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self._path}: the results store is closed")
        return self._conn

    @contextlib.contextmanager
    def _transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """One write transaction: commit on success, roll back on any exception."""
        with self._lock:
            conn = self._open_conn()
            if self._readonly:
                raise StoreError(f"{self._path}: cannot {action}: the store was opened "
                                 f"read-only")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._fail(action, exc) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._fail(action, exc) from exc
                raise

    def _query(self, action: str, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            conn = self._open_conn()
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._fail(action, exc) from exc

    # ------------------------------------------------------------------ writing

    def record(
        self,
        key: str | None,
        *,
        config: Mapping[str, Any],
        metrics: Mapping[str, Any] | None = None,
        null: Mapping[str, Any] | None = None,
        status: str = "ok",
        error: str | None = None,
        wall_s: float | None,
        peak_mem_mb: float | None = None,
        versions: Mapping[str, Any] | None = None,
        artifacts: Mapping[str, Any] | None = None,
    ) -> str:
        """Write one finished task: all its rows in one transaction, or nothing.

        Parameters
        ----------
        key : str or None
            The task key, normally ``task_key(config)`` (computed when ``None``).
        config : mapping
            The resolved task config (:mod:`benchmarks.keys`); needs ``scenario``,
            ``learner`` and ``seed``, and fills the ``suite``, ``params`` and ``config`` columns.
        metrics : mapping of str to float, or None
            Metric name -> score; ``None`` and NaN are stored as NULL. Must be empty for a
            failed task (``status`` other than ``"ok"``), which is stored as one row with
            ``metric`` NULL.
        null : mapping of str to float, or None
            Null-baseline score per metric (``null_value`` column); NaN is stored as NULL.
            A name missing from ``metrics`` gets a row with ``value`` NULL. Must be empty
            for a failed task.
        status : {"ok", "error", "timeout"}
            Outcome of the task.
        error : str or None
            Error text (traceback, timeout message) of a failed task.
        wall_s : float or None
            Wall-clock seconds of the task.
        peak_mem_mb : float or None
            Peak memory of the task in MiB, where measured.
        versions : mapping or None
            Package versions of the process that ran the task (a worker's
            :func:`package_versions`); ``None`` records this process's.
        artifacts : mapping of str to JSON-able, or None
            Small named by-products of the task (e.g. the true and estimated
            graphs as node-link data), stored as JSON and read back with
            :meth:`artifacts`.

        Returns
        -------
        str
            The key written.

        Raises
        ------
        ValidationError, UnknownNameError
            A bad argument; nothing is written.
        StoreError
            The write failed (locked, closed, read-only, disk full); nothing is written.

        Notes
        -----
        Recording a key that is already stored replaces that task: the old rows are
        deleted and the new ones inserted in the same transaction, so readers see either
        the old task or the new one, never a mix. Everything is validated and converted
        before the transaction starts.
        """
        config = _jsonable(_check_config(config), "config", for_key=False)
        suite, scenario, learner, params, seed = _task_columns(config)
        if key is None:
            key = task_key(config)
        if not isinstance(key, str) or not key:
            raise ValidationError(f"key: expected a non-empty str, got {key!r}")
        status = check_choice(status, "status", STATUSES)
        if error is not None and not isinstance(error, str):
            raise ValidationError(f"error: expected a str or None, got {type(error).__name__}")
        wall_s = _duration(wall_s, "wall_s")
        peak_mem_mb = _duration(peak_mem_mb, "peak_mem_mb")
        if metrics is None:
            metrics = {}
        if not isinstance(metrics, Mapping):
            raise ValidationError(f"metrics: expected a mapping of metric name to number, got "
                                  f"{type(metrics).__name__}")
        scores = {}
        for name, value in metrics.items():
            if not isinstance(name, str) or not name:
                raise ValidationError(f"metrics: expected non-empty str names, got {name!r}")
            scores[name] = _metric_value(value, f"metrics[{name!r}]")
        nulls = {}
        if null is not None:
            if not isinstance(null, Mapping):
                raise ValidationError(f"null: expected a mapping of metric name to number or "
                                      f"None, got {type(null).__name__}")
            for name, value in null.items():
                if not isinstance(name, str) or not name:
                    raise ValidationError(f"null: expected non-empty str names, got {name!r}")
                nulls[name] = _metric_value(value, f"null[{name!r}]")
                scores.setdefault(name, None)
        if scores and status != "ok":
            raise ValidationError(f"metrics, null: a task with status {status!r} has no "
                                  f"metrics, got {sorted(scores)}")
        versions = package_versions() if versions is None else versions
        if not isinstance(versions, Mapping):
            raise ValidationError(f"versions: expected a mapping, got {type(versions).__name__}")
        task_row = (
            key, suite, scenario, learner, _dumps(params), seed, status, error, wall_s,
            peak_mem_mb, _dumps(config), _dumps(_jsonable(versions, "versions", for_key=False)),
            datetime.now(UTC).isoformat(timespec="milliseconds"),
        )
        metric_rows = [(key, name, value, nulls.get(name)) for name, value in scores.items()]
        if artifacts is not None and not isinstance(artifacts, Mapping):
            raise ValidationError(f"artifacts: expected a mapping, got {type(artifacts).__name__}")
        artifact_rows = [
            (key, str(name), _dumps(_jsonable(value, f"artifacts[{name!r}]", for_key=False)))
            for name, value in (artifacts or {}).items()
        ]

        with self._transaction(f"record task {key}") as conn:
            conn.execute("DELETE FROM artifacts WHERE key = ?", (key,))
            replaced = conn.execute("DELETE FROM metrics WHERE key = ?", (key,)).rowcount
            replaced += conn.execute("DELETE FROM tasks WHERE key = ?", (key,)).rowcount
            conn.execute(
                "INSERT INTO tasks (key, suite, scenario, learner, params, seed, status, "
                "error, wall_s, peak_mem_mb, config, versions, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                task_row,
            )
            conn.executemany(
                "INSERT INTO metrics (key, metric, value, null_value) VALUES (?, ?, ?, ?)",
                metric_rows,
            )
            conn.executemany("INSERT INTO artifacts (key, name, data) VALUES (?, ?, ?)", artifact_rows)
        if replaced:
            logger.info("%s: replaced task %s", self._path, key)
        return key

    # ------------------------------------------------------------------ reading

    def artifacts(self, key: str) -> dict[str, Any]:
        """The artifacts recorded with task ``key`` (name -> decoded JSON); empty if none."""
        rows = self._query(f"read artifacts of {key}", "SELECT name, data FROM artifacts WHERE key = ? ORDER BY name", (key,))
        return {name: json.loads(data) for name, data in rows}

    def finished_keys(self, *, include_failed: bool = False) -> set[str]:
        """Keys of the stored tasks that a resumed sweep skips.

        Parameters
        ----------
        include_failed : bool
            Also return tasks with status ``"error"`` or ``"timeout"``. By default they
            are left out, so a resumed sweep retries them (and its ``record`` replaces
            the failed row).

        Returns
        -------
        set of str
        """
        where = "" if include_failed else " WHERE status = 'ok'"
        return {row[0] for row in self._query("list finished tasks",
                                              "SELECT key FROM tasks" + where)}

    def _where(self, filters: Mapping[str, Any]) -> tuple[str, tuple]:
        clauses, params = [], []
        for name, value in filters.items():
            if name not in _FILTERS:
                raise UnknownNameError(f"filter {name!r}: expected one of {', '.join(_FILTERS)}")
            column = ("m." if name == "metric" else "t.") + name
            if value is None:
                clauses.append(f"{column} IS NULL")
            elif isinstance(value, (list, tuple, set, frozenset)):
                values = list(value)
                if not values:
                    clauses.append("0")
                else:
                    clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                    params.extend(_jsonable(v, f"{name}", for_key=False) for v in values)
            else:
                clauses.append(f"{column} = ?")
                params.append(_jsonable(value, name, for_key=False))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)

    def rows(self, **filters: Any) -> list[dict[str, Any]]:
        """Result rows (one per task and metric), in recording order.

        Parameters
        ----------
        **filters
            Column equalities on ``key``, ``suite``, ``scenario``, ``learner``, ``seed``,
            ``metric`` or ``status``; a list/tuple/set means "any of", ``None`` means NULL
            (``metric=None`` selects failed tasks).

        Returns
        -------
        list of dict
            Keys :data:`RESULT_COLUMNS`; ``params``, ``config`` and ``versions`` parsed
            from JSON, NULL as ``None``.
        """
        where, params = self._where(filters)
        out = []
        for row in self._query("read results", _SELECT + where + _ORDER, params):
            item = dict(zip(RESULT_COLUMNS, row))
            for name in _JSON_COLUMNS:
                item[name] = _json_column(item[name])
            out.append(item)
        return out

    def to_frame(self, *, expand_params: bool = False, **filters: Any):
        """Result rows as a pandas DataFrame (columns :data:`RESULT_COLUMNS`).

        Parameters
        ----------
        expand_params : bool
            Add one column per parameter, ``scenario.<name>`` and ``learner.<name>``
            (nested mappings flattened with dots), for plots against sample size etc.
        **filters
            As in :meth:`rows`.

        Returns
        -------
        pandas.DataFrame
            NULL scores are NaN; ``params``, ``config`` and ``versions`` stay JSON text.
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas comes with causal-learn
            raise ImportError("ResultsStore.to_frame needs pandas (pip install pandas)") from exc
        where, params = self._where(filters)
        records = self._query("read results", _SELECT + where + _ORDER, params)
        frame = pd.DataFrame.from_records(records, columns=list(RESULT_COLUMNS))
        for name in ("value", "null_value", "wall_s", "peak_mem_mb"):
            frame[name] = frame[name].astype("float64")
        if expand_params and len(frame):
            flat = pd.json_normalize([json.loads(p) for p in frame["params"]], sep=".")
            flat.index = frame.index
            frame = pd.concat([frame, flat], axis=1)
        return frame

    def summary(self) -> dict[str, int]:
        """Number of stored tasks per status: ``{"ok": n, "error": n, "timeout": n}``."""
        counts = dict.fromkeys(STATUSES, 0)
        for status, n in self._query("count tasks",
                                     "SELECT status, count(*) FROM tasks GROUP BY status"):
            counts[status] = int(n)
        return counts

    def integrity_check(self) -> None:
        """Run SQLite's full integrity check; raise :class:`StoreError` on any problem."""
        problems = [row[0] for row in self._query("check integrity", "PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise StoreError(f"{self._path}: the file is corrupted: {'; '.join(problems[:5])}")

    # ------------------------------------------------------------------ exports

    @contextlib.contextmanager
    def _atomic_output(self, path: str | os.PathLike, mode: str) -> Iterator[tuple[Path, Any]]:
        """Write to a temporary file next to ``path`` and move it into place on success."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with open(fd, mode, **({"newline": "", "encoding": "utf-8"} if "b" not in mode
                                    else {})) as fh:
                yield Path(tmp), fh
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def export_csv(self, path: str | os.PathLike, **filters: Any) -> Path:
        """Write the result rows to a CSV file (header :data:`RESULT_COLUMNS`).

        Parameters
        ----------
        path : str or path-like
            Output file; replaced atomically (a failed export leaves no partial file).
        **filters
            As in :meth:`rows`.

        Returns
        -------
        pathlib.Path
            ``path``. NULL is written as an empty field, JSON columns as JSON text,
            floats with ``repr`` precision.
        """
        where, params = self._where(filters)
        with self._lock, self._atomic_output(path, "w") as (_, fh):
            writer = csv.writer(fh)
            writer.writerow(RESULT_COLUMNS)
            conn = self._open_conn()
            try:
                cursor = conn.execute(_SELECT + where + _ORDER, params)
                while batch := cursor.fetchmany(1000):
                    writer.writerows(batch)
            except sqlite3.Error as exc:
                raise self._fail("export CSV", exc) from exc
        return Path(path)

    def export_parquet(self, path: str | os.PathLike, **filters: Any) -> Path:
        """Write the result rows to a Parquet file (needs pyarrow, the ``parquet`` extra).

        Parameters
        ----------
        path : str or path-like
            Output file; replaced atomically.
        **filters
            As in :meth:`rows`.

        Returns
        -------
        pathlib.Path
            ``path``. Columns :data:`RESULT_COLUMNS`; scores, times and memory as float64
            (NULL as null), ``seed`` as int64, the rest as strings (JSON text for params,
            config and versions).

        Raises
        ------
        ImportError
            pyarrow is not installed; the message names the ``parquet`` extra.
        """
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ImportError(
                "ResultsStore.export_parquet needs pyarrow, which is not installed; install "
                "the 'parquet' extra (pip install 'crl-toolkit[parquet]') or use export_csv"
            ) from exc
        where, params = self._where(filters)
        records = self._query("export Parquet", _SELECT + where + _ORDER, params)
        schema = pa.schema([(name, pa.type_for_alias(_PARQUET_TYPES.get(name, "string")))
                            for name in RESULT_COLUMNS])
        columns = list(zip(*records)) if records else [()] * len(RESULT_COLUMNS)
        table = pa.table([pa.array(list(col), type=field.type)
                          for col, field in zip(columns, schema)], schema=schema)
        with self._atomic_output(path, "wb") as (_, fh):
            pq.write_table(table, fh)
        return Path(path)
