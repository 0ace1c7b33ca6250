"""The in-place comparisons ``eq_``, ``ne_``, ``lt_``, ``le_``, ``gt_``, ``ge_``: the tensor keeps
its dtype and holds 1 where the comparison holds, 0 elsewhere.

Their result is piecewise constant, so nothing flows back through them; but torch records the
write (``GtBackward0`` against a number, ``GtBackward1`` against a tensor) so that a tensor that
required grad passes zeros back, not the gradient of what it held before.
"""
from __future__ import annotations

from typing import Any, Callable

from ..tensor import Tensor
from . import compare
from ._op import Op
from .inplace import apply_inplace


class _Comparison(Op):
    on_arrays = True

    @staticmethod
    def forward(ctx, a, *other, values):
        return values.astype(a.dtype)  # (values: the comparison, with torch's promotion)

    @staticmethod
    def backward(ctx, g):
        zero = g * 0
        return (zero,) + (zero,) * (len(ctx.needs_input_grad) - 1)


class EqNumber(_Comparison, name="EqBackward0"):
    pass


class EqTensor(_Comparison, name="EqBackward1"):
    pass


class NeNumber(_Comparison, name="NeBackward0"):
    pass


class NeTensor(_Comparison, name="NeBackward1"):
    pass


class LtNumber(_Comparison, name="LtBackward0"):
    pass


class LtTensor(_Comparison, name="LtBackward1"):
    pass


class LeNumber(_Comparison, name="LeBackward0"):
    pass


class LeTensor(_Comparison, name="LeBackward1"):
    pass


class GtNumber(_Comparison, name="GtBackward0"):
    pass


class GtTensor(_Comparison, name="GtBackward1"):
    pass


class GeNumber(_Comparison, name="GeBackward0"):
    pass


class GeTensor(_Comparison, name="GeBackward1"):
    pass


def _inplace(name: str, against_number: type, against_tensor: type) -> Callable[..., Tensor]:
    out_of_place = getattr(compare, name)

    def method(self: Tensor, other: Any) -> Tensor:
        def compute(alias: Tensor) -> Tensor:
            values = out_of_place(alias, other)._data  # torch's checks, promotion and errors
            if isinstance(other, Tensor):
                return against_tensor.apply(alias, other, values=values)
            return against_number.apply(alias, values=values)

        return apply_inplace(self, compute)

    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"In-place :meth:`Tensor.{name}`: 1 where it holds, 0 elsewhere."
    return method


__all__: list[str] = []
TENSOR_METHODS: dict[str, Any] = {
    "eq_": _inplace("eq", EqNumber, EqTensor), "ne_": _inplace("ne", NeNumber, NeTensor),
    "lt_": _inplace("lt", LtNumber, LtTensor), "le_": _inplace("le", LeNumber, LeTensor),
    "gt_": _inplace("gt", GtNumber, GtTensor), "ge_": _inplace("ge", GeNumber, GeTensor),
}
