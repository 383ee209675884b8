"""Gradual magnitude pruning during training (Zhu & Gupta 2017), the paper's pruning recipe (§6).

Sparsity follows the cubic schedule

.. math:: s_t = s_f + (s_i - s_f)\\left(1 - \\frac{t - t_0}{n\\Delta t}\\right)^3,
   \\qquad t \\in \\{t_0, t_0 + \\Delta t, \\dots, t_0 + n\\Delta t\\},

from :math:`s_i` (0 in the paper) to the target :math:`s_f`, the mask being recomputed every
:math:`\\Delta t` steps and held in between. At each update every conv/linear layer drops the
:math:`\\lfloor s_t \\cdot \\mathrm{numel} \\rfloor` weights of smallest magnitude (all layers at the
same ratio); a pruned weight never comes back. After every optimiser step the masked weights
are set to zero again (:meth:`GradualPruner.apply`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..core.pruning import check_sparsity
from .networks import weight_layers
from .qat import latent_weight

__all__ = ["GradualPruner", "update_mask", "zhu_gupta_sparsity"]


def zhu_gupta_sparsity(step: float, *, final: float, initial: float = 0.0, start: int = 0, span: int) -> float:
    """Sparsity of the cubic schedule at ``step`` (held at ``initial`` before ``start``, ``final`` after).

    Parameters
    ----------
    step : float
        Training step :math:`t`.
    final, initial : float
        :math:`s_f` and :math:`s_i`, in [0, 1).
    start : int
        :math:`t_0`.
    span : int
        :math:`n\\Delta t`, the steps from :math:`t_0` to the step where the target is reached.
    """
    final = check_sparsity(final, name="final")
    initial = check_sparsity(initial, name="initial")
    if span <= 0:
        raise ValueError(f"span must be a positive number of steps, got {span!r}")
    frac = min(max((step - start) / span, 0.0), 1.0)
    return final + (initial - final) * (1.0 - frac) ** 3


def update_mask(w: torch.Tensor, mask: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Mask keeping all but the ``⌊sparsity·numel⌋`` smallest-magnitude weights, never regrowing.

    Weights already pruned by ``mask`` (a 0/1 tensor of ``w``'s shape) rank below every kept
    weight, so they stay pruned; ties are broken by position, so the count is exact.
    """
    k = math.floor(check_sparsity(sparsity) * w.numel())
    already = int((mask == 0).sum())
    k = max(k, already)  # the schedule never asks for fewer zeros than there are
    score = torch.where(mask.bool(), w.detach().abs(), torch.full_like(w, -1.0)).flatten()
    new = torch.ones(w.numel(), dtype=mask.dtype, device=w.device)
    if k:
        new[torch.argsort(score, stable=True)[:k]] = 0
    return new.view_as(w)


class GradualPruner:
    """Zhu–Gupta gradual magnitude pruning of every conv/linear layer of ``model``.

    Parameters
    ----------
    model : torch.nn.Module
    final : float
        Target sparsity :math:`s_f` of every layer.
    end_step : int
        Step where the target is reached (the paper: end of epoch 15 of 20, i.e. 75%).
    interval : int
        :math:`\\Delta t`, steps between mask updates.
    initial : float
        :math:`s_i` (default 0).
    """

    def __init__(self, model: nn.Module, *, final: float, end_step: int, interval: int, initial: float = 0.0):
        self.final = check_sparsity(final, name="sparsity")
        self.initial = check_sparsity(initial, name="initial")
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f"mask interval must be an integer >= 1, got {interval!r}")
        if not isinstance(end_step, int) or end_step < 1:
            raise ValueError(f"end_step must be an integer >= 1, got {end_step!r}")
        self.interval = interval
        self.end_step = end_step
        self.params = {name: latent_weight(m) for name, m in weight_layers(model)}
        self.masks = {name: torch.ones_like(p) for name, p in self.params.items()}
        self.current = 0.0

    def sparsity_at(self, step: int) -> float:
        """Scheduled sparsity at ``step``."""
        return zhu_gupta_sparsity(step, final=self.final, initial=self.initial, span=self.end_step)

    @torch.no_grad()
    def step(self, step: int) -> bool:
        """Update the masks if ``step`` is an update step (every ``interval`` steps, and at ``end_step``).

        Returns whether the masks changed; the weights are masked at once.
        """
        due = step % self.interval == 0 or step == self.end_step
        if not due or step > self.end_step:
            return False
        s = self.sparsity_at(step)
        if s <= self.current and step:
            return False
        for name, p in self.params.items():
            self.masks[name] = update_mask(p, self.masks[name], s)
        self.current = s
        self.apply()
        return True

    @torch.no_grad()
    def apply(self) -> None:
        """Zero the pruned weights (call after every optimiser step)."""
        for name, p in self.params.items():
            p.mul_(self.masks[name])

    def achieved(self) -> dict[str, float]:
        """Fraction of zeros in each layer's mask."""
        return {name: float((m == 0).float().mean()) for name, m in self.masks.items()}
