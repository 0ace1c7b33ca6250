"""ASGD: averaged stochastic gradient descent."""
from __future__ import annotations

from typing import Any

import ember
from ..backend import backend_of
from ..tensor import Tensor
from ._single import _PerParameter, _bump, _copy_check, _scalar, _value
from .optimizer import ParamsT, _check_flags, _check_lr, _check_nonneg, _in_place, _item, _op, _spec

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
        eta, mu, ax, step_t = state["eta"], state["mu"], state["ax"], state["step"]
        data = param._data
        backend_of(data).optim.asgd(
            data, grad._data, ax._data, eta._data, mu._data, step_t._data,
            lr=_value(group["lr"]), lambd=group["lambd"], alpha=group["alpha"], t0=group["t0"],
            weight_decay=group["weight_decay"], maximize=group["maximize"],
            # torch makes the new eta and mu with as_tensor: in the default dtype
            scalar_dtype=ember.get_default_dtype().np)
        _bump(param, by=2)  # mul_ (the decay term), add_
        _bump(step_t, ax, eta, mu)  # += 1, add_ or copy_, copy_, copy_

    @staticmethod
    def _check(group: dict[str, Any], param: Tensor, grad: Tensor,
               state: dict[str, Any]) -> None:
        _in_place(_spec(state["step"]), 1)  # step_t += 1
        P, G = _spec(param), _spec(grad)
        if group["weight_decay"] != 0:
            G = _op(G, P)  # grad.add(param, alpha=weight_decay)
        _item(state["eta"])
        _in_place(_in_place(P, 1.0), G)  # param.mul_(1 - lambd * eta).add_(grad, alpha=-eta)
        _item(state["mu"])
        AX = _spec(state["ax"])
        if _value(state["mu"]) != 1:  # ax.add_(param.sub(ax).mul_(mu))
            _in_place(AX, _in_place(_op(P, AX), _spec(state["mu"])))
        else:
            _copy_check(AX, P)  # ax.copy_(param)
        _item(state["step"])
