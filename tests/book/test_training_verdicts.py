"""The fine-tuning claim checks (C5, C6, C7, C9) on small hand-made tables with known answers."""

import numpy as np
import pandas as pd

from pvq.book.claims import Verdict
from pvq.book.training_verdicts import (
    EARLIER_FINE_TUNING_VERDICTS,
    against_earlier,
    check_c5,
    check_c6,
    check_c7,
    check_c9,
)
from pvq.finetune.tables import combine_points, longer_table, pareto_front, table1
from pvq.finetune.trajectories import representation_shapes

from ..finetune.test_tables import combining_runs, grid, run
from ..finetune.test_trajectories import probes


def test_c5_verdicts():
    t = table1(pd.DataFrame(grid({8: 0.91, 4: 0.90, 2: 0.85}, {8: 0.905, 4: 0.89, 2: 0.86})))
    v = check_c5(t)
    assert v.verdict == "reproduced"  # pruning wins only at 2 bits
    assert "1 of 1 at ≤ 3 bits" in v.evidence
    t = table1(pd.DataFrame(grid({8: 0.91, 4: 0.88}, {8: 0.905, 4: 0.89})))
    assert check_c5(t).verdict == "not reproduced"  # pruning wins at 4 bits
    t = table1(pd.DataFrame(grid({4: 0.8895}, {4: 0.89}, spread=0.01)))
    assert check_c5(t).verdict == "reproduced"  # within noise: not a significant pruning win


def test_c5_reads_the_ablation_at_equal_bits():
    """Each verdict with the ablation: QAT at exactly b bits in every layer beside the recipe's QAT."""
    recipe = grid({8: 0.91, 4: 0.90, 2: 0.85}, {8: 0.905, 4: 0.89, 2: 0.86})  # QAT ahead above 3 bits
    t1 = table1(pd.DataFrame(recipe))

    def ablation(acc4):
        rows = [r for r in recipe if r["method"] == "prune"]
        rows += [run("qat", bits=4, seed=s, acc=acc4 + 0.001 * (s - 1), first_last_bits=None) for s in (0, 1, 2)]
        return table1(pd.DataFrame(rows), all_layers=True)

    v = check_c5(t1, ablation(0.895))  # still ahead at equal bits
    assert v.verdict == "reproduced" and "At equal bits per weight" in v.evidence
    assert "measured bits per weight QAT 2.00–8.00" in v.evidence
    v = check_c5(t1, ablation(0.87))  # behind at INT4 once its first and last layer are at 4 bits too
    assert v.verdict == "partly reproduced" and "at equal bits per weight only" in v.evidence
    losing = table1(pd.DataFrame(grid({8: 0.91, 4: 0.88}, {8: 0.905, 4: 0.89})))
    assert check_c5(losing, ablation(0.87)).verdict == "not reproduced"  # behind in both
    v = check_c5(losing, ablation(0.895))
    assert v.verdict == "partly reproduced" and "only with the first and last layer at 8 bits" in v.evidence
    assert check_c5(t1, ablation(0.87).iloc[:0]).verdict == "reproduced"  # an empty ablation: the recipe alone


def test_c6():
    rows = grid({2: 0.88}, {2: 0.80}, epochs=2) + grid({2: 0.885}, {2: 0.84}, epochs=4)
    assert check_c6(longer_table(pd.DataFrame(rows), base_epochs=2)).verdict == "reproduced"
    rows = grid({2: 0.88}, {2: 0.80}, epochs=2) + grid({2: 0.90}, {2: 0.80}, epochs=4)
    assert check_c6(longer_table(pd.DataFrame(rows), base_epochs=2)).verdict == "not reproduced"
    # two points: pruning gains more at INT2 (+4 vs +0.5), less at INT3 (+0 vs +2)
    rows = grid({2: 0.88, 3: 0.89}, {2: 0.80, 3: 0.85}, epochs=2)
    rows += grid({2: 0.885, 3: 0.91}, {2: 0.84, 3: 0.85}, epochs=4)
    v = check_c6(longer_table(pd.DataFrame(rows), base_epochs=2))
    assert v.verdict == "partly reproduced" and "at 1 of 2" in v.evidence


def c7(*runs):
    return check_c7(representation_shapes(pd.DataFrame([r for run in runs for r in run])))


def test_c7_every_verdict():
    # one rule for both: a trajectory returns when it climbs back >= 0.5 dB from its lowest point
    p_back = probes("prune", "75% pruning", [5, 30, 12, 6, 7, 9], sparsity=0.75)  # dips, climbs back 3 dB
    p_flat = probes("prune", "75% pruning", [5, 30, 12, 6, 6.1, 6.2], sparsity=0.75)  # dips, stays
    q_away = probes("qat", "INT4", [15, 14, 13, 12, 12, 11], bits=4)  # starts high, drifts away
    q_back = probes("qat", "INT4", [15, 11, 12, 13, 14, 15], bits=4)  # dips, climbs back 4 dB
    v = c7(p_back, q_away)
    assert v.verdict == "reproduced" and "pruning 100% returns of 2" in v.evidence
    assert "QAT 100% drifts away of 2" in v.evidence
    assert c7(p_back, q_back).verdict == "partly reproduced"  # both come back: no contrast
    two_layers = probes("prune", "75% pruning", [5, 30, 12, 6, 7, 9], sparsity=0.75, layers=("a",))
    two_layers += probes("prune", "75% pruning", [5, 30, 12, 6, 6.1, 6.2], sparsity=0.75, layers=("b",))
    assert c7(two_layers, q_away).verdict == "partly reproduced"  # returns at half the cases, QAT at none
    assert c7(p_flat, q_away).verdict == "not reproduced"  # neither comes back
    assert c7(p_flat, q_back).verdict == "not reproduced"  # only QAT comes back
    v = c7(p_back, q_away, probes("fp32", "FP32 fine-tuned", [np.inf, 30, 28, 27, 26, 25]))
    assert v.verdict == "reproduced" and "the FP32 control" in v.evidence and "CKA by the same rule" in v.evidence
    assert c7(p_back).verdict == "not yet checked"  # no QAT trajectory
    short = probes("qat", "INT4", [15, 11], bits=4)  # one probe after step 0: too few to read a shape
    v = c7(p_back, short)
    assert v.verdict == "not yet checked" and "no readable trajectories" in v.evidence


def test_c9():
    rows = combining_runs()
    v = check_c9(pareto_front(combine_points(pd.DataFrame(rows))))
    assert v.verdict == "partly reproduced" and "1 of 1 combined models with a rival" in v.evidence
    assert "INT8 + 75% pruning (2.00" in v.evidence
    assert "1 combined model(s) sit below the fewest bits" in v.evidence and "INT2 + 50% pruning" in v.evidence
    # with the combined models worse than both: not reproduced, and says so
    worse = [r for r in rows if r["method"] != "qat+prune"] + [run("qat+prune", bits=8, sparsity=0.75, acc=0.5)]
    v = check_c9(pareto_front(combine_points(pd.DataFrame(worse))))
    assert v.verdict == "not reproduced" and "none of 1 combined" in v.evidence


def test_c9_each_verdict_with_seeds():
    """Three seeds each: ahead by many standard errors, ahead within noise, and no rival at all."""

    def seeds(method, acc, spread, **kw):
        return [run(method, seed=s, acc=acc + spread * (s - 1), **kw) for s in (0, 1, 2)]

    base = seeds("qat", 0.85, 0.001, bits=2, zeros=0.4) + seeds("prune", 0.80, 0.001, sparsity=0.875)
    clear = base + seeds("qat+prune", 0.905, 0.001, bits=8, sparsity=0.75)  # +5.5 points, s.e. ≈ 0.08
    v = check_c9(pareto_front(combine_points(pd.DataFrame(clear))))
    assert v.verdict == "reproduced" and "1 of them by more than 2 standard errors" in v.evidence
    noisy = base + seeds("qat+prune", 0.86, 0.05, bits=8, sparsity=0.75)  # +1 point, s.e. ≈ 2.9
    assert check_c9(pareto_front(combine_points(pd.DataFrame(noisy)))).verdict == "partly reproduced"
    lonely = base + seeds("qat+prune", 0.7, 0.001, bits=2, sparsity=0.5)  # 1.0 bit: below every single method
    v = check_c9(pareto_front(combine_points(pd.DataFrame(lonely))))
    assert v.verdict == "not yet checked" and "has a rival" in v.evidence


def test_against_earlier_says_whether_the_verdict_changed():
    assert EARLIER_FINE_TUNING_VERDICTS["full"]["C5"] == "reproduced"
    same = against_earlier(Verdict("C5", "all", "reproduced", "numbers"), "full")
    assert same.verdict == "reproduced" and same.evidence.startswith("numbers. Unchanged from the earlier edition")
    changed = against_earlier(Verdict("C9", "all", "not reproduced", "numbers"), "ci")
    assert changed.verdict == "not reproduced" and "**Changed**" in changed.evidence
    assert "read *partly reproduced*, this build reads *not reproduced*" in changed.evidence
    other = Verdict("C1", "all", "reproduced", "numbers")
    assert against_earlier(other, "full") == other and against_earlier(same, "nightly") == same


def test_every_check_names_its_claim():
    assert check_c5(table1(pd.DataFrame(grid({4: 0.9}, {4: 0.8})))).claim == "C5"
    assert check_c9(pareto_front(combine_points(pd.DataFrame([run("qat", bits=4)])))).claim == "C9"
