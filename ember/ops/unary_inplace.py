"""The in-place inverse hyperbolics ``asinh_``, ``acosh_``, ``atanh_`` (and their ``arc*``
names). torch records them as their own nodes (``AsinhBackward1`` ...) with no derivative: a
backward through one raises, rather than differentiating the out-of-place formula."""
from __future__ import annotations

from typing import Any, Callable

from ..graph import grad_mode
from ..tensor import Tensor
from ._op import Op
from .inplace import apply_inplace


class _NoInplaceDerivative(Op):
    @staticmethod
    def forward(ctx, a, *, values, fname):
        ctx.fname = fname
        return values  # (the out-of-place op's result, computed by the caller)

    @staticmethod
    def backward(ctx, g):
        raise NotImplementedError(
            f"the derivative for 'inplace version of {ctx.fname}' is not implemented.")


class AsinhInplace(_NoInplaceDerivative, name="AsinhBackward1"):
    pass


class AcoshInplace(_NoInplaceDerivative, name="AcoshBackward1"):
    pass


class AtanhInplace(_NoInplaceDerivative, name="AtanhBackward1"):
    pass


def _inplace(fname: str, op: type) -> Callable[[Tensor], Tensor]:
    def method(self: Tensor) -> Tensor:
        def compute(alias: Tensor) -> Tensor:
            with grad_mode.no_grad():
                values = getattr(alias, fname)()._data
            return op.apply(alias, values=values, fname=fname)

        return apply_inplace(self, compute)

    method.__name__ = method.__qualname__ = fname + "_"
    method.__doc__ = f"In-place :meth:`Tensor.{fname}` (no derivative, as in torch)."
    return method


__all__: list[str] = []
TENSOR_METHODS: dict[str, Any] = {}
for _name, _op in (("asinh", AsinhInplace), ("acosh", AcoshInplace), ("atanh", AtanhInplace)):
    TENSOR_METHODS[_name + "_"] = TENSOR_METHODS["arc" + _name[1:] + "_"] = _inplace(_name, _op)
