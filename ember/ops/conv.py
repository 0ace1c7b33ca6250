"""2-d convolution and transposed convolution (im2col as a strided view, one GEMM per conv),
and the spatial padding they use (``pad``: constant, reflect, replicate, circular).

Three array functions share one geometry (stride, padding, dilation, groups, sizes) and are
adjoint to each other under ``<F(x, w), g> = <x, T(g, w)> = <w, W(x, g)>``:

    F(x, w)  convolution:        im2col(x) then one (batched over groups) GEMM with w
    T(g, w)  transposed conv:    a GEMM with w, then col2im (a scatter-add over kernel offsets);
                                 for stride 1, F(g, w flipped and transposed): an im2col copy is
                                 2-4x cheaper than the scatter-add
    W(x, g)  weight gradient:    a GEMM of g with im2col(x)

With stride 1, im2col may read the images row-padded (``_Geometry.flat_columns``): each window
row is then one run of the flattened image, copied 2-3x faster, and each output row carries a
few wrapped columns that are computed and dropped. Over large images F and W skip im2col
altogether: per image, one GEMM per kernel row on a column slice of a KW-fold stack of that
padded image (``_forward_rows``, ``_weight_rows``).

Every derivative of one of them is another of them (``y = F(x, w)``: dx = T(gy, w),
dw = W(x, gy); ``y = T(g, w)``: dg = F(gy, w), dw = W(gy, g); ``y = W(x, g)``: dx = T(g, gy),
dg = F(x, gy)), so a single Op class differentiates to any order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from ..autograd.function import Op
from ..backend import kernels
from ..tensor import Tensor
from .inplace import type_name

IntOr2 = Any  # int or a pair of ints


@dataclass(frozen=True)
class _Geometry:
    """Where the windows of a convolution sit: ``in_hw`` is the unpadded image, ``out_hw`` the
    grid of windows, ``pad`` the top/left padding (bottom/right follow from the sizes)."""

    kernel: tuple
    stride: tuple
    pad: tuple
    dilation: tuple
    groups: int
    in_hw: tuple
    out_hw: tuple

    def padded_image(self, xp: Any, x: Any, value: float = 0.0) -> Any:
        """``x`` padded with ``value`` (or cropped at the bottom/right) to exactly the rows and
        columns the windows read."""
        need = [(o - 1) * s + (k - 1) * d + 1
                for o, s, k, d in zip(self.out_hw, self.stride, self.kernel, self.dilation)]
        (pt, pl), (h, w) = self.pad, x.shape[2:]
        return kernels(xp).pad2d(x, pt, need[0] - h - pt, pl, need[1] - w - pl, value)

    def columns(self, xp: Any, x: Any) -> Any:
        """im2col of ``x`` as (G, C/G*KH*KW, N*OH*OW): the one copy a convolution makes."""
        view = kernels(xp).windows(self.padded_image(xp, x), self.kernel, self.stride,
                                   self.dilation, self.out_hw)  # (N, C, KH, KW, OH, OW)
        n, c = x.shape[:2]
        # (C, KH, KW, N, OH, OW) keeps each window row contiguous in memory when the stride is 1
        return view.transpose(1, 2, 3, 0, 4, 5).reshape(
            self.groups, c // self.groups * self.kernel[0] * self.kernel[1], -1)

    def _row_pad(self) -> tuple | None:
        """For stride 1: the zero padding (top, bottom, left, right) that makes the windows
        cover the padded image exactly; None where they would need a crop instead."""
        (pt, pl), (h, w), (oh, ow) = self.pad, self.in_hw, self.out_hw
        (kh, kw), (dh, dw) = self.kernel, self.dilation
        pad = (pt, oh + (kh - 1) * dh - h - pt, pl, ow + (kw - 1) * dw - w - pl)
        return pad if self.stride == (1, 1) and min(pad) >= 0 else None

    def flat_width(self, any_waste: bool = False) -> int:
        """The padded row width ``Wp`` when the row-padded im2col (``flat_columns``) pays, else 0.

        It needs stride 1 (each window row is then a run of the flattened padded image) and
        pays when the ``Wp - OW`` wrapped columns it adds to every GEMM are few (any number with
        ``any_waste``): its copy is 2-3x faster than ``columns``' (runs of a whole image instead
        of one output row)."""
        if self._row_pad() is None:
            return 0
        ow = self.out_hw[1]
        wp = ow + (self.kernel[1] - 1) * self.dilation[1]
        return wp if any_waste or (wp - ow) * _FLAT_WASTE <= ow else 0

    def flat_columns(self, xp: Any, x: Any) -> Any:
        """Row-padded im2col of ``x`` (see ``flat_width``): (G, C/G*KH*KW, N*OH*Wp)."""
        (kh, kw), oh = self.kernel, self.out_hw[0]
        view = kernels(xp).flat_windows(x, self.kernel, self.dilation, self._row_pad(), oh)
        n, c = x.shape[:2]
        return view.transpose(1, 2, 3, 0, 4).reshape(self.groups, c // self.groups * kh * kw, -1)

    def transposed(self) -> "_Geometry | None":
        """For stride 1, the geometry in which T (the input gradient) is a convolution F of the
        output gradient with the flipped, transposed kernel; None where that needs a crop."""
        pad = self._row_pad()
        if pad is None:
            return None
        (kh, kw), (dh, dw) = self.kernel, self.dilation
        reach_h, reach_w = (kh - 1) * dh, (kw - 1) * dw  # each side's padding becomes reach - it
        flipped = (reach_h - pad[0], reach_h - pad[1], reach_w - pad[2], reach_w - pad[3])
        if min(flipped) < 0:
            return None
        return _Geometry(self.kernel, self.stride, (flipped[0], flipped[2]), self.dilation,
                         self.groups, self.out_hw, self.in_hw)


# T runs as the flipped-kernel convolution when the input has at least this many channels
_MIN_FLIPPED_ROWS = 16

# ``flat_columns`` is used when its wrapped columns add at most 1/_FLAT_WASTE to the GEMM
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


def _grouped_out(xp: Any, g: Any, groups: int) -> Any:
    """(N, O, OH, OW) -> (G, O/G, N*OH*OW), the GEMM operand layout of an output gradient."""
    n, o = g.shape[:2]
    return xp.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(groups, o // groups,
                                                                  g.size // max(o, 1))


def _pointwise(geo: _Geometry) -> bool:
    """A 1x1 convolution without padding: its im2col is a strided slice of the input."""
    return geo.kernel == (1, 1) and geo.pad == (0, 0)


def _taps(geo: _Geometry) -> tuple:
    """The input rows and columns a 1x1 convolution reads."""
    return tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(geo.out_hw, geo.stride))


# -- per-image kernel-row GEMMs: stride-1 convolutions over large images, no im2col ---------------
#
# In the flattened row-padded image (see ``flat_columns``) kernel tap (i, j) of every output
# position is one column slice, at offset i*dh*Wp + j*dw. Stacking the image KW times, copy j
# shifted left by j*dw (``_RowImage``), makes kernel row i of every output position one column
# slice of that stack, (KW*C, OH*Wp) at offset i*dh*Wp: a strided view BLAS reads in place. So
# per image, F is KH GEMMs (O, KW*C) @ (KW*C, OH*Wp) summed into an accumulator that stays in the
# L2 cache, and W is KH GEMMs g (O, OH*Wp) @ slice^T. The copy is KW times the image, in runs of
# whole images, where im2col writes KH*KW times it in runs of one output row; the GEMMs are
# smaller than im2col's, but their inner dimension KW*C is 3x a single tap's (per-tap GEMMs,
# K = C, ran at 55 GFLOP/s in the cifar ResNet's first layers, these 10-25% faster).

_ROWS_MIN_CHANNELS = 32  # input channels (with KW, the inner dimension of F's GEMMs)
_ROWS_MIN_COLS_F = 256  # OH*Wp: F wins from ResNet's 16x16 layers (128 channels) on
_ROWS_MIN_COLS_W = 200  # W wins down to 14x14 (OH*Wp = 224) and loses at 8x8 and 7x7
# the stack is at most this many bytes: a larger image runs in bands of output rows (ResNet's
# largest stack, 64 channels at 56x56, is 2.6 MB: one band)
_ROWS_STACK_BYTES = 8 << 20


def _rows_width(geo: _Geometry, c: int, min_cols: int) -> int:
    """The padded row width ``Wp`` when the kernel-row GEMMs take the convolution, else 0."""
    if geo.groups != 1 or c < _ROWS_MIN_CHANNELS or geo.stride != (1, 1):
        return 0
    wp = geo.flat_width(any_waste=True)
    return wp if wp and geo.out_hw[0] * wp >= min_cols else 0


class _RowImage:
    """One zero-padded image, flattened per channel (with (KW-1)*dw zeros of slack for the last
    rows' wrapped columns), and the KW-fold stack ``rows`` of a band of it: row block j is the
    flat image from element j*dw on, from the band's first row. ``load`` copies an image into
    the interior (the zero border is never written); ``bands`` stacks it band by band."""

    def __init__(self, xp: Any, geo: _Geometry, c: int, wp: int, dtype: Any) -> None:
        (kh, kw), (dh, dw) = geo.kernel, geo.dilation
        self.flat, self.interior = kernels(xp).flat_padded((c,), geo.in_hw, geo._row_pad(),
                                                           (kw - 1) * dw, dtype)
        self.wp, self.reach = wp, (kh - 1) * dh * wp  # reach: the rows a window spans below
        self.out_rows = geo.out_hw[0]
        per_row = kw * c * wp * xp.dtype(dtype).itemsize
        self.band_rows = max(1, min(self.out_rows, (_ROWS_STACK_BYTES // per_row)
                                    - (kh - 1) * dh))
        self.stack = xp.empty((kw, c, self.reach + self.band_rows * wp), dtype=dtype)
        self.rows = self.stack.reshape(kw * c, -1)
        self.offsets = [i * dh * wp for i in range(kh)]
        self.shifts = [j * dw for j in range(kw)]
        self.cols = 0

    def load(self, image: Any) -> None:
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

    def row(self, i: int) -> Any:
        """(KW*C, cols), rows ordered (j, c): every output position's inputs at kernel row i."""
        off = self.offsets[i]
        return self.rows[:, off:off + self.cols]


def _forward_rows(xp: Any, x: Any, w: Any, geo: _Geometry, wp: int) -> Any:
    n, c = x.shape[:2]
    o, (oh, ow), (kh, kw) = w.shape[0], geo.out_hw, geo.kernel
    dtype = xp.result_type(x, w)
    img = _RowImage(xp, geo, c, wp, dtype)
    # (KH, O, KW*C): [i, o, j*C + c] = w[o, c, i, j], matching the stack's row order
    wr = xp.ascontiguousarray(w.transpose(2, 0, 3, 1), dtype=dtype).reshape(kh, o, kw * c)
    acc_buf = xp.empty(o * img.band_rows * wp, dtype=dtype)
    tmp_buf = xp.empty_like(acc_buf)
    y = xp.empty((n, o, oh, ow), dtype=dtype)
    for s in range(n):
        img.load(x[s])
        for r0, r1 in img.bands():
            acc = acc_buf[:o * img.cols].reshape(o, img.cols)
            tmp = tmp_buf[:o * img.cols].reshape(o, img.cols)
            xp.matmul(wr[0], img.row(0), out=acc)
            for i in range(1, kh):
                xp.matmul(wr[i], img.row(i), out=tmp)
                acc += tmp
            y[s, :, r0:r1] = acc.reshape(o, r1 - r0, wp)[:, :, :ow]  # wrapped columns dropped
    return y


def _weight_rows(xp: Any, x: Any, g: Any, geo: _Geometry, wp: int) -> Any:
    n, c = x.shape[:2]
    o, (oh, ow), (kh, kw) = g.shape[1], geo.out_hw, geo.kernel
    dtype = xp.result_type(x, g)
    img = _RowImage(xp, geo, c, wp, dtype)
    gp = xp.zeros((o, oh, wp), dtype=dtype)  # the wrapped columns meet zeros here
    gw = xp.zeros((kh, o, kw * c), dtype=dtype)
    tmp = xp.empty((o, kw * c), dtype=dtype)
    for s in range(n):
        img.load(x[s])
        gp[:, :, :ow] = g[s]
        for r0, r1 in img.bands():
            g_rows = gp[:, r0:r1].reshape(o, img.cols)  # a view, its rows OH*Wp apart
            for i in range(kh):
                xp.matmul(g_rows, img.row(i).T, out=tmp)
                gw[i] += tmp
    return xp.ascontiguousarray(gw.reshape(kh, o, kw, c).transpose(1, 3, 0, 2))


def conv_forward(xp: Any, x: Any, w: Any, geo: _Geometry) -> Any:
    """F: ``x`` (N, C, H, W), ``w`` (O, C/G, KH, KW) -> (N, O, OH, OW)."""
    n, c = x.shape[:2]
    o, groups = w.shape[0], geo.groups
    wp = _rows_width(geo, c, _ROWS_MIN_COLS_F)
    if wp:
        return _forward_rows(xp, x, w, geo, wp)
    wg = w.reshape(groups, o // groups, -1)
    if _pointwise(geo):  # per sample (G, O/G, C/G) @ (G, C/G, OH*OW): NCHW out, no im2col
        rows, cols = _taps(geo)
        xs = x[:, :, rows, cols].reshape(n, groups, c // groups, geo.out_hw[0] * geo.out_hw[1])
        return xp.matmul(wg, xs).reshape((n, o) + geo.out_hw)
    y = xp.empty((n, o) + geo.out_hw, dtype=xp.result_type(x, w))
    (oh, ow), wp = geo.out_hw, geo.flat_width()
    per = x.itemsize * c * w.shape[2] * w.shape[3] * oh * (wp or ow)
    for s in _chunks(n, per):
        if wp:  # (G, O/G, n*OH*Wp): drop each row's wrapped columns
            part = xp.matmul(wg, geo.flat_columns(xp, x[s]))
            part = part.reshape(o, -1, oh, wp)[..., :ow]
            y[s] = part.transpose(1, 0, 2, 3)
        else:
            part = xp.matmul(wg, geo.columns(xp, x[s]))  # (G, O/G, n*OH*OW)
            y[s] = part.reshape((o, -1) + geo.out_hw).transpose(1, 0, 2, 3)
    return y


def _flipped(w: Any, groups: int) -> Any:
    """(O, C/G, KH, KW) -> (C, O/G, KH, KW), each group's kernel transposed and rotated 180°:
    the weight of the convolution that is T of a stride-1 convolution."""
    o, cg, kh, kw = w.shape
    wt = w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 2, 1, 3, 4)
    return wt.reshape(groups * cg, o // groups, kh, kw)[:, :, ::-1, ::-1]


def conv_transpose(xp: Any, g: Any, w: Any, geo: _Geometry) -> Any:
    """T, the adjoint of F in ``x``: ``g`` (N, O, OH, OW), ``w`` -> (N, C, H, W)."""
    n, o = g.shape[:2]
    groups = geo.groups
    c, kh, kw = w.shape[1] * groups, w.shape[2], w.shape[3]
    wt = w.reshape(groups, o // groups, -1).transpose(0, 2, 1)  # (G, C/G*KH*KW, O/G)
    dtype = xp.result_type(g, w)
    if _pointwise(geo):
        gs = g.reshape(n, groups, o // groups, geo.out_hw[0] * geo.out_hw[1])
        part = xp.matmul(wt, gs).reshape((n, c) + geo.out_hw)
        if geo.out_hw == geo.in_hw:
            return part
        img = xp.zeros((n, c) + geo.in_hw, dtype=dtype)
        img[(slice(None), slice(None)) + _taps(geo)] = part
        return img
    # no col2im: its scatter-add costs 2-4x an im2col copy; but with few input channels the
    # flipped kernel's GEMM has too few rows to run fast
    adjoint = geo.transposed() if c >= _MIN_FLIPPED_ROWS else None
    if adjoint is not None:
        return conv_forward(xp, g, _flipped(w, groups), adjoint)
    (pt, pl), (h, wd) = geo.pad, geo.in_hw
    img = xp.empty((n, c, h, wd), dtype=dtype)
    per = g.itemsize * c * kh * kw * geo.out_hw[0] * geo.out_hw[1]
    for s in _chunks(n, per):
        cols = xp.matmul(wt, _grouped_out(xp, g[s], groups))  # (G, C/G*KH*KW, n*OH*OW)
        cols = cols.reshape((c, kh, kw, -1) + geo.out_hw).transpose(3, 0, 1, 2, 4, 5)
        img[s] = kernels(xp).col2im(cols, (pt + h, pl + wd), geo.stride, geo.dilation)[
            :, :, pt:, pl:]
    return img


def conv_weight(xp: Any, x: Any, g: Any, geo: _Geometry) -> Any:
    """W, the adjoint of F in ``w``: ``x`` (N, C, H, W), ``g`` (N, O, OH, OW) -> ``w``'s shape
    (O, C/G, KH, KW)."""
    n, c = x.shape[:2]
    o = g.shape[1]
    wp = _rows_width(geo, c, _ROWS_MIN_COLS_W)
    if wp:
        return _weight_rows(xp, x, g, geo, wp)
    gw = None
    direct = o * c * geo.kernel[0] * geo.kernel[1] // geo.groups >= _DIRECT_WEIGHT
    (oh, ow), wp = geo.out_hw, geo.flat_width()
    per = x.itemsize * c * geo.kernel[0] * geo.kernel[1] * oh * (wp or ow)
    for s in _chunks(n, per):
        if wp:  # the wrapped columns meet zeros in the output gradient
            gs = g[s]
            gp = xp.zeros((o, gs.shape[0], oh, wp), dtype=gs.dtype)
            gp[..., :ow] = gs.transpose(1, 0, 2, 3)
            gs, cols = gp.reshape(geo.groups, o // geo.groups, -1), geo.flat_columns(xp, x[s])
        else:
            gs, cols = _grouped_out(xp, g[s], geo.groups), geo.columns(xp, x[s])
        # a big weight comes out of the GEMM in its own layout, (G, O/G, C/G*KH*KW): the 2-d
        # transposing copy back from cols @ g^T would cost up to half the GEMM's time; a small
        # one is computed transposed, where OpenBLAS runs these shapes 10-25% faster
        part = xp.matmul(gs, cols.transpose(0, 2, 1)) if direct else \
            xp.matmul(cols, gs.transpose(0, 2, 1))
        if gw is None:
            gw = part
        else:
            gw += part
    if gw is None:  # an empty batch
        return xp.zeros((o, c // geo.groups) + geo.kernel, dtype=xp.result_type(x, g))
    if not direct:
        gw = xp.ascontiguousarray(gw.transpose(0, 2, 1))
    return gw.reshape((o, c // geo.groups) + geo.kernel)


# conv_weight's GEMM gives the weight layout directly from this many weight elements on
_DIRECT_WEIGHT = 1 << 19


class _Conv(Op):
    """One of F, T, W (``kind``) of two operands, plus an optional bias over output channels."""

    @staticmethod
    def forward(ctx, a, b, bias=None, *, kind, geo):
        ctx.kind, ctx.geo = kind, geo
        need_a, need_b = ctx.needs_input_grad[:2]
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        xp = ctx.xp
        fn = conv_forward if kind == "F" else conv_transpose if kind == "T" else conv_weight
        y = fn(xp, a, b, geo)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad[:2]
        need_bias = len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]
        geo, kind = ctx.geo, ctx.kind
        ga = gb = None
        if kind == "F":  # y = F(x, w)
            ga = _grad("T", g, b, geo) if need_a else None
            gb = _grad("W", a, g, geo) if need_b else None
        elif kind == "T":  # y = T(g', w)
            ga = _grad("F", g, b, geo) if need_a else None
            gb = _grad("W", g, a, geo) if need_b else None
        else:  # y = W(x, g')
            ga = _grad("T", b, g, geo) if need_a else None
            gb = _grad("F", a, g, geo) if need_b else None
        return ga, gb, (g.sum((0, 2, 3)) if need_bias else None)


class Convolution(_Conv, name="ConvolutionBackward0"):
    pass


class ConvolutionGrad(_Conv, name="ConvolutionBackwardBackward0"):
    pass


def _grad(kind: str, a: Tensor, b: Tensor, geo: _Geometry) -> Tensor:
    return ConvolutionGrad.apply(a, b, kind=kind, geo=geo)


# -- argument checks and the public functions ------------------------------------------------------


def _pair(value: IntOr2, name: str) -> tuple:
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            return (int(value[0]),) * 2
        if len(value) != 2:
            raise RuntimeError(
                f"expected {name} to be a single integer value or a list of 2 values to match the "
                f"convolution dimensions, but got {name}={list(value)}")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _check_operands(op: str, input: Tensor, weight: Tensor, bias: Tensor | None, groups: int,
                    transposed: bool) -> bool:
    """torch's checks, in its order; returns whether ``input`` is unbatched (C, H, W)."""
    if input.ndim not in (3, 4):
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to {op}, but got "
                           f"input of size: {list(input.shape)}")
    if weight.ndim != 4:
        raise RuntimeError("weight should have at least three dimensions")
    shape = list(input.shape) if input.ndim == 4 else [1] + list(input.shape)
    if input.dtype != weight.dtype:
        if input.dtype.name == "float32":
            raise RuntimeError(f"Input type ({input.type()}) and weight type ({weight.type()}) "
                               "should be the same or input should be a MKLDNN tensor and weight "
                               "is a dense tensor")
        raise RuntimeError(f"expected scalar type {type_name(input)} but found "
                           f"{type_name(weight)}")
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"Input type ({_cpp(input)}) and bias type ({_cpp(bias)}) should be "
                           "the same")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    w = list(weight.shape)
    if w[0] < groups and not transposed or w[0] == 0:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at "
                           f"dimension 0, but got weight of size {w} instead")
    if w[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size [{w}] instead")
    want = w[0] if transposed else w[1] * groups
    if shape[1] != want:
        kind = "transposed=1" if transposed else f"groups={groups}"
        raise RuntimeError(f"Given {kind}, weight of size {w}, expected input{shape} to have "
                           f"{want} channels, but got {shape[1]} channels instead")
    out_c = w[1] * groups if transposed else w[0]
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out_c):
        kind = "transposed=1, " if transposed else ""
        raise RuntimeError(f"Given {kind}weight of size {w}, expected bias to be 1-dimensional "
                           f"with {out_c} elements, but got bias of size {list(bias.shape)} "
                           "instead")
    return input.ndim == 3


def _cpp(t: Tensor) -> str:
    return {"float32": "float", "float64": "double", "float16": "c10::Half",
            "int64": "long int"}.get(t.dtype.name, t.dtype.name)


def _check_positive(stride: tuple, dilation: tuple, padding: tuple | None) -> None:
    if padding is not None and min(padding) < 0:
        raise RuntimeError("negative padding is not supported")
    if min(stride) <= 0:
        raise RuntimeError("non-positive stride is not supported")
    if min(dilation) <= 0:
        raise RuntimeError("non-positive dilation is not supported")


def _batched(input: Tensor, unbatched: bool) -> Tensor:
    return input.unsqueeze(0) if unbatched else input


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOr2 = 1,
           padding: IntOr2 | str = 0, dilation: IntOr2 = 1, groups: int = 1) -> Tensor:
    """2-d convolution (cross-correlation, as in torch) over an input of planes.

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in / groups, KH, KW)``.
        bias: ``(C_out)`` or ``None``.
        stride, dilation: an int or a pair ``(h, w)``.
        padding: an int, a pair, ``'valid'`` (none) or ``'same'`` (output size = input size;
            stride 1 only; an even total is split with the extra row/column at the bottom/right).
        groups: split the channels into this many independent convolutions.

    Returns:
        ``(N, C_out, OH, OW)`` with ``OH = (H + 2*pad - dil*(KH-1) - 1) // stride + 1``.
    """
    unbatched = _check_operands("conv2d", input, weight, bias, groups, transposed=False)
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    kernel = tuple(weight.shape[2:])
    h, w = input.shape[-2:]
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        _check_positive(stride, dilation, None)
        if padding == "same":
            if stride != (1, 1):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            # the total d*(k-1) is split evenly, the odd one out going to the bottom/right
            pad = tuple(d * (k - 1) // 2 for d, k in zip(dilation, kernel))
            out_hw = (h, w)
        else:
            pad, out_hw = (0, 0), None
        full = None
    else:
        pad = _pair(padding, "padding")
        _check_positive(stride, dilation, pad)
        out_hw, full = None, pad
    if out_hw is None:
        both = (0, 0) if full is None else full
        padded = (h + 2 * both[0], w + 2 * both[1])
        span = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
        if padded[0] < span[0] or padded[1] < span[1]:
            raise RuntimeError(
                f"Calculated padded input size per channel: ({padded[0]} x {padded[1]}). Kernel "
                f"size: ({span[0]} x {span[1]}). Kernel size can't be greater than actual input "
                "size")
        out_hw = tuple((p - s) // st + 1 for p, s, st in zip(padded, span, stride))
    geo = _Geometry(kernel, stride, pad, dilation, groups, (h, w), out_hw)
    out = Convolution.apply(_batched(input, unbatched), weight, bias, kind="F", geo=geo)
    return out.squeeze(0) if unbatched else out


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: IntOr2 = 1, padding: IntOr2 = 0, output_padding: IntOr2 = 0,
                     groups: int = 1, dilation: IntOr2 = 1) -> Tensor:
    """2-d transposed convolution (the gradient of conv2d with respect to its input).

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_in, C_out / groups, KH, KW)``.
        bias: ``(C_out)`` or ``None``.
        stride, padding, output_padding, dilation: an int or a pair; ``padding`` removes
            ``dilation*(k-1) - padding`` ... rows from each side, ``output_padding`` adds rows at
            the bottom/right (it must be smaller than the stride or the dilation).

    Returns:
        ``(N, C_out, OH, OW)`` with ``OH = (H-1)*stride - 2*padding + dil*(KH-1) + out_pad + 1``.
    """
    if isinstance(padding, str):
        raise TypeError("conv_transpose2d(): argument 'padding' must be tuple of ints, not str")
    unbatched = _check_operands("conv_transpose2d", input, weight, bias, groups, transposed=True)
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    pad, out_pad = _pair(padding, "padding"), _pair(output_padding, "output_padding")
    _check_positive(stride, dilation, pad)
    if any(op >= s and op >= d for op, s, d in zip(out_pad, stride, dilation)):
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got "
            f"output_padding_height: {out_pad[0]} output_padding_width: {out_pad[1]} "
            f"stride_height: {stride[0]} stride_width: {stride[1]} dilation_height: "
            f"{dilation[0]} dilation_width: {dilation[1]}")
    kernel = tuple(weight.shape[2:])
    in_hw = tuple(input.shape[-2:])
    out_hw = tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1
                   for i, s, p, d, k, op in zip(in_hw, stride, pad, dilation, kernel, out_pad))
    if min(out_hw) <= 0:
        raise RuntimeError(f"Given input size per channel: ({in_hw[0]} x {in_hw[1]}). Calculated "
                           f"output size per channel: ({out_hw[0]} x {out_hw[1]}). Output size is "
                           "too small")
    # the transposed conv is T of the conv that maps its output back to its input
    geo = _Geometry(kernel, stride, pad, dilation, groups, out_hw, in_hw)
    out = Convolution.apply(_batched(input, unbatched), weight, bias, kind="T", geo=geo)
    return out.squeeze(0) if unbatched else out


# -- padding ---------------------------------------------------------------------------------------


def _pad_pairs(pad: Sequence[int], ndim: int) -> list:
    """torch's flat ``pad`` (last dim first) as one ``(before, after)`` per dim of the input."""
    pairs = [(0, 0)] * ndim
    for i in range(len(pad) // 2):
        pairs[ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return pairs


class ConstantPadNd(Op, name="ConstantPadNdBackward0"):
    """Pads with ``value``, or crops where an amount is negative; the gradient is the same op
    with the amounts negated (crop what was padded, zero-pad what was cropped)."""

    @staticmethod
    def forward(ctx, x, *, pad, value):
        xp = ctx.xp
        ctx.pad = pad
        pairs = _pad_pairs(pad, x.ndim)
        shape = tuple(n + b + a for n, (b, a) in zip(x.shape, pairs))
        out = xp.full(shape, value, dtype=x.dtype)
        src = tuple(slice(max(-b, 0), n - max(-a, 0)) for n, (b, a) in zip(x.shape, pairs))
        dst = tuple(slice(max(b, 0), m - max(a, 0)) for m, (b, a) in zip(shape, pairs))
        out[dst] = x[src]
        return out

    @staticmethod
    def backward(ctx, g):
        return ConstantPadNd.apply(g, pad=[-p for p in ctx.pad], value=0)


def _pad_index(xp: Any, mode: str, n: int, before: int, after: int) -> Any:
    """Source position of each output position along one padded dim."""
    j = xp.arange(-before, n + after)
    if mode == "reflect":
        return xp.abs(n - 1 - xp.abs(j - (n - 1)))  # mirror at 0 and n-1, edges not repeated
    if mode == "replicate":
        return xp.clip(j, 0, n - 1)
    # circular: a negative amount crops first, and the wrap-around then reads the cropped range
    lo, hi = max(-before, 0), n - max(-after, 0)
    return lo + xp.arange(-max(before, 0), hi - lo + max(after, 0)) % (hi - lo)


class IndexPad(Op):
    """reflect/replicate/circular padding: a gather along each padded dim (``index`` maps an
    axis to its source positions); the gradient scatter-adds back, in ``IndexPadGrad``."""

    @staticmethod
    def forward(ctx, x, *, index):
        ctx.index, ctx.shape = index, x.shape
        for axis, idx in index.items():
            x = x.take(idx, axis=axis)
        return x

    @staticmethod
    def backward(ctx, g):
        return IndexPadGrad.apply(g, index=ctx.index, shape=ctx.shape, op=type(ctx))


class IndexPadGrad(Op, name="IndexPadBackwardBackward0"):
    @staticmethod
    def forward(ctx, g, *, index, shape, op):
        xp = ctx.xp
        ctx.index, ctx.op = index, op
        for axis in sorted(index, reverse=True):
            size = list(g.shape)
            size[axis] = shape[axis]
            out = xp.zeros(size, dtype=g.dtype)
            kernels(xp).scatter_add(out, (slice(None),) * axis + (index[axis],), g)
            g = out
        return g

    @staticmethod
    def backward(ctx, gg):
        return ctx.op.apply(gg, index=ctx.index)


_INDEX_PADS = {
    (mode, k): type(f"{label}Pad{k}D", (IndexPad,), {"__module__": __name__},
                    name=f"{label}Pad{k}DBackward0" if mode != "circular" else "CopySlices")
    for mode, label in (("reflect", "Reflection"), ("replicate", "Replication"),
                        ("circular", "Circular"))
    for k in (1, 2, 3)
}


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",
        value: float | None = None) -> Tensor:
    """Pads the last ``len(pad) // 2`` dims: ``pad = (left, right, top, bottom, ...)``, last dim
    first. ``mode`` is ``'constant'`` (with ``value``, default 0; negative amounts crop),
    ``'reflect'``, ``'replicate'`` or ``'circular'`` (for the last 1-3 dims of a batched or
    unbatched input)."""
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    k = len(pad) // 2
    if mode == "constant":
        if k > input.ndim:
            raise RuntimeError(f"Padding length should be less than or equal to two times the "
                               f"input dimension but got padding length {len(pad)} and input of "
                               f"dimension {input.ndim}")
        for d, (b, a) in enumerate(_pad_pairs(pad, input.ndim)):
            if input.shape[d] + b + a < 0:  # (torch fails in the narrow() that crops)
                raise RuntimeError("narrow(): length must be non-negative.")
        return ConstantPadNd.apply(input, pad=pad, value=0 if value is None else value)
    if value is not None:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if k not in (1, 2, 3) or input.ndim not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    from ..backend import get_array_module

    xp = get_array_module()
    index = {}
    pairs = _pad_pairs(pad, input.ndim)
    for d in range(input.ndim - 1, input.ndim - k - 1, -1):  # width first, as torch checks
        (b, a), n = pairs[d], input.shape[d]
        if mode == "reflect" and (b >= n or a >= n):
            arg = 4 + 2 * (input.ndim - 1 - d)  # torch's argument number: width 4, height 6
            raise RuntimeError(f"Argument #{arg}: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({b}, {a}) at "
                               f"dimension {d} of input {list(input.shape)}")
        if mode == "circular" and (b > n or a > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        index[d] = _pad_index(xp, mode, n, b, a)
    return _INDEX_PADS[mode, k].apply(input, index=index)


__all__ = ["conv2d", "conv_transpose2d", "constant_pad_nd"]


def constant_pad_nd(input: Tensor, pad: Sequence[int], value: float = 0) -> Tensor:
    """``torch.constant_pad_nd``: ``pad`` with ``mode='constant'``."""
    return ConstantPadNd.apply(input, pad=[int(p) for p in pad], value=value)
TENSOR_METHODS: dict = {}
