"""Capturing a forward for ``compile``: ``ember._trace`` plus what a compiler must know that an
exporter need not.

The tracer records every ``Op.apply``. Replaying those calls later is only faithful if nothing
the forward did escaped them, so the capture watches, for the one traced call:

- **graph breaks**: ``.item()``, ``bool(t)``, ``.tolist()``, ``.numpy()``, ``int``/``float`` of
  a tensor (Python control flow on values), random draws from any ``Generator`` (a replay must
  draw what eager draws) except dropout's, whose noise is a ``DropoutNoise`` node drawing with
  eager's own code on every call, and ops whose output shape depends on the values;
- **writes**: in-place ops write their out-of-place result into the tensor's memory
  (``ops.inplace._write``), which the IR does not show; they are recorded as (target, result)
  so that writes to buffers (``num_batches_tracked``) and inputs are replayed;
- **masks**: comparisons, logical and bitwise ops make their results without an op in eager;
  while capturing they are recorded (``Ufunc``) so that a mask follows the values;
- **custom Functions**: ``autograd.Function.apply`` is a break (its backward is its own);
- **detach**: ``detach()``/``.data`` alias a value cut off from the graph; the tracer maps them
  to the same value, so the capture records an identity node that carries no gradient;
- **state**: parameters, buffers and generators are restored after the trace (a BatchNorm's
  running statistics were updated by it), so the call itself then runs once, compiled or eager.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .. import random as _random
from .._trace import TraceError, trace
from .._trace.ir import Graph, Node, Value
from ..autograd.function import Function
from ..backend import DEVICE_TYPES, NUMPY, backend_of
from ..nn.modules.module import Module
from ..ops import _op
from ..ops import activation as _activation
from ..ops import compare as _compare
from ..ops import inplace as _inplace
from ..ops._op import Op
from ..ops.shape import Alias
from ..tensor import Tensor

__all__ = ["Capture", "Detach", "GraphBreak", "capture"]


class GraphBreak(Exception):
    """The forward did something a straight-line replay cannot reproduce (``reason`` says what)."""


class Ufunc(Op, name="UfuncBackward"):
    """A comparison, logical or bitwise op (``ops.compare._no_grad``: eager makes its bool or
    integer result without an op, as it has no gradient), recorded while capturing so that
    masks follow the values instead of being frozen. Its one output never requires grad."""

    _promote = True
    returns_tuple = True  # (a tuple, so that apply honours mark_non_differentiable)

    @staticmethod
    def forward(ctx, a, b, *, ufunc):
        out = getattr(ctx.xp, ufunc)(a, b)
        ctx.mark_non_differentiable(out)
        return (out,)


class UfuncNoPromotion(Ufunc, name="UfuncNoPromotionBackward"):
    _promote = False


class DropoutNoise(Op, name="DropoutNoiseBackward"):
    """Dropout's noise, Bernoulli(1 - p) scaled by 1 / (1 - p) over ``shape``, drawn on every
    call by eager's own code (``ops.activation.masked_dropout``'s ``bernoulli_``/``div_``), so
    that a compiled call draws exactly what eager draws from the generator's state. It has no
    tensor operand: ``backend`` is the input's backend off the CPU (eager's ``new_empty``)."""

    drawing: ClassVar[list] = [False]  # set while it draws: expected draws, not a graph break

    @staticmethod
    def forward(ctx, *, shape, dtype, p, backend=None):
        xp = ctx.xp if backend is None else backend.xp
        noise = Tensor._make(xp.empty(shape, dtype))
        DropoutNoise.drawing[0] = True
        try:
            if p == 1:
                noise.zero_()
            else:
                noise.bernoulli_(1 - p).div_(1 - p)
        finally:
            DropoutNoise.drawing[0] = False
        ctx.noise = noise._data
        return noise._data


class Detach(Alias):
    """``detach()``/``.data`` in a captured graph: the same array, no gradient (no node name:
    eager records nothing for it)."""

    @staticmethod
    def forward(ctx, a):
        return a


_NP = NUMPY.array_type
_BREAKING = ("item", "tolist", "numpy", "__bool__", "__int__", "__float__", "__index__",
             "__complex__")


@dataclass
class Capture:
    """One traced call: the graph, the writes it made into tensors (``(target value, result
    value, target tensor)``, in order, each after the node that made the result), the tensors
    the constants came from (``sources``: value name -> tensor) and the example output."""

    graph: Graph
    writes: list = field(default_factory=list)
    sources: dict = field(default_factory=dict)
    output: Any = None
    modules: list = field(default_factory=list)  # the modules called (their training flags)
    tuple_nodes: set = field(default_factory=set)  # ids of nodes whose op returned a 1-tuple
    created: set = field(default_factory=set)  # ids of the tensors made during the trace
    # off the CPU only: id(node) -> (backend, device index) its op ran on (``Op.apply``'s
    # placement: its first device operand), and id(Value) -> the backend of a node output's array
    placed: dict = field(default_factory=dict)
    backends: dict = field(default_factory=dict)


def _placement(args: tuple) -> tuple | None:
    """Where ``Op.apply`` runs an op of ``args``: the backend and index of its first device
    operand (``ops._op._placed``), or None on the CPU."""
    for a in args:
        d = a._data if isinstance(a, Tensor) else a
        if type(d) in DEVICE_TYPES:
            b = backend_of(d)
            return b, b.device_index(d)
    return None


def _state_of(named: list) -> list:
    return [(t, t._data, t._data.copy(), t._version_counter[0]) for _, t in named]


@contextlib.contextmanager
def _patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    old = obj.__dict__[name]
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def capture(fn: Callable, module: Any, args: tuple, kwargs: dict) -> Capture:
    """Traces ``fn(*args, **kwargs)`` once (``module``: whose parameters and buffers are the
    graph's params), restoring every parameter, buffer and generator it changed. Raises
    :class:`GraphBreak` when the call cannot be replayed as straight-line code."""
    named = [] if module is None else (list(module.named_parameters())
                                       + list(module.named_buffers()))
    state = _state_of(named)
    gens: dict = {}  # each generator touched: its state before, restored after the trace
    unexpected: list = []  # draws outside DropoutNoise
    writes: list = []
    tracer_box: list = []
    rng_prop = _random.Generator.__dict__["_rng"]

    def tracer() -> Any:
        if not tracer_box and _op._tracer is not None:
            tracer_box.append(_op._tracer.__self__)
        return tracer_box[0] if tracer_box else None

    tuple_nodes: set = set()
    placed: dict = {}
    backends: dict = {}

    def start() -> None:
        # the trace has begun: note which ops return a tuple of one (split into one piece), which
        # the IR does not say (the tracer re-installs ``self.record`` after each op: this one),
        # and, off the CPU, the device each op ran on and its outputs' array types
        tr = tracer()
        bound = type(tr).record.__get__(tr)

        def record(cls: type, args: tuple, kwargs: dict) -> Any:
            out = bound(cls, args, kwargs)
            node = tr.graph.nodes[-1]
            if type(out) is tuple and len(out) == 1:
                tuple_nodes.add(id(node))
            if DEVICE_TYPES:
                where = _placement(args)
                if where is not None:
                    placed[id(node)] = where
                for v, o in zip(node.outputs, out if type(out) is tuple else (out,)):
                    backends[id(v)] = backend_of(o._data)
            return out

        tr.record = record
        _op._tracer = record

    def rng(gen: Any) -> Any:
        r = rng_prop.fget(gen)
        if _op._tracer is not None or tracer_box:
            if gen not in gens:
                gens[gen] = r.bit_generator.state
            if not DropoutNoise.drawing[0]:
                unexpected.append(gen)
        return r

    def breaking(name: str) -> Callable:
        def method(self: Tensor, *a: Any, **k: Any) -> Any:
            raise GraphBreak(f"Tensor.{name.strip('_')}() reads a tensor's values")
        return method

    orig_write = _inplace._write

    def write(self: Tensor, result: Tensor) -> None:
        tr = tracer()
        if tr is not None and _op._tracer is not None:
            writes.append((tr.value_of(self), tr.value_of(result), self))
            state.extend(_state_of([(None, self)]))  # put back after the trace
        orig_write(self, result)

    orig_detach = Tensor.__dict__["detach"]
    orig_data = Tensor.__dict__["data"]

    def detached(self: Tensor, out: Tensor) -> Tensor:
        tr = tracer()
        if tr is None or _op._tracer is None:
            return out
        src = tr.value_of(self)
        v = Value(f"v{next(tr.count)}", "node", tuple(out._data.shape), out.dtype,
                  data=src.data if src.is_static else None)
        node = Node(Detach, (src,), {}, (v,))
        v.producer = node
        tr.graph.nodes.append(node)
        tr.register(out, v)
        return out

    aliasing = [False]  # set while detach()/.data wrap a tensor's memory (no mask is finished)

    def detach(self: Tensor) -> Tensor:
        aliasing[0] = True
        try:
            out = orig_detach(self)
        finally:
            aliasing[0] = False
        return detached(self, out)

    def data_get(self: Tensor) -> Tensor:
        aliasing[0] = True
        try:
            out = orig_data.fget(self)
        finally:
            aliasing[0] = False
        return detached(self, out)

    data_prop = property(data_get, orig_data.fset)

    orig_no_grad = _compare._no_grad
    masks: list = []  # the device masks made, and their copies
    mask_ids: set = set()

    def no_grad_ufunc(ufunc: str, input: Any, other: Any, promote: bool = True) -> Tensor:
        if _op._tracer is None:
            return orig_no_grad(ufunc, input, other, promote)
        orig_no_grad(ufunc, input, other, promote)  # eager's checks and errors first
        op = Ufunc if promote else UfuncNoPromotion
        out = op.apply(input, other, ufunc=ufunc)[0]
        # eager's callers may finish a mask with raw array code in place (isclose), which no op
        # records: read-only here, such a write fails the trace and the call runs eagerly (CuPy
        # has no read-only arrays: a device mask is compared with its copy after the trace)
        d = out._data
        if type(d) is _NP:
            d.flags.writeable = False
        else:
            masks.append((d, d.copy()))
            mask_ids.add(id(d))
        return out

    orig_dropout = _activation.masked_dropout

    def masked_dropout(input: Tensor, p: float, inplace: bool, mask_shape: tuple) -> Tensor:
        if _op._tracer is None:
            return orig_dropout(input, p, inplace, mask_shape)
        d = input._data
        if type(d) is _NP:
            noise = DropoutNoise.apply(shape=tuple(mask_shape), dtype=d.dtype, p=p)
        else:
            noise = DropoutNoise.apply(shape=tuple(mask_shape), dtype=d.dtype, p=p,
                                       backend=backend_of(d))
        return input.mul_(noise) if inplace else input * noise

    called: dict = {}
    orig_call = Module.__dict__["__call__"]

    def module_call(self: Any, *a: Any, **k: Any) -> Any:
        if _op._tracer is not None and id(self) not in called:
            called[id(self)] = self
            # a function's modules: their state (running statistics) is restored after the trace
            state.extend(_state_of([(None, t) for t in list(self._parameters.values())
                                    + list(self._buffers.values()) if t is not None]))
            if (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                    or self._backward_pre_hooks):
                raise GraphBreak("a module has forward or backward hooks")
        return orig_call(self, *a, **k)

    made: list = []  # the tensors made during the trace (kept: their ids stay unique)
    orig_make = Tensor.__dict__["_make"]

    def make(*a: Any, **k: Any) -> Tensor:
        t = orig_make.__func__(*a, **k)
        if _op._tracer is not None:
            made.append(t)
            if mask_ids and id(t._data) in mask_ids and not aliasing[0]:
                # a device mask's memory wrapped again by raw array code (isclose finishing its
                # mask in place): what the CPU's read-only flag refuses
                raise ValueError("output array is read-only (a mask is finished by code no op "
                                 "records)")
        return t

    def function_apply(cls: type, *a: Any, **k: Any) -> Any:
        # its forward's ops would be traced, and their formulas replace the Function's backward
        raise GraphBreak(f"a custom autograd.Function ({cls.__name__}) is applied")

    def run() -> tuple:
        with contextlib.ExitStack() as stack:
            for name in _BREAKING:
                if name in Tensor.__dict__:
                    stack.enter_context(_patched(Tensor, name, breaking(name)))
            stack.enter_context(_patched(_random.Generator, "_rng", property(rng)))
            stack.enter_context(_patched(Tensor, "detach", detach))
            stack.enter_context(_patched(Tensor, "data", data_prop))
            stack.enter_context(_patched(Function, "apply", classmethod(function_apply)))
            stack.enter_context(_patched(Module, "__call__", module_call))
            stack.enter_context(_patched(Tensor, "_make", staticmethod(make)))
            _inplace._write = write
            _compare._no_grad = no_grad_ufunc
            _activation.masked_dropout = masked_dropout
            try:
                result = trace(_Traced(fn, module, start), args, kwargs)
                for d, copy in masks:  # (a read at compile time, as the CPU's flag is free)
                    if not backend_of(d).xp.array_equal(d, copy):
                        raise ValueError("assignment destination is read-only (a mask was "
                                         "written in place by code no op records)")
                return result
            finally:
                _inplace._write = orig_write
                _compare._no_grad = orig_no_grad
                _activation.masked_dropout = orig_dropout

    failed = None
    try:
        graph, out = run()
    except (TraceError, GraphBreak) as e:
        failed = e
    finally:
        for t, arr, copy, version in reversed(state):  # what the trace changed, as it was
            if t._data is arr:
                arr[...] = copy
            t._version_counter[0] = version
        for gen, st in gens.items():
            rng_prop.fget(gen).bit_generator.state = st
    if unexpected:
        raise GraphBreak("a random op draws from a generator (dropout, rand*): eager draws anew "
                         "on every call")
    if failed is not None:
        raise GraphBreak(str(failed)) from None
    for t, arr, _, _ in state:
        if t._data is not arr:
            raise GraphBreak("a parameter or buffer was given new data during the forward")
    now = [] if module is None else (list(module.named_parameters())
                                     + list(module.named_buffers()))
    if [(n, id(t)) for n, t in now] != [(n, id(t)) for n, t in named]:
        raise GraphBreak("the forward assigned new parameters or buffers")
    sources = {}
    tr = tracer_box[0] if tracer_box else None
    if tr is not None and graph.constants:
        consts = {id(v): v for v in graph.constants}
        for obj in tr.keep:  # the tensors a constant was read from (the tracer keeps them)
            if not isinstance(obj, Tensor):
                continue
            fn = obj._grad_fn
            if fn is not None:  # one with history the trace did not see (autograd.Function)
                v = tr.by_history.get((id(fn), obj._output_nr))
            else:
                v = tr.by_id.get(id(obj), (None,))[0]
            if v is not None and id(v) in consts:
                sources.setdefault(v.name, obj)
    return Capture(graph, writes, sources, out, list(called.values()), tuple_nodes,
                   {id(t) for t in made}, placed, backends)


class _Traced:
    """``fn`` as the tracer sees it: the module's parameters and buffers, and a call."""

    def __init__(self, fn: Callable, module: Any, on_start: Callable) -> None:
        self.fn, self.module, self.on_start = fn, module, on_start
        if module is not None:
            self.named_parameters = module.named_parameters
            self.named_buffers = module.named_buffers

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.on_start()  # the trace has begun: its tracer is the active one
        return self.fn(*args, **kwargs)

