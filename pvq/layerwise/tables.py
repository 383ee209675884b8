"""Tables of the per-layer comparison (paper §5, Figure 4) from the solved chunks.

Pure functions on the chunk table of :func:`pvq.layerwise.sweep.run_sweep` (one row per chunk,
comparison point, side and method): layer SNRs, the comparison table behind Figure 4, and the
gaps of the heuristics and of the paper's bounds to the exact optima.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["comparison_table", "layer_snr", "paired_gap"]


def layer_snr(results: pd.DataFrame) -> pd.DataFrame:
    """Layer SNR per (model, layer, n_bits, side, method): ``-10·log10(Σ error / Σ ||Xw||²)``.

    Also the SNR of the summed proven lower bounds (``snr_upper_db``: no solution can beat it)
    where every chunk has one, the share of chunks proven optimal, and the chunk count.
    """
    g = results.groupby(["model", "layer", "n_bits", "side", "method"], sort=False)
    out = g.agg(
        error=("error", "sum"),
        norm=("norm", "sum"),
        lower=("lower_bound", "sum"),
        proven=("proven", "mean"),
        chunks=("error", "size"),
        has_lower=("lower_bound", lambda s: s.notna().all()),
    )
    out["snr_db"] = -10 * np.log10(out.error / out.norm)
    with np.errstate(divide="ignore"):
        out["snr_upper_db"] = np.where(out.has_lower, -10 * np.log10(out.lower / out.norm), np.nan)
    return out.drop(columns=["has_lower"]).reset_index()


def paired_gap(results: pd.DataFrame, method: str, *, side: str, reference: str = "exact") -> pd.DataFrame:
    """How far a method lies from the reference on the chunks where both ran (per layer and point).

    Returns
    -------
    pandas.DataFrame
        Columns ``model, layer, n_bits, chunks, gap_db`` (``10·log10(Σ error / Σ error_ref)``; positive:
        worse than the reference) and ``lower_gap_db`` (the same for the method's lower bounds).
    """
    keys = ["model", "layer", "channel", "chunk", "n_bits"]
    a = results[(results.side == side) & (results.method == method)]
    ref = results[(results.side == side) & (results.method == reference)]
    m = a.merge(ref[[*keys, "error"]], on=keys, suffixes=("", "_ref"))
    g = m.groupby(["model", "layer", "n_bits"], sort=False).agg(
        chunks=("error", "size"), error=("error", "sum"), ref=("error_ref", "sum"), lower=("lower_bound", "sum")
    )
    g["gap_db"] = 10 * np.log10(g.error / g.ref)
    with np.errstate(divide="ignore"):
        g["lower_gap_db"] = 10 * np.log10(g.lower / g.ref)
    return g.drop(columns=["error", "ref", "lower"]).reset_index()


def comparison_table(snr: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, layer, n_bits) with the numbers Figure 4 draws.

    Columns: ``quant_exact_db``, ``quant_exact_proven`` (share of chunks), ``quant_sdp_lower_db``
    (SNR of the rounding upper bound on the error, i.e. the paper's lower end of the box),
    ``quant_sdp_upper_db`` (SNR of the certified SDP lower bound on the error, the box's upper
    end), ``prune_exact_db``, ``prune_exact_proven``, ``prune_bound_db`` (SNR no pruning can
    exceed: from the proven lower bounds, ``inf`` if a chunk is unproven) and the heuristics'
    SNRs.
    """
    piv = snr.pivot_table(index=["model", "layer", "n_bits"], columns=["side", "method"], values="snr_db", sort=False)
    out = pd.DataFrame(index=piv.index)
    q, p = "quantization", "pruning"
    get = snr.set_index(["model", "layer", "n_bits", "side", "method"])
    out["quant_exact_db"] = piv[(q, "exact")]
    out["quant_exact_proven"] = get.xs((q, "exact"), level=("side", "method"))["proven"]
    if (q, "SDP bounds") in piv:
        out["quant_sdp_lower_db"] = piv[(q, "SDP bounds")]
        out["quant_sdp_upper_db"] = get.xs((q, "SDP bounds"), level=("side", "method"))["snr_upper_db"]
    out["prune_exact_db"] = piv[(p, "exact")]
    out["prune_exact_proven"] = get.xs((p, "exact"), level=("side", "method"))["proven"]
    out["prune_bound_db"] = get.xs((p, "exact"), level=("side", "method"))["snr_upper_db"]
    for side, method in piv.columns:
        if method != "exact" and method != "SDP bounds":
            out[f"{'quant' if side == q else 'prune'}_{method}_db"] = piv[(side, method)]
    return out.reset_index()
