"""One budget of cores shared by every process of a build: slots leased through lock files.

The book runner executes chapters side by side (chapter 4 beside the chain of chapters 5–7),
and each chapter starts its own process pool (:func:`pvq.common.executors.make_executor`).
Without a shared budget, two chapters with two workers each and torch's own threads keep more
processes busy than the machine has cores. The budget is ``N`` *slots*, the files
``slot-0 … slot-(N-1)`` of a folder named by ``$PVQ_CORE_SLOTS`` (``FOLDER:N``, or ``FOLDER``
for ``N`` = :func:`available_cores`): a unit of heavy work (a training run, a per-layer chunk
problem) holds one slot for as long as it computes, by an exclusive ``fcntl.flock`` on a slot
file, and runs on one thread. So at most ``N`` units compute at once across every chapter and
every pool of the build; a pool may keep more processes than slots, the extra ones wait. They
wait in a queue (a blocking lock on the folder's ``door`` file: only the first in line looks for
a free slot), so a process that has just released a slot and asks again goes behind those
already waiting: the many short chunk problems of chapter 4 cannot keep the slots from the
training runs of chapters 5–7.

The lock belongs to the open file: the kernel releases it when the holder closes it *or dies*, so
a build killed at any point (``SIGKILL`` included) leaves no stale lock, and the slot files
themselves are never removed (they hold nothing). Without ``$PVQ_CORE_SLOTS`` (a user calling
``pvq`` from their own code or notebook) :func:`core_slot` does nothing and every process uses
its threads as usual. :func:`core_budget` sets the variable for the processes a build starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SLOTS_ENV", "CoreSlots", "available_cores", "core_budget", "core_slot", "core_slots"]

log = logging.getLogger(__name__)

SLOTS_ENV = "PVQ_CORE_SLOTS"

#: Values of ``$PVQ_CORE_SLOTS`` that switch the budget off for a build (each process then uses
#: its threads as usual).
_OFF = ("", "0", "off", "none")


@dataclass(frozen=True)
class CoreSlots:
    """A core budget: ``count`` slot files ``slot-<i>`` in ``folder``."""

    folder: Path
    count: int

    def __str__(self) -> str:
        return f"{self.folder}:{self.count}"


def available_cores(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota if any.

    ``os.sched_getaffinity`` (``os.cpu_count`` where it does not exist) counts the cores the
    scheduler lets the process run on; a container limited by ``cpu.max`` (``"quota period"``,
    e.g. ``"150000 100000"`` for 1.5 cores) gets ``ceil(quota / period)`` when that is fewer.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = Path(cpu_max).read_text().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota readable: the affinity stands
    return max(1, cores)


def core_slots(value: str | None = None) -> CoreSlots | None:
    """The budget ``value`` (default ``$PVQ_CORE_SLOTS``) names, or ``None`` when there is none.

    ``FOLDER:N`` gives ``N`` slots in ``FOLDER``; ``FOLDER`` alone gives :func:`available_cores`
    slots; an empty value, ``0``, ``off`` or ``none`` switch the budget off.

    Raises
    ------
    ValueError
        When ``N`` is not a whole number ≥ 1 or the folder is missing from the value.
    """
    value = os.environ.get(SLOTS_ENV, "") if value is None else value
    if value.strip().lower() in _OFF:
        return None
    folder, sep, count = value.rpartition(":")
    if not sep or not count.strip().isdigit():  # no count given (a path may hold ':' itself)
        folder, count = value, str(available_cores())
    if not folder or int(count) < 1:
        raise ValueError(f"{SLOTS_ENV} must be FOLDER:N with N a whole number >= 1 (or FOLDER, or off), got {value!r}")
    return CoreSlots(Path(folder), int(count))


_local = threading.local()  # per thread: how deep in core_slot, the held slot's file descriptor


def _try_slots(slots: CoreSlots, order: list[int]) -> tuple[int, int] | None:
    """Lock the first free slot of ``order``: its open descriptor and number, or ``None`` if all are held."""
    for i in order:
        fd = os.open(slots.folder / f"slot-{i}", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return fd, i
    return None


def _acquire(slots: CoreSlots, poll: float) -> tuple[int, int]:
    """Wait for a free slot; return its open, exclusively locked descriptor and its number.

    With nobody at the door a free slot is taken at once. Otherwise the process queues at the
    door (blocked in ``flock``, no CPU spent) and, once there, looks for a free slot every
    ``poll`` seconds at most (from 1 ms, doubling).
    """
    slots.folder.mkdir(parents=True, exist_ok=True)
    order = list(range(slots.count))
    random.Random(os.getpid() ^ threading.get_ident()).shuffle(order)  # spread the first tries
    door = os.open(slots.folder / "door", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(door, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody waiting?
        except BlockingIOError:
            fcntl.flock(door, fcntl.LOCK_EX)  # others wait: queue behind them
        delay = min(0.001, poll)
        while (got := _try_slots(slots, order)) is None:
            time.sleep(delay)
            delay = min(2 * delay, poll)
        return got
    finally:
        os.close(door)  # the next in the queue is at the door


def _set_torch_threads(n: int | None) -> int | None:
    """Set torch's intra-op threads when torch is loaded; return the previous number."""
    torch = sys.modules.get("torch")
    if torch is None or n is None:
        return None
    previous = torch.get_num_threads()
    if previous != n:
        torch.set_num_threads(n)
    return previous


@contextlib.contextmanager
def core_slot(slots: CoreSlots | None = None, *, poll: float = 0.02):
    """Hold one slot of the core budget (``$PVQ_CORE_SLOTS`` by default) while the block runs.

    Waits until one of the budget's slots is free, locks it, sets torch to one thread (if torch
    is loaded; restored after) and releases the slot when the block ends, whether it returns or
    raises; if the process dies the kernel releases it. Waiting processes queue, so that one
    that releases a slot and asks again goes behind them (see the module's notes). Reentrant:
    a block inside another of the same thread holds nothing more (a job that leases its compute
    can itself be called from a leased one). Without a budget it does nothing.

    Never wait inside the block for work that needs a slot of the same budget (a process pool's
    leased jobs): with every slot held by such waiters, nothing would run.

    Parameters
    ----------
    slots : CoreSlots, optional
        The budget (default :func:`core_slots` of the environment).
    poll : float
        Longest pause, in seconds, between two looks for a free slot while waiting.

    Yields
    ------
    int or None
        The number of the slot held (that of the outer block when nested), ``None`` without a budget.
    """
    slots = core_slots() if slots is None else slots
    depth = getattr(_local, "depth", 0)
    if slots is None or depth:
        _local.depth = depth + 1
        try:
            yield getattr(_local, "slot", None) if depth else None
        finally:
            _local.depth = depth
        return
    start = time.perf_counter()
    fd, slot = _acquire(slots, poll)
    waited = time.perf_counter() - start
    if waited > 1:
        log.debug("waited %.1f s for core slot %d of %s", waited, slot, slots)
    _local.depth, _local.slot = 1, slot
    previous = _set_torch_threads(1)
    try:
        yield slot
    finally:
        _set_torch_threads(previous)
        _local.depth, _local.slot = 0, None
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _default_folder() -> Path:
    """``<tmp>/pvq-core-slots-<uid>``: one budget for every build of this user on this machine."""
    folder = Path(tempfile.gettempdir()) / f"pvq-core-slots-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        if folder.is_symlink() or folder.stat().st_uid != os.getuid():
            raise PermissionError(folder)
    except OSError:  # not ours or not creatable: a folder of this build alone
        folder = Path(tempfile.mkdtemp(prefix="pvq-core-slots-"))
    return folder


@contextlib.contextmanager
def core_budget(cores: int | None = None):
    """Set ``$PVQ_CORE_SLOTS`` for the processes started inside the block (the book's kernels).

    An existing ``$PVQ_CORE_SLOTS`` is kept as it is (a user's own budget, shared with other
    builds, or ``off``); otherwise the budget is ``cores`` slots (default
    :func:`available_cores`) in ``<tmp>/pvq-core-slots-<uid>``, a folder shared by every build
    of the same user on the machine, so that two builds at once share the cores too. The
    variable is restored when the block ends.

    Yields
    ------
    CoreSlots or None
        The budget in force (``None``: switched off).

    Raises
    ------
    ValueError
        Before anything runs, when ``$PVQ_CORE_SLOTS`` is malformed or names a folder this
        process cannot write.
    """
    if SLOTS_ENV in os.environ:
        from .files import check_writable_folder  # here: the slots alone need nothing but the standard library

        slots = core_slots()
        if slots is not None:
            try:
                check_writable_folder(slots.folder)
            except ValueError as err:
                raise ValueError(f"{SLOTS_ENV}={os.environ[SLOTS_ENV]!r}: {err}") from None
        yield slots
        return
    slots = CoreSlots(_default_folder(), available_cores() if cores is None else cores)
    core_slots(str(slots))  # checks the count
    os.environ[SLOTS_ENV] = str(slots)
    try:
        yield slots
    finally:
        os.environ.pop(SLOTS_ENV, None)
