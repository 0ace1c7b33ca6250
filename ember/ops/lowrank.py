"""Randomized low-rank SVD and PCA, ``svd_lowrank`` and ``pca_lowrank`` (Halko, Martinsson and
Tropp, "Finding structure with randomness", 2011: a Gaussian sketch, ``niter`` subspace
iterations re-orthonormalised by QR, then the SVD of the small projected matrix). Written in
recorded ops, so gradients flow as through torch's; the sketch is drawn from ember's generator
(``ember.manual_seed`` makes it repeatable; torch's draws differ, so results agree with torch's
to the accuracy of the approximation, exactly for matrices of rank <= q)."""
from __future__ import annotations

from typing import Any

from ..tensor import Tensor


def _approximate_basis(A: Tensor, q: int, niter: int) -> Tensor:
    """An orthonormal (..., m, q) basis Q with A ~ Q Q^H A."""
    from ..random import randn
    from .matrix import linalg_qr

    R = randn(A.shape[-1], q, dtype=A.dtype, device=A.device)
    Q = linalg_qr(A @ R).Q
    for _ in range(niter):  # subspace iterations: each sharpens the basis
        Q = linalg_qr(A.mH @ Q).Q
        Q = linalg_qr(A @ Q).Q
    return Q


def _svd_lowrank(A: Tensor, q: int, niter: int, M: Tensor | None) -> tuple:
    from .matrix import linalg_svd

    if M is not None:
        A = A - M
    m, n = A.shape[-2:]
    if m < n:  # the transposed problem is the cheaper one
        V, S, U = _svd_lowrank(A.mH, q, niter, None)
        return U, S, V
    Q = _approximate_basis(A, q, niter)
    U, S, Vh = linalg_svd(Q.mH @ A, full_matrices=False)
    return Q @ U, S, Vh.mH


def svd_lowrank(A: Tensor, q: int | None = 6, niter: int | None = 2,
                M: Tensor | None = None) -> tuple:
    """``(U, S, V)``, an approximate rank-``q`` SVD of ``A`` (or of ``A - M``): ``A ~ U diag(S)
    V^H`` with ``U`` (..., m, q), ``V`` (..., n, q)."""
    q = 6 if q is None else q
    niter = 2 if niter is None else niter
    return _svd_lowrank(A, q, niter, M)


def pca_lowrank(A: Tensor, q: int | None = None, center: bool = True, niter: int = 2) -> Any:
    """``(U, S, V)`` of a randomized PCA of the rows of ``A`` (..., m, n): the principal
    directions are ``V``'s columns; ``center`` subtracts each column's mean first."""
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not (q >= 0 and q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)="
                         f"{min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return _svd_lowrank(A, q, niter, None)
    return _svd_lowrank(A, q, niter, A.mean(dim=-2, keepdim=True))


__all__ = ["svd_lowrank", "pca_lowrank"]
TENSOR_METHODS: dict = {}
