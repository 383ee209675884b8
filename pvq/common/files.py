"""Files written atomically and read defensively (results, caches, checkpoints of runs).

Every result table, figure and cache entry goes through :func:`atomic_write`: a temporary file
in the same folder, then an atomic rename, so an interrupted run never leaves a half-written
file behind and never corrupts one that was already there.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "check_writable_folder", "read_json"]


def atomic_write(path: Path, write) -> Path:
    """Call ``write(tmp_path)`` then atomically rename the file to ``path``.

    On any error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; a result file gets the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_json(path: Path):
    """The JSON value in ``path``, or ``None`` when the file is missing, unreadable or corrupt."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def check_writable_folder(folder: Path) -> Path:
    """Check, leaving nothing behind, that ``folder`` exists as a writable folder or can be made.

    The nearest existing ancestor must be a folder this process can write into: a temporary
    file is created there and removed at once (permissions, a read-only disk, a pseudo file
    system such as ``/proc``, even for root). Meant to run before any heavy work, so that a run
    never ends by failing to save its results.

    Raises
    ------
    ValueError
        Naming the folder and what stands in the way (a file, a folder without write permission,
        a read-only file system).
    """
    folder = Path(folder).expanduser()
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(
            f"cannot write the output folder {folder}: {probe} is a file, not a folder "
            "(give a folder that exists or can be created)"
        )
    try:  # a real probe: os.access says yes to root, and /proc or a full disk still refuse
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".pvq-probe-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ValueError(
            f"cannot write the output folder {folder}: no file can be created in {probe} ({reason}); "
            "give a folder this user can write"
        ) from None
    return folder
