import pytest

from pvq.layerwise.sweep import layer_chunks

BITS = [2, 4, 8]


@pytest.fixture(scope="package")
def small_chunks():
    """Problems of a real layer: two channels of MobileNetV2's features.11.conv.0.0 on eight images."""
    chunks, info = layer_chunks("mobilenet_v2", "features.11.conv.0.0", n_bits=BITS, n_inputs=8, chunk_size=6,
                                max_channels=2)  # fmt: skip
    return chunks, info
