"""The claims registry, the verdict record, and the Claims page built from the chapters' claims.csv files."""

import pytest

from pvq.book.claims import CLAIMS, VERDICTS, Verdict, claims_markdown, collect_claims, verdict_table
from pvq.book.publish import save_table


def test_registry():
    assert [c.id for c in CLAIMS] == [f"C{i}" for i in range(1, 10)] + ["L1", "L2", "L3"]
    assert {c.section for c in CLAIMS} == {"paper", "beyond the paper"}
    assert all(c.section == "paper" for c in CLAIMS if c.id.startswith("C"))
    assert VERDICTS == ("reproduced", "partly reproduced", "not reproduced", "not yet checked")
    for c in CLAIMS:
        assert c.statement and c.source and c.parts
        for stem, scope in c.parts:
            assert stem[:2].isdigit() and scope
    parts = {(c.id, scope) for c in CLAIMS for _, scope in c.parts}
    assert {("C8", "mask cost"), ("C8", "natural sparsity")} <= parts


def test_verdict_table_columns():
    t = verdict_table([Verdict("C1", "all", "reproduced", "x"), Verdict("C8", "mask cost", "not reproduced", "y")])
    assert list(t.columns) == ["claim", "scope", "verdict", "evidence"]
    assert t.values.tolist() == [["C1", "all", "reproduced", "x"], ["C8", "mask cost", "not reproduced", "y"]]
    assert list(verdict_table([]).columns) == ["claim", "scope", "verdict", "evidence"]


def test_verdict_validation():
    with pytest.raises(ValueError, match="verdict must be one of"):
        Verdict("C1", "all", "maybe", "")
    with pytest.raises(ValueError, match="unknown claim"):
        Verdict("C10", "all", "reproduced", "")


def test_collect_claims(results_tmp):
    save_table(verdict_table([Verdict("C1", "all", "reproduced", "numbers")]), "02_distributions", "claims")
    table = collect_claims(results_tmp, {"01_setup", "02_distributions"})
    assert len(table) == sum(len(c.parts) for c in CLAIMS)
    row = table.set_index(["claim", "scope"])
    assert row.loc[("C1", "all"), "verdict"] == "reproduced"
    assert "wrote no verdict" in row.loc[("C2", "all"), "evidence"]
    assert "not written yet" in row.loc[("C5", "all"), "evidence"]
    assert row.loc[("C8", "mask cost"), "verdict"] == "not yet checked"


def test_claims_markdown(results_tmp):
    save_table(verdict_table([Verdict("C1", "all", "reproduced", "INT4 19.26 dB")]), "02_distributions", "claims")
    text = claims_markdown(collect_claims(results_tmp, {"02_distributions"}))
    assert sum(text.count(f"**{c.id}.**") for c in CLAIMS) == len(CLAIMS)
    assert "- **reproduced**, chapter `02_distributions`: INT4 19.26 dB" in text
    assert "- **not yet checked** (natural sparsity), chapter `03_weight_tensors`" in text
    # the literature's claims come after the paper's, under their own heading, with their source as is
    assert text.index("**Beyond the paper.**") > text.index("**C9.**") and text.index("**L1.**") > text.index("Beyond")
    assert "*(QLoRA, Dettmers et al. 2023, §3)*" in text and "*(paper §3, Figure 1)*" in text
