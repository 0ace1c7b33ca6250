"""1-d and 3-d convolution kernels, built on the 2-d ones (``numpy_conv``).

A 1-d convolution is the 2-d one over images of height 1, exactly (a reshape, no copy).

A 3-d convolution folds depth into the 2-d kernels: ``depth_windows`` gathers, for every output
depth ``od``, the KD input slices its windows read (``od*sd + kd*dd``), as (N*OD, C*KD, H, W), and
the weight (O, C/G, KD, KH, KW) read as (O, C/G*KD, KH, KW) has its channels in the same (c, kd)
order, group by group. So

    conv3d(x, w)              = conv2d(depth_windows(x), w2)
    conv3d_input_grad(g, w)   = depth_col2im(conv2d_input_grad(g2, w2))
    conv3d_weight_grad(x, g)  = conv2d_weight_grad(depth_windows(x), g2)

one 2-d GEMM-backed call each; ``depth_col2im``, the adjoint of the gather, loops over the KD
kernel depths only (each step one whole-array add).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import numpy_conv
from .geometry import WindowGeometry


def plane_geometry(geo: WindowGeometry) -> WindowGeometry:
    """The 2-d geometry of the last two dims of a 3-d one."""
    return WindowGeometry(geo.kernel[1:], geo.stride[1:], geo.pad[1:], geo.dilation[1:],
                          geo.groups, geo.in_hw[1:], geo.out_hw[1:])


def line_geometry(geo: WindowGeometry) -> WindowGeometry:
    """A 1-d geometry as the 2-d one over images of height 1."""
    return WindowGeometry((1,) + tuple(geo.kernel), (1,) + tuple(geo.stride),
                          (0,) + tuple(geo.pad), (1,) + tuple(geo.dilation), geo.groups,
                          (1,) + tuple(geo.in_hw), (1,) + tuple(geo.out_hw))


def depth_windows(x: np.ndarray, kernel: int, stride: int, dilation: int, pad: int, out: int,
                  value: float = 0.0) -> np.ndarray:
    """``x`` (N, C, D, ...) -> a read-only view (N, C, KD, OD, ...) with ``[n, c, kd, od] =
    padded[n, c, od*stride + kd*dilation]``, ``padded`` being ``x`` with ``pad`` slices of
    ``value`` in front and as many behind as the windows reach (or cropped there)."""
    d = x.shape[2]
    need = (out - 1) * stride + (kernel - 1) * dilation + 1
    after = need - d - pad
    if pad or after > 0:
        shape = x.shape[:2] + (need,) + x.shape[3:]
        padded = np.full(shape, value, dtype=x.dtype)
        padded[:, :, pad:pad + min(d, need - pad)] = x[:, :, :need - pad]
    else:
        padded = x
    s = padded.strides
    return as_strided(padded, shape=x.shape[:2] + (kernel, out) + x.shape[3:],
                      strides=s[:2] + (s[2] * dilation, s[2] * stride) + s[3:],
                      writeable=False)


def depth_col2im(cols: np.ndarray, size: int, stride: int, dilation: int, pad: int) -> np.ndarray:
    """Adjoint of ``depth_windows``: ``cols`` (N, C, KD, OD, ...) summed onto (N, C, size, ...);
    what falls into the padding is dropped."""
    n, c, kd, od = cols.shape[:4]
    full = max(size + pad, (od - 1) * stride + (kd - 1) * dilation + 1)
    img = np.zeros((n, c, full) + cols.shape[4:], dtype=cols.dtype)
    for k in range(kd):
        start = k * dilation
        img[:, :, start:start + (od - 1) * stride + 1:stride] += cols[:, :, k]
    return img[:, :, pad:pad + size]


def _folded(x: np.ndarray, geo: WindowGeometry) -> np.ndarray:
    """(N, C, D, H, W) -> (N*OD, C*KD, H, W), channels in (c, kd) order."""
    n, c = x.shape[:2]
    view = depth_windows(x, geo.kernel[0], geo.stride[0], geo.dilation[0], geo.pad[0],
                         geo.out_hw[0])  # (N, C, KD, OD, H, W)
    return view.transpose(0, 3, 1, 2, 4, 5).reshape((n * geo.out_hw[0], c * geo.kernel[0])
                                                    + x.shape[3:])


def _unfold_out(y: np.ndarray, n: int, od: int) -> np.ndarray:
    """(N*OD, O, OH, OW) -> (N, O, OD, OH, OW)."""
    return np.ascontiguousarray(y.reshape((n, od) + y.shape[1:]).transpose(0, 2, 1, 3, 4))


def _fold_out(g: np.ndarray) -> np.ndarray:
    """(N, O, OD, OH, OW) -> (N*OD, O, OH, OW)."""
    n, o, od = g.shape[:3]
    return np.ascontiguousarray(g.transpose(0, 2, 1, 3, 4)).reshape((n * od, o) + g.shape[3:])


def conv3d(x: np.ndarray, w: np.ndarray, geo: WindowGeometry) -> np.ndarray:
    """``x`` (N, C, D, H, W), ``w`` (O, C/G, KD, KH, KW) -> (N, O, OD, OH, OW)."""
    o, cg = w.shape[:2]
    w2 = w.reshape((o, cg * w.shape[2]) + w.shape[3:])
    y = numpy_conv.conv2d(_folded(x, geo), w2, plane_geometry(geo))
    return _unfold_out(y, x.shape[0], geo.out_hw[0])


def conv3d_input_grad(g: np.ndarray, w: np.ndarray, geo: WindowGeometry) -> np.ndarray:
    """``conv3d``'s adjoint in ``x``: ``g`` (N, O, OD, OH, OW) -> (N, C, D, H, W)."""
    n, od = g.shape[0], g.shape[2]
    o, cg, kd = w.shape[:3]
    c = cg * geo.groups
    w2 = w.reshape((o, cg * kd) + w.shape[3:])
    cols = numpy_conv.conv2d_input_grad(_fold_out(g), w2, plane_geometry(geo))
    cols = cols.reshape((n, od, c, kd) + cols.shape[2:]).transpose(0, 2, 3, 1, 4, 5)
    return np.ascontiguousarray(depth_col2im(cols, geo.in_hw[0], geo.stride[0], geo.dilation[0],
                                             geo.pad[0]))


def conv3d_weight_grad(x: np.ndarray, g: np.ndarray, geo: WindowGeometry) -> np.ndarray:
    """``conv3d``'s adjoint in ``w``: -> (O, C/G, KD, KH, KW)."""
    gw = numpy_conv.conv2d_weight_grad(_folded(x, geo), _fold_out(g), plane_geometry(geo))
    o = gw.shape[0]
    return gw.reshape((o, x.shape[1] // geo.groups, geo.kernel[0]) + gw.shape[2:])


def conv1d(x: np.ndarray, w: np.ndarray, geo: WindowGeometry) -> np.ndarray:
    """``x`` (N, C, L), ``w`` (O, C/G, K) -> (N, O, OL)."""
    y = numpy_conv.conv2d(x[:, :, None], w[:, :, None], line_geometry(geo))
    return y[:, :, 0]


def conv1d_input_grad(g: np.ndarray, w: np.ndarray, geo: WindowGeometry) -> np.ndarray:
    return numpy_conv.conv2d_input_grad(g[:, :, None], w[:, :, None], line_geometry(geo))[:, :, 0]


def conv1d_weight_grad(x: np.ndarray, g: np.ndarray, geo: WindowGeometry) -> np.ndarray:
    gw = numpy_conv.conv2d_weight_grad(x[:, :, None], g[:, :, None], line_geometry(geo))
    return gw[:, :, 0]

