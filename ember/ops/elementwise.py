"""Element-wise arithmetic: one Op per torch grad_fn, each backward written in ember ops."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Op
from ..tensor import Tensor

Number = Any


def _is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


class Add(Op, name="AddBackward0"):
    _promote = True

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        ctx.alpha = alpha
        return a + b if alpha == 1 else a + alpha * b

    @staticmethod
    def backward(ctx, g):
        return g, (g if ctx.alpha == 1 else g * ctx.alpha)


class Sub(Op, name="SubBackward0"):
    _promote = True

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        ctx.alpha = alpha
        return a - b if alpha == 1 else a - alpha * b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.alpha == 1 else g * -ctx.alpha)


class Rsub(Op, name="RsubBackward1"):
    """``scalar - tensor``: torch records it as its own node."""

    _promote = True

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        ctx.alpha = alpha
        return b - a if alpha == 1 else b - alpha * a

    @staticmethod
    def backward(ctx, g):
        return (-g if ctx.alpha == 1 else g * -ctx.alpha), None


class Mul(Op, name="MulBackward0"):
    _promote = True

    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)


class Div(Op, name="DivBackward0"):
    _promote = "float"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g / b if need_a else None), (-g * a / (b * b) if need_b else None)


class Neg(Op, name="NegBackward0"):
    @staticmethod
    def forward(ctx, a):
        if a.dtype.kind == "b":
            raise RuntimeError(
                "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                "to invert a mask, use the `~` or `logical_not()` operator instead."
            )
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class PowScalar(Op, name="PowBackward0"):
    """``tensor ** number``."""

    _promote = True

    @staticmethod
    def forward(ctx, a, *, exponent):
        ctx.save_for_backward(a)
        ctx.exponent = exponent
        if a.dtype.kind in "iu" and isinstance(exponent, (int, np.integer)) and exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return a**exponent

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        e = ctx.exponent
        if e == 0:
            return g * 0
        return g * e * a ** (e - 1) if e != 2 else g * 2 * a


class Pow(Op, name="PowBackward1"):
    """``tensor ** tensor``."""

    _promote = True

    @staticmethod
    def forward(ctx, a, b):
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        from .unary import log

        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        if need_a:
            # d/da a**b = b * a**(b-1); where b == 0 the derivative is 0 even at a == 0
            ga = g * b * a ** (b - 1)
            ga = where(b == 0, 0.0, ga)
        if need_b:
            # d/db a**b = a**b * log(a), taken as 0 where a == 0 and b >= 0 (torch's choice)
            gb = where((a == 0) & (b >= 0), 0.0, g * out * log(a))
        return ga, gb


class RPow(Op, name="PowBackward2"):
    """``number ** tensor``."""

    _promote = True

    @staticmethod
    def forward(ctx, base, b):
        out = base**b
        ctx.base = base
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        if ctx.base == 0:
            return None, where(out == 0, 0.0, g * out * float(np.log(ctx.base)))
        return None, g * out * float(np.log(ctx.base))


class Where(Op, name="WhereBackward0"):
    @staticmethod
    def forward(ctx, cond, a, b, dtype):
        if cond.dtype.kind != "b":
            raise RuntimeError(
                f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                f"{cond.dtype.name.capitalize()}"
            )
        ctx.save_for_backward(cond)
        return np.where(cond, a, b).astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        _, need_a, need_b = ctx.needs_input_grad
        zero = g.new_zeros(())
        return (
            None,
            where(cond, g, zero) if need_a else None,
            where(cond, zero, g) if need_b else None,
        )


# -- public functions ---------------------------------------------------------------------------


def add(input: Tensor | Number, other: Tensor | Number, *, alpha: Number = 1) -> Tensor:
    """Adds ``other``, scaled by ``alpha``, to ``input``."""
    if not isinstance(input, Tensor):
        return Add.apply(other, input) if alpha == 1 else Add.apply(input * alpha, other)
    return Add.apply(input, other) if alpha == 1 else Add.apply(input, other, alpha=alpha)


def sub(input: Tensor | Number, other: Tensor | Number, *, alpha: Number = 1) -> Tensor:
    """Subtracts ``other``, scaled by ``alpha``, from ``input``."""
    if not isinstance(input, Tensor):
        return Rsub.apply(other, input) if alpha == 1 else Rsub.apply(other, input, alpha=alpha)
    return Sub.apply(input, other) if alpha == 1 else Sub.apply(input, other, alpha=alpha)


subtract = sub


def rsub(input: Tensor, other: Tensor | Number, *, alpha: Number = 1) -> Tensor:
    """Computes ``other - alpha * input``."""
    return Rsub.apply(input, other) if alpha == 1 else Rsub.apply(input, other, alpha=alpha)


def mul(input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """Multiplies ``input`` by ``other`` element-wise."""
    if not isinstance(input, Tensor):
        return Mul.apply(other, input)
    return Mul.apply(input, other)


multiply = mul


def div(input: Tensor | Number, other: Tensor | Number, *, rounding_mode: str | None = None) -> Tensor:
    """Divides ``input`` by ``other`` (true division unless ``rounding_mode`` is given)."""
    if rounding_mode is not None:
        from .unary import _div_rounding

        return _div_rounding(input, other, rounding_mode)
    if not isinstance(input, Tensor):
        from .unary import reciprocal

        return Mul.apply(reciprocal(other), input)
    return Div.apply(input, other)


divide = true_divide = div


def neg(input: Tensor) -> Tensor:
    """Returns ``-input``."""
    return Neg.apply(input)


negative = neg


def pow(input: Tensor | Number, exponent: Tensor | Number) -> Tensor:  # noqa: A001
    """Raises ``input`` to the power ``exponent`` element-wise."""
    if not isinstance(input, Tensor):
        return RPow.apply(input, exponent)
    if isinstance(exponent, Tensor):
        return Pow.apply(input, exponent)
    return PowScalar.apply(input, exponent=exponent)


def where(condition: Tensor, input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """Picks ``input`` where ``condition`` holds and ``other`` elsewhere."""
    from ..dtypes import result_type

    return Where.apply(condition, input, other, dtype=result_type(input, other).np)


__all__ = ["add", "sub", "subtract", "rsub", "mul", "multiply", "div", "divide", "true_divide",
           "neg", "negative", "pow", "where"]

TENSOR_METHODS = {
    "add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div,
    "divide": div, "true_divide": div, "neg": neg, "negative": neg, "pow": pow,
    "where": lambda self, condition, other: where(condition, self, other),
    "__add__": add, "__radd__": add, "__sub__": sub,
    "__rsub__": lambda self, other: Rsub.apply(self, other),
    "__mul__": mul, "__rmul__": mul, "__truediv__": div,
    "__rtruediv__": lambda self, other: div(other, self),
    "__neg__": neg, "__pow__": pow,
    "__rpow__": lambda self, other: pow(other, self),
}
