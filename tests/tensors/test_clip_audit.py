"""The clipping search audited: gain over the paper's grid, verdict flips, and the proven optimum."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from pvq.core.quantization import quantize_int
from pvq.tensors.checkpoints import Checkpoint
from pvq.tensors.clip_audit import (
    CERTIFIED_COLUMNS,
    certification_summary,
    certify_smallest,
    clip_audit_headlines,
    clipping_gain_table,
)
from pvq.tensors.model_set import analyze_models


def hand_made_tensors():
    """INT2: gains of 1 and 0 dB, the first flips the verdict (10 > 9.5 but 9 < 9.5); INT4: gain 3 dB, no flip."""
    return pd.DataFrame({
        "n_bits": [2, 2, 4],
        "quant_snr_db": [10.0, 12.0, 20.0],
        "quant_snr_db_paper": [9.0, 12.0, 17.0],
        "prune_snr_db": [9.5, 13.0, 5.0],
    })  # fmt: skip


def test_clipping_gain_table_by_hand():
    t = clipping_gain_table(hand_made_tensors()).set_index("n_bits")
    assert t.loc[2].tolist() == [0.5, 0.5, 1.0, 1] and t.loc[4].tolist() == [3.0, 3.0, 3.0, 0]
    assert list(t.reset_index().columns) == ["n_bits", "mean", "median", "max", "verdict flips"]


def test_clip_audit_headlines_by_hand():
    cert = pd.DataFrame({"model": ["m", "m", "m"], "tensor": ["a", "a", "b"], "n_bits": [2, 4, 2],
                         "proven": [True, True, False], "gap_db": [0.0, 2e-4, 0.0]})  # fmt: skip
    h = clip_audit_headlines(hand_made_tensors(), cert)
    assert h["gain-mean"] == pytest.approx(4 / 3) and h["gain-max"] == 3.0
    assert h["flips-text"] == "1 tensor × bit-width verdict changes (table above)."
    assert h["n-certify"] == 2 and h["cert-max-bits"] == 4 and h["cert-proven"] == pytest.approx(200 / 3)
    assert h["cert-exact"] == pytest.approx(200 / 3) and h["cert-gap-max"] == 2e-4
    none = clip_audit_headlines(hand_made_tensors().iloc[1:], cert.iloc[:0])
    assert none["flips-text"].startswith("no tensor × bit-width verdict changes")
    assert (
        none["n-certify"] == 0
        and none["cert-max-bits"] == 0
        and math.isnan(none["cert-proven"])
        and math.isnan(none["cert-gap-max"])
    )


def brute_force_mse(w, n_bits):
    """Smallest MSE over a dense grid of clipping values (the true quantizer, no shortcuts)."""
    clips = np.linspace(1e-3, 2.0, 20_001) * np.abs(w).max()
    return min(float(np.mean((w - np.multiply(*quantize_int(w, n_bits=n_bits, clip=c))) ** 2)) for c in clips)


def test_certify_smallest_proves_the_optimum_of_the_smallest_tensors():
    rng = np.random.default_rng(3)
    weights = {
        "a.weight": rng.standard_t(3, size=(2, 3)),
        "b.weight": rng.normal(size=(2, 4)),
        "c.weight": rng.normal(size=(10, 10)),
    }  # FP16-exact values, so that the checkpoint round trip changes nothing
    weights = {k: v.astype(np.float16).astype(np.float32) for k, v in weights.items()}
    ckpt = Checkpoint("tiny", "state_dict", None, {k: torch.from_numpy(v) for k, v in weights.items()})
    tensors, _ = analyze_models({"tiny": ckpt}, [2, 4, 8])
    cert = certify_smallest(tensors, {"tiny": ckpt}, n_certify=2, n_bits=[2, 4, 8])
    assert list(cert.columns) == CERTIFIED_COLUMNS
    assert cert[["tensor", "numel", "n_bits"]].values.tolist() == [
        ["a.weight", 6, 2], ["a.weight", 6, 4], ["b.weight", 8, 2], ["b.weight", 8, 4],
    ]  # fmt: skip
    assert cert.proven.all() and (cert.gap_db >= 0).all()
    for r in cert.itertuples():
        w = weights[r.tensor].ravel().astype(np.float64)
        assert r.gap_db < 0.5  # the fast search is close on these tiny tensors
        # the proven optimum is at least as good as a dense scan of the true quantizer
        best = brute_force_mse(w, r.n_bits)
        fast = float(tensors[(tensors.tensor == r.tensor) & (tensors.n_bits == r.n_bits)].quant_snr_db.iloc[0])
        proven_snr = fast + r.gap_db
        assert 10 * np.log10(np.mean(w**2) / best) <= proven_snr + 1e-9
    summary = certification_summary(cert)
    assert summary.to_dict("index") == {
        2: {"problems": 2, "proven": 1.0, "max_gap_db": cert[cert.n_bits == 2].gap_db.max()},
        4: {"problems": 2, "proven": 1.0, "max_gap_db": cert[cert.n_bits == 4].gap_db.max()},
    }
