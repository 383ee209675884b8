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
# (ch-representations)=
# # 7. What fine-tuning does to the representations
#
# *Paper §6.* The paper looks inside the fine-tuned networks: layer by layer, how close are their
# activations to the original network's? It reports that pruned networks drift back toward the
# original representations during fine-tuning, while QAT networks settle on new ones.
#
# :::{admonition} In short
# :class: reading-first
#
# **The paper** reports that during fine-tuning pruned networks drift back toward the original
# network's per-layer representations, while QAT networks settle on new ones.
#
# **This book finds** C7 **{glue:md}`c7-verdict`** (see {ref}`ch-claims`). Read by one rule over
# each whole trajectory, {glue:text}`c7-prune-returns:.0%` of the pruning trajectories climb back
# toward the original (median climb {glue:text}`c7-prune-climb:+.2f` dB) against
# {glue:text}`c7-qat-returns:.0%` of the QAT ones (median end against the start
# {glue:text}`c7-qat-drift:+.2f` dB); [Figure 7.4](fig-repr-shapes) shows every trajectory.
# :::
#
# For the runs of [chapter 5](ch-fine-tuning) (the same runs, recorded as they trained,
# including the longer fine-tuning), a fixed probe batch of test images goes through the
# original FP32 network and through the network being fine-tuned at
# {glue:text}`n-checkpoints` steps of every run, the same steps for every method
# ({py:func}`pvq.finetune.representations.probe_steps`): evenly over the whole run, with extra
# steps after the last mask update, and a first point at step 0, the network **compressed,
# before fine-tuning** (rounded to the nearest level with its initial scale for QAT; pruned in
# one shot to the target sparsity by magnitude for pruning). Every probe re-estimates the
# batch-norm statistics of a copy of the network on the same few training batches, drawn by the
# probe's own random generator, and so does the reference network once: the trained networks do
# not depend on how often they were probed (a test checks it bit for bit). Per probed layer (each
# block's output and the logits):
#
# $$
# \begin{aligned}
# \mathrm{SNR} &= 10\log_{10}\frac{\lVert A\rVert_F^2}{\lVert A - \hat A\rVert_F^2},\\
# \mathrm{CKA}(A, \hat A) &= \frac{\lVert \hat A_c^\top A_c\rVert_F^2}
# {\lVert A_c^\top A_c\rVert_F\,\lVert \hat A_c^\top \hat A_c\rVert_F},
# \end{aligned}
# $$ (eq-repr)
#
# with $A$ the original activations (one row per probe image), $\hat A$ the fine-tuned network's
# and $A_c$ column-centred ({mod}`pvq.finetune.representations`). SNR asks for the *same* activations;
# linear CKA only for the same geometry (it ignores rotations and scale).
#
# **Parameters.** Those of [chapter 5](ch-fine-tuning) ({py:class}`pvq.book.training_params.FineTuningParams`);
# this chapter needs the probes (`probe_points` of at least 2) and fails early without them. A
# probe costs about one and a half training steps (`benchmarks/bench_probe.py`), so the probe set
# is modest: `probe_images` test images, batch-norm statistics from two batches.
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
long_factors = [2, 4]
long_bits = [2]
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
from pvq.book.training_plots import plot_representation_shapes, plot_representations
from pvq.book.training_tables import shapes_display
from pvq.book.training_verdicts import check_c7
from pvq.finetune.grids import control_specs, execute, longer_specs, table1_specs
from pvq.finetune.representation_findings import recovery_headlines, representation_box, representation_headlines
from pvq.finetune.tables import at_length
from pvq.finetune.trajectories import (
    probes_table,
    representation_shapes,
    representation_summary,
    shapes_per_point,
    trajectory_table,
)

P = FineTuningParams.from_namespace(globals()).with_probes()
out = Chapter("07_representations")
P

# %% [markdown]
# ## The trajectories
#
# The runs are chapter 5's (from the shared cache); each kept its probes, the activation SNR and
# CKA {eq}`eq-repr` of every probed layer at every probe step
# ({py:func}`pvq.finetune.trajectories.trajectory_table`), averaged over seeds and layers for the
# figures ({py:func}`pvq.finetune.trajectories.representation_summary`).

# %% tags=["remove-cell"]
baselines, runs, records = execute(P, table1_specs(P) + control_specs(P) + longer_specs(P))
probes = probes_table(records)
out.table("trajectories", trajectory_table(probes))
summary = out.table("summary", representation_summary(probes))
out.glue(representation_headlines(probes, base_epochs=P.ft_epochs))
shapes = out.table("shapes", representation_shapes(probes))
per_point = out.table("shapes_per_point", shapes_per_point(shapes))
out.glue(representation_box(shapes))

# %% tags=["hide-input"]
base = at_length(summary, P.ft_epochs)
out.figure("fig-repr-snr", plot_representations(base, metric="snr_db"))
out.figure("fig-repr-cka", plot_representations(base, metric="cka"))
out.figure("fig-repr-longest", plot_representations(at_length(summary), metric="snr_db", by_method=False))

# %% [markdown]
# {glue:text}`n-probed-runs` runs probed at {glue:text}`n-checkpoints` steps each (step 0
# included), {glue:text}`n-after` of them after the last mask update; layers probed per network:
# {glue:md}`n-layers`.
#
# ```{glue:figure} fig-repr-snr
# :name: fig-repr-snr
# :alt: Activation SNR against the original over fine-tuning, per network, QAT and pruning panels.
#
# **Figure 7.1.** Activation SNR against the original network over fine-tuning (mean over probed
# layers and seeds), QAT (blue, solid) and pruning (orange, dashed), darker for higher
# compression; open markers at 0: the network compressed, before fine-tuning; black: the
# control, fine-tuned with the same recipe without compression. Dotted: where the pruning mask
# is fixed. Data: {download}`summary.csv </results/07_representations/summary.csv>`, per layer
# and seed: {download}`trajectories.csv </results/07_representations/trajectories.csv>`.
# ```
#
# ```{glue:figure} fig-repr-cka
# :name: fig-repr-cka
# :alt: Linear CKA against the original over fine-tuning, per network, QAT and pruning panels.
#
# **Figure 7.2.** The same as [Figure 7.1](fig-repr-snr) for linear CKA against the original
# network. Data: {download}`summary.csv </results/07_representations/summary.csv>` (column `cka`).
# ```
#
# ```{glue:figure} fig-repr-longest
# :name: fig-repr-longest
# :alt: Activation SNR over the longest fine-tuning per network, most compressed QAT and pruning runs.
#
# **Figure 7.3.** Activation SNR over the longest fine-tuning ({glue:text}`longest-factor`× the
# base length) at the most extreme points: pruning has {glue:text}`after-steps-longest` steps
# after its last mask update to come back. Data:
# {download}`summary.csv </results/07_representations/summary.csv>` (the rows of the longest
# `epochs`).
# ```
#
# ## One rule for both methods
#
# Until this version the book judged pruning only on the probes after its last mask update (two
# checkpoints, at a learning rate near its floor) and QAT on the whole run, so that pruning's
# "recovery" was about zero by construction. Now every trajectory, of either method and either
# measure, is read whole by one rule ({py:func}`pvq.finetune.trajectories.trajectory_shape`): with
# $v_0$ the value at step 0 (compressed, before fine-tuning), $v_{\min}$ the lowest value during
# fine-tuning and $v_T$ the last,
#
# - **returns** when it climbs back from its lowest point by at least
#   {glue:text}`min-change-db` dB, $v_T - v_{\min} \ge$ {glue:text}`min-change-db` dB (the paper's
#   picture of pruning: a dip while sparsifying, then a climb back);
# - **drifts away** otherwise when it ends at least that much below where it started,
#   $v_T - v_0 \le -${glue:text}`min-change-db` dB (the paper's picture of QAT: it starts high and
#   moves away);
# - **settles** otherwise.
#
# CKA is read by the same rule through its distance in dB, $-10\log_{10}(1 - \mathrm{CKA})$
# ({py:func}`pvq.finetune.trajectories.cka_distance_db`). The tolerance, 0.5 dB, is an 11% change of
# the error energy. Per run kind, length and layer
# ({py:func}`pvq.finetune.trajectories.representation_shapes`), and below over the probed layers
# ({py:func}`pvq.finetune.trajectories.shapes_per_point`), in the table folded below:

# %% tags=["hide-input", "hide-output"]
page_table(shapes_display(per_point))

# %% [markdown]
# Per run kind and length (mean over probed layers, SNR in dB): step 0 (the network compressed,
# before fine-tuning), the end, the climb (end − lowest point during fine-tuning) and the drift
# (end − step 0); the shapes are the most common over the layers, with their count. Data, with
# the lowest point and the final CKA:
# {download}`shapes_per_point.csv </results/07_representations/shapes_per_point.csv>`, per layer:
# {download}`shapes.csv </results/07_representations/shapes.csv>`.
# [Figure 7.4](fig-repr-shapes) shows the two numbers the rule reads for every trajectory:

# %% tags=["hide-input"]
out.figure("fig-repr-shapes", plot_representation_shapes(shapes))

# %% [markdown]
# ```{glue:figure} fig-repr-shapes
# :name: fig-repr-shapes
# :alt: Box and strip plots per method of each trajectory's climb back and its end against step 0, in dB.
#
# **Figure 7.4.** Every SNR trajectory (network, point, length, layer; mean over seeds) as one dot:
# left, its climb back from the lowest point, $v_T - v_{\min}$ (above the dashed line it
# *returns*); right, its end against step 0, $v_T - v_0$ (below the dashed line, and not
# returning, it *drifts away*). Boxes: quartiles and median; whiskers reach 1.5 interquartile
# ranges. The control's end against step 0 is left out (it starts identical to the original, at
# infinite SNR). Data:
# {download}`shapes.csv </results/07_representations/shapes.csv>`.
# ```
#
# **How long after the last mask update.** The recipe is the paper's: the mask is fixed after
# {glue:text}`fixed-mask-share:.0%` of the run, which leaves {glue:text}`after-steps-base` steps
# at the base length and {glue:text}`after-steps-longest` at the longest: {glue:md}`fixed-mask-sentence`.
# Those steps come at the end of the cosine schedule, as in the paper, at a learning rate already
# lowered.
#
# ## Why the verdict comes out as it does
#
# What the trajectories show ({py:func}`pvq.finetune.representation_findings.recovery_findings`):

# %% tags=["remove-cell"]
v7 = check_c7(shapes)
out.glue(recovery_headlines(shapes, v7.verdict, base_epochs=P.ft_epochs))
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
# - How it is judged: the shape of each whole trajectory against the original, one rule for both
#   methods and both measures, with the network compressed before fine-tuning as the common
#   starting point. Under the previous reading (recovery after the last mask update only, for
#   pruning) the verdict on the same kind of runs was already *not reproduced*; the new reading
#   does not change it, but it no longer favours either method by construction.
