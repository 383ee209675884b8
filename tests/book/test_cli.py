import subprocess
import sys

import pytest

from ..conftest import ROOT

pytestmark = pytest.mark.process  # every test runs python -m pvq


def run(*args):
    return subprocess.run([sys.executable, "-m", "pvq", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_unknown_parameter_is_refused_before_running():
    r = run("run-notebooks", "--profile", "ci", "-p", "n_bitz=[2]", "--no-progress")
    assert r.returncode == 2
    assert "unknown parameter(s) ['n_bitz']" in r.stderr


def test_unknown_chapter():
    r = run("run-notebooks", "--only", "42", "--no-progress")
    assert r.returncode == 2 and "unknown chapter(s) ['42']" in r.stderr


def test_unknown_profile():
    r = run("run-notebooks", "--profile", "fast")
    assert r.returncode == 2 and "invalid choice: 'fast'" in r.stderr


def test_help():
    r = run("run-notebooks", "--help")
    assert r.returncode == 0 and "--profile" in r.stdout


def test_analyze_end_to_end_on_a_written_checkpoint(tmp_path):
    import numpy as np
    import pandas as pd
    import torch

    rng = np.random.default_rng(0)
    sd = {
        "conv.weight": torch.from_numpy(rng.standard_t(4, size=(8, 4, 3, 3)).astype(np.float32)),
        "fc.weight": torch.from_numpy(rng.laplace(size=(10, 32)).astype(np.float32)),
        "dead.weight": torch.zeros(4, 4),
        "broken.weight": torch.tensor([[1.0, float("nan")], [0.0, 2.0]]),
        "fc.bias": torch.zeros(10),
    }
    ckpt = tmp_path / "tiny.pth"
    optimizer = {"state": {0: {"momentum_buffer": torch.ones(64, 64)}}, "param_groups": [{"lr": 0.1}]}
    torch.save({"step": 7, "model_state": sd, "optimizer_state": optimizer}, ckpt)  # Resemblyzer's layout
    out = tmp_path / "out"
    r = run("analyze", str(ckpt), "--bits", "2,4,8", "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "2 layer weight tensors analysed, 2 skipped" in r.stdout
    assert "weights from entry 'model_state' of tiny.pth (choose another with --key)" in r.stdout
    assert "skipped broken.weight: contains NaN or Inf" in r.stdout
    tensors = pd.read_csv(out / "tensors.csv")
    assert list(tensors.columns) == [
        "model", "tensor", "numel", "n_bits", "sparsity", "kurtosis", "excess_kurtosis",
        "quant_snr_db_paper", "quant_snr_db", "prune_snr_db", "prune_snr_db_corrected", "natural_sparsity",
    ]  # fmt: skip
    assert sorted(tensors.tensor.unique()) == ["conv.weight", "fc.weight"] and sorted(tensors.n_bits.unique()) == [
        2,
        4,
        8,
    ]
    skipped = pd.read_csv(out / "skipped.csv").set_index("tensor").reason
    assert skipped["dead.weight"] == "all zeros" and skipped["broken.weight"] == "contains NaN or Inf"
    rec = pd.read_csv(out / "recommendations.csv")
    assert set(rec.recommendation) <= {"quantize", "prune"} and len(rec) == len(tensors)
    for fig in ("fig-tensor-snr.png", "fig-win-vs-kurtosis.png"):
        assert (out / fig).stat().st_size > 10_000


def test_analyze_the_real_mobilenet(tmp_path):
    import pandas as pd

    r = run("analyze", "mobilenet_v2", "--out", str(tmp_path), "--no-progress", "--range", "paper")
    assert r.returncode == 0, r.stderr
    assert "mobilenet_v2: 53 layer weight tensors analysed, 0 skipped; clipping: paper" in r.stdout
    t = pd.read_csv(tmp_path / "tensors.csv")
    assert len(t) == 53 * 7 and (t.quant_snr_db >= t.quant_snr_db_paper - 1e-9).all()


def test_analyze_help():
    r = run("analyze", "--help")
    assert r.returncode == 0
    for word in ("--bits", "--range", "--no-fp16", "--out", "mobilenet_v2", "torchvision:<name>"):
        assert word in r.stdout


def test_defaults_reports_and_rewrites(tmp_path):
    import shutil

    from pvq.common.paths import notebook_sources

    (tmp_path / "notebooks").mkdir()
    for src in notebook_sources(ROOT):
        shutil.copy(src, tmp_path / "notebooks" / src.name)
    shutil.copytree(ROOT / "params", tmp_path / "params")
    shutil.copy(ROOT / "_toc.yml", tmp_path / "_toc.yml")
    (tmp_path / "params" / "full.yaml").write_text("profile: full\n")  # stale

    def defaults(*args):
        return subprocess.run([sys.executable, "-m", "pvq", "defaults", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    r = defaults()
    assert r.returncode == 1 and "full.yaml differs from the chapters' defaults" in r.stdout
    assert "python -m pvq defaults --write" in r.stderr
    r = defaults("--write")
    assert r.returncode == 0 and "rewrote params/full.yaml" in r.stdout, r.stderr
    r = defaults()
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr
