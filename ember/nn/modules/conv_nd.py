"""Convolution layers in 1-d and 3-d: ``Conv1d``, ``Conv3d``, ``ConvTranspose1d``,
``ConvTranspose3d`` (the shared code is ``conv._Conv`` and ``conv._ConvTranspose``)."""
from __future__ import annotations

from .conv import _Conv, _ConvTranspose


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
