"""``Parameter`` (a Tensor a Module registers as learnable state) and ``Buffer``."""
from __future__ import annotations

from typing import Any

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
        result = type(self)(Tensor._make(self._data.copy()), self._requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol: int) -> Any:
        return (_rebuild_parameter, (type(self), self._data, self._requires_grad))


def _rebuild_parameter(cls: type, data: Any, requires_grad: bool) -> Parameter:
    return cls(Tensor._make(data), requires_grad)


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


__all__ = ["Parameter", "Buffer"]
