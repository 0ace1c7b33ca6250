"""Each traced op as ONNX operators: ``CONVERTERS[op class](builder, node)``.

A converter reads the node's Values through ``b.inp`` (initializers made on demand for
parameters, buffers and folded constants), its options from ``node.kwargs`` (what ``Op.apply``
got), and names its results ``b.out(node, i)``. Options that depend on a dynamic axis are read
from the second trace too (``b.twin(node)``): a reshape's entry that changed becomes -1.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .. import dtypes
from .._trace import Node, Value
from .._trace.tracer import Ufunc
from ..ops import (
    activation,
    activation_ext,
    arrange,
    attention,
    compare,
    conv,
    convert,
    elementwise,
    indexing,
    linalg,
    norm,
    pool,
    pool_nd,
    recurrent,
    reduce,
    scatter,
    shape,
    stats,
    unary,
)

CONVERTERS: dict[type, Callable[[Any, Node], None]] = {}


class DynamicShapeError(RuntimeError):
    """An op's options change with a dynamic axis in a way the exported graph cannot follow."""


def converts(*classes: type) -> Callable:
    def register(fn: Callable) -> Callable:
        for c in classes:
            CONVERTERS[c] = fn
        return fn
    return register


def _operand(b: Any, a: Any, like: Value) -> str:
    """A Value's name, or a Python scalar as a constant of ``like``'s dtype."""
    if isinstance(a, Value):
        return b.inp(a, like.dtype)
    return b.const(np.asarray(a, dtype=b.np_dtype(like)))


# -- element-wise -----------------------------------------------------------------------------


def _binary(op_type: str) -> Callable:
    def convert_(b: Any, node: Node) -> None:
        out = node.outputs[0]
        x, y = (_operand(b, a, out) for a in node.args[:2])
        alpha = node.kwargs.get("alpha", 1)
        if alpha != 1:
            y2 = b.tmp()
            b.emit("Mul", [y, b.const(np.asarray(alpha, b.np_dtype(out)))], [y2])
            y = y2
        b.emit(op_type, [x, y], [b.out(node)])
    return convert_


converts(elementwise.Add)(_binary("Add"))
converts(elementwise.Sub)(_binary("Sub"))
converts(elementwise.Mul)(_binary("Mul"))


@converts(elementwise.Div)
def _div(b: Any, node: Node) -> None:
    if node.outputs[0].dtype.is_floating_point:
        return _binary("Div")(b, node)
    raise b.unsupported(node)


@converts(elementwise.PowScalar)
def _pow(b: Any, node: Node) -> None:
    x, out = node.args[0], node.outputs[0]
    e = node.kwargs["exponent"]
    if e == 2:
        b.emit("Mul", [b.inp(x), b.inp(x)], [b.out(node)])
    elif e == 0.5:
        b.emit("Sqrt", [b.inp(x)], [b.out(node)])
    else:
        b.emit("Pow", [b.inp(x, out.dtype), _operand(b, e, out)], [b.out(node)])


def _unary(op_type: str, **attrs: Any) -> Callable:
    def convert_(b: Any, node: Node) -> None:
        b.emit(op_type, [b.inp(node.args[0])], [b.out(node)], **attrs)
    return convert_


for _cls, _name in ((unary.Relu, "Relu"), (unary.Sigmoid, "Sigmoid"), (unary.Tanh, "Tanh"),
                    (unary.Exp, "Exp"), (unary.Abs, "Abs"), (unary.Neg, "Neg"),
                    (unary.Sqrt, "Sqrt"), (unary.Reciprocal, "Reciprocal"),
                    (activation.Hardswish, "HardSwish"), (unary.Log, "Log"),
                    (unary.Sin, "Sin"), (unary.Cos, "Cos"), (unary.Rsqrt, None)):
    if _name is not None:
        converts(_cls)(_unary(_name))
converts(activation.Hardsigmoid)(_unary("HardSigmoid", alpha=1 / 6, beta=0.5))
converts(convert.Clone, shape.Alias)(_unary("Identity"))


@converts(unary.Rsqrt)
def _rsqrt(b: Any, node: Node) -> None:
    s = b.tmp()
    b.emit("Sqrt", [b.inp(node.args[0])], [s])
    b.emit("Reciprocal", [s], [b.out(node)])


@converts(activation.Silu)
def _silu(b: Any, node: Node) -> None:
    x, s = b.inp(node.args[0]), b.tmp()
    b.emit("Sigmoid", [x], [s])
    b.emit("Mul", [x, s], [b.out(node)])


@converts(activation.Hardtanh)
def _hardtanh(b: Any, node: Node) -> None:
    out = node.outputs[0]
    lo, hi = node.kwargs["lo"], node.kwargs["hi"]
    b.emit("Clip", [b.inp(node.args[0]), _operand(b, lo, out), _operand(b, hi, out)],
           [b.out(node)])


@converts(compare.ClampScalar)
def _clamp(b: Any, node: Node) -> None:
    out = node.outputs[0]
    lo, hi = node.kwargs.get("min"), node.kwargs.get("max")
    ins = [b.inp(node.args[0]), "" if lo is None else _operand(b, lo, out),
           "" if hi is None else _operand(b, hi, out)]
    b.emit("Clip", ins, [b.out(node)])


@converts(activation.LeakyRelu)
def _leaky(b: Any, node: Node) -> None:
    b.emit("LeakyRelu", [b.inp(node.args[0])], [b.out(node)], alpha=float(node.kwargs["slope"]))


@converts(activation.Elu)
def _elu(b: Any, node: Node) -> None:
    """scale * elu(input_scale * x, alpha): elu, selu and celu's family."""
    kw, out = node.kwargs, node.outputs[0]
    x = b.inp(node.args[0])
    if kw.get("input_scale", 1.0) != 1.0:
        t = b.tmp()
        b.emit("Mul", [x, _operand(b, kw["input_scale"], out)], [t])
        x = t
    if kw.get("scale", 1.0) == 1.0:
        b.emit("Elu", [x], [b.out(node)], alpha=float(kw["alpha"]))
        return
    e = b.tmp()
    b.emit("Elu", [x], [e], alpha=float(kw["alpha"]))
    b.emit("Mul", [e, _operand(b, kw["scale"], out)], [b.out(node)])


@converts(activation.Gelu)
def _gelu(b: Any, node: Node) -> None:
    x, out = b.inp(node.args[0]), node.outputs[0]
    c = lambda v: b.const(np.asarray(v, b.np_dtype(out)))
    if b.opset >= 20:
        b.emit("Gelu", [x], [b.out(node)], approximate=node.kwargs["approximate"])
        return
    inner = b.tmp()
    if node.kwargs["approximate"] == "tanh":  # 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))
        x3, t1, t2, t3 = b.tmp(), b.tmp(), b.tmp(), b.tmp()
        b.emit("Pow", [x, c(3.0)], [x3])
        b.emit("Mul", [x3, c(0.044715)], [t1])
        b.emit("Add", [x, t1], [t2])
        b.emit("Mul", [t2, c(math.sqrt(2 / math.pi))], [t3])
        b.emit("Tanh", [t3], [inner])
    else:  # 0.5x(1 + erf(x / sqrt 2))
        t = b.tmp()
        b.emit("Mul", [x, c(1 / math.sqrt(2))], [t])
        b.emit("Erf", [t], [inner])
    # x * (1 + inner) * 0.5, in the order torch writes it (onnxruntime fuses that pattern)
    one, prod = b.tmp(), b.tmp()
    b.emit("Add", [inner, c(1.0)], [one])
    b.emit("Mul", [x, one], [prod])
    b.emit("Mul", [prod, c(0.5)], [b.out(node)])


@converts(indexing.MaskedFill)
def _masked_fill(b: Any, node: Node) -> None:
    out = node.outputs[0]
    x, value = node.args[0], node.args[1]
    m = b.option(node, "mask", bool)
    b.emit("Where", [m, _operand(b, value, out), b.inp(x)], [b.out(node)])


# -- reductions and softmax ---------------------------------------------------------------------


def _reduce(op_type: str) -> Callable:
    def convert_(b: Any, node: Node) -> None:
        x = node.args[0]
        axes = node.kwargs.get("axes")
        if axes is None:
            axes = tuple(range(len(x.shape)))
        keep = int(bool(node.kwargs.get("keepdim", False)))
        b.reduce(op_type, b.inp(x, node.outputs[0].dtype), axes, keep, b.out(node))
    return convert_


converts(reduce.MeanDim, reduce.Mean)(_reduce("ReduceMean"))
converts(reduce.SumDim, reduce.Sum)(_reduce("ReduceSum"))
converts(reduce.Amax)(_reduce("ReduceMax"))


@converts(reduce.MaxDim)
def _max_dim(b: Any, node: Node) -> None:
    x, d = b.inp(node.args[0]), node.kwargs["dim"]
    keep = int(bool(node.kwargs.get("keepdim", False)))
    b.reduce("ReduceMax", x, (d,), keep, b.out(node, 0))
    b.emit("ArgMax", [x], [b.out(node, 1)], axis=d, keepdims=keep)


@converts(reduce.Softmax)
def _softmax(b: Any, node: Node) -> None:
    b.emit("Softmax", [b.inp(node.args[0], node.outputs[0].dtype)], [b.out(node)],
           axis=node.kwargs["dim"])


@converts(reduce.LogSoftmax)
def _log_softmax(b: Any, node: Node) -> None:
    b.emit("LogSoftmax", [b.inp(node.args[0], node.outputs[0].dtype)], [b.out(node)],
           axis=node.kwargs["dim"])


# -- shapes -------------------------------------------------------------------------------------


@converts(shape.View, shape.UnsafeView, shape.ReshapeAlias)
def _reshape(b: Any, node: Node) -> None:
    target = list(node.kwargs["shape"])
    twin = b.twin(node)
    if twin is not None:
        changed = [i for i, (s, t) in enumerate(zip(target, twin.kwargs["shape"])) if s != t]
        if changed:
            b.changed(node, "target shape")
        if len(changed) > 1:  # sizes read from the inputs' shapes at run time
            shape = b.shape_tensor(target, twin.kwargs["shape"], node.name, infer=True)
            b.emit("Reshape", [b.inp(node.args[0]), shape], [b.out(node)])
            return
        for i in changed:
            target[i] = -1
    b.emit("Reshape", [b.inp(node.args[0]), b.ints(target)], [b.out(node)])


@converts(shape.Unsqueeze)
def _unsqueeze(b: Any, node: Node) -> None:
    b.emit("Unsqueeze", [b.inp(node.args[0]), b.ints([node.kwargs["dim"]])], [b.out(node)])


@converts(shape.Squeeze, shape.SqueezeDim, shape.SqueezeDims)
def _squeeze(b: Any, node: Node) -> None:
    dims = node.kwargs.get("dims")
    x = node.args[0]
    if dims is None:
        dims = tuple(i for i, s in enumerate(x.shape) if s == 1)
    dims = tuple(d for d in dims if x.shape[d] == 1)  # squeezing a dim > 1 is a no-op in torch
    if not dims:
        b.emit("Identity", [b.inp(x)], [b.out(node)])
    else:
        b.emit("Squeeze", [b.inp(x), b.ints(dims)], [b.out(node)])


@converts(shape.Permute)
def _permute(b: Any, node: Node) -> None:
    b.emit("Transpose", [b.inp(node.args[0])], [b.out(node)], perm=list(node.kwargs["dims"]))


@converts(shape.Transpose)
def _transpose(b: Any, node: Node) -> None:
    n = len(node.args[0].shape)
    perm = list(range(n))
    d0, d1 = node.kwargs["dim0"] % max(n, 1), node.kwargs["dim1"] % max(n, 1)
    perm[d0], perm[d1] = perm[d1], perm[d0]
    b.emit("Transpose", [b.inp(node.args[0])], [b.out(node)], perm=perm)


@converts(shape.MatrixT)
def _matrix_t(b: Any, node: Node) -> None:
    x = node.args[0]
    if len(x.shape) < 2:
        b.emit("Identity", [b.inp(x)], [b.out(node)])
    else:
        b.emit("Transpose", [b.inp(x)], [b.out(node)], perm=[1, 0])


@converts(shape.Expand)
def _expand(b: Any, node: Node) -> None:
    target = list(node.kwargs["shape"])
    x = node.args[0]
    twin = b.twin(node)
    if twin is not None and tuple(twin.kwargs["shape"]) != tuple(target):
        b.changed(node, "shape")
        # a class token expanded to the batch: the sizes come from the inputs' shapes
        shape = b.shape_tensor(target, twin.kwargs["shape"], node.name)
        b.emit("Expand", [b.inp(x), shape], [b.out(node)])
        return
    b.emit("Expand", [b.inp(x), b.ints(target)], [b.out(node)])


@converts(arrange.Cat)
def _cat(b: Any, node: Node) -> None:
    out = node.outputs[0]
    b.emit("Concat", [b.inp(a, out.dtype) for a in node.args if isinstance(a, Value)],
           [b.out(node)], axis=node.kwargs["dim"])


@converts(arrange.Stack)
def _stack(b: Any, node: Node) -> None:
    out, d = node.outputs[0], node.kwargs["dim"]
    parts = []
    for a in node.args:
        t = b.tmp()
        b.emit("Unsqueeze", [b.inp(a, out.dtype), b.ints([d])], [t])
        parts.append(t)
    b.emit("Concat", parts, [b.out(node)], axis=d)


@converts(arrange.Split, arrange.SplitWithSizes)
def _split(b: Any, node: Node) -> None:
    bounds = node.kwargs["bounds"]
    sizes = [hi - lo for lo, hi in zip(bounds, bounds[1:])]
    twin = b.twin(node)
    if twin is not None and tuple(twin.kwargs["bounds"]) != tuple(bounds):
        b.changed(node, "split sizes")
        raise DynamicShapeError(f"{node.name}: the split sizes change with the dynamic axes")
    outs = [b.out(node, i) for i in range(len(node.outputs))]
    b.emit("Split", [b.inp(node.args[0]), b.ints(sizes)], outs, axis=node.kwargs["dim"])


def _view_key(node: Node) -> tuple | None:
    """The index key a Slice/Select node's closure applies (``a[key]``)."""
    fn = node.kwargs["fn"]
    cells = dict(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__ or ())))
    if "key" in cells:
        return cells["key"]
    if "d" in cells and "i" in cells:
        return (slice(None),) * cells["d"] + (cells["i"],)
    return None


@converts(shape.Slice, shape.Select)
def _slice(b: Any, node: Node) -> None:
    x = node.args[0]
    key = _view_key(node)
    if key is None:
        raise b.unsupported(node)
    twin = b.twin(node)
    twin_key = _view_key(twin) if twin is not None else key
    if twin_key is None or len(twin_key) != len(key) or any(
            type(k) is not type(k2) for k, k2 in zip(key, twin_key)):
        raise b.unsupported(node, "an index that changes between traces")
    if twin_key != key:
        b.changed(node, "index")
    starts, ends, axes, steps, drop = [], [], [], [], []
    for d, (k, k2) in enumerate(zip(key, twin_key)):
        if k is Ellipsis:
            break
        if isinstance(k, slice):
            if k == slice(None):
                continue
            n = x.shape[d]
            start, stop, step = k.indices(n)
            start2, stop2, _ = k2.indices(_twin_size(b, x, d))
            if (start, stop) != (start2, stop2) and not (start == start2 and stop == n):
                raise DynamicShapeError(f"{node.name}: a slice bound changes with the dynamic "
                                        "axes")
            if stop == n:
                stop = 2 ** 63 - 1  # to the end, whatever the size
            starts.append(start), ends.append(stop), axes.append(d), steps.append(step)
        else:
            i = int(k)
            if i != int(k2) and not (i == x.shape[d] - 1):  # x[..., -1] keeps following the end
                raise DynamicShapeError(f"{node.name}: an index changes with the dynamic axes")
            if i != int(k2) or i == x.shape[d] - 1 and _twin_size(b, x, d) != x.shape[d]:
                i = -1
            starts.append(i), ends.append(i + 1 if i != -1 else 2 ** 63 - 1)
            axes.append(d), steps.append(1), drop.append(d)
    src = b.inp(x)
    if not axes:
        b.emit("Identity", [src], [b.out(node)])
        return
    target = b.tmp() if drop else b.out(node)
    b.emit("Slice", [src, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)], [target])
    if drop:
        b.emit("Squeeze", [target, b.ints(drop)], [b.out(node)])


def _twin_size(b: Any, x: Value, d: int) -> int:
    twin = b.twin_value(x)
    return x.shape[d] if twin is None else twin.shape[d]


@converts(indexing.Index)
def _index(b: Any, node: Node) -> None:
    key = node.kwargs["key"]
    arrays = [(d, k) for d, k in enumerate(key) if not isinstance(k, slice)]
    if len(arrays) != 1 or any(k != slice(None) for k in key if isinstance(k, slice)):
        raise b.unsupported(node)
    d, idx = arrays[0]
    b.emit("Gather", [b.inp(node.args[0]), b.const(np.asarray(idx, np.int64))], [b.out(node)],
           axis=d)


@converts(activation.Embedding)
def _embedding(b: Any, node: Node) -> None:
    b.emit("Gather", [b.inp(node.args[0]), b.option(node, "indices", np.int64)],
           [b.out(node)], axis=0)


@converts(conv.ConstantPadNd)
def _pad(b: Any, node: Node) -> None:
    x, out = node.args[0], node.outputs[0]
    pad = list(node.kwargs["pad"])
    n = len(x.shape)
    begins, ends = [0] * n, [0] * n
    for j in range(len(pad) // 2):  # torch's pad lists the last dim first: (left, right, ...)
        begins[n - 1 - j], ends[n - 1 - j] = pad[2 * j], pad[2 * j + 1]
    b.emit("Pad", [b.inp(x), b.ints(begins + ends), _operand(b, node.kwargs["value"], out)],
           [b.out(node)], mode="constant")


# -- linear algebra -----------------------------------------------------------------------------


@converts(linalg.Addmm)
def _addmm(b: Any, node: Node) -> None:
    c, m1, m2 = node.args
    kw = node.kwargs
    if len(m1.shape) != 2 or len(m2.shape) != 2:
        raise b.unsupported(node)
    trans_b = 0
    src = m2.producer
    if src is not None and src.op is shape.MatrixT and src.args[0].kind == "param":
        m2, trans_b = src.args[0], 1  # linear's weight.t(): the weight itself, as torch writes it
    c_name = b.inp(c) if isinstance(c, Value) else _operand(b, c, node.outputs[0])
    b.emit("Gemm", [b.inp(m1), b.inp(m2), c_name], [b.out(node)], transB=trans_b,
           alpha=float(kw.get("alpha", 1)), beta=float(kw.get("beta", 1)))


@converts(linalg.Mm, linalg.Bmm, linalg.Mv, linalg._Batched, linalg._BatchedClone,
          linalg._BatchedT, linalg._VecMat, linalg.Dot)
def _matmul(b: Any, node: Node) -> None:
    a, m = node.args[:2]
    names = []
    for v, t in ((a, node.kwargs.get("ta", False)), (m, node.kwargs.get("tb", False))):
        name = b.inp(v, node.outputs[0].dtype)
        if t and len(v.shape) >= 2:
            n = len(v.shape)
            tmp = b.tmp()
            b.emit("Transpose", [name], [tmp], perm=list(range(n - 2)) + [n - 1, n - 2])
            name = tmp
        names.append(name)
    b.emit("MatMul", names, [b.out(node)])


@converts(attention.ScaledDotProductAttention)
def _sdpa(b: Any, node: Node) -> None:
    q, k, v = node.args[:3]
    out = node.outputs[0]
    kw = node.kwargs
    n = len(k.shape)
    kt, s, scaled = b.tmp(), b.tmp(), b.tmp()
    b.emit("Transpose", [b.inp(k)], [kt], perm=list(range(n - 2)) + [n - 1, n - 2])
    b.emit("MatMul", [b.inp(q), kt], [s])
    b.emit("Mul", [s, b.const(np.asarray(kw["scale"], b.np_dtype(out)))], [scaled])
    L, S = q.shape[-2], k.shape[-2]
    bias = np.zeros((L, S), b.np_dtype(out))
    if kw.get("causal"):
        bias[np.triu_indices(L, 1, S)] = -np.inf
    mask = kw.get("mask")
    if isinstance(mask, Value):  # a mask computed from the inputs (a key padding mask)
        if kw.get("causal"):
            raise b.unsupported(node, "a causal and a computed mask")
        m = b.inp(mask)
        if mask.dtype is dtypes.bool:
            t = b.tmp()
            b.emit("Where", [m, b.const(np.asarray(0.0, b.np_dtype(out))),
                             b.const(np.asarray(-np.inf, b.np_dtype(out)))], [t])
            m = t
        elif mask.dtype is not out.dtype:
            m = b.inp(mask, out.dtype)
        masked = b.tmp()
        b.emit("Add", [scaled, m], [masked])
        scaled, mask = masked, None
    elif mask is not None:
        m = np.asarray(mask)
        bias = bias + (np.where(m, 0.0, -np.inf) if m.dtype == bool else m).astype(bias.dtype)
    if kw.get("causal") or mask is not None:
        twin = b.twin(node)
        if twin is not None and (twin.args[0].shape[-2], twin.args[1].shape[-2]) != (L, S):
            raise DynamicShapeError(f"{node.name}: a mask over a dynamic sequence length")
        masked = b.tmp()
        b.emit("Add", [scaled, b.const(bias)], [masked])
        scaled = masked
    p = b.tmp()
    b.emit("Softmax", [scaled], [p], axis=-1)
    b.emit("MatMul", [p, b.inp(v)], [b.out(node)])


# -- convolution, pooling, normalization -------------------------------------------------------


def _window_attrs(geo: Any) -> dict:
    return {"kernel_shape": list(geo.kernel), "strides": list(geo.stride),
            "pads": list(geo.pad) * 2}


@converts(conv.Convolution)
def _conv(b: Any, node: Node) -> None:
    x, w = node.args[:2]
    bias = node.args[2] if len(node.args) > 2 else None
    geo, kind = node.kwargs["geo"], node.kwargs["kind"]
    ins = [b.inp(x), b.inp(w)] + ([b.inp(bias)] if isinstance(bias, Value) else [])
    attrs = _window_attrs(geo)
    attrs.update(dilations=list(geo.dilation), group=int(geo.groups))
    if kind == conv.FORWARD:
        b.emit("Conv", ins, [b.out(node)], **attrs)
    elif kind == conv.INPUT_GRAD:  # the transposed convolution
        outs = geo.in_hw
        extra = [o - ((i - 1) * s - 2 * p + d * (k - 1) + 1) for o, i, s, p, d, k in zip(
            outs, geo.out_hw, geo.stride, geo.pad, geo.dilation, geo.kernel)]
        b.emit("ConvTranspose", ins, [b.out(node)], output_padding=extra, **attrs)
    else:
        raise b.unsupported(node)


def _ceil_mode(geo: Any) -> int:
    floor = [(n + 2 * p - d * (k - 1) - 1) // s + 1 for n, p, d, k, s in zip(
        geo.in_hw, geo.pad, geo.dilation, geo.kernel, geo.stride)]
    return int(tuple(floor) != tuple(geo.out_hw))


def _spatial_fixed(b: Any, node: Node) -> None:
    twin = b.twin(node)
    if twin is not None and tuple(twin.args[0].shape[2:]) != tuple(node.args[0].shape[2:]):
        if _ceil_mode(node.kwargs["geo"]) or "divisor" in node.kwargs:
            raise DynamicShapeError(f"{node.name}: dynamic spatial axes are not supported here")


@converts(pool.MaxPool2d)
def _max_pool(b: Any, node: Node) -> None:
    if node.kwargs.get("return_indices"):
        raise b.unsupported(node)
    geo = node.kwargs["geo"]
    _spatial_fixed(b, node)
    b.emit("MaxPool", [b.inp(node.args[0])], [b.out(node)], dilations=list(geo.dilation),
           ceil_mode=_ceil_mode(geo), **_window_attrs(geo))


def _divisors(geo: Any, include_pad: bool) -> Any:
    sizes = []
    for o, s, p, k, n in zip(geo.out_hw, geo.stride, geo.pad, geo.kernel, geo.in_hw):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        sizes.append(end - start if include_pad else np.minimum(end, n) - np.maximum(start, 0))
    return sizes[0].reshape(-1, 1) * sizes[1]


@converts(pool.AvgPool2d)
def _avg_pool(b: Any, node: Node) -> None:
    geo, divisor = node.kwargs["geo"], node.kwargs["divisor"]
    _spatial_fixed(b, node)
    ceil = _ceil_mode(geo)
    for include in (1, 0):
        want = _divisors(geo, bool(include))
        # ONNX divides ceil-mode windows that hang past the padding by their clipped size
        if np.array_equal(np.broadcast_to(np.asarray(divisor), want.shape), want):
            b.emit("AveragePool", [b.inp(node.args[0])], [b.out(node)], ceil_mode=ceil,
                   count_include_pad=include, **_window_attrs(geo))
            return
    raise b.unsupported(node, "a divisor_override")


@converts(pool.AdaptiveAvgPool2d)
def _adaptive_avg(b: Any, node: Node) -> None:
    x = node.args[0]
    if tuple(node.outputs[0].shape[-2:]) == (1, 1):
        b.emit("GlobalAveragePool", [b.inp(x)], [b.out(node)])
        return
    twin = b.twin(node)
    if twin is not None and tuple(twin.args[0].shape[-2:]) != tuple(x.shape[-2:]):
        raise DynamicShapeError(f"{node.name}: dynamic spatial axes are not supported here")
    # each output is a weighted sum of its window: Y = A_h @ X @ A_w^T, the op's own matrices
    mh, mw = node.kwargs["mats"]
    dt = b.np_dtype(x)
    rows = b.tmp()
    b.emit("MatMul", [b.const(np.asarray(mh, dt)), b.inp(x)], [rows])
    b.emit("MatMul", [rows, b.const(np.ascontiguousarray(np.asarray(mw, dt).T))], [b.out(node)])


@converts(pool.AdaptiveMaxPool2d)
def _adaptive_max(b: Any, node: Node) -> None:
    if tuple(node.kwargs["out_hw"]) != (1, 1) or node.kwargs.get("return_indices"):
        raise b.unsupported(node)
    b.emit("GlobalMaxPool", [b.inp(node.args[0])], [b.out(node)])


@converts(norm.BatchNorm)
def _batch_norm(b: Any, node: Node) -> None:
    kw = node.kwargs
    if kw.get("training"):
        if kw.get("running_mean") is None and kw.get("running_var") is None:
            return _batch_statistics(b, node)  # instance norm: statistics of each sample
        raise b.unsupported(node, "batch statistics (training mode)")
    x, w, bias = (list(node.args) + [None, None])[:3]
    c = x.shape[1]
    dt = b.np_dtype(x)
    ins = [b.inp(x),
           b.inp(w) if isinstance(w, Value) else b.const(np.ones(c, dt)),
           b.inp(bias) if isinstance(bias, Value) else b.const(np.zeros(c, dt))]
    for stat in (kw["running_mean"], kw["running_var"]):
        ins.append(b.inp(stat) if isinstance(stat, Value) else b.const(np.asarray(stat, dt)))
    b.emit("BatchNormalization", ins, [b.out(node)], epsilon=float(kw["eps"]))


def _batch_statistics(b: Any, node: Node) -> None:
    """(x - mean) / sqrt(biased var + eps) * w + b over every dim but the channels'."""
    x, w, bias = (list(node.args) + [None, None])[:3]
    out = node.outputs[0]
    axes = [a for a in range(len(x.shape)) if a != 1]
    name = b.inp(x)
    mean, diff, sq, var, std, y = (b.tmp() for _ in range(6))
    b.reduce("ReduceMean", name, axes, 1, mean)
    b.emit("Sub", [name, mean], [diff])
    b.emit("Mul", [diff, diff], [sq])
    b.reduce("ReduceMean", sq, axes, 1, var)
    eps = b.tmp()
    b.emit("Add", [var, _operand(b, float(node.kwargs["eps"]), out)], [eps])
    b.emit("Sqrt", [eps], [std])
    b.emit("Div", [diff, std], [y])
    shape = [-1] + [1] * (len(x.shape) - 2)
    for v, op_type in ((w, "Mul"), (bias, "Add")):
        if isinstance(v, Value):
            t, nxt = b.tmp(), b.tmp()
            b.emit("Reshape", [b.inp(v), b.ints(shape)], [t])
            b.emit(op_type, [y, t], [nxt])
            y = nxt
    b.emit("Identity", [y], [b.out(node)])


@converts(norm.LayerNorm)
def _layer_norm(b: Any, node: Node) -> None:
    x, w, bias = (list(node.args) + [None, None])[:3]
    width = node.kwargs["layout"].work[-1]
    k, size = 0, 1
    while size != width or k == 0:  # the trailing dims that make up the normalized width
        k += 1
        size *= x.shape[-k]
    dt = b.np_dtype(x)
    norm_shape = tuple(x.shape[-k:])
    ins = [b.inp(x),
           b.inp(w) if isinstance(w, Value) else b.const(np.ones(norm_shape, dt)),
           b.inp(bias) if isinstance(bias, Value) else b.const(np.zeros(norm_shape, dt))]
    b.emit("LayerNormalization", ins, [b.out(node)], axis=-k, epsilon=float(node.kwargs["eps"]))


# -- recurrent layers ---------------------------------------------------------------------------

# torch's gate blocks in ONNX's order: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h
_GATES = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


def _gates(a: Any, order: list[int]) -> Any:
    blocks = np.split(np.asarray(a), len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


@converts(recurrent.RnnLayer, recurrent.MkldnnRnnLayer)
def _rnn(b: Any, node: Node) -> None:
    x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0 = node.args
    kw = node.kwargs
    mode = kw["mode"]
    if kw.get("sizes") is not None or w_hr is not None or mode not in _GATES:
        raise b.unsupported(node, "packed sequences or projections" if mode in _GATES else "")
    weights = [w for w in (w_ih, w_hh, b_ih, b_hh) if isinstance(w, Value)]
    if not all(w.is_static for w in weights):
        raise b.unsupported(node, "weights computed from the inputs")
    order = _GATES[mode]
    dt = b.np_dtype(x)
    hidden = w_hh.shape[1]
    W = b.const(_gates(w_ih.data, order)[None].astype(dt))
    R = b.const(_gates(w_hh.data, order)[None].astype(dt))
    zeros = np.zeros(len(order) * hidden, dt)
    bias = np.concatenate([_gates(v.data, order) if isinstance(v, Value) else zeros
                           for v in (b_ih, b_hh)])
    ins = [b.inp(x), W, R, b.const(bias[None].astype(dt)), ""]
    for state in (h0, c0) if mode == "LSTM" else (h0,):
        if isinstance(state, Value) and state.is_static and not np.asarray(state.data).any():
            ins.append("")  # zeros, ONNX's default: and it follows a dynamic batch
        elif isinstance(state, Value):
            s = b.tmp()
            b.emit("Unsqueeze", [b.inp(state), b.ints([0])], [s])
            ins.append(s)
        else:
            ins.append("")
    while ins and ins[-1] == "":
        ins.pop()
    attrs: dict = {"hidden_size": hidden,
                   "direction": "reverse" if kw.get("reverse") else "forward"}
    op_type = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    if mode == "GRU":
        attrs["linear_before_reset"] = 1  # torch: r * (W_hn h + b_hn)
    if mode == "RNN_RELU":
        attrs["activations"] = ["Relu"]
    y, yh, yc = b.tmp(), b.tmp(), b.tmp()
    outs = [y, yh] + ([yc] if mode == "LSTM" else [])
    b.emit(op_type, ins, outs, **attrs)
    b.emit("Squeeze", [y, b.ints([1])], [b.out(node, 0)])
    b.emit("Squeeze", [yh, b.ints([0])], [b.out(node, 1)])
    if mode == "LSTM":
        b.emit("Squeeze", [yc, b.ints([0])], [b.out(node, 2)])
    else:  # the op's empty third output
        b.emit("Identity", [b.const(np.zeros((0,), dt))], [b.out(node, 2)])


@converts(recurrent.TransposeInplace)
def _transpose01(b: Any, node: Node) -> None:
    n = len(node.args[0].shape)
    b.emit("Transpose", [b.inp(node.args[0])], [b.out(node)], perm=[1, 0] + list(range(2, n)))


@converts(arrange.Roll)
def _roll(b: Any, node: Node) -> None:
    x = node.args[0]
    shifts, dims = node.kwargs["shifts"], node.kwargs["dims"]
    name = src = b.inp(x)
    flat = dims is None
    if flat:  # rolls the flattened tensor, then restores the shape
        t = b.tmp()
        b.emit("Reshape", [name, b.ints([-1])], [t])
        name, shape, dims = t, (math.prod(x.shape),), (0,)
    else:
        shape = x.shape
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    for s, d in zip(shifts, dims):
        n = shape[d]
        s %= n
        if s == 0:
            continue
        head, tail, joined = b.tmp(), b.tmp(), b.tmp()
        # out = cat(x[-s:], x[:-s]) along d: bounds from the end, whatever the size
        b.emit("Slice", [name, b.ints([-s]), b.ints([2 ** 63 - 1]), b.ints([d])], [head])
        b.emit("Slice", [name, b.ints([0]), b.ints([-s]), b.ints([d])], [tail])
        b.emit("Concat", [head, tail], [joined], axis=d)
        name = joined
    if flat:
        shp = b.tmp()
        b.emit("Shape", [src], [shp])
        b.emit("Reshape", [name, shp], [b.out(node)])
    else:
        b.emit("Identity", [name], [b.out(node)])


@converts(convert.ToCopy)
def _to_copy(b: Any, node: Node) -> None:
    x, out = node.args[0], node.outputs[0]
    if x.dtype is out.dtype:
        b.emit("Identity", [b.inp(x)], [b.out(node)])
    else:
        b.emit("Cast", [b.inp(x)], [b.out(node)], to=b.onnx_type(out))


# -- masks, comparisons, selection ---------------------------------------------------------------

_UFUNCS = {"equal": "Equal", "less": "Less", "less_equal": "LessOrEqual", "greater": "Greater",
           "greater_equal": "GreaterOrEqual", "logical_and": "And", "logical_or": "Or",
           "logical_xor": "Xor", "bitwise_and": "And", "bitwise_or": "Or", "bitwise_xor": "Xor"}


@converts(Ufunc)
def _ufunc(b: Any, node: Node) -> None:
    ufunc = node.kwargs["ufunc"]
    out = node.outputs[0]
    a, c = node.args
    like = a if isinstance(a, Value) else c
    if ufunc.startswith("logical"):  # on any dtype: nonzero is True
        names = []
        for v in (a, c):
            t = b.tmp()
            b.emit("Cast", [_operand(b, v, like)], [t], to=b.onnx_type(out))
            names.append(t)
    else:
        if ufunc.startswith("bitwise") and out.dtype is not dtypes.bool:
            raise b.unsupported(node, f"{ufunc} on integers")
        # compared in the dtype torch promotes both to
        common = dtypes.promote_types(a.dtype, c.dtype) if isinstance(c, Value) and \
            isinstance(a, Value) else like.dtype
        names = [b.inp(v, common) if isinstance(v, Value) else b.const(
            np.asarray(v, np.dtype(common.np))) for v in (a, c)]
    if ufunc == "not_equal":
        t = b.tmp()
        b.emit("Equal", names, [t])
        b.emit("Not", [t], [b.out(node)])
    elif ufunc in _UFUNCS:
        b.emit(_UFUNCS[ufunc], names, [b.out(node)])
    else:
        raise b.unsupported(node, ufunc)


@converts(compare.Where)
def _where(b: Any, node: Node) -> None:
    out = node.outputs[0]
    c = b.option(node, "cond", bool)
    b.emit("Where", [c] + [_operand(b, a, out) if not isinstance(a, Value) else b.inp(a, out.dtype)
                           for a in node.args[:2]], [b.out(node)])


def _binary_same(op_type: str) -> Callable:
    def convert_(b: Any, node: Node) -> None:
        out = node.outputs[0]
        b.emit(op_type, [b.inp(a, out.dtype) if isinstance(a, Value) else _operand(b, a, out)
                         for a in node.args[:2]], [b.out(node)])
    return convert_


converts(compare.Maximum)(_binary_same("Max"))
converts(compare.Minimum)(_binary_same("Min"))


@converts(compare.ClampMin, compare.ClampMax)
def _clamp_one(b: Any, node: Node) -> None:
    out = node.outputs[0]
    lo, hi = node.kwargs.get("min"), node.kwargs.get("max")
    ins = [b.inp(node.args[0]), "" if lo is None else _operand(b, lo, out),
           "" if hi is None else _operand(b, hi, out)]
    b.emit("Clip", ins, [b.out(node)])


@converts(arrange.Unbind)
def _unbind(b: Any, node: Node) -> None:
    d = node.kwargs["dim"]
    n = len(node.outputs)
    parts = [b.tmp() for _ in range(n)]
    b.emit("Split", [b.inp(node.args[0]), b.ints([1] * n)], parts, axis=d)
    for i, p in enumerate(parts):
        b.emit("Squeeze", [p, b.ints([d])], [b.out(node, i)])


@converts(arrange.Flip)
def _flip(b: Any, node: Node) -> None:
    dims = list(node.kwargs["dims"])
    big = 2 ** 63 - 1
    b.emit("Slice", [b.inp(node.args[0]), b.ints([-1] * len(dims)), b.ints([-big] * len(dims)),
                     b.ints(dims), b.ints([-1] * len(dims))], [b.out(node)])


@converts(scatter.IndexSelect)
def _index_select(b: Any, node: Node) -> None:
    b.emit("Gather", [b.inp(node.args[0]), b.option(node, "index", np.int64)],
           [b.out(node)], axis=node.kwargs["dim"])


@converts(scatter.Gather)
def _gather(b: Any, node: Node) -> None:
    b.emit("GatherElements", [b.inp(node.args[0]), b.option(node, "index", np.int64)],
           [b.out(node)], axis=node.kwargs["dim"])


# -- more element-wise ---------------------------------------------------------------------------

for _cls, _name in ((unary.Floor, "Floor"), (unary.Ceil, "Ceil"), (unary.Round, "Round"),
                    (unary.Sign, "Sign"), (unary.Erf, "Erf"), (unary.Sin, "Sin"),
                    (unary.Cos, "Cos")):
    converts(_cls)(_unary(_name))


@converts(activation.Softplus)
def _softplus(b: Any, node: Node) -> None:
    beta, threshold = node.kwargs.get("beta", 1.0), node.kwargs.get("threshold", 20.0)
    x, out = b.inp(node.args[0]), node.outputs[0]
    c = lambda v: b.const(np.asarray(v, b.np_dtype(out)))  # noqa: E731
    bx, sp, soft, big = b.tmp(), b.tmp(), b.tmp(), b.tmp()
    b.emit("Mul", [x, c(beta)], [bx])
    b.emit("Softplus", [bx], [sp])
    b.emit("Div", [sp, c(beta)], [soft])
    b.emit("Greater", [bx, c(threshold)], [big])  # torch: linear above the threshold
    b.emit("Where", [big, x, soft], [b.out(node)])


@converts(activation.Mish)
def _mish(b: Any, node: Node) -> None:
    x = b.inp(node.args[0])
    sp, th = b.tmp(), b.tmp()
    b.emit("Softplus", [x], [sp])
    b.emit("Tanh", [sp], [th])
    b.emit("Mul", [x, th], [b.out(node)])


@converts(activation.LogSigmoid)
def _log_sigmoid(b: Any, node: Node) -> None:
    x = b.inp(node.args[0])
    neg, sp = b.tmp(), b.tmp()
    b.emit("Neg", [x], [neg])
    b.emit("Softplus", [neg], [sp])  # log sigmoid(x) = -softplus(-x)
    b.emit("Neg", [sp], [b.out(node)])


@converts(activation.Celu)
def _celu(b: Any, node: Node) -> None:
    kw = node.kwargs
    if kw.get("scale", 1.0) != 1.0 or kw.get("input_scale", 1.0) != 1.0:
        raise b.unsupported(node)
    b.emit("Celu", [b.inp(node.args[0])], [b.out(node)], alpha=float(kw["alpha"]))


@converts(activation_ext.PreluKernel)
def _prelu(b: Any, node: Node) -> None:
    x, w = node.args
    weight = b.inp(w)
    if len(x.shape) > 1 and w.shape and w.shape[0] > 1:  # one slope per channel (dim 1)
        t = b.tmp()
        b.emit("Reshape", [weight, b.ints([-1] + [1] * (len(x.shape) - 2))], [t])
        weight = t
    b.emit("PRelu", [b.inp(x), weight], [b.out(node)])


@converts(unary.NanToNum)
def _nan_to_num(b: Any, node: Node) -> None:
    x, out = node.args[0], node.outputs[0]
    kw = node.kwargs
    info = np.finfo(b.np_dtype(out))
    name = b.inp(x)
    for test, value in ((lambda n: ("IsNaN", [n], {}), kw.get("nan") or 0.0),
                        (lambda n: ("IsInf", [n], {"detect_negative": 0}),
                         info.max if kw.get("posinf") is None else kw["posinf"]),
                        (lambda n: ("IsInf", [n], {"detect_positive": 0}),
                         info.min if kw.get("neginf") is None else kw["neginf"])):
        op_type, ins, attrs = test(name)
        mask, nxt = b.tmp(), b.tmp()
        b.emit(op_type, ins, [mask], **attrs)
        b.emit("Where", [mask, _operand(b, value, out), name], [nxt])
        name = nxt
    b.emit("Identity", [name], [b.out(node)])


# -- norms and statistics ------------------------------------------------------------------------


@converts(stats.VectorNorm)
def _vector_norm(b: Any, node: Node) -> None:
    x = node.args[0]
    kw = node.kwargs
    axes = kw.get("axes") or tuple(range(len(x.shape)))
    keep = int(bool(kw.get("keepdim")))
    ord_ = kw["ord"]
    name = b.inp(x, node.outputs[0].dtype)
    if ord_ == 2:
        b.reduce("ReduceL2", name, axes, keep, b.out(node))
    elif ord_ == 1:
        b.reduce("ReduceL1", name, axes, keep, b.out(node))
    elif ord_ == math.inf:
        a = b.tmp()
        b.emit("Abs", [name], [a])
        b.reduce("ReduceMax", a, axes, keep, b.out(node))
    else:
        raise b.unsupported(node, f"ord={ord_}")


def _moments(b: Any, node: Node, sqrt: bool) -> None:
    x, out = node.args[0], node.outputs[0]
    kw = node.kwargs
    axes = kw.get("axes") or tuple(range(len(x.shape)))
    n = math.prod(x.shape[a] for a in axes)
    twin = b.twin(node)
    if twin is not None and math.prod(twin.args[0].shape[a] for a in axes) != n:
        raise DynamicShapeError(f"{node.name}: reduced over a dynamic axis")
    name = b.inp(x)
    mean, diff, sq, total, var = b.tmp(), b.tmp(), b.tmp(), b.tmp(), b.tmp()
    b.reduce("ReduceMean", name, axes, 1, mean)
    b.emit("Sub", [name, mean], [diff])
    b.emit("Mul", [diff, diff], [sq])
    b.reduce("ReduceSum", sq, axes, int(bool(kw.get("keepdim"))), total)
    denom = max(n - kw.get("correction", 1), 0)
    b.emit("Div", [total, b.const(np.asarray(denom, b.np_dtype(out)))], [var])
    b.emit("Sqrt" if sqrt else "Identity", [var], [b.out(node)])


converts(stats.Var)(lambda b, node: _moments(b, node, False))
converts(stats.Std)(lambda b, node: _moments(b, node, True))


@converts(norm.GroupNorm)
def _group_norm(b: Any, node: Node) -> None:
    x, w, bias = (list(node.args) + [None, None])[:3]
    groups = node.kwargs["layout"].work[1]
    n, c = x.shape[0], x.shape[1]
    dt = b.np_dtype(x)
    name = b.inp(x)
    # normalise (N, G, -1), then the per-channel affine on the original shape
    grouped, normed, back = b.tmp(), b.tmp(), b.tmp()
    b.emit("Reshape", [name, b.ints([0, groups, -1])], [grouped])
    b.emit("InstanceNormalization",
           [grouped, b.const(np.ones(groups, dt)), b.const(np.zeros(groups, dt))], [normed],
           epsilon=float(node.kwargs["eps"]))
    shp = b.tmp()
    b.emit("Shape", [name], [shp])
    b.emit("Reshape", [normed, shp], [back])
    shape = [c] + [1] * (len(x.shape) - 2)
    cur = back
    if isinstance(w, Value):
        t, nxt = b.tmp(), b.tmp()
        b.emit("Reshape", [b.inp(w), b.ints(shape)], [t])
        b.emit("Mul", [cur, t], [nxt])
        cur = nxt
    if isinstance(bias, Value):
        t, nxt = b.tmp(), b.tmp()
        b.emit("Reshape", [b.inp(bias), b.ints(shape)], [t])
        b.emit("Add", [cur, t], [nxt])
        cur = nxt
    b.emit("Identity", [cur], [b.out(node)])
    del n


# -- resampling, shuffles, 3-d pools -------------------------------------------------------------


@converts(*pool._RESAMPLE.values())
def _resample(b: Any, node: Node) -> None:
    x = node.args[0]
    if node.kwargs.get("adjoint"):
        raise b.unsupported(node)
    twin = b.twin(node)
    if twin is not None and tuple(twin.args[0].shape[-2:]) != tuple(x.shape[-2:]):
        raise DynamicShapeError(f"{node.name}: dynamic spatial axes are not supported here")
    dt = b.np_dtype(x)
    name = b.inp(x)
    # separable: along W then H, each output a weighted sum of gathered input rows (the op's
    # own taps), exactly its forward
    for axis, taps in ((-1, node.kwargs["taps"][1]), (-2, node.kwargs["taps"][0])):
        terms = []
        for index, weight in taps:
            g = b.tmp()
            b.emit("Gather", [name, b.const(np.asarray(index, np.int64))], [g], axis=axis)
            if weight is not None:
                w = np.asarray(weight, dt)
                if axis == -2:
                    w = w.reshape(-1, 1)
                m = b.tmp()
                b.emit("Mul", [g, b.const(w)], [m])
                g = m
            terms.append(g)
        if len(terms) > 1:
            s = b.tmp()
            b.emit("Sum", terms, [s])
            terms = [s]
        name = terms[0]
    b.emit("Identity", [name], [b.out(node)])


@converts(activation_ext.PixelShuffle, activation_ext.PixelUnshuffle,
          activation_ext.ChannelShuffle)
def _permutation(b: Any, node: Node) -> None:
    kw = node.kwargs
    shape, out_shape = list(kw["shape"]), list(kw["out_shape"])
    twin = b.twin(node)
    if twin is not None:
        for lst, other in ((shape, twin.kwargs["shape"]), (out_shape, twin.kwargs["out_shape"])):
            changed = [i for i, (s, t) in enumerate(zip(lst, other)) if s != t]
            if changed != [0]:
                if changed:
                    raise DynamicShapeError(f"{node.name}: dynamic axes other than the batch")
            else:
                lst[0] = -1
    t, p = b.tmp(), b.tmp()
    b.emit("Reshape", [b.inp(node.args[0]), b.ints(shape)], [t])
    b.emit("Transpose", [t], [p], perm=list(kw["perm"]))
    b.emit("Reshape", [p, b.ints(out_shape)], [b.out(node)])


@converts(pool_nd.MaxPool3d)
def _max_pool3d(b: Any, node: Node) -> None:
    _max_pool(b, node)


@converts(pool_nd.AvgPool3d)
def _avg_pool3d(b: Any, node: Node) -> None:
    geo, divisor = node.kwargs["geo"], node.kwargs["divisor"]
    _spatial_fixed(b, node)
    full = math.prod(geo.kernel)
    if not np.all(np.asarray(divisor) == full):
        raise b.unsupported(node, "windows over the padding or a divisor_override")
    b.emit("AveragePool", [b.inp(node.args[0])], [b.out(node)], ceil_mode=_ceil_mode(geo),
           count_include_pad=1, **_window_attrs(geo))


@converts(linalg.Baddbmm)
def _baddbmm(b: Any, node: Node) -> None:
    c, m1, m2 = node.args
    kw, out = node.kwargs, node.outputs[0]
    prod, scaled = b.tmp(), b.tmp()
    b.emit("MatMul", [b.inp(m1), b.inp(m2)], [prod])
    alpha, beta = kw.get("alpha", 1), kw.get("beta", 1)
    if alpha != 1:
        b.emit("Mul", [prod, _operand(b, alpha, out)], [scaled])
        prod = scaled
    if beta == 0:
        b.emit("Identity", [prod], [b.out(node)])
        return
    cname = b.inp(c) if isinstance(c, Value) else _operand(b, c, out)
    if beta != 1:
        t = b.tmp()
        b.emit("Mul", [cname, _operand(b, beta, out)], [t])
        cname = t
    b.emit("Add", [cname, prod], [b.out(node)])


@converts(arrange.Repeat)
def _repeat(b: Any, node: Node) -> None:
    x = node.args[0]
    reps = list(node.kwargs["repeats"])
    name = b.inp(x)
    extra = len(reps) - len(x.shape)
    if extra > 0:  # torch's repeat adds leading dims of size 1 first
        t = b.tmp()
        b.emit("Unsqueeze", [name, b.ints(range(extra))], [t])
        name = t
    twin = b.twin(node)
    if twin is not None and list(twin.kwargs["repeats"]) != reps:
        b.changed(node, "repeats")
        counts = b.shape_tensor(reps, twin.kwargs["repeats"], node.name)  # instance norm's N
    else:
        counts = b.ints(reps)
    b.emit("Tile", [name, counts], [b.out(node)])
