"""Adamax: Adam with the infinity norm."""
from __future__ import annotations

from typing import Any

import ember
from ..backend import backend_of
from ..tensor import Tensor
from ._single import _PerParameter, _bump, _scalar, _value
from .optimizer import (ParamsT, _check_flags, _check_lerp, _check_lr, _check_nonneg, _in_place,
                        _item, _op, _spec)

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
        beta1, beta2 = (_value(b) for b in group["betas"])
        exp_avg, exp_inf, step_t = state["exp_avg"], state["exp_inf"], state["step"]
        data = param._data
        backend_of(data).optim.adamax(
            data, grad._data, exp_avg._data, exp_inf._data, step_t._data,
            lr=_value(group["lr"]), beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"], maximize=group["maximize"])
        _bump(param, step_t, exp_avg)  # addcdiv_, += 1, lerp_
        _bump(exp_inf, by=2)  # mul_, then the maximum written into it

    @staticmethod
    def _check(group: dict[str, Any], param: Tensor, grad: Tensor,
               state: dict[str, Any]) -> None:
        _in_place(_spec(state["step"]), 1)  # step_t += 1
        P, G = _spec(param), _spec(grad)
        if group["weight_decay"] != 0:
            G = _op(G, P)  # grad.add(param, alpha=weight_decay)
        EA = _check_lerp(_spec(state["exp_avg"]), G)  # exp_avg.lerp_(grad, 1 - beta1)
        # maximum(exp_inf.mul_(beta2), grad.abs().add_(eps), out=exp_inf)
        EI = _in_place(_in_place(_spec(state["exp_inf"]), group["betas"][1]), _op(G, 1.0))
        _item(state["step"])  # the step as a number, for the bias correction
        _in_place(P, EA, EI)  # param.addcdiv_(exp_avg, exp_inf, value=-clr)
