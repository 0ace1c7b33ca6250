"""Comparisons, logic and selection: ``==``, ``isclose``, ``&``, ``where``, ``maximum``, ``clamp``.

Comparison and logical results are bool tensors that never require grad. The selecting ops
(``where``, ``maximum``, ``fmax``, ``clamp``) route the gradient to the operand they picked; at
ties ``maximum`` and ``minimum`` split it in half, and ``clamp`` passes it at both bounds, as torch
does.
"""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

from ._op import Op
from ..backend import get_array_module, quiet as _quiet
from ..dtypes import promote_arrays, result_type
from ..tensor import Tensor
from ._util import broadcast_shape
from .elementwise import Number, _Broadcasting, _data, _operator, _shape, _weak
from .inplace import type_name


def _no_grad(ufunc: str, input: Any, other: Any, promote: bool = True) -> Tensor:
    """The array module's ``ufunc`` of the operands, as a tensor without history."""
    a, b = _data(input), _data(other)
    if promote:
        a, b = promote_arrays((input, other), [a, b])
    try:
        return Tensor._make(getattr(get_array_module(a, b), ufunc)(a, b))
    except ValueError:
        broadcast_shape(_shape(input), _shape(other))
        raise


def _check_other(name: str, other: Any, scalars: bool = True) -> None:
    if not (isinstance(other, Tensor) or (scalars and isinstance(other, numbers.Number))):
        raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")


def _comparison(name: str, ufunc: str, doc: str) -> Any:
    def compare(input: Tensor, other: Tensor | Number) -> Tensor:
        _check_other(name, other)
        return _no_grad(ufunc, input, other)

    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = doc
    return compare


eq = _comparison("eq", "equal", "Element-wise ``input == other``, as a bool tensor.")
ne = _comparison("ne", "not_equal", "Element-wise ``input != other``, as a bool tensor.")
lt = _comparison("lt", "less", "Element-wise ``input < other``, as a bool tensor.")
le = _comparison("le", "less_equal", "Element-wise ``input <= other``, as a bool tensor.")
gt = _comparison("gt", "greater", "Element-wise ``input > other``, as a bool tensor.")
ge = _comparison("ge", "greater_equal", "Element-wise ``input >= other``, as a bool tensor.")
not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge


def equal(input: Tensor, other: Tensor) -> bool:
    """True if both tensors have the same shape and values."""
    _check_other("equal", other, scalars=False)
    return input.shape == other.shape and bool(get_array_module(input._data).array_equal(
        input._data, other._data))


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """Where ``|input - other| <= atol + rtol * |other|`` (or both equal, or both nan)."""
    _check_other("isclose", other, scalars=False)
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{type_name(input)} did not match {type_name(other)}")
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if tol < 0:
            raise RuntimeError(f"{name} must be greater than or equal to zero, but got {tol}")
    a, b = input._data, other._data
    xp = get_array_module(a)
    close = _no_grad("equal", input, other, promote=False)._data
    if a.dtype.kind != "f":  # torch compares integers in the default float dtype
        from ._util import float_array

        a, b = float_array(a), float_array(b)
    elif equal_nan:
        close |= xp.isnan(a) & xp.isnan(b)
    with _quiet(xp):
        err = xp.abs(a - b)
        close |= xp.isfinite(err) & (err <= atol + xp.abs(rtol * b))
    return Tensor._make(close)


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True if ``isclose`` holds everywhere."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def _float_test(name: str, fn: Any, for_integers: bool, what: str) -> Any:
    """A test of float values; integer and bool tensors are ``for_integers`` everywhere."""
    def test(input: Tensor) -> Tensor:
        d = input._data
        xp = get_array_module(d)
        return Tensor._make(fn(xp, d) if d.dtype.kind == "f" else xp.full(d.shape, for_integers))

    test.__name__ = test.__qualname__ = name
    test.__doc__ = f"Where ``input`` is {what}, as a bool tensor."
    return test


isnan = _float_test("isnan", lambda xp, d: xp.isnan(d), False, "nan")
isinf = _float_test("isinf", lambda xp, d: xp.isinf(d), False, "infinite")
isfinite = _float_test("isfinite", lambda xp, d: xp.isfinite(d), True, "finite")
isposinf = _float_test("isposinf", lambda xp, d: d == math.inf, False, "+inf")
isneginf = _float_test("isneginf", lambda xp, d: d == -math.inf, False, "-inf")


def _logical(name: str, ufunc: str) -> Any:
    def logical(input: Tensor, other: Tensor) -> Tensor:
        _check_other(name, other, scalars=False)
        return _no_grad(ufunc, input, other, promote=False)

    logical.__name__ = logical.__qualname__ = name
    logical.__doc__ = f"Element-wise logical {name[8:].upper()} of the truth of each element."
    return logical


logical_and = _logical("logical_and", "logical_and")
logical_or = _logical("logical_or", "logical_or")
logical_xor = _logical("logical_xor", "logical_xor")


def logical_not(input: Tensor) -> Tensor:
    """Element-wise logical NOT, as a bool tensor."""
    return Tensor._make(get_array_module(input._data).logical_not(input._data))


def _bitwise(name: str, ufunc: str) -> Any:
    def bitwise(input: Tensor | Number, other: Tensor | Number) -> Tensor:
        dt = result_type(input, other)
        if dt.is_floating_point:
            broadcast_shape(_shape(input), _shape(other))  # torch checks shapes first
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{type_name(dt)}'")
        return _no_grad(ufunc, input, other)

    bitwise.__name__ = bitwise.__qualname__ = name
    bitwise.__doc__ = f"Element-wise bitwise {name[8:].upper()} of integer or bool tensors."
    return bitwise


bitwise_and = _bitwise("bitwise_and", "bitwise_and")
bitwise_or = _bitwise("bitwise_or", "bitwise_or")
bitwise_xor = _bitwise("bitwise_xor", "bitwise_xor")


def bitwise_not(input: Tensor) -> Tensor:
    """Element-wise bitwise NOT of an integer or bool tensor."""
    if input.is_floating_point():
        raise NotImplementedError(f"\"bitwise_not_cpu\" not implemented for '{type_name(input)}'")
    return Tensor._make(get_array_module(input._data).invert(input._data))


def _invert(self: Tensor) -> Tensor:
    if self.is_floating_point():
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return bitwise_not(self)


# -- where --------------------------------------------------------------------------------------


class Where(_Broadcasting, name="WhereBackward0"):
    """``input`` where ``cond`` holds, else ``other``; the condition is no edge of the graph."""

    @staticmethod
    def forward(ctx, a, b, *, cond, dtype):
        ctx.cond = cond
        return ctx.xp.where(cond, a, b).astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        cond = Tensor._make(ctx.cond)
        need_a, need_b = ctx.needs_input_grad
        return (where(cond, g, 0.0) if need_a else None), (where(cond, 0.0, g) if need_b else None)


def where(condition: Tensor, input: Tensor | Number | None = None,
          other: Tensor | Number | None = None) -> Tensor | tuple[Tensor, ...]:
    """Picks ``input`` where ``condition`` holds and ``other`` elsewhere; with the condition alone,
    the indices of its nonzero elements, one tensor per dimension."""
    if not isinstance(condition, Tensor):
        raise TypeError(f"where(): argument 'condition' (position 1) must be Tensor, not "
                        f"{type(condition).__name__}")
    cond = condition._data
    xp = get_array_module(cond)
    if input is None and other is None:
        return tuple(Tensor._make(i) for i in xp.nonzero(xp.atleast_1d(cond)))
    if input is None or other is None:
        raise TypeError("where() takes the condition alone, or both input and other")
    if cond.dtype.kind != "b":
        if cond.dtype.name != "uint8":
            raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor "
                               f"with dtype {type_name(condition)}")
        warnings.warn("where received a uint8 condition tensor. This behavior is deprecated and "
                      "will be removed in a future version of ember. Use a boolean condition "
                      "instead.", UserWarning, stacklevel=2)
        cond = cond.astype(bool)
    return Where.apply(input, other, cond=cond, dtype=result_type(input, other).np)


# -- maximum and minimum ------------------------------------------------------------------------


class Maximum(_Broadcasting, name="MaximumBackward0"):
    """NaN-propagating maximum; at ties each operand gets half the gradient."""

    _promote = True
    ufunc = "maximum"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return getattr(ctx.xp, ctx.ufunc)(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        if ctx.ufunc == "minimum":
            a, b = b, a  # minimum's masks are maximum's with the comparisons reversed
        half = where(a == b, g / 2, g)
        return (where(a < b, 0.0, half) if need_a else None), \
            (where(a > b, 0.0, half) if need_b else None)


class Minimum(Maximum, name="MinimumBackward0"):
    ufunc = "minimum"


class Fmax(Maximum, name="FmaxBackward0"):
    """Maximum that ignores NaN; ties go to ``input``."""

    ufunc = "fmax"

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        take_a = ((a >= b) if ctx.ufunc == "fmax" else (a <= b)) | isnan(b)
        return (where(take_a, g, 0.0) if need_a else None), \
            (where(take_a, 0.0, g) if need_b else None)


class Fmin(Fmax, name="FminBackward0"):
    ufunc = "fmin"


def _binary_tensors(op: Any, name: str, input: Tensor, other: Tensor) -> Tensor:
    _check_other(name, other, scalars=False)
    return op.apply(input, other)


def maximum(input: Tensor, other: Tensor) -> Tensor:
    """Element-wise maximum; NaN wins."""
    return _binary_tensors(Maximum, "maximum", input, other)


def minimum(input: Tensor, other: Tensor) -> Tensor:
    """Element-wise minimum; NaN wins."""
    return _binary_tensors(Minimum, "minimum", input, other)


def fmax(input: Tensor, other: Tensor) -> Tensor:
    """Element-wise maximum that ignores NaN (NaN only where both are NaN)."""
    return _binary_tensors(Fmax, "fmax", input, other)


def fmin(input: Tensor, other: Tensor) -> Tensor:
    """Element-wise minimum that ignores NaN (NaN only where both are NaN)."""
    return _binary_tensors(Fmin, "fmin", input, other)


# -- clamp ----------------------------------------------------------------------------------------


def _clamp(xp: Any, a: Any, lo: Any, hi: Any) -> Any:
    # max, then min: hi wins where lo > hi, and NaN in x or in a bound propagates, as in torch
    if lo is not None:
        a = xp.maximum(a, lo)
    return a if hi is None else xp.minimum(a, hi)


def _clamp_grads(g: Tensor, x: Tensor, lo: Any, hi: Any, need: tuple) -> tuple:
    """torch's clamp_backward_min_max: ``x`` keeps the gradient inside [lo, hi], both ends
    included; a bound takes it where it is the output (with lo > hi, hi is the output)."""
    gx = glo = ghi = None
    if need[0]:
        inside = x >= lo if hi is None else (x <= hi if lo is None else (x >= lo) & (x <= hi))
        gx = where(inside, g, 0.0)
    if need[1]:
        glo = where(x < lo if hi is None else (x < lo) & (lo < hi), g, 0.0)
    if need[2]:
        ghi = where(x > hi if lo is None else (x > hi) | (hi < lo), g, 0.0)
    return gx, glo, ghi


class ClampScalar(Op, name="ClampBackward1"):
    """Clamp to Python-number bounds, which are no edges of the graph."""

    @staticmethod
    def forward(ctx, a, *, min=None, max=None):  # noqa: A002 - torch's names
        if min is not None:
            a, min = _weak(a, min)
        if max is not None:
            a, max = _weak(a, max)
        if a.dtype.kind == "b":
            raise NotImplementedError("\"clamp_scalar_cpu\" not implemented for 'Bool'")
        ctx.lo, ctx.hi = min, max
        ctx.save_for_backward(a)
        return _clamp(ctx.xp, a, min, max)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return _clamp_grads(g, x, ctx.lo, ctx.hi, (True, False, False))[0]


class ClampMin(ClampScalar, name="ClampMinBackward0"):
    pass


class ClampMax(ClampScalar, name="ClampMaxBackward0"):
    pass


class Clamp(_Broadcasting, name="ClampBackward0"):
    """Clamp to tensor bounds; ``bounds`` names what the inputs after ``input`` are."""

    _promote = True
    bounds = ("min", "max")

    @staticmethod
    def forward(ctx, a, *bounds):
        given = dict(zip(ctx.bounds, bounds))
        lo, hi = given.get("min"), given.get("max")
        ctx.save_for_backward(a, lo, hi)
        return _clamp(ctx.xp, a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        x, lo, hi = ctx.saved_tensors
        need = dict(zip(("input", *ctx.bounds), ctx.needs_input_grad))
        gx, glo, ghi = _clamp_grads(g, x, lo, hi, (need["input"], need.get("min", False),
                                                   need.get("max", False)))
        return (gx, *({"min": glo, "max": ghi}[b] for b in ctx.bounds))


class ClampMinTensor(Clamp, name="ClampMinBackward1"):
    bounds = ("min",)


class ClampMaxTensor(Clamp, name="ClampMaxBackward1"):
    bounds = ("max",)


def clamp(input: Tensor, min: Tensor | Number | None = None,  # noqa: A002
          max: Tensor | Number | None = None) -> Tensor:  # noqa: A002
    """Clamps each element into ``[min, max]`` (either bound may be omitted)."""
    if min is None and max is None:
        raise RuntimeError("ember.clamp: At least one of 'min' or 'max' must not be None")
    kinds = {isinstance(b, Tensor) for b in (min, max) if b is not None}
    if kinds == {True}:
        return Clamp.apply(input, min, max)
    if kinds == {False}:
        return ClampScalar.apply(input, min=min, max=max)
    if all(b.ndim == 0 for b in (min, max) if isinstance(b, Tensor)):
        # a Number with a 0-d tensor: torch takes the tensor as a Number too (ClampBackward1)
        min, max = (b.item() if isinstance(b, Tensor) else b for b in (min, max))  # noqa: A001
        return ClampScalar.apply(input, min=min, max=max)
    got = ", ".join(type(b).__name__ for b in (input, min, max))
    raise TypeError(f"clamp() received an invalid combination of arguments - got ({got}), but "
                    "expected one of:\n * (Tensor input, Tensor min = None, Tensor max = None, *, "
                    "Tensor out = None)\n * (Tensor input, Number min = None, Number max = None, *, "
                    "Tensor out = None)\n")


def clamp_min(input: Tensor, min: Tensor | Number) -> Tensor:  # noqa: A002
    """Clamps each element to at least ``min``."""
    if isinstance(min, Tensor):
        return ClampMinTensor.apply(input, min)
    return ClampMin.apply(input, min=min)


def clamp_max(input: Tensor, max: Tensor | Number) -> Tensor:  # noqa: A002
    """Clamps each element to at most ``max``."""
    if isinstance(max, Tensor):
        return ClampMaxTensor.apply(input, max)
    return ClampMax.apply(input, max=max)


clip = clamp


__all__ = [
    "eq", "ne", "lt", "le", "gt", "ge", "not_equal", "less", "less_equal", "greater",
    "greater_equal", "equal", "isclose", "allclose", "isnan", "isinf", "isfinite", "isposinf",
    "isneginf", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
    "bitwise_or", "bitwise_xor", "bitwise_not", "where", "maximum", "minimum", "fmax", "fmin",
    "clamp", "clip", "clamp_min", "clamp_max",
]

TENSOR_METHODS = {name: globals()[name] for name in __all__ if name != "where"}
TENSOR_METHODS.update({
    "where": lambda self, condition, other: where(condition, self, other),
    "__eq__": _operator(eq), "__ne__": _operator(ne), "__lt__": _operator(lt),
    "__le__": _operator(le), "__gt__": _operator(gt), "__ge__": _operator(ge),
    "__and__": _operator(bitwise_and), "__rand__": _operator(bitwise_and),
    "__or__": _operator(bitwise_or), "__ror__": _operator(bitwise_or),
    "__xor__": _operator(bitwise_xor), "__rxor__": _operator(bitwise_xor),
    "__invert__": _invert,
})
