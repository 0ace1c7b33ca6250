"""``torch.nn.functional``: the stateless forms of the layers.

Ops with their own torch node live in ``ember.ops`` (conv, pool, norm, activation, loss); this
module adds torch's argument handling, warnings and errors, and the composites torch itself builds
from other ops (cross_entropy, l1_loss, kl_div, dropout, normalize, ...), so their ``grad_fn``
reads as in torch.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

from .. import dtypes as _dt
from ..graph.grad_mode import no_grad
from ..ops import activation as _act
from ..ops import loss as _loss
from ..ops import norm as _norm
from ..ops.activation import (  # noqa: F401 (re-exported)
    celu, elu, gelu, hardsigmoid, hardswish, hardtanh, leaky_relu, logsigmoid, mish, relu6,
    selu, silu, softplus, threshold)
from ..ops.conv import conv2d, conv_transpose2d, pad  # noqa: F401 (re-exported)
from ..ops.inplace import type_name
from ..ops.pool import (  # noqa: F401 (re-exported)
    adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d)
from ..ops.reduce import log_softmax as _log_softmax, softmax as _softmax
from ..ops.unary import relu as _relu, sigmoid, tanh  # noqa: F401 (re-exported)
from ..tensor import Tensor

# -- linear ----------------------------------------------------------------------------------------


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Applies ``y = x W^T + b``.

    Args:
        input: ``(*, in_features)``.
        weight: ``(out_features, in_features)``.
        bias: ``(out_features)`` or ``None``.

    Returns:
        ``(*, out_features)``.
    """
    in_features = weight.shape[-1]
    if input.dim() >= 1 and input.shape[-1] != in_features:
        # torch multiplies the input flattened to 2-d, and names both shapes as it saw them
        rows = input.numel() // input.shape[-1] if input.shape[-1] else 0
        rows = rows if input.dim() > 1 else 1
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
            f"{weight.shape[-1]}x{weight.shape[0] if weight.dim() == 2 else 1})"
        )
    if bias is None:
        return input.matmul(weight.t())
    if input.dim() == 2:
        return bias.addmm(input, weight.t())  # one fused node, AddmmBackward0, as in torch
    # other ranks go through 2-d and back, so the graph reads ViewBackward0 <- AddmmBackward0
    out = bias.addmm(input.reshape(-1, in_features), weight.t())
    return out.view(*input.shape[:-1], out.shape[-1])


# -- pooling ---------------------------------------------------------------------------------------


def max_pool2d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None,
                            padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``max_pool2d`` that always returns ``(output, indices)``."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# -- normalisation ---------------------------------------------------------------------------------


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over dim 1 of ``(N, C, *)``; see :func:`ember.batch_norm`."""
    if training:
        size = list(input.shape)
        if input.ndim >= 1 and math.prod(size[2:]) * size[0] == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {input.shape}")
    return _norm.batch_norm(input, weight, bias, running_mean, running_var, training, momentum,
                            eps)


def layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the trailing ``normalized_shape`` dims."""
    return _norm.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Group normalisation: channels split into ``num_groups`` groups, each normalised."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    # torch checks the shape the groups are normalised in: (N*C/G, G, *spatial)
    size = [input.shape[0] * input.shape[1] // num_groups, num_groups] + list(input.shape[2:])
    if size[0] * math.prod(size[2:]) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {size}")
    return _norm.group_norm(input, num_groups, weight, bias, eps)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``."""
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    if out is None:
        return input / denom
    return out.copy_(input / denom)


# -- dropout ---------------------------------------------------------------------------------------


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout(input: Tensor, p: float, inplace: bool, mask_shape: tuple) -> Tensor:
    return _act.masked_dropout(input, p, inplace, mask_shape)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zeroes each element with probability ``p`` and scales the rest by ``1 / (1 - p)`` (in
    training; the identity otherwise). Draws from ember's generator."""
    _check_p(p)
    if not training or p == 0:
        return input
    return _dropout(input, p, inplace, tuple(input.shape))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zeroes whole channels of ``(N, C, L)`` or ``(C, L)``."""
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           "input. Note that dropout1d exists to provide channel-wise dropout on "
                           "inputs with 1 spatial dimension, a channel dimension, and an optional "
                           "batch dimension (i.e. 2D or 3D inputs).")
    if not training or p == 0:
        return input
    return _dropout(input, p, inplace, tuple(input.shape[:-1]) + (1,))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zeroes whole channels (feature maps) of ``(N, C, H, W)``."""
    _check_p(p)
    nd = input.ndim
    if nd not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            "warning, please use dropout instead. Note that dropout2d exists to provide "
            "channel-wise dropout on inputs with 2 spatial dimensions, a channel dimension, and "
            "an optional batch dimension (i.e. 3D or 4D inputs).", stacklevel=2)
    if nd == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2)
    if not training or p == 0:
        return input
    if nd < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return _dropout(input, p, inplace, tuple(input.shape[:2]) + (1,) * (nd - 2))


# -- activations -----------------------------------------------------------------------------------


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(input, 0)``."""
    return input.relu_() if inplace else _relu(input)


def relu_(input: Tensor) -> Tensor:
    return input.relu_()


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return _act.threshold(input, threshold, value, inplace=True)


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``."""
    return input - input.tanh()


def _softmax_dim(name: str, ndim: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  "include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (chosen by torch's legacy rule when omitted)."""
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim)
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: Any = None) -> Tensor:
    """``log(softmax(x))`` along ``dim``, computed stably."""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim)
    return _log_softmax(input, dim, dtype=dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    """``softmax(-x)`` along ``dim``."""
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim)
    return _softmax(-input, dim, dtype=dtype)


# -- embedding and one-hot -------------------------------------------------------------------------


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (V, D) picked by the integer ``input``: ``(*, D)``.

    ``padding_idx`` rows get no gradient; ``max_norm`` first rescales, in place, each picked row
    whose ``norm_type``-norm exceeds it.
    """
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= weight.size(0):
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -weight.size(0):
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = weight.size(0) + padding_idx
    else:
        padding_idx = -1
    if max_norm is not None:
        _embedding_renorm_(weight, input, max_norm, norm_type)
    return _act.embedding(weight, input, padding_idx, scale_grad_by_freq, sparse)


def _embedding_renorm_(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:
    with no_grad():
        w = weight._data
        rows = _unique(input._data)
        norms = (abs(w[rows]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        scale = (max_norm / (norms + 1e-7)).astype(w.dtype)
        big = norms > max_norm
        w[rows[big]] *= scale[big, None]
        weight._version_counter[0] += 1


def _unique(indices: Any) -> Any:
    from ..backend import get_array_module

    return get_array_module(indices).unique(indices.ravel())


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """``(*) -> (*, num_classes)`` int64 one-hot encoding; ``-1`` infers ``max + 1``."""
    if tensor.dtype is not _dt.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    from ..backend import get_array_module

    idx = tensor._data
    xp = get_array_module(idx)
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(idx.max()) + 1
    if idx.size:
        if idx.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if idx.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    out = (idx[..., None] == xp.arange(num_classes)).astype(xp.int64)
    return Tensor._make(out)


# -- losses ----------------------------------------------------------------------------------------


def _reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    """torch's legacy ``size_average``/``reduce`` override ``reduction``, with its warning."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", stacklevel=3)
    elif reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' "
                      "instead.", stacklevel=3)
        reduction = "mean"
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _warn_size(input: Tensor, target: Tensor) -> None:
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.size()}) that is different to the input size "
                      f"({input.size()}). This will likely lead to incorrect results due to "
                      "broadcasting. Please ensure they have the same size.", stacklevel=3)


def _broadcast(input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    if input.shape == target.shape:
        return input, target
    from ..ops._util import broadcast_shape

    shape = broadcast_shape(tuple(input.shape), tuple(target.shape))
    return input.expand(shape), target.expand(shape)


def _weighted(loss: Tensor, weight: Tensor, reduction: str, mean_by_weight: bool) -> Tensor:
    loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / weight.sum() if mean_by_weight else loss.mean()


def _check_weight_size(weight: Tensor, input: Tensor) -> None:
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
             reduction: str = "mean") -> Tensor:
    """Negative log likelihood of class ``target`` given log-probabilities ``input``.

    Args:
        input: ``(N, C)``, ``(C)`` or ``(N, C, d1, ...)``.
        target: int64 class indices ``(N)``, ``()`` or ``(N, d1, ...)``; ``ignore_index``
            entries contribute nothing.
        weight: ``(C)`` per-class weights; 'mean' divides by the total weight of the targets.
    """
    reduction = _reduction(size_average, reduce, reduction)
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if target.dtype.name not in ("int64", "uint8"):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{type_name(target)}")
    if input.ndim >= 2 and target.ndim >= 1 and input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0]}).")
    if input.ndim <= 2:
        if target.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if input.ndim == 1 and target.ndim != 0:
            raise RuntimeError(f"Expected target size [], got {list(target.shape)}")
    else:
        if target.ndim != input.ndim - 1:
            if input.ndim == 4:
                raise RuntimeError("only batches of spatial targets supported (3D tensors) but "
                                   f"got targets of dimension: {target.ndim}")
            raise RuntimeError(f"Expected target size {[input.shape[0]] + list(input.shape[2:])}"
                               f", got {list(target.shape)}")
        if tuple(target.shape[1:]) != tuple(input.shape[2:]):
            if input.ndim == 4:
                raise RuntimeError(f"size mismatch (got input: {list(input.shape)} , target: "
                                   f"{list(target.shape)}")
            raise RuntimeError(f"Expected target size {[input.shape[0]] + list(input.shape[2:])}"
                               f", got {list(target.shape)}")
    c = input.shape[1] if input.ndim >= 2 else input.shape[0]
    if weight is not None and weight.numel() != c:
        raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no "
                           f"classes but got weight tensor of shape: {list(weight.shape)}")
    t = target._data.astype("int64", copy=False)
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"Target {int(t[bad].ravel()[0])} is out of bounds.")
    # torch runs 3-d and >= 5-d inputs through its 2-d (image) kernel, then views 'none' back
    op = _loss.NllLoss if input.ndim <= 2 else _loss.NllLoss2d
    view = reduction == "none" and (input.ndim == 3 or input.ndim >= 5)
    flat = t.reshape(t.shape[0], math.prod(t.shape[1:])) if view else t
    out = op.apply(input, target=flat,
                   ignore_index=ignore_index, weight=None if weight is None else weight._data,
                   reduction=reduction)
    return out.view(*target.shape) if view else out


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy of the logits ``input`` against class indices or class probabilities.

    Args:
        input: logits ``(N, C)``, ``(C)`` or ``(N, C, d1, ...)``.
        target: int64 class indices (as for :func:`nll_loss`), or probabilities of ``input``'s
            shape.
        weight: ``(C)`` per-class weights.
        label_smoothing: mixes the target with the uniform distribution by this amount.
    """
    reduction = _reduction(size_average, reduce, reduction)
    # torch refuses only values above 1: a negative or NaN label_smoothing means none at all
    if label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing:g}")
    class_dim = 0 if input.ndim == 1 else 1
    logp = log_softmax(input, class_dim)
    c = input.shape[class_dim]
    if input.shape == target.shape:
        if not target.is_floating_point():
            raise RuntimeError("Expected floating point type for target with class "
                               f"probabilities, got {type_name(target)}")
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / c
        if weight is not None:
            shape = [1] * input.ndim
            shape[class_dim] = c
            logp = logp * weight.view(*shape)
        terms = logp * target
        if reduction == "none":
            return -terms.sum(class_dim)
        if reduction == "sum":
            return -terms.sum()
        return _loss.DivScalar.apply(-terms.sum(), scalar=input.numel() // c if c else 0)
    if target.is_floating_point() and target.ndim == input.ndim:
        raise RuntimeError("Expected floating point type for target with class probabilities, "
                           f"got {type_name(target)}")
    nll = nll_loss(logp, target, weight, None, ignore_index, None, reduction)
    if not label_smoothing > 0:  # (torch smooths only for a positive value: not NaN or -0.5)
        return nll
    ignore = target == ignore_index
    if weight is not None:
        shape = [1] * input.ndim
        shape[class_dim] = c
        smooth = -(logp * weight.view(*shape)).sum(class_dim)
    else:
        smooth = -logp.sum(class_dim)
    smooth = smooth.masked_fill(ignore, 0.0)
    if reduction == "mean":
        if weight is not None:
            picked = target[~ignore].flatten()
            smooth = smooth.sum() / weight.gather(0, picked).sum()
        else:
            smooth = smooth.sum() / (~ignore).sum()
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / c)


def mse_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error ``(input - target)^2``, optionally weighted per element."""
    _warn_size(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    a, b = _broadcast(input, target)
    if weight is not None:
        _check_weight_size(weight, input)
        return _weighted((a - b).pow(2), weight, reduction, mean_by_weight=True)
    _check_float("mse_cpu", a, b)
    return _loss.MseLoss.apply(a, b, reduction=reduction)


def _check_float(kernel: str, a: Tensor, b: Tensor) -> None:
    if not a.is_floating_point() and not b.is_floating_point():
        raise NotImplementedError(f'"{kernel}" not implemented for \'{type_name(a)}\'')


def l1_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error ``|input - target|``, optionally weighted per element."""
    _warn_size(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    a, b = _broadcast(input, target)
    loss = (a - b).abs()
    if weight is not None:
        _check_weight_size(weight, input)
        return _weighted(loss, weight, reduction, mean_by_weight=True)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``d = input - target``)."""
    _warn_size(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if not beta >= 0:  # (NaN too, as torch)
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    a, b = _broadcast(input, target)
    if beta == 0.0:
        return l1_loss(a, b, reduction=reduction)
    return _loss.SmoothL1Loss.apply(a, b, reduction=reduction, param=beta)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``."""
    _warn_size(input, target)
    reduction = _reduction(None, None, reduction)
    if not delta > 0:  # (NaN too, as torch)
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    a, b = _broadcast(input, target)
    if weight is None:
        return _loss.HuberLoss.apply(a, b, reduction=reduction, param=delta)
    _check_weight_size(weight, input)
    loss = _loss.HuberLoss.apply(a, b, reduction="none", param=delta)
    return _weighted(loss, weight, reduction, mean_by_weight=False)


def _expand_weight(weight: Tensor | None, shape: tuple) -> Any:
    if weight is None:
        return None
    from ..backend import get_array_module
    from ..ops._util import broadcast_shape

    if broadcast_shape(tuple(weight.shape), shape) != shape:
        raise RuntimeError(f"The size of tensor a ({weight.shape[-1]}) must match the size of "
                           f"tensor b ({shape[-1]}) at non-singleton dimension "
                           f"{len(shape) - 1}")
    return get_array_module(weight._data).broadcast_to(weight._data, shape)


def _check_probabilities(p: Any, t: Any) -> None:
    """torch's range checks of binary_cross_entropy, written so that NaN fails them as in
    torch's kernel (``0 <= x <= 1`` is false for NaN)."""
    if not p.size:
        return
    bad_p = ~((p >= 0) & (p <= 1))
    bad_t = ~((t >= 0) & (t <= 1))
    any_p, any_t = bool(bad_p.any()), bool(bad_t.any())
    if any_p and any_t:
        # torch checks element by element, input before target, in the input's memory order
        order = sorted(range(p.ndim), key=lambda d: -abs(p.strides[d]))
        first_p = int(bad_p.transpose(order).ravel().argmax())
        first_t = int(bad_t.transpose(order).ravel().argmax())
        any_p = first_p <= first_t
    if any_p:
        raise RuntimeError("all elements of input should be between 0 and 1")
    if any_t:
        raise RuntimeError("all elements of target should be between 0 and 1")


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: Any = None, reduce: Any = None,
                         reduction: str = "mean") -> Tensor:
    """``-w (t log p + (1 - t) log(1 - p))`` for probabilities ``p``; each log is clamped to
    >= -100, so a confident wrong prediction costs 100, not inf."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.size()}) that is different to the input "
                         f"size ({input.size()}) is deprecated. Please ensure they have the same "
                         "size.")
    if weight is not None:
        from ..ops._util import broadcast_shape

        try:
            broadcast_shape(tuple(weight.shape), tuple(target.shape))
        except RuntimeError:
            raise RuntimeError(
                f"Attempting to broadcast a dimension of length {weight.shape[-1]} at -1! "
                f"Mismatching argument at index 1 had {weight.size()}; but expected shape should "
                f"be broadcastable to {list(target.shape)}") from None
    if target.dtype != input.dtype:
        raise RuntimeError(f"Found dtype {type_name(target)} but expected {type_name(input)}")
    _check_probabilities(input._data, target._data)
    return _loss.BinaryCrossEntropy.apply(
        input, target, weight=_expand_weight(weight, tuple(input.shape)), reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average: Any = None,
                                     reduce: Any = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """``binary_cross_entropy(sigmoid(input), target)`` computed stably from logits;
    ``pos_weight`` scales the positive term (broadcast along the last dims)."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.size()}) must be the same as input size "
                         f"({input.size()})")
    shape = tuple(input.shape)
    return _loss.BinaryCrossEntropyWithLogits.apply(
        input, target, weight=_expand_weight(weight, shape),
        pos_weight=_expand_weight(pos_weight, shape), reduction=reduction)


def kl_div(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence ``target * (log target - input)`` with ``input`` log-probabilities;
    ``reduction='batchmean'`` divides the sum by the batch size (the true KL divergence)."""
    if size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # xlogy(t, t): 0 where t == 0 (log 0 * 0 would be nan), nan for a negative or NaN t
        from ..ops.compare import where

        safe = where(target == 0, 1.0, target)
        loss = target * safe.log() - target * input
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    total = loss.sum()
    if reduction == "batchmean" and input.ndim != 0:
        return total / input.shape[0]
    return total


__all__ = [
    "linear", "conv2d", "conv_transpose2d", "max_pool2d", "max_pool2d_with_indices",
    "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "batch_norm", "layer_norm",
    "group_norm", "normalize", "dropout", "dropout1d", "dropout2d", "relu", "relu_", "relu6",
    "leaky_relu", "leaky_relu_", "gelu", "silu", "elu", "elu_", "selu", "celu", "softplus",
    "hardtanh", "hardtanh_", "logsigmoid", "hardsigmoid", "hardswish", "mish", "threshold",
    "threshold_", "sigmoid", "tanh", "softsign", "tanhshrink", "softmax", "log_softmax",
    "softmin", "embedding", "one_hot", "pad", "nll_loss", "cross_entropy", "mse_loss",
    "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div",
]

# the rest of torch.nn.functional, kept in files of their own
from .functional_spatial import *  # noqa: E402,F401,F403
from .functional_layers import *  # noqa: E402,F401,F403
from .functional_losses import *  # noqa: E402,F401,F403
from . import functional_layers as _layers, functional_losses as _losses, \
    functional_spatial as _spatial  # noqa: E402
__all__ += _spatial.__all__ + _layers.__all__ + _losses.__all__
from ..ops.attention import scaled_dot_product_attention  # noqa: E402,F401
from ._mha import multi_head_attention_forward  # noqa: E402,F401
__all__ += ["scaled_dot_product_attention", "multi_head_attention_forward"]
from ._functional_utils import *  # noqa: E402,F401,F403
from . import _functional_utils  # noqa: E402
__all__ += _functional_utils.__all__

from .._device_guard import guard_namespace as _guard_namespace  # noqa: E402

_guard_namespace(__name__)
