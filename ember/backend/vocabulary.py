"""The array carrier of backward formulas: the vocabulary an op's one ``backward`` is written in,
on a backend's arrays.

A built-in op's backward reads ``ctx.F`` and ``ctx.saved``. When no graph is recorded
(``backward()`` without ``create_graph``) the engine runs it on arrays: ``ctx.F`` is the node's
backend, an ``ArrayVocabulary``, and ``ctx.saved`` gives arrays. Under ``create_graph`` the same
lines run on Tensors: ``ctx.F`` is ``ember.ops.vocabulary.TENSORS``, whose functions of the same
names are recorded ember ops. Operators (``+ - * /``, unary ``-``), ``.shape``, ``.ndim`` and
``.reshape`` mean the same on both carriers and need no entry here.

Each entry is a named kernel (torch's ``threshold_backward``, ``mm_mat2_backward``): the fast way
to compute one step of a formula, not a formula of its own.
"""
from __future__ import annotations

import math
import sys
from typing import Any

# a float dtype's char -> the signed integer type of its size, and all its bits but the sign
_SAME_SIZE_INT = {"e": ("int16", (1 << 15) - 1), "f": ("int32", (1 << 31) - 1),
                  "d": ("int64", (1 << 63) - 1)}
_RELU_MASK_MIN = 4096  # below this, each numpy call's fixed cost outweighs the passes saved
_LEADING = tuple(tuple(range(n)) for n in range(8))
NO_NEEDS = tuple((False,) * n for n in range(8))  # shared by the nodes that record nothing
_new = object.__new__


def no_needs(n: int) -> tuple:
    """The ``needs_input_grad`` of a node of ``n`` inputs that records nothing."""
    return NO_NEEDS[n] if n < 8 else (False,) * n


def sum_to_axes(src: tuple, dst: tuple) -> tuple:
    """The axes to sum (keeping dims) so that shape ``src`` reduces to ``dst``, the shape it was
    broadcast from: the leading extra axes and every axis where ``dst`` has 1 and ``src`` not."""
    lead = len(src) - len(dst)
    if src[lead:] == dst:  # the usual case, a bias: only leading axes were added
        return _LEADING[lead] if lead < len(_LEADING) else tuple(range(lead))
    return tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(dst) if s == 1 and src[lead + i] != 1
    )


def acc_dtype(dtype: Any) -> Any:
    """Accumulate half precision in float32, as torch's CPU kernels do."""
    char = getattr(dtype, "char", None)  # a numpy dtype: comparing it with a string parses it
    if char is not None:  # ("E": bfloat16, from ml_dtypes, likewise)
        return "float32" if char == "e" or char == "E" else dtype
    return "float32" if dtype == "float16" else dtype


class ArrayVocabulary:
    """Backward-formula vocabulary on the arrays of the array module ``xp``."""

    xp: Any
    arrays = True  # the carrier's flag: formulas on arrays (False: on Tensors)

    @staticmethod
    def const(x: Any) -> Any:
        """An array made by a formula as a constant of the carrier (here, the array itself)."""
        return x

    @staticmethod
    def data(x: Any) -> Any:
        """The carrier's array (here, ``x`` itself)."""
        return x

    # -- shapes ------------------------------------------------------------------------------------
    @staticmethod
    def t(x: Any) -> Any:
        return x.T

    @staticmethod
    def unsqueeze(x: Any, dim: int) -> Any:
        if dim < 0:
            dim += x.ndim + 1
        return x[(slice(None),) * dim + (None,)]  # a view, as Tensor.unsqueeze

    def transpose(self, x: Any, dim0: int, dim1: int) -> Any:
        return x if x.ndim < 2 else self.xp.swapaxes(x, dim0, dim1)  # (0-d and 1-d: itself)

    @staticmethod
    def permute(x: Any, dims: Any) -> Any:
        return x.transpose(dims)

    def expand(self, x: Any, shape: tuple) -> Any:
        """``x`` broadcast to ``shape`` as a read-only view (torch also refuses writes to it)."""
        return self.xp.broadcast_to(x, shape)

    # -- math --------------------------------------------------------------------------------------
    def exp(self, x: Any) -> Any:
        return self.xp.exp(x)

    def sin(self, x: Any) -> Any:
        return self.xp.sin(x)

    def cos(self, x: Any) -> Any:
        return self.xp.cos(x)

    def sinh(self, x: Any) -> Any:
        return self.xp.sinh(x)

    def cosh(self, x: Any) -> Any:
        return self.xp.cosh(x)

    def rsqrt(self, x: Any) -> Any:
        return 1 / self.xp.sqrt(x)  # what ``Tensor.rsqrt`` computes

    def conj(self, x: Any) -> Any:
        """The complex conjugate (a number or real array passes through)."""
        return self.xp.conj(x) if getattr(x, "dtype", None) is not None else x.conjugate()

    def zeros_like(self, x: Any) -> Any:
        return self.xp.zeros_like(x)

    @staticmethod
    def sum(x: Any, dim: int | tuple | None = None, keepdim: bool = False) -> Any:
        """``Tensor.sum(dim, keepdim)``: half precision accumulates in float32; a 0-d array sums
        to itself."""
        return x.sum(axis=dim if x.ndim else None, keepdims=keepdim,
                     dtype=acc_dtype(x.dtype)).astype(x.dtype, copy=False)

    def mm(self, a: Any, b: Any, ta: bool = False, tb: bool = False) -> Any:
        """``op(a) @ op(b)`` (op: transpose the last two dims where ``ta``/``tb``), with matmul's
        broadcasting: the GEMM reads the transposed layout instead of a copy."""
        if ta:
            a = a.T if a.ndim == 2 else self.xp.swapaxes(a, -1, -2)  # .T: no Python-level call
        if tb:
            b = b.T if b.ndim == 2 else self.xp.swapaxes(b, -1, -2)
        if a.ndim > 2 and b.ndim <= 2 and a.flags.c_contiguous:
            # one GEMM over the folded batch instead of one per matrix of the batch
            out = self.xp.matmul(a.reshape(math.prod(a.shape[:-1]), a.shape[-1]), b)
            out = out.reshape(a.shape[:-1] + b.shape[1:])
        else:
            out = self.xp.matmul(a, b)
        # bfloat16 (ml_dtypes) multiplies in float32: the product is rounded back, as torch's
        return out if out.dtype is a.dtype or a.dtype != b.dtype else out.astype(a.dtype)

    def op(self, cls: Any, *args: Any, **kwargs: Any) -> Any:
        """An ember op used in a formula: its forward, on arrays, with nothing recorded."""
        node = _new(cls._node_cls)
        n = len(args)
        node.needs_input_grad = NO_NEEDS[n] if n < 8 else no_needs(n)
        if node.backend is not self:
            node.backend, node.xp = self, self.xp
        return cls.forward(node, *args, **kwargs)

    # -- named backward kernels --------------------------------------------------------------------
    def softmax_backward(self, g: Any, y: Any, dim: int, log: bool) -> Any:
        """The gradient through a softmax (``log``: log-softmax) along ``dim`` from its output
        ``y`` (torch's ``_softmax_backward_data``, ``_log_softmax_backward_data``)."""
        if log:
            return g - self.exp(y) * self.sum(g, dim, keepdim=True)
        return y * (g - self.sum(g * y, dim, keepdim=True))

    def threshold_backward(self, g: Any, y: Any) -> Any:
        """``g`` where ``y > 0``, else 0 (relu's gradient from its output ``y``; nan passes g)."""
        xp = self.xp
        bits = _SAME_SIZE_INT.get(g.dtype.char) if g.size >= _RELU_MASK_MIN else None
        if bits is not None and y.dtype == g.dtype and g.shape == y.shape:
            # on big arrays, in integer bits, four passes and no float compare: ``y`` is relu's
            # output (>= 0, ±0 or nan), so ``|y|``'s bits are 0 exactly where the gradient is 0;
            # negated and shifted right arithmetically, they make an all-ones mask elsewhere, and
            # g's bits anded with it are g's or +0 (nan and inf in g included). 4x faster than
            # ``where`` on 2M floats.
            itype, magnitude = bits
            m = xp.bitwise_and(y.view(itype), magnitude)
            xp.negative(m, out=m)
            xp.right_shift(m, g.itemsize * 8 - 1, out=m)
            xp.bitwise_and(m, g.view(itype), out=m)
            return m.view(g.dtype)
        return xp.where(y <= 0, 0, g)  # a Python 0 is weak: the result keeps g's dtype

    def mean_backward(self, g: Any, shape: tuple, count: int) -> Any:
        """``g`` (keepdim form) expanded to ``shape`` and divided by ``count``: one ufunc call
        broadcasting into the result (``broadcast_to`` is Python code costing several times the
        division on small inputs)."""
        return self.xp.divide(g, count, out=self.xp.empty(shape, g.dtype))

    # -- what the engine does to every gradient ----------------------------------------------------
    @staticmethod
    def sum_to(g: Any, shape: tuple) -> Any:
        """A gradient summed back to ``shape``, the shape its input was broadcast from."""
        return g.sum(axis=sum_to_axes(g.shape, shape)).reshape(shape)

    @staticmethod
    def cast(g: Any, dtype: Any) -> Any:
        """``g`` in the numpy dtype ``dtype`` (a complex gradient of a real input: its real
        part, as torch takes it)."""
        if g.dtype.kind == "c" and dtype.kind != "c":
            g = g.real
        return g.astype(dtype)

    @staticmethod
    def data_ptr(arr: Any) -> int:
        """The address of ``arr``'s first element (on its device)."""
        return arr.__cuda_array_interface__["data"][0]

    @staticmethod
    def writable(arr: Any) -> bool:
        """Whether a write into ``arr`` is well defined: its elements provably occupy distinct
        memory (each axis, by increasing stride, steps past the extent of the smaller ones).
        Overlapping windows (``unfold``) and expanded views fail it; NumPy marks such views
        read-only, CuPy has no such flag."""
        reach = arr.itemsize
        for st, n in sorted((abs(st), n) for st, n in zip(arr.strides, arr.shape) if n > 1):
            if st < reach:
                return False
            reach += st * (n - 1)
        return True

    @staticmethod
    def sole_owner(arr: Any) -> bool:
        """Whether the caller's local ``arr`` is the only reference to the array (and the base it
        may view), so a leaf may keep it as ``.grad`` without a copy: torch's AccumulateGrad
        steals a gradient when its use count says nobody else holds it. It must also be
        writable and C-contiguous, the layout a copy would have."""
        if _refcount is None or _refcount(arr) > _SOLE_N:
            return False
        base = arr.base  # numpy points a view's base at the array owning the memory, never a chain
        if base is not None and (type(base) is not type(arr) or base.base is not None
                                 or _refcount(base) > _SOLE_NB):
            return False
        flags = arr.flags
        return flags.writeable and flags.c_contiguous


_refcount = sys.getrefcount if sys.implementation.name == "cpython" else None


def _counts(arr: Any) -> tuple:  # the same call depth and locals as ``sole_owner``'s count
    n = _refcount(arr)
    base = arr.base
    return n, (0 if base is None else _refcount(base))


def _calibrate() -> tuple:
    """The reference counts ``sole_owner`` sees for an array held by one local variable, a view
    of a base nothing else holds: measured rather than assumed, as interpreters differ in the
    references a call adds."""
    if _refcount is None:
        return (-1, -1)
    import numpy

    view = numpy.empty(2)[:]
    return _counts(view)


_SOLE_N, _SOLE_NB = _calibrate()
