"""Sample statistics and products of whole tensors: isin, quantile/nanquantile, dist, inner, cov
and corrcoef.

torch composes most of these from other ops (``quantile`` ends in a squeeze of a ``lerp`` of
gathered sorted values, ``inner`` in a view of a matrix product, ``cov`` in
``SqueezeBackward0``, ``corrcoef`` in a clamp), so ember composes them the same way and records
the same nodes; ``dist`` is one node (``DistBackward0``)."""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

from .. import dtypes as _dt
from ..backend import get_array_module
from ..tensor import Tensor, _wrap_dim
from . import _reduce_util as ru
from .elementwise import _Broadcasting
from .shape import Squeeze
from .stats import _norm_backward

Number = Any
_INF = math.inf


# -- isin ----------------------------------------------------------------------------------------


def isin(elements: Tensor | Number, test_elements: Tensor | Number, *,
         assume_unique: bool = False, invert: bool = False) -> Tensor:
    """Whether each of ``elements`` is in ``test_elements``, as a bool tensor of ``elements``'
    shape (``invert``: whether it is not)."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError(
            f"isin() received an invalid combination of arguments - got "
            f"({type(elements).__name__}, {type(test_elements).__name__}), but expected one of:"
            "\n * (Tensor elements, Tensor test_elements, *, bool assume_unique = False, bool "
            "invert = False, Tensor out = None)\n * (Number element, Tensor test_elements, *, "
            "bool assume_unique = False, bool invert = False, Tensor out = None)\n * (Tensor "
            "elements, Number test_element, *, bool assume_unique = False, bool invert = False, "
            "Tensor out = None)\n")
    for t in (elements, test_elements):
        if isinstance(t, Tensor) and t.dtype.np.kind in "bc":
            raise RuntimeError("Unsupported input type encountered for isin(): "
                               f"{_dt.scalar_name(t.dtype)}")
    rd = _dt.result_type(elements, test_elements)
    a = elements._data if isinstance(elements, Tensor) else elements
    b = test_elements._data if isinstance(test_elements, Tensor) else test_elements
    xp = get_array_module(*(v for v in (a, b) if hasattr(v, "shape")))
    a, b = xp.asarray(a, dtype=rd.np), xp.asarray(b, dtype=rd.np)
    return Tensor._make(xp.asarray(xp.isin(a, b, assume_unique=assume_unique, invert=invert)))


# -- quantile, nanquantile -----------------------------------------------------------------------

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


class _QuantileSqueeze(Squeeze, name="SqueezeBackward4"):
    """The last step of torch's quantile: an in-place squeeze of the dims it added."""


def _quantile(name: str, input: Tensor, q: Any, dim: Any, keepdim: bool, interpolation: str,
              ignore_nan: bool) -> Tensor:
    from ..creation import tensor as make_tensor
    from .compare import where
    from .scatter import gather
    from .sorting import sort
    from .unary import lerp

    if not isinstance(q, Tensor) and not isinstance(q, numbers.Real):
        raise TypeError(
            f"{name}() received an invalid combination of arguments - got (Tensor, "
            f"{type(q).__name__}), but expected one of:\n * (Tensor input, Tensor q, int dim = "
            "None, bool keepdim = False, *, str interpolation = \"linear\", Tensor out = None)\n"
            " * (Tensor input, float q, int dim = None, bool keepdim = False, *, str "
            "interpolation = \"linear\", Tensor out = None)\n")
    if input.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if isinstance(q, Tensor) and q.ndim > 1:
        raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
    if input.dtype not in (_dt.float32, _dt.float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q.dtype is not input.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        qd = q._data
        if not bool(((qd >= 0) & (qd <= 1)).all()):
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    else:
        if not 0 <= q <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        q = make_tensor(float(q), dtype=input.dtype)
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    # rows to reduce along a last axis (batch shape B), and the reduced shape ``red``
    if dim is None:
        red = [1] * input.ndim if keepdim else []
        sorted_ = sort(input.flatten())[0]
    else:
        dim = _wrap_dim(dim, max(input.ndim, 1))
        red = list(input.shape)
        if input.ndim and keepdim:
            red[dim] = 1
        elif input.ndim:
            del red[dim]
        x = input if input.ndim else input.reshape(1)
        sorted_ = sort(x.movedim(dim, -1) if dim != x.ndim - 1 else x)[0]
    xp = get_array_module(sorted_._data)
    s = sorted_._data
    qv = q._data.reshape(-1)
    last = s.shape[-1] - 1
    isnan = xp.isnan(s)
    if ignore_nan:
        # ranks over the non-NaN values; a row of NaNs gets rank 0 (its value NaN)
        valid = (~isnan).sum(axis=-1, keepdims=True)
        ranks = qv * (valid - 1).astype(s.dtype)
        ranks_dead = ranks < 0
        ranks = xp.where(ranks_dead, 0, ranks)
    else:
        # a row holding a NaN gives NaN: the rank of its last (sorted: NaN) value
        ranks = xp.broadcast_to(qv * s.dtype.type(last), s.shape[:-1] + qv.shape)
        ranks = xp.where(isnan.any(axis=-1, keepdims=True), s.dtype.type(last), ranks)
    ranks = xp.asarray(ranks, dtype=s.dtype)
    if interpolation == "lower":
        ranks = xp.floor(ranks)
    elif interpolation == "higher":
        ranks = xp.ceil(ranks)
    elif interpolation == "nearest":
        ranks = xp.round(ranks)  # half to even, as torch's round
    below = ranks.astype("int64")
    values = gather(sorted_, -1, Tensor._make(below))  # B + [len(q)]
    if interpolation in ("linear", "midpoint"):
        above = gather(sorted_, -1, Tensor._make(xp.ceil(ranks).astype("int64")))
        if interpolation == "midpoint":
            weights = Tensor._make(xp.full_like(ranks, 0.5))
        else:
            # rank - floor(rank), written on q: torch's linear quantile has a gradient in q
            scale = (valid - 1).astype(s.dtype) if ignore_nan else s.dtype.type(last)
            dead = ranks_dead if ignore_nan else isnan.any(axis=-1, keepdims=True)
            weights = where(ru.const(dead), 0.0,
                            q.reshape(-1) * ru.const(xp.asarray(scale)) - ru.const(
                                below.astype(s.dtype)))
        values = lerp(values, above, weights)
    # a 1-d q's axis goes first, a scalar q's is dropped; torch's last step squeezes it
    if q.ndim == 0:
        values = values.reshape(red + [1])
    else:
        values = values.movedim(-1, 0).reshape([qv.shape[0]] + red + [1])
    return _QuantileSqueeze.apply(values, dims=(values.ndim - 1,))


def quantile(input: Tensor, q: Tensor | float, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """The ``q``-th quantiles of ``input`` along ``dim`` (of all its values when None); a 1-d
    ``q`` puts its axis first. A row holding NaN gives NaN."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, ignore_nan=False)


def nanquantile(input: Tensor, q: Tensor | float, dim: int | None = None, keepdim: bool = False,
                *, interpolation: str = "linear") -> Tensor:
    """:func:`quantile` ignoring NaNs (a row of NaNs only gives NaN)."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, ignore_nan=True)


# -- dist, inner ---------------------------------------------------------------------------------


class Dist(_Broadcasting, name="DistBackward0"):
    _promote = True

    @staticmethod
    def forward(ctx, a, b, *, p):
        xp = ctx.xp
        if a.dtype.kind not in "fc":
            raise RuntimeError("norm(): input dtype should be either floating point or complex. "
                               f"Got {_dt.scalar_name(a.dtype)} instead.")
        ctx.p = p
        d = xp.abs(a - b)
        with ru.quiet(d):
            if p == _INF or p == -_INF:
                out = (d.max() if p > 0 else d.min()) if d.size else xp.zeros((), d.dtype)
            elif p == 0:
                out = (d != 0).sum()
            elif p == 1:
                out = d.sum()
            elif p == 2:
                out = xp.sqrt((d * d).sum())
            else:
                out = (d ** p).sum() ** (1.0 / p)
        out = xp.asarray(out, dtype=d.dtype)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        diff = a - b
        gd = _norm_backward(g, diff, out, ctx.p, tuple(range(diff.ndim)), False)
        if gd is None:  # p = 0: torch's gradient is undefined (None for input, and other's,
            if not need_b:  # its negation, fails so)
                return None, None
            raise RuntimeError("Expected a proper Tensor but got None (or an undefined Tensor "
                               "in C++) for argument #0 'self'")
        return (gd if need_a else None), (-gd if need_b else None)


def dist(input: Tensor, other: Tensor, p: Number = 2) -> Tensor:
    """The ``p``-norm of ``input - other`` (broadcast)."""
    if not isinstance(other, Tensor):
        raise TypeError("dist(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    if isinstance(p, Tensor):
        p = p.item()
    return Dist.apply(input, other, p=float(p))


def inner(input: Tensor, other: Tensor) -> Tensor:
    """The inner product over the last dims: ``input`` (..., k), ``other`` (..., k) give
    ``input.shape[:-1] + other.shape[:-1]``; a 0-d operand multiplies."""
    from .linalg import dot, mm

    if not isinstance(other, Tensor):
        raise TypeError("inner(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    k = input.shape[-1]
    if other.shape[-1] != k:
        raise RuntimeError("inner() the last dimension must match on both input tensors but got "
                           f"shapes {list(input.shape)} and {list(other.shape)}")
    if input.dtype is not other.dtype:
        raise RuntimeError("both inputs should have same dtype")
    shape = tuple(input.shape[:-1]) + tuple(other.shape[:-1])
    if input.ndim == 1 and other.ndim == 1:
        return dot(input, other).view(shape)
    # torch's tensordot: one (m, k) @ (k, n) product, viewed as the output
    return mm(input.reshape(-1, k), other.reshape(-1, k).t()).view(shape)


# -- cov, corrcoef -------------------------------------------------------------------------------


def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,
        aweights: Tensor | None = None) -> Tensor:
    """The covariance matrix of the variables in ``input``'s rows (a 1-d input: one variable),
    observations in its columns, weighted by frequencies ``fweights`` and/or ``aweights``."""
    return _cov(input, correction, fweights, aweights, 3)


def _cov(input: Tensor, correction: int, fweights: Tensor | None, aweights: Tensor | None,
         stacklevel: int) -> Tensor:
    from ..creation import tensor as make_tensor
    from .linalg import mm

    if input.ndim > 2:
        raise RuntimeError("cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions")
    if input.dtype is _dt.bool:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    x = input.view(1, -1) if input.ndim < 2 else input
    n = x.shape[1]
    w = None
    if fweights is not None:
        if fweights.ndim > 1:
            raise RuntimeError("cov(): expected fweights to have one or fewer dimensions but got "
                               f"fweights with {fweights.ndim} dimensions")
        if fweights.dtype.np.kind not in "iu":
            raise RuntimeError("cov(): expected fweights to have integral dtype but got fweights "
                               f"with {_dt.scalar_name(fweights.dtype)} dtype")
        if fweights.numel() != n:
            raise RuntimeError("cov(): expected fweights to have the same numel as there are "
                               f"observations in the input but got {fweights.numel()} != {n}")
        if n and bool((fweights._data < 0).any()):
            raise RuntimeError("cov(): fweights cannot be negative")
        w = fweights
    if aweights is not None:
        if aweights.ndim > 1:
            raise RuntimeError("cov(): expected aweights to have one or fewer dimensions but got "
                               f"aweights with {aweights.ndim} dimensions")
        if not aweights.is_floating_point():
            raise RuntimeError("cov(): expected aweights to have floating point dtype but got "
                               f"aweights with {_dt.scalar_name(aweights.dtype)} dtype")
        if aweights.numel() != n:
            raise RuntimeError("cov(): expected aweights to have the same numel as there are "
                               f"observations in the input but got {aweights.numel()} != {n}")
        if n and bool((aweights._data < 0).any()):
            raise RuntimeError("cov(): aweights cannot be negative")
        w = aweights if w is None else w * aweights
    w_sum = w.sum() if w is not None else make_tensor(n)
    if w is not None and not bool(w_sum._data != 0):
        raise RuntimeError("cov(): weights sum to zero, can't be normalized")
    avg = (x * w if w is not None else x).sum(1) / w_sum
    if w is not None and aweights is not None and correction != 0:
        norm = w_sum - correction * (w * aweights).sum() / w_sum
    else:
        norm = w_sum - correction
    if bool(norm._data <= 0):
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the number of observations.", UserWarning, stacklevel=stacklevel)
        norm = norm * 0
    x = x - avg.unsqueeze(1)
    c = mm(x, (x * w if w is not None else x).t().conj())
    return (c / norm).squeeze()


def corrcoef(input: Tensor) -> Tensor:
    """Pearson's correlation coefficients of the variables in ``input``'s rows (clipped to
    [-1, 1])."""
    if input.ndim > 2:
        raise RuntimeError("corrcoef(): expected input to have two or fewer dimensions but got "
                           f"an input with {input.ndim} dimensions")
    c = _cov(input, 1, None, None, 3)
    if c.ndim == 0:  # one variable: 1, or nan where its variance is nan, inf or 0
        return c / c
    d = c.diagonal()
    std = (d.real if d.is_complex() else d).sqrt()
    c = c / std.view(-1, 1)
    c = c / std.view(1, -1)
    return c.clip(-1, 1)


__all__ = ["isin", "quantile", "nanquantile", "dist", "inner", "cov", "corrcoef"]
TENSOR_METHODS: dict = {name: globals()[name] for name in __all__ if name != "isin"}
