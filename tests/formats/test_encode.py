"""Storing tensors in formats: block encoders against hand-worked blocks, masks, and the scale searches."""

import numpy as np
import pytest

from pvq.formats.catalog import parse_format
from pvq.formats.elements import element_format, round_to_element
from pvq.formats.encode import format_error, keep_mask, quantize_weights
from pvq.formats.scales import level_mse_sorted, optimal_level_scale
from pvq.formats.sparsity import magnitude_threshold, nm_mask
from pvq.tensors.clipping import SortedWeights


def test_mxfp4_block_worked_by_hand():
    # OCP MX: amax 7.9 -> floor(log2 7.9) = 2, FP4 E2M1 emax 2 -> X = 2^0; 7.9 saturates at 6, 0.4 -> 0.5
    block = np.array([1.0, -3.0, 0.4, 7.9, -0.2, 2.6] + [0.0] * 26)
    got = quantize_weights(block[None, :], "mxfp4")[0]
    np.testing.assert_array_equal(got[:6], [1.0, -3.0, 0.5, 6.0, -0.0, 3.0])
    # scaled by 2^-5 the same block comes back scaled by 2^-5 (the shared exponent moves, nothing else)
    np.testing.assert_array_equal(quantize_weights(block[None, :] / 32, "mxfp4")[0], got / 32)


def test_mxint8_block_worked_by_hand():
    # amax 0.3 -> floor(log2 0.3) = -2, INT8 emax 0 -> X = 2^-2; elements k/64 in units of X
    block = np.array([0.3, -0.1, 0.0015] + [0.0] * 29)
    got = quantize_weights(block[None, :], "mxint8")[0]
    x = 0.25
    np.testing.assert_allclose(got[:3], [np.rint(0.3 / x * 64) / 64 * x, np.rint(-0.1 / x * 64) / 64 * x, 0.0])


def test_nvfp4_blocks_worked_by_hand():
    # two blocks of 16, amax 12 and 5; second-level scale g = 12 / (448·6) in FP32
    w = np.zeros((1, 32))
    w[0, 0], w[0, 1], w[0, 16], w[0, 17] = 12.0, 1.1, 5.0, -2.0
    g = float(np.float32(12.0 / 2688.0))
    s1 = 448.0 * g  # 12/(6g) = 448 exactly representable in E4M3
    s2 = 192.0 * g  # 5/(6g) = 186.67 -> E4M3 192 (steps of 16 between 128 and 256)
    got = quantize_weights(w, "nvfp4")[0]
    np.testing.assert_allclose(got[[0, 1]], [s1 * 6.0, s1 * 0.5], rtol=1e-12)  # 1.1/2.0 = 0.55 -> 0.5
    np.testing.assert_allclose(
        got[[16, 17]], [s2 * 6.0, s2 * -2.5 / 2.5 * 2.0], rtol=1e-12
    )  # 5/0.857 -> 6; -2.33 -> -2


def test_nf4_block_and_int_group_worked_by_hand():
    w = np.zeros((1, 64))
    w[0, :3] = [0.5, -2.0, 1.0]
    got = quantize_weights(w, "nf4_b64")[0]
    levels = element_format("nf4").levels
    np.testing.assert_allclose(
        got[:3], [2.0 * levels[np.argmin(np.abs(levels - 0.25))], -2.0, 2.0 * 0.4407098293], atol=1e-7
    )  # 0.5 is nearer 0.4407 than 0.5626
    g = np.zeros((1, 128))
    g[0, :3] = [0.7, -0.31, 0.04]
    s = float(np.float16(0.7 / 7))
    np.testing.assert_allclose(quantize_weights(g, "int4_g128")[0, :3], [7 * s, -3 * s, 0 * s])


def test_blocks_do_not_cross_rows_and_short_rows_are_padded():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 40))  # 40 = one block of 32 and a padded one of 8
    whole = quantize_weights(w, "mxfp4")
    for r in range(3):
        np.testing.assert_array_equal(whole[r], quantize_weights(w[r : r + 1], "mxfp4")[0])


@pytest.mark.parametrize(("n", "m"), [(2, 4), (1, 4), (2, 8), (4, 8)])
def test_nm_masks_keep_the_n_largest_of_every_m(n, m):
    rng = np.random.default_rng(n * 10 + m)
    w = rng.normal(size=(5, 8 * m + 3))  # a partial group at the end of each row
    mask = nm_mask(w, n, m)
    for r in range(5):
        for start in range(0, w.shape[1], m):
            g, k = np.abs(w[r, start : start + m]), mask[r, start : start + m]
            assert k.sum() == min(n, len(g))
            assert g[k].min() >= g[~k].max(initial=0.0)


def test_unstructured_masks_remove_exactly_floor_cn():
    w = np.arange(1, 101, dtype=float).reshape(10, 10) * np.where(np.arange(100) % 2, 1, -1).reshape(10, 10)
    mask = keep_mask(w, parse_format("fp16_u37_bitmap"))
    assert (~mask).sum() == 37 and np.abs(w[~mask]).max() < np.abs(w[mask]).min()
    mags = np.array([0.5, 1.0, 2.0])
    cum = np.array([0, 3, 5, 9])  # three of 0.5, two of 1.0, four of 2.0
    assert magnitude_threshold(mags, cum, 4) == (1.0, 1)
    assert magnitude_threshold(mags, cum, 0) == (0.0, 0) and magnitude_threshold(mags, cum, 9)[0] == np.inf


def test_sparse_formats_prune_then_quantize_the_kept_values():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(8, 64))
    q = quantize_weights(w, "int8_2:4")
    kept = nm_mask(w, 2, 4)
    assert np.all(q[~kept] == 0)
    assert np.count_nonzero(q[kept]) >= kept.sum() - 2  # the kept values are large: they survive rounding
    np.testing.assert_array_equal(quantize_weights(w, "fp16_2:4")[kept], w[kept].astype(np.float16))


def test_fp16_stores_fp16_weights_exactly():
    w = np.random.default_rng(4).normal(size=(4, 16)).astype(np.float16).astype(np.float64)
    e = format_error(w, "fp16")
    assert e.mse == 0 and e.snr_db == np.inf and e.bits_per_weight == 16


def test_tensor_scale_is_the_brute_force_optimum():
    rng = np.random.default_rng(5)
    w = rng.standard_t(4, size=3000)
    sw = SortedWeights.build(w)
    for name in ["fp4_e2m1", "nf4", "int4", "fp6_e3m2"]:
        el = element_format(name)
        s, mse = optimal_level_scale(sw, el)
        brute = np.geomspace(sw.max_abs / el.levels[-1] / 64, sw.max_abs / el.levels[-1] * 2, 40000)
        direct = level_mse_sorted(sw, el.levels, brute)
        assert mse <= direct.min() * (1 + 1e-9), name
        # the fast evaluation agrees with rounding the weights
        assert mse == pytest.approx(np.mean((w - s * round_to_element(w / s, el)) ** 2), rel=1e-9)


def test_per_channel_scales_are_each_rows_optimum():
    rng = np.random.default_rng(6)
    w = rng.normal(size=(6, 256)) * rng.uniform(0.1, 3, size=(6, 1))
    for name in ["int4", "fp4_e2m1", "fp8_e4m3"]:
        el = element_format(name)
        q = quantize_weights(w, name + "_ch")
        for r in range(6):
            best = optimal_level_scale(SortedWeights.build(w[r], count=False), el)[1]
            assert np.mean((w[r] - q[r]) ** 2) == pytest.approx(best, rel=1e-9)
    assert format_error(w, "int4_ch").snr_db > format_error(w, "int4").snr_db


def test_degenerate_and_bad_tensors():
    zeros = np.zeros((4, 32))
    for name in ["int4", "int4_ch", "mxfp4", "nvfp4", "nf4_b64", "int4_g128", "int8_2:4"]:
        np.testing.assert_array_equal(quantize_weights(zeros, name), zeros)
    with pytest.raises(ValueError, match="NaN or Inf"):
        quantize_weights(np.array([[1.0, np.nan]]), "int4")
    assert quantize_weights(np.arange(6.0), "mxfp4").shape == (6,)


def test_double_quantized_nf4_is_close_to_fp32_scales():
    rng = np.random.default_rng(8)
    w = rng.normal(size=(64, 1024)) * rng.uniform(0.5, 2, size=(64, 1))
    plain, dq = format_error(w, "nf4_b64"), format_error(w, "nf4_b64_dq")
    assert dq.bits_per_weight == pytest.approx(4.127, abs=5e-4)
    assert plain.snr_db - 0.3 < dq.snr_db < plain.snr_db + 0.05  # 8-bit scales cost a little
    np.testing.assert_array_equal(quantize_weights(np.zeros((2, 64)), "nf4_b64_dq"), np.zeros((2, 64)))


@pytest.mark.parametrize(
    "name", ["int4", "fp8_e4m3", "nf4", "int8_2:4", "fp4_2:4", "int8_u50_bitmap", "int4_ch", "mxfp4"]
)
def test_the_error_from_sorted_values_is_the_error_of_the_stored_tensor(name):
    w = np.random.default_rng(9).standard_t(5, size=(12, 96)).astype(np.float16).astype(np.float64)
    direct = float(np.mean((w - quantize_weights(w, name)) ** 2))
    assert format_error(w, name).mse == pytest.approx(direct, rel=1e-12)


def test_unstructured_mask_is_the_stable_sort_choice():
    rng = np.random.default_rng(10)
    w = rng.integers(-5, 6, size=(7, 33)).astype(float)  # many ties
    for pct in (13, 50, 87):
        n_prune = int(pct / 100 * w.size)
        ref = np.ones(w.size, dtype=bool)
        ref[np.argsort(np.abs(w).reshape(-1), kind="stable")[:n_prune]] = False
        np.testing.assert_array_equal(keep_mask(w, parse_format(f"fp16_u{pct}_bitmap")).reshape(-1), ref)
