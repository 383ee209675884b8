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
# (ch-setup)=
# # 1. The question and the ground rules
#
# *Paper §1–2.* Which compresses a trained network better at the **same** compression:
# unstructured magnitude pruning or uniform integer quantization? This chapter fixes the
# operators and the accounting every later chapter uses, and asks how fair that accounting is.
#
# **What it shows.** The pairing of INT-b quantization with pruning ratio $1 - b/16$ against
# an FP16 baseline ({ref}`sec-pairing`), the two operators, and what happens to the
# pairing once a sparse format pays for its mask or indices ({numref}`fig-storage-equivalence`).
#
# **Parameters.** The cell below holds this chapter's parameters; its defaults are the
# `full` profile, and `params/ci.yaml` overrides them for the fast profile.

# %% tags=["parameters"]
profile = "full"
n_bits = [2, 3, 4, 5, 6, 7, 8]
baseline_bits = 16
index_bits = 4

# %%
import pandas as pd

from pvq import make_distribution, optimal_clip, paired_sparsity, prune_snr_db
from pvq.claims import PAPER, check_c8_mask_cost, save_verdicts
from pvq.params import SetupParams
from pvq.plots import plot_storage
from pvq.publish import glue, publish_figure, save_table
from pvq.quantization import int_grid
from pvq.storage import FORMATS, bits_per_weight, equivalent_sparsity

STEM = "01_setup"
P = SetupParams(profile=profile, n_bits=n_bits, baseline_bits=baseline_bits, index_bits=index_bits)
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
# rounding half to even ({py:func}`pvq.quantization.quantize`). The *restricted symmetric* grid
# drops the level $-2^{b-1}$ so that both sides have $2^{b-1}-1$ levels; the paper's code uses
# the signed grid, and so do we unless a table says otherwise.
#
# **Pruning.** Per tensor, exactly $\lfloor c \cdot n \rfloor$ weights of smallest magnitude
# are set to zero ({py:func}`pvq.pruning.prune`), ties broken by position so that the count is
# exact. For a density, this is the threshold $\tau = F^{-1}(1/2 + c/2)$.
#
# The levels of each grid are in {download}`integer_grids.csv </results/01_setup/integer_grids.csv>`.
#
# **Error metric.** $\mathrm{SNR} = 10 \log_{10} \big(E[w^2] / E[(w - F(w))^2]\big)$ in dB,
# $F$ being either operator.

# %%
grids = pd.DataFrame(
    [
        {
            "n_bits": b,
            "grid": g,
            "q_min": int_grid(b, g)[0],
            "q_max": int_grid(b, g)[1],
            "levels": int_grid(b, g)[1] - int_grid(b, g)[0] + 1,
        }
        for b in P.n_bits
        for g in ("signed", "symmetric")
    ]
)
save_table(grids, STEM, "integer_grids")
grids.pivot(index="n_bits", columns="grid", values="levels").rename(columns=lambda g: f"levels ({g})")

# %% [markdown]
# (sec-pairing)=
# ## Equal compression: the pairing
#
# Against a 16-bit baseline, storing $b$ bits per weight and keeping a share $b/16$ of the
# weights cost the same **if the positions of the kept weights were free**. The paper ignores
# the mask (and the quantization scale), which favours pruning.

# %%
pairing = pd.DataFrame(
    [
        {
            "n_bits": b,
            "sparsity": paired_sparsity(b, baseline_bits=P.baseline_bits),
            "compression_ratio": P.baseline_bits / b,
            "bits_per_weight": b,
        }
        for b in P.n_bits
    ]
)
save_table(pairing, STEM, "pairing")
glue("int4-sparsity", 100 * paired_sparsity(4, baseline_bits=P.baseline_bits) if 4 in P.n_bits else float("nan"))
pairing.style.format({"sparsity": "{:.2%}", "compression_ratio": "{:.2f}×"}).hide(axis="index")

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
# sparsity pruning must reach to match INT-b storage ({py:func}`pvq.storage.equivalent_sparsity`).
# To see what that costs in accuracy terms, the table also gives the expected SNR of both methods
# on a standard normal weight distribution (computed exactly as in {ref}`ch-distributions`).

# %%
normal = make_distribution("normal")
quant_snr = {b: optimal_clip(normal, n_bits=b).snr_db for b in P.n_bits}
rows = []
for b in P.n_bits:
    for fmt in FORMATS:
        c = equivalent_sparsity(b, value_bits=P.baseline_bits, fmt=fmt, index_bits=P.index_bits)
        ok = c == c  # nan: no sparsity below 1 fits the budget
        rows.append(
            {
                "n_bits": b,
                "format": fmt,
                "equivalent_sparsity": c,
                "bits_per_weight": bits_per_weight(c, value_bits=P.baseline_bits, fmt=fmt, index_bits=P.index_bits)
                if ok
                else float("nan"),
                "quant_snr_db": quant_snr[b],
                "prune_snr_db": prune_snr_db(normal, c) if ok else float("nan"),
            }
        )
storage = pd.DataFrame(rows)
save_table(storage, STEM, "storage")
fig = plot_storage(storage)
publish_figure(fig, STEM, "fig-storage-equivalence")
storage.pivot(index="n_bits", columns="format", values="equivalent_sparsity").style.format("{:.2%}", na_rep="—")

# %% [markdown]
# ```{glue:figure} fig-storage-equivalence
# :name: fig-storage-equivalence
#
# Sparsity pruning needs to match the storage of INT-b under each sparse format ($v = 16$,
# index format with the `index_bits` parameter). Data: {download}`storage.csv </results/01_setup/storage.csv>`.
# ```

# %%
verdict = check_c8_mask_cost(storage, n_bits=4 if 4 in P.n_bits else P.n_bits[0])
save_verdicts(STEM, [verdict])
mask4 = storage[(storage.n_bits == 4) & (storage.format == "bitmask")]
if len(mask4):
    glue("int4-mask-sparsity", 100 * float(mask4.equivalent_sparsity.iloc[0]))
    glue("int4-mask-prune-snr", float(mask4.prune_snr_db.iloc[0]))
    glue(
        "int4-ideal-prune-snr", float(storage[(storage.n_bits == 4) & (storage.format == "ideal")].prune_snr_db.iloc[0])
    )
    glue("int4-quant-snr-normal", quant_snr[4])
glue("paper-mask-bits", PAPER["mask_bits_per_weight"][0])
glue("c8-mask-verdict", verdict.verdict)
pd.DataFrame([verdict.__dict__])

# %% [markdown]
# At INT4 storage a bitmask forces pruning from {glue:text}`int4-sparsity:.2f`% to {glue:text}`int4-mask-sparsity:.2f`%
# sparsity, and on normal weights its SNR falls from {glue:text}`int4-ideal-prune-snr:.2f` dB
# to {glue:text}`int4-mask-prune-snr:.2f` dB, against {glue:text}`int4-quant-snr-normal:.2f` dB
# for INT4 quantization. The paper's remark that a mask costs at least
# {glue:text}`paper-mask-bits:.0f` bit per weight holds for a plain bitmask; an entropy-coded
# mask can spend less than one bit at high sparsity, but never nothing, so the pairing always
# moves against pruning. Quantization's own overhead, one FP16 scale per tensor, adds $16/n$ bits
# per weight to a tensor of $n$ weights, against the mask's cost per weight whatever the size.
#
# ## What this chapter supports
#
# - **C8 (mask-cost part)**: {glue:md}`c8-mask-verdict` — every honest sparse format needs a
#   higher sparsity than $1 - b/16$ at equal storage. The natural-sparsity part of C8 needs real
#   weight tensors (chapter 3).
# - The pairing $1 - b/16$ used by every later chapter is the paper's, and it favours pruning.
