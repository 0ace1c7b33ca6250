"""ONNX converters: views and reshapes, slicing and indexing, concatenation and
splitting, roll, repeat."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._trace import Node, Value
from ..ops import (
    activation,
    arrange,
    conv,
    indexing,
    shape,
)
from ._ops import DynamicShapeError, _operand, converts

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
