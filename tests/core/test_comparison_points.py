"""The comparison points and their tables: grid levels, the pairing and its inverse, bit-width lists."""

import pytest

from pvq.core.pruning import (
    BASELINE_BITS,
    check_bits,
    check_bits_list,
    paired_bits,
    paired_sparsity,
    pairing_table,
)
from pvq.core.quantization import check_n_bits, grid_table


def test_grid_table_counts_levels():
    t = grid_table([1, 2, 4, 8]).set_index(["n_bits", "grid"])
    for b in (2, 4, 8):
        assert t.loc[(b, "signed"), "levels"] == 2**b  # -2^(b-1) .. 2^(b-1)-1
        assert t.loc[(b, "symmetric"), "levels"] == 2**b - 1
        assert t.loc[(b, "signed"), "q_min"] == -(2 ** (b - 1))
    assert (1, "symmetric") not in t.index  # no non-zero level at 1 bit
    assert t.loc[(1, "signed"), "levels"] == 2


def test_pairing_table_is_equal_ideal_storage():
    t = pairing_table([2, 4, 8])
    assert list(t.sparsity) == [1 - 2 / 16, 1 - 4 / 16, 1 - 8 / 16]
    # kept share times 16 bits = b bits per weight
    assert list((1 - t.sparsity) * BASELINE_BITS) == list(t.bits_per_weight)
    assert list(t.compression_ratio) == [8.0, 4.0, 2.0]
    assert pairing_table([4], baseline_bits=32).sparsity.iloc[0] == pytest.approx(1 - 4 / 32)


@pytest.mark.parametrize("b", range(1, 16))
def test_paired_bits_inverts_paired_sparsity(b):
    assert paired_bits(paired_sparsity(b)) == b
    assert paired_bits(paired_sparsity(b, baseline_bits=32), baseline_bits=32) == b


def test_paired_bits_rounds_and_refuses_bad_sparsity():
    assert paired_bits(0.7501) == 4
    with pytest.raises(ValueError, match="sparsity"):
        paired_bits(1.2)


def test_check_bits_list():
    assert check_bits_list([8, 2, 4]) == (2, 4, 8)
    rule = r"integers in 1\.\.15 \(below the 16-bit FP16 baseline\)"
    for bad, msg in (
        ([], r"at least one bit-width \(" + rule),
        ([2, 2], "distinct bit-widths, got \\[2, 2\\]"),
        ("[2, 3]", "must be a list of bit-widths, " + rule),
        (4, "must be a list of bit-widths"),
        ({"a": 2}, "must be a list of bit-widths"),
        ([4, 16], "must hold " + rule + r", got 16 in \[4, 16\]"),
        ([0, 3], r"got 0 in \[0, 3\]"),
        ([2.0], "got 2.0"),
        ([True], "got True"),
    ):
        with pytest.raises(ValueError, match=msg):
            check_bits_list(bad, "n_bits")
    with pytest.raises(ValueError, match=r"^ft_bits"):
        check_bits_list([0], "ft_bits")


def test_one_rule_for_compared_bit_widths():
    """1..15 for every comparison point (16 bits is the FP16 baseline, paired with 0% sparsity); quantize takes 16."""
    assert [b for b in range(-2, 20) if _accepts(check_bits, b)] == list(range(1, BASELINE_BITS))
    assert [b for b in range(-2, 20) if _accepts(lambda v: check_bits_list([v]), b)] == list(range(1, BASELINE_BITS))
    assert paired_sparsity(BASELINE_BITS) == 0.0 and check_n_bits(16) == 16
    with pytest.raises(ValueError, match=r"^figure_n_bits must be one of the integers in 1\.\.15 .*got 16$"):
        check_bits(16, name="figure_n_bits")


def _accepts(check, value) -> bool:
    try:
        check(value)
    except ValueError:
        return False
    return True
