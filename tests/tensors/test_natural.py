"""Natural sparsity against the paper's values, the zero bin of a density, corrected pruning."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pvq.analytic.distributions import make_distribution
from pvq.analytic.errors import optimal_clip
from pvq.core.quantization import quantize_int
from pvq.tensors.natural import (
    NATURAL_SPARSITY_COLUMNS,
    corrected_pruning_table,
    natural_sparsity_comparison,
    natural_sparsity_headlines,
    zero_bin_share,
)


def hand_made_tensors(reference="mobilenet_v2"):
    """Two models, two tensors each at INT4 and INT8, with given shares of zeros."""
    zeros = {(reference, 4): [0.2, 0.4], (reference, 8): [0.0, 0.1], ("other", 4): [0.6, 0.8], ("other", 8): [0.3, 0.5]}
    rows = []
    for (model, b), shares in zeros.items():
        for i, z in enumerate(shares):
            rows.append({"model": model, "tensor": f"t{i}", "n_bits": b, "natural_sparsity": z,
                         "natural_sparsity_minmax": min(1.0, 2 * z)})  # fmt: skip
    return pd.DataFrame(rows)


def test_natural_sparsity_comparison_by_hand():
    t = natural_sparsity_comparison(hand_made_tensors()).set_index("n_bits")
    assert list(t.reset_index().columns) == NATURAL_SPARSITY_COLUMNS
    assert t.natural_sparsity_mean.to_dict() == pytest.approx({4: 0.5, 8: 0.225})
    assert t.natural_sparsity_median.to_dict() == pytest.approx({4: 0.5, 8: 0.2})
    assert t.minmax_range.to_dict() == pytest.approx({4: (0.4 + 0.8 + 1 + 1) / 4, 8: (0 + 0.2 + 0.6 + 1) / 4})
    assert t.paper_text.to_dict() == {4: 0.35, 8: 0.13}
    # the paper's released data, averaged over tensors (the issue measured 35.2% and 12.6%)
    assert t.paper_released_data.round(3).to_dict() == {4: 0.352, 8: 0.126}
    tiny = pd.DataFrame({"n_bits": [4, 4, 8], "natural_sparsity": [0.1, 0.3, 0.0], "quant_snr_db_paper": 1.0,
                         "prune_snr_db": 0.0})  # fmt: skip
    t = natural_sparsity_comparison(hand_made_tensors(), released=tiny).set_index("n_bits")
    assert t.paper_released_data.to_dict() == pytest.approx({4: 0.2, 8: 0.0})
    assert t.mobilenet_v2_only.to_dict() == pytest.approx({4: 0.3, 8: 0.05})


def test_natural_sparsity_comparison_without_the_reference_model():
    t = natural_sparsity_comparison(hand_made_tensors(reference="another"))
    assert list(t.columns) == NATURAL_SPARSITY_COLUMNS[:-1]


@pytest.mark.parametrize(("name", "n_bits", "grid"), [("normal", 3, "signed"), ("normal", 8, "signed"),
                                                       ("laplace", 4, "symmetric")])  # fmt: skip
def test_zero_bin_share_matches_monte_carlo(name, n_bits, grid):
    density = make_distribution(name)
    clip = optimal_clip(density, n_bits=n_bits, grid=grid)
    w = density.base.rvs(size=2_000_000, random_state=np.random.default_rng(1))
    codes, _ = quantize_int(w, n_bits=n_bits, clip=clip.clip, grid=grid)
    share = float(np.mean(codes == 0))
    se = math.sqrt(share * (1 - share) / w.size)
    assert zero_bin_share(density, clip) == pytest.approx(share, abs=5 * se)


def test_zero_bin_share_of_a_uniform_density_by_hand():
    """On U(-1, 1) at 2 bits (signed grid, q_max = 1) with α = 0.5: s = 0.5, zero bin |w| ≤ 0.25, mass 1/4."""
    uniform = SimpleNamespace(sf=lambda x: (1 - x) / 2)
    assert zero_bin_share(uniform, SimpleNamespace(clip=0.5, n_bits=2, grid="signed")) == pytest.approx(0.25)
    # 3 bits: q_max = 3, s = 0.6/3 = 0.2, zero bin |w| ≤ 0.1, mass 0.1
    assert zero_bin_share(uniform, SimpleNamespace(clip=0.6, n_bits=3, grid="signed")) == pytest.approx(0.1)


def test_natural_sparsity_headlines():
    natural = natural_sparsity_comparison(hand_made_tensors())
    normal = make_distribution("normal")
    clip = optimal_clip(normal, n_bits=8)
    h = natural_sparsity_headlines(natural, density=normal, clip=clip)
    assert h["ns-8"] == pytest.approx(22.5) and h["ns-4"] == pytest.approx(50.0) and math.isnan(h["ns-2"])
    assert h["ns-minmax-4"] == pytest.approx(80.0) and math.isnan(h["ns-minmax-2"])
    assert h["ns-paper-8"] == pytest.approx(12.6, abs=0.05) and math.isnan(h["ns-paper-2"])  # INT2: not in the table
    # INT8: paper clipping 22.5%, min-max (0 + 0.2 + 0.6 + 1)/4 = 45%; INT2 is not in the table
    assert h["ns-position"] == (
        "INT8: the paper's released value 12.6% lies below both (22.5% and 45.0%); "
        "INT4: the paper's released value 35.2% lies below both (50.0% and 80.0%)"
    )
    assert h["normal-zero-share-8"] == pytest.approx(100 * zero_bin_share(normal, clip))
    assert h["paper-natural-sparsity-int8"] == 0.13 and h["paper-natural-sparsity-int4"] == 0.35


def test_corrected_pruning_table_by_hand():
    tensors = pd.DataFrame({
        "n_bits": [2, 2, 2, 4],
        "quant_snr_db": [10.0, 10.0, 10.0, 20.0],
        "prune_snr_db": [9.0, 11.0, 10.0, 5.0],  # a win, a loss, a tie (counts for neither)
        "prune_snr_db_corrected": [8.0, 9.5, 9.0, 25.0],  # fewer kept weights: lower SNR, here
    })  # fmt: skip
    t = corrected_pruning_table(tensors).set_index("n_bits")
    assert t["quantization wins (plain pruning)"].to_dict() == pytest.approx({2: 1 / 3, 4: 1.0})
    assert t["quantization wins (corrected pruning)"].to_dict() == pytest.approx({2: 1.0, 4: 0.0})
