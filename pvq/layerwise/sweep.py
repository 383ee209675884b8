"""The per-layer comparison (paper §5, Figure 4): problems, sweep, cache and layer SNRs.

A layer's problem for output channel ``c``: the rows ``X`` its inputs produce on real
calibration data, its FP16-rounded weights ``w_c`` cut into chunks of at most ``chunk_size``
input dimensions (a depthwise kernel is one chunk), each chunk solved on its own by every
method at every comparison point (INT-b vs keeping ``⌊n·b/16⌋`` weights). Only the triangular
factor ``R`` of each chunk travels (``||X v|| = ||R v||``), so problems are small.

Layer SNR of a method: ``-10·log10(Σ error / Σ ||Xw||²)`` over the layer's channels and chunks.

The sweep goes through any ``concurrent.futures.Executor`` (a local process pool by
default; a Dask cluster's ``client.get_executor()`` when a scheduler is named) and caches the
result of each (chunk, comparison point) as a JSON file written atomically, so an interrupted
sweep resumes and a corrupt entry is recomputed. Under a build's core budget each chunk holds a
slot while it is solved (:func:`pvq.common.cores.core_slot`), a chunk found in the cache none.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..common.cores import core_slot
from ..common.files import atomic_write
from ..core.quantization import int_grid
from ..tensors.analysis import check_tensor
from ..tensors.clipping import SortedWeights, optimal_clip_tensor
from ..tensors.pretrained import build_model
from .budget import prune_curve
from .calibration import capture_inputs, layer_input_rows, sample_images, sample_text
from .prune import greedy_obs, keep_count, magnitude, scip_boxed_miqp, sparsegpt
from .quant import exact_quant, factor, gptq, obq, quant_objective, round_to_nearest, sdp_bounds

__all__ = [
    "DEFAULT_LAYERS",
    "SCIP_NODES",
    "Chunk",
    "calibrated_model",
    "layer_chunks",
    "run_sweep",
    "solve_chunk",
]

CACHE_VERSION = 2

#: Branch-and-bound nodes SCIP may use on one cross-check (a node limit, not a time limit, so the
#: result is the same on every run; every chunk of the book needs far fewer). Not in the cache
#: key: bump ``CACHE_VERSION`` when changing it.
SCIP_NODES = 20_000

#: Layers studied by default (the paper's MobileNetV2 layers, EfficientNet-Lite0 convolutions,
#: MiniLM attention and feed-forward projections).
DEFAULT_LAYERS: dict[str, tuple[str, ...]] = {
    "mobilenet_v2": ("features.8.conv.0.0", "features.8.conv.1.0", "features.11.conv.0.0", "features.11.conv.1.0"),
    "efficientnet_lite0": ("_blocks.5._depthwise_conv", "_blocks.5._project_conv", "_blocks.10._expand_conv"),
    "minilm_l6": (
        "encoder.layer.2.attention.self.query",
        "encoder.layer.2.attention.output.dense",
        "encoder.layer.5.intermediate.dense",
        "encoder.layer.5.output.dense",
    ),
}


@dataclass(frozen=True)
class Chunk:
    """One least-squares problem: a chunk of one output channel's weights and its input factor."""

    model: str
    layer: str
    channel: int
    index: int
    r: np.ndarray
    w: np.ndarray
    scales: tuple  # ((n_bits, scale), ...)

    @property
    def norm(self) -> float:
        """``||Xw||²``."""
        v = self.r @ self.w
        return float(v @ v)

    def key(self, n_bits, options: dict) -> str:
        """Content hash: what the chunk is, the comparison points and the solver options."""
        h = hashlib.sha256()
        h.update(json.dumps([CACHE_VERSION, self.model, self.layer, self.channel, self.index, list(n_bits),
                             sorted(options.items()), list(self.scales)], default=str).encode())  # fmt: skip
        h.update(np.ascontiguousarray(self.r).tobytes())
        h.update(np.ascontiguousarray(self.w).tobytes())
        return h.hexdigest()[:32]


def calibrated_model(model_name: str, *, n_inputs: int = 64, seed: int = 0):
    """A runnable model and its calibration batch: ``(model, batch, mask)``, the ``captured`` of :func:`layer_chunks`.

    MiniLM gets ``n_inputs`` text passages (``batch = (ids, mask)``, ``mask`` the attention mask), the
    vision models ``n_inputs`` photo crops (``batch = (images,)``, ``mask`` None), drawn with ``seed``.
    """
    model = build_model(model_name)
    if model_name == "minilm_l6":
        ids, mask = sample_text(n_inputs, seed=seed)
        return model, (ids, mask), mask
    return model, (sample_images(n_inputs, seed=seed),), None


def layer_chunks(
    model_name: str,
    layer: str,
    *,
    n_bits,
    n_inputs: int = 64,
    chunk_size: int = 32,
    max_channels: int | None = None,
    grid: str = "signed",
    seed: int = 0,
    max_chunks: int | None = None,
    captured=None,
) -> tuple[list[Chunk], dict]:
    """Build a layer's chunk problems from real inputs.

    Parameters
    ----------
    model_name : {'mobilenet_v2', 'efficientnet_lite0', 'minilm_l6'}
    layer : str
        Name of a conv/linear module.
    n_bits : sequence of int
        Comparison points; the per-tensor scale for each is the MSE-optimal clipping of the
        FP16-rounded weights (:func:`pvq.tensors.clipping.optimal_clip_tensor`).
    n_inputs : int
        Calibration images / text passages.
    chunk_size : int
        Largest number of input dimensions per problem (must be ≥ 1).
    max_channels : int, optional
        Use only the first ``max_channels`` output channels (evenly spread over groups).
    max_chunks : int, optional
        Keep this many chunks, evenly spaced over the layer's channels and positions (the
        paper's Figure 4 also studies a subset of each layer).
    captured : tuple, optional
        ``(model, inputs tensor, mask)`` to reuse a forward pass.

    Returns
    -------
    chunks : list of Chunk
    info : dict
        ``rows`` (rows of X), ``channels`` (used), ``dead_channels`` (``Xw = 0``, skipped),
        ``chunk_dims`` (sizes of the chunks).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if n_inputs < 8:
        raise ValueError(f"n_inputs must be >= 8 calibration inputs, got {n_inputs}")
    model, batch, mask = calibrated_model(model_name, n_inputs=n_inputs, seed=seed) if captured is None else captured
    inputs = capture_inputs(model, [layer], *batch)[layer]
    module = dict(model.named_modules())[layer]
    groups = layer_input_rows(module, inputs, mask=mask)
    weight = module.weight.detach().double().numpy().reshape(module.weight.shape[0], -1)
    weight = weight.astype(np.float16).astype(np.float64)
    sw = SortedWeights.build(check_tensor(weight, fp16=False)[0])
    scales = []
    for b in n_bits:
        _, q_max = int_grid(b, grid)
        scales.append((int(b), optimal_clip_tensor(sw, n_bits=b, grid=grid)[0] / max(q_max, 1)))
    per_group = None
    if max_channels is not None:
        per_group = max(1, math.ceil(max_channels / len(groups)))
    chunks, dead, used = [], 0, 0
    for x, channels in groups:
        chosen = channels if per_group is None else channels[:per_group]
        if max_channels is not None and len(groups) > max_channels:
            chosen = channels[:1]
        factors = {}
        for c in chosen:
            if max_channels is not None and used >= max_channels:
                break
            w = weight[c]
            if not np.any(x @ w):
                dead += 1
                continue
            used += 1
            for i, start in enumerate(range(0, w.size, chunk_size)):
                if start not in factors:
                    factors[start] = factor(x[:, start : start + chunk_size])
                chunks.append(Chunk(model_name, layer, int(c), i, factors[start], w[start : start + chunk_size].copy(),
                                    tuple(scales)))  # fmt: skip
        if max_channels is not None and used >= max_channels:
            break
    total = len(chunks)
    if max_chunks is not None and total > max_chunks:
        chunks = [chunks[i] for i in np.linspace(0, total - 1, max_chunks).round().astype(int)]
    info = {"rows": int(groups[0][0].shape[0]), "channels": used, "dead_channels": dead, "chunks_total": total,
            "chunk_dims": sorted({c.w.size for c in chunks})}  # fmt: skip
    return chunks, info


def solve_chunk(
    chunk: Chunk,
    n_bits,
    *,
    grid: str = "signed",
    quant_nodes: int = 200_000_000,
    prune_nodes: int = 50_000_000,
    sdp: bool = False,
    scip: bool = False,
) -> dict:
    """Every method on one chunk at every comparison point, and the chunk's exact pruning curve.

    Exact pruning comes from one :func:`pvq.layerwise.budget.prune_curve` per chunk (every
    ``k = 0..n``); the paper's per-chunk form reads it at ``k = ⌊n·b/16⌋``. With ``sdp``, both
    the paper's plain SDP bounds (``'SDP paper'``: no box cut, 1-opt then clamping) and the
    strengthened ones (``'SDP strengthened'``: box cut, box-aware 1-opt) run. With ``scip``, SCIP
    solves the paper's boxed MIQP within :data:`SCIP_NODES` nodes. Every search is bounded by a
    node count, never by time, so the rows are the same on every run (only ``seconds`` differs).

    Returns
    -------
    dict
        ``rows``: dicts ``model, layer, channel, chunk, n, n_bits, side, method, error,
        lower_bound, proven, seconds, norm`` (``side`` ``'quantization'`` or ``'pruning'``;
        the exact pruning rows carry the time of the whole curve); ``curve``: dicts ``model,
        layer, channel, chunk, n, kept, error, proven, norm, seconds`` for ``kept = 0..n``.
    """
    scales = dict(chunk.scales)
    rows = []
    r, w = chunk.r, chunk.w
    norm = chunk.norm
    ident = {"model": chunk.model, "layer": chunk.layer, "channel": chunk.channel, "chunk": chunk.index, "n": w.size}

    def add(b, side, method, error, lower=math.nan, proven=False, seconds=math.nan):
        rows.append({**ident, "n_bits": int(b), "side": side, "method": method, "error": float(error),
                     "lower_bound": float(lower), "proven": bool(proven), "seconds": float(seconds),
                     "norm": norm})  # fmt: skip

    t = time.perf_counter()
    pc = prune_curve(r, w, max_nodes=prune_nodes)
    curve_s = time.perf_counter() - t
    curve = [{**ident, "kept": k, "error": float(e), "proven": pc.proven, "norm": norm, "seconds": curve_s}
             for k, e in enumerate(pc.errors)]  # fmt: skip
    for b in n_bits:
        lo, hi = int_grid(b, grid)
        s = scales[int(b)]
        t = time.perf_counter()
        ex = exact_quant(None, w, s, lo, hi, r=r, max_nodes=quant_nodes)
        add(b, "quantization", "exact", ex.objective, ex.lower_bound, ex.proven, time.perf_counter() - t)
        add(b, "quantization", "round-to-nearest", quant_objective(r, w, s, round_to_nearest(w, s, lo, hi)))
        add(b, "quantization", "GPTQ", quant_objective(r, w, s, gptq(r, w, s, lo, hi, damp=0.01)))
        add(b, "quantization", "OBQ", quant_objective(r, w, s, obq(r, w, s, lo, hi, damp=0.01)))
        if sdp:
            for method, strong in (("SDP paper", False), ("SDP strengthened", True)):
                t = time.perf_counter()
                lower, upper = sdp_bounds(r, w, s, lo, hi, box_cut=strong, box_aware=strong)
                add(b, "quantization", method, upper.objective, lower, False, time.perf_counter() - t)
        k = keep_count(w.size, b)
        e = float(pc.errors[k])
        add(b, "pruning", "exact", e, e if pc.proven else math.nan, pc.proven, curve_s)
        add(b, "pruning", "magnitude", magnitude(r, w, k, refit=False).objective)
        add(b, "pruning", "magnitude + refit", magnitude(r, w, k, refit=True).objective)
        add(b, "pruning", "SparseGPT", sparsegpt(r, w, k, damp=0.01).objective)
        add(b, "pruning", "greedy OBS", greedy_obs(r, w, k).objective)
        if scip:
            t = time.perf_counter()
            sc = scip_boxed_miqp(r, w, k, node_limit=SCIP_NODES)
            add(b, "pruning", "SCIP boxed MIQP", sc.objective, sc.lower_bound, sc.proven, time.perf_counter() - t)
    return {"rows": rows, "curve": curve}


def _cached_solve(args) -> dict:
    chunk, n_bits, options, cache_dir = args
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{chunk.key(n_bits, options)}.json"
        if path.is_file():
            try:
                got = json.loads(path.read_text())
                if isinstance(got, dict) and got.get("rows") and got.get("curve"):
                    return got
            except (json.JSONDecodeError, UnicodeDecodeError):
                pass  # corrupt entry: recompute and overwrite
    with core_slot():  # under a build's core budget: one slot, one thread (a cache hit needs none)
        got = solve_chunk(chunk, n_bits, **options)
    if path is not None:
        atomic_write(path, lambda p: p.write_text(json.dumps(got)))
    return got


def run_sweep(
    chunks: Iterable[Chunk],
    n_bits,
    *,
    executor: Executor | None = None,
    cache_dir: Path | None = None,
    progress: bool = False,
    sdp_every: int = 0,
    scip_max_n: int = 0,
    **options,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Solve every chunk at every point (through ``executor``, or in this process) and stack the rows.

    One job and one cache entry per chunk (all points: the exact pruning curve serves them all).
    ``sdp_every = k`` runs the SDP bounds, plain and strengthened, on every k-th chunk (0: none;
    they cost up to ~0.5 s each at n = 32); the SCIP cross-check runs on those of them with at
    most ``scip_max_n`` weights (0: none; SCIP needs seconds to minutes at n = 32). Results are
    identical whatever the executor, and cached per chunk when ``cache_dir`` is given.

    Returns
    -------
    (results, curves) : (pandas.DataFrame, pandas.DataFrame)
        :func:`solve_chunk`'s ``rows`` and ``curve`` records of every chunk.
    """
    if sdp_every < 0:
        raise ValueError(f"sdp_every must be >= 0, got {sdp_every}")
    chunks = list(chunks)
    bits = [int(b) for b in n_bits]
    jobs = []
    for i, c in enumerate(chunks):
        sdp = bool(sdp_every) and i % sdp_every == 0
        opts = dict(options, sdp=sdp, scip=sdp and c.w.size <= scip_max_n)
        jobs.append((c, bits, opts, None if cache_dir is None else str(cache_dir)))
    results = executor.map(_cached_solve, jobs) if executor is not None else map(_cached_solve, jobs)
    rows, curves = [], []
    for part in tqdm(results, total=len(jobs), desc="chunks", disable=not progress):
        rows += part["rows"]
        curves += part["curve"]
    return pd.DataFrame(rows), pd.DataFrame(curves)
