"""Adadelta."""
from __future__ import annotations

from typing import Any

import ember
from ..tensor import Tensor
from ._single import _PerParameter, _scalar, _value
from .optimizer import ParamsT, _addcmul_, _check_flags, _check_lr, _check_nonneg

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
        lr, rho, eps = _value(group["lr"]), group["rho"], group["eps"]
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad.add(param, alpha=group["weight_decay"])
        _addcmul_(square_avg.mul_(rho), grad, grad, value=1 - rho)
        # out of place: each of these writes a fresh array anyway (an in-place sqrt_ or div_
        # would compute out of place, then copy)
        std = square_avg.add(eps).sqrt()
        delta = acc_delta.add(eps).sqrt().div(std).mul(grad)
        _addcmul_(acc_delta.mul_(rho), delta, delta, value=1 - rho)
        param.add_(delta, alpha=-lr)
