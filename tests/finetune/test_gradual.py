"""Gradual magnitude pruning: the Zhu–Gupta schedule, masks that never regrow, every layer at its target."""

import math

import numpy as np
import pytest
import torch

from pvq.finetune.gradual import GradualPruner, update_mask, zhu_gupta_sparsity
from pvq.finetune.networks import build_trainable, weight_layers

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
    compared = 0
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
            compared += 1
        pruned_before = zeros
    assert compared == 4  # every update that pruned more was checked (0.3 → 0.3 prunes nothing new)


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
