"""Size limits of new arrays and views, checked in torch's order with torch's errors.

NumPy refuses an array over ``2**63 - 1`` bytes with a ``ValueError`` ("array is too big") and
reports a failed allocation with its own ``MemoryError``; torch raises ``RuntimeError`` for both,
with messages that say which limit was hit. Factories and the ops that allocate call
:func:`check_new` (or :func:`check_view` for views) before making an array, and wrap the
allocation in :class:`allocation`, which turns NumPy's failure into torch's allocator error.

The arithmetic mirrors c10's: sizes are multiplied as unsigned 64-bit integers with a sticky
overflow flag (``safe_multiplies_u64``), so ``(2**62, 2**62, 0)`` overflows while
``(0, 2**62, 2**62)`` does not.
"""
from __future__ import annotations

from typing import Any, Sequence

INT64_MAX = (1 << 63) - 1
_U64 = 1 << 64
# c10::SymInt keeps the integers below -2**62 for its own use
_SYMINT_MIN = -(1 << 62)


class OutOfMemoryError(RuntimeError, MemoryError):
    """torch's CPU allocator failure: a ``RuntimeError`` as torch raises it, and also a
    ``MemoryError``, so code written against NumPy's failure still catches it."""


def wrap_int64(v: int) -> int:
    """``v`` as a C++ ``int64_t`` arithmetic result: wrapped modulo ``2**64``."""
    v &= _U64 - 1
    return v - _U64 if v > INT64_MAX else v


def _mul_u64(sizes: Sequence[int]) -> tuple[int, bool]:
    """c10's ``safe_multiplies_u64``: the product modulo ``2**64`` and whether any step of it
    overflowed (a negative size counts as its unsigned bit pattern)."""
    prod, overflowed = 1, False
    for s in sizes:
        prod *= s % _U64
        if prod >= _U64:
            overflowed = True
            prod %= _U64
    return prod, overflowed


def check_nonnegative(sizes: Sequence[int]) -> None:
    """torch's ``check_size_nonnegative``."""
    for s in sizes:
        if s < _SYMINT_MIN:
            raise RuntimeError(
                f"IntArrayRef contains an int that cannot be represented as a SymInt: {s}")
    for s in sizes:
        if s < 0:
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {s}: {list(sizes)}")


def check_numel(sizes: Sequence[int]) -> int:
    """The element count of ``sizes``, or torch's error when it exceeds ``int64``."""
    prod, overflowed = _mul_u64(sizes)
    if overflowed or prod > INT64_MAX:
        raise RuntimeError("numel: integer multiplication overflow")
    return prod


def _storage_contiguous(sizes: Sequence[int], itemsize: int) -> int:
    prod, overflowed = _mul_u64(sizes)
    nbytes = prod * itemsize
    if overflowed or nbytes > INT64_MAX:
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(sizes)}")
    return nbytes


def _storage_strided(sizes: Sequence[int], strides: Sequence[int], itemsize: int) -> int:
    # one past the offset of the last element, as c10's computeStorageNbytes
    size, overflowed = 1, False
    for n, st in zip(sizes, strides):
        if n == 0:
            return 0
        span = st * (n - 1)
        if not 0 <= span < _U64:
            overflowed = True
        size += span % _U64
        if size >= _U64:
            overflowed = True
            size %= _U64
    nbytes = size * itemsize
    if overflowed or nbytes > INT64_MAX:
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(sizes)} and "
                           f"strides={list(strides)}")
    return nbytes


def _check_strides(sizes: Sequence[int]) -> None:
    # the contiguous strides of a new tensor, computed in int64 (only a tensor with a zero size
    # gets here with huge other sizes: its storage is empty)
    stride = 1
    for n in reversed(sizes[1:]):
        stride *= max(n, 1)
        if stride > INT64_MAX:
            raise RuntimeError("Stride calculation overflowed")


def _check_numpy(sizes: Sequence[int], itemsize: int) -> None:
    # NumPy multiplies the non-zero sizes and the item size, for views too; torch has no such
    # limit on an empty tensor or a view, so this is ember's own error
    nbytes, negative = itemsize, False
    for s in sizes:
        if s:
            nbytes *= abs(s)
            negative |= s < 0
    if nbytes > INT64_MAX or negative:
        raise RuntimeError(
            f"ember cannot represent a tensor of size {list(sizes)} with {itemsize}-byte "
            "elements: NumPy limits the product of an array's non-zero sizes and its item size "
            "to 2**63 - 1 bytes, and has no negative sizes")


def dense_strides(sizes: Sequence[int], strides: Sequence[int]) -> list[int]:
    """torch's ``infer_dense_strides``: contiguous strides in the memory order of ``strides``
    (what ``empty_like`` gives a tensor that is not dense, such as an expanded one)."""
    ndim = len(sizes)
    perm = list(range(ndim - 1, -1, -1))  # innermost first

    def should_swap(d0: int, d1: int) -> int:
        s0, s1 = strides[d0], strides[d1]
        if s0 == 0 or s1 == 0:
            return 0
        if s0 != s1:
            return -1 if s0 < s1 else 1
        return 1 if sizes[d0] > sizes[d1] else 0

    for i in range(1, ndim):  # torch's insertion sort, which stops at an ambiguous pair
        d1 = i
        for d0 in range(i - 1, -1, -1):
            c = should_swap(perm[d0], perm[d1])
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    out = [0] * ndim
    cur = 1
    for d in perm:
        out[d] = cur
        if sizes[d] > 1:
            cur *= sizes[d]
    return out


def check_new(sizes: Sequence[int], itemsize: int, *, resize: bool = False,
              strides: Sequence[int] | None = None) -> int:
    """Checks a new array of ``sizes`` as torch checks the tensor it would allocate, and returns
    its byte count.

    Args:
        sizes: the new tensor's sizes.
        itemsize: bytes per element.
        resize: torch makes the tensor by resizing an empty one (``eye``, ``arange``, an
            ``out=`` argument): the element count is checked before the storage size.
        strides: the strides of an ``empty_strided`` tensor (the ``*_like`` factories), which
            torch names in its overflow message.
    """
    check_nonnegative(sizes)
    if strides is not None:
        nbytes = _storage_strided(sizes, strides, itemsize)
    else:
        if resize:
            check_numel(sizes)
            _check_strides(sizes)
        nbytes = _storage_contiguous(sizes, itemsize)
        if not resize:
            check_numel(sizes)
            _check_strides(sizes)
    _check_numpy(sizes, itemsize)
    return nbytes


def check_view(sizes: Sequence[int], itemsize: int) -> None:
    """Checks the sizes of a view (``expand``, ``view``): torch's element-count limit, then the
    one NumPy puts on every array, views included."""
    check_numel(sizes)
    _check_numpy(sizes, itemsize)


def out_of_memory(nbytes: int) -> OutOfMemoryError:
    """torch's error for an allocation of ``nbytes`` that the system refused."""
    return OutOfMemoryError(
        "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
        f"memory: you tried to allocate {nbytes} bytes. Error code 12 (Cannot allocate memory)")


def _too_big(exc: BaseException) -> bool:
    # NumPy's refusal of an intermediate array larger than any address space: for the caller
    # it is the same failure as a refused allocation
    return isinstance(exc, ValueError) and str(exc).startswith(
        ("array is too big", "Maximum allowed dimension exceeded"))


class allocation:  # noqa: N801 (used as a context manager, like a function)
    """``with allocation(nbytes): ...`` turns NumPy's failure to allocate into torch's
    :class:`OutOfMemoryError` naming ``nbytes`` (what torch would have asked for)."""

    __slots__ = ("nbytes",)

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes

    def __enter__(self) -> allocation:
        return self

    def __exit__(self, tp: Any, exc: Any, tb: Any) -> bool:
        if exc is not None and not isinstance(exc, OutOfMemoryError) and (
                isinstance(exc, MemoryError) or _too_big(exc)):
            raise (_device_error(exc) or out_of_memory(self.nbytes)) from None
        return False


# a device backend's out-of-memory exception type -> what makes torch's error of it
DEVICE_OOM: dict = {}


def _device_error(exc: BaseException) -> Exception | None:
    for cls, convert in DEVICE_OOM.items():
        if isinstance(exc, cls):
            return convert(exc)
    return None


def memory_error(exc: BaseException, nbytes: int | None = None) -> Exception | None:
    """torch's allocator error for a NumPy allocation failure ``exc`` (a ``MemoryError``, or
    NumPy's "array is too big"; a device's failure: torch's ``OutOfMemoryError``), else None.
    ``nbytes`` defaults to what NumPy asked for; for ``Op.apply`` and other generic callers."""
    if isinstance(exc, OutOfMemoryError):
        return exc
    device = _device_error(exc)
    if device is not None:
        return device
    if not (isinstance(exc, MemoryError) or _too_big(exc)):
        return None
    if nbytes is None:
        nbytes = getattr(exc, "_total_size", None)
        if nbytes is None:
            shape, dtype = getattr(exc, "shape", None), getattr(exc, "dtype", None)
            nbytes = 0 if shape is None or dtype is None else _mul_u64(shape)[0] * dtype.itemsize
    return out_of_memory(nbytes)
