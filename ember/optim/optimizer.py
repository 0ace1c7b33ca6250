"""``Optimizer``: parameter groups, per-parameter state and torch's ``state_dict`` format.

Each optimizer class only gathers lists (params with a gradient, their grads, their state tensors)
and hands them to a plain function, as torch's ``_single_tensor_*`` functions. That function runs
the update of each parameter as its backend's kernel (``backend.optim``, ``optim_kernels.py``: a
few in-place array operations in torch's order, no op dispatch) and bumps the version counters as
torch's in-place ops would.
"""
from __future__ import annotations

import functools
import warnings
from collections import defaultdict
from contextlib import nullcontext
from copy import deepcopy
from itertools import chain
from typing import Any, Callable, Iterable

import ember
from .. import dtypes as _dt
from ..backend import backend_of
from ..graph import grad_mode
from ..graph.node import RemovableHandle, add_hook
from ..ops._util import broadcast_shape
from ..ops.inplace import type_name
from ..tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]
StateDict = dict[str, Any]


class _RequiredParameter:
    """Marks a default that every parameter group must set itself (e.g. an lr with no default)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj: Any) -> str:
    """torch.typename: ``ember.FloatTensor`` for tensors, the qualified class name otherwise."""
    if isinstance(obj, Tensor):
        return f"ember.{type_name(obj)}Tensor"
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module in (None, "builtins") else f"{module}.{cls.__qualname__}"


def _use_grad(step: Callable) -> Callable:
    """Runs ``step`` with gradient recording off (the maths must not enter the autograd graph)."""

    @functools.wraps(step)
    def wrapper(self: Optimizer, *args: Any, **kwargs: Any) -> Any:
        with grad_mode.no_grad():
            return step(self, *args, **kwargs)

    return wrapper


def _get_scalar_dtype() -> ember.dtype:
    """The dtype of the ``step`` counters torch keeps as 0-d tensors: float32, or float64 under a
    float64 default dtype."""
    return ember.float64 if ember.get_default_dtype() == ember.float64 else ember.float32


def _step_as_tensor(state: dict | None) -> None:
    """Old state dicts stored ``step`` as a number; torch turns it into a tensor on load."""
    if state and "step" in state and not isinstance(state["step"], Tensor):
        state["step"] = ember.tensor(float(state["step"]), dtype=_get_scalar_dtype(), device="cpu")


def _get_value(x: Any) -> Any:
    return x.item() if isinstance(x, Tensor) else x


def _quiet(params: list[Tensor]) -> Any:
    """Floating-point warnings off for an update (torch never warns about an overflow there)."""
    return backend_of(params[0]._data).errors_quiet() if params else nullcontext()


# -- all-or-nothing steps --------------------------------------------------------------------------
#
# torch updates one parameter after another, so a step that fails on the third parameter (a loaded
# momentum buffer of the wrong shape, say) has already written the first two. ember's steps check
# the whole update first: every parameter, gradient and state tensor of the step has the
# parameter's shape, dtype and array type (a few compares each: the hot path). Only a parameter
# whose tensors differ is looked at closely: their shapes and dtypes go through the checks of the
# ops torch runs, in its order (each optimizer's ``_check_*``), which raise torch's error; if they
# pass with a dtype or array type still differing, the update runs on copies, so that ember's own
# maths cannot fail midway either. Nothing is written before all of it has passed.


class _Spec:
    """A tensor as a check of the update sees it: its shape and dtype."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape: tuple, dtype: ember.dtype) -> None:
        self.shape, self.dtype = shape, dtype


def _spec(t: Any) -> _Spec:
    if not isinstance(t, Tensor):
        raise TypeError(f"optimizer state holds a {type(t).__name__} where a Tensor is expected")
    return _Spec(t._data.shape, t.dtype)


def _op(*operands: Any) -> _Spec:
    """The result of an out-of-place op on ``operands``: their broadcast shape (torch's error on a
    mismatch) and promoted dtype, Python numbers taking part only by kind."""
    specs = [o for o in operands if isinstance(o, _Spec)]
    d = specs[0].dtype
    for o in specs[1:]:
        d = _dt.promote_types(d, o.dtype)
    for o in operands:
        if not isinstance(o, _Spec):
            sd = _dt.scalar_dtype(o)
            if sd._category > d._category:
                d = sd
    return _Spec(broadcast_shape(*(o.shape for o in specs)), d)


def _in_place(out: _Spec, *operands: Any) -> _Spec:
    """torch's checks of ``out.op_(*operands)``: the result keeps ``out``'s shape, then its dtype
    casts to ``out``'s."""
    res = _op(out, *operands)
    if res.shape != out.shape:
        raise RuntimeError(f"output with shape {list(out.shape)} doesn't match the broadcast shape "
                           f"{list(res.shape)}")
    if res.dtype._category > out.dtype._category:
        raise RuntimeError(f"result type {type_name(res.dtype)} can't be cast to the desired "
                           f"output type {type_name(out.dtype)}")
    return out


_C_TYPES = {"float16": "c10::Half", "float32": "float", "float64": "double", "int8": "signed char",
            "uint8": "unsigned char", "int16": "short int", "int32": "int", "int64": "long int",
            "bool": "bool"}


def _check_lerp(out: _Spec, end: _Spec) -> _Spec:
    """torch's checks of ``out.lerp_(end, weight)``: the same dtype first, then the shapes."""
    if out.dtype is not end.dtype:
        raise RuntimeError(f"expected dtype {_C_TYPES[out.dtype.name]} for `end` but got dtype "
                           f"{_C_TYPES[end.dtype.name]}")
    return _in_place(out, end)


def _sqrt(x: _Spec) -> _Spec:
    return x if x.dtype.is_floating_point else _Spec(x.shape, ember.get_default_dtype())


def _item(step: Any) -> None:
    """``step.item()`` as torch's step reads it: one element, or torch's error."""
    if isinstance(step, Tensor) and step._data.size != 1:
        raise RuntimeError(f"a Tensor with {step._data.size} elements cannot be converted to "
                           "Scalar")


def _check_update(params: list[Tensor], grads: list[Tensor], states: tuple[list, ...],
                  steps: list | None, check: Callable[[int], None]) -> None:
    """Raises, before anything is written, the error that the update of ``params`` would raise.

    Args:
        params, grads: the parameters that get an update, and their gradients.
        states: lists of state tensors, one entry per parameter (None: created by the step).
        steps: step counters that the update reads as a number (Adam, Adagrad), or None.
        check: ``check(i)`` raises torch's error for the update of ``params[i]`` and its state.
    """
    for i, p in enumerate(params):
        a = p._data
        shape, dt, kind = a.shape, a.dtype, type(a)
        try:
            g = grads[i]._data
            same = g.shape == shape and g.dtype is dt and type(g) is kind
            for state in states:
                s = state[i]
                if s is not None and same:
                    s = s._data
                    same = s.shape == shape and s.dtype is dt and type(s) is kind
            if same and steps is not None and isinstance(steps[i], Tensor):
                same = steps[i]._data.size == 1
        except AttributeError:  # state that is not a tensor
            same = False
        if not same:
            check(i)


def _differs(p: Tensor, *tensors: Any) -> bool:
    """Whether a tensor among ``tensors`` has another dtype or array type than ``p``."""
    a = p._data
    return any(t is not None and (t._data.dtype != a.dtype or type(t._data) is not type(a))
               for t in tensors)


def _trial(update: Callable, *lists: list) -> None:
    """Runs ``update`` on copies of one parameter's tensors (lists of one entry), to raise what the
    real update would, with nothing of the real tensors written."""
    update(*([t.detach().clone() if isinstance(t, Tensor) else t for t in lst] for lst in lists))


class Optimizer:
    """Base class for all optimizers.

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts (parameter
            groups, each with a ``params`` entry and optional per-group options).
        defaults: default values of the optimization options, used by groups that don't set them.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: dict[int, Callable] = {}
        self._optimizer_step_post_hooks: dict[int, Callable] = {}
        self._optimizer_state_dict_pre_hooks: dict[int, Callable] = {}
        self._optimizer_state_dict_post_hooks: dict[int, Callable] = {}
        self._optimizer_load_state_dict_pre_hooks: dict[int, Callable] = {}
        self._optimizer_load_state_dict_post_hooks: dict[int, Callable] = {}
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        self.state: defaultdict[Tensor, Any] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # every subclass's step runs the step hooks, however it is defined
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__ and not getattr(cls.step, "_hooked", False):
            cls.step = _with_step_hooks(cls.step)

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            self.__dict__.setdefault(name, {})
        self.defaults.setdefault("differentiable", False)

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    # -- parameter groups ---------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a parameter group (a dict with ``params`` and optional per-group options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)

        tensors, names = [], []
        for p in params:
            if isinstance(p, tuple):
                names.append(p[0])
                tensors.append(p[1])
            else:
                tensors.append(p)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names

        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(p))
            if not self.defaults.get("differentiable", None) and not (p.is_leaf
                                                                        or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)

        if len(tensors) != len(set(tensors)):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, this "
                "will cause an error; see github.com/pytorch/pytorch/issues/40967 for more "
                "information",
                stacklevel=3,
            )

        seen: set[Tensor] = set()
        for group in self.param_groups:
            seen.update(group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if not seen.isdisjoint(tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # -- gradients and stepping ---------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Resets the gradients of all optimized tensors: to None by default, else to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad_(False)
                g.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Performs one optimization step; ``closure`` re-evaluates the model and returns the
        loss."""
        raise NotImplementedError

    def _eval_closure(self, closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        with ember.enable_grad():
            return closure()

    # -- hooks --------------------------------------------------------------------------------
    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Registers ``hook(optimizer, args, kwargs)`` to run before each ``step``; it may return
        new ``(args, kwargs)``."""
        return _add_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """Registers ``hook(optimizer, args, kwargs)`` to run after each ``step``."""
        return _add_hook(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook: Callable,
                                     prepend: bool = False) -> RemovableHandle:
        return _add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable,
                                      prepend: bool = False) -> RemovableHandle:
        return _add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable,
                                          prepend: bool = False) -> RemovableHandle:
        return _add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable,
                                           prepend: bool = False) -> RemovableHandle:
        return _add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # -- state_dict ---------------------------------------------------------------------------
    def state_dict(self) -> StateDict:
        """Returns ``{'state': {id: {...}}, 'param_groups': [{..., 'params': [ids]}]}``, with
        parameters replaced by integer ids numbered in group order (torch's format)."""
        for hook in list(self._optimizer_state_dict_pre_hooks.values()):
            hook(self)
        ids: dict[int, int] = {}
        start = 0

        def pack_group(group: dict[str, Any]) -> dict[str, Any]:
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                ids.setdefault(id(p), i)
            packed["params"] = [ids[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        groups = [pack_group(g) for g in self.param_groups]
        state = {(ids[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        out = {"state": state, "param_groups": groups}
        for hook in list(self._optimizer_state_dict_post_hooks.values()):
            result = hook(self, out)
            if result is not None:
                out = result
        return out

    def load_state_dict(self, state_dict: StateDict) -> None:
        """Loads a state from :meth:`state_dict` (ember's or torch's, with ember tensors). State
        tensors go to their parameter's device and (floating parameters) dtype, except the
        ``step`` counters, which stay on the CPU."""
        state_dict = state_dict.copy()
        for hook in list(self._optimizer_load_state_dict_pre_hooks.values()):
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def cast(param: Tensor, value: Any, key: Any = None) -> Any:
            if isinstance(value, Tensor):
                if key == "step":
                    return value
                if not param.is_floating_point():
                    return value.to(param.device)
                return value.to(param.device, param.dtype)
            if isinstance(value, dict):
                return {k: cast(param, v, k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v) for v in value)
            return value

        state: defaultdict[Any, Any] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v)
            else:
                state[k] = v

        def update_group(group: dict[str, Any], new_group: dict[str, Any]) -> dict[str, Any]:
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, s) for g, s in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for hook in list(self._optimizer_load_state_dict_post_hooks.values()):
            hook(self)


def _add_hook(hooks: dict[int, Callable], hook: Callable, prepend: bool = False) -> RemovableHandle:
    handle = add_hook(hooks, hook)
    if prepend:  # dicts keep insertion order: rebuild with the new hook first
        items = list(hooks.items())
        hooks.clear()
        hooks.update([items[-1]] + items[:-1])
    return handle


def _with_step_hooks(step: Callable) -> Callable:
    @functools.wraps(step)
    def wrapper(self: Optimizer, *args: Any, **kwargs: Any) -> Any:
        for hook in list(getattr(self, "_optimizer_step_pre_hooks", {}).values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{step} must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {result}.")
                args, kwargs = result
        out = step(self, *args, **kwargs)
        for hook in list(getattr(self, "_optimizer_step_post_hooks", {}).values()):
            hook(self, args, kwargs)
        return out

    wrapper._hooked = True  # type: ignore[attr-defined]
    return wrapper


def _check_lr(lr: Any) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def _check_nonneg(value: Any, what: str) -> None:
    """torch's ``Invalid <what>: <value>`` checks of options that must be >= 0."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {what}: {value}")


def _check_flags(differentiable: bool) -> None:
    if differentiable:
        raise NotImplementedError(
            "ember's optimizers do not support differentiable=True (the update always runs "
            "without recording gradients)"
        )
