"""RAdam: Adam with a rectified adaptive learning rate."""
from __future__ import annotations

from typing import Any

import ember
from ..tensor import Tensor
from ._single import _PerParameter, _scalar, _value
from .adamax import _check_betas
from .optimizer import ParamsT, _addcmul_, _check_flags, _check_lr, _check_nonneg, _lerp_

__all__ = ["RAdam"]


class RAdam(_PerParameter):
    """Implements the RAdam algorithm.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default: 1e-3).
        betas: coefficients of the running averages of the gradient and its square
            (default: (0.9, 0.999)).
        eps: term added to the denominator for numerical stability (default: 1e-8).
        weight_decay: weight decay (default: 0).
        decoupled_weight_decay: apply the weight decay to the parameters directly, as AdamW does
            (default: False).
        foreach, capturable: torch's kernel and CUDA-graph choices; recorded in the groups.
        maximize: maximize the objective instead of minimizing it (default: False).
        differentiable: must be False.
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        _check_nonneg(eps, "epsilon value")
        _check_betas(betas)
        _check_nonneg(weight_decay, "weight_decay value")
        _check_flags(differentiable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      differentiable=differentiable))

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("decoupled_weight_decay", False)

    def _init_state(self, group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        state["step"] = _scalar(0.0)
        state["exp_avg"] = ember.zeros_like(p)
        state["exp_avg_sq"] = ember.zeros_like(p)

    @staticmethod
    def _update(group: dict[str, Any], param: Tensor, grad: Tensor,
                state: dict[str, Any]) -> None:
        lr, eps, wd = _value(group["lr"]), group["eps"], group["weight_decay"]
        beta1, beta2 = (_value(b) for b in group["betas"])
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        state["step"] += 1
        step = _value(state["step"])
        if wd != 0:
            if group["decoupled_weight_decay"]:
                param.mul_(1 - lr * wd)
            else:
                grad = grad.add(param, alpha=wd)
        _lerp_(exp_avg, grad, 1 - beta1)
        _addcmul_(exp_avg_sq.mul_(beta2), grad, grad, value=1 - beta2)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        corrected = exp_avg / bias_correction1
        # the length of the approximated simple moving average, and its limit
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t > 5.0:  # the variance is tractable: rectified adaptive step
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = (bias_correction2**0.5) / exp_avg_sq.sqrt().add_(eps)
            param.add_(corrected * lr * adaptive * rect, alpha=-1.0)
        else:  # early steps: plain momentum SGD
            param.add_(corrected * lr, alpha=-1.0)
