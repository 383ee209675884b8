"""Representation similarity: linear CKA, activation SNR, captured activations; the probe schedule,
one-shot pruning and the probe of a run."""

import math

import numpy as np
import pytest
import torch

from pvq.finetune.loop import reestimate_bn
from pvq.finetune.networks import TRAINABLE, build_trainable, probe_layers, weight_layers
from pvq.finetune.qat import attach_qat, latent_weight
from pvq.finetune.representations import (
    RepresentationProbe,
    activation_snr_db,
    capture_activations,
    last_mask_update,
    linear_cka,
    one_shot_prune,
    probe_steps,
)


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


# -- probing a run: the schedule, one-shot pruning, the probe itself ----------------------------------


def test_last_mask_update_and_probe_steps():
    assert last_mask_update(200, 0.75) == 150 and last_mask_update(10, 0.75) == 8 and last_mask_update(3, 0.1) == 1
    steps = probe_steps(200, points=20, mask_end=150)
    every = list(range(0, 201, 10))  # step 0 and the 20 even points
    after = [150 + round(k * 50 / 6) for k in range(1, 6)]  # points // 4 = 5 more after the mask is fixed
    assert steps == sorted(set(every) | set(after)) and len(steps) == 26
    assert [s for s in steps if s >= 150] == [150, 158, 160, 167, 170, 175, 180, 183, 190, 192, 200]
    # the same schedule is asked of every method: it depends on the length and prune_end only
    assert probe_steps(10, points=4, mask_end=8) == [0, 2, 5, 8, 9, 10]
    assert probe_steps(4, points=20, mask_end=3) == [0, 1, 2, 3, 4]  # a short run: steps fall together
    assert probe_steps(100, points=4, mask_end=75, after=0) == [0, 25, 50, 75, 100]
    bad = {"points": {"points": 0, "mask_end": 5}, "mask_end": {"points": 2, "mask_end": 11}}
    bad["after"] = {"points": 2, "mask_end": 5, "after": -1}
    for name, kw in bad.items():
        with pytest.raises(ValueError, match=name):
            probe_steps(10, **kw)
    with pytest.raises(ValueError, match="prune_end"):
        last_mask_update(10, 0.0)


@pytest.mark.parametrize("quantized", [False, True])
def test_one_shot_prune_drops_the_smallest_weights_of_every_layer(quantized):
    model = build_trainable("mobilenet_small", seed=1)
    if quantized:  # a fake-quantized network: its latent weights are pruned
        attach_qat(model, 4)
    before = {n: latent_weight(m).detach().clone() for n, m in weight_layers(model)}
    one_shot_prune(model, 0.6)
    for n, m in weight_layers(model):
        w, w0 = latent_weight(m).detach(), before[n]
        zero = w == 0
        assert int(zero.sum()) == int(0.6 * w.numel())  # ⌊s·n⌋ in every layer
        assert torch.equal(w[~zero], w0[~zero])  # the kept weights are untouched
        if zero.any() and (~zero).any():
            assert w0[zero].abs().max() <= w0[~zero].abs().min()  # the smallest magnitudes went


def fake_batches(seed=0, n=4):
    g = torch.Generator().manual_seed(seed)
    xs = [torch.randn(16, 1, 28, 28, generator=g) for _ in range(n)]
    return lambda: iter([(x, None) for x in xs])


def test_probe_of_the_original_is_exact_and_leaves_everything_untouched():
    original = build_trainable("resnet_small", seed=0)
    inputs = torch.randn(12, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    probe = RepresentationProbe(
        original, inputs, probe_layers(original), batches=fake_batches(), n_batches=3, reestimate=reestimate_bn
    )
    state = {k: v.clone() for k, v in original.state_dict().items()}
    rng = torch.get_rng_state()
    rows = probe(original, 0)
    # the reference's batch-norm is re-estimated on the same batches: the same network is identical
    assert [r["layer"] for r in rows] == probe_layers(original)
    assert all(r["step"] == 0 and r["snr_db"] == math.inf and r["cka"] == pytest.approx(1.0) for r in rows)
    assert all(torch.equal(v, original.state_dict()[k]) for k, v in state.items())  # the network is untouched
    assert torch.equal(torch.get_rng_state(), rng)
    pruned = probe(original, 3, prune_to=0.75)  # one-shot pruned copy: far from the original
    assert all(r["step"] == 3 and r["snr_db"] < 20 and r["cka"] < 1 for r in pruned)
    assert all(torch.equal(v, original.state_dict()[k]) for k, v in state.items())
    assert probe.rows == rows + pruned
    with pytest.raises(ValueError, match="n_batches"):
        RepresentationProbe(original, inputs, ["fc"], batches=fake_batches(), n_batches=0, reestimate=reestimate_bn)
