import math

import pytest

from pvq.core.storage import binary_entropy, bits_per_weight, equivalent_sparsity


def test_binary_entropy():
    assert binary_entropy(0.0) == 0.0 and binary_entropy(1.0) == 0.0
    assert binary_entropy(0.5) == pytest.approx(1.0)
    assert binary_entropy(0.11) == pytest.approx(0.4999, abs=1e-3)


@pytest.mark.parametrize("b", [2, 3, 4, 5, 6, 7, 8])
def test_equivalent_sparsity_closed_forms(b):
    assert equivalent_sparsity(b) == pytest.approx(1 - b / 16)
    assert equivalent_sparsity(b, fmt="bitmask") == pytest.approx(1 - (b - 1) / 16)
    assert equivalent_sparsity(b, fmt="index", index_bits=4) == pytest.approx(1 - b / 20)


@pytest.mark.parametrize("fmt", ["ideal", "bitmask", "index", "entropy"])
@pytest.mark.parametrize("b", [2, 4, 8])
def test_equivalent_sparsity_spends_exactly_the_budget(fmt, b):
    c = equivalent_sparsity(b, fmt=fmt, index_bits=4)
    assert bits_per_weight(c, fmt=fmt, index_bits=4) == pytest.approx(b, rel=1e-10)
    if fmt != "ideal":
        assert c > 1 - b / 16  # paying for positions always costs sparsity


def test_entropy_bound_is_below_bitmask():
    for b in range(2, 9):
        assert equivalent_sparsity(b, fmt="entropy") < equivalent_sparsity(b, fmt="bitmask")


def test_impossible_budget_is_nan():
    assert math.isnan(equivalent_sparsity(1, fmt="bitmask"))


def test_bad_format():
    with pytest.raises(ValueError, match="format must be one of"):
        bits_per_weight(0.5, fmt="csr")
    with pytest.raises(ValueError, match="index_bits"):
        bits_per_weight(0.5, fmt="index")
