"""Tensors over memory: the legacy constructor ``Tensor.new``, ``resize_`` and friends, the
element-wise Python callbacks (``apply_``, ``map_``, ``map2_``), and the factories that lay out or
wrap memory (``empty_strided``, ``frombuffer``, ``from_dlpack`` and the DLPack methods)."""
from __future__ import annotations

import builtins
import warnings
from typing import Any, Callable, Sequence

from .. import dtypes as _dt
from ..backend import NUMPY, get_array_module
from ..graph import grad_mode
from ..tensor import Size, Tensor, _factory_result, _shape_arg, _wrap_dim, device as _device
from ._op import Op
from .inplace import check_inplace
from .meta import storage_offset
from .shape import expand

_state = grad_mode.state


def new(self: Tensor, *args: Any, device: Any = None, **kwargs: Any) -> Tensor:
    """The legacy constructor: ``x.new(2, 3)`` (uninitialised, this dtype), ``x.new(size)``
    (an ``ember.Size``), ``x.new(data)`` (a sequence), ``x.new(tensor)`` (that tensor, which
    must have this dtype) or ``x.new()`` (empty)."""
    if device is not None:
        _device(device)
    if kwargs:
        first = type(args[0]).__name__ if args else ""
        got = ", ".join([first] * builtins.bool(args) + [f"{k}={_kw_type(v)}"
                                                          for k, v in kwargs.items()])
        raise TypeError(
            f"new() received an invalid combination of arguments - got ({got}), but expected one "
            "of:\n * (*, ember.device device = None)\n      didn't match because some of the "
            f"keywords were incorrect: {', '.join(kwargs)}\n * (ember.Storage storage)\n * "
            "(Tensor other)\n * (tuple of ints size, *, ember.device device = None)\n * (object "
            "data, *, ember.device device = None)\n")
    xp = get_array_module(self._data)
    if not args:
        return Tensor._make(xp.empty((0,), self._data.dtype))
    if len(args) == 1 and isinstance(args[0], Tensor):
        other = args[0]
        if other.dtype is not self.dtype:
            raise TypeError(f"expected {_options(self.dtype)} (got {_options(other.dtype)})")
        return other.detach()
    if len(args) == 1 and isinstance(args[0], Size):
        args = tuple(args[0])
    if all(isinstance(a, _dt.INTEGER_TYPES) and not isinstance(a, builtins.bool) for a in args):
        return Tensor._make(xp.empty(_shape_arg(args), self._data.dtype))
    if len(args) == 1 and not isinstance(args[0], (list, tuple, builtins.range)) \
            and not hasattr(args[0], "__array_interface__"):
        raise TypeError(f"new(): data must be a sequence (got {type(args[0]).__name__})")
    return self.new_tensor(args[0] if len(args) == 1 else list(args))


_CPP_TYPES = {"float32": "float", "float64": "double", "float16": "c10::Half",
              "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int",
              "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
              "bool": "bool", "complex64": "c10::complex<float>",
              "complex128": "c10::complex<double>"}


def _options(d: _dt.dtype) -> str:
    return (f"TensorOptions(dtype={_CPP_TYPES.get(d.name, d.name)}, device=cpu, layout=Strided, "
            "requires_grad=false (default), pinned_memory=false (default), "
            "memory_format=(nullopt))")


def _kw_type(v: Any) -> str:
    return "ember.dtype" if isinstance(v, _dt.dtype) else type(v).__name__


def new_empty_strided(self: Tensor, size: Sequence[int], stride: Sequence[int], *,
                      dtype: Any = None, layout: Any = None, device: Any = None,
                      requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """An uninitialised tensor of ``size`` and ``stride``, in this tensor's dtype unless given."""
    return empty_strided(size, stride, dtype=dtype if dtype is not None else self.dtype,
                         layout=layout, device=device, requires_grad=requires_grad,
                         pin_memory=pin_memory)


def _check_resizable(self: Tensor) -> None:
    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")


def _resized(self: Tensor, shape: tuple) -> Any:
    """This tensor's data as ``shape``: a view of its storage where it fits (as torch keeps the
    storage when shrinking), else new memory holding the old values first."""
    a = self._data
    xp = get_array_module(a)
    n = 1
    for s in shape:
        n *= s
    root = self.untyped_storage()
    off = storage_offset(self) if root.flags.c_contiguous else -1
    if a.flags.c_contiguous and off >= 0 and off + n <= root.size and root.flags.writeable:
        return root.reshape(-1)[off:off + n].reshape(shape)
    flat = xp.zeros(n, a.dtype)  # torch leaves the new elements uninitialised
    k = builtins.min(n, a.size)
    flat[:k] = a.reshape(-1)[:k]
    return flat.reshape(shape)


def _resize_shape(fname: str, args: tuple) -> tuple:
    shape = _shape_arg(args)
    if any(s < 0 for s in shape):
        raise RuntimeError("Trying to create tensor with negative dimension "
                           f"{builtins.min(shape)}: {list(shape)}")
    return shape


def resize_(self: Tensor, *sizes: Any, memory_format: Any = None) -> Tensor:
    """Resizes this tensor in place to ``sizes``, keeping its first elements (new ones, when it
    grows, are uninitialised in torch; ember zeroes them). Not allowed on a tensor that requires
    grad."""
    _check_resizable(self)
    shape = _resize_shape("resize_", sizes)
    if shape != self._data.shape:
        self._data = _resized(self, shape)
    self._version_counter[0] += 1
    return self


def resize_as_(self: Tensor, the_template: Tensor, *, memory_format: Any = None) -> Tensor:
    """Resizes this tensor in place to the shape of ``the_template``."""
    return resize_(self, the_template._data.shape)


class Resize(Op, name="ResizeBackward"):
    @staticmethod
    def forward(ctx, a, *, shape):
        ctx.in_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)

    on_arrays = True


def resize(self: Tensor, *sizes: Any) -> Tensor:
    """Deprecated: ``self`` reshaped to ``sizes``, which must keep its number of elements."""
    warnings.warn("non-inplace resize is deprecated", stacklevel=2)
    shape = _resize_shape("resize", sizes)
    n = 1
    for s in shape:
        n *= s
    if n != self._data.size:
        want = "x".join(map(str, shape))
        have = "x".join(map(str, self._data.shape))
        raise RuntimeError(
            f"requested resize to {want} ({n} elements in total), but the given tensor has a "
            f"size of {have} ({self._data.size} elements). autograd's resize can only change the "
            "shape of a given tensor, while preserving the number of elements. ")
    return Resize.apply(self, shape=shape)


def resize_as(self: Tensor, tensor: Tensor) -> Tensor:
    """Deprecated: ``self`` reshaped to ``tensor``'s shape."""
    warnings.warn("non-inplace resize_as is deprecated", stacklevel=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return resize(self, *tensor._data.shape)


# -- element-wise Python callbacks (torch calls them once per element too) ----------------------


def _callback_target(self: Tensor, fname: str) -> None:
    if self._requires_grad and _state.enabled:
        raise RuntimeError(f"Can't call {fname}() on Variable that requires grad. Use "
                           f"var.detach().{fname}() instead.")


def _write_values(self: Tensor, values: list) -> Tensor:
    xp = get_array_module(self._data)
    self._data[...] = xp.asarray(values).astype(self._data.dtype).reshape(self._data.shape)
    self._version_counter[0] += 1
    return self


def apply_(self: Tensor, callable: Callable) -> Tensor:
    """Applies ``callable`` to each element in place (Python numbers in and out; slow)."""
    _callback_target(self, "apply_")
    return _write_values(self, [callable(v) for v in self._data.reshape(-1).tolist()])


def map_(self: Tensor, tensor: Tensor, callable: Callable) -> Tensor:
    """``self[i] = callable(self[i], tensor[i])`` for every element, ``tensor`` broadcast."""
    _callback_target(self, "map_")
    other = expand(tensor.detach(), self._data.shape)._data.reshape(-1).tolist()
    mine = self._data.reshape(-1).tolist()
    return _write_values(self, [callable(a, b) for a, b in zip(mine, other)])


def map2_(self: Tensor, x: Tensor, y: Tensor, callable: Callable) -> Tensor:
    """``self[i] = callable(self[i], x[i], y[i])`` for every element, ``x``/``y`` broadcast."""
    _callback_target(self, "map2_")
    xs = expand(x.detach(), self._data.shape)._data.reshape(-1).tolist()
    ys = expand(y.detach(), self._data.shape)._data.reshape(-1).tolist()
    mine = self._data.reshape(-1).tolist()
    return _write_values(self, [callable(a, b, c) for a, b, c in zip(mine, xs, ys)])


# -- factories over existing memory -------------------------------------------------------------


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
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    # the storage spans the furthest element (none at all when a size is 0)
    extent = 0 if 0 in size else 1 + sum((n - 1) * s for n, s in zip(size, stride))
    buf = NUMPY.xp.empty(extent, d.np)
    data = NUMPY.as_strided(buf, shape=size, strides=[s * d.itemsize for s in stride])
    return _factory_result(data, requires_grad)


def frombuffer(buffer: Any, *, dtype: Any, count: int = -1, offset: int = 0,
               requires_grad: bool = False) -> Tensor:
    """A 1-d tensor over the memory of an object that implements the buffer protocol; it shares
    that memory (writes show through both ways)."""
    d = _dt.to_dtype(dtype)
    length = memoryview(buffer).nbytes
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
    if device is not None:
        _device(device)
    d = _dt.to_dtype(dtype) if dtype is not None else (
        _dt.get_default_dtype().to_complex() if isinstance(s, complex) else
        _dt.get_default_dtype())
    return _factory_result(NUMPY.xp.asarray(s, dtype=d.np), requires_grad)


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
    if device is not None:
        _device(device)
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    xp = NUMPY.xp
    n = int((end - start) / step) + 1
    values = start + xp.arange(n, dtype=xp.float64) * step  # (in double, then cast, as torch)
    return _factory_result(values.astype(d.np), requires_grad)


# -- sharing memory: set_, is_set_to, as_subclass, the unsafe splits ---------------------------


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
                data = NUMPY.as_strided(flat[storage_offset:], shape=size,
                                        strides=[st * flat.itemsize for st in stride])
    self._data = data
    self._version_counter[0] += 1
    return self


def is_set_to(self: Tensor, tensor: Tensor) -> bool:
    """True if both tensors use the same memory with the same offset, sizes and strides."""
    a, b = self._data, tensor._data
    return (self.untyped_storage() is tensor.untyped_storage() and a.shape == b.shape
            and self.data_ptr() == tensor.data_ptr() and self.stride() == tensor.stride())


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


class Alias(Op, name="AliasBackward0"):
    on_arrays = True

    @staticmethod
    def forward(ctx, a):
        return a[...]

    @staticmethod
    def backward(ctx, g):
        return g


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


def _volatile(self: Tensor) -> bool:
    warnings.warn("volatile was removed (Variable.volatile is always False)", UserWarning,
                  stacklevel=2)
    return False


def _no_device(message: str, error: type) -> Any:
    def move(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        raise error(message)

    move.__doc__ = "Moves the tensor to a device a CPU-only build does not have: raises."
    return move


__all__ = ["empty_strided", "frombuffer", "from_dlpack", "resize_as_", "unsafe_split",
           "unsafe_split_with_sizes", "unsafe_chunk", "scalar_tensor", "range"]
TENSOR_METHODS: dict[str, Any] = {
    "new": new, "new_empty_strided": new_empty_strided, "resize_": resize_,
    "resize_as_": resize_as_, "resize": resize, "resize_as": resize_as, "apply_": apply_,
    "map_": map_, "map2_": map2_, "__dlpack__": _dlpack, "__dlpack_device__": _dlpack_device,
    "set_": set_, "is_set_to": is_set_to, "as_subclass": as_subclass,
    "unsafe_split": unsafe_split, "unsafe_split_with_sizes": unsafe_split_with_sizes,
    "unsafe_chunk": unsafe_chunk, "name": property(lambda self: None),
    "volatile": property(_volatile),
    "xpu": _no_device("Torch not compiled with XPU enabled", AssertionError),
    "ipu": _no_device("PyTorch is not linked with support for ipu devices", RuntimeError),
    "mtia": _no_device("Torch not compiled with MTIA enabled. Ensure you have `import "
                       "mtia.host_runtime.torch_mtia.dynamic_library` in your python src file "
                       "and include `//mtia/host_runtime/torch_mtia:torch_mtia` as your target "
                       "dependency!", AssertionError),
}
