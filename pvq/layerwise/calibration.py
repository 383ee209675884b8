"""Real calibration inputs and the layer inputs they produce (paper §5).

Images: the RGB photos that ship with scikit-image, cut into random crops with flips, resized to
256 and centre-cropped to 224, normalised with the ImageNet statistics (the paper uses 64
ImageNet validation images; these are real photos, not ImageNet). Text: Python's own
documentation (``pydoc_data.topics``), tokenized with MiniLM's own ``tokenizer.json``.

:func:`capture_inputs` records what named layers receive; :func:`layer_input_rows` turns it into
the rows ``X`` of each output channel's least-squares problem (im2col patches for a
convolution, one row per token for a linear layer).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..tensors.checkpoints import resolve

__all__ = ["IMAGE_NAMES", "capture_inputs", "layer_input_rows", "sample_images", "sample_text"]

IMAGE_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")
_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def sample_images(n: int, *, seed: int = 0, size: int = 224) -> torch.Tensor:
    """``n`` normalised image crops, shape ``(n, 3, size, size)``, from scikit-image's photos.

    Each sample takes the next photo in turn, a random crop covering 35–100% of its area with
    aspect ratio 3/4–4/3, a random horizontal flip, then resize (shorter side ``size·8/7``) and
    centre crop, as in ImageNet evaluation.
    """
    import skimage.data

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    photos = [torch.from_numpy(getattr(skimage.data, name)()[..., :3].copy()).permute(2, 0, 1) for name in IMAGE_NAMES]
    out = torch.empty(n, 3, size, size)
    resize = round(size * 8 / 7)
    for i in range(n):
        img = photos[i % len(photos)].float() / 255
        _, h, w = img.shape
        area = rng.uniform(0.35, 1.0) * h * w
        aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        ch, cw = min(h, round((area / aspect) ** 0.5)), min(w, round((area * aspect) ** 0.5))
        top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        crop = img[:, top : top + ch, left : left + cw]
        if rng.uniform() < 0.5:
            crop = crop.flip(-1)
        scale = resize / min(ch, cw)
        crop = nn.functional.interpolate(
            crop[None], size=(max(resize, round(ch * scale)), max(resize, round(cw * scale))),
            mode="bilinear", antialias=True, align_corners=False,
        )[0]  # fmt: skip
        t0, l0 = (crop.shape[1] - size) // 2, (crop.shape[2] - size) // 2
        out[i] = (crop[:, t0 : t0 + size, l0 : l0 + size] - _MEAN) / _STD
    return out


def sample_text(n: int, *, seed: int = 0, max_tokens: int = 64, tokenizer: Path | None = None):
    """``n`` passages of English documentation prose as ``(input_ids, attention_mask)``.

    Passages are paragraphs of ``pydoc_data.topics`` with at least 30 words, drawn without
    replacement, tokenized with MiniLM's ``tokenizer.json`` (truncated and padded to
    ``max_tokens``).
    """
    from pydoc_data.topics import topics

    from tokenizers import Tokenizer

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    paragraphs = [p.strip() for text in topics.values() for p in text.split("\n\n") if len(p.split()) >= 30]
    rng = np.random.default_rng(seed)
    chosen = [paragraphs[i] for i in rng.choice(len(paragraphs), size=min(n, len(paragraphs)), replace=False)]
    tok = Tokenizer.from_file(str(tokenizer or Path(resolve("minilm_l6").path).parent / "tokenizer.json"))
    tok.enable_truncation(max_tokens)
    tok.enable_padding(length=max_tokens)
    enc = tok.encode_batch([" ".join(p.split()) for p in chosen])
    return torch.tensor([e.ids for e in enc]), torch.tensor([e.attention_mask for e in enc])


def capture_inputs(model: nn.Module, layer_names, *inputs) -> dict[str, torch.Tensor]:
    """Run ``model(*inputs)`` once and return the input each named layer received.

    Raises
    ------
    ValueError
        A name that is not a module of the model, or a module that is not ``Conv2d``/``Linear``
        (the valid names are listed).
    """
    modules = dict(model.named_modules())
    valid = [k for k, m in modules.items() if isinstance(m, nn.Conv2d | nn.Linear)]
    for name in layer_names:
        if name not in modules:
            raise ValueError(f"unknown layer {name!r}; conv/linear layers of this model: {', '.join(valid)}")
        if not isinstance(modules[name], nn.Conv2d | nn.Linear):
            raise ValueError(
                f"layer {name!r} is a {type(modules[name]).__name__}, not conv/linear; valid: {', '.join(valid)}"
            )
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        modules[name].register_forward_pre_hook(lambda _m, args, name=name: seen.__setitem__(name, args[0].detach()))
        for name in layer_names
    ]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in hooks:
            h.remove()
    return seen


def layer_input_rows(module: nn.Module, inputs: torch.Tensor, *, mask: torch.Tensor | None = None):
    """Rows ``X`` of the per-channel problems of one layer, grouped as the layer computes.

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        One ``(X, channels)`` per convolution group (one for an ordinary layer): ``X`` has one
        row per output position (im2col patch, columns ordered as the flattened kernel) or per
        real token (padding dropped when ``mask`` is given), and ``channels`` lists the output
        channels that use it.
    """
    if isinstance(module, nn.Linear):
        x = inputs.reshape(-1, inputs.shape[-1])
        if mask is not None:
            x = x[mask.reshape(-1).bool()]
        return [(x.double().numpy(), np.arange(module.out_features))]
    if not isinstance(module, nn.Conv2d):
        raise ValueError(f"{type(module).__name__} is not a conv/linear layer")
    pad = getattr(module, "static_padding", None)  # "same" padding applied inside forward (EfficientNet)
    if pad is not None:
        inputs = pad(inputs)
    g = module.groups
    cin, cout = module.in_channels // g, module.out_channels // g
    out = []
    for k in range(g):
        part = inputs[:, k * cin : (k + 1) * cin]
        cols = nn.functional.unfold(part, module.kernel_size, module.dilation, module.padding, module.stride)
        x = cols.transpose(1, 2).reshape(-1, cols.shape[1])
        out.append((x.double().numpy(), np.arange(k * cout, (k + 1) * cout)))
    return out
