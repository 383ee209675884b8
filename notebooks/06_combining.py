# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
#   pvq:
#     chain: fine-tuning-runs
# ---

# %% [markdown]
# (ch-combining)=
# # 6. Combining pruning and quantization
#
# *Paper §6, Figure 5.* The two methods are not exclusive: a quantized network can be pruned as
# well. The paper prunes its quantized ImageNet models at several ratios and plots accuracy
# against the **average bits per weight**, the base bit-width times the density of non-zero
# weights, marking with crosses the quantized models that have only their *natural* sparsity
# (the weights that round to zero; see [chapter 3](ch-weight-tensors)).
#
# Here the networks of [chapter 5](ch-fine-tuning) are fine-tuned with QAT and gradual pruning
# *together* (the same recipe; the mask acts on the latent weights, which are then quantized),
# and every model is placed at its measured average bits per weight,
#
# $$
# \bar b = \frac{\sum_l b_l \cdot \mathrm{nnz}_l}{\sum_l n_l},
# $$ (eq-avg-bits)
#
# with $b_l$ the layer's bit-width (16 for the FP16 baseline of pruning alone; the first and last
# layer of a QAT model at 8 bits) and $\mathrm{nnz}_l$ its non-zero weights. As in the paper,
# the cost of storing where the zeros are is not counted.

# %% tags=["parameters"]
profile = "full"
architectures = ["resnet_small", "mobilenet_small"]
ft_bits = [2, 3, 4, 5, 6, 7, 8]
seeds = [0, 1, 2]
pretrain_epochs = 6
ft_epochs = 2
epoch_images = 12800
lr = 0.01
scale_lr = 1e-05
weight_decay = 5e-05
mask_interval = 5
bn_batches = 50
combine_bits = [2, 4, 8]
combine_sparsity = [0.5, 0.75]
probe_points = 6
probe_images = 256
workers = 2
dask_scheduler = ""
device = "auto"
data_folder = ""

# %%
import pandas as pd

from pvq import experiments
from pvq.claims import check_c9, save_verdicts
from pvq.finetune_results import combine_points, pareto_front
from pvq.params import FineTuningParams
from pvq.plots import plot_combining
from pvq.publish import glue, publish_figure, save_table

STEM = "06_combining"
P = FineTuningParams(
    profile=profile,
    architectures=architectures,
    ft_bits=ft_bits,
    seeds=seeds,
    pretrain_epochs=pretrain_epochs,
    ft_epochs=ft_epochs,
    epoch_images=epoch_images,
    lr=lr,
    scale_lr=scale_lr,
    weight_decay=weight_decay,
    mask_interval=mask_interval,
    bn_batches=bn_batches,
    combine_bits=combine_bits,
    combine_sparsity=combine_sparsity,
    probe_points=probe_points,
    probe_images=probe_images,
    workers=workers,
    dask_scheduler=dask_scheduler,
    device=device,
    data_folder=data_folder,
)
P

# %% [markdown]
# ## The runs
#
# QAT alone and pruning alone at every comparison point are the runs of chapter 5 (reused from
# the shared cache when that chapter ran first); the combined runs add pruning at
# {glue:md}`combine-sparsity` on top of INT{glue:md}`combine-bits`.

# %%
glue("combine-sparsity", ", ".join(f"{s:.0%}" for s in P.combine_sparsity))
glue("combine-bits", ", INT".join(str(b) for b in P.combine_bits))
specs = experiments.table1_specs(P) + experiments.combine_specs(P)
baselines, runs, records = experiments.execute(P, specs)
save_table(runs, STEM, "runs")
points = combine_points(runs)
front = pareto_front(points)
save_table(front, STEM, "figure5")
fig = plot_combining(front)
publish_figure(fig, STEM, "fig-combining")
glue("n-combined", int((front.kind == "combined").sum()))
glue("n-diverged", int((runs.status != "ok").sum()))

# %% [markdown]
# ```{glue:figure} fig-combining
# :name: fig-combining
#
# Figure 5 on Fashion-MNIST: test accuracy (mean over seeds) against average bits per weight
# {eq}`eq-avg-bits`. Crosses: QAT models with only their natural sparsity; red squares: pruning
# alone (FP16); lines: each base bit-width, from its QAT model through the same model pruned
# further. Data: {download}`figure5.csv </results/06_combining/figure5.csv>`.
# ```
#
# {glue:text}`n-combined` combined settings; {glue:text}`n-diverged` runs diverged in this
# chapter's grid.
#
# ## Natural sparsity
#
# A quantized network already stores zeros: every weight that rounds to level 0. The crosses sit
# left of their nominal bit-width by about that fraction (the 8-bit first and last layers add a
# little back).

# %%
q = front[front.kind == "quantized"][["arch", "n_bits", "zeros", "avg_bits", "accuracy_mean"]]
glue(
    "zeros-int4",
    ", ".join(f"{100 * r.zeros:.1f}% ({r.arch})" for r in q[q.n_bits == 4].itertuples()) or "(INT4 not run)",
)
glue("zeros-int2", ", ".join(f"{100 * r.zeros:.1f}% ({r.arch})" for r in q[q.n_bits == q.n_bits.min()].itertuples()))
glue("lowest-bits", int(q.n_bits.min()))
q.style.format({"zeros": "{:.1%}", "avg_bits": "{:.2f}", "accuracy_mean": "{:.2%}"}).hide(axis="index")

# %% [markdown]
# After fine-tuning, the QAT models' weights are {glue:md}`zeros-int4` zeros at INT4 and
# {glue:md}`zeros-int2` at INT{glue:text}`lowest-bits` (all layers; the first and last at 8
# bits). `avg_bits` counts only non-zeros, and includes the 8-bit first and last layers.
#
# ## Where does combining help?

# %%
c = front[front.kind == "combined"].copy()
rival = c[["best_other_quantized", "best_other_pruned"]].max(axis=1)
c["beats_both_alone"] = (c.accuracy_mean > rival).where(rival.notna(), pd.NA)
c[
    ["arch", "label", "avg_bits", "accuracy_mean", "best_other_quantized", "best_other_pruned", "beats_both_alone"]
].style.format(
    {"avg_bits": "{:.2f}", "accuracy_mean": "{:.2%}", "best_other_quantized": "{:.2%}", "best_other_pruned": "{:.2%}"},
    na_rep="none",
).hide(axis="index")

# %% [markdown]
# For each combined model, the best accuracy that QAT alone and pruning alone reach with **no
# more** average bits per weight ("none": no such model in the grid; then `beats_both_alone`
# is empty: nothing to compare with). A combined model is worth having where it beats both.

# %%
v9 = check_c9(front)
save_verdicts(STEM, [v9])
glue("c9-verdict", v9.verdict)
glue("c9-evidence", v9.evidence)
pd.DataFrame([v9.__dict__])

# %% [markdown]
# ## What this chapter supports
#
# - **C9** (combining: where, if anywhere, the combination beats either alone at equal average
#   bits per weight): **{glue:md}`c9-verdict`**. {glue:md}`c9-evidence`.
# - The comparison ignores the cost of the sparsity mask (≥ 1 bit per weight for unstructured
#   sparsity, [chapter 1](ch-setup)); counting it moves every pruned and combined point right.
