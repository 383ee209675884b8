"""Network definitions for capturing real layer inputs (paper §5), with the checkpoints' key names.

torchvision does not import beside the CPU torch build used here, so MobileNetV2 is defined
with torchvision's exact module names (its ImageNet state dict loads unchanged); EfficientNet-Lite
comes from ``efficientnet_lite_pytorch``; MiniLM-L6 is a plain BERT encoder with the key names of
its safetensors file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

from .checkpoints import MODELS, resolve

__all__ = ["MiniLM", "MobileNetV2", "build_model"]


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers: list[nn.Module] = [] if expand == 1 else [_conv_bn(cin, hidden, 1)]
        layers += [_conv_bn(hidden, hidden, 3, stride, groups=hidden), nn.Conv2d(hidden, cout, 1, bias=False),
                   nn.BatchNorm2d(cout)]  # fmt: skip
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 (Sandler et al. 2018) with torchvision's module names (``features.8.conv.1.0`` …)."""

    SETTINGS = (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(3, 32, 3, 2)]
        cin = 32
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(_InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(_conv_bn(cin, 1280, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        """Class logits for normalised images ``(batch, 3, H, W)``."""
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.classifier(x)


class _BertLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, inner: int, eps: float):
        super().__init__()
        self.heads = heads
        self.attention = nn.Module()
        self.attention.self = nn.Module()
        for name in ("query", "key", "value"):
            setattr(self.attention.self, name, nn.Linear(hidden, hidden))
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(hidden, hidden)
        self.attention.output.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(hidden, inner)
        self.output = nn.Module()
        self.output.dense = nn.Linear(inner, hidden)
        self.output.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x, mask):
        b, t, d = x.shape
        att = self.attention.self

        def split(v):
            return v.view(b, t, self.heads, d // self.heads).transpose(1, 2)

        q, k, v = split(att.query(x)), split(att.key(x)), split(att.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads) + mask
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        x = self.attention.output.LayerNorm(x + self.attention.output.dense(ctx))
        h = nn.functional.gelu(self.intermediate.dense(x))
        return self.output.LayerNorm(x + self.output.dense(h))


class MiniLM(nn.Module):
    """A BERT encoder with the module names of ``all-MiniLM-L6-v2`` (``encoder.layer.0.attention.self.query`` …)."""

    def __init__(self, config: dict):
        super().__init__()
        d, eps = config["hidden_size"], config.get("layer_norm_eps", 1e-12)
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(config["vocab_size"], d)
        self.embeddings.position_embeddings = nn.Embedding(config["max_position_embeddings"], d)
        self.embeddings.token_type_embeddings = nn.Embedding(config["type_vocab_size"], d)
        self.embeddings.LayerNorm = nn.LayerNorm(d, eps=eps)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(
            _BertLayer(d, config["num_attention_heads"], config["intermediate_size"], eps)
            for _ in range(config["num_hidden_layers"])
        )

    def forward(self, ids, attention_mask):
        """Token representations ``(batch, tokens, hidden)`` for token ids and their attention mask."""
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        e = self.embeddings
        x = e.LayerNorm(
            e.word_embeddings(ids) + e.position_embeddings(pos) + e.token_type_embeddings(torch.zeros_like(ids))
        )
        mask = (1.0 - attention_mask[:, None, None, :].float()) * -1e4
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return x


def build_model(name: str) -> nn.Module:
    """An offline model with its trained weights loaded, in evaluation mode.

    ``'mobilenet_v2'``, ``'efficientnet_lite0'`` or ``'minilm_l6'``.
    """
    from safetensors.torch import load_file

    if name == "mobilenet_v2":
        model = MobileNetV2()
        model.load_state_dict(torch.load(resolve(name).path, map_location="cpu", weights_only=True))
    elif name == "efficientnet_lite0":
        from efficientnet_lite_pytorch import EfficientNet

        model = EfficientNet.from_name("efficientnet-lite0")
        model.load_state_dict(torch.load(resolve(name).path, map_location="cpu", weights_only=True))
    elif name == "minilm_l6":
        folder = Path(resolve(name).path).parent
        model = MiniLM(json.loads((folder / "config.json").read_text()))
        state = {
            k: v
            for k, v in load_file(str(folder / "model.safetensors")).items()
            if k.startswith(("embeddings.", "encoder."))
        }
        state.pop("embeddings.position_ids", None)
        model.load_state_dict(state)
    else:
        runnable = ("mobilenet_v2", "efficientnet_lite0", "minilm_l6")
        raise ValueError(
            f"no runnable architecture for {name!r}; available: {runnable} (weights only: {tuple(MODELS)})"
        )
    return model.eval()
