"""One build per checkout: the second waits or stops, and a killed holder leaves no lock behind."""

import os
import subprocess
import sys
import time

import pytest

from pvq.common.locks import build_lock, lock_holder

HOLD = """import sys, time
from pvq.common.locks import build_lock
with build_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def _holder(path):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.process
def test_a_second_build_stops_or_waits_and_a_killed_holder_frees_the_lock(tmp_path):
    path = tmp_path / "_build" / "pvq-build.lock"
    proc = _holder(path)
    try:
        assert f"pid {proc.pid}, since " in lock_holder(path)
        with pytest.raises(RuntimeError, match=f"another build holds .*pvq-build.lock \\(pid {proc.pid}, since "):
            with build_lock(path, wait=False):
                pass
        told = []
        start = time.monotonic()
        killer = subprocess.Popen([sys.executable, "-c", f"import os, time; time.sleep(1.5); os.kill({proc.pid}, 9)"])
        with build_lock(path, waiting=told.append, poll=0.1):  # waits until the holder is killed
            waited = time.monotonic() - start
            assert lock_holder(path).startswith(f"pid {os.getpid()}, since ")
        killer.wait()
        assert len(told) == 1 and f"pid {proc.pid}" in told[0]  # said once, naming the holder
        assert 1.0 < waited < 30
        assert path.exists() and lock_holder(path) == "unknown process"  # released, file left: no stale lock
    finally:
        proc.kill()
        proc.wait()


def test_the_lock_is_reentrant_within_a_process_and_released_on_error(tmp_path):
    path = tmp_path / "lock"
    with build_lock(path):
        with build_lock(path, wait=False):  # the runner inside `pvq build`
            pass
    with pytest.raises(KeyError):
        with build_lock(path):
            raise KeyError("a failed build")
    with build_lock(path, wait=False):  # free again
        pass
