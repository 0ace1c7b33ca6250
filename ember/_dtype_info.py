"""``finfo``, ``iinfo`` and ``can_cast``: what torch tells about its dtypes' numbers and casts.

The numbers come from NumPy's ``finfo``/``iinfo`` (and ml_dtypes', for bfloat16 and the float8
types), which describe the same IEEE formats torch uses; this module only gives them torch's
attribute names, repr and errors.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import dtypes as _dt

__all__ = ["finfo", "iinfo", "can_cast"]


def _type_arg(fname: str, args: tuple, kwargs: dict, required: bool) -> _dt.dtype:
    """The one ``type`` argument of ``finfo()``/``iinfo()``, checked as torch's parser does."""
    if required and len(args) > 1:  # (iinfo's parser is Python's)
        raise TypeError(f"{fname}() takes 1 positional argument but {len(args)} were given")
    if required and args and "type" in kwargs:
        raise TypeError(f"{fname}() got multiple values for argument 'type'")
    if len(args) + len(kwargs) > 1 or (kwargs and "type" not in kwargs):
        got = ", ".join([_type_name(a) for a in args]
                        + [f"{k}={_type_name(v)}" for k, v in kwargs.items()])
        raise TypeError(f"{fname}() received an invalid combination of arguments - got ({got}), "
                        f"but expected one of:\n * (ember.dtype type)\n"
                        + (" * ()\n" if not required else ""))
    if not args and not kwargs:
        if required:
            raise TypeError(f'{fname}() missing 1 required positional arguments: "type"')
        return _dt.get_default_dtype()
    value = args[0] if args else kwargs["type"]
    if not isinstance(value, _dt.dtype):
        where = "(position 1)" if args else ""
        raise TypeError(f"{fname}(): argument 'type' {where} must be ember.dtype, not "
                        f"{type(value).__name__}".replace("  ", " "))
    return value


def _type_name(value: Any) -> str:
    return "ember.dtype" if isinstance(value, _dt.dtype) else type(value).__name__


def _g(value: float) -> str:
    return f"{value:g}"  # torch's repr prints six significant digits, integers' limits too


class _Info:
    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # torch's are unhashable, equal by value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute '{name}' of 'ember.{type(self).__name__}' objects is not "
                             "writable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False
        return all(getattr(self, k) == getattr(other, k) for k in self._fields)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __str__(self) -> str:
        return self.__repr__()


class finfo(_Info):
    """The numerical properties of a floating point ``ember.dtype`` (a complex one: of its real
    part): ``bits``, ``eps``, ``max``, ``min``, ``tiny`` (= ``smallest_normal``), ``resolution``
    and ``dtype`` (its name). ``finfo()`` describes the default dtype."""

    __slots__ = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype")
    _fields = __slots__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        d = _type_arg("finfo", args, kwargs, required=False)
        if not (d.is_floating_point or d.is_complex):
            raise TypeError("ember.finfo() requires a floating point input type. Use ember.iinfo "
                            "to handle 'ember.finfo'")
        d = d.to_real()
        if d.np in _dt.EXTENSION_NP:
            import ml_dtypes

            info: Any = ml_dtypes.finfo(d.np)
        else:
            info = np.finfo(d.np)
        # torch's c10 gives float8_e5m2fnuz the epsilon 2**-3 (its e4m3fnuz sibling's), where
        # the format's two mantissa bits give 2**-2 (ml_dtypes' value): torch's is kept
        eps = 0.125 if d.name == "float8_e5m2fnuz" else float(info.eps)
        values = {"bits": int(info.bits), "eps": eps, "max": float(info.max),
                  "min": float(info.min), "tiny": float(info.smallest_normal),
                  "smallest_normal": float(info.smallest_normal),
                  # 10**-(decimal digits the format keeps): 1e-06 for float32, 1 for float8
                  "resolution": 10.0 ** -math.floor(-math.log10(eps)), "dtype": d.name}
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def __repr__(self) -> str:
        return (f"finfo(resolution={_g(self.resolution)}, min={_g(self.min)}, max={_g(self.max)}, "
                f"eps={_g(self.eps)}, smallest_normal={_g(self.smallest_normal)}, "
                f"tiny={_g(self.tiny)}, dtype={self.dtype})")


class iinfo(_Info):
    """The numerical properties of an integer ``ember.dtype``: ``bits``, ``max``, ``min`` and
    ``dtype`` (its name)."""

    __slots__ = ("bits", "max", "min", "dtype")
    _fields = __slots__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        d = _type_arg("iinfo", args, kwargs, required=True)
        if d is _dt.bool:
            raise TypeError("ember.bool is not supported by ember.iinfo")
        if d.is_floating_point or d.is_complex:
            raise TypeError("ember.iinfo() requires an integer input type. Use ember.finfo to "
                            "handle 'ember.iinfo'")
        info = np.iinfo(d.np)
        for k, v in {"bits": int(info.bits), "max": int(info.max), "min": int(info.min),
                     "dtype": d.name}.items():
            object.__setattr__(self, k, v)

    def __repr__(self) -> str:
        return f"iinfo(min={_g(self.min)}, max={_g(self.max)}, dtype={self.dtype})"


def can_cast(from_: _dt.dtype, to: _dt.dtype) -> bool:
    """Whether torch's type promotion allows casting ``from_`` to ``to``: never complex to
    non-complex, floating to integral, or anything but bool to bool."""
    for pos, (name, value) in enumerate((("from_", from_), ("to", to)), 1):
        if not isinstance(value, _dt.dtype):
            raise TypeError(f"can_cast(): argument '{name}' (position {pos}) must be ember.dtype, "
                            f"not {type(value).__name__}")
    if from_.is_complex and not to.is_complex:
        return False
    if from_.is_floating_point and not (to.is_floating_point or to.is_complex):
        return False
    return not (from_ is not _dt.bool and to is _dt.bool)
