"""Rprop: resilient backpropagation."""
from __future__ import annotations

from typing import Any

import ember
from ..backend import backend_of
from ..tensor import Tensor
from ._single import _PerParameter, _bump, _copy_check, _scalar, _value
from .optimizer import ParamsT, _check_flags, _check_lr, _in_place, _op, _spec

__all__ = ["Rprop"]


class Rprop(_PerParameter):
    """Implements the resilient backpropagation algorithm.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate, the initial step size (default: 1e-2).
        etas: multiplicative decrease and increase factors (default: (0.5, 1.2)).
        step_sizes: minimal and maximal allowed step sizes (default: (1e-6, 50)).
        capturable, foreach: torch's CUDA-graph and kernel choices; recorded in the groups.
        maximize: maximize the objective instead of minimizing it (default: False).
        differentiable: must be False.
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        _check_flags(differentiable)
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _init_state(self, group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        state["step"] = _scalar(0.0)
        state["prev"] = ember.zeros_like(p)
        state["step_size"] = ember.full_like(p.grad, _value(group["lr"]))

    @staticmethod
    def _update(group: dict[str, Any], param: Tensor, grad: Tensor,
                state: dict[str, Any]) -> None:
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        prev, step_size, step_t = state["prev"], state["step_size"], state["step"]
        data = param._data
        backend_of(data).optim.rprop(
            data, grad._data, prev._data, step_size._data, step_t._data, etaminus=etaminus,
            etaplus=etaplus, step_size_min=step_size_min, step_size_max=step_size_max,
            maximize=group["maximize"])
        _bump(param, step_t, prev)  # addcmul_, += 1, copy_
        _bump(step_size, by=2)  # mul_, clamp_

    @staticmethod
    def _check(group: dict[str, Any], param: Tensor, grad: Tensor,
               state: dict[str, Any]) -> None:
        _in_place(_spec(state["step"]), 1)  # step += 1
        P, G = _spec(param), _spec(grad)
        sign = _op(G, _spec(state["prev"]))  # grad.mul(prev).sign()
        SS = _in_place(_spec(state["step_size"]), sign)  # step_size.mul_(sign).clamp_(...)
        _in_place(P, G, SS)  # param.addcmul_(grad.sign(), step_size, value=-1)
        _copy_check(_spec(state["prev"]), G)  # prev.copy_(grad)
