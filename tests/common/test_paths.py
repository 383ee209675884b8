"""Where the project's files are: the book root found by _toc.yml, the results folder, the chapters."""

from pvq.common.paths import RESULTS_ENV, book_root, notebook_sources, results_dir, results_root

from ..conftest import ROOT


def test_book_root_walks_up_to_the_toc(tmp_path, monkeypatch):
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert book_root(deep) == tmp_path.resolve()
    monkeypatch.chdir(deep)
    assert book_root() == tmp_path.resolve()
    assert book_root(ROOT / "pvq") == ROOT


def test_book_root_falls_back_to_the_start(tmp_path):
    lone = tmp_path / "lone"
    lone.mkdir()
    assert book_root(lone) == lone.resolve()


def test_results_follow_the_environment(results_tmp, tmp_path, monkeypatch):
    assert results_root() == results_tmp.resolve()
    folder = results_dir("02_distributions")
    assert folder == results_tmp.resolve() / "02_distributions" and folder.is_dir()
    monkeypatch.delenv(RESULTS_ENV)
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    monkeypatch.chdir(tmp_path)
    assert results_root() == tmp_path.resolve() / "results"


def test_notebook_sources_are_the_numbered_chapters(tmp_path):
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    (tmp_path / "notebooks").mkdir()
    for name in ("02_b.py", "01_a.py", "helper.py", "1_x.py", "99_claims.py", "03_c.ipynb"):
        (tmp_path / "notebooks" / name).write_text("")
    assert [p.name for p in notebook_sources(tmp_path)] == ["01_a.py", "02_b.py", "99_claims.py"]
