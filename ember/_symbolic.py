"""torch's symbolic-shape helpers (``sym_int``, ``sym_max``, ``sym_ite`` ...). ember traces no
symbolic sizes, so on the plain numbers it sees they are the Python operations they stand for,
with torch's eager results (``sym_max(1, 2.0)`` is a float) and checks."""
from __future__ import annotations

import builtins
import math
from typing import Any, Iterable

import numpy as np

__all__ = ["sym_int", "sym_float", "sym_max", "sym_min", "sym_not", "sym_sqrt", "sym_ite",
           "sym_sum", "sym_fresh_size", "sym_constrain_range", "sym_constrain_range_for_size"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_NUMBERS = (np.integer, np.floating, builtins.int, builtins.float)


def _check_numbers(a: Any, b: Any) -> None:
    for v in (a, b):
        assert isinstance(v, _NUMBERS), f"expected {_NUMBERS}, got {type(v)}"


def sym_int(a: Any) -> builtins.int:
    """``int(a)``, truncating a float toward zero."""
    return math.trunc(a) if isinstance(a, builtins.float) else builtins.int(a)


def sym_float(a: Any) -> builtins.float:
    """``float(a)``."""
    return builtins.float(a)


def sym_max(a: Any, b: Any) -> Any:
    """The larger of two numbers; a float if either is one."""
    _check_numbers(a, b)
    out = builtins.max(a, b)
    return builtins.float(out) if isinstance(a, float) or isinstance(b, float) else out


def sym_min(a: Any, b: Any) -> Any:
    """The smaller of two numbers; a float if either is one."""
    _check_numbers(a, b)
    out = builtins.min(a, b)
    return builtins.float(out) if isinstance(a, float) or isinstance(b, float) else out


def sym_not(a: Any) -> builtins.bool:
    """``not a``."""
    return not a


def sym_sqrt(a: Any) -> builtins.float:
    """``math.sqrt(a)``."""
    return math.sqrt(a)


def sym_ite(b: builtins.bool, t: Any, f: Any) -> Any:
    """``t if b else f``, for a bool ``b``."""
    assert isinstance(b, builtins.bool), f"expected SymBool or bool, got {type(b)}"
    return t if b else f


def sym_sum(args: Iterable) -> Any:
    """The sum of ``args`` (0 for none)."""
    return builtins.sum(args)


def sym_fresh_size(expr: Any) -> Any:
    """``expr`` itself: a fresh size only means something while tracing."""
    return expr


def _constrain(size: Any, lo: builtins.int, hi: builtins.int) -> None:
    if not lo <= size <= hi:
        raise RuntimeError(f"Invalid value range for {size} between [{lo}, {hi}].")


def sym_constrain_range(size: Any, *, min: Any = None, max: Any = None) -> None:  # noqa: A002
    """Asserts ``min <= size <= max`` (unbounded where None): eagerly, a check of the value."""
    _constrain(size, _INT64_MIN if min is None else min, _INT64_MAX if max is None else max)


def sym_constrain_range_for_size(size: Any, *, min: Any = None,  # noqa: A002
                                 max: Any = None) -> None:
    """As :func:`sym_constrain_range`, for a size: ``min`` is at least 0."""
    _constrain(size, 0 if min is None else min, _INT64_MAX if max is None else max)
