"""Copies and conversions: ``clone``, ``contiguous``, ``to``, ``type`` and the dtype-cast methods.

``x.type()`` names the tensor type with ember's prefix (``'ember.FloatTensor'``), as every other
type name ember prints does (``ember.float32``, ``ember.Size``); ``x.type(...)`` accepts both the
``'ember.'`` and the ``'torch.'`` spelling, and the legacy classes (``ember.FloatTensor``, ...).
"""
from __future__ import annotations

import builtins
from typing import Any

from .. import dtypes as _dt
from ._op import Op
from .. import devices as _devices
from ..backend import NUMPY, backend_of, limits
from ..tensor import Tensor
from ..devices import device as _device
from .inplace import type_name


class memory_format:
    """A memory layout request (``ember.contiguous_format``, ``ember.channels_last``, ...)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"ember.{self.name}"

    def __reduce__(self) -> str:
        return self.name


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
_CHANNELS_LAST_RANK = {channels_last: 4, channels_last_3d: 5}


def _copy_array(xp: Any, a: Any, fmt: memory_format | None, dtype: Any = None) -> Any:
    """A copy of ``a`` in the requested layout (``preserve_format``: numpy's ``order='K'``)."""
    dtype = a.dtype if dtype is None else dtype
    try:
        with backend_of(a).errors_quiet():  # float -> int casts wrap like torch's
            if fmt in _CHANNELS_LAST_RANK:
                # channels-last: the channel axis is the fastest-moving one in memory
                perm = (0, *range(2, a.ndim), 1)
                inv = (0, a.ndim - 1, *range(1, a.ndim - 1))
                return xp.ascontiguousarray(a.transpose(perm), dtype=dtype).transpose(inv)
            return a.astype(dtype, order="C" if fmt is contiguous_format else "K", copy=True)
    except MemoryError as e:  # (materialising an expanded view, say): torch's allocator error
        raise limits.memory_error(e, a.size * xp.dtype(dtype).itemsize) from None


def _check_format(input: Tensor, fmt: Any) -> None:
    rank = _CHANNELS_LAST_RANK.get(fmt)
    if rank is not None and input.ndim != rank:
        raise RuntimeError(f"required rank {rank} tensor to use {fmt.name} format")


def _is_channels_last(a: Any) -> bool:
    return a.transpose(0, *range(2, a.ndim), 1).flags.c_contiguous


class Clone(Op, name="CloneBackward0"):
    on_arrays = True

    @staticmethod
    def forward(ctx, a, *, fmt):
        return _copy_array(ctx.xp, a, fmt)

    @staticmethod
    def backward(ctx, g):
        return g


class ToCopy(Op, name="ToCopyBackward0"):
    """A copy in another dtype and/or on another device (``to=(backend, index)``); its
    gradient goes back to the input's dtype and device."""

    @staticmethod
    def forward(ctx, a, *, dtype, fmt, to=None):
        ctx.in_dtype = _dt.from_numpy_dtype(a.dtype)
        if to is None:
            return _copy_array(ctx.xp, a, fmt, dtype)
        ctx.in_device = _devices.device_of(a)
        if a.dtype != dtype or fmt is not None:
            a = _copy_array(ctx.xp, a, fmt, dtype)
        return _devices.move(a, *to)

    @staticmethod
    def backward(ctx, g):
        if g.is_complex() and not ctx.in_dtype.is_complex:  # real to complex: the real part
            from .complex import real

            g = real(g)
        device = ctx.__dict__.get("in_device")
        return g.to(ctx.in_dtype) if device is None else g.to(device, ctx.in_dtype)


def clone(input: Tensor, *, memory_format: memory_format = preserve_format) -> Tensor:
    """Returns a copy of ``input`` that stays connected to its autograd graph."""
    _check_format(input, memory_format)
    return Clone.apply(input, fmt=memory_format)


def contiguous(self: Tensor, memory_format: memory_format = contiguous_format) -> Tensor:
    """Returns ``self`` if it is already C-contiguous, else a contiguous copy."""
    if memory_format in _CHANNELS_LAST_RANK:
        _check_format(self, memory_format)
        return Clone.apply(self, fmt=memory_format)
    if self._data.flags.c_contiguous:
        return self
    return Clone.apply(self, fmt=contiguous_format)


def _cast(self: Tensor, d: _dt.dtype, copy: bool = False, fmt: Any = None,
          to: tuple | None = None) -> Tensor:
    """The one place every dtype and device conversion goes through (``to``: the target
    ``(backend, index)`` when the device changes)."""
    if fmt is not None:
        _check_format(self, fmt)
    # like torch, a request for the layout the tensor would be given anyway (only channels-last
    # differs from C order) aliases instead of copying
    if to is None and d is self.dtype and not copy and (
            fmt not in _CHANNELS_LAST_RANK or _is_channels_last(self._data)):
        return self
    src = self
    if not (d.is_floating_point or d.is_complex) and self._requires_grad:
        src = self.detach()  # a cast to an integer or bool dtype leaves the graph, as in torch
    if to is None:
        return ToCopy.apply(src, dtype=d.np, fmt=fmt)
    return ToCopy.apply(src, dtype=d.np, fmt=fmt, to=to)


def _dtype_arg(x: Any) -> _dt.dtype | None:
    """``x`` as a dtype if it names one (an ember dtype or float/int/bool), else None."""
    if isinstance(x, _dt.dtype):
        return x
    if x is builtins.float or x is builtins.int or x is builtins.bool:
        return _dt.to_dtype(x)
    return None


def _to_error(args: tuple, kwargs: dict) -> TypeError:
    got = ", ".join([builtins.type(a).__name__ for a in args]
                    + [f"{k}={builtins.type(v).__name__}" for k, v in kwargs.items()])
    return TypeError(
        f"to() received an invalid combination of arguments - got ({got}), but expected one of:\n"
        " * (ember.device device = None, ember.dtype dtype = None, bool non_blocking = False, "
        "bool copy = False, *, ember.memory_format memory_format = None)\n"
        " * (ember.dtype dtype, bool non_blocking = False, bool copy = False, *, "
        "ember.memory_format memory_format = None)\n"
        " * (Tensor tensor, bool non_blocking = False, bool copy = False, *, "
        "ember.memory_format memory_format = None)"
    )


def to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """Converts dtype and/or device: ``to(dtype)``, ``to(device, dtype)``, ``to(other)``. Returns
    ``self`` when nothing changes unless ``copy=True``."""
    fmt = kwargs.pop("memory_format", None)
    rest = list(args)
    dtype = dev = None
    if rest and isinstance(rest[0], Tensor):
        other = rest.pop(0)
        dtype, dev = other.dtype, other.device
    elif rest and _dtype_arg(rest[0]) is not None:
        dtype = _dtype_arg(rest.pop(0))
    else:
        if rest and isinstance(rest[0], (str, _device, int)) and not isinstance(rest[0], bool):
            dev = rest.pop(0)
        elif "device" in kwargs:
            dev = kwargs.pop("device")
        if rest and _dtype_arg(rest[0]) is not None:
            dtype = _dtype_arg(rest.pop(0))
        elif "dtype" in kwargs:
            dtype = kwargs.pop("dtype")
            if dtype is not None and _dtype_arg(dtype) is None:
                raise _to_error(args, {"dtype": dtype})
            dtype = _dtype_arg(dtype)
    names = ["non_blocking", "copy"]
    flags = dict(zip(names, rest))
    if len(rest) > 2 or any(not isinstance(v, builtins.bool) for v in flags.values()):
        raise _to_error(args, kwargs)
    for k in list(kwargs):
        if k not in names or k in flags:
            raise _to_error(args, kwargs)
        flags[k] = kwargs.pop(k)
    to = None
    if dev is not None:
        if isinstance(dev, int) and not isinstance(dev, bool):
            dev = _device(dev)  # an index on the current accelerator
        backend, index = _devices.backend_for(dev)
        data = self._data
        if backend is not backend_of(data) or (backend is not NUMPY
                                              and backend.device_index(data) != index):
            to = (backend, index)
    return _cast(self, dtype or self.dtype, flags.get("copy", False), fmt, to)


def _type_from_name(name: str) -> _dt.dtype:
    for prefix in ("ember.", "torch."):
        if name.startswith(prefix) and name.endswith("Tensor"):
            short = name[len(prefix):-len("Tensor")]
            for d in _dt.all_dtypes:
                if type_name(d) == short:
                    return d
    raise ValueError(f"invalid type: '{name}'")


def type_(self: Tensor, dtype: Any = None, non_blocking: bool = False, **kwargs: Any) -> Any:
    """With no argument, the type name (``'ember.FloatTensor'``); otherwise casts to ``dtype``
    (an ember dtype, a legacy class such as ``ember.FloatTensor``, or its name)."""
    if dtype is None:
        return f"ember.{type_name(self.dtype)}Tensor"
    if isinstance(dtype, str):
        d = _type_from_name(dtype)
    elif isinstance(dtype, _LegacyType):
        d = dtype.dtype
    else:
        d = _dt.to_dtype(dtype)
    return _cast(self, d)


def type_as(self: Tensor, other: Tensor) -> Tensor:
    """Casts to ``other``'s dtype (``self`` if it already matches)."""
    return _cast(self, other.dtype)


def _caster(d: _dt.dtype):
    def method(self: Tensor, memory_format: Any = preserve_format) -> Tensor:
        return _cast(self, d, fmt=memory_format)

    method.__name__ = d.name
    method.__doc__ = f"Casts to ``ember.{d.name}`` (``self`` if it already is one)."
    return method


# -- the legacy tensor types: ember.FloatTensor(2, 3), isinstance(x, ember.LongTensor), ... ------


class _LegacyType(builtins.type):
    dtype: _dt.dtype

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype

    def __call__(cls, *args: Any) -> Tensor:
        return Tensor(*(args or (0,)), dtype=cls.dtype)

    def __repr__(cls) -> str:
        return f"<class 'ember.{cls.__name__}'>"


def _legacy(d: _dt.dtype) -> _LegacyType:
    name = f"{type_name(d)}Tensor"
    return _LegacyType(name, (), {"dtype": d, "__module__": "ember", "__qualname__": name})


FloatTensor, DoubleTensor, HalfTensor = (_legacy(d) for d in (_dt.float32, _dt.float64,
                                                               _dt.float16))
LongTensor, IntTensor, ShortTensor, CharTensor, ByteTensor, BoolTensor = (
    _legacy(d) for d in (_dt.int64, _dt.int32, _dt.int16, _dt.int8, _dt.uint8, _dt.bool)
)

__all__ = ["clone", "memory_format", "contiguous_format", "preserve_format", "channels_last",
           "channels_last_3d", "FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor",
           "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]

TENSOR_METHODS = {
    "clone": clone, "contiguous": contiguous, "to": to, "type": type_, "type_as": type_as,
    "float": _caster(_dt.float32), "double": _caster(_dt.float64), "half": _caster(_dt.float16),
    "long": _caster(_dt.int64), "int": _caster(_dt.int32), "short": _caster(_dt.int16),
    "char": _caster(_dt.int8), "byte": _caster(_dt.uint8), "bool": _caster(_dt.bool),
    "bfloat16": _caster(_dt.bfloat16), "cfloat": _caster(_dt.complex64),
    "cdouble": _caster(_dt.complex128),
}
