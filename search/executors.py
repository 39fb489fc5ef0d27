"""Executors: where population chunks and agent x seed runs are computed.

``serial`` (this process), ``process`` (a local process pool) and ``dask`` (a Dask distributed
cluster, extra ``dist``: an existing scheduler by address, or a ``LocalCluster`` started on
demand). All three return results in submission order and give identical numbers for the same
seeds: every task is a pure function of its arguments (seeds are passed explicitly, never drawn
from global state). A task that fails (e.g. its worker died and the retry failed too) comes back
as a :class:`TaskFailure` instead of a result, so the finished ones are kept.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import numpy as np

EXECUTORS = ("serial", "process", "dask")


@dataclass(frozen=True)
class TaskFailure:
    """A task that raised or whose worker was lost: its index and the error, as text."""

    index: int
    error: str


class SerialExecutor:
    name = "serial"

    def map(
        self,
        fn: Callable,
        items: Sequence,
        shared: Any = None,
        on_done: Callable[[int, Any], None] | None = None,
    ) -> list:
        """``fn(shared, x)`` for every item, in order; ``on_done(index, result)`` is called in
        this process as each task finishes (e.g. to advance a progress bar)."""
        out = []
        for i, x in enumerate(items):
            try:
                out.append(fn(shared, x))
            except Exception as exc:  # noqa: BLE001 - reported per task, like the others
                out.append(TaskFailure(i, f"{type(exc).__name__}: {exc}"))
            if on_done is not None:
                on_done(i, out[-1])
        return out

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def share_cores(threads: int) -> None:
    """Limit this process's compiled evaluator (numba) to ``threads`` threads
    (:func:`threads_per_worker`).

    Why: each worker of a pool would otherwise start one numba thread per core, so ``w``
    workers run ``w x cores`` threads, and every parallel kernel launch waits for threads that
    have no core (measured on 2 cores, 2 workers: ~13 ms per call whatever the batch size,
    against 0.2-4 ms with one thread each; NGOpt, which evaluates one schedule at a time, took
    19.8 s for 2,000 evaluations on sc1 3x3 instead of 10.7 s). Results are unchanged: rows are
    evaluated independently."""
    threads = max(1, int(threads))
    os.environ["NUMBA_NUM_THREADS"] = str(threads)
    numba = sys.modules.get("numba")
    if numba is not None:  # already imported here: its thread count is read at launch
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def threads_per_worker(workers: int) -> int:
    """The numba threads of each of ``workers`` local workers: the ``NUMBA_NUM_THREADS`` the
    user set, else this machine's cores shared among them (at least one each)."""
    if "NUMBA_NUM_THREADS" in os.environ:
        return max(1, int(os.environ["NUMBA_NUM_THREADS"]))
    return max(1, (os.cpu_count() or 1) // max(1, workers))


class ProcessExecutor(SerialExecutor):
    """A pool of local worker processes (spawned: no state inherited from the parent), each
    limited to its share of the cores (:func:`share_cores`)."""

    name = "process"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.pool = ProcessPoolExecutor(
            self.workers,
            mp_context=get_context("spawn"),
            initializer=share_cores,
            initargs=(threads_per_worker(self.workers),),
        )

    def map(
        self,
        fn: Callable,
        items: Sequence,
        shared: Any = None,
        on_done: Callable[[int, Any], None] | None = None,
    ) -> list:
        futures = [self.pool.submit(fn, shared, x) for x in items]
        index = {f: i for i, f in enumerate(futures)}
        out: list = [None] * len(futures)
        for f in as_completed(futures):  # collect each result as soon as it is done
            i = index[f]
            try:
                out[i] = f.result()
            except Exception as exc:  # noqa: BLE001
                out[i] = TaskFailure(i, f"{type(exc).__name__}: {exc}")
            if on_done is not None:
                on_done(i, out[i])
        return out

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class DaskExecutor(SerialExecutor):
    """Dask distributed: ``scheduler="tcp://HOST:PORT"`` for an existing cluster, else a
    ``LocalCluster`` of ``workers`` single-threaded worker processes. The shared argument is
    scattered to the workers once per map; each task is retried once if its worker dies."""

    name = "dask"

    def __init__(
        self, scheduler: str | None = None, workers: int | None = None, timeout_s: float = 10.0
    ) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ValueError(
                "the dask executor needs the 'dist' extra: pip install 'chiplet-sched[dist]'"
            ) from None
        self.cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout=f"{timeout_s}s")
            except (OSError, TimeoutError) as exc:
                raise ValueError(
                    f"could not reach the Dask scheduler at {scheduler} within "
                    f"{timeout_s:g} s ({type(exc).__name__})"
                ) from None
        else:
            # local workers share this machine's cores (share_cores; a remote cluster's are
            # its own), also a worker the nanny restarts
            self.cluster = LocalCluster(
                n_workers=workers or 2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                env={"NUMBA_NUM_THREADS": str(threads_per_worker(workers or 2))},
            )
            self.client = Client(self.cluster)
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))

    def map(
        self,
        fn: Callable,
        items: Sequence,
        shared: Any = None,
        on_done: Callable[[int, Any], None] | None = None,
    ) -> list:
        sh = self.client.scatter(shared, broadcast=True, hash=False) if shared is not None else None
        from dask.distributed import as_completed

        futures = [self.client.submit(fn, sh, x, pure=False, retries=1) for x in items]
        index = {f.key: i for i, f in enumerate(futures)}
        out: list = [None] * len(futures)
        for f in as_completed(futures):  # collect each result as soon as it is done
            i = index[f.key]
            try:
                out[i] = f.result()
            except Exception as exc:  # noqa: BLE001 - includes a KilledWorker after the retry
                out[i] = TaskFailure(i, f"{type(exc).__name__}: {exc}")
            if on_done is not None:
                on_done(i, out[i])
        return out

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(name: str = "serial", scheduler: str | None = None, workers: int | None = None):
    """An executor by name (``serial``, ``process``, ``dask``)."""
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; choices: {', '.join(EXECUTORS)}")
    if scheduler and name != "dask":
        raise ValueError("--scheduler needs --executor dask")
    if name == "serial":
        return SerialExecutor()
    if name == "process":
        return ProcessExecutor(workers)
    return DaskExecutor(scheduler, workers)


def _evaluate_chunk(problem, genomes):
    return problem.evaluate_batch(genomes)


def evaluate_chunked(problem, genomes: np.ndarray, executor, chunks: int):
    """``problem.evaluate_batch`` split into ``chunks`` row blocks on ``executor``, reassembled
    in order (identical to one call: rows are independent)."""
    from costmodel import BatchResult

    parts = [p for p in np.array_split(np.asarray(genomes), max(1, chunks)) if len(p)]
    res = executor.map(_evaluate_chunk, parts, shared=problem)
    bad = [r for r in res if isinstance(r, TaskFailure)]
    if bad:
        raise RuntimeError(f"population chunk {bad[0].index} failed: {bad[0].error}")
    return BatchResult(
        **{
            f: np.concatenate([getattr(r, f) for r in res])
            for f in BatchResult.__dataclass_fields__
        }
    )
