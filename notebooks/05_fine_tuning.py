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
# (ch-fine-tuning)=
# # 5. Fine-tuning: quantization-aware training vs gradual pruning
#
# *Paper §6, Table 1.* After training, both methods can adapt the whole network to the
# compression.
#
# :::{admonition} In short
# :class: reading-first
#
# **The paper** fine-tunes {glue:text}`paper-n-finetuned-models` ImageNet, segmentation,
# detection and language models and finds quantization-aware training better than gradual pruning
# almost everywhere (claim C5), pruning closing the gap with longer fine-tuning (C6).
#
# **This book finds**, on small networks fine-tuned on Fashion-MNIST, C5
# **{glue:md}`c5-verdict`** and C6 **{glue:md}`c6-verdict`** ({ref}`ch-claims`). QAT leads at
# {glue:text}`qat-lead-count` of {glue:text}`n-pairs` (network, point) pairs, by
# {glue:text}`min-gap:+.2f` to {glue:text}`max-gap:+.2f` points ([Table 1](sec-table1),
# [Figure 5.1](fig-table1)).
# :::
#
# Quantization-aware training (QAT) learns weights and quantization scales through a
# straight-through estimator, gradual magnitude pruning removes weights on a schedule while the
# rest keep training. The paper fine-tunes {glue:text}`paper-n-finetuned-models` ImageNet,
# segmentation, detection and language models for {glue:text}`paper-finetune-epochs` epochs each
# and finds quantization better almost everywhere, pruning competitive only sometimes at the
# highest compression.
#
# **Setup.** ImageNet fine-tuning takes GPU-days, so this chapter runs the paper's recipe on a
# task that trains on a 2-core CPU: networks trained from scratch on Fashion-MNIST
# ({glue:text}`n-train:,` training and {glue:text}`n-test:,` test images of clothing in
# {glue:text}`n-classes` classes), a small ResNet and a MobileNetV2-style network with
# depthwise-separable blocks (the parameter `architectures` picks which). Every run starts from
# the same FP32 network; QAT and pruning share the epochs, data order and optimiser, and each
# method fine-tunes at its own learning rate, chosen on a validation split as the paper tunes its
# rates per method ([below](sec-lr)):
#
# - **QAT** ({mod}`pvq.finetune.qat`): weight-only, per-tensor, symmetric INT-b; each scale
#   initialised by chapter 3's MSE search and then learned (LSQ gradient, its own Adam optimiser);
#   round to nearest with a straight-through gradient; first and last layer at
#   {glue:text}`first-last-bits` bits.
# - **Pruning** ({mod}`pvq.finetune.gradual`): Zhu–Gupta cubic schedule from 0 to the target
#   $c = 1 - b/16$, masks recomputed every $\Delta t$ steps, target reached at
#   {glue:text}`prune-end:.0%` of the run, pruned weights never regrow, every conv/linear layer at
#   the same ratio.
# - **Both**: SGD with momentum {glue:text}`momentum`, cosine learning rate down to
#   {glue:text}`final-lr-ratio:.0%` of its start, batch-norm statistics re-estimated on training
#   batches before every evaluation.
#
# The fine-tuning is short ({glue:text}`ft-steps` steps on a network trained from scratch for
# {glue:text}`pretrain-epochs` epochs), where the paper's is {glue:text}`paper-finetune-epochs`
# ImageNet epochs; [how long the runs are](sec-length) says why, and the
# [longer fine-tuning](sec-longer) section shows how the comparison moves with length. Readers
# with ImageNet and a GPU can run the paper's exact setting (see [the ImageNet path](sec-imagenet)).
#
# **Parameters.** Chapters 5–7 share their parameters (their one home is
# {py:class}`pvq.book.training_params.FineTuningParams`; the defaults are the `full` profile,
# `params/ci.yaml` overrides them for the fast profile) and one cache of training runs, so each run
# trains once. The parameters of this build:

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
ablation_bits = [2, 4]
mask_interval = 5
bn_batches = 50
test_images = 0
long_factors = [2, 4]
long_bits = [2]
probe_points = 20
probe_images = 128
workers = 2
dask_scheduler = ""
device = "auto"
data_folder = ""
imagenet_dir = ""
imagenet_arch = "mobilenet_v2"
imagenet_epochs = 20

# %% tags=["remove-input"]
from pvq.book.publish import Chapter
from pvq.book.tables import page_table, readable
from pvq.book.training_params import FineTuningParams
from pvq.book.training_plots import plot_longer, plot_seed_spread, plot_table1
from pvq.book.training_tables import lr_selection_display
from pvq.book.training_verdicts import against_earlier, check_c5, check_c6
from pvq.common.paper import paper_values
from pvq.common.paths import results_dir
from pvq.finetune.findings import imagenet_status, longer_headlines, recipe_headlines, run_headlines, table1_headlines
from pvq.finetune.grids import control_specs, execute, fine_tuning_data, longer_specs, recipe_spec, table1_specs
from pvq.finetune.imagenet import imagenet_table
from pvq.finetune.tables import longer_table, recipe_table, seed_runs, table1, table1_display

P = FineTuningParams.from_namespace(globals())
out = Chapter("05_fine_tuning")
P

# %% [markdown]
# ## The recipe, beside the paper's
#
# The paper's values (named constants in {mod}`pvq.common.paper`) and this chapter's, for one run
# of the grid ({py:func}`pvq.finetune.tables.recipe_table`):

# %% tags=["hide-input"]
data, spec = fine_tuning_data(P), recipe_spec(P)
out.glue(recipe_headlines(spec, data), **paper_values("finetune_epochs", "n_finetuned_models"))
readable(out.table("recipe", recipe_table(spec, data)))

# %% [markdown]
# Both methods use weight decay {glue:text}`wd`. The runs are far shorter than the paper's, so
# the mask interval is shorter too: the cubic schedule reaches its target in
# {glue:text}`n-mask-updates` mask updates (the paper: thousands).
#
# (sec-lr)=
# ## Each method's learning rate
#
# The paper tunes the learning rate per method and network; for ResNet-50 pruning's is more than
# a thousand times QAT's. One rate shared by both would favour whichever method it happens to
# suit, so here each method gets its own, chosen on a **validation split**:
# {glue:text}`validation-images:,` training images drawn with a fixed seed
# ({py:func}`pvq.finetune.data.validation_split`), left out of the FP32 networks' training as
# well, so that they are new to every network scored on them. The test images are never used to
# choose anything. Each rate of the grid ({glue:md}`lr-grid`) fine-tunes each network once
# (seed 0) with the chapter's recipe on the remaining training images, QAT at
# INT{glue:text}`lr-bits` and pruning at {glue:text}`lr-point-sparsity:.0%` (the paper's
# comparison point), and the rate with the best validation accuracy is kept
# ({py:func}`pvq.finetune.fairness.choose_learning_rates`; ties go to the smaller rate). The
# uncompressed control fine-tunes at QAT's rate (chapter 7 compares the two).

# %% tags=["hide-input"]
from pvq.finetune.findings import lr_headlines
from pvq.finetune.grids import select_learning_rates

selection = out.table("lr_selection", select_learning_rates(P))
out.glue(lr_headlines(selection, validation_images=P.validation_images, lr_bits=P.lr_bits))
lr_selection_display(selection)

# %% [markdown]
# Validation accuracy (%) of each network and method at each rate; the chosen rate in bold.
# Chosen: {glue:md}`lr-choices`. {glue:md}`lr-extended` {glue:md}`lr-boundary` Data:
# {download}`lr_selection.csv </results/05_fine_tuning/lr_selection.csv>`. Every run below, at
# every point and length, uses its network's and method's rate.
#
# ## The FP32 baselines
#
# Every run of chapters 5–7 goes through {py:func}`pvq.finetune.grids.execute`: the grids of
# {mod}`pvq.finetune.grids` (Table 1's points, the uncompressed control, the longer runs), each
# run trained once and kept in the shared cache.

# %% tags=["hide-input"]
from pvq.finetune.grids import ablation_specs

baselines, runs, records = execute(P, table1_specs(P) + control_specs(P) + longer_specs(P) + ablation_specs(P))
out.table("runs", runs)
out.glue(run_headlines(runs), **{"pretrain-epochs": P.pretrain_epochs})
readable(out.table("baselines", baselines), ["arch", "parameters", "weights", "accuracy", "seconds"])

# %% [markdown]
# Each network trained from scratch for {glue:text}`pretrain-epochs` epochs (SGD, cosine
# schedule, random flips); test accuracy on the {glue:text}`n-test:,` test images. These are the
# starting points of {glue:text}`n-runs` fine-tuning runs, of which {glue:text}`n-diverged`
# diverged (a run whose loss becomes NaN or infinite stops and is reported, never averaged).
# Data: {download}`baselines.csv </results/05_fine_tuning/baselines.csv>`, every run:
# {download}`runs.csv </results/05_fine_tuning/runs.csv>`; the times, which alone change from
# build to build: {download}`baselines_timings.csv </results/05_fine_tuning/baselines_timings.csv>`,
# {download}`runs_timings.csv </results/05_fine_tuning/runs_timings.csv>`.
#
# (sec-length)=
# ## How long the runs are
#
# The paper fine-tunes for {glue:text}`paper-finetune-epochs` epochs. A whole pass over the
# {glue:text}`n-train:,` training images is {glue:text}`steps-per-pass` steps here, and the
# runs' own records give what a step costs
# ({py:func}`pvq.finetune.fairness.step_costs`, a line through each run's seconds against its steps):

# %% tags=["hide-input"]
from pvq.finetune.fairness import length_projection, step_costs
from pvq.finetune.findings import cost_headlines
from pvq.finetune.loop import steps_per_epoch

costs, base_steps = step_costs(runs), int(runs.steps.min())
per_pass = steps_per_epoch(0, spec.batch_size, data.y_train.size)
projection = length_projection(runs, costs, steps_per_pass=per_pass, base_steps=base_steps)
out.glue(cost_headlines(costs, projection, steps=base_steps, n_train=data.y_train.size, batch_size=spec.batch_size))
readable(costs)

# %% [markdown]
# A step costs {glue:md}`ms-per-step` of one core, and each run {glue:md}`fixed-seconds` more for
# the batch-norm re-estimation and the evaluation. This chapter's runs took
# {glue:text}`run-minutes:.0f` minutes of worker time; with every run a whole pass (the longer ones
# as many passes as their multiple) they would take {glue:text}`whole-pass-minutes:.0f`,
# {glue:text}`whole-pass-factor:.1f` times as long, and chapters 6 and 7 would grow alike. The
# whole book has to build in an hour on two cores, so each run is {glue:text}`pass-fraction:.0%`
# of a pass ({glue:text}`ft-steps` steps), and the [longer fine-tuning](sec-longer) runs
# {glue:md}`long-factors` that length at the most compressed point (in the full profile: one and
# two whole passes).
#
# (sec-table1)=
# ## Table 1 on Fashion-MNIST
#
# QAT at each INT-b beside gradual pruning at the paired sparsity, over the fine-tuning seeds
# ({py:func}`pvq.finetune.tables.table1`, shown by {py:func}`pvq.finetune.tables.table1_display`).
#
# **Table 1.** The paper's Table 1, rebuilt on Fashion-MNIST: test accuracy (%, mean ± standard
# deviation over {glue:text}`n-seeds` fine-tuning seeds) after QAT at INT-b and after gradual
# pruning at the paired sparsity, the bits per weight each model stores, and QAT's lead (points).
# Data: {download}`table1.csv </results/05_fine_tuning/table1.csv>`.

# %% tags=["hide-input"]
t1 = out.table("table1", table1(runs, epochs=P.ft_epochs))
out.glue(table1_headlines(t1))
page_table(table1_display(t1, baselines, runs), index=True)

# %% [markdown]
# QAT keeps the first and last layer at {glue:text}`first-last-bits` bits. The bits per weight
# are **measured** on the stored models ({py:func}`pvq.finetune.loop.stored_bits`): every weight
# of the QAT model, so a little above b where its first and last layer stay at 8 bits; the
# non-zero weights of the pruned one at 16 bits, exactly b (the mask is free, the paper's rule).
# Each network's first rows are the FP32 network before fine-tuning and the control: the same
# network fine-tuned with the same recipe without compression.
#
# For reference, the paper's Table 1 for ResNet-50 on ImageNet: INT{glue:text}`point-bits` QAT
# {glue:text}`paper-resnet50-int4-top1:.1%` vs {glue:text}`point-sparsity:.0%` pruning
# {glue:text}`paper-resnet50-prune75-top1:.1%` top-1 ({glue:text}`paper-gap:+.1f` points for
# quantization). {glue:md}`gap-at-point`
#
# ### The first and last layer
#
# The recipe's QAT keeps the first and last layer at 8 bits while pruning cuts them like every
# other, so at each point QAT stores slightly more than pruning (the bits columns above). The
# ablation treats them alike: QAT with every layer at INT-b
# ({py:func}`pvq.finetune.grids.ablation_specs`), beside the same pruning runs, both at exactly b
# bits per weight:

# %% tags=["hide-input"]
from pvq.finetune.findings import ablation_sentence

ablation = out.table("ablation", table1(runs, epochs=P.ft_epochs, all_layers=True))
out.glue({"ablation-sentence": ablation_sentence(t1, ablation)})
out.figure("fig-table1", plot_table1(t1, baselines, ablation))
readable(ablation, ["arch", "n_bits", "accuracy_mean_qat", "bits_qat", "accuracy_mean_prune", "bits_prune", "gap"])

# %% [markdown]
# {glue:md}`ablation-sentence` Data: {download}`ablation.csv </results/05_fine_tuning/ablation.csv>`.
#
# ```{glue:figure} fig-table1
# :name: fig-table1
# :alt: Test accuracy of QAT and of gradual pruning against the measured bits per weight, one panel per network.
#
# **Figure 5.1.** The paper's Table 1 as a figure: accuracy after fine-tuning against the
# measured bits per weight, QAT (blue circles; open: every layer at INT-b) and gradual pruning
# (red squares), ± one standard deviation over seeds; dashed: the FP32 network. Data:
# {download}`table1.csv </results/05_fine_tuning/table1.csv>`,
# {download}`ablation.csv </results/05_fine_tuning/ablation.csv>`,
# {download}`baselines.csv </results/05_fine_tuning/baselines.csv>`.
# ```
#
# QAT leads at {glue:text}`qat-lead-count` of {glue:text}`n-pairs` (network, point) pairs. The
# smallest lead is {glue:text}`min-gap:+.2f` points at {glue:md}`min-gap-where`, the largest
# {glue:text}`max-gap:+.2f` points at {glue:md}`max-gap-where`. {glue:md}`trend` Pruning at
# {glue:text}`max-sparsity:.1%` leaves one weight in {glue:text}`keep-one-in`; QAT at the same
# point keeps every weight, on {glue:text}`levels` levels.
#
# (sec-longer)=
# ## Longer fine-tuning
#
# The paper reports that longer fine-tuning narrows the gap for pruning (most for ResNet-50),
# while quantization still wins elsewhere. Here the most extreme points are fine-tuned again for
# {glue:md}`long-factors` the epochs (same recipe, the cosine schedule stretched;
# {py:func}`pvq.finetune.tables.longer_table`).

# %% tags=["hide-input"]
longer = out.table("longer", longer_table(runs, P.ft_epochs))
out.figure("fig-longer", plot_longer(longer))
out.glue(longer_headlines(longer))
readable(
    longer, ["arch", "n_bits", "factor", "accuracy_mean_qat", "accuracy_mean_prune", "gap", "gain_qat", "gain_prune"]
)

# %% [markdown]
# ```{glue:figure} fig-longer
# :name: fig-longer
# :alt: Mean test accuracy of QAT and of pruning against the fine-tuning length, at the most compressed points.
#
# **Figure 5.2.** Longer fine-tuning at the most extreme points: mean accuracy (± std over seeds)
# against the fine-tuning length, as a multiple of the base length. Data:
# {download}`longer.csv </results/05_fine_tuning/longer.csv>`.
# ```
#
# The table's gains are each method's gain over the base length, in points; the QAT lead is at
# each length.
#
# ## Seed to seed
#
# Table 1's means and standard deviations summarise {glue:text}`n-seeds` runs per cell. Every run
# on its own ({py:func}`pvq.finetune.tables.seed_runs`), as a strip plot:

# %% tags=["hide-input"]
spread = out.table("seeds", seed_runs(runs, epochs=P.ft_epochs))
out.figure("fig-seed-spread", plot_seed_spread(spread))

# %% [markdown]
# ```{glue:figure} fig-seed-spread
# :name: fig-seed-spread
# :alt: Test accuracy of every seed's run, QAT beside pruning at each comparison point, one panel per network.
#
# **Figure 5.3.** The spread over seeds behind Table 1: each dot one fine-tuning run (one seed),
# QAT (blue) beside gradual pruning (red) at each comparison point, the bar the mean over seeds.
# Data: {download}`seeds.csv </results/05_fine_tuning/seeds.csv>`, every run:
# {download}`runs.csv </results/05_fine_tuning/runs.csv>`.
# ```
#
# Where the two methods' dots do not overlap, the order of their means does not hang on the
# seeds; the claim check reads the same spread as the standard error of the gap
# ({py:func}`pvq.book.training_verdicts.check_c5`).
#
# (sec-imagenet)=
# ## The ImageNet path
#
# The same code runs the paper's own setting for readers who have the ImageNet folder
# (`train/<class>/…`, `val/<class>/…`) and a GPU: set the parameter `imagenet_dir` (and
# `imagenet_arch`: `mobilenet_v2` or `efficientnet_lite0`, from the offline pretrained weights),
# and this section fine-tunes INT{glue:text}`point-bits` QAT and {glue:text}`point-sparsity:.0%`
# gradual pruning with the paper's hyperparameters ({py:func}`pvq.finetune.imagenet.imagenet_table`;
# each finished run is kept in `results/05_fine_tuning/` and read instead of run again). From the
# command line:
#
# ```bash
# python -m pvq imagenet /data/imagenet --arch mobilenet_v2 \
#     --method qat --bits 4 --out int4.json
# python -m pvq imagenet /data/imagenet --arch mobilenet_v2 \
#     --method prune --sparsity 0.75 --out p75.json
# ```
#
# The folder's layout, the architecture and the compression point are checked before any
# weights or images are loaded.

# %% tags=["remove-input"]
imagenet = out.table("imagenet", imagenet_table(P, folder=results_dir(out.stem))) if P.imagenet_dir else None
out.glue({"imagenet-status": imagenet_status(imagenet)})
imagenet

# %% [markdown]
# {glue:md}`imagenet-status`
#
# ## What this chapter supports

# %% tags=["remove-cell"]
out.verdicts(against_earlier(check_c5(t1, ablation), P.profile), against_earlier(check_c6(longer), P.profile))

# %% [markdown]
# - **C5** (with fine-tuning, quantization ≥ pruning except sometimes at extreme compression;
#   read on Table 1 and on the ablation at equal bits per weight): **{glue:md}`c5-verdict`**.
#   {glue:md}`c5-evidence`
# - **C6** (longer fine-tuning helps pruning more): **{glue:md}`c6-verdict`**. {glue:md}`c6-evidence`
# - Scale matters: these are small networks on a small task with short fine-tuning. The recipe,
#   code and claim checks are the paper's; the ImageNet path runs them at the paper's scale.
