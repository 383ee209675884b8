"""When a chapter must be executed again, and why (issue 12: rebuilds that cost only what changed).

An executed chapter (``book/chapters/<stem>.ipynb``) carries in its metadata
(:data:`EXECUTION_META`) the *key* of the execution that produced it: everything its outputs
depend on, each part hashed (SHA-256) so that a change anywhere is seen.

=============== ==============================================================================
part            what is hashed
=============== ==============================================================================
``profile``     the profile name (``ci`` or ``full``)
``parameters``  the parameters papermill passed (the profile's values and any overrides)
``code``        the chapter's code cells, in order (its prose is *not* part of it)
``library``     every file of the ``pvq`` package (code and shipped data)
``environment`` the Python version and every installed distribution's name and version, as a
                fresh interpreter of this environment (a kernel) sees them
``inputs``      each file the execution read (:mod:`pvq.common.inputs`): checkpoints,
                Fashion-MNIST, other chapters' result tables (the Claims page), ...
``outputs``     each file the chapter left in its own results folder
=============== ==============================================================================

:func:`stale_reasons` compares a recorded key with the present: nothing differs and the chapter
is reused; only its prose differs (``source`` is the digest of the whole ``.py``) and the
executed notebook is rebuilt from the new source with the recorded outputs
(:func:`refresh_prose`), without a kernel; anything else and the chapter is executed again, and
the runner says which parts changed. Caches (a chapter's ``cache/`` folder, the training cache)
are not part of the key: their entries are named by their own content.

Jupyter Book's own cache (jupyter-cache) keys a notebook by its code cells only: it cannot see
papermill's parameters, the library, or the data a chapter reads, which is why the book keeps
this key instead. Paths in the key are relative to the results folder (``results:NN_x/t.csv``)
or to the book root (``root:data/w.pt``) when they lie there, so a checkout that moves, or a copy
of it, keeps its executed chapters.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "EXECUTION_META",
    "BuildContext",
    "code_digest",
    "environment_digest",
    "execution_key",
    "file_digest",
    "library_digest",
    "recorded_key",
    "recorded_profile",
    "refresh_prose",
    "stale_reasons",
]

#: Notebook metadata entry holding the execution key.
EXECUTION_META = "pvq_execution"

_VERSION = 2
_CHUNK = 1 << 20


def file_digest(path: Path, memo: dict | None = None) -> str:
    """SHA-256 of a file's bytes; ``memo`` (keyed by path, size and modification time) avoids rereading."""
    st = os.stat(path)
    mark = (str(path), st.st_size, st.st_mtime_ns)
    if memo is not None and mark in memo:
        return memo[mark]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    digest = h.hexdigest()
    if memo is not None:
        memo[mark] = digest
    return digest


def _text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def library_digest(package: Path | None = None) -> str:
    """One digest of every file of the ``pvq`` package (its relative path and bytes; caches excluded)."""
    package = Path(package) if package else Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".nbi", ".nbc"}:
            h.update(str(path.relative_to(package)).encode() + b"\0" + file_digest(path).encode() + b"\n")
    return h.hexdigest()


#: Run by a fresh interpreter: its Python version, then its distributions (``name==version``, sorted).
_LIST_DISTRIBUTIONS = (
    "import sys; from importlib.metadata import distributions as ds; print(sys.version); "
    "print(*sorted({f\"{d.metadata['Name']}=={d.version}\".lower() for d in ds() if d.metadata['Name']}), sep='\\n')"
)


def environment_digest(cwd: Path | None = None) -> str:
    """Digest of the Python version and the installed distributions (``name==version``, sorted).

    They are listed by a fresh interpreter of this environment started in ``cwd`` (the book root,
    where a chapter's kernel starts), not by this process: what a process has imported can change
    its own view (importing setuptools puts its vendored packages on ``sys.path``, whose
    distributions would then count), and the key must not depend on that.
    """
    listed = subprocess.run([sys.executable, "-c", _LIST_DISTRIBUTIONS], cwd=cwd, capture_output=True, text=True,
                            check=True, timeout=120)  # fmt: skip
    return _text_digest(listed.stdout)


def code_digest(nb) -> str:
    """Digest of a notebook's code cells (their sources, in order): what execution depends on.

    Papermill's injected parameters cell is left out (the parameters are a part of their own).
    """
    cells = [c.source for c in nb.cells if c.cell_type == "code" and not _injected(c)]
    return _text_digest(json.dumps(cells))


def _injected(cell) -> bool:
    return "injected-parameters" in cell.get("metadata", {}).get("tags", [])


@dataclass
class BuildContext:
    """What every chapter of one run shares: the book root, the results folder, digests computed once."""

    root: Path
    results: Path
    out_dir: Path
    library: str = ""
    environment: str = ""
    memo: dict = field(default_factory=dict)

    def __post_init__(self):
        self.root, self.results, self.out_dir = Path(self.root), Path(self.results), Path(self.out_dir)
        self.library = self.library or library_digest()
        self.environment = self.environment or environment_digest(self.root)

    def shown(self, path: Path) -> str:
        """``path`` relative to the book root when it lies below it."""
        path = Path(path)
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def label(self, path: Path) -> str:
        """How a key names ``path``: ``results:<relative>``, ``root:<relative>``, or the absolute path."""
        path = Path(path)
        for prefix, base in (("results", self.results), ("root", self.root)):
            if path.is_relative_to(base):
                return f"{prefix}:{path.relative_to(base).as_posix()}"
        return str(path)

    def path(self, label: str) -> Path:
        """The file a key's ``label`` names (the inverse of :meth:`label`)."""
        prefix, _, rest = label.partition(":")
        base = {"results": self.results, "root": self.root}.get(prefix)
        return base / rest if base is not None and rest else Path(label)

    def counts_as_input(self, path: Path, stem: str) -> bool:
        """Whether a file a chapter read belongs to its key.

        Under the results folder only another chapter's result files count
        (``<results>/NN_other/<file>``: its caches and the training cache do not, nor the chapter's
        own files, which are its outputs); under the book root, not the build's own folders.
        """
        path = Path(path)
        if path.is_relative_to(self.results):
            parts = path.relative_to(self.results).parts
            return len(parts) == 2 and parts[0][:2].isdigit() and parts[0] != stem
        if path.is_relative_to(self.out_dir):
            return False
        if path.is_relative_to(self.root):
            return path.relative_to(self.root).parts[0] not in {"_build", ".git", ".venv"}
        return True

    def outputs(self, stem: str) -> dict[str, str]:
        """Digest of each file in the chapter's results folder (not its subfolders, not hidden files)."""
        folder = self.results / stem
        files = (
            sorted(p for p in folder.glob("*") if p.is_file() and not p.name.startswith(".")) if folder.is_dir() else []
        )
        return {p.name: file_digest(p, self.memo) for p in files}


def execution_key(ctx: BuildContext, stem: str, profile: str, parameters: dict, nb, source: Path,
                  inputs: list[Path]) -> dict:  # fmt: skip
    """The key of an execution that just finished (recorded in the executed notebook's metadata)."""
    read = sorted(p for p in inputs if ctx.counts_as_input(p, stem))
    return {
        "version": _VERSION,
        "profile": profile,
        "parameters": json.loads(json.dumps(parameters, sort_keys=True, default=str)),
        "code": code_digest(nb),
        "source": file_digest(source),
        "library": ctx.library,
        "environment": ctx.environment,
        "inputs": {ctx.label(p): file_digest(p, ctx.memo) for p in read},
        "outputs": ctx.outputs(stem),
    }


def recorded_key(nb) -> dict | None:
    """The execution key in an executed notebook's metadata, or ``None``."""
    key = nb.metadata.get(EXECUTION_META)
    return key if isinstance(key, dict) and key.get("version") == _VERSION else None


def recorded_profile(path: Path) -> str | None:
    """The profile an executed notebook was executed with (``None``: no key, or unreadable)."""
    try:
        meta = json.loads(Path(path).read_text()).get("metadata", {})
    except (OSError, ValueError):
        return None
    key = meta.get(EXECUTION_META)
    return key.get("profile") if isinstance(key, dict) else None


def _listed(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def stale_reasons(key: dict | None, ctx: BuildContext, stem: str, profile: str, parameters: dict,
                  source_nb) -> list[str]:  # fmt: skip
    """Why a chapter must be executed again (empty: its recorded execution still holds).

    Parameters
    ----------
    key : dict or None
        The recorded key (:func:`recorded_key`); ``None`` when the chapter was never executed.
    ctx : BuildContext
        The run's shared digests and folders.
    stem, profile, parameters :
        The chapter and what this run would execute it with.
    source_nb : dict
        The chapter's source as a notebook node (``jupytext.read``).
    """
    if key is None:
        return ["no record of an earlier execution"]
    reasons = []
    if key["profile"] != profile:
        reasons.append(f"profile {key['profile']} -> {profile}")
    now = json.loads(json.dumps(parameters, sort_keys=True, default=str))
    changed = sorted(k for k in set(now) | set(key["parameters"]) if now.get(k) != key["parameters"].get(k))
    if changed and key["profile"] == profile:
        reasons.append(f"parameters changed: {_listed(changed)}")
    if key["code"] != code_digest(source_nb):
        reasons.append("its code cells changed")
    if key["library"] != ctx.library:
        reasons.append("the pvq library changed")
    if key["environment"] != ctx.environment:
        reasons.append("the installed packages changed")
    paths = {label: ctx.path(label) for label in key["inputs"]}
    moved = [p for label, p in paths.items() if not p.is_file() or file_digest(p, ctx.memo) != key["inputs"][label]]
    if moved:
        reasons.append(f"input changed or missing: {_listed(sorted(ctx.shown(p) for p in moved))}")
    outputs = ctx.outputs(stem)
    lost = sorted(n for n, d in key["outputs"].items() if outputs.get(n) != d)
    if lost:
        reasons.append(f"result file changed or missing: {_listed(lost)}")
    return reasons


def refresh_prose(executed, source_nb):
    """The executed notebook rebuilt from a newer source whose code cells are unchanged.

    Markdown cells come from ``source_nb``; each code cell takes the source's cell (its text and
    tags) with the recorded outputs, execution count and papermill metadata of the executed one;
    papermill's injected parameters cell stays after the parameters cell; the notebook metadata
    (the key, papermill's record) is kept. The caller has checked :func:`code_digest` equality.
    """
    import copy

    old_code = [c for c in executed.cells if c.cell_type == "code" and not _injected(c)]
    injected = [c for c in executed.cells if _injected(c)]
    new = copy.deepcopy(source_nb)
    code = [c for c in new.cells if c.cell_type == "code"]
    if len(code) != len(old_code) or any(a.source != b.source for a, b in zip(code, old_code, strict=True)):
        raise ValueError("refresh_prose needs the same code cells in both notebooks")
    for cell, old in zip(code, old_code, strict=True):
        cell.outputs = copy.deepcopy(old.outputs)
        cell.execution_count = old.execution_count
        tags = cell.metadata.get("tags", [])
        cell.metadata = {**copy.deepcopy(old.metadata), **copy.deepcopy(dict(cell.metadata))}
        cell.metadata["tags"] = list(tags)
    cells = []
    for cell in new.cells:
        cells.append(cell)
        if "parameters" in cell.metadata.get("tags", []):
            cells += copy.deepcopy(injected)
    new.cells = cells
    new.metadata = {**copy.deepcopy(dict(executed.metadata)), **{k: v for k, v in new.metadata.items() if k == "pvq"}}
    return new
