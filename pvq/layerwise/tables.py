"""Tables of the per-layer comparison (paper §5, Figure 4) from the solved chunks.

Pure functions on the chunk table of :func:`pvq.layerwise.sweep.run_sweep` (one row per chunk,
comparison point, side and method): layer SNRs, the comparison table behind Figure 4, the gaps
of the heuristics and of the paper's bounds to the exact optima, solver timings, and the margin
of quantization's optimum over pruning's. The numbers chapter 4's prose quotes from these
tables come from :mod:`pvq.layerwise.study`; :mod:`pvq.book.tables` shows them to a reader
(:func:`pvq.book.tables.readable`, :func:`pvq.book.tables.margin_display`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .budget import allocate_budget
from .prune import keep_count

__all__ = [
    "SDP_METHODS",
    "TIMED_METHODS",
    "comparison_table",
    "heuristic_gaps",
    "layer_budget_table",
    "layer_snr",
    "margin_table",
    "paired_gap",
    "timing_table",
]

#: Methods whose solve time the sweep records (the rest are instantaneous heuristics).
TIMED_METHODS = ("exact", "SDP paper", "SDP strengthened", "SCIP boxed MIQP")

#: The SDP bounds, the paper's plain relaxation and the one with the box cut and box-aware 1-opt.
SDP_METHODS = {"SDP paper": "sdp_paper", "SDP strengthened": "sdp"}


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


def comparison_table(snr: pd.DataFrame, budget: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (model, layer, n_bits) with the numbers Figure 4 draws.

    Columns: ``quant_exact_db``, ``quant_exact_proven`` (share of chunks); for the strengthened
    SDP bounds ``quant_sdp_lower_db`` (SNR of the rounding upper bound on the error, the lower
    end of the box) and ``quant_sdp_upper_db`` (SNR of the certified SDP lower bound on the
    error, the box's upper end), the same for the paper's plain relaxation as
    ``quant_sdp_paper_lower_db`` / ``quant_sdp_paper_upper_db`` (both on the chunks where the
    SDP ran); ``prune_exact_db``, ``prune_exact_proven``, ``prune_bound_db`` (SNR no pruning of
    the paper's per-chunk form can exceed: from the proven optima, ``NaN`` if a chunk is
    unproven); with ``budget`` (:func:`layer_budget_table`) its ``prune_layer_*`` columns; and
    the heuristics' SNRs.
    """
    piv = snr.pivot_table(index=["model", "layer", "n_bits"], columns=["side", "method"], values="snr_db", sort=False)
    out = pd.DataFrame(index=piv.index)
    q, p = "quantization", "pruning"
    get = snr.set_index(["model", "layer", "n_bits", "side", "method"])
    out["quant_exact_db"] = piv[(q, "exact")]
    out["quant_exact_proven"] = get.xs((q, "exact"), level=("side", "method"))["proven"]
    for method, name in SDP_METHODS.items():
        if (q, method) in piv:
            out[f"quant_{name}_lower_db"] = piv[(q, method)]
            out[f"quant_{name}_upper_db"] = get.xs((q, method), level=("side", "method"))["snr_upper_db"]
    out["prune_exact_db"] = piv[(p, "exact")]
    out["prune_exact_proven"] = get.xs((p, "exact"), level=("side", "method"))["proven"]
    out["prune_bound_db"] = get.xs((p, "exact"), level=("side", "method"))["snr_upper_db"]
    for side, method in piv.columns:
        if method != "exact" and method not in SDP_METHODS:
            out[f"{'quant' if side == q else 'prune'}_{method}_db"] = piv[(side, method)]
    out = out.reset_index()
    if budget is not None:
        cols = ["prune_layer_db", "prune_layer_proven", "prune_layer_bound_db", "budget_moved"]
        out = out.merge(budget[["model", "layer", "n_bits", *cols]], on=["model", "layer", "n_bits"], how="left")
    return out


def layer_budget_table(curves: pd.DataFrame, n_bits) -> pd.DataFrame:
    """Pruning's layer-budget form per (model, layer, n_bits), from the exact per-chunk curves.

    The layer's studied chunks share ``K_b = Σ_c ⌊n_c·b/16⌋`` kept weights, spent by
    :func:`pvq.layerwise.budget.allocate_budget` (exact DP) on the curves of
    :func:`pvq.layerwise.sweep.run_sweep`.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, layer, n_bits, chunks, budget`` (``K_b``), ``prune_layer_db`` (SNR of
        the allocated errors over ``Σ ||Xw||²``), ``prune_chunk_db`` (the per-chunk form from
        the same curves), ``prune_layer_proven`` (share of chunks whose curve is proven),
        ``prune_layer_bound_db`` (``prune_layer_db`` when every curve is proven, else ``NaN``)
        and ``budget_moved`` (share of ``K_b`` kept in other chunks than the per-chunk form
        keeps it: ``Σ |k_c - ⌊n_c b/16⌋| / 2K_b``).
    """
    rows = []
    for (model, layer), g in curves.groupby(["model", "layer"], sort=False):
        per = [c.sort_values("kept") for _, c in g.groupby(["channel", "chunk"], sort=False)]
        errs = [c.error.to_numpy() for c in per]
        ns = np.array([int(c.n.iloc[0]) for c in per])
        norm = float(sum(c.norm.iloc[0] for c in per))
        proven = float(np.mean([bool(c.proven.all()) for c in per]))
        for b in n_bits:
            ks = np.array([keep_count(n, int(b)) for n in ns])
            total = int(ks.sum())
            err, kept = allocate_budget(errs, total)
            chunk_err = float(sum(e[k] for e, k in zip(errs, ks, strict=True)))
            layer_db = -10 * np.log10(err / norm) if err > 0 else np.inf
            rows.append({
                "model": model, "layer": layer, "n_bits": int(b), "chunks": len(per), "budget": total,
                "prune_layer_db": layer_db, "prune_chunk_db": -10 * np.log10(chunk_err / norm),
                "prune_layer_proven": proven, "prune_layer_bound_db": layer_db if proven == 1 else np.nan,
                "budget_moved": float(np.abs(kept - ks).sum() / (2 * total)) if total else 0.0,
            })  # fmt: skip
    return pd.DataFrame(rows)


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


def margin_table(table: pd.DataFrame, *, form: str = "chunk") -> pd.DataFrame:
    """SNR margin of quantization's exact optimum over pruning's, per layer (rows) and point (columns).

    ``margin = SNR_Q* - SNR_P*`` in dB from :func:`comparison_table`, against pruning's
    per-chunk form (``form='chunk'``, ``prune_exact_db``: the paper's) or its layer-budget form
    (``form='layer'``, ``prune_layer_db``); negative where pruning wins.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(model, layer)`` in table order, one column per ``n_bits``.
    """
    col = {"chunk": "prune_exact_db", "layer": "prune_layer_db"}.get(form)
    if col is None:
        raise ValueError(f"form must be 'chunk' or 'layer', got {form!r}")
    margins = table.assign(margin_db=table.quant_exact_db - table[col])
    return margins.pivot_table(index=["model", "layer"], columns="n_bits", values="margin_db", sort=False)
