"""Why a chapter failed, in one message: the chapter, the cell, the exception, where to look.

A failed chapter raises :class:`ChapterFailed` whose message (:func:`failure_message`) names the
chapter, the cell (its number, its line in ``notebooks/NN_slug.py``, its tags), the exception,
the partially executed notebook kept under ``_build/failed/``, and quotes the kernel's own log
when the kernel itself may be what failed (:data:`BENIGN_KERNEL_LINES` aside).
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["BENIGN_KERNEL_LINES", "ChapterFailed", "failure_message", "kernel_log_lines", "shown_path"]

#: What every kernel writes to its own stderr and that says nothing about the chapter, namely the
#: transport notice at start-up and the interrupt that the kernel manager sends before shutting a
#: kernel down. Any other line of the kernel's log is shown when the chapter fails.
BENIGN_KERNEL_LINES = (
    "Kernel is running over TCP without encryption",
    "KeyboardInterrupt caught in kernel",
)

#: Tag papermill gives the two marker cells it inserts into a failed notebook.
_ERROR_MARKER = "papermill-error-cell-tag"


def kernel_log_lines(text: str) -> list[str]:
    """The lines of a kernel's own log that matter: all but :data:`BENIGN_KERNEL_LINES` and blanks."""
    return [ln for ln in text.splitlines() if ln.strip() and not any(b in ln for b in BENIGN_KERNEL_LINES)]


def _failed_cell(nb) -> tuple[int, object] | None:
    """The failed cell of a partially executed notebook and its number in the chapter source (from 1).

    The cell with an error output, or else the last one papermill started (a timeout or a dead
    kernel leaves no error output). Papermill's marker cells and its injected parameters cell are
    not chapter cells and are not counted.
    """
    cells = [c for c in nb.cells if _ERROR_MARKER not in c.metadata.get("tags", [])]
    numbered, n = [], 0
    for c in cells:
        if "injected-parameters" not in c.metadata.get("tags", []):
            n += 1
        numbered.append((n, c))
    for n, c in numbered:
        if any(o.get("output_type") == "error" for o in c.get("outputs", [])):
            return n, c
    started = [(n, c) for n, c in numbered if c.metadata.get("papermill", {}).get("status", "pending") != "pending"]
    return started[-1] if started else None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CELL_FRAME = re.compile(r"Cell In\s*\[\d*\], line (\d+)")  # IPython's traceback frame of a cell


def _cell_location(number: int, cell, source: Path | None, traceback: list[str]) -> tuple[str, str | None]:
    """Where a failed cell is (number, source line, tags, first line) and the line that raised.

    The cell's line comes from finding its first line in ``source`` (when it occurs there once);
    the raising line from the cell's frame in IPython's traceback ("Cell In[3], line 22"), given
    as a line of ``source`` when the cell's own line is known.
    """
    text = cell.source.splitlines()
    first = next((k for k, ln in enumerate(text) if ln.strip()), None)
    details, start = [], None
    if source is not None and first is not None and source.exists():
        hits = [i for i, ln in enumerate(source.read_text().splitlines(), 1) if ln == text[first]]
        start = hits[0] - first if len(hits) == 1 else None  # the .py line of the cell's line 1
    if start is not None:
        details.append(f"line {start + first}")
    tags = [t for t in cell.metadata.get("tags", []) if t != _ERROR_MARKER]
    if tags:
        details.append(f"tags: {', '.join(tags)}")
    where = f"in cell {number}" + (f" of {shown_path(source)}" if source is not None else "")
    opening = text[first].strip() if first is not None else "(empty)"
    where += (f" ({', '.join(details)})" if details else "") + f": {opening}"
    frames = [m for entry in traceback if (m := _CELL_FRAME.search(_ANSI.sub("", entry)))]
    if not frames or not 1 <= int(frames[0].group(1)) <= len(text):
        return where, None
    line = int(frames[0].group(1))  # the top-level statement of the cell that raised
    at = f"line {start + line - 1}" if start is not None else f"line {line} of the cell"
    return where, f"{at}: {text[line - 1].strip()}"


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it (as a reader typed it)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def failure_message(stem: str, error: BaseException, notebook: Path | None, source: Path | None = None,
                    kernel_log: Path | None = None) -> str:  # fmt: skip
    """One message for a failed chapter: the chapter, the cell, the error, where to look.

    Parameters
    ----------
    stem : str
        The chapter (``02_distributions``).
    error : BaseException
        What papermill raised (a cell's exception, a timeout, a dead kernel, ...).
    notebook : Path, optional
        The partially executed notebook; the failed cell is read from it.
    source : Path, optional
        The chapter's ``.py`` source, to give the failed cell's line when its first line is unique.
    kernel_log : Path, optional
        The kernel's own stdout and stderr. Its lines other than :data:`BENIGN_KERNEL_LINES` are
        quoted (the last 20) when the error is not an exception raised in a cell nor a timeout (a
        dead kernel may have said why there); otherwise only the log's path is given.
    """
    import nbformat

    nb = None
    if notebook is not None and notebook.exists():
        try:
            nb = nbformat.read(notebook, as_version=4)
        except Exception:  # an unreadable partial notebook still gets a message
            nb = None
    found = _failed_cell(nb) if nb is not None else None
    cell_error = hasattr(error, "ename")  # papermill's error for an exception raised in a cell
    if cell_error:
        ename, evalue = error.ename, str(error.evalue).strip()
    else:  # a timeout, a dead kernel, a kernel that did not start: the first line says which
        ename, evalue = type(error).__name__, (str(error).strip().splitlines() or [""])[0]
    where, raised = "before its first cell ran", None
    if found is not None:
        number, cell = found
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors and cell_error:
            ename, evalue = errors[0].get("ename", ename), str(errors[0].get("evalue", "")).strip()
        where, raised = _cell_location(number, cell, source, errors[0].get("traceback", []) if errors else [])
    evalue = (evalue if len(evalue) <= 1500 else evalue[:1500] + " ...").replace("\n", "\n    ")
    msg = [f"chapter {stem} failed {where}", f"  {ename}: {evalue}" if evalue else f"  {ename}"]
    if raised:
        msg.append(f"  raised at {raised}")
    if notebook is not None:
        msg.append(f"  partially executed notebook: {shown_path(notebook)}")
    if kernel_log is not None and kernel_log.exists():
        extra = kernel_log_lines(kernel_log.read_text(errors="replace"))
        if extra and (cell_error or isinstance(error, TimeoutError)):  # the kernel was fine
            msg.append(f"  kernel log: {shown_path(kernel_log)}")
        elif extra:  # the kernel itself may be what failed
            msg.append(f"  kernel log ({shown_path(kernel_log)}), last lines:")
            msg += [f"    {ln}" for ln in extra[-20:]]
    return "\n".join(msg)


class ChapterFailed(RuntimeError):
    """A chapter failed; the message is :func:`failure_message`'s."""
