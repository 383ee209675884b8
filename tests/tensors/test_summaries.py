import tracemalloc

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file, save_file

from pvq.tensors.analysis import analyze_tensor
from pvq.tensors.checkpoints import resolve
from pvq.tensors.summaries import (
    WIN_SHARE_COLUMNS,
    analyze_model,
    describe_between,
    kurtosis_boundary,
    kurtosis_headlines,
    natural_sparsity_table,
    parse_bits,
    recommendations,
    snr_margins,
    win_share_by_bits,
    win_share_by_kurtosis,
    win_share_headlines,
    win_share_table,
)


def test_parse_bits():
    assert parse_bits("2-8") == [2, 3, 4, 5, 6, 7, 8]
    assert parse_bits("8,2,4") == [2, 4, 8]
    assert parse_bits("4") == [4]
    assert parse_bits("2-4,3") == [2, 3, 4]
    rule = r"integers in 1\.\.15 \(below the 16-bit FP16 baseline\)"
    for bad, msg in (
        ("0-3", r"^bits must hold " + rule + r", got 0 in \[0, 1, 2, 3\]$"),
        ("16", r"got 16 in \[16\]$"),
        ("2-20", "got 16 in"),
        ("x", r"^bits must look like '2-8', '4' or '2,4,8', bit-widths being " + rule + r"; got 'x'$"),
        ("", "must look like"),
        ("8-2", "must look like"),
        ("2,,4", "must look like"),
    ):
        with pytest.raises(ValueError, match=msg):
            parse_bits(bad)
    with pytest.raises(ValueError, match=r"^--bits must look like"):
        parse_bits("x", name="--bits")


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


def test_boundary_ignores_an_impossible_kurtosis():
    """A kurtosis of 0 or infinity (log undefined) would break the fit; those rows are left out."""
    good = synthetic()
    bad = synthetic(seed=1).head(200).assign(kurtosis=[0.0, np.inf] * 100, prune_snr_db=11.0)
    b = kurtosis_boundary(pd.concat([good, bad]))
    assert b.boundary_kurtosis.iloc[0] == pytest.approx(kurtosis_boundary(good).boundary_kurtosis.iloc[0], rel=1e-6)


def test_kurtosis_headlines_by_hand():
    df = pd.DataFrame({"n_bits": 2, "kurtosis": [3.0, 3.5, 40.0, 50.0, 60.0, 200.0],
                       "quant_snr_db": 10.0, "prune_snr_db": [9.0, 11.0, 11.0, 11.0, 9.0, 11.0]})  # fmt: skip
    h = kurtosis_headlines(win_share_by_kurtosis(df), kurtosis_boundary(df), prefix="x")
    assert h["x-light-2"] == pytest.approx(50.0) and h["x-heavy-2"] == pytest.approx(200 / 3)
    assert h["x-boundary-2"] == pytest.approx(kurtosis_boundary(df).boundary_kurtosis.iloc[0])
    h = kurtosis_headlines(win_share_by_kurtosis(df.head(2)), kurtosis_boundary(df.head(2)), prefix="x", n_bits=2)
    assert np.isnan(h["x-heavy-2"])  # no tensor with kurtosis in 30..100
    assert np.isnan(
        kurtosis_headlines(win_share_by_kurtosis(df), kurtosis_boundary(df), prefix="x", n_bits=4)["x-light-4"]
    )


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


def hand_made_wins():
    """Four tensors at INT2 and INT9: the winners are easy to count by hand."""
    rows = []
    for b, prune, paper in ((2, [9, 11, 9, 12], [8, 10, 10, 13]), (9, [1, 1, 1, 11], [10, 10, 10, 10])):
        for i in range(4):
            rows.append({"tensor": f"t{i}", "n_bits": b, "sparsity": 1 - b / 16, "quant_snr_db": 10.0,
                         "quant_snr_db_paper": float(paper[i]), "prune_snr_db": float(prune[i])})  # fmt: skip
    return pd.DataFrame(rows)


def test_win_share_table_counts_wins_with_both_clippings_beside_the_released_data():
    t = win_share_table(hand_made_wins()).set_index("n_bits")
    assert list(t.reset_index().columns) == WIN_SHARE_COLUMNS
    # INT2, exact: 10 > 9, 10 < 11, 10 > 9, 10 < 12; paper: 8 < 9, 10 < 11, 10 > 9, 13 > 12
    assert t.loc[2, "quant_wins_share"] == 0.5 and t.loc[2, "quant_wins_share_paper_clipping"] == 0.5
    assert t.loc[2, "median_margin_db"] == 0.0  # margins +1, -1, +1, -2
    assert t.loc[9, "quant_wins_share"] == 0.75 and t.loc[9, "quant_wins_share_paper_clipping"] == 0.75
    assert t.loc[2, "tensors"] == 4 and t.loc[2, "sparsity"] == 0.875
    # computed from the shipped release (lossless-pruning tensors left out): 74.1% at INT2, none at 9 bits
    assert round(t.loc[2, "paper_released_data"], 3) == 0.741 and np.isnan(t.loc[9, "paper_released_data"])


def test_win_share_headlines_quote_the_lowest_bit_width():
    h = win_share_headlines(win_share_table(hand_made_wins()))
    assert h == {
        "lowest-bits": 2,
        "lowest-share": 50.0,
        "lowest-paper-share": pytest.approx(74.1, abs=0.05),
        "min-share": 50.0,
    }


def test_snr_margins_by_hand_and_without_lossless_pruning():
    t = hand_made_wins().assign(model="m")
    t.loc[7, "prune_snr_db"] = np.inf  # INT9, t3: pruning lossless, no finite margin
    m = snr_margins(t, source="book")
    assert list(m.columns) == ["source", "model", "tensor", "n_bits", "sparsity", "margin_db"]
    assert (m.source == "book").all() and len(m) == 7 and "t3" not in set(m[m.n_bits == 9].tensor)
    assert m[m.n_bits == 2].margin_db.tolist() == [1.0, -1.0, 1.0, -2.0]  # 10 minus 9, 11, 9, 12
    paper = snr_margins(t, quant_col="quant_snr_db_paper")
    assert paper[paper.n_bits == 2].margin_db.tolist() == [-1.0, -1.0, 1.0, 1.0]  # 8, 10, 10, 13 minus the same
    assert snr_margins(t.iloc[:0]).empty


def test_analyze_model_holds_one_tensor_at_a_time_and_equals_the_eager_path(tmp_path):
    """Five 8 MB FP16 tensors: the peak of traced memory stays below two of them; the rows equal
    those of analysing every tensor after loading them all at once (as float32, the old way)."""
    rng = np.random.default_rng(1)
    tensors = {f"h{i}.weight": (rng.standard_t(3 + i, size=(2048, 2048)) * 0.02).astype(np.float16) for i in range(5)}
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path))
    tracemalloc.start()
    try:
        lazy, skipped = analyze_model(resolve(path), [2, 4])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert skipped.empty and list(lazy.tensor.unique()) == list(tensors)
    assert peak < 2 * tensors["h0.weight"].nbytes  # all five at once: 40 MB
    eager = dict(load_file(str(path)))
    rows = [r for name, w in eager.items() for r in analyze_tensor(w.astype(np.float32), [2, 4], model="model",
                                                                    tensor=name)[0]]  # fmt: skip
    pd.testing.assert_frame_equal(lazy, pd.DataFrame(rows, columns=lazy.columns))
