"""``einsum`` and ``tensordot``: one op whose gradients are einsums again."""
from __future__ import annotations

import itertools
from typing import Any, Sequence

from ._op import Op
from ..tensor import Tensor
from .inplace import type_name
from .linalg import _not_bool


# -- einsum and tensordot -------------------------------------------------------------------------
# Labels are ints: A-Z are 0-25 and a-z 26-51 (torch's order, so implicit outputs sort alike);
# ellipsis dims get 52, 53, ... aligned from the right across operands.
_ELL = 52


class Einsum(Op):
    """``xp.einsum`` over integer labels; each gradient is one more einsum of ``g`` with the other
    operands (plus constant ones/eye operands for broadcast and repeated labels)."""

    @staticmethod
    def forward(ctx, *arrays, subs, out, dtype):
        ctx.subs, ctx.out = subs, out
        ctx.shapes = [a.shape for a in arrays]
        need = ctx.needs_input_grad
        ctx.save_for_backward(*(a if any(need[:j] + need[j + 1:]) else None
                                for j, a in enumerate(arrays)))
        xp = ctx.xp
        ids = {lab: i for i, lab in enumerate(sorted(set(out).union(*subs)))}  # numpy wants < 52
        args: list = []
        for a, sub in zip(arrays, subs):
            args += [a.astype(dtype, copy=False), [ids[lab] for lab in sub]]
        res = xp.einsum(*args, [ids[lab] for lab in out], optimize=len(arrays) > 1)
        if len(arrays) == 1 and xp.may_share_memory(res, arrays[0]):
            res = res.copy()  # numpy returns views for pure permutes/diagonals
        return res

    @staticmethod
    def backward(ctx, g):
        saved, subs, out = ctx.saved_tensors, ctx.subs, ctx.out
        fresh = itertools.count(max(set(out).union(*subs), default=0) + 1)
        grads = []
        for k, need in enumerate(ctx.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            # (complex operands enter conjugated: torch's gradient convention)
            ops = [g] + [t.conj() if t.is_complex() else t for j, t in enumerate(saved) if j != k]
            op_subs = [out] + [s for j, s in enumerate(subs) if j != k]
            have: dict = {}  # label -> its size among g and the other operands
            for sub, t in zip(op_subs, ops):
                for lab, size in zip(sub, t.shape):
                    have[lab] = size if have.get(lab, 1) == 1 else have[lab]
            target: list = []
            for lab, size in zip(subs[k], ctx.shapes[k]):
                if lab in target:  # a repeated label (a diagonal): tie a new label with eye
                    new = next(fresh)
                    ops.append(Tensor._make(ctx.xp.eye(size, dtype=g._data.dtype)))
                    op_subs.append([lab, new])
                    lab = new
                elif lab not in have or have[lab] == 1 != size:  # summed/broadcast only here:
                    ops.append(Tensor._make(ctx.xp.ones(size, dtype=g._data.dtype)))
                    op_subs.append([lab])  # its gradient is constant along it
                target.append(lab)
            grads.append(_einsum_node(op_subs, target).apply(
                *ops, subs=op_subs, out=target, dtype=g._data.dtype))
        return tuple(grads)


class _EinsumView(Einsum, name="ViewBackward0"):  # torch: bmm contractions, then a view
    pass


class _EinsumSum(Einsum, name="SumBackward1"):  # torch: one operand, summed dims
    pass


class _EinsumMul(Einsum, name="MulBackward0"):  # torch: nothing contracted, a broadcast mul
    pass


class _EinsumPermute(Einsum, name="PermuteBackward0"):  # torch: one operand, nothing summed
    pass


def _einsum_node(subs: list, out: list) -> type:
    contracted = bool(set().union(*subs) - set(out))
    if len(subs) > 1:
        return _EinsumView if contracted else _EinsumMul
    return _EinsumSum if contracted else _EinsumPermute


def _char(lab: int) -> str:
    return chr(65 + lab) if lab < 26 else chr(97 + lab - 26)


def _parse_term(eq: str, start: int, stop: int, what: str, terms: list, n_ops: int) -> None:
    """Appends the labels of ``eq[start:stop]`` (-1 marks an ellipsis) to ``terms``; commas start
    a new term unless ``what`` is "output"."""
    i = start
    while i < stop:
        c = eq[i]
        where = f"operand {len(terms) - 1}" if what != "output" else "output"
        if c == ".":
            if -1 in terms[-1]:
                raise RuntimeError(f"einsum(): found '.' for {where} "
                                   + ("but an ellipsis (...) was already found" if what == "output"
                                      else "for which an ellipsis was already found"))
            if eq[i + 1:i + 3] != ".." or i + 3 > stop:
                raise RuntimeError(f"einsum(): found '.' for {where} that is not part of any "
                                   + ("ellipsis (...)" if what == "output" else "ellipsis"))
            terms[-1].append(-1)
            i += 2
        elif c == "," and what != "output":
            if len(terms) == n_ops:
                raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                                   "equation")
            terms.append([])
        elif c.isascii() and c.isalpha():
            terms[-1].append(ord(c) - 65 if c <= "Z" else ord(c) - 97 + 26)
        elif c != " ":
            raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation "
                               "string, subscripts must be in [a-zA-Z]")
        i += 1


def _einsum_labels(equation: str, operands: Sequence[Tensor]) -> tuple[list, list]:
    """Per-operand label lists and the output labels, validated with torch's messages."""
    arrow = equation.find("->")
    terms: list = [[]]
    _parse_term(equation, 0, len(equation) if arrow < 0 else arrow, "input", terms, len(operands))
    if len(terms) != len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    out_term = None
    if arrow >= 0:
        out_terms: list = [[]]
        _parse_term(equation, arrow + 2, len(equation), "output", out_terms, 1)
        out_term = out_terms[0]
    ell = 0
    for k, (term, t) in enumerate(zip(terms, operands)):
        n = len(term) - (-1 in term)
        if -1 in term and n > t.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) is more "
                               f"than the number of dimensions ({t.ndim}) for operand {k}")
        if -1 not in term and n != t.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) does not "
                               f"match the number of dimensions ({t.ndim}) for operand {k} and no "
                               "ellipsis was given")
        ell = max(ell, t.ndim - n) if -1 in term else ell
    subs = []
    for term, t in zip(terms, operands):
        e = t.ndim - (len(term) - 1)
        sub: list = []
        for lab in term:
            sub += range(_ELL + ell - e, _ELL + ell) if lab == -1 else [lab]
        subs.append(sub)
    all_labels = [lab for sub in subs for lab in sub]
    if out_term is None:
        once = sorted(lab for lab in set(all_labels) if lab < _ELL and all_labels.count(lab) == 1)
        return subs, list(range(_ELL, _ELL + ell)) + once
    out: list = []
    for lab in out_term:
        if lab == -1:
            out += range(_ELL, _ELL + ell)
        elif lab in out:
            raise RuntimeError(f"einsum(): output subscript {_char(lab)} appears more than once "
                               "in the output")
        elif lab not in all_labels:
            raise RuntimeError(f"einsum(): output subscript {_char(lab)} does not appear in the "
                               "equation for any input operand")
        else:
            out.append(lab)
    return subs, out


def _check_einsum_sizes(subs: list, operands: Sequence[Tensor]) -> None:
    for k, (sub, t) in enumerate(zip(subs, operands)):
        for d, lab in enumerate(sub):
            first = sub.index(lab)
            if t.shape[d] != t.shape[first]:
                raise RuntimeError(f"einsum(): subscript {_char(lab)} is repeated for operand {k} "
                                   f"but the sizes don't match, {t.shape[d]} != {t.shape[first]}")
    sizes: dict = {}
    for k, (sub, t) in enumerate(zip(subs, operands)):
        ell_at = next((d for d, lab in enumerate(sub) if lab >= _ELL), 0)
        for d, (lab, s) in enumerate(zip(sub, t.shape)):
            prev = sizes.get(lab, 1)
            if s != prev and s != 1 and prev != 1:
                if lab >= _ELL:
                    raise RuntimeError(
                        f"einsum(): dimension {d - ell_at} covered by "
                        f"ellipsis in operand {k}has size {s} which does not broadcast with "
                        f"previously seen ellipsis with size {prev} for the respective dimension")
                raise RuntimeError(f"einsum(): subscript {_char(lab)} has size {s} for operand {k} "
                                   f"which does not broadcast with previously seen size {prev}")
            if prev == 1:
                sizes[lab] = s


def _einsum_dtype(subs: list, out: list, operands: Sequence[Tensor]) -> Any:
    """torch's result dtype: bmm contractions need equal dtypes, multiplies promote, and a sum
    over an integer operand gives int64."""
    from ..dtypes import int64, promote_types

    contracted = set().union(*subs) - set(out)
    counts = {lab: sum(lab in sub and t.shape[sub.index(lab)] != 1
                       for sub, t in zip(subs, operands)) for lab in contracted}
    dtype = operands[0].dtype
    for t in operands[1:]:
        if t.dtype is not dtype and any(c > 1 for c in counts.values()):
            raise RuntimeError(f"expected scalar type {type_name(dtype)} but found {type_name(t)}")
        dtype = promote_types(dtype, t.dtype)
    if dtype.is_floating_point:
        return dtype
    if len(operands) > 1 and any(c > 1 for c in counts.values()):
        _not_bool("bmm", operands[0])
    if contracted and (len(operands) == 1 or any(c == 1 for c in counts.values())):
        return int64
    return dtype


def einsum(*args: Any) -> Tensor:
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", x, y)``; also the sublist form."""
    if len(args) < 2:
        raise ValueError("einsum(): must specify the equation string and at least one operand, "
                         "or at least one operand and its subscripts list")
    equation, operands = args[0], list(args[1:])
    if isinstance(equation, Tensor):  # sublist form: op, [0, 1], op, [1, 2], [0, 2]
        def term(sub: Sequence) -> str:
            return "".join("..." if s is Ellipsis else _char(s) for s in sub)

        operands, pieces = list(args[0::2]), list(args[1::2])
        equation = ",".join(term(p) for p in pieces[:len(operands)])
        if len(args) % 2:
            equation += "->" + term(operands.pop())
    elif not isinstance(equation, str):
        raise TypeError("einsum(): argument 'equation' (position 1) must be str, not "
                        f"{type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 1, but got "
                            f"{type(t).__name__}")
    subs, out = _einsum_labels(equation, operands)
    _check_einsum_sizes(subs, operands)
    dtype = _einsum_dtype(subs, out, operands)
    return _einsum_node(subs, out).apply(*operands, subs=subs, out=out, dtype=dtype.np)


def tensordot(a: Tensor, b: Tensor, dims: Any = 2, out: Tensor | None = None) -> Tensor:
    """Contracts ``dims`` (a count, or two lists of dims) of ``a`` against those of ``b``."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        dims_a, dims_b = list(range(-dims, 0)), list(range(dims))
    else:
        dims_a, dims_b = dims
        if isinstance(dims_a, int) or isinstance(dims_b, int):
            raise TypeError("tensordot(): argument 'dims_self' (position 3) must be tuple of "
                            "ints, not int")
        if len(dims_a) != len(dims_b):
            raise RuntimeError("both dimension lists should have same length")
    if a.dtype is not b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    for x, y in zip(dims_a, dims_b):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[x]} in dim {x} and second has size {b.shape[y]} in "
                               f"dim {y}")
    # as an einsum: a's dims are labels 0.., b's free dims follow, contracted ones reuse a's
    sub_a = list(range(a.ndim))
    sub_b = list(range(a.ndim, a.ndim + b.ndim))
    for x, y in zip(dims_a, dims_b):
        sub_b[y % b.ndim] = x % a.ndim
    out = [lab for lab in sub_a if lab not in sub_b] + [lab for lab in sub_b if lab >= a.ndim]
    return _EinsumView.apply(a, b, subs=[sub_a, sub_b], out=out, dtype=a._data.dtype)


__all__ = ["einsum", "tensordot"]
TENSOR_METHODS: dict = {}
