"""1-d and 3-d convolution and transposed convolution: the ``Convolution`` op of ``conv.py`` on
a 1-d or 3-d ``WindowGeometry`` (the backend's ``conv1d``/``conv3d`` kernels, built on its 2-d
ones), with torch's argument checks and messages for each dimension."""
from __future__ import annotations

from typing import Any

from ..backend import WindowGeometry
from ..tensor import Tensor
from .conv import FORWARD, INPUT_GRAD, Convolution, _check_against_weight, _check_positive

_AXES = ("depth", "height", "width")


def _ntuple(value: Any, nd: int, name: str) -> tuple:
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            return (int(value[0]),) * nd
        if len(value) != nd:
            raise RuntimeError(
                f"expected {name} to be a single integer value or a list of {nd} values to match "
                f"the convolution dimensions, but got {name}={list(value)}")
        return tuple(int(v) for v in value)
    return (int(value),) * nd


def _sizes(sizes: tuple) -> str:
    return " x ".join(str(n) for n in sizes)


def _check(op: str, nd: int, input: Tensor, weight: Tensor, bias: Tensor | None, groups: int,
           transposed: bool) -> bool:
    """torch's checks, in its order; returns whether ``input`` is unbatched."""
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"{op}, but got input of size: {list(input.shape)}")
    shape = list(input.shape) if input.ndim == nd + 2 else [1] + list(input.shape)
    if weight.ndim != nd + 2:
        if weight.ndim < 3:
            raise RuntimeError("weight should have at least three dimensions")
        raise RuntimeError(f"Expected {weight.ndim}-dimensional input for {weight.ndim}-"
                           f"dimensional weight {list(weight.shape)}, but got {input.ndim}-"
                           f"dimensional input of size {list(input.shape)} instead")
    _check_against_weight(input, weight, bias, shape, groups, transposed)
    return input.ndim == nd + 1


def _conv(op: str, nd: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any,
          padding: Any, dilation: Any, groups: int) -> Tensor:
    unbatched = _check(op, nd, input, weight, bias, groups, transposed=False)
    stride, dilation = _ntuple(stride, nd, "stride"), _ntuple(dilation, nd, "dilation")
    kernel, size = tuple(weight.shape[2:]), tuple(input.shape[-nd:])
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        _check_positive(stride, dilation, None)
        if padding == "same" and stride != (1,) * nd:
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        # 'same': the total d*(k-1) split evenly, the odd one out at the end (the windows
        # reach past the input there, which the kernels read as zeros)
        pad = tuple(d * (k - 1) // 2 for d, k in zip(dilation, kernel)) if padding == "same" \
            else (0,) * nd
        both = pad if padding == "same" else (0,) * nd
        out = size if padding == "same" else None
    else:
        pad = both = _ntuple(padding, nd, "padding")
        _check_positive(stride, dilation, pad)
        out = None
    if out is None:
        padded = tuple(n + 2 * p for n, p in zip(size, both))
        span = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
        if any(p < s for p, s in zip(padded, span)):
            raise RuntimeError(f"Calculated padded input size per channel: ({_sizes(padded)}). "
                               f"Kernel size: ({_sizes(span)}). Kernel size can't be greater "
                               "than actual input size")
        out = tuple((p - s) // st + 1 for p, s, st in zip(padded, span, stride))
    geo = WindowGeometry(kernel, stride, pad, dilation, groups, size, tuple(out))
    x = input.unsqueeze(0) if unbatched else input
    y = Convolution.apply(x, weight, bias, kind=FORWARD, geo=geo)
    return y.squeeze(0) if unbatched else y


def _conv_transpose(op: str, nd: int, input: Tensor, weight: Tensor, bias: Tensor | None,
                    stride: Any, padding: Any, output_padding: Any, groups: int,
                    dilation: Any) -> Tensor:
    if isinstance(padding, str):
        raise TypeError(f"{op}(): argument 'padding' must be tuple of ints, not str")
    unbatched = _check(op, nd, input, weight, bias, groups, transposed=True)
    stride, dilation = _ntuple(stride, nd, "stride"), _ntuple(dilation, nd, "dilation")
    pad, out_pad = _ntuple(padding, nd, "padding"), _ntuple(output_padding, nd, "output_padding")
    _check_positive(stride, dilation, pad)
    if any(o >= s and o >= d for o, s, d in zip(out_pad, stride, dilation)):
        # torch runs 1-d as 2-d, so its message names a height of 0 there
        names = _AXES[3 - max(nd, 2):]
        lead = (0,) * (max(nd, 2) - nd)
        parts = [(f"output_padding_{a}", v) for a, v in zip(names, lead + out_pad)]
        parts += [(f"stride_{a}", v) for a, v in zip(names, (1,) * len(lead) + stride)]
        parts += [(f"dilation_{a}", v) for a, v in zip(names, (1,) * len(lead) + dilation)]
        raise RuntimeError("output padding must be smaller than either stride or dilation, but "
                           "got " + " ".join(f"{k}: {v}" for k, v in parts))
    kernel, size = tuple(weight.shape[2:]), tuple(input.shape[-nd:])
    out = tuple((i - 1) * s - 2 * p + d * (k - 1) + o + 1
                for i, s, p, d, k, o in zip(size, stride, pad, dilation, kernel, out_pad))
    if min(out) <= 0:
        lead = (1,) * (max(nd, 2) - nd)  # 1-d reported as 2-d of height 1, as torch does
        raise RuntimeError(f"Given input size per channel: ({_sizes(lead + size)}). Calculated "
                           f"output size per channel: ({_sizes(lead + out)}). Output size is "
                           "too small")
    # the transposed conv is the input gradient of the conv that maps its output to its input
    geo = WindowGeometry(kernel, stride, pad, dilation, groups, out, size)
    x = input.unsqueeze(0) if unbatched else input
    y = Convolution.apply(x, weight, bias, kind=INPUT_GRAD, geo=geo)
    return y.squeeze(0) if unbatched else y


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-d convolution (cross-correlation) over ``(N, C_in, L)`` or ``(C_in, L)``.

    Args:
        weight: ``(C_out, C_in / groups, K)``; bias: ``(C_out)`` or ``None``.
        stride, padding, dilation: an int or a 1-tuple; ``padding`` may be ``'valid'`` or
            ``'same'`` (stride 1 only).

    Returns:
        ``(N, C_out, OL)`` with ``OL = (L + 2*pad - dil*(K-1) - 1) // stride + 1``.
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """3-d convolution over ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``.

    Args:
        weight: ``(C_out, C_in / groups, KD, KH, KW)``; bias: ``(C_out)`` or ``None``.
        stride, padding, dilation: an int or a triple; ``padding`` may be ``'valid'`` or
            ``'same'`` (stride 1 only).
    """
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """1-d transposed convolution; ``weight`` is ``(C_in, C_out / groups, K)``; output length
    ``(L-1)*stride - 2*padding + dil*(K-1) + output_padding + 1``."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """3-d transposed convolution; ``weight`` is ``(C_in, C_out / groups, KD, KH, KW)``."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


__all__ = ["conv1d", "conv3d", "conv_transpose1d", "conv_transpose3d"]
TENSOR_METHODS: dict = {}
