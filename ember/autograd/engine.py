"""The reverse pass: the nodes reached so far wait in a queue (a heap of their negated creation
sequence numbers, unique ints) and run newest first, the order PyTorch's engine also follows.
A node is created after every node its edges reach, so creation order is a topological order:
running the discovered node with the highest sequence number first runs each node after all its
consumers have delivered, with no dependency count (which would cost a walk of the graph before
the pass). There is no recursion, so a graph of any depth runs.

Gradients travel on the pass's carrier: bare backend arrays when no graph is recorded, Tensors
under ``create_graph``. Every node takes one route (``call_node``): its backward runs on the
carrier (or on Tensors, for a custom ``Function`` and an op not written in the vocabulary), each
gradient is summed back to its input's shape and cast to its dtype through the carrier's
vocabulary, and the result is delivered to the next nodes' buffers. Once a second GPU is in use,
``call_node`` and ``_accumulate`` run with their gradients' GPU current (``_device_guard``).
"""
from __future__ import annotations

import heapq
from collections.abc import Sequence

from ..backend import NUMPY, backend_of, errors_ignored, errors_restored
from .._device_guard import guard_function
from ..graph import grad_mode
from ..graph.node import FREED, AccumulateGrad, Node, anomaly, edge
from ..graph.walk import count_dependencies, needed_nodes
from ..ops.vocabulary import TENSORS
from ..tensor import Tensor
from .hooks import post_hooks, pre_hooks, tensor_hooks, warn_trace
from .hooks import wrap as _wrap

_make = Tensor._make
_NP = NUMPY.array_type
_push, _get = heapq.heappush, dict.get  # (module names: looked up once per node)


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
        needed = needed_nodes(seen, deps, targets)
    captured: list = [None] * (len(inputs) if inputs is not None else 0)
    buffers: dict[Node, list] = {}  # the discovered nodes that have not run: their gradients
    ready: list = []  # their negated sequence numbers, a heap
    queued: dict[int, Node] = {}  # ... and the nodes they stand for
    for (node, nr), g in zip(root_edges, grad_roots):
        if node is not None:
            if node not in buffers:
                buffers[node] = [None] * node._n_out
                ready.append(-node._seq)
                queued[-node._seq] = node
            old, g = buffers[node][nr], g._data if raw else g
            buffers[node][nr] = g if old is None else _add(old, g, raw)
    heapq.heapify(ready)
    prev_mode = grad_mode.state.enabled
    grad_mode.state.enabled = create_graph
    quiet = errors_ignored()  # torch never warns about inf * 0 and the like; numpy would
    try:
        pop, take, to = heapq.heappop, buffers.pop, (buffers, ready, queued)
        leaves = accumulate and inputs is None
        while ready:
            node = queued.pop(pop(ready))
            grads = take(node, None) or [None] * node._n_out
            if node._hooked:
                grads = tensor_hooks(node, grads, raw)
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
                    owned = raw and (NUMPY if type(g) is _NP else backend_of(g)).sole_owner(g)
                    _accumulate(node.variable, g, raw, owned)
                continue
            if needed is not None and node not in needed:
                continue
            call_node(node, grads, raw, to)
            grads = None
            if not retain_graph and node._saved:
                node._saved = FREED
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


def call_node(node: Node, grads: list, raw: bool, to: tuple | None = None,
              shapes: list | None = None) -> list | None:
    """Runs ``node``'s backward on the gradients of its outputs (arrays when ``raw``, else
    Tensors); each gradient is summed back to its input's shape and cast to its dtype (on the
    carrier's vocabulary). Given ``to`` (the engine's ``(buffers, queue)``), hands each to its
    next node's buffer, queueing the node when first reached, and returns None; else returns
    one gradient (or None) per edge. ``shapes`` receives the shapes the backward returned."""
    edges = node.next_functions
    n_out = node._n_out
    if grads[0] is None if n_out == 1 else all(g is None for g in grads):
        out = (None,) * len(edges)  # the next nodes are still reached (and free what they saved)
        late = wrap = tensors = False
    else:
        if n_out > 1 and node._materialize_grads:
            xp = node.backend.xp
            grads = [_zeros(xp, m, raw) if g is None and m is not None else g
                     for g, m in zip(grads, node._out_meta)]
        hooked = node._hooked
        if hooked and node._pre_hooks:
            grads = pre_hooks(node, grads, raw)
        wrap = raw and not node.on_arrays  # a backward not in the vocabulary gets Tensors
        tensors = wrap or not raw
        try:
            out = (node.backward(node, *_wrap(grads, True)) if wrap
                   else node.backward(node, grads[0]) if n_out == 1
                   else node.backward(node, *grads))
        except Exception:
            if anomaly.enabled and node._trace:
                warn_trace(node)
            raise
        if type(out) is not tuple:
            out = (out,)
        if tensors and len(out) != len(edges):  # (built-in ops on arrays: tested instead)
            n = len(edges)
            if len(out) < n or any(g is not None for g in out[n:]):
                raise RuntimeError(f"function {node.name()} returned an incorrect number of "
                                   f"gradients (expected {n}, got {len(out)})")
            out = out[:n]
        late = (hooked and node._post_hooks) or anomaly.enabled  # they see the checked ones
    if shapes is not None:
        shapes.extend(None if g is None else tuple(g.shape) for g in out)
    sink = None if late else to
    if sink is not None:
        buffers, ready, queued = sink
    while True:
        # each gradient checked against its input (summed back to its shape, cast to its dtype;
        # None for an input that takes none), then delivered to ``sink`` or collected
        checked = [] if sink is None else None
        for (nxt, nr), g, meta in zip(edges, out, node._in_meta):
            if g is not None:
                if meta is None:
                    g = None
                else:
                    shape, dtype = meta
                    if tensors and not isinstance(g, Tensor):
                        _raise_not_tensor(node, out, g)
                    gd = g._data.dtype if tensors else g.dtype
                    if g.shape != shape:  # summed back to the shape its input was broadcast from
                        if tensors and not _sums_to(tuple(g.shape), shape):  # (built-in: tested)
                            _raise_shape(node, out, g, shape)
                        g = (TENSORS if tensors else node.backend).sum_to(g, shape)
                    if gd is not dtype and gd != dtype:  # identity first: numpy's == costs more
                        g = (TENSORS if tensors else node.backend).cast(g, dtype)
                    if wrap:
                        g = g._data
            if sink is None:
                checked.append(g)
            elif nxt is not None:
                buf = _get(buffers, nxt)
                if buf is None:  # first reached: queued, even with no gradient (to free it)
                    buf = buffers[nxt] = [None] * nxt._n_out
                    seq = -nxt._seq
                    _push(ready, seq)
                    queued[seq] = nxt
                if g is not None:
                    buf[nr] = g if buf[nr] is None else _add(buf[nr], g, raw)
        if not late:
            return checked
        # post hooks (and anomaly mode's nan check) see the checked gradients; what they return
        # goes through the same loop again (its checks leave unchanged gradients as they are)
        out = post_hooks(node, checked, grads, raw)
        if to is None:
            return out
        late, wrap, tensors, sink = False, False, not raw, to
        buffers, ready, queued = sink


def _raise_not_tensor(node: Node, out: tuple, g) -> None:
    i = next(k for k, x in enumerate(out) if x is g)
    raise TypeError(f"function {node.name()} returned a gradient of type {type(g).__name__} at "
                    f"index {i}; expected a Tensor or None")


def _raise_shape(node: Node, out: tuple, g, shape: tuple) -> None:
    i = next(k for k, x in enumerate(out) if x is g)
    raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {i} - got "
                       f"{list(g.shape)} but expected shape compatible with {list(shape)}")


def _sums_to(src: tuple, dst: tuple) -> bool:
    lead = len(src) - len(dst)
    return lead >= 0 and all(d == s or d == 1 for s, d in zip(src[lead:], dst))


def _zeros(xp, meta: tuple, raw: bool):
    shape, dtype = meta
    z = xp.zeros(shape, dtype.np)
    return z if raw else _make(z)


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


def _grads_array(args: tuple, kwargs: dict):
    raw = args[2]
    return next((g if raw else g._data for g in args[1] if g is not None), None)


guard_function(call_node, _grads_array)
guard_function(_accumulate, lambda args, kwargs: args[1] if args[2] else args[1]._data)
