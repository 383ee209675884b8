"""The summaries of the heavy-tail sweeps on small hand-made sweeps."""

import pandas as pd

from pvq.analytic.heavy_tails import (
    family_crossover,
    heavy_tail_headlines,
    kurtosis_grid,
    pruning_win_bits_by_family,
    tail_families,
)


def _sweep(family, prune_wins_at):
    """Two kurtosis values × bits 2, 4; pruning wins at the (kurtosis, bits) pairs listed."""
    rows = []
    for k in (3.0, 50.0):
        for b in (2, 4):
            win = (k, b) in prune_wins_at
            rows.append(
                {
                    "family": family,
                    "kurtosis": k,
                    "n_bits": b,
                    "quant_snr_db": 10.0,
                    "prune_snr_db": 11.0 if win else 9.0,
                }
            )
    return pd.DataFrame(rows)


def test_kurtosis_grid():
    g = kurtosis_grid(2.0, 200.0, 5)
    assert g[0] == 2.0 and g[-1] == 200.0 and len(g) == 5
    assert (kurtosis_grid(2.0, 200.0, 5, family="student_t") >= 3.0).all()


def test_tail_families():
    fams = tail_families([1.0, 3.0])
    assert [f[1] for f in fams] == ["truncated_student_t", "truncated_student_t", "student_t", "gennorm"]
    assert fams[1] == ("truncated t, dof=3", "truncated_student_t", 3.0)


def test_family_crossover_and_win_bits():
    sweeps = pd.concat([_sweep("a", {(50.0, 2), (50.0, 4)}), _sweep("student t (untruncated)", {(50.0, 2)})])
    cross = family_crossover(sweeps)
    a = cross[cross.family == "a"].set_index("kurtosis").max_prune_win_bits
    assert a.to_dict() == {3.0: 0, 50.0: 4}
    assert pruning_win_bits_by_family(cross).to_dict() == {"a": 4, "student t (untruncated)": 2}
    sweep = _sweep("a", set()).assign(prune_snr_db=[9.0, 8.0, 7.0, 2.0], quant_snr_db=[10.0, 20.0, 9.5, 15.0])
    h = heavy_tail_headlines(sweep, cross)
    # per bit-width range over kurtosis: pruning 2 (b=2), 6 (b=4); quantization 0.5, 5
    assert h == {"ht-prune-span": 6.0, "ht-quant-span": 5.0, "untruncated-t-max-bits": 2}
