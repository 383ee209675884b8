"""Format names and their bits per weight (values, scales, indices, metadata)."""

import pytest

from pvq.formats.catalog import NORMAL_FORMATS, check_format_names, parse_format

# bits per weight of the accounting, worked by hand
COSTS = {
    "int4": 4,
    "int8": 8,
    "fp8_e4m3": 8,
    "fp6_e2m3": 6,
    "fp4_e2m1": 4,
    "nf4": 4,
    "fp16": 16,
    "int4_g128": 4 + 16 / 128,  # 4.125
    "nf4_b64": 4.5,
    "nf4_b64_dq": 4 + 8 / 64 + 32 / (64 * 256),  # QLoRA's 4.127
    "mxfp4": 4.25,
    "mxfp6_e3m2": 6.25,
    "mxfp8_e4m3": 8.25,
    "mxint8": 8.25,
    "nvfp4": 4.5,
    "fp16_2:4": 9,  # NVIDIA: 2 bits of metadata per kept value
    "int8_2:4": 5,
    "fp8_2:4": 5,
    "int4_2:4": 3,
    "fp4_2:4": 3,
    "fp16_1:4": (16 + 2) / 4,
    "int8_4:8": 4 / 8 * (8 + 3),
    "fp16_u50_bitmap": 8 + 1,
    "fp16_u75_csr": 0.25 * 32,
    "int8_u50_bitmap": 4 + 1,
}


@pytest.mark.parametrize("name", sorted(COSTS))
def test_bits_per_weight(name):
    assert parse_format(name).bits_per_weight() == pytest.approx(COSTS[name], abs=1e-12)


def test_per_channel_scales_cost_16_bits_per_channel():
    assert parse_format("int4_ch").bits_per_weight(row_length=128) == pytest.approx(4.125)
    assert parse_format("fp8_ch").element == "fp8_e4m3"
    with pytest.raises(ValueError, match="needs the output-channel length"):
        parse_format("int4_ch").bits_per_weight()


def test_every_normal_format_parses():
    for name in NORMAL_FORMATS:
        assert parse_format(name).name == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("int9", "unknown format 'int9'"),
        ("fp16_3:2", "N:M needs 1 <= N < M"),
        ("fp16_4:4", "N:M needs 1 <= N < M"),
        ("int16_2:4", "values 'int16'"),
        ("fp16_u0_bitmap", "sparsity must be 1..99"),
        ("int4_g1", "at least 2"),
        ("mxfp5", "mxfp8_e4m3"),
        ("", "known formats"),
    ],
)
def test_bad_names_are_refused_with_the_known_formats(name, message):
    with pytest.raises(ValueError, match=message) as err:
        parse_format(name)
    assert "nvfp4" in str(err.value)


def test_lists_of_names():
    assert [f.name for f in check_format_names("int4, nf4_b64,mxfp4")] == ["int4", "nf4_b64", "mxfp4"]
    with pytest.raises(ValueError, match="given twice"):
        check_format_names(["int4", "int4"])
    with pytest.raises(ValueError, match="no format given"):
        check_format_names(" , ")
