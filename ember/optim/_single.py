"""The shared step of the optimizers whose update is one function per parameter (Adadelta, Adamax,
NAdam, RAdam, ASGD, Rprop).

As the other optimizers (``optimizer._check_update``), a step is all or nothing: the hot path
compares each parameter's gradient and state tensors with the parameter (shape, dtype, array type).
Only a parameter whose tensors differ runs its update first on copies (``_trial``), which raises
torch's error from the very ops torch runs; nothing is written before every parameter has passed.
"""
from __future__ import annotations

from typing import Any, Callable

import ember
from ..ops._util import broadcast_shape
from ..tensor import Tensor
from .optimizer import Optimizer, _Spec, _get_scalar_dtype, _get_value, _quiet, _use_grad

__all__: list[str] = []


def _steps_are_tensors(optimizer: Optimizer, keys: tuple[str, ...] = ("step",)) -> None:
    """Old state dicts stored scalar state as numbers; torch turns them into 0-d tensors."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p)
            for key in keys:
                if state and key in state and not isinstance(state[key], Tensor):
                    state[key] = ember.tensor(float(state[key]), dtype=_get_scalar_dtype())


def _same(p: Tensor, state: dict[str, Any], grad: Tensor) -> bool:
    """Whether the update of ``p`` needs no closer look (the hot path)."""
    a = p._data
    shape, dt, kind = a.shape, a.dtype, type(a)
    g = grad._data
    if g.shape != shape or g.dtype is not dt or type(g) is not kind:
        return False
    for key, value in state.items():
        if not isinstance(value, Tensor):
            return False
        v = value._data
        if v.size == 1 and key in ("step", "eta", "mu", "mu_product"):
            # scalar state (step counters, ASGD's eta and mu, NAdam's mu_product): floating, or
            # an integer step count
            if v.dtype.kind == "f" or (key == "step" and v.dtype.kind in "iu"):
                continue
            return False
        if v.shape != shape or v.dtype is not dt or type(v) is not kind:
            return False
    return True


def _copy_state(state: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.detach().clone() if isinstance(v, Tensor) else v) for k, v in state.items()}


class _PerParameter(Optimizer):
    """An optimizer whose update of each parameter is ``_update(group, param, grad, state)``: its
    backend's kernel (``backend.optim``) on their arrays, which negates the gradient itself to
    maximize, and the version counts of torch's in-place ops (``_bump``)."""

    _scalar_state: tuple[str, ...] = ("step",)
    # torch's assertion for capturable=True with tensors off its CUDA-graph devices (all of
    # ember's): which state it names, and the devices it lists
    _capturable_what = "params and state_steps"
    _capturable_devices = "['cuda', 'xpu', 'hpu', 'privateuseone', 'xla']"

    def _init_state(self, group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        raise NotImplementedError

    @staticmethod
    def _update(group: dict[str, Any], param: Tensor, grad: Tensor,
                state: dict[str, Any]) -> None:
        raise NotImplementedError

    @staticmethod
    def _check(group: dict[str, Any], param: Tensor, grad: Tensor,
               state: dict[str, Any]) -> None:
        """torch's error for the update of ``param``: its ops' checks on shapes and dtypes
        (``optimizer._spec``), in its order."""
        raise NotImplementedError

    def _check_grad(self, p: Tensor) -> None:
        """torch's refusals of a gradient before any update (sparse gradients)."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("capturable", False)
        _steps_are_tensors(self, self._scalar_state)

    @_use_grad
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Performs a single optimization step: all of it, or (raising) none of it."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            if group.get("capturable") and any(p.grad is not None for p in group["params"]):
                raise AssertionError(f"If capturable=True, {self._capturable_what} must be on "
                                     f"supported devices: {self._capturable_devices}.")
        work: list[tuple[dict[str, Any], Tensor, Tensor, dict[str, Any]]] = []
        fresh: list[Tensor] = []
        try:
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    self._check_grad(p)
                    state = self.state[p]
                    if len(state) == 0:
                        fresh.append(p)
                        self._init_state(group, p, state)
                    work.append((group, p, p.grad, state))
            for group, p, g, state in work:  # every check before any write
                if not _same(p, state, g):
                    self._check(group, p, g, state)
                    self._update(group, p.detach().clone(), g.detach().clone(),
                                 _copy_state(state))
        except BaseException:
            for p in fresh:  # a failed step leaves no state behind either
                self.state.pop(p, None)
            raise
        with _quiet([p for _, p, _, _ in work]):
            for group, p, g, state in work:
                self._update(group, p, g, state)
        return loss


def _copy_check(out: _Spec, src: _Spec) -> None:
    """torch's check of ``out.copy_(src)``: ``src`` broadcasts to ``out``'s shape (any dtype)."""
    shape = broadcast_shape(out.shape, src.shape)
    if shape != out.shape:
        raise RuntimeError(f"output with shape {list(out.shape)} doesn't match the broadcast shape "
                           f"{list(shape)}")


def _scalar(value: float) -> Tensor:
    # on the host, as torch keeps step counts: reading one per step is no device sync
    return ember.tensor(float(value), dtype=_get_scalar_dtype(), device="cpu")


def _value(x: Any) -> Any:
    return _get_value(x)


def _bump(*tensors: Tensor, by: int = 1) -> None:
    """Counts ``by`` in-place writes of each of ``tensors``, as torch's in-place ops would."""
    for t in tensors:
        t._version_counter[0] += by
