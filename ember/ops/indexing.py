"""Indexing: ``t[...]`` and ``t[...] = v``, index_put, masked_fill/select, take, nonzero
(gather/scatter and index_select/add/fill/copy are in scatter.py and exported from here).

``t[index]`` follows torch's order: ints, slices and None are applied left to right as view ops
(select, slice, unsqueeze), then any tensor/list/bool indices as one ``IndexBackward0`` copy.
``t[index] = v`` takes the same views, then copies into them or calls ``index_put_``.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

from ._op import Op
from .. import dtypes as _dt
from ..backend import get_array_module, is_array
from ..tensor import Tensor
from ._util import as_tensor_arg
from .inplace import apply_inplace, make_view, type_name
from .shape import Alias, _select, _slice, expand, unsqueeze

_INT64, _UINT8 = _dt.int64.np, _dt.uint8.np
_ASSIGNABLE = (Tensor, float, complex) + _dt.INTEGER_TYPES + _dt.BOOL_TYPES  # what setitem takes
_C_TYPES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
            "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
            "bool": "bool"}


# -- advanced indexing --------------------------------------------------------------------------


class Index(Op, name="IndexBackward0"):
    """``a[key]`` with integer arrays in ``key`` (a copy)."""

    @staticmethod
    def forward(ctx, a, *, key):
        ctx.key, ctx.in_shape = key, a.shape
        return a[key]

    @staticmethod
    def backward(ctx, g):
        return IndexBackward.apply(g, key=ctx.key, shape=ctx.in_shape)


class IndexBackward(Op, name="IndexPutImplBackward0"):
    """Zeros with ``g`` summed in at ``key``: repeated indices accumulate."""

    @staticmethod
    def forward(ctx, g, *, key, shape):
        ctx.key = key
        out = ctx.xp.zeros(shape, g.dtype)
        ctx.backend.scatter_add(out, key, g)
        return out

    @staticmethod
    def backward(ctx, gg):
        return Index.apply(gg, key=ctx.key)


class IndexPut(Op, name="IndexPutBackward0"):
    @staticmethod
    def forward(ctx, a, values, *, key, accumulate):
        ctx.key, ctx.accumulate = key, accumulate
        out = a.copy()
        if accumulate:
            target = out[key]
            ctx.backend.scatter_add(out, key, ctx.xp.broadcast_to(values, target.shape))
        else:
            out[key] = values
        return out

    @staticmethod
    def backward(ctx, g):
        need_a, need_v = ctx.needs_input_grad
        ga = gv = None
        if need_a:
            ga = g if ctx.accumulate else IndexPut.apply(g, g.new_zeros(()), key=ctx.key,
                                                         accumulate=False)
        if need_v:
            gv = Index.apply(g, key=ctx.key)
        return ga, gv


def _index_array(obj: Any) -> Any:
    """An index object as an int or bool array, or None if it is not array-like."""
    if isinstance(obj, Tensor):
        a = obj._data
    elif isinstance(obj, (list, tuple)):
        items = [_index_array(o) if isinstance(o, Tensor) else o for o in obj]
        a = get_array_module().asarray(items)  # Python data: the default backend's
        if a.dtype.kind == "f" or a.size == 0:
            a = a.astype(_INT64)  # torch turns float (and empty) lists into longs
    elif is_array(obj):
        a = obj
    else:
        return None
    if a.dtype.kind not in "iub":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return a


def _parse(index: Any) -> tuple[tuple, bool]:
    """The index as a tuple; the flag tells a lone slice (which torch applies even when full)."""
    if isinstance(index, tuple):
        return index, False
    if isinstance(index, list) and len(index) < 32 and any(
            isinstance(o, (list, tuple, slice, Tensor)) or o is None or o is Ellipsis
            for o in index):
        warnings.warn(
            "Using a non-tuple sequence for multidimensional indexing is deprecated and will be "
            "changed in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this "
            "will be interpreted as tensor index, x[torch.tensor(seq)], which will result either "
            "in an error or a different result", UserWarning, stacklevel=3)
        return tuple(index), False  # numpy's legacy rule: such a list means a tuple
    return (index,), isinstance(index, slice)


def _normalize(obj: Any) -> Any:
    """An index item as None, Ellipsis, slice, bool, int, or an int/bool array."""
    if obj is None or obj is Ellipsis or isinstance(obj, (slice, bool)):
        return obj
    if isinstance(obj, _dt.INTEGER_TYPES):
        return int(obj)
    if isinstance(obj, _dt.BOOL_TYPES):
        return bool(obj)
    a = _index_array(obj)
    if a is None:
        raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                         f"Variables are valid indices (got {type(obj).__name__})")
    if a.ndim == 0:  # 0-d index tensors act as Python scalars
        return bool(a) if a.dtype.kind == "b" else int(a)
    return a if a.dtype != _UINT8 else a.astype(bool)  # uint8 tensors are legacy masks


def _specified(obj: Any) -> int:
    """How many dims of the indexed tensor ``obj`` consumes."""
    if is_array(obj):
        return obj.ndim if obj.dtype.kind == "b" else 1
    return int(isinstance(obj, (int, slice)) and not isinstance(obj, bool))


def _apply_basic(t: Tensor, items: tuple, lone_slice: bool) -> tuple[Tensor, dict]:
    """Applies the view part of an index; returns the view and {dim: int array} still to apply."""
    items = tuple(_normalize(o) for o in items)
    if sum(o is Ellipsis for o in items) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    specified = sum(_specified(o) for o in items)
    if t.ndim == 0 and any(type(o) is int for o in items):
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                         "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    if t.ndim == 0 and any(isinstance(o, slice) for o in items):
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    if specified > t.ndim:
        raise IndexError(f"too many indices for tensor of dimension {t.ndim}")
    out, dim, adv = t, 0, {}
    for obj in items:
        if obj is None:
            out, dim = unsqueeze(out, dim), dim + 1
        elif obj is Ellipsis:
            dim += t.ndim - specified
        elif isinstance(obj, slice):
            n = out._data.shape[dim]
            step = 1 if obj.step is None else int(obj.step)
            if step <= 0:
                raise ValueError("step must be greater than zero")
            start, stop, _ = slice(obj.start, obj.stop, step).indices(n)
            stop = max(stop, start)
            if lone_slice or (start, stop, step) != (0, n, 1):
                out = _slice(out, dim, start, stop, step)
            dim += 1
        elif isinstance(obj, bool):
            # a scalar bool adds a dim of size 1 (kept if True, emptied if False)
            out = unsqueeze(out, dim)
            adv[dim] = get_array_module(t._data).zeros(1 if obj else 0, _INT64)
            dim += 1
        elif isinstance(obj, int):
            n = out._data.shape[dim]
            if not -n <= obj < n:
                raise IndexError(f"index {obj} is out of bounds for dimension {dim} with size {n}")
            out = _select(out, dim, obj % n)
        elif obj.dtype.kind == "b":
            shape = out._data.shape
            for j, s in enumerate(obj.shape):
                if s != shape[dim + j]:
                    raise IndexError(
                        f"The shape of the mask {list(obj.shape)} at index {j} does not match "
                        f"the shape of the indexed tensor {list(shape)} at index {dim + j}")
            for j, nz in enumerate(obj.nonzero()):
                adv[dim + j] = nz
            dim += obj.ndim
        else:
            adv[dim] = obj.astype(_INT64, copy=False)
            dim += 1
    return out, adv


def _adv_key(t: Tensor, adv: dict) -> tuple:
    """The array key for the advanced part, with torch's bounds and broadcast checks."""
    shape = t._data.shape
    for k, (d, a) in enumerate(sorted(adv.items())):
        n = shape[d]
        bad = (a < -n) | (a >= n)
        if bad.any():
            # torch numbers the dimension among the index tensors, not the tensor's dims
            raise IndexError(f"index {int(a[bad][0])} is out of bounds for dimension {k} with "
                             f"size {n}")
    try:
        get_array_module(t._data).broadcast_shapes(*(a.shape for a in adv.values()))
    except ValueError:
        shapes = ", ".join(str(list(a.shape)) for a in adv.values())
        raise IndexError("shape mismatch: indexing tensors could not be broadcast together "
                         f"with shapes {shapes}") from None
    return tuple(adv.get(d, slice(None)) for d in range(max(adv) + 1))


def getitem(self: Tensor, index: Any) -> Tensor:
    """``self[index]``: basic indexing gives a view, tensor/list/bool indexing a copy."""
    items, lone_slice = _parse(index)
    out, adv = _apply_basic(self, items, lone_slice)
    if adv:
        return Index.apply(out, key=_adv_key(out, adv))
    if out is self:
        return make_view(Alias.apply(self), self, lambda x: x[...])
    return out


def setitem(self: Tensor, index: Any, value: Any) -> None:
    """``self[index] = value``: a copy into the view, or ``index_put_`` for advanced indices."""
    if not isinstance(value, _ASSIGNABLE):
        kind = type(value)
        name = kind.__name__ if kind.__module__ == "builtins" else \
            f"{kind.__module__}.{kind.__name__}"
        raise TypeError(f"can't assign a {name} to a ember.{type_name(self)}Tensor")
    items, _ = _parse(index)
    target, adv = _apply_basic(self, items, False)  # unlike getitem, a lone full slice is a no-op
    if adv:
        values = as_tensor_arg(value)
        if values.dtype is not self.dtype:  # setitem casts; index_put_ itself refuses
            values = values.to(self.dtype)
        _index_put_key(target, _adv_key(target, adv), values, False)
    elif isinstance(value, Tensor):
        expand(value.detach(), target.shape)  # torch's error when value can't broadcast
        target.copy_(value)
    else:
        target.fill_(value)


def _check_values(self: Tensor, key: tuple, values: Any) -> Tensor:
    if not isinstance(values, Tensor):
        raise TypeError("index_put_(): argument 'values' (position 2) must be Tensor, not "
                        f"{type(values).__name__}")
    if values.dtype is not self.dtype:
        raise RuntimeError("Index put requires the source and destination dtypes match, got "
                           f"{type_name(self)} for the destination and {type_name(values)} for "
                           "the source.")
    # the shape of self[key], computed on a zero-strided stand-in so nothing is copied
    xp = get_array_module(self._data)
    result = xp.broadcast_to(xp.empty((), _dt.int8.np), self._data.shape)[key].shape
    vs = values._data.shape
    if len(vs) > len(result) or any(v not in (1, r) for v, r in zip(vs[::-1], result[::-1])):
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(vs)} cannot be "
                           f"broadcast to indexing result of shape {list(result)}")
    return values


def _index_put_key(self: Tensor, key: tuple, values: Tensor, accumulate: bool) -> Tensor:
    _check_values(self, key, values)
    return apply_inplace(self, lambda s: IndexPut.apply(s, values, key=key,
                                                        accumulate=accumulate))


def _indices_key(self: Tensor, indices: Sequence) -> tuple:
    adv, dim = {}, 0
    for i, idx in enumerate(indices):
        if not isinstance(idx, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(idx).__name__}")
        a = _index_array(idx)
        if a.dtype.kind == "b" or a.dtype == _UINT8:
            for j, nz in enumerate(a.nonzero()):
                adv[dim + j] = nz
            dim += a.ndim
        else:
            adv[dim], dim = a.astype(_INT64, copy=False), dim + 1
    if dim > self.ndim:
        raise IndexError(f"too many indices for tensor of dimension {self.ndim} (got {dim})")
    return _adv_key(self, adv)


def index_put_(input: Tensor, indices: Sequence[Tensor], values: Any,
               accumulate: bool = False) -> Tensor:
    """Writes ``values`` at ``input[indices]`` in place (summing repeats when ``accumulate``)."""
    return _index_put_key(input, _indices_key(input, indices), values, accumulate)


def index_put(input: Tensor, indices: Sequence[Tensor], values: Any,
              accumulate: bool = False) -> Tensor:
    """Out-of-place ``index_put_``."""
    key = _indices_key(input, indices)
    _check_values(input, key, values)
    return IndexPut.apply(input, values, key=key, accumulate=accumulate)


# -- masks ----------------------------------------------------------------------------------------


def _check_mask(fn: str, mask: Any) -> Any:
    if not isinstance(mask, Tensor) or mask._data.dtype != _dt.bool.np:
        if fn == "masked_select":
            raise RuntimeError("masked_select: expected BoolTensor for mask")
        raise RuntimeError(f"{fn} only supports boolean masks, but got mask with dtype "
                           f"{_C_TYPES[mask.dtype.name]}")
    return mask._data


class MaskedFill(Op, name="MaskedFillBackward0"):
    @staticmethod
    def forward(ctx, a, value, *, mask):
        ctx.mask = mask
        value = ctx.xp.asarray(value).astype(a.dtype)
        return ctx.xp.where(mask, value, a)

    @staticmethod
    def backward(ctx, g):
        need_a, need_v = ctx.needs_input_grad
        ga = MaskedFill.apply(g, 0, mask=ctx.mask) if need_a else None
        gv = MaskedFill.apply(g, 0, mask=~ctx.mask).sum() if need_v else None
        return ga, gv


class MaskedFillTensor(MaskedFill, name="MaskedFillBackward1"):
    pass


def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """A copy of ``input`` with ``value`` where ``mask`` (broadcast) is True."""
    m = _check_mask("masked_fill_", mask)
    _broadcast(mask, input)
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value.ndim} dimension(s).")
        return MaskedFillTensor.apply(input, value, mask=m)
    return MaskedFill.apply(input, value, mask=m)


def _broadcast(a: Tensor, b: Tensor) -> tuple:
    """The broadcast shape of ``a`` and ``b``, with torch's error naming them a and b."""
    sa, sb = a._data.shape, b._data.shape
    for k in range(1, min(len(sa), len(sb)) + 1):
        if sa[-k] != sb[-k] and sa[-k] != 1 and sb[-k] != 1:
            raise RuntimeError(f"The size of tensor a ({sa[-k]}) must match the size of tensor b "
                               f"({sb[-k]}) at non-singleton dimension {max(len(sa), len(sb)) - k}")
    return get_array_module(a._data, b._data).broadcast_shapes(sa, sb)


class MaskedSelect(Op, name="MaskedSelectBackward0"):
    @staticmethod
    def forward(ctx, a, *, mask, shape):
        ctx.shape = shape
        ctx.key = ctx.xp.nonzero(ctx.xp.broadcast_to(mask, shape))
        return ctx.xp.broadcast_to(a, shape)[ctx.key]

    @staticmethod
    def backward(ctx, g):
        return IndexBackward.apply(g, key=ctx.key, shape=ctx.shape)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The entries of ``input`` where ``mask`` (broadcast with it) is True, as a 1-d tensor."""
    m = _check_mask("masked_select", mask)
    return MaskedSelect.apply(input, mask=m, shape=_broadcast(mask, input))


# -- take, nonzero ------------------------------------------------------------------------------


class Take(Op, name="TakeBackward0"):
    @staticmethod
    def forward(ctx, a, *, index):
        ctx.index, ctx.in_shape = index, a.shape
        return a.reshape(-1)[index]

    @staticmethod
    def backward(ctx, g):
        flat = IndexBackward.apply(g, key=(ctx.index,), shape=(math.prod(ctx.in_shape),))
        return flat.reshape(ctx.in_shape)


def take(input: Tensor, index: Tensor) -> Tensor:
    """Reads ``input`` as if flattened at ``index``; the result has ``index``'s shape."""
    idx = _index_array(index)
    n = input._data.size
    bad = (idx < -n) | (idx >= n)
    if bad.any():
        raise IndexError(f"out of range: tried to access index {int(idx[bad].flat[0])} on a "
                         f"tensor of {n} elements.")
    return Take.apply(input, index=idx)


def nonzero(input: Tensor, *, out: Any = None, as_tuple: bool = False) -> Any:
    """The indices of the non-zero entries: an (n, ndim) tensor, or one 1-d tensor per dim."""
    a = input._data
    xp = get_array_module(a)
    if as_tuple:
        return tuple(Tensor._make(i.astype(_INT64)) for i in xp.nonzero(xp.atleast_1d(a)))
    return Tensor._make(xp.argwhere(a).astype(_INT64))


def argwhere(input: Tensor) -> Tensor:
    """``nonzero(input)``: the (n, ndim) indices of the non-zero entries."""
    return nonzero(input)


__all__ = [
    "index_put", "index_put_", "masked_fill", "masked_select", "take", "nonzero", "argwhere",
]
TENSOR_METHODS = {
    "__getitem__": getitem, "__setitem__": setitem, "index_put": index_put,
    "index_put_": index_put_, "masked_fill": masked_fill, "masked_select": masked_select,
    "take": take, "nonzero": nonzero, "argwhere": argwhere,
}
