"""Shared helpers of every layer: checks, atomic files, locks, paths, recorded inputs, executors, core budget,
the paper's numbers, lazy re-exports.

This is the bottom layer of ``pvq``: it imports nothing else from the package, and every
other subpackage may import from it.
"""

from .checks import check_count, check_list, check_positive
from .cores import SLOTS_ENV, CoreSlots, available_cores, core_budget, core_slot, core_slots
from .executors import DASK_ENV, POOL_MIN_JOBS, make_executor, map_uncached
from .files import atomic_write, check_writable_folder, read_json
from .inputs import INPUTS_ENV, read_input_log, record_input, watch_inputs
from .lazy import lazy_exports
from .locks import build_lock, lock_holder
from .malloc import retain_freed_memory
from .paper import PAPER, PAPER_RECIPE, paper_values
from .paths import RESULTS_ENV, book_root, notebook_sources, results_dir, results_root

__all__ = [
    "DASK_ENV",
    "INPUTS_ENV",
    "PAPER",
    "PAPER_RECIPE",
    "POOL_MIN_JOBS",
    "RESULTS_ENV",
    "SLOTS_ENV",
    "CoreSlots",
    "atomic_write",
    "available_cores",
    "book_root",
    "build_lock",
    "check_count",
    "check_list",
    "check_positive",
    "check_writable_folder",
    "core_budget",
    "core_slot",
    "core_slots",
    "lazy_exports",
    "lock_holder",
    "make_executor",
    "map_uncached",
    "notebook_sources",
    "paper_values",
    "read_input_log",
    "read_json",
    "record_input",
    "results_dir",
    "results_root",
    "retain_freed_memory",
    "watch_inputs",
]
