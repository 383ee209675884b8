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
# ---

# %% [markdown]
# (ch-per-layer)=
# # 4. Per-layer comparison after training
#
# *Paper §5, Figure 4.* Magnitude tells only part of the story: a layer's output error depends on
# its inputs. Post-training, both methods can re-optimise the weights that remain: quantization
# chooses integer levels, pruning chooses which weights survive and refits them. For one output
# channel with inputs $X$ and a chunk $w$ of $n$ of its weights (at most `chunk_size`, the paper's
# {glue:text}`paper-max-chunk-size`):
#
# $$
# \text{quantization:}\ \min_{z \in \{q_{\min},\dots,q_{\max}\}^n} \lVert X(w - s z)\rVert^2,
# \qquad
# \text{pruning:}\ \min_{|C| \le \lfloor n b/16 \rfloor}\ \min_{\hat w_C} \lVert Xw - X_C \hat w_C\rVert^2 .
# $$ (eq-per-layer)
#
# The paper brackets the quantization optimum with semidefinite-programming bounds and solves the
# pruning problem exactly. At these sizes the quantization optimum itself is computable
# (sphere decoding), so this chapter shows the paper's bounds **and** both exact optima, plus the
# heuristics practitioners use (round-to-nearest, GPTQ, OBQ; magnitude pruning, SparseGPT, OBS).
#
# **Setup.** Real trained networks on real inputs: MobileNetV2 (the paper's layers) and
# EfficientNet-Lite0 on photos that ship with scikit-image (crops and flips; the paper used
# {glue:text}`paper-n-calibration-images` ImageNet images), MiniLM-L6 on Python's documentation
# prose. Weights FP16-rounded; the scale of each tensor from its MSE-optimal clipping; a subset of
# chunks per layer.
#
# **Parameters.** The cell below holds this chapter's parameters; its defaults are the `full`
# profile (their one home is {py:class}`pvq.book.layer_params.PerLayerParams`), and `params/ci.yaml`
# overrides them for the fast profile.

# %% tags=["parameters"]
profile = "full"
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
n_bits = [2, 3, 4, 5, 6, 7, 8]
n_inputs = 64
chunk_size = 32
max_chunks = 8
prune_nodes = 20000000
quant_nodes = 200000000
scip_max_n = 16
workers = 2
dask_scheduler = ""
seed = 0

# %%
from pvq.book.layer_params import PerLayerParams
from pvq.book.plots import plot_per_layer
from pvq.book.publish import Chapter
from pvq.book.verdicts import check_c4
from pvq.common.paper import paper_values
from pvq.common.paths import results_dir
from pvq.layerwise.study import layer_problems, margin_headlines, problem_headlines, solve_problems, solver_headlines
from pvq.layerwise.tables import comparison_table, heuristic_gaps, layer_snr, margin_table, timing_table

P = PerLayerParams.from_namespace(globals())
out = Chapter("04_per_layer")
out.glue(paper_values("n_calibration_images", "max_chunk_size"))
P

# %% [markdown]
# ## The problems
#
# Each layer is run on the calibration inputs, its output channels are cut into chunks of at most
# `chunk_size` weights, and `max_chunks` of them, evenly spread over the layer, are studied
# ({py:func}`pvq.layerwise.study.layer_problems`, one layer at a time through
# {py:func}`pvq.layerwise.sweep.layer_chunks`).

# %%
chunks, problems = layer_problems(P.layers, n_bits=P.n_bits, n_inputs=P.n_inputs, chunk_size=P.chunk_size,
                                  max_chunks=P.max_chunks, seed=P.seed)  # fmt: skip
out.glue(problem_headlines(problems))
out.table("problems", problems)

# %% [markdown]
# {glue:text}`n-layers` layers, {glue:text}`n-chunks` chunk problems (each solved at every
# comparison point); `rows` is the number of rows of $X$ (image positions or tokens),
# `dead_channels` counts output channels whose output is identically zero on these inputs
# ({glue:text}`n-dead` in all; skipped). Data: {download}`problems.csv </results/04_per_layer/problems.csv>`.
#
# ## Solving every chunk
#
# Every method on every chunk at every comparison point, on local worker processes or a Dask
# cluster ({py:func}`pvq.layerwise.study.solve_problems`); each (chunk, point) result is cached
# under `results/04_per_layer/cache`, keyed by its content, so a rerun solves nothing new. The
# layer SNRs ({py:func}`pvq.layerwise.tables.layer_snr`) give the comparison table behind the
# figure ({py:func}`pvq.layerwise.tables.comparison_table`).

# %%
results = solve_problems(chunks, P.n_bits, cache_dir=results_dir(out.stem) / "cache", dask_scheduler=P.dask_scheduler,
                         workers=P.workers, progress=True, sdp_every=1, scip_max_n=P.scip_max_n,
                         prune_nodes=P.prune_nodes, quant_nodes=P.quant_nodes)  # fmt: skip
out.table("chunks", results)
snr = out.table("layer_snr", layer_snr(results))
table = out.table("comparison", comparison_table(snr))
out.figure("fig-per-layer", plot_per_layer(table))

# %% [markdown]
# ```{glue:figure} fig-per-layer
# :name: fig-per-layer
#
# Figure 4, rebuilt with the exact optima. Per layer (panel) and comparison point INT-b vs
# $1 - b/16$ pruning (x): the paper's quantization bounds (blue bar, from the SDP relaxation's
# certified lower bound to randomized rounding), the exact quantization optimum (blue dot), the
# exact pruning optimum (red dot; hollow where the search budget ran out on some chunk), and the
# heuristics (dashes: GPTQ, magnitude pruning with refit). Data:
# {download}`comparison.csv </results/04_per_layer/comparison.csv>`, per chunk:
# {download}`chunks.csv </results/04_per_layer/chunks.csv>`.
# ```
#
# The median time per chunk of the exact searches, the SDP bounds and the SCIP cross-check
# ({py:func}`pvq.layerwise.tables.timing_table`):

# %%
out.glue(solver_headlines(results))
out.table("timing", timing_table(results)).style.format({"median_seconds": "{:.3f}"}).hide()

# %% [markdown]
# The exact quantization optimum was proven on {glue:text}`quant-proven:.1f`% of chunk problems
# and the exact pruning optimum on {glue:text}`prune-proven:.1f`% (the rest hit the node budget;
# their best solution is shown, hollow). The paper's SDP lower bound lies a median
# {glue:text}`sdp-lower-gap:.1f` dB below the true optimum; randomized rounding ends a median
# {glue:text}`sdp-upper-gap:.2f` dB (at most {glue:text}`sdp-upper-gap-max:.2f` dB) above it
# ({py:func}`pvq.layerwise.study.solver_headlines`). Data:
# {download}`timing.csv </results/04_per_layer/timing.csv>`.
#
# ## How far the heuristics are from the optimum
#
# For each heuristic, the extra error over the exact optimum on the same chunks, per layer and
# point ({py:func}`pvq.layerwise.tables.paired_gap`), summarised by
# {py:func}`pvq.layerwise.tables.heuristic_gaps`:

# %%
gaps = out.table("heuristic_gaps", heuristic_gaps(results))
gaps.style.format({"median_gap_db": "{:.2f}", "max_gap_db": "{:.2f}"}).hide()

# %% [markdown]
# dB of extra error over the exact optimum, per layer and point (median and worst). For pruning,
# the paper's baseline is magnitude pruning with a least-squares refit; `SCIP boxed MIQP` is the
# paper's own pruning formulation, whose bound on the refitted weights ($|\hat w| \le 2\max|w|$)
# can bind on real chunks, which is why it can be worse than the unboxed optimum. Data:
# {download}`heuristic_gaps.csv </results/04_per_layer/heuristic_gaps.csv>`.
#
# ## Who wins, per layer and point
#
# SNR margin of quantization's exact optimum over pruning's, in dB; negative where pruning wins
# ({py:func}`pvq.layerwise.tables.margin_table`).

# %%
out.glue(margin_headlines(table))
margin_table(table).style.format("{:+.1f}")

# %% [markdown]
# Pruning wins at {glue:text}`prune-wins` of {glue:text}`n-pairs` (layer, point) pairs; the
# smallest margin is {glue:text}`min-margin:+.1f` dB. {glue:md}`paper-difference`
#
# ## What this chapter supports

# %%
out.verdicts(check_c4(table))

# %% [markdown]
# - **C4** (per layer, post-training: quantization's error upper bound beats pruning's exact
#   optimum at moderate compression): **{glue:md}`c4-verdict`**. {glue:md}`c4-evidence`.
# - With the exact optima in hand, the paper's question no longer needs bounds: the table above
#   compares the two optima directly, chunk by chunk.
