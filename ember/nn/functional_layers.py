"""``torch.nn.functional``'s activations, normalisations, distances, dropouts, bilinear and
embedding bags beyond ``functional.py`` (re-exported by it). Where torch composes a function from
other ops (instance_norm, rms_norm, local_response_norm, cosine_similarity, pairwise_distance,
bilinear, the alpha dropouts), ember composes it the same way, so its ``grad_fn`` is torch's."""
from __future__ import annotations

import math
import warnings
from typing import Sequence

from ..backend import get_array_module
from ..graph.grad_mode import no_grad
from ..ops import activation as _act
from ..ops.activation_ext import (  # noqa: F401 (re-exported)
    channel_shuffle, glu, hardshrink, pixel_shuffle, pixel_unshuffle, prelu, rrelu, rrelu_,
    softshrink)
from ..ops.distance import norm_dim, pdist  # noqa: F401 (pdist re-exported)
from ..ops.embedding_bag import EmbeddingBag
from ..tensor import Tensor


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`celu`."""
    return _act.celu(input, alpha, inplace=True)


def selu_(input: Tensor) -> Tensor:
    """In-place :func:`selu`."""
    return _act.selu(input, inplace=True)


def native_channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """:func:`channel_shuffle` (torch's non-composite spelling)."""
    return channel_shuffle(input, groups)


def gumbel_softmax(logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """A sample of the Gumbel-softmax (concrete) distribution: ``softmax((logits + g) / tau)``
    with ``g ~ Gumbel(0, 1)``; ``hard`` returns the one-hot argmax with the soft sample's
    gradient (straight-through)."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = -logits.new_empty(tuple(logits.shape)).exponential_().log()  # ~Gumbel(0, 1)
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = logits.new_zeros(tuple(logits.shape)).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


# -- normalisation ---------------------------------------------------------------------------------


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalises each channel of each sample of ``(N, C, *)`` over its spatial dims.

    As torch: batch norm of the input viewed as ``(1, N*C, *)``; with running statistics, each
    is updated with the mean over the batch of the per-sample updates."""
    from .functional import batch_norm

    if use_input_stats:
        if math.prod(input.shape[2:]) == 1:
            raise ValueError("Expected more than 1 spatial element when training, got input "
                             f"size {input.shape}")
    n, c = input.shape[:2]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"{name} should contain {n * c} elements not {n * t.numel()}")
    shape = (1, n * c) + tuple(input.shape[2:])
    rep = (lambda t: None if t is None else t.repeat(n))  # noqa: E731
    rm, rv = rep(running_mean), rep(running_var)
    out = batch_norm(input.reshape(shape), rm, rv, rep(weight), rep(bias), use_input_stats,
                     momentum, eps)
    if use_input_stats:
        with no_grad():
            if running_mean is not None:
                running_mean.copy_(rm.view(n, c).mean(0))
            if running_var is not None:
                running_var.copy_(rv.view(n, c).mean(0))
    return out.view(input.shape)


def rms_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``x / sqrt(mean(x**2 over normalized_shape) + eps) * weight``; ``eps`` defaults to the
    dtype's machine epsilon."""
    if not isinstance(normalized_shape, (tuple, list)):
        raise TypeError("rms_norm(): argument 'normalized_shape' (position 2) must be tuple of "
                        f"ints, not {type(normalized_shape).__name__}")
    shape = [int(n) for n in normalized_shape]
    k = len(shape)
    if list(input.shape[input.ndim - k:]) != shape or k > input.ndim:
        raise RuntimeError(f"Given normalized_shape={shape}, expected input with shape "
                           f"[*{', '.join(str(n) for n in shape)}], but got input of size"
                           f"{list(input.shape)}")
    if weight is not None and list(weight.shape) != shape:
        raise RuntimeError(f"Expected weight to be of same shape as normalized_shape, but got "
                           f"weight of shape {list(weight.shape)} and normalized_shape = {shape}")
    if eps is None:
        eps = float(get_array_module(input._data).finfo(input._data.dtype).eps)
    dims = tuple(range(input.ndim - k, input.ndim))
    out = input * (input.pow(2).mean(dims, keepdim=True) + eps).rsqrt()
    return out * weight if weight is not None else out


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """Normalises each element by the mean square of its ``size`` neighbouring channels:
    ``x / (k + alpha * mean(x**2))**beta``."""
    from .functional import avg_pool2d, avg_pool3d, pad

    dim = input.ndim
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality                          input "
                         f"(got {dim} dimensions)")
    if input.numel() == 0:
        return input
    div = input.mul(input)
    if dim == 3:
        div = pad(div.unsqueeze(1), (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    else:
        sizes = input.shape
        div = div.view(sizes[0], 1, sizes[1], sizes[2], -1)
        div = pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1).squeeze(1).view(sizes)
    div = div.mul(alpha).add(k).pow(beta)
    return input / div


# -- distances -------------------------------------------------------------------------------------


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``x1 . x2 / (max(||x1||, eps) * max(||x2||, eps))`` along ``dim`` (broadcasting)."""
    from ..ops._util import broadcast_shape

    shape = broadcast_shape(tuple(x1.shape), tuple(x2.shape))
    a, b = x1.expand(shape), x2.expand(shape)
    # each vector is divided by its clamped norm first, then the products summed (torch's
    # order, which keeps the result within [-1, 1])
    na = a.norm(2, dim, keepdim=True).clamp_min(eps)
    nb = b.norm(2, dim, keepdim=True).clamp_min(eps)
    return ((a / na) * (b / nb)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` along the last dim."""
    dim = max(x1.ndim, x2.ndim) - 1
    return norm_dim(x1 - x2 + eps, p, dim if dim >= 0 else None, keepdim)


# -- bilinear --------------------------------------------------------------------------------------


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y_o = x1^T W_o x2 + b_o``: ``input1 (*, in1)``, ``input2 (*, in2)``, ``weight
    (out, in1, in2)`` -> ``(*, out)``."""
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and "
                           f"{input2.ndim}")
    if tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        for i in range(input1.ndim - 1):
            if input1.shape[i] != input2.shape[i]:
                raise RuntimeError(f"bilinear(): input batch dimensions do not match: got "
                                   f"{input1.shape[i]} and {input2.shape[i]}")
    if input1.shape[-1] != weight.shape[1]:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1]} but expected {weight.shape[1]}")
    if input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1]} but expected {weight.shape[2]}")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != weight.shape[0]):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got "
                           f"{bias.shape[-1]} but expected {weight.shape[0]}")
    out_f, in1, in2 = weight.shape
    lead = tuple(input1.shape[:-1])
    a = input1.reshape(-1, in1)
    b = input2.reshape(-1, in2)
    # one GEMM: (B, in1) @ (in1, out*in2), then the in2 contraction as a batched product
    t = a.matmul(weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
    y = t.matmul(b.unsqueeze(-1)).reshape(lead + (out_f,))
    return y + bias if bias is not None else y


# -- dropouts --------------------------------------------------------------------------------------


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zeroes whole channels (volumes) of ``(N, C, D, H, W)`` or ``(C, D, H, W)``."""
    _check_p(p)
    nd = input.ndim
    if nd not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {nd}-D input to dropout3d, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            "warning, please use dropout instead. Note that dropout3d exists to provide "
            "channel-wise dropout on inputs with 3 spatial dimensions, a channel dimension, and "
            "an optional batch dimension (i.e. 4D or 5D inputs).", stacklevel=2)
    if not training or p == 0:
        return input
    batched = nd == 5
    x = input if batched else (input.unsqueeze_(0) if inplace else input.unsqueeze(0))
    if x.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    out = _act.masked_dropout(x, p, inplace, tuple(x.shape[:2]) + (1,) * (x.ndim - 2))
    if not batched:
        out = out.squeeze_(0) if inplace else out.squeeze(0)
    return out


_ALPHA = 1.7580993408473766  # -selu's negative saturation value: SELU_SCALE * SELU_ALPHA


def _alpha_dropout(input: Tensor, p: float, training: bool, inplace: bool,
                   feature: bool) -> Tensor:
    _check_p(p)
    if not training or p == 0 or input.numel() == 0:
        return input
    if feature and input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if p == 1:
        zero = input.new_zeros(())
        return input.mul_(zero) if inplace else input * zero
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2) if feature else tuple(input.shape)
    keep = input.new_empty(shape).bernoulli_(1 - p)
    # keeps the mean and variance of SELU-normalised activations: dropped elements become the
    # saturation value, then everything is rescaled by a and shifted by b
    a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
    b = (keep - 1).mul_(_ALPHA * a).add_(_ALPHA * a * p)
    keep.mul_(a)
    return input.mul_(keep).add_(b) if inplace else (input * keep).add_(b)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: dropped elements are set to SELU's saturation value and the
    result is rescaled to keep zero mean and unit variance."""
    return _alpha_dropout(input, p, training, inplace, feature=False)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """:func:`alpha_dropout` over whole channels of ``(N, C, *)``."""
    return _alpha_dropout(input, p, training, inplace, feature=True)


# -- embedding bags --------------------------------------------------------------------------------


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Sums, means or maxima of bags of rows of ``weight`` (V, D).

    Args:
        input: ``(B, L)`` (B bags of L indices) or flat ``(L,)`` with ``offsets``.
        offsets: ``(B,)``: where each bag starts in the flat ``input`` (``(B+1,)`` with
            ``include_last_offset``).
        mode: ``'sum'``, ``'mean'`` or ``'max'``.
        per_sample_weights: ``input``-shaped weights of each index (``'sum'`` only).
        padding_idx: an index that contributes nothing (nor counts in a mean).

    Returns:
        ``(B, D)``; an empty bag gives zeros.
    """
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated is a "
                "mini-batch of fixed length sequences. However, found offsets of type "
                "<class 'ember.Tensor'>")
        b, length = input.shape
        flat = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
        xp = get_array_module(input._data)
        starts = xp.arange(b, dtype=xp.int64) * length
        include_last_offset = False
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        flat = input
        starts = offsets._data.astype("int64")
    else:
        raise ValueError("input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.ndim}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if scale_grad_by_freq and mode == "max":
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if per_sample_weights is not None:
        if tuple(per_sample_weights.shape) != tuple(flat.shape):
            raise ValueError(
                f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, "
                f"then it must have the same shape as the input ({input.shape})")
        if mode != "sum":
            raise NotImplementedError(
                "embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
                "on GitHub.")
    if flat.dtype.name not in ("int64", "int32"):
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {flat.type()} instead (while checking arguments for "
            "embedding_bag)")
    if sparse:
        raise NotImplementedError("embedding_bag: sparse=True (sparse gradients) is not "
                                  "supported by ember; use sparse=False")
    idx = flat._data.astype("int64")
    xp = get_array_module(idx)
    vocab = weight.shape[0]
    bad = (idx < 0) | (idx >= vocab)
    if bad.any():
        i = int(bad.argmax())
        raise RuntimeError(f"Index {i} of input takes value {int(idx[i])} which is not in the "
                           f"valid range [0, {vocab})")
    if input.ndim == 1 and starts.size and starts[-1] > idx.shape[0]:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length {idx.shape[0]} "
                         f"but got offsets[-1] of {int(starts[-1])}")
    if include_last_offset:
        starts = starts[:-1]
    if starts.size and starts[0] != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch "
                           f"has to start from position 0. However, got {int(starts[0])}\n"
                           "[ ember.LongTensor{} ]")  # (torch prints the 0-d tensor's type)
    if padding_idx is not None:
        if not -vocab <= padding_idx < vocab:
            raise AssertionError("padding_idx must be within the number of embeddings")
        padding_idx %= vocab
        keep = idx != padding_idx
    else:
        keep = xp.ones(idx.shape, dtype=bool)
    if max_norm is not None:
        from .functional import _embedding_renorm_

        _embedding_renorm_(weight, flat, max_norm, norm_type)
    # each index's bag: the last start at or before it (starts never decrease)
    bag = xp.searchsorted(starts, xp.arange(idx.shape[0]), side="right") - 1
    freq = xp.bincount(idx, minlength=vocab) if scale_grad_by_freq else None
    args = (weight,) if per_sample_weights is None else (weight, per_sample_weights)
    return EmbeddingBag.apply(*args, idx=idx, bag=bag, starts=starts, mode=mode, keep=keep,
                              freq=freq)


__all__ = [
    "hardshrink", "softshrink", "glu", "prelu", "rrelu", "rrelu_", "celu_", "selu_",
    "gumbel_softmax",
    "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle",
    "instance_norm", "rms_norm", "local_response_norm", "cosine_similarity",
    "pairwise_distance", "pdist", "bilinear", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
    "embedding_bag",
]
