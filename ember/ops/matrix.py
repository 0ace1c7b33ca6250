"""Matrix functions and decompositions (``torch.linalg``): inv, det, slogdet, solve, cholesky,
qr, svd, svdvals, eigh, eigvalsh, pinv, lstsq, matrix_rank, cross; matrix_power, multi_dot and the
matrix norms are composed of ember ops, as torch composes them.

Every op works on batches of matrices (the last two dims) through the backend's ``linalg``
(LAPACK). Each backward is torch's formula (derivatives.yaml / FunctionsManual.cpp) written in
ember ops on Tensors, so the decompositions differentiate twice. Real dtypes only.
"""
from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

from ..backend import get_array_module
from ..graph import grad_mode
from ..tensor import Tensor
from ._op import Op
from ._reduce_util import return_type
from .inplace import type_name


class LinAlgError(RuntimeError):
    """A linear-algebra routine failed on a singular or non-definite input
    (``torch.linalg.LinAlgError``)."""


_SlogdetResult = return_type("linalg_slogdet", ("sign", "logabsdet"))
_QRResult = return_type("linalg_qr", ("Q", "R"))
_SVDResult = return_type("linalg_svd", ("U", "S", "Vh"))
_EighResult = return_type("linalg_eigh", ("eigenvalues", "eigenvectors"))
_LstsqResult = return_type("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))
_InvExResult = return_type("linalg_inv_ex", ("inverse", "info"))
_CholeskyExResult = return_type("linalg_cholesky_ex", ("L", "info"))
_SolveExResult = return_type("linalg_solve_ex", ("result", "info"))


# -- checks with torch's messages -----------------------------------------------------------------


def _square(name: str, A: Tensor, what: str = "A") -> None:
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_{name.split('.')[-1]}(): argument '{what}' (position 1) must be "
                        f"Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor {what} must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{name}: {what} must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")


def _matrix(name: str, A: Tensor) -> None:
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")


def _floating(name: str, A: Tensor, complex_ok: bool = False) -> None:
    if A.dtype.is_complex:
        if complex_ok:
            return
        raise NotImplementedError(f"{name}: complex inputs are not supported by ember yet")
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{type_name(A)}")
    if A.dtype.name == "float16":  # LAPACK has no half precision, nor has torch's CPU
        raise RuntimeError(f"{name}: Low precision dtypes not supported. Got Half")


def _batch_prefix(index: int | None) -> str:
    return "" if index is None else f"(Batch element {index}): "


def _first_bad(flags: Any) -> tuple:
    """``(batch element or None, flat position)`` of the first True in ``flags`` (..., n)."""
    xp = get_array_module(flags)
    any_bad = flags.reshape(-1, flags.shape[-1]).any(-1)
    b = int(xp.argmax(any_bad))
    return (None if flags.ndim == 1 else b), int(xp.argmax(flags.reshape(-1, flags.shape[-1])[b]))


def _lu_zero_pivot(a: Any) -> tuple:
    """For singular matrices: the batch element and 1-based diagonal index where LAPACK's LU
    (partial pivoting, as getrf) meets its first exact zero pivot. Only on the error path."""
    xp = get_array_module(a)
    u = a.reshape((-1,) + a.shape[-2:]).astype("float64", copy=True)
    n = u.shape[-1]
    rows = xp.arange(u.shape[0])
    zero = xp.zeros((u.shape[0], n), dtype=bool)
    for k in range(n):  # the elimination's columns: LU's own sequence, vectorised over the batch
        p = k + xp.argmax(xp.abs(u[:, k:, k]), axis=1)
        u[rows, k], u[rows, p] = u[rows, p].copy(), u[rows, k].copy()
        piv = u[:, k, k]
        zero[:, k] = piv == 0
        safe = xp.where(piv == 0, 1.0, piv)
        f = u[:, k + 1:, k] / safe[:, None]
        u[:, k + 1:, k:] -= f[:, :, None] * u[:, k:k + 1, k:]
    b, i = _first_bad(zero.reshape(a.shape[:-2] + (n,)) if a.ndim > 2 else zero[0])
    return b, i + 1


def _singular(name: str, a: Any) -> LinAlgError:
    b, i = _lu_zero_pivot(a)
    return LinAlgError(f"{name}: {_batch_prefix(b)}The diagonal element {i} is zero, the "
                       "inversion could not be completed because the input matrix is singular.")


# -- inverse, determinants, solve -----------------------------------------------------------------


class Inv(Op, name="LinalgInvExBackward0"):
    @staticmethod
    def forward(ctx, a):
        xp = ctx.xp
        try:
            y = xp.linalg.inv(a)
        except xp.linalg.LinAlgError:
            raise _singular("linalg.inv", a) from None
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        yh = y.mH  # (the conjugate transpose: torch's convention for complex inputs)
        return -(yh @ g @ yh)  # d(A^-1) = -A^-1 dA A^-1


class Det(Op, name="LinalgDetBackward0"):
    @staticmethod
    def forward(ctx, a):
        d = ctx.xp.asarray(ctx.xp.linalg.det(a))
        ctx.save_for_backward(a, d)
        return d

    @staticmethod
    def backward(ctx, g):
        a, d = ctx.saved_tensors
        # d det(A) = det(A) tr(A^-1 dA): the gradient is det(A) A^-T
        return (g * d).unsqueeze(-1).unsqueeze(-1) * inv(a).mT


class Slogdet(Op, name="LinalgSlogdetBackward0"):
    @staticmethod
    def forward(ctx, a):
        xp = ctx.xp
        sign, logabs = xp.linalg.slogdet(a)
        ctx.save_for_backward(a)
        return xp.asarray(sign, dtype=a.dtype), xp.asarray(logabs, dtype=a.dtype)

    @staticmethod
    def backward(ctx, g_sign, g_logabs):
        (a,) = ctx.saved_tensors
        if g_logabs is None:  # the sign is piecewise constant
            return None
        return g_logabs.unsqueeze(-1).unsqueeze(-1) * inv(a).mT


class Solve(Op, name="LinalgSolveExBackward0"):
    """``X = A^-1 B``; ``vector``: B is a (batch of) vector(s)."""

    @staticmethod
    def forward(ctx, a, b, *, vector, left):
        xp = ctx.xp
        ctx.vector, ctx.left = vector, left
        try:
            if not left:  # X A = B  <=>  A^T X^T = B^T
                x = xp.swapaxes(xp.linalg.solve(xp.swapaxes(a, -1, -2), xp.swapaxes(b, -1, -2)),
                                -1, -2)
                x = xp.ascontiguousarray(x)
            else:
                x = xp.linalg.solve(a, b[..., None] if vector else b)
        except xp.linalg.LinAlgError:
            raise LinAlgError("ember.linalg.solve: The solver failed because the input matrix "
                              "is singular.") from None
        x = x[..., 0] if vector else x
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        # (conjugate transposes: torch's convention for complex inputs; plain ones for real)
        if not ctx.left:  # X = B A^-1: gB = G A^-H, gA = -X^H gB
            gb = solve(a, g.mH).mH
            return (-(x.mH @ gb) if need_a else None), (gb if need_b else None)
        gb = solve(a.mH, g)  # A^-H G
        ga = None
        if need_a:
            ga = -(gb.unsqueeze(-1) * x.conj().unsqueeze(-2)) if ctx.vector else -(gb @ x.mH)
        return ga, (gb if need_b else None)


# -- decompositions -------------------------------------------------------------------------------


def _phi(x: Tensor) -> Tensor:
    """The lower triangle of ``x`` with its diagonal halved (Cholesky's backward)."""
    return x.tril() - 0.5 * x.diagonal(0, -2, -1).diag_embed()


class Cholesky(Op, name="LinalgCholeskyExBackward0"):
    @staticmethod
    def forward(ctx, a, *, upper, name):
        xp = ctx.xp
        try:
            low = xp.linalg.cholesky(a)
        except xp.linalg.LinAlgError:
            raise _not_definite(name, a) from None
        ctx.upper = upper
        out = xp.swapaxes(low, -1, -2).copy() if upper else low
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        low, gl = (out.mT, g.mT) if ctx.upper else (out, g)
        # A = L L^T: gA = sym(L^-T phi(L^T gL) L^-1), with phi the lower triangle, diagonal halved
        p = _phi(low.mT @ gl)
        s = solve(low.mT, solve(low.mT, p).mT).mT  # L^-T P L^-1
        return 0.5 * (s + s.mT)


class CholeskyLegacy(Cholesky, name="CholeskyBackward0"):
    pass


def _not_definite(name: str, a: Any) -> LinAlgError:
    """torch's message naming the order of the first leading minor that is not positive-definite:
    the first k whose leading k x k block fails (found by factoring each block; error path only)."""
    xp = get_array_module(a)
    n = a.shape[-1]
    bad = xp.zeros(a.shape[:-2] + (n,), dtype=bool)
    for k in range(1, n + 1):  # leading minors, each factored over the whole batch
        block = a[..., :k, :k]
        flat = block.reshape((-1, k, k))
        ok = xp.array([True] * flat.shape[0])
        # eigvalsh of the leading block: positive-definite iff its smallest eigenvalue > 0, and
        # cholesky accepts a block exactly when LAPACK's potrf does; check each via cholesky
        try:
            xp.linalg.cholesky(flat)
        except xp.linalg.LinAlgError:
            ok = xp.linalg.eigvalsh(flat)[:, 0] > 0
            if ok.all():  # eigvalsh says yes where potrf said no: blame the element potrf saw
                ok[:] = False
        bad[..., k - 1] = ~ok.reshape(a.shape[:-2])
    b, i = _first_bad(bad)
    return LinAlgError(f"{name}: {_batch_prefix(b)}The factorization could not be completed "
                       f"because the input is not positive-definite (the leading minor of order "
                       f"{i + 1} is not positive-definite).")


class QR(Op, name="LinalgQrBackward0"):
    @staticmethod
    def forward(ctx, a, *, mode):
        xp = ctx.xp
        ctx.mode = mode
        q, r = (xp.ascontiguousarray(x) for x in
                xp.linalg.qr(a, mode="complete" if mode == "complete" else "reduced"))
        if mode == "r":
            q = xp.zeros((0,), dtype=a.dtype)
        ctx.save_for_backward(q, r)
        return q, r

    @staticmethod
    def backward(ctx, gq, gr):
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you are "
                               "going to differentiate through linalg.qr.")
        q, r = ctx.saved_tensors
        m, n = q.shape[-2], r.shape[-1]
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' "
                               "and nrows > ncols.")
        gq = gq if gq is not None else _zeros_like(q)
        gr = gr if gr is not None else _zeros_like(r)
        if m >= n:
            return _qr_backward_tall(gq, gr, q, r)
        # m < n: A = Q [R1 R2]; X = A[:, :m] = Q R1 is square, Y = A[:, m:] = Q R2
        r1, gr1, gr2 = r[..., :, :m], gr[..., :, :m], gr[..., :, m:]
        y = q @ r[..., :, m:]
        gx = _qr_backward_tall(gq + y @ gr2.mT, gr1, q, r1)
        return _cat_last(gx, q @ gr2)


def _qr_backward_tall(gq: Tensor, gr: Tensor, q: Tensor, r: Tensor) -> Tensor:
    """A = QR with m >= n: gA = (gQ + Q copyltu(M)) R^-T with M = R gR^T - gQ^T Q, and
    copyltu(M) the symmetric matrix built from M's lower triangle."""
    m_ = r @ gr.mT - gq.mT @ q
    low = m_.tril(-1)
    sym = low + low.mT + m_.diagonal(0, -2, -1).diag_embed()
    b = gq + q @ sym
    return solve(r, b.mT).mT  # b R^-T


class SVD(Op, name="LinalgSvdBackward0"):
    @staticmethod
    def forward(ctx, a, *, full_matrices, compute_uv):
        xp = ctx.xp
        ctx.full, ctx.compute_uv = full_matrices, compute_uv
        # (C-contiguous, as ember's outputs are, so that what is saved is the output itself)
        u, s, vh = (xp.ascontiguousarray(x, dtype=a.dtype)
                    for x in xp.linalg.svd(a, full_matrices=full_matrices))
        # svdvals keeps U and Vh too; they are not outputs, so under create_graph backward
        # recomputes them from A (differentiably) instead
        ctx.save_for_backward(u, s, vh, None if compute_uv else a)
        if not compute_uv:
            return s
        return u, s, vh

    @staticmethod
    def backward(ctx, *grads):
        u, s, vh, a = ctx.saved_tensors
        if a is not None and grad_mode.state.enabled:
            u, s, vh = linalg_svd(a, full_matrices=False)
        gu, gs, gvh = (None, grads[0], None) if not ctx.compute_uv else grads
        k = s.shape[-1]
        # full_matrices: the columns past k are not unique; torch ignores their gradients
        u, vh = u[..., :, :k], vh[..., :k, :]
        gu = gu[..., :, :k] if gu is not None else None
        gvh = gvh[..., :k, :] if gvh is not None else None
        return _svd_backward(gu, gs, gvh, u, s, vh)


def _svd_backward(gu: Any, gs: Any, gvh: Any, u: Tensor, s: Tensor, vh: Tensor) -> Tensor:
    """A = U diag(S) Vh (reduced). gA = U [sym parts + diag(gS)] Vh plus the parts of gU and gV
    outside the spans of U and V (the real case of torch's svd_backward)."""
    if gu is None and gvh is None:
        return (u * gs.unsqueeze(-2)) @ vh
    v = vh.mT
    gv = gvh.mT if gvh is not None else None
    s_row, s_col = s.unsqueeze(-2), s.unsqueeze(-1)
    e = s_row * s_row - s_col * s_col  # E_ij = s_j^2 - s_i^2
    eye = _eye_like(e)
    f = (1 - eye) / (e + eye)  # 1 / E off the diagonal, 0 on it
    inner = (gs.diag_embed() if gs is not None else 0) * 1
    if gu is not None:
        utgu = u.mT @ gu
        inner = inner + (f * (utgu - utgu.mT)) * s_row
    if gv is not None:
        vtgv = v.mT @ gv
        inner = inner + s_col * (f * (vtgv - vtgv.mT))
    ga = u @ inner @ vh
    if gu is not None and u.shape[-2] > u.shape[-1]:  # (I - U U^T) gU S^-1 V^T
        ga = ga + (gu - u @ (u.mT @ gu)) / s_row @ vh
    if gv is not None and v.shape[-2] > v.shape[-1]:  # U S^-1 gV^T (I - V V^T)
        ga = ga + u @ ((gv - v @ (v.mT @ gv)) / s_row).mT
    return ga


class Eigh(Op, name="LinalgEighBackward0"):
    @staticmethod
    def forward(ctx, a, *, uplo, vectors):
        xp = ctx.xp
        ctx.vectors, ctx.uplo = vectors, uplo
        w, v = (xp.ascontiguousarray(x, dtype=a.dtype) for x in xp.linalg.eigh(a, UPLO=uplo))
        ctx.save_for_backward(w, v, None if vectors else a)  # (as SVD's, for eigvalsh)
        return (w, v) if vectors else w

    @staticmethod
    def backward(ctx, *grads):
        w, v, a = ctx.saved_tensors
        if a is not None and grad_mode.state.enabled:
            w, v = Eigh.apply(a, uplo=ctx.uplo, vectors=True)
        gw, gv = grads if ctx.vectors else (grads[0], None)
        # gA = V (skew(V^T gV) / E + diag(gw)) V^T, E_ij = w_j - w_i (torch's linalg_eig_backward)
        inner = gw.diag_embed() if gw is not None else None
        if gv is not None:
            vtgv = v.mT @ gv
            e = w.unsqueeze(-2) - w.unsqueeze(-1)
            eye = _eye_like(e)
            term = 0.5 * (vtgv - vtgv.mT) / (e + eye)
            inner = term if inner is None else inner + term
        return v @ inner @ v.mT


class Pinv(Op, name="LinalgPinvBackward0"):
    @staticmethod
    def forward(ctx, a, *, atol, rtol, hermitian):
        xp = ctx.xp
        if a.size == 0:
            p = xp.zeros(a.shape[:-2] + (a.shape[-1], a.shape[-2]), dtype=a.dtype)
        elif hermitian:
            w, v = xp.linalg.eigh(a)
            tol = _tolerance(xp, xp.abs(w), atol, rtol, a)
            keep = xp.abs(w) > tol
            winv = xp.where(keep, 1 / xp.where(keep, w, 1), 0)
            p = (v * winv[..., None, :]) @ xp.swapaxes(v, -1, -2)
        else:
            u, s, vh = xp.linalg.svd(a, full_matrices=False)
            tol = _tolerance(xp, s, atol, rtol, a)
            keep = s > tol
            sinv = xp.where(keep, 1 / xp.where(keep, s, 1), 0)
            p = (xp.swapaxes(vh, -1, -2) * sinv[..., None, :]) @ xp.swapaxes(u, -1, -2)
        p = p.astype(a.dtype, copy=False)
        ctx.save_for_backward(a, p)
        return p

    @staticmethod
    def backward(ctx, g):
        a, p = ctx.saved_tensors
        return _pinv_backward(g, p, a)


def _pinv_backward(g: Tensor, p: Tensor, a: Tensor) -> Tensor:
    """dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P (constant rank), whose
    adjoint is gA = -P^T G P^T + (I - A P) G^T P P^T + P^T P G^T (I - P A)."""
    pt, gt = p.mT, g.mT
    first = -(pt @ g @ pt)
    second = (gt - a @ (p @ gt)) @ (p @ pt)
    third = (pt @ p) @ (gt - (gt @ p) @ a)
    return first + second + third


def _tolerance(xp: Any, s: Any, atol: Any, rtol: Any, a: Any) -> Any:
    """torch's cut-off for pinv and matrix_rank: ``max(atol, rtol * s_max)``, with rtol defaulting
    to ``eps * max(m, n)`` when neither is given (and to 0 when only atol is)."""
    smax = s.max(axis=-1, keepdims=True) if s.shape[-1] else xp.zeros(s.shape[:-1] + (1,))
    if rtol is None:
        rtol = xp.finfo(a.dtype).eps * builtins.max(a.shape[-2:]) if atol is None else 0.0
    atol = 0.0 if atol is None else atol
    atol = atol._data[..., None] if isinstance(atol, Tensor) else atol
    rtol = rtol._data[..., None] if isinstance(rtol, Tensor) else rtol
    return xp.maximum(atol, rtol * smax)


# -- small helpers on Tensors ---------------------------------------------------------------------


def _zeros_like(t: Tensor) -> Tensor:
    return Tensor._make(get_array_module(t._data).zeros(t.shape, dtype=t._data.dtype))


def _eye_like(t: Tensor) -> Tensor:
    xp = get_array_module(t._data)
    return Tensor._make(xp.eye(t.shape[-1], dtype=t._data.dtype))


def _cat_last(a: Tensor, b: Tensor) -> Tensor:
    from .arrange import cat

    return cat([a, b], dim=-1)


# -- public functions -----------------------------------------------------------------------------


def inv(A: Tensor) -> Tensor:
    """The inverse of each square matrix of ``A``; LinAlgError if one is singular."""
    _square("linalg.inv", A)
    _floating("linalg.inv", A, complex_ok=True)
    return Inv.apply(A)


def inv_ex(A: Tensor, *, check_errors: bool = False) -> tuple:
    """``inv`` and an ``info`` tensor of zeros (a singular matrix raises, as with
    ``check_errors=True``)."""
    y = inv(A)
    xp = get_array_module(A._data)
    return _InvExResult(y, Tensor._make(xp.zeros(A.shape[:-2], dtype="int32")))


def det(A: Tensor) -> Tensor:
    """The determinant of each square matrix of ``A``."""
    _square("linalg.det", A)
    _floating("linalg.det", A)
    return Det.apply(A)


def linalg_slogdet(A: Tensor) -> tuple:
    """``(sign, log|det|)`` of each square matrix of ``A``, without overflow."""
    _square("linalg.slogdet", A)
    _floating("linalg.slogdet", A)
    return _SlogdetResult(*Slogdet.apply(A))


def logdet(input: Tensor) -> Tensor:
    """``log(det(input))``: NaN for a negative determinant, -inf for a zero one."""
    from .compare import where

    sign, logabs = linalg_slogdet(input)
    return where(sign == -1, math.nan, logabs)


def _is_vector_rhs(A: Tensor, B: Tensor, left: bool = True) -> bool:
    """torch treats B as a (batch of) vector(s) if it is 1-d or has exactly A's batch shape."""
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """The solution ``X`` of ``A X = B`` (``X A = B`` with ``left=False``)."""
    _square("linalg.solve", A)
    _floating("linalg.solve", A, complex_ok=True)
    vector = left and _is_vector_rhs(A, B)
    rows = B.shape[0] if B.ndim == 1 else B.shape[-1 if vector else -2]
    if not left:
        if B.shape[-1] != A.shape[-1]:
            raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                               f"XA = B ({B.shape[-2]}x{B.shape[-1]} and "
                               f"{A.shape[-2]}x{A.shape[-1]})")
    elif rows != A.shape[-1]:
        cols = 1 if vector else B.shape[-1]
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({A.shape[-2]}x{A.shape[-1]} and {rows}x{cols})")
    if A.dtype is not B.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found "
                           f"A of type {type_name(A)} and B of type {type_name(B)} instead")
    return Solve.apply(A, B, vector=vector, left=left)


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False) -> tuple:
    """``solve`` and an ``info`` tensor of zeros."""
    x = solve(A, B, left=left)
    xp = get_array_module(A._data)
    return _SolveExResult(x, Tensor._make(xp.zeros(A.shape[:-2], dtype="int32")))


def linalg_cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """The Cholesky factor ``L`` (``U = L^T`` with ``upper``) of each symmetric
    positive-definite matrix of ``A``."""
    _square("linalg.cholesky", A)
    _floating("linalg.cholesky", A)
    return Cholesky.apply(A, upper=upper, name="linalg.cholesky")


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False) -> tuple:
    """``cholesky`` and an ``info`` tensor of zeros."""
    low = linalg_cholesky(A, upper=upper)
    xp = get_array_module(A._data)
    return _CholeskyExResult(low, Tensor._make(xp.zeros(A.shape[:-2], dtype="int32")))


def linalg_qr(A: Tensor, mode: str = "reduced") -> tuple:
    """``(Q, R)`` with ``A = Q R``; ``mode`` is 'reduced', 'complete' or 'r' (R only)."""
    _matrix("linalg.qr", A)
    _floating("linalg.qr", A)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    return _QRResult(*QR.apply(A, mode=mode))


def linalg_svd(A: Tensor, full_matrices: bool = True, *, driver: str | None = None) -> tuple:
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``, singular values in descending order."""
    _matrix("linalg.svd", A)
    _floating("linalg.svd", A)
    return _SVDResult(*SVD.apply(A, full_matrices=full_matrices, compute_uv=True))


def svdvals(A: Tensor, *, driver: str | None = None) -> Tensor:
    """The singular values of ``A``, in descending order."""
    _matrix("linalg.svdvals", A)
    _floating("linalg.svdvals", A)
    return SVD.apply(A, full_matrices=False, compute_uv=False)


def _uplo(UPLO: str) -> str:
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO


def eigh(A: Tensor, UPLO: str = "L") -> tuple:
    """Eigenvalues (ascending) and eigenvectors of each symmetric matrix of ``A``, read from its
    lower (``UPLO='L'``) or upper triangle."""
    _square("linalg.eigh", A)
    _floating("linalg.eigh", A)
    return _EighResult(*Eigh.apply(A, uplo=_uplo(UPLO), vectors=True))


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """The eigenvalues (ascending) of each symmetric matrix of ``A``."""
    _square("linalg.eigvalsh", A)
    _floating("linalg.eigvalsh", A)
    return Eigh.apply(A, uplo=_uplo(UPLO), vectors=False)


def pinv(A: Tensor, *, atol: Any = None, rtol: Any = None, hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudo-inverse, from the SVD (the eigendecomposition with
    ``hermitian``), dropping singular values below ``max(atol, rtol * s_max)``."""
    _matrix("linalg.pinv", A)
    _floating("linalg.pinv", A)
    return Pinv.apply(A, atol=atol, rtol=rtol, hermitian=hermitian)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """``pinv`` with a relative cut-off ``rcond`` (torch's older name)."""
    return pinv(input, rtol=rcond)


class Lstsq(Op, name="LinalgLstsqBackward0"):
    """The least-squares solution ``X = pinv(A) B`` and, when asked, the squared residuals."""

    @staticmethod
    def forward(ctx, a, b, *, rtol, residuals, vector):
        xp = ctx.xp
        ctx.vector, ctx.rtol = vector, rtol
        b = b[..., None] if vector else b
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        tol = rtol * s.max(axis=-1, keepdims=True) if s.shape[-1] else s
        keep = s > tol
        sinv = xp.where(keep, 1 / xp.where(keep, s, 1), 0)
        p = ((xp.swapaxes(vh, -1, -2) * sinv[..., None, :]) @ xp.swapaxes(u, -1, -2))
        x = (p @ b).astype(a.dtype, copy=False)
        r = a @ x - b
        res = (r * r).sum(-2) if residuals else xp.zeros((0,), dtype=a.dtype)
        ctx.residuals = residuals
        ctx.save_for_backward(a, b, p, x)  # (b and x as matrices: constants of the node)
        return (x[..., 0] if vector else x), res  # (a vector's residual keeps its dim of 1)

    @staticmethod
    def backward(ctx, gx, gres):
        a, b, p, x = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        if grad_mode.state.enabled:  # create_graph: P and X again, as functions of A and B
            p = pinv(a, rtol=ctx.rtol)
            b = b.unsqueeze(-1) if ctx.vector else b
            x = p @ b
        if ctx.vector:
            gx = gx.unsqueeze(-1) if gx is not None else None
        ga = gb = None
        if gx is not None:  # X = P B
            gb = p.mT @ gx
            ga = _pinv_backward(gx @ b.mT, p, a)
        if ctx.residuals and gres is not None:
            # at the optimum A^T (A X - B) = 0, so only the explicit dependence counts:
            # d|AX - B|^2 = 2 (AX - B) . (dA X - dB)
            r = (a @ x - b) * (2 * gres.unsqueeze(-2))
            ga = r @ x.mT if ga is None else ga + r @ x.mT
            gb = -r if gb is None else gb - r
        if ctx.vector and gb is not None:
            gb = gb.squeeze(-1)
        return (ga if need_a else None), (gb if need_b else None)


def lstsq(A: Tensor, B: Tensor, rcond: float | None = None, *, driver: str | None = None) -> tuple:
    """The least-squares solution of ``A X = B``: ``(solution, residuals, rank,
    singular_values)``, with torch's CPU drivers' outputs (singular values only for
    'gelsd'/'gelss'; residuals, except with 'gelsy', when m > n and every matrix has full rank)."""
    _matrix("linalg.lstsq", A)
    _floating("linalg.lstsq", A)
    driver = driver or "gelsy"
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError("ember.linalg.lstsq: parameter `driver` should be one of (gels, "
                           "gelsy, gelsd, gelss)")
    vector = B.ndim == A.ndim - 1
    if B.shape[-1 if vector else -2] != A.shape[-2]:
        raise RuntimeError("ember.linalg.lstsq: input.size(-2) should match other.size(-2)")
    xp = get_array_module(A._data)
    m, n = A.shape[-2], A.shape[-1]
    eps = xp.finfo(A._data.dtype).eps
    rtol = rcond if rcond is not None and rcond >= 0 else eps * builtins.max(m, n)
    s = xp.linalg.svd(A._data, compute_uv=False) if A.numel() else xp.zeros(A.shape[:-2] + (0,))
    rank = (s > rtol * (s.max(-1, keepdims=True) if s.shape[-1] else 0)).sum(-1)
    full = driver != "gelsy" and m > n and bool((rank == n).all())
    x, residuals = Lstsq.apply(A, B, rtol=0.0 if driver == "gels" else rtol, residuals=full,
                               vector=vector)
    empty = Tensor._make(xp.zeros((0,), dtype=A._data.dtype))
    sv = Tensor._make(s.astype(A._data.dtype)) if driver in ("gelsd", "gelss") else empty
    rank_t = Tensor._make(xp.asarray(rank, dtype="int64")) if driver != "gels" else \
        Tensor._make(xp.zeros((0,), dtype="int64"))
    return _LstsqResult(x, residuals, rank_t, sv)


def matrix_rank(A: Tensor, *, atol: Any = None, rtol: Any = None, hermitian: bool = False,
                tol: Any = None) -> Tensor:
    """The number of singular values of ``A`` above ``max(atol, rtol * s_max)``."""
    _matrix("linalg.matrix_rank", A)
    _floating("linalg.matrix_rank", A)
    xp = get_array_module(A._data)
    a = A._data
    if tol is not None:
        atol, rtol = tol, 0.0
    s = xp.abs(xp.linalg.eigvalsh(a)) if hermitian else xp.linalg.svd(a, compute_uv=False)
    cut = _tolerance(xp, s, atol, rtol, a)
    return Tensor._make(xp.asarray((s > cut).sum(-1), dtype="int64"))


def matrix_power(A: Tensor, n: int) -> Tensor:
    """``A`` to the integer power ``n`` by repeated squaring (the inverse for negative ``n``)."""
    from .inplace import copy_
    from .linalg import matmul

    _square("linalg.matrix_power", A)
    if n == 0:  # torch copies the identity into a new tensor (CopyBackwards)
        xp = get_array_module(A._data)
        out = Tensor._make(xp.zeros(A.shape, dtype=A._data.dtype))
        eye = Tensor._make(xp.broadcast_to(xp.eye(A.shape[-1], dtype=A._data.dtype), A.shape))
        return copy_(out, eye + A * 0) if A.requires_grad else copy_(out, eye)
    if n == -1:
        return inv(A)
    base = inv(A) if n < 0 else A
    n = builtins.abs(n)
    if n == 1:
        return base.clone()
    result = None
    while n:  # binary powering: log2(n) products
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


def multi_dot(tensors: Sequence[Tensor]) -> Tensor:
    """The product of a chain of matrices (first and last may be vectors), in the cheapest order
    (dynamic programming over the chain, as torch)."""
    from .linalg import mm

    n = len(tensors)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    first, last = tensors[0], tensors[-1]
    mats = list(tensors)
    if first.ndim == 1:
        mats[0] = first.unsqueeze(0)
    if last.ndim == 1:
        mats[-1] = last.unsqueeze(-1)
    for i, t in enumerate(mats):
        if t.ndim != 2:
            where = "first" if i == 0 else "last" if i == n - 1 else None
            if where:
                raise RuntimeError(f"multi_dot(): the {where} tensor must be 1D or 2D but got "
                                   f"{tensors[i].ndim}D")
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    for i in range(n - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(
                f"multi_dot(): tensors {i} and {i + 1} with shapes {list(tensors[i].shape)} and "
                f"{list(tensors[i + 1].shape)} cannot be multiplied")
    dims = [m.shape[0] for m in mats] + [mats[-1].shape[1]]
    order = _chain_order(dims)

    def product(i: int, j: int) -> Tensor:
        if i == j:
            return mats[i]
        k = order[i][j]
        return mm(product(i, k), product(k + 1, j))

    out = product(0, n - 1)
    shape = [s for s, keep in ((dims[0], first.ndim == 2), (dims[-1], last.ndim == 2)) if keep]
    return out.view(shape)


def _chain_order(dims: list) -> list:
    """The classic matrix-chain dynamic programme: ``order[i][j]`` splits the product i..j."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    order = [[0] * n for _ in range(n)]
    for length in range(1, n):  # over chain lengths (a handful of matrices)
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], order[i][j] = c, k
    return order


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (inputs broadcast)."""
    from ..tensor import _wrap_dim

    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    d = _wrap_dim(dim, input.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[d]} and {other.shape[d]}")
    from .geometry import Cross  # torch.cross's op (LinalgCrossBackward0)

    return Cross.apply(input, other, dim=d)


def matrix_norm(A: Tensor, ord: Any = "fro", dim: tuple = (-2, -1), keepdim: bool = False, *,
                dtype: Any = None) -> Tensor:
    """A matrix norm over the two dims ``dim``: 'fro', 'nuc', +-1, +-2 or +-inf."""
    from .reduce import amax, amin
    from .reduce import sum as sum_
    from .stats import vector_norm

    _matrix("linalg.matrix_norm", A)
    if dtype is not None:
        A = A.to(dtype)
    d0, d1 = (dim[0] % A.ndim, dim[1] % A.ndim)
    if ord == "fro":
        return vector_norm(A, 2, dim=(d0, d1), keepdim=keepdim)
    if ord == "nuc" or ord in (2, -2):
        # the two dims moved to the end, the singular values reduced, then moved back
        perm = [i for i in range(A.ndim) if i not in (d0, d1)] + [d0, d1]
        s = svdvals(A.permute(perm))
        if ord == "nuc":
            out = sum_(s, -1, keepdim=keepdim)
        else:
            out = (amax if ord == 2 else amin)(s, -1, keepdim=keepdim)
        if keepdim:
            back = [perm.index(i) for i in range(A.ndim)]
            out = out.unsqueeze(-1).permute(back)
        return out
    if ord in (1, -1, math.inf, -math.inf):
        # 1: the largest column sum of |A| (sum over rows, d0); inf: the largest row sum
        over, across = (d0, d1) if ord in (1, -1) else (d1, d0)
        if not keepdim and over < across:
            across -= 1  # the first reduction removed a dim in front of it
        sums = vector_norm(A, 1, dim=over, keepdim=keepdim)
        return (amax if ord > 0 else amin)(sums, across, keepdim=keepdim)
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *,
         dtype: Any = None) -> Tensor:
    """A vector norm (1-d input or an int ``dim``) or a matrix norm (2-d input or a pair of
    dims); with neither ``ord`` nor ``dim``, the 2-norm of all elements."""
    from .stats import vector_norm

    if dim is not None and not isinstance(dim, int):
        dim = tuple(dim)
    if ord is None:
        if isinstance(dim, tuple) and len(dim) == 2:
            return matrix_norm(A, "fro", dim, keepdim, dtype=dtype)
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if isinstance(ord, str) or (dim is None and A.ndim == 2) or (
            isinstance(dim, tuple) and len(dim) == 2):
        return matrix_norm(A, ord, dim if dim is not None else (-2, -1), keepdim, dtype=dtype)
    if dim is None and A.ndim != 1:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {A.ndim}D.")
    return vector_norm(A, ord, dim, keepdim, dtype=dtype)


class SolveTriangular(Op, name="LinalgSolveTriangularBackward0"):
    """``X`` with ``A X = B`` (``X A = B`` unless ``left``) for triangular ``A``: only its
    ``upper`` or lower triangle is read (its diagonal taken as ones with ``unitriangular``)."""

    @staticmethod
    def forward(ctx, a, b, *, upper, left, unitriangular):
        xp = ctx.xp
        ctx.upper, ctx.left, ctx.unit = upper, left, unitriangular
        t = xp.triu(a) if upper else xp.tril(a)
        if unitriangular:
            n = a.shape[-1]
            t = t.copy()
            t[..., range(n), range(n)] = 1
        with ctx.backend.errors_quiet():  # a zero pivot gives inf/nan, as LAPACK's trsm does
            if left:
                x = xp.linalg.solve(t, b) if _invertible(xp, t) else _substitute(xp, t, b, upper)
            else:
                tt, bt = xp.swapaxes(t, -1, -2), xp.swapaxes(b, -1, -2)
                x = xp.swapaxes(xp.linalg.solve(tt, bt) if _invertible(xp, tt) else
                                _substitute(xp, tt, bt, not upper), -1, -2)
        x = xp.ascontiguousarray(x).astype(a.dtype, copy=False)
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        upper, left, unit = ctx.upper, ctx.left, ctx.unit
        # A X = B: gB = A^-T G, gA = -gB X^T; X A = B: gB = G A^-T, gA = -X^T gB; only the
        # triangle that was read gets a gradient (not the diagonal when it was taken as ones)
        gb = solve_triangular(a.mT, g, upper=not upper, left=left, unitriangular=unit)
        ga = None
        if need_a:
            ga = -(gb @ x.mT) if left else -(x.mT @ gb)
            ga = ga.triu(1 if unit else 0) if upper else ga.tril(-1 if unit else 0)
        return ga, (gb if need_b else None)


def _invertible(xp: Any, t: Any) -> bool:
    return bool(xp.all(xp.diagonal(t, 0, -2, -1) != 0))


def _substitute(xp: Any, t: Any, b: Any, upper: bool) -> Any:
    """Back (or forward) substitution, for triangular systems with a zero pivot, where LAPACK's
    trsm runs on into inf/nan instead of refusing (a loop over the n rows: the algorithm's own
    sequence, every right-hand side and batch element at once)."""
    n = t.shape[-1]
    x = xp.zeros(xp.broadcast_shapes(t.shape[:-1], b.shape[:-2] + (n,)) + b.shape[-1:],
                 dtype=xp.result_type(t, b))
    rows = range(n - 1, -1, -1) if upper else range(n)
    for i in rows:
        acc = b[..., i, :] - (t[..., i:i + 1, :] @ x)[..., 0, :]
        x[..., i, :] = acc / t[..., i, i:i + 1]
    return x


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False) -> Tensor:
    """The solution of a triangular system: ``A X = B`` (``X A = B`` unless ``left``)."""
    _floating("linalg.solve_triangular", A)
    for what, t in (("A", A), ("B", B)):
        if t.ndim < 2:
            raise RuntimeError(f"linalg.solve_triangular: The input tensor {what} must have at "
                               "least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError("linalg.solve_triangular: A must be batches of square matrices, but "
                           f"they are {A.shape[-2]} by {A.shape[-1]} matrices")
    return SolveTriangular.apply(A, B, upper=upper, left=left, unitriangular=unitriangular)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """The dot product of vectors along ``dim`` (``x`` conjugated), with broadcasting."""
    for t in (x, y):
        if not (t.dtype.is_floating_point or t.dtype.is_complex):
            raise RuntimeError("linalg.vecdot: Expected a floating point or complex tensor as "
                               f"input. Got {type_name(t)}")
    from .complex import conj

    return (conj(x) * y).sum(dim)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """The diagonals of ``A``'s matrices (``torch.diagonal`` with matrix-friendly defaults)."""
    return A.diagonal(offset, dim1, dim2)


def vander(x: Tensor, N: int | None = None) -> Tensor:
    """The Vandermonde matrix ``[1, x, x^2, ..., x^(N-1)]`` along a new last dim."""
    from .arrange import cat

    if x.ndim < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension.")
    n = x.shape[-1] if N is None else N
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    powers = x.unsqueeze(-1).expand(tuple(x.shape) + (n - 1,)).cumprod(-1)
    xp = get_array_module(x._data)
    dt = powers._data.dtype
    ones = Tensor._make(xp.ones(tuple(x.shape) + (1,), dtype=dt))
    return cat([ones, powers], -1)


def cond(A: Tensor, p: Any = None) -> Tensor:
    """The condition number of ``A`` in the norm ``p`` (the 2-norm by default)."""
    _matrix("linalg.cond", A)
    if p is None or p in (2, -2):
        s = svdvals(A)
        big, small = s.narrow(-1, 0, 1), s.narrow(-1, s.shape[-1] - 1, 1)
        return (big / small if p != -2 else small / big).squeeze(-1)
    _square("linalg.cond", A)
    out = matrix_norm(A, p) * matrix_norm(inv(A), p)
    return out if p == "nuc" else out.nan_to_num(math.inf, math.inf, -math.inf)


# Higham's [13/13] Pade approximant of exp, with scaling and squaring ("The scaling and squaring
# method for the matrix exponential revisited", SIAM J. Matrix Anal. Appl. 26, 2005)
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def _expm(xp: Any, a: Any) -> Any:
    """exp of each matrix of ``a``: each is scaled by 2^-s so that its 1-norm is under theta_13,
    the Pade approximant taken, then squared s times (s per matrix; the batch squares together,
    the finished ones multiplied by the identity)."""
    if a.size == 0:
        return a.copy()
    a64 = a.astype("float64") if a.dtype.kind == "f" else a
    norm1 = xp.abs(a64).sum(-2).max(-1)
    s = xp.maximum(0, xp.ceil(xp.log2(xp.maximum(norm1, 1e-300) / _THETA13))).astype("int64")
    s = xp.where(xp.isfinite(norm1), s, 0)
    x = a64 / (2.0 ** s)[..., None, None]
    b = _PADE13
    eye = xp.broadcast_to(xp.eye(a.shape[-1], dtype=x.dtype), x.shape)
    x2 = x @ x
    x4 = x2 @ x2
    x6 = x4 @ x2
    u = x @ (x6 @ (b[13] * x6 + b[11] * x4 + b[9] * x2) + b[7] * x6 + b[5] * x4 + b[3] * x2
             + b[1] * eye)
    v = x6 @ (b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 \
        + b[0] * eye
    r = xp.linalg.solve(v - u, v + u)
    for k in range(int(s.max()) if s.size else 0):  # squarings: log2 of the largest norm
        r = xp.where((s > k)[..., None, None], r @ r, r)
    return r.astype(a.dtype, copy=False)


class MatrixExp(Op, name="LinalgMatrixExpBackward0"):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _expm(ctx.xp, a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        # the Frechet derivative's adjoint: the upper-right block of exp([[A^T, G], [0, A^T]])
        from .arrange import cat

        n = a.shape[-1]
        at = a.mT
        zero = g * 0
        top = cat([at, g], -1)
        bottom = cat([zero, at], -1)
        return matrix_exp(cat([top, bottom], -2))[..., :n, n:]


def matrix_exp(A: Tensor) -> Tensor:
    """The matrix exponential of each square matrix of ``A``."""
    _square("linalg.matrix_exp", A)
    if not (A.dtype.is_floating_point or A.dtype.is_complex):
        raise RuntimeError("linalg.matrix_exp: Expected a floating point or complex tensor as "
                           f"input. Got {type_name(A)}")
    return MatrixExp.apply(A)


_EigResult = return_type("linalg_eig", ("eigenvalues", "eigenvectors"))


class Eig(Op, name="LinalgEigBackward0"):
    """Eigenvalues and unit-norm eigenvectors of a general square matrix: complex, always."""

    @staticmethod
    def forward(ctx, a, *, vectors):
        xp = ctx.xp
        cd = "complex128" if a.dtype in ("float64", "complex128") else "complex64"
        w, v = xp.linalg.eig(a)  # (numpy returns real arrays when every eigenvalue is real)
        w, v = xp.ascontiguousarray(w, dtype=cd), xp.ascontiguousarray(v, dtype=cd)
        ctx.vectors, ctx.real_input = vectors, a.dtype.kind != "c"
        ctx.save_for_backward(w, v, None if vectors else a)
        return (w, v) if vectors else w

    @staticmethod
    def backward(ctx, *grads):
        w, v, a = ctx.saved_tensors
        if a is not None and grad_mode.state.enabled:
            w, v = Eig.apply(a, vectors=True)
        gw, gv = grads if ctx.vectors else (grads[0], None)
        # torch's linalg_eig_backward: gA = V^-H (diag(gL) + P(V^H gV) / conj(E)) V^H, where
        # E_ij = L_j - L_i and P removes what the unit-norm gauge leaves undetermined
        n = w.shape[-1]
        xp = get_array_module(w._data)
        eye = Tensor._make(xp.eye(n, dtype=w._data.real.dtype))
        inner = None
        if gv is not None:
            vhgv = v.mH @ gv
            re_diag = _real_part(vhgv.diagonal(0, -2, -1))
            vhgv = vhgv - v.mH @ (v * re_diag.unsqueeze(-2))
            lc = w.conj()
            econj = lc.unsqueeze(-2) - lc.unsqueeze(-1) + eye
            inner = vhgv / econj * (1 - eye)
        if gw is not None:
            inner = gw.diag_embed() if inner is None else inner + gw.diag_embed()
        ga = solve(v.mH, inner @ v.mH)
        return _real_part(ga) if ctx.real_input else ga


def _real_part(t: Tensor) -> Tensor:
    from .complex import real

    return real(t)


def eig(A: Tensor) -> tuple:
    """Eigenvalues and eigenvectors (unit norm, complex) of each square matrix of ``A``."""
    _square("linalg.eig", A)
    if not (A.dtype.is_floating_point or A.dtype.is_complex):
        _floating("linalg.eig", A)
    return _EigResult(*Eig.apply(A, vectors=True))


def eigvals(A: Tensor) -> Tensor:
    """The eigenvalues (complex) of each square matrix of ``A``."""
    _square("linalg.eigvals", A)
    if not (A.dtype.is_floating_point or A.dtype.is_complex):
        _floating("linalg.eigvals", A)
    return Eig.apply(A, vectors=False)


# -- LU ------------------------------------------------------------------------------------------
_LUFactorResult = return_type("linalg_lu_factor", ("LU", "pivots"))
_LUFactorExResult = return_type("linalg_lu_factor_ex", ("LU", "pivots", "info"))
_LUResult = return_type("linalg_lu", ("P", "L", "U"))


def _getrf(xp: Any, a: Any) -> tuple:
    """LU with partial pivoting, as LAPACK's getrf: the packed factors (L's unit diagonal
    implied) and the 1-based pivots, for each matrix of ``a``. A loop over the k = min(m, n)
    elimination steps, each one array step over the whole batch."""
    m, n = a.shape[-2:]
    k = builtins.min(m, n)
    u = a.reshape((-1, m, n)).copy()
    rows = xp.arange(u.shape[0])
    piv = xp.zeros((u.shape[0], k), dtype="int32")
    for j in range(k):  # the algorithm's own sequence of columns
        p = j + xp.argmax(xp.abs(u[:, j:, j]), axis=1)
        piv[:, j] = p + 1
        top = u[rows, j].copy()
        u[rows, j] = u[rows, p]
        u[rows, p] = top
        pivot = u[:, j, j]
        u[:, j + 1:, j] /= xp.where(pivot == 0, 1, pivot)[:, None]
        u[:, j + 1:, j + 1:] -= u[:, j + 1:, j:j + 1] * u[:, j:j + 1, j + 1:]
    return u.reshape(a.shape), piv.reshape(a.shape[:-2] + (k,))


def _permutation(xp: Any, piv: Any, m: int, dtype: Any) -> Any:
    """The permutation matrices P (A = P L U) of LAPACK pivots."""
    flat = piv.reshape((-1, piv.shape[-1])) - 1
    perm = xp.broadcast_to(xp.arange(m), (flat.shape[0], m)).copy()
    rows = xp.arange(flat.shape[0])
    for j in range(flat.shape[1]):  # the swaps, in order
        p = flat[:, j]
        top = perm[rows, j].copy()
        perm[rows, j] = perm[rows, p]
        perm[rows, p] = top
    eye = xp.zeros((flat.shape[0], m, m), dtype=dtype)
    eye[rows[:, None], perm, xp.arange(m)[None, :]] = 1  # P[perm[i], i] = 1
    return eye.reshape(piv.shape[:-1] + (m, m))


def _unpack(xp: Any, lu: Any) -> tuple:
    m, n = lu.shape[-2:]
    k = builtins.min(m, n)
    low = xp.tril(lu[..., :, :k], -1) + xp.eye(m, k, dtype=lu.dtype)
    up = xp.triu(lu[..., :k, :])
    return low, up


class LUFactor(Op, name="LinalgLuFactorExBackward0"):
    @staticmethod
    def forward(ctx, a):
        xp = ctx.xp
        lu, piv = _getrf(xp, a)
        ctx.save_for_backward(lu)
        ctx.piv = piv
        ctx.mark_non_differentiable(piv)
        return lu, piv

    @staticmethod
    def backward(ctx, g, _gpiv=None):
        (lu,) = ctx.saved_tensors
        low, up = lu.tril(-1) + _eye_like(lu), lu.triu()
        p = Tensor._make(_permutation(get_array_module(lu._data), ctx.piv, lu.shape[-2],
                                      lu._data.dtype))
        return _lu_backward(g.tril(-1), g.triu(), p, low, up)


class LU(Op, name="LinalgLuBackward0"):
    @staticmethod
    def forward(ctx, a):
        xp = ctx.xp
        lu, piv = _getrf(xp, a)
        low, up = _unpack(xp, lu)
        p = _permutation(xp, piv, a.shape[-2], a.dtype)
        ctx.save_for_backward(p, low, up)
        ctx.mark_non_differentiable(p)  # (P is piecewise constant: no grad_fn, as torch's)
        return p, low, up

    @staticmethod
    def backward(ctx, gp, gl, gu):
        p, low, up = ctx.saved_tensors
        return _lu_backward(gl, gu, p, low, up)


def _lu_backward(gl: Any, gu: Any, p: Tensor, low: Tensor, up: Tensor) -> Tensor:
    """A = P L U (square): gA = P L^-H (tril_-1(L^H gL) + triu(gU U^H)) U^-H (torch's
    linalg_lu_backward)."""
    if low.shape[-1] != up.shape[-1] or low.shape[-2] != up.shape[-2]:
        raise NotImplementedError("the LU backward of a non-square matrix is not implemented in "
                                  "ember yet")
    phi = None
    if gl is not None:
        phi = (low.mH @ gl).tril(-1)
    if gu is not None:
        term = (gu @ up.mH).triu()
        phi = term if phi is None else phi + term
    x = solve_triangular(up.mH, phi, upper=False, left=False)
    x = solve_triangular(low.mH, x, upper=True, unitriangular=True)
    return p @ x


class LUSolve(Op, name="LinalgLuSolveBackward0"):
    """``X`` with ``A X = B`` from ``A``'s packed LU factors and pivots."""

    @staticmethod
    def forward(ctx, lu, b, *, piv, left, adjoint):
        xp = ctx.xp
        low, up = _unpack(xp, lu)
        p = _permutation(xp, piv, lu.shape[-1], lu.dtype)
        a = p @ low @ up
        ctx.left, ctx.adjoint, ctx.piv = left, adjoint, piv
        a = xp.conj(xp.swapaxes(a, -1, -2)) if adjoint else a
        if left:
            x = xp.linalg.solve(a, b)
        else:
            x = xp.swapaxes(xp.linalg.solve(xp.swapaxes(a, -1, -2), xp.swapaxes(b, -1, -2)),
                            -1, -2)
        x = xp.ascontiguousarray(x).astype(b.dtype, copy=False)
        ctx.save_for_backward(lu, x)
        return x

    @staticmethod
    def backward(ctx, g):
        lu, x = ctx.saved_tensors
        need_lu, need_b = ctx.needs_input_grad
        low, up = lu.tril(-1) + _eye_like(lu), lu.triu()
        p = Tensor._make(_permutation(get_array_module(lu._data), ctx.piv, lu.shape[-1],
                                      lu._data.dtype))
        a = p @ low @ up
        # the gradient of op(A) X = B, as solve's; then through A = P L U into the packed LU
        op_a = a.mH if ctx.adjoint else a
        gb = solve(op_a.mH, g) if ctx.left else solve(op_a, g.mH).mH
        ga_op = -(gb @ x.mH) if ctx.left else -(x.mH @ gb)
        ga = ga_op.mH if ctx.adjoint else ga_op
        glu = None
        if need_lu:  # A = P L U: gL = P^T gA U^H (strict lower), gU = L^H P^T gA (upper)
            pg = p.mT @ ga
            glu = (pg @ up.mH).tril(-1) + (low.mH @ pg).triu()
        return glu, (gb if need_b else None)


def lu_factor(A: Tensor, *, pivot: bool = True) -> tuple:
    """The packed LU factors of ``A`` (partial pivoting) and LAPACK's 1-based pivots."""
    _matrix("linalg.lu_factor", A)
    _floating("linalg.lu_factor", A)
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    lu, piv = LUFactor.apply(A)
    return _LUFactorResult(lu, piv)


def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False) -> tuple:
    """``lu_factor`` and an ``info`` tensor (the first zero pivot, 1-based; 0 if none)."""
    lu, piv = lu_factor(A, pivot=pivot)
    xp = get_array_module(lu._data)
    k = builtins.min(A.shape[-2:])
    diag = xp.diagonal(lu._data, 0, -2, -1)[..., :k] == 0
    info = xp.where(diag.any(-1), xp.argmax(diag, -1) + 1, 0).astype("int32")
    return _LUFactorExResult(lu, piv, Tensor._make(xp.asarray(info)))


def lu(A: Tensor, *, pivot: bool = True) -> tuple:
    """``(P, L, U)`` with ``A = P L U``: P a permutation, L unit lower, U upper triangular."""
    _matrix("linalg.lu", A)
    _floating("linalg.lu", A)
    if not pivot:
        raise RuntimeError("linalg.lu: LU without pivoting is not implemented on the CPU")
    return _LUResult(*LU.apply(A))


def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True,
             adjoint: bool = False) -> Tensor:
    """The solution of ``A X = B`` (``X A = B`` unless ``left``; ``A^H`` with ``adjoint``) from
    ``lu_factor``'s output."""
    _square("linalg.lu_solve", LU, "LU")
    _floating("linalg.lu_solve", LU)
    return LUSolve.apply(LU, B, piv=pivots._data, left=left, adjoint=adjoint)


def tensorinv(A: Tensor, ind: int = 2) -> Tensor:
    """The inverse of ``A`` seen as a matrix with rows ``A.shape[:ind]`` and columns the rest:
    shape ``A.shape[ind:] + A.shape[:ind]``."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = math.prod(A.shape[:ind]), math.prod(A.shape[ind:])
    if rows != cols:
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows}")
    return inv(A.reshape(rows, cols)).reshape(tuple(A.shape[ind:]) + tuple(A.shape[:ind]))


def tensorsolve(A: Tensor, B: Tensor, dims: Any = None) -> Tensor:
    """The ``X`` with ``tensordot(A, X, X.ndim) = B``; ``dims`` of ``A`` are moved last first."""
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        A = A.permute([d for d in range(A.ndim) if d not in dims] + dims)
    out_shape = tuple(A.shape[B.ndim:])
    rows, cols = math.prod(B.shape), math.prod(out_shape)
    if rows != cols:
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[other.ndim:]) "
                           f"== prod(self.shape[:other.ndim]), but got {cols} != {rows}")
    return solve(A.reshape(rows, cols), B.reshape(rows)).view(out_shape)


def _gram(xp: Any, low: Any, upper: bool) -> Any:
    """``L L^H`` (``U^H U`` with ``upper``) from a Cholesky factor's triangle."""
    t = xp.triu(low) if upper else xp.tril(low)
    th = xp.conj(xp.swapaxes(t, -1, -2))
    return th @ t if upper else t @ th


class CholeskySolve(Op, name="CholeskySolveBackward0"):
    """``X = (L L^H)^-1 B`` from a Cholesky factor ``L`` (``U^H U`` with ``upper``)."""

    @staticmethod
    def forward(ctx, b, low, *, upper):
        xp = ctx.xp
        ctx.upper = upper
        x = xp.ascontiguousarray(xp.linalg.solve(_gram(xp, low, upper), b))
        ctx.save_for_backward(low, x)
        return x.astype(b.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        low, x = ctx.saved_tensors
        need_b, need_l = ctx.needs_input_grad
        gb = cholesky_solve(g, low, ctx.upper)
        gl = None
        if need_l:  # torch's: the symmetric part of -gB X^H, times the factor
            common = gb @ x.mH
            common = common + common.mH
            gl = -(low @ common) if ctx.upper else -(common @ low)
        return (gb if need_b else None), gl


class CholeskyInverse(Op, name="CholeskyInverseBackward0"):
    """``(L L^H)^-1`` from a Cholesky factor ``L`` (``U^H U`` with ``upper``)."""

    @staticmethod
    def forward(ctx, low, *, upper):
        xp = ctx.xp
        ctx.upper = upper
        y = xp.ascontiguousarray(xp.linalg.inv(_gram(xp, low, upper))).astype(low.dtype,
                                                                              copy=False)
        ctx.save_for_backward(low, y)
        return y

    @staticmethod
    def backward(ctx, g):
        low, y = ctx.saved_tensors
        common = y @ ((g + g.mH) @ y)
        return -(low @ common) if ctx.upper else -(common @ low)


def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False) -> Tensor:
    """The solution of ``A X = B`` given ``A``'s Cholesky factor ``L`` (``U`` with ``upper``)."""
    if B.ndim < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {B.ndim} dimensions "
                           "instead")
    if L.ndim < 2:
        raise RuntimeError(f"u should have at least 2 dimensions, but has {L.ndim} dimensions "
                           "instead")
    _floating("cholesky_solve", L)
    return CholeskySolve.apply(B, L, upper=upper)


def cholesky_inverse(L: Tensor, upper: bool = False) -> Tensor:
    """The inverse of ``A`` given its Cholesky factor ``L`` (``U`` with ``upper``)."""
    _square("cholesky_inverse", L, "input")
    _floating("cholesky_inverse", L)
    return CholeskyInverse.apply(L, upper=upper)


def _svd_legacy(input: Tensor, some: bool = True, compute_uv: bool = True) -> tuple:
    """``torch.svd``: ``(U, S, V)`` (V, not Vh)."""
    u, s, vh = linalg_svd(input, full_matrices=not some)
    return _LegacySVD(u, s, vh.mT)


_LegacySVD = return_type("svd", ("U", "S", "V"))
_LegacyQR = return_type("qr", ("Q", "R"))
_LegacySlogdet = return_type("slogdet", ("sign", "logabsdet"))


def _qr_legacy(input: Tensor, some: bool = True) -> tuple:
    return _LegacyQR(*linalg_qr(input, "reduced" if some else "complete"))


def _slogdet_legacy(input: Tensor) -> tuple:
    return _LegacySlogdet(*linalg_slogdet(input))


def _cholesky_legacy(input: Tensor, upper: bool = False) -> Tensor:
    _square("cholesky", input)
    _floating("cholesky", input)
    return CholeskyLegacy.apply(input, upper=upper, name="cholesky")


inverse = inv
svd, qr, slogdet, cholesky = _svd_legacy, _qr_legacy, _slogdet_legacy, _cholesky_legacy

# torch's top-level names: the legacy signatures (svd returns V, qr takes ``some``)
__all__ = ["inverse", "det", "logdet", "slogdet", "pinverse", "matrix_power", "svd", "qr",
           "cholesky", "matrix_exp", "cholesky_solve", "cholesky_inverse"]
TENSOR_METHODS = {name: globals()[name] for name in __all__}
