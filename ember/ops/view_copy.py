"""The ``*_copy`` twins of the view ops (``diagonal_copy``, ``permute_copy``, ``split_copy``,
...): the view's values in new contiguous memory. torch names their nodes after the view's,
with ``_copy`` appended (``DiagonalBackward0_copy``); ember does the same, one node class per
name, made on first use. The gradient is the view's adjoint: the output's gradient written into
zeros of the input's shape through the same view (``inplace.AsStridedScatter``)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ._op import Op
from ..backend import get_array_module
from ..graph import grad_mode
from ..tensor import Tensor, _wrap_dim
from .elementwise import _NoDerivative
from .inplace import AsStridedScatter

_classes: dict = {}


class _ViewCopy(Op):
    @staticmethod
    def forward(ctx, a, *, view_fn, multi):
        ctx.view_fn, ctx.shape, ctx.multi = view_fn, a.shape, multi
        with grad_mode.no_grad():
            v = view_fn(Tensor._make(a))
        if multi:
            return tuple(p._data.copy() for p in v)  # (copy(): C-contiguous, as torch's)
        return v._data.copy()

    @staticmethod
    def backward(ctx, *grads):
        total = None
        for i, g in enumerate(grads):
            if g is None:
                continue
            fn = ctx.view_fn if not ctx.multi else (lambda t, i=i: ctx.view_fn(t)[i])
            part = AsStridedScatter.apply(g, view_fn=fn, shape=ctx.shape)
            total = part if total is None else total + part
        return total


def _node_class(name: str) -> type:
    cls = _classes.get(name)
    if cls is None:
        cls = _classes[name] = type(name.replace("Backward", "Copy"), (_ViewCopy,), {},
                                    name=name)
    return cls


def _view_copy(input: Tensor, view_fn: Callable, multi: bool = False) -> Any:
    """``view_fn(input)``, copied, recorded under the view's node name + ``_copy``."""
    if not (input._requires_grad and grad_mode.state.enabled):
        with grad_mode.no_grad():
            v = view_fn(input)
        # (a numpy copy is C-contiguous, as torch's copies are; clone would keep the strides)
        return tuple(Tensor._make(p._data.copy()) for p in v) if multi \
            else Tensor._make(v._data.copy())
    probe = view_fn(input)  # the view's own node names the copy's
    node = (probe[0] if multi else probe).grad_fn
    return _node_class(type(node).__name__ + "_copy").apply(input, view_fn=view_fn, multi=multi)


def alias_copy(input: Tensor) -> Tensor:
    """A copy of ``input`` (the copy twin of ``alias``)."""
    from .shape import Alias

    return _view_copy(input, Alias.apply)


def as_strided_copy(input: Tensor, size: Sequence[int], stride: Sequence[int],
                    storage_offset: int | None = None) -> Tensor:
    """A copy of ``input.as_strided(size, stride, storage_offset)``."""
    from .scatter_views import as_strided

    return _view_copy(input, lambda t: as_strided(t, size, stride, storage_offset))


class _DetachCopy(_NoDerivative, name="NotImplemented"):
    aten = "detach_copy"

    @staticmethod
    def forward(ctx, a):
        return a.copy()


def detach_copy(input: Tensor) -> Tensor:
    """A copy of ``input``'s values (torch records a node that refuses a backward)."""
    return _DetachCopy.apply(input)


def diagonal_copy(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A copy of ``input.diagonal(offset, dim1, dim2)``."""
    return _view_copy(input, lambda t: t.diagonal(offset, dim1, dim2))


def expand_copy(input: Tensor, size: Sequence[int], *, implicit: bool = False) -> Tensor:
    """A copy of ``input.expand(size)``."""
    return _view_copy(input, lambda t: t.expand(*size))


def permute_copy(input: Tensor, dims: Sequence[int]) -> Tensor:
    """A copy of ``input.permute(dims)``."""
    return _view_copy(input, lambda t: t.permute(*dims))


def select_copy(input: Tensor, dim: int, index: int) -> Tensor:
    """A copy of ``input.select(dim, index)``."""
    return _view_copy(input, lambda t: t.select(dim, index))


def slice_copy(input: Tensor, dim: int = 0, start: int | None = None, end: int | None = None,
               step: int = 1) -> Tensor:
    """A copy of ``input``'s slice ``start:end:step`` along ``dim``."""
    d = _wrap_dim(dim, input.ndim)
    key = (slice(None),) * d + (slice(start, end, step),)
    return _view_copy(input, lambda t: t[key])


def split_copy(input: Tensor, split_size: int, dim: int = 0) -> tuple:
    """Copies of the pieces of ``input.split(split_size, dim)``."""
    return _view_copy(input, lambda t: t.split(split_size, dim), multi=True)


def split_with_sizes_copy(input: Tensor, split_sizes: Sequence[int], dim: int = 0) -> tuple:
    """Copies of the pieces of ``input.split(split_sizes, dim)``."""
    return _view_copy(input, lambda t: t.split(list(split_sizes), dim), multi=True)


def squeeze_copy(input: Tensor, dim: Any = None) -> Tensor:
    """A copy of ``input.squeeze(dim)``."""
    return _view_copy(input, lambda t: t.squeeze() if dim is None else t.squeeze(dim))


def t_copy(input: Tensor) -> Tensor:
    """A copy of ``input.t()``."""
    return _view_copy(input, lambda t: t.t())


def transpose_copy(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """A copy of ``input.transpose(dim0, dim1)``."""
    return _view_copy(input, lambda t: t.transpose(dim0, dim1))


def unbind_copy(input: Tensor, dim: int = 0) -> tuple:
    """Copies of ``input.unbind(dim)``."""
    return _view_copy(input, lambda t: t.unbind(dim), multi=True)


def unfold_copy(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """A copy of ``input.unfold(dimension, size, step)``."""
    return _view_copy(input, lambda t: t.unfold(dimension, size, step))


def unsqueeze_copy(input: Tensor, dim: int) -> Tensor:
    """A copy of ``input.unsqueeze(dim)``."""
    return _view_copy(input, lambda t: t.unsqueeze(dim))


def view_copy(input: Tensor, size: Any) -> Tensor:
    """A copy of ``input.view(size)`` (or of ``input.view(dtype)``)."""
    if isinstance(size, (list, tuple)) or hasattr(size, "__len__"):
        return _view_copy(input, lambda t: t.view(*size))
    return _view_copy(input, lambda t: t.view(size))


class _ViewAsRealCopy(Op, name="ViewAsRealBackward0_copy"):
    """(Its adjoint changes dtype, which the generic scatter does not: view_as_complex.)"""

    @staticmethod
    def forward(ctx, a):
        xp = get_array_module(a)
        return xp.ascontiguousarray(xp.stack([a.real, a.imag], axis=-1))

    @staticmethod
    def backward(ctx, g):
        from .complex import view_as_complex

        return view_as_complex(g.contiguous())


def view_as_real_copy(input: Tensor) -> Tensor:
    """A copy of ``view_as_real(input)``."""
    from .complex import view_as_real

    if not input.is_complex():
        return view_as_real(input)  # torch's error
    return _ViewAsRealCopy.apply(input)


def view_as_complex_copy(input: Tensor) -> Tensor:
    """A copy of ``view_as_complex(input)``."""
    from .complex import view_as_complex

    if input._requires_grad and grad_mode.state.enabled:
        raise RuntimeError("view_as_complex_copy does not support automatic differentiation "
                           "for outputs with complex dtype.")
    return _view_copy(input, view_as_complex)


__all__ = ["alias_copy", "as_strided_copy", "detach_copy", "diagonal_copy", "expand_copy",
           "permute_copy", "select_copy", "slice_copy", "split_copy", "split_with_sizes_copy",
           "squeeze_copy", "t_copy", "transpose_copy", "unbind_copy", "unfold_copy",
           "unsqueeze_copy", "view_copy", "view_as_real_copy", "view_as_complex_copy"]
TENSOR_METHODS: dict = {}
