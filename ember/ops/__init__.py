"""ember's operations. Each module holds one category of ops: its Op classes (the graph nodes),
its public functions (``__all__``: the names ``ember`` exports) and ``TENSOR_METHODS``, the names
under which they are bound onto Tensor. Every module is listed here, once."""
from __future__ import annotations

from ..tensor import Tensor
from . import activation, arrange, compare, conv, convert, cumulative, einsum, elementwise
from . import indexing, inplace, linalg, loss, norm, pool, reduce, scatter, shape, stats, unary
from . import pointwise, sorting, counting, layout, scatter_reduce, geometry
from . import attention, recurrent
from . import special, matrix, complex, fft
from . import activation_ext, conv_nd, pool_1d, pool_nd
from . import weight_norm
from . import arith, numeric, sample_stats, scatter_views, products, lapack, matrix_legacy
from . import spectral
from . import meta, storage, memory, aliasing, torch_inplace, windows, native, compare_inplace
from . import unary_inplace, strided
from . import vocabulary  # noqa: F401  (the Tensor carrier of backward formulas)

MODULES = (elementwise, compare, unary, reduce, stats, cumulative, shape, arrange, indexing,
           scatter, linalg, einsum, convert, inplace, conv, pool, norm, activation, loss,
           pointwise, sorting, counting, layout, scatter_reduce, geometry, attention, recurrent, special, matrix, complex, weight_norm,
           activation_ext, conv_nd, pool_1d, pool_nd, arith, numeric, sample_stats, scatter_views, products, lapack,
           matrix_legacy, spectral,
           meta, storage, memory, aliasing, torch_inplace, windows, native, compare_inplace,
           unary_inplace, strided)

for _mod in MODULES:
    for _name, _fn in _mod.TENSOR_METHODS.items():
        setattr(Tensor, _name, _fn)
