"""``Parameter`` (a Tensor a Module registers as learnable state) and ``Buffer``."""
from __future__ import annotations

import functools
from typing import Any

from .. import devices as _devices
from ..backend import NUMPY, backend_of, on_device
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module parameter: assigning one to a Module attribute registers it.

    It shares the data (and version counter) of the tensor it wraps, is always a leaf, and
    requires grad by default. Results of ops on Parameters are plain Tensors.

    Args:
        data: the tensor to wrap (an empty tensor if ``None``).
        requires_grad: whether the parameter requires gradient. Default: ``True``.
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        if data is None:
            from ..creation import empty

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter data must be a Tensor, but got {type(data).__name__}")
        if requires_grad and not data.is_floating_point():
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        p = object.__new__(cls)
        Tensor._init(p, data._data, bool(requires_grad))
        p._version_counter = data._version_counter  # a detached alias, as torch's _make_subclass is
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass  # everything happened in __new__; Tensor.__init__ would reinterpret ``data``

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        # torch copies only the data and the flag here: not .grad, not extra attributes
        if id(self) in memo:
            return memo[id(self)]
        with on_device(self._data):  # (CuPy copies onto the current GPU)
            result = type(self)(Tensor._make(self._data.copy()), self._requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol: int) -> Any:
        data = self._data
        if type(data) is not NUMPY.array_type:  # back on its own GPU (CuPy's: the current one)
            return (_rebuild_parameter, (type(self), data, self._requires_grad,
                                         backend_of(data).device_index(data)))
        return (_rebuild_parameter, (type(self), data, self._requires_grad))


def _rebuild_parameter(cls: type, data: Any, requires_grad: bool,
                       index: int | None = None) -> Parameter:
    return cls(Tensor._make(_devices.onto(data, index)), requires_grad)


class _BufferMeta(type):
    # a Buffer is a plain Tensor carrying a marker, so isinstance checks the marker
    def __instancecheck__(cls, instance: Any) -> bool:
        if cls is Buffer:
            return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)
        return super().__instancecheck__(instance)


class Buffer(metaclass=_BufferMeta):
    """Marks a tensor as a buffer: assigning it to a Module attribute registers it as one.

    Args:
        data: the buffer tensor.
        persistent: whether the buffer is part of the module's ``state_dict``. Default: ``True``.
    """

    def __new__(  # type: ignore[misc]
            cls, data: Tensor | None = None, *, persistent: bool = True) -> Tensor:
        if data is None:
            from ..creation import empty

            data = empty(0)
        t = data.detach()
        t._is_buffer = True
        t.persistent = persistent
        return t


class UninitializedTensorMixin:
    """What an uninitialized parameter or buffer of a lazy module can and cannot do: its shape
    is unknown until :meth:`materialize` gives it one (the module's first ``forward``), and then
    it becomes a plain ``cls_to_become`` (the same object, so an optimizer holding it is fine)."""

    __slots__ = ()
    cls_to_become: type
    # the methods torch lets through on an uninitialized tensor (its __torch_function__ list);
    # properties (dtype, device, requires_grad, grad, ...) and private names pass too
    _ALLOWED = frozenset({"size", "copy_", "is_complex", "is_floating_point", "half", "float",
                          "double", "char", "short", "int", "long", "cuda", "cpu", "to",
                          "get_device", "materialize", "share_memory_"})

    # the allowed conversions keep a buffer uninitialized (as torch's subclass handling does):
    # Module.to/.double() on a lazy module gives its buffers the new dtype, still lazy
    _CONVERSIONS = frozenset({"half", "float", "double", "char", "short", "int", "long", "cpu",
                              "to"})

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name in UninitializedTensorMixin._CONVERSIONS:
            return functools.partial(UninitializedTensorMixin._convert, self, value)
        if name[0] == "_" or name in UninitializedTensorMixin._ALLOWED or not callable(value) \
                or not hasattr(Tensor, name):
            return value
        return UninitializedTensorMixin._refuse(self, name)

    def _convert(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        out = method(*args, **kwargs)
        # (a parameter's conversion is a plain tensor, as torch's: Module._apply keeps the
        # parameter object and takes only the data)
        if out is self or isinstance(out, UninitializedTensorMixin) or isinstance(self, Parameter):
            return out
        cls = type(self)
        new = cls.__new__(cls, self.requires_grad, dtype=out.dtype)  # type: ignore[call-arg]
        if hasattr(self, "persistent"):
            new.persistent = self.persistent  # type: ignore[attr-defined]
        return new

    def _refuse(self, name: str) -> Any:
        cls = type(self).__name__
        raise ValueError(
            f"Attempted to use an uninitialized parameter in <method '{name}' of 'ember.Tensor' "
            "objects>. This error happens when you are using a `LazyModule` or explicitly "
            f"manipulating `ember.nn.parameter.{cls}` objects. When using LazyModules Call "
            "`forward` with a dummy batch to initialize the parameters before calling torch "
            "functions")

    def materialize(self, shape: Any, device: Any = None, dtype: Any = None) -> None:
        """Gives the tensor ``shape`` (uninitialised memory) and turns it into ``cls_to_become``.

        Args:
            shape: the shape of the materialized tensor.
            device, dtype: default to this tensor's.
        """
        from ..creation import empty

        self.data = empty(shape, device=device if device is not None
                          else self.device,  # type: ignore[attr-defined]
                          dtype=dtype if dtype is not None
                          else self.dtype)  # type: ignore[attr-defined]
        self.__class__ = self.cls_to_become

    @property
    def shape(self) -> Any:
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually "
            "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
            "initialized one. Call `forward` to initialize the parameters before accessing their "
            "attributes.")

    def share_memory_(self) -> Any:
        raise RuntimeError(
            "Can't share memory on an uninitialized parameter or buffer. Call `forward` to "
            "initialize the parameters before calling `module.share_memory()`.")

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}>"

    # Python's operators skip __getattribute__: the common ones refuse here, as torch's do
    def __add__(self, other: Any) -> Any:
        return self._refuse("add")

    __radd__ = __iadd__ = __add__

    def __sub__(self, other: Any) -> Any:
        return self._refuse("sub")

    __rsub__ = __isub__ = __sub__

    def __mul__(self, other: Any) -> Any:
        return self._refuse("mul")

    __rmul__ = __imul__ = __mul__

    def __truediv__(self, other: Any) -> Any:
        return self._refuse("div")

    __rtruediv__ = __itruediv__ = __truediv__

    def __matmul__(self, other: Any) -> Any:
        return self._refuse("matmul")

    __rmatmul__ = __matmul__

    def __pow__(self, other: Any) -> Any:
        return self._refuse("pow")

    def __neg__(self) -> Any:
        return self._refuse("neg")

    def __getitem__(self, index: Any) -> Any:
        return self._refuse("__getitem__")

    def __reduce_ex__(self, protocol: int) -> Any:
        return (self.__class__, (self.requires_grad,))  # type: ignore[attr-defined]

    def __deepcopy__(self, memo: dict) -> Any:
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.requires_grad,  # type: ignore[attr-defined,call-arg]
                                        dtype=self.dtype)  # type: ignore[attr-defined]
        return memo[id(self)]


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A parameter whose shape a lazy module infers on its first ``forward``; it then becomes a
    regular :class:`Parameter`. It holds no data until then (``.shape`` raises).

    Args:
        requires_grad: whether the parameter requires gradient. Default: ``True``.
    """

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device: Any = None,
                dtype: Any = None) -> UninitializedParameter:
        from ..creation import empty

        return Parameter.__new__(cls, empty(0, device=device, dtype=dtype), requires_grad)

    def __init__(self, requires_grad: bool = True, device: Any = None, dtype: Any = None) -> None:
        pass


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer whose shape a lazy module infers on its first ``forward``; it then becomes a
    regular Tensor.

    Args:
        requires_grad: whether the buffer requires gradient. Default: ``False``.
        persistent: whether the buffer is part of the module's ``state_dict``. Default: ``True``.
    """

    cls_to_become = Tensor

    def __new__(cls, requires_grad: bool = False, device: Any = None, dtype: Any = None,
                persistent: bool = True) -> UninitializedBuffer:
        from ..creation import empty

        t = object.__new__(cls)
        Tensor._init(t, empty(0, device=device, dtype=dtype)._data, bool(requires_grad))
        t.persistent = persistent
        return t

    def __init__(self, requires_grad: bool = False, device: Any = None, dtype: Any = None,
                 persistent: bool = True) -> None:
        pass


def is_lazy(param: Any) -> bool:
    """Whether ``param`` is an uninitialized parameter or buffer (of a lazy module)."""
    return isinstance(param, UninitializedTensorMixin)


__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"]
