"""Chapter parameters: the one home of every default, validation, and the record of a run.

**The source of every default is a field of the frozen dataclasses below** and of those of
:mod:`pvq.book.layer_params` (chapter 4; its layers from :data:`pvq.layerwise.sweep.DEFAULT_LAYERS`)
and :mod:`pvq.book.training_params` (chapters 5-7; the recipe's settings from
:func:`pvq.finetune.recipe.recipe_defaults`) and :mod:`pvq.book.format_params` (chapter 8); the model set comes from
:data:`pvq.tensors.checkpoints.MODELS`. Everything else is derived from them and checked against
them by the tests: each chapter's parameters cell (literal assignments, so that papermill can
override them) and ``params/full.yaml``; ``python -m pvq defaults --write`` rewrites both
(:mod:`pvq.book.profiles`, which also maps each chapter to its record). ``params/ci.yaml``
holds only the fast profile's overrides.

A chapter builds its record in one call, ``P = FineTuningParams.from_namespace(globals())``:
the names its parameters cell (and papermill) defined are validated, raising a
:class:`ValueError` naming the parameter and its allowed values *before* any heavy work, and the
record is displayed as the record of the run.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..analytic.distributions import check_distribution_name
from ..common.checks import check_count, check_list, check_positive
from ..core.pruning import check_bits, check_bits_list, check_sparsity
from ..core.quantization import check_grid
from ..tensors.checkpoints import MODELS, ONLINE_PREFIXES

__all__ = [
    "HEAVY_TAIL_FAMILIES",
    "N_BITS",
    "PROFILES",
    "ChapterParams",
    "ClaimsParams",
    "DistributionsParams",
    "SetupParams",
    "WeightTensorsParams",
    "check_models",
    "check_profile",
    "field_meanings",
]

PROFILES: tuple[str, ...] = ("ci", "full")
HEAVY_TAIL_FAMILIES: tuple[str, ...] = ("truncated_student_t", "student_t", "gennorm")
#: The paper's comparison points, INT-b against pruning at ``1 - b/16`` for b = 2..8.
N_BITS: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)


def check_profile(profile: str) -> str:
    """Validate a profile name (``'ci'`` or ``'full'``)."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    return profile


def field_meanings(cls) -> dict[str, str]:
    """``{field: first sentence of its description}`` from the numpydoc ``Attributes`` of ``cls``.

    Inline markup is reduced to its text (````x```` → ``x``, ``:func:`~a.b`` → ``b``). A field
    listed without a description (``profile : {'ci', 'full'}``) gets its type; entries naming
    several fields (``a, b : int``) give the same meaning to each.
    """
    doc = inspect.getdoc(cls) or ""
    lines = doc.split("\n")
    try:
        start = lines.index("Attributes") + 2
    except ValueError:
        return {}
    out, names, kind, text = {}, [], "", []

    def flush():
        words = " ".join(text).strip() or kind
        first = re.split(r"(?<=[a-z0-9)])\. ", words, maxsplit=1)[0].rstrip(".")
        first = re.sub(r":\w+:`~?([^`]*?)`", lambda m: m.group(1).split(".")[-1], first).replace("``", "")
        for n in names:
            out[n] = first

    for line in lines[start:]:
        if line and not line.startswith(" "):
            if names:
                flush()
            head, _, kind = line.partition(" : ")
            names, text = [n.strip() for n in head.split(",")], []
        elif line.strip():
            text.append(line.strip())
        elif names and not text:
            continue
    if names:
        flush()
    return out


def _from_text(field, value):
    """A list or mapping parameter passed as text (``papermill -p n_bits '[2, 3]'``) read as YAML.

    Only for fields whose default is a tuple, list or dict; other values, and text that is not
    a YAML list or mapping, are returned as they are (the record's own checks then say what is
    wrong).
    """
    default = field.default if field.default is not dataclasses.MISSING else None
    if field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    if isinstance(value, str) and isinstance(default, tuple | list | dict):
        import yaml

        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        if isinstance(parsed, list | dict):
            return parsed
    return value


def check_models(models, name: str = "models") -> None:
    """A non-empty list of offline short names, existing checkpoint paths or online names (the parameter ``name``)."""
    for m in check_list(models, name, "model names or paths", empty=False):
        if not isinstance(m, str):
            raise ValueError(f"{name} must hold strings, got {m!r}")
        if m not in MODELS and not m.startswith(ONLINE_PREFIXES) and not Path(m).exists():
            raise ValueError(
                f"unknown model {m!r} in {name}; known offline models: {', '.join(MODELS)} "
                "(or a checkpoint path, torchvision:<name>, hf:<org>/<name>)"
            )


class ChapterParams:
    """Shared construction and display of the parameter records."""

    @classmethod
    def from_namespace(cls, namespace: dict):
        """The record of the parameters defined in ``namespace`` (a chapter's ``globals()``).

        Every field found in ``namespace`` is taken (the parameters cell and papermill's injected
        values); a field the chapter does not declare keeps its default and is left out of
        :meth:`to_frame`. A list or mapping given as text, the way ``papermill -p n_bits '[2, 3]'``
        passes it, is read as YAML first.
        """
        given = {f.name: _from_text(f, namespace[f.name]) for f in dataclasses.fields(cls) if f.name in namespace}
        record = cls(**given)
        object.__setattr__(record, "_declared", tuple(given))
        return record

    def to_frame(self) -> pd.DataFrame:
        """The parameters as a table (the record of the run): ``value`` and ``meaning`` by parameter.

        A record made by :meth:`from_namespace` lists the parameters its chapter declares;
        otherwise every field. The meaning is the first sentence of the field's description
        (:func:`field_meanings`); a list value is shown comma-separated.
        """
        meanings = field_meanings(type(self))
        names = getattr(self, "_declared", None) or [f.name for f in dataclasses.fields(self)]

        def shown(v):
            if isinstance(v, tuple | list):
                return ", ".join(str(x) for x in v)
            if isinstance(v, dict):
                return "; ".join(f"{k}: {shown(x)}" for k, x in v.items())
            return str(v)

        rows = [(n, shown(getattr(self, n)), meanings.get(n, "")) for n in names]
        return pd.DataFrame(rows, columns=["parameter", "value", "meaning"]).set_index("parameter")

    def _repr_html_(self) -> str:
        """The table of :meth:`to_frame` as the page shows it: left-aligned, words never split."""
        styler = self.to_frame().reset_index().style.hide(axis="index")
        styler = styler.set_table_styles([{"selector": "th, td", "props": "text-align: left"}])
        return styler.set_table_attributes('class="dataframe readable"').to_html()


@dataclass(frozen=True)
class SetupParams(ChapterParams):
    """Parameters of chapter 1 (set-up and storage accounting).

    Attributes
    ----------
    profile : {'ci', 'full'}
        Parameter profile: ``'full'`` (the book) or ``'ci'`` (fast, for tests).
    n_bits : tuple of int
        Bit-widths compared (each in 1..15, below the 16-bit FP16 baseline of the paper,
        :data:`pvq.core.pruning.BASELINE_BITS`).
    index_bits : int
        Index bits per kept weight for the index-based sparse format.
    """

    profile: str = "full"
    n_bits: tuple = N_BITS
    index_bits: int = 4

    def __post_init__(self):
        check_profile(self.profile)
        object.__setattr__(self, "n_bits", check_bits_list(self.n_bits, "n_bits"))
        object.__setattr__(self, "index_bits", check_count(self.index_bits, "index_bits"))


@dataclass(frozen=True)
class DistributionsParams(ChapterParams):
    """Parameters of chapter 2 (statistical distributions, Figures 1–2).

    Attributes
    ----------
    profile : {'ci', 'full'}
        Parameter profile: ``'full'`` (the book) or ``'ci'`` (fast, for tests).
    n_bits : tuple of int
        Bit-widths, each paired with sparsity ``1 - b/16``.
    grid : {'signed', 'symmetric'}
        Integer grid of the main figures (the normal table shows both).
    distribution : {'normal', 'student_t', 'truncated_student_t', 'laplace', 'gennorm', 'uniform'}
        Light-tailed distribution of Figure 1 (the paper: ``'normal'``).
    figure_n_bits, figure_sparsity : int, float
        The comparison point drawn in Figure 1's left and middle panels (paper: INT4 vs 75%).
    heavy_tail_distribution : {'truncated_student_t', 'student_t', 'gennorm'}
        Family swept over kurtosis in Figure 2.
    dof : float
        Degrees of freedom ``ν > 0`` of the truncated Student-t (the truncation is solved
        for each kurtosis).
    kurtosis_min, kurtosis_max : float
        Range of the Pearson kurtosis axis.
    n_kurtosis : int
        Number of kurtosis values (log-spaced).
    family_dofs : tuple of float
        ``ν`` of the truncated Student-t families in the sensitivity study.
    n_family_kurtosis : int
        Kurtosis values per family in the sensitivity study.
    mc_samples : int
        Monte Carlo samples for the independent check of the analytic errors.
    seed : int
        Seed of the Monte Carlo check.
    """

    profile: str = "full"
    n_bits: tuple = N_BITS
    grid: str = "signed"
    distribution: str = "normal"
    figure_n_bits: int = 4
    figure_sparsity: float = 0.75
    heavy_tail_distribution: str = "truncated_student_t"
    dof: float = 2.0
    kurtosis_min: float = 3.0
    kurtosis_max: float = 200.0
    n_kurtosis: int = 40
    family_dofs: tuple = (1.0, 2.0, 3.0)
    n_family_kurtosis: int = 12
    mc_samples: int = 1_000_000
    seed: int = 0

    def __post_init__(self):
        check_profile(self.profile)
        object.__setattr__(self, "n_bits", check_bits_list(self.n_bits, "n_bits"))
        check_grid(self.grid)
        if self.grid == "symmetric" and min(self.n_bits) < 2:
            raise ValueError(f"grid='symmetric' needs every n_bits >= 2 (its 1-bit grid is {{0}}), got {self.n_bits}")
        check_distribution_name(self.distribution)
        check_bits(self.figure_n_bits, name="figure_n_bits")
        object.__setattr__(self, "figure_sparsity", check_sparsity(self.figure_sparsity, name="figure_sparsity"))
        if self.distribution in ("student_t", "truncated_student_t", "gennorm"):
            raise ValueError(
                f"distribution={self.distribution!r} needs shape parameters; Figure 1 takes a parameter-free family "
                "('normal', 'laplace', 'uniform'); heavy tails are swept by heavy_tail_distribution"
            )
        if self.heavy_tail_distribution not in HEAVY_TAIL_FAMILIES:
            raise ValueError(
                f"heavy_tail_distribution must be one of {HEAVY_TAIL_FAMILIES}, got {self.heavy_tail_distribution!r}"
            )
        object.__setattr__(self, "dof", check_positive(self.dof, "dof (degrees of freedom)"))
        kmin = check_positive(self.kurtosis_min, "kurtosis_min")
        kmax = check_positive(self.kurtosis_max, "kurtosis_max")
        if not 1.8 < kmin < kmax:
            raise ValueError(f"need 1.8 < kurtosis_min < kurtosis_max, got {kmin} and {kmax}")
        object.__setattr__(self, "kurtosis_min", kmin)
        object.__setattr__(self, "kurtosis_max", kmax)
        check_count(self.n_kurtosis, "n_kurtosis", 2)
        dofs = check_list(self.family_dofs, "family_dofs", "degrees of freedom > 0", empty=False)
        dofs = tuple(check_positive(v, "family_dofs (degrees of freedom)") for v in dofs)
        object.__setattr__(self, "family_dofs", dofs)
        check_count(self.n_family_kurtosis, "n_family_kurtosis", 2)
        check_count(self.mc_samples, "mc_samples", 1000)
        check_count(self.seed, "seed", 0)


@dataclass(frozen=True)
class WeightTensorsParams(ChapterParams):
    """Parameters of chapter 3 (real weight tensors, Figure 3).

    Attributes
    ----------
    profile : {'ci', 'full'}
        Parameter profile: ``'full'`` (the book) or ``'ci'`` (fast, for tests).
    models : tuple of str
        Offline short names (:data:`pvq.tensors.checkpoints.MODELS`), checkpoint paths, or online names
        (``torchvision:<name>``, ``hf:<org>/<name>``).
    n_bits : tuple of int
        Bit-widths, each paired with sparsity ``1 - b/16`` (1..15).
    fp16 : bool
        Round weights to FP16 first (the paper's baseline).
    grid : {'signed', 'symmetric'}
    n_certify : int
        Tensors (smallest first) whose clipping optimum is proven by branch and bound, to
        measure the fast search's gap.
    """

    profile: str = "full"
    models: tuple = tuple(MODELS)
    n_bits: tuple = N_BITS
    fp16: bool = True
    grid: str = "signed"
    n_certify: int = 40

    def __post_init__(self):
        check_profile(self.profile)
        check_models(self.models)
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "n_bits", check_bits_list(self.n_bits, "n_bits"))
        if not isinstance(self.fp16, bool):
            raise ValueError(f"fp16 must be True or False, got {self.fp16!r}")
        check_grid(self.grid)
        check_count(self.n_certify, "n_certify", 0)


@dataclass(frozen=True)
class ClaimsParams(ChapterParams):
    """Parameters of the Claims page: only the profile."""

    profile: str = "full"

    def __post_init__(self):
        check_profile(self.profile)
