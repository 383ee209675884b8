"""Real weight tensors (paper §4, Figure 3): checkpoint loading, clipping search, per-tensor
comparison, model summaries.

The runnable pretrained networks (:mod:`pvq.tensors.pretrained`, which needs torch) are imported
from their module, so that ``import pvq`` stays light.

Modules: :mod:`~pvq.tensors.readers`, :mod:`~pvq.tensors.mapped`, :mod:`~pvq.tensors.checkpoints`,
:mod:`~pvq.tensors.clipping`, :mod:`~pvq.tensors.analysis`, :mod:`~pvq.tensors.summaries`,
:mod:`~pvq.tensors.model_set`, :mod:`~pvq.tensors.natural`, :mod:`~pvq.tensors.clip_audit`,
:mod:`~pvq.tensors.released`. They import from lower layers only: :mod:`pvq.common` at the bottom,
then :mod:`pvq.core`, :mod:`pvq.analytic` and :mod:`pvq.tensors`, then :mod:`pvq.formats`, then
:mod:`pvq.layerwise` and :mod:`pvq.finetune`, and :mod:`pvq.book` on top
(``tests/test_architecture.py`` checks it).
"""

from typing import TYPE_CHECKING

from ..common.lazy import lazy_exports

if TYPE_CHECKING:  # the re-exports; at run time each module is imported when one of its names is first used
    from .analysis import TENSOR_COLUMNS, analyze_tensor, check_tensor, prepare_tensor
    from .checkpoints import MODELS, Checkpoint, Model, iter_weights, resolve
    from .clip_audit import (
        CERTIFIED_COLUMNS,
        certification_summary,
        certify_smallest,
        clip_audit_headlines,
        clipping_gain_table,
    )
    from .clipping import (
        FP16_NONFINITE,
        SortedWeights,
        all_finite,
        certified_clip_tensor,
        clip_search,
        fp16_counts,
        natural_sparsity,
        optimal_clip_tensor,
        paper_clip,
        paper_clip_candidates,
        prune_mse_sorted,
        quantization_mse,
    )
    from .mapped import mapped_ranges, release_pages
    from .model_set import analyze_models, model_table, resolve_models, tensor_headlines, win_share_by_model
    from .natural import (
        NATURAL_SPARSITY_COLUMNS,
        corrected_pruning_table,
        natural_sparsity_comparison,
        natural_sparsity_headlines,
        zero_bin_share,
    )
    from .readers import (
        CheckpointError,
        is_layer_weight,
        read_onnx,
        read_safetensors,
        read_state_dict,
        torch_state_dict,
        weights_entry,
    )
    from .released import (
        AGGREGATIONS,
        COMPARED,
        RELEASED_COLUMNS,
        compare_with_released,
        cross_check,
        cross_check_summary,
        finite_points,
        kurtosis_points,
        load_released,
        natural_sparsity_by_source,
        released_by_bits,
        released_headlines,
        released_win_share,
    )
    from .summaries import (
        KURTOSIS_BINS,
        QUANT_COLUMNS,
        WIN_SHARE_COLUMNS,
        analyze_model,
        describe_between,
        kurtosis_boundary,
        kurtosis_headlines,
        natural_sparsity_table,
        parse_bits,
        recommendations,
        snr_margins,
        win_share_by_bits,
        win_share_by_kurtosis,
        win_share_headlines,
        win_share_table,
    )

__getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "AGGREGATIONS",
    "CERTIFIED_COLUMNS",
    "COMPARED",
    "FP16_NONFINITE",
    "KURTOSIS_BINS",
    "MODELS",
    "NATURAL_SPARSITY_COLUMNS",
    "QUANT_COLUMNS",
    "RELEASED_COLUMNS",
    "TENSOR_COLUMNS",
    "WIN_SHARE_COLUMNS",
    "Checkpoint",
    "CheckpointError",
    "Model",
    "SortedWeights",
    "all_finite",
    "analyze_model",
    "analyze_models",
    "analyze_tensor",
    "certification_summary",
    "certified_clip_tensor",
    "certify_smallest",
    "check_tensor",
    "clip_audit_headlines",
    "clip_search",
    "clipping_gain_table",
    "compare_with_released",
    "corrected_pruning_table",
    "cross_check",
    "cross_check_summary",
    "describe_between",
    "finite_points",
    "fp16_counts",
    "is_layer_weight",
    "iter_weights",
    "kurtosis_boundary",
    "kurtosis_headlines",
    "kurtosis_points",
    "load_released",
    "mapped_ranges",
    "model_table",
    "natural_sparsity",
    "natural_sparsity_by_source",
    "natural_sparsity_comparison",
    "natural_sparsity_headlines",
    "natural_sparsity_table",
    "optimal_clip_tensor",
    "paper_clip",
    "paper_clip_candidates",
    "parse_bits",
    "prepare_tensor",
    "prune_mse_sorted",
    "quantization_mse",
    "read_onnx",
    "read_safetensors",
    "read_state_dict",
    "recommendations",
    "release_pages",
    "released_by_bits",
    "released_headlines",
    "released_win_share",
    "resolve",
    "resolve_models",
    "snr_margins",
    "tensor_headlines",
    "torch_state_dict",
    "weights_entry",
    "win_share_by_bits",
    "win_share_by_kurtosis",
    "win_share_by_model",
    "win_share_headlines",
    "win_share_table",
    "zero_bin_share",
]
