"""The core budget: slots leased across real processes, never more holders than slots, none left by a killed one."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pvq.common import cores
from pvq.common.cores import SLOTS_ENV, CoreSlots, available_cores, core_budget, core_slot, core_slots

from ..conftest import ROOT
from ..slots import slot_locked

# A process that waits for the others to be ready, then takes a slot `rounds` times, holding it
# `hold` seconds, and records "slot enter exit" per hold (time.monotonic is one clock for all).
# (pvq/common/cores.py is loaded on its own, without the package's numpy and torch: a fast start)
HOLDER = """
import importlib.util, sys, time
from pathlib import Path
spec = importlib.util.spec_from_file_location("cores", sys.argv[6])
cores = sys.modules["cores"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cores)
core_slot = cores.core_slot
log, ready, go = map(Path, sys.argv[1:4])
rounds, hold = int(sys.argv[4]), float(sys.argv[5])
ready.touch()
while not go.exists():
    time.sleep(0.01)
for _ in range(rounds):
    with core_slot(poll=0.02) as slot:
        enter = time.monotonic()
        print(f"holding {slot}", flush=True)
        time.sleep(hold)
        exit_ = time.monotonic()
    with log.open("a") as f:
        f.write(f"{slot} {enter} {exit_}\\n")
"""


def _start(tmp_path, name, slots, rounds, hold, go="go", **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT), SLOTS_ENV: str(slots), "OMP_NUM_THREADS": "1"}
    args = [tmp_path / f"{name}.log", tmp_path / f"{name}.ready", tmp_path / go, rounds, hold, cores.__file__]
    return subprocess.Popen([sys.executable, "-c", HOLDER, *map(str, args)], env=env, text=True, **kw)


def _wait_for(paths, procs, timeout=120):
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        assert time.monotonic() < deadline, "the processes did not start"
        assert all(p.poll() is None for p in procs), "a process ended before it was ready"
        time.sleep(0.05)


def _most_at_once(holds):
    """Largest number of holds overlapping in time (an exit sorts before an enter at the same instant)."""
    events = sorted([(t0, 1) for _, t0, _ in holds] + [(t1, -1) for _, _, t1 in holds])
    now = most = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


@pytest.mark.process  # starts worker processes
def test_four_processes_share_two_slots_never_more_holders_than_slots(tmp_path):
    slots = CoreSlots(tmp_path / "slots", 2)
    procs = [_start(tmp_path, f"p{i}", slots, rounds=3, hold=0.3, stdout=subprocess.DEVNULL) for i in range(4)]
    _wait_for([tmp_path / f"p{i}.ready" for i in range(4)], procs)
    (tmp_path / "go").touch()
    for p in procs:
        assert p.wait(timeout=300) == 0
    holds = [
        (int(s), float(t0), float(t1))
        for i in range(4)
        for s, t0, t1 in (ln.split() for ln in (tmp_path / f"p{i}.log").read_text().splitlines())
    ]
    assert len(holds) == 12
    assert {s for s, _, _ in holds} == {0, 1}
    assert _most_at_once(holds) == 2  # never 3 or 4 at once, and the budget is used, not one at a time
    for slot in (0, 1):  # one holder per slot at a time
        assert _most_at_once([h for h in holds if h[0] == slot]) == 1
    # 12 holds of 0.3 s on 2 slots: at least 1.8 s from the first enter to the last exit
    assert max(t1 for *_, t1 in holds) - min(t0 for _, t0, _ in holds) >= 12 * 0.3 / 2 - 1e-6


def _holds(log: Path) -> list[tuple[int, float, float]]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [(int(s), float(t0), float(t1)) for s, t0, t1 in (ln.split() for ln in lines)]


@pytest.mark.process  # starts worker processes
def test_a_process_that_asks_again_queues_behind_one_already_waiting(tmp_path):
    """Many short jobs in a loop cannot keep a slot from a process that waits: it gets the next one."""
    slots = CoreSlots(tmp_path / "slots", 1)
    busy = _start(tmp_path, "busy", slots, rounds=40, hold=0.05, go="go-busy", stdout=subprocess.DEVNULL)
    late = _start(tmp_path, "late", slots, rounds=1, hold=0.05, go="go-late", stdout=subprocess.DEVNULL)
    _wait_for([tmp_path / "busy.ready", tmp_path / "late.ready"], [busy, late])
    (tmp_path / "go-busy").touch()
    while len(_holds(tmp_path / "busy.log")) < 3:  # the short jobs are under way
        assert busy.poll() is None
        time.sleep(0.01)
    asked = time.monotonic()
    (tmp_path / "go-late").touch()
    assert late.wait(timeout=120) == 0 and busy.wait(timeout=120) == 0
    (entered,) = [t0 for _, t0, _ in _holds(tmp_path / "late.log")]
    short = _holds(tmp_path / "busy.log")
    assert len(short) == 40 and _most_at_once([*short, *_holds(tmp_path / "late.log")]) == 1
    assert entered < short[-1][1]  # before the short jobs ended
    # the late one waits for the hold under way and at most one more (it may ask between two)
    assert sum(asked < t0 < entered for _, t0, _ in short) <= 2, (asked, entered, short)


def test_a_process_killed_while_holding_a_slot_frees_it(tmp_path):
    slots = CoreSlots(tmp_path / "slots", 1)
    holder = _start(tmp_path, "killed", slots, rounds=1, hold=600, stdout=subprocess.PIPE)
    (tmp_path / "go").touch()
    try:
        assert holder.stdout.readline() == "holding 0\n"
        assert slot_locked(slots.folder / "slot-0")
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=60)
    assert holder.returncode == -signal.SIGKILL
    assert not slot_locked(slots.folder / "slot-0")  # no stale lock: the next build goes on at once
    start = time.monotonic()
    with core_slot(slots) as slot:
        assert slot == 0
    assert time.monotonic() - start < 5


def test_without_a_budget_nothing_is_leased_and_threads_are_left_alone(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.delenv(SLOTS_ENV, raising=False)
    before = torch.get_num_threads()
    with core_slot() as slot:
        assert slot is None
        assert torch.get_num_threads() == before


def test_a_slot_runs_torch_on_one_thread_and_restores_it(tmp_path):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with core_slot(CoreSlots(tmp_path, 1)):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), core_slot(CoreSlots(tmp_path, 1)):  # released when the block raises
            raise RuntimeError
        assert not slot_locked(tmp_path / "slot-0") and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_nested_blocks_hold_one_slot_and_threads_hold_their_own(tmp_path):
    one = CoreSlots(tmp_path / "one", 1)
    with core_slot(one) as outer:
        with core_slot(one) as inner:  # no deadlock on a budget of one
            assert inner == outer == 0
        assert slot_locked(one.folder / "slot-0")  # the outer block still holds it
    assert not slot_locked(one.folder / "slot-0")

    # two threads of one process: each leases its own slot; a third waits for one to end
    two = CoreSlots(tmp_path / "two", 2)
    got, release, entered = [], threading.Event(), threading.Barrier(3)

    def hold():
        with core_slot(two, poll=0.01) as s:
            got.append((s, time.monotonic()))
            entered.wait(timeout=30)
            release.wait(timeout=30)

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    entered.wait(timeout=30)
    assert sorted(s for s, _ in got) == [0, 1]
    late = threading.Thread(target=lambda: got.append(("late", _slot_time(two))))
    late.start()
    time.sleep(0.3)
    assert len(got) == 2  # the third is still waiting
    released = time.monotonic()
    release.set()
    for t in [*threads, late]:
        t.join(timeout=30)
    assert got[-1][0] == "late" and got[-1][1] >= released


def _slot_time(slots):
    with core_slot(slots, poll=0.01):
        return time.monotonic()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/x/slots:3", CoreSlots(Path("/x/slots"), 3)),
        ("/x/a:b:2", CoreSlots(Path("/x/a:b"), 2)),  # a folder may hold ':' itself
        ("/x/slots", CoreSlots(Path("/x/slots"), available_cores())),
        ("", None),
        ("off", None),
        ("0", None),
    ],
)
def test_the_budget_is_read_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv(SLOTS_ENV, value)
    assert core_slots() == expected


@pytest.mark.parametrize("value", ["/x/slots:0", ":2"])
def test_a_bad_budget_is_refused_by_name(value):
    with pytest.raises(ValueError, match=f"{SLOTS_ENV} must be FOLDER:N with N a whole number >= 1"):
        core_slots(value)


@pytest.mark.parametrize(
    ("cpu_max", "cap"),
    [("max 100000\n", None), ("150000 100000\n", 2), ("50000 100000\n", 1), ("garbage", None), (None, None)],
)
def test_available_cores_are_the_affinity_capped_by_a_cgroup_quota(tmp_path, cpu_max, cap):
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max)
    affinity = len(os.sched_getaffinity(0))
    assert available_cores(path) == (affinity if cap is None else min(affinity, cap))


def test_a_build_budget_is_set_for_its_processes_and_restored(monkeypatch):
    monkeypatch.delenv(SLOTS_ENV, raising=False)
    with core_budget(3) as slots:
        assert os.environ[SLOTS_ENV] == str(slots) and slots.count == 3
        assert slots.folder.is_dir() and slots.folder.stat().st_uid == os.getuid()
        assert core_slots() == slots
    assert SLOTS_ENV not in os.environ
    with core_budget() as slots:
        assert slots.count == available_cores()
    monkeypatch.setenv(SLOTS_ENV, "off")  # a user's own choice is kept
    with core_budget() as slots:
        assert slots is None and os.environ[SLOTS_ENV] == "off"
    monkeypatch.setenv(SLOTS_ENV, "/shared/slots:5")
    with core_budget(2) as slots:
        assert slots == CoreSlots(Path("/shared/slots"), 5)
    assert os.environ[SLOTS_ENV] == "/shared/slots:5"


def test_a_build_refuses_a_budget_it_cannot_use_before_anything_runs(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv(SLOTS_ENV, f"{tmp_path / 'file' / 'slots'}:2")
    with pytest.raises(ValueError, match=rf"{SLOTS_ENV}='.*slots:2': cannot write .* is a file, not a folder"):
        with core_budget():
            pass
    monkeypatch.setenv(SLOTS_ENV, f"{tmp_path}:0")
    with pytest.raises(ValueError, match="N a whole number >= 1"), core_budget():
        pass
