"""``ember.linalg``: ``torch.linalg`` (the ops live in ``ops/matrix.py``, ``ops/linalg.py`` and
``ops/stats.py``; this module is the namespace)."""
from __future__ import annotations

from .ops.linalg import matmul  # noqa: F401
from .ops.lapack import householder_product  # noqa: F401
from .ops.ldl import ldl_factor, ldl_factor_ex, ldl_solve  # noqa: F401
from .ops.matrix import (  # noqa: F401
    LinAlgError,
    cholesky_ex,
    cond,
    cross,
    det,
    diagonal,
    eig,
    eigh,
    eigvals,
    eigvalsh,
    inv,
    inv_ex,
    linalg_cholesky as cholesky,
    linalg_qr as qr,
    linalg_slogdet as slogdet,
    linalg_svd as svd,
    lstsq,
    lu,
    lu_factor,
    lu_factor_ex,
    lu_solve,
    matrix_exp,
    matrix_norm,
    matrix_power,
    matrix_rank,
    multi_dot,
    norm,
    pinv,
    solve,
    solve_ex,
    solve_triangular,
    svdvals,
    tensorinv,
    tensorsolve,
    vander,
    vecdot,
)
from .ops.stats import vector_norm  # noqa: F401

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eig",
           "eigh", "eigvals", "eigvalsh", "inv", "inv_ex", "lstsq", "lu", "lu_factor",
           "lu_factor_ex", "lu_solve", "matmul", "matrix_exp", "matrix_norm", "matrix_power",
           "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve", "solve_ex",
           "solve_triangular", "svd", "svdvals", "tensorinv", "tensorsolve", "vander", "vecdot",
           "vector_norm", "householder_product", "ldl_factor", "ldl_factor_ex", "ldl_solve"]

from ._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__, "torch.linalg")  # torch's: MissingAPIError

from ._device_guard import guard_namespace as _guard_namespace  # noqa: E402

_guard_namespace(__name__)
