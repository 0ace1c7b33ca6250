"""Adadelta."""
from __future__ import annotations

from typing import Any

import ember
from ..backend import backend_of
from ..tensor import Tensor
from ._single import _PerParameter, _bump, _scalar, _value
from .optimizer import ParamsT, _check_flags, _check_lr, _check_nonneg, _in_place, _op, _spec

__all__ = ["Adadelta"]


class Adadelta(_PerParameter):
    """Implements the Adadelta algorithm.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: coefficient that scales delta before it is applied to the parameters (default: 1.0).
        rho: coefficient of the running averages of the squared gradient and update (default: 0.9).
        eps: term added to the denominator for numerical stability (default: 1e-6).
        weight_decay: L2 penalty (default: 0).
        foreach, capturable: torch's kernel and CUDA-graph choices; recorded in the groups.
        maximize: maximize the objective instead of minimizing it (default: False).
        differentiable: must be False.
    """

    _capturable_what = "params and state_steps"
    _capturable_devices = "['cuda', 'xpu', 'hpu', 'privateuseone']"

    def __init__(self, params: ParamsT, lr: float | Tensor = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_nonneg(eps, "epsilon value")
        _check_nonneg(weight_decay, "weight_decay value")
        _check_flags(differentiable)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, capturable=capturable, foreach=foreach,
                                      differentiable=differentiable))

    def _init_state(self, group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        state["step"] = _scalar(0.0)
        state["square_avg"] = ember.zeros_like(p)
        state["acc_delta"] = ember.zeros_like(p)

    @staticmethod
    def _update(group: dict[str, Any], param: Tensor, grad: Tensor,
                state: dict[str, Any]) -> None:
        square_avg, acc_delta, step_t = state["square_avg"], state["acc_delta"], state["step"]
        data = param._data
        backend_of(data).optim.adadelta(
            data, grad._data, square_avg._data, acc_delta._data, step_t._data,
            lr=_value(group["lr"]), rho=group["rho"], eps=group["eps"],
            weight_decay=group["weight_decay"], maximize=group["maximize"])
        _bump(param, step_t)  # add_
        _bump(square_avg, acc_delta, by=2)  # mul_, addcmul_

    @staticmethod
    def _check(group: dict[str, Any], param: Tensor, grad: Tensor,
               state: dict[str, Any]) -> None:
        rho, eps = group["rho"], group["eps"]
        _in_place(_spec(state["step"]), 1)  # step += 1
        P, G = _spec(param), _spec(grad)
        if group["weight_decay"] != 0:
            G = _op(G, P)  # grad.add(param, alpha=weight_decay)
        SA = _in_place(_in_place(_spec(state["square_avg"]), rho), G, G)  # .mul_.addcmul_
        std = _op(SA, eps)  # square_avg.add(eps).sqrt_()
        # delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
        delta = _in_place(_in_place(_op(_spec(state["acc_delta"]), eps), std), G)
        _in_place(_in_place(_spec(state["acc_delta"]), rho), delta, delta)
        _in_place(P, delta)  # param.add_(delta, alpha=-lr)
