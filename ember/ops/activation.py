"""Activation functions with their own torch nodes: leaky_relu, gelu, silu, elu (selu), celu,
softplus, hardtanh (relu6), logsigmoid, hardsigmoid, hardswish, mish, threshold; and the other
per-element layer op, the embedding lookup.

Each is ``y = f(x)`` on arrays with a backward formula in ember ops (masks, being piecewise
constant, are taken as constants), so gradients of gradients work. In-place variants run through
``apply_inplace``; where torch's in-place node differentiates through the result instead of the
overwritten input (``LeakyReluBackward1``, ``EluBackward1``, ...), so does ember's.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from ._op import Op
from ..backend import backend_of, quiet as _quiet
from ..dtypes import is_float_array
from ..graph import grad_mode
from ..tensor import Tensor
from .inplace import apply_inplace, type_name

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_ONE_SIXTH_F32 = 0.1666666716337204  # float32(1/6)


def _const(t: Tensor, array: Any) -> Tensor:
    """A constant tensor (no history) of ``t``'s dtype: masks and slopes in backward formulas."""
    return Tensor._make(array.astype(t._data.dtype, copy=False))


class _Activation(Op):
    """``y = f(xp, x, **params)``; ``grad(g, s, **params)`` with ``s`` the saved ``x`` (or ``y``
    when ``saves == "y"``)."""

    saves = "x"
    torch_kernel = ""  # torch's kernel name, for the error on integer input
    f: Callable
    grad: Callable

    @staticmethod
    def forward(ctx, a, **params):
        if a.dtype.kind != "f" and not is_float_array(a):  # (bfloat16's numpy kind is "V")
            raise NotImplementedError(f'"{ctx.torch_kernel}" not implemented for '
                                      f"'{type_name(a.dtype)}'")
        xp = ctx.xp
        ctx.params = params
        with _quiet(xp):
            # (bfloat16: computed in float32 and rounded once, as torch's kernels do)
            x = a.astype("float32") if a.dtype.kind == "V" else a
            y = xp.asarray(ctx.f(xp, x, **params)).astype(a.dtype, copy=False)
        ctx.save_for_backward(a if ctx.saves == "x" else y)
        return y

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return ctx.grad(g, s, **ctx.params)


class LeakyRelu(_Activation, name="LeakyReluBackward0"):
    torch_kernel = "leaky_relu_cpu"
    f = staticmethod(lambda xp, x, slope: xp.where(x > 0, x, x * slope))
    grad = staticmethod(lambda g, x, slope: g * _const(g, (x._data > 0) + (x._data <= 0) * slope))


class LeakyReluResult(LeakyRelu, name="LeakyReluBackward1"):
    saves = "y"  # with slope >= 0, y > 0 exactly where x > 0

    @staticmethod
    def grad(g, y, slope):
        if slope < 0:  # y no longer tells the sign of x
            raise RuntimeError(
                "In-place leakyReLu backward calculation is triggered with a negative slope "
                "which is not supported. This is caused by calling in-place forward function "
                "with a negative slope, please call out-of-place version instead. File an issue "
                "at https://github.com/pytorch/pytorch if you do require supporting in-place "
                "leakRelu backward calculation with negative slope")
        return LeakyRelu.grad(g, y, slope)


class Gelu(_Activation, name="GeluBackward0"):
    """The exact form is one fused node: the backend's ``gelu`` and ``gelu_backward`` kernels
    (oneDNN's eltwise, or ``x * Phi(x)`` keeping ``Phi`` and ``phi`` for the backward); under
    ``create_graph`` the composed formula of ``grad`` runs instead."""

    torch_kernel = "GeluKernelImpl"

    @staticmethod
    def forward(ctx, a, **params):
        if params["approximate"] == "tanh" or a.dtype.kind != "f":  # (bfloat16: the plain path)
            return _Activation.forward(ctx, a, **params)
        ctx.params = params
        y, ctx.kept = backend_of(a).gelu(a)
        ctx.save_for_backward(a)
        return y

    @staticmethod
    def backward(ctx, g):
        if "kept" not in ctx.__dict__ or grad_mode.state.enabled:
            return _Activation.backward(ctx, g)
        (x,) = ctx.saved
        return Tensor._make(ctx.backend.gelu_backward(g._data, x, ctx.kept))

    @staticmethod
    def f(xp, x, approximate):
        if approximate == "tanh":
            return 0.5 * x * (1 + xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))
        return 0.5 * x * (1 + backend_of(x).erf(x * _SQRT_HALF))

    @staticmethod
    def grad(g, x, approximate):
        if approximate == "tanh":
            x2 = x * x
            t = (_SQRT_2_OVER_PI * (x + 0.044715 * x2 * x)).tanh()
            dinner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x2)
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dinner)
        cdf = 0.5 * (1 + (x * _SQRT_HALF).erf())
        pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
        return g * (cdf + x * pdf)


class Silu(_Activation, name="SiluBackward0"):
    torch_kernel = "silu_cpu"
    f = staticmethod(lambda xp, x: x / (1 + xp.exp(-x)))

    @staticmethod
    def grad(g, x):
        s = x.sigmoid()
        return g * (s * (1 + x * (1 - s)))


class Elu(_Activation, name="EluBackward0"):
    """``scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1))``; also selu."""

    torch_kernel = "elu_cpu"

    @staticmethod
    def f(xp, x, alpha, scale, input_scale):
        return xp.where(x > 0, x * scale, xp.expm1(x * input_scale) * (alpha * scale))

    @staticmethod
    def grad(g, x, alpha, scale, input_scale):
        pos = _const(g, x._data > 0)
        neg = (x * input_scale).exp() * (alpha * scale * input_scale)
        return g * (pos * scale + (1 - pos) * neg)


class EluResult(Elu, name="EluBackward1"):
    saves = "y"

    @staticmethod
    def grad(g, y, alpha, scale, input_scale):
        pos = _const(g, y._data > 0)  # y > 0 exactly where x > 0 (alpha >= 0, as torch requires)
        return g * (pos * scale + (1 - pos) * ((y + alpha * scale) * input_scale))


class Celu(Elu, name="CeluBackward0"):
    pass


class CeluResult(EluResult, name="CeluBackward1"):
    pass


class Softplus(_Activation, name="SoftplusBackward0"):
    torch_kernel = "softplus_cpu"

    @staticmethod
    def f(xp, x, beta, threshold):
        bx = x * beta
        return xp.where(bx > threshold, x, xp.logaddexp(0, bx) / beta)

    @staticmethod
    def grad(g, x, beta, threshold):
        linear = _const(g, x._data * beta > threshold)
        return g * (linear + (1 - linear) * (x * beta).sigmoid())


class Hardtanh(_Activation, name="HardtanhBackward0"):
    """``clamp(x, min_val, max_val)``; the gradient passes strictly inside, so it can be read
    from the result as well (which the in-place form needs)."""

    torch_kernel = "hardtanh_backward_cpu"
    saves = "y"
    f = staticmethod(lambda xp, x, lo, hi: xp.clip(x, lo, hi))
    grad = staticmethod(lambda g, y, lo, hi: g * _const(g, (y._data > lo) & (y._data < hi)))


class LogSigmoid(_Activation, name="LogSigmoidBackward0"):
    torch_kernel = "log_sigmoid_forward_cpu"
    f = staticmethod(lambda xp, x: -xp.logaddexp(0, -x))
    grad = staticmethod(lambda g, x: g * (-x).sigmoid())


class Hardsigmoid(_Activation, name="HardsigmoidBackward0"):
    torch_kernel = "hardsigmoid_cpu"
    f = staticmethod(lambda xp, x: xp.clip(x + 3, 0, 6) / 6)
    # torch's kernel scales by 1/6 rounded to float32, in double precision too
    grad = staticmethod(lambda g, x: g * _const(g, ((x._data > -3) & (x._data < 3))
                                                * _ONE_SIXTH_F32))


class Hardswish(_Activation, name="HardswishBackward0"):
    torch_kernel = "hardswish_cpu"
    f = staticmethod(lambda xp, x: x * xp.clip(x + 3, 0, 6) / 6)

    @staticmethod
    def grad(g, x):
        inside = _const(g, (x._data > -3) & (x._data < 3))
        above = _const(g, x._data >= 3)
        return g * (inside * (x / 3 + 0.5) + above)


class Mish(_Activation, name="MishBackward0"):
    torch_kernel = "mish_cpu"
    f = staticmethod(lambda xp, x: x * xp.tanh(xp.logaddexp(0, x)))

    @staticmethod
    def grad(g, x):
        t = Softplus.apply(x, beta=1.0, threshold=20.0).tanh()
        return g * (t + x * x.sigmoid() * (1 - t * t))


class Threshold(_Activation, name="ThresholdBackward0"):
    torch_kernel = "threshold_cpu"
    f = staticmethod(lambda xp, x, threshold, value: xp.where(x > threshold, x, value))
    grad = staticmethod(lambda g, x, threshold, value: g * _const(g, x._data > threshold))


class ThresholdInplace(Threshold, name="ThresholdBackward1"):
    pass


# -- the public functions -------------------------------------------------------------------------


def _run(op: type, input: Tensor, inplace: bool = False, result_op: type | None = None,
         **params: Any) -> Tensor:
    if not inplace:
        return op.apply(input, **params)
    if result_op is None:  # the backward reads x: differentiate a copy of the old value
        return apply_inplace(input, lambda a: op.apply(a.clone(), **params))
    return apply_inplace(input, lambda a: result_op.apply(a, **params))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x if x > 0 else negative_slope * x``."""
    return _run(LeakyRelu, input, inplace, LeakyReluResult, slope=negative_slope)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Phi(x)`` with Phi the standard normal CDF; ``approximate='tanh'`` uses
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return Gelu.apply(input, approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (swish)."""
    return _run(Silu, input, inplace)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x if x > 0 else alpha * (exp(x) - 1)``."""
    return _run(Elu, input, inplace, EluResult, alpha=alpha, scale=1.0, input_scale=1.0)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants."""
    return _run(Elu, input, inplace, EluResult, alpha=_SELU_ALPHA, scale=_SELU_SCALE,
                input_scale=1.0)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x if x > 0 else alpha * (exp(x / alpha) - 1)``."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _run(Celu, input, inplace, CeluResult, alpha=alpha, scale=1.0, input_scale=1 / alpha)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, and ``x`` where ``beta * x > threshold``."""
    return Softplus.apply(input, beta=beta, threshold=threshold)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """``clamp(x, min_val, max_val)``."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _run(Hardtanh, input, inplace, Hardtanh, lo=min_val, hi=max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)``."""
    return hardtanh(input, 0.0, 6.0, inplace)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, computed without overflow."""
    return LogSigmoid.apply(input)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``."""
    return _run(Hardsigmoid, input, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``."""
    return _run(Hardswish, input, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``."""
    return _run(Mish, input, inplace)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``x if x > threshold else value``."""
    # in place, torch still masks by the old input (a copy of it, here)
    return _run(ThresholdInplace if inplace else Threshold, input, inplace, threshold=threshold,
                value=value)


# -- embedding -------------------------------------------------------------------------------------


class Embedding(Op, name="EmbeddingBackward0"):
    """``weight[indices]``; the gradient sums rows per index (none into ``padding_idx``)."""

    on_arrays = True

    @staticmethod
    def forward(ctx, w, *, indices, padding_idx, scale_grad_by_freq):
        ctx.indices, ctx.padding_idx, ctx.num = indices, padding_idx, w.shape[0]
        ctx.scale = scale_grad_by_freq
        return w[indices]

    @staticmethod
    def backward(ctx, g):
        return ctx.F.op(EmbeddingGrad, g, indices=ctx.indices, num=ctx.num,
                        padding_idx=ctx.padding_idx, scale=ctx.scale)


class EmbeddingGrad(Op, name="EmbeddingDenseBackwardBackward0"):
    """The rows of ``g`` summed per index into a (num, D) gradient (torch's
    ``embedding_dense_backward``): the backend's ``index_sum``, a sort and a segment sum."""

    @staticmethod
    def forward(ctx, g, *, indices, num, padding_idx, scale):
        xp = ctx.xp
        idx = indices.ravel()
        rows = g.reshape(idx.size, g.shape[-1])
        # per-row factor: 0 at padding_idx, and 1/count of the index with scale_grad_by_freq, in
        # g's dtype (a float64 factor would widen every row), as torch's per-row ``alpha``
        factor = (idx != padding_idx).astype(g.dtype)
        if scale:
            factor *= (1.0 / xp.bincount(idx, minlength=num)[idx]).astype(g.dtype)
        ctx.indices, ctx.factor = indices, factor
        gw = ctx.backend.index_sum(rows * factor[:, None] if scale else rows, idx, num)
        if 0 <= padding_idx < num:  # torch never adds into the padding row (not even a NaN * 0)
            gw[padding_idx] = 0
        return gw

    @staticmethod
    def backward(ctx, gg):
        factor = _const(gg, ctx.factor).reshape(ctx.indices.shape + (1,))
        return Embedding.apply(gg, indices=ctx.indices, padding_idx=-1,
                               scale_grad_by_freq=False) * factor


def embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """``torch.embedding``: rows of ``weight`` picked by ``indices`` (note the argument order,
    which is torch's here; ``nn.functional.embedding`` takes the indices first)."""
    if sparse:  # torch would return a sparse gradient; ember has no sparse tensors
        raise NotImplementedError("embedding: sparse=True (sparse gradients) is not supported by "
                                  "ember, which has no sparse tensors; use sparse=False (the "
                                  "gradient is then dense, with the same values)")
    if indices.dtype.name not in ("int64", "int32"):
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following "
                           f"scalar types: Long, Int; but got {indices.type()} instead (while "
                           "checking arguments for embedding)")
    idx = indices._data
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError("index out of range in self")
    return Embedding.apply(weight, indices=idx, padding_idx=padding_idx,
                           scale_grad_by_freq=scale_grad_by_freq)


# -- dropout ---------------------------------------------------------------------------------------


def masked_dropout(input: Tensor, p: float, inplace: bool, mask_shape: tuple) -> Tensor:
    """torch's dropout composite: ``input * mask`` (a MulBackward0 node) with ``mask`` drawn
    from Bernoulli(1 - p) over ``mask_shape`` (broadcast over the rest) and scaled by
    ``1 / (1 - p)``."""
    noise = input.new_empty(mask_shape)
    if p == 1:
        noise.zero_()
    else:
        noise.bernoulli_(1 - p).div_(1 - p)
    return input.mul_(noise) if inplace else input * noise


def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """``torch.dropout``: zeroes elements with probability ``p`` and scales the rest by
    ``1 / (1 - p)`` when ``train``; returns ``input`` itself otherwise."""
    if not train or p == 0:
        return input
    return masked_dropout(input, p, False, tuple(input.shape))


__all__ = ["selu", "celu", "threshold", "embedding", "dropout"]
TENSOR_METHODS: dict = {}
