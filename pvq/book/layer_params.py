"""Parameters of chapter 4 (the per-layer study): the one home of its defaults.

See :mod:`pvq.book.params` for how the records are used (validation before any heavy work, the
parameters cell and ``params/full.yaml`` derived from the fields below).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..common.checks import check_count
from ..core.pruning import check_bits_list
from ..layerwise.sweep import DEFAULT_LAYERS
from .params import N_BITS, ChapterParams, check_profile

__all__ = ["PerLayerParams", "check_layers"]


def check_layers(layers) -> dict:
    """Layers to study: a non-empty mapping of runnable model names to non-empty lists of layer names."""
    runnable = ("mobilenet_v2", "efficientnet_lite0", "minilm_l6")
    if not isinstance(layers, dict) or not layers:
        raise ValueError(f"layers must map model names to lists of layer names, got {layers!r}")
    for model, names in layers.items():
        if model not in runnable:
            raise ValueError(f"unknown model {model!r} in layers; runnable models: {runnable}")
        if isinstance(names, str) or not names or not all(isinstance(n, str) for n in names):
            raise ValueError(f"layers[{model!r}] must be a non-empty list of layer names, got {names!r}")
    return {m: tuple(v) for m, v in layers.items()}


@dataclass(frozen=True)
class PerLayerParams(ChapterParams):
    """Parameters of chapter 4 (per-layer post-training comparison, Figure 4).

    Attributes
    ----------
    profile : {'ci', 'full'}
        Parameter profile: ``'full'`` (the book) or ``'ci'`` (fast, for tests).
    layers : dict of str to list of str
        Runnable model (``'mobilenet_v2'``, ``'efficientnet_lite0'``, ``'minilm_l6'``) → layer names.
    n_bits : tuple of int
        Bit-widths of the comparison points (INT-b against pruning at ``1 - b/16``).
    n_inputs : int
        Calibration images / text passages (≥ 8).
    chunk_size : int
        Largest number of input dimensions per problem (≥ 1).
    max_chunks : int
        Chunks studied per layer (evenly spread over the layer).
    sdp_every : int
        The SDP bounds (plain and strengthened) and the SCIP cross-check run on every
        ``sdp_every``-th chunk (≥ 1).
    prune_nodes, quant_nodes : int
        Node budgets of the exact pruning (one whole curve per chunk) and quantization searches.
    scip_max_n : int
        SCIP cross-check on the SDP's chunks of at most this many weights (0: none).
    workers : int
        Local worker processes.
    dask_scheduler : str
        Address of a Dask scheduler (empty: local processes; ``$PVQ_DASK_SCHEDULER`` also works).
    seed : int
        Seed of the calibration inputs (image crops, text passages).
    """

    profile: str = "full"
    layers: dict = dataclasses.field(default_factory=lambda: {m: tuple(v) for m, v in DEFAULT_LAYERS.items()})
    n_bits: tuple = N_BITS
    n_inputs: int = 64
    chunk_size: int = 32
    max_chunks: int = 64
    sdp_every: int = 16
    prune_nodes: int = 50_000_000
    quant_nodes: int = 200_000_000
    scip_max_n: int = 16
    workers: int = 2
    dask_scheduler: str = ""
    seed: int = 0

    def __post_init__(self):
        check_profile(self.profile)
        object.__setattr__(self, "layers", check_layers(self.layers))
        object.__setattr__(self, "n_bits", check_bits_list(self.n_bits, "n_bits"))
        check_count(self.n_inputs, "n_inputs", 8)
        check_count(self.chunk_size, "chunk_size", 1)
        check_count(self.max_chunks, "max_chunks", 1)
        check_count(self.sdp_every, "sdp_every", 1)
        check_count(self.prune_nodes, "prune_nodes", 1)
        check_count(self.quant_nodes, "quant_nodes", 1)
        check_count(self.scip_max_n, "scip_max_n", 0)
        check_count(self.workers, "workers", 1)
        if not isinstance(self.dask_scheduler, str):
            raise ValueError(
                f"dask_scheduler must be a string (empty for local processes), got {self.dask_scheduler!r}"
            )
        check_count(self.seed, "seed", 0)
