"""Heavy tails (paper §3, Figure 2): the kurtosis sweep, where pruning starts to win, the reachable range."""

import math

import numpy as np
import pandas as pd
import pytest

from pvq.analytic.heavy_tails import crossover_bits, kurtosis_sweep, pruning_win_onset, reachable_kurtosis


def test_kurtosis_sweep_hits_its_targets():
    sweep = kurtosis_sweep("truncated_student_t", [3.0, 50.0], [2, 8], dof=2.0)
    assert len(sweep) == 4 and list(sweep.n_bits) == [2, 8, 2, 8]
    assert {"distribution", "dof", "truncation", "kurtosis", "sparsity", "quant_snr_db", "prune_snr_db"} <= set(sweep)
    np.testing.assert_allclose(sweep["kurtosis"], [3.0, 3.0, 50.0, 50.0], rtol=1e-6)
    assert sweep.sparsity.tolist() == [0.875, 0.5, 0.875, 0.5]
    light, heavy = sweep.iloc[0], sweep.iloc[2]
    assert light.quant_snr_db > light.prune_snr_db  # near-normal: quantization wins at INT2
    assert heavy.prune_snr_db > heavy.quant_snr_db  # κ = 50: pruning wins at 2 bits
    assert (sweep[sweep.n_bits == 8].quant_snr_db > sweep[sweep.n_bits == 8].prune_snr_db).all()


def toy_sweep():
    """Pruning minus quantization SNR = log(κ/onset_b): onsets 10 (2 bits) and 100 (3 bits), never at 4 bits."""
    rows = []
    for k in (3.0, 5.0, 20.0, 50.0, 200.0):
        for b, onset in ((2, 10.0), (3, 100.0), (4, 1e9)):
            rows.append({"kurtosis": k, "n_bits": b, "sparsity": 1 - b / 16, "quant_snr_db": 10.0,
                         "prune_snr_db": 10.0 + math.log(k / onset)})  # fmt: skip
    return pd.DataFrame(rows)


def test_pruning_win_onset_interpolates_in_log_kurtosis():
    onset = pruning_win_onset(toy_sweep()).set_index("n_bits")
    assert onset.loc[2, "onset_kurtosis"] == pytest.approx(10.0) and onset.loc[2, "first_win_kurtosis"] == 20.0
    assert onset.loc[3, "onset_kurtosis"] == pytest.approx(100.0) and onset.loc[3, "first_win_kurtosis"] == 200.0
    assert math.isnan(onset.loc[4, "onset_kurtosis"]) and math.isnan(onset.loc[4, "first_win_kurtosis"])
    assert onset.loc[2, "sparsity"] == 0.875


def test_crossover_bits_is_the_largest_winning_bit_width():
    c = crossover_bits(toy_sweep())
    assert c["kurtosis"].tolist() == [3.0, 5.0, 20.0, 50.0, 200.0]
    assert c.max_prune_win_bits.tolist() == [0, 0, 2, 2, 3]


def test_reachable_kurtosis():
    assert reachable_kurtosis("student_t") == (3.0, math.inf)
    assert reachable_kurtosis("truncated_student_t", dof=2.0) == (1.8, math.inf)
    assert reachable_kurtosis("truncated_student_t", dof=6.0) == (1.8, pytest.approx(6.0))
    lo, hi = reachable_kurtosis("gennorm")
    assert lo == 1.8 and 100 < hi < math.inf
    with pytest.raises(ValueError, match="family must be one of"):
        reachable_kurtosis("laplace")
