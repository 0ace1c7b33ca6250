"""The reverse pass: the nodes reached so far wait in a queue and run newest first (by creation
sequence, the order PyTorch's engine also follows).

Each node runs once, after every consumer has delivered its gradient (creation order guarantees
it, see ``run_backward``); there is no recursion, so a graph of any depth runs.
"""
from __future__ import annotations

import heapq
import sys
import warnings
from typing import Iterable, Sequence

import numpy as np

from ..backend import errors_ignored, errors_restored, sum_to_axes
from . import function as _function
from . import grad_mode
from ..dtypes import _FROM_NP
from .function import _FREED, AccumulateGrad, Node, _edge, anomaly


def _sum_to(g, shape):
    if not grad_mode.state.enabled:  # no graph to record: sum the array directly
        data = g._data
        return _function._Tensor._make(data.sum(axis=sum_to_axes(data.shape, shape)).reshape(shape))
    from ..ops.reduce import sum_to_size

    return sum_to_size(g, shape)


def _validate(node: Node, grads) -> tuple:
    """Checks a node's returned gradients, summing broadcast ones back to each input's shape."""
    Tensor = _function._Tensor

    if not isinstance(grads, tuple):
        grads = (grads,)
    n = len(node.next_functions)
    if len(grads) != n:
        if len(grads) < n or any(g is not None for g in grads[n:]):
            raise RuntimeError(
                f"function {node.name()} returned an incorrect number of gradients "
                f"(expected {n}, got {len(grads)})"
            )
        grads = grads[:n]
    out = []
    needs = node.needs_input_grad
    for i, g in enumerate(grads):
        meta = node._in_meta[i]
        if g is None or meta is None or not needs[i]:
            out.append(None)
            continue
        if not isinstance(g, Tensor):
            raise TypeError(
                f"function {node.name()} returned a gradient of type {type(g).__name__} at index "
                f"{i}; expected a Tensor or None"
            )
        shape, dtype = meta
        if g._data.shape != shape:
            if not _sums_to(g._data.shape, shape):
                raise RuntimeError(
                    f"Function {node.name()} returned an invalid gradient at index {i} - got "
                    f"{list(g._data.shape)} but expected shape compatible with {list(shape)}"
                )
            g = _sum_to(g, shape)
        if g._data.dtype != dtype:
            g = g.to(_FROM_NP[dtype])
        out.append(g)
    return tuple(out)


def _check_arrays(node: Node, grads: tuple) -> tuple:
    """``_validate`` for a built-in op's ``backward_arrays``: arrays summed back to each input's
    shape and cast to its dtype, returned as arrays."""
    if type(grads) is not tuple:
        grads = (grads,)
    out = []
    append = out.append
    for g, meta, need in zip(grads, node._in_meta, node.needs_input_grad):
        if g is None or meta is None or not need:
            append(None)
            continue
        shape, npd = meta
        if g.shape != shape:
            g = _reduce_to(g, shape)
        gd = g.dtype
        if gd is not npd and gd != npd:  # identity first: numpy's == costs more
            g = g.astype(npd)
        append(g)
    return tuple(out)


def _validate_arrays(node: Node, grads: tuple) -> tuple:
    """``_check_arrays``, with the gradients wrapped as Tensors."""
    make = _function._Tensor._make
    return tuple(None if g is None else make(g) for g in _check_arrays(node, grads))


def _sums_to(src: tuple, dst: tuple) -> bool:
    if len(src) < len(dst):
        return False
    lead = len(src) - len(dst)
    return all(d == s or d == 1 for s, d in zip(src[lead:], dst))


def _zeros(meta):
    Tensor = _function._Tensor
    from ..backend import get_array_module

    shape, dtype = meta
    return Tensor._make(get_array_module().zeros(shape, dtype.np))


_getrefcount = sys.getrefcount if sys.implementation.name == "cpython" else None


def _ref_counts(arr) -> tuple:
    base = arr.base
    return _getrefcount(arr), (0 if base is None else _getrefcount(base))


def _calibrate() -> tuple | None:
    """The reference counts ``_sole_owner`` sees for an array held by one local variable, a view
    of a base nothing else holds: measured rather than assumed, as interpreters differ in the
    references a call adds."""
    if _getrefcount is None:
        return None
    view = np.empty(2)[:]
    return _as_sole_owner_sees(view)


def _as_sole_owner_sees(arr) -> tuple:  # the same call depth and locals as ``_sole_owner``'s count
    n = _getrefcount(arr)
    base = arr.base
    return n, (0 if base is None else _getrefcount(base))


_SOLE = _calibrate()
_SOLE_N, _SOLE_NB = _SOLE or (0, 0)
_ndarray = np.ndarray


def _sole_owner(arr) -> bool:
    """Whether the caller's local ``arr`` is the only reference to the array (and the base it may
    view), so a leaf may keep it as ``.grad`` without a copy: torch's AccumulateGrad steals a
    gradient when its use count says nobody else holds it. It must also be writable and
    C-contiguous, the layout a copy would have."""
    if _SOLE is None or _getrefcount(arr) > _SOLE_N:
        return False
    base = arr.base  # numpy points a view's base at the array owning the memory, never a chain
    if base is not None and (type(base) is not _ndarray or base.base is not None
                             or _getrefcount(base) > _SOLE_NB):
        return False
    flags = arr.flags
    return flags.writeable and flags.c_contiguous


def _accumulate(var, g, create_graph: bool) -> None:
    """Adds the Tensor ``g`` into ``var.grad``."""
    # ``_grad``, not the property: the engine's gradients have the leaf's shape and dtype already
    old = var._grad
    if old is None:
        var._grad = g if create_graph else _function._Tensor._make(g._data.copy())
    elif create_graph or old._requires_grad or g._requires_grad:
        var._grad = old + g
    else:
        old._data += g._data  # in place, so references to .grad (an optimizer's) stay valid
    for hook in (var._post_acc_hooks or {}).values():
        hook(var)


def _accumulate_array(var, g, owned: bool) -> None:
    """``_accumulate`` of a raw gradient array (no graph recorded); ``owned``: nothing else
    holds ``g``, so a first gradient is kept as it is rather than copied."""
    Tensor = _function._Tensor
    old = var._grad
    if old is None:
        var._grad = Tensor._make(g if owned else g.copy())
    elif old._requires_grad:
        var._grad = old + Tensor._make(g)
    else:
        old._data += g  # in place, so references to .grad (an optimizer's) stay valid
    if var._post_acc_hooks:
        for hook in var._post_acc_hooks.values():
            hook(var)


def count_dependencies(root_nodes: Iterable[Node]) -> tuple[dict[Node, int], set[Node]]:
    """Discovers the graph below ``root_nodes``: per node, how many edges lead into it, and the set
    of nodes reached. A node is ready to run once all its incoming edges have delivered."""
    deps: dict[Node, int] = {}
    get = deps.get
    seen = set(root_nodes)
    add = seen.add
    stack = list(seen)
    pop, push = stack.pop, stack.append
    while stack:
        for nxt, _ in pop().next_functions:
            if nxt is not None:
                deps[nxt] = get(nxt, 0) + 1
                if nxt not in seen:
                    add(nxt)
                    push(nxt)
    return deps, seen


def run_backward(
    roots: Sequence,
    grad_roots: Sequence,
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence | None = None,
    accumulate: bool = True,
    allow_unused: bool = False,
):
    """Runs the backward pass from ``roots`` (tensors) seeded with ``grad_roots``.

    With ``accumulate`` the leaves' ``.grad`` (only those in ``inputs`` when given) receive their
    gradients; without it (``autograd.grad``) the gradients flowing into ``inputs`` are returned.
    """
    root_edges = [_edge(t) for t in roots]
    targets: dict[Node, list] = {}
    needed = seen = None
    if inputs is not None:
        deps, seen = count_dependencies(n for n, _ in root_edges if n is not None)
        for idx, t in enumerate(inputs):
            node, nr = _edge(t)
            if node is None:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            targets.setdefault(node, []).append((nr, idx, t))
        needed = _needed_nodes(seen, deps, targets)
    captured: list = [None] * (len(inputs) if inputs is not None else 0)

    # Without create_graph no graph is recorded, and gradients travel as bare arrays (wrapped as
    # Tensors only for hooks, retain_grad, results and ops without ``backward_arrays``).
    raw = not create_graph
    make = _function._Tensor._make
    # A node is created after every node its edges lead to, so creation order is a topological
    # order: running the discovered node with the highest sequence number first runs each node
    # after all its consumers, with no dependency count (which would cost a walk of the graph
    # before the pass). ``buffers`` holds the discovered nodes that have not run yet.
    buffers: dict[Node, list] = {}
    ready: list = []
    for (node, nr), g in zip(root_edges, grad_roots):
        if node is None:
            continue
        if raw:
            g = g._data
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node._n_out
            ready.append((-node._seq, id(node), node))
        buf[nr] = g if buf[nr] is None else _add(buf[nr], g, raw)
    heapq.heapify(ready)

    prev_mode = grad_mode.state.enabled
    grad_mode.state.enabled = create_graph
    # torch never warns about inf * 0 and the like; numpy would, once per op
    quiet = errors_ignored()
    try:
        pop, push = heapq.heappop, heapq.heappush
        take, get_buffer = buffers.pop, buffers.get
        accumulate_leaves = accumulate and inputs is None
        while ready:
            node = pop(ready)[2]
            grads = take(node, None) or [None] * node._n_out
            if node._tensor_hooks or node._retain:
                if raw:
                    grads = [None if g is None else make(g) for g in grads]
                if node._tensor_hooks:
                    _run_tensor_hooks(node, grads)
                if node._retain:
                    for nr, t in node._retain.items():
                        if grads[nr] is not None and t() is not None:
                            _accumulate_retained(t(), grads[nr])
                if raw:
                    grads = [None if g is None else g._data for g in grads]
            if targets and node in targets:
                for nr, idx, t in targets[node]:
                    g = grads[nr]
                    if accumulate and g is not None:
                        if raw:
                            _accumulate_array(t, g, False)
                        else:
                            _accumulate(t, g, create_graph)
                    else:
                        captured[idx] = make(g) if raw and g is not None else g
            if type(node) is AccumulateGrad:
                if accumulate_leaves:
                    g = grads[0]
                    if g is None:
                        continue
                    if raw:
                        grads = None  # so that ``g`` holds the engine's only reference
                        owned = _sole_owner(g)  # (asked alone: a call's pushed arguments count)
                        _accumulate_array(node.variable, g, owned)
                    else:
                        _accumulate(node.variable, g, create_graph)
                continue
            if needed is not None and node not in needed:
                continue
            fast = node.backward_arrays if raw else None
            if (fast is not None and node._n_out == 1 and not node._pre_hooks
                    and not node._post_hooks and not anomaly.enabled):
                # the common node, run inline: ``_call_arrays`` and ``_check_arrays`` in one loop
                # with the hand-off of each gradient to the next node
                g = grads[0]
                grads = None
                if g is None:
                    grad_inputs = None
                else:
                    grad_inputs = fast(node, g)
                    if type(grad_inputs) is not tuple:
                        grad_inputs = (grad_inputs,)
                if not retain_graph and node._saved:
                    node._saved = _FREED  # Node._free, inline
                if grad_inputs is not None:
                    for (nxt, nr), g, meta, need in zip(node.next_functions, grad_inputs,
                                                        node._in_meta, node.needs_input_grad):
                        if nxt is None:
                            continue
                        buf = get_buffer(nxt)
                        if buf is None:
                            buf = buffers[nxt] = [None] * nxt._n_out
                            push(ready, (-nxt._seq, id(nxt), nxt))
                        if g is not None and meta is not None and need:
                            shape, npd = meta
                            if g.shape != shape:
                                g = _reduce_to(g, shape)
                            gd = g.dtype
                            if gd is not npd and gd != npd:  # identity first: == costs more
                                g = g.astype(npd)
                            old = buf[nr]
                            buf[nr] = g if old is None else _add(old, g, raw)
                else:  # no gradient: the next nodes still run (and free what they saved)
                    _discover(node, buffers, ready)
                grad_inputs = g = buf = old = None
                continue
            grad_inputs = _call_arrays(node, grads) if raw else _call(node, grads)
            grads = None
            if not retain_graph and node._saved:
                node._free()
            for (nxt, nr), g in zip(node.next_functions, grad_inputs):
                if nxt is None:
                    continue
                buf = get_buffer(nxt)
                if buf is None:
                    buf = buffers[nxt] = [None] * nxt._n_out
                    push(ready, (-nxt._seq, id(nxt), nxt))
                if g is not None:
                    old = buf[nr]
                    buf[nr] = g if old is None else _add(old, g, raw)
            # drop the loop's references, which would keep a leaf from taking its gradient as is
            grad_inputs = g = buf = old = None
    finally:
        grad_mode.state.enabled = prev_mode
        errors_restored(quiet)

    if inputs is not None and not accumulate and not allow_unused:
        for idx, t in enumerate(inputs):
            if captured[idx] is None and _edge(t)[0] not in seen:  # type: ignore[operator]
                raise RuntimeError(
                    f"The differentiated Tensor at index {idx} appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior."
                )
    return captured


def _discover(node: Node, buffers: dict, ready: list) -> None:
    """Queues the nodes ``node``'s edges lead to that are not queued yet."""
    for nxt, _ in node.next_functions:
        if nxt is not None and nxt not in buffers:
            buffers[nxt] = [None] * nxt._n_out
            heapq.heappush(ready, (-nxt._seq, id(nxt), nxt))


def _reduce_to(g, shape: tuple):
    """An array gradient summed back to ``shape``, the shape its input was broadcast from."""
    return g.sum(axis=sum_to_axes(g.shape, shape)).reshape(shape)


def _needed_nodes(seen: set, deps: dict, targets: dict) -> set:
    """Nodes from which a target can be reached: only these need to run for ``inputs``."""
    remaining = dict(deps)
    order = []
    frontier = [n for n in seen if remaining.get(n, 0) == 0]
    while frontier:
        n = frontier.pop()
        order.append(n)
        for nxt, _ in n.next_functions:
            if nxt is not None:
                remaining[nxt] -= 1
                if remaining[nxt] == 0:
                    frontier.append(nxt)
    needed = set()
    for n in reversed(order):
        if n in targets or any(nxt in needed for nxt, _ in n.next_functions if nxt is not None):
            needed.add(n)
    return needed


def _run_tensor_hooks(node: Node, grads: list) -> None:
    for nr, hooks in node._tensor_hooks.items():
        g = grads[nr]
        if g is None:
            continue
        for hook in list(hooks.values()):
            r = hook(g)
            if r is not None:
                g = r
        grads[nr] = g


def _accumulate_retained(t, g) -> None:
    Tensor = _function._Tensor

    if t._grad is None:
        t._grad = g if grad_mode.state.enabled else Tensor._make(g._data.copy())
    else:
        t._grad = t._grad + g


def _add(old, g, raw: bool):
    """Sums two gradients for the same output (arrays when ``raw``): a new value, as either
    may be aliased."""
    if raw:
        if old.dtype == g.dtype:
            return old + g
        make = _function._Tensor._make
        return (make(old) + make(g))._data  # torch's promotion, not numpy's
    if grad_mode.state.enabled or old._data.dtype != g._data.dtype:
        return old + g
    return _function._Tensor._make(old._data + g._data)


def _call(node: Node, grads: list) -> tuple:
    """Runs ``node``'s backward on Tensor gradients (a graph is recorded: create_graph)."""
    if node._n_out == 1:
        if grads[0] is None:
            return (None,) * len(node.next_functions)
    elif all(g is None for g in grads):
        return (None,) * len(node.next_functions)
    elif node._materialize_grads:
        grads = [_zeros(m) if g is None and m is not None else g for g, m in zip(grads, node._out_meta)]
    if node._pre_hooks:
        grads = _run_pre_hooks(node, grads)
    try:
        fast = node.backward_arrays
        if fast is not None and not grad_mode.state.enabled:
            arrays = [None if g is None else g._data for g in grads]
            grad_inputs = _validate_arrays(node, fast(node, *arrays))
        else:
            grad_inputs = _validate(node, node.backward(node, *grads))
    except Exception:
        if anomaly.enabled and node._trace:
            _warn_trace(node)
        raise
    if node._post_hooks:
        grad_inputs = _run_post_hooks(node, grad_inputs, grads)
    if anomaly.enabled and anomaly.check_nan:
        _check_nan(node, [None if g is None else g._data for g in grad_inputs])
    return grad_inputs


def _call_arrays(node: Node, grads: list) -> tuple:
    """``_call`` with no graph recorded: array gradients in and out. An op's ``backward_arrays``
    runs on them directly; any other backward gets them wrapped as Tensors."""
    if node._n_out == 1:
        if grads[0] is None:
            return (None,) * len(node.next_functions)
    elif all(g is None for g in grads):
        return (None,) * len(node.next_functions)
    elif node._materialize_grads:
        grads = [_zeros(m)._data if g is None and m is not None else g
                 for g, m in zip(grads, node._out_meta)]
    fast = node.backward_arrays
    if fast is None or node._pre_hooks or node._post_hooks:
        make = _function._Tensor._make
        grad_inputs = _call(node, [None if g is None else make(g) for g in grads])
        return tuple(None if g is None else g._data for g in grad_inputs)
    if not anomaly.enabled:
        return _check_arrays(node, fast(node, *grads))
    try:
        grad_inputs = _check_arrays(node, fast(node, *grads))
    except Exception:
        if node._trace:
            _warn_trace(node)
        raise
    if anomaly.check_nan:
        _check_nan(node, grad_inputs)
    return grad_inputs


def _run_pre_hooks(node: Node, grads: list) -> list:
    for hook in list(node._pre_hooks.values()):
        r = hook(tuple(grads))
        if r is not None:
            grads = list(r)
    return grads


def _run_post_hooks(node: Node, grad_inputs: tuple, grads: list) -> tuple:
    for hook in list(node._post_hooks.values()):
        r = hook(grad_inputs, tuple(grads))
        if r is not None:
            grad_inputs = tuple(r)
    return grad_inputs


def _check_nan(node: Node, arrays) -> None:
    for i, g in enumerate(arrays):
        if g is not None and g.dtype.kind == "f" and bool((g != g).any()):
            _warn_trace(node)
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")


def _warn_trace(node: Node) -> None:
    trace = "".join(node._trace or ())
    warnings.warn(
        f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n{trace}",
        stacklevel=3,
    )
