"""Execution engines: local forked processes, or a ``dask.distributed`` cluster.

Both call :func:`benchmarks.runner.execute_task` on each config and hand each
result to ``on_result(key, result)`` in the calling process, which is the
only process that writes to the results store.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from multiprocessing.connection import wait

from crl.exceptions import ConfigError

__all__ = ["run_local", "run_dask", "execute_isolated"]

logger = logging.getLogger(__name__)


def _failure(config, status, error, wall_s) -> dict:
    return {
        "config": dict(config), "status": status, "error": error, "metrics": {}, "null": {},
        "wall_s": wall_s, "peak_mem_mb": None, "warnings": [], "identifiable": None, "peer_info": None,
    }


def _child(config, conn, threads) -> None:
    from threadpoolctl import threadpool_limits

    from benchmarks.runner import execute_task

    try:
        # concurrent tasks share the cores: cap BLAS/OpenMP threads so they do not oversubscribe
        with threadpool_limits(threads):
            result = execute_task(config)
        conn.send(result)
    finally:
        conn.close()


def run_local(todo, *, jobs: int = 1, timeout: float | None = None, on_result) -> None:
    """Run each task in its own forked process, at most ``jobs`` at a time.

    A fresh process per task isolates memory (peak RSS is the task's own),
    lets a timeout kill the task, and keeps a crashing task from taking the
    sweep down: a process that dies without a result is recorded as an
    error with its exit code. Each task gets ``cpu_count // jobs`` BLAS
    threads (at least one), so concurrent tasks do not oversubscribe.
    """
    if jobs < 1:
        raise ConfigError(f"--jobs: expected a positive int, got {jobs}")
    ctx = mp.get_context("fork")
    threads = max(1, (os.cpu_count() or 1) // jobs)
    pending = list(todo)
    running = {}  # sentinel -> (process, conn, key, config, start)
    while pending or running:
        while pending and len(running) < jobs:
            key, config = pending.pop(0)
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(config, send, threads), daemon=True)
            proc.start()
            send.close()
            running[proc.sentinel] = (proc, recv, key, config, time.monotonic())
        ready = wait([entry[1] for entry in running.values()] + list(running), timeout=0.2)
        now = time.monotonic()
        for sentinel, (proc, recv, key, config, start) in list(running.items()):
            result = None
            if recv in ready or recv.poll():
                try:
                    result = recv.recv()
                except EOFError:
                    result = None
            if result is None and sentinel in ready and not recv.poll():
                proc.join()
                result = _failure(config, "error", f"worker exited with code {proc.exitcode} without a result", now - start)
            elif result is None and timeout is not None and now - start > timeout:
                proc.kill()
                proc.join()
                result = _failure(config, "timeout", f"task exceeded the timeout of {timeout} s", now - start)
            if result is not None:
                proc.join()
                recv.close()
                del running[sentinel]
                on_result(key, result)


def execute_isolated(config, timeout: float, threads: int = 1) -> dict:
    """Run one task in a child process on the calling machine and kill it after ``timeout`` s.

    Used by the Dask engine, whose workers cannot stop a running function.
    The child is started with ``spawn`` (``forkserver`` where available),
    not ``fork``: Dask workers are threaded, and forking a threaded process
    can deadlock the child. The start-up costs about a second per task,
    which is why the engine isolates tasks only when a timeout is set.
    """
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(config, send, threads), daemon=True)
    start = time.monotonic()
    proc.start()
    send.close()
    try:
        if recv.poll(timeout):
            try:
                return recv.recv()
            except EOFError:
                pass
            proc.join()
            return _failure(config, "error", f"worker exited with code {proc.exitcode} without a result",
                            time.monotonic() - start)
        proc.kill()
        return _failure(config, "timeout", f"task exceeded the timeout of {timeout} s", time.monotonic() - start)
    finally:
        proc.join()
        recv.close()


def run_dask(todo, *, jobs: int = 1, scheduler: str | None = None, timeout: float | None = None, on_result) -> None:
    """Run the tasks on a ``dask.distributed`` cluster.

    With ``scheduler=None`` an in-process ``LocalCluster`` with ``jobs``
    worker threads is started and closed; otherwise the client connects to
    ``scheduler`` (for example the address of a ``dask-jobqueue`` SLURM or
    PBS cluster). Without a timeout each task runs in the worker itself;
    with one, each runs in a child process of the worker that is killed at
    the timeout (:func:`execute_isolated`), so a hung task is recorded as
    ``timeout`` and frees its worker.
    """
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ConfigError("--engine dask: dask.distributed is not installed; pip install -e '.[dask]'") from None
    from benchmarks.runner import execute_task

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=1, threads_per_worker=jobs, processes=False, dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        fn, extra = (execute_task, ()) if timeout is None else (execute_isolated, (timeout,))
        futures = {
            client.submit(fn, config, *extra, key=f"crl-task-{key}", pure=False): (key, config) for key, config in todo
        }
        for fut in as_completed(futures):
            key, config = futures[fut]
            if fut.status == "finished":
                on_result(key, fut.result())
            else:
                on_result(key, _failure(config, "error", f"dask task {fut.status}: {fut.exception()}", 0.0))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
