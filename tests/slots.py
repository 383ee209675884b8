"""Test helpers for the core budget (pvq.common.cores): is a slot's lock held, and a slot held by another thread."""

import fcntl
import os
import threading
from contextlib import contextmanager
from pathlib import Path

from pvq.common.cores import core_slot


def slot_locked(path: Path) -> bool:
    """Whether another open file holds ``path``'s flock (a slot's lock); leaves it as it found it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@contextmanager
def slot_held_elsewhere(timeout: float = 60):
    """Hold one core slot in another thread for the duration of the block."""
    held, release = threading.Event(), threading.Event()

    def hold():
        with core_slot():
            held.set()
            release.wait(timeout=timeout)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(timeout=timeout)
        yield
    finally:
        release.set()
        holder.join(timeout=timeout)
