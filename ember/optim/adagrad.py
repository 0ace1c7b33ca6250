"""Adagrad: per-coordinate learning rates from the accumulated squared gradients."""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import ember
from ..tensor import Tensor
from ..backend import backend_of
from .optimizer import (Optimizer, ParamsT, _check_flags, _check_lr, _check_nonneg,
                        _check_update, _differs, _get_scalar_dtype, _get_value, _in_place, _item,
                        _op, _quiet, _spec, _sqrt, _step_as_tensor, _trial, _use_grad)

__all__ = ["Adagrad", "adagrad"]


class Adagrad(Optimizer):
    """Implements the Adagrad algorithm.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default: 1e-2).
        lr_decay: learning rate decay (default: 0).
        weight_decay: L2 penalty (default: 0).
        initial_accumulator_value: starting value of the squared-gradient sums (default: 0).
        eps: term added to the denominator for numerical stability (default: 1e-10).
        foreach, fused: recorded in the groups; no effect in ember.
        maximize: maximize the objective instead of minimizing it (default: False).
        differentiable: must be False.

    As in torch, the state (``step`` and ``sum``) of every parameter is created at construction.
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_lr(lr)
        _check_nonneg(lr_decay, "lr_decay value")
        _check_nonneg(weight_decay, "weight_decay value")
        _check_nonneg(initial_accumulator_value, "initial_accumulator_value value")
        _check_nonneg(eps, "epsilon value")
        _check_flags(differentiable)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p: Tensor) -> None:
        state = self.state[p]
        state["step"] = ember.tensor(0.0, dtype=_get_scalar_dtype(), device="cpu")
        # torch reads the accumulator start from the defaults, not from the group
        state["sum"] = ember.full_like(p, self.defaults["initial_accumulator_value"])

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("fused", None)
        for s in self.state.values():
            _step_as_tensor(s)

    def _init_group(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                    state_sums: list[Tensor], steps: list[Tensor], fresh: list[Tensor]) -> None:
        for p in group["params"]:
            if p.grad is None:
                continue
            params.append(p)
            grads.append(p.grad)
            state = self.state[p]
            if len(state) == 0:  # a parameter added later with add_param_group
                fresh.append(p)
                self._init_state(p)
            state_sums.append(state["sum"])
            steps.append(state["step"])

    @_use_grad
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Performs a single optimization step: all of it, or (raising) none of it."""
        loss = self._eval_closure(closure)
        batches = []
        fresh: list[Tensor] = []
        for group in self.param_groups:
            lists: tuple[list[Tensor], ...] = ([], [], [], [])  # params, grads, sums, steps
            self._init_group(group, *lists, fresh)
            batches.append((group, lists))
        try:
            for group, (params, grads, state_sums, steps) in batches:  # checks before writes
                _check_update(params, grads, (state_sums,), steps,
                              partial(_check_adagrad, group, params, grads, state_sums, steps))
        except BaseException:
            for p in fresh:  # a failed step leaves no state behind either
                self.state.pop(p, None)
            raise
        for group, lists in batches:
            adagrad(*lists, **_options(group))
        return loss


def _options(group: dict[str, Any]) -> dict[str, Any]:
    return dict(lr=group["lr"], weight_decay=group["weight_decay"], lr_decay=group["lr_decay"],
                eps=group["eps"], maximize=group["maximize"])


def _check_adagrad(group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                   state_sums: list[Tensor], steps: list[Tensor], i: int) -> None:
    """torch's error for the Adagrad update of ``params[i]``: its ops' checks, in its order."""
    p, g, ss, st = params[i], grads[i], state_sums[i], steps[i]
    _item(st)  # the step as a number, for the decayed learning rate
    P, G = _spec(p), _spec(g)
    if group["weight_decay"] != 0:
        G = _op(G, P)  # grad.add(param, alpha=weight_decay)
    std = _sqrt(_in_place(_spec(ss), G, G, 1))  # state_sum.addcmul_(grad, grad, value=1)
    _in_place(std, group["eps"])  # std = state_sum.sqrt().add_(eps)
    _in_place(P, G, std)  # param.addcdiv_(grad, std, value=-clr)
    if _differs(p, g, ss):
        _trial(lambda *one: adagrad(*one, **_options(group)), [p], [g], [ss], [st])


def adagrad(params: list[Tensor], grads: list[Tensor], state_sums: list[Tensor],
            state_steps: list[Tensor], *, lr: float, weight_decay: float, lr_decay: float,
            eps: float, maximize: bool) -> None:
    """The Adagrad update of each parameter and its squared-gradient sum, in place: the backend's
    ``optim.adagrad`` kernel on their arrays, with the version counts of torch's in-place ops."""
    lr = _get_value(lr)
    with _quiet(params):
        for param, grad, state_sum, step_t in zip(params, grads, state_sums, state_steps):
            data = param._data
            backend_of(data).optim.adagrad(data, grad._data, state_sum._data, step_t._data,
                                           lr=lr, weight_decay=weight_decay, lr_decay=lr_decay,
                                           eps=eps, maximize=maximize)
            param._version_counter[0] += 1  # addcdiv_
            step_t._version_counter[0] += 1
            state_sum._version_counter[0] += 1  # addcmul_
