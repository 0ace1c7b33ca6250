"""Backward-graph nodes as data: what ``tensor.grad_fn`` is.

A node holds its edges (``next_functions``: one ``(node, output_nr)`` per input, pointing
backward only), what the engine checks a returned gradient against (each input's shape and
dtype), the hooks set on it and what its op saved. It never holds its output tensor, so a graph
frees itself by refcount. How a node is built is ``ember.ops._op``'s business; how it runs is
``ember.autograd.engine``'s.
"""
from __future__ import annotations

import itertools
from typing import Any

from ..backend import NUMPY

sequence = itertools.count()  # creation order: the engine's schedule (see engine.py)
FREED = ("freed",)  # ``Node._saved`` after backward released it


class _Anomaly:
    enabled = False
    check_nan = True


anomaly = _Anomaly()


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` takes the hook off again."""

    _ids = itertools.count()

    def __init__(self, hooks: dict) -> None:
        self._hooks = hooks
        self.id = next(self._ids)

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def add_hook(hooks: dict, fn) -> RemovableHandle:
    """Adds ``fn`` to ``hooks`` (id -> hook); the handle's ``remove()`` takes it off."""
    h = RemovableHandle(hooks)
    hooks[h.id] = fn
    return h


class Node:
    """A node of the backward graph, as seen through ``tensor.grad_fn``."""

    next_functions: tuple = ()
    needs_input_grad: tuple = ()
    _saved: tuple = ()
    _in_meta: tuple = ()  # per input: (shape, numpy dtype), or None for one that takes no gradient
    _n_out = 1
    _out_meta: tuple = ()  # per output: (shape, ember dtype)
    _seq = 0
    _tensor_hooks: dict | None = None  # output_nr -> {id: hook}, from Tensor.register_hook
    _retain: dict | None = None  # output_nr -> weakref to the tensor whose .grad retain_grad keeps
    _pre_hooks: dict | None = None
    _post_hooks: dict | None = None
    # set once any of the four kinds of hooks above is added: the engine asks one question of
    # the common node that has none
    _hooked = False
    _trace: list | None = None
    _materialize_grads = True
    # whether ``backward`` is written in the carrier vocabulary (``ctx.F``, ``ctx.saved``), so
    # the engine may run it on bare arrays when no graph is recorded; else it gets Tensors
    on_arrays = False
    # The backend of this node's data, and its array module. Class attributes (NumPy's), set on
    # a node only when its inputs are another backend's: ops read them several times per call,
    # and a property's call would cost more than a small op's math.
    backend: Any = NUMPY
    xp: Any = NUMPY.xp

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {id(self):#x}>"

    @property
    def metadata(self) -> dict:
        if "_metadata" not in self.__dict__:
            self._metadata: dict = {}
        return self._metadata

    def register_hook(self, fn) -> RemovableHandle:
        """``fn(grad_inputs, grad_outputs)`` runs after this node; it may return new grad_inputs."""
        if self._post_hooks is None:
            self._post_hooks = {}
        self._hooked = True
        return add_hook(self._post_hooks, fn)

    def register_prehook(self, fn) -> RemovableHandle:
        """``fn(grad_outputs)`` runs before this node; it may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = {}
        self._hooked = True
        return add_hook(self._pre_hooks, fn)

    def _add_tensor_hook(self, output_nr: int, fn) -> RemovableHandle:
        if self._tensor_hooks is None:
            self._tensor_hooks = {}
        self._hooked = True
        return add_hook(self._tensor_hooks.setdefault(output_nr, {}), fn)

    def _free(self) -> None:
        if self._saved:
            self._saved = FREED


class AccumulateGrad(Node):
    """The node that deposits gradients into a leaf's ``.grad``."""

    def __init__(self, variable) -> None:
        self.variable = variable
        self._seq = next(sequence)
        self._in_meta = ()


NO_EDGE = (None, 0)


def edge(t) -> tuple:
    """The edge a gradient for tensor ``t`` travels: its ``grad_fn`` (and which output of it
    ``t`` is), its leaf's ``AccumulateGrad``, or none."""
    fn = t._grad_fn
    if fn is not None:
        return (fn, t._output_nr)
    if t._requires_grad:
        return (t._grad_accumulator(), 0)
    return NO_EDGE
