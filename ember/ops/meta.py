"""What a tensor is rather than what it computes: predicates (``is_nonzero``, ``is_signed``, ...),
metadata (``storage_offset``, ``get_device``), broadcasting of shapes, ``fill``,
``narrow_copy`` and ``nonzero_static``. ``storage.py`` has the legacy constructors and resizing,
``memory.py`` the factories over existing memory, ``aliasing.py`` the in-place view changes and
``strided.py`` the layouts."""
from __future__ import annotations

import builtins
from typing import Any

from .. import dtypes as _dt
from ..backend import NUMPY, backend_of, get_array_module, is_array
from ..graph import grad_mode
from ..tensor import Size, Tensor, _wrap_dim
from ._op import Op
from .inplace import Fill, FillTensor, type_name
from .shape import expand


def _tensor_arg(fname: str, value: Any, name: str = "input", pos: int = 1) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{fname}(): argument '{name}' (position {pos}) must be Tensor, not "
                        f"{type(value).__name__}")
    return value


# -- predicates -------------------------------------------------------------------------------


def numel(input: Tensor) -> int:
    """Returns the total number of elements in ``input``."""
    return _tensor_arg("numel", input)._data.size


def is_floating_point(input: Tensor) -> bool:
    """True if ``input``'s dtype is a floating point one (float64, float32, float16, bfloat16)."""
    return _tensor_arg("is_floating_point", input).is_floating_point()


def is_nonzero(input: Tensor) -> bool:
    """True if the one element of ``input`` is not zero (after type conversion to bool)."""
    return bool(_tensor_arg("is_nonzero", input))


def is_same_size(input: Tensor, other: Tensor) -> bool:
    """True if ``input`` and ``other`` have the same shape."""
    _tensor_arg("is_same_size", input)
    _tensor_arg("is_same_size", other, "other", 2)
    return input._data.shape == other._data.shape


def is_signed(input: Tensor) -> bool:
    """True if ``input``'s dtype is a signed one (everything but bool and uint8)."""
    return _tensor_arg("is_signed", input).dtype.is_signed


def is_conj(input: Tensor) -> bool:
    """True if ``input`` is a lazily conjugated view (ember conjugates eagerly: always False)."""
    return _tensor_arg("is_conj", input).is_conj()


def is_neg(input: Tensor) -> bool:
    """True if ``input`` is a lazily negated view (ember negates eagerly: always False)."""
    _tensor_arg("is_neg", input)
    return False


def is_inference(input: Tensor) -> bool:
    """True if ``input`` is an inference tensor. ember's ``inference_mode`` makes plain tensors
    (it keeps no separate inference state), so this is always False."""
    _tensor_arg("is_inference", input)
    return False


def is_storage(obj: Any, /) -> bool:
    """True if ``obj`` is a storage object: in ember, the backend array that
    ``Tensor.untyped_storage()`` returns (one that is no view of another)."""
    return is_array(obj) and getattr(obj, "base", None) is None


def isreal(input: Tensor) -> Tensor:
    """A bool tensor: True where ``input`` is real (every element of a non-complex tensor)."""
    if input.is_complex():
        return input.imag == 0
    xp = get_array_module(input._data)
    return Tensor._make(xp.ones(input._data.shape, dtype=bool))


def get_device(input: Tensor) -> int:
    """The index of the device ``input`` is on: -1 for the CPU."""
    index = input.device.index
    return -1 if index is None else index


def is_distributed(input: Tensor) -> bool:
    """Whether ``input`` is a distributed tensor (never, in ember)."""
    return False


def typename(obj: Any) -> str:
    """The type of ``obj`` as a string: ``'ember.FloatTensor'`` for a tensor, the dotted class
    path for anything else (the bare name for builtins)."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(type(obj), "__module__", "") or ""
    qualname = type(obj).__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


def resolve_conj(input: Tensor) -> Tensor:
    """``input`` with a lazy conjugation materialized: ember conjugates eagerly, so ``input``."""
    return _tensor_arg("resolve_conj", input).resolve_conj()


def resolve_neg(input: Tensor) -> Tensor:
    """``input`` with a lazy negation materialized: ember negates eagerly, so ``input``."""
    return _tensor_arg("resolve_neg", input).resolve_neg()


def adjoint(input: Tensor) -> Tensor:
    """The conjugate transpose of the last two dims (a view): ``input.adjoint()``."""
    return _tensor_arg("adjoint", input).adjoint()


# -- broadcasting -----------------------------------------------------------------------------


def broadcast_shapes(*shapes: Any) -> Size:
    """The shape that tensors of ``shapes`` broadcast to, without making any tensor.

    Example::

        >>> ember.broadcast_shapes((2,), (3, 1), (1, 1, 1))
        ember.Size([1, 3, 2])
    """
    sizes = []
    for s in shapes:
        if s is None:  # torch skips them
            continue
        if isinstance(s, builtins.int):
            s = (s,)
        elif not isinstance(s, (tuple, list)):
            raise RuntimeError("Input shapes should be of type ints, a tuple of ints, or a list "
                               f"of ints, got {s}")
        if any(n < 0 for n in s):  # (before the type check: a str here fails as torch's does)
            raise ValueError("Attempting to broadcast a dimension with negative length!")
        if not all(isinstance(n, _dt.INTEGER_TYPES) for n in s):
            raise RuntimeError("Input shapes should be of type ints, a tuple of ints, or a list "
                               f"of ints, got {s}")
        sizes.append(tuple(builtins.int(n) for n in s))
    ndim = max((len(s) for s in sizes), default=0)
    out = [1] * ndim
    for k, s in enumerate(sizes):
        for i in range(-1, -len(s) - 1, -1):
            if s[i] == 1 or s[i] == out[i]:
                continue
            if out[i] != 1:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {s[i]} at {i}! Mismatching "
                    f"argument at index {k} had {_paren(s)}; but expected shape should be "
                    f"broadcastable to {list(out)}")
            out[i] = s[i]
    return Size(out)


def _paren(s: tuple) -> str:
    return f"({s[0]},)" if len(s) == 1 else str(tuple(s))


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """Broadcasts ``tensors`` to one shape; each result is a view of its input (``expand``)."""
    from ._util import broadcast_shape

    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    shape = broadcast_shape(*(t._data.shape for t in tensors))
    return tuple(t if t._data.shape == shape else expand(t, shape) for t in tensors)


# -- fill, detach, copies -------------------------------------------------------------------------


class FillOut(Fill, name="FillBackward0"):
    """``torch.fill(input, number)``: nothing flows back to ``input``."""


class FillTensorOut(FillTensor, name="FillBackward1"):
    """``torch.fill(input, value)`` with a 0-d tensor ``value``: it gets the gradient's sum."""


def fill(input: Tensor, value: Any) -> Tensor:
    """A tensor of ``input``'s shape and dtype, filled with ``value`` (a number or 0-d tensor)."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError("fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value.ndim} dimensions.")
        return FillTensorOut.apply(input, value)
    if not isinstance(value, (*_dt.SCALAR_TYPES, complex)):
        bad = type(value).__name__
        raise TypeError(
            f"fill() received an invalid combination of arguments - got (Tensor, {bad}), but "
            "expected one of:\n * (Tensor input, Tensor value)\n      didn't match because some "
            f"of the arguments have invalid types: (Tensor, !{bad}!)\n * (Tensor input, Number "
            "value)\n      didn't match because some of the arguments have invalid types: "
            f"(Tensor, !{bad}!)\n")
    return FillOut.apply(input, value=value)


def detach(input: Tensor) -> Tensor:
    """A new tensor sharing ``input``'s data, detached from the graph (``Tensor.detach``)."""
    return _tensor_arg("detach", input).detach()


class NarrowCopy(Op, name="NarrowCopyBackward0"):
    @staticmethod
    def forward(ctx, a, *, axis, start, length):
        ctx.axis, ctx.start, ctx.length, ctx.size = axis, start, length, a.shape[axis]
        key = (slice(None),) * axis + (slice(start, start + length),)
        return a[key].copy()

    @staticmethod
    def backward(ctx, g):
        # the gradient lands in the narrowed window, zeros around it
        from .arrange import cat

        pad = list(g.shape)
        before, after = list(pad), list(pad)
        before[ctx.axis], after[ctx.axis] = ctx.start, ctx.size - ctx.start - ctx.length
        return cat([g.new_zeros(before), g, g.new_zeros(after)], ctx.axis)


def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """A copy (not a view) of ``input.narrow(dim, start, length)``."""
    _tensor_arg("narrow_copy", input)
    with grad_mode.no_grad():  # (narrow's view, unrecorded, for torch's checks and messages)
        input.narrow(dim, start, length)
    d = _wrap_dim(dim, input.ndim)
    s = builtins.int(start) + (input._data.shape[d] if builtins.int(start) < 0 else 0)
    return NarrowCopy.apply(input, axis=d, start=s, length=length)


def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1) -> Tensor:
    """``nonzero(input)`` padded with ``fill_value`` (or cut) to exactly ``size`` rows: an
    (size, input.ndim) int64 tensor whose shape does not depend on the values."""
    if not isinstance(size, builtins.int) or size < 0:
        raise RuntimeError("nonzero_static: 'size' must be an non-negative integer")
    a = input._data
    xp = get_array_module(a)
    idx = xp.argwhere(a).astype(_dt.int64.np)[:size]  # (a 0-d input: (0 or 1, 0))
    out = xp.full((size, a.ndim), fill_value, dtype=_dt.int64.np)
    out[: idx.shape[0]] = idx
    return Tensor._make(out)


# -- metadata ---------------------------------------------------------------------------------


def storage_offset(self: Tensor) -> int:
    """The offset of this tensor's first element in its storage, in elements."""
    root = self.untyped_storage()
    return (self.data_ptr() - backend_of(root).data_ptr(root)) // self._data.itemsize


def _is_cpu(self: Tensor) -> bool:
    return self.device.type == "cpu"


def _false(self: Tensor, *args: Any, **kwargs: Any) -> bool:
    return False


def _output_nr(self: Tensor) -> int:
    return self._output_nr


def pin_memory(self: Tensor, device: Any = None) -> Tensor:
    """A copy of this CPU tensor in page-locked host memory (CuPy's pinned pool), from which
    copies to the GPU run faster; without CUDA, torch's error."""
    from .. import devices as _devices

    if type(self._data) is not NUMPY.array_type:
        raise RuntimeError(f"cannot pin '{type_name(self)}' only dense CPU tensors can be pinned")
    try:
        backend = _devices.cuda_backend()
    except (AssertionError, RuntimeError):
        raise RuntimeError("Cannot access accelerator device when none is available.") from None
    a = self._data
    pinned = backend.cupyx.empty_pinned(a.shape, a.dtype)
    pinned[...] = a
    out = Tensor._make(pinned)
    out._pinned = True
    return out


def is_pinned(self: Tensor, device: Any = None) -> bool:
    """Whether this tensor lives in pinned host memory (made by ``pin_memory``)."""
    return self.__dict__.get("_pinned", False)


def share_memory_(self: Tensor) -> Tensor:
    """Moves this tensor's data into memory shared with the processes forked after it (an
    anonymous shared mapping), as torch's shared memory is: a child's in-place updates are seen
    by the parent (Hogwild training). A tensor pickled to a spawned process is sent by value, as
    ember sends every tensor. A no-op when already shared."""
    if is_shared(self):
        return self
    import mmap

    a = self._data
    xp = get_array_module(a)
    buffer = mmap.mmap(-1, builtins.max(a.nbytes, 1))  # MAP_SHARED | MAP_ANONYMOUS
    shared = xp.frombuffer(buffer, dtype=a.dtype, count=a.size).reshape(a.shape)
    shared[...] = a
    self._data = shared
    return self


def is_shared(self: Tensor) -> bool:
    """Whether this tensor's data lives in shared memory (``share_memory_``)."""
    import mmap

    owner = getattr(self.untyped_storage(), "base", None)
    if isinstance(owner, memoryview):  # (NumPy holds the mapping through a memoryview)
        owner = owner.obj
    return isinstance(owner, mmap.mmap)


def module_load(self: Tensor, other: Tensor, assign: bool = False) -> Tensor:
    """How ``load_state_dict`` turns ``other`` into this parameter's new value: ``other`` itself
    (detached) with ``assign``, else this tensor with ``other`` copied in."""
    if not isinstance(other, Tensor):
        raise TypeError(f"Expected other to be a Tensor but got {type(other)}")
    if assign:
        return other.detach()
    return self.copy_(other).detach()


__all__ = [
    "numel", "is_floating_point", "is_nonzero", "is_same_size", "is_signed", "is_conj", "is_neg",
    "is_inference", "is_storage", "isreal", "get_device", "broadcast_shapes", "broadcast_tensors",
    "fill", "detach", "narrow_copy", "nonzero_static", "is_distributed", "typename",
    "resolve_conj", "resolve_neg", "adjoint",
]
TENSOR_METHODS: dict[str, Any] = {
    "is_signed": is_signed, "is_nonzero": is_nonzero, "is_same_size": is_same_size,
    "is_inference": is_inference, "is_neg": is_neg, "isreal": isreal, "get_device": get_device,
    "is_cpu": property(_is_cpu), "output_nr": property(_output_nr),
    "pin_memory": pin_memory,
    "share_memory_": share_memory_, "storage_offset": storage_offset,
    "const_data_ptr": lambda self: self.data_ptr(), "module_load": module_load,
    "narrow_copy": narrow_copy, "nonzero_static": nonzero_static,
}
# the devices and layouts torch knows and a CPU-only build never has
for _name in ("is_meta", "is_mps", "is_xpu", "is_quantized", "is_nested", "is_mkldnn",
              "is_vulkan", "is_xla", "is_ipu", "is_maia", "is_mtia", "is_sparse_csr"):
    TENSOR_METHODS[_name] = property(_false)
TENSOR_METHODS["is_pinned"] = is_pinned
TENSOR_METHODS["is_shared"] = is_shared
TENSOR_METHODS["is_distributed"] = _false


def _alias(name: str) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return getattr(self, name)(*args, **kwargs)

    method.__doc__ = f"Alias of :meth:`Tensor.{name}`."
    return method


# torch's long names of the in-place comparisons
for _long, _short in (("greater_", "gt_"), ("greater_equal_", "ge_"), ("less_", "lt_"),
                      ("less_equal_", "le_"), ("not_equal_", "ne_")):
    TENSOR_METHODS[_long] = _alias(_short)
