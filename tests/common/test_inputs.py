"""The files a chapter reads are recorded (its kernel and its worker processes), nothing else."""

import os
import subprocess
import sys

import pytest

from pvq.common.inputs import INPUTS_ENV, read_input_log

SCRIPT = """
import multiprocessing, sys
from pathlib import Path
import numpy, pvq  # importing pvq installs the hook; numpy's own files are not inputs

def worker(path):
    return Path(path).read_bytes()

if __name__ == "__main__":
    here = Path.cwd()
    (here / "read.txt").read_text()
    numpy.load(here / "array.npy")
    (here / "written.txt").write_text("out")  # written, not read
    with open(here / "appended.txt", "a") as f:
        f.write("x")
    import os
    os.close(os.open(here / "low.txt", os.O_RDONLY))  # the os-level open is seen too
    with multiprocessing.get_context("spawn").Pool(1) as pool:  # a worker, as the chapters' pools
        pool.map(worker, [str(here / "by_worker.txt")])
    pvq.common.inputs.record_input(here / "native.bin")  # what native readers declare
"""


@pytest.mark.process
def test_reads_by_the_process_and_its_workers_are_recorded(tmp_path):
    for name in ("read.txt", "low.txt", "by_worker.txt", "appended.txt", "native.bin"):
        (tmp_path / name).write_text("data")
    import numpy as np

    np.save(tmp_path / "array.npy", np.arange(3))
    log = tmp_path / "inputs.log"
    env = {**os.environ, INPUTS_ENV: str(log)}
    script = tmp_path / "chapter.py"  # a file: spawned workers import their function from it
    script.write_text(SCRIPT)
    subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, check=True, timeout=120)
    found = {p.name for p in read_input_log(log)}
    assert found == {"read.txt", "array.npy", "low.txt", "by_worker.txt", "native.bin"}
    assert not any(str(p).startswith(sys.prefix) for p in read_input_log(log))  # packages: hashed apart


@pytest.mark.process
def test_nothing_is_recorded_without_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != INPUTS_ENV}
    code = "import pvq.common.inputs as i, pvq; print(i.watch_inputs())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_log_of_deleted_files_and_duplicates(tmp_path):
    (tmp_path / "a").write_text("1")
    log = tmp_path / "log"
    log.write_text(f"{tmp_path / 'a'}\n{tmp_path / 'gone'}\n{tmp_path / 'a'}\n\n")
    assert read_input_log(log) == [tmp_path / "a"]
    assert read_input_log(tmp_path / "missing.log") == []
