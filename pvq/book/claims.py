"""The paper's claims C1–C9 (and L1–L3 from the literature): the registry, the verdict record, the Claims page.

Each chapter checks the parts of the claims it covers with a pure function of its own result
tables (:mod:`pvq.book.verdicts`) and writes the verdicts to ``results/<stem>/claims.csv``
(:func:`pvq.book.publish.publish_verdicts`); the Claims page collects them
(:func:`collect_claims`) and says plainly which parts no chapter has checked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

__all__ = [
    "CLAIMS",
    "VERDICTS",
    "Claim",
    "Verdict",
    "claims_markdown",
    "collect_claims",
    "verdict_table",
]

VERDICTS: tuple[str, ...] = ("reproduced", "partly reproduced", "not reproduced", "not yet checked")


@dataclass(frozen=True)
class Claim:
    """One claim of the paper and the chapters that check its parts.

    Attributes
    ----------
    id : str
        ``'C1'`` … ``'C9'`` (the paper's), ``'L1'`` … (from the literature).
    statement : str
        What the paper claims.
    source : str
        Where in the paper.
    parts : tuple of (str, str)
        ``(chapter stem, scope)`` for each part of the claim and the chapter that checks it.
    section : {'paper', 'beyond the paper'}
        The paper's own claims (C1–C9), or claims from the literature the book checks with the
        paper's metric (L1–L3, chapter 8).
    """

    id: str
    statement: str
    source: str
    parts: tuple
    section: str = "paper"


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "C1",
        "Normal weights: quantization SNR exceeds pruning SNR at every INT-b vs 1-b/16 point, b = 2..8 "
        "(INT4 ≈ 19 dB vs 75% pruning 5.6 dB).",
        "§3, Figure 1",
        (("02_distributions", "all"),),
    ),
    Claim(
        "C2",
        "Heavy tails: pruning wins only at high kurtosis together with very high compression "
        "(about 2–3 bits per value).",
        "§3, Figure 2",
        (("02_distributions", "all"),),
    ),
    Claim(
        "C3",
        "Real weight tensors: quantization wins for most tensors; pruning's share grows as bits fall and "
        "concentrates in high-kurtosis tensors.",
        "§4, Figure 3",
        (("03_weight_tensors", "offline models"), ("03_weight_tensors", "released data")),
    ),
    Claim(
        "C4",
        "Per layer, post-training: quantization's error upper bound beats pruning's exact optimum at "
        "moderate compression (checked against the paper's pruning, ⌊n·b/16⌋ weights kept per chunk, and "
        "against a layer budget: the same total kept over the layer, allocated optimally across its chunks).",
        "§5, Figure 4",
        (
            ("04_per_layer", "per chunk (paper)"),
            ("04_per_layer", "layer budget"),
            ("09_real_networks", "whole real networks (ch. 9)"),
        ),
    ),
    Claim(
        "C5",
        "With fine-tuning, quantization ≥ pruning except sometimes at extreme compression.",
        "§6, Table 1",
        (("05_fine_tuning", "all"), ("09_real_networks", "whole real networks, before fine-tuning (ch. 9)")),
    ),
    Claim("C6", "Longer fine-tuning helps pruning more than quantization.", "§6", (("05_fine_tuning", "all"),)),
    Claim(
        "C7",
        "Pruned networks return to the original representations; QAT networks do not (read as: judged on the "
        "shape of each whole SNR trajectory against the original, step 0 being the network compressed before "
        "fine-tuning, by one rule for both methods: a trajectory returns when it climbs back at least 0.5 dB "
        "from its lowest point; reproduced when most pruning trajectories return and at most half of the QAT "
        "ones do. Until issue 10 pruning was judged only after its last mask update, where recovery was about "
        "zero by construction; the book's verdict then was not reproduced).",
        "§6",
        (("07_representations", "all"),),
    ),
    Claim(
        "C8",
        "Natural sparsity of quantized tensors (≈13% at INT8, ≈35% at INT4) and the cost of a sparsity mask "
        "strengthen the case for quantization.",
        "§7",
        (("01_setup", "mask cost"), ("03_weight_tensors", "natural sparsity")),
    ),
    Claim(
        "C9",
        "Combining pruning with quantization: where, if anywhere, the combination beats either alone at "
        "equal average bits per weight (read as: some combined model is more accurate than every single-method "
        "model with no more average bits, by more than two standard errors over seeds).",
        "§6, Figure 5",
        (("06_combining", "all"),),
    ),
    Claim(
        "L1",
        "NF4 (16 normal quantiles) is better than FP4 and INT4 for normally distributed weights.",
        "QLoRA, Dettmers et al. 2023, §3",
        (("08_formats", "normal weights"), ("08_formats", "real tensors")),
        "beyond the paper",
    ),
    Claim(
        "L2",
        "INT8 is more accurate than FP8 (E4M3) on well-behaved weights; FP8 helps where weights have outliers.",
        "van Baalen et al. 2023, FP8 versus INT8 for efficient deep learning inference",
        (("08_formats", "distributions"), ("08_formats", "real tensors")),
        "beyond the paper",
    ),
    Claim(
        "L3",
        "The paper's verdict extended to semi-structured sparsity: at equal bits per weight (metadata counted), "
        "a dense low-bit format beats 2:4 sparsity.",
        "paper §8 (2:4 named as not studied); NVIDIA 2:4 metadata, Mishra et al. 2021",
        (("08_formats", "all"),),
        "beyond the paper",
    ),
)


@dataclass(frozen=True)
class Verdict:
    """A chapter's verdict on (part of) a claim, with the numbers behind it."""

    claim: str
    scope: str
    verdict: str
    evidence: str

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.claim not in {c.id for c in CLAIMS}:
            raise ValueError(f"unknown claim {self.claim!r}")


def verdict_table(verdicts) -> pd.DataFrame:
    """A chapter's verdicts as the table of ``results/<stem>/claims.csv``: ``claim, scope, verdict, evidence``."""
    return pd.DataFrame([asdict(v) for v in verdicts], columns=["claim", "scope", "verdict", "evidence"])


def collect_claims(results_root: Path, chapters: set[str]) -> pd.DataFrame:
    """One row per claim part: the chapter's verdict, or why there is none.

    Parameters
    ----------
    results_root : Path
        Folder holding ``<stem>/claims.csv``.
    chapters : set of str
        Stems of the chapters that exist in this book.

    Returns
    -------
    pandas.DataFrame
        Columns ``claim, section, statement, source, chapter, scope, verdict, evidence``.
    """
    rows = []
    for claim in CLAIMS:
        for stem, scope in claim.parts:
            found = None
            path = Path(results_root) / stem / "claims.csv"
            if path.is_file():
                table = pd.read_csv(path)
                match = table[(table.claim == claim.id) & (table.scope == scope)]
                if len(match):
                    found = match.iloc[0]
            if found is not None:
                verdict, evidence = found.verdict, found.evidence
            elif stem in chapters:
                verdict, evidence = "not yet checked", f"chapter {stem} exists but wrote no verdict in this build"
            else:
                verdict, evidence = "not yet checked", f"chapter {stem} is not written yet"
            rows.append(
                {
                    "claim": claim.id,
                    "section": claim.section,
                    "statement": claim.statement,
                    "source": claim.source,
                    "chapter": stem,
                    "scope": scope,
                    "verdict": verdict,
                    "evidence": evidence,
                }
            )
    return pd.DataFrame(rows)


def claims_markdown(table: pd.DataFrame) -> str:
    """Render :func:`collect_claims`'s table as Markdown: one section per claim, one line per part."""
    lines = []
    section = "paper"
    for claim_id, parts in table.groupby("claim", sort=False):
        first = parts.iloc[0]
        if "section" in parts and first.section != section:
            section = first.section
            lines += [
                "---",
                "",
                "**Beyond the paper.** Claims from the literature on the formats the paper left out, checked "
                "with the paper's metric (SNR at equal bits per weight, every stored bit counted) in "
                "chapter `08_formats`.",
                "",
            ]
        where = first.source if section != "paper" else f"paper {first.source}"
        lines += [f"**{claim_id}.** {first.statement} *({where})*", ""]
        for p in parts.itertuples():
            scope = "" if p.scope == "all" else f" ({p.scope})"
            lines.append(f"- **{p.verdict}**{scope}, chapter `{p.chapter}`: {p.evidence}")
        lines.append("")
    return "\n".join(lines)
