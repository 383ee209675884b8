"""Giving back the pages of a memory-mapped tensor: only file mappings, data intact, resident memory down."""

import mmap
from pathlib import Path

import numpy as np
import pytest
import torch

import pvq.tensors.readers as readers
from pvq.tensors.checkpoints import iter_weights, resolve
from pvq.tensors.mapped import mapped_ranges, release_pages

linux = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")


def rss_file_kib() -> int:
    """Resident pages of this process that map files (``RssFile`` of ``/proc/self/status``)."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("RssFile:"))
    return int(line.split()[1])


@linux
def test_release_drops_resident_pages_and_keeps_the_data(tmp_path):
    data = np.random.default_rng(0).standard_normal(4 << 20).astype(np.float64)  # 32 MiB
    path = tmp_path / "blob.bin"
    data.tofile(path)
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)  # private, as torch.load(mmap=True) maps
    view = np.frombuffer(mm, dtype=np.float64)
    ranges = mapped_ranges(path)
    assert ranges and any(lo <= view.ctypes.data < hi for lo, hi in ranges)
    assert float(view.sum()) == float(data.sum())  # every page read: resident
    before = rss_file_kib()
    assert release_pages(view.ctypes.data, view.nbytes, ranges)
    assert before - rss_file_kib() > 24 << 10  # at least 24 of the 32 MiB given back
    np.testing.assert_array_equal(view, data)  # read again from the file
    del view
    mm.close()


def test_anonymous_memory_is_never_touched():
    a = np.arange(1 << 20, dtype=np.float64)
    assert not release_pages(a.ctypes.data, a.nbytes, [])  # no mapping given
    fake = [(a.ctypes.data - 4096, a.ctypes.data + 4096)]  # a range that does not cover the array
    assert not release_pages(a.ctypes.data, a.nbytes, fake)
    np.testing.assert_array_equal(a, np.arange(1 << 20))


@linux
@pytest.mark.parametrize(("zipped", "released"), [(True, True), (False, False)])
def test_torch_tensors_are_mapped_read_only_and_given_back(tmp_path, monkeypatch, zipped, released):
    sd = {f"l{i}.weight": torch.randn(256, 1024) for i in range(3)}
    path = tmp_path / "m.pt"
    torch.save(sd, path, _use_new_zipfile_serialization=zipped)  # the legacy format cannot be mapped
    calls = []
    monkeypatch.setattr(readers, "release_pages", lambda *a: calls.append(release_pages(*a)))
    found = dict(iter_weights(resolve(path), native=True))
    assert calls == [released] * 3
    for name, w in found.items():
        assert w.flags.writeable is not zipped  # a write to a private mapping would be lost with its page
        np.testing.assert_array_equal(w, sd[name].numpy())  # pages given back are read again
