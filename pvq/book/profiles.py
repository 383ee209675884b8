"""Profiles and the chapters' parameters cells, derived from the one home of the defaults.

The defaults live in the parameter records of :mod:`pvq.book.params` (:data:`CHAPTER_PARAMS`
maps each chapter to its record). Two things are derived from them and must agree with them:

- each chapter's parameters cell (``# %% tags=["parameters"]`` in ``notebooks/NN_slug.py``):
  literal assignments of the names the chapter declares, so that papermill can override them;
- ``params/full.yaml``: every declared name with its default, the record of what ``full`` means.

:func:`stale_defaults` lists every disagreement (the tests fail on any) and :func:`write_defaults`
rewrites both from the records (``python -m pvq defaults --write``). ``params/ci.yaml`` is written
by hand: it holds only the fast profile's overrides, with the same names across chapters.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import json
import re
from pathlib import Path

import yaml

from ..common.files import atomic_write
from ..common.paths import notebook_sources
from .format_params import FormatsParams
from .layer_params import PerLayerParams
from .network_params import NetworksParams
from .params import (
    ClaimsParams,
    DistributionsParams,
    SetupParams,
    WeightTensorsParams,
    check_profile,
)
from .training_params import FineTuningParams

__all__ = [
    "CHAPTER_CHECKS",
    "CHAPTER_PARAMS",
    "chapter_defaults",
    "check_plan",
    "declared_parameters",
    "load_profile",
    "profile_parameters",
    "render_full_profile",
    "render_parameters_cell",
    "stale_defaults",
    "write_defaults",
]

#: The parameter record of each chapter (its parameters cell declares a subset of the fields).
CHAPTER_PARAMS: dict[str, type] = {
    "01_setup": SetupParams,
    "02_distributions": DistributionsParams,
    "03_weight_tensors": WeightTensorsParams,
    "04_per_layer": PerLayerParams,
    "05_fine_tuning": FineTuningParams,
    "06_combining": FineTuningParams,
    "07_representations": FineTuningParams,
    "08_formats": FormatsParams,
    "09_real_networks": NetworksParams,
    "99_claims": ClaimsParams,
}

#: A method a chapter calls on its record right after building it, for checks of its own
#: (``P = FineTuningParams.from_namespace(globals()).with_probes()``); the tests compare both
#: registries with each chapter's ``P = ...`` line.
CHAPTER_CHECKS: dict[str, str] = {"07_representations": "with_probes"}

_CELL = re.compile(r"^# %% tags=\[\"parameters\"\]\n(.*?)(?=^# %%)", re.M | re.S)
_FULL_HEADER = (
    "# Full profile (`make book`): every chapter parameter at its default. Written by\n"
    "# `python -m pvq defaults --write` from the parameter records in pvq/book/params.py (the one home of\n"
    "# the defaults); the tests fail when it disagrees with them. Do not edit by hand.\n"
)


def _plain(value):
    """Tuples as lists, recursively (the form of YAML and of a parameters cell)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def load_profile(profile: str, root: Path) -> dict:
    """Parameter overrides of ``params/<profile>.yaml`` (an empty file means none)."""
    check_profile(profile)
    path = Path(root) / "params" / f"{profile}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"profile file {path} is missing")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping of parameter names to values")
    return data


def _cell(source: Path) -> re.Match:
    text = Path(source).read_text()
    found = list(_CELL.finditer(text + "\n# %%"))
    if len(found) != 1:
        raise ValueError(f"{Path(source).name}: expected exactly one cell tagged 'parameters', found {len(found)}")
    return found[0]


def declared_parameters(source: Path) -> dict:
    """Names and values of a ``py:percent`` chapter's parameters cell (literal assignments only)."""
    out = {}
    for node in ast.parse(_cell(source).group(1)).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ValueError(f"{Path(source).name}: the parameters cell must hold plain assignments only")
        try:
            out[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError:
            raise ValueError(f"{Path(source).name}: parameter {node.targets[0].id} is not a literal") from None
    return out


def profile_parameters(source: Path, profile: str, root: Path, overrides: dict | None = None) -> dict:
    """Parameters to pass to one chapter: its declared names taken from the profile and overrides.

    The ``profile`` parameter itself is always set.
    """
    declared = declared_parameters(source)
    chosen = {k: v for k, v in load_profile(profile, root).items() if k in declared}
    chosen.update({k: v for k, v in (overrides or {}).items() if k in declared})
    if "profile" in declared:
        chosen["profile"] = profile
    return chosen


def check_plan(plan, *, root: Path | None = None) -> None:
    """Validate every chapter's parameters as the chapter will, before any kernel starts.

    Each chapter's record (:data:`CHAPTER_PARAMS`, then :data:`CHAPTER_CHECKS`) is built from
    the parameters the runner will pass it, with the same validators the chapter calls first
    (``P = XParams.from_namespace(globals())``), so bad input stops here in one line instead
    of in a cell traceback. Paths are checked from ``root``, where the kernels run. A notebook
    without a record is not checked (:func:`stale_defaults` reports it).

    Parameters
    ----------
    plan : list of (Path, dict)
        Each chapter's source and the parameters it will be given
        (:func:`profile_parameters`).
    root : Path, optional
        The book root (the kernels' working directory); default: the working directory.

    Raises
    ------
    ValueError
        One line: the chapters that refuse their parameters, and each distinct message.
    """
    refused: dict[str, list[str]] = {}
    with contextlib.chdir(root or Path.cwd()):  # relative paths as the kernels will see them
        for source, params in plan:
            stem = Path(source).stem
            if stem not in CHAPTER_PARAMS:  # not a book chapter (the tests' toy books); stale_defaults says so
                continue
            try:
                record = CHAPTER_PARAMS[stem].from_namespace(params)
                if stem in CHAPTER_CHECKS:
                    getattr(record, CHAPTER_CHECKS[stem])()
            except (ValueError, FileNotFoundError) as err:
                refused.setdefault(" ".join(str(err).split()), []).append(stem)
    if refused:
        raise ValueError("; ".join(f"{', '.join(stems)}: {msg}" for msg, stems in refused.items()))


def chapter_defaults(stem: str, names) -> dict:
    """The defaults of ``names`` in the parameter record of chapter ``stem`` (plain lists, not tuples)."""
    if stem not in CHAPTER_PARAMS:
        raise ValueError(f"chapter {stem!r} has no parameter record in pvq.book.params.CHAPTER_PARAMS")
    record = CHAPTER_PARAMS[stem]()
    fields = {f.name for f in dataclasses.fields(record)}
    unknown = [n for n in names if n not in fields]
    if unknown:
        raise ValueError(f"{stem}: parameters {unknown} are not fields of {type(record).__name__}")
    return {n: _plain(getattr(record, n)) for n in names}


def _py(value) -> str:
    """A literal as ruff writes it: double-quoted strings, lists and dicts with ``, `` and ``: ``."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _literal(name: str, value, width: int = 120) -> str:
    """``name = value`` as ruff formats it: one line if it fits, else one item per line (nested once)."""
    line = f"{name} = {_py(value)}"
    if len(line) <= width or not isinstance(value, list | tuple | dict):
        return line
    if isinstance(value, list | tuple):
        return f"{name} = [\n" + "".join(f"    {_py(v)},\n" for v in value) + "]"
    items = []
    for k, v in value.items():
        one = f"    {_py(k)}: {_py(v)},"
        if len(one) <= width or not isinstance(v, list | tuple):
            items.append(one + "\n")
        else:
            items.append(f"    {_py(k)}: [\n" + "".join(f"        {_py(x)},\n" for x in v) + "    ],\n")
    return f"{name} = {{\n" + "".join(items) + "}"


def render_parameters_cell(values: dict) -> str:
    """The body of a parameters cell holding ``values``, one assignment per name."""
    return "".join(_literal(k, v) + "\n" for k, v in values.items())


def render_full_profile(root: Path) -> str:
    """``params/full.yaml``: every declared parameter of every chapter at its default, in chapter order."""
    merged: dict = {}
    for source in notebook_sources(root):
        names = list(declared_parameters(source))
        for k, v in chapter_defaults(source.stem, names).items():
            merged.setdefault(k, v)
    return _FULL_HEADER + yaml.safe_dump(merged, sort_keys=False, default_flow_style=None, width=110)


def stale_defaults(root: Path) -> list[str]:
    """Every place where a parameters cell or ``params/full.yaml`` disagrees with the records."""
    problems, merged = [], {}
    for source in notebook_sources(root):
        declared = declared_parameters(source)
        try:
            defaults = chapter_defaults(source.stem, list(declared))
        except ValueError as err:
            problems.append(str(err))
            continue
        for name, value in declared.items():
            if _plain(value) != defaults[name]:
                problems.append(f"{source.name}: {name} = {value!r} in the parameters cell, default {defaults[name]!r}")
            if name in merged and merged[name][1] != defaults[name]:
                problems.append(
                    f"{name}: default {defaults[name]!r} in {source.stem}, {merged[name][1]!r} in {merged[name][0]}"
                )
            merged.setdefault(name, (source.stem, defaults[name]))
    full_path = Path(root) / "params" / "full.yaml"
    full = yaml.safe_load(full_path.read_text()) if full_path.is_file() else None
    wanted = {k: v for k, (_, v) in merged.items()}
    if full != wanted:
        problems.append(f"{full_path.name} differs from the chapters' defaults")
    return problems


def write_defaults(root: Path) -> list[Path]:
    """Rewrite every parameters cell and ``params/full.yaml`` from the records; return the files changed."""
    changed = []
    for source in notebook_sources(root):
        names = list(declared_parameters(source))
        text = source.read_text()
        match = _cell(source)
        body = render_parameters_cell(chapter_defaults(source.stem, names))
        new = text[: match.start(1)] + body + "\n" + text[match.end(1) :].lstrip("\n")
        if new != text:
            atomic_write(source, lambda p, t=new: p.write_text(t))
            changed.append(source)
    full = Path(root) / "params" / "full.yaml"
    text = render_full_profile(root)
    if not full.is_file() or full.read_text() != text:
        atomic_write(full, lambda p: p.write_text(text))
        changed.append(full)
    return changed
