"""Chapters that share cached runs execute one after the other, the others in parallel."""

import os

import pytest

from pvq.book import runner
from pvq.book.runner import _chained, chain_name, execute_chapters  # _chained: this module's own helper
from pvq.common.paths import RESULTS_ENV, notebook_sources

from ..conftest import ROOT

HEADER = """# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
{extra}# ---

# %% tags=["parameters"]
x = 1
"""


def _nb(folder, name, chain=None):
    extra = f"#   pvq:\n#     chain: {chain}\n" if chain else ""
    path = folder / f"{name}.py"
    path.write_text(HEADER.format(extra=extra))
    return path


def test_chains_group_in_order(tmp_path):
    a = _nb(tmp_path, "01_a")
    b = _nb(tmp_path, "05_b", "runs")
    c = _nb(tmp_path, "06_c", "runs")
    d = _nb(tmp_path, "07_d")
    e = _nb(tmp_path, "08_e", "runs")
    assert [chain_name(p) for p in (a, b, c, d, e)] == [None, "runs", "runs", None, "runs"]
    jobs = _chained([(p, {}) for p in (a, b, c, d, e)])
    assert [[s.stem for s, _ in j] for j in jobs] == [["01_a"], ["05_b", "06_c", "08_e"], ["07_d"]]


def test_the_book_chains_its_fine_tuning_chapters():
    chained = [s.stem for s in notebook_sources(ROOT) if chain_name(s)]
    assert chained == ["05_fine_tuning", "06_combining", "07_representations"]


def _book(tmp_path):
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "ci.yaml").write_text("profile: ci\n")
    (tmp_path / "notebooks").mkdir()
    _nb(tmp_path / "notebooks", "01_a")
    _nb(tmp_path / "notebooks", "99_claims")
    return tmp_path


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"overrides": {"y": 2}}, ValueError, r"unknown parameter\(s\) \['y'\]; the chapters declare \['x'\]"),
        ({"only": ["02"]}, ValueError, r"unknown chapter\(s\) \['02'\]; available: \['01_a', '99_claims'\]"),
        ({"profile": "fast"}, ValueError, "profile must be one of"),
    ],
)
def test_bad_requests_are_refused_before_any_notebook_runs(tmp_path, monkeypatch, kwargs, error, message):
    monkeypatch.setattr(runner, "_execute_one", _forbidden)
    with pytest.raises(error, match=message):
        execute_chapters(**{"profile": "ci", **kwargs}, root=_book(tmp_path), progress=False)


def test_no_notebooks_is_an_error(tmp_path):
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    with pytest.raises(FileNotFoundError, match="no notebooks/NN_"):
        execute_chapters("ci", root=tmp_path, progress=False)


def test_plan_order_parameters_and_environment(tmp_path, monkeypatch):
    """Chapters first, the Claims page last; each gets its parameters; PVQ_RESULTS_DIR is restored."""
    seen = []

    def fake(source, out_dir, parameters, root, timeout):
        seen.append((source.stem, parameters, os.environ.get(RESULTS_ENV)))
        return runner.NotebookRun(source.stem, out_dir / f"{source.stem}.ipynb", 0.0, parameters)

    monkeypatch.setattr(runner, "_execute_one", fake)
    monkeypatch.setenv(RESULTS_ENV, "/somewhere/else")
    root = _book(tmp_path)
    runs = execute_chapters("ci", root=root, results_dir=tmp_path / "res", overrides={"x": 5}, progress=False)
    assert [r.stem for r in runs] == ["01_a", "99_claims"]
    assert seen == [
        ("01_a", {"x": 5}, str((tmp_path / "res").resolve())),
        ("99_claims", {"x": 5}, str((tmp_path / "res").resolve())),
    ]
    assert os.environ[RESULTS_ENV] == "/somewhere/else"  # restored after the run
    assert (root / "book" / "chapters").is_dir()


def _forbidden(*_a, **_k):
    raise AssertionError("a notebook was executed")
