"""Where parallel jobs run: a local spawn process pool, or a Dask cluster named by argument or environment."""

import operator
import os
import subprocess
import sys
import time
import typing
from concurrent.futures import ProcessPoolExecutor

import pytest

from pvq.common.cores import SLOTS_ENV
from pvq.common.executors import DASK_ENV, make_executor


@pytest.mark.process  # starts worker processes
def test_local_pool_runs_a_picklable_function(monkeypatch):
    monkeypatch.delenv(DASK_ENV, raising=False)
    executor = make_executor(workers=2)
    try:
        assert isinstance(executor, ProcessPoolExecutor)
        assert executor._mp_context.get_start_method() == "spawn"  # forking a process holding torch threads can hang
        assert executor._max_workers == 2
        assert list(executor.map(operator.mul, [1, 2, 3], [4, 5, 6])) == [4, 10, 18]
        assert executor.submit(pow, 2, 10).result(timeout=60) == 1024
    finally:
        executor.shutdown()


class FakeClient:
    """Stands in for distributed.Client: records the address, hands out a marker executor."""

    addresses: typing.ClassVar[list] = []

    def __init__(self, address):
        FakeClient.addresses.append(address)

    def get_executor(self):
        return ("dask executor", FakeClient.addresses[-1])


@pytest.fixture
def fake_dask(monkeypatch):
    distributed = pytest.importorskip("distributed")
    FakeClient.addresses = []
    monkeypatch.setattr(distributed, "Client", FakeClient)
    return FakeClient


def test_the_environment_names_a_dask_cluster(fake_dask, monkeypatch):
    assert DASK_ENV == "PVQ_DASK_SCHEDULER"
    monkeypatch.setenv(DASK_ENV, "tcp://scheduler:8786")
    assert make_executor(workers=3) == ("dask executor", "tcp://scheduler:8786")
    assert fake_dask.addresses == ["tcp://scheduler:8786"]


def test_an_explicit_scheduler_wins_over_the_environment(fake_dask, monkeypatch):
    monkeypatch.setenv(DASK_ENV, "tcp://from-env:8786")
    assert make_executor("tcp://explicit:8786") == ("dask executor", "tcp://explicit:8786")
    monkeypatch.setenv(DASK_ENV, "")
    pool = make_executor(None, workers=1)  # an empty variable means: no cluster
    try:
        assert isinstance(pool, ProcessPoolExecutor)
    finally:
        pool.shutdown()
    assert fake_dask.addresses == ["tcp://explicit:8786"]


def _torch_threads(_):
    import torch

    return torch.get_num_threads()


@pytest.mark.process  # starts worker processes
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="torch starts with one thread on one core anyway")
def test_under_a_core_budget_the_pool_workers_start_with_one_thread(tmp_path, monkeypatch):
    """Without a budget a worker's torch uses several threads; under one it starts with one, before any lease."""
    monkeypatch.delenv(DASK_ENV, raising=False)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", SLOTS_ENV):
        monkeypatch.delenv(name, raising=False)
    found = {}
    for budget in ("", f"{tmp_path}:2"):
        monkeypatch.setenv(SLOTS_ENV, budget)
        pool = make_executor(workers=1)
        try:
            found[budget] = pool.submit(_torch_threads, 0).result(timeout=300)
        finally:
            pool.shutdown()
    assert found[""] > 1  # as without pvq: torch's own default
    assert found[f"{tmp_path}:2"] == 1


@pytest.mark.process  # starts worker processes
def test_pool_workers_end_with_the_process_that_owns_the_pool(tmp_path):
    """A pool owner killed with SIGKILL (a stopped build, an exiting kernel) leaves no idle worker behind."""
    script = tmp_path / "owner.py"
    script.write_text(  # jobs slow enough that both workers take one: both are running when the owner dies
        "import os, time\n"
        "from pvq.common.executors import make_executor\n"
        "def slow_pid():\n"
        "    time.sleep(1.0)\n"
        "    return os.getpid()\n"
        "if __name__ == '__main__':\n"
        "    pool = make_executor(workers=2)\n"
        "    futures = [pool.submit(slow_pid) for _ in range(4)]\n"
        "    print(' '.join(str(p) for p in {f.result() for f in futures}), flush=True)\n"
        "    time.sleep(600)\n"
    )
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    workers = [int(p) for p in owner.stdout.readline().split()]
    assert len(workers) == 2
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.2)
    assert not [p for p in workers if _alive(p)], "pool workers outlived their owner"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is not alive
        return f.read().split()[2] != "Z"
