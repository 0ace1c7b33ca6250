"""Matrix products: matmul, mm, bmm, mv, dot, outer, addmm, baddbmm, addmv (einsum and
tensordot: einsum.py).

Every product is one ``MatMul`` op whose forward is a single ``xp.matmul`` call (BLAS). Its
``ta``/``tb`` flags transpose the last two dims of an operand, so each backward is again a MatMul
and the op is differentiable to any order. torch decomposes matmul into mm/mv/bmm plus views; the
output's grad_fn carries the name torch gives it, chosen per case by a node subclass.
"""
from __future__ import annotations

import math
from typing import Any

from ._op import Op
from ..tensor import Tensor
from .inplace import type_name

Number = Any

# C++ scalar names, as torch's mm dtype error prints them
_CPP = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
        "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
        "bool": "bool", "complex64": "c10::complex<float>", "complex128": "c10::complex<double>",
        "bfloat16": "c10::BFloat16"}


class MatMul(Op):
    """``op(a) @ op(b)`` with matmul's broadcasting; ``ta``/``tb`` transpose a >= 2-d operand."""

    on_arrays = True

    @staticmethod
    def forward(ctx, a, b, *, ta=False, tb=False):
        ctx.ta, ctx.tb, ctx.nda, ctx.ndb = ta, tb, a.ndim, b.ndim
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        ctx.conj = a.dtype.kind == "c" or b.dtype.kind == "c"
        return ctx.backend.mm(a, b, ta, tb)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        if ctx.conj:  # complex operands: torch's gradients use their conjugates
            a = ctx.F.conj(a) if a is not None else None
            b = ctx.F.conj(b) if b is not None else None
        ta, tb, nda, ndb = ctx.ta, ctx.tb, ctx.nda, ctx.ndb
        F = ctx.F
        mm, unsqueeze = F.mm, F.unsqueeze
        ga = gb = None
        if nda == 1 and ndb == 1:  # dot
            return (g * b if need_a else None), (g * a if need_b else None)
        if nda == 1:  # row vector @ (batched) matrix; g: (..., n)
            if need_a:
                ga = mm(b, g, tb) if g.ndim == 1 else mm(unsqueeze(g, -2), b, False, not tb)
            if need_b:
                gb = unsqueeze(a, -1) * unsqueeze(g, -2) if not tb else \
                    unsqueeze(g, -1) * unsqueeze(a, -2)
            return ga, gb
        if ndb == 1:  # (batched) matrix @ column vector; g: (..., m)
            if need_a:
                ga = unsqueeze(g, -1) * b if not ta else unsqueeze(b, -1) * unsqueeze(g, -2)
            if need_b:
                gb = mm(g, a, False, ta) if g.ndim == 1 else mm(unsqueeze(g, -2), a, False, ta)
            return ga, gb
        # C = A @ B: dA = G @ B^T and dB = A^T @ G, mapped back through the transpose flags
        if need_a:
            ga = mm(g, b, False, not tb) if not ta else mm(b, g, tb, True)
        if need_b:
            if ndb == 2 and nda > 2 and not ta:
                # fold the batch into one GEMM rather than summing a batch of outer products
                rows = math.prod(a.shape[:-1])
                a2, g2 = a.reshape(rows, a.shape[-1]), g.reshape(rows, g.shape[-1])
                gb = mm(a2, g2, True) if not tb else mm(g2, a2, True)
            else:
                gb = mm(a, g, not ta) if not tb else mm(g, a, True, ta)
        return ga, gb


class Mm(MatMul, name="MmBackward0"):
    pass


class Mv(MatMul, name="MvBackward0"):
    pass


class Dot(MatMul, name="DotBackward0"):
    pass


class Bmm(MatMul, name="BmmBackward0"):
    pass


class _VecMat(MatMul, name="SqueezeBackward4"):  # torch: (1 x k) mm, then squeeze
    pass


class _Batched(MatMul, name="UnsafeViewBackward0"):  # torch: folded mm/mv or bmm, then a view
    pass


class _BatchedClone(MatMul, name="CloneBackward0"):  # torch: 2-d @ n-d folds, then .mT.contiguous()
    pass


class _BatchedT(MatMul, name="TransposeBackward0"):  # ... where .mT was already contiguous
    pass


def _mm(a: Tensor, b: Tensor, ta: bool = False, tb: bool = False) -> Tensor:
    """MatMul as used inside backwards; the node name follows the operands' dims."""
    da, db = a.ndim, b.ndim
    if da == 2 and db == 2:
        cls = Mm
    elif da == 2 and db == 1:
        cls = Mv
    elif da == 1 and db == 2:
        cls = _VecMat
    else:
        cls = _Batched
    return cls.apply(a, b, ta=ta, tb=tb)


class Addmm(Op, name="AddmmBackward0"):
    """``beta * input + alpha * (m1 @ m2)``; also baddbmm and addmv, by node subclass."""

    on_arrays = True

    @staticmethod
    def forward(ctx, c, a, b, *, beta=1, alpha=1):
        ctx.beta, ctx.alpha = beta, alpha
        _, need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        # m2 stored transposed (linear's weight.t()): its gradient is made in that layout too, as
        # torch's mm_mat2_backward does, so the weight's own gradient comes out C-contiguous
        ctx.b_transposed = b.ndim == 2 and b.flags.f_contiguous and not b.flags.c_contiguous
        out = ctx.xp.matmul(a, b)
        if out.dtype.kind != "f":  # torch converts the scalars to the integer type
            beta, alpha = int(beta), int(alpha)
        if alpha != 1:
            out = out * alpha
        if beta != 0:  # beta == 0 ignores input entirely, NaNs included
            c = c if beta == 1 else c * beta
            if c.dtype == out.dtype:
                out += c  # the product is a fresh array, and c broadcasts to its shape
            else:
                out = out + c
        return out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        need_c, need_a, need_b = ctx.needs_input_grad
        alpha, beta = ctx.alpha, ctx.beta
        F = ctx.F
        gc = ga = gb = None
        if need_c:
            gc = g if beta == 1 else g * beta
        if need_a:  # addmv's vec is 1-d: its matrix gradient is an outer product
            ga = F.mm(g, b, False, True) if b.ndim > 1 else F.unsqueeze(g, -1) * b
            ga = ga if alpha == 1 else ga * alpha
        if need_b:
            gb = F.t(F.mm(g, a, True)) if ctx.b_transposed else F.mm(a, g, True)
            gb = gb if alpha == 1 else gb * alpha
        return gc, ga, gb


class Baddbmm(Addmm, name="BaddbmmBackward0"):
    pass


class Addmv(Addmm, name="AddmvBackward0"):
    pass


# -- checks with torch's messages -----------------------------------------------------------------


def _need_tensors(fname: str, **args: Any) -> None:
    for pos, (name, value) in enumerate(args.items(), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"{fname}(): argument '{name}' (position {pos}) must be Tensor, not "
                            f"{type(value).__name__}")


def _not_bool(kernel: str, t: Tensor) -> None:
    if t._data.dtype.kind == "b":
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def _check_mm(s1: tuple, s2: tuple, a: Tensor, b: Tensor) -> None:
    if s1[1] != s2[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({s1[0]}x{s1[1]} and "
                           f"{s2[0]}x{s2[1]})")
    da, db = a._data.dtype, b._data.dtype
    if da is not db and da != db:
        raise RuntimeError("expected m1 and m2 to have the same dtype, but got: "
                           f"{_CPP[a.dtype.name]} != {_CPP[b.dtype.name]}")
    if da.kind == "b":
        _not_bool("addmm_impl_cpu_", a)


def _check_mv(sm: tuple, sv: tuple, mat: Tensor, vec: Tensor, inp: Tensor | None = None) -> None:
    rows = sm[0] if inp is None or inp.ndim == 0 or inp.shape[0] == 1 else inp.shape[0]
    if sm[1] != sv[0] or rows != sm[0]:
        raise RuntimeError(f"size mismatch, got input ({rows}), mat ({sm[0]}x{sm[1]}), "
                           f"vec ({sv[0]})")
    first = vec if inp is None else inp  # plain mv's "input" is its result, typed like vec
    if not first.dtype is mat.dtype is vec.dtype:
        raise RuntimeError("addmv input tensors must have the same dtype, but got "
                           f"{type_name(first)}, {type_name(mat)}, and {type_name(vec)}")
    _not_bool("addmv_impl_cpu", mat)


def _check_bmm(s1: tuple, s2: tuple, a: Tensor, b: Tensor, kernel: str = "bmm") -> None:
    if s2[0] != s1[0] or s2[1] != s1[2]:
        raise RuntimeError("Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{s1[0]}, {s1[2]}] but got: [{s2[0]}, {s2[1]}].")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected scalar type {type_name(a)} but found {type_name(b)}")
    _not_bool(kernel, a)


def _broadcast_batch(sa: tuple, sb: tuple) -> tuple:
    n = max(len(sa), len(sb))
    sa, sb = (1,) * (n - len(sa)) + tuple(sa), (1,) * (n - len(sb)) + tuple(sb)
    for i, (x, y) in enumerate(zip(sa, sb)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) "
                               f"at non-singleton dimension {i}")
    return tuple(max(x, y) if x and y else 0 for x, y in zip(sa, sb))


def _check_expand(t: Tensor, shape: tuple) -> None:
    """torch's errors for ``input.expand(shape)`` (addmm's ``input`` broadcast to the result)."""
    if t.ndim > len(shape):
        raise RuntimeError(
            f"expand(ember.{type_name(t)}Tensor{{{list(t.shape)}}}, size={list(shape)}): the "
            f"number of sizes provided ({len(shape)}) must be greater or equal to the number of "
            f"dimensions in the tensor ({t.ndim})")
    lead = len(shape) - t.ndim
    for i, s in enumerate(t.shape):
        if s != 1 and s != shape[lead + i]:
            raise RuntimeError(
                f"The expanded size of the tensor ({shape[lead + i]}) must match the existing "
                f"size ({s}) at non-singleton dimension {lead + i}.  Target sizes: "
                f"{list(shape)}.  Tensor sizes: {list(t.shape)}")


def _should_fold(sa: tuple, sb: tuple, st_a: tuple, st_b: tuple, rg_a: bool, rg_b: bool) -> bool:
    """torch's choice between folding the batch into one mm/mv and broadcasting for bmm."""
    if len(sa) >= len(sb):
        shape1, st1, dim2, rg2 = sa, st_a, len(sb), rg_b
    else:  # torch folds other.mT instead
        shape1, st1 = sb[:-2] + (sb[-1], sb[-2]), st_b[:-2] + (st_b[-1], st_b[-2])
        dim2, rg2 = len(sa), rg_a
    if not (len(shape1) >= 3 and dim2 <= 2):
        return False
    if rg2:  # folding keeps the gradient of the small operand from being a broadcast batch
        return True
    if len(sa) == 2:
        return False
    if math.prod(shape1) == 0:
        return True
    return all(st1[i] == st1[i + 1] * shape1[i + 1] for i in range(len(shape1) - 2))


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with torch's rules for 1-d operands and broadcast batch dimensions."""
    if not (isinstance(input, Tensor) and isinstance(other, Tensor)):
        _need_tensors("matmul", input=input, other=other)
    da, db = input._data.ndim, other._data.ndim
    if da == 2 and db == 2:  # the common case first: mm without its repeated checks
        _check_mm(input._data.shape, other._data.shape, input, other)
        return Mm.apply(input, other)
    if da == 0 or db == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                           f"{da}D and {db}D")
    if da == 1 and db == 1:
        return dot(input, other)
    if da == 2 and db == 1:
        return mv(input, other)
    if da == 1 and db == 2:
        _check_mm((1, input.shape[0]), other.shape, input, other)
        return _VecMat.apply(input, other)
    # torch's kernel choice (and so the output's grad_fn and error messages) depends on shapes,
    # strides and requires_grad; the product itself is always one broadcasting xp.matmul
    sa, sb = tuple(input.shape), tuple(other.shape)
    st_a, st_b = input.stride(), other.stride()
    rg_a, rg_b = input.requires_grad, other.requires_grad
    if da == 3 and db == 3 and (sa[0] == 1) != (sb[0] == 1):
        # a 3-d operand with a batch of one that requires grad is squeezed to a matrix first
        if sa[0] == 1 and rg_a:
            sa, st_a, da = sa[1:], st_a[1:], 2
        elif sb[0] == 1 and rg_b:
            sb, st_b, db = sb[1:], st_b[1:], 2
    if _should_fold(sa, sb, st_a, st_b, rg_a, rg_b):
        cls = _Batched
        if da >= db:  # fold input's batch into rows
            rows = math.prod(sa[:-1])
            if db == 1:
                _check_mv((rows, sa[-1]), sb, input, other)
            else:
                _check_mm((rows, sa[-1]), sb, input, other)
        else:  # torch computes (other.mT folded) @ input.mT, then transposes back
            rows = math.prod(sb[:-2]) * sb[-1]
            if da == 1:
                _check_mv((rows, sb[-2]), sa, other, input)
            else:
                _check_mm((rows, sb[-2]), (sa[1], sa[0]), other, input)
                n, p = sa[0], sb[-1]
                contiguous = n == 1 or p == 1 or rows * n == 0
                cls = _BatchedT if contiguous else _BatchedClone
        return cls.apply(input, other)
    nb = math.prod(_broadcast_batch(sa[:-2], sb[:-2]))
    m2 = sb[-2] if db > 1 else sb[0]
    n = sa[-2] if da > 1 else 1
    p = sb[-1] if db > 1 else 1
    _check_bmm((nb, n, sa[-1]), (nb, m2, p), input, other)
    return _Batched.apply(input, other)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Product of two matrices (2-d only, no broadcasting)."""
    _need_tensors("mm", input=input, mat2=mat2)
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    _check_mm(input.shape, mat2.shape, input, mat2)
    return Mm.apply(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched product of two 3-d tensors of matrices (no broadcasting)."""
    _need_tensors("bmm", input=input, mat2=mat2)
    if input.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    _check_bmm(input.shape, mat2.shape, input, mat2)
    return Bmm.apply(input, mat2)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Product of a matrix and a vector."""
    _need_tensors("mv", input=input, vec=vec)
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, {vec.ndim}")
    _check_mv(input.shape, vec.shape, input, vec)
    return Mv.apply(input, vec)


def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """Inner product of two 1-d tensors."""
    _check_vectors("dot", input, tensor=tensor)
    return Dot.apply(input, tensor)


def _check_vectors(fname: str, input: Tensor, **other: Any) -> None:
    """torch's checks of dot's and vdot's operands, in its order (``other``: the second's
    parameter name and value)."""
    _need_tensors(fname, input=input, **other)
    (tensor,) = other.values()
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    if input.dtype is not tensor.dtype:
        raise RuntimeError("dot : expected both vectors to have same dtype, but found "
                           f"{type_name(input)} and {type_name(tensor)}")
    n, m = input.shape[0], tensor.shape[0]
    if n != m:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to "
                           f"have the same number of elements, but got {n} and {m} elements "
                           "respectively")
    _not_bool(fname, input)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two vectors (torch computes it as a broadcast multiply)."""
    from .elementwise import mul

    for name, t in (("self", input), ("vec2", vec2)):
        if t.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D")
    return mul(input.reshape(-1, 1), vec2)


ger = outer


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Number = 1,
          alpha: Number = 1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``, with ``input`` broadcast to the product."""
    _need_tensors("addmm", input=input, mat1=mat1, mat2=mat2)
    for name, t in (("self", input), ("mat1", mat1)):
        if t.dtype is not mat2.dtype:
            raise RuntimeError(f"{name} and mat2 must have the same dtype, but got "
                               f"{type_name(t)} and {type_name(mat2)}")
    for name, t in (("mat1", mat1), ("mat2", mat2)):
        if t.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix, got {t.ndim}-D tensor")
    _check_mm(mat1.shape, mat2.shape, mat1, mat2)
    _check_expand(input, (mat1.shape[0], mat2.shape[1]))
    return Addmm.apply(input, mat1, mat2, beta=beta, alpha=alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Number = 1,
            alpha: Number = 1) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)``, with ``input`` broadcast."""
    _need_tensors("baddbmm", input=input, batch1=batch1, batch2=batch2)
    for name, t in (("batch1", batch1), ("batch2", batch2)):
        if t.ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")
    if not input.dtype is batch1.dtype is batch2.dtype:
        raise RuntimeError(f"Input dtypes must be the same, got: input {_CPP[input.dtype.name]}, "
                           f"batch1: {_CPP[batch1.dtype.name]}, batch2: {_CPP[batch2.dtype.name]}")
    s1, s2 = batch1.shape, batch2.shape
    _check_expand(input, (s1[0], s1[1], s2[2]))
    _check_bmm(s1, s2, batch1, batch2, kernel="baddbmm")
    return Baddbmm.apply(input, batch1, batch2, beta=beta, alpha=alpha)


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta: Number = 1,
          alpha: Number = 1) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``, with ``input`` broadcast."""
    _need_tensors("addmv", input=input, mat=mat, vec=vec)
    if mat.ndim != 2 or vec.ndim != 1 or input.ndim > 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.ndim}, {mat.ndim}, "
                           f"{vec.ndim}")
    _check_mv(mat.shape, vec.shape, mat, vec, input)
    return Addmv.apply(input, mat, vec, beta=beta, alpha=alpha)


__all__ = ["matmul", "mm", "bmm", "mv", "dot", "outer", "ger", "addmm", "baddbmm", "addmv"]


def _matmul_method(self: Tensor, other: Any) -> Any:
    return matmul(self, other) if isinstance(other, Tensor) else NotImplemented


def _rmatmul_method(self: Tensor, other: Any) -> Any:
    return matmul(other, self) if isinstance(other, Tensor) else NotImplemented


TENSOR_METHODS = {
    "matmul": matmul, "mm": mm, "bmm": bmm, "mv": mv, "dot": dot, "outer": outer, "ger": outer,
    "addmm": addmm, "baddbmm": baddbmm, "addmv": addmv,
    "__matmul__": _matmul_method, "__rmatmul__": _rmatmul_method,
}
