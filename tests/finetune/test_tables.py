"""Tables and claim checks of chapters 5–7 on small hand-made run tables with known answers."""

import math

import numpy as np
import pandas as pd
import pytest

from pvq.claims import check_c5, check_c6, check_c7, check_c9
from pvq.finetune_results import (
    combine_points,
    longer_table,
    pareto_front,
    representation_recovery,
    representation_summary,
    table1,
)


def run(method, *, bits=None, sparsity=0.0, seed=0, acc=0.9, epochs=2, arch="net", avg_bits=None, zeros=0.0):
    label = " + ".join(([f"INT{bits}"] if bits else []) + ([f"{sparsity:.0%} pruning"] if sparsity else []))
    if avg_bits is None:
        avg_bits = (bits or 16) * (1 - max(zeros, sparsity))
    return {"arch": arch, "method": method, "label": label, "n_bits": bits, "sparsity": sparsity, "seed": seed,
            "epochs": epochs, "status": "ok", "accuracy": acc, "avg_bits": avg_bits,
            "zeros": max(zeros, sparsity)}  # fmt: skip


def grid(acc_qat, acc_prune, *, epochs=2, seeds=(0, 1, 2), spread=0.001):
    """QAT and pruning runs at each bit-width with the given mean accuracies."""
    rows = []
    for b in acc_qat:
        for i, s in enumerate(seeds):
            d = spread * (i - 1)
            rows.append(run("qat", bits=b, seed=s, acc=acc_qat[b] + d, epochs=epochs))
            rows.append(run("prune", sparsity=1 - b / 16, seed=s, acc=acc_prune[b] + d, epochs=epochs))
    return rows


def test_table1_pairs_points_and_gap():
    t = table1(pd.DataFrame(grid({8: 0.91, 2: 0.88}, {8: 0.905, 2: 0.80})))
    assert t.n_bits.tolist() == [8, 2]
    assert t.gap.tolist() == pytest.approx([0.005, 0.08])
    assert t.sparsity.tolist() == [0.5, 0.875]
    assert t.accuracy_std_qat.iloc[0] == pytest.approx(0.001)
    # the standard error of a difference of two 3-seed means with std 0.001 each
    assert t.gap_se.iloc[0] == pytest.approx(math.sqrt(2 * 0.001**2 / 3))


def test_c5_verdicts():
    t = table1(pd.DataFrame(grid({8: 0.91, 4: 0.90, 2: 0.85}, {8: 0.905, 4: 0.89, 2: 0.86})))
    v = check_c5(t)
    assert v.verdict == "reproduced"  # pruning wins only at 2 bits
    assert "1 of 1 at ≤ 3 bits" in v.evidence
    t = table1(pd.DataFrame(grid({8: 0.91, 4: 0.88}, {8: 0.905, 4: 0.89})))
    assert check_c5(t).verdict == "not reproduced"  # pruning wins at 4 bits
    t = table1(pd.DataFrame(grid({4: 0.8895}, {4: 0.89}, spread=0.01)))
    assert check_c5(t).verdict == "reproduced"  # within noise: not a significant pruning win


def test_longer_table_and_c6():
    rows = grid({2: 0.88}, {2: 0.80}, epochs=2) + grid({2: 0.885}, {2: 0.84}, epochs=4)
    lt = longer_table(pd.DataFrame(rows), base_epochs=2)
    assert lt.factor.tolist() == [1.0, 2.0]
    assert lt.gain_prune.tolist() == pytest.approx([0.0, 0.04])
    assert lt.gain_qat.tolist() == pytest.approx([0.0, 0.005])
    assert check_c6(lt).verdict == "reproduced"
    rows = grid({2: 0.88}, {2: 0.80}, epochs=2) + grid({2: 0.90}, {2: 0.80}, epochs=4)
    assert check_c6(longer_table(pd.DataFrame(rows), base_epochs=2)).verdict == "not reproduced"


def test_combine_points_and_pareto_front_and_c9():
    rows = [
        run("qat", bits=8, acc=0.91, zeros=0.02),
        run("qat", bits=2, acc=0.85, zeros=0.4),
        run("prune", sparsity=0.5, acc=0.90),
        run("prune", sparsity=0.875, acc=0.80),
        run("qat+prune", bits=8, sparsity=0.75, acc=0.905),  # 2.0 bits: beats INT2 (1.2 bits, 0.85) and pruning
        run("qat+prune", bits=2, sparsity=0.5, acc=0.70),  # 1.0 bit: nothing else that small; worse than INT2
    ]
    pts = combine_points(pd.DataFrame(rows))
    assert set(pts.kind) == {"quantized", "pruned", "combined"}
    assert pts.set_index("label").loc["INT2", "avg_bits"] == pytest.approx(2 * 0.6)
    front = pareto_front(pts).set_index("label")
    assert (
        front.loc["INT8 + 75% pruning", "on_front"] and front.loc["INT8 + 75% pruning", "best_other_quantized"] == 0.85
    )
    assert math.isnan(front.loc["INT2 + 50% pruning", "best_other_pruned"])
    assert not front.loc["88% pruning", "on_front"]  # INT2 has fewer bits and more accuracy
    v = check_c9(pareto_front(pts))
    assert "1 of 2 combined models" in v.evidence and "INT8 + 75% pruning (2.00" in v.evidence
    assert "1 combined model(s) sit below the fewest bits" in v.evidence and "INT2 + 50% pruning" in v.evidence
    # with the combined models worse than both: says so
    worse = [r for r in rows if r["method"] != "qat+prune"] + [run("qat+prune", bits=8, sparsity=0.75, acc=0.5)]
    assert "none of 1 combined" in check_c9(pareto_front(combine_points(pd.DataFrame(worse)))).evidence


def probes(method, label, snrs, *, layers=("a", "b"), steps=100, bits=None, sparsity=0.0):
    rows = []
    n = len(snrs)
    for i, s in enumerate(snrs):
        for layer in layers:
            rows.append({"arch": "net", "method": method, "label": label, "n_bits": bits, "sparsity": sparsity,
                         "seed": 0, "epochs": 2, "steps": steps, "step": round(i * steps / (n - 1)), "layer": layer,
                         "snr_db": s, "cka": 1 - 10 ** (-s / 10)})  # fmt: skip
    return rows


def test_representation_recovery_and_c7():
    # pruning: perfect at the start, worst just after the target (0.8), back up at the end
    p = probes("prune", "75% pruning", [np.inf, 20, 12, 8, 6, 9], sparsity=0.75)
    q = probes("qat", "INT4", [15, 14, 13, 12, 12, 11], bits=4)
    rec = representation_recovery(pd.DataFrame(p + q)).set_index(["method", "layer"])
    # pruning: lowest after its last mask update (0.8), not the overall lowest before it
    assert rec.loc[("prune", "a"), "snr_lowest"] == 6 and rec.loc[("prune", "a"), "recovered_db"] == pytest.approx(3)
    # QAT: compressed from the start, lowest at the end, so no recovery
    assert rec.loc[("qat", "a"), "recovered_db"] == 0 and rec.loc[("qat", "a"), "drift_db"] == pytest.approx(-4)
    assert check_c7(rec.reset_index()).verdict == "reproduced"
    q_back = probes("qat", "INT4", [11, 12, 13, 14, 15, 16], bits=4)  # QAT recovers more (+5 dB) than pruning
    assert check_c7(representation_recovery(pd.DataFrame(p + q_back))).verdict == "partly reproduced"
    p_flat = probes("prune", "75% pruning", [np.inf, 20, 12, 8, 6, 5], sparsity=0.75)
    assert check_c7(representation_recovery(pd.DataFrame(p_flat + q_back))).verdict == "not reproduced"
    s = representation_summary(pd.DataFrame(p + q))
    assert s.progress.max() == 1.0 and s[(s.method == "prune") & (s.step == 0)].snr_db.isna().all()  # inf → NaN
