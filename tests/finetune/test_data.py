"""Fashion-MNIST: the real data set, the IDX reader, the folder search and its errors."""

import gzip
import struct

import numpy as np
import pytest

from pvq.finetune.data import (
    FASHION_MNIST_ENV,
    DatasetNotFoundError,
    ImageData,
    load_fashion_mnist,
    read_idx,
    validation_split,
)


def test_fashion_mnist_is_the_real_data_set():
    d = load_fashion_mnist()
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
    assert d.x_train.dtype == np.uint8 and d.n_classes == 10
    assert np.bincount(d.y_train).tolist() == [6000] * 10 and np.bincount(d.y_test).tolist() == [1000] * 10


def _write_idx(path, array, *, compress):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def test_read_idx_round_trip_and_corruption(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for compress in (False, True):
        p = tmp_path / f"a{int(compress)}.idx"
        _write_idx(p, a, compress=compress)
        np.testing.assert_array_equal(read_idx(p), a)
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad)
    short = tmp_path / "short.idx"
    short.write_bytes((tmp_path / "a0.idx").read_bytes()[:-3])
    with pytest.raises(ValueError, match="bytes"):
        read_idx(short)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcde")[:-6])
    with pytest.raises(ValueError, match="not a readable IDX"):
        read_idx(broken)


def test_fashion_mnist_folder_from_the_environment(tmp_path, monkeypatch):
    imgs = np.zeros((3, 28, 28), np.uint8)
    for name, arr in (
        ("train-images-idx3-ubyte.gz", imgs),
        ("train-labels-idx1-ubyte.gz", np.array([0, 9, 3])),
        ("t10k-images-idx3-ubyte.gz", imgs[:2]),
        ("t10k-labels-idx1-ubyte.gz", np.array([1, 2])),
    ):
        _write_idx(tmp_path / name, arr, compress=True)
    monkeypatch.setenv(FASHION_MNIST_ENV, str(tmp_path))
    d = load_fashion_mnist()
    assert d.source == str(tmp_path) and d.x_train.shape == (3, 1, 28, 28) and d.y_test.tolist() == [1, 2]
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([1, 2, 3]), compress=True)
    with pytest.raises(ValueError, match="do not match"):
        load_fashion_mnist(tmp_path)


def _numbered(n_train=50, n_test=7):
    """Images whose first pixel is their index (train) or 200 + index (test), labels index mod 3."""
    x = np.zeros((n_train, 1, 28, 28), np.uint8)
    x[:, 0, 0, 0] = np.arange(n_train)
    t = np.zeros((n_test, 1, 28, 28), np.uint8)
    t[:, 0, 0, 0] = 200 + np.arange(n_test)
    return ImageData(x, np.arange(n_train) % 3, t, np.arange(n_test) % 3, "numbered")


def test_validation_split_holds_out_training_images_only():
    data = _numbered()
    v = validation_split(data, 12, seed=5)
    train_ids, val_ids = v.x_train[:, 0, 0, 0].tolist(), v.x_test[:, 0, 0, 0].tolist()
    assert len(val_ids) == 12 and len(train_ids) == 38
    assert sorted(train_ids + val_ids) == list(range(50))  # disjoint, together the whole training set
    assert not set(val_ids) & set(range(200, 207))  # no test image anywhere in the split
    assert v.y_test.tolist() == [i % 3 for i in val_ids] and v.y_train.tolist() == [i % 3 for i in train_ids]
    assert train_ids == sorted(train_ids)  # the remaining images keep their order
    again = validation_split(data, 12, seed=5)
    assert np.array_equal(again.x_test, v.x_test)  # seeded: the same split every time
    assert set(validation_split(data, 12, seed=6).x_test[:, 0, 0, 0].tolist()) != set(val_ids)
    # the held-out images are the first n of the seeded permutation
    assert set(val_ids) == set(np.random.default_rng(5).permutation(50)[:12].tolist())


@pytest.mark.parametrize("n", [0, 50, -1, 2.5, True])
def test_validation_split_rejects_bad_sizes(n):
    with pytest.raises(ValueError, match="validation images must be an integer"):
        validation_split(_numbered(), n)
