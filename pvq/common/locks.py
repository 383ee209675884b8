"""One build at a time per checkout: an advisory file lock that a killed process never leaves behind.

:func:`build_lock` takes an exclusive ``flock`` on a lock file. The operating system releases it
when the holder exits in any way (a SIGKILL included), so a killed build leaves no stale lock:
the file may remain, but nobody holds it. The file records who holds it (process id, start time,
command) so that a second build can say what it is waiting for. The lock is re-entrant within a
process (``pvq build`` holds it and calls the notebook runner, which takes it too).
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

__all__ = ["build_lock", "lock_holder"]

_HELD: dict[str, int] = {}
_GUARD = threading.Lock()


def lock_holder(path: Path) -> str:
    """What the lock file says about its last holder (``"pid 123, since 12:00:01: make book"``)."""
    try:
        return Path(path).read_text().strip() or "unknown process"
    except OSError:
        return "unknown process"


@contextmanager
def build_lock(path: Path, *, wait: bool = True, waiting=None, poll: float = 1.0):
    """Hold an exclusive lock on ``path`` for the duration of the ``with`` block.

    Parameters
    ----------
    path : Path
        The lock file (created with its folder if missing).
    wait : bool
        Wait for the holder to finish (default); ``False`` raises at once.
    waiting : callable, optional
        Called once with :func:`lock_holder`'s text when the lock is taken and we wait.
    poll : float
        Seconds between attempts while waiting.

    Raises
    ------
    RuntimeError
        When ``wait`` is false and another process holds the lock, naming it.
    """
    key = str(Path(path).resolve())
    with _GUARD:
        if key in _HELD:  # re-entrant within this process
            _HELD[key] += 1
            held = True
        else:
            held = False
    if held:
        try:
            yield
        finally:
            with _GUARD:
                _HELD[key] -= 1
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    raise RuntimeError(f"another build holds {path} ({lock_holder(path)})") from None
                if not told and waiting is not None:
                    waiting(lock_holder(path))
                told = True
                time.sleep(poll)
        os.ftruncate(fd, 0)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        os.write(fd, f"pid {os.getpid()}, since {stamp}: {' '.join(sys.argv)[:200]}\n".encode())
        with _GUARD:
            _HELD[key] = 1
        try:
            yield
        finally:
            with _GUARD:
                del _HELD[key]
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
