"""Every command the README and the "Reproducing and rerunning" page show is run, so the docs cannot drift.

The commands are read from the documents' ``bash`` blocks. Each must be listed in :data:`HOW`:
run here as written (on a copy of the session's ``ci`` book, with ``PROFILE=ci`` / ``--profile ci``
where the command leaves the profile to its default, a tiny checkpoint for ``path/to/...``, a
tiny image folder for ``/data/imagenet``, a temporary folder for ``/tmp/``), or checked by the
named test that runs the same thing (the suite itself, the PDF, JupyterLab), or not runnable
here with the reason (a network). A documented command that is not in the table, or an entry
no document shows any more, fails the first test.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ..conftest import ROOT
from ..finetune.imagenet_folder import make_folder

pytestmark = pytest.mark.slow

DOCS = ["README.md", "book/reproducing.md"]

#: Files ``make`` needs besides the book sources (copied with their times: the set-up stays done).
MAKE_FILES = ["Makefile", "tools", "requirements.txt", "requirements-assets.txt", "pyproject.toml"]


def documented_commands() -> dict[str, str]:
    """``{canonical command: document}`` for every line of every ``bash`` block (comments dropped)."""
    found = {}
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M):
            for line in block.replace("\\\n", " ").splitlines():
                words = shlex.split(line, comments=True)
                if words:
                    found.setdefault(shlex.join(words), doc)
    return found


def _run(ws, words, timeout=900, env=None):
    r = subprocess.run(
        words, cwd=ws, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    assert r.returncode == 0, (shlex.join(words), r.stdout[-2000:], r.stderr[-3000:])
    return r


def _venv(ws, words):
    """A ``.venv/bin/...`` command, run with this interpreter's environment."""
    return [str(Path(sys.executable).parent / Path(words[0]).name), *words[1:]]


def _with_profile(words):
    return words if "--profile" in words else [*words, "--profile", "ci"]


def _checkpoint(ws, words):
    path = ws / "path" / "to" / "checkpoint.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(16, 10))
    torch.save({"epoch": 3, "model_state": net.state_dict(), "optimizer_state": {}}, path)
    r = _run(ws, _venv(ws, [*words, "--no-progress"]))
    assert "weights from entry 'model_state' of checkpoint.pth" in r.stdout


def _imagenet(ws, words):
    """The command as documented, on a tiny ImageNet-shaped folder: it parses, checks the folder, and stops.

    A run needs the real ImageNet (1.28M images) and days on a CPU; the fine-tuning itself is
    tested on a tiny folder by tests/finetune/test_imagenet.py. Here the documented arguments must
    be accepted and the folder read, up to the one-line refusal of a folder smaller than a batch.
    """
    folder = ws / "imagenet"
    if not folder.exists():
        make_folder(folder, n_train=1, n_val=1)
    words = [str(folder) if w == "/data/imagenet" else w for w in words]
    r = subprocess.run(_venv(ws, [*words, "--no-progress"]), cwd=ws, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "training images, fewer than one batch of 128" in r.stderr, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and not (ws / "int4.json").exists()


def _tmp(ws, words):
    (ws / "tmp").mkdir(exist_ok=True)
    return [w.replace("/tmp/", str(ws / "tmp") + "/") for w in words]


JUPYTEXT = ".venv/bin/jupytext --to ipynb -o /tmp/02.ipynb notebooks/02_distributions.py"


def _papermill(ws, words):
    """Papermill on the notebook the documented jupytext command writes (run first when the order differs)."""
    if not (ws / "tmp" / "02.ipynb").exists():  # pytest-xdist does not promise the order of the commands
        _run_plain(ws, _tmp(ws, shlex.split(JUPYTEXT)))
    _run_plain(ws, _tmp(ws, words))


def _make(ws, words):
    _run(ws, ["make", *words[1:], "PROFILE=ci"])


def _make_dry(ws, words):
    r = _run(ws, ["make", "-n", *words[1:]])
    assert "jupyter lab" in r.stdout and (len(words) == 2 or "--no-browser --port 8899" in r.stdout)


def _make_fast_dry(ws, words):
    r = _run(ws, ["make", "-n", *words[1:]])
    assert '-m pytest -m "not slow and not process"' in r.stdout  # a subset of make test: its tests run here


def _run_plain(ws, words):
    _run(ws, _venv(ws, words))


def _run_ci(ws, words):
    _run(ws, _venv(ws, _with_profile(words)))


def _formats(ws, words):
    _run_plain(ws, [*words, "--no-progress"])
    best = (ws / "analysis" / "best_formats.csv").read_text().splitlines()
    assert len(best) == 1 + 53 and all(
        line.split(",")[4] in {"int4", "fp4_e2m1", "nf4_b64", "mxfp4"} for line in best[1:]
    )


PVQ = ".venv/bin/python -m pvq"

#: How each documented command is checked: a function run in the workspace, or the reason it is not run here.
HOW = {
    "make book": _make,
    "make test": "the suite itself: .ci/run runs `make test`",
    "make test-fast": _make_fast_dry,
    "make pdf": "tests/book/test_chapters.py::test_the_pdf_holds_every_chapter runs it on the session's book",
    "make lab": _make_dry,
    "make lab 'LAB_ARGS=--no-browser --port 8899'": _make_dry,
    ".venv/bin/python -m pvq run-notebooks --profile ci --only 02 -p 'n_bits=[2,3,4]' -p dof=3": _run_ci,
    ".venv/bin/jupyter-book build . -W -n --keep-going": _run_plain,
    ".venv/bin/python -m pvq run-notebooks --only 05 -p 'architectures=[\"resnet_small\"]' -p 'ft_bits=[2,4,8]' "
    "-p 'seeds=[0,1]'": _run_ci,
    ".venv/bin/jupytext --to ipynb -o /tmp/02.ipynb notebooks/02_distributions.py": lambda ws, w: _run_plain(
        ws, _tmp(ws, w)
    ),
    ".venv/bin/papermill /tmp/02.ipynb /tmp/02_out.ipynb -f params/ci.yaml -p n_bits '[2, 3, 4]' -p "
    "heavy_tail_distribution gennorm": _papermill,
    ".venv/bin/python -m pvq analyze mobilenet_v2 --out analysis/": lambda ws, w: _run_plain(ws, [*w, "--no-progress"]),
    ".venv/bin/python -m pvq analyze path/to/checkpoint.pth --bits 2-8 --range exact": _checkpoint,
    ".venv/bin/python -m pvq analyze path/to/checkpoint.pth --bits 2-8 --out analysis/": _checkpoint,
    ".venv/bin/python -m pvq analyze hf:sentence-transformers/all-MiniLM-L6-v2": "needs a network (Hugging Face)",
    ".venv/bin/python -m pvq analyze mobilenet_v2 --formats int4,fp4_e2m1,nf4_b64,mxfp4,int8_2:4 --budget 4.5 "
    "--out analysis/": _formats,
    f"{PVQ} imagenet /data/imagenet --arch mobilenet_v2 --method qat --bits 4 --out int4.json": _imagenet,
    f"{PVQ} imagenet /data/imagenet --arch efficientnet_lite0 --method prune --sparsity 0.75": _imagenet,
}

#: The order the commands run in (in one process): a chapter run before the book build that shows it,
#: jupytext before papermill.
ORDER = [k for k in HOW if "jupytext" in k] + [k for k in HOW if "jupytext" not in k]


def test_every_documented_command_is_checked():
    found = documented_commands()
    new = sorted(set(found) - set(HOW))
    gone = sorted(set(HOW) - set(found))
    assert not new, f"documented commands this test does not know (add them to HOW): {[(c, found[c]) for c in new]}"
    assert not gone, f"commands in HOW that no document shows any more (remove them): {gone}"


@pytest.fixture(scope="session")
def workspace(book, tmp_path_factory):
    """A copy of the session's built ci book, with what ``make`` needs; the set-up must be done already.

    One per session (per worker under pytest-xdist, which may interleave these tests with others).
    """
    ws = tmp_path_factory.mktemp("documented") / "book"
    shutil.copytree(book["root"], ws, symlinks=True)
    for name in MAKE_FILES:
        src = ROOT / name
        (shutil.copytree(src, ws / name, symlinks=True) if src.is_dir() else shutil.copy2(src, ws / name))
    (ws / ".venv").symlink_to(ROOT / ".venv")
    ready = subprocess.run(["make", "-q", "setup"], cwd=ws, capture_output=True)
    assert ready.returncode == 0, "run `make setup` first: this test must not reinstall the shared .venv"
    return ws


@pytest.mark.parametrize("command", [k for k in ORDER if callable(HOW[k])])
def test_a_documented_command_runs(workspace, command):
    HOW[command](workspace, shlex.split(command))
