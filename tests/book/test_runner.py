"""Chapters that share cached runs execute one after the other, the others in parallel."""

import os
import re
import subprocess
import sys

import nbformat
import pytest

from pvq.book import failures, runner
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


def _nb(folder, name, chain=None, after=()):
    extra = f"#   pvq:\n#     chain: {chain}\n" if chain else ""
    if after:
        extra = "#   pvq:\n#     after:\n" + "".join(f"#     - {stem}\n" for stem in after)
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
    # the chain first (the build's longest path), then the other chapters in order
    assert [[s.stem for s, _ in j] for j in jobs] == [["05_b", "06_c", "08_e"], ["01_a"], ["07_d"]]


def test_a_chapter_waits_for_the_chapters_it_reads(tmp_path, monkeypatch):
    """``after``: 03_c starts only when 01_a (slow, beside it) is done, though a slot is free at once."""
    import threading
    import time

    events, lock = [], threading.Lock()

    def fake(source, ctx, parameters, profile, timeout):
        with lock:
            events.append(("start", source.stem))
        time.sleep({"01_a": 0.6}.get(source.stem, 0.05))
        with lock:
            events.append(("end", source.stem))
        return runner.NotebookRun(source.stem, ctx.out_dir / f"{source.stem}.ipynb", 0.0, parameters)

    monkeypatch.setattr(runner, "_execute_one", fake)
    root = _book(tmp_path)
    (root / "notebooks" / "01_a.py").unlink()
    for name, after in (("01_a", ()), ("02_b", ()), ("03_c", ("01_a", "not_planned"))):
        _nb(root / "notebooks", name, after=after)
    assert runner.chapters_before(root / "notebooks" / "03_c.py") == ("01_a", "not_planned")
    execute_chapters("ci", root=root, results_dir=tmp_path / "res", jobs=2, progress=False)
    assert events.index(("end", "01_a")) < events.index(("start", "03_c"))
    assert events.index(("start", "02_b")) < events.index(("end", "01_a"))  # the other slot was not held up
    # only the chapters of this run are waited for (--only 03 runs it at once); the book's own reader of others
    assert runner.chapters_before(ROOT / "notebooks" / "09_real_networks.py") == ("04_per_layer", "05_fine_tuning")


def test_an_after_that_could_never_be_met_is_refused_before_any_chapter_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "_execute_one", _forbidden)
    root = _book(tmp_path)
    _nb(root / "notebooks", "01_a", after=("02_b",))
    _nb(root / "notebooks", "02_b")
    with pytest.raises(ValueError, match=r"01_a.py names 02_b in its `after` list, but it is queued after 01_a"):
        execute_chapters("ci", root=root, results_dir=tmp_path / "res", progress=False)


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


def test_a_chapters_own_checks_refuse_its_parameters_before_any_kernel_starts(tmp_path, monkeypatch):
    """The runner builds each chapter's record (pvq.book.profiles.check_plan) from what it would pass."""
    monkeypatch.setattr(runner, "_execute_one", _forbidden)
    root = _book(tmp_path)
    (root / "notebooks" / "02_distributions.py").write_text(HEADER.replace("x = 1", "n_bits = [2, 4]").format(extra=""))
    with pytest.raises(ValueError, match=r"^02_distributions: n_bits must hold integers in 1\.\.15 .*got 16 in \["):
        execute_chapters("ci", root=root, overrides={"n_bits": [4, 16]}, progress=False)
    assert not (root / "_build").exists()


def test_no_notebooks_is_an_error(tmp_path):
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    with pytest.raises(FileNotFoundError, match="no notebooks/NN_"):
        execute_chapters("ci", root=tmp_path, progress=False)


def test_plan_order_parameters_and_environment(tmp_path, monkeypatch):
    """Chapters first, the Claims page last; each gets its parameters; PVQ_RESULTS_DIR is restored."""
    seen = []

    def fake(source, ctx, parameters, profile, timeout):
        seen.append((source.stem, parameters, os.environ.get(RESULTS_ENV)))
        return runner.NotebookRun(source.stem, ctx.out_dir / f"{source.stem}.ipynb", 0.0, parameters)

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


# --- a quiet build: per-chapter lines, no kernel chatter, one message per failed chapter ---------

CELLS = {
    "01_ok": '# %%\ny = x + 1\nassert open("_toc.yml").read() == "root: intro\\n"  # runs in the book root\n',
    # the kernel says why it dies on its own stderr, then dies; 03_after shares its chain
    "02_dies": '# %%\nimport os\nos.write(2, b"segfault-like news from C\\n")\nos.kill(os.getpid(), 9)\n',
    "03_after": "# %%\ny = 2\n",
    "04_bad": '# %%\nz = {"a": 1}\n\n# %% tags=["hide-input"]\nlookup = "b"\nz[lookup]\n\n# %%\nnever = 1\n',
    "99_claims": "# %%\ny = 3\n",
}


def _tiny_book(root, stems, chains=None):
    """A book of tiny real notebooks: one parameters cell (``x``) and the cells of ``CELLS``."""
    root.mkdir(exist_ok=True)
    (root / "_toc.yml").write_text("root: intro\n")
    (root / "params").mkdir()
    (root / "params" / "ci.yaml").write_text("profile: ci\n")
    (root / "notebooks").mkdir()
    for stem in stems:
        path = _nb(root / "notebooks", stem, (chains or {}).get(stem))
        path.write_text(path.read_text() + "\n" + CELLS[stem])
    return root


@pytest.mark.process
def test_failed_chapters_are_named_with_their_cell_and_error(tmp_path, caplog, monkeypatch):
    root = _tiny_book(tmp_path / "book", CELLS, chains={"02_dies": "runs", "03_after": "runs"})
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # paths outside the working directory are shown in full
    with caplog.at_level("INFO", logger="pvq.book.runner"):
        with pytest.raises(failures.ChapterFailed) as info:
            execute_chapters("ci", root=root, progress=False, jobs=2)
    assert os.getcwd() == str(tmp_path / "elsewhere")  # the kernels ran in the book root, the runner did not move
    message = str(info.value)
    failed = root / "_build" / "failed"
    src = root / "notebooks"
    # a cell's exception: chapter, cell number in the source (the injected parameters cell is not
    # counted), its line and tag and first line, the exception, the partial notebook
    assert (
        f'chapter 04_bad failed in cell 3 of {src / "04_bad.py"} (line 17, tags: hide-input): lookup = "b"\n'
        f"  KeyError: 'b'\n"
        f"  raised at line 18: z[lookup]\n"  # the cell's frame in the traceback, as a line of the source
        f"  partially executed notebook: {failed / '04_bad.ipynb'}\n"
    ) in message
    assert src.joinpath("04_bad.py").read_text().splitlines()[16:18] == ['lookup = "b"', "z[lookup]"]
    # a dead kernel: what it wrote to its own stderr is quoted, its start-up notice is not
    assert f"chapter 02_dies failed in cell 2 of {src / '02_dies.py'} (line 16): import os\n" in message
    assert "  DeadKernelError: Kernel died\n" in message
    assert "last lines:\n    segfault-like news from C" in message
    assert "IPKernelApp" not in message and "Traceback" not in message
    assert message.endswith("2 of 5 notebooks failed, 1 ran, 2 skipped.")
    # the partial notebooks hold the error; the good chapter was written, nothing else was
    nb = nbformat.read(failed / "04_bad.ipynb", as_version=4)
    assert any(o.get("ename") == "KeyError" for c in nb.cells for o in c.get("outputs", []))
    assert "segfault-like news from C" in (failed / "02_dies.kernel.log").read_text()
    assert sorted(p.name for p in (root / "book" / "chapters").iterdir()) == ["01_ok.ipynb"]
    lines = [r.getMessage() for r in caplog.records]
    for expected in (
        r"\[\d\d:\d\d\] 01_ok started: no record of an earlier execution",
        r"\[\d\d:\d\d\] 01_ok done in \d+\.\d s",
        r"\[\d\d:\d\d\] 04_bad FAILED: KeyError: 'b' \(details at the end\)",
        r"\[\d\d:\d\d\] 03_after skipped: 02_dies failed before it",
        r"\[\d\d:\d\d\] 99_claims skipped: it reads every chapter and 2 failed",
    ):
        assert any(re.fullmatch(expected, ln) for ln in lines), (expected, lines)
    assert not any("03_after started" in ln or "99_claims started" in ln for ln in lines)


@pytest.mark.process
def test_a_successful_run_prints_progress_lines_and_no_kernel_chatter(tmp_path):
    root = _tiny_book(tmp_path, ["01_ok", "99_claims"])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "pvq", "run-notebooks", "--profile", "ci"], cwd=root, env=env,
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    err = r.stderr.splitlines()
    assert [re.sub(r"\d", "0", ln) for ln in err] == [
        "[00:00] 00_ok started: no record of an earlier execution",
        "[00:00] 00_ok done in 0.0 s",
        "[00:00] 00_claims started: no record of an earlier execution",
        "[00:00] 00_claims done in 0.0 s",
    ], r.stderr  # no IPKernelApp line, no bar (stderr is not a terminal)
    assert re.fullmatch(r"2 chapters: 2 executed, 0 reused in 0 min \d\d s \(ci profile\) -> book/chapters\n", r.stdout)


@pytest.mark.process
def test_the_command_fails_with_the_message_once(tmp_path):
    root = _tiny_book(tmp_path, ["04_bad", "99_claims"])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "pvq", "run-notebooks", "--profile", "ci", "--no-progress"], cwd=root,
                       env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.count("error: chapter 04_bad failed in cell 3 of notebooks/04_bad.py (line 17") == 1
    assert "  KeyError: 'b'\n  raised at line 18: z[lookup]\n" in r.stderr
    assert "  partially executed notebook: _build/failed/04_bad.ipynb\n" in r.stderr
    assert "IPKernelApp" not in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.endswith("1 of 2 notebooks failed, 0 ran, 1 skipped.\n") and r.stdout == ""


def _partial(tmp_path, statuses, error_in=None):
    """A partially executed notebook as papermill leaves it: parameters, injected parameters, two cells."""
    v4 = nbformat.v4
    cells = [
        v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        v4.new_code_cell("x = 2", metadata={"tags": ["injected-parameters"]}),
        v4.new_code_cell("\n  first = 1\nsecond = 2"),
        v4.new_code_cell("third = 3"),
    ]
    for cell, status in zip(cells, statuses, strict=True):
        cell.metadata["papermill"] = {"status": status}
    if error_in is not None:
        frame = "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[3]\x1b[39m\x1b[32m, line 3\x1b[39m\n..."  # IPython's
        cells[error_in].outputs = [v4.new_output("error", ename="ValueError", evalue="bad", traceback=["--", frame])]
        cells.insert(0, v4.new_markdown_cell("marker", metadata={"tags": ["papermill-error-cell-tag"]}))
    path = tmp_path / "partial.ipynb"
    nbformat.write(v4.new_notebook(cells=cells), path)
    return path


def test_failure_message_for_a_timeout_a_dead_kernel_and_a_kernel_that_never_started(tmp_path):
    klog = tmp_path / "k.log"
    klog.write_text(
        "[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All communication ...\n"
        "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel.\n\nout of memory\n"
    )
    assert failures.kernel_log_lines(klog.read_text()) == ["out of memory"]
    running = ["completed", "completed", "completed", "pending"]  # a timeout leaves no error output
    timeout = TimeoutError("A cell timed out while it was being executed, after 3 seconds.\nThe message was: ...")
    msg = failures.failure_message("05_x", timeout, _partial(tmp_path, running), kernel_log=klog)
    assert msg == (
        "chapter 05_x failed in cell 2: first = 1\n"  # the injected parameters cell is not counted
        "  TimeoutError: A cell timed out while it was being executed, after 3 seconds.\n"
        f"  partially executed notebook: {tmp_path / 'partial.ipynb'}\n"
        f"  kernel log: {klog}"  # the kernel was alive: its log is named, not quoted
    )
    dead = failures.failure_message("05_x", RuntimeError("Kernel died"), _partial(tmp_path, running), kernel_log=klog)
    assert dead.endswith(f"  kernel log ({klog}), last lines:\n    out of memory")
    never = failures.failure_message("05_x", RuntimeError("Kernel didn't respond in 60 seconds"),
                                   _partial(tmp_path, ["pending"] * 4))  # fmt: skip
    assert never.splitlines()[:2] == ["chapter 05_x failed before its first cell ran",
                                      "  RuntimeError: Kernel didn't respond in 60 seconds"]  # fmt: skip
    # a cell's error output wins over a later started cell, papermill's marker cell is not counted
    err = failures.failure_message("05_x", _CellError(), _partial(tmp_path, ["completed"] * 3 + ["failed"], 2))
    assert err.splitlines()[:3] == [
        "chapter 05_x failed in cell 2: first = 1",
        "  ValueError: bad",
        "  raised at line 3 of the cell: second = 2",  # the cell starts with a blank line
    ]
    source = tmp_path / "05_x.py"
    source.write_text("".join(f"# line {i}\n" for i in range(1, 9)) + "\n  first = 1\nsecond = 2\n")
    err = failures.failure_message("05_x", _CellError(), _partial(tmp_path, ["completed"] * 4, 2), source)
    assert err.splitlines()[0] == f"chapter 05_x failed in cell 2 of {source} (line 10): first = 1"
    assert err.splitlines()[2] == "  raised at line 11: second = 2"
    # a message over several lines stays indented under its chapter; no notebook, no cell
    assert failures.failure_message("05_x", ValueError("one\ntwo"), None) == (
        "chapter 05_x failed before its first cell ran\n  ValueError: one"  # the first line of a non-cell error
    )
    two = _CellError()
    two.evalue = "one\ntwo"
    assert failures.failure_message("05_x", two, None).endswith("  ValueError: one\n    two")


class _CellError(Exception):
    """Stands for papermill's PapermillExecutionError, which carries the cell's exception."""

    ename, evalue = "ValueError", "bad"
