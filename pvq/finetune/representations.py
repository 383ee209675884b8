"""Comparing a network's internal representations with the original's (paper §6, claim C7).

Two measures per probed layer, on a fixed probe batch:

* activation SNR against the original network,
  :math:`10\\log_{10}(\\lVert A\\rVert_F^2 / \\lVert A - \\hat A\\rVert_F^2)` (the paper's SNR
  applied to activations);
* linear CKA (Kornblith et al. 2019), with column-centred :math:`X, Y` (rows = examples),

  .. math:: \\mathrm{CKA}(X, Y) = \\frac{\\lVert Y^\\top X\\rVert_F^2}
            {\\lVert X^\\top X\\rVert_F \\, \\lVert Y^\\top Y\\rVert_F},

  computed from the centred Gram matrices :math:`K = XX^\\top`, :math:`L = YY^\\top` as
  :math:`\\langle K, L\\rangle / (\\lVert K\\rVert_F \\lVert L\\rVert_F)` (the same number). It is 1 for
  identical representations and invariant to orthogonal transforms and isotropic scaling of
  either side; SNR is not (it asks for the *same* activations, not just the same geometry).

A run is probed (:class:`RepresentationProbe`) at the steps of :func:`probe_steps`: step 0 is the
network *compressed, before fine-tuning* (round-to-nearest with the initial scale for QAT,
one-shot magnitude pruning to the target for pruning, :func:`one_shot_prune`), then evenly over the
whole run, with extra points after the last mask update (:func:`last_mask_update`), the same steps
for every method. Each probe re-estimates batch-norm statistics on a copy of the network, on the
same training batches from the probe's own random generator, and so does the reference network
once: the trained network never depends on how often it was probed.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from .gradual import update_mask
from .networks import weight_layers
from .qat import latent_weight

__all__ = [
    "PROBE_BN_BATCHES",
    "RepresentationProbe",
    "activation_snr_db",
    "capture_activations",
    "centred_gram",
    "cka_from_grams",
    "compare_representations",
    "last_mask_update",
    "linear_cka",
    "one_shot_prune",
    "probe_steps",
]

#: Training batches on which every probe (and the reference, once) re-estimates batch-norm statistics:
#: the same batches each time, so that their sampling noise is common to every point of a trajectory.
PROBE_BN_BATCHES = 2


def _centred(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"representations must be (examples >= 2, features), got shape {x.shape}")
    return x - x.mean(axis=0, keepdims=True)


def centred_gram(x) -> np.ndarray:
    """:math:`K = X_c X_c^\\top` for column-centred :math:`X_c` (examples × examples)."""
    x = _centred(x)
    return x @ x.T


def cka_from_grams(k: np.ndarray, m: np.ndarray) -> float:
    """Linear CKA from two centred Gram matrices.

    :math:`\\langle K, M\\rangle / (\\lVert K\\rVert_F\\lVert M\\rVert_F)`; NaN when either is zero.
    """
    if k.shape != m.shape:
        raise ValueError(f"Gram matrices of different sizes: {k.shape} vs {m.shape}")
    den = np.linalg.norm(k) * np.linalg.norm(m)
    return float(np.sum(k * m) / den) if den > 0 else math.nan


def linear_cka(x, y) -> float:
    """Linear CKA between two representations of the same examples (rows).

    Uses the feature-space form when both sides have fewer features than examples, the Gram
    form otherwise. Returns NaN when either side is constant over the examples.
    """
    x, y = _centred(x), _centred(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"representations of different numbers of examples: {x.shape[0]} vs {y.shape[0]}")
    if x.shape[1] < x.shape[0] and y.shape[1] < y.shape[0]:  # feature space is smaller
        num = np.linalg.norm(y.T @ x) ** 2
        den = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
        return float(num / den) if den > 0 else math.nan
    return cka_from_grams(x @ x.T, y @ y.T)


def activation_snr_db(reference, other) -> float:
    """SNR in dB of ``other`` as an approximation of ``reference`` (inf when equal)."""
    a = np.asarray(reference, dtype=np.float64)
    e = np.sum((a - np.asarray(other, dtype=np.float64)) ** 2)
    s = np.sum(a**2)
    if e == 0:
        return math.inf
    return float(10 * np.log10(s / e)) if s > 0 else -math.inf


@torch.no_grad()
def capture_activations(model: nn.Module, x: torch.Tensor, layers, *, batch: int = 256) -> dict[str, np.ndarray]:
    """Outputs of the named submodules for inputs ``x``, flattened per example, as float64 arrays.

    The model is run as it is (call ``model.eval()`` first for inference statistics).
    """
    modules = dict(model.named_modules())
    missing = [n for n in layers if n not in modules]
    if missing:
        raise ValueError(f"no such layer(s) in the model: {missing}")
    store: dict[str, list] = {n: [] for n in layers}
    hooks = [
        modules[n].register_forward_hook(lambda _m, _i, out, n=n: store[n].append(out.detach().flatten(1).cpu()))
        for n in layers
    ]
    try:
        for i in range(0, x.shape[0], batch):
            model(x[i : i + batch])
    finally:
        for h in hooks:
            h.remove()
    return {n: torch.cat(v).double().numpy() for n, v in store.items()}


def compare_representations(reference: dict, current: dict, *, reference_grams: dict | None = None) -> list[dict]:
    """``[{layer, snr_db, cka}]`` for each layer of ``reference`` (dicts from :func:`capture_activations`).

    ``reference_grams`` (``{layer: centred_gram(reference[layer])}``) saves recomputing the
    reference side when the same reference is compared many times.
    """
    rows = []
    for n, a in reference.items():
        k = reference_grams[n] if reference_grams is not None else centred_gram(a)
        rows.append(
            {"layer": n, "snr_db": activation_snr_db(a, current[n]), "cka": cka_from_grams(k, centred_gram(current[n]))}
        )
    return rows


def last_mask_update(total: int, prune_end: float) -> int:
    """Step of the last pruning mask update, :math:`t_c = \\max(1, \\mathrm{round}(\\text{prune\\_end}\\cdot T))`.

    The step :class:`pvq.finetune.gradual.GradualPruner` is given as ``end_step`` by the loop (the target
    sparsity is reached there and the mask is fixed afterwards).
    """
    if not isinstance(total, int) or total < 1:
        raise ValueError(f"total must be a number of steps >= 1, got {total!r}")
    if not 0 < prune_end <= 1:
        raise ValueError(f"prune_end must be in (0, 1], got {prune_end!r}")
    return max(1, round(prune_end * total))


def probe_steps(total: int, *, points: int, mask_end: int, after: int | None = None) -> list[int]:
    """The steps at which a run of ``total`` steps is probed (sorted, distinct).

    Step 0 (the network compressed, before fine-tuning); ``points`` steps evenly over the whole run,
    :math:`\\mathrm{round}(kT/\\text{points})` for :math:`k = 1, \\dots, \\text{points}` (the last is
    :math:`T`); and ``after`` more (default ``points // 4``) evenly after the last mask update
    :math:`t_c` (``mask_end``), :math:`\\mathrm{round}(t_c + k(T - t_c)/(\\text{after} + 1))`, plus
    :math:`t_c` itself. Steps falling together count once, so a short run has fewer distinct steps.
    The same steps for every method (QAT too), so that their trajectories are read alike.
    """
    if not isinstance(points, int) or points < 1:
        raise ValueError(f"points must be an integer >= 1, got {points!r}")
    if not isinstance(mask_end, int) or not 0 <= mask_end <= total:
        raise ValueError(f"mask_end must be a step in [0, total={total}], got {mask_end!r}")
    after = points // 4 if after is None else after
    if not isinstance(after, int) or after < 0:
        raise ValueError(f"after must be an integer >= 0, got {after!r}")
    steps = {0, mask_end} | {round(k * total / points) for k in range(1, points + 1)}
    steps |= {round(mask_end + k * (total - mask_end) / (after + 1)) for k in range(1, after + 1)}
    return sorted(steps)


@torch.no_grad()
def one_shot_prune(model: nn.Module, sparsity: float) -> nn.Module:
    """Zero the ``⌊sparsity·numel⌋`` smallest-magnitude weights of every conv/linear layer, in place.

    Magnitude pruning in one shot to the target, every layer at the same ratio (the gradual
    schedule's last mask, :func:`pvq.finetune.gradual.update_mask`, without the training in between);
    the latent weights of a fake-quantized layer are pruned before their quantization.
    """
    for _, m in weight_layers(model):
        w = latent_weight(m)
        w.mul_(update_mask(w, torch.ones_like(w), sparsity))
    return model


class RepresentationProbe:
    """Compares a network being fine-tuned with the original, layer by layer, at chosen steps.

    Parameters
    ----------
    original : torch.nn.Module
        The FP32 network before compression (copied; left as it is).
    inputs : torch.Tensor
        The fixed probe images.
    layers : list of str
        Names of the probed modules (:func:`pvq.finetune.networks.probe_layers`).
    batches : callable
        ``batches()`` returns a fresh iterator of ``(x, y)`` training batches, the same ones at every
        call (a stream from the probe's own seeded generator): batch-norm statistics are re-estimated
        on its first ``n_batches`` before every probe and once for the reference.
    n_batches : int
    reestimate : callable
        ``reestimate(model, batches, n)``: :func:`pvq.finetune.loop.reestimate_bn`.

    Notes
    -----
    Every probe works on a copy of the network, inside ``torch.random.fork_rng``: the network
    being trained, its data stream and the global random state are left untouched.
    """

    def __init__(
        self,
        original: nn.Module,
        inputs: torch.Tensor,
        layers,
        *,
        batches: Callable[[], Iterator],
        n_batches: int,
        reestimate: Callable,
    ):
        if not isinstance(n_batches, int) or n_batches < 1:
            raise ValueError(f"n_batches must be an integer >= 1, got {n_batches!r}")
        self.inputs, self.layers = inputs, list(layers)
        self.batches, self.n_batches, self.reestimate = batches, n_batches, reestimate
        self.reference = self._activations(original)
        self.grams = {n: centred_gram(a) for n, a in self.reference.items()}
        self.rows: list[dict] = []

    def _activations(self, model: nn.Module, prune_to: float = 0.0) -> dict[str, np.ndarray]:
        devices = [self.inputs.device] if self.inputs.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            snap = copy.deepcopy(model)
            if prune_to:
                one_shot_prune(snap, prune_to)
            self.reestimate(snap, self.batches(), self.n_batches)
            return capture_activations(snap.eval(), self.inputs, self.layers)

    def __call__(self, model: nn.Module, step: int, *, prune_to: float = 0.0) -> list[dict]:
        """Probe ``model`` (one-shot pruned to ``prune_to`` first when > 0) and record it as ``step``.

        Returns the new rows ``{step, layer, snr_db, cka}`` (also appended to :attr:`rows`).
        """
        current = self._activations(model, prune_to)
        new = [
            {"step": step, **r} for r in compare_representations(self.reference, current, reference_grams=self.grams)
        ]
        self.rows.extend(new)
        return new
