"""Small helpers shared by the op modules: argument conversion and torch's dtype promotion."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..dtypes import promote_arrays as promote  # noqa: F401 - re-exported for ops
from ..tensor import Tensor, _wrap_dim

_ndarray = np.ndarray
_SCALARS = (int, float, bool, np.number, np.bool_)


def as_tensor_arg(x: Any, like: Tensor | None = None) -> Tensor:
    """Turns a Python scalar or array-like into a constant tensor (torch's wrapped numbers)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, _SCALARS):
        d = _dt.scalar_dtype(x)
        return Tensor._make(np.array(x, dtype=d.np))
    from ..creation import tensor

    return tensor(x)


def float_array(x: np.ndarray) -> np.ndarray:
    """Integer and bool inputs of float-valued ops (exp, sqrt, ...) compute in the default dtype."""
    return x if x.dtype.kind == "f" else x.astype(_dt.get_default_dtype().np)


def dims_arg(dim: Any, ndim: int) -> tuple[int, ...]:
    """Normalises ``dim`` (int, tuple, list or None meaning all) into sorted non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        return (_wrap_dim(int(dim), ndim),)
    axes = tuple(_wrap_dim(int(d), ndim) for d in dim)
    seen: set[int] = set()
    for ax in axes:
        if ax in seen:
            raise RuntimeError(f"dim {ax} appears multiple times in the list of dims")
        seen.add(ax)
    return tuple(sorted(axes))
