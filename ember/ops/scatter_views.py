"""The out-of-place "scatter into a view" ops (diagonal_scatter, select_scatter, slice_scatter,
as_strided_scatter), as_strided itself, and Tensor.fill_diagonal_.

``X_scatter(input, src, ...)`` is a copy of ``input`` whose view ``input.X(...)`` holds ``src``:
the gradient of ``input`` is the output's gradient with that view zeroed (the same scatter, of
zeros), and ``src``'s is the view of the output's gradient."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ._op import Op
from .. import dtypes as _dt
from ..backend import backend_of
from ..graph import grad_mode
from ..tensor import Tensor, _wrap_dim
from .inplace import apply_inplace, type_name


def _size_error(src_shape: tuple, view_shape: tuple) -> RuntimeError:
    return RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                        f"{list(src_shape)}, slice size = {list(view_shape)}")


class _ViewScatter(Op):
    """``input`` with ``src`` written into the view ``view(out)`` of its copy."""

    @staticmethod
    def forward(ctx, a, src, *, view, tensor_view):
        ctx.view, ctx.tensor_view, ctx.src_shape = view, tensor_view, src.shape
        out = a.copy()
        region = view(out)
        if region.shape != src.shape:
            raise _size_error(src.shape, region.shape)
        region[...] = src  # (cast to input's dtype, as copy_)
        return out

    @staticmethod
    def backward(ctx, g):
        need_a, need_src = ctx.needs_input_grad
        ga = gsrc = None
        if need_a:
            zeros = g.new_zeros(ctx.src_shape)
            ga = type(ctx).apply(g, zeros, view=ctx.view, tensor_view=ctx.tensor_view)
        if need_src:
            gsrc = ctx.tensor_view(g)
        return ga, gsrc


class DiagonalScatter(_ViewScatter, name="DiagonalScatterBackward0"):
    pass


class SelectScatter(_ViewScatter, name="SelectScatterBackward0"):
    pass


class SliceScatter(_ViewScatter, name="SliceScatterBackward0"):
    pass


def _check_autograd_dtype(input: Tensor, src: Tensor) -> None:
    # a gradient of src would have to flow into an integer output
    if src.requires_grad and not (input.is_floating_point() or input.is_complex()):
        raise RuntimeError(f"Autograd not support dtype: {type_name(input)}")


def _diagonal_view(offset: int, dim1: int, dim2: int) -> Callable:
    def view(arr: Any) -> Any:
        from ..backend import get_array_module

        xp = get_array_module(arr)
        moved = xp.moveaxis(arr, (dim1, dim2), (-2, -1))  # a writable view; the diagonal last
        rows, cols = moved.shape[-2:]
        n = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
        i = xp.arange(n) - min(offset, 0)
        return _Indexed(moved, (Ellipsis, i, i + offset))

    return view


class _Indexed:
    """A writable stand-in for ``arr[index]`` with advanced indices (numpy copies those)."""

    def __init__(self, arr: Any, index: tuple) -> None:
        self.arr, self.index = arr, index
        self.shape = arr[index].shape

    def __setitem__(self, key: Any, value: Any) -> None:
        self.arr[self.index] = value


def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0,
                     dim2: int = 1) -> Tensor:
    """A copy of ``input`` whose diagonal ``input.diagonal(offset, dim1, dim2)`` is ``src``."""
    d1, d2 = _wrap_dim(dim1, input.ndim), _wrap_dim(dim2, input.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    _check_autograd_dtype(input, src)
    return DiagonalScatter.apply(
        input, src, view=_diagonal_view(offset, d1, d2),
        tensor_view=lambda t: t.diagonal(offset, d1, d2))


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """A copy of ``input`` whose ``input.select(dim, index)`` is ``src``."""
    d = _wrap_dim(dim, input.ndim)
    size = input.shape[d]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {dim}")
    i = index % size
    key = (slice(None),) * d + (i,)
    _check_autograd_dtype(input, src)
    return SelectScatter.apply(input, src, view=lambda a: a[key],
                               tensor_view=lambda t: t.select(d, i))


def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start: int | None = None,
                  end: int | None = None, step: int = 1) -> Tensor:
    """A copy of ``input`` whose ``input[..., start:end:step, ...]`` (along ``dim``) is
    ``src``."""
    d = _wrap_dim(dim, input.ndim)
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    key = (slice(None),) * d + (slice(start, end, step),)
    _check_autograd_dtype(input, src)
    return SliceScatter.apply(input, src, view=lambda a: a[key], tensor_view=lambda t: t[key])


# -- as_strided, as_strided_scatter --------------------------------------------------------------


def _geometry(t: Tensor) -> tuple:
    """(root storage array, element offset of ``t`` in it, numel of the storage)."""
    root = t.untyped_storage()
    item = t._data.itemsize
    offset = (t.data_ptr() - backend_of(root).data_ptr(root)) // item
    return root, offset, root.nbytes // item


def _positions(xp: Any, size: Sequence[int], stride: Sequence[int], offset: int) -> Any:
    """The storage position of every element of the strided view, in the view's shape."""
    pos = xp.full(tuple(size), offset, dtype="int64")
    for d, (n, s) in enumerate(zip(size, stride)):
        shape = [1] * len(size)
        shape[d] = n
        pos = pos + (xp.arange(n, dtype="int64") * s).reshape(shape)
    return pos


def _check_strided(size: Sequence[int], stride: Sequence[int], offset: int, storage: int,
                   item: int) -> None:
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    for s in stride:
        if s < 0:
            raise RuntimeError("as_strided: Negative strides are not supported at the moment, "
                               f"got strides: {list(stride)}")
    need = 0 if any(n == 0 for n in size) else \
        offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if need > storage:
        raise RuntimeError(
            f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, "
            f"and itemsize {item} requiring a storage size of {need * item} are out of bounds "
            f"for storage of size {storage * item}")


class AsStrided(Op, name="AsStridedBackward0"):
    """A strided view of the input's storage; the gradient adds each element's gradient into
    the storage position it reads, then reads the input's own elements back from there."""

    @staticmethod
    def forward(ctx, a, *, size, stride, offset, in_pos, storage, root):
        xp = ctx.xp
        ctx.pos, ctx.in_pos, ctx.storage = _positions(xp, size, stride, offset), in_pos, storage
        # an array over the root's buffer: its base is the root, so storage_offset() and
        # untyped_storage() see the same storage as the input's
        strides = tuple(s * a.itemsize for s in stride)
        if ctx.backend.name == "numpy":
            out = xp.ndarray(tuple(size), dtype=a.dtype, buffer=root, offset=offset * a.itemsize,
                             strides=strides)
            out.flags.writeable = False
            return out
        # CuPy's ndarray takes a memory pointer, not a buffer: a strided view of the root
        return ctx.backend.as_strided(root.reshape(-1)[offset:], tuple(size), strides)

    @staticmethod
    def backward(ctx, g):
        from ..creation import zeros

        pos, in_pos = Tensor._make(ctx.pos.reshape(-1)), Tensor._make(ctx.in_pos)
        gs = zeros(ctx.storage, dtype=g.dtype, device=g.device).index_add(0, pos, g.reshape(-1))
        return gs[in_pos]


def as_strided(input: Tensor, size: Sequence[int], stride: Sequence[int],
               storage_offset: int | None = None) -> Tensor:
    """A view of ``input``'s storage with the given ``size``, ``stride`` (in elements) and
    ``storage_offset`` (``input``'s own when None). ember's is read-only."""
    from ..backend import get_array_module

    root, own, storage = _geometry(input)
    offset = own if storage_offset is None else int(storage_offset)
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    _check_strided(size, stride, offset, storage, input._data.itemsize)
    xp = get_array_module(root)
    in_pos = _positions(xp, tuple(input.shape), input.stride(), own)
    return AsStrided.apply(input, size=size, stride=stride, offset=offset, in_pos=in_pos,
                           storage=storage, root=root)


class AsStridedInplace(AsStrided, name="AsStridedBackward1"):
    pass


def as_strided_(input: Tensor, size: Sequence[int], stride: Sequence[int],
                storage_offset: int | None = None) -> Tensor:
    """Makes ``input`` itself the strided view of its storage (writable unless two of its
    elements share memory, as torch refuses writes then)."""
    from ..backend import get_array_module

    if input._requires_grad and input._grad_fn is None and grad_mode.state.enabled:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    root, own, storage = _geometry(input)
    offset = own if storage_offset is None else int(storage_offset)
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    _check_strided(size, stride, offset, storage, input._data.itemsize)
    xp = get_array_module(root)
    in_pos = _positions(xp, tuple(input.shape), input.stride(), own)
    out = AsStridedInplace.apply(input, size=size, stride=stride, offset=offset, in_pos=in_pos,
                                 storage=storage, root=root)
    strides = tuple(s * root.itemsize for s in stride)
    backend = backend_of(root)
    if backend.name == "numpy":
        data = xp.ndarray(size, dtype=root.dtype, buffer=root, offset=offset * root.itemsize,
                          strides=strides)
        pos = _positions(xp, size, stride, offset)
        data.flags.writeable = bool(root.flags.writeable) and xp.unique(pos).size == pos.size
    else:  # (no read-only arrays on CuPy: in-place writes check for overlap themselves)
        data = backend.as_strided(root.reshape(-1)[offset:], size, strides)
    input._data = data
    if out._grad_fn is not None:
        input._grad_fn, input._output_nr = out._grad_fn, 0
    input._version_counter[0] += 1
    return input


class AsStridedScatter(_ViewScatter, name="AsStridedScatterBackward0"):
    pass


def as_strided_scatter(input: Tensor, src: Tensor, size: Sequence[int], stride: Sequence[int],
                       storage_offset: int | None = None) -> Tensor:
    """A copy of ``input`` whose strided view ``as_strided(size, stride, storage_offset)`` (of
    the copy's contiguous storage) is ``src``."""
    from ..backend import get_array_module

    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    offset = 0 if storage_offset is None else int(storage_offset)
    _check_strided(size, stride, offset, input.numel(), input._data.itemsize)
    xp = get_array_module(input._data)
    key = _positions(xp, size, stride, offset)

    def view(arr: Any) -> Any:
        # through flat positions: a strided view may read an element twice, where the last
        # write wins, as in torch's copy_
        return _Indexed(arr.reshape(-1), (key,)) if arr.flags.c_contiguous else None

    def tensor_view(t: Tensor) -> Tensor:
        return t.contiguous().reshape(-1)[Tensor._make(key)]

    _check_autograd_dtype(input, src)
    return AsStridedScatter.apply(input, src, view=view, tensor_view=tensor_view)


# -- fill_diagonal_ ------------------------------------------------------------------------------


class FillDiagonal(Op, name="CopySlices"):
    """``fill_diagonal_``'s out-of-place step: the diagonal positions set to a number."""

    @staticmethod
    def forward(ctx, a, *, positions, value):
        ctx.positions = positions
        out = a.copy()
        out.reshape(-1)[positions] = value
        return out

    @staticmethod
    def backward(ctx, g):
        return FillDiagonal.apply(g, positions=ctx.positions, value=0)


def fill_diagonal_(self: Tensor, fill_value: Any, wrap: bool = False) -> Tensor:
    """Fills the main diagonal of this tensor (every dim of one length, or a matrix) with
    ``fill_value``; ``wrap``: a tall matrix's diagonal restarts every ``cols + 1`` rows."""
    from ..backend import get_array_module

    shape = tuple(self.shape)
    if len(shape) < 2:
        raise RuntimeError("dimensions must larger than 1")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    xp = get_array_module(self._data)
    # flat (row-major) positions: consecutive diagonal elements are sum(strides) apart
    step = sum(int(xp.prod(shape[i + 1:])) for i in range(len(shape)))
    numel = int(xp.prod(shape))
    if wrap and len(shape) == 2:
        positions = xp.arange(0, numel, step)
    else:
        positions = xp.arange(min(shape)) * step
    if self._requires_grad and self._grad_fn is None and grad_mode.state.enabled:
        # torch fills a strided view of the tensor, so its message speaks of a view
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if self.dtype.np.kind in "iu" and isinstance(fill_value, float):
        fill_value = int(fill_value)
    elif self.dtype is _dt.bool:
        fill_value = bool(fill_value)
    return apply_inplace(self, lambda s: FillDiagonal.apply(s, positions=positions,
                                                            value=fill_value))


__all__ = ["diagonal_scatter", "select_scatter", "slice_scatter", "as_strided", "as_strided_",
           "as_strided_scatter"]
TENSOR_METHODS: dict = {name: globals()[name] for name in __all__}
TENSOR_METHODS["fill_diagonal_"] = fill_diagonal_
