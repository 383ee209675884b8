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
# (ch-fine-tuning)=
# # 5. Fine-tuning: quantization-aware training vs gradual pruning
#
# *Paper §6, Table 1.* After training, both methods can adapt the whole network to the
# compression: quantization-aware training (QAT) learns weights and quantization scales through a
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
# the same FP32 network; QAT and pruning share the epochs, data order, optimiser and learning rate:
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
# ImageNet epochs; the [longer fine-tuning](sec-longer) section below shows how the comparison
# moves with length. Readers with ImageNet and a GPU can run the paper's exact setting
# (see [the ImageNet path](sec-imagenet)).
#
# **Parameters.** The cell below holds the parameters of chapters 5–7 (their one home is
# {py:class}`pvq.book.training_params.FineTuningParams`; `params/ci.yaml` overrides them for the fast
# profile). The three chapters share one cache of training runs, so each run trains once.

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
long_factors = [2, 4]
long_bits = [2, 3]
probe_points = 20
probe_images = 128
workers = 2
dask_scheduler = ""
device = "auto"
data_folder = ""
imagenet_dir = ""
imagenet_arch = "mobilenet_v2"
imagenet_epochs = 20

# %%
from pvq.book.plots import plot_longer, plot_table1
from pvq.book.publish import Chapter
from pvq.book.training_params import FineTuningParams
from pvq.book.verdicts import check_c5, check_c6
from pvq.common.paper import paper_values
from pvq.common.paths import results_dir
from pvq.finetune.findings import imagenet_status, longer_headlines, recipe_headlines, run_headlines, table1_headlines
from pvq.finetune.grids import control_specs, execute, fine_tuning_data, longer_specs, recipe_spec, table1_specs
from pvq.finetune.imagenet import imagenet_table
from pvq.finetune.tables import longer_table, recipe_table, styled, table1, table1_display

P = FineTuningParams.from_namespace(globals())
out = Chapter("05_fine_tuning")
P

# %% [markdown]
# ## The recipe, beside the paper's
#
# The paper's values (named constants in {mod}`pvq.common.paper`) and this chapter's, for one run
# of the grid ({py:func}`pvq.finetune.tables.recipe_table`):

# %%
data, spec = fine_tuning_data(P), recipe_spec(P)
out.glue(recipe_headlines(spec, data), **paper_values("finetune_epochs", "n_finetuned_models"))
styled(out.table("recipe", recipe_table(spec, data)))

# %% [markdown]
# Both methods use learning rate {glue:text}`lr` and weight decay {glue:text}`wd`. The runs are
# far shorter than the paper's, so the mask interval is shorter too: the cubic schedule reaches
# its target in {glue:text}`n-mask-updates` mask updates (the paper: thousands).
#
# ## The FP32 baselines
#
# Every run of chapters 5–7 goes through {py:func}`pvq.finetune.grids.execute`: the grids of
# {mod}`pvq.finetune.grids` (Table 1's points, the uncompressed control, the longer runs), each
# run trained once and kept in the shared cache.

# %%
baselines, runs, records = execute(P, table1_specs(P) + control_specs(P) + longer_specs(P))
out.table("runs", runs)
out.glue(run_headlines(runs), **{"pretrain-epochs": P.pretrain_epochs})
styled(out.table("baselines", baselines), ["arch", "parameters", "weights", "accuracy", "seconds"])

# %% [markdown]
# Each network trained from scratch for {glue:text}`pretrain-epochs` epochs (SGD, cosine
# schedule, random flips); test accuracy on the {glue:text}`n-test:,` test images. These are the
# starting points of {glue:text}`n-runs` fine-tuning runs, of which {glue:text}`n-diverged`
# diverged (a run whose loss becomes NaN or infinite stops and is reported, never averaged).
# Data: {download}`baselines.csv </results/05_fine_tuning/baselines.csv>`, every run:
# {download}`runs.csv </results/05_fine_tuning/runs.csv>`.
#
# ## Table 1 on Fashion-MNIST
#
# QAT at each INT-b beside gradual pruning at the paired sparsity, over the fine-tuning seeds
# ({py:func}`pvq.finetune.tables.table1`, shown by {py:func}`pvq.finetune.tables.table1_display`):

# %%
t1 = out.table("table1", table1(runs, epochs=P.ft_epochs))
out.glue(table1_headlines(t1))
table1_display(t1, baselines, runs)

# %% [markdown]
# Test accuracy (%, mean ± standard deviation over {glue:text}`n-seeds` fine-tuning seeds) of
# each network compressed to INT-b by QAT (first and last layer at {glue:text}`first-last-bits`
# bits) and to the paired sparsity by gradual pruning; the last column of each network is QAT's
# lead in points. The first rows are the FP32 network before fine-tuning and the control: the
# same network fine-tuned with the same recipe without compression. Data:
# {download}`table1.csv </results/05_fine_tuning/table1.csv>`.
#
# For reference, the paper's Table 1 for ResNet-50 on ImageNet: INT{glue:text}`point-bits` QAT
# {glue:text}`paper-resnet50-int4-top1:.1%` vs {glue:text}`point-sparsity:.0%` pruning
# {glue:text}`paper-resnet50-prune75-top1:.1%` top-1 ({glue:text}`paper-gap:+.1f` points for
# quantization). {glue:md}`gap-at-point`

# %%
out.figure("fig-table1", plot_table1(t1, baselines))

# %% [markdown]
# ```{glue:figure} fig-table1
# :name: fig-table1
#
# Table 1 as a figure: accuracy after fine-tuning against the comparison point, QAT (blue) and
# gradual pruning (red), ± one standard deviation over seeds; dashed: the FP32 network.
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

# %%
longer = out.table("longer", longer_table(runs, P.ft_epochs))
out.figure("fig-longer", plot_longer(longer))
out.glue(longer_headlines(longer))
styled(
    longer, ["arch", "n_bits", "factor", "accuracy_mean_qat", "accuracy_mean_prune", "gap", "gain_qat", "gain_prune"]
)

# %% [markdown]
# ```{glue:figure} fig-longer
# :name: fig-longer
#
# Longer fine-tuning at the most extreme points: mean accuracy (± std over seeds) against the
# fine-tuning length, as a multiple of the base length.
# ```
#
# `gap` is QAT's lead in points; `gain_*` is each method's gain over the base length, in
# points. Data: {download}`longer.csv </results/05_fine_tuning/longer.csv>`.
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
# python -m pvq imagenet /data/imagenet --arch mobilenet_v2 --method qat --bits 4 --out int4.json
# python -m pvq imagenet /data/imagenet --arch mobilenet_v2 --method prune --sparsity 0.75 --out p75.json
# ```
#
# The folder's layout, the architecture and the compression point are checked before any
# weights or images are loaded.

# %%
imagenet = out.table("imagenet", imagenet_table(P, folder=results_dir(out.stem))) if P.imagenet_dir else None
out.glue({"imagenet-status": imagenet_status(imagenet)})
imagenet

# %% [markdown]
# {glue:md}`imagenet-status`
#
# ## What this chapter supports

# %%
out.verdicts(check_c5(t1), check_c6(longer))

# %% [markdown]
# - **C5** (with fine-tuning, quantization ≥ pruning except sometimes at extreme compression):
#   **{glue:md}`c5-verdict`**. {glue:md}`c5-evidence`.
# - **C6** (longer fine-tuning helps pruning more): **{glue:md}`c6-verdict`**. {glue:md}`c6-evidence`.
# - Scale matters: these are small networks on a small task with short fine-tuning. The recipe,
#   code and claim checks are the paper's; the ImageNet path runs them at the paper's scale.
