"""ASGD: averaged stochastic gradient descent."""
from __future__ import annotations

from typing import Any

import ember
from ..tensor import Tensor
from ._single import _PerParameter, _scalar, _value
from .optimizer import ParamsT, _check_flags, _check_lr, _check_nonneg

__all__ = ["ASGD"]


class ASGD(_PerParameter):
    """Implements averaged stochastic gradient descent.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default: 1e-2).
        lambd: decay term (default: 1e-4).
        alpha: power for the eta update (default: 0.75).
        t0: the step at which averaging starts (default: 1e6).
        weight_decay: L2 penalty (default: 0).
        foreach, capturable: torch's kernel and CUDA-graph choices; recorded in the groups.
        maximize: maximize the objective instead of minimizing it (default: False).
        differentiable: must be False.
    """

    _scalar_state = ("step", "eta", "mu")

    _capturable_what = "params, mus, etas, and state_steps"

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        _check_lr(lr)
        _check_nonneg(weight_decay, "weight_decay value")
        _check_flags(differentiable)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, capturable=capturable,
                                      differentiable=differentiable))

    def _init_state(self, group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        state["step"] = _scalar(0.0)
        state["eta"] = _scalar(_value(group["lr"]))
        state["mu"] = _scalar(1.0)
        state["ax"] = ember.zeros_like(p)

    @staticmethod
    def _update(group: dict[str, Any], param: Tensor, grad: Tensor,
                state: dict[str, Any]) -> None:
        lr, lambd, alpha = _value(group["lr"]), group["lambd"], group["alpha"]
        eta, mu, ax = state["eta"], state["mu"], state["ax"]
        state["step"] += 1
        step = _value(state["step"])
        if group["weight_decay"] != 0:
            grad = grad.add(param, alpha=group["weight_decay"])
        eta_value = _value(eta)
        param.mul_(1 - lambd * eta_value)  # decay term
        param.add_(grad, alpha=-eta_value)
        if _value(mu) != 1:  # averaging
            ax.add_(param.sub(ax).mul_(mu))
        else:
            ax.copy_(param)
        eta.copy_(ember.tensor(lr / ((1 + lambd * lr * step) ** alpha)))
        mu.copy_(ember.tensor(1 / max(1, step - group["t0"])))
