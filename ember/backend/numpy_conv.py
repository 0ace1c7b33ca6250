"""NumPy's 2-d convolution kernels: im2col as a strided view, col2im, and the GEMM strategies.

Three array functions share one geometry (``WindowGeometry``: stride, padding, dilation, groups,
sizes) and are adjoint to each other under
``<conv2d(x, w), g> = <x, conv2d_input_grad(g, w)> = <w, conv2d_weight_grad(x, g)>``:

    conv2d(x, w)              im2col(x) then one (batched over groups) GEMM with w
    conv2d_input_grad(g, w)   the transposed convolution: a GEMM with w, then col2im (a
                              scatter-add over kernel offsets); for stride 1, conv2d(g, w flipped
                              and transposed): an im2col copy is 2-4x cheaper than the scatter-add
    conv2d_weight_grad(x, g)  a GEMM of g with im2col(x)

With stride 1, im2col may read the images row-padded (``_flat_columns``): each window row is then
one run of the flattened image, copied 2-3x faster, and each output row carries a few wrapped
columns that are computed and dropped. Over large images conv2d and conv2d_weight_grad skip
im2col altogether: per image, one GEMM per kernel row on a column slice of a KW-fold stack of that
padded image (``_forward_rows``, ``_weight_rows``).

``windows`` and ``col2im`` are the two halves of every convolution and pooling op: ``windows`` is
im2col as a zero-copy strided view, ``col2im`` its adjoint, a scatter-add of per-window values back
onto the image. ``col2im`` loops over the KH*KW kernel offsets only (each step one whole-array add
of a strided slice), never over batch, channels or pixels.
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .geometry import WindowGeometry


# -- windows and their adjoint ---------------------------------------------------------------------


def crop_negative(x: Any, top: int, bottom: int, left: int, right: int) -> tuple:
    """``pad2d``'s first step on any array: the sides with a negative amount cropped; returns
    ``(x, top, bottom, left, right)`` with the amounts left to pad (none negative)."""
    if top < 0 or bottom < 0 or left < 0 or right < 0:
        h, w = x.shape[-2:]
        x = x[..., max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
        top, bottom, left, right = max(top, 0), max(bottom, 0), max(left, 0), max(right, 0)
    return x, top, bottom, left, right


def pad2d(x: np.ndarray, top: int, bottom: int, left: int, right: int,
          value: float = 0.0) -> np.ndarray:
    """``x`` (..., H, W) padded with ``value``; a negative amount crops that side instead."""
    x, top, bottom, left, right = crop_negative(x, top, bottom, left, right)
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
           dtype: np.dtype | None = None, xp: Any = np) -> np.ndarray:
    """Adjoint of ``windows``: ``cols`` (N, C, KH, KW, OH, OW) summed onto a zero image
    (N, C, *out_hw), one strided add per kernel offset; windows reaching past ``out_hw`` are
    dropped. ``xp``: the arrays' module (the CuPy backend's plain path is this one)."""
    n, c, kh, kw, oh, ow = cols.shape
    img = xp.zeros((n, c) + tuple(out_hw), dtype=dtype or cols.dtype)
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


def pad_to_windows(x: np.ndarray, geo: WindowGeometry, value: float = 0.0) -> np.ndarray:
    """``x`` padded with ``value`` (or cropped at the bottom/right) to exactly the rows and
    columns the windows of ``geo`` read."""
    need = [(o - 1) * s + (k - 1) * d + 1
            for o, s, k, d in zip(geo.out_hw, geo.stride, geo.kernel, geo.dilation)]
    (pt, pl), (h, w) = geo.pad, x.shape[2:]
    return pad2d(x, pt, need[0] - h - pt, pl, need[1] - w - pl, value)


# -- im2col ----------------------------------------------------------------------------------------


def _columns(x: np.ndarray, geo: WindowGeometry) -> np.ndarray:
    """im2col of ``x`` as (G, C/G*KH*KW, N*OH*OW): the one copy a convolution makes."""
    view = windows(pad_to_windows(x, geo), geo.kernel, geo.stride, geo.dilation,
                   geo.out_hw)  # (N, C, KH, KW, OH, OW)
    n, c = x.shape[:2]
    # (C, KH, KW, N, OH, OW) keeps each window row contiguous in memory when the stride is 1
    return view.transpose(1, 2, 3, 0, 4, 5).reshape(
        geo.groups, c // geo.groups * geo.kernel[0] * geo.kernel[1], -1)


def _flat_width(geo: WindowGeometry, any_waste: bool = False) -> int:
    """The padded row width ``Wp`` when the row-padded im2col (``_flat_columns``) pays, else 0.

    It needs stride 1 (each window row is then a run of the flattened padded image) and pays
    when the ``Wp - OW`` wrapped columns it adds to every GEMM are few (any number with
    ``any_waste``): its copy is 2-3x faster than ``_columns``' (runs of a whole image instead of
    one output row)."""
    if geo.row_pad() is None:
        return 0
    ow = geo.out_hw[1]
    wp = ow + (geo.kernel[1] - 1) * geo.dilation[1]
    return wp if any_waste or (wp - ow) * _FLAT_WASTE <= ow else 0


def _flat_columns(x: np.ndarray, geo: WindowGeometry) -> np.ndarray:
    """Row-padded im2col of ``x`` (see ``_flat_width``): (G, C/G*KH*KW, N*OH*Wp)."""
    (kh, kw), oh = geo.kernel, geo.out_hw[0]
    view = flat_windows(x, geo.kernel, geo.dilation, geo.row_pad(), oh)
    n, c = x.shape[:2]
    return view.transpose(1, 2, 3, 0, 4).reshape(geo.groups, c // geo.groups * kh * kw, -1)


# the input gradient runs as the flipped-kernel convolution when the input has at least this many
# channels
_MIN_FLIPPED_ROWS = 16

# ``_flat_columns`` is used when its wrapped columns add at most 1/_FLAT_WASTE to the GEMM
_FLAT_WASTE = 10


# The im2col buffer of one GEMM is at most this many bytes: a batch whose columns are larger
# runs as several GEMMs over slices of samples. Small buffers come back from the allocator's free
# list, warm; a large one is fresh memory, page-faulted in on every call (about twice the cost
# of the copy itself), and raises peak memory by KH*KW times the input.
_CHUNK_BYTES = 8 << 20


def _chunks(n: int, per_sample: int) -> list:
    """Slices of the batch ``range(n)`` whose im2col buffers fit ``_CHUNK_BYTES``."""
    step = max(1, min(n, _CHUNK_BYTES // max(per_sample, 1)))
    return [slice(s, s + step) for s in range(0, n, step)]


def _grouped_out(g: np.ndarray, groups: int) -> np.ndarray:
    """(N, O, OH, OW) -> (G, O/G, N*OH*OW), the GEMM operand layout of an output gradient."""
    n, o = g.shape[:2]
    return np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(groups, o // groups,
                                                                  g.size // max(o, 1))


def _pointwise(geo: WindowGeometry) -> bool:
    """A 1x1 convolution without padding: its im2col is a strided slice of the input."""
    return geo.kernel == (1, 1) and geo.pad == (0, 0)


def _taps(geo: WindowGeometry) -> tuple:
    """The input rows and columns a 1x1 convolution reads."""
    return tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(geo.out_hw, geo.stride))


# -- per-image kernel-row GEMMs: stride-1 convolutions over large images, no im2col ---------------
#
# In the flattened row-padded image (see ``_flat_columns``) kernel tap (i, j) of every output
# position is one column slice, at offset i*dh*Wp + j*dw. Stacking the image KW times, copy j
# shifted left by j*dw (``_RowImage``), makes kernel row i of every output position one column
# slice of that stack, (KW*C, OH*Wp) at offset i*dh*Wp: a strided view BLAS reads in place. So
# per image, conv2d is KH GEMMs (O, KW*C) @ (KW*C, OH*Wp) summed into an accumulator that stays
# in the L2 cache, and conv2d_weight_grad is KH GEMMs g (O, OH*Wp) @ slice^T. The copy is KW times
# the image, in runs of whole images, where im2col writes KH*KW times it in runs of one output
# row; the GEMMs are smaller than im2col's, but their inner dimension KW*C is 3x a single tap's
# (per-tap GEMMs, K = C, ran at 55 GFLOP/s in the cifar ResNet's first layers, these 10-25%
# faster).

_ROWS_MIN_CHANNELS = 32  # input channels (with KW, the inner dimension of conv2d's GEMMs)
_ROWS_MIN_COLS_FORWARD = 256  # OH*Wp: conv2d wins from ResNet's 16x16 layers (128 channels) on
_ROWS_MIN_COLS_WEIGHT = 200  # the weight gradient wins down to 14x14 (OH*Wp = 224), loses at 8x8
# the stack is at most this many bytes: a larger image runs in bands of output rows (ResNet's
# largest stack, 64 channels at 56x56, is 2.6 MB: one band)
_ROWS_STACK_BYTES = 8 << 20


def _rows_width(geo: WindowGeometry, c: int, min_cols: int) -> int:
    """The padded row width ``Wp`` when the kernel-row GEMMs take the convolution, else 0."""
    if geo.groups != 1 or c < _ROWS_MIN_CHANNELS or geo.stride != (1, 1):
        return 0
    wp = _flat_width(geo, any_waste=True)
    return wp if wp and geo.out_hw[0] * wp >= min_cols else 0


class _RowImage:
    """One zero-padded image, flattened per channel (with (KW-1)*dw zeros of slack for the last
    rows' wrapped columns), and the KW-fold stack ``rows`` of a band of it: row block j is the
    flat image from element j*dw on, from the band's first row. ``load`` copies an image into
    the interior (the zero border is never written); ``bands`` stacks it band by band."""

    def __init__(self, geo: WindowGeometry, c: int, wp: int, dtype: Any) -> None:
        (kh, kw), (dh, dw) = geo.kernel, geo.dilation
        self.flat, self.interior = flat_padded((c,), geo.in_hw, geo.row_pad(), (kw - 1) * dw,
                                               dtype)
        self.wp, self.reach = wp, (kh - 1) * dh * wp  # reach: the rows a window spans below
        self.out_rows = geo.out_hw[0]
        per_row = kw * c * wp * np.dtype(dtype).itemsize
        self.band_rows = max(1, min(self.out_rows, (_ROWS_STACK_BYTES // per_row)
                                    - (kh - 1) * dh))
        self.stack = np.empty((kw, c, self.reach + self.band_rows * wp), dtype=dtype)
        self.rows = self.stack.reshape(kw * c, -1)
        self.offsets = [i * dh * wp for i in range(kh)]
        self.shifts = [j * dw for j in range(kw)]
        self.cols = 0

    def load(self, image: np.ndarray) -> None:
        self.interior[...] = image

    def bands(self) -> Iterator[tuple]:
        """Output rows ``(r0, r1)``, band by band, each stacked before it is yielded: ``row(i)``
        then has (r1 - r0)*Wp columns."""
        for r0 in range(0, self.out_rows, self.band_rows):
            r1 = min(self.out_rows, r0 + self.band_rows)
            self.cols = (r1 - r0) * self.wp
            span, start = self.reach + self.cols, r0 * self.wp  # the last block ends in slack
            for j, shift in enumerate(self.shifts):
                self.stack[j, :, :span] = self.flat[:, start + shift:start + shift + span]
            yield r0, r1

    def row(self, i: int) -> np.ndarray:
        """(KW*C, cols), rows ordered (j, c): every output position's inputs at kernel row i."""
        off = self.offsets[i]
        return self.rows[:, off:off + self.cols]


def _forward_rows(x: np.ndarray, w: np.ndarray, geo: WindowGeometry, wp: int) -> np.ndarray:
    n, c = x.shape[:2]
    o, (oh, ow), (kh, kw) = w.shape[0], geo.out_hw, geo.kernel
    dtype = np.result_type(x, w)
    img = _RowImage(geo, c, wp, dtype)
    # (KH, O, KW*C): [i, o, j*C + c] = w[o, c, i, j], matching the stack's row order
    wr = np.ascontiguousarray(w.transpose(2, 0, 3, 1), dtype=dtype).reshape(kh, o, kw * c)
    acc_buf = np.empty(o * img.band_rows * wp, dtype=dtype)
    tmp_buf = np.empty_like(acc_buf)
    y = np.empty((n, o, oh, ow), dtype=dtype)
    for s in range(n):
        img.load(x[s])
        for r0, r1 in img.bands():
            acc = acc_buf[:o * img.cols].reshape(o, img.cols)
            tmp = tmp_buf[:o * img.cols].reshape(o, img.cols)
            np.matmul(wr[0], img.row(0), out=acc)
            for i in range(1, kh):
                np.matmul(wr[i], img.row(i), out=tmp)
                acc += tmp
            y[s, :, r0:r1] = acc.reshape(o, r1 - r0, wp)[:, :, :ow]  # wrapped columns dropped
    return y


def _weight_rows(x: np.ndarray, g: np.ndarray, geo: WindowGeometry, wp: int) -> np.ndarray:
    n, c = x.shape[:2]
    o, (oh, ow), (kh, kw) = g.shape[1], geo.out_hw, geo.kernel
    dtype = np.result_type(x, g)
    img = _RowImage(geo, c, wp, dtype)
    gp = np.zeros((o, oh, wp), dtype=dtype)  # the wrapped columns meet zeros here
    gw = np.zeros((kh, o, kw * c), dtype=dtype)
    tmp = np.empty((o, kw * c), dtype=dtype)
    for s in range(n):
        img.load(x[s])
        gp[:, :, :ow] = g[s]
        for r0, r1 in img.bands():
            g_rows = gp[:, r0:r1].reshape(o, img.cols)  # a view, its rows OH*Wp apart
            for i in range(kh):
                np.matmul(g_rows, img.row(i).T, out=tmp)
                gw[i] += tmp
    return np.ascontiguousarray(gw.reshape(kh, o, kw, c).transpose(1, 3, 0, 2))


# -- the three kernels -----------------------------------------------------------------------------


def conv2d(x: np.ndarray, w: np.ndarray, geo: WindowGeometry) -> np.ndarray:
    """The convolution (cross-correlation): ``x`` (N, C, H, W), ``w`` (O, C/G, KH, KW) ->
    (N, O, OH, OW)."""
    n, c = x.shape[:2]
    o, groups = w.shape[0], geo.groups
    wp = _rows_width(geo, c, _ROWS_MIN_COLS_FORWARD)
    if wp:
        return _forward_rows(x, w, geo, wp)
    wg = w.reshape(groups, o // groups, -1)
    if _pointwise(geo):  # per sample (G, O/G, C/G) @ (G, C/G, OH*OW): NCHW out, no im2col
        rows, cols = _taps(geo)
        xs = x[:, :, rows, cols].reshape(n, groups, c // groups, geo.out_hw[0] * geo.out_hw[1])
        return np.matmul(wg, xs).reshape((n, o) + geo.out_hw)
    y = np.empty((n, o) + geo.out_hw, dtype=np.result_type(x, w))
    (oh, ow), wp = geo.out_hw, _flat_width(geo)
    per = x.itemsize * c * w.shape[2] * w.shape[3] * oh * (wp or ow)
    for s in _chunks(n, per):
        if wp:  # (G, O/G, n*OH*Wp): drop each row's wrapped columns
            part = np.matmul(wg, _flat_columns(x[s], geo))
            part = part.reshape(o, -1, oh, wp)[..., :ow]
            y[s] = part.transpose(1, 0, 2, 3)
        else:
            part = np.matmul(wg, _columns(x[s], geo))  # (G, O/G, n*OH*OW)
            y[s] = part.reshape((o, -1) + geo.out_hw).transpose(1, 0, 2, 3)
    return y


def conv2d_biased(x: np.ndarray, w: np.ndarray, geo: WindowGeometry,
                  bias: np.ndarray | None = None) -> np.ndarray:
    """``conv2d`` plus ``bias`` (O) per output channel: the backend's forward kernel."""
    y = conv2d(x, w, geo)
    if bias is not None:
        y += bias.reshape(-1, 1, 1)
    return y


def _flipped(w: np.ndarray, groups: int) -> np.ndarray:
    """(O, C/G, KH, KW) -> (C, O/G, KH, KW), each group's kernel transposed and rotated 180°:
    the weight of the convolution that is the input gradient of a stride-1 convolution."""
    o, cg, kh, kw = w.shape
    wt = w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 2, 1, 3, 4)
    return wt.reshape(groups * cg, o // groups, kh, kw)[:, :, ::-1, ::-1]


def conv2d_input_grad(g: np.ndarray, w: np.ndarray, geo: WindowGeometry) -> np.ndarray:
    """The transposed convolution, ``conv2d``'s adjoint in ``x``: ``g`` (N, O, OH, OW), ``w``
    (O, C/G, KH, KW) -> (N, C, H, W)."""
    n, o = g.shape[:2]
    groups = geo.groups
    c, kh, kw = w.shape[1] * groups, w.shape[2], w.shape[3]
    wt = w.reshape(groups, o // groups, -1).transpose(0, 2, 1)  # (G, C/G*KH*KW, O/G)
    dtype = np.result_type(g, w)
    if _pointwise(geo):
        gs = g.reshape(n, groups, o // groups, geo.out_hw[0] * geo.out_hw[1])
        part = np.matmul(wt, gs).reshape((n, c) + geo.out_hw)
        if geo.out_hw == geo.in_hw:
            return part
        img = np.zeros((n, c) + geo.in_hw, dtype=dtype)
        img[(slice(None), slice(None)) + _taps(geo)] = part
        return img
    # no col2im: its scatter-add costs 2-4x an im2col copy; but with few input channels the
    # flipped kernel's GEMM has too few rows to run fast
    adjoint = geo.transposed() if c >= _MIN_FLIPPED_ROWS else None
    if adjoint is not None:
        return conv2d(g, _flipped(w, groups), adjoint)
    (pt, pl), (h, wd) = geo.pad, geo.in_hw
    img = np.empty((n, c, h, wd), dtype=dtype)
    per = g.itemsize * c * kh * kw * geo.out_hw[0] * geo.out_hw[1]
    for s in _chunks(n, per):
        cols = np.matmul(wt, _grouped_out(g[s], groups))  # (G, C/G*KH*KW, n*OH*OW)
        cols = cols.reshape((c, kh, kw, -1) + geo.out_hw).transpose(3, 0, 1, 2, 4, 5)
        img[s] = col2im(cols, (pt + h, pl + wd), geo.stride, geo.dilation)[:, :, pt:, pl:]
    return img


def conv2d_weight_grad(x: np.ndarray, g: np.ndarray, geo: WindowGeometry) -> np.ndarray:
    """``conv2d``'s adjoint in ``w``: ``x`` (N, C, H, W), ``g`` (N, O, OH, OW) -> ``w``'s shape
    (O, C/G, KH, KW)."""
    n, c = x.shape[:2]
    o = g.shape[1]
    wp = _rows_width(geo, c, _ROWS_MIN_COLS_WEIGHT)
    if wp:
        return _weight_rows(x, g, geo, wp)
    gw = None
    direct = o * c * geo.kernel[0] * geo.kernel[1] // geo.groups >= _DIRECT_WEIGHT
    (oh, ow), wp = geo.out_hw, _flat_width(geo)
    per = x.itemsize * c * geo.kernel[0] * geo.kernel[1] * oh * (wp or ow)
    for s in _chunks(n, per):
        if wp:  # the wrapped columns meet zeros in the output gradient
            gs = g[s]
            gp = np.zeros((o, gs.shape[0], oh, wp), dtype=gs.dtype)
            gp[..., :ow] = gs.transpose(1, 0, 2, 3)
            gs, cols = gp.reshape(geo.groups, o // geo.groups, -1), _flat_columns(x[s], geo)
        else:
            gs, cols = _grouped_out(g[s], geo.groups), _columns(x[s], geo)
        # a big weight comes out of the GEMM in its own layout, (G, O/G, C/G*KH*KW): the 2-d
        # transposing copy back from cols @ g^T would cost up to half the GEMM's time; a small
        # one is computed transposed, where OpenBLAS runs these shapes 10-25% faster
        part = np.matmul(gs, cols.transpose(0, 2, 1)) if direct else \
            np.matmul(cols, gs.transpose(0, 2, 1))
        if gw is None:
            gw = part
        else:
            gw += part
    if gw is None:  # an empty batch
        return np.zeros((o, c // geo.groups) + geo.kernel, dtype=np.result_type(x, g))
    if not direct:
        gw = np.ascontiguousarray(gw.transpose(0, 2, 1))
    return gw.reshape((o, c // geo.groups) + geo.kernel)


# conv2d_weight_grad's GEMM gives the weight layout directly from this many weight elements on
_DIRECT_WEIGHT = 1 << 19
