"""Tensor creation: ``tensor``, ``zeros``, ``ones``, ... (random ones are in ``ember.random``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import dtypes as _dt
from .tensor import Tensor, _shape_arg, _to_array


def _infer_dtype(data: Any) -> _dt.dtype:
    """torch's inference for nested Python data: bool < int64 < default float, over all items."""
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, np.ndarray):
        return _dt.from_numpy_dtype(data.dtype)
    if isinstance(data, np.generic):
        return _dt.from_numpy_dtype(data.dtype)
    if isinstance(data, bool):
        return _dt.bool
    if isinstance(data, int):
        return _dt.int64
    if isinstance(data, float):
        return _dt.get_default_dtype()
    if isinstance(data, (list, tuple)):
        best = None
        for item in data:
            d = _infer_dtype(item)
            best = d if best is None else _dt.promote_types(best, d)
        return best or _dt.get_default_dtype()
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _finish(data: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._make(data)
    if requires_grad:
        t.requires_grad = True
    return t


def tensor(data: Any, *, dtype: _dt.dtype | None = None, device: Any = None,
           requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Constructs a tensor with no autograd history by copying ``data``."""
    d = _dt.to_dtype(dtype) if dtype is not None else _infer_dtype(data)
    arr = np.array(_to_array(data), dtype=d.np)
    return _finish(arr, requires_grad)


def as_tensor(data: Any, dtype: _dt.dtype | None = None, device: Any = None) -> Tensor:
    """Converts ``data`` to a tensor, sharing memory with a NumPy array or tensor where possible."""
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype is dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == _dt.to_dtype(dtype).np):
        _dt.from_numpy_dtype(data.dtype)
        return Tensor._make(data)
    return tensor(data, dtype=dtype)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """Creates a tensor that shares memory with ``ndarray``."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dt.from_numpy_dtype(ndarray.dtype)
    return Tensor._make(ndarray)


def _filled(size: tuple, value: Any, dtype: Any, requires_grad: bool) -> Tensor:
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    shape = _shape_arg(size)
    data = np.empty(shape, d.np) if value is None else np.full(shape, value, d.np)
    return _finish(data, requires_grad)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          out: Any = None, layout: Any = None) -> Tensor:
    """A tensor of zeros of the given size."""
    return _filled(size, 0, dtype, requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
         out: Any = None, layout: Any = None) -> Tensor:
    """A tensor of ones of the given size."""
    return _filled(size, 1, dtype, requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          out: Any = None, layout: Any = None, memory_format: Any = None) -> Tensor:
    """An uninitialised tensor of the given size."""
    return _filled(size, None, dtype, requires_grad)


__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty"]
