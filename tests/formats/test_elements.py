"""Element formats: level sets against ml_dtypes and the published NF4 table, rounding against brute force."""

import ml_dtypes
import numpy as np
import pytest

from pvq.formats.elements import (
    ELEMENT_FORMATS,
    element_format,
    nf4_levels,
    round_e4m3,
    round_e8m0,
    round_to_element,
)

# the NF4 table as bitsandbytes and QLoRA publish it (float32 values), a fact to check the construction against
NF4_PUBLISHED = [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0,
]  # fmt: skip

FLOATS = {
    "fp8_e4m3": (ml_dtypes.float8_e4m3fn, 8, 448.0, 253),
    "fp8_e5m2": (ml_dtypes.float8_e5m2, 8, 57344.0, 247),
    "fp6_e3m2": (ml_dtypes.float6_e3m2fn, 6, 28.0, 63),
    "fp6_e2m3": (ml_dtypes.float6_e2m3fn, 6, 7.5, 63),
    "fp4_e2m1": (ml_dtypes.float4_e2m1fn, 4, 6.0, 15),
}


@pytest.mark.parametrize("name", sorted(FLOATS))
def test_float_levels_are_every_finite_value_of_the_type(name):
    dtype, bits, largest, count = FLOATS[name]
    fmt = element_format(name)
    every = np.arange(2**bits, dtype=np.uint8).view(dtype).astype(np.float64)
    finite = np.unique(every[np.isfinite(every)] + 0.0)
    np.testing.assert_array_equal(fmt.levels, finite)
    assert fmt.bits == bits and fmt.max == largest and len(fmt.levels) == count
    # symmetric, with an exact zero; each level round-trips through the type
    np.testing.assert_array_equal(fmt.levels, -fmt.levels[::-1])
    np.testing.assert_array_equal(fmt.levels.astype(dtype).astype(np.float64), fmt.levels)


def test_emax_of_the_mx_elements():
    # OCP MX v1.0: emax of FP8 E4M3 8, E5M2 15, FP6 E3M2 4, E2M3 2, FP4 E2M1 2, INT8 0
    got = {n: element_format(n).emax for n in ["fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1", "mxint8"]}
    assert got == {"fp8_e4m3": 8, "fp8_e5m2": 15, "fp6_e3m2": 4, "fp6_e2m3": 2, "fp4_e2m1": 2, "mxint8": 0}


def test_nf4_matches_the_published_table():
    np.testing.assert_allclose(nf4_levels(), NF4_PUBLISHED, rtol=0, atol=2e-7)
    levels = element_format("nf4").levels
    assert len(levels) == 16 and (levels > 0).sum() == 8 and (levels < 0).sum() == 7 and 0.0 in levels


def test_integer_and_mxint8_grids():
    np.testing.assert_array_equal(element_format("int4").levels, np.arange(-8, 8))
    mx = element_format("mxint8").levels
    assert mx[0] == -127 / 64 and mx[-1] == 127 / 64 and len(mx) == 255


@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1", "nf4", "int4", "mxint8"])
def test_rounding_is_nearest_level_with_saturation(name):
    fmt = element_format(name)
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, fmt.max / 3, 20000), rng.uniform(-3 * fmt.max, 3 * fmt.max, 2000)])
    got = round_to_element(x, fmt)
    dist = np.abs(x[:, None] - fmt.levels[None, :])
    nearest = fmt.levels[np.argmin(dist, axis=1)]
    gap = np.sort(dist, axis=1)
    clear = gap[:, 1] - gap[:, 0] > 1e-9 * fmt.max  # away from a midpoint, the nearest level is unique
    np.testing.assert_array_equal(got[clear], nearest[clear])
    assert np.all(np.abs(got) <= fmt.max)
    # levels are fixed points; rounding twice is rounding once
    np.testing.assert_array_equal(round_to_element(fmt.levels, fmt), fmt.levels)
    np.testing.assert_array_equal(round_to_element(got, fmt), got)


def test_float_ties_go_to_even():
    # FP4 E2M1: 0.25 lies between 0 and 0.5 (to 0), 0.75 between 0.5 and 1 (to 1), 5 between 4 and 6 (to 4)
    np.testing.assert_array_equal(round_to_element([0.25, 0.75, 2.5, 5.0, -5.0], "fp4_e2m1"), [0, 1, 2, 4, -4])


def test_scale_roundings():
    np.testing.assert_array_equal(round_e8m0([1.0, 1.99, 2.0, 0.3, 0.0]), [1.0, 1.0, 2.0, 0.25, 1.0])
    # E4M3 between 128 and 256 has steps of 16: 186.67 -> 192, 184 (a tie) -> 192 (even mantissa)
    np.testing.assert_array_equal(round_e4m3([186.67, 184.0, 500.0]), [192.0, 192.0, 448.0])


def test_unknown_element_names_are_refused_with_the_list():
    with pytest.raises(ValueError, match=r"unknown element format 'fp7'.*fp8_e4m3.*int2..int16"):
        element_format("fp7")
    assert "nf4" in ELEMENT_FORMATS
