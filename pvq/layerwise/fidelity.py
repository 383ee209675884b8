"""Fidelity of a compressed network to the original, without labels (chapter 9).

A post-training compressed network is judged by how faithfully it reproduces the FP32 network's
outputs on inputs never used for calibration.

Vision (held-out photos, many crops each; :data:`pvq.layerwise.calibration.HELD_OUT_PHOTOS`), per
crop with FP32 logits ``z`` and compressed logits ``ẑ``:

- logit SNR, pooled over the crops: ``10 log₁₀ Σ||z||² / Σ||z − ẑ||²``;
- top-1 agreement: the share of crops whose predicted class is the FP32 network's;
- KL divergence of the softmax, ``KL(p || p̂)`` in nats, averaged over the crops.

Text (held-out paragraphs of Python's documentation), with the encoder's mean-pooled token
representations ``e`` (MiniLM's sentence embedding):

- cosine similarity of ``ê`` to ``e``, averaged over the paragraphs;
- retrieval agreement: the share of paragraphs whose nearest neighbour among the other held-out
  paragraphs (by cosine) is the FP32 encoder's.

Intervals are percentile bootstraps over the held-out inputs (:func:`bootstrap_indices`). Crops of
one photo are not independent, so the vision resamples whole photos (each with all its crops: a
cluster bootstrap, so the interval covers the choice of photos); paragraphs are resampled one by one.
The noise floor is the FP32 network against itself on a second crop of each crop (shifted and
rescaled by up to 10%) or on the paragraph without its first words.
"""

from __future__ import annotations

import numpy as np
import torch

from .calibration import HELD_OUT_PHOTOS, crop_box, crop_image, load_photo, paragraphs, tokenize

__all__ = [
    "bootstrap_indices",
    "embed",
    "held_out_crops",
    "held_out_paragraphs",
    "interval",
    "text_items",
    "text_summary",
    "vision_items",
    "vision_summary",
]


def held_out_crops(crops_per_photo: int, *, seed: int = 0, size: int = 224, photos=HELD_OUT_PHOTOS):
    """Crops of the held-out photos and a second, jittered crop of each.

    Returns
    -------
    first, second : torch.Tensor
        ``(n, 3, size, size)`` each, ``n = crops_per_photo · len(photos)``, photo by photo.
    photo : numpy.ndarray
        Index of each crop's photo.
    """
    if crops_per_photo < 1:
        raise ValueError(f"crops_per_photo must be >= 1, got {crops_per_photo}")
    rng = np.random.default_rng(seed)
    first, second, photo = [], [], []
    for p, name in enumerate(photos):
        img = load_photo(name)
        h, w = img.shape[1:]
        for _ in range(crops_per_photo):
            top, left, ch, cw, flip = crop_box((h, w), rng)
            f = rng.uniform(0.9, 1.1)
            ch2, cw2 = min(h, max(8, round(ch * f))), min(w, max(8, round(cw * f)))
            top2 = int(np.clip(top + round(rng.uniform(-0.1, 0.1) * ch), 0, h - ch2))
            left2 = int(np.clip(left + round(rng.uniform(-0.1, 0.1) * cw), 0, w - cw2))
            first.append(crop_image(img, (top, left, ch, cw, flip), size))
            second.append(crop_image(img, (top2, left2, ch2, cw2, flip), size))
            photo.append(p)
    return torch.stack(first), torch.stack(second), np.array(photo)


def held_out_paragraphs(n: int, *, seed: int = 0, max_tokens: int = 128):
    """``n`` held-out paragraphs tokenized, and each again without its first tenth of words (at least 3).

    Returns
    -------
    first, second : tuple of torch.Tensor
        ``(input_ids, attention_mask)`` each.
    """
    found = paragraphs("held_out")
    if not 2 <= n <= len(found):
        raise ValueError(f"n must be between 2 and {len(found)} held-out paragraphs, got {n}")
    rng = np.random.default_rng(seed)
    chosen = [found[i] for i in np.sort(rng.choice(len(found), size=n, replace=False))]
    shifted = [" ".join(p.split()[max(3, len(p.split()) // 10) :]) for p in chosen]
    return tokenize(chosen, max_tokens=max_tokens), tokenize(shifted, max_tokens=max_tokens)


def embed(tokens: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """Mean of the token representations over the real tokens (MiniLM's sentence embedding), float64."""
    m = mask[..., None].double()
    return ((tokens.double() * m).sum(1) / m.sum(1)).numpy()


def vision_items(reference: np.ndarray, logits: np.ndarray) -> dict[str, np.ndarray]:
    """Per crop: ``signal`` ``||z||²``, ``error`` ``||z − ẑ||²``, ``agree`` (0/1) and ``kl`` ``KL(p || p̂)``."""
    z, zh = np.asarray(reference, dtype=np.float64), np.asarray(logits, dtype=np.float64)
    lp = z - np.logaddexp.reduce(z, axis=1, keepdims=True)
    lq = zh - np.logaddexp.reduce(zh, axis=1, keepdims=True)
    return {
        "signal": np.sum(z * z, axis=1),
        "error": np.sum((z - zh) ** 2, axis=1),
        "agree": (z.argmax(1) == zh.argmax(1)).astype(np.float64),
        "kl": np.maximum(np.sum(np.exp(lp) * (lp - lq), axis=1), 0.0),
    }


def _normalise(e: np.ndarray) -> np.ndarray:
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-300)


def _neighbours(queries: np.ndarray, corpus: np.ndarray) -> np.ndarray:
    """Index of each query's nearest other paragraph of the corpus by cosine (the query's own index excluded)."""
    sim = _normalise(queries) @ _normalise(corpus).T
    np.fill_diagonal(sim, -np.inf)
    return sim.argmax(1)


def text_items(reference: np.ndarray, embeddings: np.ndarray, *, queries: np.ndarray | None = None):
    """Per paragraph: ``cosine`` of the embedding to the FP32 one and ``agree`` (same nearest neighbour).

    The nearest neighbours are searched in the same encoder's embeddings; ``queries`` (the noise
    floor's second windows) are searched among ``embeddings`` instead.
    """
    e0, e1 = np.asarray(reference, dtype=np.float64), np.asarray(embeddings, dtype=np.float64)
    q = e1 if queries is None else np.asarray(queries, dtype=np.float64)
    cos = np.sum(_normalise(e0) * _normalise(q), axis=1)
    agree = (_neighbours(e0, e0) == _neighbours(q, e1)).astype(np.float64)
    return {"cosine": cos, "agree": agree}


def bootstrap_indices(groups, n_boot: int = 1000, *, seed: int = 0) -> np.ndarray:
    """``(n_boot, n)`` indices resampling whole groups with replacement (a cluster bootstrap).

    Each resample draws as many groups as there are, with replacement, and takes every item of each
    (a photo and all its crops); items alone are resampled by giving each its own group. Groups must
    be of one size, so that every resample has the ``n`` items of the original. One set of indices
    serves every method of a comparison (paired intervals).
    """
    groups = np.asarray(groups)
    names, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    if len(set(sizes.tolist())) > 1:
        raise ValueError(f"groups must be of one size for a cluster bootstrap, got sizes {sorted(set(sizes))}")
    members = np.stack([np.flatnonzero(inverse == g) for g in range(names.size)])  # (groups, size)
    rng = np.random.default_rng(seed)
    return members[rng.integers(0, names.size, size=(n_boot, names.size))].reshape(n_boot, -1)


def interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Central percentile interval of bootstrap ``samples`` at ``level`` (``±inf``, a resample without error, sorts
    as a number)."""
    lo, hi = np.percentile(np.asarray(samples, dtype=np.float64), [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def _snr_db(signal: np.ndarray, error: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return 10 * np.log10(np.sum(signal, axis=-1) / np.sum(error, axis=-1))


def vision_summary(items: dict, idx: np.ndarray) -> dict:
    """Logit SNR, top-1 agreement and KL with their bootstrap intervals (``idx``: :func:`bootstrap_indices`)."""
    s, e = items["signal"], items["error"]
    out = {"logit_snr_db": float(_snr_db(s, e)), "top1_agreement": float(items["agree"].mean()),
           "kl": float(items["kl"].mean())}  # fmt: skip
    out["ci_low"], out["ci_high"] = interval(_snr_db(s[idx], e[idx]))
    out["top1_ci_low"], out["top1_ci_high"] = interval(items["agree"][idx].mean(1))
    out["kl_ci_low"], out["kl_ci_high"] = interval(items["kl"][idx].mean(1))
    return out


def text_summary(items: dict, idx: np.ndarray) -> dict:
    """Mean cosine and retrieval agreement with their bootstrap intervals."""
    out = {"cosine": float(items["cosine"].mean()), "retrieval_agreement": float(items["agree"].mean())}
    out["ci_low"], out["ci_high"] = interval(items["cosine"][idx].mean(1))
    out["retrieval_ci_low"], out["retrieval_ci_high"] = interval(items["agree"][idx].mean(1))
    return out
