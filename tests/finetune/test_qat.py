"""Quantization-aware training: fake quantization equals the quantizer, LSQ gradients, bake, edge layers."""

import numpy as np
import pytest
import torch

from pvq.core.quantization import int_grid, quantize
from pvq.finetune.networks import build_trainable, weight_layers
from pvq.finetune.qat import attach_qat, bake, fake_quantize, layer_bits, mse_scale, scale_parameters

# --- fake quantization ----------------------------------------------------------------------------------------


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
