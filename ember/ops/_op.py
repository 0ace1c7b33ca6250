"""How a node is built: ``Context`` (what forward saves, what backward reads) and ``Op``, the
pattern of every built-in op.

``class Mul(Op, name="MulBackward0")``: ``forward(ctx, *arrays, **kw)`` computes on backend
arrays; ``backward(ctx, *grads)`` is the op's one derivative formula, written in the carrier
vocabulary: ``ctx.saved`` and ``ctx.F`` give arrays and the backend's kernels when no graph is
recorded, Tensors and recorded ember ops under ``create_graph`` (see ``backend/vocabulary.py``).
An op whose backward uses Tensor methods instead leaves ``on_arrays`` False and always gets
Tensors (the engine wraps them, as it does for a custom ``autograd.Function``).
"""
from __future__ import annotations

import re
import traceback
from typing import Any

from ..backend import DEVICE_TYPES as _DEVICE_TYPES, NUMPY, backend_of, is_array
from ..backend.limits import memory_error
from ..backend.vocabulary import NO_NEEDS as _NO_NEEDS, no_needs as _no_needs
from ..dtypes import promote_arrays, scalar_keeps, scalar_name
from ..graph import grad_mode
from ..graph.node import FREED, NO_EDGE, Node, anomaly, sequence
from ..tensor import Tensor

_grad_state = grad_mode.state
_NO_SAVE = (None, None)
_new = object.__new__
_ONE_NEEDS = (True,)
_NP = NUMPY.array_type  # the NumPy path is the common one: one type check picks it
# set by ember._trace while it captures a forward: apply hands it each call (one global check)
_tracer: Any = None


class _SavedOutput:
    """A saved output: kept as data plus version, rebuilt on unpack with this node as grad_fn."""

    __slots__ = ("data", "box", "version", "nr")

    def __init__(self, t, nr: int) -> None:
        box = t._version_counter
        self.data, self.box, self.version, self.nr = t._data, box, box[0], nr


class Context(Node):
    """A node that saves for its backward: ``save_for_backward`` in forward, ``saved_tensors``
    (always Tensors) or ``saved`` (the pass's carrier) in backward."""

    def save_for_backward(self, *items: Any) -> None:
        """Keeps tensors (arrays inside built-in ops) for backward; packed once forward returns."""
        self._to_save = items

    @property
    def saved_tensors(self) -> tuple:
        if self._saved is FREED:
            _raise_freed()
        return tuple(_unpack(self, s) for s in self._saved)

    @property
    def saved(self) -> tuple:
        """What forward saved, on the pass's carrier: arrays when no graph is recorded."""
        if _grad_state.enabled:
            return self.saved_tensors
        if self._saved is FREED:
            _raise_freed()
        out = []
        for s in self._saved:
            if type(s) is _SavedOutput:
                if s.box[0] != s.version:
                    _unpack(self, s)  # raises
                out.append(s.data)
                continue
            item, version = s
            if version is None:  # not version-tracked: a constant, or a wrapped array
                out.append(item._data if isinstance(item, Tensor) else item)
                continue
            if item._version_counter[0] != version:  # version-tracked items are tensors
                _unpack(self, s)  # raises
            out.append(item._data)
        return tuple(out)

    # ``ops.vocabulary.TENSORS``, bound by that module (it imports the ops this one sits under)
    tensor_vocabulary: Any = None

    @property
    def F(self) -> Any:
        """The vocabulary of this pass's backward: the node's backend on arrays, or recorded
        ember ops under ``create_graph``."""
        return self.tensor_vocabulary if _grad_state.enabled else self.backend


def _raise_freed() -> None:
    raise RuntimeError(
        "Trying to backward through the graph a second time (or directly access saved "
        "tensors after they have already been freed). Saved intermediate values of the graph "
        "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
        "you need to backward through the graph a second time or if you need to access saved "
        "tensors after calling backward."
    )


def _pack_other(item: Any, arrays: list, outputs: tuple) -> Any:
    """A raw array a built-in op saved that is none of its inputs: an output, or a constant."""
    for nr, out in enumerate(outputs):
        if out is not None and item is out._data:
            return _SavedOutput(out, nr)
    # (a NumPy scalar the promotion made: a constant on the op's device)
    return (Tensor._make(backend_of(*arrays).xp.asarray(item)), None)


def pack(items: tuple, inputs: tuple, arrays: list, outputs: tuple) -> tuple:
    """What ``save_for_backward`` received, as the node keeps it: each tensor with the version
    it had (so that backward can tell it was modified in place), outputs as ``_SavedOutput``."""
    packed = []
    for item in items:
        if type(item) is _NP or (item is not None and not isinstance(item, Tensor)
                                 and hasattr(item, "shape") and hasattr(item, "dtype")):
            # an array (NumPy's first: the common case): an input's, mapped back to its tensor
            for src, arr in zip(inputs, arrays):
                if item is arr and isinstance(src, Tensor):
                    packed.append((src, src._version_counter[0]))
                    break
            else:
                packed.append(_pack_other(item, arrays, outputs))
        elif item is None:
            packed.append(_NO_SAVE)
        elif isinstance(item, Tensor):
            for nr, out in enumerate(outputs):
                if item is out:
                    packed.append(_SavedOutput(out, nr))
                    break
            else:
                packed.append((item, item._version_counter[0]))
        else:
            packed.append((item, None))
    return tuple(packed)


def _unpack(node: Node, s) -> Any:
    if type(s) is _SavedOutput:
        if s.box[0] != s.version:
            _raise_modified(s.data, s.nr, s.box[0], s.version, node)
        t = Tensor._make(s.data, True, node, s.nr)
        t._version_counter = s.box
        return t
    item, version = s
    if version is None:
        return item
    box = item._version_counter
    if box[0] != version:
        # the message names the node that last wrote the tensor in place, as torch's does
        writer = box[1] if len(box) > 1 else item._grad_fn
        _raise_modified(item._data, item._output_nr, box[0], version, writer)
    return item


def _raise_modified(data, nr, now, expected, producer) -> None:
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


def _any_device(arrays: list) -> bool:
    for a in arrays:
        if type(a) in _DEVICE_TYPES:
            return True
    return False


def _placed(arrays: list) -> tuple:
    """The backend of an op's operands, the operands ready for it and their device's index (None
    on the CPU): a 0-d CPU array next to device arrays goes to their device (torch takes a 0-d
    CPU tensor as a scalar there); any other mix of devices is torch's error."""
    backend = index = None
    for a in arrays:
        if type(a) in _DEVICE_TYPES:
            b = backend_of(a)
            i = b.device_index(a)
            if backend is None:
                backend, index = b, i
            elif b is not backend or i != index:
                _mixed_devices(f"{b.device_type}:{i}", f"{backend.device_type}:{index}")
    if backend is None:
        return backend_of(*arrays), arrays, None
    out = []
    for a in arrays:
        if type(a) is _NP:
            if a.ndim:
                _mixed_devices(f"{backend.device_type}:{index}", "cpu")
            a = backend.from_host(a, index)
        out.append(a)
    return backend, out, index


def _mixed_devices(one: str, other: str) -> None:
    raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two "
                       f"devices, {one} and {other}!")


class Op(Context):
    """Base of ember's built-in ops: ``forward(ctx, *arrays, **kw)`` on backend arrays,
    ``backward(ctx, *grads)`` in the carrier vocabulary (so it is itself differentiable).

    ``class Mul(Op, name="MulBackward0")`` makes ``MulBackward0`` (a subclass of ``Mul``) the
    type of the nodes it records, so ``type(t.grad_fn).__name__`` reads as in torch.
    """

    _promote: bool | str = False  # True: cast inputs to torch's result dtype; "float": and to float
    # The backend's name of the array function this op's forward computes, for an op whose
    # forward is that function plus what it saves (Add: "add"): with nothing to save (no graph
    # recorded), apply calls it without building a node. tests/ops/test_kernels.py holds each
    # such forward to its kernel.
    kernel: str | None = None
    _numpy_kernel: Any = None

    def __init_subclass__(cls, name: str | None = None, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if name is not None:
            cls._node_cls = type(name, (cls,), {"__module__": cls.__module__, "__qualname__": name})
        if cls.kernel is not None:
            cls._numpy_kernel = staticmethod(getattr(NUMPY.xp, cls.kernel))

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
        if _tracer is not None:
            return _tracer(cls, args, kwargs)
        n = len(args)
        record = False
        if not _grad_state.enabled:
            # no graph is recorded: nothing needs a gradient, no edges or metadata are built
            if n == 2:
                a, b = args
                arrays = [a._data if isinstance(a, Tensor) else a,
                          b._data if isinstance(b, Tensor) else b]
            elif n == 1:
                a = args[0]
                arrays = [a._data if isinstance(a, Tensor) else a]
            else:
                arrays = []
                for a in args:
                    arrays.append(a._data if isinstance(a, Tensor) else a)
        elif n == 2 and isinstance(args[0], Tensor):
            # the usual binary op, a tensor with a tensor or a scalar: the general loop, unrolled
            a, b = args
            da = a._data
            ra = a._requires_grad
            if isinstance(b, Tensor):
                db = b._data
                rb = b._requires_grad
            else:
                db, rb = b, False
            arrays = [da, db]
            record = ra or rb
            if record:
                needs = (ra, rb)
                fa = a._grad_fn
                edges = ((fa, a._output_nr) if fa is not None
                         else (a._grad_accumulator(), 0) if ra else NO_EDGE,
                         (b._grad_fn, b._output_nr) if rb and b._grad_fn is not None
                         else (b._grad_accumulator(), 0) if rb else NO_EDGE)
                meta = ((da.shape, da.dtype) if ra else None,
                        (db.shape, db.dtype) if rb else None)
        elif n == 1 and isinstance(args[0], Tensor):
            a = args[0]
            d = a._data
            arrays = [d]
            record = a._requires_grad
            if record:
                needs = _ONE_NEEDS
                fn = a._grad_fn
                edges = ((fn, a._output_nr) if fn is not None else (a._grad_accumulator(), 0),)
                meta = ((d.shape, d.dtype),)
        else:
            # one pass gathers the arrays and, in case a graph is recorded, the edges and the
            # metadata (shape, numpy dtype) the engine checks the returned gradients against
            needs = []
            edges = []
            meta = []
            arrays = []
            for a in args:
                if isinstance(a, Tensor):
                    d = a._data
                    arrays.append(d)
                    if a._requires_grad:
                        needs.append(True)
                        meta.append((d.shape, d.dtype))
                        record = True
                        fn = a._grad_fn
                        edges.append((fn, a._output_nr) if fn is not None
                                     else (a._grad_accumulator(), 0))
                    else:
                        needs.append(False)
                        meta.append(None)
                        edges.append(NO_EDGE)
                else:
                    arrays.append(a)
                    needs.append(False)
                    edges.append(NO_EDGE)
                    meta.append(None)
            if record:
                needs, edges, meta = tuple(needs), tuple(edges), tuple(meta)
        backend = NUMPY
        first = arrays[0] if arrays else None
        if type(first) is not _NP or _DEVICE_TYPES and _any_device(arrays):
            if arrays:
                backend, arrays, index = _placed(arrays)
                first = arrays[0]
                if index is not None:
                    guard = backend.guard(index)
                    if guard is not None:  # another GPU than the current one: the op runs there
                        with guard:
                            return cls.apply(*args, **kwargs)
        try:
            promote = cls._promote
            if promote:
                # inline, the cases promote_arrays returns as they are: two arrays of one dtype,
                # or an array and a Python scalar that does not widen it
                second = arrays[-1]
                at = backend.array_type
                if not (promote is True and n == 2 and type(first) is at
                        and (first.dtype is second.dtype if type(second) is at
                             else (type(second) is float and first.dtype.kind == "f")
                             or scalar_keeps(first.dtype, second))):
                    arrays = promote_arrays(args, arrays, promote == "float")
            if not record and cls.kernel is not None and not kwargs:
                # nothing to save: the op's kernel is its forward, without a node to pass it
                out = getattr(backend.xp, cls.kernel)(*arrays) if backend is not NUMPY \
                    else cls._numpy_kernel(*arrays)
            else:
                node = _new(cls._node_cls)
                # known before forward, so ops save only what the requested gradients need (as
                # torch does; saving more would make harmless in-place updates fail the version
                # check)
                node.needs_input_grad = (needs if record else _NO_NEEDS[n] if n < 8
                                         else _no_needs(n))
                if backend is not NUMPY:
                    node.backend, node.xp = backend, backend.xp
                out = (cls.forward(node, *arrays, **kwargs) if kwargs
                       else cls.forward(node, *arrays))
        except (ValueError, RuntimeError, NotImplementedError):
            cls._forward_failed(args, kwargs)
            raise
        except MemoryError as e:  # torch's allocator error, not numpy's
            raise memory_error(e) from None
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
            outs = _new(Tensor)
            if type(out) is not _NP and not is_array(out):
                out = backend.xp.asarray(out)  # numpy turns 0-d results into scalars
            outs._data = out
            outs._output_nr = 0
            outs._version_counter = [0]
            outs._grad = None
            if not record:
                outs._requires_grad = False
                outs._grad_fn = None
                return outs
            outs._requires_grad = True
            outs._grad_fn = node
        node.next_functions = edges  # (tuples on every path)
        node._in_meta = meta
        node._seq = next(sequence)
        to_save = node.__dict__.pop("_to_save", None)
        if to_save:
            node._saved = pack(to_save, args, arrays, outs if type(outs) is tuple else (outs,))
        if anomaly.enabled:
            node._trace = traceback.format_stack()[:-1]
        return outs
