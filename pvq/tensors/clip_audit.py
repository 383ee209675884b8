"""How much the clipping search matters: the paper's grid against the optimum, and a proof (paper §4).

The paper picks each tensor's clipping value among 100 candidates; pvq searches for the
MSE-optimal one (:func:`pvq.tensors.clipping.optimal_clip_tensor`). :func:`clipping_gain_table`
measures what the better search gains and whether it changes any of Figure 3's verdicts;
:func:`certify_smallest` proves the global optimum on the smallest tensors by branch and bound
(:func:`pvq.tensors.clipping.certified_clip_tensor`) to measure how far the fast search can be
from it. Chapter 3 shows the tables and quotes :func:`clip_audit_headlines`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..core.quantization import Grid
from .analysis import check_tensor
from .checkpoints import Checkpoint, iter_weights
from .clipping import SortedWeights, certified_clip_tensor, optimal_clip_tensor

__all__ = [
    "CERTIFIED_COLUMNS",
    "certification_summary",
    "certify_smallest",
    "clip_audit_headlines",
    "clipping_gain_table",
]

#: Columns of ``certified_clipping.csv``.
CERTIFIED_COLUMNS = ["model", "tensor", "numel", "n_bits", "proven", "gap_db"]


def _gain(tensors: pd.DataFrame) -> pd.Series:
    return tensors.quant_snr_db - tensors.quant_snr_db_paper


def _flips(tensors: pd.DataFrame) -> pd.Series:
    return (tensors.quant_snr_db > tensors.prune_snr_db) != (tensors.quant_snr_db_paper > tensors.prune_snr_db)


def clipping_gain_table(tensors: pd.DataFrame) -> pd.DataFrame:
    """Per bit-width, what the MSE-optimal clipping gains over the paper's grid.

    The gain of a tensor is ``SNR_Q(α*) - SNR_Q(α_paper)`` in dB (never negative: the search
    returns the paper's choice when it cannot beat it). A *verdict flip* is a tensor whose winner
    changes with the clipping: ``[SNR_Q(α*) > SNR_P] ≠ [SNR_Q(α_paper) > SNR_P]``.

    Parameters
    ----------
    tensors : pandas.DataFrame
        Per-tensor table (columns ``n_bits, quant_snr_db, quant_snr_db_paper, prune_snr_db``).

    Returns
    -------
    pandas.DataFrame
        Columns ``n_bits, mean, median, max`` (of the gain, dB) and ``verdict flips`` (count),
        one row per bit-width (ascending).
    """
    gain = _gain(tensors).groupby(tensors.n_bits).agg(["mean", "median", "max"])
    gain["verdict flips"] = _flips(tensors).groupby(tensors.n_bits).sum()
    return gain.reset_index()


def certify_smallest(
    tensors: pd.DataFrame,
    checkpoints: Mapping[str, Checkpoint],
    *,
    n_certify: int,
    n_bits,
    max_bits: int = 4,
    fp16: bool = True,
    grid: Grid = "signed",
) -> pd.DataFrame:
    """Prove the optimal clipping of the smallest tensors and measure the fast search's gap.

    The ``n_certify`` smallest distinct tensors of ``tensors`` (by ``numel``, ties in table order)
    are read again from their checkpoints; at every bit-width of ``n_bits`` up to ``max_bits``
    (branch and bound is slow at high bit-widths), the fast search's MSE ``e_fast``
    (:func:`~pvq.tensors.clipping.optimal_clip_tensor`) is compared with the best MSE ``e*`` of
    :func:`~pvq.tensors.clipping.certified_clip_tensor`: ``gap_db = 10·log10(e_fast / e*) ≥ 0``.

    Parameters
    ----------
    tensors : pandas.DataFrame
        Per-tensor table (columns ``model, tensor, numel``).
    checkpoints : mapping of str to Checkpoint
        ``{model: checkpoint}`` the tensors came from.
    n_certify : int
        Number of tensors.
    n_bits : sequence of int
    max_bits : int
        Largest bit-width certified.
    fp16, grid
        As in :func:`pvq.tensors.analysis.analyze_tensor`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CERTIFIED_COLUMNS`; ``proven`` is False where the node budget ran out
        (``e*`` is then the best found). Rows in checkpoint order, then tensor order, then bits.
    """
    small = tensors.drop_duplicates(["model", "tensor"]).sort_values("numel").head(n_certify)
    wanted = set(zip(small.model, small.tensor, strict=True))
    bits = [b for b in n_bits if b <= max_bits]
    rows = []
    for model, ckpt in checkpoints.items():
        if model not in set(small.model):
            continue
        for name, w in iter_weights(ckpt):
            if (model, name) not in wanted:
                continue
            sw = SortedWeights.build(check_tensor(w, fp16=fp16)[0])
            for b in bits:
                _, fast = optimal_clip_tensor(sw, n_bits=b, grid=grid)
                _, best, proven = certified_clip_tensor(sw, n_bits=b, grid=grid)
                rows.append({"model": model, "tensor": name, "numel": sw.n, "n_bits": b, "proven": proven,
                             "gap_db": 10 * np.log10(fast / best)})  # fmt: skip
    return pd.DataFrame(rows, columns=CERTIFIED_COLUMNS)


def certification_summary(cert: pd.DataFrame) -> pd.DataFrame:
    """Per bit-width: problems certified, share proven optimal, largest gap of the fast search (dB).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``n_bits``, columns ``problems, proven, max_gap_db``.
    """
    return cert.groupby("n_bits").agg(
        problems=("gap_db", "size"), proven=("proven", "mean"), max_gap_db=("gap_db", "max")
    )


def clip_audit_headlines(tensors: pd.DataFrame, cert: pd.DataFrame, *, exact_db: float = 1e-4) -> dict:
    """What chapter 3 says about the clipping search, keyed by the names it glues them under.

    From the per-tensor table: ``gain-mean`` (mean gain of the MSE-optimal clipping over the
    paper's grid, every tensor and bit-width, dB), ``gain-max`` (largest gain, dB) and
    ``flips-text``, the sentence that counts the verdict flips of :func:`clipping_gain_table`
    (it ends the chapter's sentence, full stop included). From :func:`certify_smallest`'s table:
    ``n-certify`` (distinct tensors certified), ``cert-max-bits`` (the largest bit-width
    certified, 0 if none), ``cert-proven`` (% of problems proven optimal),
    ``cert-exact`` (% where the fast search is within ``exact_db`` dB of the optimum) and
    ``cert-gap-max`` (its largest gap, dB), NaN when nothing was certified.
    """
    flips = int(_flips(tensors).sum())
    if flips == 0:
        text = "no tensor × bit-width verdict changes, so the paper's coarse grid does not decide its Figure 3."
    else:
        text = f"{flips} tensor × bit-width verdict{' changes' if flips == 1 else 's change'} (table above)."
    gain = _gain(tensors)
    nan = float("nan")
    some = len(cert) > 0
    return {
        "gain-max": float(gain.max()),
        "gain-mean": float(gain.mean()),
        "flips-text": text,
        "n-certify": len(cert.drop_duplicates(["model", "tensor"])),
        "cert-max-bits": int(cert.n_bits.max()) if some else 0,
        "cert-proven": 100 * float(cert.proven.mean()) if some else nan,
        "cert-gap-max": float(cert.gap_db.max()) if some else nan,
        "cert-exact": 100 * float((cert.gap_db < exact_db).mean()) if some else nan,
    }
