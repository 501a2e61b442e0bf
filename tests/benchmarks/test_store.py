"""Tests of the SQLite results store: real files, real SQLite, real processes."""

from __future__ import annotations

import collections
import csv
import hashlib
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.store import (
    FORMAT,
    KEY_LENGTH,
    RESULT_COLUMNS,
    ResultsStore,
    StoreError,
    package_versions,
    task_config,
    task_key,
)
from crl.exceptions import CRLError, UnknownNameError, ValidationError

REPO = Path(__file__).resolve().parents[2]


def _config(seed=0, **scenario_params):
    return task_config(
        suite="unit",
        scenario="rlcd_random",
        scenario_params={"n_samples": 500, **scenario_params},
        learner="rlcd",
        learner_params={"alpha": 0.01},
        seed=seed,
        evaluate={"null_draws": 10},
    )


def _record(store, seed=0, metrics=None, **kwargs):
    config = _config(seed)
    kwargs.setdefault("wall_s", 1.5)
    kwargs.setdefault("peak_mem_mb", 12.0)
    return store.record(task_key(config), config=config,
                        metrics={"shd": 2.0, "f1": 0.75} if metrics is None else metrics,
                        **kwargs)


def _checksum(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _subprocess_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


def _metric_counts(store) -> dict[str, int]:
    return collections.Counter(row["key"] for row in store.rows())


# ------------------------------------------------------------------------ task keys


def test_task_key_ignores_key_order_and_equal_representations():
    a = {"suite": "s", "scenario": "x", "learner": "y", "seed": 3,
         "scenario_params": {"n": 100, "noise": 0.5, "dims": (2, 3)},
         "learner_params": {"alpha": 1.0, "flags": ["a", "b"]}}
    b = {"learner_params": {"flags": ("a", "b"), "alpha": 1},
         "seed": np.int64(3), "learner": "y",
         "scenario_params": {"dims": np.array([2, 3]), "noise": np.float64(0.5), "n": 100},
         "scenario": "x", "suite": "s"}
    key = task_key(a)
    assert key == task_key(b) == task_key(dict(a))
    assert len(key) == KEY_LENGTH and int(key, 16) >= 0
    assert task_key({"x": -0.0}) == task_key({"x": 0})
    # Stable across runs and platforms: a change here invalidates every existing store.
    assert task_key({"seed": 1, "scenario": "x", "p": [0.1, None, True]}) == \
        "771e79dcef517ca679e5"


def test_task_key_differs_when_results_would():
    base = _config(seed=0)
    assert task_key(base) != task_key(_config(seed=1))
    assert task_key(base) != task_key(_config(seed=0, n_samples=501))
    assert task_key({"flag": True}) != task_key({"flag": 1})
    assert task_key({"v": 0.1}) != task_key({"v": 0.1000000001})


@pytest.mark.parametrize("config, where", [
    ({"p": object()}, "config['p']"),
    ({"p": {1: "a"}}, "config['p']"),
    ([("seed", 1)], "config"),
])
def test_task_key_rejects_non_json_configs(config, where):
    with pytest.raises(ValidationError, match=f"^{__import__('re').escape(where)}"):
        task_key(config)


def test_task_config_layout_and_validation():
    config = _config(seed=np.int32(4))
    assert config == {
        "suite": "unit", "scenario": "rlcd_random", "learner": "rlcd", "seed": 4,
        "scenario_params": {"n_samples": 500}, "learner_params": {"alpha": 0.01},
        "evaluate": {"null_draws": 10},
    }
    assert type(config["seed"]) is int
    with pytest.raises(ValidationError, match="config\\['seed'\\]"):
        task_config(scenario="x", learner="y", seed=1.5)
    with pytest.raises(ValidationError, match="config\\['scenario'\\]"):
        task_config(scenario="", learner="y", seed=1)


# ------------------------------------------------------------------------ round trip


def test_round_trip_rows_filters_and_reopen(tmp_path):
    path = tmp_path / "deep" / "dir" / "crl.sqlite"
    with ResultsStore(path) as store:
        k0 = _record(store, 0, null={"shd": 5.0}, versions={"numpy": "2.0"})
        k1 = _record(store, 1, metrics={"shd": np.float32(1.0)})
        assert store.summary() == {"ok": 2, "error": 0, "timeout": 0}
        rows = store.rows()
    assert [(r["key"], r["metric"]) for r in rows] == [(k0, "f1"), (k0, "shd"), (k1, "shd")]
    first = rows[1]
    assert set(first) == set(RESULT_COLUMNS)
    assert first["suite"] == "unit" and first["scenario"] == "rlcd_random"
    assert first["learner"] == "rlcd" and first["seed"] == 0
    assert first["value"] == 2.0 and first["null_value"] == 5.0 and rows[0]["null_value"] is None
    assert first["status"] == "ok" and first["error"] is None
    assert first["wall_s"] == 1.5 and first["peak_mem_mb"] == 12.0
    assert first["params"] == {"scenario": {"n_samples": 500}, "learner": {"alpha": 0.01}}
    assert first["config"] == _config(0)
    assert first["versions"] == {"numpy": "2.0"}
    assert rows[2]["versions"] == package_versions()
    assert first["created_at"].endswith("+00:00")
    assert all(task_key(r["config"]) == r["key"] for r in rows)  # stored config re-keys

    with ResultsStore(path) as store:  # reopened: same content
        assert store.rows() == rows
        assert store.finished_keys() == {k0, k1}
        assert [r["key"] for r in store.rows(seed=1)] == [k1]
        assert len(store.rows(metric=["shd", "missing"])) == 2
        assert store.rows(learner="other") == [] and store.rows(seed=[]) == []
        with pytest.raises(UnknownNameError, match="filter 'value'"):
            store.rows(value=2.0)
        frame = store.to_frame(expand_params=True, metric="shd")
        assert list(frame.columns[:len(RESULT_COLUMNS)]) == list(RESULT_COLUMNS)
        assert frame["scenario.n_samples"].tolist() == [500, 500]
        assert frame["learner.alpha"].tolist() == [0.01, 0.01]
        assert frame["value"].tolist() == [2.0, 1.0]


def test_default_path_and_schema_marker(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with ResultsStore() as store:
        _record(store)
        assert store.path == Path("results/crl.sqlite")
    conn = sqlite3.connect(tmp_path / "results" / "crl.sqlite")
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        assert meta["format"] == FORMAT and meta["schema_version"] == "1"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        view = conn.execute("SELECT * FROM results").fetchall()
        assert [d[0] for d in conn.execute("SELECT * FROM results").description] == \
            list(RESULT_COLUMNS)
        assert len(view) == 2
    finally:
        conn.close()


def test_failed_tasks_one_null_metric_row_and_resume(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        ok = _record(store, 0)
        err = _record(store, 1, metrics={}, status="error", error="Traceback ...: boom")
        slow = _record(store, 2, metrics={}, status="timeout", error="timed out after 60 s",
                       peak_mem_mb=None)
        assert store.finished_keys() == {ok}
        assert store.finished_keys(include_failed=True) == {ok, err, slow}
        assert store.summary() == {"ok": 1, "error": 1, "timeout": 1}
        failed = store.rows(metric=None)
        assert [(r["key"], r["status"], r["value"]) for r in failed] == [
            (err, "error", None), (slow, "timeout", None)]
        assert failed[0]["error"] == "Traceback ...: boom"
        # A resumed sweep retries the failure; recording it replaces the failed row.
        _record(store, 1, metrics={"shd": 0.0})
        assert [(r["status"], r["metric"]) for r in store.rows(key=err)] == [("ok", "shd")]
        assert store.finished_keys() == {ok, err}
        with pytest.raises(ValidationError, match="status 'error' has no metrics"):
            _record(store, 3, metrics={"shd": 1.0}, status="error")
        with pytest.raises(UnknownNameError):
            _record(store, 3, status="crashed")


def test_null_only_metric_and_runner_style_config(tmp_path):
    # The layout of benchmarks.suites.expand: labels, tuples, an "evaluate" table.
    config = {"suite": "quick", "scenario": "linear_cd", "scenario_label": "lin",
              "scenario_params": {"weight_range": (1, 5), "d": 5}, "learner": "Random",
              "learner_label": "rand", "learner_params": {}, "seed": 2,
              "evaluate": {"test_size": 0.25}}
    with ResultsStore(tmp_path / "r.sqlite") as store:
        key = store.record(task_key(config), config=config, metrics={"mcc": 0.5},
                           null={"mcc": 0.1, "r2": 0.0}, wall_s=0.1,
                           versions={"numpy": "2", "peer": {"name": "gin", "ok": True}})
        rows = {r["metric"]: r for r in store.rows()}
    assert (rows["mcc"]["value"], rows["mcc"]["null_value"]) == (0.5, 0.1)
    assert (rows["r2"]["value"], rows["r2"]["null_value"]) == (None, 0.0)
    assert rows["r2"]["params"]["scenario"] == {"weight_range": [1, 5], "d": 5}
    assert task_key(rows["r2"]["config"]) == key
    assert rows["r2"]["versions"]["peer"] == {"name": "gin", "ok": True}


def test_nan_is_stored_as_null(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        key = _record(store, metrics={"shd": float("nan"), "f1": np.float64("nan"),
                                      "mcc": None, "inf": math.inf},
                      null={"shd": float("nan"), "mcc": 0.2})
        rows = {r["metric"]: r for r in store.rows()}
    assert rows["shd"]["value"] is None and rows["shd"]["null_value"] is None
    assert rows["f1"]["value"] is None and rows["mcc"]["value"] is None
    assert rows["mcc"]["null_value"] == 0.2 and rows["inf"]["value"] == math.inf
    conn = sqlite3.connect(path)
    try:
        nulls = conn.execute("SELECT count(*) FROM metrics WHERE key = ? AND value IS NULL",
                             (key,)).fetchone()[0]
    finally:
        conn.close()
    assert nulls == 3


# ------------------------------------------------------------------------ atomicity


class _ExplodingMetrics(dict):
    """A metrics mapping whose iteration fails half way."""

    def items(self):
        yield "shd", 1.0
        raise RuntimeError("metric computation failed mid-iteration")


@pytest.mark.parametrize("metrics, null, exc", [
    (_ExplodingMetrics(), None, RuntimeError),
    ({"shd": 1.0, "f1": "high"}, None, ValidationError),
    ({"shd": 1.0}, {"shd": [0.5]}, ValidationError),
    ({"shd": 1.0, 3: 0.5}, None, ValidationError),
])
def test_bad_task_writes_nothing(tmp_path, metrics, null, exc):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        kept = _record(store, 0)
        with pytest.raises(exc):
            _record(store, 1, metrics=metrics, null=null)
        assert store.finished_keys(include_failed=True) == {kept}
        assert len(store.rows()) == 2
        _record(store, 1)  # the store is still usable
        assert len(store.rows()) == 4


def test_sql_failure_mid_transaction_rolls_back_everything(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        old = _record(store, 0, metrics={"shd": 2.0, "f1": 0.5})
        # Make the third metric insert fail inside SQLite, after the task row and two
        # metric rows of the same transaction were written.
        store._conn.execute(
            "CREATE TEMP TRIGGER boom BEFORE INSERT ON metrics WHEN NEW.metric = 'boom' "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
        with pytest.raises(StoreError, match="injected failure") as info:
            _record(store, 1, metrics={"a": 1.0, "b": 2.0, "boom": 3.0, "c": 4.0})
        assert str(tmp_path / "r.sqlite") in str(info.value)
        assert store.finished_keys(include_failed=True) == {old}
        # Replacing an existing task with a failing write keeps the old task intact.
        with pytest.raises(StoreError):
            _record(store, 0, metrics={"shd": 9.0, "boom": 1.0})
        assert {(r["metric"], r["value"]) for r in store.rows()} == {("shd", 2.0), ("f1", 0.5)}
        assert not store._conn.in_transaction


_KILL_CHILD = textwrap.dedent("""
    import sys, time
    from benchmarks.store import ResultsStore, task_config, task_key
    store = ResultsStore(sys.argv[1])
    # Slow every metric insert down so that the kill lands inside a transaction.
    store._conn.create_function("pause", 0, lambda: time.sleep(0.002))
    store._conn.execute(
        "CREATE TEMP TRIGGER slow AFTER INSERT ON metrics BEGIN SELECT pause(); END")
    seed = 0
    while True:
        config = task_config(scenario="s", learner="l", seed=seed)
        key = store.record(task_key(config), config=config,
                           metrics={f"m{j:02d}": float(j) for j in range(20)}, wall_s=0.0)
        print(key, flush=True)
        seed += 1
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_loses_only_the_task_in_flight(tmp_path):
    path = tmp_path / "killed.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_CHILD, str(path)], cwd=REPO,
                            env=_subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    done = []
    try:
        while len(done) < 5:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"writer exited early: {proc.stderr.read()}")
            done.append(line.strip())
        time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        done.extend(line.strip() for line in proc.stdout.read().splitlines())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    with ResultsStore(path) as store:
        store.integrity_check()
        counts = _metric_counts(store)
        # Every task that was committed (acknowledged) survived; none is partial.
        assert set(done) <= set(counts)
        assert set(counts.values()) == {20}
        assert len(counts) <= len(done) + 1
        _record(store, 0)  # and the store takes new tasks


# ------------------------------------------------------------------------ foreign files


def _foreign_sqlite(path, statements):
    conn = sqlite3.connect(path)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def _make_random_bytes(path):
    path.write_bytes(np.random.default_rng(0).bytes(8192))


def _make_text(path):
    path.write_text("suite,scenario\nx,y\n")


def _make_foreign_db(path):
    _foreign_sqlite(path, ["CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
                           "INSERT INTO users (name) VALUES ('ada')"])


def _make_foreign_meta(path):
    _foreign_sqlite(path, ["CREATE TABLE meta (key TEXT, value TEXT)",
                           "INSERT INTO meta VALUES ('format', 'someone-else-v3')"])


def _make_odd_meta(path):
    _foreign_sqlite(path, ["CREATE TABLE meta (a INTEGER)"])


def _make_newer_store(path):
    with ResultsStore(path) as store:
        _record(store)
    _foreign_sqlite(path, ["UPDATE meta SET value = '99' WHERE key = 'schema_version'"])


def _make_corrupted_store(path):
    with ResultsStore(path) as store:
        for seed in range(5):
            _record(store, seed)
    with open(path, "r+b") as fh:  # overwrite the schema page after the file header
        fh.seek(100)
        fh.write(np.random.default_rng(1).bytes(2000))


@pytest.mark.parametrize("make, match", [
    (_make_random_bytes, "not a SQLite database"),
    (_make_text, "not a SQLite database"),
    (_make_foreign_db, "another application \\(tables: users\\)"),
    (_make_foreign_meta, "meta.format is 'someone-else-v3'"),
    (_make_odd_meta, "'meta' table is not ours"),
    (_make_newer_store, "schema version 99, newer"),
    (_make_corrupted_store, "corrupted"),
])
@pytest.mark.parametrize("readonly", [False, True])
def test_foreign_or_corrupted_file_raises_and_is_left_unchanged(tmp_path, make, match,
                                                                readonly):
    path = tmp_path / "crl.sqlite"
    make(path)
    before, listing = _checksum(path), sorted(os.listdir(tmp_path))
    with pytest.raises(StoreError, match=match) as info:
        ResultsStore(path, readonly=readonly)
    assert str(path) in str(info.value)
    assert isinstance(info.value, CRLError)
    assert _checksum(path) == before
    assert sorted(os.listdir(tmp_path)) == listing


def test_empty_files_are_initialized(tmp_path):
    zero = tmp_path / "zero.sqlite"
    zero.touch()
    blank = tmp_path / "blank.sqlite"
    _foreign_sqlite(blank, ["PRAGMA user_version = 0"])  # valid SQLite, no tables
    for path in (zero, blank):
        with ResultsStore(path) as store:
            _record(store)
        with ResultsStore(path, readonly=True) as store:
            assert len(store.rows()) == 2


def test_directory_and_missing_readonly_paths(tmp_path):
    with pytest.raises(StoreError, match="directory"):
        ResultsStore(tmp_path)
    with pytest.raises(StoreError, match="does not exist"):
        ResultsStore(tmp_path / "none.sqlite", readonly=True)
    assert not (tmp_path / "none.sqlite").exists()


def test_corruption_found_after_opening_is_a_store_error(tmp_path):
    path = tmp_path / "crl.sqlite"
    with ResultsStore(path) as store:
        for seed in range(60):
            _record(store, seed, metrics={f"m{j}": float(j) for j in range(10)})
    size = path.stat().st_size
    with open(path, "r+b") as fh:  # garble the tail pages, keep the schema page
        fh.seek(size - 4 * 4096)
        fh.write(np.random.default_rng(2).bytes(4 * 4096))
    before = _checksum(path)
    with ResultsStore(path) as store, pytest.raises(StoreError, match="corrupt"):
        store.integrity_check()
        store.rows()
    assert _checksum(path) == before


# ------------------------------------------------------------------------ concurrency


def test_reader_reads_while_a_write_transaction_is_open(tmp_path):
    path = tmp_path / "crl.sqlite"
    with ResultsStore(path) as writer:
        first = _record(writer, 0)
        with ResultsStore(path, readonly=True, timeout=0.1) as reader:
            writer._conn.execute("BEGIN IMMEDIATE")
            writer._conn.execute("DELETE FROM metrics")  # uncommitted
            started = time.perf_counter()
            assert reader.finished_keys() == {first}
            assert len(reader.rows()) == 2
            assert time.perf_counter() - started < 1.0
            writer._conn.execute("ROLLBACK")
            second = _record(writer, 1)
            assert reader.finished_keys() == {first, second}
            with pytest.raises(StoreError, match="read-only"):
                _record(reader, 2)


def test_reader_thread_never_sees_a_partial_task(tmp_path):
    path = tmp_path / "crl.sqlite"
    seen, errors = [], []
    with ResultsStore(path) as writer:
        _record(writer, 0)
        stop = threading.Event()

        def read():
            try:
                with ResultsStore(path, readonly=True) as reader:
                    while not stop.is_set():
                        seen.append(set(_metric_counts(reader).values()))
            except Exception as exc:  # reported below
                errors.append(exc)

        thread = threading.Thread(target=read)
        thread.start()
        try:
            for seed in range(1, 80):
                _record(writer, seed, metrics={f"m{j}": float(j) for j in range(5)} | {
                    "shd": 1.0, "f1": 0.5})
        finally:
            stop.set()
            thread.join(timeout=30)
    assert not errors
    assert seen and all(counts <= {2, 7} for counts in seen)


def test_locked_file_gives_store_error(tmp_path):
    path = tmp_path / "crl.sqlite"
    with ResultsStore(path) as holder, ResultsStore(path, timeout=0.1) as other:
        holder._conn.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match="locked") as info:
            _record(other, 1)
        assert str(path) in str(info.value)
        with ResultsStore(path, timeout=0.1) as late:  # opening and reading do not wait
            assert late.finished_keys() == set()
        holder._conn.execute("ROLLBACK")
        _record(other, 1)
        assert holder.finished_keys() == other.finished_keys()


_WRITER_CHILD = textwrap.dedent("""
    import sys
    from benchmarks.store import ResultsStore, task_config, task_key
    with ResultsStore(sys.argv[1]) as store:
        for seed in range(int(sys.argv[2]), int(sys.argv[2]) + 40):
            config = task_config(scenario="s", learner="l", seed=seed)
            store.record(task_key(config), config=config,
                         metrics={f"m{j}": float(j) for j in range(8)}, wall_s=0.0)
""")


def test_concurrent_writer_processes_do_not_corrupt(tmp_path):
    path = tmp_path / "crl.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER_CHILD, str(path), str(start)],
                              cwd=REPO, env=_subprocess_env(), stderr=subprocess.PIPE)
             for start in (0, 1000)]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    with ResultsStore(path) as store:
        store.integrity_check()
        counts = _metric_counts(store)
    assert len(counts) == 80 and set(counts.values()) == {8}


# ------------------------------------------------------------------------ exports


def test_export_csv_reads_back_with_csv_module(tmp_path):
    with ResultsStore(tmp_path / "crl.sqlite") as store:
        ok = _record(store, 0, metrics={"shd": 0.1 + 0.2, "f1": float("nan")})
        err = _record(store, 1, metrics={}, status="error", error='bad "quote",\nnewline')
        out = store.export_csv(tmp_path / "out" / "results.csv")
        store.export_csv(tmp_path / "ok.csv", status="ok")
    assert out == tmp_path / "out" / "results.csv"
    with open(out, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == RESULT_COLUMNS
        rows = list(reader)
    assert [(r["key"], r["metric"]) for r in rows] == [(ok, "f1"), (ok, "shd"), (err, "")]
    assert float(rows[1]["value"]) == 0.1 + 0.2 and rows[0]["value"] == ""
    assert rows[2]["error"] == 'bad "quote",\nnewline' and rows[2]["status"] == "error"
    assert int(rows[0]["seed"]) == 0
    with open(tmp_path / "ok.csv", newline="", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 2
    assert not [p for p in os.listdir(tmp_path / "out") if p.endswith(".tmp")]


def test_export_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with ResultsStore(tmp_path / "crl.sqlite") as store:
        _record(store)
        with pytest.raises(ImportError, match="'parquet' extra"):
            store.export_parquet(tmp_path / "r.parquet")
    assert not (tmp_path / "r.parquet").exists()


def test_export_parquet_round_trip(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    with ResultsStore(tmp_path / "crl.sqlite") as store:
        _record(store, 0, metrics={"shd": 1.0, "f1": float("nan")})
        _record(store, 1, metrics={}, status="timeout")
        store.export_parquet(tmp_path / "r.parquet")
        expected = store.rows()
    table = pq.read_table(tmp_path / "r.parquet")
    assert tuple(table.column_names) == RESULT_COLUMNS
    assert table.column("value").to_pylist() == [r["value"] for r in expected]
    assert table.column("seed").to_pylist() == [0, 0, 1]


# ------------------------------------------------------------------------ misc


def test_package_versions_reads_metadata_without_importing_torch():
    versions = package_versions()
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    assert versions["numpy"] == np.__version__
    code = ("import sys, benchmarks.store as s; v = s.package_versions(); "
            "print('torch' in sys.modules, 'numpy' in v)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_subprocess_env(),
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.split() == ["False", "True"]


def test_closed_store_and_bad_arguments(tmp_path):
    store = ResultsStore(tmp_path / "crl.sqlite")
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.finished_keys()
    with pytest.raises(StoreError, match="closed"):
        _record(store)
    with ResultsStore(tmp_path / "crl.sqlite") as store:
        with pytest.raises(ValidationError, match="missing required key 'learner'"):
            store.record(None, config={"scenario": "x", "seed": 1}, wall_s=0.0)
        with pytest.raises(ValidationError, match="wall_s"):
            _record(store, wall_s=-1.0)
        key = store.record(None, config=_config(7), metrics={"shd": 1}, wall_s=None)
        assert key == task_key(_config(7))
        assert store.rows(key=key)[0]["wall_s"] is None
