"""gather/scatter along a dim and the index_* family (index_select/add/fill/copy)."""
from __future__ import annotations

from typing import Any

from ._op import Op
from .. import dtypes as _dt
from ..backend import get_array_module
from ..tensor import Tensor, _wrap_dim
from .inplace import type_name
from .shape import SliceBackward, _at


# -- gather / scatter ---------------------------------------------------------------------------


def _grid(index: Any, dim: int) -> tuple:
    """The full array key that reads ``index`` along ``dim`` and the position elsewhere."""
    xp = get_array_module(index)
    n = index.ndim
    key = [xp.arange(s).reshape((-1,) + (1,) * (n - 1 - i)) for i, s in enumerate(index.shape)]
    key[dim] = index
    return tuple(key)


def _lead(shape: tuple) -> tuple:
    return tuple(slice(0, s) for s in shape)


def _pad_to(g: Tensor, shape: tuple) -> Tensor:
    """``g`` in the leading corner of zeros of ``shape`` (grads of a src larger than index)."""
    if g.shape == shape:
        return g
    region = _lead(g.shape)
    return SliceBackward.apply(g, fn=lambda a: a[region], shape=shape)


def _check_index(fn: str, input: Tensor, dim: int, index: Tensor, src: Tensor | None = None,
                 kinds: str = "int64") -> int:
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu" or (
            kinds == "int64" and index._data.dtype != _dt.int64.np):
        raise RuntimeError(f"{fn}(): Expected dtype {kinds} for index")
    d = _wrap_dim(dim, input.ndim)
    if index.ndim != input.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    ish, sh = index._data.shape, input._data.shape
    others = [k for k in range(index.ndim) if k != d]
    if fn == "gather":
        for k in others:
            if ish[k] > sh[k]:
                raise RuntimeError(f"Size does not match at dimension {k} expected index "
                                   f"{list(ish)} to be no larger than self {list(sh)} apart "
                                   f"from dimension {d}")
    elif any(ish[k] > sh[k] for k in others) or (
            src is not None and any(i > s for i, s in zip(ish, src._data.shape))):
        msg = (f"Expected index {list(ish)} to be no larger than self {list(sh)} apart from "
               f"dimension {d}")
        if src is not None:
            msg += f" and to be no larger size than src {list(src.shape)}"
        raise RuntimeError(msg)
    a, n = index._data, sh[d]
    bad = (a < 0) | (a >= n)
    if bad.any():
        raise RuntimeError(f"index {int(a[bad][0])} is out of bounds for dimension {d} with "
                           f"size {n}")
    return d


class Gather(Op, name="GatherBackward0"):
    @staticmethod
    def forward(ctx, a, *, dim, index):
        ctx.dim, ctx.index, ctx.in_shape = dim, index, a.shape
        return a[_grid(index, dim)]

    @staticmethod
    def backward(ctx, g):
        zeros = g.new_zeros(ctx.in_shape)
        return ScatterAdd.apply(zeros, g, dim=ctx.dim, index=ctx.index)


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """Reads ``input`` along ``dim`` at ``index``: ``out[i][j] = input[index[i][j]][j]`` (dim 0)."""
    d = _check_index("gather", input, dim, index, kinds="int32/int64")
    return Gather.apply(input, dim=d, index=index._data)


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """``gather`` with ``indices`` broadcast against ``input`` (flattened when dim is None)."""
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    d = _wrap_dim(dim, input.ndim)
    shape = list(get_array_module(input._data).broadcast_shapes(
        tuple(s for k, s in enumerate(input.shape) if k != d),
        tuple(s for k, s in enumerate(indices.shape) if k != d)))
    in_shape = shape[:d] + [input.shape[d]] + shape[d:]
    idx_shape = shape[:d] + [indices.shape[d]] + shape[d:]
    return gather(input.expand(in_shape), d, indices.expand(idx_shape))


class Scatter(Op, name="ScatterBackward0"):
    """``scatter`` of a src tensor; ``ScatterValue`` is the scalar-value variant."""

    @staticmethod
    def forward(ctx, a, src, *, dim, index):
        ctx.dim, ctx.index = dim, index
        out = a.copy()
        values = src[_lead(index.shape)] if hasattr(src, "shape") and src.ndim else src
        out[_grid(index, dim)] = values
        return out

    @staticmethod
    def backward(ctx, g):
        need_a, need_src = ctx.needs_input_grad[:2]
        ga = ScatterValue.apply(g, 0, dim=ctx.dim, index=ctx.index) if need_a else None
        gs = None
        if need_src:
            gs = _pad_to(Gather.apply(g, dim=ctx.dim, index=ctx.index), ctx._in_meta[1][0])
        return ga, gs


class ScatterValue(Scatter, name="ScatterBackward1"):
    pass


class ScatterAdd(Op, name="ScatterAddBackward0"):
    @staticmethod
    def forward(ctx, a, src, *, dim, index):
        ctx.dim, ctx.index = dim, index
        out = a.copy()
        ctx.backend.scatter_add(out, _grid(index, dim), src[_lead(index.shape)])
        return out

    @staticmethod
    def backward(ctx, g):
        need_a, need_src = ctx.needs_input_grad
        gs = None
        if need_src:
            gs = _pad_to(Gather.apply(g, dim=ctx.dim, index=ctx.index), ctx._in_meta[1][0])
        return (g if need_a else None), gs


class ScatterReduce(Op, name="NotImplemented"):
    """The legacy ``reduce=`` form of scatter, which torch cannot differentiate."""

    @staticmethod
    def forward(ctx, a, src, *, dim, index, reduce):
        out = a.copy()
        key = _grid(index, dim)
        values = src[_lead(index.shape)] if hasattr(src, "shape") and src.ndim else src
        ufunc = ctx.xp.add if reduce == "add" else ctx.xp.multiply
        ufunc.at(out, key, ctx.xp.broadcast_to(values, index.shape))
        return out

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("derivative for aten::scatter is not implemented")


def scatter(input: Tensor, dim: int, index: Tensor, src: Any = None, value: Any = None, *,
            reduce: str | None = None) -> Tensor:
    """Writes ``src`` (or ``value``) into a copy of ``input`` at ``index`` along ``dim``."""
    if src is None:
        src = value
    is_tensor = isinstance(src, Tensor)
    d = _check_index("scatter", input, dim, index, src if is_tensor else None)
    if is_tensor and src.dtype is not input.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise RuntimeError("reduce argument must be either add or multiply.")
        return ScatterReduce.apply(input, src, dim=d, index=index._data, reduce=reduce)
    if is_tensor:
        return Scatter.apply(input, src, dim=d, index=index._data)
    return ScatterValue.apply(input, src, dim=d, index=index._data)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """Adds ``src`` into a copy of ``input`` at ``index`` along ``dim`` (repeats accumulate)."""
    d = _check_index("scatter", input, dim, index, src)
    if src.dtype is not input.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    return ScatterAdd.apply(input, src, dim=d, index=index._data)


# -- index_select / index_add / index_fill / index_copy ---------------------------------------


def _vector_index(fn: str, input: Tensor, dim: int, index: Tensor) -> tuple[int, Any]:
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{fn}(): Expected dtype int32 or int64 for index")
    if index.ndim > 1:
        raise IndexError(f"{fn}(): Index is supposed to be a vector")
    return _wrap_dim(dim, input.ndim), index._data.reshape(-1).astype(_dt.int64.np, copy=False)


def _bounds(idx: Any, n: int, d: int, exc: type = RuntimeError) -> Any:
    bad = (idx < -n) | (idx >= n)
    if bad.any():
        raise exc(f"index {int(idx[bad][0])} is out of bounds for dimension {d} with size {n}")
    return idx % n if n else idx


class IndexSelect(Op, name="IndexSelectBackward0"):
    @staticmethod
    def forward(ctx, a, *, dim, index):
        ctx.dim, ctx.index, ctx.in_shape = dim, index, a.shape
        return a[_at(dim, index)] if a.ndim else a.copy()  # a 0-d input has one entry

    @staticmethod
    def backward(ctx, g):
        if not ctx.in_shape:
            return g
        return IndexAdd.apply(g.new_zeros(ctx.in_shape), g, dim=ctx.dim, index=ctx.index)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries of ``input`` at ``index`` (a vector) along ``dim``."""
    d, idx = _vector_index("index_select", input, dim, index)
    if input.ndim == 0 and len(idx) != 1:
        raise RuntimeError("index_select(): Index to scalar can have only 1 value, got "
                           f"{len(idx)} value(s)")
    n = input._data.shape[d] if input.ndim else 1
    if ((idx < 0) | (idx >= n)).any():
        raise IndexError("index out of range in self")
    return IndexSelect.apply(input, dim=d, index=idx)


class IndexAdd(Op, name="IndexAddBackward0"):
    @staticmethod
    def forward(ctx, a, src, *, dim, index, alpha=1):
        ctx.dim, ctx.index, ctx.alpha = dim, index, alpha
        out = a.copy()
        ctx.backend.scatter_add(out, _at(dim, index)[:-1], src if alpha == 1 else src * alpha)
        return out

    @staticmethod
    def backward(ctx, g):
        need_a, need_src = ctx.needs_input_grad
        gs = None
        if need_src:
            gs = IndexSelect.apply(g, dim=ctx.dim, index=ctx.index)
            gs = gs if ctx.alpha == 1 else gs * ctx.alpha
        return (g if need_a else None), gs


def _check_source(fn: str, input: Tensor, d: int, idx: Any, source: Tensor) -> None:
    sh, ss = input._data.shape, source._data.shape
    if source.ndim and (len(ss) != len(sh) or any(a != b for k, (a, b) in
                                                 enumerate(zip(sh, ss)) if k != d)):
        if fn == "index_copy_":
            dst = " ".join(str(v) for k, v in enumerate(sh) if k != d)
            src = " ".join(str(v) for k, v in enumerate(ss) if k != d)
            raise RuntimeError(
                "index_copy_(): Source/destination tensor must have same slice shapes. "
                f"Destination slice shape: {dst} at dimension {d} and source slice shape: "
                f"{src} at dimension {d}.")
        raise RuntimeError("source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(sh)} source.shape = "
                           f"{list(ss)}")
    count = ss[d] if source.ndim else 1
    if len(idx) != count:
        raise RuntimeError(f"{fn}(): Number of indices ({len(idx)}) should be equal to "
                           f"source.size(dim): ({count}), for dim: {d}")


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *,
              alpha: Any = 1) -> Tensor:
    """Adds ``alpha * source`` into a copy of ``input`` at ``index`` along ``dim``."""
    d, idx = _vector_index("index_add", input, dim, index)
    if source.dtype is not input.dtype:
        raise RuntimeError(f"index_add_(): self ({type_name(input)}) and source "
                           f"({type_name(source)}) must have the same scalar type")
    _check_source("index_add_", input, d, idx, source)
    idx = _bounds(idx, input._data.shape[d], d)
    return IndexAdd.apply(input, source, dim=d, index=idx, alpha=alpha)


class IndexFill(Op, name="IndexFillBackward0"):
    @staticmethod
    def forward(ctx, a, value, *, dim, index):
        ctx.dim, ctx.index = dim, index
        out = a.copy()
        out[_at(dim, index)] = value
        return out

    @staticmethod
    def backward(ctx, g):
        need_a, need_v = ctx.needs_input_grad
        ga = IndexFill.apply(g, 0, dim=ctx.dim, index=ctx.index) if need_a else None
        gv = IndexSelect.apply(g, dim=ctx.dim, index=ctx.index).sum() if need_v else None
        return ga, gv


class IndexFillTensor(IndexFill, name="IndexFillBackward1"):
    pass


def index_fill(input: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    """Fills a copy of ``input`` with ``value`` at ``index`` along ``dim``."""
    d, idx = _vector_index("index_fill", input, dim, index)
    idx = _bounds(idx, input._data.shape[d], d, IndexError)
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError("index_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value.ndim} dimension(s).")
        return IndexFillTensor.apply(input, value, dim=d, index=idx)
    return IndexFill.apply(input, value, dim=d, index=idx)


class IndexCopy(Op, name="IndexCopyBackward0"):
    @staticmethod
    def forward(ctx, a, src, *, dim, index):
        ctx.dim, ctx.index = dim, index
        out = a.copy()
        out[_at(dim, index)[:-1]] = src
        return out

    @staticmethod
    def backward(ctx, g):
        need_a, need_src = ctx.needs_input_grad
        ga = IndexFill.apply(g, 0, dim=ctx.dim, index=ctx.index) if need_a else None
        gs = IndexSelect.apply(g, dim=ctx.dim, index=ctx.index) if need_src else None
        return ga, gs


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """Copies ``source`` into a copy of ``input`` at ``index`` along ``dim``."""
    d, idx = _vector_index("index_copy", input, dim, index)
    _check_source("index_copy_", input, d, idx, source)
    idx = _bounds(idx, input._data.shape[d], d)
    return IndexCopy.apply(input, source, dim=d, index=idx)


def _scatter_method(self: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None,
                    reduce: str | None = None) -> Tensor:
    return scatter(self, dim, index, src, value, reduce=reduce)


__all__ = [
    "gather", "take_along_dim", "scatter", "scatter_add", "index_select", "index_add",
    "index_fill", "index_copy",
]
TENSOR_METHODS = {
    "gather": gather, "take_along_dim": take_along_dim, "scatter": _scatter_method,
    "scatter_add": scatter_add, "index_select": index_select, "index_add": index_add,
    "index_fill": index_fill, "index_copy": index_copy,
}
