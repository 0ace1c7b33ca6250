"""torch's LAPACK-style names beside ``torch.linalg``'s: the legacy LU trio (``torch.lu``,
``lu_unpack``, ``lu_solve``), Householder QR in LAPACK's compact form (``geqrf``, ``orgqr`` /
``linalg.householder_product``, ``ormqr``), and the functions torch 2.x removed but still
defines, to raise (``lstsq``, ``matrix_rank``, ``eig``, ``solve``, ``symeig``).

A product of Householder reflectors ``H_i = I - tau_i v_i v_i^T`` is applied one reflector at a
time (LAPACK's ``orm2r``), each step one array operation over the whole batch; its gradient runs
the same steps backwards: for ``X' = X - tau v (v^T X)`` and ``G' = dL/dX'``,
``dL/dX = G' - tau v (v^T G')``, ``dL/dtau = -v^T G' X^T v`` and
``dL/dv = -tau (G' X^T v + X G'^T v)``."""
from __future__ import annotations

import builtins
import warnings
from typing import Any

from ._deprecated import user_stacklevel
from ._op import Op
from .. import dtypes as _dt
from ..backend import get_array_module
from ..tensor import Tensor
from . import _reduce_util as ru
from .inplace import type_name
from .matrix import _floating, _matrix, _permutation, lu_factor_ex, lu_solve as _lu_solve

_lu_with_info_t = ru.return_type("_lu_with_info", ("LU", "pivots", "info"))
_lu_unpack_t = ru.return_type("lu_unpack", ("P", "L", "U"))
_geqrf_t = ru.return_type("geqrf", ("a", "tau"))
_warned: set = set()


def _warn_once(key: str, message: str) -> None:
    """torch's TORCH_WARN_ONCE: the first call in the process warns."""
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, UserWarning, stacklevel=user_stacklevel())


# -- torch.lu, lu_unpack, lu_solve ---------------------------------------------------------------


def lu(A: Tensor, pivot: bool = True, get_infos: bool = False, out: Any = None) -> tuple:
    """The packed LU factorization of ``A`` and its 1-based pivots (deprecated in torch in
    favour of ``linalg.lu_factor``); ``get_infos`` adds LAPACK's ``info``."""
    _warn_once("lu", (
        "torch.lu is deprecated in favor of torch.linalg.lu_factor / torch.linalg.lu_factor_ex "
        "and will be removed in a future PyTorch release.\nLU, pivots = torch.lu(A, "
        "compute_pivots)\nshould be replaced with\nLU, pivots = torch.linalg.lu_factor(A, "
        "compute_pivots)\nand\nLU, pivots, info = torch.lu(A, compute_pivots, get_infos=True)\n"
        "should be replaced with\nLU, pivots, info = torch.linalg.lu_factor_ex(A, "
        "compute_pivots)").replace("torch.", "ember."))
    if not (A.is_floating_point() or A.is_complex()):
        raise NotImplementedError(f"\"lu_cpu\" not implemented for '{type_name(A)}'")
    res = lu_factor_ex(A, pivot=pivot)
    if get_infos:
        return _lu_with_info_t(*res)
    return res[0], res[1]


class LuUnpack(Op, name="LuUnpackBackward0"):
    @staticmethod
    def forward(ctx, lu, *, piv, unpack_data, unpack_pivots):
        xp = ctx.xp
        m, n = lu.shape[-2:]
        k = builtins.min(m, n)
        ctx.shape, ctx.unpack_data = lu.shape, unpack_data
        p = (_permutation(xp, piv, m, lu.dtype) if unpack_pivots
             else xp.zeros((0,), lu.dtype))
        if unpack_data:
            low = xp.tril(lu[..., :, :k], -1) + xp.eye(m, k, dtype=lu.dtype)
            up = xp.triu(lu[..., :k, :])
        else:
            low = up = xp.zeros((0,), lu.dtype)
        ctx.mark_non_differentiable(p)
        return p, low, up

    @staticmethod
    def backward(ctx, gp, gl, gu):
        from ..creation import zeros
        from .arrange import cat

        *batch, m, n = ctx.shape
        k = builtins.min(m, n)
        if not ctx.unpack_data:
            return zeros(tuple(ctx.shape), dtype=gl.dtype, device=gl.device)
        # L's strict lower part and U's upper part are the packed matrix's entries
        lower, upper = gl.tril(-1), gu.triu()
        if n > k:
            lower = cat([lower, zeros(tuple(batch) + (m, n - k), dtype=gl.dtype,
                                      device=gl.device)], -1)
        if m > k:
            upper = cat([upper, zeros(tuple(batch) + (m - k, n), dtype=gu.dtype,
                                      device=gu.device)], -2)
        return lower + upper


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True,
              unpack_pivots: bool = True) -> tuple:
    """``(P, L, U)`` from ``lu_factor``'s packed ``LU_data`` and ``LU_pivots`` (an empty
    tensor for what is not unpacked)."""
    if LU_pivots.dtype is not _dt.int32:
        raise RuntimeError(
            "torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 "
            "dtype.\nNote: this function is intended to be used with the output produced by "
            "torch.linalg.lu_factor".replace("torch.", "ember."))
    _matrix("lu_unpack", LU_data)
    m, n = LU_data.shape[-2:]
    piv = LU_pivots._data
    if unpack_pivots and (piv.shape[-1] != builtins.min(m, n) or piv.size and (
            piv.min() < 1 or piv.max() > m)):
        raise RuntimeError("pivots passed to lu_unpack must be between 1 and LU.size(-2) "
                           "inclusive.Did you properly pass the result of lu_factor?")
    return _lu_unpack_t(*LuUnpack.apply(LU_data, piv=piv, unpack_data=unpack_data,
                                        unpack_pivots=unpack_pivots))


def lu_solve(b: Tensor, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:
    """The solution of ``A X = b`` from ``A``'s packed LU factorization (deprecated in torch in
    favour of ``linalg.lu_solve``, whose arguments are reversed)."""
    _warn_once("lu_solve", (
        "torch.lu_solve is deprecated in favor of torch.linalg.lu_solveand will be removed in a "
        "future PyTorch release.\nNote that torch.linalg.lu_solve has its arguments reversed.\n"
        "X = torch.lu_solve(B, LU, pivots)\nshould be replaced with\nX = torch.linalg.lu_solve("
        "LU, pivots, B)").replace("torch.", "ember."))
    return _lu_solve(LU_data, LU_pivots, b)


def _lu_method(self: Tensor, pivot: bool = True, get_infos: bool = False) -> tuple:
    return lu(self, pivot, get_infos)


# -- geqrf, householder_product / orgqr, ormqr ---------------------------------------------------


class Geqrf(Op, name="GeqrfBackward0"):
    @staticmethod
    def forward(ctx, a):
        xp = ctx.xp
        m, n = a.shape[-2:]
        flat = a.reshape((-1, m, n))
        hs, taus = [], []
        for mat in flat:  # numpy's raw QR is LAPACK's geqrf, one matrix per call
            h, tau = xp.linalg.qr(mat, mode="raw")
            hs.append(h.T)
            taus.append(tau)
        k = builtins.min(m, n)
        h = xp.stack(hs) if hs else xp.zeros((0, m, n), a.dtype)
        tau = xp.stack(taus) if taus else xp.zeros((0, k), a.dtype)
        return (h.reshape(a.shape).astype(a.dtype, copy=False),
                tau.reshape(a.shape[:-2] + (k,)).astype(a.dtype, copy=False))

    @staticmethod
    def backward(ctx, ga, gtau):
        raise NotImplementedError("the derivative for 'geqrf' is not implemented.")


def geqrf(input: Tensor) -> tuple:
    """QR in LAPACK's compact form: ``a`` holds R on and above its diagonal and the Householder
    vectors below it, ``tau`` their scales."""
    if input.ndim < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions."
                           .replace("torch.", "ember."))
    if not input.is_floating_point():
        raise NotImplementedError(f"\"geqrf_cpu\" not implemented for '{type_name(input)}'")
    return _geqrf_t(*Geqrf.apply(input))


def _vectors(xp: Any, a: Any, k: int) -> Any:
    """The Householder vectors of a compact ``a`` (..., m, n) as columns (..., m, k): unit
    diagonal, zeros above it."""
    m = a.shape[-2]
    return xp.tril(a[..., :, :k], -1) + xp.eye(m, k, dtype=a.dtype)


def _reflect(xp: Any, v: Any, tau: Any, c: Any, order: Any) -> list:
    """Applies ``H_i = I - tau_i v_i v_i^T`` to ``c`` from the left, ``i`` in ``order``; returns
    every intermediate matrix (the last is the result)."""
    states = [c]
    for i in order:  # the reflectors' own sequence
        vi = v[..., :, i:i + 1]
        c = c - tau[..., i, None, None] * vi * (xp.swapaxes(vi, -1, -2) @ c)
        states.append(c)
    return states


def _reflect_backward(v: Tensor, tau: Tensor, states: list, order: Any, g: Tensor) -> tuple:
    """The gradients of ``_reflect``'s result in ``v``'s columns, ``tau`` and ``c`` (the module
    docstring's formulas), in recorded ops."""
    from ..creation import zeros
    from .arrange import stack

    k = v.shape[-1]
    if k == 0:  # no reflectors: the identity
        return (zeros(tuple(v.shape), dtype=g.dtype, device=g.device),
                zeros(tuple(v.shape[:-2]) + (0,), dtype=g.dtype, device=g.device), g)
    gv_cols: list = [None] * k
    gtau: list = [None] * k
    for step in range(len(order) - 1, -1, -1):
        i = order[step]
        x = states[step]
        vi = v[..., :, i:i + 1]
        ti = tau[..., i, None, None]
        xtv = x.mT @ vi  # (..., n, 1)
        gtv = g.mT @ vi
        gtau[i] = -(vi.mT @ g @ xtv)[..., 0, 0]
        gv_cols[i] = (-ti * (g @ xtv + x @ gtv))[..., :, 0]
        g = g - ti * vi * (vi.mT @ g)
    for i in range(k):
        if gv_cols[i] is None:
            gv_cols[i] = zeros(tuple(v.shape[:-1]), dtype=g.dtype, device=g.device)
            gtau[i] = zeros(tuple(v.shape[:-2]), dtype=g.dtype, device=g.device)
    return stack(gv_cols, -1), stack(gtau, -1), g


def _order(k: int, reverse: bool) -> list:
    return list(range(k - 1, -1, -1)) if reverse else list(range(k))


class _Reflectors(Op):
    """``op(Q) C`` (or ``C op(Q)``) for the Q of a compact QR ``(a, tau)``."""

    @staticmethod
    def forward(ctx, a, tau, c, *, left, transpose):
        xp = ctx.xp
        k = tau.shape[-1]
        ctx.left, ctx.transpose = left, transpose
        ctx.save_for_backward(a, tau, c)
        v = _vectors(xp, a, k)
        # C Q = (Q^T C^T)^T: the right side is the left side, transposed, with the order flipped
        reverse = (not transpose) if left else transpose
        cc = c if left else xp.swapaxes(c, -1, -2)
        out = _reflect(xp, v, tau, cc, _order(k, reverse))[-1]
        out = out if left else xp.swapaxes(out, -1, -2)
        return xp.ascontiguousarray(out).astype(c.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        a, tau, c = ctx.saved_tensors
        k = tau.shape[-1]
        v = a[..., :, :k].tril(-1) + _eye(a, k)
        left, transpose = ctx.left, ctx.transpose
        order = _order(k, (not transpose) if left else transpose)
        cc = c if left else c.mT
        states = _tensor_states(v, tau, cc, order)
        gv, gtau, gc = _reflect_backward(v, tau, states, order, g if left else g.mT)
        ga = _pad_columns(gv.tril(-1), a.shape[-1])
        return ga, gtau, (gc if left else gc.mT)


def _eye(a: Tensor, k: int) -> Tensor:
    xp = get_array_module(a._data)
    return Tensor._make(xp.eye(a.shape[-2], k, dtype=a._data.dtype))


def _tensor_states(v: Tensor, tau: Tensor, c: Tensor, order: list) -> list:
    states = [c]
    for i in order:
        vi = v[..., :, i:i + 1]
        c = c - tau[..., i, None, None] * vi * (vi.mT @ c)
        states.append(c)
    return states


def _pad_columns(x: Tensor, n: int) -> Tensor:
    from ..creation import zeros
    from .arrange import cat

    k = x.shape[-1]
    if n == k:
        return x
    return cat([x, zeros(tuple(x.shape[:-1]) + (n - k,), dtype=x.dtype, device=x.device)], -1)


class Ormqr(_Reflectors, name="OrmqrBackward0"):
    pass


class HouseholderProduct(_Reflectors, name="LinalgHouseholderProductBackward0"):
    """The first n columns of ``H_1 ... H_k``: the reflectors applied to ``eye(m, n)``."""

    @staticmethod
    def forward(ctx, a, tau, *, left=True, transpose=False):
        xp = ctx.xp
        m, n = a.shape[-2:]
        eye = xp.broadcast_to(xp.eye(m, n, dtype=a.dtype), a.shape)
        return _Reflectors.forward(ctx, a, tau, eye, left=True, transpose=False)

    @staticmethod
    def backward(ctx, g):
        ga, gtau, _ = _Reflectors.backward(ctx, g)
        return ga, gtau


def _check_reflectors(name: str, a: Tensor, tau: Tensor) -> None:
    name = name.replace("torch.", "ember.")
    if a.ndim < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    if a.shape[-2] < a.shape[-1]:
        raise RuntimeError(f"{name}: input.shape[-2] must be greater than or equal to "
                           "input.shape[-1]")
    if a.shape[-1] < tau.shape[-1]:
        raise RuntimeError(f"{name}: input.shape[-1] must be greater than or equal to "
                           "tau.shape[-1]")
    if a.ndim - tau.ndim != 1:
        raise RuntimeError(f"{name}: Expected tau to have one dimension less than input, but "
                           f"got tau.ndim equal to {tau.ndim} and input.ndim is equal to "
                           f"{a.ndim}")
    if tau.dtype is not a.dtype:
        raise RuntimeError(f"{name}: tau dtype {type_name(tau)} does not match input dtype "
                           f"{type_name(a)}".replace("torch.", "ember."))
    _floating(name, a)


def householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """The first ``n`` columns of the product of the Householder reflectors stored in ``A``
    (..., m, n) and ``tau`` (..., k): ``geqrf``'s Q."""
    _check_reflectors("torch.linalg.householder_product", A, tau)
    return HouseholderProduct.apply(A, tau)


def orgqr(input: Tensor, tau: Tensor) -> Tensor:
    """Alias of :func:`linalg.householder_product`."""
    _check_reflectors("torch.linalg.householder_product", input, tau)
    return HouseholderProduct.apply(input, tau)


def ormqr(input: Tensor, tau: Tensor, other: Tensor, left: bool = True,
          transpose: bool = False) -> Tensor:
    """``op(Q) @ other`` (``other @ op(Q)`` unless ``left``; ``op(Q) = Q^T`` with
    ``transpose``) for the full m x m Q of a compact QR, without forming Q."""
    if input.ndim < 2:
        raise RuntimeError("torch.ormqr: input must have at least 2 dimensions."
                           .replace("torch.", "ember."))
    if other.ndim < 2:
        raise RuntimeError("torch.ormqr: other must have at least 2 dimensions."
                           .replace("torch.", "ember."))
    side = other.shape[-2] if left else other.shape[-1]
    if side != input.shape[-2]:
        dim = -2 if left else -1
        raise RuntimeError(f"torch.ormqr: other.shape[{dim}] must be equal to input.shape[-2]"
                           .replace("torch.", "ember."))
    if tau.shape[-1] != builtins.min(side, input.shape[-1]):
        raise RuntimeError(f"torch.ormqr: tau.shape[-1] must be equal to min(other.shape"
                           f"[{-2 if left else -1}], input.shape[-1])".replace("torch.", "ember."))
    if tau.dtype is not input.dtype or other.dtype is not input.dtype:
        bad, what = (tau, "tau") if tau.dtype is not input.dtype else (other, "other")
        # (torch's message runs "dtype" into the first name)
        raise RuntimeError(f"torch.ormqr: Expected input and {what} to have the same dtype, but "
                           f"input has dtype{type_name(input)} and {what} has dtype "
                           f"{type_name(bad)}".replace("torch.", "ember."))
    _floating("torch.ormqr", input)
    return Ormqr.apply(input, tau, other, left=left, transpose=transpose)


# -- the functions torch 2.x removed (still defined there, to raise) -----------------------------


def lstsq(input: Tensor, A: Tensor, *, out: Any = None) -> tuple:
    """Removed from torch; raises with torch's message (see ``linalg.lstsq``)."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed. `torch.lstsq` is "
        "deprecated in favor of `torch.linalg.lstsq`.\n`torch.linalg.lstsq` has reversed "
        "arguments and does not return the QR decomposition in the returned tuple (although it "
        "returns other information about the problem).\n\nTo get the QR decomposition consider "
        "using `torch.linalg.qr`.\n\nThe returned solution in `torch.lstsq` stored the "
        "residuals of the solution in the last m - n columns of the returned value whenever "
        "m > n. In torch.linalg.lstsq, the residuals are in the field 'residuals' of the "
        "returned named tuple.\n\nThe unpacking of the solution, as in\nX, _ = torch.lstsq(B, "
        "A).solution[:A.size(1)]\nshould be replaced with:\nX = torch.linalg.lstsq(A, B)."
        "solution".replace("torch.", "ember."))


def matrix_rank(input: Tensor, tol: Any = None, symmetric: bool = False, *,
                out: Any = None) -> Tensor:
    """Removed from torch; raises with torch's message (see ``linalg.matrix_rank``)."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed.\nPlease use the "
        "`torch.linalg.matrix_rank` function instead. The parameter 'symmetric' was renamed in "
        "`torch.linalg.matrix_rank()` to 'hermitian'.".replace("torch.", "ember."))


def eig(self: Tensor, eigenvectors: bool = False, *, e: Any = None, v: Any = None) -> tuple:
    """Removed from torch; raises with torch's message (see ``linalg.eig``)."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed. `torch.linalg.eig` "
        "returns complex tensors of dtype `cfloat` or `cdouble` rather than real tensors "
        "mimicking complex tensors.\n\nL, _ = torch.eig(A) should be replaced with:\nL_complex "
        "= torch.linalg.eigvals(A)\n\nand\n\nL, V = torch.eig(A, eigenvectors=True) should be "
        "replaced with:\nL_complex, V_complex = torch.linalg.eig(A)".replace("torch.", "ember."))


def solve(input: Tensor, A: Tensor, *, out: Any = None) -> tuple:
    """Removed from torch; raises with torch's message (see ``linalg.solve``)."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed. `torch.solve` is "
        "deprecated in favor of `torch.linalg.solve`. `torch.linalg.solve` has its arguments "
        "reversed and does not return the LU factorization.\n\nTo get the LU factorization see "
        "`torch.lu`, which can be used with `torch.lu_solve` or `torch.lu_unpack`.\nX = "
        "torch.solve(B, A).solution should be replaced with:\nX = torch.linalg.solve(A, B)"
        .replace("torch.", "ember."))


def symeig(input: Tensor, eigenvectors: bool = False, upper: bool = True, *,
           out: Any = None) -> tuple:
    """Removed from torch; raises with torch's message (see ``linalg.eigh``)."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed. The default "
        "behavior has changed from using the upper triangular portion of the matrix by default "
        "to using the lower triangular portion.\n\nL, _ = torch.symeig(A, upper=upper) should "
        "be replaced with:\nL = torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\n\nand\n\n"
        "L, V = torch.symeig(A, eigenvectors=True) should be replaced with:\nL, V = "
        "torch.linalg.eigh(A, UPLO='U' if upper else 'L')".replace("torch.", "ember."))


def _lstsq_method(self: Tensor, other: Tensor) -> tuple:
    return lstsq(self, other)


def _solve_method(self: Tensor, other: Tensor) -> tuple:
    return solve(self, other)


def _symeig_method(self: Tensor, eigenvectors: bool = False) -> tuple:
    return symeig(self, eigenvectors)


__all__ = ["lu", "lu_unpack", "lu_solve", "geqrf", "orgqr", "ormqr", "lstsq", "matrix_rank",
           "eig", "solve", "symeig"]
TENSOR_METHODS: dict = {
    "lu": _lu_method, "lu_solve": lu_solve, "geqrf": geqrf, "orgqr": orgqr, "ormqr": ormqr,
    "lstsq": _lstsq_method, "eig": eig, "solve": _solve_method, "symeig": _symeig_method,
}
