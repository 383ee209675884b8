import pandas as pd
import pytest

from pvq.claims import CLAIMS, Verdict, check_c1, check_c2, claims_markdown, collect_claims, save_verdicts


def normal_table(margin):
    return pd.DataFrame(
        {"n_bits": [2, 4], "grid": "signed", "quant_snr_db": [8.0, 19.0], "prune_snr_db": [8.0 - margin, 5.0]}
    )


def test_c1():
    assert check_c1(normal_table(1.0)).verdict == "reproduced"
    v = check_c1(normal_table(-1.0))
    assert v.verdict == "not reproduced" and "INT2" in v.evidence


def sweep(prune_wins_at):
    rows = []
    for k in (3.0, 10.0, 100.0):
        for b in (2, 3, 4):
            wins = k >= prune_wins_at.get(b, float("inf"))
            rows.append(
                {
                    "kurtosis": k,
                    "n_bits": b,
                    "sparsity": 1 - b / 16,
                    "quant_snr_db": 10.0,
                    "prune_snr_db": 11.0 if wins else 9.0,
                }
            )
    return pd.DataFrame(rows)


def test_c2():
    from pvq.heavy_tails import pruning_win_onset

    s = sweep({2: 10.0, 3: 100.0})
    assert check_c2(s, pruning_win_onset(s)).verdict == "reproduced"
    s = sweep({2: 10.0, 3: 10.0, 4: 100.0})
    assert check_c2(s, pruning_win_onset(s)).verdict == "partly reproduced"
    s = sweep({2: 3.0})
    assert check_c2(s, pruning_win_onset(s)).verdict == "not reproduced"


def test_verdict_validation():
    with pytest.raises(ValueError, match="verdict must be one of"):
        Verdict("C1", "all", "maybe", "")
    with pytest.raises(ValueError, match="unknown claim"):
        Verdict("C10", "all", "reproduced", "")


def test_collect_claims(results_tmp):
    save_verdicts("02_distributions", [Verdict("C1", "all", "reproduced", "numbers")])
    table = collect_claims(results_tmp, {"01_setup", "02_distributions"})
    assert len(table) == sum(len(c.parts) for c in CLAIMS)
    row = table.set_index(["claim", "scope"])
    assert row.loc[("C1", "all"), "verdict"] == "reproduced"
    assert "wrote no verdict" in row.loc[("C2", "all"), "evidence"]
    assert "not written yet" in row.loc[("C5", "all"), "evidence"]
    assert row.loc[("C8", "mask cost"), "verdict"] == "not yet checked"


def test_claims_markdown(results_tmp):
    save_verdicts("02_distributions", [Verdict("C1", "all", "reproduced", "INT4 19.26 dB")])
    text = claims_markdown(collect_claims(results_tmp, {"02_distributions"}))
    assert sum(text.count(f"**{c.id}.**") for c in CLAIMS) == len(CLAIMS)
    assert "- **reproduced**, chapter `02_distributions`: INT4 19.26 dB" in text
    assert "- **not yet checked** (natural sparsity), chapter `03_weight_tensors`" in text
