"""Kernels NumPy lacks as single calls; a CuPy backend will offer the same names.

``windows`` and ``col2im`` are the two halves of every convolution and pooling op: ``windows`` is
im2col as a zero-copy strided view, ``col2im`` its adjoint, a scatter-add of per-window values back
onto the image. ``col2im`` loops over the KH*KW kernel offsets only (each step one whole-array add
of a strided slice), never over batch, channels or pixels.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided


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


def pad2d(x: np.ndarray, top: int, bottom: int, left: int, right: int,
          value: float = 0.0) -> np.ndarray:
    """``x`` (..., H, W) padded with ``value``; a negative amount crops that side instead."""
    if top < 0 or bottom < 0 or left < 0 or right < 0:
        h, w = x.shape[-2:]
        x = x[..., max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
        top, bottom, left, right = max(top, 0), max(bottom, 0), max(left, 0), max(right, 0)
    if not (top or bottom or left or right):
        return x
    h, w = x.shape[-2:]
    out = np.empty(x.shape[:-2] + (h + top + bottom, w + left + right), dtype=x.dtype)
    # fill only the border (np.pad fills and then copies, touching the interior twice)
    out[..., :top, :] = value
    out[..., top + h:, :] = value
    out[..., top:top + h, :left] = value
    out[..., top:top + h, left + w:] = value
    out[..., top:top + h, left:left + w] = x
    return out


def windows(x: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple,
            out_hw: tuple) -> np.ndarray:
    """im2col as a read-only view: ``x`` (N, C, H, W) -> (N, C, KH, KW, OH, OW), where
    ``[n, c, i, j, oh, ow] = x[n, c, oh*sh + i*dh, ow*sw + j*dw]``. No data is copied."""
    sn, sc, sh, sw = x.strides
    return as_strided(
        x,
        shape=x.shape[:2] + tuple(kernel) + tuple(out_hw),
        strides=(sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1]),
        writeable=False,
    )


def flat_windows(x: np.ndarray, kernel: tuple, dilation: tuple, pad: tuple,
                 out_rows: int) -> np.ndarray:
    """im2col of a stride-1 window grid over row-padded images, as a read-only view: ``x``
    (N, C, H, W) zero-padded by ``pad`` (top, bottom, left, right) to width ``Wp``, then
    (N, C, KH, KW, out_rows*Wp) with ``[n, c, i, j, r*Wp + q] = padded[n, c, r + i*dh, q + j*dw]``.

    Each (n, c, i, j) row is one contiguous run of the flattened padded image, so copying the
    view moves long runs (the usual windows view moves runs of one output row). The price: every
    output row has ``Wp - OW`` columns that wrap around into the next image row, which the caller
    computes and then drops."""
    n, c, h, w = x.shape
    wp = w + pad[2] + pad[3]
    buf, interior = flat_padded((n, c), (h, w), pad, (kernel[1] - 1) * dilation[1], x.dtype)
    interior[...] = x
    sn, sc, se = buf.strides
    return as_strided(buf, shape=(n, c) + tuple(kernel) + (out_rows * wp,),
                      strides=(sn, sc, se * wp * dilation[0], se * dilation[1], se),
                      writeable=False)


def flat_padded(lead: tuple, hw: tuple, pad: tuple, slack: int, dtype: Any) -> tuple:
    """A zero buffer ``lead + (Hp*Wp + slack,)``: images of size ``hw`` padded by ``pad`` (top,
    bottom, left, right), each flattened, with ``slack`` more zeros that the last rows' wrapped
    columns read; and the view of its interiors (``lead + hw``), where the images go."""
    (h, w), (top, bottom, left, right) = hw, pad
    hp, wp = h + top + bottom, w + left + right
    buf = np.zeros(tuple(lead) + (hp * wp + slack,), dtype=dtype)
    interior = buf[..., :hp * wp].reshape(tuple(lead) + (hp, wp))[
        ..., top:top + h, left:left + w]
    return buf, interior


def col2im(cols: np.ndarray, out_hw: tuple, stride: tuple, dilation: tuple,
           dtype: np.dtype | None = None) -> np.ndarray:
    """Adjoint of ``windows``: ``cols`` (N, C, KH, KW, OH, OW) summed onto a zero image
    (N, C, *out_hw); windows reaching past ``out_hw`` are dropped."""
    n, c, kh, kw, oh, ow = cols.shape
    img = np.zeros((n, c) + tuple(out_hw), dtype=dtype or cols.dtype)
    for i in range(kh):
        h0 = i * dilation[0]
        rows = _fit(h0, oh, stride[0], out_hw[0])
        for j in range(kw):
            w0 = j * dilation[1]
            width = _fit(w0, ow, stride[1], out_hw[1])
            if rows and width:
                img[:, :, h0:h0 + (rows - 1) * stride[0] + 1:stride[0],
                    w0:w0 + (width - 1) * stride[1] + 1:stride[1]] += \
                    cols[:, :, i, j, :rows, :width]
    return img


def _fit(start: int, count: int, step: int, size: int) -> int:
    """How many of the positions ``start + k*step`` (k < count) lie inside ``[0, size)``."""
    if start >= size:
        return 0
    return min(count, (size - 1 - start) // step + 1)


def window_reduce(x: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple, out_hw: tuple,
                  op: str) -> tuple:
    """Sum (``op="sum"``), max (``"max"``) or max and argmax (``"argmax"``) over each window of
    ``x`` (N, C, H, W); returns ``(values, argmax or None)``.

    Separable: first over each window's columns, for every row (one whole-array step per kernel
    column), then over the rows of that (one step per kernel row), reading strided slices in
    place: KH + KW - 2 passes instead of KH*KW - 1. The argmax is the winning offset ``i*KW + j``
    (int8 or int16): the first maximum on ties, and the last NaN, as torch's kernel picks
    (``val > max || isnan(val)``, scanning rows then columns): the first (last NaN) column of
    the first (last NaN) row that holds the window's maximum is that same element.
    """
    (kh, kw), (oh, ow), (sh, sw), (dh, dw) = kernel, out_hw, stride, dilation
    rows = x[..., :(oh - 1) * sh + (kh - 1) * dh + 1, :]

    def col(j: int) -> np.ndarray:  # (..., rows, OW): kernel column j of every row
        return rows[..., j * dw:j * dw + (ow - 1) * sw + 1:sw]

    def row(t: np.ndarray, i: int) -> np.ndarray:  # (..., OH, OW): kernel row i of ``t``
        return t[..., i * dh:i * dh + (oh - 1) * sh + 1:sh, :]

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
            np.maximum(t, col(j), out=t)
        out = row(t, 0).copy()
        for i in range(1, kh):
            np.maximum(out, row(t, i), out=out)
        return out, None
    small = np.int8 if kh * kw <= 127 else np.int16  # less memory traffic per pass
    t, tj = _arg_step([col(j) for j in range(kw)], small, False)
    nan = x.dtype.kind == "f" and bool(np.isnan(t).any())  # (NaN propagates into ``t``)
    if nan:
        t, tj = _arg_step([col(j) for j in range(kw)], small, True)
    out, arg = _arg_step([row(t, i) for i in range(kh)], small, nan)
    if kw > 1:  # the winning column, read from the winning row: ``i*KW + j``
        if kh == 1:
            return out, row(tj, 0).copy()
        pick = np.empty(arg.shape, dtype=small)
        j = np.zeros(arg.shape, dtype=small)
        for i in range(kh):  # (masked copies are ~20x slower than int8 arithmetic)
            np.multiply(arg == i, row(tj, i), out=pick)
            j += pick
        arg *= kw
        arg += j
    return out, arg


def _arg_step(taps: list, small: type, nan: bool) -> tuple:
    """Max and argmax over a list of arrays: the first maximum; with ``nan``, the last NaN (and
    without, NaN still propagates into the max, so that the caller can tell)."""
    out = taps[0].copy()
    arg = np.zeros(out.shape, dtype=small)
    take = np.empty(out.shape, dtype=bool)
    k_take = np.empty(out.shape, dtype=small)
    for k in range(1, len(taps)):
        v = taps[k]
        np.greater(v, out, out=take)  # strictly greater: the first maximum wins
        if nan:
            take |= np.isnan(v)
            np.copyto(out, v, where=take)
        else:
            np.maximum(out, v, out=out)
        # a later offset beats every earlier one, so the update is ``max(arg, k * take)``: int8
        # arithmetic (a masked write, putmask or copyto, is ~20x slower)
        np.multiply(take, small(k), out=k_take)
        np.maximum(arg, k_take, out=arg)
    return out, arg


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


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, element-wise, to double precision (math.erf per element)."""
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(x), dtype=x.dtype)


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
