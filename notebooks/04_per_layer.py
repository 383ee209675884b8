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
# channel with inputs $X$ and a chunk of $n \le 32$ weights $w$:
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
# EfficientNet-Lite0 on photos that ship with scikit-image (crops and flips; the paper used 64
# ImageNet images), MiniLM-L6 on Python's documentation prose. Weights FP16-rounded; the scale
# of each tensor from its MSE-optimal clipping; a subset of chunks per layer.

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
import pandas as pd

from pvq.claims import check_c4, save_verdicts
from pvq.params import PerLayerParams
from pvq.paths import results_dir
from pvq.per_layer import comparison_table, layer_chunks, layer_snr, make_executor, paired_gap, run_sweep
from pvq.plots import plot_per_layer
from pvq.publish import glue, publish_figure, save_table

STEM = "04_per_layer"
P = PerLayerParams(
    profile=profile,
    layers=layers,
    n_bits=n_bits,
    n_inputs=n_inputs,
    chunk_size=chunk_size,
    max_chunks=max_chunks,
    prune_nodes=prune_nodes,
    quant_nodes=quant_nodes,
    scip_max_n=scip_max_n,
    workers=workers,
    dask_scheduler=dask_scheduler,
    seed=seed,
)
P

# %% [markdown]
# ## The problems

# %%
chunks, infos = [], []
for model, names in P.layers.items():
    for layer in names:
        got, info = layer_chunks(model, layer, n_bits=P.n_bits, n_inputs=P.n_inputs, chunk_size=P.chunk_size,
                                 max_chunks=P.max_chunks, seed=P.seed)  # fmt: skip
        chunks += got
        infos.append({"model": model, "layer": layer, **info, "chunks_studied": len(got)})
problems = pd.DataFrame(infos)
save_table(problems, STEM, "problems")
glue("n-layers", len(problems))
glue("n-chunks", len(chunks))
glue("n-dead", int(problems.dead_channels.sum()))
problems

# %% [markdown]
# {glue:text}`n-layers` layers, {glue:text}`n-chunks` chunk problems (each solved at every
# comparison point); `rows` is the number of rows of $X$ (image positions or tokens),
# `dead_channels` counts output channels whose output is identically zero on these inputs
# ({glue:text}`n-dead` in all; skipped). Data: {download}`problems.csv </results/04_per_layer/problems.csv>`.
#
# ## Solving every chunk

# %%
executor = make_executor(P.dask_scheduler or None, workers=P.workers)
try:
    results = run_sweep(
        chunks,
        P.n_bits,
        executor=executor,
        cache_dir=results_dir(STEM) / "cache",
        progress=True,
        sdp_every=1,
        scip_max_n=P.scip_max_n,
        prune_nodes=P.prune_nodes,
        quant_nodes=P.quant_nodes,
    )
finally:
    executor.shutdown()
save_table(results, STEM, "chunks")
snr = layer_snr(results)
save_table(snr, STEM, "layer_snr")
table = comparison_table(snr)
save_table(table, STEM, "comparison")
fig = plot_per_layer(table)
publish_figure(fig, STEM, "fig-per-layer")

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

# %%
quant_proven = results[(results.side == "quantization") & (results.method == "exact")].proven.mean()
prune_proven = results[(results.side == "pruning") & (results.method == "exact")].proven.mean()
glue("quant-proven", 100 * float(quant_proven))
glue("prune-proven", 100 * float(prune_proven))
sdp = paired_gap(results, "SDP bounds", side="quantization")
glue("sdp-lower-gap", float(-sdp.lower_gap_db.median()))
glue("sdp-upper-gap", float(sdp.gap_db.median()))
glue("sdp-upper-gap-max", float(sdp.gap_db.max()))
timing = (
    results[results.method.isin(["exact", "SDP bounds", "SCIP boxed MIQP"])]
    .groupby(["side", "method", "n"])
    .seconds.median()
)
save_table(timing.rename("median_seconds").reset_index(), STEM, "timing")
timing.rename("median seconds per chunk").to_frame()

# %% [markdown]
# The exact quantization optimum was proven on {glue:text}`quant-proven:.1f`% of chunk problems
# and the exact pruning optimum on {glue:text}`prune-proven:.1f`% (the rest hit the node budget;
# their best solution is shown, hollow). The paper's SDP lower bound lies a median
# {glue:text}`sdp-lower-gap:.1f` dB below the true optimum; randomized rounding ends a median
# {glue:text}`sdp-upper-gap:.2f` dB (at most {glue:text}`sdp-upper-gap-max:.2f` dB) above it.
#
# ## How far the heuristics are from the optimum

# %%
gaps = []
for side in ("quantization", "pruning"):
    for method in results[results.side == side].method.unique():
        if method == "exact":
            continue
        g = paired_gap(results, method, side=side)
        gaps.append({"side": side, "method": method, "median_gap_db": g.gap_db.median(), "max_gap_db": g.gap_db.max()})
gaps = pd.DataFrame(gaps)
save_table(gaps, STEM, "heuristic_gaps")
gaps.style.format({"median_gap_db": "{:.2f}", "max_gap_db": "{:.2f}"}).hide(axis="index")

# %% [markdown]
# dB of extra error over the exact optimum, per layer and point (median and worst). For pruning,
# the paper's baseline is magnitude pruning with a least-squares refit; `SCIP boxed MIQP` is the
# paper's own pruning formulation, whose bound on the refitted weights ($|\hat w| \le 2\max|w|$)
# can bind on real chunks, which is why it can be worse than the unboxed optimum. Data:
# {download}`heuristic_gaps.csv </results/04_per_layer/heuristic_gaps.csv>`.
#
# ## Who wins, per layer and point

# %%
view = table[
    ["model", "layer", "n_bits", "quant_exact_db", "quant_sdp_lower_db", "prune_exact_db", "prune_exact_proven"]
]
wins = view.assign(margin_db=view.quant_exact_db - view.prune_exact_db)
glue("n-pairs", len(wins))
glue("prune-wins", int((wins.margin_db < 0).sum()))
glue("min-margin", float(wins.margin_db.min()))
lowest_bits = int(wins.n_bits.min())
glue(
    "paper-difference",
    f"This differs from the paper's Figure 4, where pruning becomes competitive at the most extreme "
    f"ratios: here quantization's exact optimum wins at every point down to INT{lowest_bits}. With only "
    "the paper's bounds (the tall boxes) the question stays open at low bit-widths; with the optima "
    "it does not."
    if (wins.margin_db > 0).all()
    else "As in the paper's Figure 4, pruning becomes competitive only where the table shows negative margins.",
)
wins.pivot_table(index=["model", "layer"], columns="n_bits", values="margin_db", sort=False).style.format("{:+.1f}")

# %% [markdown]
# SNR margin of quantization's exact optimum over pruning's (dB; negative: pruning wins). Pruning
# wins at {glue:text}`prune-wins` of {glue:text}`n-pairs` (layer, point) pairs; the smallest
# margin is {glue:text}`min-margin:+.1f` dB. {glue:md}`paper-difference`
#
# ## What this chapter supports

# %%
v4 = check_c4(table)
save_verdicts(STEM, [v4])
glue("c4-verdict", v4.verdict)
glue("c4-evidence", v4.evidence)
pd.DataFrame([v4.__dict__])

# %% [markdown]
# - **C4** (per layer, post-training: quantization's error upper bound beats pruning's exact
#   optimum at moderate compression): **{glue:md}`c4-verdict`**. {glue:md}`c4-evidence`.
# - With the exact optima in hand, the paper's question no longer needs bounds: the table above
#   compares the two optima directly, chunk by chunk.
