"""ONNX converters: linear algebra, attention, convolution, pooling, normalization,
statistics, resampling."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import dtypes
from .._trace import Node, Value
from ..ops import (
    activation_ext,
    attention,
    conv,
    cumulative,
    linalg,
    norm,
    pool,
    pool_nd,
    shape,
    sorting,
    stats,
)
from ._ops import DynamicShapeError, _operand, converts

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
    c = x.shape[1]
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


@converts(cumulative.Cumsum)
def _cumsum(b: Any, node: Node) -> None:
    out = node.outputs[0]
    b.emit("CumSum", [b.inp(node.args[0], out.dtype), b.ints([node.kwargs["dim"]])],
           [b.out(node)])


@converts(sorting.Topk, sorting.Sort)
def _topk(b: Any, node: Node) -> None:
    """topk, and sort as a topk of the whole dim (descending unless asked otherwise)."""
    x, kw = node.args[0], node.kwargs
    d = kw["dim"] % max(len(x.shape), 1)
    if "k" in kw:
        k, largest = b.ints([kw["k"]]), kw["largest"]
    else:
        twin = b.twin(node)
        n = x.shape[d]
        k = b.ints([n]) if twin is None or twin.args[0].shape[d] == n else b.shape_tensor(
            [n], [twin.args[0].shape[d]], node.name)  # the whole (dynamic) dim
        largest = kw["descending"]
    b.emit("TopK", [b.inp(x), k], [b.out(node, 0), b.out(node, 1)], axis=d,
           largest=int(bool(largest)), sorted=1)
