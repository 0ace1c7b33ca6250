"""``affine_grid`` and ``grid_sample`` (2-d and 3-d; bilinear/trilinear, nearest and bicubic;
zeros, border and reflection padding).

affine_grid is one batched product of a constant base grid with ``theta``. grid_sample gathers,
for every output point, the input values at the corners of its cell (flat indices into each
plane, all points at once) and blends them; the input gradient scatter-adds the blended
gradient back onto those corners, the grid gradient is the blend's derivative in each coordinate
times the derivative of the coordinate map (its scale, and the padding's clip or reflection).
"""
from __future__ import annotations

import math
from typing import Any

from ._op import Op
from ..backend import get_array_module
from ..tensor import Tensor
from .inplace import type_name


# -- affine_grid -----------------------------------------------------------------------------------


def _linspace(xp: Any, n: int, align_corners: bool) -> Any:
    if n <= 1:
        return xp.zeros(max(n, 0))
    r = xp.linspace(-1.0, 1.0, n)
    return r if align_corners else r * (n - 1) / n


class AffineGridGenerator(Op, name="AffineGridGeneratorBackward0"):
    """``grid = base @ theta^T``; ``base`` (P, k+1) the homogeneous output coordinates."""

    @staticmethod
    def forward(ctx, theta, *, base, shape):
        ctx.base = base.astype(theta.dtype)
        n = theta.shape[0]
        out = ctx.xp.matmul(ctx.base[None], theta.transpose(0, 2, 1))  # (N, P, k)
        return out.reshape((n,) + tuple(shape) + (theta.shape[1],))

    @staticmethod
    def backward(ctx, g):
        n, k = g.shape[0], g.shape[-1]
        base = Tensor._make(ctx.base)
        return g.reshape(n, -1, k).transpose(1, 2).matmul(base)


def affine_grid(theta: Tensor, size: Any, align_corners: bool | None = None) -> Tensor:
    """The sampling grid of the affine maps ``theta`` ((N, 2, 3) or (N, 3, 4)) for an output of
    ``size`` (N, C, H, W) or (N, C, D, H, W): ``(N, H, W, 2)`` or ``(N, D, H, W, 3)`` in [-1, 1]
    coordinates (x first)."""
    import warnings

    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to "
                      "align_corners=False since 1.3.0. Please specify align_corners=True if the "
                      "old behavior is desired. See the documentation of grid_sample for "
                      "details.", stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got "
                         f"{str(theta.dtype).replace('ember.', 'torch.')}".replace(
                             "torch.", "ember."))
    size = list(size)
    if len(size) == 4:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                             f"{tuple(size)}. Got {theta.shape}.")
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                             f"{tuple(size)}. Got {theta.shape}.")
        spatial = size[-3:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {tuple(size)}.")
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids "
                      "when align_corners=True. This is not an intended use case of affine_grid. "
                      "See the documentation of affine_grid for details.", stacklevel=2)
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {tuple(size)}")
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{size[0]}, {theta.shape[2]}] but got: [{theta.shape[0]}, "
                           f"{theta.shape[2]}].")
    xp = get_array_module(theta._data)
    axes = [_linspace(xp, n, bool(align_corners)) for n in spatial]  # (D,) H, W
    mesh = xp.meshgrid(*axes, indexing="ij")
    coords = [m.reshape(-1) for m in mesh[::-1]]  # x (W) first
    base = xp.stack(coords + [xp.ones_like(coords[0])], axis=1)
    return AffineGridGenerator.apply(theta, base=base, shape=tuple(spatial))


# -- grid_sample -----------------------------------------------------------------------------------


def _source(xp: Any, coord: Any, size: int, padding: str, align_corners: bool) -> tuple:
    """Input-pixel coordinates of normalised ``coord`` and their derivative in it, after the
    padding mode's clip or reflection."""
    if align_corners:
        scale = (size - 1) / 2.0
        x = (coord + 1) * scale
    else:
        scale = size / 2.0
        x = ((coord + 1) * size - 1) / 2
    d = xp.full(x.shape, scale, dtype=x.dtype)
    if padding == "border":
        d = xp.where((x > 0) & (x < size - 1), d, 0.0)
        x = xp.clip(x, 0, size - 1)
    elif padding == "reflection":
        lo, span = (0.0, 2.0 * (size - 1)) if align_corners else (-0.5, 2.0 * size)
        if span <= 0:
            return xp.zeros_like(x), xp.zeros_like(x)
        half = span / 2
        t = xp.abs(x - lo)
        flips = xp.floor(t / half)
        extra = xp.mod(t, half)
        sign_in = xp.where(x - lo < 0, -1.0, 1.0)
        odd = xp.mod(flips, 2) == 1
        x = xp.where(odd, half - extra, extra) + lo
        d = d * sign_in * xp.where(odd, -1.0, 1.0)
        d = xp.where((x > 0) & (x < size - 1), d, 0.0)
        x = xp.clip(x, 0, size - 1)
    return x, d


def _cubic(xp: Any, t: Any) -> tuple:
    """The 4 cubic-convolution weights (A = -0.75) at fraction ``t`` and their derivatives."""
    a = -0.75

    def near(u):  # |u| <= 1
        return ((a + 2) * u - (a + 3)) * u * u + 1, (3 * (a + 2) * u - 2 * (a + 3)) * u

    def far(u):  # 1 < |u| < 2
        return ((a * u - 5 * a) * u + 8 * a) * u - 4 * a, (3 * a * u - 10 * a) * u + 8 * a

    w0, d0 = far(t + 1)
    w1, d1 = near(t)
    w2, d2 = near(1 - t)
    w3, d3 = far(2 - t)
    return (w0, w1, w2, w3), (d0, d1, -d2, -d3)


class _GridSampler(Op):
    """The sample as ``sum_k w_k(grid) * x[idx_k]``: forward gathers, backward scatters onto
    ``x`` and differentiates the weights for ``grid``."""

    @staticmethod
    def forward(ctx, x, grid, *, mode, padding, align_corners):
        xp = ctx.xp
        nd = grid.shape[-1]
        n, c = x.shape[:2]
        sizes = x.shape[2:]  # (D,) H, W
        out_shape = grid.shape[1:-1]
        pts = math.prod(out_shape)
        g = grid.reshape(n, pts, nd)
        # per dim (W, H, D order in the grid): source coordinates and their derivative
        # (bicubic reads 4 taps around the unpadded point; the padding applies to each tap)
        pad_point = padding if mode != "bicubic" else "zeros"
        src = [_source(xp, g[..., i], sizes[nd - 1 - i], pad_point, align_corners)
               for i in range(nd)]
        taps = []  # (flat index (N, P), weight (N, P), weight's derivative per dim)
        per_dim = []
        for i in range(nd):
            pos, _ = src[i]
            if mode == "nearest":
                k0 = xp.rint(pos)  # half to even, as torch's nearbyint
                per_dim.append([(k0, xp.ones_like(pos), xp.zeros_like(pos))])
            elif mode == "bilinear":
                k0 = xp.floor(pos)
                t = pos - k0
                per_dim.append([(k0, 1 - t, -xp.ones_like(t)), (k0 + 1, t, xp.ones_like(t))])
            else:  # bicubic: taps k0-1..k0+2; out-of-range taps go through the padding
                k0 = xp.floor(pos)
                t = pos - k0
                ws, ds = _cubic(xp, t)
                per_dim.append([(k0 - 1 + j, ws[j], ds[j]) for j in range(4)])
        # every combination of one tap per dim
        combos = [[]]
        for i in range(nd):
            combos = [prev + [tap] for prev in combos for tap in per_dim[i]]
        plane = math.prod(sizes)
        for combo in combos:
            flat = xp.zeros((n, pts), dtype=xp.int64)
            valid = xp.ones((n, pts), dtype=bool)
            stride = 1
            for i, (k, _, _) in enumerate(combo):
                size = sizes[nd - 1 - i]
                ki = k.astype(xp.int64)
                if mode == "bicubic" and padding != "zeros":
                    # the padding applies to each tap's coordinate too (border: clamp; reflection
                    # reflects, then clamps)
                    kf, _ = _source(xp, (2 * ki + 1) / size - 1 if not align_corners else
                                    2 * ki / max(size - 1, 1) - 1, size, padding,
                                    align_corners)
                    ki = xp.rint(kf).astype(xp.int64)
                valid &= (ki >= 0) & (ki < size)
                flat += xp.clip(ki, 0, size - 1) * stride
                stride *= size
            w = xp.ones((n, pts), dtype=x.dtype)
            for _, wk, _ in combo:
                w = w * wk
            w = w * valid
            taps.append((flat, w, combo, valid))
        xf = x.reshape(n, c, plane)
        out = xp.zeros((n, c, pts), dtype=x.dtype)
        rows = xp.arange(n)[:, None, None]
        chans = xp.arange(c)[None, :, None]
        for flat, w, _, _ in taps:
            out += xf[rows, chans, flat[:, None, :]] * w[:, None, :].astype(x.dtype)
        ctx.keep = (taps, src, x.shape, grid.shape, mode)
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None)
        return out.reshape((n, c) + tuple(out_shape))

    @staticmethod
    def backward(ctx, go):
        from ..creation import arange, zeros
        from .scatter import index_add

        (x,) = ctx.saved_tensors
        taps, src, x_shape, grid_shape, mode = ctx.keep
        need_x, need_grid = ctx.needs_input_grad
        n, c = x_shape[:2]
        nd = grid_shape[-1]
        plane = math.prod(x_shape[2:])
        pts = math.prod(grid_shape[1:-1])
        g = go.reshape(n, c, pts)
        gx = ggrid = None
        xp = ctx.xp
        k = len(taps)
        # all taps at once: one scatter for the input, one gather for the grid
        flat_all = Tensor._make(xp.stack([t[0] for t in taps], 1))  # (N, K, P)
        if need_x:
            w_all = Tensor._make(xp.stack([t[1] for t in taps], 1)).to(go.dtype)
            base = (arange(n)[:, None] * c + arange(c)[None, :]) * plane  # (N, C)
            target = (base[:, :, None, None] + flat_all[:, None]).reshape(-1)
            vals = (g[:, :, None, :] * w_all[:, None]).reshape(-1)
            gx = index_add(zeros(n * c * plane, dtype=go.dtype, device=go.device), 0, target, vals)
            gx = gx.reshape(x_shape)
        if need_grid and mode != "nearest":
            index = flat_all.reshape(n, 1, k * pts).expand(n, c, k * pts)
            vals = x.reshape(n, c, plane).gather(2, index).reshape(n, c, k, pts)
            s = (vals * g[:, :, None, :]).sum(1)  # (N, K, P): each tap's value dotted with g
            comps = []
            for i in range(nd):  # d out / d coordinate i: the weights' derivative in it
                dws = []
                for _, _, combo, valid in taps:
                    dw = None
                    for j, (_, wk, dk) in enumerate(combo):
                        f = dk if j == i else wk
                        dw = f if dw is None else dw * f
                    dws.append(dw * valid * src[i][1])
                comps.append((s * Tensor._make(xp.stack(dws, 1)).to(go.dtype)).sum(1))
            ggrid = _stack(comps).reshape(grid_shape)
        elif need_grid:
            ggrid = zeros(grid_shape, dtype=go.dtype, device=go.device)
        return gx, ggrid


def _stack(parts: list) -> Tensor:
    from .arrange import stack

    return stack(parts, -1)


class GridSampler2D(_GridSampler, name="GridSampler2DBackward0"):
    pass


class GridSampler3D(_GridSampler, name="GridSampler3DBackward0"):
    pass


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool | None = None) -> Tensor:
    """Samples ``input`` (N, C, H, W) at the normalised points of ``grid`` (N, Ho, Wo, 2) (x, y
    in [-1, 1]); or (N, C, D, H, W) at (N, Do, Ho, Wo, 3).

    Args:
        mode: ``'bilinear'`` (trilinear for 5-D), ``'nearest'`` or ``'bicubic'`` (4-D).
        padding_mode: ``'zeros'``, ``'border'`` or ``'reflection'`` for points outside.
        align_corners: -1 and 1 are the corner pixels' centres (else their outer edges).
    """
    import warnings

    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to "
                      "align_corners=False since 1.3.0. Please specify align_corners=True if the "
                      "old behavior is desired. See the documentation of grid_sample for "
                      "details.", stacklevel=2)
        align_corners = False
    if input.dtype != grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but "
                           f"input has {type_name(input)} and grid has {type_name(grid)}")
    if input.ndim not in (4, 5) or input.ndim != grid.ndim:
        raise RuntimeError(f"grid_sampler(): expected grid to have same number of dimensions as "
                           f"input, but got input with sizes {list(input.shape)} and grid with "
                           f"sizes {list(grid.shape)}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {list(input.shape)} and grid with sizes "
                           f"{list(grid.shape)}")
    if grid.shape[-1] != input.ndim - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.ndim - 2} in last "
                           f"dimension, but got grid with sizes {list(grid.shape)}")
    if not input.is_floating_point():
        kernel = "grid_sampler_2d_cpu_kernel_impl" if input.ndim == 4 else "grid_sampler3d_cpu"
        raise NotImplementedError(f'"{kernel}" not implemented for \'{type_name(input)}\'')
    if mode == "bicubic" and input.ndim != 4:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    op = GridSampler2D if input.ndim == 4 else GridSampler3D
    return op.apply(input, grid, mode=mode, padding=padding_mode,
                    align_corners=bool(align_corners))


__all__: list = []
TENSOR_METHODS: dict = {}
