"""``trace``: runs a function once and records every ``Op.apply`` it makes."""
from __future__ import annotations

import itertools
from typing import Any, Callable

from ..graph import grad_mode
from ..ops import _op, compare, reduce
from ..ops.shape import Alias
from ..tensor import Tensor
from .ir import Graph, Node, Value

__all__ = ["trace", "TraceError", "is_tracing", "Ufunc", "ArgExtremum"]


class Ufunc:
    """The op of a node for a comparison or logical function (``x > 0``, ``a & b``): these
    make their bool tensor with the array function ``ufunc`` directly, without ``Op.apply``
    (they have no gradient), so the tracer records them where they all pass
    (``ops.compare._no_grad``) when asked to (``trace(..., non_ops=True)``)."""


class ArgExtremum:
    """The op of a node for ``argmax``/``argmin`` (``name``, ``dim``, ``keepdim``), made
    without ``Op.apply`` too (``ops.reduce._arg_extremum``)."""


class TraceError(RuntimeError):
    """The forward did something the tracer cannot capture faithfully."""


def is_tracing() -> bool:
    """True while ``trace`` is capturing a forward."""
    return _op._tracer is not None


class _Tracer:
    def __init__(self) -> None:
        self.graph = Graph()
        # a tensor that requires grad is known by its history (grad_fn, output_nr): an in-place
        # op moves the tensor onto its result's history, and apply_inplace's alias of the old
        # value shares it. Others (ints, constants' results) by identity, with their version.
        self.by_history: dict[tuple[int, int], Value] = {}
        self.by_id: dict[int, list] = {}  # id -> [Value, version at first use]
        self.by_data: dict[int, Value] = {}  # detach()/.data share the array: its latest value
        self.keep: list[Any] = []  # keeps every keyed object alive, so that ids stay unique
        self.count = itertools.count()
        self.consts = itertools.count()

    # -- registering and finding values -------------------------------------------------------
    def register(self, t: Tensor, value: Value) -> None:
        self.keep.append(t)
        fn = t._grad_fn
        if fn is not None:
            self.keep.append(fn)
            self.by_history[(id(fn), t._output_nr)] = value
        else:
            # the version is taken at first use: a view op's caller swaps in its base's counter
            # after apply returns
            self.by_id[id(t)] = [value, None]
        self.by_data[id(t._data)] = value
        self.keep.append(t._data)

    def value_of(self, t: Tensor) -> Value:
        fn = t._grad_fn
        if fn is not None:
            v = self.by_history.get((id(fn), t._output_nr))
            if v is not None:
                self.by_data[id(t._data)] = v  # what this memory holds now
                return v
        else:
            hit = self.by_id.get(id(t))
            if hit is not None:
                v, version = hit
                if version is None:
                    hit[1] = version = t._version_counter[0]
                if version != t._version_counter[0]:
                    if v.is_static:  # a constant filled in place (a mask built by setitem)
                        return self.constant(t)
                    # written by a kernel without an op (an in-place method under no_grad)
                    raise TraceError(
                        f"a traced tensor ({v.name}) was modified in place outside the ops the "
                        "tracer records (under no_grad, or through .data)")
                return v
        v = self.by_data.get(id(t._data))
        if v is not None:  # detach() or .data of a traced value: the same memory
            return v
        # a tensor the forward made without an op (torch.tensor(...), a direct wrap): a constant
        return self.constant(t)

    def constant(self, t: Tensor) -> Value:
        v = Value(f"const_{next(self.consts)}", "const", tuple(t._data.shape), t.dtype,
                  data=t._data.copy())
        self.graph.constants.append(v)
        self.register(t, v)
        hit = self.by_id.get(id(t))
        if hit is not None:
            hit[1] = t._version_counter[0]
        return v

    def arg(self, a: Any) -> Any:
        if isinstance(a, Tensor):
            return self.value_of(a)
        if isinstance(a, (tuple, list)) and any(isinstance(x, Tensor) for x in a):
            return type(a)(self.arg(x) for x in a)
        if hasattr(a, "shape") and hasattr(a, "dtype") and id(a) in self.by_data:
            return self.by_data[id(a)]  # a buffer passed as its array (batch norm's stats)
        return a

    # -- the hooks ----------------------------------------------------------------------------
    def record(self, cls: type, args: tuple, kwargs: dict) -> Any:
        ins = tuple(self.arg(a) for a in args)
        kw = {k: self.arg(v) for k, v in kwargs.items()}
        _op._tracer = None  # the op itself runs untraced (and so does anything it applies)
        try:
            out = cls.apply(*args, **kwargs)
        finally:
            _op._tracer = self.record
        return self.add(cls, ins, kw, out)

    def comparison(self, ufunc: str, input: Any, other: Any, promote: bool = True) -> Any:
        ins = (self.arg(input), self.arg(other))
        out = _compare_no_grad(ufunc, input, other, promote)
        return self.add(Ufunc, ins, {"ufunc": ufunc, "promote": promote}, out)

    def arg_extremum(self, name: str, input: Any, dim: Any, keepdim: bool) -> Any:
        ins = (self.arg(input),)
        out = _arg_extremum(name, input, dim, keepdim)
        return self.add(ArgExtremum, ins, {"name": name, "dim": dim, "keepdim": keepdim}, out)

    def add(self, cls: type, ins: tuple, kw: dict, out: Any) -> Any:
        node = Node(cls, ins, kw)
        static = all(v.is_static for v in _flat_values(ins) + _flat_values(tuple(kw.values())))
        outs = out if type(out) is tuple else (out,)
        values = []
        for i, o in enumerate(outs):
            v = Value(f"v{next(self.count)}", "node", tuple(o._data.shape), o.dtype,
                      data=o._data.copy() if static else None, producer=node, index=i)
            self.register(o, v)
            values.append(v)
        node.outputs = tuple(values)
        self.graph.nodes.append(node)
        return out


_compare_no_grad = compare._no_grad
_arg_extremum = reduce._arg_extremum


def _flat_values(items: tuple) -> list[Value]:
    out = []
    for a in items:
        if isinstance(a, Value):
            out.append(a)
        elif isinstance(a, (tuple, list)):
            out.extend(_flat_values(tuple(a)))
    return out


def _flatten(obj: Any) -> list[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _flatten(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _flatten(o)]
    return []


def _traced_input(t: Tensor) -> Tensor:
    """A copy of ``t`` the tracer can follow: a non-leaf that requires grad for floating
    tensors, so that every value computed from it records its op (with nothing to record, the
    operators and in-place methods may run their kernels without ``Op.apply``)."""
    data = t._data.copy()
    if not t.dtype.is_floating_point and not t.dtype.is_complex:
        return Tensor._make(data)
    return Alias.apply(Tensor._make(data, True))


def _replace(obj: Any, swap: dict[int, Tensor]) -> Any:
    if isinstance(obj, Tensor):
        return swap.get(id(obj), obj)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_replace(o, swap) for o in obj)
    if isinstance(obj, dict):
        return {k: _replace(v, swap) for k, v in obj.items()}
    return obj


def trace(fn: Callable, args: Any = (), kwargs: dict | None = None, *,
          non_ops: bool = False) -> tuple[Graph, Any]:
    """Runs ``fn(*args, **kwargs)`` once and records it as a :class:`Graph`.

    Args:
        fn: a function of tensors, or a module (its parameters and buffers become the graph's
            ``params`` under their qualified names).
        args: the example positional arguments (a tuple; a lone tensor is allowed); the tensors
            in them, in order, become the graph's inputs.
        kwargs: example keyword arguments, traced the same way.
        non_ops: also record the functions that make tensors without ``Op.apply``
            (comparisons and logical ops as :class:`Ufunc`, argmax/argmin as
            :class:`ArgExtremum`); else their results are constants of the trace.

    Returns:
        ``(graph, output)``: the graph, and what ``fn`` returned on the example inputs.
    """
    if is_tracing():
        raise TraceError("trace() cannot run inside another trace")
    if isinstance(args, Tensor):
        args = (args,)
    args, kwargs = tuple(args), dict(kwargs or {})
    tracer = _Tracer()
    g = tracer.graph
    named = getattr(fn, "named_parameters", None)
    if named is not None:
        for kind, items in (("param", fn.named_parameters()), ("buffer", fn.named_buffers())):
            for qualname, p in items:
                v = Value(qualname, kind, tuple(p._data.shape), p.dtype, data=p._data)
                g.params[qualname] = v
                tracer.register(p, v)
    swap = {}
    for i, t in enumerate(_flatten((args, kwargs))):
        if id(t) in swap:
            continue
        x = _traced_input(t)
        swap[id(t)] = x
        v = Value(f"input_{i}", "input", tuple(x._data.shape), x.dtype)
        g.inputs.append(v)
        tracer.register(x, v)
    args, kwargs = _replace(args, swap), _replace(kwargs, swap)
    _op._tracer = tracer.record
    if non_ops:
        compare._no_grad, reduce._arg_extremum = tracer.comparison, tracer.arg_extremum
    try:
        with grad_mode.enable_grad():
            out = fn(*args, **kwargs)
    finally:
        _op._tracer = None
        if non_ops:
            compare._no_grad, reduce._arg_extremum = _compare_no_grad, _arg_extremum
    g.outputs = [tracer.value_of(t) for t in _flatten(out)]
    return g, out
