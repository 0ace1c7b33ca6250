"""More activations with their own torch nodes: hardshrink, softshrink, glu, prelu, rrelu; and
the pixel and channel rearrangements (pixel_shuffle, pixel_unshuffle, channel_shuffle), which are
permutations whose gradient is the inverse permutation."""
from __future__ import annotations

from typing import Any

from ._op import Op
from ..tensor import Tensor
from .activation import _Activation, _const
from .arrange import cat
from .inplace import apply_inplace, type_name
from ..backend import quiet as _quiet


class Hardshrink(_Activation, name="HardshrinkBackward0"):
    torch_kernel = "hardshrink_cpu"
    f = staticmethod(lambda xp, x, lambd: xp.where(xp.abs(x) > lambd, x, 0))
    grad = staticmethod(lambda g, x, lambd: g * _const(g, abs(x._data) > lambd))


class Softshrink(_Activation, name="SoftshrinkBackward0"):
    torch_kernel = "softshrink_cpu"
    f = staticmethod(lambda xp, x, lambd: xp.where(x > lambd, x - lambd,
                                                   xp.where(x < -lambd, x + lambd, 0)))
    grad = staticmethod(lambda g, x, lambd: g * _const(g, abs(x._data) > lambd))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x`` where ``|x| > lambd``, else 0."""
    return Hardshrink.apply(input, lambd=lambd)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0."""
    if lambd < 0:
        kind = {"float32": "Float", "float64": "Double", "float16": "Half"}.get(
            input.dtype.name, input.dtype.name)
        big = {"Float": "3.40282e+38", "Double": "1.79769e+308", "Half": "65504"}.get(kind, "")
        raise RuntimeError(f"lambda must be in range [0, {big}] for input dtype {kind}, but "
                           f"found {lambd:g}")
    return Softshrink.apply(input, lambd=lambd)


class Glu(Op, name="GluBackward0"):
    """``a * sigmoid(b)`` with ``a, b`` the halves of ``x`` along ``axis``."""

    @staticmethod
    def forward(ctx, x, *, axis):
        if x.dtype.kind != "f":
            raise NotImplementedError(f"\"glu_cpu\" not implemented for '{type_name(x.dtype)}'")
        xp = ctx.xp
        ctx.axis = axis
        a, b = xp.split(x, 2, axis=axis)
        ctx.save_for_backward(x)
        with _quiet(xp):
            return a / (1 + xp.exp(-b))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        a, b = x.chunk(2, ctx.axis)
        s = b.sigmoid()
        ga = g * s
        return cat([ga, ga * a * (1 - s)], ctx.axis)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)``, ``a`` and ``b`` the two halves of ``input`` along
    ``dim`` (whose size must be even)."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    axis = dim % input.ndim
    if input.shape[axis] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {axis} is size "
                           f"{input.shape[axis]}")
    return Glu.apply(input, axis=axis)


class PreluKernel(Op, name="PreluKernelBackward0"):
    """``x`` where positive, else ``w * x``; ``w`` (one slope, or one per channel, dim 1)."""

    @staticmethod
    def forward(ctx, x, w):
        xp = ctx.xp
        ctx.shape = (1, -1) + (1,) * (x.ndim - 2) if w.size > 1 else ()
        ctx.save_for_backward(x, w)
        wb = w.reshape(ctx.shape) if w.size > 1 else w.reshape(())
        return xp.where(x > 0, x, wb * x)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need_x, need_w = ctx.needs_input_grad
        pos = _const(g, x._data > 0)
        wb = w.reshape(ctx.shape) if w.numel() > 1 else w.reshape(())
        gx = g * (pos + (1 - pos) * wb) if need_x else None
        gw = None
        if need_w:
            part = g * x * (1 - pos)
            axes = [a for a in range(part.ndim) if a != 1 or w.numel() == 1]
            gw = (part.sum(axes) if axes else part).reshape(w.shape)
        return gx, gw


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """Parametric ReLU: ``max(0, x) + weight * min(0, x)``; ``weight`` has 1 element or one per
    channel (dim 1 of ``input``)."""
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim}")
    channels = input.shape[1] if input.ndim >= 2 else 1
    if weight.numel() != 1 and weight.numel() != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {weight.numel()} and channel size = {channels}.")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {type_name(input)} and "
                           f"{type_name(weight)}")
    return PreluKernel.apply(input, weight)


class RreluWithNoise(Op, name="RreluWithNoiseBackward0"):
    """Leaky ReLU whose negative slopes are ``noise`` (random in training, the mean in eval):
    the gradient is ``g * noise`` where ``x <= 0``."""

    @staticmethod
    def forward(ctx, x, noise):
        xp = ctx.xp
        ctx.save_for_backward(x, noise)
        return xp.where(x > 0, x, x * noise)

    @staticmethod
    def backward(ctx, g):
        x, noise = ctx.saved_tensors
        pos = _const(g, x._data > 0)
        return g * (pos + (1 - pos) * noise), None


class RreluWithNoiseResult(RreluWithNoise, name="RreluWithNoiseBackward1"):
    """The in-place form: saves its output instead of the overwritten input."""

    @staticmethod
    def forward(ctx, x, noise):
        y = ctx.xp.where(x > 0, x, x * noise)
        ctx.save_for_backward(y, noise)
        return y


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, inplace: bool = False) -> Tensor:
    """Randomised leaky ReLU: in training each negative element gets a slope drawn from
    ``U(lower, upper)``; in eval the slope is ``(lower + upper) / 2``."""
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not input.is_floating_point():
        raise NotImplementedError(f"\"leaky_relu_cpu\" not implemented for "
                                  f"'{type_name(input)}'")
    from ..creation import empty, full

    if training:
        noise = empty(tuple(input.shape), dtype=input.dtype,
                      device=input.device).uniform_(lower, upper)
    else:
        noise = full(tuple(input.shape), (lower + upper) / 2, dtype=input.dtype,
                     device=input.device)
    if inplace:  # the node reads the result: y <= 0 exactly where x <= 0 (slopes are > 0)
        return apply_inplace(input, lambda a: RreluWithNoiseResult.apply(a, noise))
    return RreluWithNoise.apply(input, noise)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    """In-place :func:`rrelu`."""
    return rrelu(input, lower, upper, training, inplace=True)


# -- rearrangements --------------------------------------------------------------------------------


class _Permutation(Op):
    """A reshape-transpose-reshape of the last dims; ``inverse`` undoes it (the gradient)."""

    inverse: Any

    @staticmethod
    def forward(ctx, x, *, shape, perm, out_shape):
        ctx.back = (x.shape, perm, shape)
        return x.reshape(shape).transpose(perm).reshape(out_shape)

    @staticmethod
    def backward(ctx, g):
        in_shape, perm, shape = ctx.back
        inv = tuple(sorted(range(len(perm)), key=perm.__getitem__))
        mid = tuple(shape[p] for p in perm)
        return type(ctx).inverse.apply(g, shape=mid, perm=inv, out_shape=in_shape)


class PixelShuffle(_Permutation, name="PixelShuffleBackward0"):
    pass


class PixelUnshuffle(_Permutation, name="PixelUnshuffleBackward0"):
    pass


class ChannelShuffle(_Permutation, name="ChannelShuffleBackward0"):
    pass


PixelShuffle.inverse, PixelUnshuffle.inverse = PixelUnshuffle, PixelShuffle
ChannelShuffle.inverse = ChannelShuffle


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """``(*, C*r*r, H, W) -> (*, C, H*r, W*r)``."""
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError("pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    n, oc = len(lead), c // (r * r)
    perm = tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2)
    return PixelShuffle.apply(input, shape=tuple(lead) + (oc, r, r, h, w), perm=perm,
                              out_shape=tuple(lead) + (oc, h * r, w * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """``(*, C, H*r, W*r) -> (*, C*r*r, H, W)``."""
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if h % r:
        raise RuntimeError("pixel_unshuffle expects height to be divisible by downscale_factor, "
                           f"but input.size(-2)={h} is not divisible by {r}")
    if w % r:
        raise RuntimeError("pixel_unshuffle expects width to be divisible by downscale_factor, "
                           f"but input.size(-1)={w} is not divisible by {r}")
    n = len(lead)
    perm = tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3)
    return PixelUnshuffle.apply(input, shape=tuple(lead) + (c, h // r, r, w // r, r), perm=perm,
                                out_shape=tuple(lead) + (c * r * r, h // r, w // r))


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """``(N, C, *)``: channels ``(g, c/g)`` reordered ``(c/g, g)``."""
    if input.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    n, c, *rest = input.shape
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {groups} groups.")
    k = len(rest)
    perm = (0, 2, 1) + tuple(range(3, 3 + k))
    return ChannelShuffle.apply(input, shape=(n, groups, c // groups) + tuple(rest), perm=perm,
                                out_shape=tuple(input.shape))


# the names torch also has at top level (softshrink and glu are nn.functional's only)
__all__ = ["hardshrink", "prelu", "rrelu", "rrelu_", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle"]
TENSOR_METHODS: dict = {"hardshrink": hardshrink, "prelu": prelu}
