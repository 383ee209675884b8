"""Parameters of chapter 8 (the formats the paper left out); see :mod:`pvq.book.params` for how records work."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..common.checks import check_count, check_list, check_positive
from ..formats.catalog import CHAPTER_FORMATS, check_format_names
from ..layerwise.sweep import DEFAULT_LAYERS
from ..tensors.checkpoints import MODELS
from .layer_params import check_layers
from .params import ChapterParams, check_models, check_profile

__all__ = ["FormatsParams"]


@dataclass(frozen=True)
class FormatsParams(ChapterParams):
    """Parameters of chapter 8 (formats beyond the paper).

    Attributes
    ----------
    profile : {'ci', 'full'}
        Parameter profile: ``'full'`` (the book) or ``'ci'`` (fast, for tests).
    format_models : tuple of str
        Models whose layer weights are stored in every format: offline short names
        (:data:`pvq.tensors.checkpoints.MODELS`, all of them by default, as in chapter 3), checkpoint
        paths, or online names.
    formats : tuple of str
        Formats compared on the distributions and the tensors (:func:`pvq.formats.catalog.parse_format`).
    format_kurtosis : tuple of float
        Pearson kurtosis of the heavy-tailed weights (Student-t, 2 degrees of freedom, truncated), beside the normal.
    budgets : tuple of float
        Bit budgets (bits per weight) of the decision map and the win shares.
    mc_rows : int
        Rows of the matrix drawn for each Monte Carlo format (blocks lie along rows).
    mc_row_length : int
        Weights per row of that matrix.
    seed : int
        Seed of the Monte Carlo draws.
    workers : int
        Models analysed at once, and per-layer chunks solved at once.
    fp16 : bool
        Round weights to FP16 first (the paper's baseline).
    layers : dict
        Per-layer study: ``{model: [layer, ...]}`` (chapter 4's layers by default).
    n_inputs : int
        Calibration images / text passages per layer problem.
    format_chunks : int
        Chunks per layer solved exactly (evenly spaced over the layer's channels and positions).
    """

    profile: str = "full"
    format_models: tuple = tuple(MODELS)
    formats: tuple = CHAPTER_FORMATS
    format_kurtosis: tuple = (3.5, 5.0, 8.0, 12.0, 20.0, 35.0, 60.0, 100.0)
    budgets: tuple = (2.0, 3.0, 4.0, 4.25, 4.5, 5.0, 6.0, 8.0, 9.0)
    mc_rows: int = 256
    mc_row_length: int = 4096
    seed: int = 0
    workers: int = 2
    fp16: bool = True
    layers: dict = dataclasses.field(default_factory=lambda: {m: tuple(v) for m, v in DEFAULT_LAYERS.items()})
    n_inputs: int = 64
    format_chunks: int = 32

    def __post_init__(self):
        check_profile(self.profile)
        check_models(self.format_models, "format_models")
        object.__setattr__(self, "format_models", tuple(self.format_models))
        names = check_list(self.formats, "formats", "format names", empty=False)
        object.__setattr__(self, "formats", tuple(f.name for f in check_format_names(list(names))))
        kurt = check_list(self.format_kurtosis, "format_kurtosis", "kurtosis values above 1.8", empty=False)
        for k in kurt:
            if isinstance(k, bool) or not isinstance(k, int | float) or not 1.8 < k:
                raise ValueError(f"format_kurtosis must hold kurtosis values above 1.8, got {k!r}")
        object.__setattr__(self, "format_kurtosis", tuple(float(k) for k in kurt))
        budgets = check_list(self.budgets, "budgets", "bits per weight", empty=False)
        object.__setattr__(self, "budgets", tuple(check_positive(b, "budgets") for b in budgets))
        check_count(self.mc_rows, "mc_rows", 2)
        check_count(self.mc_row_length, "mc_row_length", 1)
        check_count(self.seed, "seed", 0)
        check_count(self.workers, "workers", 1)
        if not isinstance(self.fp16, bool):
            raise ValueError(f"fp16 must be True or False, got {self.fp16!r}")
        object.__setattr__(self, "layers", check_layers(self.layers))
        check_count(self.n_inputs, "n_inputs", 8)
        check_count(self.format_chunks, "format_chunks", 1)
