"""Small networks the book trains from scratch for the fine-tuning chapters (paper §6 at CPU scale).

Two families stand in for the paper's ImageNet models on 28×28 Fashion-MNIST images:

* ``resnet_small``: a ResNet with basic blocks (two 3×3 convolutions, batch-norm, identity or
  1×1 projection shortcut), stride-2 stem, stages of 16/32/64 channels, 78k parameters.
* ``mobilenet_small``: MobileNetV2's inverted residual blocks (1×1 expansion, 3×3 depthwise,
  1×1 linear projection, batch-norm, ReLU6), stride-2 stem, 37k parameters.

Both keep batch-norm unfolded, as the paper's recipe does. The stem has stride 2 so that one
training step costs ~30 ms on one CPU core (channels-last memory layout).
:func:`probe_layers` names the block outputs whose activations chapter 7 compares.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["TRAINABLE", "build_trainable", "check_architecture", "probe_layers", "weight_layers"]


class _Basic(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNetSmall(nn.Module):
    """Residual CNN: stem, three basic blocks (16, 32, 64 channels), global pooling, linear head."""

    def __init__(self, n_classes: int = 10, width: int = 16, in_channels: int = 1):
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(in_channels, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        self.layer1 = _Basic(w, w, 1)
        self.layer2 = _Basic(w, 2 * w, 2)
        self.layer3 = _Basic(2 * w, 4 * w, 2)
        self.fc = nn.Linear(4 * w, n_classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        layers = [] if expand == 1 else [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.residual else y


class MobileNetSmall(nn.Module):
    """MobileNetV2-style network: stem, five inverted residual blocks, 1×1 head conv, linear classifier."""

    # (out channels, stride, expansion), as in MobileNetV2's table with fewer, narrower stages
    CONFIG = ((16, 1, 1), (24, 2, 3), (24, 1, 3), (48, 2, 3), (48, 1, 3))

    def __init__(self, n_classes: int = 10, in_channels: int = 1, head: int = 128):
        super().__init__()
        blocks, cin = [], 16
        for cout, stride, expand in self.CONFIG:
            blocks.append(_InvertedResidual(cin, cout, stride, expand))
            cin = cout
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Conv2d(cin, head, 1, bias=False), nn.BatchNorm2d(head), nn.ReLU6())
        self.fc = nn.Linear(head, n_classes)

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


#: The networks trained from scratch, by name.
TRAINABLE = {"resnet_small": ResNetSmall, "mobilenet_small": MobileNetSmall}


def check_architecture(name: str, *, allowed=None) -> str:
    """Validate an architecture name (one of :data:`TRAINABLE`, or ``allowed``)."""
    allowed = tuple(TRAINABLE) if allowed is None else tuple(allowed)
    if name not in allowed:
        raise ValueError(f"unknown architecture {name!r}; choose one of {allowed}")
    return name


def build_trainable(name: str, *, n_classes: int = 10, seed: int | None = None) -> nn.Module:
    """A freshly initialised network (PyTorch's default initialisation, seeded when ``seed`` is given)."""
    check_architecture(name)
    if seed is not None:
        torch.manual_seed(seed)
    return TRAINABLE[name](n_classes=n_classes)


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The conv and linear layers in forward-definition order (the layers quantized or pruned)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def probe_layers(model: nn.Module) -> list[str]:
    """Names of the modules whose outputs chapter 7 compares: each block's output and the logits."""
    if isinstance(model, ResNetSmall):
        return ["stem", "layer1", "layer2", "layer3", "fc"]
    if isinstance(model, MobileNetSmall):
        return ["stem", *[f"blocks.{i}" for i in range(len(model.blocks))], "head", "fc"]
    if hasattr(model, "features") and isinstance(model.features, nn.Sequential):  # MobileNetV2 (torchvision names)
        return [f"features.{i}" for i in range(len(model.features))] + ["classifier"]
    if hasattr(model, "_blocks"):  # EfficientNet-Lite (efficientnet_lite_pytorch names)
        return [f"_blocks.{i}" for i in range(len(model._blocks))] + ["_fc"]
    # otherwise: the top-level children that hold parameters and are called as modules
    return [
        n
        for n, m in model.named_children()
        if not isinstance(m, nn.ModuleList | nn.ModuleDict) and any(True for _ in m.parameters())
    ]
