"""Tensors that change shape in place or share another tensor's memory: ``squeeze_``,
``unsqueeze_``, ``t_`` (the tensor keeps its identity, its view changes), ``set_``,
``is_set_to``, ``as_subclass``, and the ``unsafe_*`` splits (pieces autograd does not treat as
views)."""
from __future__ import annotations

from typing import Any, Sequence

from .. import dtypes as _dt
from ..backend import NUMPY, backend_of, get_array_module
from ..tensor import Tensor, _wrap_dim
from ._op import Op
from ._util import dims_arg
from .inplace import check_inplace
from .shape import Alias, Squeeze, Transpose, Unsqueeze
from .storage import _CPP_TYPES


class SqueezeInplace(Squeeze, name="SqueezeBackward3"):
    pass


class SqueezeDimInplace(Squeeze, name="SqueezeBackward4"):
    pass


class SqueezeDimsInplace(Squeeze, name="SqueezeBackward5"):
    pass


class UnsqueezeInplace(Unsqueeze, name="UnsqueezeBackward1"):
    pass


class MatrixTInplace(Transpose, name="TBackward1"):
    pass


def _restride(self: Tensor, op: type, remake: Any, **options: Any) -> Tensor:
    """Applies a view op to this tensor in place: its data and history become the view's (as
    ``transpose_`` does); a view re-makes itself from its base through ``remake`` after."""
    check_inplace(self)
    out = op.apply(self, **options)
    self._data = out._data
    if out._requires_grad:
        self._grad_fn, self._output_nr = out._grad_fn, out._output_nr
    self._version_counter[0] += 1
    prev = self._view_fn
    if prev is not None:
        self._view_fn = lambda b: remake(prev(b))
    return self


def squeeze_(self: Tensor, dim: Any = None) -> Tensor:
    """Removes dims of size 1 in place (all of them, ``dim``, or each of the dims ``dim``)."""
    shape = self._data.shape
    if dim is None:
        op, dims = SqueezeInplace, tuple(i for i, n in enumerate(shape) if n == 1)
    elif isinstance(dim, (tuple, list)):
        axes = dims_arg(dim, self.ndim)
        op, dims = SqueezeDimsInplace, tuple(d for d in axes if self.ndim and shape[d] == 1)
    else:
        d = _wrap_dim(dim, self.ndim)
        op, dims = SqueezeDimInplace, ((d,) if self.ndim and shape[d] == 1 else ())
    return _restride(self, op, lambda t: t.squeeze(dims) if dims else t, dims=dims)


def unsqueeze_(self: Tensor, dim: int) -> Tensor:
    """Inserts a dim of size 1 at ``dim``, in place."""
    d = _wrap_dim(dim, self.ndim + 1)
    return _restride(self, UnsqueezeInplace, lambda t: t.unsqueeze(d), dim=d)


def t_(self: Tensor) -> Tensor:
    """Transposes this tensor of at most 2 dims in place."""
    if self.ndim > 2:
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is "
                           f"{self.ndim}D")
    d1 = 1 if self.ndim == 2 else 0
    return _restride(self, MatrixTInplace, lambda t: t.t(), dim0=0, dim1=d1)


def set_(self: Tensor, source: Any = None, storage_offset: int = 0, size: Any = None,
         stride: Any = None) -> Tensor:
    """Makes this tensor use ``source``'s memory: ``source``'s own layout (a tensor), the whole
    storage as 1-d (an ``untyped_storage()``), or ``size``/``stride`` from ``storage_offset``.
    ``set_()`` leaves it empty. The dtypes must agree."""
    check_inplace(self)
    xp = get_array_module(self._data)
    if source is None:
        data = xp.empty((0,), self._data.dtype)
    else:
        src = source._data if isinstance(source, Tensor) else source
        if src.dtype != self._data.dtype:
            theirs = _CPP_TYPES[_dt.from_numpy_dtype(src.dtype).name]
            raise RuntimeError(f"Could not set tensor of type {theirs} to a tensor of type "
                               f"{_CPP_TYPES[self.dtype.name]}")
        if size is None and isinstance(source, Tensor):
            data = src
        else:
            root = source.untyped_storage() if isinstance(source, Tensor) else src
            flat = root.reshape(-1)
            if size is None:
                data = flat[storage_offset:]
            else:
                size = tuple(size)
                if stride is None:  # contiguous strides
                    stride, acc = [], 1
                    for n in reversed(size):
                        stride.insert(0, acc)
                        acc *= max(n, 1)
                data = backend_of(flat).as_strided(flat[storage_offset:], size,
                                                   [st * flat.itemsize for st in stride])
    self._data = data
    self._version_counter[0] += 1
    return self


def is_set_to(self: Tensor, tensor: Tensor) -> bool:
    """True if both tensors use the same memory with the same offset, sizes and strides."""
    a, b = self._data, tensor._data
    ra, rb = self.untyped_storage(), tensor.untyped_storage()
    # (one storage: the same root array, or on a device the same root memory)
    same = ra is rb or (type(ra) is type(rb) and type(ra) is not NUMPY.array_type
                        and backend_of(ra).data_ptr(ra) == backend_of(rb).data_ptr(rb))
    return (same and a.shape == b.shape and self.data_ptr() == tensor.data_ptr()
            and self.stride() == tensor.stride())


def as_subclass(self: Tensor, cls: type) -> Tensor:
    """This tensor as an instance of ``cls`` (a Tensor subclass): same memory, same version
    counter, still attached to the graph."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError("Creating a Tensor subclass from a class that does not inherit from "
                        "Tensor is not possible. Make sure your class inherits from Tensor.")
    out = Alias.apply(self)  # (the node that carries gradients back to ``self``)
    t = object.__new__(cls)
    Tensor._init(t, self._data, self._requires_grad, out._grad_fn, out._output_nr)
    t._version_counter = self._version_counter
    return t


class UnsafeSplit(Op, name="UnsafeSplitBackward0"):
    """Pieces along ``dim`` that autograd does not treat as views (torch's unsafe_split)."""

    @staticmethod
    def forward(ctx, a, *, dim, bounds):
        ctx.dim = dim
        key = (slice(None),) * dim
        return tuple(a[key + (slice(lo, hi),)] for lo, hi in zip(bounds, bounds[1:]))

    @staticmethod
    def backward(ctx, *grads):
        from .arrange import cat

        return cat(grads, ctx.dim)


class UnsafeSplitWithSizes(UnsafeSplit, name="UnsafeSplitWithSizesBackward0"):
    pass


def _unsafe(op: type, pieces: tuple, tensor: Tensor, dim: int) -> tuple[Tensor, ...]:
    bounds, d = [0], _wrap_dim(dim, tensor.ndim)
    for p in pieces:
        bounds.append(bounds[-1] + p._data.shape[d])
    return op.apply(tensor, dim=d, bounds=tuple(bounds))


def unsafe_split(tensor: Tensor, split_size: int, dim: int = 0) -> tuple[Tensor, ...]:
    """``split`` whose pieces are not views for autograd (they may be written in place)."""
    from .arrange import split

    return _unsafe(UnsafeSplit, split(tensor.detach(), split_size, dim), tensor, dim)


def unsafe_split_with_sizes(input: Tensor, split_sizes: Sequence[int],
                            dim: int = 0) -> tuple[Tensor, ...]:
    """``split_with_sizes`` whose pieces are not views for autograd."""
    from .arrange import split_with_sizes

    pieces = split_with_sizes(input.detach(), split_sizes, dim)
    return _unsafe(UnsafeSplitWithSizes, pieces, input, dim)


def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """``chunk`` whose pieces are not views for autograd."""
    from .arrange import chunk

    return _unsafe(UnsafeSplit, chunk(input.detach(), chunks, dim), input, dim)


__all__ = ["unsafe_split", "unsafe_split_with_sizes", "unsafe_chunk"]
TENSOR_METHODS: dict[str, Any] = {
    "squeeze_": squeeze_, "unsqueeze_": unsqueeze_, "t_": t_, "set_": set_,
    "is_set_to": is_set_to, "as_subclass": as_subclass, "unsafe_split": unsafe_split,
    "unsafe_split_with_sizes": unsafe_split_with_sizes, "unsafe_chunk": unsafe_chunk,
}
