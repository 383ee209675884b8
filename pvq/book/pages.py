"""What a reader sees of an executed chapter (issue 11): the page, not the notebook's plumbing.

Papermill adds a cell with the injected parameters (``profile = "ci"``…) after a chapter's
parameters cell; a reader needs neither (each chapter shows its parameters as a small table,
:meth:`pvq.book.params.ChapterParams.to_frame`). :func:`hide_parameter_cells` tags both
``remove-cell`` for Jupyter Book, so they stay in the executed notebook (the record of the run,
and what JupyterLab shows) but never on the page.
"""

from __future__ import annotations

__all__ = ["PARAMETER_TAGS", "hide_parameter_cells"]

#: Tags of the cells that hold parameters (the chapter's own and papermill's injected one).
PARAMETER_TAGS = ("parameters", "injected-parameters")


def hide_parameter_cells(nb) -> int:
    """Tag every parameters cell of ``nb`` (a notebook node) ``remove-cell``; return how many.

    Idempotent: a cell already tagged keeps a single ``remove-cell`` tag.
    """
    count = 0
    for cell in nb.cells:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if any(t in tags for t in PARAMETER_TAGS):
            if "remove-cell" not in tags:
                tags.append("remove-cell")
            count += 1
    return count
