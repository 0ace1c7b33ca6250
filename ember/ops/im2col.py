"""``unfold`` (im2col) and ``fold`` (col2im): sliding local blocks of ``(N, C, H, W)`` as columns
``(N, C*KH*KW, L)``, and their sum back onto an image. Each is the other's adjoint, so each is the
other's gradient (torch's ``Im2ColBackward0`` and ``Col2ImBackward0``); both run on the
backend's window kernels (a strided view, and a scatter-add over kernel offsets)."""
from __future__ import annotations

from typing import Any

from ._op import Op
from ..tensor import Tensor
from .inplace import type_name


class Im2Col(Op, name="Im2ColBackward0"):
    @staticmethod
    def forward(ctx, x, *, kernel, dilation, padding, stride, blocks):
        ctx.args = (kernel, dilation, padding, stride, blocks, x.shape[-2:])
        (ph, pw) = padding
        be = ctx.backend
        x4 = x if x.ndim == 4 else x[None]
        padded = be.pad2d(x4, ph, ph, pw, pw)
        view = be.windows(padded, kernel, stride, dilation, blocks)  # (N, C, KH, KW, OH, OW)
        n, c = x4.shape[:2]
        cols = view.reshape(n, c * kernel[0] * kernel[1], blocks[0] * blocks[1])
        return cols if x.ndim == 4 else cols[0]

    @staticmethod
    def backward(ctx, g):
        kernel, dilation, padding, stride, blocks, size = ctx.args
        return Col2Im.apply(g, kernel=kernel, dilation=dilation, padding=padding, stride=stride,
                            blocks=blocks, size=size)


class Col2Im(Op, name="Col2ImBackward0"):
    @staticmethod
    def forward(ctx, cols, *, kernel, dilation, padding, stride, blocks, size):
        ctx.args = (kernel, dilation, padding, stride, blocks)
        be = ctx.backend
        c3 = cols if cols.ndim == 3 else cols[None]
        n = c3.shape[0]
        c = c3.shape[1] // (kernel[0] * kernel[1])
        (ph, pw), (h, w) = padding, size
        img = be.col2im(c3.reshape((n, c) + tuple(kernel) + tuple(blocks)),
                        (h + 2 * ph, w + 2 * pw), stride, dilation)
        out = img[:, :, ph:ph + h, pw:pw + w]
        out = ctx.xp.ascontiguousarray(out)
        return out if cols.ndim == 3 else out[0]

    @staticmethod
    def backward(ctx, g):
        kernel, dilation, padding, stride, blocks = ctx.args
        return Im2Col.apply(g, kernel=kernel, dilation=dilation, padding=padding, stride=stride,
                            blocks=blocks)


def _pair(value: Any, name: str) -> tuple:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(value)}")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _check(kernel: tuple, dilation: tuple, padding: tuple, stride: tuple) -> None:
    if min(kernel) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_height: "
                           f"{kernel[0]} kernel_width: {kernel[1]}")
    if min(dilation) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilation_height: "
                           f"{dilation[0]} dilation_width: {dilation[1]}")
    if min(padding) < 0:
        raise RuntimeError(f"padding should be non-negative, but got pad_height: {padding[0]} "
                           f"pad_width: {padding[1]}")
    if min(stride) <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got stride_height: "
                           f"{stride[0]} stride_width: {stride[1]}")


def _blocks(size: tuple, kernel: tuple, dilation: tuple, padding: tuple, stride: tuple) -> tuple:
    return tuple((n + 2 * p - (d * (k - 1) + 1)) // s + 1
                 for n, k, d, p, s in zip(size, kernel, dilation, padding, stride))


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Tensor:
    """Sliding local blocks as columns: ``(N, C, H, W) -> (N, C*KH*KW, L)``, ``L`` the number
    of blocks (``(C, H, W)`` unbatched)."""
    kernel = _pair(kernel_size, "kernel_size")
    dil, pad, st = _pair(dilation, "dilation"), _pair(padding, "padding"), \
        _pair(stride, "stride")
    _check(kernel, dil, pad, st)
    if input.ndim not in (3, 4) or any(n == 0 for n in input.shape[-3:]):
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and "
                           f"other non-zero dimensions for input, but got: {list(input.shape)}")
    if not input.is_floating_point():
        raise NotImplementedError(f"\"im2col_out_cpu\" not implemented for '{type_name(input)}'")
    size = tuple(input.shape[-2:])
    blocks = _blocks(size, kernel, dil, pad, st)
    if min(blocks) < 1:
        raise RuntimeError(
            f"Given input with spatial size ({size[0]}, {size[1]}), kernel_size=({kernel[0]}, "
            f"{kernel[1]}), dilation=({dil[0]}, {dil[1]}), padding=({pad[0]}, {pad[1]}), "
            f"calculated shape of the array of sliding blocks as ({blocks[0]}, {blocks[1]}), "
            "but its components must be at least one.")
    return Im2Col.apply(input, kernel=kernel, dilation=dil, padding=pad, stride=st,
                        blocks=blocks)


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> Tensor:
    """Sums columns of sliding blocks back onto an image: ``(N, C*KH*KW, L) ->
    (N, C, *output_size)`` (overlapping blocks add up)."""
    size = _pair(output_size, "output_size")
    kernel = _pair(kernel_size, "kernel_size")
    dil, pad, st = _pair(dilation, "dilation"), _pair(padding, "padding"), \
        _pair(stride, "stride")
    _check(kernel, dil, pad, st)
    if min(size) <= 0:
        raise RuntimeError(f"Expected output spatial size to be positive, but got: "
                           f"output_size=({size[0]}, {size[1]}).")
    if input.ndim not in (2, 3) or any(n == 0 for n in input.shape[-2:]):
        raise RuntimeError("Expected 2D or 3D (batch mode) tensor with possibly 0 batch size and "
                           f"non-zero dimensions for input, but got: {list(input.shape)}")
    if not input.is_floating_point():
        raise NotImplementedError(f"\"col2im_out_cpu\" not implemented for '{type_name(input)}'")
    per = kernel[0] * kernel[1]
    if input.shape[-2] % per:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={input.shape[-2]} and "
                           f"kernel_size=({kernel[0]}, {kernel[1]}).")
    blocks = _blocks(size, kernel, dil, pad, st)
    if blocks[0] * blocks[1] != input.shape[-1] or min(blocks) < 1:
        raise RuntimeError(
            f"Given output_size=({size[0]}, {size[1]}), kernel_size=({kernel[0]}, {kernel[1]}), "
            f"dilation=({dil[0]}, {dil[1]}), padding=({pad[0]}, {pad[1]}), stride=({st[0]}, "
            f"{st[1]}), expected size of input's dimension 2 to match the calculated number of "
            f"sliding blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got "
            f"input.size(2)={input.shape[-1]}.")
    return Col2Im.apply(input, kernel=kernel, dilation=dil, padding=pad, stride=st,
                        blocks=blocks, size=size)


__all__: list = []
TENSOR_METHODS: dict = {}
