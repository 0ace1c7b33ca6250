"""Stochastic gradient descent, optionally with (Nesterov) momentum."""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

from ..backend import backend_of
from ..tensor import Tensor
from .optimizer import (Optimizer, ParamsT, _check_flags, _check_lr, _check_nonneg,
                        _check_update, _differs, _get_value, _in_place, _op, _quiet, _spec,
                        _trial, _use_grad)

__all__ = ["SGD", "sgd"]


class SGD(Optimizer):
    """Implements stochastic gradient descent (optionally with momentum).

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default: 1e-3).
        momentum: momentum factor (default: 0).
        dampening: dampening for momentum (default: 0).
        weight_decay: L2 penalty (default: 0).
        nesterov: enables Nesterov momentum (default: False).
        maximize: maximize the objective instead of minimizing it (default: False).
        foreach, fused: torch's kernel choices, recorded in the groups; ember has a single
            implementation.
        differentiable: must be False.

    Note:
        Unless ``fused`` is given, the parameter groups hold the keys that torch printed before it
        added ``fused`` to SGD, the ones the PyTorch tutorials show: ``print(optimizer)`` has no
        ``fused`` line, where torch 2.13 prints ``fused: None``.
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float | Tensor = 0, nesterov: bool = False,
                 *, maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_lr(lr)
        _check_nonneg(momentum, "momentum value")
        _check_nonneg(weight_decay, "weight_decay value")
        _check_flags(differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach,
                        differentiable=differentiable)
        if fused is not None:
            defaults["fused"] = fused
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)

    def _init_group(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                    momentum_buffers: list[Tensor | None]) -> None:
        for p in group["params"]:
            if p.grad is None:  # frozen, or not used by the loss: no update, no state
                continue
            params.append(p)
            grads.append(p.grad)
            if group["momentum"] != 0:
                momentum_buffers.append(self.state[p].get("momentum_buffer"))

    @_use_grad
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Performs a single optimization step: all of it, or (raising) none of it."""
        loss = self._eval_closure(closure)
        batches = []
        for group in self.param_groups:
            params: list[Tensor] = []
            grads: list[Tensor] = []
            momentum_buffers: list[Tensor | None] = []
            self._init_group(group, params, grads, momentum_buffers)
            batches.append((group, params, grads, momentum_buffers))
        for group, params, grads, momentum_buffers in batches:  # every check before any write
            _check_update(params, grads, (momentum_buffers,) if group["momentum"] != 0 else (),
                          None, partial(_check_sgd, group, params, grads, momentum_buffers))
        for group, params, grads, momentum_buffers in batches:
            sgd(params, grads, momentum_buffers, **_options(group))
            if group["momentum"] != 0:
                for p, buf in zip(params, momentum_buffers):
                    self.state[p]["momentum_buffer"] = buf
        return loss


def _options(group: dict[str, Any]) -> dict[str, Any]:
    return dict(weight_decay=group["weight_decay"], momentum=group["momentum"], lr=group["lr"],
                dampening=group["dampening"], nesterov=group["nesterov"],
                maximize=group["maximize"])


def _check_sgd(group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
               momentum_buffers: list[Tensor | None], i: int) -> None:
    """torch's error for the SGD update of ``params[i]``: its ops' checks, in its order."""
    p, g = params[i], grads[i]
    momentum = group["momentum"]
    buf = momentum_buffers[i] if momentum != 0 else None
    P, G = _spec(p), _spec(g)
    if group["weight_decay"] != 0:
        G = _op(G, P)  # grad.add(param, alpha=weight_decay)
    if momentum != 0:
        # buf.mul_(momentum).add_(grad, alpha=1 - dampening) (a first step clones the gradient)
        B = G if buf is None else _in_place(_in_place(_spec(buf), momentum), G)
        G = _op(G, B) if group["nesterov"] else B
    _in_place(P, G)  # param.add_(grad, alpha=-lr)
    if _differs(p, g, buf):
        _trial(lambda ps, gs, bs: sgd(ps, gs, bs, **_options(group)), [p], [g], [buf])


def sgd(params: list[Tensor], grads: list[Tensor], momentum_buffers: list[Tensor | None], *,
        weight_decay: float, momentum: float, lr: float, dampening: float, nesterov: bool,
        maximize: bool) -> None:
    """The SGD update of each parameter in place (the backend's ``optim.sgd`` kernel on their
    arrays); fills ``momentum_buffers`` on the first step."""
    lr, weight_decay = _get_value(lr), _get_value(weight_decay)
    with _quiet(params):
        for i, param in enumerate(params):
            buf = momentum_buffers[i] if momentum != 0 else None
            data = param._data
            new = backend_of(data).optim.sgd(
                data, grads[i]._data, buf._data if buf is not None else None, lr=lr,
                weight_decay=weight_decay, momentum=momentum, dampening=dampening,
                nesterov=nesterov, maximize=maximize)
            param._version_counter[0] += 1  # add_
            if momentum != 0:
                if buf is None:  # the first step starts the buffer (torch's clone: version 0)
                    momentum_buffers[i] = Tensor._make(new)
                else:
                    buf._version_counter[0] += 2  # mul_, add_
