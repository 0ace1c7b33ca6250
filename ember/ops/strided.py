"""Layouts: ``ember.layout`` and torch's layout objects (``strided``, the sparse ones,
``jagged``). ember's tensors are all strided; a sparse tensor's accessors (``values``,
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


__all__ = ["layout", "strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr",
           "sparse_bsc", "jagged"]
TENSOR_METHODS: dict[str, Any] = {
    "layout": property(_layout), "to_dense": to_dense, "dense_dim": lambda self: self.ndim,
    "sparse_dim": lambda self: 0,
}

# a sparse tensor's accessors: on a strided tensor, torch's layout errors
for _name, _kind in (("crow_indices", "sparse row compressed"),
                     ("col_indices", "sparse row compressed"),
                     ("ccol_indices", "sparse column compressed"),
                     ("row_indices", "sparse column compressed"), ("values", "sparse"),
                     ("indices", "sparse coordinate"), ("is_coalesced", "sparse coordinate"),
                     ("coalesce", "sparse coordinate")):
    TENSOR_METHODS[_name] = _not_sparse(_name, _kind)
