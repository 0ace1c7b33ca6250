"""Element-wise functions of one tensor (exp, log, ...); filled in by the elementwise work."""
from __future__ import annotations

from ..autograd.function import Op
from ..tensor import Tensor
from ._util import float_array


class Log(Op, name="LogBackward0"):
    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return np_log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a


class Reciprocal(Op, name="ReciprocalBackward0"):
    @staticmethod
    def forward(ctx, a):
        out = 1 / float_array(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return -g * out * out


def log(input: Tensor) -> Tensor:
    """Natural logarithm, element-wise."""
    return Log.apply(input)


def reciprocal(input: Tensor) -> Tensor:
    """``1 / input``, element-wise."""
    return Reciprocal.apply(input)


import numpy as _np  # noqa: E402

np_log = _np.log

__all__ = ["log", "reciprocal"]
TENSOR_METHODS = {"log": log, "reciprocal": reciprocal}
