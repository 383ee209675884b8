"""What a chapter reads: the files its execution opens, recorded for the runner's freshness check.

The book's runner (:mod:`pvq.book.runner`) executes a chapter again only when something it
depends on changed (issue 12). Its code, parameters, the ``pvq`` library and the installed
packages are known before it runs; the *data* it reads are not: a checkpoint named by a
parameter, the Fashion-MNIST files of Debian, another chapter's result tables read by the
Claims page. Those are recorded as they are opened.

When ``$PVQ_INPUTS_LOG`` names a file, :func:`watch_inputs` (called when ``pvq`` is imported)
installs an audit hook (:pep:`578`) that appends to that file the path of every regular file the
process opens for reading, once per path, except what the other parts of the key already cover or
what never matters: the Python installation and its packages (``sys.prefix``, the installed
distributions are hashed instead), the ``pvq`` sources (hashed as a whole), temporary files
(unless they lie in the working directory, the book root, or the results folder), the
tools' own state under the home folder (font caches, Jupyter runtime files), ``/proc``,
``/sys``, ``/dev`` and ``/etc``.
Worker processes spawned by a chapter inherit the environment variable and import ``pvq``, so
what they read is recorded too. Files opened by native code that bypasses Python's ``open`` (a
Rust or C reader) are recorded by :func:`record_input`, which the loaders call explicitly.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

__all__ = ["INPUTS_ENV", "read_input_log", "record_input", "watch_inputs"]

INPUTS_ENV = "PVQ_INPUTS_LOG"

#: Folders under the home folder that hold tools' own state (font caches, Jupyter runtime files),
#: never a chapter's data; ``~/.cache/pvq`` (Fashion-MNIST without root), ``~/.cache/torch`` and
#: ``~/.cache/huggingface`` (weights downloaded by the online loaders) are inputs and stay recorded.
_HOME_NOISE = (".ipython", ".jupyter", ".local/share/jupyter", ".config", ".cache/matplotlib", ".cache/fontconfig")

_STATE: dict = {"installed": False, "seen": set(), "skip": (), "temporary": (), "keep": ()}


def _skipped_prefixes() -> tuple[str, ...]:
    home = str(Path.home())
    dot_folders = [os.path.join(home, d) for d in _HOME_NOISE]
    if os.environ.get("MPLCONFIGDIR"):
        dot_folders.append(os.environ["MPLCONFIGDIR"])
    folders = {
        sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
        str(Path(__file__).resolve().parents[1]),  # the pvq package itself
        "/proc", "/sys", "/dev", "/etc", "/run", "/usr/lib", "/lib",
        *dot_folders,
    }  # fmt: skip
    out = set()
    for f in folders:
        out.add(os.path.join(f, ""))
        out.add(os.path.join(os.path.realpath(f), ""))
    return tuple(sorted(out))


def _temporary_prefixes() -> tuple[str, ...]:
    return tuple({os.path.join(os.path.realpath(f), "") for f in (tempfile.gettempdir(), "/tmp")})


def _reads_only(mode, flags) -> bool:
    if isinstance(mode, str):
        return not any(c in mode for c in "wax+")
    return isinstance(flags, int) and flags & os.O_ACCMODE == os.O_RDONLY


def record_input(path) -> None:
    """Append ``path`` (absolute) to ``$PVQ_INPUTS_LOG``, once per process; nothing when unset."""
    log = os.environ.get(INPUTS_ENV)
    if not log:
        return
    full = os.path.abspath(os.fspath(path))
    if full in _STATE["seen"] or full == os.path.abspath(log):
        return
    _STATE["seen"].add(full)
    try:
        with open(log, "a", encoding="utf-8") as sink:  # one short line per write: appends do not interleave
            sink.write(full + "\n")
    except OSError:
        pass  # a record that cannot be written only costs a later re-execution's precision


def _hook(event: str, args) -> None:
    if event != "open":
        return
    path, mode, flags = args
    if not isinstance(path, (str, os.PathLike)) or not _reads_only(mode, flags):
        return
    full = os.path.abspath(os.fspath(path))
    if full in _STATE["seen"] or not os.path.isfile(full):
        return
    if full.startswith(_STATE["skip"]):
        return
    if full.startswith(_STATE["temporary"]) and not full.startswith(_STATE["keep"]):
        return
    record_input(full)


def watch_inputs() -> bool:
    """Record every file this process reads to ``$PVQ_INPUTS_LOG`` from now on; ``False`` when unset.

    Installed at most once per process (an audit hook cannot be removed); cheap for the files it
    skips (a prefix test per ``open``).
    """
    if not os.environ.get(INPUTS_ENV):
        return False
    if not _STATE["installed"]:
        _STATE["skip"] = _skipped_prefixes()
        _STATE["temporary"] = _temporary_prefixes()
        kept = [os.getcwd(), os.environ.get("PVQ_RESULTS_DIR") or os.getcwd()]  # the book root, the results
        _STATE["keep"] = tuple(os.path.join(os.path.realpath(k), "") for k in kept)
        sys.addaudithook(_hook)
        _STATE["installed"] = True
    return True


def read_input_log(path: Path) -> list[Path]:
    """The distinct files recorded in an inputs log, sorted; missing files (deleted since) dropped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return sorted({Path(ln) for ln in lines if ln.strip() and Path(ln).is_file()})
