"""The allocator tuning of pvq.common.malloc: on glibc (this project's Debian machines) freed blocks are reused."""

import subprocess
import sys

_CODE = """
import resource, numpy as np
from pvq.common.malloc import retain_freed_memory
if {tuned}:
    assert retain_freed_memory() is True and retain_freed_memory() is True
a = np.ones(1 << 23); del a  # the first one maps its pages in either case
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    a = np.ones(1 << 23); del a  # 64 MB allocated, written and freed
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(tuned: bool) -> int:
    out = subprocess.run([sys.executable, "-c", _CODE.format(tuned=tuned)], capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_freed_memory_is_reused_instead_of_mapped_again():
    untuned, tuned = _faults(False), _faults(True)
    assert tuned * 10 < untuned, (tuned, untuned)  # fresh pages fault on every allocation without the tuning
