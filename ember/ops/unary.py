"""Element-wise math: exp, log, trig, rounding, relu, abs and sign; and lerp, atan2, hypot.

Float-valued functions compute integer and bool inputs in the default dtype (``exp(int)`` is
float32); neg, abs, sign, the rounding ops and relu keep integer dtypes. Each backward is a
formula in ember ops, like a line of torch's derivatives.yaml, so gradients of gradients work.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from ._op import Op
from ..backend import backend_of, quiet as _quiet
from ..tensor import Tensor
from ._util import float_array
from .compare import _check_other, isfinite, where
from .elementwise import Number, _Broadcasting, _zeros_like
from .inplace import UNARY_INTO_INPUT, WRITES_INTO_INPUT, type_name

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class _Float(Op):
    """``y = f(xp, x)`` in floating point, with derivative ``grad(g, x, y, F)`` written in the
    carrier vocabulary ``F`` (``ctx.F``); ``saves`` says which of ``x`` and ``y`` backward reads,
    so nothing else is kept alive."""

    on_arrays = True
    saves = "x"
    f: Callable
    grad: Callable

    @staticmethod
    def forward(ctx, a):
        xp = ctx.xp
        a = float_array(a)
        ctx.conj = a.dtype.kind == "c"
        with _quiet(xp):  # an array even for 0-d, so a saved y is the output's
            if a.dtype.kind == "V":  # bfloat16: computed in float32, rounded once, as torch's
                y = xp.asarray(ctx.f(xp, a.astype("float32"))).astype(a.dtype)
            else:
                y = xp.asarray(ctx.f(xp, a))
        ctx.save_for_backward(a if "x" in ctx.saves else None, y if "y" in ctx.saves else None)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        if ctx.conj:
            # complex input: torch's gradient is g * conj(f'(z)), and f'(conj z) = conj(f'(z))
            # for these functions (real coefficients), so the formula runs on the conjugates
            F = ctx.F
            x, y = (F.conj(x) if x is not None else None), (F.conj(y) if y is not None else None)
        return ctx.grad(g, x, y, ctx.F)


class Exp(_Float, name="ExpBackward0"):
    saves, f = "y", staticmethod(lambda xp, x: xp.exp(x))
    grad = staticmethod(lambda g, x, y, F: g * y)


class Exp2(_Float, name="Exp2Backward0"):
    saves, f = "y", staticmethod(lambda xp, x: xp.exp2(x))
    grad = staticmethod(lambda g, x, y, F: g * (y * _LN2))


class Expm1(_Float, name="Expm1Backward0"):
    saves, f = "y", staticmethod(lambda xp, x: xp.expm1(x))
    grad = staticmethod(lambda g, x, y, F: g * (y + 1))


class Log(_Float, name="LogBackward0"):
    f = staticmethod(lambda xp, x: xp.log(x))
    grad = staticmethod(lambda g, x, y, F: g / x)


class Log2(_Float, name="Log2Backward0"):
    f = staticmethod(lambda xp, x: xp.log2(x))
    grad = staticmethod(lambda g, x, y, F: g / (x * _LN2))


class Log10(_Float, name="Log10Backward0"):
    f = staticmethod(lambda xp, x: xp.log10(x))
    grad = staticmethod(lambda g, x, y, F: g / (x * _LN10))


class Log1p(_Float, name="Log1PBackward0"):
    f = staticmethod(lambda xp, x: xp.log1p(x))
    grad = staticmethod(lambda g, x, y, F: g / (x + 1))


class Sqrt(_Float, name="SqrtBackward0"):
    saves, f = "y", staticmethod(lambda xp, x: xp.sqrt(x))
    grad = staticmethod(lambda g, x, y, F: g / (2 * y))


class Rsqrt(_Float, name="RsqrtBackward0"):
    saves, f = "y", staticmethod(lambda xp, x: 1 / xp.sqrt(x))
    grad = staticmethod(lambda g, x, y, F: -0.5 * g * y**3)


class Reciprocal(_Float, name="ReciprocalBackward0"):
    saves, f = "y", staticmethod(lambda xp, x: 1 / x)
    grad = staticmethod(lambda g, x, y, F: -g * (y * y))


class Sin(_Float, name="SinBackward0"):
    f = staticmethod(lambda xp, x: xp.sin(x))
    grad = staticmethod(lambda g, x, y, F: g * F.cos(x))


class Cos(_Float, name="CosBackward0"):
    f = staticmethod(lambda xp, x: xp.cos(x))
    grad = staticmethod(lambda g, x, y, F: g * -F.sin(x))


class Tan(_Float, name="TanBackward0"):
    saves, f = "y", staticmethod(lambda xp, x: xp.tan(x))
    grad = staticmethod(lambda g, x, y, F: g * (1 + y * y))


class Asin(_Float, name="AsinBackward0"):
    f = staticmethod(lambda xp, x: xp.arcsin(x))
    grad = staticmethod(lambda g, x, y, F: g * F.rsqrt(1 - x * x))


class Acos(_Float, name="AcosBackward0"):
    f = staticmethod(lambda xp, x: xp.arccos(x))
    grad = staticmethod(lambda g, x, y, F: g * -F.rsqrt(1 - x * x))


class Atan(_Float, name="AtanBackward0"):
    f = staticmethod(lambda xp, x: xp.arctan(x))
    grad = staticmethod(lambda g, x, y, F: g / (x * x + 1))


class Sinh(_Float, name="SinhBackward0"):
    f = staticmethod(lambda xp, x: xp.sinh(x))
    grad = staticmethod(lambda g, x, y, F: g * F.cosh(x))


class Cosh(_Float, name="CoshBackward0"):
    f = staticmethod(lambda xp, x: xp.cosh(x))
    grad = staticmethod(lambda g, x, y, F: g * F.sinh(x))


class Tanh(_Float, name="TanhBackward0"):
    saves, f = "y", staticmethod(lambda xp, x: xp.tanh(x))
    grad = staticmethod(lambda g, x, y, F: g * (1 - y * y))


class Asinh(_Float, name="AsinhBackward0"):
    f = staticmethod(lambda xp, x: xp.arcsinh(x))
    grad = staticmethod(lambda g, x, y, F: g * F.rsqrt(x * x + 1))


class Acosh(_Float, name="AcoshBackward0"):
    f = staticmethod(lambda xp, x: xp.arccosh(x))
    # torch's form, 1 / (sqrt(x - 1) sqrt(x + 1)): the right branch for complex x as well
    grad = staticmethod(lambda g, x, y, F: g * (F.rsqrt(x - 1) * F.rsqrt(x + 1)))


class Atanh(_Float, name="AtanhBackward0"):
    f = staticmethod(lambda xp, x: xp.arctanh(x))
    grad = staticmethod(lambda g, x, y, F: g / (1 - x * x))


class Sigmoid(_Float, name="SigmoidBackward0"):
    saves, f = "y", staticmethod(lambda xp, x: 1 / (1 + xp.exp(-x)))
    grad = staticmethod(lambda g, x, y, F: g * (1 - y) * y)


def _real_kernel(name: str, kernel: str) -> Callable:
    """``f(xp, x)`` running the backend's real-only kernel ``name``, refusing complex input
    with torch's error (``kernel`` is torch's kernel name)."""
    def f(xp: Any, x: Any) -> Any:
        if x.dtype.kind == "c":
            raise NotImplementedError(f'"{kernel}" not implemented for '
                                      f"'{type_name(x.dtype)}'")
        return getattr(backend_of(x), name)(x)

    return f


class Erf(_Float, name="ErfBackward0"):
    f = staticmethod(_real_kernel("erf", "erf_vml_cpu"))  # numpy has none: a backend kernel
    grad = staticmethod(lambda g, x, y, F: g * (_TWO_OVER_SQRT_PI * F.exp(-x * x)))


class Erfc(_Float, name="ErfcBackward0"):
    f = staticmethod(_real_kernel("erfc", "erfc_vml_cpu"))
    grad = staticmethod(lambda g, x, y, F: g * (-_TWO_OVER_SQRT_PI * F.exp(-x * x)))


# -- ops that keep integer dtypes ----------------------------------------------------------------


class Neg(Op, name="NegBackward0"):
    @staticmethod
    def forward(ctx, a):
        if a.dtype.kind == "b":
            raise RuntimeError(
                "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                "to invert a mask, use the `~` or `logical_not()` operator instead."
            )
        return -a

    on_arrays = True

    @staticmethod
    def backward(ctx, g):
        return -g


class Abs(Op, name="AbsBackward0"):
    @staticmethod
    def forward(ctx, a):
        if a.dtype.kind == "b":
            raise NotImplementedError("\"abs_cpu\" not implemented for 'Bool'")
        ctx.save_for_backward(a)
        return ctx.xp.abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * sign(a)  # 0 at a == 0 (and at nan): the subgradient torch picks


class Sign(Op, name="SignBackward0"):
    @staticmethod
    def forward(ctx, a):
        if a.dtype.kind == "b":
            return a.copy()
        # torch's sign is 0 at nan and +0 at -0.0, where numpy's gives nan and -0.0
        return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)

    @staticmethod
    def backward(ctx, g):
        return _zeros_like(g)


class Sgn(Sign, name="SgnBackward0"):
    pass


class _Rounding(Op):
    """floor, ceil, round, trunc: piecewise constant, so the gradient is zero; ints pass through."""

    ufunc = torch_kernel = ""

    @staticmethod
    def forward(ctx, a):
        if a.dtype.kind == "b":
            raise NotImplementedError(f"\"{ctx.torch_kernel}_vml_cpu\" not implemented for 'Bool'")
        return getattr(ctx.xp, ctx.ufunc)(a) if a.dtype.kind == "f" else a.copy()

    @staticmethod
    def backward(ctx, g):
        return _zeros_like(g)


class Floor(_Rounding, name="FloorBackward0"):
    ufunc = torch_kernel = "floor"


class Ceil(_Rounding, name="CeilBackward0"):
    ufunc = torch_kernel = "ceil"


class Trunc(_Rounding, name="TruncBackward0"):
    ufunc = torch_kernel = "trunc"


class Round(_Rounding, name="RoundBackward0"):
    ufunc, torch_kernel = "rint", "round"  # half to even, as torch rounds


class RoundDecimals(_Rounding, name="RoundBackward1"):
    @staticmethod
    def forward(ctx, a, *, decimals):
        if a.dtype.kind != "f":
            raise NotImplementedError(f"\"round_cpu\" not implemented for '{type_name(a.dtype)}'")
        # torch's steps: scale by 10**|decimals| in the tensor's dtype, round half to even, undo
        p = a.dtype.type(10.0 ** (decimals if decimals > 0 else -decimals))
        with _quiet(ctx.xp):
            return ctx.xp.rint(a * p) / p if decimals > 0 else ctx.xp.rint(a / p) * p


class Frac(Op, name="FracBackward0"):
    @staticmethod
    def forward(ctx, a):
        if a.dtype.kind != "f":
            raise NotImplementedError(f"\"frac_cpu\" not implemented for '{type_name(a.dtype)}'")
        with _quiet(ctx.xp):
            return a - ctx.xp.trunc(a)

    @staticmethod
    def backward(ctx, g):
        return g


class Relu(Op, name="ReluBackward0"):
    on_arrays = True

    @staticmethod
    def forward(ctx, a, *, into_input=False):
        if a.dtype.kind == "b":
            raise RuntimeError("Boolean inputs not supported for relu")
        xp = ctx.xp
        # into_input: relu_ (see inplace.WRITES_INTO_INPUT); out=None would cost numpy a keyword
        zero = ctx.backend.zero(a.dtype)
        y = xp.maximum(a, zero, out=a) if into_input else xp.maximum(a, zero)
        if a.ndim == 0:
            y = xp.asarray(y)  # numpy's 0-d result is a scalar; the saved output must be an array
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return ctx.F.threshold_backward(g, y)  # torch's: 0 at 0, and g passes at nan


WRITES_INTO_INPUT["relu"] = lambda alias: Relu.apply(alias, into_input=True)
UNARY_INTO_INPUT["relu"] = Relu


class NanToNum(Op, name="NanToNumBackward0"):
    @staticmethod
    def forward(ctx, a, *, nan, posinf, neginf):
        if a.dtype.kind != "f":
            return a.copy()
        ctx.save_for_backward(a)
        with _quiet(ctx.xp):  # a huge posinf overflows to inf, as in torch
            return ctx.xp.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return where(isfinite(a), g, 0.0)


def _unary(op: type, name: str, doc: str) -> Callable[[Tensor], Tensor]:
    def fn(input: Tensor) -> Tensor:
        return op.apply(input)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


exp = _unary(Exp, "exp", "e to the power of each element.")
exp2 = _unary(Exp2, "exp2", "2 to the power of each element.")
expm1 = _unary(Expm1, "expm1", "``exp(input) - 1``, accurate near 0.")
log = _unary(Log, "log", "Natural logarithm, element-wise.")
log2 = _unary(Log2, "log2", "Base-2 logarithm, element-wise.")
log10 = _unary(Log10, "log10", "Base-10 logarithm, element-wise.")
log1p = _unary(Log1p, "log1p", "``log(1 + input)``, accurate near 0.")
sqrt = _unary(Sqrt, "sqrt", "Square root, element-wise.")
rsqrt = _unary(Rsqrt, "rsqrt", "Reciprocal of the square root, element-wise.")
reciprocal = _unary(Reciprocal, "reciprocal", "``1 / input``, element-wise.")
sin = _unary(Sin, "sin", "Sine, element-wise.")
cos = _unary(Cos, "cos", "Cosine, element-wise.")
tan = _unary(Tan, "tan", "Tangent, element-wise.")
asin = _unary(Asin, "asin", "Arcsine, element-wise.")
acos = _unary(Acos, "acos", "Arccosine, element-wise.")
atan = _unary(Atan, "atan", "Arctangent, element-wise.")
sinh = _unary(Sinh, "sinh", "Hyperbolic sine, element-wise.")
cosh = _unary(Cosh, "cosh", "Hyperbolic cosine, element-wise.")
tanh = _unary(Tanh, "tanh", "Hyperbolic tangent, element-wise.")
asinh = _unary(Asinh, "asinh", "Inverse hyperbolic sine, element-wise.")
acosh = _unary(Acosh, "acosh", "Inverse hyperbolic cosine, element-wise.")
atanh = _unary(Atanh, "atanh", "Inverse hyperbolic tangent, element-wise.")
sigmoid = _unary(Sigmoid, "sigmoid", "The logistic function ``1 / (1 + exp(-input))``.")
erf = _unary(Erf, "erf", "The error function, element-wise.")
erfc = _unary(Erfc, "erfc", "The complementary error function ``1 - erf(input)``.")
neg = _unary(Neg, "neg", "``-input``, element-wise.")
abs = _unary(Abs, "abs", "Absolute value, element-wise.")  # noqa: A001
sign = _unary(Sign, "sign", "-1, 0 or 1 by the sign of each element (0 at nan).")
sgn = _unary(Sgn, "sgn", "The sign of each element (``sign`` for real tensors).")
floor = _unary(Floor, "floor", "Rounds down to an integral value.")
ceil = _unary(Ceil, "ceil", "Rounds up to an integral value.")
trunc = _unary(Trunc, "trunc", "Rounds toward zero to an integral value.")
frac = _unary(Frac, "frac", "The fractional part, ``input - trunc(input)``.")
relu = _unary(Relu, "relu", "``max(input, 0)``, element-wise.")


def positive(input: Tensor) -> Tensor:
    """Returns ``input`` itself (``+input``)."""
    if input.dtype.name == "bool":
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def round(input: Tensor, *, decimals: int | None = None) -> Tensor:  # noqa: A001
    """Rounds half to even, to ``decimals`` decimal places (0 by default)."""
    # torch records an explicit decimals, even 0, as RoundBackward1
    if decimals is None:
        return Round.apply(input)
    return RoundDecimals.apply(input, decimals=decimals)


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """Replaces NaN by ``nan`` and infinities by ``posinf``/``neginf`` (the dtype's extremes)."""
    return NanToNum.apply(input, nan=nan, posinf=posinf, neginf=neginf)


# -- lerp, atan2, hypot --------------------------------------------------------------------------


def _lerp(xp: Any, a: Any, b: Any, w: Any) -> Any:
    # torch's two-sided formula: exact at w == 0 and at w == 1
    if not hasattr(w, "shape"):
        return a + w * (b - a) if -0.5 < w < 0.5 else b - (b - a) * (1 - w)
    return xp.where(xp.abs(w) < 0.5, a + w * (b - a), b - (b - a) * (1 - w))


class Lerp(_Broadcasting, name="LerpBackward0"):
    """``input + weight * (end - input)`` with a number ``weight``."""

    @staticmethod
    def forward(ctx, a, b, *, weight):
        ctx.weight = weight
        return _lerp(ctx.xp, a, b, weight)

    @staticmethod
    def backward(ctx, g):
        w = ctx.weight
        need_a, need_b = ctx.needs_input_grad
        return (g * (1 - w) if need_a else None), (g * w if need_b else None)


class LerpTensor(_Broadcasting, name="LerpBackward1"):
    @staticmethod
    def forward(ctx, a, b, w):
        need_a, need_b, need_w = ctx.needs_input_grad
        ctx.save_for_backward(a if need_w else None, b if need_w else None,
                              w if need_a or need_b else None)
        return _lerp(ctx.xp, a, b, w)

    @staticmethod
    def backward(ctx, g):
        a, b, w = ctx.saved_tensors
        need_a, need_b, need_w = ctx.needs_input_grad
        return (g * (1 - w) if need_a else None), (g * w if need_b else None), \
            (g * (b - a) if need_w else None)


def lerp(input: Tensor, end: Tensor, weight: Tensor | Number) -> Tensor:
    """Linear interpolation ``input + weight * (end - input)``."""
    _check_other("lerp", end, scalars=False)
    named = (("end", end), ("weight", weight)) if isinstance(weight, Tensor) else (("end", end),)
    for name, t in named:
        if t.dtype is not input.dtype:
            raise RuntimeError(f"expected dtype {type_name(input).lower()} for `{name}` but got "
                               f"dtype {type_name(t).lower()}")
    if not input.is_floating_point():
        kernel = "tensor" if isinstance(weight, Tensor) else "scalar"
        raise NotImplementedError(f"\"lerp_kernel_{kernel}\" not implemented for "
                                  f"'{type_name(input)}'")
    if isinstance(weight, Tensor):
        return LerpTensor.apply(input, end, weight)
    return Lerp.apply(input, end, weight=float(weight))  # a NumPy float64 would widen


class Atan2(_Broadcasting, name="Atan2Backward0"):
    _promote = "float"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.arctan2(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        den = a * a + b * b
        recip = where(den == 0, 0.0, reciprocal(den))  # torch gives 0 at the origin, not nan
        return (g * b * recip if need_a else None), (g * -a * recip if need_b else None)


class Hypot(_Broadcasting, name="HypotBackward0"):
    _promote = True

    @staticmethod
    def forward(ctx, a, b):
        if a.dtype.kind != "f":
            raise NotImplementedError(f"\"hypot_cpu\" not implemented for '{type_name(a.dtype)}'")
        out = ctx.xp.asarray(ctx.xp.hypot(a, b))
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_a else None, b if need_b else None, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g * a / out if need_a else None), (g * b / out if need_b else None)


def atan2(input: Tensor, other: Tensor) -> Tensor:
    """The angle of the point ``(other, input)``, element-wise, in ``[-pi, pi]``."""
    _check_other("atan2", other, scalars=False)
    return Atan2.apply(input, other)


def hypot(input: Tensor, other: Tensor) -> Tensor:
    """``sqrt(input**2 + other**2)``, element-wise, without overflow."""
    _check_other("hypot", other, scalars=False)
    return Hypot.apply(input, other)


arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh
arctan2, absolute, negative, fix = atan2, abs, neg, trunc

__all__ = [
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal",
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh",
    "atanh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "sigmoid", "erf",
    "erfc", "neg", "negative", "positive", "abs", "absolute", "sign", "sgn", "floor", "ceil",
    "trunc", "fix", "round", "frac", "relu", "nan_to_num", "lerp", "atan2", "arctan2", "hypot",
]
TENSOR_METHODS = {name: globals()[name] for name in __all__}
TENSOR_METHODS.update({"__neg__": neg, "__pos__": positive, "__abs__": abs})
