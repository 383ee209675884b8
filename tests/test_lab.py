"""``make lab``: the chapters open as notebooks in JupyterLab, run in the project's kernel, save as .py.

Checked without starting a server: the kernel that ``make setup`` registers in the environment, the
JupyterLab settings that open a ``.py`` as a notebook, jupytext's server extension, and a save of
every chapter through jupytext's contents manager (the one JupyterLab uses) with the repository's
``jupytext.toml``, as a reader's session would leave it (outputs, execution counts, Lab's metadata).
"""

import json
import shutil
import sys
from pathlib import Path

import jupytext
import pytest

from .conftest import ROOT

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def _header(text: str) -> str:
    """The YAML header of a py:percent file: everything up to its closing ``# ---``."""
    assert text.startswith("# ---\n"), "a chapter starts with its jupytext header"
    return text[: text.index("\n# ---\n", 1) + 7]


def test_the_project_kernel_is_registered_in_this_environment():
    """``make setup`` registers the kernel ``pvq`` inside .venv, running this very interpreter."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("pvq")
    assert spec.language == "python" and spec.display_name == "Python (pvq)"
    assert Path(spec.resource_dir).resolve().is_relative_to(Path(sys.prefix).resolve())  # in .venv, not in a home
    python = Path(spec.argv[0])
    assert python.parent.resolve() == Path(sys.executable).parent.resolve()  # this environment's bin/
    assert "ipykernel_launcher" in spec.argv and spec.argv[-2:] == ["-f", "{connection_file}"]


def test_jupyterlab_opens_a_chapter_as_a_notebook():
    """JupyterLab is installed, jupytext's server extension is on, and a .py opens as a notebook."""
    assert Path(sys.executable).with_name("jupyter-lab").is_file()
    ext = json.loads((Path(sys.prefix) / "etc/jupyter/jupyter_server_config.d/jupytext.json").read_text())
    assert ext["ServerApp"]["jpserver_extensions"]["jupyterlab_jupytext"] is True
    shipped = json.loads((ROOT / "tools/lab/overrides.json").read_text())
    assert shipped["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]["python"] == "Jupytext Notebook"
    installed = Path(sys.prefix) / "share/jupyter/lab/settings/overrides.json"
    assert json.loads(installed.read_text()) == shipped, "run make setup: it installs tools/lab/overrides.json"


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_runs_in_the_project_kernel(source):
    assert jupytext.read(source).metadata["kernelspec"]["name"] == "pvq"


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_saving_a_chapter_from_jupyterlab_keeps_its_py_source(source, tmp_path):
    """Open, run (outputs, counts, Lab's cell metadata) and save: the .py keeps every cell and its header."""
    from jupytext import TextFileContentsManager

    shutil.copy(ROOT / "jupytext.toml", tmp_path)
    (tmp_path / "notebooks").mkdir()
    shutil.copy(source, tmp_path / "notebooks")
    path = f"notebooks/{source.name}"
    before = source.read_text()
    cm = TextFileContentsManager(root_dir=str(tmp_path))
    model = cm.get(path)
    assert model["type"] == "notebook"
    nb = model["content"]
    original = [(c.cell_type, c.source, dict(c.metadata)) for c in nb.cells]
    nb.metadata["language_info"] = {"name": "python", "version": "3.11"}
    for count, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = count + 1
        cell.outputs = [{"output_type": "stream", "name": "stdout", "text": "output-marker-7f3a\n"}]
        cell.metadata.update({"execution": {"iopub.status.idle": "2026-01-01T00:00:00Z"}, "scrolled": True})
    cm.save({"type": "notebook", "format": "json", "content": nb}, path)
    after = (tmp_path / path).read_text()
    assert sorted(p.name for p in (tmp_path / "notebooks").iterdir()) == [source.name]  # no .ipynb beside it
    assert _header(after) == _header(before)  # kernel, chain and format metadata kept; no version stamp added
    assert "output-marker-7f3a" not in after and "iopub" not in after and "scrolled" not in after
    reread = jupytext.reads(after, fmt="py:percent")
    assert [(c.cell_type, c.source, dict(c.metadata)) for c in reread.cells] == original


def test_the_header_check_catches_lost_metadata(tmp_path):
    """The check above fails when a save drops header metadata: here a config without ``pvq`` in its filter."""
    from jupytext import TextFileContentsManager

    header = _header((ROOT / "notebooks" / "01_setup.py").read_text())
    header = header.replace("#   kernelspec:\n", "#   pvq:\n#     chain: demo\n#   kernelspec:\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "demo.py").write_text(header + "\n# %%\nx = 1\n")
    (tmp_path / "jupytext.toml").write_text(
        'notebook_metadata_filter = "-jupytext.text_representation.jupytext_version"\n'
    )
    cm = TextFileContentsManager(root_dir=str(tmp_path))
    cm.save(
        {"type": "notebook", "format": "json", "content": cm.get("notebooks/demo.py")["content"]}, "notebooks/demo.py"
    )
    after = (tmp_path / "notebooks" / "demo.py").read_text()
    assert "chain: demo" not in after and _header(after) != header
