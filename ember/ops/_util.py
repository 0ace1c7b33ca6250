"""Small helpers shared by the op modules: argument conversion and torch's dtype promotion."""
from __future__ import annotations

from typing import Any

from .. import dtypes as _dt
from ..backend import Array, get_array_module
from ..dtypes import promote_arrays as promote  # noqa: F401 - re-exported for ops
from ..tensor import Tensor, _wrap_dim


def as_tensor_arg(x: Any, like: Tensor | None = None) -> Tensor:
    """Turns a Python scalar or array-like into a constant tensor (torch's wrapped numbers)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, _dt.SCALAR_TYPES):
        d = _dt.scalar_dtype(x)
        xp = get_array_module(like._data) if like is not None else get_array_module()
        return Tensor._make(xp.array(x, dtype=d.np))
    from ..creation import tensor

    return tensor(x)


def float_array(x: Array) -> Array:
    """Integer and bool inputs of float-valued ops (exp, sqrt, ...) compute in the default dtype."""
    if _dt.is_float_array(x) or x.dtype.kind == "c":  # (complex stays complex)
        return x
    return x.astype(_dt.get_default_dtype().np)


def dims_arg(dim: Any, ndim: int) -> tuple[int, ...]:
    """Normalises ``dim`` (int, tuple, list or None meaning all) into sorted non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, _dt.INTEGER_TYPES):
        return (_wrap_dim(int(dim), ndim),)
    axes = tuple(_wrap_dim(int(d), ndim) for d in dim)
    seen: set[int] = set()
    for ax in axes:
        if ax in seen:
            raise RuntimeError(f"dim {ax} appears multiple times in the list of dims")
        seen.add(ax)
    return tuple(sorted(axes))


def broadcast_shape(*shapes: tuple) -> tuple:
    """The broadcast of ``shapes`` (torch's infer_size), with torch's RuntimeError on a mismatch."""
    out: tuple = ()
    for shape in shapes:
        n = max(len(out), len(shape))
        a = (1,) * (n - len(out)) + out
        b = (1,) * (n - len(shape)) + tuple(shape)
        for i in range(n - 1, -1, -1):  # torch reports the first mismatch from the right
            if a[i] != b[i] and a[i] != 1 and b[i] != 1:
                raise RuntimeError(
                    f"The size of tensor a ({a[i]}) must match the size of tensor b ({b[i]}) at "
                    f"non-singleton dimension {i}"
                )
        out = tuple(x if y == 1 else y for x, y in zip(a, b))
    return out
