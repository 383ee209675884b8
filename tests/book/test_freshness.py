"""A chapter is executed again only when something it depends on changed, and the runner says why."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from pvq.book import runner
from pvq.book.freshness import (
    EXECUTION_META,
    BuildContext,
    code_digest,
    environment_digest,
    file_digest,
    library_digest,
    recorded_key,
    refresh_prose,
    stale_reasons,
)
from pvq.book.pages import PROFILE_TAG, mark_profile, profile_note
from pvq.book.runner import execute_chapters, profiles_in

HEADER = """# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # {title}

# %% tags=["parameters"]
x = 1
"""

# 01_a reads data.txt (from the book root) and writes a result; the Claims page reads that result
BODIES = {
    "01_a": (
        "# %% [markdown]\n# Prose of chapter one.\n\n"
        "# %%\nimport pvq\nfrom pvq.common.paths import results_dir\n"
        'value = open("data.txt").read().strip()\n'
        '(results_dir("01_a") / "out.csv").write_text(f"x,value\\n{x},{value}\\n")\n'
        "print(value)\n"
    ),
    "99_claims": (
        "# %%\nimport pvq\nfrom pvq.common.paths import results_dir\n"
        'print(open(results_dir("01_a") / "out.csv").read())\n'
    ),
}


def _book(root):
    root.mkdir(exist_ok=True)
    (root / "_toc.yml").write_text("root: intro\n")
    (root / "params").mkdir()
    (root / "params" / "ci.yaml").write_text("profile: ci\n")
    (root / "notebooks").mkdir()
    for stem, body in BODIES.items():
        (root / "notebooks" / f"{stem}.py").write_text(HEADER.format(title=stem) + "\n" + body)
    (root / "data.txt").write_text("41\n")
    return root


def _run(root, **kw):
    runs = execute_chapters("ci", root=root, results_dir=root / "results", progress=False, **kw)
    return {r.stem: (r.action, r.reasons) for r in runs}


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.process
def test_only_what_changed_is_executed_again_and_the_runner_says_why(tmp_path, caplog):
    root = _book(tmp_path / "book")
    chapters, nb1 = root / "book" / "chapters", root / "book" / "chapters" / "01_a.ipynb"
    first = _run(root)
    assert first == {"01_a": ("executed", ("no record of an earlier execution",)),
                     "99_claims": ("executed", ("no record of an earlier execution",))}  # fmt: skip
    key = recorded_key(nbformat.read(nb1, as_version=4))
    assert key["profile"] == "ci" and key["parameters"] == {}  # the cell's own x: no parameter passed
    assert "root:data.txt" in key["inputs"]  # recorded as read by the kernel, named relative to the book
    assert not any(p.startswith(os.path.join(os.path.realpath(os.sys.prefix), "")) for p in key["inputs"])
    assert set(key["outputs"]) == {"out.csv"}
    claims_key = recorded_key(nbformat.read(chapters / "99_claims.ipynb", as_version=4))
    assert list(claims_key["inputs"]) == ["results:01_a/out.csv"]

    # nothing changed: nothing runs, the notebooks are not even rewritten
    stamp = nb1.stat().st_mtime_ns
    with caplog.at_level("INFO", logger="pvq.book.runner"):
        assert _run(root) == {"01_a": ("reused", ()), "99_claims": ("reused", ())}
    assert nb1.stat().st_mtime_ns == stamp
    assert any("01_a reused: nothing it depends on changed" in r.getMessage() for r in caplog.records)

    # prose only: the page is rebuilt from the new source with the recorded outputs, no kernel
    _edit(root / "notebooks" / "01_a.py", "Prose of chapter one.", "Better prose of chapter one.")
    assert _run(root) == {"01_a": ("refreshed", ()), "99_claims": ("reused", ())}
    nb = nbformat.read(nb1, as_version=4)
    assert any("Better prose" in c.source for c in nb.cells if c.cell_type == "markdown")
    assert any("41" in o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert _run(root) == {"01_a": ("reused", ()), "99_claims": ("reused", ())}  # and it stays fresh

    # an input the kernel read changed: that chapter, then the Claims page that reads its result
    (root / "data.txt").write_text("42\n")
    runs = _run(root)
    assert runs["01_a"] == ("executed", ("input changed or missing: data.txt",))
    assert runs["99_claims"] == ("executed", ("input changed or missing: results/01_a/out.csv",))

    # a result file removed: the chapter is executed again; identical, so the Claims page is reused
    (root / "results" / "01_a" / "out.csv").unlink()
    runs = _run(root)
    assert runs == {"01_a": ("executed", ("result file changed or missing: out.csv",)), "99_claims": ("reused", ())}

    # a parameter, a code cell, --force
    runs = _run(root, overrides={"x": 2})
    assert runs["01_a"] == ("executed", ("parameters changed: x",))
    _edit(root / "notebooks" / "99_claims.py", "print(open(", "print('claims', open(")
    assert _run(root, overrides={"x": 2})["99_claims"] == ("executed", ("its code cells changed",))
    assert _run(root, overrides={"x": 2}, force=True) == {"01_a": ("executed", ("--force",)),
                                                          "99_claims": ("executed", ("--force",))}  # fmt: skip

    # each page states its profile
    nb = nbformat.read(nb1, as_version=4)
    assert nb.cells[1].metadata["tags"] == [PROFILE_TAG] and "`ci` profile" in nb.cells[1].source
    assert profiles_in(chapters) == {"ci": ["01_a", "99_claims"]}


@pytest.mark.process
def test_a_profile_change_and_a_mixed_folder_are_said(tmp_path, caplog):
    root = _book(tmp_path / "book")
    (root / "notebooks" / "02_b.py").write_text(HEADER.format(title="B") + "\n# %%\ny = x\n")
    (root / "params" / "full.yaml").write_text("profile: full\n")
    _run(root)
    with caplog.at_level("WARNING", logger="pvq.book.runner"):
        runs = execute_chapters("full", root=root, results_dir=root / "results", only=["01"], progress=False)
    assert {r.stem: r.reasons for r in runs} == {"01_a": ("profile ci -> full",), "99_claims": ("profile ci -> full",)}
    assert profiles_in(root / "book" / "chapters") == {"ci": ["02_b"], "full": ["01_a", "99_claims"]}
    assert any("different profiles (ci: 02_b; full: 01_a, 99_claims)" in r.getMessage() for r in caplog.records)


# --- the parts of the key, without kernels ----------------------------------------------------


def _ctx(tmp_path, **kw):
    for d in ("results", "out"):
        (tmp_path / d).mkdir(parents=True, exist_ok=True)
    return BuildContext(root=tmp_path, results=tmp_path / "results", out_dir=tmp_path / "out", **kw)


def _source(tmp_path, code="y = 1\n", prose="Prose."):
    path = tmp_path / "01_a.py"
    path.write_text(HEADER.format(title="A") + f"\n# %% [markdown]\n# {prose}\n\n# %%\n{code}")
    return path, jupytext.read(path)


def test_stale_reasons_name_each_part_that_changed(tmp_path):
    ctx = _ctx(tmp_path, library="lib", environment="env")
    path, src = _source(tmp_path)
    data = tmp_path / "data.bin"
    data.write_bytes(b"abc")
    (tmp_path / "results" / "01_a").mkdir()
    (tmp_path / "results" / "01_a" / "t.csv").write_text("a\n1\n")
    key = {
        "version": 2, "profile": "ci", "parameters": {"x": 1}, "code": code_digest(src), "source": file_digest(path),
        "library": "lib", "environment": "env", "inputs": {ctx.label(data): file_digest(data)},
        "outputs": ctx.outputs("01_a"),
    }  # fmt: skip
    assert stale_reasons(key, ctx, "01_a", "ci", {"x": 1}, src) == []
    assert stale_reasons(None, ctx, "01_a", "ci", {"x": 1}, src) == ["no record of an earlier execution"]
    assert stale_reasons(key, ctx, "01_a", "full", {"x": 1}, src) == ["profile ci -> full"]
    assert stale_reasons(key, ctx, "01_a", "ci", {"x": 2, "y": 0}, src) == ["parameters changed: x, y"]
    _, other = _source(tmp_path / "..", code="y = 2\n")
    assert stale_reasons(key, ctx, "01_a", "ci", {"x": 1}, other) == ["its code cells changed"]
    _, reworded = _source(tmp_path / "..", prose="Other prose.")
    assert stale_reasons(key, ctx, "01_a", "ci", {"x": 1}, reworded) == []  # prose is not execution
    changed = _ctx(tmp_path, library="lib2", environment="env2")
    assert stale_reasons(key, changed, "01_a", "ci", {"x": 1}, src) == [
        "the pvq library changed",
        "the installed packages changed",
    ]
    data.write_bytes(b"abd")
    (tmp_path / "results" / "01_a" / "t.csv").unlink()
    assert stale_reasons(key, ctx, "01_a", "ci", {"x": 1}, src) == [
        "input changed or missing: data.bin",
        "result file changed or missing: t.csv",
    ]


def test_keys_name_paths_relative_to_the_book_so_a_moved_checkout_keeps_them(tmp_path):
    ctx = _ctx(tmp_path, library="lib", environment="env")
    assert ctx.label(tmp_path / "results" / "02_b" / "t.csv") == "results:02_b/t.csv"
    assert ctx.label(tmp_path / "data" / "w.pt") == "root:data/w.pt"
    assert ctx.label(Path("/usr/share/x.gz")) == "/usr/share/x.gz"
    moved = _ctx(tmp_path / "elsewhere", library="lib", environment="env")
    assert moved.path("results:02_b/t.csv") == tmp_path / "elsewhere" / "results" / "02_b" / "t.csv"
    assert moved.path("root:data/w.pt") == tmp_path / "elsewhere" / "data" / "w.pt"
    assert moved.path("/usr/share/x.gz") == Path("/usr/share/x.gz")


def test_what_counts_as_an_input(tmp_path):
    ctx = _ctx(tmp_path, library="lib", environment="env")
    res = tmp_path / "results"
    assert ctx.counts_as_input(res / "02_b" / "claims.csv", "99_claims")  # another chapter's result
    assert not ctx.counts_as_input(res / "99_claims" / "claims.csv", "99_claims")  # its own: an output
    assert not ctx.counts_as_input(res / "04_c" / "cache" / "k.json", "99_claims")  # a cache
    assert not ctx.counts_as_input(res / "training-cache" / "f" / "k.json", "06_x")
    assert not ctx.counts_as_input(tmp_path / "_build" / "x", "01_a")
    assert not ctx.counts_as_input(tmp_path / "out" / "01_a.ipynb", "01_a")
    assert ctx.counts_as_input(tmp_path / "data" / "w.pt", "01_a")
    assert ctx.counts_as_input("/usr/share/datasets/fashion-mnist/train.gz", "05_f")


def test_digests_see_every_byte(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("a = 1\n")
    (pkg / "sub" / "data.csv").write_text("x\n")
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    before = library_digest(pkg)
    (pkg / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\1")  # compiled files do not count
    assert library_digest(pkg) == before
    (pkg / "sub" / "data.csv").write_text("y\n")  # shipped data counts
    assert library_digest(pkg) != before
    memo = {}
    f = tmp_path / "f.bin"
    f.write_bytes(b"1" * 3_000_000)
    assert file_digest(f, memo) == file_digest(f) and len(memo) == 1


@pytest.mark.process
def test_the_environment_is_what_a_fresh_interpreter_sees(tmp_path):
    """A distribution where the kernel would start counts; what this process imported does not."""
    check = "from pvq.book.freshness import environment_digest as e; a = e(); import setuptools; print(a == e())"
    same = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert (
        "setuptools/_vendor"
        in subprocess.run(
            [sys.executable, "-c", "import sys, setuptools; print(sys.path)"], capture_output=True, text=True
        ).stdout
    )  # importing setuptools changes this process's sys.path (and its distributions) ...
    assert same.stdout.strip() == "True"  # ... but not the digest
    (tmp_path / "somepkg-1.0.dist-info").mkdir()
    (tmp_path / "somepkg-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: somepkg\nVersion: 1.0\n")
    assert environment_digest(tmp_path) != environment_digest(tmp_path / "somepkg-1.0.dist-info")


def test_refresh_prose_keeps_outputs_and_takes_new_text(tmp_path):
    path, _ = _source(tmp_path)
    executed = jupytext.read(path)
    code = [c for c in executed.cells if c.cell_type == "code"]
    code[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="out\n")]
    code[1].execution_count = 3
    code[1].metadata["papermill"] = {"status": "completed"}
    injected = nbformat.v4.new_code_cell("x = 5", metadata={"tags": ["injected-parameters"]})
    executed.cells.insert(executed.cells.index(code[0]) + 1, injected)
    executed.metadata[EXECUTION_META] = {"version": 2, "profile": "ci"}
    _, reworded = _source(tmp_path / "..", prose="New words.")
    new = refresh_prose(executed, reworded)
    assert [c.cell_type for c in new.cells] == [c.cell_type for c in executed.cells]
    assert any(c.source == "New words." for c in new.cells)
    cells = [c for c in new.cells if c.cell_type == "code"]
    assert cells[1].source == "x = 5" and cells[2].outputs[0]["text"] == "out\n"
    assert cells[2].execution_count == 3 and cells[2].metadata["papermill"] == {"status": "completed"}
    assert new.metadata[EXECUTION_META] == {"version": 2, "profile": "ci"}
    _, recoded = _source(tmp_path / "..", code="y = 2\n")
    with pytest.raises(ValueError, match="same code cells"):
        refresh_prose(executed, recoded)


def test_the_profile_note_is_one_cell_after_the_title():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell("1")])
    mark_profile(nb, "ci")
    mark_profile(nb, "full")  # replaces, never stacks
    assert [c.cell_type for c in nb.cells] == ["markdown", "markdown", "code"]
    assert nb.cells[1].source == profile_note("full") and "`full` profile" in nb.cells[1].source
    assert "{ref}`reproducing`" in profile_note("ci")
    nbformat.validate(nb)
    json.dumps(nb)


def test_leftovers_of_a_killed_run_are_removed(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".01_a.abc.ipynb").write_text("{")  # a half-written notebook
    (tmp_path / "out" / "01_a.ipynb").write_text("{}")
    (tmp_path / "res" / "04_x" / "cache").mkdir(parents=True)
    (tmp_path / "res" / "04_x" / "cache" / ".k.json.x1.tmp").write_text("")
    (tmp_path / "res" / "04_x" / "t.csv").write_text("")
    assert runner._clean_leftovers(tmp_path / "out", tmp_path / "res") == 2
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["01_a.ipynb", "t.csv"]
