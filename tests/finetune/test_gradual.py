"""The pieces of the fine-tuning recipe: schedule, masks, fake quantization, BN re-estimation, CKA."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from pvq.gradual import GradualPruner, update_mask, zhu_gupta_sparsity
from pvq.nets import TRAINABLE, build_trainable, probe_layers, weight_layers
from pvq.qat import attach_qat, bake, fake_quantize, layer_bits, mse_scale, scale_parameters
from pvq.quantization import int_grid, quantize
from pvq.representations import activation_snr_db, capture_activations, linear_cka
from pvq.training import reestimate_bn, weight_statistics

# --- Zhu–Gupta schedule -------------------------------------------------------------------------


@pytest.mark.parametrize("s_i,s_f", [(0.0, 0.75), (0.0, 0.875), (0.25, 0.5)])
def test_schedule_endpoints_and_midpoint(s_i, s_f):
    span, t0 = 120, 30
    assert zhu_gupta_sparsity(t0, final=s_f, initial=s_i, start=t0, span=span) == s_i
    assert zhu_gupta_sparsity(t0 + span, final=s_f, initial=s_i, start=t0, span=span) == s_f
    # (1 - 1/2)^3 = 1/8 of the way left at the midpoint
    mid = zhu_gupta_sparsity(t0 + span / 2, final=s_f, initial=s_i, start=t0, span=span)
    assert mid == pytest.approx(s_f + (s_i - s_f) / 8, abs=1e-15)
    # held before the start and after the end, monotone in between
    assert zhu_gupta_sparsity(0, final=s_f, initial=s_i, start=t0, span=span) == s_i
    assert zhu_gupta_sparsity(10 * span, final=s_f, initial=s_i, start=t0, span=span) == s_f
    values = [zhu_gupta_sparsity(t, final=s_f, initial=s_i, start=t0, span=span) for t in range(t0, t0 + span + 1)]
    assert np.all(np.diff(values) >= 0)


def test_schedule_rejects_bad_input():
    with pytest.raises(ValueError, match="final"):
        zhu_gupta_sparsity(1, final=1.0, span=10)
    with pytest.raises(ValueError, match="span"):
        zhu_gupta_sparsity(1, final=0.5, span=0)


# --- masks --------------------------------------------------------------------------------------


def test_update_mask_exact_count_and_no_regrowth():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(37, 11, generator=g)
    mask = torch.ones_like(w)
    pruned_before = torch.zeros_like(w, dtype=torch.bool)
    for s in (0.1, 0.3, 0.3, 0.6, 0.875):
        # weights move between updates; a pruned weight growing large must stay pruned
        w = w + 0.5 * torch.randn(w.shape, generator=g)
        w[pruned_before] = 10.0
        mask = update_mask(w, mask, s)
        zeros = mask == 0
        assert int(zeros.sum()) == math.floor(s * w.numel())
        assert bool(zeros[pruned_before].all())  # never regrow
        kept = w[~zeros & ~pruned_before].abs()
        newly = w[zeros & ~pruned_before].abs()
        if newly.numel() and kept.numel():
            assert newly.max() <= kept.min()  # the new zeros are the smallest surviving magnitudes
        pruned_before = zeros


def test_gradual_pruner_reaches_target_in_every_layer():
    model = build_trainable("mobilenet_small", seed=0)
    pruner = GradualPruner(model, final=0.8125, end_step=37, interval=5)
    history = []
    for step in range(0, 50):
        pruner.step(step)
        history.append(pruner.current)
        pruner.apply()
    assert history[-1] == pytest.approx(0.8125)
    assert np.all(np.diff(history) >= 0)
    for name, m in weight_layers(model):
        n = m.weight.numel()
        assert pruner.achieved()[name] == pytest.approx(math.floor(0.8125 * n) / n)
        assert int((m.weight == 0).sum()) >= math.floor(0.8125 * n)
    # updates happen only every `interval` steps and at the end step
    changes = [i for i in range(1, len(history)) if history[i] != history[i - 1]]
    assert all(i % 5 == 0 or i == 37 for i in changes) and 37 in changes


# --- QAT ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_bits", [2, 4, 8])
def test_fake_quantize_equals_quantizer_and_lsq_gradient(n_bits):
    g = torch.Generator().manual_seed(n_bits)
    w = torch.randn(200, generator=g, dtype=torch.float64) * 0.3
    s = torch.tensor(0.05 if n_bits > 2 else 0.2, dtype=torch.float64, requires_grad=True)
    wq = w.clone().requires_grad_(True)
    out = fake_quantize(wq, s, n_bits=n_bits)
    q_min, q_max = int_grid(n_bits)
    expected = quantize(w.numpy(), n_bits=n_bits, clip=float(s.detach()) * q_max)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=0, atol=1e-12)
    upstream = torch.randn(200, generator=g, dtype=torch.float64)
    out.backward(upstream)
    x = (w / s).detach()
    inside = (x >= q_min) & (x <= q_max)
    lsq = torch.where(inside, torch.round(x) - x, torch.clamp(torch.round(x), q_min, q_max))
    assert float(s.grad) == pytest.approx(float((upstream * lsq).sum()), rel=1e-10)
    np.testing.assert_array_equal(wq.grad.numpy(), (upstream * inside).numpy())


def test_attach_qat_forward_is_the_quantizer_and_scale_learns():
    model = build_trainable("resnet_small", seed=1)
    reference = {n: m.weight.detach().clone() for n, m in weight_layers(model)}
    bits = attach_qat(model, 3)
    names = [n for n, _ in weight_layers(model)]
    assert bits[names[0]] == bits[names[-1]] == 8 and bits[names[1]] == 3
    for name, m in weight_layers(model):
        w = reference[name].double().numpy()
        clip = mse_scale(reference[name], n_bits=bits[name]) * int_grid(bits[name])[1]
        np.testing.assert_allclose(m.weight.detach().double().numpy(), quantize(w, n_bits=bits[name], clip=clip),
                                   rtol=1e-6, atol=1e-7)  # fmt: skip
    x = torch.randn(4, 1, 28, 28)
    model(x).square().sum().backward()
    scales = scale_parameters(model)
    assert len(scales) == len(names)
    assert all(p.grad is not None and torch.isfinite(p.grad) and p.grad != 0 for p in scales)
    bake(model)
    for name, m in weight_layers(model):
        assert not hasattr(m, "parametrizations")
        assert torch.unique(m.weight).numel() <= 2 ** bits[name]


def test_layer_bits_edges():
    model = build_trainable("resnet_small")
    assert set(layer_bits(model, 4, first_last_bits=None).values()) == {4}
    assert set(layer_bits(model, 8, first_last_bits=4).values()) == {8}  # never below the body's bits
    with pytest.raises(ValueError):
        layer_bits(model, 0)


def test_mse_scale_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        mse_scale(torch.tensor([1.0, float("nan")]), n_bits=4)


# --- batch-norm re-estimation -------------------------------------------------------------------


def test_reestimate_bn_changes_only_bn_statistics():
    model = build_trainable("mobilenet_small", seed=2)
    for m in model.modules():  # make the stored statistics stale
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.fill_(3.0)
            m.running_var.fill_(7.0)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    momenta = [m.momentum for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(16, 1, 28, 28, generator=g) for _ in range(3)]
    reestimate_bn(model, iter([(x, None) for x in xs]), 3)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed, "nothing was re-estimated"
    assert all(k.endswith(("running_mean", "running_var", "num_batches_tracked")) for k in changed)
    assert not model.training
    assert [m.momentum for m in model.modules() if isinstance(m, nn.BatchNorm2d)] == momenta
    # the first BN's statistics are the plain averages of its per-batch input mean and variance
    first_bn = model.stem[1]
    assert first_bn.num_batches_tracked == 3
    with torch.no_grad():
        h = [model.stem[0](x) for x in xs]
    means = torch.stack([t.mean(dim=(0, 2, 3)) for t in h]).mean(0)
    variances = torch.stack([t.var(dim=(0, 2, 3), unbiased=True) for t in h]).mean(0)
    torch.testing.assert_close(first_bn.running_mean, means, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(first_bn.running_var, variances, rtol=1e-5, atol=1e-6)


# --- representations ----------------------------------------------------------------------------


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


def test_weight_statistics_closed_form():
    model = build_trainable("resnet_small", seed=0)
    layers = weight_layers(model)
    with torch.no_grad():
        layers[0][1].weight.zero_()
    n = sum(m.weight.numel() for _, m in layers)
    n0 = layers[0][1].weight.numel()
    stats = weight_statistics(model, None)
    assert stats["zeros"] == pytest.approx(n0 / n)
    assert stats["avg_bits"] == pytest.approx(16 * (n - n0) / n)
    bits = {name: 4 for name, _ in layers}
    assert weight_statistics(model, bits)["avg_bits"] == pytest.approx(4 * (n - n0) / n)
