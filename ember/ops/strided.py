"""Layouts: ``ember.layout`` and torch's layout objects (``strided``, the sparse ones,
``jagged``), and ``Tensor.dim_order`` (the dims in memory order). ember's tensors are all strided; a sparse tensor's accessors (``values``,
``indices``, ``crow_indices`` ...) give torch's layout errors on them, and ``to_dense`` is the
tensor itself."""
from __future__ import annotations

from typing import Any

from ..tensor import Tensor


class layout:
    """A tensor's memory layout: ``ember.strided`` (dense) is the one ember's tensors have; the
    sparse ones exist so that programs naming them can compare against them."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"ember.{self.name}"

    def __reduce__(self) -> str:
        return self.name  # (pickled by module-level name: the same object comes back)


strided = layout("strided")
sparse_coo = layout("sparse_coo")
sparse_csr = layout("sparse_csr")
sparse_csc = layout("sparse_csc")
sparse_bsr = layout("sparse_bsr")
sparse_bsc = layout("sparse_bsc")
jagged = layout("jagged")
_mkldnn = layout("_mkldnn")


def _layout(self: Tensor) -> layout:
    return strided


def to_dense(self: Tensor, dtype: Any = None, *, masked_grad: bool | None = None) -> Tensor:
    """This (strided) tensor itself, or a copy cast to ``dtype``."""
    return self if dtype is None or dtype == self.dtype else self.to(dtype)


def _not_sparse(name: str, layout_name: str) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{name} expected {layout_name} tensor layout but got Strided")

    method.__name__ = name
    method.__doc__ = f"A {layout_name} tensor's accessor: ember's tensors are strided (raises)."
    return method


# -- dim_order: the dims in memory order -------------------------------------------------------


def _dense_in(sizes: tuple, strides: tuple, inner_first: tuple) -> bool:
    """Whether the strides are those of a dense tensor laid out in ``inner_first`` order
    (size-1 dims may have any stride), as torch's contiguity tests read them."""
    expected = 1
    for d in inner_first:
        if sizes[d] != 1:
            if strides[d] != expected:
                return False
            expected *= sizes[d]
    return True


def _is_contiguous_as(self: Tensor, fmt: Any) -> bool:
    sizes, strides, nd = self._data.shape, self.stride(), self.ndim
    plain = fmt.name in ("contiguous_format", "preserve_format")  # (torch reads both alike)
    if 0 in sizes:  # (an empty tensor is dense in any layout of its rank)
        return plain or nd == (4 if fmt.name == "channels_last" else 5)
    if plain:
        return _dense_in(sizes, strides, tuple(range(nd - 1, -1, -1)))
    if fmt.name == "channels_last":
        return nd == 4 and _dense_in(sizes, strides, (1, 3, 2, 0))
    return nd == 5 and _dense_in(sizes, strides, (1, 4, 3, 2, 0))


def _at_least(a: int, b: int) -> bool:
    # torch's comparison of sizes and strides when ordering dims (a multiple counts as larger)
    if b == 0:
        return True
    if a == 0:
        return False
    return a >= b or a % b == 0


def _outer(sizes: tuple, strides: tuple, a: int, b: int) -> int:
    """1: dim ``a`` lies outside dim ``b`` in memory; -1: inside; 0: undecided."""
    sa, sb = strides[a], strides[b]
    if sa == 0 or sb == 0:
        return 0
    if sa == sb:
        return 0 if _at_least(sizes[b], sizes[a]) else 1
    if _at_least(sb, sa):
        return -1
    return 1 if _at_least(sa, sb) else 0


def dim_order(self: Tensor, *, ambiguity_check: Any = False) -> tuple[int, ...]:
    """The dims in memory order, outermost first: ``(0, 1, 2, 3)`` for a contiguous tensor,
    ``(0, 2, 3, 1)`` for a channels-last one.

    Args:
        ambiguity_check: True raises if the order is not unique (a size-1 dim, neighbouring
            dims with equal strides); a list of memory formats raises unless the tensor is
            contiguous in exactly one of them (when its order is not unique).
    """
    from .convert import memory_format

    if not isinstance(ambiguity_check, bool) and not (
            isinstance(ambiguity_check, list)
            and all(isinstance(f, memory_format) for f in ambiguity_check)):
        raise TypeError("The ambiguity_check argument must be a bool or a list of memory formats.")
    sizes, strides, nd = self._data.shape, self.stride(), self.ndim
    formats = ambiguity_check if isinstance(ambiguity_check, list) else []
    several = 1 in sizes or any(a == b for a, b in zip(strides, strides[1:]))
    if (ambiguity_check is not False and several
            and sum(_is_contiguous_as(self, f) for f in formats) != 1):
        raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact one "
                           "of the given memory formats.")
    if nd < 2:
        return tuple(range(nd))
    from .convert import channels_last, contiguous_format

    contiguous = _is_contiguous_as(self, contiguous_format)
    last = _is_contiguous_as(self, channels_last)
    if contiguous and not last:
        return tuple(range(nd))
    if last and not contiguous:
        return (0, *range(2, nd), 1)
    perm = list(range(nd))[::-1]  # innermost first, sorted by insertion
    for i in range(1, nd):
        j = i
        for k in range(i - 1, -1, -1):
            c = _outer(sizes, strides, perm[k], perm[j])
            if c > 0:
                perm[k], perm[j] = perm[j], perm[k]
                j = k
            elif c < 0:
                break
    if ambiguity_check and any(
            _outer(sizes, strides, perm[i], perm[i + 1]) != -1 for i in range(nd - 1)):
        raise RuntimeError("The tensor does not have unique dim order.")
    return tuple(perm[::-1])


__all__ = ["layout", "strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr",
           "sparse_bsc", "jagged"]
TENSOR_METHODS: dict[str, Any] = {
    "layout": property(_layout), "to_dense": to_dense, "dense_dim": lambda self: self.ndim,
    "sparse_dim": lambda self: 0, "dim_order": dim_order,
}

# a sparse tensor's accessors: on a strided tensor, torch's layout errors
for _name, _kind in (("crow_indices", "sparse row compressed"),
                     ("col_indices", "sparse row compressed"),
                     ("ccol_indices", "sparse column compressed"),
                     ("row_indices", "sparse column compressed"), ("values", "sparse"),
                     ("indices", "sparse coordinate"), ("is_coalesced", "sparse coordinate"),
                     ("coalesce", "sparse coordinate")):
    TENSOR_METHODS[_name] = _not_sparse(_name, _kind)
