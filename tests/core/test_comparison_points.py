"""The comparison points and their tables: grid levels, the pairing and its inverse, bit-width lists."""

import pytest

from pvq.core.pruning import BASELINE_BITS, paired_bits, paired_sparsity, pairing_table
from pvq.core.quantization import check_bits_list, grid_table


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
    for bad, msg in (
        ([], "empty"),
        ([2, 2], "repeated"),
        ("[2, 3]", "list of bit-widths in 1..15"),
        ([4, 16], "below"),
    ):
        with pytest.raises(ValueError, match=msg):
            check_bits_list(bad, "n_bits")
    with pytest.raises(ValueError, match="ft_bits"):
        check_bits_list([0], "ft_bits")
