"""The user's code the engine runs around a node: hooks (``register_hook``, ``retain_grad``,
``register_prehook``, a node's ``register_hook``) and anomaly mode's reports. Hooks see Tensors,
whichever carrier the pass runs on."""
from __future__ import annotations

import warnings

from ..graph.node import Node, anomaly
from ..tensor import Tensor

_make = Tensor._make


def pre_hooks(node: Node, grads: list, raw: bool) -> list:
    """Runs ``node``'s pre hooks on the gradients of its outputs; returns them as left."""
    grads = wrap(grads, raw)
    for hook in list(node._pre_hooks.values()):
        r = hook(tuple(grads))
        if r is not None:
            grads = list(r)
    return list(unwrap(grads, raw))


def post_hooks(node: Node, out: list, grads: list, raw: bool) -> list:
    """Runs ``node``'s post hooks (``register_hook``) and anomaly mode's nan check on its checked
    gradients ``out``; returns them as the hooks left them."""
    if node._hooked and node._post_hooks:
        out, grads = wrap(out, raw), tuple(wrap(grads, raw))
        for hook in list(node._post_hooks.values()):
            r = hook(tuple(out), grads)
            if r is not None:
                out = r
        out = list(unwrap(out, raw))
    if anomaly.enabled and anomaly.check_nan:
        for i, g in enumerate(out):
            d = g if raw or g is None else g._data
            if d is not None and d.dtype.kind == "f" and bool((d != d).any()):  # noqa: PLR0124
                warn_trace(node)
                raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                                   "output.")
    return out


def tensor_hooks(node: Node, grads: list, raw: bool) -> list:
    """Runs the hooks of ``register_hook`` and ``retain_grad`` on the outputs' gradients."""
    if not node._tensor_hooks and not node._retain:
        return grads
    grads = wrap(grads, raw)
    for nr, hooks in (node._tensor_hooks or {}).items():
        if grads[nr] is not None:
            for hook in list(hooks.values()):
                r = hook(grads[nr])
                if r is not None:
                    grads[nr] = r
    for nr, ref in (node._retain or {}).items():
        t, g = ref(), grads[nr]
        if g is not None and t is not None:
            t._grad = (g if not raw else _make(g._data.copy())) if t._grad is None else t._grad + g
    return list(unwrap(grads, raw))


def wrap(grads, on: bool) -> list:
    """Array gradients as Tensors (where ``on``), as hooks and Tensor formulas take them."""
    return [None if g is None else _make(g) for g in grads] if on else grads


def unwrap(grads, on: bool) -> tuple:
    return tuple(None if g is None else g._data for g in grads) if on else grads


def warn_trace(node: Node) -> None:
    trace = "".join(node._trace or ())
    warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the "
                  f"error:\n{trace}", stacklevel=3)
