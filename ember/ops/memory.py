"""Factories that lay out or wrap memory: ``empty_strided``, ``frombuffer``, ``from_dlpack``
(and the Tensor's DLPack methods), ``scalar_tensor`` and the deprecated ``range``."""
from __future__ import annotations

import warnings
from typing import Any, Sequence

from .. import dtypes as _dt
from ..backend import NUMPY
from ..tensor import Tensor, _factory_result
from .. import devices as _devices
from ..devices import device as _device


def empty_strided(size: Sequence[int], stride: Sequence[int], *, dtype: Any = None,
                  layout: Any = None, device: Any = None, requires_grad: bool = False,
                  pin_memory: bool = False) -> Tensor:
    """An uninitialised tensor of ``size`` whose elements lie ``stride`` apart in memory."""
    if device is not None:
        _device(device)
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError(f"dimensionality of sizes ({len(size)}) must match dimensionality of "
                           f"strides ({len(stride)})")
    if any(n < 0 for n in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(size)}: "
                           f"{list(size)}")
    if any(st < 0 for st in stride):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)} and "
                           f"strides={list(stride)}")
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    # the storage spans the furthest element (none at all when a size is 0)
    extent = 0 if 0 in size else 1 + sum((n - 1) * s for n, s in zip(size, stride))
    buf = NUMPY.xp.empty(extent, d.np)
    data = NUMPY.as_strided(buf, shape=size, strides=[s * d.itemsize for s in stride])
    if device is not None or _devices.default[0] is not None:  # (a copy keeps the strides)
        backend, index = _devices.backend_for(device)
        if backend is not NUMPY:
            data = backend.as_strided(backend.from_host(buf, index), size,
                                      [s * d.itemsize for s in stride])
    return _factory_result(data, requires_grad)


def frombuffer(buffer: Any, *, dtype: Any, count: int = -1, offset: int = 0,
               requires_grad: bool = False) -> Tensor:
    """A 1-d tensor over the memory of an object that implements the buffer protocol; it shares
    that memory (writes show through both ways)."""
    d = _dt.to_dtype(dtype)
    try:
        length = memoryview(buffer).nbytes
    except TypeError:
        raise ValueError("object does not implement Python buffer protocol.") from None
    if length <= 0 or count == 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if offset < 0 or offset >= length:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than "
                         f"buffer length ({length} bytes) minus 1")
    if count < 0:
        if (length - offset) % d.itemsize:
            raise ValueError(f"buffer length ({length - offset} bytes) after offset ({offset} "
                             f"bytes) must be a multiple of element size ({d.itemsize})")
        count = (length - offset) // d.itemsize
    elif offset + count * d.itemsize > length:
        raise ValueError(f"requested buffer length ({count} * {d.itemsize} bytes) after offset "
                         f"({offset} bytes) must not be greater than actual buffer length "
                         f"({length} bytes)")
    data = NUMPY.xp.frombuffer(buffer, dtype=d.np, count=count, offset=offset)
    if not data.flags.writeable:
        warnings.warn("The given buffer is not writable, and PyTorch does not support "
                      "non-writable tensors. This means you can write to the underlying "
                      "(supposedly non-writable) buffer using the tensor. You may want to copy "
                      "the buffer to protect its data or make it writable before converting it "
                      "to a tensor. This type of warning will be suppressed for the rest of this "
                      "program.", UserWarning, stacklevel=2)
    return _factory_result(data, requires_grad)


def from_dlpack(ext_tensor: Any, *, device: Any = None, copy: bool | None = None) -> Tensor:
    """A tensor sharing the memory of ``ext_tensor``, any object with ``__dlpack__`` (a NumPy
    array, a torch tensor, ...): the DLPack exchange protocol."""
    if device is not None:
        _device(device)
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    if type(ext_tensor).__name__ == "PyCapsule":  # a capsule from a ``to_dlpack`` (CPU memory)
        ext_tensor = _Capsule(ext_tensor)
    if not hasattr(ext_tensor, "__dlpack__"):
        raise AttributeError(f"'{type(ext_tensor).__name__}' object has no attribute "
                             "'__dlpack__'")
    data = NUMPY.xp.from_dlpack(ext_tensor, copy=copy)
    _dt.from_numpy_dtype(data.dtype)  # torch's error for a dtype ember lacks
    return _factory_result(data, False)


class _Capsule:
    """A bare DLPack capsule dressed as the protocol's producer (NumPy wants the methods)."""

    def __init__(self, capsule: Any) -> None:
        self.capsule = capsule

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple:
        return (1, 0)  # kDLCPU


def _dlpack(self: Tensor, *args: Any, **kwargs: Any) -> Any:
    return self._data.__dlpack__(*args, **kwargs)


def _dlpack_device(self: Tensor) -> tuple:
    return self._data.__dlpack_device__()


def scalar_tensor(s: Any, *, dtype: Any = None, layout: Any = None, device: Any = None,
                  pin_memory: bool | None = None, requires_grad: bool = False) -> Tensor:
    """A 0-d tensor holding the number ``s``, in the default floating dtype unless ``dtype``."""
    if isinstance(s, Tensor):
        s = s.item()
    if not isinstance(s, _dt.SCALAR_TYPES) and not isinstance(s, complex):
        raise TypeError(f"scalar_tensor(): argument 's' (position 1) must be Number, not "
                        f"{type(s).__name__}")
    d = _dt.to_dtype(dtype) if dtype is not None else (
        _dt.get_default_dtype().to_complex() if isinstance(s, complex) else
        _dt.get_default_dtype())
    return _factory_result(NUMPY.xp.asarray(s, dtype=d.np), requires_grad, device)


# (this module's ``range`` is torch's from here on; Python's is ``builtins.range``)
def range(start: Any = 0, end: Any = None, step: Any = 1, *, out: Any = None, dtype: Any = None,
          layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Deprecated: the 1-d tensor ``start, start + step, ..., end`` (``end`` included, unlike
    ``arange``), in the default floating dtype unless ``dtype``."""
    warnings.warn("torch.range is deprecated and will be removed in a future release because its "
                  "behavior is inconsistent with Python's range builtin. Instead, use "
                  "torch.arange, which produces values in [start, end).", UserWarning,
                  stacklevel=2)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    xp = NUMPY.xp
    n = int((end - start) / step) + 1
    values = start + xp.arange(n, dtype=xp.float64) * step  # (in double, then cast, as torch)
    return _factory_result(values.astype(d.np), requires_grad, device)


__all__ = ["empty_strided", "frombuffer", "from_dlpack", "scalar_tensor", "range"]
TENSOR_METHODS: dict[str, Any] = {"__dlpack__": _dlpack, "__dlpack_device__": _dlpack_device}
