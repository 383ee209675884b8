"""The page a reader sees: papermill's parameters never on it."""

import nbformat

from pvq.book.pages import hide_parameter_cells


def test_parameter_cells_are_removed_from_the_page_and_kept_in_the_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("profile = 'full'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("# Parameters\nprofile = 'ci'", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["hide-input"]}),
        nbformat.v4.new_markdown_cell("text"),
    ]
    assert hide_parameter_cells(nb) == 2
    assert [c.metadata.get("tags") for c in nb.cells] == [
        ["parameters", "remove-cell"], ["injected-parameters", "remove-cell"], ["hide-input"], [],
    ]  # fmt: skip
    assert hide_parameter_cells(nb) == 2 and nb.cells[0].metadata.tags.count("remove-cell") == 1
    assert len(nb.cells) == 4  # nothing dropped: the executed notebook keeps the record of the run
