"""Convolution layers in 1-d and 3-d: ``Conv1d``, ``Conv3d``, ``ConvTranspose1d``,
``ConvTranspose3d`` (the shared state is ``conv._ConvNd``)."""
from __future__ import annotations

from typing import Any, Sequence

from ...tensor import Tensor
from .. import functional as F
from .conv import _ConvNd


def _ntuple(value: Any, nd: int) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd


class _Conv(_ConvNd):
    _nd = 1
    _fn = "conv1d"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        nd = self._nd
        super().__init__(in_channels, out_channels, _ntuple(kernel_size, nd),
                         _ntuple(stride, nd),
                         padding if isinstance(padding, str) else _ntuple(padding, nd),
                         _ntuple(dilation, nd), False, (0,) * nd, groups, bias, padding_mode,
                         device, dtype)

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        conv = getattr(F, self._fn)
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv(padded, weight, bias, self.stride, (0,) * self._nd, self.dilation,
                        self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-d convolution: ``(N, C_in, L) -> (N, C_out, OL)``.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size, stride, dilation: an int or a 1-tuple.
        padding: an int, a 1-tuple, ``'valid'`` or ``'same'``. Default: 0.
        groups, bias, padding_mode: as for :class:`Conv2d`.

    Attributes:
        weight: ``(out_channels, in_channels / groups, K)``; bias: ``(out_channels)``.
    """

    _nd, _fn = 1, "conv1d"


class Conv3d(_Conv):
    """3-d convolution: ``(N, C_in, D, H, W) -> (N, C_out, OD, OH, OW)``.

    Args: as for :class:`Conv1d`, with triples.

    Attributes:
        weight: ``(out_channels, in_channels / groups, KD, KH, KW)``; bias: ``(out_channels)``.
    """

    _nd, _fn = 3, "conv3d"


class _ConvTranspose(_ConvNd):
    _nd = 1
    _fn = "conv_transpose1d"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        nd = self._nd
        super().__init__(in_channels, out_channels, _ntuple(kernel_size, nd),
                         _ntuple(stride, nd), _ntuple(padding, nd), _ntuple(dilation, nd), True,
                         _ntuple(output_padding, nd), groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input: Tensor, output_size: Sequence[int] | None) -> tuple:
        if output_size is None:
            return self.output_padding
        nd = self._nd
        lead = 2 if input.ndim == nd + 2 else 1
        output_size = list(output_size)
        if len(output_size) == lead + nd:
            output_size = output_size[lead:]
        if len(output_size) != nd:
            raise ValueError(f"ConvTranspose{nd}D: for {input.ndim}D input, output_size must have "
                             f"{nd} or {lead + nd} elements (got {len(output_size)})")
        mins = [(input.shape[d + lead] - 1) * self.stride[d] - 2 * self.padding[d]
                + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(nd)]
        maxs = [m + s - 1 for m, s in zip(mins, self.stride)]
        for size, lo, hi in zip(output_size, mins, maxs):
            if size < lo or size > hi:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes "
                                 f"range from {mins} to {maxs} (for an input of "
                                 f"{input.size()[lead:]})")
        return tuple(size - lo for size, lo in zip(output_size, mins))

    def forward(self, input: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        output_padding = self._output_padding(input, output_size)
        return getattr(F, self._fn)(input, self.weight, self.bias, self.stride, self.padding,
                                    output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """1-d transposed convolution (the gradient of Conv1d w.r.t. its input).

    Args: as for :class:`ConvTranspose2d`, with ints or 1-tuples.

    Attributes:
        weight: ``(in_channels, out_channels / groups, K)``; bias: ``(out_channels)``.
    """

    _nd, _fn = 1, "conv_transpose1d"


class ConvTranspose3d(_ConvTranspose):
    """3-d transposed convolution.

    Attributes:
        weight: ``(in_channels, out_channels / groups, KD, KH, KW)``; bias: ``(out_channels)``.
    """

    _nd, _fn = 3, "conv_transpose3d"


__all__ = ["Conv1d", "Conv3d", "ConvTranspose1d", "ConvTranspose3d"]
