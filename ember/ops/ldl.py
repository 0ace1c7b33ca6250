"""``linalg.ldl_factor``/``ldl_factor_ex``/``ldl_solve``: the Bunch-Kaufman LDL^T factorization
of symmetric matrices in LAPACK's compact form (``sytrf``, lower triangle; 1x1 and 2x2 pivot
blocks, negative pivots marking the 2x2 ones) and the solve from it (``sytrs``).

The algorithm's columns are its own sequence, so one loop runs over them; each step is one array
operation over the whole batch, every matrix at its own column (a 2x2 pivot advances a matrix
two columns). As in torch, neither has a derivative."""
from __future__ import annotations

import math
from typing import Any

from ..tensor import Tensor, _wrap_dim
from . import _reduce_util as ru
from .elementwise import _NoDerivative
from .inplace import type_name

_ALPHA = (1.0 + math.sqrt(17.0)) / 8.0  # Bunch-Kaufman's growth bound
_ldl_t = ru.return_type("linalg_ldl_factor", ("LD", "pivots"))
_ldl_ex_t = ru.return_type("linalg_ldl_factor_ex", ("LD", "pivots", "info"))


def _swap_rows(xp: Any, m: Any, bi: Any, r1: Any, r2: Any, where: Any) -> None:
    """Swaps rows ``r1[b]`` and ``r2[b]`` of each matrix ``m[b]`` at the columns ``where[b]``."""
    a, b = m[bi, r1].copy(), m[bi, r2].copy()
    m[bi, r1] = xp.where(where, b, a)
    m[bi, r2] = xp.where(where, a, b)


def _sytrf(xp: Any, a: Any) -> tuple:
    """(LD, pivots, info) of a (B, n, n) batch, from its lower triangles."""
    nb, n = a.shape[0], a.shape[-1]
    low = xp.tril(a)
    s = low + xp.swapaxes(xp.tril(a, -1), -1, -2)  # symmetric storage of the trailing blocks
    bi, idx = xp.arange(nb), xp.arange(n)
    k = xp.zeros(nb, dtype="int64")
    piv = xp.zeros((nb, n), dtype="int32")
    info = xp.zeros(nb, dtype="int32")
    while n and bool((k < n).any()):
        act = k < n
        kc = xp.minimum(k, n - 1)
        akk = xp.abs(s[bi, kc, kc])
        col = xp.where(idx[None, :] > kc[:, None], xp.abs(s[bi, :, kc]), -1.0)
        imax = xp.argmax(col, axis=1)
        colmax = xp.maximum(col[bi, imax], 0.0)
        row = xp.where((idx[None, :] >= kc[:, None]) & (idx[None, :] != imax[:, None]),
                       xp.abs(s[bi, imax, :]), 0.0)
        rowmax = row.max(axis=1)
        zero = xp.maximum(akk, colmax) == 0
        with ru.quiet(akk):
            keep = zero | (akk >= _ALPHA * colmax) | (
                akk >= _ALPHA * colmax * (colmax / rowmax))
        big = xp.abs(s[bi, imax, imax]) >= _ALPHA * rowmax
        kp = xp.where(keep, kc, imax)
        two = act & ~keep & ~big
        info = xp.where(act & zero & (info == 0), kc + 1, info)
        kk = kc + two
        # the interchange of rows and columns kk and kp in the trailing block
        trailing = act[:, None] & (idx[None, :] >= kc[:, None])
        _swap_rows(xp, s, bi, kk, kp, trailing)
        st = xp.swapaxes(s, -1, -2)  # (a view: the column swap, written through it)
        _swap_rows(xp, st, bi, kk, kp, trailing)
        one = act & ~two & ~zero
        below1 = idx[None, :] > kc[:, None]
        # a 1x1 pivot d: the rank-1 update by the column over d, then the column of L
        with ru.quiet(akk):
            d = xp.where(one, s[bi, kc, kc], 1.0)
            c = xp.where(below1 & one[:, None], s[bi, :, kc], 0.0)
            s -= c[:, :, None] * (c / d[:, None])[:, None, :]
            s[bi, :, kc] = xp.where(below1 & one[:, None], c / d[:, None], s[bi, :, kc])
        # a 2x2 pivot [[a, b], [b, c]]: LAPACK's scaled inverse, then the rank-2 update
        k1 = xp.minimum(kc + 1, n - 1)
        below2 = (idx[None, :] > k1[:, None]) & two[:, None]
        if bool(below2.any()):
            with ru.quiet(akk):
                d21 = xp.where(two, s[bi, k1, kc], 1.0)
                d11 = s[bi, k1, k1] / d21
                d22 = s[bi, kc, kc] / d21
                t = 1.0 / (d11 * d22 - 1.0)
                d21 = t / d21
                w0 = xp.where(below2, s[bi, :, kc], 0.0)
                w1 = xp.where(below2, s[bi, :, k1], 0.0)
                wk = d21[:, None] * (d11[:, None] * w0 - w1)
                wk1 = d21[:, None] * (d22[:, None] * w1 - w0)
                s -= w0[:, :, None] * wk[:, None, :] + w1[:, :, None] * wk1[:, None, :]
                s[bi, :, kc] = xp.where(below2, wk, s[bi, :, kc])
                s[bi, :, k1] = xp.where(below2, wk1, s[bi, :, k1])
        p = xp.where(two, -(kp + 1), kp + 1).astype("int32")
        piv[bi, kc] = xp.where(act, p, piv[bi, kc])
        piv[bi, k1] = xp.where(two, p, piv[bi, k1])
        k = xp.where(act, k + 1 + two, k)
    return xp.tril(s), piv, info.astype("int32")


class LdlFactor(_NoDerivative, name="NotImplemented"):
    aten = "linalg_ldl_factor_ex"

    @staticmethod
    def backward(ctx, *grads):  # (three outputs)
        return _NoDerivative.backward(ctx, grads[0])

    @staticmethod
    def forward(ctx, a):
        xp = ctx.xp
        n = a.shape[-1]
        ld, piv, info = _sytrf(xp, a.reshape((math.prod(a.shape[:-2]), n, n)))
        piv, info = piv.reshape(a.shape[:-1]), xp.asarray(info.reshape(a.shape[:-2]))
        ctx.mark_non_differentiable(piv, info)
        return ld.reshape(a.shape).astype(a.dtype, copy=False), piv, info


def _check_square(name: str, A: Tensor) -> None:
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if A.is_complex():
        raise NotImplementedError(f"{name}: complex inputs are not supported by ember yet")
    if not A.is_floating_point():
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{type_name(A)}")


def _error(name: str, info: int) -> RuntimeError:
    # torch reports a zero pivot as an unknown LAPACK code, through its internal assert
    return RuntimeError(
        'false INTERNAL ASSERT FAILED at "/__w/pytorch/pytorch/aten/src/ATen/native/'
        'BatchLinearAlgebra.cpp":1642, please report a bug to PyTorch. '
        f"{name}: Unknown error code: {info}.")


def ldl_factor_ex(A: Tensor, *, hermitian: bool = False, check_errors: bool = False) -> tuple:
    """``(LD, pivots, info)``: the compact LDL^T factorization of the symmetric ``A`` (read
    from its lower triangle); ``info`` > 0 names a zero 1x1 pivot."""
    _check_square("ember.linalg.ldl_factor_ex", A)
    ld, piv, info = LdlFactor.apply(A)
    if check_errors and bool((info._data != 0).any()):
        raise _error("ember.linalg.ldl_factor_ex", int(info._data.reshape(-1).max()))
    return _ldl_ex_t(ld, piv, info)


def ldl_factor(A: Tensor, *, hermitian: bool = False) -> tuple:
    """``(LD, pivots)``: the compact LDL^T factorization of the symmetric ``A``."""
    _check_square("ember.linalg.ldl_factor_ex", A)
    ld, piv, info = LdlFactor.apply(A)
    if bool((info._data != 0).any()):
        raise _error("ember.linalg.ldl_factor", int(info._data.reshape(-1).max()))
    return _ldl_t(ld, piv)


def _sytrs(xp: Any, ld: Any, piv: Any, b: Any) -> Any:
    """LAPACK's sytrs (lower) on a batch: L D L^T X = P B, one pivot block per step."""
    nb, n = ld.shape[0], ld.shape[-1]
    x = b.copy()
    bi, idx = xp.arange(nb), xp.arange(n)
    k = xp.zeros(nb, dtype="int64")
    while n and bool((k < n).any()):  # forward: P, L and D
        act = k < n
        kc = xp.minimum(k, n - 1)
        p = piv[bi, kc]
        two = act & (p < 0)
        one = act & (p > 0)
        kp = xp.where(p > 0, p - 1, -p - 1)
        k1 = xp.minimum(kc + 1, n - 1)
        _swap_rows(xp, x, bi, xp.where(two, k1, kc), kp, act[:, None])
        below = xp.where(two, k1, kc)
        lmask = (idx[None, :] > below[:, None]) & act[:, None]
        l0 = xp.where(lmask, ld[bi, :, kc], 0.0)
        l1 = xp.where(lmask & two[:, None], ld[bi, :, k1], 0.0)
        x -= l0[:, :, None] * x[bi, kc][:, None, :] + l1[:, :, None] * x[bi, k1][:, None, :]
        with ru.quiet(x):
            d = xp.where(one, ld[bi, kc, kc], 1.0)
            x[bi, kc] = xp.where(one[:, None], x[bi, kc] / d[:, None], x[bi, kc])
            akm1k = xp.where(two, ld[bi, k1, kc], 1.0)
            akm1 = ld[bi, kc, kc] / akm1k
            ak = ld[bi, k1, k1] / akm1k
            denom = akm1 * ak - 1.0
            bkm1 = x[bi, kc] / akm1k[:, None]
            bk = x[bi, k1] / akm1k[:, None]
            new0 = (ak[:, None] * bkm1 - bk) / denom[:, None]
            new1 = (akm1[:, None] * bk - bkm1) / denom[:, None]
            x[bi, kc] = xp.where(two[:, None], new0, x[bi, kc])
            x[bi, k1] = xp.where(two[:, None], new1, x[bi, k1])
        k = xp.where(act, k + 1 + two, k)
    k = xp.full(nb, n - 1, dtype="int64")
    while n and bool((k >= 0).any()):  # backward: L^T, then P^T
        act = k >= 0
        kc = xp.maximum(k, 0)
        p = piv[bi, kc]
        two = act & (p < 0)
        km1 = xp.maximum(kc - 1, 0)
        lmask = (idx[None, :] > kc[:, None]) & act[:, None]
        l0 = xp.where(lmask, ld[bi, :, kc], 0.0)
        l1 = xp.where(lmask & two[:, None], ld[bi, :, km1], 0.0)
        r0 = (l0[:, :, None] * x).sum(axis=1)
        r1 = (l1[:, :, None] * x).sum(axis=1)
        x[bi, kc] = x[bi, kc] - r0
        x[bi, km1] = xp.where(two[:, None], x[bi, km1] - r1, x[bi, km1])
        kp = xp.where(p > 0, p - 1, -p - 1)
        _swap_rows(xp, x, bi, kc, kp, act[:, None])
        k = xp.where(act, k - 1 - two, k)
    return x


class LdlSolve(_NoDerivative, name="NotImplemented"):
    aten = "linalg_ldl_solve"

    @staticmethod
    def forward(ctx, ld, b, *, piv):
        xp = ctx.xp
        n = ld.shape[-1]
        batch = xp.broadcast_shapes(ld.shape[:-2], b.shape[:-2])
        m = math.prod(batch)
        ldb = xp.broadcast_to(ld, batch + (n, n)).reshape((m, n, n))
        pb = xp.broadcast_to(piv, batch + (n,)).reshape((m, n))
        bb = xp.broadcast_to(b, batch + b.shape[-2:]).reshape((m,) + b.shape[-2:])
        return _sytrs(xp, ldb, pb, bb.astype(ld.dtype)).reshape(batch + b.shape[-2:])


def ldl_solve(LD: Tensor, pivots: Tensor, B: Tensor, *, hermitian: bool = False) -> Tensor:
    """The solution ``X`` of ``A X = B`` from ``ldl_factor``'s ``(LD, pivots)`` of ``A``."""
    _wrap_dim(-2, B.ndim)  # torch's IndexError for a vector B
    if B.dtype is not LD.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{type_name(B)} and A of type {type_name(LD)} instead.")
    if B.shape[-2] != LD.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for ember.linalg.ldl_solve: each A matrix "
                           f"is {LD.shape[-2]} by {LD.shape[-1]} but each b matrix is "
                           f"{B.shape[-2]} by {B.shape[-1]}")
    return LdlSolve.apply(LD, B, piv=pivots._data)


__all__: list[str] = []  # torch.linalg's names (ember.linalg imports them)
TENSOR_METHODS: dict = {}
