"""Real layer inputs: the architectures load their trained weights and behave as trained networks."""

import numpy as np
import pytest
import torch

from pvq.layerwise.calibration import IMAGE_NAMES, capture_inputs, layer_input_rows, sample_images, sample_text
from pvq.tensors.pretrained import build_model


@pytest.fixture(scope="module")
def mobilenet():
    return build_model("mobilenet_v2")


def test_images_are_normalised_crops():
    x = sample_images(len(IMAGE_NAMES), seed=0)
    assert x.shape == (len(IMAGE_NAMES), 3, 224, 224)
    assert -3 < float(x.mean()) < 3 and float(x.std()) > 0.3
    assert torch.equal(x, sample_images(len(IMAGE_NAMES), seed=0))  # seeded
    with pytest.raises(ValueError):
        sample_images(0)


def test_mobilenet_recognises_the_cat_and_the_coffee(mobilenet):
    x = sample_images(len(IMAGE_NAMES), seed=0)
    with torch.no_grad():
        top = mobilenet(x).argmax(-1).tolist()
    assert top[IMAGE_NAMES.index("chelsea")] in range(281, 286)  # ImageNet cat classes
    assert top[IMAGE_NAMES.index("coffee")] == 967  # espresso


def test_text_samples():
    ids, mask = sample_text(6, max_tokens=48)
    assert ids.shape == mask.shape == (6, 48) and mask.sum() > 6 * 30


def test_im2col_rows_reproduce_the_convolution(mobilenet):
    names = ["features.8.conv.0.0", "features.8.conv.1.0", "features.0.0"]
    x = sample_images(2, seed=1)
    captured = capture_inputs(mobilenet, names, x)
    modules = dict(mobilenet.named_modules())
    for name in names:
        conv = modules[name]
        with torch.no_grad():
            y = conv(captured[name])  # (batch, cout, h, w)
        problems = layer_input_rows(conv, captured[name])
        assert len(problems) == conv.groups, name  # one problem per convolution group; the loop is not empty
        for rows, channels in problems[:3]:
            w = conv.weight.detach().double().numpy().reshape(conv.out_channels, -1)
            c = int(channels[0])
            expected = y[:, c].reshape(-1).double().numpy()
            np.testing.assert_allclose(rows @ w[c], expected, rtol=1e-4, atol=1e-4)


def test_im2col_rows_with_same_padding_inside_forward():
    model = build_model("efficientnet_lite0")
    name = "_blocks.5._depthwise_conv"  # stride 2, asymmetric "same" padding applied in forward
    x = sample_images(1, seed=2)
    captured = capture_inputs(model, [name], x)[name]
    conv = dict(model.named_modules())[name]
    with torch.no_grad():
        y = conv(captured)
    rows, channels = layer_input_rows(conv, captured)[7]
    w = conv.weight.detach().double().numpy().reshape(conv.out_channels, -1)
    np.testing.assert_allclose(
        rows @ w[channels[0]], y[:, channels[0]].reshape(-1).double().numpy(), rtol=1e-4, atol=1e-4
    )


def test_linear_rows_drop_padding():
    lin = torch.nn.Linear(4, 3)
    x = torch.randn(2, 5, 4)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]])
    ((rows, channels),) = layer_input_rows(lin, x, mask=mask)
    assert rows.shape == (7, 4) and list(channels) == [0, 1, 2]


def test_bad_layer_names(mobilenet):
    x = sample_images(1)
    with pytest.raises(ValueError, match=r"unknown layer 'features.99'.*features.0.0"):
        capture_inputs(mobilenet, ["features.99"], x)
    with pytest.raises(ValueError, match="is a BatchNorm2d, not conv/linear"):
        capture_inputs(mobilenet, ["features.0.1"], x)
