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
#     after:
#     - 04_per_layer
#     - 05_fine_tuning
# ---

# %% [markdown]
# (ch-real-networks)=
# # 9. Whole real networks after training
#
# *Beyond the paper.* The paper's strongest evidence is on whole ImageNet networks, fine-tuned on
# a GPU; this book's whole-network evidence so far is two small networks trained on
# Fashion-MNIST ({ref}`ch-fine-tuning`). The paper's own pretrained networks are here, though
# (torchvision's MobileNetV2, EfficientNet-Lite0, and the MiniLM encoder standing in for its
# language models), and so are the per-layer solvers of {ref}`ch-per-layer`. Compressed after
# training, without labels, a network can still be judged: by how faithfully it reproduces the
# original network's outputs on inputs it never saw.
#
# :::{admonition} In short
# :class: reading-first
#
# **The question**: at equal compression (INT-b against sparsity $1 - b/16$), does quantization
# beat pruning on whole trained networks without any fine-tuning?
#
# **This book finds** quantization ahead in {glue:text}`quant-wins` of {glue:text}`n-comparisons`
# (network, bit-width) comparisons and pruning in {glue:text}`prune-wins` (ties: {glue:text}`ties`);
# pruning wins {glue:md}`pruning-onset-text`. C4 on whole networks: **{glue:md}`c4-whole-real-networks-ch-9-verdict`**;
# C5 before fine-tuning: **{glue:md}`c5-whole-real-networks-before-fine-tuning-ch-9-verdict`**.
# See {ref}`ch-claims`.
# :::
#
# **The scheme.** Layer by layer in network order, each layer's problem of {ref}`ch-per-layer`
# ($\min \lVert XW - X\hat W\rVert^2$ over its output channels) is solved on the inputs $X$ the
# *already compressed* network feeds it: the sequential scheme of GPTQ and SparseGPT
# ({py:func}`pvq.layerwise.network.compress_network`). Quantization: round-to-nearest with the
# MSE-optimal per-tensor scale, and GPTQ. Pruning: magnitude, magnitude with a least-squares refit
# of the kept weights, and SparseGPT. One rule for both sides: the first layer and the classifier
# stay as they are (MiniLM has neither: its 36 linear layers are all compressed); weights are
# rounded to FP16 first; batch-norm statistics are re-estimated on the calibration batch after
# compression, relative to the FP32 network's on the same batch. OBQ and OBS, the greedy
# versions of GPTQ and SparseGPT, pick one weight at a time and downdate $H^{-1}$ after each: a
# cost per row cubic in the layer's inputs (up to {glue:text}`max-layer-inputs:,` here) against
# GPTQ's one factorisation per layer; they are not run on whole networks here (chapter 4 runs them
# per chunk).
#
# **Fidelity, without labels** ({py:mod}`pvq.layerwise.fidelity`). Vision: crops of sixteen photos
# held out of calibration (whole photos, never crops of a calibration photo: scikit-image's cat,
# matplotlib's portrait of Grace Hopper, scikit-learn's two sample photos, and the twelve nature
# photographs of Debian's `mate-backgrounds`; the calibration batch comes from scikit-image's six
# other photos), measured by logit SNR to the FP32 network, top-1 agreement with its prediction,
# and the KL divergence of the softmax. Text: held-out paragraphs of Python's documentation (whole
# topics held out), measured by the cosine of the sentence embedding to the FP32 encoder's and the
# agreement of nearest-neighbour retrieval. Intervals are 95% bootstrap intervals over the photos
# (each resampled with all its crops) or the paragraphs; the noise floor is the FP32 network
# against itself on a second crop of each crop (or the paragraph without its first words).

# %% tags=["parameters"]
profile = "full"
networks = ["mobilenet_v2", "efficientnet_lite0", "minilm_l6"]
network_bits = [2, 3, 4, 5, 6, 7, 8]
network_methods = ["rtn", "gptq", "magnitude", "magnitude_ls", "sparsegpt"]
network_formats = ["fp4_gptq", "nf4_b64", "mxfp4", "two_four_sparsegpt"]
n_calibration = 32
crops_per_photo = 4
n_paragraphs = 64
n_boot = 1000
diagnose_bits = 8
workers = 2
dask_scheduler = ""
seed = 0

# %% [markdown]
# **Parameters.** Their defaults are the `full` profile (their one home is
# {py:class}`pvq.book.network_params.NetworksParams`); `params/ci.yaml` overrides them for the
# fast profile. The parameters of this build:

# %% tags=["remove-input"]
from pvq.book.network_findings import (
    check_c4_networks,
    check_c5_networks,
    diagnosis_display,
    diagnosis_headlines,
    margins_across_scales,
    network_headlines,
    plot_fidelity,
    scale_headlines,
    scales_display,
    verdict_display,
)
from pvq.book.network_params import NetworksParams
from pvq.book.publish import Chapter, read_chapter_table
from pvq.book.tables import readable
from pvq.common.paths import results_dir
from pvq.layerwise.network_study import (
    diagnosis_runs,
    eval_size,
    fidelity_table,
    gptq_diagnosis,
    group_clipping,
    largest_layer_inputs,
    network_points,
    network_verdicts,
    noise_floor,
    run_network_study,
)

P = NetworksParams.from_namespace(globals())
out = Chapter("09_real_networks")
P

# %% [markdown]
# ## Fidelity at every point
#
# Each network at each point, compressed by each method, against the FP32 network on the
# held-out inputs ({py:func}`pvq.layerwise.network_study.run_network_study`: one job per network
# and point on local processes or Dask, each result cached under a hash of everything it depends
# on, so an interrupted build resumes). The formats of {ref}`ch-formats` appear at their own
# bits per weight (FP4 E2M1 by GPTQ with its levels, NF4 and MXFP4 rounded within their blocks,
# 2:4 sparsity by SparseGPT with the 2:4 mask).

# %% tags=["hide-input"]
points = network_points(P.network_bits, P.network_methods, P.network_formats)
diagnose = bool(P.diagnose_bits) and "minilm_l6" in P.networks  # why GPTQ loses on MiniLM: its runs share the pool
extra = diagnosis_runs("minilm_l6", P.diagnose_bits, P.n_calibration) if diagnose else []
results = run_network_study(P.networks, points, n_calibration=P.n_calibration, crops_per_photo=P.crops_per_photo,
                            n_paragraphs=P.n_paragraphs, seed=P.seed, workers=P.workers,
                            dask_scheduler=P.dask_scheduler or None, cache_dir=results_dir(out.stem) / "cache",
                            progress=True, extra_runs=extra)  # fmt: skip

# %% [markdown]
# ```{glue:figure} fig-fidelity
# :name: fig-fidelity
# :alt: Fidelity to the FP32 network against bits per weight, one panel per network, quantization and pruning lines.
#
# Fidelity to the FP32 network against bits per compressed weight, each network a panel:
# quantization (solid, circles), pruning at the paired sparsity (dashed, squares), the formats of
# chapter 8 (diamonds); bands are 95% bootstrap intervals; the grey band and dotted line are the
# noise floor (the FP32 network on a second crop).
# ```

# %% tags=["hide-input"]
floors = [noise_floor(m, n_calibration=P.n_calibration, n_eval=eval_size(m, P.crops_per_photo, P.n_paragraphs),
                      seed=P.seed, cache_dir=results_dir(out.stem) / "cache") for m in P.networks]  # fmt: skip
table = out.table("fidelity", fidelity_table(results, floors, n_boot=P.n_boot, seed=P.seed))
out.figure("fig-fidelity", plot_fidelity(table))
verdicts = out.table("verdicts", network_verdicts(results, n_boot=P.n_boot, seed=P.seed))
out.glue(network_headlines(table, verdicts), **{"max-layer-inputs": largest_layer_inputs(P.networks)})
readable(verdict_display(verdicts), break_cells=True)

# %% [markdown]
# The table above compares, at each network and bit-width, the best quantization method with the
# best pruning method (by the point estimate of logit SNR, or cosine for MiniLM): the difference
# and its paired bootstrap interval (the same resampled photos or paragraphs for both), and the side
# whose interval excludes zero. Data: {download}`fidelity.csv </results/09_real_networks/fidelity.csv>`
# (every point, with top-1 agreement, KL, retrieval agreement and their intervals, and the mean
# per-layer SNR on the calibration inputs), {download}`verdicts.csv </results/09_real_networks/verdicts.csv>`.
#
# At 50% sparsity, the pairing of INT8, the best pruned network reaches
# {glue:md}`prune-half-text`: what each side keeps of the original network's behaviour at the
# same storage, measured without a single label.
#
# **GPTQ is not always ahead of rounding.** Round-to-nearest beats GPTQ at
# {glue:md}`rtn-ahead-text`. The verdicts take the better of the two on each side. Where it loses
# on MiniLM, five runs ask why (each a whole network at the same point, measured on the held-out
# paragraphs):

# %% tags=["hide-input"]
diagnosis = clipping = None
if diagnose:
    diagnosis = out.table(
        "gptq_diagnosis",
        gptq_diagnosis(
            "minilm_l6",
            P.diagnose_bits,
            n_calibration=P.n_calibration,
            n_paragraphs=P.n_paragraphs,
            crops_per_photo=P.crops_per_photo,
            seed=P.seed,
            n_boot=P.n_boot,
            workers=P.workers,
            dask_scheduler=P.dask_scheduler or None,
            cache_dir=results_dir(out.stem) / "cache",
        ),
    )
    clipping = out.table("ffn_out_clipping", group_clipping("minilm_l6", P.diagnose_bits))
out.glue(diagnosis_headlines(diagnosis, clipping, P.diagnose_bits))
readable(diagnosis_display(diagnosis), break_cells=True) if diagnosis is not None else None

# %% [markdown]
# {glue:md}`gptq-diagnosis-text`
#
# ## Beside chapter 4 and Table 1
#
# The same paired comparison has now been made at three scales in this book: one layer at a time
# by exact optima ({ref}`ch-per-layer`), whole networks after post-training compression (here),
# and whole networks fine-tuned after compression ({ref}`ch-fine-tuning`, the book's Table 1);
# the paper adds its fine-tuned ImageNet networks (Table 1, of which one cell is recovered).
# Quantization's margin over pruning at each bit-width, at each scale:

# %% tags=["hide-input"]
margins = out.table(
    "margins_across_scales",
    margins_across_scales(
        verdicts, read_chapter_table("04_per_layer", "comparison"), read_chapter_table("05_fine_tuning", "table1")
    ),
)
out.glue(scale_headlines(margins))
readable(scales_display(margins), break_cells=True)

# %% [markdown]
# Units differ by scale: the SNR of a layer's output (chapter 4, dB; exact optima, median and range
# over its layers) and of the network's logits (dB) or the embedding's cosine (MiniLM) here,
# test accuracy in points after fine-tuning. At {glue:text}`moderate-bits` bits: {glue:md}`scales-text`.
# Quantization is ahead in {glue:md}`scales-agree` cells of the table. {glue:md}`scales-against`
# {glue:md}`scales-missing`
#
# **How to read it.** Chapter 4's margins are those of the best each side can do on one layer,
# with nothing upstream disturbed. Here, errors compound through the network and nothing is
# fine-tuned: the margins are those of a network as it ships after post-training compression,
# and what pruning loses here is what fine-tuning has to recover. Table 1 fine-tunes after
# compressing; its margins are in accuracy, which saturates, so their size is not comparable
# with the SNR margins above, only their sign. Data:
# {download}`margins_across_scales.csv </results/09_real_networks/margins_across_scales.csv>`.
#
# ## What this chapter supports

# %% tags=["remove-cell"]
out.verdicts(check_c4_networks(verdicts), check_c5_networks(verdicts))

# %% [markdown]
# - **C4** on whole real networks (the per-layer claim, carried through the network):
#   **{glue:md}`c4-whole-real-networks-ch-9-verdict`**. {glue:md}`c4-whole-real-networks-ch-9-evidence`.
# - **C5** before fine-tuning (quantization at least as good as pruning except at extreme
#   compression): **{glue:md}`c5-whole-real-networks-before-fine-tuning-ch-9-verdict`**.
#   {glue:md}`c5-whole-real-networks-before-fine-tuning-ch-9-evidence`.
#
# The Claims page ({ref}`ch-claims`) sets these beside chapter 4's per-layer verdict on C4 and
# chapter 5's fine-tuned verdict on C5, each with its numbers.
#
# ImageNet accuracy of the same compressed networks needs ImageNet, which this machine does not
# have. A user who has it runs the same methods there: `python -m pvq imagenet /data/imagenet
# --arch mobilenet_v2 --method gptq --bits 4` compresses with this chapter's scheme on 32 training
# images and reports top-1 on the validation set beside the FP32 network's
# ({py:func}`pvq.book.imagenet_ptq.run_imagenet_post_training`; the fine-tuning path is
# {ref}`sec-imagenet`).
