# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: pvq,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python (pvq)
#     language: python
#     name: pvq
#   pvq:
#     chain: fine-tuning-runs
# ---

# %% [markdown]
# (ch-combining)=
# # 6. Combining pruning and quantization
#
# *Paper §6, Figure 5.* The two methods are not exclusive: a quantized network can be pruned as
# well.
#
# :::{admonition} In short
# :class: reading-first
#
# **The paper** prunes its quantized ImageNet models at several ratios and plots accuracy against
# the average bits per weight (its Figure 5, rebuilt here as [Figure 5](fig-combining)), leaving
# open where, if anywhere, the combination beats either method alone.
#
# **This book finds** C9 **{glue:md}`c9-verdict`** (see {ref}`ch-claims`): of
# {glue:text}`c9-n-rivalled` combined models with a single-method rival at no more bits,
# {glue:text}`c9-n-ahead` beat both methods alone, {glue:text}`c9-n-clear` of them by more than two
# standard errors; {glue:md}`c9-closest`.
# :::
#
# The paper prunes its quantized models and plots accuracy against the **average bits per
# weight**, the base bit-width times the density of non-zero weights, marking with crosses the
# quantized models that have only their *natural* sparsity (the weights that round to zero; see
# [chapter 3](ch-weight-tensors)).
#
# Here the networks of [chapter 5](ch-fine-tuning) are fine-tuned with QAT and gradual pruning
# *together* (the same recipe; the mask acts on the latent weights, which are then quantized),
# and every model is placed at its measured average bits per weight,
#
# $$
# \bar b = \frac{\sum_l b_l \cdot \mathrm{nnz}_l}{\sum_l n_l},
# $$ (eq-avg-bits)
#
# with $b_l$ the layer's bit-width (16 for the FP16 baseline of pruning alone; for a QAT model,
# the recipe's higher bit-width in the first and last layer) and $\mathrm{nnz}_l$ its non-zero
# weights. As in the paper, the cost of storing where the zeros are is not counted.
#
# **Parameters.** Those of [chapter 5](ch-fine-tuning) ({py:class}`pvq.book.training_params.FineTuningParams`),
# with the combined grid's bit-widths `combine_bits` and the pruning ratios `combine_sparsity`
# applied on top of them. INT2 is left out of the combined grid by default: INT2 with 50% or 75%
# pruning stores 1 or 0.5 bits per weight, below the 2 bits that the fewest-bit single-method
# models of chapter 5 reach, so no model could be compared with them at equal bits.
#
# The parameters of this build (folded: show them with the toggle):

# %% tags=["parameters"]
profile = "full"
architectures = ["resnet_small", "mobilenet_small"]
ft_bits = [2, 3, 4, 5, 6, 7, 8]
seeds = [0, 1, 2]
pretrain_epochs = 6
pretrain_images = 0
ft_epochs = 1
epoch_images = 30000
lr = 0.01
lr_grid = [0.001, 0.0033, 0.01, 0.033, 0.1]
lr_bits = 4
validation_images = 10000
mask_interval = 5
bn_batches = 50
test_images = 0
combine_bits = [4, 8]
combine_sparsity = [0.5, 0.75]
probe_points = 20
probe_images = 128
workers = 2
dask_scheduler = ""
device = "auto"
data_folder = ""

# %% tags=["remove-input", "hide-output"]
from pvq.book.publish import Chapter
from pvq.book.tables import page_table
from pvq.book.training_params import FineTuningParams
from pvq.book.training_plots import plot_combining
from pvq.book.training_tables import combining_wins_display, lr_selection_display, natural_display
from pvq.book.training_verdicts import against_earlier, check_c9
from pvq.finetune.findings import combining_box, combining_headlines, lr_headlines
from pvq.finetune.grids import combine_specs, execute, select_learning_rates, table1_specs
from pvq.finetune.tables import combining_wins, figure5, natural_sparsity

P = FineTuningParams.from_namespace(globals())
out = Chapter("06_combining")
P

# %% [markdown]
# ## The runs
#
# QAT alone and pruning alone at every comparison point are the runs of chapter 5 (reused from
# the shared cache when that chapter ran first), each at its method's learning rate; the
# combined runs add pruning at {glue:md}`combine-sparsity` on top of {glue:md}`combine-bits`,
# at a rate of their own chosen the same way as chapter 5's
# ([validation split](sec-lr), INT{glue:text}`lr-bits` with the first pruning ratio on top;
# the search, folded below, the chosen rate in bold;
# data: {download}`lr_selection.csv </results/06_combining/lr_selection.csv>`):

# %% tags=["hide-input", "hide-output"]
selection = out.table("lr_selection", select_learning_rates(P, ("qat+prune",)))
out.glue(lr_headlines(selection, validation_images=P.validation_images, lr_bits=P.lr_bits))
lr_selection_display(selection)

# %% [markdown]
# Chosen: {glue:md}`lr-choices`. {glue:md}`lr-extended` {glue:md}`lr-boundary` Every model becomes one point
# of [Figure 5](fig-combining) ({py:func}`pvq.finetune.tables.figure5`): its accuracy (mean over seeds), its
# average bits per weight {eq}`eq-avg-bits`, whether any other model of the same network is
# both smaller and more accurate (`on_front`), and the best accuracy each method alone reaches
# with no more bits.

# %% tags=["hide-input"]
baselines, runs, records = execute(P, table1_specs(P) + combine_specs(P))
front = out.table("figure5", figure5(out.table("runs", runs)))
out.figure("fig-combining", plot_combining(front))

# %% tags=["remove-cell"]
natural = natural_sparsity(front)
out.glue(combining_headlines(runs, front, natural))
out.glue(combining_box(front))

# %% [markdown]
# ```{glue:figure} fig-combining
# :name: fig-combining
# :alt: Test accuracy against average bits per weight per network: quantized, pruned and combined models.
#
# **Figure 5.** The paper's Figure 5, rebuilt on Fashion-MNIST: test accuracy (mean over seeds)
# against average bits per weight {eq}`eq-avg-bits`. Crosses: QAT models with only their natural
# sparsity; squares: pruning alone (FP16); lines: each base bit-width, from its QAT model through
# the same model pruned further. Data: {download}`figure5.csv </results/06_combining/figure5.csv>`,
# every run: {download}`runs.csv </results/06_combining/runs.csv>`.
# ```
#
# {glue:text}`n-combined` combined settings; {glue:text}`n-diverged` runs diverged in this
# chapter's grid.
#
# ## Natural sparsity
#
# A quantized network already stores zeros: every weight that rounds to level 0. The crosses sit
# left of their nominal bit-width by about that fraction (the first and last layers, at a higher
# bit-width, add a little back). The QAT models alone
# ({py:func}`pvq.finetune.tables.natural_sparsity`):

# %% tags=["hide-input"]
page_table(natural_display(natural))

# %% [markdown]
# {glue:md}`zeros-sentence` The average bits per weight count only non-zeros, and include the
# first and last layers at their higher bit-width. For comparison, the paper quotes about
# {glue:text}`paper-natural-sparsity-int8:.0%` zeros at INT8 and
# {glue:text}`paper-natural-sparsity-int4:.0%` at INT4 for its pretrained model-zoo networks,
# before any fine-tuning ([chapter 3](ch-weight-tensors) measures them).
#
# ## Where does combining help?
#
# For each combined model, the best accuracy that QAT alone and pruning alone reach with **no
# more** average bits per weight ({py:func}`pvq.finetune.tables.combining_wins`):

# %% tags=["hide-input"]
page_table(combining_wins_display(combining_wins(front)))

# %% [markdown]
# "none": no such model in the grid, so nothing to compare with. The lead is the combined
# model's accuracy minus its best rival's, in accuracy points, ± the standard error of that
# difference over seeds. A combined model is worth having where it beats both, and the claim is
# read as: some combined model does so by more than two standard errors ("yes, by > 2 SE"). The
# claim check below reads this very table, so the verdict and the table cannot disagree.
#
# ## What this chapter supports

# %% tags=["remove-cell"]
out.verdicts(against_earlier(check_c9(front), P.profile))

# %% [markdown]
# - **C9** (combining: where, if anywhere, the combination beats either alone at equal average
#   bits per weight; read as a combined model ahead of every single-method model with no more
#   bits by more than two standard errors): **{glue:md}`c9-verdict`**. {glue:md}`c9-evidence`
#   Earlier editions of this book returned *reproduced* whenever the data answered "where"; the
#   reading above can fail.
# - The comparison ignores the cost of the sparsity mask (at least
#   {glue:text}`paper-mask-bits-per-weight:.0f` bit per weight for unstructured sparsity,
#   [chapter 1](ch-setup)); counting it moves every pruned and combined point right.
