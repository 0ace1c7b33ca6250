"""Older torch-level linear-algebra names programs still call: vdot, chain_matmul (deprecated:
``linalg.multi_dot``), triangular_solve (deprecated: ``linalg.solve_triangular``, and it also
returns a copy of A), frobenius_norm / nuclear_norm (kept by torch for TorchScript), unravel_index
and conj_physical, with torch's nodes, deprecation warnings (once per process, as torch's
TORCH_WARN_ONCE) and errors."""
from __future__ import annotations

import numbers
import warnings
from typing import Any, Sequence

from ._deprecated import user_stacklevel
from ._op import Op
from .. import dtypes as _dt
from ..backend import get_array_module
from ..tensor import Tensor
from . import _reduce_util as ru
from .inplace import apply_inplace, type_name
from .linalg import _check_vectors

_warned: set = set()
_triangular_solve_t = ru.return_type("triangular_solve", ("solution", "cloned_coefficient"))


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, UserWarning, stacklevel=user_stacklevel())


# -- vdot ------------------------------------------------------------------------------------------


class Vdot(Op, name="VdotBackward0"):
    on_arrays = True

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        return xp.asarray(xp.vdot(a, b))  # conj(a) . b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        F = ctx.F
        # d/d conj(a) of sum(conj(a) b): the input's gradient is conj(g) b
        return (F.conj(g) * b if need_a else None), (g * a if need_b else None)


def vdot(input: Tensor, other: Tensor) -> Tensor:
    """``sum(conj(input) * other)`` of two 1-d tensors."""
    _check_vectors("vdot", input, other=other)
    return Vdot.apply(input, other)


# -- chain_matmul, triangular_solve ----------------------------------------------------------------


def chain_matmul(*matrices: Tensor, out: Any = None) -> Tensor:
    """The product of the given matrices, in the cheapest order (deprecated in torch in favour of
    ``linalg.multi_dot``)."""
    from .matrix import multi_dot

    _warn_once("chain_matmul", (
        "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
        "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than "
        "multiple parameters.").replace("torch.", "ember."))
    if len(matrices) == 0:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for t in matrices:
        if t.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {t.ndim}, expected 2 instead.")
    if len(matrices) == 1:
        return matrices[0].clone()
    return multi_dot(list(matrices))


class TriangularSolve(Op, name="TriangularSolveBackward0"):
    """``(X, A.clone())`` with ``op(A) X = B`` for triangular ``A``."""

    @staticmethod
    def forward(ctx, b, a, *, upper, transpose, unitriangular):
        xp = ctx.xp
        ctx.upper, ctx.transpose, ctx.unit = upper, transpose, unitriangular
        batch = xp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        t = xp.broadcast_to(_triangle(xp, a, upper, unitriangular), batch + a.shape[-2:])
        op = xp.swapaxes(t, -1, -2) if transpose else t
        b = xp.broadcast_to(b, batch + b.shape[-2:])
        x = xp.linalg.solve(op, b) if b.size else xp.zeros(b.shape, b.dtype)
        x = xp.ascontiguousarray(x).astype(b.dtype, copy=False)
        ctx.save_for_backward(a, x)
        return x, xp.broadcast_to(a, batch + a.shape[-2:]).copy()  # (A broadcast, as torch's)

    @staticmethod
    def backward(ctx, gx, gm):
        from .matrix import solve_triangular

        a, x = ctx.saved_tensors
        need_b, need_a = ctx.needs_input_grad
        upper, tr = ctx.upper, ctx.transpose
        gb = ga = None
        if gx is not None:
            # op(A) X = B: gB = op(A)^-T gX, gA's triangle from -gB X^T (transposed for op = A^T)
            gb = solve_triangular(a, gx, upper=upper, left=True, unitriangular=ctx.unit) \
                if tr else solve_triangular(a.mT, gx, upper=not upper, unitriangular=ctx.unit)
            if need_a:
                full = -(x @ gb.mT) if tr else -(gb @ x.mT)
                ga = full.triu() if upper else full.tril()
                if ctx.unit:
                    ga = ga.triu(1) if upper else ga.tril(-1)
        if gm is not None and need_a:
            ga = gm if ga is None else ga + gm
        return (gb if need_b else None), ga


def _triangle(xp: Any, a: Any, upper: bool, unit: bool) -> Any:
    t = xp.triu(a) if upper else xp.tril(a)
    if unit:
        n = a.shape[-1]
        t = t.copy()
        t[..., xp.arange(n), xp.arange(n)] = 1
    return t


def triangular_solve(b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False, *, out: Any = None) -> tuple:
    """``(X, A.clone())`` with ``op(A) X = b`` (``op(A) = A^T`` with ``transpose``) for the
    upper (or lower) triangle of ``A`` (deprecated in torch: ``linalg.solve_triangular``)."""
    _warn_once("triangular_solve", (
        "torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangularand will "
        "be removed in a future PyTorch release.\ntorch.linalg.solve_triangular has its "
        "arguments reversed and does not return a copy of one of the inputs.\nX = "
        "torch.triangular_solve(B, A).solution\nshould be replaced with\nX = "
        "torch.linalg.solve_triangular(A, B).").replace("torch.", "ember."))
    for name, t in (("b", b), ("A", A)):
        if t.ndim < 2:
            raise RuntimeError(f"torch.triangular_solve: Expected {name} to have at least 2 "
                               f"dimensions, but it has {t.ndim} dimensions instead"
                               .replace("torch.", "ember."))
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if b.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for triangular_solve: each A matrix "
                           f"is {A.shape[-2]} by {A.shape[-1]} but each b matrix is "
                           f"{b.shape[-2]} by {b.shape[-1]}")
    if b.dtype is not A.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{type_name(b)} and A of type {type_name(A)} instead.")
    if not A.is_floating_point():
        raise NotImplementedError(f"\"triangular_solve_cpu\" not implemented for "
                                  f"'{type_name(A)}'")
    x, m = TriangularSolve.apply(b, A, upper=upper, transpose=transpose,
                                 unitriangular=unitriangular)
    return _triangular_solve_t(x, m)


# -- frobenius_norm, nuclear_norm ----------------------------------------------------------------


def frobenius_norm(input: Tensor, dim: Any, keepdim: bool = False, *, out: Any = None) -> Tensor:
    """The 2-norm over ``dim`` (torch keeps it for TorchScript: ``linalg.vector_norm``)."""
    from .distance import norm_dim

    _warn_once("frobenius_norm", (
        "at::frobenius_norm is deprecated and it is just left for JIT compatibility. It will be "
        "removed in a future PyTorch release. Please use `linalg.vector_norm(A, 2., dim, "
        "keepdim)` instead"))
    return norm_dim(input, 2, dim, keepdim)


def nuclear_norm(input: Tensor, dim: Any = None, keepdim: bool = False, *,
                 out: Any = None) -> Tensor:
    """The sum of singular values over the matrix dims ``dim`` (the last two when None; torch
    keeps it for TorchScript: ``linalg.matrix_norm(A, 'nuc')``)."""
    from .matrix import matrix_norm

    _warn_once("nuclear_norm", (
        "at::nuclear_norm is deprecated and it is just left for JIT compatibility. It will be "
        "removed in a future PyTorch release. Please use `linalg.matrix_norm(A, 'nuc', dim, "
        "keepdim)` instead"))
    if isinstance(dim, bool):  # nuclear_norm(input, keepdim)
        dim, keepdim = None, dim
    return matrix_norm(input, "nuc", dim=(-2, -1) if dim is None else tuple(dim),
                       keepdim=keepdim)


# -- unravel_index, conj_physical ----------------------------------------------------------------


def unravel_index(indices: Tensor, shape: Sequence[int] | int) -> tuple:
    """The coordinates in an array of ``shape`` of the flat ``indices`` (negative ones count
    from the end), one int64 tensor per dim."""
    if not hasattr(indices, "is_complex"):  # torch's own failure on a Python number
        raise AttributeError(f"'{type(indices).__name__}' object has no attribute 'is_complex'")
    if indices.is_complex() or indices.is_floating_point() or indices.dtype is _dt.bool:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    xp = get_array_module(indices._data)
    rest = indices._data.astype("int64")
    coords = []
    for size in reversed(shape):  # one pass per dim of ``shape``
        coords.append(rest % size if size else rest * 0)
        rest = rest // size if size else rest * 0
    return tuple(Tensor._make(xp.asarray(c)) for c in reversed(coords))


class ConjPhysical(Op, name="ConjPhysicalBackward0"):
    on_arrays = True

    @staticmethod
    def forward(ctx, a):
        return ctx.xp.conj(a)

    @staticmethod
    def backward(ctx, g):
        return ctx.F.conj(g)


def conj_physical(input: Tensor) -> Tensor:
    """The complex conjugate, computed (a real tensor is returned as it is)."""
    if not input.is_complex():
        return input
    return ConjPhysical.apply(input)


def conj_physical_(input: Tensor) -> Tensor:
    """In-place :func:`conj_physical`."""
    if not input.is_complex():
        return input
    return apply_inplace(input, conj_physical)


__all__ = ["vdot", "chain_matmul", "triangular_solve", "frobenius_norm", "nuclear_norm",
           "unravel_index", "conj_physical", "conj_physical_"]
TENSOR_METHODS: dict = {"vdot": vdot, "triangular_solve": triangular_solve,
                        "conj_physical": conj_physical, "conj_physical_": conj_physical_}
