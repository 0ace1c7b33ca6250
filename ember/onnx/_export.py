"""``export``: trace the model, map each node to ONNX operators, check and write the model."""
from __future__ import annotations

import io
import itertools
import os
import tempfile
from typing import Any

import numpy as np

from .._trace import Graph, Node, Value, trace
from .._trace.tracer import _flatten
from ..backend import DEVICE_TYPES, backend_of
from ..tensor import Tensor
from ._ops import CONVERTERS, DynamicShapeError
from .errors import OnnxExporterError, UnsupportedOperatorError

DEFAULT_OPSET = 18  # torch 2.13's default
MIN_OPSET = 17  # LayerNormalization and the axes-as-inputs reductions need 17/18


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ModuleNotFoundError(
            "ember.onnx.export needs the onnx package: pip install 'ember[onnx]'") from None
    return onnx


class _Builder:
    """Collects ONNX nodes and initializers for one traced graph."""

    def __init__(self, onnx: Any, graph: Graph, twin: Graph | None, opset: int,
                 fold: bool) -> None:
        self.onnx, self.graph, self.opset, self.fold = onnx, graph, opset, fold
        self.nodes: list[Any] = []
        self.inits: dict[str, Any] = {}
        self.names: dict[int, str] = {}
        self.casts: dict[tuple[int, str], str] = {}
        self.count = itertools.count()
        self.twins: dict[int, Node] = {}
        self.twin_values: dict[int, Value] = {}
        self.dim_sources: dict[tuple[int, int], tuple[str, int]] = {}  # sizes -> (input, axis)
        self.cache: dict[Any, str] = {}
        self.dynamic = False  # whether the second trace changed sizes (else only values)
        if twin is not None:
            for a, b in zip(graph.nodes, twin.nodes):
                self.twins[id(a)] = b
                for va, vb in zip(a.outputs, b.outputs):
                    self.twin_values[id(va)] = vb
            for va, vb in zip(graph.inputs, twin.inputs):
                self.twin_values[id(va)] = vb
            for va, vb in zip(graph.constants, twin.constants):
                self.twin_values[id(va)] = vb

    # -- what converters call ---------------------------------------------------------------
    def twin(self, node: Node) -> Node | None:
        return self.twins.get(id(node))

    def twin_value(self, v: Value) -> Value | None:
        return self.twin_values.get(id(v))

    @staticmethod
    def np_dtype(v: Value) -> Any:
        return np.dtype(v.dtype.np)

    def onnx_type(self, v: Value) -> int:
        return _onnx_type(self.onnx, v.dtype.np)

    def tmp(self) -> str:
        return f"_t{next(self.count)}"

    def const(self, array: Any) -> str:
        name = f"_c{next(self.count)}"
        self.inits[name] = self.onnx.numpy_helper.from_array(np.asarray(array), name)
        return name

    def ints(self, values: Any) -> str:
        return self.const(np.asarray(list(values), np.int64))

    def inp(self, v: Value, dtype: Any = None) -> str:
        name = self.names.get(id(v))
        if name is None:
            if not v.is_static:
                raise OnnxExporterError(f"{v.name} is used before it is computed")
            twin = self.twin_values.get(id(v))
            if twin is not None and twin.shape != v.shape:
                name = self._dynamic_constant(v, twin)
            else:
                name = v.name if v.kind in ("param", "buffer") else f"_c{next(self.count)}"
                self.inits[name] = self.onnx.numpy_helper.from_array(np.asarray(v.data), name)
            self.names[id(v)] = name
        if dtype is not None and dtype is not v.dtype:
            key = (id(v), str(dtype))
            if key not in self.casts:
                cast = self.tmp()
                self.emit("Cast", [name], [cast], to=_onnx_type(self.onnx, np.dtype(dtype.np)))
                self.casts[key] = cast
            name = self.casts[key]
        return name

    def option(self, node: Node, key: str, dtype: Any) -> str:
        """An op's array option (a gather's index, a mask) as a graph value: a Value as it is,
        else a constant, made at run time if its size follows a dynamic axis."""
        a = node.kwargs[key]
        if isinstance(a, Value):
            return self.inp(a)
        data = np.asarray(a, dtype)
        twin = self.twin(node)
        other = None if twin is None else twin.kwargs.get(key)
        if other is not None and not isinstance(other, Value) and np.shape(other) != data.shape:
            v = Value(key, "const", data.shape, None, data=data)
            return self._dynamic_constant(v, Value(key, "const", np.shape(other), None))
        return self.const(data)

    def _dynamic_constant(self, v: Value, twin: Value) -> str:
        """A constant the forward made with a dynamic size (``zeros(x.shape[0], ...)``): one
        value throughout, made at run time in the size the inputs give."""
        data = np.asarray(v.data)
        flat = data.reshape(-1)
        if flat.size == 0 or not (flat == flat[0]).all():
            raise DynamicShapeError(
                f"a constant of shape {list(v.shape)} made inside the forward changes size with "
                "the dynamic axes and is not filled with one value: make it from the inputs "
                "with tensor ops")
        out = self.tmp()
        fill = self.onnx.numpy_helper.from_array(flat[:1].copy(), "value")
        self.nodes.append(self.onnx.helper.make_node(
            "ConstantOfShape", [self._shape_of(v, twin)], [out], value=fill))
        return out

    def _shape_of(self, v: Value, twin: Value) -> str:
        return self.shape_tensor(v.shape, twin.shape,
                                 f"a constant of shape {list(v.shape)} made in the forward")

    def out(self, node: Node, i: int = 0) -> str:
        v = node.outputs[i]
        name = self.names.get(id(v))
        if name is None:
            name = self.names[id(v)] = v.name
        return name

    def emit(self, op_type: str, inputs: list[str], outputs: list[str], **attrs: Any) -> None:
        self.nodes.append(self.onnx.helper.make_node(
            op_type, inputs, outputs, name=f"{op_type}_{len(self.nodes)}", **attrs))

    def reduce(self, op_type: str, x: str, axes: Any, keep: int, out: str) -> None:
        if op_type == "ReduceSum" or self.opset >= 18:
            self.emit(op_type, [x, self.ints(axes)], [out], keepdims=keep)
        else:
            self.emit(op_type, [x], [out], axes=list(axes), keepdims=keep)

    def shape_tensor(self, sizes: Any, twin_sizes: Any, what: str, infer: bool = False) -> str:
        """A 1-d int64 shape: the entries that changed between the traces read at run time
        from the graph input whose dynamic axis changed the same way (``infer``: one entry
        that no input gives may be left to Reshape, as -1)."""
        parts = []
        unknown = [i for i, (s, t) in enumerate(zip(sizes, twin_sizes))
                   if s != t and (s, t) not in self.dim_sources]
        for i, (s, t) in enumerate(zip(sizes, twin_sizes)):
            if s == t:
                parts.append(self.ints([s]))
                continue
            src = self.dim_sources.get((s, t))
            if src is None:
                if infer and len(unknown) == 1:
                    parts.append(self.ints([-1]))
                    continue
                raise DynamicShapeError(
                    f"{what}: a size ({s}) changes with the dynamic axes, but no input's "
                    "dynamic axis has that size")
            name, axis = src
            key = ("dim", name, axis)
            if key not in self.cache:
                shape, dim = self.tmp(), self.tmp()
                self.emit("Shape", [name], [shape])
                self.emit("Slice", [shape, self.ints([axis]), self.ints([axis + 1])], [dim])
                self.cache[key] = dim
            parts.append(self.cache[key])
        out = self.tmp()
        self.emit("Concat", parts, [out], axis=0)
        return out

    def changed(self, node: Node, what: str) -> None:
        """An option of ``node`` differs between the traces: without dynamic axes only the
        input values changed, so it was computed from them outside the recorded ops."""
        if not self.dynamic:
            raise OnnxExporterError(
                f"{node.name}'s {what} depends on the input values (read from a tensor into "
                "Python): the exported model would keep the example's")

    def unsupported(self, node: Node, what: str = "") -> UnsupportedOperatorError:
        name = f"{node.name} ({node.op.__module__}.{node.op.__name__}" + (
            f" with {what})" if what else ")")
        return UnsupportedOperatorError(name, self.opset, None)

    # -- the walk ------------------------------------------------------------------------------
    def convert(self) -> None:
        for node in self.graph.live_nodes():
            if self.fold and all(o.is_static for o in node.outputs) and not any(
                    self.twin_values[id(o)].shape != o.shape for o in node.outputs
                    if id(o) in self.twin_values):
                continue  # depends on no input: its traced value becomes an initializer
            fn = CONVERTERS.get(node.op)
            if fn is None:
                raise self.unsupported(node)
            fn(self, node)


def _onnx_type(onnx: Any, dt: Any) -> int:
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dt))


def _perturbed(t: Tensor, axes: list[int]) -> Tensor:
    """``t`` for the second trace: grown along each dynamic axis (its rows repeated), and its
    values moved one place (the same values, so integer ids stay valid), so that whatever
    depends on the sizes or the values shows up as a difference between the traces. It stays
    on ``t``'s device."""
    data = t._data
    xp = np if type(data) is np.ndarray else backend_of(data).xp
    for a in axes:
        n = data.shape[a]
        m = n + 1 if n >= 2 else n + 2
        data = xp.take(data, xp.arange(m) % max(n, 1), axis=a)
    if data.size > 1:
        data = xp.roll(data.reshape(-1), 1).reshape(data.shape)
    return Tensor._make(xp.ascontiguousarray(data))


def _host(a: Any) -> Any:
    """``a`` as a NumPy array if it is a device array (an explicit device-to-host copy), else
    ``a`` itself; tuples and lists are searched (a node's options)."""
    if type(a) in DEVICE_TYPES:
        return backend_of(a).to_host(a)
    if type(a) in (tuple, list):
        items = [_host(x) for x in a]
        if any(x is not y for x, y in zip(items, a)):
            return type(a)(items)
    return a


def _to_host(graph: Graph, values: bool = True) -> None:
    """Puts the arrays ``graph`` holds on the host, in place: the arrays among its nodes'
    options and its constants' data, and with ``values`` the data of its parameters, buffers
    and the folded values of its live nodes (the second trace needs only the former: it is
    compared, not written). The exporter makes initializers and constants with NumPy, so a
    model on a GPU exports the same file as on the CPU."""
    if not DEVICE_TYPES:
        return  # NumPy's arrays only
    for node in graph.nodes:
        node.args = _host(node.args)
        node.kwargs = {k: _host(v) for k, v in node.kwargs.items()}
    todo = list(graph.constants)
    if values:
        todo += [*graph.params.values(), *(o for n in graph.live_nodes() for o in n.outputs)]
    for v in todo:
        if v.data is not None:
            v.data = _host(v.data)


def _same(a: Any, b: Any) -> bool:
    return a.shape != b.shape or np.array_equal(a, b, equal_nan=True)


def _check_frozen(graph: Graph, twin: Graph) -> None:
    """Refuses values the trace froze although they depend on the inputs: constants (tensors
    made without an op: argmax, nonzero, Python numbers read from tensors) and arrays among an
    op's options that differ between the two traces."""
    for c, tc in zip(graph.constants, twin.constants):
        if not _same(np.asarray(c.data), np.asarray(tc.data)):
            raise OnnxExporterError(
                f"{c.name}, a {c.dtype}{list(c.shape)} tensor the forward made without an op "
                "the tracer records (argmax, nonzero, a value read with .item() ...), depends "
                "on the input values: the exported model would keep the example's")
    for node, tnode in zip(graph.nodes, twin.nodes):
        for key, value in node.kwargs.items():
            other = tnode.kwargs.get(key)
            if (hasattr(value, "shape") and hasattr(value, "dtype")
                    and not isinstance(value, Value) and hasattr(other, "shape")
                    and not _same(np.asarray(value), np.asarray(other))):
                raise OnnxExporterError(
                    f"{node.name}'s {key!r} was computed from the input values outside the ops "
                    "the tracer records: the exported model would keep the example's")


def _replace(obj: Any, swap: dict[int, Tensor]) -> Any:
    if isinstance(obj, Tensor):
        return swap.get(id(obj), obj)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_replace(o, swap) for o in obj)
    if isinstance(obj, dict):
        return {k: _replace(v, swap) for k, v in obj.items()}
    return obj


def _axes_spec(name: str, spec: Any) -> dict[int, str]:
    if isinstance(spec, dict):
        return {int(a): str(s) for a, s in spec.items()}
    return {int(a): f"{name}_dynamic_axes_{i + 1}" for i, a in enumerate(spec)}


def _input_names(model: Any, count: int, given: Any) -> list[str]:
    names = list(given or [])
    if len(names) < count:
        import inspect

        try:
            params = [p.name for p in inspect.signature(
                getattr(model, "forward", model)).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            params = []
        for i in range(len(names), count):
            n = params[i] if i < len(params) else f"input_{i}"
            names.append(n if n not in names else f"input_{i}")
    return names[:count]


def build(model: Any, args: Any, kwargs: dict | None, *, input_names: Any, output_names: Any,
          opset: int, dynamic_axes: Any, fold: bool, export_params: bool,
          keep_initializers_as_inputs: bool, verbose: bool) -> Any:
    """The checked ``onnx.ModelProto`` of ``model(*args, **kwargs)``."""
    onnx = _onnx()
    if isinstance(args, Tensor):
        args = (args,)
    args, kwargs = tuple(args), dict(kwargs or {})
    # the traces run the forward twice: buffers it updates (a batch norm's running statistics
    # in training mode) are put back as they were
    buffers = [(t, t._data.copy()) for _, t in getattr(model, "named_buffers", list)()]
    try:
        return _build(onnx, model, args, kwargs, input_names, output_names, opset,
                      dynamic_axes, fold, export_params, keep_initializers_as_inputs, verbose)
    finally:
        for t, data in buffers:
            if t._data.shape == data.shape:
                t._data[...] = data


def _build(onnx: Any, model: Any, args: tuple, kwargs: dict, input_names: Any,
           output_names: Any, opset: int, dynamic_axes: Any, fold: bool, export_params: bool,
           keep_initializers_as_inputs: bool, verbose: bool) -> Any:
    graph, _ = trace(model, args, kwargs, non_ops=True)
    _to_host(graph)
    in_names = _input_names(model, len(graph.inputs), input_names)
    out_names = list(output_names or [])
    out_names += [f"output_{i}" if len(graph.outputs) > 1 or i else "output"
                  for i in range(len(out_names), len(graph.outputs))]
    out_names = out_names[:len(graph.outputs)]
    dynamic = {k: _axes_spec(k, v) for k, v in (dynamic_axes or {}).items()}
    unknown = set(dynamic) - set(in_names) - set(out_names)
    if unknown:
        raise ValueError(f"dynamic_axes names {sorted(unknown)}, which are neither inputs "
                         f"({in_names}) nor outputs ({out_names})")
    # a second trace, on other values (and sizes along the dynamic axes): what changes between
    # the two is what the exported graph must compute rather than keep
    sizes: dict[tuple[int, int], str] = {}  # (traced size, twin size) -> symbol
    tensors = _flatten((args, kwargs))
    swap: dict[int, Tensor] = {}
    seen: list[Tensor] = []
    for t in tensors:
        if all(t is not s for s in seen):
            seen.append(t)
    for t, name in zip(seen, in_names):
        swap[id(t)] = _perturbed(t, sorted(a % max(t.ndim, 1) for a in dynamic.get(name, {})))
    twin, _ = trace(model, _replace(args, swap), _replace(kwargs, swap), non_ops=True)
    _to_host(twin, values=False)
    if [n.op for n in twin.nodes] != [n.op for n in graph.nodes]:
        raise DynamicShapeError(
            "the model runs different ops for other input values or sizes (Python control "
            "flow on them): the exported graph would follow the example's path only")
    _check_frozen(graph, twin)
    for v, tv, name in zip(graph.inputs, twin.inputs, in_names):
        for a, sym in dynamic.get(name, {}).items():
            a %= max(len(v.shape), 1)
            sizes[(v.shape[a], tv.shape[a])] = sym
    b = _Builder(onnx, graph, twin, opset, fold)
    b.dynamic = bool(sizes)
    for v, tv, name in zip(graph.inputs, twin.inputs, in_names):
        for a, (s, t) in enumerate(zip(v.shape, tv.shape)):
            if s != t:
                b.dim_sources.setdefault((s, t), (name, a))
    for v, name in zip(graph.inputs, in_names):
        b.names[id(v)] = name
    b.convert()

    def dims(v: Value, name: str) -> list:
        tv = b.twin_value(v) if twin is not None else None
        given = dynamic.get(name, {})
        out = []
        for i, s in enumerate(v.shape):
            if tv is not None and tv.shape[i] != s:
                out.append(given.get(i) or sizes.get((s, tv.shape[i])) or f"{name}_dim_{i}")
            else:
                out.append(s)
        return out

    outputs = []
    for v, name in zip(graph.outputs, out_names):
        src = b.inp(v)  # an output may be an input, a parameter or a folded constant
        b.emit("Identity", [src], [name])
        outputs.append(onnx.helper.make_tensor_value_info(
            name, _onnx_type(onnx, v.dtype.np), dims(v, name)))
    inputs = [onnx.helper.make_tensor_value_info(name, _onnx_type(onnx, v.dtype.np),
                                                 dims(v, name))
              for v, name in zip(graph.inputs, in_names)]
    inits = list(b.inits.values())
    params = {p.name for p in graph.params.values()}
    if not export_params or keep_initializers_as_inputs:
        by_name = {t.name: t for t in inits}
        for name in graph.params:  # in state_dict order
            t = by_name.get(name)
            if t is not None:
                inputs.append(onnx.helper.make_tensor_value_info(
                    t.name, t.data_type, list(t.dims)))
        if not export_params:
            inits = [t for t in inits if t.name not in params]
    g = onnx.helper.make_graph(b.nodes, "main_graph", inputs, outputs, inits)
    model_proto = onnx.helper.make_model(
        g, opset_imports=[onnx.helper.make_opsetid("", opset)], producer_name="ember",
        producer_version=_version())
    model_proto.ir_version = 8 if opset <= 18 else 9 if opset <= 20 else 10
    onnx.checker.check_model(model_proto, full_check=export_params)
    if verbose:
        print(graph)
        print(onnx.helper.printable_graph(model_proto.graph))
    return model_proto


def _version() -> str:
    from ..version import ember as v

    return str(v)


def write(proto: Any, f: Any) -> None:
    """Writes ``proto`` to the path or file object ``f``; a path is replaced atomically (a
    failed write leaves the old file, or none)."""
    data = proto.SerializeToString()
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".ember-onnx-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    elif isinstance(f, io.IOBase) or hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(f"f must be a path or a binary file object, not {type(f).__name__}")
