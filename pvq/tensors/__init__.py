"""Real weight tensors (paper §4, Figure 3): checkpoint loading, clipping search, per-tensor
comparison, model summaries.

The runnable pretrained networks (:mod:`pvq.tensors.pretrained`, which needs torch) are imported
from their module, so that ``import pvq`` stays light.

Modules: :mod:`~pvq.tensors.checkpoints`, :mod:`~pvq.tensors.clipping`,
:mod:`~pvq.tensors.analysis`, :mod:`~pvq.tensors.summaries`. They import from lower layers only:
:mod:`pvq.common` at the bottom, then :mod:`pvq.core`, :mod:`pvq.analytic` and :mod:`pvq.tensors`,
then :mod:`pvq.layerwise` and :mod:`pvq.finetune`, and :mod:`pvq.book` on top
(``tests/test_architecture.py`` checks it).
"""

from .analysis import TENSOR_COLUMNS, analyze_tensor, check_tensor
from .checkpoints import MODELS, Checkpoint, CheckpointError, Model, is_layer_weight, iter_weights, resolve
from .clipping import (
    SortedWeights,
    certified_clip_tensor,
    clip_search,
    natural_sparsity,
    optimal_clip_tensor,
    paper_clip,
    paper_clip_candidates,
    prune_mse_sorted,
)
from .summaries import (
    KURTOSIS_BINS,
    analyze_model,
    describe_between,
    kurtosis_boundary,
    natural_sparsity_table,
    parse_bits,
    recommendations,
    win_share_by_bits,
    win_share_by_kurtosis,
)

__all__ = [
    "KURTOSIS_BINS",
    "MODELS",
    "TENSOR_COLUMNS",
    "Checkpoint",
    "CheckpointError",
    "Model",
    "SortedWeights",
    "analyze_model",
    "analyze_tensor",
    "certified_clip_tensor",
    "check_tensor",
    "clip_search",
    "describe_between",
    "is_layer_weight",
    "iter_weights",
    "kurtosis_boundary",
    "natural_sparsity",
    "natural_sparsity_table",
    "optimal_clip_tensor",
    "paper_clip",
    "paper_clip_candidates",
    "parse_bits",
    "prune_mse_sorted",
    "recommendations",
    "resolve",
    "win_share_by_bits",
    "win_share_by_kurtosis",
]
