"""Pruning vs quantization on real weight tensors (paper §4, Figure 3).

For one tensor ``w`` (cast to FP16 first, the paper's baseline) and each bit-width ``b``:

- **quantization SNR, paper convention**: per-tensor signed grid, clipping value chosen among
  the 100 candidates ``α_k = k·(max|w| + 0.5)/100`` by the smallest MSE (:func:`~pvq.tensors.clipping.paper_clip`);
- **quantization SNR, pvq**: the MSE-optimal clipping value (:func:`~pvq.tensors.clipping.optimal_clip_tensor`):
  a dense scan, then alternating minimisation (assign each weight to its level, then the best
  scale for that assignment) to a fixed point; never worse than the paper's grid, by
  construction;
- **pruning SNR** at sparsity ``1 - b/B`` (``B`` = 16, the FP16 baseline; exactly ``⌊c·n⌋`` smallest
  ``|w|`` removed), and the
  *corrected* pruning SNR of the paper's code, which gives pruning only the keep ratio
  ``(1 - z)·b/B`` where ``z`` is the share of exact zeros in ``Q(w)`` ("natural sparsity",
  taken with the paper's clipping).

The clipping searches are those of :mod:`pvq.tensors.clipping`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..core.metrics import snr_db_from_mse
from ..core.pruning import BASELINE_BITS, paired_sparsity
from ..core.quantization import Grid
from .clipping import (
    FP16_NONFINITE,
    SortedWeights,
    all_finite,
    clip_search,
    fp16_counts,
    natural_sparsity,
    prune_mse_sorted,
)

__all__ = ["TENSOR_COLUMNS", "analyze_tensor", "check_tensor", "prepare_tensor"]

#: Columns of ``tensors.csv``, one row per (model, tensor, bit-width).
TENSOR_COLUMNS = [
    "model",
    "tensor",
    "numel",
    "n_bits",
    "sparsity",
    "kurtosis",
    "excess_kurtosis",
    "quant_snr_db_paper",
    "quant_snr_db",
    "prune_snr_db",
    "prune_snr_db_corrected",
    "natural_sparsity",
]


def check_tensor(w, *, fp16: bool = True) -> tuple[np.ndarray | None, str]:
    """Prepare a tensor for analysis: flatten, cast to FP16 (optional), reject degenerate ones.

    Returns
    -------
    values : numpy.ndarray of float64 or None
        The (FP16-rounded) values, or ``None`` when the tensor cannot be analysed.
    reason : str
        Empty, or why the tensor is skipped: non-finite values, overflow of the FP16 range,
        all zeros, or a constant tensor.
    """
    w = np.asarray(w).reshape(-1)
    if w.size == 0:
        return None, "empty tensor"
    if not np.all(np.isfinite(w)):
        return None, "contains NaN or Inf"
    if fp16:
        with np.errstate(over="ignore"):
            w16 = w.astype(np.float16)
        if not np.all(np.isfinite(w16)):
            return None, "values exceed the FP16 range"
        w = w16
    w = w.astype(np.float64)
    if not np.any(w):
        return None, "all zeros"
    if np.all(w == w[0]):
        return None, "constant tensor"
    return w, ""


def prepare_tensor(w, *, fp16: bool = True) -> tuple[SortedWeights | None, str]:
    """:class:`~pvq.tensors.clipping.SortedWeights` of a tensor, or why it is skipped, in bounded memory.

    The same result and reasons as ``SortedWeights.build(check_tensor(w, fp16=fp16)[0])``, but
    on the FP16 path (``fp16=True``, or a tensor stored in FP16) the tensor is checked, rounded
    and counted chunk by chunk (:func:`~pvq.tensors.clipping.fp16_counts`): no copy of it is
    made, so a tensor memory-mapped from a checkpoint costs a few MB beyond itself. With
    ``fp16=False`` a float32/float64 tensor is copied to float64 and sorted (about 40 bytes per
    weight at the peak).

    Returns
    -------
    sw : SortedWeights or None
    reason : str
        As :func:`check_tensor`'s.
    """
    w = np.asarray(w).reshape(-1)
    if w.size == 0:
        return None, "empty tensor"
    if not all_finite(w):
        return None, "contains NaN or Inf"
    if fp16 or w.dtype == np.float16:
        counts = fp16_counts(w)
        if counts[FP16_NONFINITE].any():
            return None, "values exceed the FP16 range"
        sw = SortedWeights.from_fp16_counts(counts)
    else:
        sw = SortedWeights.build(w.astype(np.float64))
    if sw.sorted.size == 1:
        return None, "all zeros" if sw.sorted[0] == 0 else "constant tensor"
    return sw, ""


def analyze_tensor(
    w,
    n_bits: Iterable[int],
    *,
    model: str = "",
    tensor: str = "",
    fp16: bool = True,
    grid: Grid = "signed",
    baseline_bits: int = BASELINE_BITS,
) -> tuple[list[dict], str]:
    """All of Figure 3's numbers for one tensor.

    Returns
    -------
    rows : list of dict
        One row per bit-width with the keys of :data:`TENSOR_COLUMNS` (empty when skipped), then
        ``natural_sparsity_minmax``: the share of zeros with the min–max range ``α = max|w|``, a
        second convention the chapter compares with the paper's numbers.
    reason : str
        Why the tensor was skipped, or ``''``.
    """
    sw, reason = prepare_tensor(w, fp16=fp16)
    if sw is None:
        return [], reason
    kurt = sw.kurtosis()
    rows = []
    for b in n_bits:
        c = paired_sparsity(b, baseline_bits=baseline_bits)
        p_clip, p_mse, _, e_mse = clip_search(sw, n_bits=b, grid=grid)
        zeros = natural_sparsity(sw, p_clip, n_bits=b, grid=grid)
        keep = (1.0 - zeros) * b / baseline_bits
        rows.append(
            {
                "model": model,
                "tensor": tensor,
                "numel": sw.n,
                "n_bits": int(b),
                "sparsity": c,
                "kurtosis": kurt,
                "excess_kurtosis": kurt - 3.0,
                "quant_snr_db_paper": snr_db_from_mse(sw.power, p_mse),
                "quant_snr_db": snr_db_from_mse(sw.power, e_mse),
                "prune_snr_db": snr_db_from_mse(sw.power, prune_mse_sorted(sw, c)),
                "prune_snr_db_corrected": snr_db_from_mse(sw.power, prune_mse_sorted(sw, 1.0 - keep)),
                "natural_sparsity": zeros,
                "natural_sparsity_minmax": natural_sparsity(sw, sw.max_abs, n_bits=b, grid=grid),
            }
        )
    return rows, ""
