"""Chapter 8's per-layer study: 2:4 pruning and FP4/NF4 levels solved exactly on chapter 4's chunks.

Each chunk of a layer (:func:`pvq.layerwise.sweep.layer_chunks`: real inputs, FP16-rounded
weights, at most 32 input dimensions) is solved by every method below
(:func:`solve_format_chunk`), in a process pool or in this process, one cached JSON file per
chunk (:func:`run_format_study`); :func:`format_layer_table` turns the errors into each layer's
SNR, ``-10·log10(Σ error / Σ ||Xw||²)``, with the share of chunks proven optimal.

- INT4 (the paper's grid, chapter 4's scale): round-to-nearest, GPTQ, the exact optimum;
- FP4 E2M1 and NF4, each with its MSE-optimal per-tensor scale of the layer's weights
  (:func:`pvq.formats.scales.optimal_level_scale`): round-to-nearest, GPTQ with the levels, the exact
  optimum (:func:`pvq.layerwise.formats_layer.exact_levels`);
- 2:4 sparsity, FP16 values: magnitude, magnitude with least-squares refit, SparseGPT 2:4 and
  the exact optimum with refit (:func:`pvq.layerwise.formats_layer.exact_nm`);
- unstructured pruning keeping as many weights as the 2:4 mask: the exact optimum of chapter 4
  (:func:`pvq.layerwise.prune.exact_prune`), which shows what the 2:4 pattern itself costs.

Bits per weight: 4 for the 4-bit formats (per-tensor scales), 9 for FP16 2:4 (NVIDIA's 2-bit
index per kept value), 16·½ + 1 = 9 for unstructured 50% with a bitmap.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..common.cores import core_slot
from ..common.executors import map_uncached
from ..common.files import atomic_write
from ..core.metrics import snr_db_from_mse
from ..formats.elements import element_format
from ..formats.scales import optimal_level_scale
from ..tensors.clipping import SortedWeights
from .formats_layer import exact_levels, exact_nm, gptq_levels, nearest_levels, nm_groups, nm_magnitude, sparsegpt_nm
from .prune import exact_prune
from .quant import exact_quant, gptq, quant_objective, round_to_nearest
from .sweep import Chunk, calibrated_model, layer_chunks

__all__ = [
    "FORMAT_METHODS",
    "format_layer_headlines",
    "format_layer_summary",
    "format_layer_table",
    "format_problems",
    "run_format_study",
    "solve_format_chunk",
]

#: (format, method) of every row, in the order of the tables, and each format's bits per weight.
FORMAT_METHODS: tuple[tuple[str, str], ...] = (
    ("int4", "round-to-nearest"),
    ("int4", "GPTQ"),
    ("int4", "exact"),
    ("fp4_e2m1", "round-to-nearest"),
    ("fp4_e2m1", "GPTQ"),
    ("fp4_e2m1", "exact"),
    ("nf4", "round-to-nearest"),
    ("nf4", "GPTQ"),
    ("nf4", "exact"),
    ("fp16_2:4", "magnitude"),
    ("fp16_2:4", "magnitude + refit"),
    ("fp16_2:4", "SparseGPT"),
    ("fp16_2:4", "exact"),
    ("fp16_u50_bitmap", "exact"),
)
_BITS = {"int4": 4.0, "fp4_e2m1": 4.0, "nf4": 4.0, "fp16_2:4": 9.0, "fp16_u50_bitmap": 9.0}
_LEVELS = ("fp4_e2m1", "nf4")
CACHE_VERSION = 1


def format_problems(
    layers: dict, *, n_inputs: int = 64, chunk_size: int = 32, max_chunks: int | None = None, seed: int = 0
) -> list[tuple[list[Chunk], dict[str, float]]]:
    """Each layer's chunks (with chapter 4's INT4 scale) and the per-tensor FP4/NF4 scales of its weights.

    Parameters
    ----------
    layers : dict
        ``{model: [layer, ...]}`` (runnable models: :func:`pvq.tensors.pretrained.build_model`); each
        model is built once, on ``n_inputs`` calibration inputs drawn with ``seed``.
    chunk_size : int
        At most this many input dimensions per chunk, a multiple of 4 so that the chunks hold whole
        2:4 groups.
    max_chunks : int, optional
        Chunks kept per layer, evenly spaced (:func:`pvq.layerwise.sweep.layer_chunks`).

    Returns
    -------
    list of (chunks, scales)
        Per layer: its chunks and ``{'fp4_e2m1': s, 'nf4': s}``, each element's MSE-optimal scale
        for the layer's FP16 weights.
    """
    if chunk_size % 4:
        raise ValueError(f"chunk_size must be a multiple of 4 (whole 2:4 groups), got {chunk_size}")
    out = []
    for model_name, names in layers.items():
        captured = calibrated_model(model_name, n_inputs=n_inputs, seed=seed)
        modules = dict(captured[0].named_modules())
        for layer in names:
            chunks, _ = layer_chunks(model_name, layer, n_bits=[4], n_inputs=n_inputs, chunk_size=chunk_size,
                                     max_chunks=max_chunks, seed=seed, captured=captured)  # fmt: skip
            weight = modules[layer].weight.detach().double().numpy().reshape(-1)
            sw = SortedWeights.build(weight.astype(np.float16))
            out.append((chunks, {name: optimal_level_scale(sw, element_format(name))[0] for name in _LEVELS}))
    return out


def solve_format_chunk(
    chunk: Chunk, scales: dict, *, quant_nodes: int = 50_000_000, prune_nodes: int = 5_000_000
) -> list[dict]:
    """Every (format, method) of :data:`FORMAT_METHODS` on one chunk.

    Returns
    -------
    list of dict
        Rows ``model, layer, channel, chunk, n, format, method, error, proven, seconds, norm``.
    """
    r, w = chunk.r, chunk.w
    rows = []

    def add(fmt, method, error, proven=False, seconds=math.nan):
        rows.append({"model": chunk.model, "layer": chunk.layer, "channel": chunk.channel, "chunk": chunk.index,
                     "n": int(w.size), "format": fmt, "method": method, "error": float(error), "proven": bool(proven),
                     "seconds": float(seconds), "norm": chunk.norm})  # fmt: skip

    s4 = dict(chunk.scales)[4]
    add("int4", "round-to-nearest", quant_objective(r, w, s4, round_to_nearest(w, s4, -8, 7)))
    add("int4", "GPTQ", quant_objective(r, w, s4, gptq(r, w, s4, -8, 7, damp=0.01)))
    t = time.perf_counter()
    ex = exact_quant(None, w, s4, -8, 7, r=r, max_nodes=quant_nodes)
    add("int4", "exact", ex.objective, ex.proven, time.perf_counter() - t)
    for name in _LEVELS:
        levels, s = element_format(name).levels, scales[name]

        def err(z, s=s):
            v = r @ (w - s * z)
            return float(v @ v)

        add(name, "round-to-nearest", err(nearest_levels(w / s, levels)))
        add(name, "GPTQ", err(gptq_levels(r, w, s, levels, damp=0.01)))
        t = time.perf_counter()
        lv = exact_levels(r, w, s, levels, max_nodes=quant_nodes)
        add(name, "exact", lv.objective, lv.proven, time.perf_counter() - t)
    add("fp16_2:4", "magnitude", nm_magnitude(r, w, 2, 4, refit=False).objective)
    add("fp16_2:4", "magnitude + refit", nm_magnitude(r, w, 2, 4, refit=True).objective)
    add("fp16_2:4", "SparseGPT", sparsegpt_nm(r, w, 2, 4, damp=0.01).objective)
    t = time.perf_counter()
    nm = exact_nm(r, w, 2, 4, max_nodes=prune_nodes)
    add("fp16_2:4", "exact", nm.objective, nm.proven, time.perf_counter() - t)
    t = time.perf_counter()
    kept = sum(k for _, _, k in nm_groups(w.size, 4, 2))  # as many as the 2:4 mask keeps
    un = exact_prune(r, w, kept, max_nodes=prune_nodes)
    add("fp16_u50_bitmap", "exact", un.objective, un.proven, time.perf_counter() - t)
    return rows


def _key(chunk: Chunk, scales: dict, options: dict) -> str:
    h = hashlib.sha256(json.dumps([CACHE_VERSION, chunk.key([4], options), sorted(scales.items())]).encode())
    return h.hexdigest()[:32]


def _cache_path(args) -> Path | None:
    chunk, scales, options, cache_dir = args
    return None if cache_dir is None else Path(cache_dir) / f"{_key(chunk, scales, options)}.json"


def _read_cached(path: Path | None) -> list[dict] | None:
    """A chunk's cached rows, or ``None`` when there are none (a corrupt entry is recomputed and overwritten)."""
    if path is None or not path.is_file():
        return None
    try:
        got = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return got if isinstance(got, list) and got else None


def _cached(args) -> list[dict]:
    chunk, scales, options, _ = args
    path = _cache_path(args)
    got = _read_cached(path)
    if got is not None:
        return got
    with core_slot():
        got = solve_format_chunk(chunk, scales, **options)
    if path is not None:
        atomic_write(path, lambda p: p.write_text(json.dumps(got)))
    return got


def run_format_study(problems, *, workers: int = 1, cache_dir: Path | None = None, progress: bool = False, **options):
    """Solve every chunk of every layer (``problems``: :func:`format_problems`) and stack the rows.

    One job and one cache entry (``cache_dir``, keyed by the chunk, the scales and the node budgets)
    per chunk; identical results whatever runs them. The chunks found in the cache are read here;
    the others are solved on ``workers`` local processes when there are enough of them to repay
    starting the workers, else in this process (:func:`pvq.common.executors.map_uncached`).

    Returns
    -------
    pandas.DataFrame
        :func:`solve_format_chunk`'s rows of every chunk.
    """
    cache = None if cache_dir is None else str(cache_dir)
    jobs = [(c, scales, options, cache) for chunks, scales in problems for c in chunks]
    found = [_read_cached(_cache_path(job)) for job in jobs]
    parts = map_uncached(_cached, jobs, found, workers=workers, desc="chunks", progress=progress)
    return pd.DataFrame([row for part in parts for row in part])


def format_layer_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Each layer's SNR per (format, method), its bits per weight, and the share of chunks proven optimal.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, layer, format, method, bits_per_weight, snr_db, chunks, proven_share``, in the
        order of :data:`FORMAT_METHODS`.
    """
    out = []
    for (model, layer), g in rows.groupby(["model", "layer"], sort=False):
        norm = float(g.drop_duplicates(["channel", "chunk"]).norm.sum())
        for fmt, method in FORMAT_METHODS:
            m = g[(g["format"] == fmt) & (g["method"] == method)]
            if m.empty:
                continue
            out.append({"model": model, "layer": layer, "format": fmt, "method": method, "bits_per_weight": _BITS[fmt],
                        "snr_db": float(snr_db_from_mse(norm, m.error.sum())), "chunks": len(m),
                        "proven_share": float(m.proven.mean()) if method == "exact" else math.nan})  # fmt: skip
    return pd.DataFrame(out)


def format_layer_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Over the layers of :func:`format_layer_table`: each (format, method)'s bits per weight, mean, lowest
    and highest layer SNR, and the share of its chunks proven optimal (exact methods).

    Returns
    -------
    pandas.DataFrame
        Columns ``format, method, bits_per_weight, mean_snr_db, min_snr_db, max_snr_db, proven_share``.
    """
    rows = []
    for fmt, method in FORMAT_METHODS:
        g = table[(table["format"] == fmt) & (table["method"] == method)]
        if g.empty:
            continue
        proven = float(np.average(g.proven_share, weights=g.chunks)) if method == "exact" else math.nan
        rows.append({"format": fmt, "method": method, "bits_per_weight": _BITS[fmt], "mean_snr_db": g.snr_db.mean(),
                     "min_snr_db": g.snr_db.min(), "max_snr_db": g.snr_db.max(), "proven_share": proven})  # fmt: skip
    return pd.DataFrame(rows)


def format_layer_headlines(table: pd.DataFrame) -> dict:
    """Numbers chapter 8 states from :func:`format_layer_table`: layers, chunks proven, and on how many
    layers each exact optimum beats another."""
    exact = table[table["method"] == "exact"].pivot_table(index=["model", "layer"], columns="format", values="snr_db")
    n = len(exact)

    def beats(a, b):
        return int((exact[a] > exact[b]).sum()) if {a, b} <= set(exact.columns) else 0

    ex = table[table["method"] == "exact"]
    return {
        "layer-count": n,
        "layer-proven": float(100 * np.average(ex.proven_share, weights=ex.chunks)) if len(ex) else math.nan,
        "fp4-beats-int4": beats("fp4_e2m1", "int4"),
        "nf4-beats-int4": beats("nf4", "int4"),
        "nf4-beats-fp4": beats("nf4", "fp4_e2m1"),
        "two-four-beats-int4": beats("fp16_2:4", "int4"),
        "two-four-gap-db": float((exact["fp16_u50_bitmap"] - exact["fp16_2:4"]).mean()) if n else math.nan,
    }
