"""The prose of chapters 5–7: the numbers they glue, and the sentences whose wording depends on the results.

Each ``*_headlines`` function (and :func:`combining_box`, chapter 6's opening box) returns a dict
keyed by the glue names the chapter's Markdown uses (``{glue:text}`` for numbers, ``{glue:md}``
for text); each ``*_sentence`` / ``recovery_*``
function returns Markdown. Thresholds are keyword arguments, and the paper's values come from
:mod:`pvq.common.paper`, so that no number is typed into a chapter. The tables they read are those
of :mod:`pvq.finetune.tables`.
"""

from __future__ import annotations

import math

import pandas as pd

from ..common.paper import paper_values
from ..core.pruning import paired_sparsity
from .loop import steps_per_epoch
from .recipe import FineTuneSpec
from .tables import combining_wins

__all__ = [
    "ablation_sentence",
    "by_arch",
    "combining_box",
    "combining_headlines",
    "cost_headlines",
    "gap_trend_sentence",
    "imagenet_status",
    "longer_headlines",
    "lr_headlines",
    "natural_sparsity_sentence",
    "point_gap_sentence",
    "recipe_headlines",
    "run_headlines",
    "table1_headlines",
]


def by_arch(values: pd.Series, fmt: str, unit: str = "") -> str:
    """``'12.5% (resnet_small), 14.0% (mobilenet_small)'`` from a Series indexed by architecture."""
    return ", ".join(f"{v:{fmt}}{unit} ({a})" for a, v in values.items())


# -- chapter 5 ----------------------------------------------------------------------------------------


def recipe_headlines(spec: FineTuneSpec, data) -> dict:
    """The recipe's numbers in chapter 5's prose.

    ``ft-steps`` is the run's length in optimiser steps, :math:`T = \\text{epochs} \\cdot
    \\lfloor \\text{images}/\\text{batch} \\rfloor` (:func:`pvq.finetune.loop.steps_per_epoch`), and
    ``n-mask-updates`` the mask updates of the cubic schedule before it reaches its target,
    :math:`\\mathrm{round}(\\text{prune\\_end} \\cdot T / \\Delta t)`. Paper §6.

    Parameters
    ----------
    spec : pvq.finetune.recipe.FineTuneSpec
        One run of the grid (:func:`pvq.finetune.grids.recipe_spec`).
    data : pvq.finetune.data.ImageData
        The training and test images.

    Returns
    -------
    dict
        ``lr, wd, momentum, final-lr-ratio, first-last-bits, prune-end, ft-steps, n-mask-updates,
        n-train, n-test, n-classes``.
    """
    n_train = len(data.y_train)
    steps = spec.epochs * steps_per_epoch(spec.epoch_images, spec.batch_size, n_train)
    return {
        "lr": spec.lr,
        "wd": spec.weight_decay,
        "momentum": spec.momentum,
        "final-lr-ratio": spec.final_lr_ratio,
        "first-last-bits": spec.first_last_bits,
        "prune-end": spec.prune_end,
        "ft-steps": steps,
        "n-mask-updates": round(spec.prune_end * steps / spec.mask_interval),
        "n-train": n_train,
        "n-test": len(data.y_test),
        "n-classes": data.n_classes,
    }


def run_headlines(runs: pd.DataFrame) -> dict:
    """``n-runs``, ``n-diverged`` (runs whose loss became NaN or infinite) and ``n-seeds`` of the run table."""
    return {
        "n-runs": len(runs),
        "n-diverged": int((runs.status != "ok").sum()),
        "n-seeds": int(runs.seed.nunique()),
    }


def gap_trend_sentence(t1: pd.DataFrame) -> str:
    """Whether QAT's lead grows with compression: the mean gap over networks at the lowest and highest bits.

    With :math:`\\bar g_b` the gap averaged over networks at INT-b, the lead *grows with
    compression* when :math:`\\bar g_{b_\\min} > \\bar g_{b_\\max}`.
    """
    mean_gap = t1.dropna(subset=["gap"]).groupby("n_bits").gap.mean().sort_index()
    if len(mean_gap) == 0:
        return "No comparison point has both methods finished, so there is no trend to read."
    lo, hi = int(mean_gap.index[0]), int(mean_gap.index[-1])
    if len(mean_gap) == 1:
        return (
            f"Averaged over the networks, QAT's lead is {100 * mean_gap.iloc[0]:+.2f} points at INT{lo}, the one point."
        )
    grows = bool(mean_gap.iloc[0] > mean_gap.iloc[-1])
    return (
        f"Averaged over the networks, QAT's lead is {100 * mean_gap.iloc[0]:+.2f} points at INT{lo} "
        f"and {100 * mean_gap.iloc[-1]:+.2f} at INT{hi}: "
        + ("it grows with compression." if grows else "it does not grow with compression here.")
    )


def point_gap_sentence(t1: pd.DataFrame, *, n_bits: int = 4) -> str:
    """QAT's lead at INT-``n_bits`` (the paper's recovered Table 1 cell is INT4 vs 75%), per network."""
    at = t1[t1.n_bits == n_bits]
    if len(at) == 0:
        return f"This build did not run INT{n_bits}."
    leads = ", ".join(f"{100 * r.gap:+.2f} points ({r.arch})" for r in at.itertuples())
    return f"Here, at the same point, QAT leads by {leads}."


def table1_headlines(t1: pd.DataFrame, *, n_bits: int = 4) -> dict:
    """The numbers and sentences chapter 5 says about Table 1, beside the paper's one recovered cell.

    ``min-gap`` / ``max-gap`` are QAT's smallest and largest lead in points (``*-where`` says
    at which point and network); at the most compressed point, pruning keeps one weight in
    ``keep-one-in`` :math:`= \\mathrm{round}(1/(1-c_\\max))` while QAT keeps every weight on
    ``levels`` :math:`= 2^{b_\\min}` levels. ``point-bits`` / ``point-sparsity`` are the paper's
    cell (``n_bits`` and its paired sparsity) and ``paper-gap`` its QAT lead in points. Paper §6, Table 1.

    Returns
    -------
    dict
        ``qat-lead-count, n-pairs, min-gap, min-gap-where, max-gap, max-gap-where, max-sparsity,
        keep-one-in, levels, trend, gap-at-point, point-bits, point-sparsity, paper-gap`` and the
        paper's ``paper-resnet50-int4-top1``, ``paper-resnet50-prune75-top1``.
    """
    ok = t1.dropna(subset=["gap"])
    lo, hi = ok.loc[ok.gap.idxmin()], ok.loc[ok.gap.idxmax()]
    paper = paper_values("resnet50_int4_top1", "resnet50_prune75_top1")
    return {
        "qat-lead-count": int((t1.gap > 0).sum()),
        "n-pairs": len(t1),
        "min-gap": 100 * float(lo.gap),
        "min-gap-where": f"INT{int(lo.n_bits)} ({lo.arch})",
        "max-gap": 100 * float(hi.gap),
        "max-gap-where": f"INT{int(hi.n_bits)} ({hi.arch})",
        "max-sparsity": float(t1.sparsity.max()),
        "keep-one-in": round(1 / (1 - float(t1.sparsity.max()))),
        "levels": 2 ** int(t1.n_bits.min()),
        "trend": gap_trend_sentence(t1),
        "gap-at-point": point_gap_sentence(t1, n_bits=n_bits),
        "point-bits": n_bits,
        "point-sparsity": paired_sparsity(n_bits),
        **paper,
        "paper-gap": 100 * (paper["paper-resnet50-int4-top1"] - paper["paper-resnet50-prune75-top1"]),
    }


def longer_headlines(longer: pd.DataFrame) -> dict:
    """``long-factors``: the multiples of the base length the longer runs use, e.g. ``'2× and 4×'``."""
    factors = sorted(f for f in longer.factor.unique() if f > 1)
    return {"long-factors": " and ".join(f"{f:g}×" for f in factors) or "no longer runs"}


def lr_headlines(selection: pd.DataFrame, *, validation_images: int, lr_bits: int) -> dict:
    """The learning-rate selection in words: the grid, the split, and each method's choice per network.

    ``selection`` is :func:`pvq.finetune.fairness.choose_learning_rates`. The grid is the set of
    rates every (network, method) tried; rates tried beyond it
    (:func:`pvq.finetune.fairness.grid_extensions`) are named in ``lr-extended``. ``lr-choices``
    is Markdown, one clause per network (``'resnet_small: QAT 0.001, pruning 0.01'``);
    ``lr-boundary`` says which choices still sit at an end of the rates their network and method
    tried (where a wider search might choose otherwise).

    Returns
    -------
    dict
        ``lr-grid`` (``'0.001, 0.0033, …'``), ``n-lr``, ``validation-images``, ``lr-bits``,
        ``lr-point-sparsity``, ``lr-choices``, ``lr-extended``, ``lr-boundary``.
    """
    names = {"qat": "QAT", "prune": "pruning", "qat+prune": "QAT + pruning", "fp32": "FP32"}
    groups = list(selection.groupby(["arch", "method"], sort=False))
    tried = [set(g.lr.astype(float)) for _, g in groups]
    grid = sorted(set.intersection(*tried)) if tried else []
    chosen = selection[selection.chosen.astype(bool)]
    clauses = [
        f"{arch}: " + ", ".join(f"{names.get(r.method, r.method)} {r.lr:g}" for r in g.itertuples())
        for arch, g in chosen.groupby("arch", sort=False)
    ]
    extended, edge = [], []
    for ((arch, method), g), rates in zip(groups, tried, strict=True):
        name = names.get(method, method)
        extra = sorted(rates - set(grid))
        if extra:
            extended.append(f"{name} ({arch}): {', '.join(f'{v:g}' for v in extra)}")
        best = g.lr[g.chosen.astype(bool)]
        if len(rates) >= 2 and len(best) and float(best.iloc[0]) in (min(rates), max(rates)):
            edge.append(f"{name} ({arch}, {float(best.iloc[0]):g})")
    if len(grid) < 2:
        boundary = "With one rate in the grid there is nothing to choose."
    elif edge:
        boundary = f"At an end of the rates tried: {', '.join(edge)}; a wider search might choose otherwise there."
    else:
        boundary = "Every choice lies inside the rates tried."
    return {
        "lr-grid": ", ".join(f"{v:g}" for v in grid),
        "n-lr": len(grid),
        "validation-images": validation_images,
        "lr-bits": lr_bits,
        "lr-point-sparsity": paired_sparsity(lr_bits),
        "lr-choices": "; ".join(clauses) or "no selection in this build",
        "lr-extended": (
            "Best at an end of the grid, so tried beyond it: " + "; ".join(extended) + "."
            if extended
            else "No choice fell at an end of the grid, so none was extended."
        ),
        "lr-boundary": boundary,
    }


def cost_headlines(costs: pd.DataFrame, projection: dict, *, steps: int, n_train: int, batch_size: int) -> dict:
    """What a run costs and what whole passes would cost, measured on this build's runs.

    ``costs`` is :func:`pvq.finetune.fairness.step_costs` and ``projection``
    :func:`pvq.finetune.fairness.length_projection`; ``steps`` is the base run's length. A whole
    pass is :math:`\\lfloor N / \\text{batch} \\rfloor` steps over the ``n_train`` training images.

    Returns
    -------
    dict
        ``ms-per-step`` (Markdown, per network), ``fixed-seconds`` (per network), ``steps-per-pass``,
        ``pass-fraction`` (the base run as a share of a pass), ``run-minutes`` (the recorded
        seconds of the runs, in minutes), ``whole-pass-minutes`` (the model's cost of the same runs
        at whole passes) and ``whole-pass-factor`` (their ratio to the modelled cost at the actual
        lengths).
    """
    per_pass = steps_per_epoch(0, batch_size, n_train)
    c = costs.set_index("arch")
    modelled = projection["modelled"]
    return {
        "ms-per-step": by_arch(1000 * c.per_step, ".0f", " ms"),
        "fixed-seconds": by_arch(c.fixed, ".1f", " s"),
        "steps-per-pass": per_pass,
        "pass-fraction": steps / per_pass,
        "run-minutes": projection["seconds"] / 60,
        "whole-pass-minutes": projection["whole_pass"] / 60,
        "whole-pass-factor": projection["whole_pass"] / modelled if modelled else math.nan,
    }


def ablation_sentence(t1: pd.DataFrame, ablation: pd.DataFrame) -> str:
    """QAT's lead with its first and last layer at 8 bits beside its lead with every layer at INT-b, per point.

    Both tables are :func:`pvq.finetune.tables.table1` at one length (``ablation`` with
    ``all_layers=True``); the sentence gives, per network and ablation point, the two leads in
    points and the bits per weight QAT stores in each.
    """
    if ablation.empty:
        return "This build ran no first/last-layer ablation."
    main = t1.set_index(["arch", "n_bits"])
    parts = []
    for r in ablation.itertuples():
        m = main.loc[(r.arch, r.n_bits)] if (r.arch, r.n_bits) in main.index else None
        before = "" if m is None else f"{100 * float(m.gap):+.2f} points at {float(m.bits_qat):.2f} bits per weight, "
        parts.append(f"INT{r.n_bits} ({r.arch}): {before}{100 * r.gap:+.2f} at {r.bits_qat:.2f}")
    return (
        "QAT's lead over pruning, with its first and last layer at 8 bits and then at INT-b: " + "; ".join(parts) + "."
    )


def imagenet_status(imagenet: pd.DataFrame | None) -> str:
    """What the ImageNet section of chapter 5 holds in this build (``imagenet`` is ``None`` when nothing ran).

    ``imagenet`` is :func:`pvq.finetune.imagenet.imagenet_table`.
    """
    if imagenet is None or len(imagenet) == 0:
        return "This build ran no ImageNet runs (`imagenet_dir` is empty)."
    return f"ImageNet runs of {imagenet.network.iloc[0]} in this build: see the table above."


# -- chapter 6 ----------------------------------------------------------------------------------------


def natural_sparsity_sentence(natural: pd.DataFrame, *, n_bits: int = 4) -> str:
    """The QAT models' share of exact zeros at INT-``n_bits`` and at the lowest bit-width, per network.

    ``natural`` is :func:`pvq.finetune.tables.natural_sparsity`. Bit-widths not in the table are
    left out of the sentence.
    """
    present = set(natural.n_bits.astype(int))
    if not present:
        return "No QAT model finished in this grid, so there are no natural zeros to count."
    bits = sorted({b for b in (n_bits, min(present)) if b in present}, reverse=True)
    shares = [by_arch(natural[natural.n_bits == b].set_index("arch").zeros, ".1%") for b in bits]
    parts = [f"{shares[0]} zeros at INT{bits[0]}"] + [
        f"{s} at INT{b}" for s, b in zip(shares[1:], bits[1:], strict=True)
    ]
    return "After fine-tuning, the QAT models' weights are " + " and ".join(parts) + " (all layers)."


def combining_headlines(runs: pd.DataFrame, front: pd.DataFrame, natural: pd.DataFrame) -> dict:
    """Chapter 6's prose: the grid of combined runs, divergences, and the natural zeros of QAT alone.

    Returns
    -------
    dict
        ``combine-bits`` (``'INT2, INT4, INT8'``), ``combine-sparsity`` (``'50%, 75%'``),
        ``n-combined`` (combined settings in Figure 5), ``n-diverged`` (runs of the grid),
        ``zeros-sentence`` (:func:`natural_sparsity_sentence`), and the paper's natural sparsity at
        INT8 and INT4 (``paper-natural-sparsity-int8``, ``paper-natural-sparsity-int4``) and the cost of
        a mask it states (``paper-mask-bits-per-weight``).
    """
    combined = front[front.kind == "combined"]
    return {
        "combine-bits": ", ".join(f"INT{int(b)}" for b in sorted(combined.n_bits.unique())),
        "combine-sparsity": ", ".join(f"{s:.0%}" for s in sorted(combined.sparsity.unique())),
        "n-combined": len(combined),
        "n-diverged": int((runs.status != "ok").sum()),
        "zeros-sentence": natural_sparsity_sentence(natural),
        **paper_values("natural_sparsity_int8", "natural_sparsity_int4", "mask_bits_per_weight"),
    }


# -- chapter 7 ----------------------------------------------------------------------------------------


def combining_box(front: pd.DataFrame, *, z: float = 2.0) -> dict:
    """Chapter 6's headline numbers, from the table C9 is judged on (:func:`pvq.finetune.tables.combining_wins`).

    Returns
    -------
    dict
        ``c9-n-rivalled`` (combined models with a single-method rival at no more bits),
        ``c9-n-ahead`` (of those, the ones ahead of both methods alone), ``c9-n-clear`` (ahead by more
        than ``z`` standard errors) and ``c9-closest`` (Markdown: the combined model with the largest
        lead, and that lead in points).
    """
    wins = combining_wins(front)
    rivalled = wins[wins.beats_both_alone.notna().to_numpy()]
    ahead = rivalled[rivalled.beats_both_alone.to_numpy(dtype=bool)]
    clear = ahead[(ahead.margin > z * ahead.margin_se).to_numpy()]
    if rivalled.empty:
        closest = "no combined model has a single-method rival with as few bits in this grid"
    else:
        r = rivalled.loc[rivalled.margin.idxmax()]
        se = "" if math.isnan(r.margin_se) else f" ± {100 * r.margin_se:.2f}"
        word = "best" if r.margin > 0 else "closest"
        closest = (
            f"the {word} is {r.arch} {r.label} at {r.avg_bits:.2f} bits per weight, "
            f"{100 * r.margin:+.2f}{se} points against the best single-method model with no more bits"
        )
    return {
        "c9-n-rivalled": len(rivalled),
        "c9-n-ahead": len(ahead),
        "c9-n-clear": len(clear),
        "c9-closest": closest,
    }
