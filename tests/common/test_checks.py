"""The shared checks of plain numbers: they return the value accepted and name the parameter otherwise."""

import math

import pytest

from pvq.common.checks import check_count, check_positive


@pytest.mark.parametrize(("value", "expected"), [(1, 1.0), (0.5, 0.5), (3e-8, 3e-8), (10**6, 1e6)])
def test_check_positive_returns_a_float(value, expected):
    out = check_positive(value, "lr")
    assert out == expected and type(out) is float


@pytest.mark.parametrize("bad", [0, 0.0, -1, -1e-9, math.inf, -math.inf, math.nan, True, False])
def test_check_positive_refuses(bad):
    with pytest.raises(ValueError, match=r"^lr must be a positive finite number, got "):
        check_positive(bad, "lr")


@pytest.mark.parametrize("bad", [None, "x", [1.0], object()])
def test_check_positive_refuses_non_numbers(bad):
    with pytest.raises(ValueError, match=r"^scale_lr must be a positive number, got "):
        check_positive(bad, "scale_lr")


@pytest.mark.parametrize(("value", "minimum"), [(1, 1), (7, 1), (0, 0), (8, 8), (10**12, 2)])
def test_check_count_returns_the_integer(value, minimum):
    out = check_count(value, "epochs", minimum)
    assert out == value and type(out) is int


@pytest.mark.parametrize(
    ("bad", "minimum"),
    [
        (0, 1),
        (-1, 0),
        (7, 8),
        (True, 0),
        (False, 0),
        (1.0, 1),
        (2.5, 1),
        (math.inf, 1),
        (math.nan, 0),
        ("3", 1),
        (None, 1),
    ],
)
def test_check_count_refuses(bad, minimum):
    with pytest.raises(ValueError, match=rf"^epochs must be an integer >= {minimum}, got "):
        check_count(bad, "epochs", minimum)


def test_check_count_default_minimum_is_one():
    assert check_count(1, "n") == 1
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        check_count(0, "n")
