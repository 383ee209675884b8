"""Where parallel jobs run: a local process pool, or a Dask cluster.

The per-layer sweep (chapter 4) and the fine-tuning grids (chapters 5–7) both submit their
jobs through :func:`make_executor`. Under a core budget (:mod:`pvq.common.cores`) the jobs hold
a slot while they compute, and the pool's processes run one thread each.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor

from .cores import core_slots

__all__ = ["DASK_ENV", "make_executor"]

DASK_ENV = "PVQ_DASK_SCHEDULER"


def make_executor(scheduler: str | None = None, *, workers: int = 2) -> Executor:
    """A local process pool, or a Dask cluster's executor when ``scheduler`` (or ``$PVQ_DASK_SCHEDULER``) names one.

    The pool starts its workers with ``spawn``: forking a process that holds torch threads can
    deadlock. Under a core budget (``$PVQ_CORE_SLOTS``, :func:`pvq.common.cores.core_slots`)
    each worker process starts with ``OMP_NUM_THREADS=1`` in its C environment, set before it
    imports anything else (so numpy's BLAS and torch start with one thread), while the jobs
    themselves hold a slot of the budget as they compute (:func:`pvq.common.cores.core_slot`);
    the pool keeps its ``workers`` processes, and a worker without a free slot waits. A Dask
    cluster manages its own workers and is left as it is.
    """
    address = scheduler or os.environ.get(DASK_ENV)
    if address:
        from distributed import Client  # optional dependency, only for a cluster

        return Client(address).get_executor()
    # os.putenv is unpickled, and run, by a new worker before the job's module (and numpy, torch)
    one_thread = {"initializer": os.putenv, "initargs": ("OMP_NUM_THREADS", "1")} if core_slots() else {}
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"), **one_thread)
