"""The glued numbers and sentences of chapter 7 on small hand-made tables, values worked out by hand."""

import numpy as np
import pandas as pd

from pvq.finetune.representation_findings import (
    recovery_findings,
    recovery_headlines,
    recovery_why,
    representation_headlines,
)
from pvq.finetune.trajectories import MIN_CHANGE_DB

# -- chapter 7 ----------------------------------------------------------------------------------------


def test_representation_headlines():
    rows = []
    for epochs, steps, n in ((2, 100, 6), (4, 200, 5)):  # probe steps 0, 20, …, 100 and 0, 50, …, 200
        for step in np.linspace(0, steps, n):
            for layer in ("a", "b"):
                rows.append({"arch": "net", "method": "prune", "label": "75% pruning", "seed": 0, "epochs": epochs,
                             "steps": steps, "step": int(step), "layer": layer})  # fmt: skip
    h = representation_headlines(pd.DataFrame(rows), base_epochs=2)
    # after the last mask update (75 of 100, 150 of 200): 80 and 100; 200
    assert (h["n-probed-runs"], h["n-checkpoints"], h["n-after"]) == (2, 5, 1)
    assert (h["n-layers"], h["longest-factor"], h["fixed-mask-share"]) == ("2 (net)", 2, 0.25)
    assert (h["after-steps-base"], h["after-steps-longest"], h["base-steps"]) == (25, 50, 100)
    assert h["min-change-db"] == MIN_CHANGE_DB
    assert h["fixed-mask-sentence"].startswith("even at the longest length that is fewer steps")  # 50 < 100
    rows = [dict(r, steps=4 * r["steps"], epochs=8) if r["epochs"] == 4 else r for r in rows]
    h = representation_headlines(pd.DataFrame(rows), base_epochs=2)  # 4×: 200 steps at a fixed mask
    assert h["after-steps-longest"] == 200 and h["fixed-mask-sentence"].startswith("at the longest length that is as")


def shapes(*, control=True):
    """A shape table: (method, n_bits, epochs, layer, snr_end, climb_db, drift_db, shape)."""
    rows = [
        ("qat", 4, 2, "a", 23.0, 0.1, -2.0, "drifts away"),
        ("qat", 4, 2, "b", 22.0, 0.3, -1.0, "drifts away"),
        ("qat", 2, 2, "a", 15.0, 0.6, 0.4, "returns"),
        ("prune", 0, 2, "a", 5.0, 0.02, 0.5, "settles"),
        ("prune", 0, 4, "a", 6.0, 0.05, 0.7, "settles"),
    ]
    if control:
        rows += [
            ("fp32", 0, 2, "a", 25.0, 1.0, -np.inf, "returns"),
            ("fp32", 0, 2, "b", 25.0, 0.2, -np.inf, "drifts away"),
        ]
    cols = ["method", "n_bits", "epochs", "layer", "snr_end", "climb_db", "drift_db", "shape"]
    return pd.DataFrame(rows, columns=cols).assign(arch="net")


def test_recovery_findings():
    text = recovery_findings(shapes(), base_epochs=2)
    # control ends at 25.0 dB, INT4 QAT at (23 + 22)/2 = 22.5 dB: within 3 dB; control climbs 1.0 and 0.2: median 0.6
    assert text == (
        "- **Fine-tuning alone moves the network.** The control, fine-tuned with the same recipe and no compression, "
        "ends at 25.0 dB (net) of activation SNR against the original (shapes: 50% returns, 50% drifts away of 2; "
        "median climb at the end +0.60 dB, what the falling learning rate alone gives back); INT4 QAT ends at "
        "22.5 dB (net): within 3 dB of the control, so at this bit-width QAT's distance from the original is mostly "
        "the fine-tuning itself, which the paper's comparison does not separate.\n"
        "- **Pruned networks mostly do not come back.** Their SNR trajectories: 100% settles of 1 at the base length; "
        "with 2× the epochs 100% settles of 1. From their lowest point they climb back a median +0.04 dB and end "
        "+0.60 dB from the network pruned in one shot to the same sparsity.\n"
        "- **QAT networks drift away from the original.** Their SNR trajectories: 33% returns, 67% drifts away of 3; "
        "they end a median -1.00 dB from the network quantized with its initial scale before fine-tuning."
    )
    assert "22.5 dB (net): further from the original than the control." in recovery_findings(
        shapes(), base_epochs=2, close_db=1.0
    )
    t = shapes(control=False)
    t.loc[t.method == "prune", "shape"] = "returns"
    t.loc[t.method == "qat", "shape"] = "settles"
    text = recovery_findings(t, base_epochs=2)
    assert text.count("\n- ") == 1  # no control: two items
    assert "**Pruned networks come back toward the original.**" in text
    assert "**QAT networks mostly do not drift away.**" in text


def test_recovery_why():
    assert recovery_why("reproduced", shapes(), base_epochs=2) == "On this task the paper's contrast appears as stated."
    why = recovery_why("not reproduced", shapes(), base_epochs=2)
    assert why.startswith(
        "So on this task the paper's contrast does not appear, and the networks that climb back more are the QAT "
        "ones. What may explain the difference: the paper fine-tunes ImageNet models for 20 epochs "
        "with 5 epochs at a fixed mask"  # 20 · (1 - 0.75)
    )
    assert recovery_why("partly reproduced", shapes(), base_epochs=2).startswith(
        "So on this task the paper's contrast appears only in part, and the networks"
    )
    h = recovery_headlines(shapes(), "reproduced", base_epochs=2)
    assert set(h) == {"c7-findings", "c7-why"} and h["c7-findings"].startswith("- **Fine-tuning alone")
    assert recovery_why("not yet checked", shapes(), base_epochs=2).startswith("This build has no trajectories")
