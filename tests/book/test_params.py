import pytest
import yaml

from pvq.build import declared_parameters, profile_parameters
from pvq.params import DistributionsParams, SetupParams, check_profile
from pvq.paths import notebook_sources

from .conftest import ROOT


def test_defaults_are_valid():
    assert DistributionsParams().n_bits == (2, 3, 4, 5, 6, 7, 8)
    assert SetupParams(n_bits=[4, 2]).n_bits == (2, 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profile": "fast"}, r"profile must be one of \('ci', 'full'\)"),
        ({"n_bits": [0, 4]}, r"n_bits must be an integer in 1\.\.16"),
        ({"n_bits": [17]}, r"n_bits must be an integer in 1\.\.16"),
        ({"n_bits": [4, 4]}, "repeated"),
        ({"n_bits": 4}, "n_bits must be a list"),
        ({"grid": "asym"}, "grid must be one of"),
        ({"distribution": "cauchy"}, "distribution must be one of"),
        ({"distribution": "student_t"}, "needs shape parameters"),
        ({"figure_sparsity": 1.0}, r"figure_sparsity must be a number in \[0, 1\)"),
        ({"figure_sparsity": -0.2}, r"figure_sparsity must be a number in \[0, 1\)"),
        ({"figure_n_bits": 0}, r"figure_n_bits must be an integer in 1\.\.16"),
        ({"heavy_tail_distribution": "normal"}, "heavy_tail_distribution must be one of"),
        ({"dof": 0}, "dof .* must be a positive"),
        ({"dof": -1.5}, "dof .* must be a positive"),
        ({"family_dofs": [1.0, 0.0]}, "family_dofs .* must be a positive"),
        ({"kurtosis_min": 50, "kurtosis_max": 10}, "kurtosis_min < kurtosis_max"),
        ({"n_kurtosis": 1}, "n_kurtosis must be an integer >= 2"),
        ({"mc_samples": 10}, "mc_samples must be an integer >= 1000"),
    ],
)
def test_bad_distribution_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DistributionsParams(**kwargs)


def test_bad_setup_parameters():
    with pytest.raises(ValueError, match="n_bits must be below the 16-bit baseline"):
        SetupParams(n_bits=[8, 16])
    with pytest.raises(ValueError, match="index_bits"):
        SetupParams(index_bits=0)
    with pytest.raises(ValueError, match="profile"):
        check_profile("CI")


def test_full_profile_equals_every_parameters_cell():
    full = yaml.safe_load((ROOT / "params" / "full.yaml").read_text())
    ci = yaml.safe_load((ROOT / "params" / "ci.yaml").read_text())
    declared = {}
    for src in notebook_sources(ROOT):
        for name, value in declared_parameters(src).items():
            declared.setdefault(name, value)
            assert declared[name] == value, f"{src.name}: default of {name} differs between chapters"
            assert full.get(name) == value, f"{src.name}: {name}={value!r} but params/full.yaml says {full.get(name)!r}"
    assert set(full) <= set(declared), f"full.yaml names no chapter declares: {set(full) - set(declared)}"
    assert set(ci) <= set(declared), f"ci.yaml names no chapter declares: {set(ci) - set(declared)}"


def test_profile_parameters_take_only_declared_names():
    src = ROOT / "notebooks" / "01_setup.py"
    params = profile_parameters(src, "ci", ROOT, overrides={"n_bits": [3, 4], "dof": 5.0})
    assert params["profile"] == "ci" and params["n_bits"] == [3, 4]
    assert "dof" not in params and "n_kurtosis" not in params
