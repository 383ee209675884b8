"""Quantization-aware training: fake-quantized weights with a learned scale (paper §6).

The recipe of the paper's repository: weight-only, per-tensor, symmetric quantization
(:func:`pvq.core.quantization.quantize` with a learnable scale), the scale initialised by the MSE
search of chapter 3 (:func:`pvq.tensors.clipping.optimal_clip_tensor`) and then learned by its own Adam
optimiser, rounding passed straight through, the first and last layer kept at 8 bits.

Forward pass, for latent weights :math:`w` and scale :math:`s`,

.. math:: \\hat w = s \\cdot \\operatorname{clamp}(\\lfloor w/s \\rceil, q_{\\min}, q_{\\max}).

With the straight-through estimator :math:`\\partial \\lfloor x \\rceil / \\partial x := 1`,
autograd yields LSQ's scale gradient (Esser et al. 2020):
:math:`\\partial \\hat w / \\partial s = \\lfloor w/s \\rceil - w/s` inside the grid and
:math:`q_{\\min}` or :math:`q_{\\max}` where clipped, and
:math:`\\partial \\hat w / \\partial w = 1` inside the grid, 0 where clipped.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from ..core.quantization import check_grid, check_n_bits, int_grid
from ..tensors.clipping import SortedWeights, optimal_clip_tensor
from .networks import weight_layers

__all__ = [
    "WeightFakeQuant",
    "attach_qat",
    "bake",
    "clamp_scales",
    "fake_quantize",
    "latent_weight",
    "layer_bits",
    "mse_scale",
    "round_ste",
    "scale_parameters",
]


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half to even in the forward pass, identity in the backward pass (straight-through)."""
    return x + (torch.round(x) - x).detach()


class _FakeQuant(torch.autograd.Function):
    """Fused fake quantization with the straight-through/LSQ gradients (one kernel per direction)."""

    @staticmethod
    def forward(ctx, w, scale, q_min, q_max):
        x = w / scale
        q = torch.clamp(torch.round(x), q_min, q_max)
        ctx.save_for_backward(x, q, scale)
        ctx.bounds = (q_min, q_max)
        # exactly the weight's strides: another layout makes every convolution convert its input
        out = torch.empty_strided(w.shape, w.stride(), dtype=w.dtype, device=w.device)
        return torch.mul(q, scale, out=out)

    @staticmethod
    def backward(ctx, grad):
        x, q, scale = ctx.saved_tensors
        q_min, q_max = ctx.bounds
        inside = (x >= q_min) & (x <= q_max)
        grad_w = grad * inside
        # d(s·clamp(round(w/s)))/ds: round(w/s) - w/s inside the grid, the clipped level outside
        grad_s = (grad * torch.where(inside, q - x, q)).sum().reshape(scale.shape)
        return grad_w, grad_s, None, None


def fake_quantize(w: torch.Tensor, scale: torch.Tensor, *, n_bits: int, grid: str = "signed") -> torch.Tensor:
    """Quantize-dequantize ``w`` on the INT-``n_bits`` grid with step ``scale``, differentiable in both.

    Equals :func:`pvq.core.quantization.quantize` with ``clip = scale · q_max`` in the forward pass;
    the backward pass is the one autograd gives ``scale · clamp(round_ste(w / scale))``
    (:func:`round_ste`), computed in one fused step.
    """
    q_min, q_max = int_grid(n_bits, grid)
    return _FakeQuant.apply(w, scale, q_min, q_max)


def mse_scale(w: torch.Tensor, *, n_bits: int, grid: str = "signed") -> float:
    """Scale of the MSE-optimal clipping value of ``w`` (chapter 3's search on the FP32 weights)."""
    arr = w.detach().float().cpu().numpy().ravel().astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("weights contain NaN or infinite values")
    if not np.any(arr):
        return 1.0  # an all-zero tensor: any scale represents it exactly
    clip, _ = optimal_clip_tensor(SortedWeights.build(arr), n_bits=n_bits, grid=grid)
    return clip / int_grid(n_bits, grid)[1]


class WeightFakeQuant(nn.Module):
    """Parametrization ``w ↦ fake_quantize(w, scale)`` with a learnable per-tensor ``scale``."""

    def __init__(self, n_bits: int, scale: float, grid: str = "signed"):
        super().__init__()
        self.n_bits = check_n_bits(n_bits)
        self.grid = check_grid(grid)
        self.scale = nn.Parameter(torch.tensor(float(scale)))

    def forward(self, w):
        """The fake-quantized weights (:func:`fake_quantize` with this layer's scale)."""
        return fake_quantize(w, self.scale, n_bits=self.n_bits, grid=self.grid)

    def extra_repr(self) -> str:
        return f"n_bits={self.n_bits}, grid={self.grid!r}"


def layer_bits(model: nn.Module, n_bits: int, *, first_last_bits: int | None = 8) -> dict[str, int]:
    """Bit-width of every conv/linear layer: ``n_bits``, the first and last at ``first_last_bits``.

    ``first_last_bits=None`` quantizes every layer at ``n_bits``. A first/last bit-width lower
    than ``n_bits`` is never used (the paper keeps them at *higher* precision).
    """
    names = [n for n, _ in weight_layers(model)]
    bits = dict.fromkeys(names, check_n_bits(n_bits))
    if first_last_bits is not None and names:
        edge = max(check_n_bits(first_last_bits, name="first_last_bits"), n_bits)
        bits[names[0]] = bits[names[-1]] = edge
    return bits


def attach_qat(model: nn.Module, n_bits: int, *, first_last_bits: int | None = 8, grid: str = "signed") -> dict:
    """Fake-quantize every conv/linear weight of ``model`` in place; return ``{layer: bits}``.

    Each scale starts at :func:`mse_scale` of the layer's current weights.
    """
    bits = layer_bits(model, n_bits, first_last_bits=first_last_bits)
    for name, module in weight_layers(model):
        b = bits[name]
        fq = WeightFakeQuant(b, mse_scale(module.weight, n_bits=b, grid=grid), grid=grid).to(module.weight.device)
        parametrize.register_parametrization(module, "weight", fq)
    return bits


def scale_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The learnable quantization scales of a model prepared by :func:`attach_qat`."""
    return [m.scale for m in model.modules() if isinstance(m, WeightFakeQuant)]


@torch.no_grad()
def clamp_scales(scales, minimum: float = 1e-8) -> None:
    """Keep every learned scale positive (an optimiser step could drive one to or below zero)."""
    for s in scales:
        s.clamp_(min=minimum)


def latent_weight(module: nn.Module) -> torch.Tensor:
    """The trainable weight tensor: the latent FP weights of a fake-quantized layer, else ``weight``."""
    if parametrize.is_parametrized(module, "weight"):
        return module.parametrizations.weight.original
    return module.weight


def bake(model: nn.Module) -> nn.Module:
    """Replace every fake-quantized weight by its quantized value (removing the parametrizations)."""
    for _, module in weight_layers(model):
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
    return model
