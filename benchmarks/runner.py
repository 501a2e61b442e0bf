"""Run benchmark tasks: one task = one scenario draw, one learner, one evaluation.

:func:`execute_task` is a pure function of its config (seeded), so the local
and the Dask engines produce identical values. :func:`run_suite` expands a
suite, skips the keys the store already holds (an interrupted sweep
resumes), runs the rest on an engine and records each finished task in one
transaction as it arrives, in the parent process (the single writer).
"""

from __future__ import annotations

import json
import logging
import math
import resource
import time
import traceback
from collections.abc import Callable, Mapping

from crl.exceptions import ConfigError, CRLError

__all__ = ["execute_task", "run_suite", "key_config", "parse_shard", "select_shard"]

logger = logging.getLogger(__name__)


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _finite(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def execute_task(config: Mapping) -> dict:
    """Run one task and return its result (never raises: failures are results).

    Returns
    -------
    dict
        ``config``, ``status`` ("ok" or "error"), ``error`` (text or None),
        ``metrics`` and ``null`` (metric -> float), ``wall_s``,
        ``peak_mem_mb`` (growth of the process's peak resident set during the
        task; the local engine runs each task in a fresh forked process, so
        this is the task's own peak above the parent's footprint),
        ``identifiable``, ``warnings``.
    """
    from benchmarks.learners import make_learner
    from identifiability import evaluate
    from simulators import scenario

    start_rss = _rss_mb()
    start = time.perf_counter()
    out = {
        "config": dict(config), "metrics": {}, "null": {}, "error": None, "warnings": [],
        "identifiable": None, "peer_info": None,
    }
    try:
        problem = scenario(config["scenario"], random_state=config["seed"], **config.get("scenario_params", {}))
        learner = make_learner(config["learner"], config.get("learner_params", {}), problem, seed=config["seed"])
        options = dict(config.get("evaluate", {}))
        report = evaluate(learner, problem, random_state=config["seed"], **options)
        out["metrics"] = {k: _finite(v) for k, v in report.scores.items()}
        out["null"] = {k: _finite(v) for k, v in report.null.items()}
        out["identifiable"] = report.identifiable
        out["warnings"] = list(report.warnings)
        out["peer_info"] = report.details.get("learner_info")
        if "graphs" in report.details:
            out["artifacts"] = {"graphs": report.details["graphs"]}
        out["status"] = "ok"
    except Exception as exc:  # a failing task is recorded and the sweep goes on
        out["status"] = "error"
        out["error"] = f"{type(exc).__name__}: {exc}"
        logger.debug("task failed:\n%s", traceback.format_exc())
    out["wall_s"] = time.perf_counter() - start
    out["peak_mem_mb"] = max(0.0, _rss_mb() - start_rss)
    return out


def key_config(config: Mapping) -> dict:
    """The part of a task config its key is computed from (display labels excluded)."""
    return {k: v for k, v in config.items() if k not in ("scenario_label", "learner_label")}


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/N"`` -> (i, N) with 0 <= i < N."""
    if text is None:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard: expected i/N with integers, got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ConfigError(f"--shard: expected 0 <= i < N, got {text!r}")
    return i, n


def select_shard(keys: list[str], shard: tuple[int, int] | None) -> list[bool]:
    """Stable assignment of task keys to shards (by the key's hash value)."""
    if shard is None:
        return [True] * len(keys)
    i, n = shard
    return [int(k, 16) % n == i for k in keys]


def run_suite(
    suite,
    store,
    *,
    engine: str = "local",
    jobs: int = 1,
    scheduler: str | None = None,
    shard: tuple[int, int] | None = None,
    timeout: float | None = None,
    progress: bool = False,
    on_result: Callable[[dict], None] | None = None,
) -> dict:
    """Run the unfinished tasks of ``suite`` and record them in ``store``.

    Parameters
    ----------
    suite : benchmarks.suites.Suite
    store : benchmarks.store.ResultsStore
    engine : {"local", "dask"}
    jobs : int
        Concurrent tasks (local processes or Dask workers of a LocalCluster).
    scheduler : str, optional
        Address of a running Dask scheduler (``engine="dask"``).
    shard : (i, N), optional
        Run only the i-th of N stable slices of the task list.
    timeout : float, optional
        Seconds per task; overrides the suite's ``timeout``.
    progress : bool
        Show a tqdm progress bar.
    on_result : callable, optional
        Called with each result after it is recorded.

    Returns
    -------
    dict
        ``total``, ``skipped`` (already finished), ``ran``, ``ok``, ``failed``.
    """
    from benchmarks.engines import run_dask, run_local
    from benchmarks.store import package_versions, task_key

    if engine not in ("local", "dask"):
        raise ConfigError(f"--engine: expected 'local' or 'dask', got {engine!r}")
    timeout = timeout if timeout is not None else suite.options.get("timeout")
    configs = list(suite.tasks)
    keys = [task_key(key_config(c)) for c in configs]
    mine = select_shard(keys, shard)
    finished = store.finished_keys()
    todo = [(k, c) for k, c, m in zip(keys, configs, mine) if m and k not in finished]
    skipped = sum(1 for k, m in zip(keys, mine) if m and k in finished)
    versions = package_versions()
    counts = {"total": sum(mine), "skipped": skipped, "ran": 0, "ok": 0, "failed": 0}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc=f"{suite.name}", unit="task")

    def record(key, result):
        # the engines hand results back to this process, the store's only writer
        peer = result.get("peer_info")
        fields = dict(
            config=result["config"],
            metrics=result["metrics"],
            null=result["null"],
            status=result["status"],
            error=result["error"],
            wall_s=result["wall_s"],
            peak_mem_mb=result["peak_mem_mb"],
            # JSON round trip: peers report options with int keys or numpy values
            versions=json.loads(json.dumps({**versions, **({"peer": peer} if peer else {})}, default=str)),
            artifacts=result.get("artifacts"),
        )
        try:
            store.record(key, **fields)
        except CRLError as exc:  # a result the store refuses must not end the sweep
            logger.warning("task %s: result not storable (%s); recorded as an error", key, exc)
            fields.update(metrics={}, null={}, artifacts=None, status="error",
                          error=f"result could not be stored: {exc}")
            store.record(key, **fields)
            result = {**result, "status": "error"}
        counts["ran"] += 1
        counts["ok" if result["status"] == "ok" else "failed"] += 1
        if bar is not None:
            bar.update(1)
        if on_result is not None:
            on_result(result)

    try:
        if engine == "local":
            run_local(todo, jobs=jobs, timeout=timeout, on_result=record)
        else:
            run_dask(todo, jobs=jobs, scheduler=scheduler, timeout=timeout, on_result=record)
    finally:
        if bar is not None:
            bar.close()
    return counts
