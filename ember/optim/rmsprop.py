"""RMSprop, optionally centered and with momentum."""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import ember
from ..tensor import Tensor
from ..backend import backend_of
from .optimizer import (Optimizer, ParamsT, _check_flags, _check_lerp, _check_lr, _check_nonneg,
                        _check_update, _differs, _get_scalar_dtype, _get_value, _in_place, _op,
                        _quiet, _spec, _sqrt, _step_as_tensor, _trial, _use_grad)

__all__ = ["RMSprop", "rmsprop"]


class RMSprop(Optimizer):
    """Implements the RMSprop algorithm.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default: 1e-2).
        alpha: smoothing constant of the squared-gradient average (default: 0.99).
        eps: term added to the denominator for numerical stability (default: 1e-8).
        weight_decay: L2 penalty (default: 0).
        momentum: momentum factor (default: 0).
        centered: normalise by an estimate of the gradient's variance instead of its second
            moment (default: False).
        capturable, foreach: recorded in the groups; no effect in ember.
        maximize: maximize the objective instead of minimizing it (default: False).
        differentiable: must be False.
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        _check_lr(lr)
        _check_nonneg(eps, "epsilon value")
        _check_nonneg(momentum, "momentum value")
        _check_nonneg(weight_decay, "weight_decay value")
        _check_nonneg(alpha, "alpha value")
        _check_flags(differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("momentum", 0)
            group.setdefault("centered", False)
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("capturable", False)
            for p in group["params"]:
                _step_as_tensor(self.state.get(p))

    def _init_group(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                    square_avgs: list[Tensor], momentum_buffers: list[Tensor],
                    grad_avgs: list[Tensor], steps: list[Tensor], fresh: list[Tensor]) -> None:
        for p in group["params"]:
            if p.grad is None:
                continue
            params.append(p)
            grads.append(p.grad)
            state = self.state[p]
            if len(state) == 0:
                fresh.append(p)
                state["step"] = ember.tensor(0.0, dtype=_get_scalar_dtype(), device="cpu")
                state["square_avg"] = ember.zeros_like(p)
                if group["momentum"] > 0:
                    state["momentum_buffer"] = ember.zeros_like(p)
                if group["centered"]:
                    state["grad_avg"] = ember.zeros_like(p)
            square_avgs.append(state["square_avg"])
            steps.append(state["step"])
            if group["momentum"] > 0:
                momentum_buffers.append(state["momentum_buffer"])
            if group["centered"]:
                grad_avgs.append(state["grad_avg"])

    @_use_grad
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Performs a single optimization step: all of it, or (raising) none of it."""
        loss = self._eval_closure(closure)
        batches = []
        fresh: list[Tensor] = []
        for group in self.param_groups:
            # params, grads, square_avgs, momentum_buffers, grad_avgs, steps (_init_group's order)
            lists: tuple[list[Tensor], ...] = ([], [], [], [], [], [])
            self._init_group(group, *lists, fresh)
            batches.append((group, lists))
        try:
            for group, lists in batches:  # every check before any write
                params, grads, square_avgs, momentum_buffers, grad_avgs, _ = lists
                states = [square_avgs]
                if group["momentum"] > 0:
                    states.append(momentum_buffers)
                if group["centered"]:
                    states.append(grad_avgs)
                _check_update(params, grads, tuple(states), None,
                              partial(_check_rmsprop, group, *lists))
        except BaseException:
            for p in fresh:  # a failed step leaves no state behind either
                self.state.pop(p, None)
            raise
        for group, (params, grads, square_avgs, momentum_buffers, grad_avgs, steps) in batches:
            rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffers, steps,
                    **_options(group))
        return loss


def _options(group: dict[str, Any]) -> dict[str, Any]:
    return dict(lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                weight_decay=group["weight_decay"], momentum=group["momentum"],
                centered=group["centered"], maximize=group["maximize"])


def _check_rmsprop(group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                   square_avgs: list[Tensor], momentum_buffers: list[Tensor],
                   grad_avgs: list[Tensor], steps: list[Tensor], i: int) -> None:
    """torch's error for the RMSprop update of ``params[i]``: its ops' checks, in its order."""
    p, g, sa, st = params[i], grads[i], square_avgs[i], steps[i]
    buf = momentum_buffers[i] if group["momentum"] > 0 else None
    ga = grad_avgs[i] if group["centered"] else None
    P, G = _spec(p), _spec(g)
    if group["weight_decay"] != 0:
        G = _op(G, P)  # grad.add(param, alpha=weight_decay)
    SA = _in_place(_in_place(_spec(sa), group["alpha"]), G, G)  # .mul_(alpha).addcmul_(g, g)
    if ga is not None:
        GA = _check_lerp(_spec(ga), G)  # grad_avg.lerp_(grad, 1 - alpha)
        centered = _op(SA, GA, GA)  # square_avg.addcmul(grad_avg, grad_avg, value=-1)
        avg = _in_place(centered, _sqrt(centered))  # .sqrt_()
    else:
        avg = _sqrt(SA)
    _in_place(avg, group["eps"])  # avg.add_(eps)
    if buf is not None:
        # buf.mul_(momentum).addcdiv_(grad, avg); param.add_(buf, alpha=-lr)
        _in_place(P, _in_place(_in_place(_spec(buf), group["momentum"]), G, avg))
    else:
        _in_place(P, G, avg)  # param.addcdiv_(grad, avg, value=-lr)
    if _differs(p, g, sa, buf, ga):
        _trial(lambda ps, gs, sas, gas, bufs, sts: rmsprop(ps, gs, sas, gas, bufs, sts,
                                                           **_options(group)),
               [p], [g], [sa], [ga] if ga is not None else [],
               [buf] if buf is not None else [], [st])


def rmsprop(params: list[Tensor], grads: list[Tensor], square_avgs: list[Tensor],
            grad_avgs: list[Tensor], momentum_buffers: list[Tensor], state_steps: list[Tensor], *,
            lr: float, alpha: float, eps: float, weight_decay: float, momentum: float,
            centered: bool, maximize: bool) -> None:
    """The RMSprop update of each parameter and its running averages, in place: the backend's
    ``optim.rmsprop`` kernel on their arrays, with the version counts of torch's in-place ops."""
    lr = _get_value(lr)
    with _quiet(params):
        for i, param in enumerate(params):
            square_avg, step_t = square_avgs[i], state_steps[i]
            grad_avg = grad_avgs[i] if centered else None
            buf = momentum_buffers[i] if momentum > 0 else None
            data = param._data
            backend_of(data).optim.rmsprop(
                data, grads[i]._data, square_avg._data,
                grad_avg._data if grad_avg is not None else None,
                buf._data if buf is not None else None, step_t._data, lr=lr, alpha=alpha,
                eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered,
                maximize=maximize)
            param._version_counter[0] += 1  # addcdiv_, or add_ of the momentum buffer
            step_t._version_counter[0] += 1
            square_avg._version_counter[0] += 2  # mul_, addcmul_
            if grad_avg is not None:
                grad_avg._version_counter[0] += 1  # lerp_
            if buf is not None:
                buf._version_counter[0] += 2  # mul_, addcdiv_
