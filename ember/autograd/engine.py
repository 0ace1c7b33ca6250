"""The reverse pass: the nodes reached so far wait in a queue and run newest first (by creation
sequence, the order PyTorch's engine also follows).

A node is created after every node its edges reach, so creation order is a topological order:
running the discovered node with the highest sequence number first runs each node after all its
consumers have delivered, with no dependency count (which would cost a walk of the graph before
the pass). There is no recursion, so a graph of any depth runs.

Gradients travel on the pass's carrier: bare backend arrays when no graph is recorded, Tensors
under ``create_graph``. Every node takes one route (``call_node``): its backward runs on the
carrier (or on Tensors, for a custom ``Function`` and an op not written in the vocabulary), each
gradient is summed back to its input's shape and cast to its dtype through the carrier's
vocabulary, and the result is delivered to the next nodes' buffers.
"""
from __future__ import annotations

import heapq
import warnings
from typing import Iterable, Sequence

from ..backend import errors_ignored, errors_restored
from ..graph import grad_mode
from ..graph.node import FREED, AccumulateGrad, Node, anomaly, edge
from ..ops.vocabulary import TENSORS
from ..tensor import Tensor

_make = Tensor._make


def run_backward(roots: Sequence, grad_roots: Sequence, retain_graph: bool, create_graph: bool,
                 inputs: Sequence | None = None, accumulate: bool = True,
                 allow_unused: bool = False) -> list:
    """Runs the backward pass from ``roots`` (tensors) seeded with ``grad_roots``.

    With ``accumulate`` the leaves' ``.grad`` (only those in ``inputs`` when given) receive their
    gradients; without it (``autograd.grad``) the gradients flowing into ``inputs`` are returned.
    """
    raw = not create_graph  # the carrier: arrays, or Tensors
    root_edges = [edge(t) for t in roots]
    targets: dict[Node, list] = {}
    needed = seen = None
    if inputs is not None:
        deps, seen = count_dependencies(n for n, _ in root_edges if n is not None)
        for idx, t in enumerate(inputs):
            node, nr = edge(t)
            if node is None:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            targets.setdefault(node, []).append((nr, idx, t))
        needed = _needed_nodes(seen, deps, targets)
    captured: list = [None] * (len(inputs) if inputs is not None else 0)
    buffers: dict[Node, list] = {}  # the discovered nodes that have not run: their gradients
    ready: list = []
    for (node, nr), g in zip(root_edges, grad_roots):
        if node is not None:
            if node not in buffers:
                buffers[node] = [None] * node._n_out
                ready.append((-node._seq, id(node), node))
            old, g = buffers[node][nr], g._data if raw else g
            buffers[node][nr] = g if old is None else _add(old, g, raw)
    heapq.heapify(ready)
    prev_mode = grad_mode.state.enabled
    grad_mode.state.enabled = create_graph
    quiet = errors_ignored()  # torch never warns about inf * 0 and the like; numpy would
    try:
        pop, push, take, get_buffer = heapq.heappop, heapq.heappush, buffers.pop, buffers.get
        leaves = accumulate and inputs is None
        while ready:
            node = pop(ready)[2]
            grads = take(node, None) or [None] * node._n_out
            if node._tensor_hooks or node._retain:
                grads = _tensor_hooks(node, grads, raw)
            if targets and node in targets:
                for nr, idx, t in targets[node]:
                    g = grads[nr]
                    if accumulate and g is not None:
                        _accumulate(t, g, raw, False)
                    else:
                        captured[idx] = _make(g) if raw and g is not None else g
            if type(node) is AccumulateGrad:
                if leaves and grads[0] is not None:
                    g = grads[0]
                    grads = None  # so that ``g`` holds the engine's only reference
                    owned = raw and node.backend.sole_owner(g)  # (asked alone: arguments count)
                    _accumulate(node.variable, g, raw, owned)
                continue
            if needed is not None and node not in needed:
                continue
            grad_inputs = call_node(node, grads, raw)
            grads = None
            if not retain_graph and node._saved:
                node._saved = FREED
            for (nxt, nr), g in zip(node.next_functions, grad_inputs):
                if nxt is None:
                    continue
                buf = get_buffer(nxt)
                if buf is None:  # first reached: queued, even with no gradient (to free it)
                    buf = buffers[nxt] = [None] * nxt._n_out
                    push(ready, (-nxt._seq, id(nxt), nxt))
                if g is not None:
                    buf[nr] = g if buf[nr] is None else _add(buf[nr], g, raw)
            # drop the loop's references, which would keep a leaf from taking its gradient as is
            grad_inputs = g = buf = None
    finally:
        grad_mode.state.enabled = prev_mode
        errors_restored(quiet)
    if inputs is not None and not accumulate and not allow_unused:
        for idx, t in enumerate(inputs):
            if captured[idx] is None and edge(t)[0] not in seen:  # type: ignore[operator]
                raise RuntimeError(
                    f"The differentiated Tensor at index {idx} appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior."
                )
    return captured


def _add(old, g, raw: bool):
    """Two gradients for one output summed: a new value, as either may be aliased."""
    if not raw or old.dtype == g.dtype:
        return old + g
    return (_make(old) + _make(g))._data  # torch's promotion, not numpy's


def call_node(node: Node, grads: list, raw: bool, shapes: list | None = None) -> tuple:
    """Runs ``node``'s backward on the gradients of its outputs (arrays when ``raw``, else
    Tensors); returns one gradient (or None) per edge, summed back to its input's shape and cast
    to its dtype. ``shapes`` receives the shapes the backward returned, before those sums."""
    if node._n_out == 1:
        if grads[0] is None:
            return (None,) * len(node.next_functions)
    elif all(g is None for g in grads):
        return (None,) * len(node.next_functions)
    elif node._materialize_grads:
        xp = node.backend.xp
        grads = [_zeros(xp, m, raw) if g is None and m is not None else g
                 for g, m in zip(grads, node._out_meta)]
    if node._pre_hooks:  # hooks see Tensors
        grads = _wrap(grads, raw)
        for hook in list(node._pre_hooks.values()):
            r = hook(tuple(grads))
            if r is not None:
                grads = list(r)
        grads = _unwrap(grads, raw)
    wrap = raw and not node.on_arrays  # a backward not written in the vocabulary gets Tensors
    tensors = wrap or not raw
    try:
        out = node.backward(node, *(_wrap(grads, True) if wrap else grads))
        if type(out) is not tuple:
            out = (out,)
        if tensors and len(out) != len(node.next_functions):  # (built-in ops: tested instead)
            n = len(node.next_functions)
            if len(out) < n or any(g is not None for g in out[n:]):
                raise RuntimeError(f"function {node.name()} returned an incorrect number of "
                                   f"gradients (expected {n}, got {len(out)})")
            out = out[:n]
        checked = []
        for g, meta, need in zip(out, node._in_meta, node.needs_input_grad):
            if shapes is not None:
                shapes.append(None if g is None else tuple(g.shape))
            if g is None or meta is None or not need:
                checked.append(None)
                continue
            if tensors and not isinstance(g, Tensor):
                raise TypeError(f"function {node.name()} returned a gradient of type "
                                f"{type(g).__name__} at index {len(checked)}; expected a Tensor "
                                "or None")
            shape, dtype = meta
            if g.shape != shape:  # summed back to the shape its input was broadcast from
                if not _sums_to(tuple(g.shape), shape):
                    raise RuntimeError(
                        f"Function {node.name()} returned an invalid gradient at index "
                        f"{len(checked)} - got {list(g.shape)} but expected shape compatible "
                        f"with {list(shape)}")
                g = (TENSORS if tensors else node.backend).sum_to(g, shape)
            gd = g._data.dtype if tensors else g.dtype
            if gd is not dtype and gd != dtype:  # identity first: numpy's == costs more
                g = (TENSORS if tensors else node.backend).cast(g, dtype)
            checked.append(g)
        out = _unwrap(checked, True) if wrap else checked
    except Exception:
        if anomaly.enabled and node._trace:
            _warn_trace(node)
        raise
    if node._post_hooks:
        out, grads = _wrap(out, raw), tuple(_wrap(grads, raw))
        for hook in list(node._post_hooks.values()):
            r = hook(tuple(out), grads)
            if r is not None:
                out = r
        out = _unwrap(out, raw)
    if anomaly.enabled and anomaly.check_nan:
        for i, g in enumerate(out):
            d = g if raw or g is None else g._data
            if d is not None and d.dtype.kind == "f" and bool((d != d).any()):
                _warn_trace(node)
                raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                                   "output.")
    return out


def _wrap(grads, on: bool) -> list:
    return [None if g is None else _make(g) for g in grads] if on else grads


def _unwrap(grads, on: bool) -> tuple:
    return tuple(None if g is None else g._data for g in grads) if on else grads


def _sums_to(src: tuple, dst: tuple) -> bool:
    lead = len(src) - len(dst)
    return lead >= 0 and all(d == s or d == 1 for s, d in zip(src[lead:], dst))


def _zeros(xp, meta: tuple, raw: bool):
    shape, dtype = meta
    z = xp.zeros(shape, dtype.np)
    return z if raw else _make(z)


def _tensor_hooks(node: Node, grads: list, raw: bool) -> list:
    """Runs the hooks of ``register_hook`` and ``retain_grad`` on the outputs' gradients."""
    grads = _wrap(grads, raw)
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
    return list(_unwrap(grads, raw))


def _accumulate(var, g, raw: bool, owned: bool) -> None:
    """Adds ``g`` into the leaf's ``.grad``; ``owned``: nothing else holds the array ``g``, so a
    first gradient is kept as it is rather than copied (torch's AccumulateGrad steal)."""
    old = var._grad  # not the property: the gradient has the leaf's shape and dtype already
    if old is None:
        var._grad = (_make(g if owned else g.copy())) if raw else g
    elif not raw or old._requires_grad:
        var._grad = old + (_make(g) if raw else g)
    else:
        old._data += g  # in place, so references to .grad (an optimizer's) stay valid
    if var._post_acc_hooks:
        for hook in list(var._post_acc_hooks.values()):
            hook(var)


# -- graph discovery ------------------------------------------------------------------------------
def count_dependencies(root_nodes: Iterable[Node]) -> tuple[dict[Node, int], set[Node]]:
    """Discovers the graph below ``root_nodes``: per node, how many edges lead into it, and the set
    of nodes reached."""
    deps: dict[Node, int] = {}
    seen = set(root_nodes)
    stack = list(seen)
    while stack:
        for nxt, _ in stack.pop().next_functions:
            if nxt is not None:
                deps[nxt] = deps.get(nxt, 0) + 1
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
    return deps, seen


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


def _warn_trace(node: Node) -> None:
    trace = "".join(node._trace or ())
    warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the "
                  f"error:\n{trace}", stacklevel=3)
