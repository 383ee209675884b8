"""Verdicts on the fine-tuning claims (C5, C6, C7, C9), each a pure function of one chapter's result tables.

The conventions of :mod:`pvq.book.verdicts` (the per-layer and weight-level claims): every
checker states its criteria in its docstring, takes the tidy table a chapter already wrote, and
returns a :class:`pvq.book.claims.Verdict` whose evidence quotes the numbers.
"""

from __future__ import annotations

import pandas as pd

from ..finetune.tables import combining_wins
from ..finetune.trajectories import SHAPES, shape_shares
from .claims import Verdict

__all__ = ["EARLIER_FINE_TUNING_VERDICTS", "against_earlier", "check_c5", "check_c6", "check_c7", "check_c9"]


def _c5_reading(t: pd.DataFrame, *, extreme_bits: int, z: float) -> tuple[int, str]:
    """Pruning's significant wins above ``extreme_bits`` in one Table 1, and the evidence sentence."""
    se = t.gap_se.fillna(0.0)
    prune_sig = t.gap < -z * se
    qat_sig = t.gap > z * se
    moderate = t.n_bits > extreme_bits
    n_mod_prune = int((prune_sig & moderate).sum())
    extreme = t[~moderate]
    bits = ""
    if "bits_qat" in t and t.bits_qat.notna().any():
        bits = (
            f"; measured bits per weight QAT {float(t.bits_qat.min()):.2f}–{float(t.bits_qat.max()):.2f}, "
            f"pruning {float(t.bits_prune.min()):.2f}–{float(t.bits_prune.max()):.2f}"
        )
    evidence = (
        f"QAT's mean accuracy is higher at {int((t.gap > 0).sum())} of {len(t)} (architecture, point) pairs "
        f"(significantly, > {z:g} s.e., at {int(qat_sig.sum())}); pruning significantly better at "
        f"{n_mod_prune} pair(s) above {extreme_bits} bits and {int((prune_sig & ~moderate).sum())} of {len(extreme)} "
        f"at ≤ {extreme_bits} bits; largest QAT lead {100 * float(t.gap.max()):.2f} points "
        f"(at {int(t.n_bits[t.gap.idxmax()])} bits), smallest {100 * float(t.gap.min()):.2f}{bits}"
    )
    return n_mod_prune, evidence


def check_c5(
    t1: pd.DataFrame, ablation: pd.DataFrame | None = None, *, extreme_bits: int = 3, z: float = 2.0
) -> Verdict:
    """C5 from Table 1 (:func:`pvq.finetune.tables.table1`, base epochs only), and from its ablation.

    Pruning *significantly* beats QAT at a point when its mean accuracy is higher by more than
    ``z`` standard errors of the difference (over seeds). With the recipe's QAT alone (first and
    last layer at 8 bits, so a little above b bits per weight): reproduced when that never happens
    above ``extreme_bits`` bits; not reproduced otherwise. ``ablation`` is the same table with QAT
    at exactly b bits in every layer (``table1(runs, all_layers=True)``), the comparison at equal
    bits per weight: when given and non-empty, reproduced needs no significant pruning win above
    ``extreme_bits`` in either table, not reproduced means wins in both, and a win in one only is
    partly reproduced (the claim then rests on, or fails only because of, the first and last layer).
    The evidence counts every point of both tables.
    """
    t = t1[t1.epochs == t1.epochs.min()]
    n_main, evidence = _c5_reading(t, extreme_bits=extreme_bits, z=z)
    if ablation is None or ablation.empty:
        return Verdict("C5", "all", "reproduced" if n_main == 0 else "not reproduced", evidence)
    a = ablation[ablation.epochs == ablation.epochs.min()]
    n_abl, abl_evidence = _c5_reading(a, extreme_bits=extreme_bits, z=z)
    evidence = (
        f"with the recipe's QAT (first and last layer at 8 bits): {evidence}. "
        f"At equal bits per weight (QAT with every layer at INT-b): {abl_evidence}"
    )
    if n_main == 0 and n_abl == 0:
        verdict = "reproduced"
    elif n_main and n_abl:
        verdict = "not reproduced"
    else:
        verdict = "partly reproduced"
        where = "at equal bits per weight only" if n_abl else "only with the first and last layer at 8 bits"
        evidence += f". Pruning's significant wins above {extreme_bits} bits appear {where}"
    return Verdict("C5", "all", verdict, evidence)


def check_c6(longer: pd.DataFrame) -> Verdict:
    """C6 from the longer fine-tuning table (:func:`pvq.finetune.tables.longer_table`).

    At the longest run of each (architecture, point): does pruning gain more from the extra
    epochs than QAT (``gain_prune > gain_qat``)? Reproduced when it does at every pair, partly
    when at some, not reproduced when at none.
    """
    t = longer[longer.factor == longer.factor.max()]
    more = t.gain_prune > t.gain_qat
    gap0 = longer[longer.factor == 1].set_index(["arch", "n_bits"]).gap
    evidence = (
        f"with {int(t.factor.max())}× the fine-tuning epochs pruning gains more than QAT at {int(more.sum())} of "
        f"{len(t)} (architecture, point) pairs (mean gain {100 * float(t.gain_prune.mean()):+.2f} vs "
        f"{100 * float(t.gain_qat.mean()):+.2f} points); QAT's lead goes from "
        f"{100 * float(gap0.mean()):.2f} to {100 * float(t.gap.mean()):.2f} points on average"
    )
    verdict = "reproduced" if bool(more.all()) else ("partly reproduced" if bool(more.any()) else "not reproduced")
    return Verdict("C6", "all", verdict, evidence)


#: Verdicts on C5, C6 and C9 per profile in the edition before the fair fine-tuning comparison
#: (issue 10): one learning rate (0.01) for both methods, shorter runs (200 steps; ci 20), QAT's first
#: and last layer at 8 bits compared with pruning at nominal bits, no ablation. C9 is read with
#: today's :func:`check_c9` on that edition's Figure 5 table.
EARLIER_FINE_TUNING_VERDICTS = {
    "full": {"C5": "reproduced", "C6": "reproduced", "C9": "reproduced"},
    "ci": {"C5": "reproduced", "C6": "reproduced", "C9": "partly reproduced"},
}


def against_earlier(v: Verdict, profile: str) -> Verdict:
    """``v`` with a sentence saying whether the fair fine-tuning comparison changed its verdict.

    The earlier verdict is :data:`EARLIER_FINE_TUNING_VERDICTS` of the same profile; a claim or
    profile without one is returned unchanged. A changed verdict is said in bold, so that the
    chapter and the Claims page both show it.
    """
    earlier = EARLIER_FINE_TUNING_VERDICTS.get(profile, {}).get(v.claim)
    if earlier is None:
        return v
    how = (
        "the earlier edition of this book (one learning rate for both methods, QAT's bits counted as nominal, "
        "full-profile runs of 200 steps)"
    )
    if earlier == v.verdict:
        note = f"Unchanged from {how}, which also read *{earlier}*"
    else:
        note = (
            f"**Changed** by the fair comparison (each method's own learning rate, measured bits per weight, longer "
            f"full-profile runs): {how} read *{earlier}*, this build reads *{v.verdict}*"
        )
    return Verdict(v.claim, v.scope, v.verdict, f"{v.evidence}. {note}.")


def check_c7(shapes: pd.DataFrame) -> Verdict:
    """C7 from :func:`pvq.finetune.trajectories.representation_shapes` (all points, lengths and layers).

    One rule for both methods: each (network, method, point, length, layer) trajectory of activation
    SNR against the original is read by :func:`pvq.finetune.trajectories.trajectory_shape` over the
    whole run, step 0 (compressed, before fine-tuning) included; a network *returns* when it climbs
    back from its lowest point by at least the shape rule's tolerance. With :math:`p` and :math:`q` the
    shares of pruning and QAT trajectories that return: reproduced when :math:`p > 1/2 \\ge q`
    (pruned networks return, QAT ones do not); partly reproduced when pruned networks mostly return
    but so do QAT ones (:math:`p > 1/2`, :math:`q > 1/2`), or return more often than QAT ones without a
    majority (:math:`q < p \\le 1/2`); not reproduced when :math:`p \\le 1/2` and :math:`p \\le q`;
    not yet checked without trajectories of both methods that have enough probes to read. The
    evidence adds the CKA trajectories read by the same rule, and the FP32 control.
    """
    readable = shapes[shapes["shape"] != "too few probes"]
    p, q = readable[readable.method == "prune"], readable[readable.method == "qat"]
    if p.empty or q.empty:
        evidence = f"no readable trajectories of both methods ({len(shapes)} in all)"
        return Verdict("C7", "all", "not yet checked", evidence)
    share_p, share_q = float((p["shape"] == "returns").mean()), float((q["shape"] == "returns").mean())

    def said(t, column="shape"):
        shares = shape_shares(t, column)
        return ", ".join(f"{100 * shares[k]:.0f}% {k}" for k in SHAPES if shares.get(k)) + f" of {len(t)}"

    evidence = (
        f"SNR trajectories against the original, one rule for both methods: pruning {said(p)} (network, point, "
        f"length, layer) cases, median climb back from the lowest point {float(p.climb_db.median()):+.2f} dB, "
        f"end against the compressed network before fine-tuning {float(p.drift_db.median()):+.2f} dB; QAT "
        f"{said(q)}, median climb {float(q.climb_db.median()):+.2f} dB, end against its start "
        f"{float(q.drift_db.median()):+.2f} dB; median SNR at the end {float(p.snr_end.median()):.1f} dB (pruning) vs "
        f"{float(q.snr_end.median()):.1f} dB (QAT). CKA by the same rule: pruning {said(p, 'cka_shape')}, QAT "
        f"{said(q, 'cka_shape')}"
    )
    control = readable[readable.method == "fp32"]
    if len(control):
        evidence += (
            f"; the FP32 control (fine-tuned without compression): {said(control)}, median climb "
            f"{float(control.climb_db.median()):+.2f} dB, what the falling learning rate alone gives back"
        )
    if share_p > 0.5 >= share_q:
        verdict = "reproduced"
    elif share_p > 0.5 or share_q < share_p:
        verdict = "partly reproduced"
    else:
        verdict = "not reproduced"
    return Verdict("C7", "all", verdict, evidence)


def check_c9(front: pd.DataFrame, *, z: float = 2.0) -> Verdict:
    """C9 from Figure 5's table (:func:`pvq.finetune.tables.figure5`): does combining beat both methods alone?

    Read here as: some combined model is more accurate than every quantized-only and every
    pruned-only model of its network with no more average bits per weight, by more than ``z``
    standard errors of the difference over seeds (the columns ``beats_both_alone``, ``margin``,
    ``margin_se`` of :func:`pvq.finetune.tables.combining_wins`, the table chapter 6 shows).
    Reproduced when some combined model does; partly reproduced when some is ahead but none by
    ``z`` standard errors; not reproduced when none is ahead; not yet checked when no combined
    model has a single-method rival with as few bits in the grid.
    """
    c = combining_wins(front)
    rivalled = c[c.beats_both_alone.notna().to_numpy()]
    ahead = rivalled[rivalled.beats_both_alone.to_numpy(dtype=bool)]
    clear = ahead[(ahead.margin > z * ahead.margin_se).to_numpy()]
    alone = c[c.beats_both_alone.isna().to_numpy()]

    def where(t):
        return "; ".join(
            f"{r.arch} {r.label} ({r.avg_bits:.2f} bits/weight, {100 * r.margin:+.2f} ± {100 * r.margin_se:.2f} points)"
            for r in t.itertuples()
        )

    if rivalled.empty:
        verdict, evidence = "not yet checked", f"none of {len(c)} combined models has a rival with as few bits"
    elif len(ahead):
        verdict = "reproduced" if len(clear) else "partly reproduced"
        evidence = (
            f"{len(ahead)} of {len(rivalled)} combined models with a rival beat every single-method model with as "
            f"few average bits per weight, {len(clear)} of them by more than {z:g} standard errors: {where(ahead)}"
        )
    else:
        verdict = "not reproduced"
        evidence = (
            f"none of {len(rivalled)} combined models with a rival beats the best quantized-only or pruned-only "
            "model with as few average bits per weight"
        )
    if len(alone):
        evidence += (
            f"; {len(alone)} combined model(s) sit below the fewest bits any single method reaches in this grid "
            f"({', '.join(f'{r.arch} {r.label}' for r in alone.itertuples())}), so have no rival to compare with"
        )
    return Verdict("C9", "all", verdict, evidence)
