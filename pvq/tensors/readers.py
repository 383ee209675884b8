"""Reading one checkpoint file, one tensor at a time: torch, safetensors, ONNX (paper §4).

:func:`torch_state_dict` finds the weights wherever a torch training checkpoint nests them
(:func:`weights_entry`: the largest mapping of named tensors, never the optimizer state; the
``module.``/``_orig_mod.`` prefixes of wrapped models removed), memory-mapping zip files;
:func:`read_state_dict`, :func:`read_safetensors` and :func:`read_onnx` yield the layer weights
(:func:`is_layer_weight`) one at a time, each read only when it is asked for: safetensors tensors
from their offsets, torch tensors as views of the mapped file (their pages given back after use,
:mod:`pvq.tensors.mapped`), ONNX external data per initializer. Every file read is recorded for
the book's freshness check (:func:`pvq.common.inputs.record_input`: native readers bypass Python's
``open``). :mod:`pvq.tensors.checkpoints` resolves sources to these files.
"""

from __future__ import annotations

import json
import math
import re
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..common.inputs import record_input
from .mapped import mapped_ranges, release_pages

__all__ = [
    "CheckpointError",
    "is_layer_weight",
    "read_onnx",
    "read_safetensors",
    "read_state_dict",
    "torch_state_dict",
    "weights_entry",
]


class CheckpointError(ValueError):
    """A file that cannot be read as a checkpoint, or that holds no layer weights."""


#: Entries of a checkpoint that hold training state, never the weights (:func:`weights_entry` skips them).
_TRAINING_STATE = ("optim", "scheduler", "scaler", "grad_scaler")
#: Prefixes that wrappers add to every weight name (DataParallel, torch.compile), removed on loading.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
_ONNX_WEIGHT_INPUTS = {"Conv": (1,), "ConvTranspose": (1,), "Gemm": (0, 1), "MatMul": (0, 1), "LSTM": (1, 2),
                       "GRU": (1, 2), "RNN": (1, 2)}  # fmt: skip


def is_layer_weight(name: str, shape: tuple, floating: bool = True) -> bool:
    """Whether a state-dict entry is a convolution / linear / recurrent layer's weight."""
    last = name.rsplit(".", 1)[-1]
    return floating and len(shape) >= 2 and last.startswith("weight") and "embed" not in name.lower()


def _tensor_mappings(obj, entry: str = "", depth: int = 0) -> Iterator[tuple[str, dict]]:
    """Every mapping of named tensors nested in ``obj`` (at most 4 levels), as ``(entry path, mapping)``."""
    import torch

    if not isinstance(obj, dict) or depth > 4:
        return
    if any(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        yield entry, obj
    for k, v in obj.items():
        if isinstance(k, str) and isinstance(v, dict) and not any(w in k.lower() for w in _TRAINING_STATE):
            yield from _tensor_mappings(v, f"{entry}/{k}" if entry else k, depth + 1)


def _size(sd: dict) -> tuple[int, int]:
    """``(tensors, values)`` of a mapping: how many named tensors it holds and their total size."""
    import torch

    tensors = [v for v in sd.values() if isinstance(v, torch.Tensor)]
    return len(tensors), sum(t.numel() for t in tensors)


def _describe(entry: str, sd: dict) -> str:
    count, values = _size(sd)
    return f"{entry or '(top level)'!r} ({count} tensors, {values:,} values)"


def weights_entry(obj, key: str | None = None, *, name: str = "checkpoint") -> tuple[str, dict]:
    """Find the weights in a loaded torch checkpoint, wherever it nests them.

    Checkpoints keep their weights at the top level or under ``state_dict``, ``model``,
    ``model_state``, ``model_state_dict``, ``net``, ``ema``…, often beside the optimizer state.
    The weights are the **largest** mapping of named tensors (by number of values) found up to
    four levels down; entries that hold training state (names containing ``optim``,
    ``scheduler``, ``scaler``) are never searched. Wrapper prefixes (``module.``,
    ``_orig_mod.``) shared by every name are removed.

    Parameters
    ----------
    obj : object
        What ``torch.load`` returned.
    key : str, optional
        The entry to use, as a ``/``-separated path (``'model_state'``, ``'checkpoint/ema'``;
        ``''``: the top level); by default the largest.
    name : str
        The file's name, for messages.

    Returns
    -------
    (entry, state_dict) : (str, dict)

    Raises
    ------
    CheckpointError
        No mapping of named tensors; ``key`` not among them; or two largest entries of the same
        size and names (e.g. ``model`` and ``ema``), where only the user can choose: the message
        lists the candidates and says to pass ``--key``.
    """
    found = list(_tensor_mappings(obj))
    if not found:
        raise CheckpointError(f"{name}: holds no mapping of named tensors (optimizer state is never used as weights)")
    listed = "; ".join(_describe(e, sd) for e, sd in found)
    if key is not None:
        match = [(e, sd) for e, sd in found if e == key.strip("/")]
        if not match:
            raise CheckpointError(f"{name}: no entry {key!r} with tensors; the candidates are {listed}")
        entry, sd = match[0]
    else:
        found.sort(key=lambda item: -_size(item[1])[1])
        entry, sd = found[0]
        if any(_size(other)[1] == _size(sd)[1] and set(other) == set(sd) for _, other in found[1:]):
            raise CheckpointError(
                f"{name}: several entries hold the same weights ({listed}); choose one with --key "
                f"(e.g. --key {entry or repr('')})"
            )
    names = [k for k in sd if isinstance(k, str)]
    for prefix in _WRAPPER_PREFIXES:
        if names and all(k.startswith(prefix) for k in names):
            sd = {k[len(prefix) :]: v for k, v in sd.items()}
            names = list(sd)
    return entry, sd


def torch_state_dict(path: Path, key: str | None = None) -> tuple[str, dict]:
    """``(entry, state dict)`` of a torch file: :func:`weights_entry` of what ``torch.load`` reads.

    Loaded with ``weights_only=True`` (a checkpoint's code is never run) and memory-mapped when the
    file is a zip archive (tensors are read from the file when used).

    Raises
    ------
    CheckpointError
        The file cannot be loaded (one line saying why), or holds no weights.
    """
    import torch

    record_input(path)

    try:
        with warnings.catch_warnings():  # torch warns before failing on foreign pickles; the error says it
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as err:
        raise CheckpointError(f"{path.name}: cannot be read as a torch checkpoint: {_load_failure(err)}") from None
    return weights_entry(obj, key, name=path.name)


def _load_failure(err: Exception) -> str:
    """Why ``torch.load(..., weights_only=True)`` failed, in one line, and what would be read."""
    text = " ".join(str(err).split())
    found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if found:
        return (
            f"it holds a pickled {found.group(1)} object, and pvq never runs a checkpoint's code "
            "(weights_only); save the weights alone: torch.save(model.state_dict(), path)"
        )
    if "PytorchStreamReader failed" in text:
        return f"its zip archive is damaged (cut short or corrupted: {text.split('. ')[0]})"
    if isinstance(err, EOFError) or "Ran out of input" in text:
        return "the file is empty or cut short"
    if "Weights only load failed" in text or "invalid load key" in text or isinstance(err, KeyError):
        return "not a file written by torch.save (a zip archive or a pickle of tensors)"
    return f"{type(err).__name__}: {text[:160]}" if text else type(err).__name__


def _as_requested(arr: np.ndarray, native: bool) -> np.ndarray:
    keep = native and arr.dtype in (np.float16, np.float32, np.float64)
    return arr if keep else arr.astype(np.float32, copy=False)


def read_state_dict(sd: dict, native: bool = False, path: Path | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(name, array)`` for each layer weight of a state dict, as float32 (or as stored if ``native``).

    When ``path`` is the memory-mapped file the tensors come from, each array is a read-only view
    of it and its pages are given back to the system once the next tensor is asked for.
    """
    import torch

    ranges = mapped_ranges(path) if path is not None else []
    for name, t in sd.items():
        if isinstance(t, torch.Tensor) and is_layer_weight(name, tuple(t.shape), t.is_floating_point()):
            t = t.detach().cpu()
            arr = t.numpy() if t.dtype != torch.bfloat16 else t.to(torch.float32).numpy()
            if ranges:  # read-only: a write to a private mapping would be lost with its page
                arr.flags.writeable = False
            yield name, _as_requested(arr, native)
            del arr
            release_pages(t.data_ptr(), t.numel() * t.element_size(), ranges)


#: numpy types of the safetensors dtypes pvq reads (bfloat16 is read as its bit patterns).
_SAFETENSORS_DTYPES = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "BF16": "<u2"}


def read_safetensors(path: Path, native: bool = False) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(name, array)`` for each layer weight of a ``.safetensors`` file, each read from its offset.

    F16, BF16, F32 and F64 tensors are read (BF16 as float32); another type of a layer weight is
    an error naming it.
    """
    from safetensors import SafetensorError, safe_open

    record_input(path)  # read by native code, which Python's audit hook does not see

    try:
        with safe_open(str(path), framework="np") as f:  # checks the header and the offsets
            names = list(f.keys())
        with open(path, "rb") as fh:
            start = 8 + int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(start - 8))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path.name}: cannot be read as safetensors ({err})") from None
    with open(path, "rb") as fh:
        for name in names:
            dtype, shape = header[name]["dtype"], tuple(header[name]["shape"])
            if not is_layer_weight(name, shape, dtype.startswith(("F", "BF"))):
                continue
            if dtype not in _SAFETENSORS_DTYPES:
                raise CheckpointError(f"{path.name}: {name} is {dtype}; pvq reads F16, BF16, F32 and F64 tensors")
            fh.seek(start + header[name]["data_offsets"][0])
            arr = np.fromfile(fh, dtype=_SAFETENSORS_DTYPES[dtype], count=math.prod(shape))
            if dtype == "BF16":  # the upper half of a float32
                arr = (arr.astype(np.uint32) << 16).view(np.float32)
            yield name, _as_requested(arr.reshape(shape), native)  # (not mapped: its pages would stay resident)
            del arr  # before the next tensor is read


def read_onnx(path: Path, native: bool = False) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(node:input, array)`` for each weight of an ONNX model's layers (initializers, ``Constant`` nodes).

    The weights are the inputs of ``Conv``/``Gemm``/``MatMul``/recurrent nodes listed in
    the module's table of weight inputs; external data is read per initializer.
    """
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path), load_external_data=False)  # external data: read per tensor below
    except Exception as err:
        raise CheckpointError(f"{path.name}: cannot be read as ONNX ({type(err).__name__})") from None
    consts = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    consts[node.output[0]] = attr.t
    seen = set()
    for node in model.graph.node:
        for j in _ONNX_WEIGHT_INPUTS.get(node.op_type, ()):
            if j < len(node.input) and node.input[j] in consts and node.input[j] not in seen:
                arr = numpy_helper.to_array(consts[node.input[j]], base_dir=str(path.parent))
                if arr.ndim >= 2 and np.issubdtype(arr.dtype, np.floating):
                    seen.add(node.input[j])
                    yield f"{node.name or node.op_type}:{node.input[j]}", _as_requested(arr, native)
                del arr
