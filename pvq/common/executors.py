"""Where parallel jobs run: a local process pool, or a Dask cluster.

The per-layer sweep (chapter 4) and the fine-tuning grids (chapters 5–7) both submit their
jobs through :func:`make_executor`.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor

__all__ = ["DASK_ENV", "make_executor"]

DASK_ENV = "PVQ_DASK_SCHEDULER"


def make_executor(scheduler: str | None = None, *, workers: int = 2) -> Executor:
    """A local process pool, or a Dask cluster's executor when ``scheduler`` (or ``$PVQ_DASK_SCHEDULER``) names one.

    The pool starts its workers with ``spawn``: forking a process that holds torch threads can
    deadlock.
    """
    address = scheduler or os.environ.get(DASK_ENV)
    if address:
        from distributed import Client  # optional dependency, only for a cluster

        return Client(address).get_executor()
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
