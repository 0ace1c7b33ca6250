"""RAdam: Adam with a rectified adaptive learning rate."""
from __future__ import annotations

from typing import Any

import ember
from ..backend import backend_of
from ..tensor import Tensor
from ._single import _PerParameter, _bump, _scalar, _value
from .adamax import _check_betas
from .optimizer import (ParamsT, _check_flags, _check_lerp, _check_lr, _check_nonneg, _in_place,
                        _item, _op, _spec, _sqrt)

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
        beta1, beta2 = (_value(b) for b in group["betas"])
        exp_avg, exp_avg_sq, step_t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        decoupled = group["decoupled_weight_decay"] and group["weight_decay"] != 0
        data = param._data
        backend_of(data).optim.radam(
            data, grad._data, exp_avg._data, exp_avg_sq._data, step_t._data,
            lr=_value(group["lr"]), beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"])
        _bump(param, by=2 if decoupled else 1)  # (mul_), add_
        _bump(step_t, exp_avg)  # += 1, lerp_
        _bump(exp_avg_sq, by=2)  # mul_, addcmul_

    @staticmethod
    def _check(group: dict[str, Any], param: Tensor, grad: Tensor,
               state: dict[str, Any]) -> None:
        _in_place(_spec(state["step"]), 1)  # step_t += 1
        P, G = _spec(param), _spec(grad)
        if group["weight_decay"] != 0:
            if group["decoupled_weight_decay"]:
                _in_place(P, 1.0)  # param.mul_(1 - lr * weight_decay)
            else:
                G = _op(G, P)  # grad.add(param, alpha=weight_decay)
        EA = _check_lerp(_spec(state["exp_avg"]), G)  # exp_avg.lerp_(grad, 1 - beta1)
        ES = _in_place(_in_place(_spec(state["exp_avg_sq"]), 1.0), G, G)  # .mul_.addcmul_
        _item(state["step"])
        update = _op(EA, 1.0)  # exp_avg / bias_correction1 * lr
        beta2, n = _value(group["betas"][1]), _value(state["step"]) + 1
        rho_inf = 2 / (1 - beta2) - 1
        if rho_inf - 2 * n * (beta2**n) / (1 - beta2**n) > 5.0:  # the rectified step reads v
            update = _op(update, _in_place(_sqrt(ES), 1.0))  # * sqrt(bc2) / sqrt(v).add_(eps)
        _in_place(P, update)  # param.add_(update, alpha=-1.0)
