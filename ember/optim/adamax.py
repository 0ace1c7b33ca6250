"""Adamax: Adam with the infinity norm."""
from __future__ import annotations

from typing import Any

import ember
from ..tensor import Tensor
from ._single import _PerParameter, _scalar, _value
from .optimizer import ParamsT, _addcdiv_, _check_flags, _check_lr, _check_nonneg, _lerp_

__all__ = ["Adamax"]


def _check_betas(betas: tuple[float, float]) -> None:
    for i in (0, 1):
        if not 0.0 <= betas[i] < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")


class Adamax(_PerParameter):
    """Implements the Adamax algorithm (a variant of Adam based on the infinity norm).

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default: 2e-3).
        betas: coefficients of the running averages of the gradient and its infinity norm
            (default: (0.9, 0.999)).
        eps: term added to the denominator for numerical stability (default: 1e-8).
        weight_decay: L2 penalty (default: 0).
        foreach, capturable: torch's kernel and CUDA-graph choices; recorded in the groups.
        maximize: maximize the objective instead of minimizing it (default: False).
        differentiable: must be False.
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        _check_lr(lr)
        _check_nonneg(eps, "epsilon value")
        _check_betas(betas)
        _check_nonneg(weight_decay, "weight_decay value")
        _check_flags(differentiable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, capturable=capturable))

    def _init_state(self, group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        state["step"] = _scalar(0.0)
        state["exp_avg"] = ember.zeros_like(p)
        state["exp_inf"] = ember.zeros_like(p)

    @staticmethod
    def _update(group: dict[str, Any], param: Tensor, grad: Tensor,
                state: dict[str, Any]) -> None:
        lr, eps = _value(group["lr"]), group["eps"]
        beta1, beta2 = (_value(b) for b in group["betas"])
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad.add(param, alpha=group["weight_decay"])
        _lerp_(exp_avg, grad, 1 - beta1)
        # maximum(..., out=exp_inf): copy_ raises torch's out= error on a mismatched shape
        exp_inf.copy_(ember.maximum(exp_inf.mul_(beta2), grad.abs().add_(eps)))
        clr = lr / (1 - beta1 ** _value(state["step"]))
        _addcdiv_(param, exp_avg, exp_inf, value=-clr)
