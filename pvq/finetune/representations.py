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
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = [
    "activation_snr_db",
    "capture_activations",
    "centred_gram",
    "cka_from_grams",
    "compare_representations",
    "linear_cka",
]


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
