"""Pruning at equal storage once its sparse format is paid for (chapter 1)."""

import math

import pytest

from pvq.analytic.accounting import STORAGE_COLUMNS, storage_comparison, storage_headlines
from pvq.analytic.distributions import make_distribution
from pvq.analytic.errors import optimal_clip, prune_snr_db

NORMAL = make_distribution("normal")


def test_storage_comparison_solves_each_format():
    t = storage_comparison(NORMAL, [2, 4], index_bits=4)
    assert list(t.columns) == STORAGE_COLUMNS
    at4 = t[t.n_bits == 4].set_index("format")
    assert at4.loc["ideal", "equivalent_sparsity"] == pytest.approx(0.75)
    # bitmask: (1 - c)·16 + 1 = 4  ⇒  c = 1 - 3/16
    assert at4.loc["bitmask", "equivalent_sparsity"] == pytest.approx(1 - 3 / 16)
    # index: (1 - c)(16 + 4) = 4  ⇒  c = 0.8
    assert at4.loc["index", "equivalent_sparsity"] == pytest.approx(0.8)
    assert at4.bits_per_weight.to_numpy() == pytest.approx([4.0] * 4)
    assert at4.loc["bitmask", "prune_snr_db"] == pytest.approx(prune_snr_db(NORMAL, 1 - 3 / 16))
    assert (at4.quant_snr_db == optimal_clip(NORMAL, n_bits=4).snr_db).all()
    # every honest format needs more sparsity, so pruning's SNR falls
    assert (at4.drop("ideal").prune_snr_db < at4.loc["ideal", "prune_snr_db"]).all()


def test_a_format_that_cannot_fit_gives_nan():
    t = storage_comparison(NORMAL, [1], formats=("bitmask",))
    assert math.isnan(t.equivalent_sparsity.iloc[0]) and math.isnan(t.prune_snr_db.iloc[0])


def test_storage_headlines():
    t = storage_comparison(NORMAL, [3, 4])
    h = storage_headlines(t)
    assert h["int4-sparsity"] == 75.0
    assert h["int4-mask-sparsity"] == pytest.approx(100 * (1 - 3 / 16))
    assert h["int4-quant-snr"] == pytest.approx(19.258, abs=1e-3)
    assert h["int4-ideal-prune-snr"] == pytest.approx(5.585, abs=1e-3)
    assert storage_headlines(t, n_bits=8) == {}
    assert set(storage_headlines(t, n_bits=3)) == {
        "int3-sparsity",
        "int3-mask-sparsity",
        "int3-ideal-prune-snr",
        "int3-mask-prune-snr",
        "int3-quant-snr",
    }
