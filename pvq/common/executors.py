"""Where parallel jobs run: a local process pool, or a Dask cluster.

The per-layer sweep (chapter 4) and the fine-tuning grids (chapters 5–7) both submit their
jobs through :func:`make_executor`. Under a core budget (:mod:`pvq.common.cores`) the jobs hold
a slot while they compute, and the pool's processes run one thread each.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor

from tqdm import tqdm

from .cores import core_slots

__all__ = ["DASK_ENV", "POOL_MIN_JOBS", "make_executor", "map_uncached"]

#: Jobs to run per worker below which :func:`map_uncached` starts no pool: starting a worker
#: process (it imports torch and numba, and prepares its data) costs more than a few short jobs.
POOL_MIN_JOBS = 4
_PR_SET_PDEATHSIG = 1

DASK_ENV = "PVQ_DASK_SCHEDULER"


def make_executor(scheduler: str | None = None, *, workers: int = 2) -> Executor:
    """A local process pool, or a Dask cluster's executor when ``scheduler`` (or ``$PVQ_DASK_SCHEDULER``) names one.

    The pool starts its workers with ``spawn``: forking a process that holds torch threads can
    deadlock. Under a core budget (``$PVQ_CORE_SLOTS``, :func:`pvq.common.cores.core_slots`)
    each worker process starts with ``OMP_NUM_THREADS=1`` in its C environment, set before it
    imports anything else (so numpy's BLAS and torch start with one thread); on Linux every worker
    ends when the process that owns the pool dies, even by SIGKILL. The jobs
    themselves hold a slot of the budget as they compute (:func:`pvq.common.cores.core_slot`);
    the pool keeps its ``workers`` processes, and a worker without a free slot waits. A Dask
    cluster manages its own workers and is left as it is.
    """
    address = scheduler or os.environ.get(DASK_ENV)
    if address:
        from distributed import Client  # optional dependency, only for a cluster

        return Client(address).get_executor()
    # the initializer is unpickled, and run, by a new worker before the job's module (and numpy, torch)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(bool(core_slots()),))  # fmt: skip


def _start_worker(one_thread: bool) -> None:
    """A new pool worker: one thread under a core budget, and (Linux) a SIGTERM when its parent dies.

    A pool whose owner is killed (a build stopped with SIGKILL, a kernel that exits) would otherwise
    leave its idle workers behind, each holding the memory of its imports; ``PR_SET_PDEATHSIG``
    has the kernel end them with their parent.
    """
    if one_thread:
        os.putenv("OMP_NUM_THREADS", "1")
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass


def map_uncached(func: Callable, jobs: Sequence, found: list, *, workers: int = 1, scheduler: str | None = None,
                 desc: str = "jobs", progress: bool = False) -> list:  # fmt: skip
    """``func(job)`` for every job whose entry of ``found`` is ``None`` (already known results are kept), in order.

    The missing jobs run on a process pool (:func:`make_executor`) when there are at least
    :data:`POOL_MIN_JOBS` of them per worker, on a Dask scheduler when one is named and there is
    more than one, else in this process; ``func`` must then be picklable. The progress bar counts
    the known results as done.
    """
    out = list(found)
    todo = [job for job, got in zip(jobs, out, strict=True) if got is None]
    parallel = (workers > 1 and len(todo) >= POOL_MIN_JOBS * workers) or (bool(scheduler) and len(todo) > 1)
    pool = make_executor(scheduler or None, workers=workers) if parallel else None
    try:
        solved = pool.map(func, todo) if pool is not None else map(func, todo)
        with tqdm(total=len(out), initial=len(out) - len(todo), desc=desc, disable=not progress) as bar:
            for i, got in enumerate(out):
                if got is None:
                    out[i] = next(solved)
                    bar.update()
    finally:
        if pool is not None:
            pool.shutdown()
    return out
