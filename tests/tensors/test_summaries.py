import numpy as np
import pandas as pd
import pytest

from pvq.analyze import (
    describe_between,
    kurtosis_boundary,
    natural_sparsity_table,
    parse_bits,
    recommendations,
    win_share_by_bits,
    win_share_by_kurtosis,
)


def test_parse_bits():
    assert parse_bits("2-8") == [2, 3, 4, 5, 6, 7, 8]
    assert parse_bits("8,2,4") == [2, 4, 8]
    assert parse_bits("4") == [4]
    for bad in ("0-3", "16", "x", "", "2-20"):
        with pytest.raises(ValueError, match="bit"):
            parse_bits(bad)


def synthetic(boundary=50.0, n=4000, seed=0):
    """Pruning wins with probability 1/(1 + (boundary/κ)^2): a known logistic boundary."""
    rng = np.random.default_rng(seed)
    k = np.exp(rng.uniform(np.log(3), np.log(5000), n))
    p = 1 / (1 + (boundary / k) ** 2)
    prune_wins = rng.uniform(size=n) < p
    return pd.DataFrame({
        "model": "m", "tensor": [f"t{i}" for i in range(n)], "numel": 100, "n_bits": 2, "sparsity": 0.875,
        "kurtosis": k, "quant_snr_db": 10.0, "quant_snr_db_paper": 10.0,
        "prune_snr_db": np.where(prune_wins, 11.0, 9.0), "natural_sparsity": 0.5,
    })  # fmt: skip


def test_boundary_recovers_a_known_logistic():
    b = kurtosis_boundary(synthetic())
    assert b.boundary_kurtosis.iloc[0] == pytest.approx(50.0, rel=0.15)
    assert b.slope.iloc[0] == pytest.approx(2.0, rel=0.15)


def test_no_boundary_when_one_method_always_wins():
    df = synthetic().assign(prune_snr_db=0.0)
    assert np.isnan(kurtosis_boundary(df).boundary_kurtosis.iloc[0])


def test_shares_and_recommendations():
    df = synthetic()
    wins = win_share_by_bits(df)
    assert wins.quant_wins_share.iloc[0] == pytest.approx((df.prune_snr_db < 10).mean())
    by_k = win_share_by_kurtosis(df)
    share = by_k.prune_wins_share.to_numpy()  # true P(prune wins): 0.4% in the first bin, 99% in the last
    assert share[0] < 0.05 and share[-1] > 0.9 and share[-1] > share[3] > share[0]
    rec = recommendations(df)
    assert set(rec.recommendation) == {"quantize", "prune"} and (rec.margin_db == 1.0).all()
    assert natural_sparsity_table(df).natural_sparsity_mean.iloc[0] == 0.5


def test_describe_between():
    text = describe_between({8: 0.13, 4: 0.35}, pd.Series({8: 0.03, 4: 0.2}), pd.Series({8: 0.05, 4: 0.4}))
    assert "INT8: the paper's value 13.0% lies above both" in text
    assert "INT4: the paper's value 35.0% lies between the two" in text
