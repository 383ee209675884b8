"""Exact N:M pruning and exact non-uniform levels per chunk, against brute force on tiny problems."""

import itertools

import numpy as np
import pandas as pd
import pytest

from pvq.formats.elements import element_format
from pvq.layerwise.formats_layer import (
    exact_levels,
    exact_nm,
    gptq_levels,
    nearest_levels,
    nm_groups,
    nm_magnitude,
    sparsegpt_nm,
)
from pvq.layerwise.prune import prune_objective
from pvq.layerwise.quant import exact_quant, factor


def _problem(n, seed, rows=40):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, n)) @ (np.eye(n) + 0.6 * rng.normal(size=(n, n)) / np.sqrt(n))  # correlated inputs
    return factor(x), rng.normal(size=n)


def _brute_nm(r, w, keep, m):
    h = r.T @ r
    best = np.inf
    per_group = [list(itertools.combinations(range(s, s + z), k)) for s, z, k in nm_groups(w.size, m, keep)]
    for choice in itertools.product(*per_group):
        s = np.array([i for c in choice for i in c])
        w_hat = np.zeros_like(w)
        w_hat[s] = np.linalg.solve(h[np.ix_(s, s)], (h @ w)[s])
        best = min(best, prune_objective(r, w, w_hat))
    return best


@pytest.mark.parametrize(
    ("n", "keep", "m", "seed"), [(8, 2, 4, 0), (12, 2, 4, 1), (10, 2, 4, 2), (8, 1, 4, 3), (16, 4, 8, 4)]
)
def test_exact_nm_is_the_brute_force_optimum(n, keep, m, seed):
    r, w = _problem(n, seed)
    got = exact_nm(r, w, keep, m)
    assert got.proven and got.lower_bound == got.objective
    assert got.objective == pytest.approx(_brute_nm(r, w, keep, m), rel=1e-9, abs=1e-12)
    # a valid N:M mask, never worse than the heuristics it starts from
    for s, z, k in nm_groups(n, m, keep):
        assert np.count_nonzero(got.w_hat[s : s + z]) <= k
    assert got.objective <= sparsegpt_nm(r, w, keep, m).objective + 1e-12
    assert got.objective <= nm_magnitude(r, w, keep, m, refit=True).objective + 1e-12
    assert nm_magnitude(r, w, keep, m, refit=True).objective <= nm_magnitude(r, w, keep, m, refit=False).objective


def test_exact_nm_on_a_32_wide_chunk_and_its_budget():
    r, w = _problem(32, 5, rows=80)
    got = exact_nm(r, w, 2, 4)
    assert got.proven and got.nodes > 0
    cut = exact_nm(r, w, 2, 4, max_nodes=10)
    assert not cut.proven and cut.lower_bound == 0 and cut.objective >= got.objective - 1e-12


def test_groups_and_bad_patterns():
    assert nm_groups(10, 4, 2) == [(0, 4, 2), (4, 4, 2), (8, 2, 2)]
    assert nm_groups(9, 4, 3) == [(0, 4, 3), (4, 4, 3), (8, 1, 1)]
    with pytest.raises(ValueError, match="1 <= N < M"):
        nm_groups(8, 4, 4)


def _brute_levels(r, w, scale, levels):
    grid = np.array(list(itertools.product(levels, repeat=w.size)))
    v = (w[None, :] - scale * grid) @ r.T
    return float(np.min(np.sum(v * v, axis=1)))


@pytest.mark.parametrize(("name", "n", "seed"), [("fp4_e2m1", 5, 0), ("nf4", 4, 1), ("fp4_e2m1", 4, 2), ("int3", 6, 3)])
def test_exact_levels_is_the_brute_force_optimum(name, n, seed):
    r, w = _problem(n, seed)
    levels = element_format(name).levels
    scale = np.abs(w).max() / levels[-1] * 0.8
    got = exact_levels(r, w, scale, levels)
    assert got.proven and set(got.z) <= set(levels)
    assert got.objective == pytest.approx(_brute_levels(r, w, scale, levels), rel=1e-9)
    for z in (nearest_levels(w / scale, levels), gptq_levels(r, w, scale, levels)):
        v = r @ (w - scale * z)
        assert got.objective <= v @ v + 1e-12


def test_integer_levels_agree_with_the_integer_sphere_decoder():
    r, w = _problem(16, 7)
    scale = np.abs(w).max() / 7
    ints = exact_quant(None, w, scale, -8, 7, r=r)
    lv = exact_levels(r, w, scale, np.arange(-8, 8, dtype=float))
    assert lv.proven and ints.proven and lv.objective == pytest.approx(ints.objective, rel=1e-10)


def test_uncorrelated_inputs_make_rounding_optimal():
    r = np.diag([1.0, 2.0, 3.0, 0.5])
    w = np.array([0.3, -1.7, 2.2, 0.9])
    levels = element_format("fp4_e2m1").levels
    z = nearest_levels(w / 0.5, levels)
    np.testing.assert_array_equal(gptq_levels(r, w, 0.5, levels), z)
    np.testing.assert_array_equal(exact_levels(r, w, 0.5, levels).z, z)
    with pytest.raises(ValueError, match="ascending"):
        exact_levels(r, w, 0.5, levels[::-1])


def _chunk(n, seed, index=0):
    from pvq.layerwise.sweep import Chunk

    r, w = _problem(n, seed)
    return Chunk("m", "layer", 0, index, r, w, ((4, float(np.abs(w).max() / 7)),))


def test_the_study_of_a_chunk_and_of_a_layer(tmp_path):
    from pvq.layerwise.format_study import FORMAT_METHODS, format_layer_table, run_format_study, solve_format_chunk

    scales = {"fp4_e2m1": 0.4, "nf4": 2.0}
    rows = pd.DataFrame(solve_format_chunk(_chunk(9, 1), scales))  # a depthwise-sized chunk: groups 4, 4, 1
    assert list(zip(rows["format"], rows["method"], strict=True)) == list(FORMAT_METHODS)
    err = rows.set_index(["format", "method"]).error
    for fmt, worse in (("int4", "GPTQ"), ("fp4_e2m1", "GPTQ"), ("nf4", "round-to-nearest"), ("fp16_2:4", "SparseGPT")):
        assert err[(fmt, "exact")] <= err[(fmt, worse)] + 1e-12
    # unstructured pruning keeping as many weights as the 2:4 mask (5 of 9) is never worse than it
    assert err[("fp16_u50_bitmap", "exact")] <= err[("fp16_2:4", "exact")] + 1e-12
    problems = [([_chunk(8, 2, 0), _chunk(8, 3, 1)], scales)]
    first = run_format_study(problems, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 2
    again = run_format_study(problems, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(first.drop(columns="seconds"), again.drop(columns="seconds"))
    table = format_layer_table(first).set_index(["format", "method"])
    norm = sum(c.norm for c in problems[0][0])
    exact = first[(first["format"] == "nf4") & (first["method"] == "exact")].error.sum()
    assert table.loc[("nf4", "exact"), "snr_db"] == pytest.approx(10 * np.log10(norm / exact))
    assert table.loc[("fp16_2:4", "exact"), "bits_per_weight"] == 9 and table.loc[("nf4", "exact"), "proven_share"] == 1


def test_the_study_starts_a_pool_only_for_enough_chunks_not_in_the_cache(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from pvq.layerwise import format_study

    started = []

    def executor(workers):
        started.append(workers)
        return ThreadPoolExecutor(workers)

    from pvq.common import executors
    from pvq.common.executors import POOL_MIN_JOBS

    monkeypatch.setattr(executors, "make_executor", lambda _scheduler=None, *, workers: executor(workers))
    scales = {"fp4_e2m1": 0.4, "nf4": 2.0}
    chunks = [_chunk(8, 10 + i, i) for i in range(2 * POOL_MIN_JOBS + 3)]
    few = format_study.run_format_study([(chunks[:3], scales)], workers=2, cache_dir=tmp_path)
    assert started == []  # 3 chunks: solved in this process
    full = format_study.run_format_study([(chunks, scales)], workers=2, cache_dir=tmp_path)
    assert started == [2]  # 8 new chunks for 2 workers: a pool...
    pd.testing.assert_frame_equal(full.iloc[: len(few)], few)  # ...and the cached chunks read back in order
    (tmp_path / f"{format_study._key(chunks[5], scales, {})}.json").write_text("{not json")
    again = format_study.run_format_study([(chunks, scales)], workers=2, cache_dir=tmp_path)
    assert started == [2]  # one corrupt entry recomputed here, no pool
    pd.testing.assert_frame_equal(again.drop(columns="seconds"), full.drop(columns="seconds"))


def test_format_problems_refuses_chunks_that_split_groups():
    from pvq.layerwise.format_study import format_problems

    with pytest.raises(ValueError, match="multiple of 4"):
        format_problems({"mobilenet_v2": ["features.8.conv.1.0"]}, chunk_size=30)
