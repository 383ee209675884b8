"""Tables of chapters 5–7 on small hand-made run tables with known answers (the claim checks on the same
tables: tests/book/test_verdicts.py)."""

import dataclasses
import math
import re

import numpy as np
import pandas as pd
import pytest

from pvq.book.training_verdicts import check_c9
from pvq.common.paper import PAPER_RECIPE
from pvq.finetune.data import ImageData
from pvq.finetune.recipe import FineTuneSpec, PretrainSpec
from pvq.finetune.tables import (
    TABLE1_COLUMNS,
    at_length,
    combine_points,
    combining_wins,
    figure5,
    format_accuracy,
    longer_table,
    natural_sparsity,
    pareto_front,
    recipe_table,
    seed_runs,
    table1,
    table1_display,
)


def run(
    method, *, bits=None, sparsity=0.0, seed=0, acc=0.9, epochs=2, arch="net", avg_bits=None, zeros=0.0, stored=None,
    first_last_bits=8, lr=0.01,
):  # fmt: skip
    label = " + ".join(([f"INT{bits}"] if bits else []) + ([f"{sparsity:.0%} pruning"] if sparsity else []))
    if bits and first_last_bits is None:
        label += ", all layers"
    if avg_bits is None:
        avg_bits = (bits or 16) * (1 - max(zeros, sparsity))
    if stored is None:
        stored = avg_bits if "prune" in method else (bits or 16)
    return {"arch": arch, "method": method, "label": label, "n_bits": bits, "sparsity": sparsity, "seed": seed,
            "epochs": epochs, "status": "ok", "accuracy": acc, "avg_bits": avg_bits,
            "zeros": max(zeros, sparsity), "bits_per_weight": stored, "lr": lr,
            "first_last_bits": first_last_bits if "qat" in method else None}  # fmt: skip


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
    assert t.bits_qat.tolist() == [8, 2] and t.bits_prune.tolist() == pytest.approx([8, 2])
    assert t.lr_qat.tolist() == [0.01, 0.01]
    assert t.accuracy_std_qat.iloc[0] == pytest.approx(0.001)
    # the standard error of a difference of two 3-seed means with std 0.001 each
    assert t.gap_se.iloc[0] == pytest.approx(math.sqrt(2 * 0.001**2 / 3))


def test_table1_keeps_the_ablation_apart():
    """QAT with 8-bit edges (2.24 bits per weight) and with every layer at INT2 (2.0), beside the same pruning."""
    rows = [run("qat", bits=2, seed=s, acc=0.85, stored=2.24) for s in (0, 1)]
    rows += [run("qat", bits=2, seed=s, acc=0.80, first_last_bits=None) for s in (0, 1)]
    rows += [run("prune", sparsity=0.875, seed=s, acc=0.82) for s in (0, 1)]
    runs = pd.DataFrame(rows)
    main, abl = table1(runs), table1(runs, all_layers=True)
    assert (len(main), len(abl)) == (1, 1)
    assert main.gap.iloc[0] == pytest.approx(0.03) and main.bits_qat.iloc[0] == pytest.approx(2.24)
    assert abl.gap.iloc[0] == pytest.approx(-0.02) and abl.bits_qat.iloc[0] == pytest.approx(2.0)
    assert abl.bits_prune.iloc[0] == pytest.approx(2.0) == main.bits_prune.iloc[0]
    # Figure 5 never mixes the ablation in: one quantized point, the recipe's
    q = combine_points(runs).query("kind == 'quantized'")
    assert q.label.tolist() == ["INT2"] and q.accuracy_mean.tolist() == pytest.approx([0.85])
    # a table without the column is the recipe's runs only
    old = runs[runs.first_last_bits.notna() | (runs.method != "qat")].drop(columns="first_last_bits")
    assert table1(old).gap.iloc[0] == pytest.approx(0.03) and table1(old, all_layers=True).empty


def test_longer_table():
    rows = grid({2: 0.88}, {2: 0.80}, epochs=2) + grid({2: 0.885}, {2: 0.84}, epochs=4)
    lt = longer_table(pd.DataFrame(rows), base_epochs=2)
    assert lt.factor.tolist() == [1.0, 2.0]
    assert lt.gain_prune.tolist() == pytest.approx([0.0, 0.04])
    assert lt.gain_qat.tolist() == pytest.approx([0.0, 0.005])


def combining_runs():
    """Quantized, pruned and combined runs with a known Pareto front."""
    return [
        run("qat", bits=8, acc=0.91, zeros=0.02),
        run("qat", bits=2, acc=0.85, zeros=0.4),
        run("prune", sparsity=0.5, acc=0.90),
        run("prune", sparsity=0.875, acc=0.80),
        run("qat+prune", bits=8, sparsity=0.75, acc=0.905),  # 2.0 bits: beats INT2 (1.2 bits, 0.85) and pruning
        run("qat+prune", bits=2, sparsity=0.5, acc=0.70),  # 1.0 bit: nothing else that small; worse than INT2
    ]


def test_combine_points_and_pareto_front():
    pts = combine_points(pd.DataFrame(combining_runs()))
    assert set(pts.kind) == {"quantized", "pruned", "combined"}
    assert pts.set_index("label").loc["INT2", "avg_bits"] == pytest.approx(2 * 0.6)
    front = pareto_front(pts).set_index("label")
    assert (
        front.loc["INT8 + 75% pruning", "on_front"] and front.loc["INT8 + 75% pruning", "best_other_quantized"] == 0.85
    )
    assert math.isnan(front.loc["INT2 + 50% pruning", "best_other_pruned"])
    assert not front.loc["88% pruning", "on_front"]  # INT2 has fewer bits and more accuracy


def test_format_accuracy():
    assert format_accuracy(0.9123, 0.001, 3, 3) == "91.23 ± 0.10"
    assert format_accuracy(0.9, math.nan, 1, 1) == "90.00"
    assert format_accuracy(0.8, math.nan, 1, 2) == "80.00 (1 of 2 diverged)"
    assert format_accuracy(math.nan, math.nan, 0, 3) == "diverged (3 of 3)"


# -- chapter tables: recipe, Table 1 display, Figure 5 wins, natural sparsity, probes, display -------------


def tiny_data(n_train=5000, n_test=800):
    """An ImageData of the given sizes (1×1 images, labels 0..9): only its sizes matter here."""
    y_train, y_test = np.arange(n_train) % 10, np.arange(n_test) % 10
    return ImageData(np.zeros((n_train, 1, 1, 1), np.uint8), y_train, np.zeros((n_test, 1, 1, 1), np.uint8), y_test, "")


def test_table1_keeps_one_length_when_asked():
    rows = grid({4: 0.90}, {4: 0.85}, epochs=2) + grid({4: 0.91}, {4: 0.89}, epochs=4)
    assert table1(pd.DataFrame(rows)).epochs.tolist() == [2, 4]
    t = table1(pd.DataFrame(rows), epochs=4)
    assert t.epochs.tolist() == [4] and t.gap.tolist() == pytest.approx([0.02]) and t.sparsity.tolist() == [0.75]


def test_recipe_table_sets_the_book_beside_the_paper():
    spec = FineTuneSpec(PretrainSpec("resnet_small"), "qat", n_bits=4, epochs=3, epoch_images=1000, batch_size=100,
                        mask_interval=7, bn_batches=9)  # fmt: skip
    t = recipe_table(spec, tiny_data()).set_index("setting")
    assert list(t.index) == list(PAPER_RECIPE) and list(t.columns) == ["paper", "this book", "source"]
    # 3 epochs of 1,000 images in batches of 100: 3 × 10 steps
    assert t.loc["epochs", "this book"] == "3 × 1,000 images (30 steps)" and t.loc["epochs", "paper"] == "20"
    assert t.loc["mask_interval"].tolist()[:2] == ["50", "7 steps"]
    assert t.loc["scale_lr"].tolist()[:2] == ["1e-05", "1e-05"] and t.loc["bn_batches", "this book"] == "9"
    assert t.loc["prune_end", "this book"] == "0.75" and t.loc["first_last_bits", "this book"] == "8"
    whole = recipe_table(dataclasses.replace(spec, epoch_images=0), tiny_data()).set_index("setting")
    assert whole.loc["epochs", "this book"] == "3 × 5,000 images (150 steps)"  # 0: the whole training set


def test_table1_display_stacks_the_networks_with_the_fp32_rows_first():
    rows = grid({4: 0.90, 2: 0.80}, {4: 0.85, 2: 0.60})  # three seeds, std 0.001 each
    rows += [run("fp32", seed=s, acc=0.92 + 0.001 * (s - 1)) for s in (0, 1, 2)]
    rows += [{**r, "arch": "other"} for r in grid({4: 0.91}, {4: 0.90})]
    runs = pd.DataFrame(rows)
    baselines = pd.DataFrame({"arch": ["net", "other"], "accuracy": [0.9312, 0.95]})
    shown = table1_display(table1(runs), baselines, runs)
    assert shown.index.names == ["network", "point"]
    assert shown.index.tolist() == [
        ("net", "FP32 baseline"), ("net", "FP32, same fine-tuning"), ("net", "INT4 / 75.00%"), ("net", "INT2 / 87.50%"),
        ("other", "FP32 baseline"), ("other", "FP32, same fine-tuning"), ("other", "INT4 / 75.00%"),
    ]  # fmt: skip
    # five columns however many networks: the table stays within the text column
    assert shown.columns.tolist() == list(TABLE1_COLUMNS) == [
        "QAT accuracy (%)", "QAT bits per weight", "pruning accuracy (%)", "pruning bits per weight",
        "QAT lead (points)",
    ]  # fmt: skip
    assert shown.loc[("net", "FP32 baseline")].tolist() == ["93.12", "", "", "", ""]
    assert shown.loc[("net", "FP32, same fine-tuning")].tolist() == ["92.00 ± 0.10", "", "", "", ""]
    assert shown.loc[("net", "INT4 / 75.00%")].tolist() == ["90.00 ± 0.10", "4.00", "85.00 ± 0.10", "4.00", "+5.00"]
    assert shown.loc[("net", "INT2 / 87.50%")].tolist() == ["80.00 ± 0.10", "2.00", "60.00 ± 0.10", "2.00", "+20.00"]
    assert shown.loc[("other", "INT4 / 75.00%")].tolist()[-1] == "+1.00"
    assert shown.loc[("other", "FP32, same fine-tuning")].tolist() == [""] * 5  # no control runs for it
    assert not re.search(r"\d\.\d{3}", shown.to_html())  # no raw floats: every number to 2 decimals


def test_seed_runs_lists_every_recipe_run_at_its_point():
    rows = grid({4: 0.90, 2: 0.80}, {4: 0.85, 2: 0.60})
    rows += [run("qat", bits=2, seed=0, acc=0.5, first_last_bits=None)]  # the all-layer ablation: not here
    rows += [run("prune", sparsity=0.875, seed=0, acc=0.7, epochs=4)]  # a longer run: not here
    rows += [{**run("prune", sparsity=0.75, seed=3, acc=math.nan), "status": "diverged"}]
    rows += [run("fp32", seed=0, acc=0.92)]
    t = seed_runs(pd.DataFrame(rows))
    assert t.columns.tolist() == ["arch", "n_bits", "sparsity", "method", "seed", "accuracy"]
    assert len(t) == 12 and t.n_bits.tolist() == [2] * 6 + [4] * 6  # fewest bits first
    assert t.method.tolist()[:6] == ["QAT"] * 3 + ["pruning"] * 3 and t.sparsity.tolist()[:6] == [0.875] * 6
    assert t.accuracy.tolist()[3:6] == pytest.approx([0.599, 0.6, 0.601])  # pruning at 87.5% is the INT2 point
    assert seed_runs(pd.DataFrame(rows), epochs=4).accuracy.tolist() == [0.7]
    # the means of its rows are Table 1's
    means = t.groupby(["n_bits", "method"]).accuracy.mean()
    t1 = table1(pd.DataFrame(rows), epochs=2).set_index("n_bits")
    assert means[(4, "QAT")] == pytest.approx(t1.loc[4, "accuracy_mean_qat"])
    assert means[(4, "pruning")] == pytest.approx(t1.loc[4, "accuracy_mean_prune"])


def test_combining_wins_and_c9_read_the_same_column():
    front = figure5(pd.DataFrame(combining_runs()))
    pd.testing.assert_frame_equal(front, pareto_front(combine_points(pd.DataFrame(combining_runs()))))
    w = combining_wins(front)
    assert w.columns.tolist() == ["arch", "label", "avg_bits", "accuracy_mean", "best_other_quantized",
                                  "best_other_pruned", "beats_both_alone", "margin", "margin_se"]  # fmt: skip
    w = w.set_index("label")
    # INT2 + 50% pruning: 1.0 bit, below every single-method model (INT2 at 1.2, 88% pruning at 2.0): no rival
    # INT8 + 75% pruning: 2.0 bits, 0.905 > max(INT2 0.85, 88% pruning 0.80)
    assert w.loc["INT8 + 75% pruning", ["best_other_quantized", "best_other_pruned"]].tolist() == [0.85, 0.80]
    assert w.beats_both_alone.tolist() == [pd.NA, True]
    assert w.loc["INT8 + 75% pruning", "margin"] == pytest.approx(0.905 - 0.85)
    assert math.isnan(w.loc["INT8 + 75% pruning", "margin_se"])  # one seed: no standard error
    v = check_c9(front)
    assert v.verdict == "partly reproduced"  # ahead, but not shown to be by more than 2 s.e.
    assert "1 of 1 combined models with a rival" in v.evidence and "INT8 + 75% pruning" in v.evidence.split(";")[0]
    assert "INT2 + 50% pruning" in v.evidence.split(";")[1]
    worse = [r for r in combining_runs() if r["method"] != "qat+prune"] + [
        run("qat+prune", bits=8, sparsity=0.75, acc=0.5)
    ]
    lost = combining_wins(figure5(pd.DataFrame(worse)))
    assert lost.beats_both_alone.tolist() == [False]
    v = check_c9(figure5(pd.DataFrame(worse)))
    assert v.verdict == "not reproduced" and "none of 1 combined models with a rival" in v.evidence


def test_natural_sparsity_lists_the_quantized_models():
    t = natural_sparsity(figure5(pd.DataFrame(combining_runs())))
    assert t.columns.tolist() == ["arch", "n_bits", "zeros", "avg_bits", "accuracy_mean"]
    assert t.n_bits.tolist() == [2, 8] and t.zeros.tolist() == pytest.approx([0.4, 0.02])
    assert t.avg_bits.tolist() == pytest.approx([2 * 0.6, 8 * 0.98]) and t.accuracy_mean.tolist() == [0.85, 0.91]


def test_at_length_picks_one_length():
    s = pd.DataFrame({"epochs": [1, 1, 2, 4], "x": [1, 2, 3, 4]})
    assert at_length(s).x.tolist() == [4] and at_length(s, 1).x.tolist() == [1, 2]
