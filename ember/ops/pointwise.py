"""More element-wise ops: logaddexp/logaddexp2, copysign, nextafter, float_power, frexp/ldexp,
the bit shifts (``<<``, ``>>``) and logcumsumexp, with torch's dtype rules and nodes."""
from __future__ import annotations

import math
from typing import Any

from ._op import Op
from .. import dtypes as _dt
from ..backend import get_array_module
from ..tensor import Tensor
from . import _reduce_util as ru
from .compare import _check_other, clamp, where
from .cumulative import _scan_dim
from .elementwise import _Broadcasting, _operator, pow
from .inplace import _inplace_method, apply_inplace, type_name
from .unary import nan_to_num

Number = Any


def _require_float(kernel: str, a: Any) -> None:
    if a.dtype.kind != "f":
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{type_name(a.dtype)}'")


# -- logaddexp, logaddexp2 ------------------------------------------------------------------------


class Logaddexp(_Broadcasting, name="LogaddexpBackward0"):
    _promote = True
    _kernel = "logaddexp_cpu"

    @staticmethod
    def forward(ctx, a, b):
        _require_float(ctx._kernel, a)
        ctx.save_for_backward(a, b)
        with ctx.backend.errors_quiet():
            return ctx.xp.asarray(getattr(ctx.xp, ctx._kernel[:-4])(a, b))

    @staticmethod
    def backward(ctx, g):
        # d/da log(e^a + e^b) = 1 / (1 + e^(b - a)), and symmetrically for b
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g / (1 + ctx._base(b - a)) if need_a else None,
                g / (1 + ctx._base(a - b)) if need_b else None)

    @staticmethod
    def _base(x: Tensor) -> Tensor:
        return x.exp()


class Logaddexp2(Logaddexp, name="Logaddexp2Backward0"):
    _kernel = "logaddexp2_cpu"

    @staticmethod
    def _base(x: Tensor) -> Tensor:
        return x.exp2()


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """``log(exp(input) + exp(other))``, element-wise, without overflow."""
    _check_other("logaddexp", other, scalars=False)
    return Logaddexp.apply(input, other)


def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    """``log2(2**input + 2**other)``, element-wise, without overflow."""
    _check_other("logaddexp2", other, scalars=False)
    return Logaddexp2.apply(input, other)


# -- copysign, nextafter ------------------------------------------------------------------------


class Copysign(_Broadcasting, name="CopysignBackward0"):
    _promote = "float"

    @staticmethod
    def forward(ctx, a, b):
        out = ctx.xp.asarray(ctx.xp.copysign(a, b))
        ctx.save_for_backward(a if ctx.needs_input_grad[0] else None, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # the sign flips or not: out / a, taken as 0 at a == 0 (as torch does); none for other
        a, out = ctx.saved_tensors
        ga = None
        if ctx.needs_input_grad[0]:
            zero = ru.const(a._data == 0)
            ga = where(zero, 0.0, g * out / where(zero, 1.0, a))
        if len(ctx.needs_input_grad) > 1 and ctx.needs_input_grad[1]:
            return ga, g.new_zeros(g.shape)  # torch gives other a zero gradient
        return (ga,) + (None,) * (len(ctx.needs_input_grad) - 1)


class CopysignScalar(Copysign, name="CopysignBackward1"):
    pass


def copysign(input: Tensor, other: Tensor | Number) -> Tensor:
    """``input``'s magnitude with ``other``'s sign, element-wise (a float result)."""
    _check_other("copysign", other)
    if isinstance(other, Tensor):
        return Copysign.apply(input, other)
    return CopysignScalar.apply(input, other)


class Nextafter(_Broadcasting, name="NextafterBackward0"):
    _promote = True

    @staticmethod
    def forward(ctx, a, b):
        _require_float("nextafter_cpu", a)
        return ctx.xp.asarray(ctx.xp.nextafter(a, b))

    @staticmethod
    def backward(ctx, g):
        # torch passes the gradient through to input and gives other zeros
        need_a, need_b = ctx.needs_input_grad
        return (g if need_a else None), (g.new_zeros(g.shape) if need_b else None)


def nextafter(input: Tensor, other: Tensor) -> Tensor:
    """The next float after ``input`` towards ``other``, element-wise."""
    _check_other("nextafter", other, scalars=False)
    return Nextafter.apply(input, other)


# -- float_power, frexp, ldexp ------------------------------------------------------------------


def float_power(input: Tensor | Number, exponent: Tensor | Number) -> Tensor:
    """``input ** exponent`` computed in float64 (the result is always double)."""
    if isinstance(input, Tensor):
        base = input.double()
        return pow(base, exponent.double() if isinstance(exponent, Tensor) else exponent)
    return pow(float(input), exponent.double())


def _float_power_(self: Tensor, exponent: Tensor | Number) -> Tensor:
    if self.dtype is not _dt.float64:
        raise RuntimeError(f"the base given to float_power_ has dtype {type_name(self)} but the "
                           "operation's result requires dtype Double")
    return apply_inplace(self, lambda s: float_power(s, exponent))


class Frexp(Op, name="FrexpBackward0"):
    @staticmethod
    def forward(ctx, a):
        mantissa, exponent = ctx.xp.frexp(a)
        exponent = exponent.astype("int32")
        ctx.exponent = exponent
        ctx.mark_non_differentiable(exponent)
        return ctx.xp.asarray(mantissa), exponent

    @staticmethod
    def backward(ctx, g, _):
        return g / ru.const(ctx.xp.ldexp(ctx.xp.ones((), g._data.dtype), ctx.exponent))


_frexp_t = ru.return_type("frexp", ("mantissa", "exponent"))


def frexp(input: Tensor) -> Any:
    """``(mantissa, exponent)`` with ``input = mantissa * 2**exponent``, ``|mantissa|`` in
    ``[0.5, 1)``; the exponent is int32."""
    if not input.is_floating_point():
        raise RuntimeError("torch.frexp() only supports floating-point dtypes".replace(
            "torch.", "ember."))
    return _frexp_t(*Frexp.apply(input))


class Ldexp(_Broadcasting, name="LdexpBackward0"):
    _promote = "float"

    @staticmethod
    def forward(ctx, a, b, *, int_exponent=False):
        ctx.int_exponent = int_exponent
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        with ctx.backend.errors_quiet():
            return a * ctx.xp.exp2(b)

    @staticmethod
    def backward(ctx, g):
        # out = a * 2**b: d/da = 2**b, d/db = a * 2**b * ln 2
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        scale = b.exp2()
        ga = None
        if need_a:
            ga = g * scale
            if ctx.int_exponent:
                # torch takes 2**other in other's integer dtype here, so a negative integer
                # exponent gives input a zero gradient
                ga = where(ru.const(b._data < 0), 0.0, ga)
        return ga, (g * a * scale * math.log(2) if need_b else None)


def ldexp(input: Tensor, other: Tensor) -> Tensor:
    """``input * 2**other``, element-wise (a float result)."""
    _check_other("ldexp", other, scalars=False)
    return Ldexp.apply(input, other, int_exponent=other._data.dtype.kind in "biu")


def ldexp_(input: Tensor, other: Tensor) -> Tensor:
    """In-place :func:`ldexp`."""
    return apply_inplace(input, lambda s: ldexp(s, other))


# -- bit shifts ---------------------------------------------------------------------------------


def _shift(kernel: str, input: Any, other: Any) -> Tensor:
    """``input << other`` (or ``>>``) on integers, as torch's kernels: a shift by the width or
    more, or by a negative amount, gives 0 (``>>`` of a negative number gives -1)."""
    a = input._data if isinstance(input, Tensor) else input
    b = other._data if isinstance(other, Tensor) else other
    rd = _dt.result_type(input, other)
    if rd.is_floating_point or rd is _dt.bool and kernel == "rshift_cpu":
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_dt.scalar_name(rd)}'")
    if rd is _dt.bool:
        rd = _dt.int64
    xp = get_array_module(*(x for x in (a, b) if hasattr(x, "shape")))
    npd = rd.np
    a = xp.asarray(a).astype(npd, copy=False)
    b = xp.asarray(b).astype(npd, copy=False)
    bits = npd.itemsize * 8
    out_of_range = (b < 0) | (b >= bits)
    safe = xp.where(out_of_range, 0, b).astype(npd, copy=False)
    if kernel == "lshift_cpu":
        r = xp.where(out_of_range, 0, xp.left_shift(a, safe))
    else:
        r = xp.where(out_of_range, xp.where(a < 0, -1, 0), xp.right_shift(a, safe))
    return Tensor._make(xp.asarray(r.astype(npd, copy=False)))


def _check_shift_args(name: str, input: Any, other: Any) -> None:
    if not isinstance(input, Tensor):
        _check_other(name, other, scalars=False)
    else:
        _check_other(name, other)


def bitwise_left_shift(input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """``input << other``, element-wise, on integers."""
    _check_shift_args("bitwise_left_shift", input, other)
    return _shift("lshift_cpu", input, other)


def bitwise_right_shift(input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """``input >> other`` (arithmetic), element-wise, on integers."""
    _check_shift_args("bitwise_right_shift", input, other)
    return _shift("rshift_cpu", input, other)


# -- logcumsumexp -------------------------------------------------------------------------------


class Logcumsumexp(Op, name="LogcumsumexpBackward0"):
    @staticmethod
    def forward(ctx, a, *, dim):
        _require_float("logcumsumexp_out_cpu", a)
        ctx.dim = dim
        if a.ndim == 0:
            out = a.copy()
        else:
            # log-add along dim, pairwise as a running ufunc: exact and overflow-free
            with ctx.backend.errors_quiet():  # (half accumulates in float32, as torch's)
                acc = a.astype(ru.acc_dtype(a.dtype), copy=False)
                out = ctx.xp.logaddexp.accumulate(acc, axis=dim).astype(a.dtype, copy=False)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # grad_i = sum_{k >= i} g_k exp(x_i - out_k), in log space for the positive and negative
        # parts of g separately, so that no exp overflows
        x, out = ctx.saved_tensors
        if x.ndim == 0:
            return g
        d = ctx.dim
        xp = ctx.xp
        # log|g| where g has the part's sign, else the lowest finite float: not -inf, whose
        # inf - inf in the next derivative would give nan
        lowest = g.new_full((), float(xp.finfo(g._data.dtype).min))
        with ru.quiet(g._data):
            log_abs = g.abs().log()

        def part(mask: Any) -> Tensor:
            s = (where(ru.const(mask), log_abs, lowest) - out).flip(d).logcumsumexp(d).flip(d)
            return (x + s).exp()

        return part(g._data > 0) - part(g._data < 0)


def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """``log(cumsum(exp(input), dim))``, computed without overflow."""
    return Logcumsumexp.apply(input, dim=_scan_dim("logcumsumexp", input, dim))


# -- in-place twins and torch-level in-place functions ------------------------------------------


def clamp_(input: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """In-place :func:`clamp`."""
    return apply_inplace(input, lambda s: clamp(s, min, max))


def nan_to_num_(input: Tensor, nan: float = 0.0, posinf: float | None = None,
                neginf: float | None = None) -> Tensor:
    """In-place :func:`nan_to_num`."""
    return apply_inplace(input, lambda s: nan_to_num(s, nan, posinf, neginf))


clip_ = clamp_

__all__ = [
    "logaddexp", "logaddexp2", "copysign", "nextafter", "float_power", "frexp", "ldexp",
    "ldexp_", "bitwise_left_shift", "bitwise_right_shift", "logcumsumexp", "clamp_", "clip_",
    "nan_to_num_",
]
TENSOR_METHODS = {name: globals()[name] for name in __all__
                  if name not in ("clamp_", "clip_", "nan_to_num_", "ldexp_")}
TENSOR_METHODS.update({
    "float_power_": _float_power_,
    "ldexp_": ldexp_,
    "__lshift__": _operator(bitwise_left_shift),
    "__rshift__": _operator(bitwise_right_shift),
    "__rlshift__": _operator(bitwise_left_shift, True),
    "__rrshift__": _operator(bitwise_right_shift, True),
})
for _name in ("copysign", "nextafter", "bitwise_left_shift", "bitwise_right_shift"):
    TENSOR_METHODS[_name + "_"] = _inplace_method(_name)
TENSOR_METHODS["__ilshift__"] = TENSOR_METHODS["bitwise_left_shift_"]
TENSOR_METHODS["__irshift__"] = TENSOR_METHODS["bitwise_right_shift_"]
