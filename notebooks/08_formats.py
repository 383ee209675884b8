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
# (ch-formats)=
# # 8. The formats the paper left out
#
# *Beyond the paper.* The paper compares uniform integers with unstructured pruning, and names
# what it did not study (§8): semi-structured sparsity such as 2:4, floating-point and
# non-uniform low-bit formats, block scaling. Those are what hardware now ships (2:4 sparse
# tensor cores, FP8, FP4, the OCP MX block formats) and what people ask about when they compress a
# model. This chapter asks the paper's question of them, with the paper's metric (the SNR of the
# stored weights) and an honest account of every bit stored: values, scales, indices, metadata.
#
# :::{admonition} In short
# :class: reading-first
#
# **The literature**: NF4 beats FP4 and INT4 on normal weights (QLoRA); INT8 beats FP8 on
# well-behaved weights while FP8 helps with outliers (van Baalen et al. 2023).
#
# **This book finds** L1 {glue:md}`l1-normal-weights-verdict` on N(0,1) and
# {glue:md}`l1-real-tensors-verdict` on {glue:text}`n-format-tensors` real tensors; L2
# {glue:md}`l2-distributions-verdict` on distributions and {glue:md}`l2-real-tensors-verdict` on
# real tensors; and the paper's verdict carries over to 2:4 sparsity at its true cost (L3:
# {glue:md}`l3-verdict`), with the paper's kind of exception: in the heavy-tail sweep
# {glue:md}`sparse-onset-text`. See {ref}`ch-claims`.
# :::
#
# **Conventions.** A format stores each kept weight as an *element* (an integer, a small float or
# an NF4 level) times a scale. Per-tensor formats use the scale that minimises the squared error;
# block formats use their specification's rule. Weights of real tensors are rounded to FP16 first,
# as in {ref}`ch-weight-tensors`. Kurtosis is Pearson's.

# %% tags=["parameters"]
profile = "full"
format_models = [
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
formats = [
    "int4",
    "int8",
    "fp8_e4m3",
    "fp8_e5m2",
    "fp6_e3m2",
    "fp6_e2m3",
    "fp4_e2m1",
    "nf4",
    "nf4_b64",
    "mxfp4",
    "mxfp6_e2m3",
    "mxfp8_e4m3",
    "mxint8",
    "nvfp4",
    "int4_g128",
    "fp16_2:4",
    "int8_2:4",
    "fp8_2:4",
    "int4_2:4",
    "int2",
    "int3",
    "int5",
    "int6",
    "fp4_2:4",
    "int8_1:4",
    "int4_1:4",
    "fp16_u75_bitmap",
    "int8_u50_bitmap",
    "nf4_b64_dq",
]
format_kurtosis = [3.5, 5.0, 8.0, 12.0, 20.0, 35.0, 60.0, 100.0]
budgets = [2.0, 3.0, 4.0, 4.25, 4.5, 5.0, 6.0, 8.0, 9.0]
mc_rows = 256
mc_row_length = 4096
seed = 0
workers = 2
fp16 = True
layers = {
    "mobilenet_v2": ["features.8.conv.0.0", "features.8.conv.1.0", "features.11.conv.0.0", "features.11.conv.1.0"],
    "efficientnet_lite0": ["_blocks.5._depthwise_conv", "_blocks.5._project_conv", "_blocks.10._expand_conv"],
    "minilm_l6": [
        "encoder.layer.2.attention.self.query",
        "encoder.layer.2.attention.output.dense",
        "encoder.layer.5.intermediate.dense",
        "encoder.layer.5.output.dense",
    ],
}
n_inputs = 64
format_chunks = 32

# %% [markdown]
# **Parameters.** Their defaults are the `full` profile (their one home is
# {py:class}`pvq.book.format_params.FormatsParams`); `params/ci.yaml` overrides them for the fast
# profile. The parameters of this build:

# %% tags=["remove-input"]
import pandas as pd

from pvq.analytic.distributions import distribution_for_kurtosis, make_distribution
from pvq.book.format_params import FormatsParams
from pvq.book.format_plots import plot_decision_map, plot_format_fronts, plot_layer_formats, plot_win_shares
from pvq.book.format_verdicts import check_l1_nf4, check_l2_int8_fp8, check_l3_two_four, format_headlines, sparse_onset
from pvq.book.publish import Chapter
from pvq.book.tables import readable
from pvq.common.paths import results_dir
from pvq.formats.advisor import analyze_formats_models
from pvq.formats.catalog import NORMAL_FORMATS, check_format_names, format_table
from pvq.formats.frontier import (
    decision_map,
    format_sweep,
    front_shares,
    pareto_front,
    sparse_vs_dense,
    tensor_win_shares,
)
from pvq.layerwise.format_study import (
    format_layer_headlines,
    format_layer_summary,
    format_layer_table,
    format_problems,
    run_format_study,
)
from pvq.tensors.model_set import resolve_models

P = FormatsParams.from_namespace(globals())
out = Chapter("08_formats")
resolve_models(P.format_models)  # a missing or unknown model stops here, before any work
P

# %% [markdown]
# ## The formats and what they cost
#
# Every format below is a name `pvq` understands ({py:func}`pvq.formats.catalog.parse_format`):
# the element, how its scale is chosen, the block it applies to, which weights are kept, and the
# bits per weight of everything stored ({py:meth}`pvq.formats.catalog.Format.bits_per_weight`). The
# element values come from [ml_dtypes](https://github.com/jax-ml/ml_dtypes) (FP8 E4M3 is the `fn`
# variant, largest value 448); MX blocks follow the OCP Microscaling v1.0 rule (a power-of-two
# scale, $2^{\lfloor \log_2 \max|w| \rfloor - e_{\max}}$), NVFP4 scales blocks of 16 by an E4M3
# value, NF4 is QLoRA's table of 16 normal quantiles; an N:M format keeps the N largest of every M
# consecutive weights of an output channel and pays NVIDIA's 2 bits of metadata per kept value (so
# FP16 2:4 costs 9 bits per weight and INT8 2:4 costs 5).

# %% tags=["hide-input"]
readable(out.table("formats", format_table(P.formats)))

# %% [markdown]
# Data: {download}`formats.csv </results/08_formats/formats.csv>`. One FP32 scale per tensor is
# left out of the count (32 bits over a whole tensor).
#
# (sec-formats-normal)=
# ## On normal weights
#
# For a format with one level set and one scale the expected error on a density is a sum of bin
# integrals, as for the paper's integer grid in {ref}`ch-distributions`, with the bin edges at the
# midpoints between levels; floating-point levels are not evenly spaced and the error ripples with
# the scale, so the scale is searched over its whole range
# ({py:func}`pvq.formats.expected.exact_format_error`). Block formats and sparsity depend on the
# weights of each block: their error is a Monte Carlo estimate over
# {glue:text}`mc-weights:,d` draws, with a standard error
# ({py:func}`pvq.formats.expected.monte_carlo_error`).

# %% tags=["hide-input"]
normal_dist = make_distribution("normal")
table_formats = list(dict.fromkeys([*NORMAL_FORMATS, *P.formats]))
normal_all = format_sweep([normal_dist], table_formats, mc_rows=P.mc_rows, mc_row_length=P.mc_row_length, seed=P.seed)
normal = normal_all[normal_all["format"].isin(NORMAL_FORMATS)].reset_index(drop=True)
out.table("normal_formats", normal[["format", "bits_per_weight", "snr_db", "method", "se_db"]])
out.glue({"mc-weights": P.mc_rows * P.mc_row_length})
readable(normal[["format", "bits_per_weight", "snr_db", "method", "se_db"]])

# %% [markdown]
# On N(0,1), NF4 reaches {glue:text}`normal-nf4:.2f` dB at 4 bits, INT4
# {glue:text}`normal-int4:.2f` dB and FP4 E2M1 {glue:text}`normal-fp4-e2m1:.2f` dB; at 8 bits INT8
# reaches {glue:text}`normal-int8:.2f` dB and FP8 E4M3 {glue:text}`normal-fp8-e4m3:.2f` dB. 2:4
# sparsity with INT8 values costs 5 bits and keeps {glue:text}`normal-int8-2-4:.2f` dB: pruning half
# of every group of four loses far more than rounding. Data:
# {download}`normal_formats.csv </results/08_formats/normal_formats.csv>`.
#
# (sec-formats-heavy)=
# ## Heavy tails: which format wins at which budget
#
# The same comparison on Student-t weights (2 degrees of freedom, truncated to reach each kurtosis,
# as in {ref}`ch-distributions`), every format of this build's list. Left, the normal; right, the
# heaviest tail; the line joins the Pareto front, the formats no other beats at equal or lower cost
# ({py:func}`pvq.formats.frontier.pareto_front`):

# %% tags=["hide-input"]
heavy = [distribution_for_kurtosis("truncated_student_t", k) for k in P.format_kurtosis]
sweep = format_sweep(heavy, P.formats, mc_rows=P.mc_rows // 4, mc_row_length=P.mc_row_length, seed=P.seed)
sweep = out.table("kurtosis_formats", pareto_front(pd.concat([normal_all, sweep], ignore_index=True)))
panels = [sweep.distribution.iloc[0], sweep.distribution.iloc[-1]]
out.figure("fig-format-fronts", plot_format_fronts(sweep, groups=panels))

# %% [markdown]
# ```{glue:figure} fig-format-fronts
# :name: fig-format-fronts
# :alt: SNR against bits per weight for every format, on normal and on heavy-tailed weights, with the Pareto front.
#
# **Figure 8.1.** SNR against the true bits per weight of every format, on normal weights (left)
# and on the heaviest tail of the sweep (right), coloured by kind; the step line is the Pareto
# front, labelled. Data: {download}`kurtosis_formats.csv </results/08_formats/kurtosis_formats.csv>`.
# ```
#
# The decision map names the best format within each budget at each kurtosis
# ({py:func}`pvq.formats.frontier.decision_map`):

# %% tags=["hide-input"]
decision = out.table("decision_map", decision_map(sweep, P.budgets))
out.glue(sparse_onset(decision))
out.figure("fig-decision-map", plot_decision_map(decision))

# %% [markdown]
# ```{glue:figure} fig-decision-map
# :name: fig-decision-map
# :alt: A grid of budgets by kurtosis, each cell naming the format with the highest SNR within the budget.
#
# **Figure 8.2.** The format of highest SNR costing at most the budget (columns), for weights of
# each kurtosis (rows; 3 is the normal), coloured by kind. Data:
# {download}`decision_map.csv </results/08_formats/decision_map.csv>`.
# ```
#
# The paper's Figure 2 carries over: in this sweep {glue:md}`sparse-onset-text`, and nowhere else;
# every other cell of the map is won by a dense format, named in the figure.
#
# (sec-formats-tensors)=
# ## On real tensors
#
# Every layer weight of {glue:text}`n-format-models` networks (`format_models`; in the full profile
# every offline network of {ref}`ch-weight-tensors`), stored in each of the {glue:text}`n-formats` formats
# ({py:func}`pvq.formats.advisor.analyze_formats_models`): {glue:text}`n-format-tensors` tensors.
# For each budget, the share of tensors on which each format is the best within it
# ({py:func}`pvq.formats.frontier.tensor_win_shares`):

# %% tags=["hide-input"]
tensors, skipped = analyze_formats_models({m: m for m in P.format_models}, P.formats, fp16=P.fp16, workers=P.workers)
out.table("tensor_formats", tensors[["model", "tensor", "format", "bits_per_weight", "snr_db", "kurtosis", "numel"]])
out.table("skipped", skipped)
shares = out.table("win_shares", tensor_win_shares(tensors, P.budgets))
out.figure("fig-format-win-shares", plot_win_shares(shares))

# %% [markdown]
# ```{glue:figure} fig-format-win-shares
# :name: fig-format-win-shares
# :alt: Stacked bars, one per budget, of the share of real tensors each format wins.
#
# **Figure 8.3.** Share of real tensors on which each format has the highest SNR among those
# costing at most the budget. Data: {download}`tensor_formats.csv </results/08_formats/tensor_formats.csv>`,
# {download}`win_shares.csv </results/08_formats/win_shares.csv>`.
# ```
#
# **Per-tensor Pareto fronts.** On how many tensors each format is on the tensor's own front: no
# other format is at least as good at no higher cost ({py:func}`pvq.formats.frontier.front_shares`):

# %% tags=["hide-input"]
readable(out.table("front_shares", front_shares(tensors)))

# %% [markdown]
# Data: {download}`front_shares.csv </results/08_formats/front_shares.csv>`.
#
# **Does sparsity ever win at equal bits?** For each sparse format, the share of tensors on which
# it beats every dense format that costs no more bits, and the dense format most often best at its
# cost ({py:func}`pvq.formats.frontier.sparse_vs_dense`):

# %% tags=["hide-input"]
sparse_wins = out.table("sparse_vs_dense", sparse_vs_dense(tensors, check_format_names(P.formats)))
out.glue(format_headlines(normal_all, tensors, sparse_wins))
readable(sparse_wins)

# %% [markdown]
# Against a dense format of no higher cost, the best showing of a sparse format is
# {glue:text}`best-sparse-format`, winning on {glue:text}`best-sparse-share:.1f`% of tensors. A sparse
# format cheaper than every dense one in the list (no best dense rival in the table) wins by default.
# Data: {download}`sparse_vs_dense.csv </results/08_formats/sparse_vs_dense.csv>`.
#
# (sec-formats-per-layer)=
# ## Per layer, post-training
#
# The paper's §5 asks what the best post-training method can reach on a layer, judged by the
# layer's output error on real inputs. The same for the new formats, on chapter 4's layers and
# problems ({ref}`ch-per-layer`: one output channel, at most 32 input dimensions, the inputs of
# real photos or text), {glue:text}`format-chunks` chunks per layer
# ({py:func}`pvq.layerwise.format_study.format_problems`). FP4 E2M1 and NF4, each with the
# per-tensor scale that minimises the layer's weight error, are solved exactly by chapter 4's sphere
# decoder walking their non-uniform levels ({py:func}`pvq.layerwise.formats_layer.exact_levels`);
# 2:4 pruning with least-squares refit exactly by a branch and bound over the groups
# ({py:func}`pvq.layerwise.formats_layer.exact_nm`). Beside them: INT4 (chapter 4's exact optimum),
# round-to-nearest, GPTQ, magnitude and SparseGPT 2:4 (Frantar & Alistarh 2023), and unstructured
# pruning keeping as many weights as the 2:4 mask. Each chunk's result is cached under
# `results/08_formats/cache` ({py:func}`pvq.layerwise.format_study.run_format_study`).

# %% tags=["hide-input"]
problems = format_problems(P.layers, n_inputs=P.n_inputs, max_chunks=P.format_chunks, seed=P.seed)
cache = results_dir(out.stem) / "cache"
layer_rows = run_format_study(problems, workers=P.workers, cache_dir=cache, progress=True)
out.table("layer_chunks", layer_rows.drop(columns="seconds"))
layer_table = out.table("layer_formats", format_layer_table(layer_rows))
out.glue(format_layer_headlines(layer_table) | {"format-chunks": P.format_chunks})
out.figure("fig-format-layers", plot_layer_formats(layer_table))
readable(format_layer_summary(layer_table))

# %% [markdown]
# ```{glue:figure} fig-format-layers
# :name: fig-format-layers
# :alt: For each layer, the layer SNR of each format's exact optimum and best heuristic.
#
# **Figure 8.4.** Each layer's SNR (output error on real inputs) for INT4, FP4 E2M1 and NF4 at 4
# bits per weight and for 2:4 and unstructured pruning at 9: the exact optimum (filled) and the
# best of the heuristics (hollow: GPTQ, round-to-nearest; SparseGPT, magnitude with refit). Data:
# {download}`layer_formats.csv </results/08_formats/layer_formats.csv>`.
# ```

# %% [markdown]
# Over {glue:text}`layer-count` layers ({glue:text}`layer-proven:.0f`% of the exact problems proven
# optimal within their node budgets), the exact FP4 optimum beats the exact INT4 optimum on
# {glue:text}`fp4-beats-int4` layers and exact NF4 on {glue:text}`nf4-beats-int4`; NF4 beats FP4 on
# {glue:text}`nf4-beats-fp4`. The exact 2:4 optimum, at 9 bits per weight, beats the 4-bit INT4
# optimum on {glue:text}`two-four-beats-int4` layers; the 2:4 pattern itself costs
# {glue:text}`two-four-gap-db:.2f` dB on average against unstructured pruning of as many weights.
# Data: {download}`layer_formats.csv </results/08_formats/layer_formats.csv>` (per layer),
# {download}`layer_chunks.csv </results/08_formats/layer_chunks.csv>` (per chunk).
#
# ## What this chapter supports

# %% tags=["remove-cell"]
out.verdicts(
    *check_l1_nf4(normal, tensors),
    *check_l2_int8_fp8(normal, sweep, tensors),
    check_l3_two_four(normal_all, sparse_wins),
)

# %% [markdown]
# - **L1** (QLoRA: NF4 beats FP4 and INT4 on normal weights), on N(0,1):
#   **{glue:md}`l1-normal-weights-verdict`**. {glue:md}`l1-normal-weights-evidence`. On real
#   tensors: **{glue:md}`l1-real-tensors-verdict`**. {glue:md}`l1-real-tensors-evidence`.
# - **L2** (van Baalen et al.: INT8 beats FP8 on well-behaved weights, FP8 helps with outliers), on
#   distributions: **{glue:md}`l2-distributions-verdict`**. {glue:md}`l2-distributions-evidence`. On
#   real tensors: **{glue:md}`l2-real-tensors-verdict`**. {glue:md}`l2-real-tensors-evidence`.
# - **L3** (the paper's verdict at equal bits, extended to 2:4 sparsity with its metadata):
#   **{glue:md}`l3-verdict`**. {glue:md}`l3-evidence`.
