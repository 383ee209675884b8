"""What a reader sees of an executed chapter (issue 11): the page, not the notebook's plumbing.

Papermill adds a cell with the injected parameters (``profile = "ci"``…) after a chapter's
parameters cell; a reader needs neither (each chapter shows its parameters as a small table,
:meth:`pvq.book.params.ChapterParams.to_frame`). :func:`hide_parameter_cells` tags both
``remove-cell`` for Jupyter Book, so they stay in the executed notebook (the record of the run,
and what JupyterLab shows) but never on the page.

:func:`mark_profile` states on each page the profile it was executed with (issue 12), so a book
built from chapters of different profiles never mixes them silently.
"""

from __future__ import annotations

__all__ = ["PARAMETER_TAGS", "PROFILE_TAG", "hide_parameter_cells", "mark_profile", "profile_note"]

#: Tags of the cells that hold parameters (the chapter's own and papermill's injected one).
PARAMETER_TAGS = ("parameters", "injected-parameters")

#: Tag of the markdown cell :func:`mark_profile` adds.
PROFILE_TAG = "pvq-profile"


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


def profile_note(profile: str) -> str:
    """The MyST note that tells a reader which profile a page was executed with."""
    if profile == "full":
        body = "The numbers on this page come from the `full` profile, the book's published build."
    else:
        body = (
            f"This page was executed with the `{profile}` profile: shortened sweeps and fewer runs, for a fast "
            "build, so its numbers are not the book's published ones (those come from the `full` profile; see "
            "{ref}`reproducing`)."
        )
    return f":::{{admonition}} Executed with the `{profile}` profile\n:class: pvq-profile\n\n{body}\n:::"


def mark_profile(nb, profile: str) -> None:
    """Put :func:`profile_note` right after the page's first cell (its title), replacing an older one."""
    import nbformat

    nb.cells = [c for c in nb.cells if PROFILE_TAG not in c.get("metadata", {}).get("tags", [])]
    cell = nbformat.v4.new_markdown_cell(profile_note(profile), metadata={"tags": [PROFILE_TAG]})
    cell["id"] = PROFILE_TAG  # a stable id: the same page gets the same cell
    nb.cells.insert(1 if nb.cells else 0, cell)
