"""Layout ops built from windows, grids and blocks: Tensor.unfold, repeat_interleave, meshgrid,
cartesian_prod, combinations, tril_indices/triu_indices, rot90, diagflat, block_diag, kron,
vander, tensor_split and hsplit/vsplit/dsplit.

Where torch composes an op from others (meshgrid is views and expands, kron a product of
reshaped operands, vander a cumprod), ember composes it the same way, so the grad_fn torch
shows is the one ember records.
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

from ._op import Op
from .. import dtypes as _dt
from ..backend import get_array_module
from ..tensor import Tensor, _factory_result, _wrap_dim
from .arrange import cat, diag_embed, stack
from .inplace import check_inplace
from .shape import Transpose, UnsafeView, _slice


# -- Tensor.unfold ------------------------------------------------------------------------------


class Unfold(Op, name="UnfoldBackward0"):
    @staticmethod
    def forward(ctx, a, *, dim, size, step):
        xp = ctx.xp
        ctx.in_shape, ctx.dim, ctx.size, ctx.step = a.shape, dim, size, step
        if a.ndim == 0:
            return a.reshape(1)
        windows = xp.lib.stride_tricks.sliding_window_view(a, size, axis=dim)
        windows = windows[(slice(None),) * dim + (slice(None, None, step),)]
        # overlapping windows stay a read-only strided view (a copy would cost size/step times
        # the input, and torch refuses in-place writes to them too); disjoint ones are copied,
        # so that a write to them can't reach the input behind autograd's back
        return windows if step < size else windows.copy()

    @staticmethod
    def backward(ctx, g):
        # every window element adds into input position window * step + offset along dim
        shape, d, size, step = ctx.in_shape, ctx.dim, ctx.size, ctx.step
        if not shape:
            return g.reshape(())
        xp = get_array_module(g._data)
        count = g.shape[d]
        g = g.movedim(-1, d + 1).reshape(shape[:d] + (count * size,) + shape[d + 1:])
        index = (xp.arange(count)[:, None] * step + xp.arange(size)).reshape(-1)
        return g.new_zeros(shape).index_add(d, Tensor._make(index), g)


def _unfold_method(self: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Windows of ``size`` elements along ``dimension``, ``step`` apart, as a new last dim."""
    d = _wrap_dim(dimension, self.ndim)
    n = self.shape[d] if self.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    return Unfold.apply(self, dim=d, size=size, step=step)


# -- repeat_interleave --------------------------------------------------------------------------


def repeat_interleave(input: Tensor, repeats: Any = None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Repeats each element (or slice along ``dim``) ``repeats`` times; ``repeat_interleave(r)``
    alone repeats each index ``i`` ``r[i]`` times."""
    if repeats is None:  # the one-argument form: input holds the repeats
        r = input._data
        if r.ndim != 1 or r.dtype.kind not in "iu":
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        xp = get_array_module(r)
        return Tensor._make(xp.repeat(xp.arange(r.shape[0]), r).astype("int64"))
    if dim is None:
        input, d = input.reshape(-1), 0
    else:
        d = _wrap_dim(dim, input.ndim)
    if isinstance(repeats, Tensor):
        r = repeats._data.reshape(-1) if repeats.ndim == 0 else repeats._data
        n = input.shape[d] if input.ndim else 1
        if r.ndim != 1 or r.shape[0] not in (1, n):
            raise RuntimeError("repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {r.shape[0]} and input.size({d}) = {n}")
        if (r < 0).any():
            raise RuntimeError("repeats can not be negative")
        xp = get_array_module(r)
        index = xp.repeat(xp.arange(n), xp.broadcast_to(r, (n,)))
        return input.index_select(d, Tensor._make(index.astype("int64")))
    if repeats < 0:
        raise RuntimeError("Repeats must be non-negative")
    if input.ndim == 0:
        input = input.reshape(1)
    shape = input.shape
    expanded = input.unsqueeze(d + 1).expand(shape[:d + 1] + (repeats,) + shape[d + 1:])
    return expanded.contiguous().view(shape[:d] + (shape[d] * repeats,) + shape[d + 1:])


# -- grids and index sets -----------------------------------------------------------------------


def _unpack(tensors: tuple) -> list:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    return list(tensors)


def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple[Tensor, ...]:
    """Coordinate grids of 0-d or 1-d ``tensors``: ``"ij"`` (matrix, the default) or ``"xy"``
    (Cartesian) indexing."""
    ts = _unpack(tensors)
    if indexing is None:
        warnings.warn("ember.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError('ember.meshgrid: indexing must be one of "xy" or "ij", but received: '
                           f"{indexing}")
    if not ts:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError("ember.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got: {t}")
    if any(t.dtype is not ts[0].dtype for t in ts):
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    sizes = tuple(t.numel() for t in ts)
    n = len(ts)
    grids = [t.reshape((1,) * i + (-1,) + (1,) * (n - i - 1)).expand(sizes)
             for i, t in enumerate(ts)]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """The Cartesian product of 1-d ``tensors``, one combination per row."""
    ts = _unpack(tensors)
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return stack([g.flatten() for g in grids], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-``r`` combinations of the elements of a 1-d tensor, in lexicographic order
    (as ``itertools.combinations``, or ``combinations_with_replacement``)."""
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty((0,))
    xp = get_array_module(input._data)
    n = input.shape[0]
    grid = xp.indices((n,) * r).reshape(r, -1)
    ordered = grid[1:] >= grid[:-1] if with_replacement else grid[1:] > grid[:-1]
    picks = grid[:, ordered.all(axis=0)]
    return stack([input[Tensor._make(p)] for p in picks], 1)


def _index_dtype(dtype: Any) -> Any:
    d = _dt.int64 if dtype is None else _dt.to_dtype(dtype)
    return d


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None,
                 layout: Any = None, requires_grad: bool = False) -> Tensor:
    """The ``2 x N`` coordinates of the lower triangle (and ``offset`` diagonals above) of a
    ``row x col`` matrix, row by row."""
    xp = get_array_module()
    idx = xp.stack(xp.tril_indices(row, offset, col)) if row > 0 and col > 0 else \
        xp.zeros((2, 0), "int64")
    return _factory_result(idx.astype(_index_dtype(dtype).np), False, device)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None,
                 layout: Any = None, requires_grad: bool = False) -> Tensor:
    """The ``2 x N`` coordinates of the upper triangle (from diagonal ``offset``) of a
    ``row x col`` matrix, row by row."""
    xp = get_array_module()
    idx = xp.stack(xp.triu_indices(row, offset, col)) if row > 0 and col > 0 else \
        xp.zeros((2, 0), "int64")
    return _factory_result(idx.astype(_index_dtype(dtype).np), False, device)


# -- rot90, diagflat, block_diag, kron, vander --------------------------------------------------


class Rot90(Op, name="Rot90Backward0"):
    @staticmethod
    def forward(ctx, a, *, k, dims):
        ctx.k, ctx.dims = k, dims
        return ctx.xp.ascontiguousarray(ctx.xp.rot90(a, k, axes=dims))

    @staticmethod
    def backward(ctx, g):
        return Rot90.apply(g, k=-ctx.k, dims=ctx.dims)


def rot90(input: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """Rotates ``input`` by 90 degrees ``k`` times, from the first of ``dims`` to the second."""
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = _wrap_dim(dims[0], input.ndim), _wrap_dim(dims[1], input.ndim)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    return Rot90.apply(input, k=k % 4, dims=(d0, d1))


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """The flattened ``input`` as the ``offset`` diagonal of a square matrix."""
    return diag_embed(input.reshape(-1), offset, 0, 1)


class BlockDiag(Op, name="BlockDiagBackward0"):
    @staticmethod
    def forward(ctx, *blocks, dtype):
        xp = ctx.xp
        shapes = [(1, 1) if b.ndim == 0 else (1, b.shape[0]) if b.ndim == 1 else b.shape
                  for b in blocks]
        ctx.shapes = [b.shape for b in blocks]
        rows, cols = sum(s[0] for s in shapes), sum(s[1] for s in shapes)
        out = xp.zeros((rows, cols), dtype)
        r = c = 0
        ctx.offsets = []
        for b, (h, w) in zip(blocks, shapes):  # one copy per block (the inputs are few)
            out[r:r + h, c:c + w] = b.reshape(h, w)
            ctx.offsets.append((r, c, h, w))
            r, c = r + h, c + w
        return out

    @staticmethod
    def backward(ctx, g):
        return tuple(g[r:r + h, c:c + w].reshape(shape) if need else None
                     for (r, c, h, w), shape, need in zip(ctx.offsets, ctx.shapes,
                                                          ctx.needs_input_grad))


def block_diag(*tensors: Tensor) -> Tensor:
    """A block-diagonal matrix with ``tensors`` (0-, 1- or 2-d) on its diagonal."""
    ts = list(tensors)
    for i, t in enumerate(ts):
        if t.ndim > 2:
            raise RuntimeError(f"ember.block_diag: Input tensors must have 2 or fewer dimensions. "
                               f"Input {i} has {t.ndim} dimensions")
    if not ts:
        return _factory_result(get_array_module().zeros((1, 0), _dt.get_default_dtype().np),
                               False, None)
    dtype = ts[0].dtype
    for t in ts[1:]:
        dtype = _dt.promote_types(dtype, t.dtype)
    return BlockDiag.apply(*ts, dtype=dtype.np)


def kron(input: Tensor, other: Tensor) -> Tensor:
    """The Kronecker product of ``input`` and ``other``."""
    n = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (n - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (n - other.ndim) + tuple(other.shape))
    # interleave: a's dims at even positions, b's at odd ones, then merge each pair
    a_shape = sum(((s, 1) for s in a.shape), ())
    b_shape = sum(((1, s) for s in b.shape), ())
    product = a.reshape(a_shape) * b.reshape(b_shape)
    out_shape = tuple(x * y for x, y in zip(a.shape, b.shape))
    return UnsafeView.apply(product, shape=out_shape)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of a 1-d ``x``: columns ``x**(N-1) ... x**0`` (reversed when
    ``increasing``)."""
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    dtype = x.dtype if x.is_floating_point() else _dt.int64
    if n == 0:
        return x.new_empty((x.shape[0], 0), dtype=dtype)
    x = x.to(dtype)
    ones = x.new_ones((x.shape[0], 1))
    if n == 1:
        powers = ones
    else:
        powers = cat([ones, x.unsqueeze(1).expand(x.shape[0], n - 1)], 1).cumprod(1)
    return powers if increasing else powers.flip(1)


# -- swapaxes_ / swapdims_ / transpose_ -----------------------------------------------------------


class TransposeInplace(Transpose, name="TransposeBackward1"):
    """The node of an in-place transpose (the tensor keeps its identity; its dims swap)."""


def _transpose_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swaps dims ``dim0`` and ``dim1`` of this tensor in place (its metadata: no data moves)."""
    check_inplace(self)
    d0, d1 = _wrap_dim(dim0, self.ndim), _wrap_dim(dim1, self.ndim)
    out = TransposeInplace.apply(self, dim0=d0, dim1=d1)
    self._data = out._data
    if out._requires_grad:
        self._grad_fn, self._output_nr = out._grad_fn, out._output_nr
    self._version_counter[0] += 1
    prev = self._view_fn
    if prev is not None:  # a view keeps re-making itself from its base, now transposed
        self._view_fn = lambda b: prev(b).transpose(d0, d1)
    return self


# -- tensor_split, hsplit, vsplit, dsplit -------------------------------------------------------


def tensor_split(input: Tensor, indices_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Splits ``input`` along ``dim`` into ``sections`` nearly equal parts, or at ``indices``
    (views)."""
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    d = _wrap_dim(dim, input.ndim)
    n = input.shape[d]
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        spec = spec.item() if spec.ndim == 0 else [int(v) for v in spec.tolist()]
    if isinstance(spec, int):
        if spec <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {spec}")
        size, extra = divmod(n, spec)
        bounds, start = [], 0
        for i in range(spec):  # (a loop over the sections, not the elements)
            stop = start + size + (1 if i < extra else 0)
            bounds.append((start, stop))
            start = stop
    else:
        cuts = [0] + [min(max(int(i) if i >= 0 else int(i) + n, 0), n) for i in spec] + [n]
        bounds = [(a, max(a, b)) for a, b in zip(cuts[:-1], cuts[1:])]
    return tuple(_slice(input, d, a, b) for a, b in bounds)


def _directional_split(name: str, dim: int, min_dims: int, input: Tensor,
                       indices_or_sections: Any) -> tuple[Tensor, ...]:
    if input.ndim < min_dims:
        raise RuntimeError(f"ember.{name} requires a tensor with at least {min_dims} dimension, "
                           f"but got a tensor with {input.ndim} dimensions!")
    if isinstance(indices_or_sections, int):
        size = input.shape[dim]
        if indices_or_sections == 0 or size % indices_or_sections:
            raise RuntimeError(f"ember.{name} attempted to split along dimension {dim}, but the "
                               f"size of the dimension {size} is not divisible by the split_size "
                               f"{indices_or_sections}!")
    return tensor_split(input, indices_or_sections, dim)


def hsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:
    """:func:`tensor_split` along dim 1 (dim 0 for a 1-d tensor); sections must divide it."""
    return _directional_split("hsplit", 1 if input.ndim > 1 else 0, 1, input,
                              indices_or_sections)


def vsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:
    """:func:`tensor_split` along dim 0 of a tensor of at least 2 dims."""
    return _directional_split("vsplit", 0, 2, input, indices_or_sections)


def dsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:
    """:func:`tensor_split` along dim 2 of a tensor of at least 3 dims."""
    return _directional_split("dsplit", 2, 3, input, indices_or_sections)


__all__ = [
    "repeat_interleave", "meshgrid", "cartesian_prod", "combinations", "tril_indices",
    "triu_indices", "rot90", "diagflat", "block_diag", "kron", "vander", "tensor_split",
    "hsplit", "vsplit", "dsplit",
]
TENSOR_METHODS = {name: globals()[name] for name in
                  ("repeat_interleave", "rot90", "diagflat", "kron", "tensor_split", "hsplit",
                   "vsplit", "dsplit")}
TENSOR_METHODS["unfold"] = _unfold_method
TENSOR_METHODS.update(swapaxes_=_transpose_, swapdims_=_transpose_, transpose_=_transpose_)
