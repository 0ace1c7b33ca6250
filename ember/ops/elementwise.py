"""Element-wise arithmetic (``+ - * / // % **``), one Op per torch node, and the broadcasting
helpers the other element-wise modules share.

Ops that meet floating-point exceptions in normal use (x / 0, 0 ** -1) run under numpy's errstate,
since torch never warns; add, sub and mul skip it (it costs about half their time) and so keep
numpy's warnings for inf - inf and 0 * inf.

A Python scalar is "weak", as in torch: it never widens a tensor of its own kind or a higher one,
so ``int_tensor * 1.5`` is float32 and ``half_tensor + 2.0`` stays float16. Where torch records a
scalar operand outside the graph (``2 - x`` is ``RsubBackward1`` with one edge), ember's Op takes it
as a keyword, and ``_weak`` gives the tensor its result dtype.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

from ._op import Op
from ._util import broadcast_shape
from ..backend import get_array_module, NUMPY, quiet as _quiet
from ..graph.grad_mode import state as _state
from ..dtypes import int_scalar, result_type, scalar_dtype, scalar_keeps
from ..tensor import Tensor
from .inplace import BINARY_INTO_INPUT

Number = Any  # a Python (or NumPy) int, float or bool
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}  # bool < integer < floating < complex


_OPERAND = (Tensor, int, float, numbers.Number)
_NP = NUMPY.array_type


def _is_operand(x: Any) -> bool:
    """What torch's operators take beside a tensor; anything else gives Python NotImplemented."""
    return isinstance(x, _OPERAND)


def _data(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _shape(x: Any) -> tuple:
    return getattr(x, "shape", ())


class _Broadcasting(Op):
    """Ops whose operands broadcast: numpy's shape ValueError becomes torch's RuntimeError, which
    torch also reports ahead of any dtype error."""

    @classmethod
    def _forward_failed(cls, args: tuple, kwargs: dict) -> None:
        # keyword arrays (where's condition) come first among torch's operands
        broadcast_shape(*(_shape(x) for x in (*kwargs.values(), *args)))


def _weak(a: Any, scalar: Number) -> tuple:
    """``a`` cast to torch's result dtype for an op between it and ``scalar``, and ``scalar`` as a
    Python number (numpy lets its own scalar types widen an array, Python's never)."""
    t = type(scalar)
    if (t is float and a.dtype.kind == "f") or (t is int and a.dtype.kind in "fiu"):
        if t is int and a.dtype.kind != "f" and not scalar_keeps(a.dtype, scalar):
            return a, int_scalar(a.dtype, scalar)  # out of the dtype's range: wraps, as in torch
        return a, scalar  # the common case: the scalar does not widen the array
    if hasattr(scalar, "item"):
        scalar = scalar.item()
    d = scalar_dtype(scalar)
    return (a if d._category <= _CATEGORY[a.dtype.kind] else a.astype(d.np)), scalar


def _dtype(a: Any, b: Any) -> Any:
    return a.dtype if hasattr(a, "dtype") else b.dtype


def _check_division(dtype: Any, divisor: Any, kernel: str) -> None:
    """torch refuses bool in //, % and fmod; an integer zero divisor raises instead of warning."""
    if dtype.kind == "b":
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
    if dtype.kind in "iu" and not get_array_module(divisor).all(divisor):
        raise RuntimeError("ZeroDivisionError")


def _trunc_divide(xp: Any, a: Any, b: Any) -> Any:
    if _dtype(a, b).kind == "f":
        return xp.trunc(a / b)
    q = xp.floor_divide(a, b)
    return q + ((q < 0) & (q * b != a))  # floor rounded a negative inexact quotient down


def _int_pow(xp: Any, a: Any, b: Any) -> Any:
    """Integer power as torch computes it: a negative exponent gives 1, -1 or 0 (numpy raises)."""
    neg = b < 0
    if not xp.any(neg):
        return a**b
    pos = a ** xp.where(neg, 0, b)
    small = xp.where(a == 1, 1, xp.where(a == -1, xp.where(b % 2 == 0, 1, -1), 0))
    return xp.where(neg, small, pos).astype(pos.dtype)


def _zeros_like(g: Tensor) -> Tensor:
    """Zeros shaped and typed as ``g``, a constant outside the graph (a formula's zero)."""
    return Tensor._make(get_array_module(g._data).zeros_like(g._data))


# -- arithmetic ---------------------------------------------------------------------------------


class Add(_Broadcasting, name="AddBackward0"):
    on_arrays = True
    _promote = True
    kernel = "add"

    @staticmethod
    def forward(ctx, a, b, *, alpha=1, into_input=False):
        ctx.alpha = alpha
        if alpha != 1:
            b = b * alpha
        return ctx.xp.add(a, b, out=a) if into_input else a + b  # into_input: add_ (inplace.py)

    @staticmethod
    def backward(ctx, g):
        return g, (g if ctx.alpha == 1 else g * ctx.alpha)



class Sub(_Broadcasting, name="SubBackward0"):
    on_arrays = True
    _promote = True
    kernel = "subtract"

    @staticmethod
    def forward(ctx, a, b, *, alpha=1, into_input=False):
        ctx.alpha = alpha
        if alpha != 1:
            b = b * alpha
        return ctx.xp.subtract(a, b, out=a) if into_input else a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.alpha == 1 else g * -ctx.alpha)



class Rsub(_Broadcasting, name="RsubBackward0"):
    """``other - alpha * input`` for two tensors."""

    on_arrays = True
    _promote = True

    @staticmethod
    def forward(ctx, a, b, *, alpha=1):
        ctx.alpha = alpha
        return b - a if alpha == 1 else b - a * alpha

    @staticmethod
    def backward(ctx, g):
        return (-g if ctx.alpha == 1 else g * -ctx.alpha), g



class RsubScalar(Op, name="RsubBackward1"):
    on_arrays = True
    """``scalar - alpha * input``, the node of ``2 - x``."""

    @staticmethod
    def forward(ctx, a, *, scalar, alpha=1):
        ctx.alpha = alpha
        a, scalar = _weak(a, scalar)
        return scalar - a if alpha == 1 else scalar - a * alpha

    @staticmethod
    def backward(ctx, g):
        return -g if ctx.alpha == 1 else g * -ctx.alpha



class Mul(_Broadcasting, name="MulBackward0"):
    on_arrays = True
    _promote = True
    kernel = "multiply"
    conj = False  # set on a node whose inputs are complex: its backward conjugates, as torch's

    @staticmethod
    def forward(ctx, a, b, *, into_input=False):
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        out = ctx.xp.multiply(a, b, out=a) if into_input else a * b
        if out.dtype.kind == "c":  # a complex input makes a complex result (one check, not two)
            ctx.conj = True
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        if ctx.conj:  # torch's convention for complex inputs: g * conj(other)
            F = ctx.F
            a, b = (F.conj(a) if need_b else None), (F.conj(b) if need_a else None)
        return (g * b if need_a else None), (g * a if need_b else None)



class Div(_Broadcasting, name="DivBackward0"):
    on_arrays = True
    _promote = "float"
    conj = False

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        with _quiet(ctx.xp):
            out = a / b
        if out.dtype.kind == "c":
            ctx.conj = True
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        if ctx.conj:  # complex inputs: conjugated derivatives, as torch's
            F = ctx.F
            a, b = (F.conj(a) if need_b else None), F.conj(b)
        return (g / b if need_a else None), (-g * a / (b * b) if need_b else None)


class DivMode(_Broadcasting, name="DivBackward2"):
    """Division rounded by ``rounding_mode``: piecewise constant, so its gradients are zero."""

    _promote = True

    @staticmethod
    def forward(ctx, a, b, *, rounding_mode):
        xp = ctx.xp
        _check_division(_dtype(a, b), b, f"div_{rounding_mode}_cpu")
        with _quiet(ctx.xp):
            return xp.floor_divide(a, b) if rounding_mode == "floor" else _trunc_divide(xp, a, b)

    @staticmethod
    def backward(ctx, g):
        return tuple(_zeros_like(g) if need else None for need in ctx.needs_input_grad)


class _NoDerivative(Op):
    """torch records these ops with a ``NotImplemented`` node whose backward raises."""

    aten = ""

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(f"derivative for aten::{ctx.aten} is not implemented")


class _Division(_Broadcasting):
    """``//``, ``%`` and ``fmod`` of two tensors: numpy's ``ufunc`` after torch's checks."""

    _promote = True
    ufunc = torch_kernel = rounding = ""

    @staticmethod
    def forward(ctx, a, b):
        _check_division(_dtype(a, b), b, ctx.torch_kernel)
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(a, b)
        with _quiet(ctx.xp):
            return getattr(ctx.xp, ctx.ufunc)(a, b)

    @staticmethod
    def backward(ctx, g):
        need_a, need_b = ctx.needs_input_grad
        gb = None
        if need_b:  # input - other * q(input / other), with q the op's rounding of the quotient
            a, b = ctx.saved_tensors
            gb = -g * div(a, b, rounding_mode=ctx.rounding)
        return (g if need_a else None), gb


class Remainder(_Division, name="RemainderBackward1"):
    """Python's ``%``: the result takes the divisor's sign."""

    ufunc, torch_kernel, rounding = "remainder", "remainder_cpu", "floor"


class Fmod(_Division, name="FmodBackward1"):
    """C's ``fmod``: the result takes the dividend's sign."""

    ufunc, torch_kernel, rounding = "fmod", "fmod_cpu", "trunc"


class FloorDivide(_NoDerivative, _Division, name="NotImplemented"):
    ufunc, torch_kernel, aten = "floor_divide", "div_floor_cpu", "floor_divide"


class _ScalarDivision(Op):
    """``input (op) scalar``, or ``scalar (op) input`` when ``reflected``: the scalar is no edge."""

    ufunc = torch_kernel = ""

    @staticmethod
    def forward(ctx, a, *, scalar, reflected=False):
        a, scalar = _weak(a, scalar)
        x, y = (scalar, a) if reflected else (a, scalar)
        _check_division(a.dtype, y, ctx.torch_kernel)
        with _quiet(ctx.xp):
            return getattr(ctx.xp, ctx.ufunc)(x, y)

    @staticmethod
    def backward(ctx, g):
        return g


class RemainderScalar(_ScalarDivision, name="RemainderBackward0"):
    ufunc, torch_kernel = "remainder", "remainder_cpu"


class FmodScalar(_ScalarDivision, name="FmodBackward0"):
    ufunc, torch_kernel = "fmod", "fmod_cpu"


class FloorDivideScalar(_NoDerivative, _ScalarDivision, name="NotImplemented"):
    ufunc, torch_kernel, aten = "floor_divide", "div_floor_cpu", "floor_divide"


class RRemainder(_NoDerivative, _ScalarDivision, name="NotImplemented"):
    """``scalar % input`` (always ``reflected``)."""

    ufunc, torch_kernel, aten = "remainder", "remainder_cpu", "remainder"


class PowScalar(Op, name="PowBackward0"):
    """``input ** scalar``."""

    on_arrays = True
    @staticmethod
    def forward(ctx, a, *, exponent):
        if not (type(exponent) is int and a.dtype.kind in "fiu"):  # else _weak changes nothing
            a, exponent = _weak(a, exponent)
        ctx.exponent = exponent
        if a.dtype.kind == "b":  # only a bool exponent keeps a bool base bool
            return a.copy() if exponent else ctx.xp.ones_like(a)
        if a.dtype.kind in "iu" and exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        ctx.save_for_backward(a)
        if type(exponent) is int and exponent >= 0:
            return a**exponent  # no invalid/divide cases: skip errstate, it costs more than the op
        with _quiet(ctx.xp):
            return a**exponent

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        e = ctx.exponent
        if e == 0:
            return ctx.F.zeros_like(g)
        return g * (e * (a if e == 2 else a ** (e - 1)))  # a ** 1 would be a copy of a


class Pow(_Broadcasting, name="PowBackward1"):
    """``input ** exponent`` for two tensors."""

    _promote = True

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        kind = _dtype(a, b).kind
        if kind == "b":
            raise NotImplementedError("\"pow\" not implemented for 'Bool'")
        # asarray: numpy makes 0-d results scalars, and a saved output must be the output's array
        with _quiet(ctx.xp):
            out = xp.asarray(_int_pow(xp, a, b) if kind in "iu" else a**b)
        ctx.save_for_backward(a, b, out if ctx.needs_input_grad[1] else None)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        with _quiet(ctx.xp):  # the masked entries compute 0 * inf
            if need_a:  # b * a**(b-1), taken as 0 where b == 0 even at a == 0
                ga = (g * (b * a ** (b - 1))).masked_fill(b == 0, 0.0)
            if need_b:  # a**b * log(a), taken as 0 where a == 0 and b >= 0
                gb = g * (out * a.log()).masked_fill((a == 0) & (b >= 0), 0.0)
        return ga, gb


class RPow(Op, name="PowBackward2"):
    """``scalar ** input``."""

    @staticmethod
    def forward(ctx, b, *, base):
        xp = ctx.xp
        b, base = _weak(b, base)
        kind = b.dtype.kind
        if kind == "b":
            raise NotImplementedError("\"pow\" not implemented for 'Bool'")
        ctx.base = base
        with _quiet(ctx.xp):
            out = xp.asarray(_int_pow(xp, xp.asarray(base).astype(b.dtype), b) if kind in "iu"
                             else base**b)
        ctx.save_for_backward(b if base == 0 else None, out)
        return out

    @staticmethod
    def backward(ctx, g):
        b, out = ctx.saved_tensors
        base = ctx.base
        if base == 0:  # log(0) = -inf, taken as 0 where the exponent is >= 0
            with _quiet(ctx.xp):  # the masked entries compute 0 * inf
                return g * (out * -math.inf).masked_fill(b >= 0, 0.0)
        return g * (out * (math.log(base) if base > 0 else math.nan))


def add(input: Tensor | Number, other: Tensor | Number, *args: Tensor,
        alpha: Number = 1) -> Tensor:
    """Adds ``other``, scaled by ``alpha``, to ``input``."""
    if args:  # torch's deprecated add(input, alpha, other), as older optimizers write it
        other, alpha = _legacy_alpha("add", other, args)
    if _unit(alpha):
        return Add.apply(input, other)
    alpha = _check_alpha(input, other, alpha)
    return Add.apply(input, other, alpha=alpha)


def _legacy_alpha(name: str, alpha: Any, args: tuple) -> tuple:
    """``(other, alpha)`` of the deprecated ``(alpha, other)`` call form, with torch's warning."""
    from ._deprecated import warn_overload

    if len(args) > 1 or not isinstance(args[0], Tensor):
        raise TypeError(f"{name}() takes 2 positional arguments but {2 + len(args)} were given")
    warn_overload(name, f"{name}(Number alpha, Tensor other)",
                  f"{name}(Tensor other, *, Number alpha = 1)")
    return args[0], alpha


def _unit(alpha: Number) -> bool:
    return type(alpha) is int and alpha == 1  # the default; any other alpha gets torch's checks


def _check_alpha(input: Any, other: Any, alpha: Number) -> Number:
    """torch's checks of a non-default ``alpha``, which comes back as a Python number."""
    if hasattr(alpha, "item"):
        alpha = alpha.item()
    dt = result_type(input, other)
    if isinstance(alpha, bool) and dt.name != "bool":
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    if isinstance(alpha, float) and not dt.is_floating_point:
        raise RuntimeError(
            "For integral input tensors, argument alpha must not be a floating point number."
        )
    return alpha


def _is_bool(x: Any) -> bool:
    if isinstance(x, Tensor):  # the common case, without numpy's slower dtype == bool
        return x._data.dtype.kind == "b"
    return isinstance(x, bool) or getattr(x, "dtype", None) == bool


def _check_bool_sub(input: Any, other: Any) -> None:
    a, b = _is_bool(input), _is_bool(other)
    if a and b:
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
            "`logical_xor()` operator instead."
        )
    if a or b:
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead."
        )


def sub(input: Tensor | Number, other: Tensor | Number, *args: Tensor,
        alpha: Number = 1) -> Tensor:
    """Subtracts ``other``, scaled by ``alpha``, from ``input``."""
    if args:  # torch's deprecated sub(input, alpha, other)
        other, alpha = _legacy_alpha("sub", other, args)
    _check_bool_sub(input, other)
    if _unit(alpha):
        return Sub.apply(input, other)
    alpha = _check_alpha(input, other, alpha)
    return Sub.apply(input, other, alpha=alpha)


def rsub(input: Tensor, other: Tensor | Number, *, alpha: Number = 1) -> Tensor:
    """Computes ``other - alpha * input``."""
    _check_bool_sub(input, other)
    if not _unit(alpha):
        alpha = _check_alpha(input, other, alpha)
    if isinstance(other, Tensor):
        return Rsub.apply(input, other, alpha=alpha)
    return RsubScalar.apply(input, scalar=other, alpha=alpha)


def mul(input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """Multiplies ``input`` by ``other`` element-wise."""
    return Mul.apply(input, other)


def div(input: Tensor | Number, other: Tensor | Number, *,
        rounding_mode: str | None = None) -> Tensor:
    """Divides ``input`` by ``other``: true division, or rounded by ``'trunc'`` or ``'floor'``."""
    if rounding_mode is None:
        return Div.apply(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
            f"'{rounding_mode}'"
        )
    return DivMode.apply(input, other, rounding_mode=rounding_mode)


def true_divide(dividend: Tensor | Number, divisor: Tensor | Number) -> Tensor:
    """Alias of ``div`` with ``rounding_mode=None``."""
    return Div.apply(dividend, divisor)


def floor_divide(input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """Divides and rounds down (``//``); torch defines no gradient for it."""
    if isinstance(input, Tensor):
        if isinstance(other, Tensor):
            return FloorDivide.apply(input, other)
        return FloorDivideScalar.apply(input, scalar=other)
    return FloorDivideScalar.apply(other, scalar=input, reflected=True)


def remainder(input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """Python's modulus (``%``): the result has the sign of the divisor ``other``."""
    if isinstance(input, Tensor):
        if isinstance(other, Tensor):
            return Remainder.apply(input, other)
        return RemainderScalar.apply(input, scalar=other)
    return RRemainder.apply(other, scalar=input, reflected=True)


def fmod(input: Tensor, other: Tensor | Number) -> Tensor:
    """C's modulus: the result has the sign of the dividend ``input``."""
    if isinstance(other, Tensor):
        return Fmod.apply(input, other)
    return FmodScalar.apply(input, scalar=other)


def pow(input: Tensor | Number, exponent: Tensor | Number) -> Tensor:  # noqa: A001
    """Raises ``input`` to the power ``exponent`` element-wise."""
    if not isinstance(input, Tensor):
        return RPow.apply(exponent, base=input)
    if isinstance(exponent, Tensor):
        return Pow.apply(input, exponent)
    return PowScalar.apply(input, exponent=exponent)


def square(input: Tensor) -> Tensor:
    """``input ** 2`` (torch records it as a pow)."""
    return PowScalar.apply(input, exponent=2)


# -- Tensor methods and operators ---------------------------------------------------------------


def _operator(fn: Any, reflected: bool = False) -> Any:
    """A binary dunder: torch's operators answer NotImplemented to non-numbers (``x == None``)."""
    if reflected:
        def method(self: Tensor, other: Any) -> Any:
            return fn(other, self) if _is_operand(other) else NotImplemented
    else:
        def method(self: Tensor, other: Any) -> Any:
            return fn(self, other) if _is_operand(other) else NotImplemented
    return method


def _apply_operator(op: Any) -> Any:
    """``_operator`` for an op whose function only calls ``op.apply(input, other)`` (add with the
    default alpha, mul): the operator calls it directly, one dispatch fewer on the hot path.

    With nothing to record, a float tensor of NumPy's and a Python float (the ``lr * p.grad`` of
    an optimizer step written by hand) go straight to the op's kernel, as ``apply`` would send
    them after its checks: a float leaves a float array's dtype as it is."""
    apply, kernel = op.apply, op._numpy_kernel

    def method(self: Tensor, other: Any) -> Any:
        if type(other) is float and (not _state.enabled or not self._requires_grad):
            d = self._data
            if type(d) is _NP and d.dtype.kind == "f":
                return Tensor._make(kernel(d, other))
        return apply(self, other) if isinstance(other, _OPERAND) else NotImplemented
    return method


def _pow_operator(self: Tensor, other: Any) -> Any:
    if isinstance(other, Tensor):
        return Pow.apply(self, other)
    return PowScalar.apply(self, exponent=other) if isinstance(other, _OPERAND) else NotImplemented


def _rtruediv(self: Tensor, other: Number) -> Tensor:
    return Mul.apply(self.reciprocal(), other)  # (a method: unary.py imports this module)  # torch records ``2 / x`` as 2 * reciprocal(x)


__all__ = [
    "add", "sub", "subtract", "rsub", "mul", "multiply", "div", "divide", "true_divide",
    "floor_divide", "remainder", "fmod", "pow", "square",
]
subtract, multiply, divide = sub, mul, div

BINARY_INTO_INPUT.update(add=Add, sub=Sub, mul=Mul)
TENSOR_METHODS = {name: globals()[name] for name in __all__ if name != "rsub"}
TENSOR_METHODS.update({
    "__add__": _apply_operator(Add), "__radd__": _apply_operator(Add),
    "__sub__": _operator(sub), "__rsub__": _operator(rsub),
    "__mul__": _apply_operator(Mul), "__rmul__": _apply_operator(Mul),
    "__truediv__": _operator(div), "__rtruediv__": _operator(_rtruediv),
    "__floordiv__": _operator(floor_divide), "__rfloordiv__": _operator(floor_divide, True),
    "__mod__": _operator(remainder), "__rmod__": _operator(remainder, True),
    "__pow__": _pow_operator, "__rpow__": _operator(pow, True),
})
