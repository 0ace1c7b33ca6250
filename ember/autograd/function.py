"""Backward-graph nodes: the built-in op pattern (``Op``) and the public ``Function`` API.

A node is at once the op's ``ctx`` and the output's ``grad_fn``: forward stores what backward needs on
it, and the engine later calls ``backward(node, *grads)``. Edges point backward only
(``next_functions``); a node never holds its output tensor, so graphs free themselves by refcount.
"""
from __future__ import annotations

import itertools
import re
import traceback
from typing import Any

from . import grad_mode
from ..backend import get_array_module
from ..dtypes import promote_arrays, scalar_keeps

_seq = itertools.count()
_Tensor: Any = None  # ember.tensor.Tensor, bound by tensor.py (which imports this module)
_ndarray: Any = None  # the backend's array type, bound by tensor.py with _Tensor
_grad_state = grad_mode.state
_FREED = ("freed",)
_NO_EDGE = (None, 0)
_NO_SAVE = (None, None)
_new_node = object.__new__
_NO_NEEDS = [(False,) * n for n in range(8)]
_ONE_NEEDS = (True,)


def _no_needs(n: int) -> tuple:
    return _NO_NEEDS[n] if n < 8 else (False,) * n


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


class Node:
    """A node of the backward graph, as seen through ``tensor.grad_fn``."""

    next_functions: tuple = ()
    needs_input_grad: tuple = ()
    _saved: tuple = ()
    _in_meta: tuple = ()  # per input: (shape, numpy dtype), or None for a non-tensor
    _n_out = 1
    _out_meta: tuple = ()
    _seq = 0
    _tensor_hooks: dict | None = None  # output_nr -> {id: hook}, from Tensor.register_hook
    _retain: dict | None = None  # output_nr -> tensor whose .grad retain_grad() keeps
    _pre_hooks: dict | None = None
    _post_hooks: dict | None = None
    _trace: list | None = None
    _materialize_grads = True
    # optional ``backward_arrays(ctx, *grad_arrays)``: ``backward``'s formula on raw arrays, which
    # the engine runs when no graph is recorded (create_graph=False), saving an Op per term
    backward_arrays = None

    def name(self) -> str:
        return type(self).__name__

    # The array module of this op's data: numpy today, and the seam for a CuPy backend, which
    # will set it per node from the inputs' arrays. A class attribute, not a property: ops read
    # it several times per call, and a property's two calls cost more than a small op's math.
    xp: Any = get_array_module()

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
        h = RemovableHandle(self._post_hooks)
        self._post_hooks[h.id] = fn
        return h

    def register_prehook(self, fn) -> RemovableHandle:
        """``fn(grad_outputs)`` runs before this node; it may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = {}
        h = RemovableHandle(self._pre_hooks)
        self._pre_hooks[h.id] = fn
        return h

    def _add_tensor_hook(self, output_nr: int, fn) -> RemovableHandle:
        if self._tensor_hooks is None:
            self._tensor_hooks = {}
        hooks = self._tensor_hooks.setdefault(output_nr, {})
        h = RemovableHandle(hooks)
        hooks[h.id] = fn
        return h

    # -- saved tensors -------------------------------------------------------------------------
    def save_for_backward(self, *items: Any) -> None:
        """Keeps tensors (arrays inside built-in ops) for backward; packed once forward returns."""
        self._to_save = items

    @property
    def saved_tensors(self) -> tuple:
        saved = self._saved
        if saved is _FREED:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the graph "
                "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
                "you need to backward through the graph a second time or if you need to access saved "
                "tensors after calling backward."
            )
        return tuple(_unpack(self, s) for s in saved)

    saved = saved_tensors

    @property
    def saved_arrays(self) -> tuple:
        """``saved_tensors`` as backend arrays (same version checks), for ``backward_arrays``."""
        if self._saved is _FREED:
            return self.saved_tensors  # raises
        out = []
        for s in self._saved:
            if type(s) is _SavedOutput:
                if s.box[0] != s.version:
                    _unpack(self, s)  # raises
                out.append(s.data)
                continue
            item, version = s
            if version is None:  # not version-tracked: a constant, or a wrapped array
                out.append(item._data if isinstance(item, _Tensor) else item)
                continue
            if item._version_box[0] != version:  # version-tracked items are tensors
                _unpack(self, s)  # raises
            out.append(item._data)
        return tuple(out)

    def _free(self) -> None:
        if self._saved:
            self._saved = _FREED


class _SavedOutput:
    """A saved output: kept as data plus version, rebuilt on unpack with this node as grad_fn."""

    __slots__ = ("data", "box", "version", "nr")

    def __init__(self, t, nr: int) -> None:
        self.data, self.box, self.version, self.nr = t._data, t._version_box, t._version_box[0], nr


def _pack_array(item: Any, inputs: tuple, arrays: list, outputs: tuple) -> Any:
    """A raw array a built-in op saved, mapped back to the input tensor or the output it is."""
    for src, arr in zip(inputs, arrays):
        if item is arr and isinstance(src, _Tensor):
            return (src, src._version_box[0])
    for nr, out in enumerate(outputs):
        if out is not None and item is out._data:
            return _SavedOutput(out, nr)
    return (_Tensor._make(get_array_module(item).asarray(item)), None)


def _pack(node: Node, items: tuple, inputs: tuple, arrays: list, outputs: tuple) -> tuple:
    Tensor = _Tensor

    packed = []
    for item in items:
        if type(item) is _ndarray:  # the common case, checked first
            packed.append(_pack_array(item, inputs, arrays, outputs))
        elif item is None:
            packed.append(_NO_SAVE)
        elif isinstance(item, Tensor):
            for nr, out in enumerate(outputs):
                if item is out:
                    packed.append(_SavedOutput(out, nr))
                    break
            else:
                packed.append((item, item._version_box[0]))
        elif not hasattr(item, "shape") or not hasattr(item, "dtype"):
            packed.append((item, None))
        else:  # an array of another backend
            packed.append(_pack_array(item, inputs, arrays, outputs))
    return tuple(packed)


def _unpack(node: Node, s) -> Any:
    Tensor = _Tensor

    if type(s) is _SavedOutput:
        if s.box[0] != s.version:
            _raise_modified(node, s.data, s.nr, s.box[0], s.version, node)
        t = Tensor._make(s.data, True, node, s.nr)
        t._version_box = s.box
        return t
    item, version = s
    if version is None:
        return item
    box = item._version_box
    if box[0] != version:
        # the message names the node that last wrote the tensor in place, as torch's does
        writer = box[1] if len(box) > 1 else item._grad_fn
        _raise_modified(node, item._data, item._output_nr, box[0], version, writer)
    return item


def _raise_modified(node, data, nr, now, expected, producer) -> None:
    from ..dtypes import scalar_name

    kind = scalar_name(data.dtype)
    shape = ", ".join(str(s) for s in data.shape)
    where = ""  # torch names no producer for a tensor without history
    if producer is not None:
        where = f", which is output {nr} of {re.sub(r'Backward[0-9]*$', '', producer.name())},"
    raise RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [torch.{kind}Tensor [{shape}]]{where} is at version {now}; "
        f"expected version {expected} instead. Hint: enable anomaly detection to find the "
        "operation that failed to compute its gradient, with "
        "ember.autograd.set_detect_anomaly(True, check_nan=False)."
    )


class AccumulateGrad(Node):
    """The node that deposits gradients into a leaf's ``.grad``."""

    def __init__(self, variable) -> None:
        self.variable = variable
        self._seq = next(_seq)
        self._in_meta = ()


def _edge(t) -> tuple:
    fn = t._grad_fn
    if fn is not None:
        return (fn, t._output_nr)
    if t._requires_grad:
        return (t._grad_accumulator(), 0)
    return (None, 0)


class Op(Node):
    """Base of ember's built-in ops: ``forward(ctx, *arrays, **kw)`` on backend arrays,
    ``backward(ctx, *grads)`` on Tensors (so it is itself differentiable).

    ``class Mul(Op, name="MulBackward0")`` makes ``MulBackward0`` (a subclass of ``Mul``) the
    type of the nodes it records, so ``type(t.grad_fn).__name__`` reads as in torch.
    """

    _promote: bool | str = False  # True: cast inputs to torch's result dtype; "float": and to float

    def __init_subclass__(cls, name: str | None = None, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if name is not None:
            cls._node_cls = type(name, (cls,), {"__module__": cls.__module__, "__qualname__": name})

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def _forward_failed(cls, args: tuple, kwargs: dict) -> None:
        """Called when forward raised, before re-raising: may raise torch's error instead."""

    def mark_non_differentiable(self, *arrays: Any) -> None:
        self._non_diff = arrays

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        # the hot path of every op: plain loops, no generators, nothing done twice
        Tensor = _Tensor
        node = _new_node(cls._node_cls)
        arrays = []
        record = False
        n = len(args)
        if not _grad_state.enabled:
            # no graph is recorded: nothing needs a gradient, and no edges or metadata are built
            for a in args:
                arrays.append(a._data if isinstance(a, Tensor) else a)
            node.needs_input_grad = _NO_NEEDS[n] if n < 8 else _no_needs(n)
        elif n == 2 and isinstance(args[0], Tensor):
            # the usual binary op, a tensor with a tensor or a scalar: the general loop, unrolled
            a, b = args
            da = a._data
            ra = a._requires_grad
            if isinstance(b, Tensor):
                db = b._data
                rb = b._requires_grad
                meta_b = (db.shape, db.dtype)
            else:
                db, rb, meta_b = b, False, None
            arrays = [da, db]
            record = ra or rb
            if record:
                node.needs_input_grad = (ra, rb)
                fa = a._grad_fn
                edges = ((fa, a._output_nr) if fa is not None
                         else (a._grad_accumulator(), 0) if ra else _NO_EDGE,
                         (b._grad_fn, b._output_nr) if rb and b._grad_fn is not None
                         else (b._grad_accumulator(), 0) if rb else _NO_EDGE)
                meta = ((da.shape, da.dtype), meta_b)
            else:
                node.needs_input_grad = _NO_NEEDS[2]
        elif n == 1 and isinstance(args[0], Tensor):
            a = args[0]
            d = a._data
            arrays = [d]
            record = a._requires_grad
            if record:
                node.needs_input_grad = _ONE_NEEDS
                fn = a._grad_fn
                edges = ((fn, a._output_nr) if fn is not None else (a._grad_accumulator(), 0),)
                meta = ((d.shape, d.dtype),)
            else:
                node.needs_input_grad = _NO_NEEDS[1]
        else:
            # one pass gathers the arrays and, in case a graph is recorded, the edges and input
            # metadata (shape, numpy dtype) the engine checks returned gradients against
            needs = []
            edges = []
            meta = []
            for a in args:
                if isinstance(a, Tensor):
                    d = a._data
                    arrays.append(d)
                    meta.append((d.shape, d.dtype))
                    if a._requires_grad:
                        needs.append(True)
                        record = True
                        fn = a._grad_fn
                        edges.append((fn, a._output_nr) if fn is not None
                                     else (a._grad_accumulator(), 0))
                    else:
                        needs.append(False)
                        edges.append(_NO_EDGE)
                else:
                    arrays.append(a)
                    needs.append(False)
                    edges.append(_NO_EDGE)
                    meta.append(None)
            # known before forward, so ops save only what the requested gradients need (as torch
            # does; saving more would make harmless in-place updates fail the version check)
            node.needs_input_grad = tuple(needs) if record else _no_needs(n)
        try:
            promote = cls._promote
            if promote:
                # inline, the cases promote_arrays returns as they are: two arrays of one dtype,
                # or an array and a Python scalar that does not widen it
                if not (promote is True and n == 2 and type(arrays[0]) is _ndarray
                        and (arrays[0].dtype is arrays[1].dtype if type(arrays[1]) is _ndarray
                             else scalar_keeps(arrays[0].dtype, arrays[1]))):
                    arrays = promote_arrays(args, arrays, promote == "float")
            out = cls.forward(node, *arrays, **kwargs) if kwargs else cls.forward(node, *arrays)
        except (ValueError, RuntimeError, NotImplementedError):
            cls._forward_failed(args, kwargs)
            raise
        if type(out) is tuple:
            make = Tensor._make
            non_diff = node.__dict__.get("_non_diff", ())
            outs = tuple(
                make(o, False, None)
                if not record or any(o is n for n in non_diff)
                else make(o, True, node, i)
                for i, o in enumerate(out)
            )
            if not record:
                return outs
            node._n_out = len(outs)
            node._out_meta = tuple((o._data.shape, o.dtype) for o in outs)
        else:
            # Tensor._make, inlined: the one output of most ops
            outs = _new_node(Tensor)
            if type(out) is not _ndarray:
                out = get_array_module().asarray(out)  # numpy turns 0-d results into scalars
            outs._data = out
            outs._output_nr = 0
            outs._version_box = [0]
            outs._grad = None
            if not record:
                outs._requires_grad = False
                outs._grad_fn = None
                return outs
            outs._requires_grad = True
            outs._grad_fn = node
        node.next_functions = tuple(edges)
        node._in_meta = tuple(meta)
        node._seq = next(_seq)
        to_save = node.__dict__.pop("_to_save", None)
        if to_save:
            node._saved = _pack(node, to_save, args, arrays, outs if type(outs) is tuple else (outs,))
        if anomaly.enabled:
            node._trace = traceback.format_stack()[:-1]
        return outs


# -- the public custom-Function API -------------------------------------------------------------


class FunctionCtx(Node):
    """``ctx`` of a custom ``Function``; also its backward node (``<Name>Backward``)."""

    _forward_cls: type

    def mark_non_differentiable(self, *tensors: Any) -> None:
        self._non_diff = tensors

    def mark_dirty(self, *tensors: Any) -> None:
        self._dirty = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self._materialize_grads = value

    def apply(self, *grads: Any) -> Any:
        return self._forward_cls.backward(self, *grads)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:  # the engine calls backward(node, *grads)
        return ctx._forward_cls.backward(ctx, *grads)


class FunctionMeta(type):
    def __init__(cls, name: str, bases: tuple, attrs: dict) -> None:
        super().__init__(name, bases, attrs)
        backward_name = name + "Backward"
        cls._backward_cls = type(backward_name, (FunctionCtx,), {"_forward_cls": cls,
                                                               "__module__": cls.__module__})


class Function(metaclass=FunctionMeta):
    """Base class for custom differentiable operations (``torch.autograd.Function``).

    Subclasses define ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as staticmethods
    and are called through ``apply``; ``forward`` may instead take only the inputs if the class
    defines ``setup_context(ctx, inputs, output)``.
    """

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    vjp = backward

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> Any:
        raise NotImplementedError("setup_context is not implemented.")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        from ..tensor import Tensor

        ctx = cls._backward_cls()
        with grad_mode.no_grad():
            if cls.setup_context is not Function.setup_context:
                raw = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, raw)
            else:
                raw = cls.forward(ctx, *args, **kwargs)
        is_tuple = isinstance(raw, tuple)
        outputs = raw if is_tuple else (raw,)
        record = _grad_state.enabled and any(
            isinstance(a, Tensor) and a._requires_grad for a in args
        )
        non_diff = ctx.__dict__.get("_non_diff", ())
        dirty = ctx.__dict__.get("_dirty", ())
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        if record:
            # the inputs' edges before any output takes this node as its history: an input
            # marked dirty is also an output, and its edge must reach the node it came from
            edges = tuple(_edge(a) if isinstance(a, Tensor) else (None, 0) for a in args)
        new_outputs = []
        for i, o in enumerate(outputs):
            if not isinstance(o, Tensor):
                new_outputs.append(o)
                continue
            if any(o is d for d in dirty):
                t = o  # modified in place: the input tensor itself becomes the output
                t._version_box[0] += 1
            elif any(o is a for a in args):
                t = Tensor._make(o._data)  # an input returned as-is becomes a new (aliasing) tensor
                t._version_box = o._version_box
            else:
                t = o
            if record and not any(o is n for n in non_diff):
                if t.grad_fn is None and t.requires_grad and any(o is d for d in dirty):
                    raise RuntimeError(
                        "a leaf Variable that requires grad is being used in an in-place operation."
                    )
                t._set_history(ctx, i)
            new_outputs.append(t)
        if record:
            ctx.next_functions = edges
            ctx._in_meta = tuple(
                (a._data.shape, a._data.dtype) if isinstance(a, Tensor) else None for a in args
            )
            ctx._n_out = len(outputs)
            ctx._out_meta = tuple(
                (o._data.shape, o.dtype) if isinstance(o, Tensor) else None for o in outputs
            )
            ctx._seq = next(_seq)
            ctx._user = True
            to_save = ctx.__dict__.pop("_to_save", None)
            if to_save:
                ctx._saved = _pack(ctx, to_save, args, [], tuple(new_outputs))
            if anomaly.enabled:
                ctx._trace = traceback.format_stack()[:-1]
        else:
            to_save = ctx.__dict__.pop("_to_save", None)
            if to_save:
                ctx._saved = tuple((t, None) for t in to_save)
        return tuple(new_outputs) if is_tuple else new_outputs[0]


class once_differentiable:  # noqa: N801 - torch's name
    """Decorator for ``backward`` that runs it without recording a graph."""

    def __new__(cls, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(ctx, *args):
            with grad_mode.no_grad():
                return fn(ctx, *args)

        return wrapper
