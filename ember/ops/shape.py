"""Shape and view ops: view/reshape, flatten, squeeze/unsqueeze, expand, transpose/permute,
select/narrow (split, cat, flip, ... are in arrange.py and exported from here).

View ops return backend views of their input and register them with ``make_view``, so in-place
ops on a view reach the base's history and views share their base's version counter.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

from ._op import Op
from ..backend import limits
from ..dtypes import INTEGER_TYPES, NP_DTYPE, dtype, to_dtype
from ..tensor import Tensor, _wrap_dim
from .inplace import make_view, type_name

_VIEW_ERROR = (
    "view size is not compatible with input tensor's size and stride (at least one dimension "
    "spans across two contiguous subspaces). Use .reshape(...) instead."
)


# -- argument helpers ---------------------------------------------------------------------------


def _ints(args: Sequence, fn: str, name: str = "size") -> tuple[int, ...]:
    """Accepts ``f(2, 3)`` and ``f((2, 3))`` forms; entries may be ints or one-element tensors."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    out = []
    for i, s in enumerate(args):
        if isinstance(s, Tensor) and s._data.dtype.kind in "iu" and s._data.size == 1:
            s = int(s.item())
        if isinstance(s, bool) or not isinstance(s, INTEGER_TYPES):
            raise TypeError(f"{fn}(): argument '{name}' must be tuple of ints, but found element "
                            f"of type {type(s).__name__} at pos {i}")
        out.append(int(s))
    return tuple(out)


def _dims(dims: Sequence[int], ndim: int) -> tuple[int, ...]:
    """Wraps each dim, refusing repeats as torch does."""
    out = tuple(_wrap_dim(d, ndim) for d in dims)
    for d in out:
        if out.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return out


def _wrap_dim_strict(dim: int, ndim: int) -> int:
    """``_wrap_dim`` for ops that refuse 0-d tensors (unbind, roll with dims)."""
    if ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return _wrap_dim(dim, ndim)


def _infer_size(shape: tuple[int, ...], numel: int) -> tuple[int, ...]:
    """Resolves a -1 entry of ``shape`` for a tensor of ``numel`` elements."""
    infer, known = None, 1
    for i, s in enumerate(shape):
        if s == -1:
            if infer is not None:
                raise RuntimeError("only one dimension can be inferred")
            infer = i
        elif s >= 0:
            known *= s
        else:
            raise RuntimeError(f"invalid shape dimension {s} at index {i} of shape {list(shape)}")
    if known > limits.INT64_MAX:
        # torch multiplies in int64, which wraps; a shape that then passes has too many elements
        known = limits.wrap_int64(known)
        if numel == known or (infer is not None and known > 0 and numel % known == 0):
            if infer is not None and known == 0:
                raise RuntimeError(
                    f"cannot reshape tensor of 0 elements into shape {list(shape)} because the "
                    "unspecified dimension size -1 can be any value and is ambiguous")
            raise RuntimeError("numel: integer multiplication overflow")
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    if numel == known or (infer is not None and known > 0 and numel % known == 0):
        if infer is None:
            return shape
        if known == 0:
            raise RuntimeError(
                f"cannot reshape tensor of 0 elements into shape {list(shape)} because the "
                "unspecified dimension size -1 can be any value and is ambiguous"
            )
        return shape[:infer] + (numel // known,) + shape[infer + 1:]
    raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")


def _reshape_view(a: Any, shape: tuple[int, ...]) -> Any:
    """``a`` reshaped without copying, or None when its strides cannot express ``shape``."""
    try:
        return a.reshape(shape, copy=False)
    except ValueError:
        return None
    except TypeError:  # numpy < 2.1 has no copy= argument
        v = a.view()
        try:
            v.shape = shape
        except AttributeError:
            return None
        return v


def _at(dim: int, index: Any) -> tuple:
    # the trailing Ellipsis keeps a 0-d result a view instead of a numpy scalar copy
    return (slice(None),) * dim + (index, Ellipsis)


# -- view ops -----------------------------------------------------------------------------------


class View(Op, name="ViewBackward0"):
    on_arrays = True  # (reshape means the same on both carriers)

    @staticmethod
    def forward(ctx, a, *, shape):
        ctx.in_shape = a.shape
        out = _reshape_view(a, shape)
        if out is None:
            raise RuntimeError(_VIEW_ERROR)
        return out

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


class ReshapeAlias(View, name="ReshapeAliasBackward0"):
    """``reshape`` of a non-contiguous tensor whose strides still allow a view."""


class UnsafeView(View, name="UnsafeViewBackward0"):
    """``reshape`` that had to copy."""

    @staticmethod
    def forward(ctx, a, *, shape):
        ctx.in_shape = a.shape
        try:
            return ctx.xp.ascontiguousarray(a).reshape(shape)
        except MemoryError as e:
            raise limits.memory_error(e, a.size * a.itemsize) from None


class Alias(Op, name="AliasBackward0"):
    on_arrays = True

    @staticmethod
    def forward(ctx, a):
        return a[...]

    @staticmethod
    def backward(ctx, g):
        return g


class Slice(Op, name="SliceBackward0"):
    """A view given by ``fn(array)``; backward writes the grad into zeros at the same place."""

    @staticmethod
    def forward(ctx, a, *, fn):
        ctx.fn, ctx.in_shape = fn, a.shape
        return fn(a)

    @staticmethod
    def backward(ctx, g):
        return ctx._grad_op.apply(g, fn=ctx.fn, shape=ctx.in_shape)


class SliceBackward(Op, name="SliceBackwardBackward0"):
    @staticmethod
    def forward(ctx, g, *, fn, shape):
        ctx.fn = fn
        out = ctx.xp.zeros(shape, g.dtype)
        fn(out)[...] = g
        return out

    @staticmethod
    def backward(ctx, gg):
        return ctx._view_op.apply(gg, fn=ctx.fn)


class Select(Slice, name="SelectBackward0"):
    pass


class SelectBackward(SliceBackward, name="SelectBackwardBackward0"):
    pass


for _view, _grad in ((Slice, SliceBackward), (Select, SelectBackward)):
    _view._grad_op, _grad._view_op = _grad, _view


class Squeeze(Op, name="SqueezeBackward0"):
    on_arrays = True

    @staticmethod
    def forward(ctx, a, *, dims):
        ctx.dims = dims
        return a.squeeze(axis=dims) if dims else a[...]

    @staticmethod
    def backward(ctx, g):
        for d in ctx.dims:
            g = ctx.F.unsqueeze(g, d)
        return g


class SqueezeDim(Squeeze, name="SqueezeBackward1"):
    pass


class SqueezeDims(Squeeze, name="SqueezeBackward2"):
    pass


class Unsqueeze(Op, name="UnsqueezeBackward0"):
    on_arrays = True

    @staticmethod
    def forward(ctx, a, *, dim):
        ctx.dim = dim
        return a[_at(dim, None)]

    @staticmethod
    def backward(ctx, g):
        return g.squeeze(ctx.dim)


class Expand(Op, name="ExpandBackward0"):
    on_arrays = True

    @staticmethod
    def forward(ctx, a, *, shape):
        ctx.in_shape = a.shape
        return a[...] if shape == a.shape else ctx.backend.expand(a, shape)

    @classmethod
    def _forward_failed(cls, args: tuple, kwargs: dict) -> None:
        # NumPy refused the view: torch's error for sizes it refuses too (ember's for the rest)
        limits.check_view(kwargs["shape"], args[0]._data.itemsize)

    @staticmethod
    def backward(ctx, g):
        return g if g.shape == ctx.in_shape else ctx.F.sum_to(g, ctx.in_shape)


class Transpose(Op, name="TransposeBackward0"):
    on_arrays = True

    @staticmethod
    def forward(ctx, a, *, dim0, dim1):
        ctx.dim0, ctx.dim1 = dim0, dim1
        return a.swapaxes(dim0, dim1) if a.ndim else a[...]

    @staticmethod
    def backward(ctx, g):
        return ctx.F.transpose(g, ctx.dim0, ctx.dim1)


class MatrixT(Op, name="TBackward0"):
    on_arrays = True  # linear's weight.t(): every Linear backward passes here

    @staticmethod
    def forward(ctx, a):
        return a.T

    @staticmethod
    def backward(ctx, g):
        return ctx.F.t(g)


class Permute(Op, name="PermuteBackward0"):
    on_arrays = True

    @staticmethod
    def forward(ctx, a, *, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return ctx.F.permute(g, inverse)


# -- public view functions ----------------------------------------------------------------------


def view(input: Tensor, *shape: Any, size: Any = None) -> Tensor:
    """Returns a view of ``input`` with a new shape (one entry may be -1); never copies."""
    args = shape if size is None else (size,)
    if len(args) == 1 and isinstance(args[0], (dtype, type, NP_DTYPE)):
        return _view_dtype(input, to_dtype(args[0]))
    shape = _infer_size(_ints(args, "view"), input._data.size)
    if not input._data.size:  # an empty tensor may take huge sizes beside its zero
        limits.check_view(shape, input._data.itemsize)
    return make_view(View.apply(input, shape=shape), input, lambda t: view(t, shape))


def _view_dtype(input: Tensor, dtype: Any) -> Tensor:
    # a reinterpretation of the bits: shares memory and version counter, but no autograd history
    out = Tensor._make(input._data.view(dtype.np))
    out._version_counter = input._version_counter
    return out


def reshape(input: Tensor, *sizes: Any, shape: Any = None) -> Tensor:
    """Returns ``input`` with a new shape: a view when the strides allow it, otherwise a copy."""
    shape = _ints(sizes if shape is None else (shape,), "reshape", "shape")
    shape = _infer_size(shape, input._data.size)
    a = input._data
    if not a.size:  # an empty tensor may take huge sizes beside its zero
        limits.check_view(shape, a.itemsize)
    if a.flags.c_contiguous:
        op = View
    elif _reshape_view(a, shape) is not None:
        op = ReshapeAlias
    else:
        return UnsafeView.apply(input, shape=shape)
    return make_view(op.apply(input, shape=shape), input, lambda t: reshape(t, shape))


def view_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.view(other.shape)``."""
    return view(input, other.shape)


def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.reshape(other.shape)``."""
    return reshape(input, other.shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Flattens dims ``start_dim`` to ``end_dim`` into one."""
    if input.ndim == 0:
        return reshape(input, 1)
    s, e = _wrap_dim(start_dim, input.ndim), _wrap_dim(end_dim, input.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    shp = input.shape
    return reshape(input, shp[:s] + (math.prod(shp[s:e + 1]),) + shp[e + 1:])


def ravel(input: Tensor) -> Tensor:
    """Flattens ``input`` into one dimension (torch copies a non-contiguous input first)."""
    return view(input.contiguous(), -1)


def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Expands dim ``dim`` of ``input`` into ``sizes`` (one entry may be -1)."""
    d = _wrap_dim_strict(dim, input.ndim)
    sizes = _ints((sizes,), "unflatten", "sizes")
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n = input.shape[d]
    if sizes.count(-1) > 1:
        raise RuntimeError("unflatten got an unexpected error:\nonly one dimension can be inferred")
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes and known and n % known == 0:
        sizes = tuple(n // known if s == -1 else s for s in sizes)
    if math.prod(sizes) != n or -1 in sizes:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size "
                           f"of dim {d} ({n}) in the input tensor")
    return view(input, input.shape[:d] + sizes + input.shape[d + 1:])


def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    """Removes dims of size 1 (all of them, or those in ``dim``)."""
    shp = input._data.shape
    if dim is None:
        op, dims = Squeeze, tuple(i for i, s in enumerate(shp) if s == 1)
    elif isinstance(dim, (tuple, list)):
        op, dims = SqueezeDims, tuple(d for d in sorted(_dims(dim, input.ndim)) if shp[d] == 1)
    else:
        d = _wrap_dim(dim, input.ndim)
        op, dims = SqueezeDim, ((d,) if input.ndim and shp[d] == 1 else ())
    return make_view(op.apply(input, dims=dims), input, lambda t: squeeze(t, dim))


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Inserts a dim of size 1 at ``dim``."""
    d = _wrap_dim(dim, input.ndim + 1)
    return make_view(Unsqueeze.apply(input, dim=d), input, lambda t: unsqueeze(t, d))


def expand(input: Tensor, *sizes: Any, size: Any = None) -> Tensor:
    """Broadcasts ``input`` to ``sizes`` as a view (-1 keeps a dim's size)."""
    target = _ints(sizes if size is None else (size,), "expand")
    shp = input._data.shape
    lead = len(target) - len(shp)
    if lead < 0:
        raise RuntimeError(
            f"expand(ember.{type_name(input)}Tensor{{{list(shp)}}}, size={list(target)}): the "
            f"number of sizes provided ({len(target)}) must be greater or equal to the number of "
            f"dimensions in the tensor ({len(shp)})"
        )
    # torch walks the dims from the last; a leading dim (or one of size 1) takes any size but -1,
    # negative ones included, which then fail its element count
    shape = [0] * len(target)
    for i in range(len(target) - 1, -1, -1):
        s = shp[i - lead] if i >= lead else 1
        t = target[i]
        if t == -1:
            if i < lead:
                raise RuntimeError(f"The expanded size of the tensor ({t}) isn't allowed in a "
                                   f"leading, non-existing dimension {i}")
            t = s
        elif s != t and s != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({t}) must match the existing size ({s}) at "
                f"non-singleton dimension {i}.  Target sizes: {list(target)}.  Tensor sizes: "
                f"{list(shp)}"
            )
        shape[i] = t
    shape = tuple(shape)
    return make_view(Expand.apply(input, shape=shape), input, lambda t: expand(t, shape))


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.expand(other.shape)``."""
    return expand(input, other.shape)


def broadcast_to(input: Tensor, size: Sequence[int]) -> Tensor:
    """Broadcasts ``input`` to ``size`` (as ``expand``)."""
    return expand(input, size)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swaps dims ``dim0`` and ``dim1`` (a view)."""
    d0, d1 = _wrap_dim(dim0, input.ndim), _wrap_dim(dim1, input.ndim)
    out = Transpose.apply(input, dim0=d0, dim1=d1)
    return make_view(out, input, lambda t: transpose(t, d0, d1))


def t(input: Tensor) -> Tensor:
    """Transposes a tensor of at most 2 dims."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return make_view(MatrixT.apply(input), input, t)


def permute(input: Tensor, *args: Any, dims: Any = None) -> Tensor:
    """Reorders the dims of ``input`` (a view)."""
    dims = _ints(args if dims is None else (dims,), "permute", "dims")
    if len(dims) != input.ndim:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the "
            "length of the desired ordering of dimensions i.e. input.dim() = "
            f"{input.ndim} is not equal to len(dims) = {len(dims)}"
        )
    wrapped = tuple(_wrap_dim(d, input.ndim) for d in dims)
    if len(set(wrapped)) != len(wrapped):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return make_view(Permute.apply(input, dims=wrapped), input, lambda t: permute(t, wrapped))


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    """Moves the dims in ``source`` to the positions in ``destination``."""
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
            f"contain the same number of dims as destination ({list(dst)} dims)"
        )
    n = input.ndim
    src = tuple(_wrap_dim(d, n) for d in src)
    dst = tuple(_wrap_dim(d, n) for d in dst)
    if len(set(src)) != len(src):
        raise RuntimeError(f"movedim: repeated dim in `source` ({list(src)})")
    if len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({list(dst)})")
    if n == 0:
        return make_view(Alias.apply(input), input, lambda x: movedim(x, source, destination))
    order: list[int | None] = [None] * n
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in range(n) if d not in src)
    return permute(input, [o if o is not None else next(rest) for o in order])


def _matrix_t(input: Tensor, name: str) -> Tensor:
    if input.ndim == 2:
        return permute(input, 1, 0)
    if input.ndim == 0:
        warnings.warn(f"Tensor.{name} is deprecated on 0-D tensors. This function is the "
                      "identity in these cases.", UserWarning, stacklevel=3)
        return permute(input, ())
    if name == "H":
        raise RuntimeError(
            f"tensor.H is only supported on matrices (2-D tensors). Got {input.ndim}-D tensor. "
            "For batches of matrices, consider using tensor.mH"
        )
    warnings.warn(
        "The use of `x.T` on tensors of dimension other than 2 to reverse their shape is "
        "deprecated and it will throw an error in a future release. Consider `x.mT` to transpose "
        "batches of matrices or `x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the "
        "dimensions of a tensor.", UserWarning, stacklevel=3)
    return permute(input, tuple(range(input.ndim - 1, -1, -1)))


def _batch_t(input: Tensor, name: str) -> Tensor:
    if input.ndim < 2:
        raise RuntimeError(f"tensor.{name} is only supported on matrices or batches of matrices. "
                           f"Got {input.ndim}-D tensor.")
    return transpose(input, -2, -1)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice of ``input`` at ``index`` along ``dim``, with that dim removed (a view)."""
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim(dim, input.ndim)
    n = input._data.shape[d]
    index = int(index)
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    return _select(input, d, index % n)


def _select(input: Tensor, d: int, i: int) -> Tensor:
    out = Select.apply(input, fn=lambda a: a[_at(d, i)])
    return make_view(out, input, lambda t: _select(t, d, i))


def _slice(input: Tensor, d: int, start: int, stop: int, step: int = 1) -> Tensor:
    """``input[..., start:stop:step, ...]`` along dim ``d`` (bounds already clamped)."""
    key = _at(d, slice(start, stop, step))
    out = Slice.apply(input, fn=lambda a: a[key])
    return make_view(out, input, lambda t: _slice(t, d, start, stop, step))


def narrow(input: Tensor, dim: int, start: Any, length: int) -> Tensor:
    """``length`` entries of ``input`` along ``dim`` from ``start`` (a view)."""
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    d = _wrap_dim(dim, input.ndim)
    n = input._data.shape[d]
    start = int(start)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    if start < 0:
        start += n
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return _slice(input, d, start, start + length)


__all__ = [
    "view_as", "reshape", "flatten", "ravel", "unflatten", "squeeze", "unsqueeze", "broadcast_to",
    "transpose", "swapaxes", "swapdims", "t", "permute", "movedim", "moveaxis", "select", "narrow",
]

swapaxes = swapdims = transpose
moveaxis = movedim

def _adjoint(input: Tensor) -> Tensor:
    """``input.mH``, but torch lets a 0-d tensor through (with a warning) here."""
    if input.ndim == 0:
        warnings.warn("adjoint() is deprecated on 0-D tensors. Consider using x.conj().",
                      UserWarning, stacklevel=3)
        return _conj_if_complex(permute(input, ()))
    return _conj_if_complex(_batch_t(input, "adjoint()"))


def _conj_if_complex(t: Tensor) -> Tensor:
    """The conjugate transposes (``H``, ``mH``) conjugate complex tensors."""
    if not t.is_complex():
        return t
    from .complex import conj

    return conj(t)


TENSOR_METHODS = {
    "view": view, "view_as": view_as, "reshape": reshape, "reshape_as": reshape_as,
    "flatten": flatten, "ravel": ravel, "unflatten": unflatten, "squeeze": squeeze,
    "unsqueeze": unsqueeze, "expand": expand, "expand_as": expand_as,
    "broadcast_to": broadcast_to, "transpose": transpose, "swapaxes": transpose,
    "swapdims": transpose, "t": t, "permute": permute, "movedim": movedim, "moveaxis": movedim,
    "T": property(lambda self: _matrix_t(self, "T")),
    "H": property(lambda self: _conj_if_complex(_matrix_t(self, "H"))),
    "mT": property(lambda self: _batch_t(self, "mT")),
    "mH": property(lambda self: _conj_if_complex(_batch_t(self, "mH"))),
    "adjoint": lambda self: _adjoint(self),
    "select": select, "narrow": narrow,
}
