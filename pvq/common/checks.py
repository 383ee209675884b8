"""Validation of plain numbers shared by the parameter records and the run specifications.

Each check returns the value it accepted and raises :class:`ValueError` naming the parameter
otherwise, so that bad input stops before any heavy work.
"""

from __future__ import annotations

import math

__all__ = ["check_count", "check_list", "check_positive"]


def check_positive(value, name: str) -> float:
    """A positive, finite number (``bool`` refused), returned as ``float``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if isinstance(value, bool) or not v > 0 or math.isinf(v):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def check_count(value, name: str, minimum: int = 1) -> int:
    """An integer ``>= minimum`` (``bool`` and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_list(value, name: str, what: str, *, empty: bool = True) -> tuple:
    """A list (or tuple) parameter, returned as a tuple; text, mappings and single values refused.

    ``what`` says what the items are (``'bit-widths'``), for the message; ``empty=False`` also
    refuses an empty list. The items themselves are checked by the caller.
    """
    if isinstance(value, str | bytes | dict) or not isinstance(value, list | tuple):
        raise ValueError(f"{name} must be a list of {what}, got {value!r}")
    if not empty and not value:
        raise ValueError(f"{name} must be a non-empty list of {what}, got {value!r}")
    return tuple(value)
