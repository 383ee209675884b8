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
# (ch-representations)=
# # 7. What fine-tuning does to the representations
#
# *Paper §6.* The paper looks inside the fine-tuned networks: layer by layer, how close are their
# activations to the original network's? It reports that pruned networks drift back toward the
# original representations during fine-tuning, while QAT networks settle on new ones.
#
# For the runs of [chapter 5](ch-fine-tuning) (the same runs, recorded as they trained,
# including the longer fine-tuning), a fixed probe batch of test images goes through the
# original FP32 network and through the network being fine-tuned at several checkpoints
# (batch-norm statistics re-estimated on training batches first). Per probed layer (each
# block's output and the logits):
#
# $$
# \mathrm{SNR} = 10\log_{10}\frac{\lVert A\rVert_F^2}{\lVert A - \hat A\rVert_F^2},
# \qquad
# \mathrm{CKA}(A, \hat A) = \frac{\lVert \hat A_c^\top A_c\rVert_F^2}
# {\lVert A_c^\top A_c\rVert_F\,\lVert \hat A_c^\top \hat A_c\rVert_F},
# $$ (eq-repr)
#
# with $A$ the original activations (one row per probe image), $\hat A$ the fine-tuned network's
# and $A_c$ column-centred ({mod}`pvq.finetune.representations`). SNR asks for the *same* activations;
# linear CKA only for the same geometry (it ignores rotations and scale).
#
# **Parameters.** Those of [chapter 5](ch-fine-tuning) ({py:class}`pvq.book.training_params.FineTuningParams`);
# this chapter needs the probes (`probe_points` of at least 2: the start and the end of a run)
# and fails early without them.

# %% tags=["parameters"]
profile = "full"
architectures = ["resnet_small", "mobilenet_small"]
ft_bits = [2, 3, 4, 5, 6, 7, 8]
seeds = [0, 1, 2]
pretrain_epochs = 6
ft_epochs = 1
epoch_images = 30000
lr = 0.01
scale_lr = 1e-05
weight_decay = 5e-05
lr_grid = [0.001, 0.0033, 0.01, 0.033, 0.1]
lr_bits = 4
validation_images = 10000
mask_interval = 5
bn_batches = 50
long_factors = [2, 4]
long_bits = [2]
probe_points = 6
probe_images = 256
workers = 2
dask_scheduler = ""
device = "auto"
data_folder = ""

# %%
from pvq.book.plots import plot_representations
from pvq.book.publish import Chapter
from pvq.book.training_params import FineTuningParams
from pvq.book.verdicts import check_c7
from pvq.finetune.findings import recovery_headlines, representation_headlines
from pvq.finetune.grids import control_specs, execute, longer_specs, table1_specs
from pvq.finetune.tables import (
    at_length,
    probes_table,
    recovery_per_point,
    representation_recovery,
    representation_summary,
    styled,
)

P = FineTuningParams.from_namespace(globals()).with_probes()
out = Chapter("07_representations")
P

# %% [markdown]
# ## The probes
#
# The runs are chapter 5's (from the shared cache); each kept its probes, the activation SNR and
# CKA {eq}`eq-repr` of every probed layer at every checkpoint
# ({py:func}`pvq.finetune.tables.probes_table`), averaged over seeds and layers for the figures
# ({py:func}`pvq.finetune.tables.representation_summary`).

# %%
baselines, runs, records = execute(P, table1_specs(P) + control_specs(P) + longer_specs(P))
probes = out.table("probes", probes_table(records))
summary = out.table("summary", representation_summary(probes))
out.glue(representation_headlines(probes, base_epochs=P.ft_epochs))
out.figure("fig-repr-snr", plot_representations(at_length(summary, P.ft_epochs), metric="snr_db"))
out.figure("fig-repr-cka", plot_representations(at_length(summary, P.ft_epochs), metric="cka"))
out.figure("fig-repr-longest", plot_representations(at_length(summary), metric="snr_db"))

# %% [markdown]
# {glue:text}`n-probed-runs` runs probed at {glue:text}`n-checkpoints` checkpoints each; layers
# probed per network: {glue:md}`n-layers`.
#
# ```{glue:figure} fig-repr-snr
# :name: fig-repr-snr
#
# Activation SNR against the original network over fine-tuning (mean over probed layers and
# seeds), QAT (blue, solid) and pruning (red, dashed), darker for higher compression; black:
# the control, fine-tuned with the same recipe without compression. Dotted:
# where pruning reaches its target sparsity. Data:
# {download}`summary.csv </results/07_representations/summary.csv>`, per layer and seed:
# {download}`probes.csv </results/07_representations/probes.csv>`.
# ```
#
# ```{glue:figure} fig-repr-cka
# :name: fig-repr-cka
#
# The same for linear CKA against the original network.
# ```
#
# ```{glue:figure} fig-repr-longest
# :name: fig-repr-longest
#
# Activation SNR over the longest fine-tuning ({glue:text}`longest-factor`× the base length) at
# the most extreme points: pruning has {glue:text}`longest-factor`× as many steps after its last
# mask update to come back.
# ```
#
# ## Do pruned networks come back?
#
# Per run and layer, {py:func}`pvq.finetune.tables.representation_recovery` follows the SNR from
# the moment the compression is fully in place; below, its mean over the probed layers
# ({py:func}`pvq.finetune.tables.recovery_per_point`):

# %%
recovery = out.table("recovery", representation_recovery(probes))
styled(recovery_per_point(recovery))

# %% [markdown]
# Per run kind and length (mean over probed layers, SNR in dB): at the first checkpoint
# (`snr_start`: right after quantization for QAT; the unpruned network for pruning), at the
# lowest point once the compression is fully in place (from the start for QAT, from the last
# mask update for pruning), and at the end. `recovered_db` = end − lowest: how far
# fine-tuning brought the network back toward the original, measured the same way for both
# methods; `drift_db` = end − start. Data:
# {download}`recovery.csv </results/07_representations/recovery.csv>`.
#
# ## Why the verdict comes out as it does
#
# The measure asks the paper's question directly: once the compression is in place (after the
# last mask update for pruning, from the start for QAT), does fine-tuning move the network's
# activations back toward the original's? What the runs show
# ({py:func}`pvq.finetune.findings.recovery_findings`):

# %%
v7 = check_c7(recovery)
out.glue(recovery_headlines(recovery, v7.verdict, base_epochs=P.ft_epochs))
out.verdicts(v7)

# %% [markdown]
# ```{glue:md} c7-findings
# :format: myst
# ```
#
# {glue:md}`c7-why`
#
# ## What this chapter supports
#
# - **C7** (pruned networks return to the original representations, QAT networks do not):
#   **{glue:md}`c7-verdict`**. {glue:md}`c7-evidence`.
# - The checkpoints are few ({glue:text}`n-checkpoints` per run, {glue:text}`n-after` of them
#   once the pruning target is reached), so for pruning "returning" means the last
#   {glue:text}`fixed-mask-share:.0%` of fine-tuning at a fixed mask, at a learning rate the
#   cosine schedule has already lowered; the longer runs give that part more steps.
