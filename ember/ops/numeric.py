"""Finite differences and integrals of sampled data: diff, gradient, trapezoid/trapz and
cumulative_trapezoid.

torch writes these as composites of other ops (its ``grad_fn`` shows it: ``diff`` ends in
``SubBackward0``, ``gradient`` in ``CatBackward0``, ``trapezoid`` in ``MulBackward1`` or
``DivBackward1``), so ember composes them the same way and records the same nodes."""
from __future__ import annotations

import numbers
from typing import Any, Sequence

from .. import dtypes as _dt
from ..tensor import Tensor, _wrap_dim
from .loss import DivScalar
from .special import _MulScalar

Number = Any


def _mul_scalar(x: Tensor, c: float) -> Tensor:
    """``x * c`` recorded as torch's composites record it (``MulBackward1``)."""
    if not x.is_floating_point():
        x = x.to(_dt.get_default_dtype())
    return _MulScalar.apply(x, c=c)


def _div_scalar(x: Tensor, c: float) -> Tensor:
    """``x / c`` recorded as ``DivBackward1``."""
    if not x.is_floating_point():
        x = x.to(_dt.get_default_dtype())
    return DivScalar.apply(x, scalar=c)


# -- diff ----------------------------------------------------------------------------------------


def _check_tensor_arg(fn: str, name: str, x: Any) -> None:
    if x is not None and not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' must be Tensor, not {type(x).__name__}")


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (``prepend``/``append`` joined first); on
    bool tensors, the exclusive or of neighbours."""
    from .arrange import cat

    _check_tensor_arg("diff", "prepend", prepend)
    _check_tensor_arg("diff", "append", append)
    if input.ndim < 1:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    dim = _wrap_dim(dim, input.ndim)
    parts = []
    for other in (prepend, append):
        if other is None:
            continue
        if other.ndim != input.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
        for d in range(input.ndim):
            if d != dim and other.shape[d] != input.shape[d]:
                raise RuntimeError(
                    "diff expects the shape of tensor to prepend or append to match that of "
                    f"input except along the differencing dimension; input.size({d}) = "
                    f"{input.shape[d]}, but got tensor.size({d}) = {other.shape[d]}")
    if prepend is not None or append is not None:
        parts = [t for t in (prepend, input, append) if t is not None]
        input = cat(parts, dim)
    if n == 0:
        from ..creation import zeros_like

        return zeros_like(input).copy_(input)  # torch's copy (CopyBackwards)
    out = input
    length = input.shape[dim] - 1
    for _ in range(min(n, input.shape[dim])):
        hi, lo = out.narrow(dim, 1, length), out.narrow(dim, 0, length)
        out = hi.logical_xor(lo) if out.dtype is _dt.bool else hi - lo
        length -= 1
    return out


# -- gradient ------------------------------------------------------------------------------------


def _gradient_dims(input: Tensor, dim: Any) -> list[int]:
    if dim is None:
        return list(range(input.ndim))
    if isinstance(dim, numbers.Integral):
        return [_wrap_dim(int(dim), input.ndim)]
    return [_wrap_dim(int(d), input.ndim) for d in dim]


def _uniform_gradient(x: Tensor, d: int, h: float, edge_order: int) -> Tensor:
    from .arrange import cat

    n = x.shape[d]
    s = lambda start, stop: x.narrow(d, start % n, (stop - start))  # noqa: E731
    center = (s(2, n) - s(0, n - 2)) / h / 2
    if edge_order == 1:
        front = (s(1, 2) - s(0, 1)) / h
        back = (s(n - 1, n) - s(n - 2, n - 1)) / h
    else:
        front = (s(0, 1) * -1.5 + s(1, 2) * 2 - s(2, 3) * 0.5) / h
        back = (s(n - 3, n - 2) * 0.5 + s(n - 2, n - 1) * -2 + s(n - 1, n) * 1.5) / h
    return cat([front, center, back], d)


def _coordinate_gradient(x: Tensor, d: int, coords: Tensor, edge_order: int) -> Tensor:
    from .arrange import cat

    n = x.shape[d]
    s = lambda start, stop: x.narrow(d, start, stop - start)  # noqa: E731
    shape = [1] * x.ndim
    shape[d] = -1
    h = coords.diff(1, 0)
    h1, h2 = h[:-1], h[1:]
    # second-order central differences on a non-uniform grid (numpy.gradient's weights)
    a = (-h2 / (h1 * (h1 + h2))).reshape(shape)
    b = ((h2 - h1) / (h1 * h2)).reshape(shape)
    c = (h1 / (h2 * (h1 + h2))).reshape(shape)
    center = a * s(0, n - 2) + b * s(1, n - 1) + c * s(2, n)
    if edge_order == 1:
        front = (s(1, 2) - s(0, 1)) / h[0]
        back = (s(n - 1, n) - s(n - 2, n - 1)) / h[-1]
    else:
        d0, d1, e1, e2 = h[0], h[1], h[-1], h[-2]
        front = (-(2.0 * d0 + d1) / (d0 * (d0 + d1)) * s(0, 1)
                 + (d0 + d1) / (d0 * d1) * s(1, 2) - d0 / (d1 * (d0 + d1)) * s(2, 3))
        back = (e1 / (e2 * (e1 + e2)) * s(n - 3, n - 2) - (e1 + e2) / (e1 * e2) * s(n - 2, n - 1)
                + (2 * e1 + e2) / (e1 * (e1 + e2)) * s(n - 1, n))
    return cat([front, center, back], d)


def gradient(input: Tensor, *, spacing: Any = 1, dim: Any = None,
             edge_order: int = 1) -> tuple[Tensor, ...]:
    """Estimates the gradient of a function sampled on a grid: central differences inside,
    one-sided ones of order ``edge_order`` at the edges, one tensor per dim in ``dim``.
    ``spacing``: a number (the sample distance everywhere), a list of numbers (one per dim) or
    a list of 1-d coordinate tensors."""
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2."
                           .replace("torch.", "ember."))
    dims = _gradient_dims(input, dim)
    if input.dtype is _dt.bool:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if spacing is None:
        spacing = 1
    if isinstance(spacing, Tensor) and spacing.ndim:
        # torch takes coordinates only as a list or tuple of tensors
        raise TypeError(
            "gradient() received an invalid combination of arguments - got (Tensor, "
            "spacing=Tensor), but expected one of:\n * (Tensor input, *, tuple of ints dim, int "
            "edge_order = 1)\n * (Tensor input, *, Number spacing, tuple of ints dim, int "
            "edge_order = 1)\n * (Tensor input, *, Number spacing = None, int dim = None, int "
            "edge_order = 1)\n * (Tensor input, *, tuple of Scalars spacing, int dim = None, int "
            "edge_order = 1)\n * (Tensor input, *, tuple of Scalars spacing, tuple of ints dim, "
            "int edge_order = 1)\n * (Tensor input, *, tuple of Tensors spacing, int dim = None, "
            "int edge_order = 1)\n * (Tensor input, *, tuple of Tensors spacing, tuple of ints "
            "dim, int edge_order = 1)\n")
    if isinstance(spacing, (Sequence, Tensor)) and not (
            isinstance(spacing, Tensor) and spacing.ndim == 0):
        spacing = list(spacing)
        if len(spacing) != len(dims):
            if dim is None:
                raise RuntimeError(
                    "torch.gradient expected spacing to be unspecified, a scalar, or a list of "
                    f"length equal to 'self.dim() = {input.ndim}', since dim argument was not "
                    f"given, but got a list of length {len(spacing)}".replace("torch.", "ember."))
            raise RuntimeError(
                "torch.gradient expected spacing to be unspecified, a scalar or it's spacing and "
                f"dim arguments to have the same length, but got a spacing argument of length "
                f"{len(spacing)} and a dim argument of length {len(dims)}."
                .replace("torch.", "ember."))
    else:
        spacing = [spacing] * len(dims)
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least "
                               "edge_order+1".replace("torch.", "ember."))
    out = []
    for d, h in zip(dims, spacing):
        if isinstance(h, Tensor) and h.ndim == 1:
            out.append(_coordinate_gradient(input, d, h, edge_order))
        else:
            out.append(_uniform_gradient(input, d, h.item() if isinstance(h, Tensor) else h,
                                         edge_order))
    return tuple(out)


# -- trapezoid, cumulative_trapezoid -------------------------------------------------------------


def _trapezoid_args(name: str, y: Tensor, x: Any, dx: Any, dim: int) -> tuple:
    if x is not None and dx is not None:
        got = f"Tensor, {type(x).__name__}, dx={type(dx).__name__}" + (
            ", dim=int" if dim != -1 else "")
        raise TypeError(f"{name}() received an invalid combination of arguments - got ({got}), "
                        "but expected one of:\n * (Tensor y, Tensor x, *, int dim = -1)\n * "
                        "(Tensor y, *, Number dx = 1, int dim = -1)\n")
    if y.dtype is _dt.bool:
        raise RuntimeError(f"{name}: received a bool input for `y`, but bool is not supported")
    if y.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    dim = _wrap_dim(dim, y.ndim)
    if isinstance(x, Tensor):
        if x.dtype is _dt.bool:
            raise RuntimeError(f"{name}: received a bool input for `x`, but bool is not "
                               "supported")
        nx = x.shape[-1] if x.ndim == 1 else x.shape[dim - y.ndim] if x.ndim else 0
        if nx != y.shape[dim]:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
    return dim


def _spacing(x: Tensor, y: Tensor, dim: int) -> Tensor:
    """The widths of the intervals between sample points, shaped to broadcast against ``y``."""
    if x.ndim == 1:
        shape = [1] * y.ndim
        shape[dim] = -1
        return x.diff().reshape(shape)
    return x.diff(dim=dim - y.ndim)


def trapezoid(y: Tensor, x: Tensor | None = None, *, dx: Number | None = None,
              dim: int = -1) -> Tensor:
    """The trapezoidal rule's integral of ``y`` along ``dim``, with sample points ``x`` or a
    uniform spacing ``dx`` (1 by default)."""
    dim = _trapezoid_args("trapezoid", y, x, dx, dim)
    if y.shape[dim] == 0:
        from ..creation import zeros

        return zeros(y.shape[:dim] + y.shape[dim + 1:], dtype=y.dtype, device=y.device)
    n = y.shape[dim]
    if x is None:
        # the sum less half of each end: one pass over y
        ends = _mul_scalar(y.select(dim, 0) + y.select(dim, n - 1), 0.5)
        return _mul_scalar(y.sum(dim) - ends, 1 if dx is None else dx)
    pairs = y.narrow(dim, 1, n - 1) + y.narrow(dim, 0, n - 1)
    return _div_scalar((_spacing(x, y, dim) * pairs).sum(dim), 2.0)


def trapz(y: Tensor, x: Tensor | None = None, *, dx: Number | None = None,
          dim: int = -1) -> Tensor:
    """Alias of :func:`trapezoid`."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x: Tensor | None = None, *, dx: Number | None = None,
                         dim: int = -1) -> Tensor:
    """The running trapezoidal integral of ``y`` along ``dim`` (one element fewer than ``y``)."""
    dim = _trapezoid_args("cumulative_trapezoid", y, x, dx, dim)
    n = y.shape[dim]
    pairs = y.narrow(dim, min(n, 1), max(n - 1, 0)) + y.narrow(dim, 0, max(n - 1, 0))
    if x is None:
        return _mul_scalar(pairs, (1 if dx is None else dx) / 2.0).cumsum(dim)
    return _div_scalar((_spacing(x, y, dim) * pairs).cumsum(dim), 2.0)


__all__ = ["diff", "gradient", "trapezoid", "trapz", "cumulative_trapezoid"]
TENSOR_METHODS: dict = {"diff": diff}
