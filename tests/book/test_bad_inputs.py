"""Bad input tried as a user would: refused before any work, in one line, with exit status 2.

Every case runs through :func:`pvq.book.cli.main` in-process (a few also through a real
``python -m pvq``), and the table of what each gets is the one in ``book/bad_inputs.md``.
When it is stale, ``PVQ_WRITE_DOCS=1`` rewrites it:

    PVQ_WRITE_DOCS=1 .venv/bin/python -m pytest -q tests/book/test_bad_inputs.py
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from pvq.book import cli, runner

from ..conftest import ROOT

DOC = ROOT / "book" / "bad_inputs.md"
START, END = "% bad-inputs table: start", "% bad-inputs table: end"

#: (where it runs, command after ``python -m pvq``). ``scratch``: a folder holding the files named
#: below (:func:`scratch`); ``book``: the repository; ``unbuilt``: a book whose chapters never ran.
CASES = [
    ("scratch", "analyze mobilenet_v2 --bits 0-4"),
    ("scratch", "analyze mobilenet_v2 --bits 16"),
    ("scratch", "analyze mobilenet_v2 --bits two"),
    ("scratch", "analyze mobilenet_v2 --bits 1-4 --grid symmetric"),
    ("scratch", "analyze mobilenet_v2 --grid asym"),
    ("scratch", "analyze"),
    ("scratch", "analyze missing.pth"),
    ("scratch", "analyze resnet9000"),
    ("scratch", "analyze notes.csv"),
    ("scratch", "analyze junk.pt"),
    ("scratch", "analyze empty.pt"),
    ("scratch", "analyze pickled-class.pt"),
    ("scratch", "analyze biases-only.pt"),
    ("scratch", "analyze twins.pt"),
    ("scratch", "analyze twins.pt --key teacher"),
    ("scratch", "analyze mobilenet_v2 --key model"),
    ("scratch", "analyze weights.safetensors --key model"),
    ("scratch", "analyze mobilenet_v2 --out notes.csv/out"),
    ("scratch", "analyze mobilenet_v2 --out /proc/pvq-out"),
    ("scratch", "analyze mobilenet_v2 --formats int4,fp5"),
    ("scratch", "analyze mobilenet_v2 --formats int4,mxfp4 --budget 3"),
    ("scratch", "analyze mobilenet_v2 --budget lots"),
    ("scratch", "analyze mobilenet_v2 --formats int8_4:2"),
    ("book", "run-notebooks --profile ci --only 02 -p 'n_bits=[0,3]'"),
    ("book", "run-notebooks --profile ci -p 'n_bits=[4,16]'"),
    ("book", "run-notebooks --profile ci --only 02 -p n_bits=4"),
    ("book", "run-notebooks --profile ci --only 02 -p 'n_bits=[2'"),
    ("book", "run-notebooks --profile ci --only 02 -p n_bits"),
    ("book", "run-notebooks --profile ci --only 02 -p distribution=cauchy"),
    ("book", "run-notebooks --profile ci --only 03 -p 'models=[resnet9000]'"),
    ("book", "run-notebooks --profile ci --only 04 -p 'layers={resnet50: [conv1]}'"),
    ("book", "run-notebooks --profile ci --only 05 -p seeds=1.5"),
    ("book", "run-notebooks --profile ci --only 05 -p imagenet_dir=no-such-folder"),
    ("book", "run-notebooks --profile ci --only 07 -p probe_points=0"),
    ("book", "run-notebooks --profile ci --only 08 -p 'formats=[int4, fp7]'"),
    ("book", "run-notebooks --profile ci --only 08 -p 'budgets=[4, -1]'"),
    ("book", "run-notebooks --profile ci --only 09 -p 'networks=[resnet50]'"),
    ("book", "run-notebooks --profile ci --only 09 -p 'network_methods=[gptq, nf4_b64]'"),
    ("book", "run-notebooks --profile ci -p n_bitz=[2]"),
    ("book", "run-notebooks --profile fast"),
    ("book", "run-notebooks --profile ci --only 42"),
    ("book", "run-notebooks --profile ci --jobs two"),
    ("scratch", "imagenet no-such-folder --arch mobilenet_v2 --method qat --bits 4"),
    ("scratch", "imagenet not-imagenet --arch mobilenet_v2 --method qat --bits 4"),
    ("scratch", "imagenet not-imagenet --arch mobilenet_v2 --method qat --bits 16"),
    ("scratch", "imagenet not-imagenet --arch mobilenet_v2 --method qat"),
    ("scratch", "imagenet not-imagenet --arch mobilenet_v2 --method prune"),
    ("scratch", "imagenet not-imagenet --arch mobilenet_v2 --method prune --sparsity 1.5"),
    ("scratch", "imagenet not-imagenet --arch resnet50 --method qat --bits 4"),
    ("unbuilt", "pdf"),
]

#: Also run through a real ``python -m pvq``, to check the exit status and stderr end to end.
SUBPROCESS = {
    "analyze junk.pt",
    "run-notebooks --profile ci --only 02 -p 'n_bits=[0,3]'",
    "run-notebooks --profile fast",
}


class Foreign:
    """A class pickled into a checkpoint (loading it would run this module's code)."""


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """The scratch folder with the files the cases name, and a book whose chapters never ran."""
    scratch = tmp_path_factory.mktemp("scratch")
    (scratch / "notes.csv").write_text("a,b\n1,2\n")
    (scratch / "junk.pt").write_bytes(b"\x80\x04garbage")
    (scratch / "empty.pt").write_bytes(b"")
    torch.save({"model": {"fc.weight": torch.ones(4, 4)}, "config": Foreign()}, scratch / "pickled-class.pt")
    torch.save({"bn.weight": torch.ones(3), "fc.bias": torch.zeros(3)}, scratch / "biases-only.pt")
    twin = {"fc.weight": torch.ones(4, 4)}
    torch.save({"model": twin, "ema": dict(twin)}, scratch / "twins.pt")
    save_file({"fc.weight": torch.ones(4, 4)}, str(scratch / "weights.safetensors"))
    (scratch / "not-imagenet").mkdir()
    unbuilt = tmp_path_factory.mktemp("unbuilt")
    (unbuilt / "_toc.yml").write_text((ROOT / "_toc.yml").read_text())
    (unbuilt / "notebooks").mkdir()
    for source in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"):
        (unbuilt / "notebooks" / source.name).write_text("")
    return {"scratch": scratch, "book": ROOT, "unbuilt": unbuilt}


def _clean(text: str, folders: dict) -> str:
    places = {str(p) for p in folders.values()} | {str(p.resolve()) for p in folders.values()}
    for where in sorted(places, key=len, reverse=True):
        text = text.replace(where + "/", "").replace(where, ".")
    return text


@pytest.fixture(scope="module")
def outcomes(folders):
    """``{command: (exit status, stderr, stdout)}`` of every case, in-process; no kernel may start."""
    results, before = {}, _listing(folders["scratch"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "_run_plan", _no_kernel)
        for where, command in CASES:
            mp.chdir(folders[where])
            results[command] = _in_process(command, folders)
    assert _listing(folders["scratch"]) == before  # nothing written for a refused input (pvq-analysis/ ...)
    return results


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _no_kernel(*args, **kwargs):
    raise AssertionError("a chapter was about to run: the input was not refused before any kernel started")


def _in_process(command: str, folders: dict) -> tuple[int, str, str]:
    import contextlib
    import io

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            status = cli.main(shlex.split(command))
        except SystemExit as stop:  # argparse
            status = stop.code
    return status, _clean(err.getvalue(), folders), _clean(out.getvalue(), folders)


@pytest.mark.parametrize("command", [c for _, c in CASES])
def test_refused_in_one_line_with_status_2(outcomes, command):
    status, stderr, stdout = outcomes[command]
    assert status == 2, (command, stderr)
    assert stderr.count("\n") == 1 and stderr.endswith("\n"), stderr
    assert ": error: " in stderr and "Traceback" not in stderr and stdout == "", stderr
    assert "/tmp/" not in stderr and str(ROOT) not in stderr


@pytest.mark.process
@pytest.mark.parametrize("command", sorted(SUBPROCESS))
def test_the_same_through_a_real_process(folders, outcomes, command):
    where = next(w for w, c in CASES if c == command)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "pvq", *shlex.split(command)], cwd=folders[where], env=env,
                       capture_output=True, text=True, timeout=180)  # fmt: skip
    assert (r.returncode, _clean(r.stderr, folders)) == outcomes[command][:2]


def render_table(outcomes) -> str:
    """The Markdown table of the cases: command, message (stderr), exit status."""

    def code(text):  # verbatim: no typographic quotes or dashes (--bits stays --bits); backticks inside
        return "`` " + text.replace("|", "\\|") + " ``"

    rows = ["| command | what it answers (stderr) | exit status |", "| --- | --- | --- |"]
    for _, command in CASES:
        status, stderr, _ = outcomes[command]
        rows.append(f"| {code('python -m pvq ' + command)} | {code(stderr.strip())} | {status} |")
    return "\n".join(rows) + "\n"


def test_the_docs_table_is_current(outcomes):
    text = DOC.read_text()
    head, start, rest = text.partition(START + "\n")
    _, end, tail = rest.partition(END + "\n")
    assert start and end, f"{DOC.name} must hold the lines {START!r} and {END!r}"
    wanted = head + START + "\n" + render_table(outcomes) + END + "\n" + tail
    if wanted != text and os.environ.get("PVQ_WRITE_DOCS") == "1":
        DOC.write_text(wanted)
        return
    assert wanted == text, (
        f"the table of bad inputs in {DOC.relative_to(ROOT)} is stale; rewrite it with "
        "PVQ_WRITE_DOCS=1 .venv/bin/python -m pytest -q tests/book/test_bad_inputs.py"
    )


def test_every_case_is_a_distinct_command():
    assert len({c for _, c in CASES}) == len(CASES) and SUBPROCESS <= {c for _, c in CASES}
    assert Path(DOC).is_file()
