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
# (ch-claims)=
# # Claims
#
# The claims C1–C9 of the paper, and after them claims from the literature about the formats the
# paper left out (L1–L3), each with the verdict a chapter of this book computed from its own
# results in this build, and the numbers behind it. A claim part that no chapter has checked
# says so. Verdicts: *reproduced*, *partly reproduced*, *not reproduced*, *not yet checked*.

# %% tags=["parameters"]
profile = "full"

# %% tags=["hide-input"]
from IPython.display import Markdown

from pvq.book.claims import claims_markdown, collect_claims
from pvq.book.params import ClaimsParams
from pvq.book.publish import Chapter
from pvq.common.paths import notebook_sources, results_root

P = ClaimsParams.from_namespace(globals())
out = Chapter("99_claims")
claims = out.table("claims", collect_claims(results_root(), {p.stem for p in notebook_sources()}))
out.glue({"n-checked": int((claims.verdict != "not yet checked").sum()), "n-parts": len(claims)})
Markdown(claims_markdown(claims))

# %% [markdown]
# {glue:text}`n-checked` of {glue:text}`n-parts` claim parts have a verdict in this build. Data:
# {download}`claims.csv </results/99_claims/claims.csv>`.
