"""2-d convolution and transposed convolution, and the spatial padding they use (``pad``:
constant, reflect, replicate, circular).

The arrays are the backend's business: three kernels sharing one ``WindowGeometry``, adjoint to
each other (``backend/numpy_conv.py`` has NumPy's, with their GEMM strategies). Every derivative
of one of them is another of them:

    y = conv2d(x, w)              dx = conv2d_input_grad(gy, w)   dw = conv2d_weight_grad(x, gy)
    y = conv2d_input_grad(g, w)   dg = conv2d(gy, w)              dw = conv2d_weight_grad(gy, g)
    y = conv2d_weight_grad(x, g)  dx = conv2d_input_grad(g, gy)   dg = conv2d(x, gy)

so a single Op class differentiates to any order.
"""
from __future__ import annotations

from typing import Any, Sequence

from ._op import Op
from ..backend import WindowGeometry, get_array_module
from ..tensor import Tensor
from .inplace import type_name

IntOr2 = Any  # int or a pair of ints

# the kinds of ``_Conv``: the names of the backend kernels they run
FORWARD = "conv2d"
INPUT_GRAD = "conv2d_input_grad"  # also the transposed convolution's forward
WEIGHT_GRAD = "conv2d_weight_grad"


class _Conv(Op):
    """One of the three convolution kernels (``kind``) of two operands, plus an optional bias
    over output channels."""

    @staticmethod
    def forward(ctx, a, b, bias=None, *, kind, geo):
        ctx.kind, ctx.geo = kind, geo
        need_a, need_b = ctx.needs_input_grad[:2]
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        nd = len(geo.kernel)  # 1-d and 3-d run their own kernels, named "conv1d..." etc.
        if kind == FORWARD and nd == 2:  # the bias inside: oneDNN adds it as torch's does
            return ctx.backend.conv2d(a, b, geo, bias)
        y = getattr(ctx.backend, kind if nd == 2 else kind.replace("2d", f"{nd}d"))(a, b, geo)
        if bias is not None:
            y += bias.reshape((1, -1) + (1,) * nd)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad[:2]
        need_bias = len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]
        geo, kind = ctx.geo, ctx.kind
        ga = gb = None
        if kind == FORWARD:  # y = conv2d(x, w)
            ga = _grad(INPUT_GRAD, g, b, geo) if need_a else None
            gb = _grad(WEIGHT_GRAD, a, g, geo) if need_b else None
        elif kind == INPUT_GRAD:  # y = conv2d_input_grad(g', w)
            ga = _grad(FORWARD, g, b, geo) if need_a else None
            gb = _grad(WEIGHT_GRAD, g, a, geo) if need_b else None
        else:  # y = conv2d_weight_grad(x, g')
            ga = _grad(INPUT_GRAD, b, g, geo) if need_a else None
            gb = _grad(FORWARD, a, g, geo) if need_b else None
        axes = (0,) + tuple(range(2, 2 + len(geo.kernel)))
        return ga, gb, (g.sum(axes) if need_bias else None)


class Convolution(_Conv, name="ConvolutionBackward0"):
    pass


class ConvolutionGrad(_Conv, name="ConvolutionBackwardBackward0"):
    pass


def _grad(kind: str, a: Tensor, b: Tensor, geo: WindowGeometry) -> Tensor:
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
    _check_against_weight(input, weight, bias, shape, groups, transposed)
    return input.ndim == 3


def _check_against_weight(input: Tensor, weight: Tensor, bias: Tensor | None, shape: list,
                          groups: int, transposed: bool) -> None:
    """torch's checks of the operands against each other (dtypes, groups, channels, bias), in its
    order, for a convolution of any dimension; ``shape`` is the input's, batched."""
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
    geo = WindowGeometry(kernel, stride, pad, dilation, groups, (h, w), out_hw)
    out = Convolution.apply(_batched(input, unbatched), weight, bias, kind=FORWARD, geo=geo)
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
    # the transposed conv is the input gradient of the conv that maps its output to its input
    geo = WindowGeometry(kernel, stride, pad, dilation, groups, out_hw, in_hw)
    out = Convolution.apply(_batched(input, unbatched), weight, bias, kind=INPUT_GRAD, geo=geo)
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
            ctx.backend.scatter_add(out, (slice(None),) * axis + (index[axis],), g)
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
    xp = get_array_module(input._data)
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
