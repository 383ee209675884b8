"""The paper's stated values, glued under stable names."""

import pytest

from pvq.common.paper import PAPER, PAPER_RECIPE, paper_values


def test_paper_values_keys_and_values():
    assert paper_values("mask_bits_per_weight", "natural_sparsity_int8") == {
        "paper-mask-bits-per-weight": 1.0,
        "paper-natural-sparsity-int8": 0.13,
    }
    with pytest.raises(KeyError, match="not a value the paper states"):
        paper_values("made_up")


def test_every_value_has_a_source():
    for table in (PAPER, PAPER_RECIPE):
        for name, (value, source) in table.items():
            assert isinstance(value, int | float), name
            assert source.startswith(("paper", "paper repository")), name
