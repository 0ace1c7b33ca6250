"""``functional_call``: a module's forward with some of its parameters and buffers replaced."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Sequence

from ..nn.modules.module import Module
from ..tensor import Tensor

__all__ = ["functional_call"]


def _owner(module: Module, name: str) -> tuple[Module, str]:
    prefix, _, leaf = name.rpartition(".")
    return (module.get_submodule(prefix) if prefix else module), leaf


@contextmanager
def _reparametrized(module: Module, values: dict[str, Tensor], tie_weights: bool,
                    strict: bool) -> Iterator[None]:
    named = dict(module.named_parameters(remove_duplicate=False))
    named.update(module.named_buffers(remove_duplicate=False))
    if tie_weights:
        # a value given for one name of a tied tensor replaces it under every name
        by_id: dict[int, Tensor] = {}
        for k, v in values.items():
            if k in named:
                by_id[id(named[k])] = v
        for k, t in named.items():
            if k not in values and id(t) in by_id:
                values[k] = by_id[id(t)]
    if strict:
        missing = [k for k in named if k not in values]
        unexpected = [k for k in values if k not in named]
        if missing or unexpected:
            msgs = []
            if unexpected:
                msgs.append("Unexpected key(s): {}.".format(", ".join(map(repr, unexpected))))
            if missing:
                msgs.append("Missing key(s): {}.".format(", ".join(map(repr, missing))))
            raise RuntimeError(f"Error(s) in reparametrizing for {module._get_name()}:\n\t"
                               + "\n\t".join(msgs))
    saved = []
    try:
        for k, v in values.items():
            owner, leaf = _owner(module, k)
            for store in ("_parameters", "_buffers"):
                d = owner.__dict__[store]
                if leaf in d:
                    # the slot itself, so a plain tensor may stand in for a Parameter
                    saved.append((d, leaf, d[leaf]))
                    d[leaf] = v
                    break
            else:
                saved.append((owner, leaf, owner.__dict__.get(leaf, _ABSENT)))
                object.__setattr__(owner, leaf, v)
        yield
    finally:
        for where, leaf, old in reversed(saved):
            if isinstance(where, dict):
                where[leaf] = old
            elif old is _ABSENT:
                object.__delattr__(where, leaf)
            else:
                object.__setattr__(where, leaf, old)


_ABSENT = object()


def functional_call(module: Module,
                    parameter_and_buffer_dicts: Mapping[str, Any] | Sequence[Mapping[str, Any]],
                    args: Any = None, kwargs: dict[str, Any] | None = None, *,
                    tie_weights: bool = True, strict: bool = False) -> Any:
    """Calls ``module(*args, **kwargs)`` with its parameters and buffers replaced by the given
    tensors (by their ``state_dict`` names) for this call only.

    Args:
        module: the module to call.
        parameter_and_buffer_dicts: the replacements, one dict or several (with no name twice).
        args, kwargs: the call's arguments (a single non-tuple ``args`` is one argument).
        tie_weights: a value given for one name of tied tensors replaces all of them.
        strict: every parameter and buffer must be given, and nothing else.
    """
    if isinstance(parameter_and_buffer_dicts, dict):
        values = dict(parameter_and_buffer_dicts)
    elif isinstance(parameter_and_buffer_dicts, Sequence):
        if not all(isinstance(d, dict) for d in parameter_and_buffer_dicts):
            raise ValueError("Expected all elements of parameter_and_buffer_dicts to be "
                             "dictionaries")
        seen: dict[str, int] = {}
        for d in parameter_and_buffer_dicts:
            for k in d:
                seen[k] = seen.get(k, 0) + 1
        repeated = [k for k, c in seen.items() if c > 1]
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of "
                             "functional call is ambiguous")
        values = {k: v for d in parameter_and_buffer_dicts for k, v in d.items()}
    else:
        raise ValueError("Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of "
                         f"dicts, but got {type(parameter_and_buffer_dicts)}")
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _reparametrized(module, values, tie_weights, strict):
        return module(*args, **(kwargs or {}))


def _stacked_leaf(tensors: tuple[Tensor, ...], name: str) -> Tensor:
    import ember

    all_requires_grad = all(t.requires_grad for t in tensors)
    none_requires_grad = all(not t.requires_grad for t in tensors)
    if not all_requires_grad and not none_requires_grad:
        raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
    result = ember.stack(tensors)
    if all_requires_grad:
        result = result.detach().requires_grad_()
    return result


def stack_module_state(models: Sequence[Module]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """The parameters and buffers of same-class ``models`` stacked along a new dim 0 (as new
    leaves), for ``vmap`` over ``functional_call``: model ensembling."""
    if len(models) == 0:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or all(not m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same "
                           "training/eval mode.")
    model0_typ = type(models[0])
    if not all(type(m) is model0_typ for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    all_params = [dict(model.named_parameters()) for model in models]
    params = {k: _stacked_leaf(tuple(p[k] for p in all_params), k) for k in all_params[0]}
    all_buffers = [dict(model.named_buffers()) for model in models]
    buffers = {k: _stacked_leaf(tuple(b[k] for b in all_buffers), k) for k in all_buffers[0]}
    return params, buffers


def replace_all_batch_norm_modules_(root: Module) -> Module:
    """Makes every batch norm under ``root`` use batch statistics only (no running stats), in
    place, as vmap over batch norms requires in torch."""
    from ..nn.modules.batchnorm import _BatchNorm

    for module in root.modules():
        if isinstance(module, _BatchNorm):
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
            module.track_running_stats = False
    return root
