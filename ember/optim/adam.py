"""Adam (and, with decoupled weight decay, AdamW)."""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import ember
from ..tensor import Tensor
from ..backend import backend_of
from .optimizer import (Optimizer, ParamsT, _check_flags, _check_lerp, _check_lr, _check_nonneg,
                        _check_update, _differs, _get_scalar_dtype, _get_value, _in_place, _item,
                        _op, _quiet, _spec, _sqrt, _step_as_tensor, _trial, _use_grad)

__all__ = ["Adam", "adam"]


class Adam(Optimizer):
    """Implements the Adam algorithm.

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
        lr: learning rate (default: 1e-3).
        betas: coefficients of the running averages of the gradient and its square
            (default: (0.9, 0.999)).
        eps: term added to the denominator for numerical stability (default: 1e-8).
        weight_decay: weight decay; an L2 penalty, or decoupled (AdamW) when
            ``decoupled_weight_decay`` is True (default: 0).
        amsgrad: use the AMSGrad variant (default: False).
        maximize: maximize the objective instead of minimizing it (default: False).
        foreach, fused, capturable: torch's kernel and CUDA-graph choices; recorded in the groups,
            with no effect on ember's single implementation.
        differentiable: must be False.
        decoupled_weight_decay: apply the weight decay to the parameters directly, as AdamW does.
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        _check_lr(lr)
        _check_nonneg(eps, "epsilon value")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        _check_nonneg(weight_decay, "weight_decay value")
        if not (all(isinstance(b, float) for b in betas[:2])
                or all(isinstance(b, Tensor) for b in betas[:2])):
            raise ValueError("betas must be either both floats or both Tensors")
        _check_flags(differentiable)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("capturable", False)
            group.setdefault("differentiable", False)
            group.setdefault("decoupled_weight_decay", False)
            group.setdefault("fused", None)
            for p in group["params"]:
                _step_as_tensor(self.state.get(p))

    def _init_group(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                    exp_avgs: list[Tensor], exp_avg_sqs: list[Tensor],
                    max_exp_avg_sqs: list[Tensor], steps: list[Tensor],
                    fresh: list[Tensor]) -> None:
        for p in group["params"]:
            if p.grad is None:
                continue
            params.append(p)
            grads.append(p.grad)
            state = self.state[p]
            if len(state) == 0:
                fresh.append(p)
                # torch keeps the step count as a 0-d float tensor, so state dicts carry it as one
                state["step"] = ember.tensor(0.0, dtype=_get_scalar_dtype(), device="cpu")
                state["exp_avg"] = ember.zeros_like(p)
                state["exp_avg_sq"] = ember.zeros_like(p)
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = ember.zeros_like(p)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            if group["amsgrad"]:
                max_exp_avg_sqs.append(state["max_exp_avg_sq"])
            steps.append(state["step"])

    @_use_grad
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Performs a single optimization step: all of it, or (raising) none of it."""
        loss = self._eval_closure(closure)
        batches = []
        fresh: list[Tensor] = []
        for group in self.param_groups:
            lists: tuple[list[Tensor], ...] = ([], [], [], [], [], [])
            self._init_group(group, *lists, fresh)
            batches.append((group, lists))
        try:
            for group, lists in batches:  # every check before any write
                params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps = lists
                _check_update(params, grads, (exp_avgs, exp_avg_sqs, max_exp_avg_sqs)
                              if group["amsgrad"] else (exp_avgs, exp_avg_sqs), steps,
                              partial(_check_adam, group, *lists))
        except BaseException:
            for p in fresh:  # a failed step leaves no state behind either
                self.state.pop(p, None)
            raise
        for group, lists in batches:
            adam(*lists, **_options(group))
        return loss


def _options(group: dict[str, Any]) -> dict[str, Any]:
    beta1, beta2 = group["betas"]
    return dict(amsgrad=group["amsgrad"], beta1=beta1, beta2=beta2, lr=group["lr"],
                weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"],
                decoupled_weight_decay=group["decoupled_weight_decay"])


def _check_adam(group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                exp_avgs: list[Tensor], exp_avg_sqs: list[Tensor],
                max_exp_avg_sqs: list[Tensor], steps: list[Tensor], i: int) -> None:
    """torch's error for the Adam/AdamW update of ``params[i]``: its ops' checks, in its order."""
    p, g, ea, es, st = params[i], grads[i], exp_avgs[i], exp_avg_sqs[i], steps[i]
    mx = max_exp_avg_sqs[i] if group["amsgrad"] else None
    beta1, beta2 = (_get_value(b) for b in group["betas"])
    P, G = _spec(p), _spec(g)
    if group["weight_decay"] != 0:
        if group["decoupled_weight_decay"]:
            _in_place(P, 1.0)  # param.mul_(1 - lr * weight_decay)
        else:
            G = _op(G, P)  # grad.add(param, alpha=weight_decay)
    _check_lerp(_spec(ea), G)  # exp_avg.lerp_(grad, 1 - beta1)
    ES = _in_place(_in_place(_spec(es), beta2), G, G)  # .mul_(beta2).addcmul_(grad, grad)
    _item(st)  # the step as a number, for the bias corrections
    if mx is not None:
        ES = _in_place(_spec(mx), ES)  # maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    _in_place(P, _spec(ea), _sqrt(ES))  # param.addcdiv_(exp_avg, denom)
    if _differs(p, g, ea, es, mx):
        _trial(lambda *one: adam(*one, **_options(group)), [p], [g], [ea], [es],
               [mx] if mx is not None else [], [st])


def adam(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
         exp_avg_sqs: list[Tensor], max_exp_avg_sqs: list[Tensor], state_steps: list[Tensor], *,
         amsgrad: bool, beta1: float, beta2: float, lr: float, weight_decay: float, eps: float,
         maximize: bool, decoupled_weight_decay: bool = False) -> None:
    """The Adam/AdamW update of each parameter and its moment estimates, in place: the backend's
    ``optim.adam`` kernel on their arrays, with the version counts of torch's in-place ops."""
    lr, beta1, beta2 = _get_value(lr), _get_value(beta1), _get_value(beta2)
    # torch's in-place ops on the parameter: addcdiv_, and mul_ for decoupled weight decay
    writes = 2 if decoupled_weight_decay and weight_decay != 0 else 1
    with _quiet(params):
        for i, param in enumerate(params):
            exp_avg, exp_avg_sq, step_t = exp_avgs[i], exp_avg_sqs[i], state_steps[i]
            max_sq = max_exp_avg_sqs[i] if amsgrad else None
            data = param._data
            backend_of(data).optim.adam(
                data, grads[i]._data, exp_avg._data, exp_avg_sq._data,
                max_sq._data if max_sq is not None else None, step_t._data, lr=lr, beta1=beta1,
                beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
            param._version_counter[0] += writes
            step_t._version_counter[0] += 1  # step_t += 1
            exp_avg._version_counter[0] += 1  # lerp_
            exp_avg_sq._version_counter[0] += 2  # mul_, addcmul_
            if max_sq is not None:
                max_sq._version_counter[0] += 1  # maximum(..., out=)
