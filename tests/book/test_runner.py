"""Chapters that share cached runs execute one after the other, the others in parallel."""

from pvq.build import _chained, chain_name

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
    from pvq.paths import notebook_sources

    from .conftest import ROOT

    chained = [s.stem for s in notebook_sources(ROOT) if chain_name(s)]
    assert chained == ["05_fine_tuning", "06_combining", "07_representations"]
