"""Tables of the per-layer comparison (paper §5, Figure 4) from the solved chunks.

Pure functions on the chunk table of :func:`pvq.layerwise.sweep.run_sweep` (one row per chunk,
comparison point, side and method): layer SNRs, the comparison table behind Figure 4, the gaps
of the heuristics and of the paper's bounds to the exact optima, solver timings, and the margin
of quantization's optimum over pruning's. The numbers chapter 4's prose quotes from these
tables come from :mod:`pvq.layerwise.study`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "TIMED_METHODS",
    "comparison_table",
    "heuristic_gaps",
    "layer_snr",
    "margin_table",
    "paired_gap",
    "timing_table",
]

#: Methods whose solve time the sweep records (the rest are instantaneous heuristics).
TIMED_METHODS = ("exact", "SDP bounds", "SCIP boxed MIQP")


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


def heuristic_gaps(results: pd.DataFrame, *, reference: str = "exact") -> pd.DataFrame:
    """How far each heuristic lies from the exact optimum, over the layers and points.

    For every method other than ``reference`` on each side, the per-(layer, point) gap
    ``10·log10(Σ error / Σ error_exact)`` of :func:`paired_gap` (dB, positive: worse), summarised
    by its median and its largest value.

    Returns
    -------
    pandas.DataFrame
        Columns ``side, method, median_gap_db, max_gap_db``; quantization first, then pruning,
        methods in order of first appearance.
    """
    rows = []
    for side in ("quantization", "pruning"):
        for method in results[results.side == side].method.unique():
            if method == reference:
                continue
            g = paired_gap(results, method, side=side, reference=reference)
            rows.append(
                {"side": side, "method": method, "median_gap_db": g.gap_db.median(), "max_gap_db": g.gap_db.max()}
            )
    return pd.DataFrame(rows, columns=["side", "method", "median_gap_db", "max_gap_db"])


def timing_table(results: pd.DataFrame, *, methods=TIMED_METHODS) -> pd.DataFrame:
    """Median solve time per chunk of the timed methods, by side, method and chunk size ``n``.

    Returns
    -------
    pandas.DataFrame
        Columns ``side, method, n, median_seconds`` (wall-clock, so not reproducible exactly).
    """
    timed = results[results.method.isin(list(methods))]
    return timed.groupby(["side", "method", "n"]).seconds.median().rename("median_seconds").reset_index()


def margin_table(table: pd.DataFrame) -> pd.DataFrame:
    """SNR margin of quantization's exact optimum over pruning's, per layer (rows) and point (columns).

    ``margin = SNR_Q* - SNR_P*`` in dB from :func:`comparison_table` (``quant_exact_db -
    prune_exact_db``); negative where pruning wins.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(model, layer)`` in table order, one column per ``n_bits``.
    """
    margins = table.assign(margin_db=table.quant_exact_db - table.prune_exact_db)
    return margins.pivot_table(index=["model", "layer"], columns="n_bits", values="margin_db", sort=False)
