"""Kernels NumPy lacks as single calls, and ``NUMPY``, the backend object that carries them
(with numpy as its ``xp``); a CuPy backend will offer the same names. The convolution kernels
(im2col windows, col2im and the GEMM strategies) are in ``numpy_conv``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import numpy_conv, numpy_convnd, numpy_special, onednn
from . import numpy_bessel
from .optim_kernels import OptimKernels
from .vocabulary import ArrayVocabulary


_ZEROS: dict = {}


def zero(dtype: np.dtype) -> np.ndarray:
    """A read-only 0-d zero of ``dtype``: as a ufunc operand it costs numpy less than a Python 0,
    which it converts on every call (``maximum(x, 0)`` of a small array: 2.1 µs against 1.2)."""
    z = _ZEROS.get(dtype)
    if z is None:
        z = np.zeros((), dtype)
        z.flags.writeable = False
        _ZEROS[dtype] = z
    return z


def scatter_add(target: np.ndarray, index: tuple, values: np.ndarray) -> np.ndarray:
    """In-place ``target[index] += values`` that accumulates repeated indices."""
    np.add.at(target, index, values)
    return target


def window_reduce(x: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple, out_hw: tuple,
                  op: str, xp: Any = np, argmax: Any = None) -> tuple:
    """Sum (``op="sum"``), max (``"max"``) or max and argmax (``"argmax"``) over each window of
    ``x`` (N, C, H, W); returns ``(values, argmax or None)``.

    Separable: first over each window's columns, for every row (one whole-array step per kernel
    column), then over the rows of that (one step per kernel row), reading strided slices in
    place: KH + KW - 2 passes instead of KH*KW - 1. The argmax is the winning offset ``i*KW + j``
    (int8 or int16): the first maximum on ties, and the last NaN, as torch's kernel picks
    (``val > max || isnan(val)``, scanning rows then columns): the first (last NaN) column of
    the first (last NaN) row that holds the window's maximum is that same element.
    ``xp``/``argmax``: the arrays' module and its argmax pass (the CuPy backend's plain path is
    this one, with an argmax that never asks whether a NaN is there: a sync on a GPU).
    """
    kh, kw = kernel
    col, row = _taps(x, kernel, stride, dilation, out_hw)
    if op == "sum":
        t = col(0).copy()
        for j in range(1, kw):
            t += col(j)
        out = row(t, 0).copy()
        for i in range(1, kh):
            out += row(t, i)
        return out, None
    if op == "max":  # np.maximum propagates NaN, so a window with a NaN is NaN, as in torch
        t = col(0).copy()
        for j in range(1, kw):
            xp.maximum(t, col(j), out=t)
        out = row(t, 0).copy()
        for i in range(1, kh):
            xp.maximum(out, row(t, i), out=out)
        return out, None
    out, arg, j = (argmax or _window_argmax)(col, row, kh, kw)
    if kw > 1:  # ``i*KW + j``
        arg *= kw
        arg += j
    return out, arg


def _taps(x: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple, out_hw: tuple) -> tuple:
    """``(col, row)``: ``col(j)`` (..., rows, OW) is kernel column j of every row of ``x``,
    ``row(t, i)`` (..., OH, OW) kernel row i of such a column array ``t``; strided views."""
    kh, (oh, ow), (sh, sw), (dh, dw) = kernel[0], out_hw, stride, dilation
    rows = x[..., :(oh - 1) * sh + (kh - 1) * dh + 1, :]

    def col(j: int) -> np.ndarray:
        return rows[..., j * dw:j * dw + (ow - 1) * sw + 1:sw]

    def row(t: np.ndarray, i: int) -> np.ndarray:
        return t[..., i * dh:i * dh + (oh - 1) * sh + 1:sh, :]

    return col, row


def _window_argmax(col: Any, row: Any, kh: int, kw: int) -> tuple:
    """``window_reduce``'s max and argmax as ``(values, i, j)``: the winning kernel row and column
    (int8 or int16), read by ``col(j)`` and ``row(t, i)`` as there."""
    small = np.int8 if kh * kw <= 127 else np.int16  # less memory traffic per pass
    for nan in (False, True):
        t, tj = _arg_step([col(j) for j in range(kw)], small, nan)
        out, arg = _arg_step([row(t, i) for i in range(kh)], small, nan)
        # NaN propagates through both steps, so one reduction of the (smaller) output tells
        # whether a window holds one; only then are the steps run again, letting NaNs win
        if nan or out.dtype.kind not in "fV" or not out.size or not np.isnan(out.max()):
            break
    if kw == 1:
        return out, arg, None
    if kh == 1:
        return out, arg, row(tj, 0).copy()
    # the winning column, read from the winning row
    pick = np.empty(arg.shape, dtype=small)
    j = np.zeros(arg.shape, dtype=small)
    for i in range(kh):  # (masked copies are ~20x slower than int8 arithmetic)
        np.multiply(arg == i, row(tj, i), out=pick)
        j += pick
    return out, arg, j


def _arg_step(taps: list, small: type, nan: bool, xp: Any = np) -> tuple:
    """Max and argmax over a list of arrays: the first maximum; with ``nan``, the last NaN (and
    without, NaN still propagates into the max, so that the caller can tell). ``xp``: the
    arrays' module (the CuPy backend runs the same steps)."""
    if len(taps) == 1:
        return taps[0].copy(), xp.zeros(taps[0].shape, dtype=small)
    first, v = taps[0], taps[1]
    take = xp.greater(v, first)  # strictly greater: the first maximum wins
    if nan:
        take |= xp.isnan(v)
        out = xp.where(take, v, first)
    else:
        out = xp.maximum(first, v)  # (the first step writes ``out``: no copy of ``first``)
    arg = take.astype(small)
    k_take = xp.empty(out.shape, dtype=small)
    for k in range(2, len(taps)):
        v = taps[k]
        xp.greater(v, out, out=take)
        if nan:
            take |= xp.isnan(v)
            xp.copyto(out, v, where=take)
        else:
            xp.maximum(out, v, out=out)
        # a later offset beats every earlier one, so the update is ``max(arg, k * take)``: int8
        # arithmetic (a masked write, putmask or copyto, is ~20x slower)
        xp.multiply(take, small(k), out=k_take)
        xp.maximum(arg, k_take, out=arg)
    return out, arg


def max_pool2d(x: np.ndarray, geo: Any, lowest: Any, indices: bool) -> tuple:
    """Max pooling of ``x`` (N, C, H, W) over the windows of ``geo`` (a ``WindowGeometry``),
    padding with ``lowest``; returns ``(values, indices or None)``, the indices (int64) into each
    input plane ``h*W + w`` of the element that won each window (torch's first maximum, last
    NaN). One separable pass (``window_reduce``'s) yields the winning kernel row and column as
    int8; the index is then ``corner + i*dh*W + j*dw`` in three int64 passes (a table lookup
    by the combined offset cost ~4x that)."""
    if x.dtype.kind == "V":  # bfloat16: ml_dtypes' loops warn at NaN, which torch never does
        with errors_quiet():
            return _max_pool2d(x, geo, lowest, indices)
    return _max_pool2d(x, geo, lowest, indices)


def _max_pool2d(x: np.ndarray, geo: Any, lowest: Any, indices: bool) -> tuple:
    padded = numpy_conv.pad_to_windows(x, geo, lowest)
    kh, kw = geo.kernel
    if not indices:
        return window_reduce(padded, geo.kernel, geo.stride, geo.dilation, geo.out_hw, "max")
    out, i, j = _window_argmax(*_taps(padded, geo.kernel, geo.stride, geo.dilation, geo.out_hw),
                               kh, kw)
    idx = pool_index(i, j, geo)
    if out.size and reads_padding(padded, geo):
        # a window holding only ``lowest`` (-inf) ties with its padding, which must not win:
        # torch keeps the window's first element inside the input (nothing beats -inf there)
        low = out == lowest
        if low.any():
            np.copyto(idx, first_inside(geo), where=low)
    return out, idx


def pool_index(i: Any, j: Any, geo: Any, xp: Any = np) -> Any:
    """The flat index ``h*W + w`` into its input plane of each window's winner, from its kernel
    row ``i`` and column ``j`` (None for one column): ``corner + i*dh*W + j*dw``."""
    dh, dw = geo.dilation
    width = geo.in_hw[1]
    top, left = _corners(geo, xp)
    idx = i.astype(xp.int64)
    idx *= dh * width
    if j is not None:
        idx += j if dw == 1 else j.astype(xp.int64) * dw
    idx += top.reshape(-1, 1) * width + left
    return idx


def reads_padding(padded: Any, geo: Any) -> bool:
    """Whether some window of ``geo`` reaches past the input into ``padded``'s padding."""
    (pt, pl), (height, width) = geo.pad, geo.in_hw
    return max(geo.pad) > 0 or padded.shape[-2] > pt + height or padded.shape[-1] > pl + width


def first_inside(geo: Any, xp: Any = np) -> Any:
    """The flat index of each window's first element inside the input (stepping by the
    dilation from its corner), for windows that hold nothing but padding's ``lowest``."""
    dh, dw = geo.dilation
    top, left = _corners(geo, xp)
    first_row = xp.where(top < 0, top % dh, top)
    first_col = xp.where(left < 0, left % dw, left)
    return first_row.reshape(-1, 1) * geo.in_hw[1] + first_col


def _corners(geo: Any, xp: Any) -> tuple:
    """Each window's top row and left column in the input (negative inside the padding)."""
    (oh, ow), (sh, sw), (pt, pl) = geo.out_hw, geo.stride, geo.pad
    return (xp.arange(oh, dtype=xp.int64) * sh - pt, xp.arange(ow, dtype=xp.int64) * sw - pl)


def segment_sum(values: np.ndarray, index: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Adjoint of ``values.take(index, axis)`` for a non-decreasing ``index``: the slices of
    ``values`` along ``axis`` summed per index value, into an array of ``size`` there. Runs of
    equal indices are contiguous, so one ``add.reduceat`` does it (no scatter)."""
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]]) if index.size else index
    shape = list(values.shape)
    shape[axis] = size
    out = np.zeros(shape, dtype=values.dtype)
    if index.size:
        where = (slice(None),) * (axis % values.ndim) + (index[starts],)
        out[where] = np.add.reduceat(values, starts, axis=axis)
    return out


def index_sum(values: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    """``out[index[i]] += values[i]`` into ``size`` zero rows, for ``index`` in any order (the
    adjoint of ``values.take(index, axis=0)``): a stable sort makes the runs of equal indices
    contiguous, then ``segment_sum`` adds each run in one ``add.reduceat`` (in numpy's summation
    order, not row by row as a scatter does): 1.3-2.5x faster than ``np.add.at``."""
    order = np.argsort(index, kind="stable")
    return segment_sum(values[order], index[order], size, 0)


# last-axis lengths summed as a GEMV (sum_last): from 16, numpy's per-row reduction costs more
# (5x on (384, 64)); past 512 its pairwise sum is as fast and the more accurate. Only on arrays
# small enough for OpenBLAS to stay on one thread: between oneDNN's convolutions its woken
# threads collide with OpenMP's (a batch norm's sums so made cost a ResNet-18 step 1.7x)
_GEMV_SUM = range(16, 513)
_GEMV_SUM_MAX = 1 << 16


def softmax(xp: Any, y: Any, dim: int, log: bool) -> Any:
    """Softmax (``log``: log-softmax) of ``y`` along ``dim`` on arrays of ``xp``, shifted by its
    maximum (the caller keeps numpy's floating-point warnings quiet)."""
    shifted = y - xp.amax(y, axis=dim, keepdims=True)
    e = xp.exp(shifted)
    s = e.sum(axis=dim, keepdims=True)
    if log:
        shifted -= xp.log(s)
        return shifted
    e /= s
    return e


def sum_last(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """``a`` (or ``a * b``) summed over its last axis, kept, in ``a``'s dtype. float32 and
    float64 rows of moderate length as one GEMV with a ones vector (BLAS reads each row
    contiguously); numpy reduces row by row, paying a fixed cost per row. Products go through
    einsum, which never materialises ``a * b`` (a batch norm's would be megabytes: making it
    cost a ResNet-18 step 1.7x)."""
    if b is not None:
        return np.einsum("...i,...i->...", a, b)[..., None]
    n = a.shape[-1] if a.ndim else 0
    if n in _GEMV_SUM and a.size <= _GEMV_SUM_MAX and a.dtype.char in "fd" \
            and a.flags.c_contiguous:
        return (a.reshape(-1, n) @ np.ones((n, 1), a.dtype)).reshape(a.shape[:-1] + (1,))
    return a.sum(axis=-1, keepdims=True)


_ONE_THREAD_GEMM = 1 << 17  # elements of m per GEMM: OpenBLAS runs M*N*K < 2**18 on one thread


def sum_rows(m: np.ndarray) -> np.ndarray:
    """The (1, D) sum of the rows of a (R, D) matrix, in its dtype: as ``ones(1, R) @ m``, GEMMs
    that read ``m`` once along its contiguous rows, for the BLAS float types (float32 then
    accumulates in float32, as torch's CPU layer-norm backward does); a strided float64 sum down
    the columns costs 4-7x as long. Other dtypes accumulate in float64.

    Blocks of rows small enough for OpenBLAS to stay on one thread, as one stacked matmul: the
    sum is memory-bound, so a second thread gains little, and on a busy machine a threaded call
    can wait milliseconds for its partner (measured: (2048, 256) 16 ms against 26 µs)."""
    if m.dtype not in (np.float32, np.float64):
        return m.sum(axis=0, keepdims=True, dtype=np.float64).astype(m.dtype)
    rows, d = m.shape
    step = max(1, _ONE_THREAD_GEMM // max(d, 1))
    blocks = rows // step
    if blocks <= 1:
        return np.ones((1, rows), dtype=m.dtype) @ m
    ones = np.ones((1, step), dtype=m.dtype)
    out = np.matmul(ones, m[:blocks * step].reshape(blocks, step, d)).sum(axis=0)
    if blocks * step < rows:
        out += ones[:, :rows - blocks * step] @ m[blocks * step:]
    return out


# -- floating-point warnings off for a whole pass --------------------------------------------------
# torch never warns about inf - inf or 0 * inf; numpy does, once per op, unless its error state
# says "ignore". ``np.errstate`` builds that state anew at each entry (about 3% of a small
# backward pass), so the engine swaps numpy's error-state context variable directly, reusing the
# "ignore" state made from the current one; with a numpy lacking these internals it falls back to
# ``np.errstate``.
try:
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj

    _make_extobj(all="ignore")
except (ImportError, TypeError):  # pragma: no cover - another numpy's internals
    _extobj_contextvar = None
_ignoring: tuple = (None, None)  # (the error state it was made from, the "ignore" state)


def errors_ignored() -> Any:
    """Makes numpy ignore floating-point errors until ``errors_restored(token)``."""
    global _ignoring
    if _extobj_contextvar is None:  # pragma: no cover
        token = np.errstate(all="ignore")
        token.__enter__()
        return token
    current = _extobj_contextvar.get()
    pair = _ignoring  # one read: another thread may replace it
    if pair[0] is not current:
        pair = _ignoring = (current, _make_extobj(all="ignore"))
    return _extobj_contextvar.set(pair[1])


def errors_restored(token: Any) -> None:
    """Undoes ``errors_ignored``."""
    if _extobj_contextvar is None:  # pragma: no cover
        token.__exit__(None, None, None)
    else:
        _extobj_contextvar.reset(token)


class errors_quiet:  # noqa: N801 - used like np.errstate
    """``with errors_quiet():`` is ``np.errstate(all="ignore")`` through ``errors_ignored``, which
    reuses its "ignore" state instead of building one per entry."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = errors_ignored()

    def __exit__(self, *exc: Any) -> None:
        errors_restored(self._token)


class NumpyBackend(ArrayVocabulary):
    """The NumPy backend: ``xp`` is numpy; the kernels are this module's functions and
    ``numpy_conv``'s."""

    @staticmethod
    def expand(x: np.ndarray, shape: tuple) -> np.ndarray:
        # numpy's broadcast_to costs ~15us; building the zero-stride view directly ~2us, but
        # only works on arrays that export a buffer (contiguous ones)
        lead = len(shape) - x.ndim
        strides = (0,) * lead + tuple(0 if n != t else st
                                      for n, t, st in zip(x.shape, shape[lead:], x.strides))
        try:
            out = np.ndarray(shape, x.dtype, x, 0, strides)
        except (TypeError, ValueError):
            return np.broadcast_to(x, shape)
        out.flags.writeable = False
        return out

    may_share_memory = staticmethod(np.may_share_memory)

    @staticmethod
    def softmax(y: np.ndarray, dim: int, log: bool) -> np.ndarray:
        out = onednn.softmax(y, dim, log) if y.dtype == np.float32 else None
        return softmax(np, y, dim, log) if out is None else out

    def softmax_backward(self, g: np.ndarray, y: np.ndarray, dim: int, log: bool) -> np.ndarray:
        out = onednn.softmax_backward(y, g, dim, log) if y.dtype == np.float32 else None
        return ArrayVocabulary.softmax_backward(self, g, y, dim, log) if out is None else out

    @staticmethod
    def gelu(x: np.ndarray) -> tuple:
        """The exact GELU of a floating array and what its ``gelu_backward`` reads: oneDNN's
        eltwise for float32 (nothing kept), else ``x * Phi(x)`` (``Phi``, ``phi`` kept)."""
        y = onednn.gelu(x) if x.dtype == np.float32 else None
        if y is not None:
            return y, None
        return numpy_special.gelu_by_cdf(numpy_special.normal_cdf_pdf, x)

    @staticmethod
    def gelu_backward(g: np.ndarray, x: np.ndarray, kept: Any) -> np.ndarray:
        """The gradient through the exact GELU: ``g * (Phi(x) + x phi(x))``."""
        if kept is None:
            out = onednn.gelu_backward(x, g)
            if out is not None:
                return out
            kept = numpy_special.normal_cdf_pdf(x)
        return numpy_special.gelu_slope_times(g, x, kept)

    @staticmethod
    def data_ptr(x: np.ndarray) -> int:
        return x.__array_interface__["data"][0]

    @staticmethod
    def writable(x: np.ndarray) -> bool:
        # broadcast views (expand) are read-only in NumPy, as are arrays over read-only buffers
        return x.flags.writeable

    @staticmethod
    def has_internal_overlap(x: np.ndarray) -> bool:
        """Whether elements of ``x`` share memory: a stride 0 on an axis of size > 1."""
        return any(st == 0 and n > 1 for st, n in zip(x.strides, x.shape))

    name = "numpy"
    xp = np
    array_type = np.ndarray
    zero = staticmethod(zero)
    scatter_add = staticmethod(scatter_add)
    as_strided = staticmethod(as_strided)
    # windows: im2col as a view, and its adjoint
    pad2d = staticmethod(numpy_conv.pad2d)
    pad_to_windows = staticmethod(numpy_conv.pad_to_windows)
    windows = staticmethod(numpy_conv.windows)
    col2im = staticmethod(numpy_conv.col2im)
    window_reduce = staticmethod(window_reduce)
    max_pool2d = staticmethod(max_pool2d)
    # convolution, and its adjoints in the input and in the weight
    # (float32 through oneDNN where the optional library is installed: ``onednn``)
    conv2d = staticmethod(onednn.accelerated(numpy_conv.conv2d_biased, onednn.conv2d))
    conv2d_input_grad = staticmethod(onednn.accelerated(numpy_conv.conv2d_input_grad,
                                                        onednn.conv2d_input_grad))
    conv2d_weight_grad = staticmethod(onednn.accelerated(numpy_conv.conv2d_weight_grad,
                                                         onednn.conv2d_weight_grad))
    # the same in 1-d and 3-d (on the 2-d ones), and the depth gather 3-d pooling reads
    conv1d, conv1d_input_grad, conv1d_weight_grad, conv3d, conv3d_input_grad, \
        conv3d_weight_grad = (staticmethod(onednn.accelerated(getattr(numpy_convnd, name),
                                                              getattr(onednn, name)))
                              for name in ("conv1d", "conv1d_input_grad", "conv1d_weight_grad",
                                           "conv3d", "conv3d_input_grad", "conv3d_weight_grad"))
    depth_windows = staticmethod(numpy_convnd.depth_windows)
    depth_col2im = staticmethod(numpy_convnd.depth_col2im)
    segment_sum = staticmethod(segment_sum)
    index_sum = staticmethod(index_sum)
    sum_rows = staticmethod(sum_rows)
    sum_last = staticmethod(sum_last)
    # special functions, whole-array (numpy_special)
    erf = staticmethod(numpy_special.erf)
    erfc = staticmethod(numpy_special.erfc)
    erfcx = staticmethod(numpy_special.erfcx)
    normal_cdf_pdf = staticmethod(numpy_special.normal_cdf_pdf)
    erfinv = staticmethod(numpy_special.erfinv)
    ndtri = staticmethod(numpy_special.ndtri)
    log_ndtr = staticmethod(numpy_special.log_ndtr)
    lgamma = staticmethod(numpy_special.lgamma)
    digamma = staticmethod(numpy_special.digamma)
    polygamma = staticmethod(numpy_special.polygamma)
    zeta = staticmethod(numpy_special.zeta)
    gammainc = staticmethod(numpy_special.gammainc)
    gammaincc = staticmethod(numpy_special.gammaincc)
    orthogonal_polynomial = staticmethod(numpy_special.orthogonal_polynomial)
    spherical_bessel_j0 = staticmethod(numpy_special.spherical_bessel_j0)
    i0 = staticmethod(numpy_special.i0)
    i0e = staticmethod(numpy_special.i0e)
    i1 = staticmethod(numpy_special.i1)
    i1e = staticmethod(numpy_special.i1e)
    bessel = staticmethod(numpy_bessel.bessel)  # J0/J1/Y0/Y1/K0/K1, e^x K0/K1, Ai, by name
    errors_ignored = staticmethod(errors_ignored)
    errors_restored = staticmethod(errors_restored)
    errors_quiet = errors_quiet
    optim = OptimKernels(np)  # the optimizers' per-parameter updates (optim_kernels)


NUMPY = NumpyBackend()
