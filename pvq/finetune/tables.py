"""Tables of chapters 5–7 from the run records: Table 1, longer fine-tuning, Figure 5, representations.

All functions are pure: they take the run table of :func:`pvq.runs.run_grid` (one row per run)
or the probe table of :func:`pvq.runs.representation_table` and return tidy DataFrames.
Accuracies are fractions; ``_mean``/``_std`` are over seeds, diverged runs excluded and
counted (:func:`pvq.runs.summarize_runs`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..core.pruning import paired_sparsity
from .cache import summarize_runs

__all__ = [
    "combine_points",
    "format_accuracy",
    "longer_table",
    "pareto_front",
    "representation_recovery",
    "representation_summary",
    "table1",
]


def format_accuracy(mean: float, std: float, n_ok: int, n_runs: int) -> str:
    """``'91.23 ± 0.10'`` (percent), with diverged runs said: ``'90.1 ± 0.2 (1 of 3 diverged)'``."""
    if n_ok == 0:
        return f"diverged ({n_runs} of {n_runs})"
    text = f"{100 * mean:.2f}" + ("" if n_ok < 2 or math.isnan(std) else f" ± {100 * std:.2f}")
    return text if n_ok == n_runs else f"{text} ({n_runs - n_ok} of {n_runs} diverged)"


def _paired(summary: pd.DataFrame) -> pd.DataFrame:
    """QAT and pruning side by side at each INT-b ↔ 1 - b/16 point."""
    q = summary[summary.method == "qat"].copy()
    p = summary[summary.method == "prune"].copy()
    q["point"] = q.n_bits.astype(int)
    p["point"] = [round(16 * (1 - s)) for s in p.sparsity]
    keep = ["arch", "epochs", "point", "accuracy_mean", "accuracy_std", "n_ok", "n_runs", "avg_bits"]
    t = q[keep].merge(p[keep], on=["arch", "epochs", "point"], suffixes=("_qat", "_prune"))
    t["gap"] = t.accuracy_mean_qat - t.accuracy_mean_prune
    # standard error of the difference of two means over seeds (NaN with one seed)
    t["gap_se"] = np.sqrt(t.accuracy_std_qat**2 / t.n_ok_qat + t.accuracy_std_prune**2 / t.n_ok_prune)
    return t


def table1(runs: pd.DataFrame) -> pd.DataFrame:
    """Table 1: per architecture and point, QAT and pruning accuracy (mean, std over seeds) and the gap.

    Columns: ``arch, epochs, n_bits, sparsity, accuracy_mean_qat, accuracy_std_qat, …_prune, gap,
    gap_se, n_ok_*, n_runs_*, avg_bits_qat`` (the QAT model's real average bits per weight, its
    first and last layer being at 8 bits).
    """
    t = _paired(summarize_runs(runs)).rename(columns={"point": "n_bits"})
    t["sparsity"] = [paired_sparsity(b) for b in t.n_bits]
    t = t.drop(columns=["avg_bits_prune"])
    return t.sort_values(["arch", "epochs", "n_bits"], ascending=[True, True, False]).reset_index(drop=True)


def longer_table(runs: pd.DataFrame, base_epochs: int) -> pd.DataFrame:
    """Longer fine-tuning: at each (arch, point), the accuracies and the gap per epochs multiple.

    Adds ``factor = epochs / base_epochs`` and, per method, the gain over the base length
    (``gain_qat``, ``gain_prune``, in accuracy points as fractions).
    """
    t = table1(runs)
    t["factor"] = t.epochs / base_epochs
    base = t[t.factor == 1].set_index(["arch", "n_bits"])
    t = t[t.n_bits.isin(t[t.factor > 1].n_bits.unique())].copy()
    idx = list(zip(t.arch, t.n_bits, strict=True))
    t["gain_qat"] = t.accuracy_mean_qat.to_numpy() - base.loc[idx, "accuracy_mean_qat"].to_numpy()
    t["gain_prune"] = t.accuracy_mean_prune.to_numpy() - base.loc[idx, "accuracy_mean_prune"].to_numpy()
    return t.sort_values(["arch", "n_bits", "factor"]).reset_index(drop=True)


def combine_points(runs: pd.DataFrame) -> pd.DataFrame:
    """Figure 5's points: accuracy against average bits per weight, per model kind.

    ``kind`` is ``'quantized'`` (QAT alone: only its natural sparsity, the crosses of the
    paper's figure), ``'pruned'`` (pruning alone, FP16 baseline: 16 × density) or ``'combined'``
    (QAT then pruned). ``avg_bits`` is measured on the final weights (zeros cost nothing).
    """
    s = summarize_runs(runs[runs.epochs == runs.epochs.min()])
    kind = {"qat": "quantized", "prune": "pruned", "qat+prune": "combined"}
    s = s[s.method.isin(kind)].copy()
    s["kind"] = s.method.map(kind)
    cols = ["arch", "kind", "label", "n_bits", "sparsity", "avg_bits", "zeros", "accuracy_mean", "accuracy_std"]
    return s[[*cols, "n_ok", "n_runs"]].sort_values(["arch", "kind", "avg_bits"]).reset_index(drop=True)


def pareto_front(points: pd.DataFrame) -> pd.DataFrame:
    """Points not dominated within their architecture (no other point has fewer or equal bits and higher accuracy).

    Adds a boolean ``on_front`` and, for each point, ``best_other_quantized`` /
    ``best_other_pruned``: the best accuracy that QAT alone / pruning alone reach at no more
    average bits (NaN when none does).
    """
    out = []
    for _, g in points.groupby("arch", sort=False):
        g = g.copy()
        acc, bits = g.accuracy_mean.to_numpy(), g.avg_bits.to_numpy()
        g["on_front"] = [not np.any((bits <= b) & (acc > a)) for a, b in zip(acc, bits, strict=True)]
        for kind in ("quantized", "pruned"):
            k = g[g.kind == kind]
            g[f"best_other_{kind}"] = [
                float(k.accuracy_mean[k.avg_bits <= b].max()) if (k.avg_bits <= b).any() else math.nan for b in bits
            ]
        out.append(g)
    return pd.concat(out, ignore_index=True)


def representation_summary(probes: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds and layers of activation SNR and CKA against the original, per checkpoint."""
    t = probes.replace([np.inf, -np.inf], np.nan)
    keys = ["arch", "method", "label", "n_bits", "sparsity", "epochs", "step", "steps"]
    t = t.fillna({"n_bits": 0})
    g = t.groupby(keys, dropna=False).agg(snr_db=("snr_db", "mean"), cka=("cka", "mean")).reset_index()
    g["progress"] = g.step / g.steps
    return g


def representation_recovery(probes: pd.DataFrame, *, prune_end: float = 0.75) -> pd.DataFrame:
    """Per run kind, length and layer: how far the network comes back toward the original.

    The compression is fully in place from the start for QAT and from ``prune_end`` of the run
    for pruning (its last mask update). From there on, ``snr_lowest`` is the lowest activation
    SNR against the original (mean over seeds) and ``recovered_db = snr_end - snr_lowest`` how
    far fine-tuning brought the network back toward the original representations; the same
    measure for both methods. ``drift_db = snr_end - snr_start`` compares the end with the very
    first checkpoint (right after quantization for QAT; the unpruned network for pruning).
    """
    t = probes.replace([np.inf, -np.inf], np.nan).fillna({"n_bits": 0})
    t["progress"] = t.step / t.steps
    keys = ["arch", "method", "label", "n_bits", "sparsity", "epochs", "layer"]
    rows = []
    for key, g in t.groupby(keys, sort=False):
        m = g.groupby("progress")[["snr_db", "cka"]].mean()
        start, end = m.iloc[0], m.iloc[-1]
        settled = m[m.index >= prune_end - 1e-9] if "prune" in key[1] else m
        lowest = settled.snr_db.min()
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "snr_start": start.snr_db,
                "snr_lowest": lowest,
                "snr_end": end.snr_db,
                "cka_start": start.cka,
                "cka_end": end.cka,
                "recovered_db": end.snr_db - lowest,
                "drift_db": end.snr_db - start.snr_db,
            }
        )
    return pd.DataFrame(rows)
