"""Whole-network post-training compression, layer by layer in network order (chapter 9).

The per-layer problem of chapter 4 (paper §5) — ``min ||X w − X ŵ||²`` for every output channel —
is solved for every compressed layer of a network in turn, each layer's inputs ``X`` taken from the
network whose earlier layers are already compressed: the sequential scheme of GPTQ (Frantar et al.
2023) and SparseGPT (Frantar & Alistarh 2023). A layer sees its inputs only through their Gram
matrix ``H = XᵀX`` (one per convolution group), accumulated over the calibration batch.

The network is cut into *stages* (MobileNetV2's ``features`` blocks, EfficientNet-Lite's stem,
blocks and head, MiniLM's encoder layers): the calibration activations are kept at the input of the
current stage, a layer's ``H`` costs one partial pass through its stage, and the stage's output
(with every layer of the stage compressed) is the next stage's input. The whole pass therefore
costs about as many stage evaluations as the network has layers, not layers² / 2.

Rules, the same for both sides of a comparison:

- the network's first layer (the stem convolution) and its classifier stay as they are; every other
  convolution and linear layer is compressed (MiniLM has neither: its embeddings are lookup
  tables, kept; its 36 linear layers are compressed);
- weights are rounded to FP16 first, as in chapters 3 and 4; quantization is per tensor, on the
  signed INT-b grid, with the MSE-optimal scale of the tensor (:func:`pvq.tensors.clipping.optimal_clip_tensor`);
  pruning keeps ``⌊n·b/16⌋`` of the tensor's ``n`` weights (sparsity ``1 − b/16``), one mask per
  tensor;
- batch-norm statistics are re-estimated on the calibration batch after compression (both sides),
  relative to the original network: each batch-norm layer's running mean moves by the change of
  its input's batch mean and its running variance by the ratio of batch variances, the FP32 network
  and the compressed one measured on the same calibration batch (so an uncompressed network is
  left exactly as it was). The paper re-estimates on ImageNet training batches; a dozen photos
  are no substitute for ImageNet's statistics, only for their change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .network_methods import METHODS, solve_layer

__all__ = ["Stages", "batch_norm_reference", "compress_network", "compressed_layers", "layer_gram", "network_stages"]


@dataclass
class Stages:
    """A network cut into stages: ``x = first(*batch)``, then ``x = f(x)`` for each stage, then ``head(x)``.

    Attributes
    ----------
    first : callable
        From the model's inputs to the first stage's input.
    stages : list of (nn.Module, callable)
        Each stage's module (its layers are found in it) and its function of the previous output.
    head : callable
        From the last stage's output to what the network returns.
    """

    first: Callable
    stages: list
    head: Callable


def network_stages(model_name: str, model: nn.Module, mask: torch.Tensor | None = None) -> Stages:
    """The stages of one of the runnable offline models (:func:`pvq.tensors.pretrained.build_model`), or of
    any ``torch.nn.Sequential`` (each child a stage; ``model_name`` is then only a label).

    ``mask`` is MiniLM's attention mask (``None`` for the vision models).
    """
    if isinstance(model, nn.Sequential):
        return Stages(lambda x: x, [(m, m) for m in model], lambda x: x)
    if model_name == "mobilenet_v2":
        feats = list(model.features)
        return Stages(
            lambda x: x,
            [(m, m) for m in feats],
            lambda x: model.classifier(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)),
        )
    if model_name == "efficientnet_lite0":
        stem = nn.ModuleList([model._conv_stem, model._bn0])
        head = nn.ModuleList([model._conv_head, model._bn1])
        stages = [(stem, lambda x: model._swish(model._bn0(model._conv_stem(x))))]
        stages += [(b, b) for b in model._blocks]
        stages.append((head, lambda x: model._swish(model._bn1(model._conv_head(x)))))

        def logits(x):
            x = model._avg_pooling(x).flatten(1)
            return model._fc(model._dropout(x))

        return Stages(lambda x: x, stages, logits)
    if model_name == "minilm_l6":
        if mask is None:
            raise ValueError("MiniLM needs the attention mask of its batch")
        add = (1.0 - mask[:, None, None, :].float()) * -1e4

        def embed(ids, _mask=None):
            pos = torch.arange(ids.shape[1]).unsqueeze(0)
            e = model.embeddings
            return e.LayerNorm(
                e.word_embeddings(ids) + e.position_embeddings(pos) + e.token_type_embeddings(torch.zeros_like(ids))
            )

        return Stages(embed, [(layer, lambda x, layer=layer: layer(x, add)) for layer in model.encoder.layer],
                      lambda x: x)  # fmt: skip
    raise ValueError(f"no stages for {model_name!r}; runnable: mobilenet_v2, efficientnet_lite0, minilm_l6")


def _layer_order(model: nn.Module, stages: Stages, batch, mask=None) -> list[str]:
    """Conv/linear layers in the order the network runs them (one pass on the first input; on the batch when an
    attention mask is bound to it)."""
    names = {m: n for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)}
    seen: list[str] = []
    hooks = [m.register_forward_pre_hook(lambda mod, _a: seen.append(names[mod])) for m in names]
    try:
        with torch.no_grad():
            x = stages.first(*(batch if mask is not None else [b[:1] for b in batch]))
            for _, f in stages.stages:
                x = f(x)
            stages.head(x)
    finally:
        for h in hooks:
            h.remove()
    return list(dict.fromkeys(seen))


def compressed_layers(model_name: str, order: list[str]) -> list[str]:
    """The layers compressed under chapter 9's rule: all but the first and the classifier (MiniLM: all)."""
    return list(order) if model_name == "minilm_l6" else list(order[1:-1])


class _Stop(Exception):
    """Raised by a capture hook once its layer's input is seen: the rest of the stage is not needed."""


def layer_gram(module: nn.Module, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> np.ndarray:
    """``H = XᵀX`` per convolution group, shape ``(groups, n, n)`` (float64, summed in float32: ``H`` is damped by
    1% of its mean diagonal before use, far above float32's rounding), for the layer's input ``inputs``.

    ``X`` holds one row per output position (im2col patch, columns ordered as the flattened
    kernel ``(in/groups, kh, kw)``) or per real token (padding rows dropped by ``mask``), as
    :func:`pvq.layerwise.calibration.layer_input_rows`.
    """
    if isinstance(module, nn.Linear):
        x = inputs.reshape(-1, inputs.shape[-1])
        if mask is not None:
            x = x[mask.reshape(-1).bool()]
        x = x.double()
        return (x.T @ x).numpy()[None]
    pad = getattr(module, "static_padding", None)  # EfficientNet's "same" padding, applied in its forward
    g = module.groups
    n = module.in_channels // g * module.kernel_size[0] * module.kernel_size[1]
    if module.kernel_size == (1, 1) and module.stride == (1, 1) and g == 1 and pad is None:
        x = inputs.permute(0, 2, 3, 1).reshape(-1, n).float()
        return (x.T @ x).double().numpy()[None]
    h = torch.zeros(g, n, n, dtype=torch.float64)
    for part in inputs.split(8):
        if pad is not None:
            part = pad(part)
        cols = nn.functional.unfold(part, module.kernel_size, module.dilation, module.padding, module.stride)
        cols = cols.view(cols.shape[0], g, n, -1).permute(1, 2, 0, 3).reshape(g, n, -1).float()
        h += torch.bmm(cols, cols.transpose(1, 2)).double()
    return h.numpy()


def _capture_gram(stage_fn, x, module, mask) -> np.ndarray:
    got = {}

    def hook(mod, args):
        got["h"] = layer_gram(mod, args[0].detach(), mask)
        raise _Stop

    handle = module.register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            stage_fn(x)
    except _Stop:
        pass
    finally:
        handle.remove()
    return got["h"]


def _as_groups(module: nn.Module) -> np.ndarray:
    """The layer's FP16-rounded weights as ``(groups, rows, n)``."""
    w = module.weight.detach().double().numpy()
    g = module.groups if isinstance(module, nn.Conv2d) else 1
    w = w.reshape(g, w.shape[0] // g, -1)
    return w.astype(np.float16).astype(np.float64)


def _batch_norm_pass(model: nn.Module, on_input: Callable, run, names=None) -> None:
    """One pass ``run()`` with ``on_input(name, module, batch mean, batch variance)`` called as each batch-norm
    layer (of ``names``, or all) receives its input, before the layer normalises it."""
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, nn.BatchNorm2d) and (names is None or name in names):

            def hook(mod, args, name=name):
                x = args[0].detach()
                # E[x²] - E[x]²: two fast reductions (torch.var_mean over (0, 2, 3) is 2x slower on a CPU); a relative
                # error of ~1e-5 in a variance that is only compared with another computed the same way
                mean = x.mean(dim=(0, 2, 3))
                var = (x.square().mean(dim=(0, 2, 3)) - mean.square()).clamp_min(0)
                on_input(name, mod, mean, var)

            hooks.append(m.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            run()
    finally:
        for h in hooks:
            h.remove()


def _bn_stats(model: nn.Module, run) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Batch mean and variance of every batch-norm layer's input over one pass ``run()``."""
    stats = {}
    _batch_norm_pass(model, lambda name, _m, mean, var: stats.__setitem__(name, (mean, var)), run)
    return stats


def _run(stages: Stages, batch):
    x = stages.first(*batch)
    for _, f in stages.stages:
        x = f(x)
    return stages.head(x)


def batch_norm_reference(model_name: str, model: nn.Module, batch: tuple, mask=None) -> dict:
    """Batch mean and variance of every batch-norm layer's input, the FP32 network on the calibration batch
    (``{}`` for a network without batch norm): what :func:`compress_network` re-estimates against."""
    if not any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        return {}
    stages = network_stages(model_name, model, mask)
    return _bn_stats(model, lambda: _run(stages, batch))


def _correct_batch_norm(model: nn.Module, reference: dict, run) -> None:
    """Re-estimate batch-norm statistics relative to the original network (see the module docstring).

    One pass in network order: each layer's correction is in place before the next layer's input
    is measured.
    """

    def correct(name, mod, mean, var):
        ref_mean, ref_var = reference[name]
        mod.running_mean += mean - ref_mean
        mod.running_var *= torch.where(ref_var > 0, var / ref_var.clamp_min(1e-30), torch.ones_like(var))

    _batch_norm_pass(model, correct, run, names=set(reference))


def compress_network(
    model_name: str,
    model: nn.Module,
    batch: tuple,
    mask: torch.Tensor | None,
    method: str,
    n_bits: int,
    *,
    bn_reference: dict | None = None,
    progress: Callable[[str], None] | None = None,
    layer_method: Callable[[str], str] | None = None,
) -> dict:
    """Compress ``model`` in place, layer by layer in network order (see the module docstring).

    Parameters
    ----------
    model_name : {'mobilenet_v2', 'efficientnet_lite0', 'minilm_l6'}
    model : torch.nn.Module
        The FP32 network (:func:`pvq.tensors.pretrained.build_model`), in evaluation mode.
    batch : tuple of torch.Tensor
        The calibration inputs (images, or MiniLM's ``(ids, mask)``).
    mask : torch.Tensor or None
        MiniLM's attention mask (padding tokens are not rows of ``X``).
    method : str
        A key of :data:`pvq.layerwise.network_methods.METHODS`.
    n_bits : int
        The paired point (INT-b or sparsity ``1 − b/16``); ignored by the formats' methods.
    bn_reference : dict, optional
        :func:`batch_norm_reference` of the FP32 network on ``batch`` (computed here when not given).
    progress : callable, optional
        Called with each layer's name once it is compressed.
    layer_method : callable, optional
        Maps a layer's name to the method used on it (default: ``method`` on every layer), for
        experiments that change one kind of layer only; the methods must be of one side.

    Returns
    -------
    dict
        ``layers`` (compressed, in order), ``kept`` (the first layer and the classifier),
        ``numel`` and ``kept_numel`` (weights in each), ``layer_snr_db`` (``10 log₁₀ ||Xw||²/||X(w − ŵ)||²``
        of each compressed layer on its own, sequential, calibration inputs; NaN without data).
    """
    stages = network_stages(model_name, model, mask)
    order = _layer_order(model, stages, batch, mask)
    chosen = set(compressed_layers(model_name, order))
    per_layer = {n: method if layer_method is None else layer_method(n) for n in chosen}
    unknown = sorted({m for m in [method, *per_layer.values()] if m not in METHODS})
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; known: {', '.join(METHODS)}")
    needs_data = any(METHODS[m].needs_data for m in per_layer.values())
    modules = dict(model.named_modules())

    def run():
        return _run(stages, batch)

    if bn_reference is None:
        bn_reference = batch_norm_reference(model_name, model, batch, mask)
    snrs: dict[str, float] = {}
    with torch.no_grad():
        x = stages.first(*batch)
        for stage, f in stages.stages:
            inside = set(stage.modules())
            names = {n for n, m in model.named_modules() if m in inside}
            for name in [n for n in order if n in names and n in chosen]:
                module = modules[name]
                w = _as_groups(module)
                h = _capture_gram(f, x, module, mask) if needs_data else None
                w_hat = solve_layer(per_layer[name], w, h, n_bits)
                if h is not None:
                    d = w - w_hat
                    err, sig = float(np.sum((d @ h) * d)), float(np.sum((w @ h) * w))
                    snrs[name] = 10 * math.log10(sig / err) if err > 0 else math.inf
                else:
                    snrs[name] = math.nan
                module.weight.copy_(torch.from_numpy(w_hat.reshape(module.weight.shape)).to(module.weight.dtype))
                if progress is not None:
                    progress(name)
            if needs_data:  # the next stage's inputs, through this stage compressed
                x = f(x)
    if bn_reference:
        _correct_batch_norm(model, bn_reference, run)
    kept = [n for n in order if n not in chosen]
    return {
        "layers": [n for n in order if n in chosen],
        "kept": kept,
        "numel": int(sum(modules[n].weight.numel() for n in order if n in chosen)),
        "kept_numel": int(sum(modules[n].weight.numel() for n in kept)),
        "layer_snr_db": snrs,
    }
