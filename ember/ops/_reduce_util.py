"""Helpers shared by the reduction modules (reduce, stats, cumulative): dim handling, the dtype
rules of sums, and the constant masks and weights their backwards use."""
from __future__ import annotations

import functools
import math
from collections import namedtuple
from typing import Any, Callable

from .. import dtypes as _dt
from ..graph import grad_mode
from ..backend import backend_of, get_array_module
from ..backend.vocabulary import acc_dtype  # noqa: F401  (the reductions' accumulator rule)
from ..tensor import Size, Tensor
from ._util import dims_arg
from .inplace import type_name


RETURN_TYPES: dict[str, type] = {}  # ember.return_types: every one made, by name


def return_type(name: str, fields: tuple[str, ...]) -> type:
    """A named-tuple type printing as torch's ``return_types`` structseqs do (registered in
    ``ember.return_types``, so that its instances pickle)."""

    def __repr__(self) -> str:
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"ember.return_types.{name}(\n{body})"

    base = namedtuple(name, fields)
    cls = type(name, (base,), {"__slots__": (), "__repr__": __repr__,
                               "__module__": "ember.return_types"})
    RETURN_TYPES.setdefault(name, cls)
    return RETURN_TYPES[name] if RETURN_TYPES[name]._fields == cls._fields else cls


def axis_alias(fn: Callable) -> Callable:
    """torch accepts numpy's ``axis=`` for ``dim=`` in its reductions."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "axis" in kwargs:
            kwargs["dim"] = kwargs.pop("axis")
        return fn(*args, **kwargs)

    return wrapper


def reduce_axes(input: Tensor, dim: Any) -> tuple[int, ...]:
    """Reduced axes: all of them for None or an empty tuple/list, none on a 0-d tensor."""
    if isinstance(dim, (tuple, list, Size)) and len(dim) == 0:
        dim = None
    axes = dims_arg(dim, input.ndim)
    return axes if input.ndim else ()


def kept_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def keep(g: Tensor, shape: tuple, axes: tuple, keepdim: bool) -> Tensor:
    """A reduction's output (or gradient) in keepdim form, so it broadcasts against the input."""
    return g if keepdim or g.ndim == len(shape) else g.reshape(kept_shape(shape, axes))


def count(shape: tuple, axes: tuple) -> int:
    return math.prod(shape[a] for a in axes)


def quiet(array: Any) -> Any:
    """A context where ``array``'s backend computes 0/0 = nan and log(0) = -inf silently, as
    torch does (numpy would warn)."""
    return backend_of(array).errors_quiet()


def const(arr: Any, like: Tensor | None = None) -> Tensor:
    """A constant tensor (mask, sign, weights) for a backward, in ``like``'s dtype."""
    return Tensor._make(arr if like is None else arr.astype(like._data.dtype, copy=False))


def int64_dtype(a: Any, dtype: Any) -> Any:
    """Result dtype of sum/prod/cumsum/cumprod: ``dtype`` if given, else int64 for bool/integers."""
    if dtype is not None:
        return _dt.to_dtype(dtype).np
    return get_array_module(a).dtype("int64") if a.dtype.kind in "biu" else a.dtype


def np_dtype(dtype: Any) -> Any:
    return None if dtype is None else _dt.to_dtype(dtype).np


def check_grad_dtype(input: Tensor, npdtype: Any) -> None:
    """torch refuses to record a differentiable input into an integer result."""
    if npdtype.kind not in "fc" and npdtype not in _dt.EXTENSION_NP and input.requires_grad \
            and grad_mode.state.enabled:
        raise RuntimeError(f"Autograd not support dtype: {type_name(npdtype)}")


def require_float(input: Tensor, msg: str) -> None:
    if not input.is_floating_point():
        raise RuntimeError(msg + type_name(input))


def check_nonempty(name: str, input: Tensor, dims: Any, shown: Any = None) -> None:
    """torch's errors for max/min-like reductions over nothing (they have no identity)."""
    if dims is None:
        if input.numel() == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        return
    for d, s in zip(dims, shown if shown is not None else dims):
        if input.ndim and input.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {s} to have non-zero size.")


def safe_div(g: Tensor, d: Tensor) -> Tensor:
    """``g / d``, taken as 0 where ``d == 0`` without a nan in either derivative."""
    from .compare import where

    zero = d._data == 0
    if not zero.any():
        return g / d
    zero = const(zero)
    return where(zero, 0.0, g / where(zero, 1.0, d))


def tie_weights(x: Tensor, out: Tensor, axes: tuple, nan_ties: bool) -> Tensor:
    """Weights spreading a max/min gradient evenly over the elements equal to the result."""
    xp = get_array_module(x._data)
    xd, od = x._data, out._data.reshape(kept_shape(x.shape, axes))
    mask = xd == od
    if nan_ties:  # max()/min() share among the nans a nan result came from; amax/amin give nan
        mask |= xp.isnan(xd) & xp.isnan(od)
    with quiet(xd):
        return const(mask / mask.sum(axis=axes, keepdims=True), out)


def others_product(x: Tensor, d: int, cumulative: bool) -> Tensor:
    """For each i along ``d``, products over ``d`` of x with x_i replaced by 1 (exact with zeros).

    Gives ``[..., i, k, ...]``, cumulative over ``k``, when ``cumulative``, else ``[..., i, ...]``.
    Costs O(n) per element, so prod/cumprod use it only when x has zeros."""
    from .compare import where

    xp = get_array_module(x._data)
    n = x.shape[d]
    eye = xp.eye(n, dtype=bool).reshape((n, n) + (1,) * (x.ndim - d - 1))
    others = where(const(eye), 1.0, x.unsqueeze(d))
    return others.cumprod(d + 1) if cumulative else others.prod(d + 1)  # (methods: no cycle)
