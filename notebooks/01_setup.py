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
# (ch-setup)=
# # 1. The question and the ground rules
#
# *Paper §1–2.* Which compresses a trained network better at the **same** compression:
# unstructured magnitude pruning or uniform integer quantization? This chapter fixes the
# operators and the accounting every later chapter uses, and asks how fair that accounting is.
#
# :::{admonition} In short
# :class: reading-first
#
# **The paper** pairs INT-b quantization with pruning a share $1 - b/16$ of the weights (equal
# storage against FP16 if the positions of the kept weights were free) and remarks that a sparse
# format pays at least {glue:text}`paper-mask-bits-per-weight:.0f` bit per weight for its mask.
#
# **This book finds** the mask-cost part of C8 {glue:md}`c8-verdict` ({ref}`ch-claims`): at INT4
# storage a bitmask forces pruning from {glue:text}`int4-sparsity:.2f`% to
# {glue:text}`int4-mask-sparsity:.2f`% sparsity, and on normal weights its SNR falls from
# {glue:text}`int4-ideal-prune-snr:.2f` dB to {glue:text}`int4-mask-prune-snr:.2f` dB, against
# {glue:text}`int4-quant-snr:.2f` dB for INT4 quantization.
# :::
#
# **What it shows.** The pairing of INT-b quantization with pruning ratio $1 - b/16$ against
# an FP16 baseline ({ref}`sec-pairing`), the two operators, and what happens to the
# pairing once a sparse format pays for its mask or indices
# ([Figure 1.1](fig-storage-equivalence)).

# %% tags=["parameters"]
profile = "full"
n_bits = [2, 3, 4, 5, 6, 7, 8]
index_bits = 4

# %% [markdown]
# **Parameters.** Their defaults are the `full` profile (their one home is
# {py:class}`pvq.book.params.SetupParams`); `params/ci.yaml` overrides them for the fast profile.
# The baseline is the paper's FP16 ({py:data}`pvq.core.pruning.BASELINE_BITS` =
# {glue:text}`baseline-bits` bits) throughout the book. The parameters of this build:

# %% tags=["remove-input"]
from pvq.analytic.accounting import storage_comparison, storage_headlines
from pvq.analytic.distributions import make_distribution
from pvq.book.params import SetupParams
from pvq.book.plots import plot_storage
from pvq.book.publish import Chapter
from pvq.book.tables import percent_table, readable
from pvq.book.verdicts import check_c8_mask_cost
from pvq.common.paper import paper_values
from pvq.core.pruning import BASELINE_BITS, pairing_table
from pvq.core.quantization import grid_table

P = SetupParams.from_namespace(globals())
out = Chapter("01_setup")
out.glue({"baseline-bits": BASELINE_BITS})
P

# %% [markdown]
# ## The operators
#
# **Quantization.** Symmetric, per tensor, zero-point 0, on the signed integer grid
# $q \in \{-2^{b-1}, \dots, 2^{b-1}-1\}$ with scale $s = \alpha / (2^{b-1} - 1)$ for a
# clipping value $\alpha$:
#
# $$Q(w) = s \cdot \mathrm{clamp}\!\left(\left\lfloor w/s \right\rceil,\, -2^{b-1},\, 2^{b-1}-1\right),$$
#
# rounding half to even ({py:func}`pvq.core.quantization.quantize`). The *restricted symmetric* grid
# drops the level $-2^{b-1}$ so that both sides have $2^{b-1}-1$ levels; the paper's code uses
# the signed grid, and so do we unless a table says otherwise.
#
# **Pruning.** Per tensor, exactly $\lfloor c \cdot n \rfloor$ weights of smallest magnitude
# are set to zero ({py:func}`pvq.core.pruning.prune`), ties broken by position so that the count is
# exact. For a density, this is the threshold $\tau = F^{-1}(1/2 + c/2)$.
#
# **Error metric.** $\mathrm{SNR} = 10 \log_{10} \big(E[w^2] / E[(w - F(w))^2]\big)$ in dB,
# $F$ being either operator. The levels of each grid ({py:func}`pvq.core.quantization.grid_table`):

# %% tags=["hide-input"]
grids = out.table("integer_grids", grid_table(P.n_bits))
readable(grids.pivot(index="n_bits", columns="grid", values="levels").add_prefix("levels, "), index=True)

# %% [markdown]
# Data: {download}`integer_grids.csv </results/01_setup/integer_grids.csv>`.
#
# (sec-pairing)=
# ## Equal compression: the pairing
#
# Against the {glue:text}`baseline-bits`-bit baseline, storing $b$ bits per weight and keeping a
# share $b/16$ of the weights cost the same **if the positions of the kept weights were free**.
# The paper ignores the mask (and the quantization scale), which favours pruning
# ({py:func}`pvq.core.pruning.pairing_table`).

# %% tags=["hide-input"]
readable(out.table("pairing", pairing_table(P.n_bits)))

# %% [markdown]
# Each INT-b is compared with the pruning ratio of equal ideal storage; INT4, for instance, with
# {glue:text}`int4-sparsity:.2f`% pruning. Data: {download}`pairing.csv </results/01_setup/pairing.csv>`.
#
# ## What a sparse format really costs
#
# A pruned tensor must also say *which* weights survive. Per weight of the dense tensor, with
# $v = 16$ bits per kept value and sparsity $c$:
#
# | format | bits per weight |
# |---|---|
# | ideal (the paper's accounting) | $(1-c)\,v$ |
# | bitmask | $(1-c)\,v + 1$ |
# | index ($i$ bits per kept weight, e.g. relative/CSR) | $(1-c)(v + i)$ |
# | entropy bound (no mask code can do better on a random mask) | $(1-c)\,v + H(c)$ |
#
# with $H(c) = -c\log_2 c - (1-c)\log_2(1-c)$. Solving "bits per weight $= b$" for $c$ gives the
# sparsity pruning must reach to match INT-b storage ({py:func}`pvq.core.storage.equivalent_sparsity`).
# To see what that costs in accuracy terms, its data file also gives the expected SNR of both methods
# on a standard normal weight distribution, computed exactly as in {ref}`ch-distributions`
# ({py:func}`pvq.analytic.accounting.storage_comparison`).

# %% tags=["hide-input"]
storage = out.table("storage", storage_comparison(make_distribution("normal"), P.n_bits, index_bits=P.index_bits))
out.figure("fig-storage-equivalence", plot_storage(storage))
out.glue(storage_headlines(storage), **paper_values("mask_bits_per_weight"))
percent_table(storage.pivot(index="n_bits", columns="format", values="equivalent_sparsity"), digits=2)

# %% [markdown]
# ```{glue:figure} fig-storage-equivalence
# :name: fig-storage-equivalence
# :alt: Line plot of the sparsity pruning needs to store as few bits as INT-b, against b, one line per sparse format.
#
# **Figure 1.1.** Sparsity pruning needs to match the storage of INT-b under each sparse format
# ($v = 16$, index format with the `index_bits` parameter). Data:
# {download}`storage.csv </results/01_setup/storage.csv>`.
# ```
#
# At INT4 storage a bitmask forces pruning from {glue:text}`int4-sparsity:.2f`% to {glue:text}`int4-mask-sparsity:.2f`%
# sparsity, and on normal weights its SNR falls from {glue:text}`int4-ideal-prune-snr:.2f` dB
# to {glue:text}`int4-mask-prune-snr:.2f` dB, against {glue:text}`int4-quant-snr:.2f` dB
# for INT4 quantization. The paper's remark that a mask costs at least
# {glue:text}`paper-mask-bits-per-weight:.0f` bit per weight holds for a plain bitmask; an entropy-coded
# mask can spend less than one bit at high sparsity, but never nothing, so the pairing always
# moves against pruning. Quantization's own overhead, one FP16 scale per tensor, adds $16/n$ bits
# per weight to a tensor of $n$ weights, against the mask's cost per weight whatever the size.

# %% tags=["remove-cell"]
out.verdicts(check_c8_mask_cost(storage, n_bits=4))

# %% [markdown]
# ## What this chapter supports
#
# - **C8 (mask-cost part)**: {glue:md}`c8-verdict` — {glue:md}`c8-evidence`. Every honest
#   sparse format needs a higher sparsity than $1 - b/16$ at equal storage. The natural-sparsity
#   part of C8 needs real weight tensors (chapter 3).
# - The pairing $1 - b/16$ used by every later chapter is the paper's, and it favours pruning.
