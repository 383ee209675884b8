"""The glued numbers and sentences of chapters 5–7 on small hand-made tables, values worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from pvq.common.paper import PAPER
from pvq.finetune.data import ImageData
from pvq.finetune.findings import (
    ablation_sentence,
    combining_headlines,
    cost_headlines,
    gap_trend_sentence,
    imagenet_status,
    longer_headlines,
    lr_headlines,
    natural_sparsity_sentence,
    point_gap_sentence,
    recipe_headlines,
    run_headlines,
    table1_headlines,
)
from pvq.finetune.recipe import FineTuneSpec, PretrainSpec

# -- chapter 5 ----------------------------------------------------------------------------------------


def test_recipe_headlines():
    spec = FineTuneSpec(PretrainSpec("resnet_small"), "qat", n_bits=4, epochs=3, epoch_images=1000, batch_size=100,
                        mask_interval=7, lr=0.02, weight_decay=1e-4)  # fmt: skip
    y_train, y_test = np.arange(5000) % 10, np.arange(800) % 10
    data = ImageData(np.zeros((5000, 1, 1, 1), np.uint8), y_train, np.zeros((800, 1, 1, 1), np.uint8), y_test, "")
    h = recipe_headlines(spec, data)
    # 3 epochs × (1000 // 100) = 30 steps; target at 0.75 · 30 = 22.5 steps, every 7 steps: round(3.21) = 3 updates
    assert h["ft-steps"] == 30 and h["n-mask-updates"] == 3
    assert (h["n-train"], h["n-test"], h["n-classes"]) == (5000, 800, 10)
    assert (h["lr"], h["wd"], h["momentum"], h["final-lr-ratio"]) == (0.02, 1e-4, 0.9, 0.01)
    assert (h["first-last-bits"], h["prune-end"]) == (8, 0.75)


def test_lr_headlines_name_each_choice_and_the_grid_ends():
    sel = pd.DataFrame(
        {
            "arch": ["r", "r", "r", "r", "m", "m"],
            "method": ["qat", "qat", "prune", "prune", "qat", "qat"],
            "lr": [0.001, 0.01, 0.001, 0.01, 0.001, 0.01],
            "val_accuracy": [0.9, 0.8, 0.7, 0.8, 0.5, 0.6],
            "chosen": [True, False, False, True, False, True],
        }
    )
    h = lr_headlines(sel, validation_images=10000, lr_bits=4)
    assert h["lr-grid"] == "0.001, 0.01" and h["n-lr"] == 2 and h["lr-point-sparsity"] == 0.75
    assert h["lr-choices"] == "r: QAT 0.001, pruning 0.01; m: QAT 0.01"
    assert h["lr-boundary"].startswith("At an end of the rates tried: QAT (r, 0.001), pruning (r, 0.01), QAT (m, 0.01)")
    assert h["lr-extended"].startswith("No choice fell")
    inside = sel.assign(lr=sel.lr.map({0.001: 0.003, 0.01: 0.003}))
    inside = pd.concat([inside, sel.assign(lr=0.0001, chosen=False), sel.assign(lr=0.1, chosen=False)])
    inside_words = lr_headlines(inside, validation_images=1, lr_bits=2)["lr-boundary"]
    assert inside_words == "Every choice lies inside the rates tried."


def test_lr_headlines_keep_the_grid_apart_from_the_rates_tried_beyond_it():
    grid = [0.001, 0.01, 0.1]
    rows = [("r", "qat", lr, acc, lr == 0.01) for lr, acc in zip(grid, [0.8, 0.9, 0.7], strict=True)]
    rows += [("r", "prune", lr, acc, False) for lr, acc in zip(grid, [0.5, 0.6, 0.7], strict=True)]
    rows += [("r", "prune", 0.32, 0.75, True)]  # extended once: best again at the new end
    sel = pd.DataFrame(rows, columns=["arch", "method", "lr", "val_accuracy", "chosen"])
    h = lr_headlines(sel, validation_images=10, lr_bits=4)
    assert h["lr-grid"] == "0.001, 0.01, 0.1" and h["n-lr"] == 3
    assert h["lr-extended"] == "Best at an end of the grid, so tried beyond it: pruning (r): 0.32."
    assert h["lr-boundary"].startswith("At an end of the rates tried: pruning (r, 0.32)")


def test_cost_headlines_from_the_measured_line():
    costs = pd.DataFrame({"arch": ["r", "m"], "per_step": [0.03, 0.045], "fixed": [2.0, 3.0]})
    projection = {"seconds": 600.0, "modelled": 590.0, "whole_pass": 1180.0}
    h = cost_headlines(costs, projection, steps=234, n_train=60000, batch_size=128)
    assert h["ms-per-step"] == "30 ms (r), 45 ms (m)" and h["fixed-seconds"] == "2.0 s (r), 3.0 s (m)"
    assert h["steps-per-pass"] == 468 and h["pass-fraction"] == pytest.approx(0.5)
    assert (h["run-minutes"], h["whole-pass-minutes"], h["whole-pass-factor"]) == pytest.approx((10, 1180 / 60, 2))


def test_ablation_sentence_gives_both_leads():
    main = pd.DataFrame({"arch": ["r"], "n_bits": [2], "gap": [0.03], "bits_qat": [2.24]})
    abl = pd.DataFrame({"arch": ["r"], "n_bits": [2], "gap": [-0.02], "bits_qat": [2.0]})
    assert ablation_sentence(main, abl) == (
        "QAT's lead over pruning, with its first and last layer at 8 bits and then at INT-b: "
        "INT2 (r): +3.00 points at 2.24 bits per weight, -2.00 at 2.00."
    )
    assert ablation_sentence(main, abl.iloc[:0]) == "This build ran no first/last-layer ablation."


def test_run_headlines():
    runs = pd.DataFrame({"status": ["ok", "diverged", "ok"], "seed": [0, 1, 0]})
    assert run_headlines(runs) == {"n-runs": 3, "n-diverged": 1, "n-seeds": 2}


def t1(rows):
    return pd.DataFrame(rows, columns=["arch", "n_bits", "sparsity", "gap"])


def test_gap_trend_sentence():
    # INT2: mean of 0.20 and 0.10 = 0.15; INT4: mean of 0.05 and 0.03 = 0.04
    grows = t1([("a", 2, 0.875, 0.20), ("b", 2, 0.875, 0.10), ("a", 4, 0.75, 0.05), ("b", 4, 0.75, 0.03)])
    assert gap_trend_sentence(grows) == (
        "Averaged over the networks, QAT's lead is +15.00 points at INT2 and +4.00 at INT4: it grows with compression."
    )
    flat = t1([("a", 2, 0.875, 0.01), ("a", 4, 0.75, 0.05)])
    assert gap_trend_sentence(flat).endswith(
        "+1.00 points at INT2 and +5.00 at INT4: it does not grow with compression here."
    )
    assert gap_trend_sentence(t1([("a", 4, 0.75, 0.05)])).endswith("+5.00 points at INT4, the one point.")


def test_point_gap_sentence():
    t = t1([("a", 4, 0.75, 0.0611), ("b", 4, 0.75, -0.01), ("a", 2, 0.875, 0.3)])
    assert point_gap_sentence(t) == "Here, at the same point, QAT leads by +6.11 points (a), -1.00 points (b)."
    assert point_gap_sentence(t, n_bits=8) == "This build did not run INT8."


def test_table1_headlines():
    h = table1_headlines(t1([("net", 8, 0.5, 0.005), ("net", 2, 0.875, 0.08), ("net", 4, 0.75, 0.02)]))
    assert (h["qat-lead-count"], h["n-pairs"]) == (3, 3)
    assert (h["min-gap"], h["min-gap-where"]) == (pytest.approx(0.5), "INT8 (net)")
    assert (h["max-gap"], h["max-gap-where"]) == (pytest.approx(8.0), "INT2 (net)")
    # 87.5% pruning keeps one weight in 8; INT2 has 2² = 4 levels
    assert (h["max-sparsity"], h["keep-one-in"], h["levels"]) == (0.875, 8, 4)
    assert (h["point-bits"], h["point-sparsity"]) == (4, 0.75)
    assert h["gap-at-point"] == "Here, at the same point, QAT leads by +2.00 points (net)."
    assert h["paper-resnet50-int4-top1"] == PAPER["resnet50_int4_top1"][0] == 0.763
    assert h["paper-gap"] == pytest.approx(100 * (0.763 - 0.761))
    assert h["trend"].endswith("it grows with compression.")


def test_longer_headlines_and_imagenet_status():
    assert longer_headlines(pd.DataFrame({"factor": [1.0, 2.0, 4.0, 2.0]})) == {"long-factors": "2× and 4×"}
    assert longer_headlines(pd.DataFrame({"factor": [1.0]})) == {"long-factors": "no longer runs"}
    assert imagenet_status(None) == "This build ran no ImageNet runs (`imagenet_dir` is empty)."
    table = pd.DataFrame({"network": ["mobilenet_v2"], "method": ["INT4"], "status": ["ok"], "top-1": [0.7]})
    assert imagenet_status(table).startswith("ImageNet runs of mobilenet_v2 in this build")


# -- chapter 6 ----------------------------------------------------------------------------------------


def natural(rows):
    return pd.DataFrame(rows, columns=["arch", "n_bits", "zeros"])


def test_natural_sparsity_sentence():
    t = natural([("a", 2, 0.374), ("a", 4, 0.125), ("b", 4, 0.14), ("b", 2, 0.40), ("a", 8, 0.05)])
    assert natural_sparsity_sentence(t) == (
        "After fine-tuning, the QAT models' weights are 12.5% (a), 14.0% (b) zeros at INT4 and "
        "37.4% (a), 40.0% (b) at INT2 (all layers)."
    )
    only8 = natural([("a", 8, 0.05)])
    assert (
        natural_sparsity_sentence(only8)
        == "After fine-tuning, the QAT models' weights are 5.0% (a) zeros at INT8 (all layers)."
    )
    assert natural_sparsity_sentence(natural([])).startswith("No QAT model finished")


def test_combining_headlines():
    runs = pd.DataFrame({"status": ["ok", "ok", "diverged"]})
    front = pd.DataFrame(
        {"kind": ["combined", "combined", "quantized", "combined"], "n_bits": [8, 2, 4, 8],
         "sparsity": [0.75, 0.5, 0.0, 0.5]}
    )  # fmt: skip
    h = combining_headlines(runs, front, natural([("a", 4, 0.125)]))
    assert (h["combine-bits"], h["combine-sparsity"], h["n-combined"], h["n-diverged"]) == (
        "INT2, INT8",
        "50%, 75%",
        3,
        1,
    )
    assert h["zeros-sentence"].endswith("12.5% (a) zeros at INT4 (all layers).")
    assert h["paper-natural-sparsity-int4"] == 0.35 and h["paper-mask-bits-per-weight"] == 1.0
