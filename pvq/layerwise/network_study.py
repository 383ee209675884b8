"""Chapter 9's study: every network at every point, its fidelity to the original, and the verdicts.

One job per (network, method, point) compresses a fresh copy of the network
(:func:`pvq.layerwise.network.compress_network`) and measures it against the FP32 network on the
held-out inputs (:mod:`pvq.layerwise.fidelity`). Jobs run on chapter 4's executor (local
processes or Dask, :func:`pvq.common.executors.make_executor`) and each result is cached under a
hash of everything it depends on (the checkpoint's bytes, the point, the sizes and seed, and the
source of the modules that compute it), so an interrupted run resumes where it stopped and a
changed method is never read from a stale cache.
"""

from __future__ import annotations

import functools
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
from ..common.malloc import retain_freed_memory
from ..formats.catalog import parse_format
from ..tensors.checkpoints import resolve
from ..tensors.clipping import SortedWeights, optimal_clip_tensor
from ..tensors.pretrained import build_model
from . import calibration, fidelity, network, network_methods
from .network import compress_network
from .network_methods import METHODS

__all__ = [
    "FLOOR_JOB",
    "LAYER_GROUPS",
    "NETWORKS",
    "NETWORK_FORMATS",
    "PAIRED_METHODS",
    "diagnosis_runs",
    "eval_size",
    "evaluate_point",
    "fidelity_table",
    "gptq_diagnosis",
    "group_clipping",
    "largest_layer_inputs",
    "network_points",
    "network_verdicts",
    "noise_floor",
    "run_network_study",
]

#: The runnable networks and the kind of their outputs.
NETWORKS = {"mobilenet_v2": "vision", "efficientnet_lite0": "vision", "minilm_l6": "text"}
#: Methods compared at every paired point INT-b / sparsity 1 − b/16.
PAIRED_METHODS = ("rtn", "gptq", "magnitude", "magnitude_ls", "sparsegpt")
#: Methods of the formats of chapter 8, each at its own bits per weight. The best method each format has here
#: (data-free for the block formats); ``fp4_rtn`` and ``two_four_magnitude`` can be asked for too.
NETWORK_FORMATS = ("fp4_gptq", "nf4_b64", "mxfp4", "two_four_sparsegpt")


def network_points(n_bits, methods=PAIRED_METHODS, format_methods=NETWORK_FORMATS, *,
                   names=("methods", "format_methods")) -> list[tuple[str, int | None]]:  # fmt: skip
    """``(method, n_bits)`` of the study: each paired method at each bit-width, each format method once (``None``).

    Raises
    ------
    ValueError
        An unknown method, a format's method among ``methods`` or a paired one among ``format_methods``
        (the message names the argument by ``names``).
    """
    for name, given in zip(names, (methods, format_methods), strict=True):
        for m in given:
            if not isinstance(m, str) or m not in METHODS:
                raise ValueError(f"unknown method {m!r} in {name}; known: {', '.join(METHODS)}")
    for m in methods:
        if METHODS[m].fmt is not None:
            raise ValueError(f"{m!r} is a format's method (its own bits per weight): list it in {names[1]}")
    for m in format_methods:
        if METHODS[m].fmt is None:
            raise ValueError(f"{m!r} is a paired method (INT-b or sparsity 1 - b/16): list it in {names[0]}")
    return [(m, int(b)) for b in n_bits for m in methods] + [(m, None) for m in format_methods]


@functools.lru_cache(maxsize=4)
def _setup(model_name: str, n_calibration: int, n_eval: int, seed: int):
    """Calibration batch, held-out inputs and the FP32 network's outputs on them (once per worker and network)."""
    retain_freed_memory()  # the jobs allocate and free large activations over and over (pvq.common.malloc)
    model = build_model(model_name)
    if NETWORKS[model_name] == "text":
        ids, mask = calibration.sample_text(n_calibration, seed=seed, part="calibration", max_tokens=64)
        (e_ids, e_mask), (s_ids, s_mask) = fidelity.held_out_paragraphs(n_eval, seed=seed, max_tokens=64)
        batch, held, second = (ids, mask), (e_ids, e_mask), (s_ids, s_mask)
        groups = np.arange(n_eval)  # each paragraph its own group: resampled one by one
    else:
        photos = tuple(p for p in calibration.IMAGE_NAMES if p not in calibration.HELD_OUT_PHOTOS)
        batch, mask = (calibration.sample_images(n_calibration, seed=seed, photos=photos),), None
        first, again, groups = fidelity.held_out_crops(n_eval, seed=seed)
        held, second = (first,), (again,)
    reference = _outputs(model_name, model, held)
    floor = _items(model_name, reference, _outputs(model_name, model, second), second=True)
    bn = network.batch_norm_reference(model_name, model, batch, mask)
    return {"batch": batch, "mask": mask, "held": held, "groups": groups, "reference": reference, "floor": floor,
            "bn": bn}  # fmt: skip


def _outputs(model_name: str, model, inputs) -> np.ndarray:
    import torch

    with torch.no_grad():
        if NETWORKS[model_name] == "text":
            return fidelity.embed(model(*inputs), inputs[1])
        # channels-last crops, 16 at a time: the depthwise convolutions run 1.7-2x faster on a CPU (same logits
        # to float rounding)
        parts = [model(part.contiguous(memory_format=torch.channels_last)) for part in inputs[0].split(16)]
        return torch.cat(parts).double().numpy()


def _items(model_name: str, reference, outputs, *, second: bool = False) -> dict:
    if NETWORKS[model_name] == "text":
        if second:
            return fidelity.text_items(reference, reference, queries=outputs)
        return fidelity.text_items(reference, outputs)
    return fidelity.vision_items(reference, outputs)


#: Kinds of layer a diagnosis treats apart from the rest, by layer name (MiniLM's feed-forward output layers).
LAYER_GROUPS = {"ffn_out": lambda name: name.endswith(".output.dense") and ".attention." not in name}


def _variant(method: str):
    """``(method, layer_method)`` of a job's method: ``'gptq+rtn@ffn_out'`` is GPTQ on every layer but
    round-to-nearest on the layers of :data:`LAYER_GROUPS` ``'ffn_out'`` (``layer_method`` ``None``: one method)."""
    if "+" not in method:
        return method, None
    base, _, rest = method.partition("+")
    other, _, group = rest.partition("@")
    if group not in LAYER_GROUPS or base not in METHODS or other not in METHODS:
        raise ValueError(f"not a method or a method+other@group: {method!r} (groups: {', '.join(LAYER_GROUPS)})")
    pick = LAYER_GROUPS[group]
    return base, lambda name: other if pick(name) else base


def _bits(method: str, n_bits: int | None) -> tuple[float, float]:
    """``(bits per compressed weight, sparsity)`` of a point."""
    spec = METHODS[_variant(method)[0]]
    if spec.fmt is not None:
        fmt = parse_format(spec.fmt)
        return fmt.nominal_bits, (1 - fmt.keep[0] / fmt.keep[1]) if fmt.keep else 0.0
    return float(n_bits), (1 - n_bits / 16) if spec.side == "pruning" else 0.0


def evaluate_point(model_name: str, method: str, n_bits: int | None, *, n_calibration: int, n_eval: int,
                   seed: int = 0) -> dict:  # fmt: skip
    """Compress one network at one point and measure it (see the module docstring).

    Returns
    -------
    dict
        ``model, method, n_bits, bits, sparsity, network_bits`` (the first layer and classifier
        counted at 16 bits), ``items`` (the per-crop or per-paragraph measures,
        :func:`pvq.layerwise.fidelity.vision_items` / ``text_items``), ``layer_snr_db`` (each compressed
        layer on its sequential calibration inputs) and ``seconds``.
    """
    started = time.perf_counter()
    s = _setup(model_name, n_calibration, n_eval, seed)
    model = build_model(model_name)
    base, layer_method = _variant(method)
    info = compress_network(model_name, model, s["batch"], s["mask"], base, 16 if n_bits is None else n_bits,
                            bn_reference=s["bn"], layer_method=layer_method)  # fmt: skip
    items = _items(model_name, s["reference"], _outputs(model_name, model, s["held"]))
    bits, sparsity = _bits(method, n_bits)
    total = info["numel"] + info["kept_numel"]
    return {
        "model": model_name, "method": method, "n_bits": n_bits, "bits": bits, "sparsity": sparsity,
        "network_bits": (bits * info["numel"] + 16 * info["kept_numel"]) / total, "groups": s["groups"].tolist(),
        "items": {k: v.tolist() for k, v in items.items()},
        "layer_snr_db": {k: (None if not math.isfinite(v) else v) for k, v in info["layer_snr_db"].items()},
        "seconds": time.perf_counter() - started,
    }  # fmt: skip


#: The job that measures a network's noise floor (:func:`noise_floor`) beside its points.
FLOOR_JOB = "noise_floor"


def noise_floor(model_name: str, *, n_calibration: int, n_eval: int, seed: int = 0,
                cache_dir: Path | None = None) -> dict:  # fmt: skip
    """The FP32 network against itself on the second crops / shifted paragraphs: ``items`` and ``groups``.

    Read from ``cache_dir`` when :func:`run_network_study` measured it there (one of its jobs: the
    worker that prepares the network's data has the floor at hand), else measured here.
    """
    job = (model_name, FLOOR_JOB, None, n_calibration, n_eval, seed)
    got = _read(None if cache_dir is None else Path(cache_dir) / f"{_key(job)}.json")
    return got if got is not None else _floor(model_name, n_calibration, n_eval, seed)


def _floor(model_name: str, n_calibration: int, n_eval: int, seed: int) -> dict:
    s = _setup(model_name, n_calibration, n_eval, seed)
    return {"model": model_name, "items": {k: np.asarray(v).tolist() for k, v in s["floor"].items()},
            "groups": np.asarray(s["groups"]).tolist()}  # fmt: skip


@functools.lru_cache(maxsize=8)
def _file_hash(path: str) -> str:
    h = hashlib.sha256()
    p = Path(path)
    for f in sorted(p.parent.rglob("*")) if p.is_dir() else [p]:
        if f.is_file():
            h.update(f.read_bytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def _source_hash() -> str:
    h = hashlib.sha256()
    for mod in (network, network_methods, fidelity, calibration):
        h.update(Path(mod.__file__).read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()


def _key(job) -> str:
    model_name, method, n_bits, n_calibration, n_eval, seed = job
    parts = [model_name, _file_hash(str(resolve(model_name).path)), method, n_bits, n_calibration, n_eval, seed]
    return hashlib.sha256(json.dumps([*parts, _source_hash()]).encode()).hexdigest()[:32]


def _read(path: Path | None):
    if path is None or not path.is_file():
        return None
    try:
        got = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # a corrupt entry is recomputed and overwritten
    return got if isinstance(got, dict) and "items" in got else None


def _job(args) -> dict:
    job, cache_dir = args
    path = None if cache_dir is None else Path(cache_dir) / f"{_key(job)}.json"
    got = _read(path)
    if got is not None:
        return got
    model_name, method, n_bits, n_calibration, n_eval, seed = job
    with core_slot():
        if method == FLOOR_JOB:
            got = _floor(model_name, n_calibration, n_eval, seed)
        else:
            got = evaluate_point(model_name, method, n_bits, n_calibration=n_calibration, n_eval=n_eval, seed=seed)
    if path is not None:
        atomic_write(path, lambda p: p.write_text(json.dumps(got)))
    return got


def eval_size(model_name: str, crops_per_photo: int, n_paragraphs: int) -> int:
    """What ``n_eval`` means for a network: crops per held-out photo (vision) or held-out paragraphs (text)."""
    return n_paragraphs if NETWORKS[model_name] == "text" else crops_per_photo


def run_network_study(models, points, *, n_calibration: int, crops_per_photo: int, n_paragraphs: int,
                      seed: int = 0, workers: int = 1, dask_scheduler: str | None = None,
                      cache_dir: Path | None = None, progress: bool = False, extra_runs=()) -> list[dict]:  # fmt: skip
    """:func:`evaluate_point` for every network of ``models`` at every ``(method, n_bits)`` of ``points``.

    Cached results are read here; the others run on ``workers`` local processes or the Dask
    scheduler when there are enough of them to repay starting the workers (each prepares a
    network's data and FP32 outputs once), else in this process
    (:func:`pvq.common.executors.map_uncached`). Results come back in the order of ``models`` then
    ``points``. Each network's noise floor is measured among the jobs and cached beside them (read
    back by :func:`noise_floor` with the same ``cache_dir``), and so are ``extra_runs``,
    ``(network, method, n_bits, n_calibration)`` each (:func:`diagnosis_runs`: read back by
    :func:`gptq_diagnosis`), so that they share the workers instead of running after the study
    (without a ``cache_dir`` there is nowhere to read them back from: they are not run).
    """
    for m in models:
        if m not in NETWORKS:
            raise ValueError(f"no runnable network {m!r}; chapter 9 runs: {', '.join(NETWORKS)}")
    cache = None if cache_dir is None else str(cache_dir)
    floors = [] if cache_dir is None else [(FLOOR_JOB, None)]
    jobs = [((m, meth, b, n_calibration, eval_size(m, crops_per_photo, n_paragraphs), seed), cache)
            for m in models for meth, b in [*points, *floors]]  # fmt: skip
    # the extra runs first: the 4x-calibration run is among the longest
    extra = [((m, meth, b, n_cal, eval_size(m, crops_per_photo, n_paragraphs), seed), cache)
             for m, meth, b, n_cal in (extra_runs if cache_dir is not None else ())]  # fmt: skip
    jobs = extra + jobs
    found = [_read(None if cache_dir is None else Path(cache_dir) / f"{_key(j)}.json") for j, _ in jobs]
    got = map_uncached(_job, jobs, found, workers=workers, scheduler=dask_scheduler, desc="networks",
                       progress=progress)  # fmt: skip
    study = zip(jobs[len(extra) :], got[len(extra) :], strict=True)
    return [r for (job, _), r in study if job[1] != FLOOR_JOB]


def _summary(kind: str, items: dict, idx: np.ndarray) -> dict:
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in items.items()}
    return fidelity.text_summary(arrays, idx) if kind == "text" else fidelity.vision_summary(arrays, idx)


def fidelity_table(results: list[dict], floors: list[dict], *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per network and point (and the noise floor of each network), with bootstrap intervals.

    Returns
    -------
    pandas.DataFrame
        ``model, method, side, n_bits, sparsity, bits_per_weight, network_bits_per_weight``, then the
        vision measures ``logit_snr_db, top1_agreement, kl`` or the text ones ``cosine,
        retrieval_agreement``; ``ci_low, ci_high`` bound the first of them (logit SNR or cosine),
        ``top1_ci_*``/``kl_ci_*``/``retrieval_ci_*`` the others; ``mean_layer_snr_db``; ``seconds``.
    """
    rows = []
    for f in floors:
        idx = fidelity.bootstrap_indices(f["groups"], n_boot, seed=seed)
        rows.append({"model": f["model"], "method": "FP32, second crop (noise floor)", "side": "reference",
                     "n_bits": 32, "sparsity": 0.0, "bits_per_weight": 32.0, "network_bits_per_weight": 32.0,
                     **_summary(NETWORKS[f["model"]], f["items"], idx)})  # fmt: skip
    for r in results:
        idx = fidelity.bootstrap_indices(r["groups"], n_boot, seed=seed)
        spec = METHODS[r["method"]]
        layer = [v for v in r["layer_snr_db"].values() if v is not None]
        rows.append({"model": r["model"], "method": spec.name, "side": spec.side,
                     "n_bits": r["n_bits"] if r["n_bits"] is not None else math.nan, "sparsity": r["sparsity"],
                     "bits_per_weight": r["bits"], "network_bits_per_weight": r["network_bits"],
                     **_summary(NETWORKS[r["model"]], r["items"], idx),
                     "mean_layer_snr_db": float(np.mean(layer)) if layer else math.nan,
                     "seconds": r["seconds"]})  # fmt: skip
    return pd.DataFrame(rows)


def network_verdicts(results: list[dict], *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per network and paired bit-width: the best quantization method against the best pruning method.

    "Best" is by the point estimate of the primary measure (logit SNR for vision, cosine for text);
    the difference (quantization − pruning) gets a paired bootstrap interval (the same resampled
    crops or paragraphs for both). ``winner`` is the side whose interval excludes zero, else ``tie``.

    Returns
    -------
    pandas.DataFrame
        ``model, n_bits, quantization, pruning`` (the best methods), ``quant_value, prune_value,
        difference, diff_ci_low, diff_ci_high, winner``.
    """
    rows = []
    for model in dict.fromkeys(r["model"] for r in results):
        kind = NETWORKS[model]
        paired = [r for r in results if r["model"] == model and r["n_bits"] is not None]
        for b in sorted({r["n_bits"] for r in paired}):
            at = [r for r in paired if r["n_bits"] == b]
            idx = fidelity.bootstrap_indices(at[0]["groups"], n_boot, seed=seed)
            best = {}
            for side in ("quantization", "pruning"):
                cands = [r for r in at if METHODS[r["method"]].side == side]
                if cands:
                    best[side] = max(cands, key=lambda r: _primary(kind, r["items"], None))
            if len(best) < 2:
                continue
            q, p = best["quantization"], best["pruning"]
            diff = _primary(kind, q["items"], idx) - _primary(kind, p["items"], idx)
            lo, hi = fidelity.interval(diff)
            dq, dp = _primary(kind, q["items"], None), _primary(kind, p["items"], None)
            winner = "quantization" if lo > 0 else "pruning" if hi < 0 else "tie"
            rows.append({"model": model, "n_bits": b, "quantization": METHODS[q["method"]].name,
                         "pruning": METHODS[p["method"]].name, "quant_value": dq, "prune_value": dp,
                         "difference": dq - dp, "diff_ci_low": lo, "diff_ci_high": hi, "winner": winner})  # fmt: skip
    return pd.DataFrame(rows)


def _primary(kind: str, items: dict, idx: np.ndarray | None):
    """Logit SNR (dB) or mean cosine, on all items or on each bootstrap resample ``idx``."""
    if kind == "text":
        cos = np.asarray(items["cosine"], dtype=np.float64)
        return float(cos.mean()) if idx is None else cos[idx].mean(1)
    s, e = np.asarray(items["signal"], dtype=np.float64), np.asarray(items["error"], dtype=np.float64)
    if idx is None:
        return float(10 * np.log10(s.sum() / e.sum())) if e.sum() > 0 else math.inf
    with np.errstate(divide="ignore"):
        return 10 * np.log10(s[idx].sum(1) / e[idx].sum(1))


def _diagnosis(n_calibration: int, more_calibration: int) -> list[tuple[str, str, int]]:
    """``(what was done, method, n_calibration)`` of each run of :func:`gptq_diagnosis`."""
    return [
        ("round-to-nearest on every layer", "rtn", n_calibration),
        ("GPTQ on every layer", "gptq", n_calibration),
        ("GPTQ, round-to-nearest on the feed-forward output layers", "gptq+rtn@ffn_out", n_calibration),
        ("round-to-nearest, GPTQ on the feed-forward output layers", "rtn+gptq@ffn_out", n_calibration),
        (f"GPTQ on every layer, {more_calibration}x the calibration data", "gptq", more_calibration * n_calibration),
    ]


def diagnosis_runs(model_name: str, n_bits: int, n_calibration: int, more_calibration: int = 4) -> list[tuple]:
    """The runs of :func:`gptq_diagnosis` as ``extra_runs`` of :func:`run_network_study`."""
    return [(model_name, method, n_bits, n_cal) for _, method, n_cal in _diagnosis(n_calibration, more_calibration)]


def gptq_diagnosis(model_name: str, n_bits: int, *, n_calibration: int, n_paragraphs: int, crops_per_photo: int,
                   seed: int = 0, n_boot: int = 1000, workers: int = 1, dask_scheduler: str | None = None,
                   cache_dir: Path | None = None, more_calibration: int = 4) -> pd.DataFrame:  # fmt: skip
    """Where GPTQ loses to round-to-nearest on a network: the same point with the methods swapped on one kind of
    layer (:data:`LAYER_GROUPS` ``'ffn_out'``) and with ``more_calibration`` times the calibration data.

    Five runs, as jobs of :func:`run_network_study` (cached alike): round-to-nearest everywhere, GPTQ
    everywhere, GPTQ but round-to-nearest on the group, round-to-nearest but GPTQ on the group, and
    GPTQ on a calibration batch ``more_calibration`` times larger. If swapping the group moves the
    fidelity from one method's to the other's, the group is where GPTQ goes wrong; if more data
    does not help, the cause is not a calibration set too small for the layers.

    Returns
    -------
    pandas.DataFrame
        One row per run: ``run`` (what was done), ``method`` (the job's method), ``n_calibration``,
        the primary fidelity measure (``cosine`` for text, ``logit_snr_db`` for vision) with
        ``ci_low, ci_high`` (bootstrap), and ``group_layer_snr_db``, the mean SNR of the group's layers
        on their calibration inputs (NaN where no layer was measured: round-to-nearest alone needs no data).
    """
    runs = _diagnosis(n_calibration, more_calibration)
    n_eval = eval_size(model_name, crops_per_photo, n_paragraphs)
    cache = None if cache_dir is None else str(cache_dir)
    jobs = [((model_name, method, n_bits, n_cal, n_eval, seed), cache) for _, method, n_cal in runs]
    found = [_read(None if cache_dir is None else Path(cache_dir) / f"{_key(j)}.json") for j, _ in jobs]
    got = map_uncached(_job, jobs, found, workers=workers, scheduler=dask_scheduler, desc="diagnosis")
    kind = NETWORKS[model_name]
    pick = LAYER_GROUPS["ffn_out"]
    rows = []
    for (label, method, n_cal), r in zip(runs, got, strict=True):
        idx = fidelity.bootstrap_indices(r["groups"], n_boot, seed=seed)
        summary = _summary(kind, r["items"], idx)
        group = [v for k, v in r["layer_snr_db"].items() if pick(k) and v is not None and math.isfinite(v)]
        primary = "cosine" if kind == "text" else "logit_snr_db"
        rows.append({"run": label, "method": method, "n_calibration": n_cal, primary: summary[primary],
                     "ci_low": summary["ci_low"], "ci_high": summary["ci_high"],
                     "group_layer_snr_db": float(np.mean(group)) if group else math.nan})  # fmt: skip
    return pd.DataFrame(rows)


def group_clipping(model_name: str, n_bits: int, group: str = "ffn_out") -> pd.DataFrame:
    """The layers of a :data:`LAYER_GROUPS` group under INT-``n_bits`` with the MSE-optimal per-tensor scale: how far
    the clipping point lies below the largest weight.

    Returns
    -------
    pandas.DataFrame
        ``layer, max_abs_weight, clip_at`` (the largest magnitude the grid represents),
        ``clipped_share`` (weights beyond it) and ``clipped_energy_share`` (their share of ``Σ w²``).
    """
    pick = LAYER_GROUPS[group]
    rows = []
    for name, module in build_model(model_name).named_modules():
        if not pick(name) or not hasattr(module, "weight"):
            continue
        w = module.weight.detach().double().numpy().reshape(-1).astype(np.float16).astype(np.float64)
        clip = float(optimal_clip_tensor(SortedWeights.build(w), n_bits=n_bits)[0])
        beyond = np.abs(w) > clip
        rows.append({"layer": name, "max_abs_weight": float(np.abs(w).max()), "clip_at": clip,
                     "clipped_share": float(beyond.mean()),
                     "clipped_energy_share": float(np.sum(w[beyond] ** 2) / np.sum(w**2))})  # fmt: skip
    return pd.DataFrame(rows)


def largest_layer_inputs(models) -> int:
    """The most inputs a convolution or linear layer of ``models`` has per output (``in/groups · kh · kw``, or
    ``in_features``): the size of the largest ``H`` a layer's solve factorises."""
    import torch.nn as nn

    layers = [m for name in models for m in build_model(name).modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    sizes = [m.in_features if isinstance(m, nn.Linear) else m.in_channels // m.groups * math.prod(m.kernel_size)
             for m in layers]  # fmt: skip
    return max(sizes)
