"""Tensors over memory: the legacy constructor ``Tensor.new``, ``resize_`` and friends, the
element-wise Python callbacks (``apply_``, ``map_``, ``map2_``) and the legacy attributes and
device moves. ``memory.py`` has the factories over memory, ``aliasing.py`` the in-place view
changes and the tensors that share another's memory."""
from __future__ import annotations

import builtins
import warnings
from typing import Any, Callable, Sequence

from .. import dtypes as _dt
from ..backend import backend_of, get_array_module
from ..graph import grad_mode
from ..tensor import Size, Tensor, _shape_arg
from ..devices import device as _device
from ._op import Op
from .memory import empty_strided
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
    if len(args) > 1 and isinstance(args[0], _dt.INTEGER_TYPES):  # sizes, one of them not an int
        pos = next(i for i, a in enumerate(args) if not isinstance(a, _dt.INTEGER_TYPES)) + 1
        bad = type(args[pos - 1]).__name__
        raise TypeError(f"new(): argument 'size' failed to unpack the object at pos {pos} with "
                        f'error "type must be tuple of ints,but got {bad}"')
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
    if a.flags.c_contiguous and off >= 0 and off + n <= root.size \
            and backend_of(root).writable(root):
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


def _volatile(self: Tensor) -> bool:
    warnings.warn("volatile was removed (Variable.volatile is always False)", UserWarning,
                  stacklevel=2)
    return False


def _no_device(message: str, error: type) -> Any:
    def move(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        raise error(message)

    move.__doc__ = "Moves the tensor to a device a CPU-only build does not have: raises."
    return move


__all__ = ["resize_as_"]
TENSOR_METHODS: dict[str, Any] = {
    "new": new, "new_empty_strided": new_empty_strided, "resize_": resize_,
    "resize_as_": resize_as_, "resize": resize, "resize_as": resize_as, "apply_": apply_,
    "map_": map_, "map2_": map2_, "name": property(lambda self: None),
    "volatile": property(_volatile),
    "xpu": _no_device("Torch not compiled with XPU enabled", AssertionError),
    "ipu": _no_device("PyTorch is not linked with support for ipu devices", RuntimeError),
    "mtia": _no_device("Torch not compiled with MTIA enabled. Ensure you have `import "
                       "mtia.host_runtime.torch_mtia.dynamic_library` in your python src file "
                       "and include `//mtia/host_runtime/torch_mtia:torch_mtia` as your target "
                       "dependency!", AssertionError),
}
