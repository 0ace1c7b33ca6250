"""ember's operations. Each module holds one category of ops: its Op classes (the graph nodes),
its public functions, and ``TENSOR_METHODS``, the names under which they are bound onto Tensor."""
from __future__ import annotations

from ..tensor import Tensor
from . import convert, elementwise, indexing, inplace, linalg, reduce, shape, unary
from . import activation, conv, loss, norm, pool

_MODULES = (elementwise, unary, reduce, shape, indexing, linalg, convert, inplace, conv, pool,
            norm, activation, loss)

for _mod in _MODULES:
    for _name, _fn in _mod.TENSOR_METHODS.items():
        setattr(Tensor, _name, _fn)
