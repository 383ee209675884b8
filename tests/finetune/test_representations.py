"""Representation similarity: linear CKA, activation SNR, captured activations."""

import math

import numpy as np
import pytest
import torch

from pvq.finetune.networks import TRAINABLE, build_trainable, probe_layers
from pvq.finetune.representations import activation_snr_db, capture_activations, linear_cka


def test_cka_identity_orthogonal_and_scale_invariance():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)) @ rng.normal(size=(8, 8))
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x, 3.7 * x @ q) == pytest.approx(1.0, abs=1e-12)
    wide = rng.normal(size=(20, 50))  # more features than examples: the Gram form
    q50, _ = np.linalg.qr(rng.normal(size=(50, 50)))
    assert linear_cka(wide, wide @ q50) == pytest.approx(1.0, abs=1e-12)
    y = rng.normal(size=(60, 8))
    assert 0 <= linear_cka(x, y) < 0.5
    # the two formulas agree
    assert linear_cka(x, y) == pytest.approx(linear_cka(np.hstack([x, np.zeros((60, 60))]), y), rel=1e-10)


def test_activation_snr():
    a = np.ones((4, 5))
    assert activation_snr_db(a, a) == math.inf
    assert activation_snr_db(a, 1.1 * a) == pytest.approx(20.0)
    with pytest.raises(ValueError):
        linear_cka(np.ones(3), np.ones(3))


@pytest.mark.parametrize("arch", sorted(TRAINABLE))
def test_capture_activations_shapes(arch):
    model = build_trainable(arch, seed=0).eval()
    names = probe_layers(model)
    acts = capture_activations(model, torch.randn(10, 1, 28, 28), names, batch=4)
    assert list(acts) == names and all(a.shape[0] == 10 for a in acts.values())
    assert acts["fc"].shape == (10, 10)
    with pytest.raises(ValueError, match="no such layer"):
        capture_activations(model, torch.randn(2, 1, 28, 28), ["nope"])
