"""Chapter 9's figure, headlines and verdicts (whole real networks after training, judged by fidelity).

Verdicts rest on :func:`pvq.layerwise.network_study.network_verdicts`: at each network and paired
bit-width, the best quantization method against the best pruning method, the difference of the
primary fidelity measure (logit SNR, or cosine for the text encoder) with a paired bootstrap
interval; a side wins only where the interval excludes zero.
"""

from __future__ import annotations

import math

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..common.paper import PAPER
from ..core.pruning import paired_sparsity
from ..layerwise.network_study import NETWORKS
from .claims import Verdict
from .theme import PALETTE, panels, themed

__all__ = [
    "MODERATE_BITS",
    "SCALES",
    "check_c4_networks",
    "check_c5_networks",
    "diagnosis_display",
    "diagnosis_headlines",
    "margins_across_scales",
    "network_headlines",
    "plot_fidelity",
    "scale_headlines",
    "scales_display",
    "verdict_display",
]

#: The bit-width from which a comparison counts as moderate compression (the reading of C4 in chapter 4).
MODERATE_BITS = 4


@themed
def plot_fidelity(table: pd.DataFrame) -> Figure:
    """Fidelity against bits per compressed weight, one panel per network, one line per method.

    Parameters
    ----------
    table : DataFrame
        :func:`pvq.layerwise.network_study.fidelity_table`; the noise floor is drawn as a grey band.
    """
    models = list(dict.fromkeys(table.model))
    fig, axes = panels(len(models), height=3.6)
    methods = [m for m in dict.fromkeys(table.method) if not m.startswith("FP32")]
    colors = dict(zip(methods, sns.color_palette(PALETTE.as_hex(), n_colors=len(methods)), strict=True))
    for ax, model in zip(axes, models, strict=True):
        t = table[table.model == model]
        y = "cosine" if "cosine" in t and t["cosine"].notna().any() else "logit_snr_db"
        floor = t[t.side == "reference"]
        for r in floor.itertuples():
            ax.axhspan(r.ci_low, r.ci_high, color="0.85", zorder=0)
            ax.axhline(getattr(r, y), color="0.5", lw=1, ls=":", label="FP32, second crop")
        for method, g in t[t.side != "reference"].groupby("method", sort=False):
            g = g.sort_values("bits_per_weight")
            side = g.side.iloc[0]
            style = {"marker": "o" if side == "quantization" else "s", "ls": "-" if side == "quantization" else "--"}
            if g.n_bits.isna().all():
                ax.scatter(g.bits_per_weight, g[y], color=colors[method], marker="D", s=30, label=method, zorder=3)
            else:
                ax.plot(g.bits_per_weight, g[y], color=colors[method], ms=4, lw=1.2, label=method, **style)
                ax.fill_between(g.bits_per_weight, g.ci_low, g.ci_high, color=colors[method], alpha=0.12, lw=0)
        ax.set(xlabel="bits per compressed weight", title=model,
               ylabel="embedding cosine to FP32" if y == "cosine" else "logit SNR to FP32 (dB)")  # fmt: skip
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="x-small", loc="lower right")
    return fig


def verdict_display(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The verdicts as the page shows them: the best method of each side, the difference with its interval, the
    winner (logit SNR in dB for the vision networks, cosine for the text encoder)."""
    return pd.DataFrame({
        "network": verdicts.model, "bits": verdicts.n_bits.astype(int),
        "best quantization": verdicts.quantization, "best pruning": verdicts.pruning,
        "quantization − pruning (95% interval)": [f"{r.difference:+.2f} [{r.diff_ci_low:+.2f}, {r.diff_ci_high:+.2f}]"
                                                  for r in verdicts.itertuples()],
        "winner": verdicts.winner,
    })  # fmt: skip


def _onsets(verdicts: pd.DataFrame) -> dict[str, float]:
    """Per network, the highest bit-width at which pruning wins (NaN: never)."""
    return {m: float(g[g.winner == "pruning"].n_bits.max()) if (g.winner == "pruning").any() else math.nan
            for m, g in verdicts.groupby("model", sort=False)}  # fmt: skip


def network_headlines(table: pd.DataFrame, verdicts: pd.DataFrame) -> dict:
    """Numbers the chapter's prose glues: counts of wins per side, the pruning onsets, the best pruned network at
    50% sparsity against the noise floor, and where round-to-nearest beats GPTQ."""
    out = {
        "n-networks": int(table.model.nunique()),
        "n-points": len(table[table.side != "reference"]),
        "n-comparisons": len(verdicts),
        "quant-wins": int((verdicts.winner == "quantization").sum()),
        "prune-wins": int((verdicts.winner == "pruning").sum()),
        "ties": int((verdicts.winner == "tie").sum()),
    }
    half, rtn_ahead = [], []
    for model, t in table.groupby("model", sort=False):
        y = "cosine" if t["cosine"].notna().any() else "logit_snr_db"
        unit = "" if y == "cosine" else " dB"
        floor = t[t.side == "reference"][y]
        pruned = t[(t.side == "pruning") & (t.sparsity == 0.5) & t.n_bits.notna()]
        int8 = t[(t.side == "quantization") & (t.n_bits == 8)]
        if len(pruned) and len(int8) and len(floor):
            half.append(f"{model} {pruned[y].max():.2f}{unit} against INT8's {int8[y].max():.2f}{unit} "
                        f"(noise floor {floor.iloc[0]:.2f}{unit})")  # fmt: skip
        q = t[t.side == "quantization"].pivot_table(index="n_bits", columns="method", values=y)
        if {"GPTQ", "round-to-nearest"} <= set(q.columns):
            bits = [f"{b:.0f}" for b, r in q.iterrows() if r["round-to-nearest"] > r["GPTQ"]]
            if bits:
                rtn_ahead.append(f"{model} at {', '.join(bits)} bits")
    out["prune-half-text"] = "; ".join(half) or "no point at 50% sparsity"
    out["rtn-ahead-text"] = "; ".join(rtn_ahead) or "nowhere"
    onsets = _onsets(verdicts)
    out["pruning-onset-text"] = (
        "; ".join(f"{m}: {'never' if math.isnan(b) else f'at {b:.0f} bits and below'}" for m, b in onsets.items())
        or "no comparison"
    )
    return out


def _pairs(rows: pd.DataFrame) -> str:
    return ", ".join(f"{r.model} {r.n_bits:.0f}b ({r.difference:+.2f} [{r.diff_ci_low:+.2f}, {r.diff_ci_high:+.2f}])"
                     for r in rows.itertuples())  # fmt: skip


def check_c4_networks(verdicts: pd.DataFrame) -> Verdict:
    """C4 carried to whole networks: at every network and paired point of at least :data:`MODERATE_BITS` bits,
    the best quantization method beats the best pruning method beyond the bootstrap interval.

    Reproduced when quantization wins at every such point; partly when it never loses there but
    some points are ties; not reproduced when pruning wins at any; not yet checked without such points.
    """
    t = verdicts[verdicts.n_bits >= MODERATE_BITS] if len(verdicts) else verdicts
    scope = "whole real networks (ch. 9)"
    if not len(t):
        return Verdict("C4", scope, "not yet checked", f"no paired point at ≥ {MODERATE_BITS} bits")
    wins, losses = (t.winner == "quantization"), (t.winner == "pruning")
    top = int(t.n_bits.max())
    span = f"{MODERATE_BITS}–{top}" if top > MODERATE_BITS else f"{MODERATE_BITS}"
    evidence = (f"sequential post-training compression, fidelity on held-out inputs: at {span} "
                f"bits quantization wins {int(wins.sum())} of {len(t)} (network, point) pairs, "
                f"pruning {int(losses.sum())}; smallest margin "
                f"{_pairs(t.nsmallest(1, 'difference'))} (quantization − pruning, 95% interval)")  # fmt: skip
    verdict = "reproduced" if wins.all() else "not reproduced" if losses.any() else "partly reproduced"
    return Verdict("C4", scope, verdict, evidence)


def check_c5_networks(verdicts: pd.DataFrame) -> Verdict:
    """C5's reading without fine-tuning: quantization at least as good as pruning (wins or ties) at every
    network and paired point above 2 bits; pruning may win at 2 bits (extreme compression).

    Not reproduced when pruning wins anywhere above 2 bits; not yet checked without a comparison.
    """
    scope = "whole real networks, before fine-tuning (ch. 9)"
    if not len(verdicts):
        return Verdict("C5", scope, "not yet checked", "no paired comparison")
    above = verdicts[verdicts.n_bits > 2]
    lost = above[above.winner == "pruning"]
    at2 = verdicts[verdicts.n_bits <= 2]
    evidence = (f"post-training, no fine-tuning: quantization wins {int((verdicts.winner == 'quantization').sum())} of "
                f"{len(verdicts)} (network, point) pairs, pruning {int((verdicts.winner == 'pruning').sum())} "
                f"(at 2 bits: {int((at2.winner == 'pruning').sum())} of {len(at2)}), ties "
                f"{int((verdicts.winner == 'tie').sum())}")  # fmt: skip
    if len(lost):
        evidence += "; pruning wins above 2 bits at " + _pairs(lost)
    return Verdict("C5", scope, "not reproduced" if len(lost) else "reproduced", evidence)


#: The scales :func:`margins_across_scales` sets side by side, in the order the page shows them.
SCALES = (
    "one layer, exact optima (ch. 4)",
    "whole network, post-training (ch. 9)",
    "fine-tuned network (ch. 5)",
    "fine-tuned network (paper, Table 1)",
)


def margins_across_scales(verdicts: pd.DataFrame, per_layer: pd.DataFrame | None = None,
                          fine_tuned: pd.DataFrame | None = None) -> pd.DataFrame:  # fmt: skip
    """Quantization's margin over pruning at each paired bit-width, at the book's three scales and the paper's.

    The same comparison (INT-b against sparsity :math:`1 - b/16`) measured four ways: on one layer
    by exact optima (chapter 4, :math:`\\mathrm{SNR}` of the layer output, dB: the proven optimum of
    quantization minus that of pruning, per chunk), on a whole network after post-training compression
    (this chapter: best method of each side, logit SNR in dB or embedding cosine), after fine-tuning
    (chapter 5's Table 1: QAT's accuracy minus pruning's, points), and the paper's one recovered
    Table 1 cell (ResNet-50 on ImageNet, INT4 against 75% pruning). Paper §4 (per layer), §6 (Table 1).

    Parameters
    ----------
    verdicts : DataFrame
        :func:`pvq.layerwise.network_study.network_verdicts`.
    per_layer : DataFrame, optional
        Chapter 4's ``comparison.csv`` (``model, layer, n_bits, quant_exact_db, prune_exact_db``);
        ``None`` when chapter 4 has not been run in this results folder.
    fine_tuned : DataFrame, optional
        Chapter 5's ``table1.csv`` (``arch, epochs, n_bits, gap, gap_se``; the shortest fine-tuning
        of each architecture is used); ``None`` when chapter 5 has not been run.

    Returns
    -------
    DataFrame
        One row per (scale, subject, bit-width): ``scale`` (:data:`SCALES`), ``subject``,
        ``n_bits``, ``sparsity``, ``margin`` (positive: quantization ahead), ``low``, ``high`` and
        ``spread`` (what ``low``/``high`` are: the range over layers, a 95% bootstrap interval,
        ±2 standard errors over seeds, or none), ``unit``.
    """
    rows = []

    def add(scale, subject, b, margin, low, high, spread, unit):
        rows.append({"scale": scale, "subject": subject, "n_bits": int(b), "sparsity": paired_sparsity(int(b)),
                     "margin": float(margin), "low": low, "high": high, "spread": spread, "unit": unit})  # fmt: skip

    if per_layer is not None and len(per_layer):
        for (model, b), g in per_layer.groupby(["model", "n_bits"]):
            d = g.quant_exact_db - g.prune_exact_db
            add(SCALES[0], f"{model} ({len(g)} layer{'s' * (len(g) > 1)}, median)", b, d.median(), d.min(), d.max(),
                "range over layers", "dB")  # fmt: skip
    for r in verdicts.itertuples():
        unit = "cosine" if NETWORKS.get(r.model) == "text" else "dB"
        add(SCALES[1], r.model, r.n_bits, r.difference, r.diff_ci_low, r.diff_ci_high, "95% bootstrap interval",
            unit)  # fmt: skip
    if fine_tuned is not None and len(fine_tuned):
        shortest = fine_tuned[fine_tuned.epochs == fine_tuned.groupby("arch").epochs.transform("min")]
        for r in shortest.dropna(subset=["gap"]).itertuples():
            se = 2 * 100 * r.gap_se
            add(SCALES[2], f"{r.arch}, Fashion-MNIST", r.n_bits, 100 * r.gap, 100 * r.gap - se, 100 * r.gap + se,
                "±2 s.e. over seeds", "points")  # fmt: skip
    gap = 100 * (PAPER["resnet50_int4_top1"][0] - PAPER["resnet50_prune75_top1"][0])
    add(SCALES[3], "ResNet-50, ImageNet", 4, gap, math.nan, math.nan, "one run reported", "points")
    out = pd.DataFrame(rows)
    out["scale"] = pd.Categorical(out.scale, SCALES, ordered=True)
    return out.sort_values(["scale", "subject", "n_bits"], kind="stable").reset_index(drop=True)


def scales_display(margins: pd.DataFrame) -> pd.DataFrame:
    """:func:`margins_across_scales` as the page shows it: a row per scale and subject, a column per bit-width."""
    cell = margins.assign(text=[f"{r.margin:+.2f}" if r.unit != "cosine" else f"{r.margin:+.3f}"
                                for r in margins.itertuples()])  # fmt: skip
    wide = cell.pivot_table(index=["scale", "subject", "unit"], columns="n_bits", values="text", aggfunc="first",
                            observed=True).fillna("")  # fmt: skip
    wide.columns = [f"{b} bits" for b in wide.columns]
    return wide.reset_index()


def scale_headlines(margins: pd.DataFrame) -> dict:
    """Prose numbers for :func:`margins_across_scales`.

    ``moderate-bits`` (:data:`MODERATE_BITS`); ``scales-text``: every scale's margins at that
    bit-width; ``scales-agree``: in how many (scale, subject, bit-width) cells quantization is ahead;
    ``scales-against``: the cells where pruning is ahead, or that there are none; ``scales-missing``:
    the book's scales with no number in this results folder (a chapter not run), or nothing.
    """
    at = margins[margins.n_bits == MODERATE_BITS]
    parts = []
    for scale, g in at.groupby("scale", sort=True, observed=True):
        cells = ", ".join(f"{r.subject} {r.margin:+.2f}" + ("" if r.unit == "cosine" else f" {r.unit}")
                          + ("" if math.isnan(r.low) else f" [{r.low:+.2f}, {r.high:+.2f}]")
                          for r in g.itertuples())  # fmt: skip
        parts.append(
            f"{scale}, {g.spread.iloc[0]} in brackets: {cells}" if g.low.notna().any() else f"{scale}: {cells}"
        )
    behind = margins[margins.margin <= 0]
    against = "; ".join(f"{r.scale}, {r.subject} at {r.n_bits} bits ({r.margin:+.2f} {r.unit})"
                        for r in behind.itertuples())  # fmt: skip
    absent = [s for s in SCALES[:3] if s not in set(margins.scale.astype(str))]
    return {
        "moderate-bits": MODERATE_BITS,
        "scales-text": "; ".join(parts) or f"no comparison at {MODERATE_BITS} bits",
        "scales-agree": f"{int((margins.margin > 0).sum())} of {len(margins)}",
        "scales-against": f"Pruning is ahead (or level) at: {against}." if against else "Pruning is ahead nowhere.",
        "scales-missing": (
            f"Not in this results folder (its chapter was not run): {'; '.join(absent)}." if absent else ""
        ),
    }


def diagnosis_display(diagnosis: pd.DataFrame) -> pd.DataFrame:
    """:func:`pvq.layerwise.network_study.gptq_diagnosis` as the page shows it."""
    y = "cosine" if "cosine" in diagnosis else "logit_snr_db"
    return pd.DataFrame({
        "run": diagnosis.run, "calibration": diagnosis.n_calibration,
        f"{'embedding cosine' if y == 'cosine' else 'logit SNR (dB)'} (95% interval)": [
            f"{getattr(r, y):.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]" for r in diagnosis.itertuples()],
        "feed-forward output layers' SNR (dB)": [f"{v:.1f}" if math.isfinite(v) else "" for v in
                                                 diagnosis.group_layer_snr_db],
    })  # fmt: skip


def diagnosis_headlines(diagnosis: pd.DataFrame | None, clipping: pd.DataFrame | None, n_bits: int) -> dict:
    """``gptq-diagnosis-text``: what the diagnosis runs show, in words, with their numbers (or why there are none).

    The runs are those of :func:`pvq.layerwise.network_study.gptq_diagnosis`, in its order. Swapping the method
    on the feed-forward output layers *locates* the loss there when each swap lands closer to the other
    method's fidelity than to its own; more calibration data *helps* when it closes at least half of
    GPTQ's gap to round-to-nearest.
    """
    if diagnosis is None or not len(diagnosis):
        return {"gptq-diagnosis-text": "This build does not diagnose it (`diagnose_bits` is 0; the `full` profile "
                                       "diagnoses MiniLM at 8 bits)."}  # fmt: skip
    y = "cosine" if "cosine" in diagnosis else "logit_snr_db"
    rtn, gptq, gptq_but, rtn_but, more = (float(v) for v in diagnosis[y])
    mid = (rtn + gptq) / 2
    located = (gptq_but - mid) * (rtn - gptq) > 0 and (rtn_but - mid) * (gptq - rtn) > 0
    helped = abs(more - gptq) >= abs(rtn - gptq) / 2
    n_more = int(diagnosis.n_calibration.iloc[4])
    snr_rtn, snr_gptq = diagnosis.group_layer_snr_db.iloc[2], diagnosis.group_layer_snr_db.iloc[3]
    group = "the feed-forward output layers" if clipping is None else f"the {len(clipping)} feed-forward output layers"
    text = (f"At {n_bits} bits on MiniLM, GPTQ on every layer reaches an embedding cosine of {gptq:.3f} against "
            f"round-to-nearest's {rtn:.3f}. With round-to-nearest on {group} and GPTQ on the rest it reaches "
            f"{gptq_but:.3f}; with GPTQ on those layers alone, {rtn_but:.3f}: ")  # fmt: skip
    text += ("the loss comes from those layers. " if located else
             "swapping those layers does not move the result from one method's to the other's. ")  # fmt: skip
    text += (f"With {n_more} calibration passages instead of {int(diagnosis.n_calibration.iloc[1])} GPTQ reaches "
             f"{more:.3f}: " + ("more calibration data closes most of the gap" if helped else
                                "a larger calibration set does not close the gap, so it is not a matter of too "
                                "few calibration inputs for the layers' size") + ".")  # fmt: skip
    if clipping is not None and len(clipping):
        top = clipping.loc[clipping.max_abs_weight.idxmax()]
        text += (f" Those layers hold a few very large weights: the largest, {top['max_abs_weight']:.2f} in "
                 f"{top['layer']}, against a clipping point of {top['clip_at']:.2f} for the MSE-optimal INT{n_bits} "
                 f"scale; "
                 f"{100 * clipping.clipped_share.max():.4f}% of a layer's weights at most lie beyond it, holding up "
                 f"to {100 * clipping.clipped_energy_share.max():.1f}% of its squared norm. Round-to-nearest leaves "
                 f"their clipping error where it is; GPTQ spreads it over the other weights of each row, which "
                 f"{'fits' if snr_gptq > snr_rtn else 'does not fit'} those layers' calibration outputs better "
                 f"({snr_gptq:.1f} dB against {snr_rtn:.1f} dB with rounding)")  # fmt: skip
        text += " but takes the network further from the original on held-out text." if located else "."
    return {"gptq-diagnosis-text": text}
