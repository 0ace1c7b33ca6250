"""Ops that split, join and rearrange tensors: split/chunk/unbind and diagonal (views), cat/stack
and their h/v/d/column variants, flip, roll, repeat/tile, tril/triu, diag/diag_embed (copies)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ._op import Op
from ..backend import backend_of, limits
from ..dtypes import INTEGER_TYPES, promote_types
from ..tensor import Tensor, _wrap_dim
from .inplace import make_view
from .shape import (Slice, SliceBackward, _at, _dims, _ints, _select, _slice,
                    _wrap_dim_strict, reshape, unsqueeze)


class Split(Op, name="SplitBackward0"):
    """Several views along ``dim``, between consecutive ``bounds``."""

    @staticmethod
    def forward(ctx, a, *, dim, bounds):
        ctx.dim = dim
        return tuple(a[_at(dim, slice(lo, hi))] for lo, hi in zip(bounds, bounds[1:]))

    @staticmethod
    def backward(ctx, *grads):
        return cat(grads, ctx.dim)


class SplitWithSizes(Split, name="SplitWithSizesBackward0"):
    pass


class Unbind(Op, name="UnbindBackward0"):
    @staticmethod
    def forward(ctx, a, *, dim):
        ctx.dim = dim
        return tuple(a[_at(dim, i)] for i in range(a.shape[dim]))

    @staticmethod
    def backward(ctx, *grads):
        return stack(grads, ctx.dim)


def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Splits along ``dim`` into pieces of ``split_size_or_sections`` (an int, or a list)."""
    if tensor.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = _wrap_dim(dim, tensor.ndim)
    n = tensor._data.shape[d]
    sizes = split_size_or_sections
    if isinstance(sizes, (tuple, list)):
        sizes = [int(s) for s in sizes]
        if any(s < 0 for s in sizes):
            raise RuntimeError("split_with_sizes expects split_sizes have only non-negative "
                               f"entries, but got split_sizes={sizes}")
        if sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                f"at dimension {d}), but got split_sizes={sizes}"
            )
        op = SplitWithSizes
    else:
        size = int(sizes)
        if size < 0:
            raise RuntimeError("split expects split_size be non-negative, but got "
                               f"split_size={size}")
        if size == 0 and n != 0:
            raise RuntimeError("split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}")
        count = max(-(-n // size), 1) if size else 1
        sizes = [min(size, n - i * size) for i in range(count)]
        op = Split
    return _split(tensor, d, sizes, op)


def _split(tensor: Tensor, d: int, sizes: list[int], op: type) -> tuple[Tensor, ...]:
    bounds = [0]
    for s in sizes:
        bounds.append(bounds[-1] + s)
    outs = op.apply(tensor, dim=d, bounds=tuple(bounds))
    name = op._node_cls.__name__.replace("Backward0", "")
    return tuple(_multi_view(o, tensor, i, name, lambda x, i=i: _split(x, d, sizes, op)[i])
                 for i, o in enumerate(outs))


def _multi_view(out: Tensor, input: Tensor, i: int, name: str, fn: Callable) -> Tensor:
    make_view(out, input, fn)
    # torch refuses in-place ops on outputs of ops that return several views (see inplace.py)
    out._multi_view = (name, i)
    return out


def split_with_sizes(input: Tensor, split_sizes: Sequence[int], dim: int = 0) -> tuple:
    """Splits ``input`` into pieces of the given sizes along ``dim``."""
    return split(input, list(split_sizes), dim)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Splits ``input`` into at most ``chunks`` equal pieces (the last may be smaller)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if input.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    d = _wrap_dim(dim, input.ndim)
    n = input._data.shape[d]
    if n == 0:
        return _split(input, d, [0] * chunks, SplitWithSizes)
    return split(input, -(-n // chunks), d)


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of ``input`` along ``dim``, each with that dim removed."""
    d = _wrap_dim_strict(dim, input.ndim)
    outs = Unbind.apply(input, dim=d)
    return tuple(_multi_view(o, input, i, "Unbind", lambda x, i=i: unbind(x, d)[i])
                 for i, o in enumerate(outs))


def _diag_view(a: Any, offset: int, d1: int, d2: int) -> Any:
    """A writable view of the diagonal of dims ``d1, d2``, appended as the last dim (torch's)."""
    rest = [d for d in range(a.ndim) if d not in (d1, d2)]
    b = a.transpose(rest + [d1, d2])
    b = b[..., :, offset:] if offset >= 0 else b[..., -offset:, :]
    n = min(b.shape[-2], b.shape[-1])
    return backend_of(a).as_strided(
        b, b.shape[:-2] + (n,), b.strides[:-2] + (b.strides[-2] + b.strides[-1],))


class Diagonal(Slice, name="DiagonalBackward0"):
    pass


class DiagonalBackward(SliceBackward, name="DiagonalBackwardBackward0"):
    pass


Diagonal._grad_op, DiagonalBackward._view_op = DiagonalBackward, Diagonal


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of dims ``dim1, dim2`` (a view), appended as the last dim."""
    d1, d2 = _wrap_dim(dim1, input.ndim), _wrap_dim(dim2, input.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    out = Diagonal.apply(input, fn=lambda a: _diag_view(a, offset, d1, d2))
    return make_view(out, input, lambda x: diagonal(x, offset, d1, d2))


# -- copying ops ----------------------------------------------------------------------------------


class Cat(Op, name="CatBackward0"):
    @staticmethod
    def forward(ctx, *arrays, dim, dtype):
        ctx.dim = dim
        # torch's legacy rule: 1-d empty tensors are skipped whatever the others' shapes
        ctx.sizes = [None if a.shape == (0,) else a.shape[dim] for a in arrays]
        kept = [a for a in arrays if a.shape != (0,)] or [arrays[0]]
        return ctx.xp.concatenate([a.astype(dtype, copy=False) for a in kept], axis=dim)

    @staticmethod
    def backward(ctx, g):
        grads, at = [], 0
        for need, size in zip(ctx.needs_input_grad, ctx.sizes):
            if size is None:
                grads.append(g.new_zeros(0) if need else None)
                continue
            grads.append(_slice(g, ctx.dim, at, at + size) if need else None)
            at += size
        return tuple(grads)


class Stack(Op, name="StackBackward0"):
    @staticmethod
    def forward(ctx, *arrays, dim, dtype):
        ctx.dim = dim
        return ctx.xp.stack([a.astype(dtype, copy=False) for a in arrays], axis=dim)

    @staticmethod
    def backward(ctx, g):
        return tuple(_select(g, ctx.dim, i) if need else None
                     for i, need in enumerate(ctx.needs_input_grad))


def _tensor_list(tensors: Any, fn: str) -> list[Tensor]:
    if not isinstance(tensors, (tuple, list)):
        raise TypeError(f"{fn}(): argument 'tensors' (position 1) must be tuple of Tensors, not "
                        f"{type(tensors).__name__}")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"{fn}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                            f"but found element of type {type(x).__name__} at pos {i}")
    return list(tensors)


def _promoted(tensors: list[Tensor]) -> Any:
    d = tensors[0].dtype
    for x in tensors[1:]:
        d = promote_types(d, x.dtype)
    return d.np


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenates ``tensors`` along ``dim``, promoting their dtypes."""
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise ValueError("ember.cat(): expected a non-empty list of Tensors")
    for i, x in enumerate(tensors):
        if x.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    kept = [(i, x) for i, x in enumerate(tensors) if x._data.shape != (0,)]
    ref = kept[0][1] if kept else tensors[0]
    d = _wrap_dim(dim, ref.ndim)
    for i, x in kept[1:]:
        if x.ndim != ref.ndim:
            raise RuntimeError("Tensors must have same number of dimensions: got "
                               f"{ref.ndim} and {x.ndim}")
        for k, (a, b) in enumerate(zip(ref._data.shape, x._data.shape)):
            if k != d and a != b:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size {a} but "
                    f"got size {b} for tensor number {i} in the list."
                )
    return Cat.apply(*tensors, dim=d, dtype=_promoted(tensors))


concat = concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Stacks equally shaped ``tensors`` along a new dim ``dim``."""
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    d = _wrap_dim(dim, tensors[0].ndim + 1)
    for i, x in enumerate(tensors[1:], 1):
        if x._data.shape != tensors[0]._data.shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} "
                f"at entry 0 and {list(x.shape)} at entry {i}"
            )
    return Stack.apply(*tensors, dim=d, dtype=_promoted(tensors))


def atleast_1d(*tensors: Any) -> Any:
    """Views each tensor with at least one dim."""
    return _atleast(tensors, lambda x: reshape(x, 1) if x.ndim == 0 else x)


def atleast_2d(*tensors: Any) -> Any:
    """Views each tensor with at least two dims."""
    return _atleast(tensors, lambda x: reshape(x, 1, 1) if x.ndim == 0 else
                    unsqueeze(x, 0) if x.ndim == 1 else x)


def atleast_3d(*tensors: Any) -> Any:
    """Views each tensor with at least three dims."""
    def fn(x: Tensor) -> Tensor:
        if x.ndim == 0:
            return reshape(x, 1, 1, 1)
        if x.ndim == 1:
            return unsqueeze(unsqueeze(x, 0), -1)
        return unsqueeze(x, -1) if x.ndim == 2 else x

    return _atleast(tensors, fn)


def _atleast(tensors: tuple, fn: Callable) -> Any:
    if len(tensors) == 1 and isinstance(tensors[0], Tensor):
        return fn(tensors[0])
    seq = tensors[0] if len(tensors) == 1 else tensors
    return tuple(fn(x) for x in seq)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenates along dim 1 (dim 0 for 1-d tensors)."""
    ts = atleast_1d(tuple(_tensor_list(tensors, "hstack")))
    return cat(ts, 0 if ts and ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenates along dim 0 after making each tensor at least 2-d."""
    return cat(atleast_2d(tuple(_tensor_list(tensors, "vstack"))), 0)


row_stack = vstack


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenates along dim 2 after making each tensor at least 3-d."""
    return cat(atleast_3d(tuple(_tensor_list(tensors, "dstack"))), 2)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """Stacks 0-d and 1-d tensors as columns, then concatenates along dim 1."""
    ts = _tensor_list(tensors, "column_stack")
    return cat([reshape(x, x.numel(), 1) if x.ndim <= 1 else x for x in ts], 1)


class Flip(Op, name="FlipBackward0"):
    @staticmethod
    def forward(ctx, a, *, dims):
        ctx.dims = dims
        return ctx.xp.flip(a, dims).copy() if dims else a.copy()

    @staticmethod
    def backward(ctx, g):
        return g.flip(ctx.dims)


def flip(input: Tensor, *args: Any, dims: Any = None) -> Tensor:
    """Reverses the order of ``input`` along ``dims`` (a copy, as in torch)."""
    dims = _dims(_ints(args if dims is None else (dims,), "flip", "dims"), input.ndim)
    return Flip.apply(input, dims=dims if input.ndim else ())


def fliplr(input: Tensor) -> Tensor:
    """Flips a tensor of at least 2 dims left to right."""
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, 1)


def flipud(input: Tensor) -> Tensor:
    """Flips a tensor of at least 1 dim upside down."""
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, 0)


class Roll(Op, name="RollBackward0"):
    @staticmethod
    def forward(ctx, a, *, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return ctx.xp.roll(a, shifts, axis=dims)

    @staticmethod
    def backward(ctx, g):
        return roll(g, tuple(-s for s in ctx.shifts), ctx.dims)


def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Rolls ``input`` by ``shifts`` along ``dims`` (the flattened tensor when None)."""
    shifts = (shifts,) if isinstance(shifts, INTEGER_TYPES) else tuple(shifts)
    if not shifts:
        raise RuntimeError("`shifts` required")
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        return Roll.apply(input, shifts=shifts, dims=None)
    dims = (dims,) if isinstance(dims, INTEGER_TYPES) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    dims = tuple(_wrap_dim_strict(d, input.ndim) for d in dims)
    return Roll.apply(input, shifts=shifts, dims=dims)


class Repeat(Op, name="RepeatBackward0"):
    @staticmethod
    def forward(ctx, a, *, repeats, nbytes):
        ctx.in_shape, ctx.repeats = a.shape, repeats
        with limits.allocation(nbytes):
            return ctx.xp.tile(a, repeats)

    @staticmethod
    def backward(ctx, g):
        # view the grad as (r0, s0, r1, s1, ...) and sum over the repeat axes
        sizes = (1,) * (len(ctx.repeats) - len(ctx.in_shape)) + ctx.in_shape
        split = tuple(v for pair in zip(ctx.repeats, sizes) for v in pair)
        summed = g.reshape(split).sum(tuple(range(0, len(split), 2)))
        return summed.reshape(ctx.in_shape)


def repeat(input: Tensor, *repeats: Any) -> Tensor:
    """Tiles ``input`` ``repeats`` times along each dim (a copy)."""
    repeats = _ints(repeats, "repeat", "repeats")
    if len(repeats) < input.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           "dimensions of tensor")
    sizes = (1,) * (len(repeats) - input.ndim) + input.shape
    # torch multiplies in int64 (wrapping), allocates the result, then views it as windows of
    # the input's size: a size that wrapped to less than the input's fails that view
    out_shape = [limits.wrap_int64(r * s) for r, s in zip(repeats, sizes)]
    nbytes = limits.check_new(out_shape, input._data.itemsize)
    if 0 not in repeats:
        for i, (s, n) in enumerate(zip(sizes, out_shape)):
            if s > n:
                raise RuntimeError(f"maximum size for tensor at dimension {i} is {n} but size is "
                                   f"{s}")
    return Repeat.apply(input, repeats=repeats, nbytes=nbytes)


def tile(input: Tensor, dims: Sequence[int]) -> Tensor:
    """``repeat`` with ``dims`` padded by leading ones to ``input``'s rank."""
    dims = _ints((dims,), "tile", "dims")
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


class Tril(Op, name="TrilBackward0"):
    @staticmethod
    def forward(ctx, a, *, diagonal):
        ctx.diagonal = diagonal
        return ctx.xp.tril(a, diagonal)

    @staticmethod
    def backward(ctx, g):
        return tril(g, ctx.diagonal)


class Triu(Op, name="TriuBackward0"):
    @staticmethod
    def forward(ctx, a, *, diagonal):
        ctx.diagonal = diagonal
        return ctx.xp.triu(a, diagonal)

    @staticmethod
    def backward(ctx, g):
        return triu(g, ctx.diagonal)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """Zeroes the entries above the ``diagonal``-th diagonal of the last two dims."""
    if input.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return Tril.apply(input, diagonal=int(diagonal))


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """Zeroes the entries below the ``diagonal``-th diagonal of the last two dims."""
    if input.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return Triu.apply(input, diagonal=int(diagonal))


class DiagEmbed(Op, name="DiagEmbedBackward0"):
    @staticmethod
    def forward(ctx, a, *, offset, dim1, dim2):
        ctx.offset, ctx.dim1, ctx.dim2 = offset, dim1, dim2
        n = a.shape[-1] + abs(offset) if a.ndim else 1
        shape = list(a.shape[:-1])
        for d in sorted((dim1, dim2)):
            shape.insert(d, n)
        out = ctx.xp.zeros(shape, a.dtype)
        _diag_view(out, offset, dim1, dim2)[...] = a
        return out

    @staticmethod
    def backward(ctx, g):
        return diagonal(g, ctx.offset, ctx.dim1, ctx.dim2)


class DiagonalCopy(Op, name="DiagonalBackward0_copy"):
    """``diag`` of a matrix: torch records the copying variant of ``diagonal``."""

    @staticmethod
    def forward(ctx, a, *, offset):
        ctx.in_shape, ctx.offset = a.shape, offset
        return _diag_view(a, offset, 0, 1).copy()

    @staticmethod
    def backward(ctx, g):
        return DiagonalBackward.apply(g, fn=lambda a: _diag_view(a, ctx.offset, 0, 1),
                                      shape=ctx.in_shape)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Puts the last dim of ``input`` on the ``offset`` diagonal of dims ``dim1, dim2``."""
    n = input.ndim + 1
    d1, d2 = _wrap_dim(dim1, n), _wrap_dim(dim2, n)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return DiagEmbed.apply(input, offset=offset, dim1=d1, dim2=d2)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-d tensor as a diagonal matrix, or the diagonal of a matrix."""
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return DiagonalCopy.apply(input, offset=diagonal)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def _flip_method(self: Tensor, *args: Any, dims: Any = None) -> Tensor:
    if not args and dims is None:
        raise TypeError('flip() missing 1 required positional arguments: "dims"')
    return flip(self, *args, dims=dims)


def _split_method(self: Tensor, split_size: Any, dim: int = 0) -> tuple[Tensor, ...]:
    return split(self, split_size, dim)


__all__ = [
    "split", "split_with_sizes", "chunk", "unbind", "diagonal", "cat", "concat", "concatenate",
    "stack", "hstack", "vstack", "row_stack", "dstack", "column_stack", "atleast_1d",
    "atleast_2d", "atleast_3d", "flip", "fliplr", "flipud", "roll", "tile", "tril", "triu",
    "diag_embed", "diag",
]
TENSOR_METHODS = {
    "split": _split_method, "split_with_sizes": split_with_sizes, "chunk": chunk, "unbind": unbind,
    "diagonal": diagonal, "flip": _flip_method, "fliplr": fliplr, "flipud": flipud,
    "roll": roll, "repeat": repeat, "tile": tile, "tril": tril, "triu": triu,
    "diag_embed": diag_embed, "diag": diag,
}
