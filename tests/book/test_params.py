"""The chapters' parameter records: defaults, validation naming the parameter, from_namespace."""

import dataclasses
import re

import pytest

from pvq.book.layer_params import PerLayerParams
from pvq.book.params import (
    N_BITS,
    ClaimsParams,
    DistributionsParams,
    SetupParams,
    WeightTensorsParams,
    check_profile,
    field_meanings,
)
from pvq.book.profiles import CHAPTER_PARAMS
from pvq.book.training_params import FineTuningParams
from pvq.finetune.data import DatasetNotFoundError
from pvq.finetune.recipe import FineTuneSpec, PretrainSpec, pretrain_defaults, recipe_defaults


@pytest.mark.parametrize("record", sorted(set(CHAPTER_PARAMS.values()), key=lambda c: c.__name__))
def test_defaults_are_valid(record):
    p = record()
    assert p.profile == "full"
    assert list(p.to_frame().index) == [f.name for f in dataclasses.fields(record)]
    assert record(**{f.name: getattr(p, f.name) for f in dataclasses.fields(record)}) == p  # defaults pass validation


def test_normalised_values():
    assert N_BITS == (2, 3, 4, 5, 6, 7, 8)
    assert DistributionsParams().n_bits == N_BITS
    assert SetupParams(n_bits=[4, 2]).n_bits == (2, 4)
    assert not hasattr(SetupParams(), "baseline_bits")  # the baseline is the paper's FP16, not a parameter
    assert FineTuningParams(combine_sparsity=[0.75, 0.5]).combine_sparsity == (0.5, 0.75)
    assert PerLayerParams(layers={"mobilenet_v2": ["features.0.0"]}).layers == {"mobilenet_v2": ("features.0.0",)}
    assert WeightTensorsParams(models=["mobilenet_v2"]).models == ("mobilenet_v2",)
    assert set(CHAPTER_PARAMS) >= {"01_setup", "05_fine_tuning", "99_claims"}
    assert CHAPTER_PARAMS["99_claims"] is ClaimsParams


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profile": "fast"}, r"profile must be one of \('ci', 'full'\)"),
        ({"n_bits": [0, 4]}, r"n_bits must hold integers in 1\.\.15 \(below the 16-bit FP16 baseline\), got 0 in"),
        ({"n_bits": [17]}, r"n_bits must hold integers in 1\.\.15"),
        ({"n_bits": [4, 4]}, "distinct"),
        ({"n_bits": [1, 4], "grid": "symmetric"}, r"grid='symmetric' needs every n_bits >= 2 .*got \(1, 4\)"),
        ({"n_bits": 4}, "n_bits must be a list"),
        ({"grid": "asym"}, "grid must be one of"),
        ({"distribution": "cauchy"}, "distribution must be one of"),
        ({"distribution": "student_t"}, "needs shape parameters"),
        ({"figure_sparsity": 1.0}, r"figure_sparsity must be a number in \[0, 1\)"),
        ({"figure_sparsity": -0.2}, r"figure_sparsity must be a number in \[0, 1\)"),
        ({"figure_n_bits": 0}, r"figure_n_bits must be one of the integers in 1\.\.15"),
        ({"figure_n_bits": 16}, r"figure_n_bits must be one of the integers in 1\.\.15"),
        ({"family_dofs": 2.0}, r"family_dofs must be a list of degrees of freedom > 0, got 2\.0"),
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
    rule = r"n_bits must hold integers in 1\.\.15 \(below the 16-bit FP16 baseline\), got 16"
    with pytest.raises(ValueError, match=rule):
        SetupParams(n_bits=[8, 16])
    with pytest.raises(ValueError, match="index_bits"):
        SetupParams(index_bits=0)
    with pytest.raises(ValueError, match="profile"):
        check_profile("CI")
    with pytest.raises(TypeError):
        SetupParams(baseline_bits=16)  # no longer a parameter
    assert check_profile("ci") == "ci"


@pytest.mark.parametrize(
    ("record", "kwargs", "message"),
    [
        (WeightTensorsParams, {"models": "mobilenet_v2"}, "models must be a list of model names or paths, got 'mob"),
        (WeightTensorsParams, {"models": ["resnet9000"]}, "unknown model 'resnet9000' in models"),
        (WeightTensorsParams, {"fp16": 1}, "fp16 must be True or False"),
        (WeightTensorsParams, {"n_certify": -1}, "n_certify must be an integer >= 0"),
        (PerLayerParams, {"layers": {"resnet50": ["x"]}}, "unknown model 'resnet50' in layers"),
        (PerLayerParams, {"layers": {"mobilenet_v2": "features.0.0"}}, "must be a non-empty list of layer names"),
        (PerLayerParams, {"n_inputs": 4}, "n_inputs must be an integer >= 8"),
        (PerLayerParams, {"dask_scheduler": None}, "dask_scheduler must be a string"),
        (ClaimsParams, {"profile": "fast"}, "profile must be one of"),
    ],
)
def test_bad_parameters_of_the_other_chapters(record, kwargs, message):
    with pytest.raises(ValueError, match=message):
        record(**kwargs)


def test_from_namespace_takes_only_the_fields():
    namespace = {"profile": "ci", "n_bits": [4, 2], "index_bits": 8, "dof": 5.0, "np": object(), "__name__": "x"}
    p = SetupParams.from_namespace(namespace)
    assert p == SetupParams(profile="ci", n_bits=(2, 4), index_bits=8)
    assert SetupParams.from_namespace({}) == SetupParams()  # an undeclared field keeps its default
    d = DistributionsParams.from_namespace(namespace)  # each record takes its own fields from the same names
    assert (d.profile, d.n_bits, d.dof) == ("ci", (2, 4), 5.0)


@pytest.mark.parametrize(
    ("record", "namespace", "message"),
    [
        (SetupParams, {"n_bits": [2, 2]}, "n_bits must hold distinct bit-widths"),
        (DistributionsParams, {"n_kurtosis": 1, "seed": 0}, "n_kurtosis must be an integer >= 2"),
        (FineTuningParams, {"seeds": [0, -1]}, "seeds must be an integer >= 0"),
        (FineTuningParams, {"lr": 0.0}, "lr must be a positive finite number"),
        (ClaimsParams, {"profile": "CI", "n_bits": [2]}, "profile must be one of"),
    ],
)
def test_from_namespace_validates_naming_the_parameter(record, namespace, message):
    with pytest.raises(ValueError, match=message):
        record.from_namespace(namespace)


def test_fine_tuning_defaults_come_from_the_recipe():
    p = FineTuningParams()
    r = recipe_defaults()
    for name in ("lr", "scale_lr", "weight_decay", "mask_interval", "bn_batches", "epoch_images", "probe_images"):
        assert getattr(p, name) == r[name], name
    assert p.ft_epochs == r["epochs"] == FineTuneSpec(PretrainSpec("resnet_small"), "fp32").epochs
    assert p.pretrain_epochs == pretrain_defaults()["epochs"]


def test_with_probes():
    p = FineTuningParams(probe_points=3)
    assert p.with_probes() is p
    with pytest.raises(ValueError, match="probe_points >= 2"):
        FineTuningParams(probe_points=0).with_probes()


@pytest.mark.parametrize(
    "bad,match",
    [
        ({"architectures": ["vgg"]}, "unknown architecture"),
        ({"seeds": [0, 0]}, "repeated"),
        ({"ft_bits": [16]}, "below the 16-bit"),
        ({"probe_points": 1}, "probe_points"),
        ({"device": "tpu"}, "device"),
        ({"combine_sparsity": [0.0]}, "combine_sparsity"),
        ({"long_factors": [1]}, "long_factors"),
        ({"epoch_images": -1}, "epoch_images"),
        ({"lr_grid": 0.01}, "lr_grid must be a list"),
        ({"lr_grid": [0.01, -1.0]}, "lr_grid must be a positive"),
        ({"lr_grid": [0.01, 0.01]}, "lr_grid has repeated"),
        ({"lr_bits": 16}, "lr_bits"),
        ({"validation_images": 0}, "validation_images must be > 0 when lr_grid"),
        ({"ablation_bits": 2}, "ablation_bits must be a list"),
        ({"ablation_bits": [2, 2]}, "ablation_bits must hold distinct bit-widths"),
        ({"seeds": 1.5}, "seeds must be a list of integers >= 0, got 1.5"),
        ({"long_factors": None}, "long_factors must be a list of integers >= 2, got None"),
        ({"architectures": 5}, "architectures must be a list of network names, got 5"),
    ],
)
def test_fine_tuning_params_reject_bad_values(bad, match):
    with pytest.raises(ValueError, match=match):
        FineTuningParams(**bad)


def test_imagenet_parameters_are_checked_before_training(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="has no 'train/' sub-folder"):
        FineTuningParams(imagenet_dir=str(tmp_path))
    with pytest.raises(ValueError, match="unknown ImageNet architecture"):
        FineTuningParams(imagenet_arch="resnet_small")


def test_learning_rate_grid_is_sorted_and_may_be_empty():
    p = FineTuningParams(lr_grid=[0.01, 0.001], ablation_bits=[4, 2])
    assert p.lr_grid == (0.001, 0.01) and p.ablation_bits == (2, 4)
    none = FineTuningParams(lr_grid=[], validation_images=0, ablation_bits=[])
    assert none.lr_grid == () and none.ablation_bits == ()  # no selection: every method at lr; no ablation


def test_parameter_tables_list_what_the_chapter_declares_with_its_meaning():
    for cls in (SetupParams, DistributionsParams, WeightTensorsParams, PerLayerParams, FineTuningParams):
        meanings = field_meanings(cls)
        fields = [f.name for f in dataclasses.fields(cls)]
        assert set(meanings) == set(fields), cls.__name__  # every field documented, nothing else
        vague = {n: m for n, m in meanings.items() if re.fullmatch(r"[\w ,{}'|]*", m) and " " not in m.strip()}
        assert not vague, f"{cls.__name__}: fields with only a type, no meaning: {vague}"
    p = DistributionsParams.from_namespace({"profile": "ci", "n_bits": [2, 4], "seed": 1, "unrelated": 5})
    table = p.to_frame()
    assert table.index.tolist() == ["profile", "n_bits", "seed"] and table.loc["n_bits", "value"] == "2, 4"
    assert table.loc["n_bits", "meaning"] == "Bit-widths, each paired with sparsity 1 - b/16"
    assert len(DistributionsParams().to_frame()) == len(dataclasses.fields(DistributionsParams))


def test_parameter_table_html_reads_left_to_right_with_whole_words():
    html = DistributionsParams.from_namespace({"profile": "ci", "n_bits": [2, 4]})._repr_html_()
    assert 'class="dataframe readable"' in html and "text-align: left" in html
    assert ">parameter<" in html and ">meaning<" in html and ">n_bits<" in html  # names a column, no index row


def test_list_parameters_passed_as_text_the_papermill_way():
    p = DistributionsParams.from_namespace({"n_bits": "[2, 3, 4]", "family_dofs": "[1.0, 3.0]", "grid": "signed"})
    assert p.n_bits == (2, 3, 4) and p.family_dofs == (1.0, 3.0)
    with pytest.raises(ValueError, match="n_bits"):
        DistributionsParams.from_namespace({"n_bits": "[0, 3]"})  # parsed, then refused by the usual check
    with pytest.raises(ValueError, match="n_bits"):
        DistributionsParams.from_namespace({"n_bits": "two and three"})  # not a list: the check says so
    layers = PerLayerParams.from_namespace({"layers": "{mobilenet_v2: [features.8.conv.1.0]}"})
    assert layers.layers == {"mobilenet_v2": ("features.8.conv.1.0",)}


#: How a message names a field when not by its name.
_SAID = {"architectures": "unknown architecture", "imagenet_arch": "unknown ImageNet architecture"}
BAD_VALUES = ["abc", "", 5, -1, 0, 1.5, float("nan"), 10**30, True, None, [], [0], [1.5], ["x"], [[1]], {}, {"a": 1}]


@pytest.mark.parametrize("record", sorted(set(CHAPTER_PARAMS.values()), key=lambda c: c.__name__))
def test_every_bad_value_gets_a_one_line_value_error_naming_the_parameter(record):
    """Whatever a user passes with ``-p`` (YAML: text, numbers, lists, mappings, null), a field refuses it
    with a one-line ValueError naming the field (or accepts it), never a TypeError from deep inside."""
    for field in dataclasses.fields(record):
        for value in BAD_VALUES:
            try:
                record(**{field.name: value})
            except ValueError as err:  # DatasetNotFoundError for imagenet_dir is a FileNotFoundError
                named = field.name in str(err) or _SAID.get(field.name, field.name) in str(err)
                assert "\n" not in str(err) and named, (field.name, value, err)
            except FileNotFoundError as err:
                assert field.name == "imagenet_dir" and "ImageNet folder" in str(err)
