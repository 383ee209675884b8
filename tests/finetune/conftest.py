"""Shared data of the fine-tuning tests: a small real Fashion-MNIST subset, a network pretrained on it,
and a tiny ImageNet-layout folder."""

import pytest

from pvq.finetune.data import ImageData, load_fashion_mnist
from pvq.finetune.loop import pretrain
from pvq.finetune.recipe import FineTuneSpec, PretrainSpec

from .imagenet_folder import make_folder


@pytest.fixture(scope="package")
def small_data():
    """A real subset: 3,072 training and 1,000 test images of Fashion-MNIST."""
    d = load_fashion_mnist()
    return ImageData(d.x_train[:3072], d.y_train[:3072], d.x_test[:1000], d.y_test[:1000], d.source)


@pytest.fixture(scope="package")
def pretrained(small_data):
    """``(spec, state_dict, info)`` of a ResNet trained one epoch on :func:`small_data`."""
    spec = PretrainSpec("resnet_small", seed=0, epochs=1, batch_size=64)
    state, info = pretrain(spec, small_data)
    return spec, state, info


def tiny_spec(base, method, **kw):
    """A fine-tuning run of ten steps (640 images in batches of 64) on the small data."""
    defaults = dict(epochs=1, epoch_images=640, batch_size=64, bn_batches=4, mask_interval=2, lr=0.01)
    return FineTuneSpec(base, method, **{**defaults, **kw})


@pytest.fixture
def folder(tmp_path):
    """A tiny ImageNet-layout folder: two classes, six training and two validation images each."""
    return make_folder(tmp_path / "imagenet")
