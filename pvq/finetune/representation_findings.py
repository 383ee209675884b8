"""The prose of chapter 7 (representations): the numbers it glues, and sentences that depend on results.

Split from :mod:`pvq.finetune.findings` (chapters 5-6), with the same conventions: each
``*_headlines`` function (and :func:`representation_box`, the chapter's opening box) returns a dict
keyed by the glue names the chapter's Markdown uses, each ``recovery_*`` function returns Markdown.
The tables they read are those of :mod:`pvq.finetune.trajectories`.
"""

from __future__ import annotations

import math

import pandas as pd

from ..common.paper import PAPER, PAPER_RECIPE
from .findings import by_arch
from .recipe import FineTuneSpec
from .representations import last_mask_update
from .trajectories import MIN_CHANGE_DB, SHAPES, shape_shares

__all__ = [
    "recovery_findings",
    "recovery_headlines",
    "recovery_why",
    "representation_box",
    "representation_headlines",
]


def representation_headlines(
    probes: pd.DataFrame, *, base_epochs: int, prune_end: float = FineTuneSpec.prune_end
) -> dict:
    """How much chapter 7 probed: runs, probe steps per run, those after the last mask update, layers.

    A run is one (network, method, point, length, seed); its probe steps are the distinct ``step``
    values (step 0 included), those *after the last mask update* have
    :math:`\\text{step} > t_c` (:func:`pvq.finetune.representations.last_mask_update`); the counts are
    the fewest over runs. The fixed-mask phase lasts :math:`T - t_c` steps.

    Returns
    -------
    dict
        ``n-probed-runs, n-checkpoints, n-after, n-layers`` (Markdown, per network),
        ``longest-factor`` (the longest length as a multiple of ``base_epochs``),
        ``fixed-mask-share`` (``1 - prune_end``), ``after-steps-base`` and ``after-steps-longest``
        (steps after the last mask update at the base and the longest length), ``base-steps``
        (steps of a base-length run), ``min-change-db`` (the shape rule's tolerance) and
        ``fixed-mask-sentence`` (whether the longest fixed-mask phase is as long as a base-length run).
    """
    run = ["arch", "method", "label", "seed", "epochs"]
    ends = [last_mask_update(int(n), prune_end) for n in probes.steps]
    t = probes.assign(after=probes.step.to_numpy() > ends)
    per_run = t.groupby(run).agg(n=("step", "nunique"))
    after = t[t.after].groupby(run).step.nunique().reindex(per_run.index, fill_value=0)
    layers = probes.groupby("arch", sort=False).layer.nunique()
    steps = probes.groupby("epochs").steps.first()
    fixed = {e: int(n) - last_mask_update(int(n), prune_end) for e, n in steps.items()}
    return {
        "n-probed-runs": len(per_run),
        "n-checkpoints": int(per_run.n.min()),
        "n-after": int(after.min()),
        "n-layers": by_arch(layers, "d"),
        "longest-factor": int(probes.epochs.max() // base_epochs),
        "fixed-mask-share": 1 - prune_end,
        "after-steps-base": fixed.get(base_epochs, 0),
        "after-steps-longest": fixed[max(fixed)],
        "base-steps": int(steps.get(base_epochs, 0)),
        "min-change-db": MIN_CHANGE_DB,
        "fixed-mask-sentence": _fixed_mask_sentence(fixed[max(fixed)], int(steps.get(base_epochs, 0))),
    }


def _fixed_mask_sentence(longest: int, base: int) -> str:
    """Whether the longest fixed-mask phase has as many steps as a whole base-length run (all QAT has to drift)."""
    if longest >= base:
        return (
            f"at the longest length that is as many steps as a whole base-length run has ({base}), all the steps "
            "QAT has to drift away: a pruned network gets as many steps at a fixed mask as QAT gets in all to move, "
            'so the question "does it come back?" can be asked there'
        )
    return (
        f"even at the longest length that is fewer steps than a whole base-length run has ({base}), so this build "
        "cannot fully ask whether a pruned network comes back (the full profile's 4× runs give the fixed-mask "
        "phase a whole base-length run)"
    )


def _said(t: pd.DataFrame) -> str:
    """``'60% returns, 40% settles of 5'``: the shares of the shapes of ``t``."""
    shares = shape_shares(t)
    return ", ".join(f"{100 * shares[k]:.0f}% {k}" for k in SHAPES if shares.get(k)) + f" of {len(t)}"


def recovery_findings(shapes: pd.DataFrame, *, base_epochs: int, close_db: float = 3.0) -> str:
    """What the trajectory shapes show, as a Markdown list (chapter 7, "Why the verdict comes out as it does").

    1. *Fine-tuning alone*: the FP32 control's shapes and mean final SNR against the original, per
       network, beside QAT at its highest bit-width (within ``close_db`` dB of each other at every
       network, QAT's distance from the original is mostly the fine-tuning itself), and the control's
       median climb at the end of the run, what the falling learning rate alone gives back.
    2. *Pruning*: the shares of its shapes at the base length and at the longest, the median climb back
       from the lowest point and the median end against the network pruned in one shot.
    3. *QAT*: the shares of its shapes and the median end against the network quantized before fine-tuning.

    ``shapes`` is :func:`pvq.finetune.trajectories.representation_shapes`; the paper's claim is §6.
    """
    control = shapes[shapes.method == "fp32"]
    pruned = shapes[shapes.method == "prune"]
    qat = shapes[shapes.method == "qat"]
    longest = int(shapes.epochs.max())
    lines = []
    if len(control) and len(qat):
        top_bits = int(qat.n_bits.max())
        c_end = control.groupby("arch").snr_end.mean()
        q_end = qat[qat.n_bits == top_bits].groupby("arch").snr_end.mean()
        diff = (q_end - c_end).dropna()
        if bool((diff.abs() < close_db).all()):
            tail = f": within {close_db:g} dB of the control, so at this bit-width QAT's distance from the original is "
            tail += "mostly the fine-tuning itself, which the paper's comparison does not separate."
        elif bool((diff < 0).all()):
            tail = ": further from the original than the control."
        elif bool((diff > 0).all()):
            tail = ": closer to the original than the control."
        else:
            tail = ": closer to the original than the control for some networks, further for others."
        lines.append(
            "**Fine-tuning alone moves the network.** The control, fine-tuned with the same recipe and no "
            f"compression, ends at {by_arch(c_end, '.1f', ' dB')} of activation SNR against the original "
            f"(shapes: {_said(control)}; median climb at the end {float(control.climb_db.median()):+.2f} dB, what "
            f"the falling learning rate alone gives back); INT{top_bits} QAT ends at {by_arch(q_end, '.1f', ' dB')}"
            + tail
        )
    if len(pruned):
        base, long = pruned[pruned.epochs == base_epochs], pruned[pruned.epochs == longest]
        head = "**Pruned networks come back toward the original.** "
        if float((pruned["shape"] == "returns").mean()) <= 0.5:
            head = "**Pruned networks mostly do not come back.** "
        longer = f"; with {longest // base_epochs}× the epochs {_said(long)}" if longest > base_epochs else ""
        lines.append(
            head + f"Their SNR trajectories: {_said(base)} at the base length{longer}. From their lowest point they "
            f"climb back a median {float(pruned.climb_db.median()):+.2f} dB and end "
            f"{float(pruned.drift_db.median()):+.2f} dB from the network pruned in one shot to the same sparsity."
        )
    if len(qat):
        head = "**QAT networks drift away from the original.** "
        if float((qat["shape"] == "drifts away").mean()) <= 0.5:
            head = "**QAT networks mostly do not drift away.** "
        lines.append(
            head + f"Their SNR trajectories: {_said(qat)}; they end a median {float(qat.drift_db.median()):+.2f} dB "
            "from the network quantized with its initial scale before fine-tuning."
        )
    return "\n".join(f"- {x}" for x in lines)


def _median(t: pd.DataFrame) -> float:
    return float(t.climb_db.median()) if len(t) else math.nan


def recovery_why(verdict: str, shapes: pd.DataFrame, *, base_epochs: int) -> str:
    """Why C7's verdict comes out as it does: the contrast as stated, or what may explain its absence.

    When the verdict is not ``'reproduced'`` the paragraph says whether the networks that climb back
    more are the QAT ones (median ``climb_db`` of QAT above that of pruning at ``base_epochs``), and
    names what differs from the paper: its fine-tuning length and the epochs at a fixed mask
    (:data:`pvq.common.paper.PAPER` ``finetune_epochs`` and ``PAPER_RECIPE['prune_end']``), the width of
    its networks, and its unstated measure.
    """
    if verdict == "reproduced":
        return "On this task the paper's contrast appears as stated."
    if verdict == "not yet checked":
        return "This build has no trajectories of both methods to read, so the contrast cannot be looked for."
    pruned = shapes[(shapes.method == "prune") & (shapes.epochs == base_epochs)]
    q_rec, p_base = _median(shapes[shapes.method == "qat"]), _median(pruned)
    epochs = PAPER["finetune_epochs"][0]
    fixed = epochs * (1 - PAPER_RECIPE["prune_end"][0])
    if verdict == "partly reproduced":
        start = "So on this task the paper's contrast appears only in part"
    else:
        start = "So on this task the paper's contrast does not appear"
    return (
        start
        + (", and the networks that climb back more are the QAT ones. " if q_rec > p_base else ". ")
        + f"What may explain the difference: the paper fine-tunes ImageNet models for {epochs:g} epochs with "
        f"{fixed:g} epochs at a fixed mask, far more steps after the last mask update than here; its networks are "
        "much wider, with more room to re-route around removed weights; and it does not state its measure in "
        'detail (which layers, which inputs, SNR or CKA, against which checkpoint), so its "drift back" may be '
        "measured differently. The trajectories, the shape table and the code are here to test each of these."
    )


def recovery_headlines(shapes: pd.DataFrame, verdict: str, *, base_epochs: int) -> dict:
    """``c7-findings`` (:func:`recovery_findings`) and ``c7-why`` (:func:`recovery_why`) for chapter 7."""
    return {
        "c7-findings": recovery_findings(shapes, base_epochs=base_epochs),
        "c7-why": recovery_why(verdict, shapes, base_epochs=base_epochs),
    }


def representation_box(shapes: pd.DataFrame) -> dict:
    """Chapter 7's headline numbers, from the table C7 is judged on.

    The table is :func:`pvq.finetune.trajectories.representation_shapes`.

    Over the readable SNR trajectories (shape not ``'too few probes'``) of each method: the share
    that *returns* and the median climb back from the lowest point (dB), and the median end against
    step 0 (dB), the network compressed before fine-tuning. NaN for a method without trajectories.

    Returns
    -------
    dict
        ``c7-prune-returns``, ``c7-qat-returns`` (fractions), ``c7-prune-climb``, ``c7-qat-climb``,
        ``c7-prune-drift``, ``c7-qat-drift`` (dB).
    """
    readable = shapes[shapes["shape"] != SHAPES[-1]]
    out = {}
    for method in ("prune", "qat"):
        t = readable[readable.method == method]
        n = len(t)
        out[f"c7-{method}-returns"] = float((t["shape"] == "returns").mean()) if n else math.nan
        out[f"c7-{method}-climb"] = float(t.climb_db.median()) if n else math.nan
        out[f"c7-{method}-drift"] = float(t.drift_db.median()) if n else math.nan
    return out
