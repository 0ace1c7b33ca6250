"""The torch-level twins of ``nn.functional``: ``torch.cosine_similarity``, ``torch.kl_div``,
``torch.dropout_``, ``torch.lstm_cell`` ...

They compute what the functional forms compute (the same ops, so the same nodes), with the
signatures of torch's ATen functions, which are not always F's: losses take ``reduction`` as an
int (0 none, 1 mean, 2 sum; any other value gives no reduction, as ATen's), dropouts take a
positional ``train``, ``instance_norm`` and ``poisson_nll_loss`` take every argument. ``ember``
reaches them lazily (``ember.kl_div`` loads ``ember.nn``).
"""
from __future__ import annotations

import builtins
import warnings
from typing import Any, Sequence

from ..backend import get_array_module
from ..ops.activation import masked_dropout
from ..ops.recurrent import TransposeInplace
from ..tensor import Tensor
from . import functional as F
from .modules.rnn import run_layers
from .utils.rnn import _packed_to_padded, _padded_to_packed

_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(fname: str, reduction: Any, pos: int) -> str:
    if not isinstance(reduction, builtins.int) or isinstance(reduction, builtins.bool):
        raise TypeError(f"{fname}(): argument 'reduction' (position {pos}) must be int, not "
                        f"{type(reduction).__name__}")
    return _REDUCTIONS.get(reduction, "none")


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine similarity of ``x1`` and ``x2`` along ``dim`` (``F.cosine_similarity``)."""
    return F.cosine_similarity(x1, x2, dim, eps)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """The p-norm distance between the rows of ``x1`` and ``x2`` (``F.pairwise_distance``)."""
    return F.pairwise_distance(x1, x2, p, eps, keepdim)


def kl_div(input: Tensor, target: Tensor, reduction: int = 1, *,
           log_target: bool = False) -> Tensor:
    """The Kullback-Leibler divergence loss; ``reduction`` 1 is the mean over every element
    (no batchmean warning at this level)."""
    red = _reduction("kl_div", reduction, 3)
    with warnings.catch_warnings():  # (F's warning is about the string 'mean')
        warnings.simplefilter("ignore")
        return F.kl_div(input, target, reduction=red, log_target=log_target)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction: int = 1) -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``, reduced."""
    return F.margin_ranking_loss(input1, input2, target, margin,
                                 reduction=_reduction("margin_ranking_loss", reduction, 5))


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         reduction: int = 1) -> Tensor:
    """``input`` where ``target`` is 1, ``max(0, margin - input)`` where it is -1, reduced."""
    return F.hinge_embedding_loss(input, target, margin,
                                  reduction=_reduction("hinge_embedding_loss", reduction, 4))


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          reduction: int = 1) -> Tensor:
    """``1 - cos(input1, input2)`` for ``target`` 1, ``max(0, cos - margin)`` for -1, reduced."""
    return F.cosine_embedding_loss(input1, input2, target, margin,
                                   reduction=_reduction("cosine_embedding_loss", reduction, 5))


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float,
                     reduction: int) -> Tensor:
    """The Poisson negative log likelihood loss (every argument required, as ATen's)."""
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps,
                              reduction=_reduction("poisson_nll_loss", reduction, 6))


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     pos_weight: Tensor | None = None,
                                     reduction: int = 1) -> Tensor:
    """Binary cross entropy on logits (``pos_weight`` before ``reduction``, as ATen's order)."""
    red = _reduction("binary_cross_entropy_with_logits", reduction, 5)
    return F.binary_cross_entropy_with_logits(input, target, weight, reduction=red,
                                              pos_weight=pos_weight)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                        reduction: int = 1) -> Tensor:
    """``max(d(a, p) - d(a, n) + margin, 0)``, reduced (``F.triplet_margin_loss``)."""
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                 reduction=_reduction("triplet_margin_loss", reduction, 8))


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Any, target_lengths: Any,
             blank: int = 0, reduction: int = 1, zero_infinity: bool = False) -> Tensor:
    """The Connectionist Temporal Classification loss (``F.ctc_loss``)."""
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                      reduction=_reduction("ctc_loss", reduction, 6),
                      zero_infinity=zero_infinity)


def instance_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,
                  running_mean: Tensor | None, running_var: Tensor | None,
                  use_input_stats: bool, momentum: float, eps: float,
                  cudnn_enabled: bool) -> Tensor:
    """Instance normalisation (ATen's argument order: weight and bias first)."""
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                           momentum, eps)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """``x1^T A x2 + b`` (``F.bilinear``)."""
    return F.bilinear(input1, input2, weight, bias)


def rms_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """Root-mean-square normalisation over the trailing ``normalized_shape`` (``F.rms_norm``)."""
    return F.rms_norm(input, normalized_shape, weight, eps)


# -- dropouts: (input, p, train) -------------------------------------------------------------


def _feature_mask(input: Tensor) -> tuple:
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return tuple(input.shape[:2]) + (1,) * (input.ndim - 2)


def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Zeroes whole channels (dim 1 of each sample) with probability ``p``, scaling the rest by
    ``1 / (1 - p)``; ``input`` itself when not ``train``."""
    if not train or p == 0:
        return input
    return masked_dropout(input, p, False, _feature_mask(input))


def feature_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """In-place :func:`feature_dropout`."""
    if not train or p == 0:
        return input
    return masked_dropout(input, p, True, _feature_mask(input))


def dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """In-place ``torch.dropout``."""
    return F.dropout(input, p, train, inplace=True)


def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Alpha dropout (keeps SELU's mean and variance); ``input`` itself when not ``train``."""
    return F.alpha_dropout(input, p, train)


def alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """In-place :func:`alpha_dropout`."""
    return F.alpha_dropout(input, p, train, inplace=True)


def feature_alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Alpha dropout of whole channels."""
    return F.feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """In-place :func:`feature_alpha_dropout`."""
    return F.feature_alpha_dropout(input, p, train, inplace=True)


def selu_(input: Tensor) -> Tensor:
    """In-place SELU."""
    return F.selu_(input)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place CELU."""
    return F.celu_(input, alpha)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place threshold: ``value`` where ``input <= threshold``."""
    return F.threshold_(input, threshold, value)


def embedding_renorm_(input: Tensor, indices: Tensor, max_norm: float,
                      norm_type: float) -> Tensor:
    """Rescales, in place, the rows of ``input`` picked by ``indices`` whose ``norm_type``-norm
    exceeds ``max_norm`` down to ``max_norm`` (what ``embedding(max_norm=...)`` does first)."""
    F._embedding_renorm_(input, indices, max_norm, norm_type)
    return input


_BAG_MODES = {0: "sum", 1: "mean", 2: "max"}


def embedding_bag(weight: Tensor, indices: Tensor, offsets: Tensor,
                  scale_grad_by_freq: bool = False, mode: int = 0, sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """ATen's embedding bag: ``(output, offset2bag, bag_size, max_indices)``.

    ``output`` is ``F.embedding_bag``'s (mode 0 sum, 1 mean, 2 max). The others are what torch's
    CPU kernel returns beside it, in ``indices``' dtype: the bag of each index (empty for a
    floating sum on torch's fast path: no ``padding_idx``, a float32/float16/bfloat16 weight),
    the number of non-padding indices per bag (zeros for sum: one per offset when nothing is
    recorded, as torch's forward-only kernel gives), and the row of the maximum per bag and
    feature for max (the bag sizes for mean, zeros for sum).
    """
    if mode not in _BAG_MODES:
        raise RuntimeError("`mode` must be sum, mean, or max.")
    if per_sample_weights is not None and mode != 0:
        raise RuntimeError("embedding_bag: per_sample_weights only supported with mode='sum'")
    pad = padding_idx  # (a negative one counts from the end, as ATen wraps it)
    if pad is not None and pad < 0:
        pad += weight.shape[0]
    out = F.embedding_bag(indices, weight, offsets, scale_grad_by_freq=scale_grad_by_freq,
                          mode=_BAG_MODES[mode], sparse=sparse,
                          per_sample_weights=per_sample_weights,
                          include_last_offset=include_last_offset, padding_idx=pad)
    idx, d = indices._data, indices._data.dtype
    xp = get_array_module(idx)
    starts = offsets._data.astype(d)
    if include_last_offset:
        starts = starts[:-1]
    n_bags = starts.shape[0]
    bag = (xp.searchsorted(starts, xp.arange(idx.shape[0]), side="right") - 1).astype(d)
    valid = idx != pad if pad is not None else xp.ones(idx.shape, dtype=bool)
    if mode == 0:  # zeros: one per bag, or one per offset on torch's forward-only kernel
        recorded = out.requires_grad
        size = xp.zeros(n_bags if recorded else offsets._data.shape[0], dtype=d)
    else:
        size = xp.bincount(bag[valid], minlength=n_bags).astype(d)
    if mode == 2:
        top = _bag_argmax(weight._data[idx], out._data, bag, valid, idx, n_bags, xp)
    else:
        top = size.copy()  # (mean: the bag sizes again; sum: zeros)
    fast = mode == 0 and padding_idx is None and weight.dtype.name in (
        "float32", "float16", "bfloat16")
    if fast:
        bag = bag[:0]
    return out, Tensor._make(bag), Tensor._make(size), Tensor._make(top.astype(d))


def _bag_argmax(rows: Any, best: Any, bag: Any, valid: Any, idx: Any, n_bags: int,
                xp: Any) -> Any:
    """For each bag and feature, the weight row where the bag's maximum first occurs (0 for an
    empty bag): positions holding the maximum, the first of each bag taken by a segment min."""
    n = idx.shape[0]
    hit = (rows == best[bag]) & valid[:, None]
    pos = xp.where(hit, xp.arange(n)[:, None], n)
    first = xp.full((n_bags + 1, rows.shape[1]), n)
    xp.minimum.at(first, bag, pos)
    found = first[:n_bags] < n
    return xp.where(found, idx[xp.minimum(first[:n_bags], n - 1)], 0)


# -- whole recurrent layers: torch.lstm, gru, rnn_tanh, rnn_relu -----------------------------------


def _layers(mode: str, input: Tensor, hx: Any, params: Sequence[Tensor], *args: Any) -> tuple:
    """The padded form ``(input, hx, params, has_biases, num_layers, dropout, train,
    bidirectional, batch_first)`` and the packed one ``(data, batch_sizes, hx, params,
    has_biases, num_layers, dropout, train, bidirectional)``, told apart as ATen does: by the
    second argument, a 1-d int64 tensor of batch sizes in the packed form."""
    if isinstance(hx, Tensor) and hx.dtype.name == "int64" and hx.ndim == 1:
        batch_sizes, hx, params = hx, params, args[0]
        has_biases, num_layers, dropout, train, bidirectional = args[1:]
        x, sizes = _packed_to_padded(input, batch_sizes)
        out = _run_layers(mode, x, hx, params, has_biases, num_layers, dropout, train,
                          bidirectional, sizes)
        return (_padded_to_packed(out[0], batch_sizes),) + out[1:]
    has_biases, num_layers, dropout, train, bidirectional, batch_first = args
    x = input.transpose(0, 1) if batch_first else input
    out = _run_layers(mode, x, hx, params, has_biases, num_layers, dropout, train,
                      bidirectional, None)
    if batch_first:  # (torch's LSTM transposes out of place, its GRU and RNNs in place)
        y = out[0].transpose(0, 1) if mode == "LSTM" else TransposeInplace.apply(out[0])
        out = (y,) + out[1:]
    return out


def _run_layers(mode: str, x: Tensor, hx: Any, params: Sequence[Tensor], has_biases: bool,
                num_layers: int, dropout: float, train: bool, bidirectional: bool,
                sizes: Any) -> tuple:
    is_lstm = mode == "LSTM"
    if is_lstm:
        if len(hx) != 2:
            raise RuntimeError("lstm expects two hidden states")
        h0, c0 = hx[0], hx[1]
    else:
        h0, c0 = hx, None
    proj = is_lstm and h0.shape[-1] != c0.shape[-1]  # (an LSTM's projected state is smaller)
    stride = (4 if has_biases else 2) + (1 if proj else 0)
    directions = 2 if bidirectional else 1
    mkldnn = is_lstm and not proj and x.dtype.name == "float32"  # (torch's oneDNN layer)
    if mkldnn and len(params) % stride:  # (that path checks the count its own way first)
        raise RuntimeError(f"MatrixRef: ArrayRef size {len(params)} not divisible by stride "
                           f"{stride}")
    if len(params) != num_layers * directions * stride:
        raise RuntimeError("got an incorrect number of RNN parameters")
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if has_biases else []) \
        + (["weight_hr"] if proj else [])
    weights = [dict(zip(names, params[k * stride:(k + 1) * stride]))
               for k in range(num_layers * directions)]
    y, h_n, c_n = run_layers(x, h0, c0, weights, mode=mode, num_layers=num_layers,
                             bidirectional=bidirectional, dropout=dropout, train=train,
                             mkldnn=mkldnn, sizes=sizes)
    return (y, h_n, c_n) if is_lstm else (y, h_n)


def lstm(input: Tensor, hx: Sequence[Tensor], params: Sequence[Tensor], has_biases: bool,
         num_layers: int, dropout: float, train: bool, bidirectional: bool,
         batch_first: bool) -> tuple[Tensor, Tensor, Tensor]:
    """A multi-layer LSTM over a padded sequence with the given flat ``params`` (per layer and
    direction: ``w_ih, w_hh[, b_ih, b_hh][, w_hr]``) and ``hx = (h_0, c_0)``; returns
    ``(output, h_n, c_n)``, as ``nn.LSTM`` computes them. The packed form takes
    ``(data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional)``
    (so do :func:`gru`, :func:`rnn_tanh` and :func:`rnn_relu`)."""
    return _layers("LSTM", input, hx, params, has_biases, num_layers, dropout, train,
                   bidirectional, batch_first)


def gru(input: Tensor, hx: Tensor, params: Sequence[Tensor], has_biases: bool, num_layers: int,
        dropout: float, train: bool, bidirectional: bool,
        batch_first: bool) -> tuple[Tensor, Tensor]:
    """A multi-layer GRU over a padded sequence with flat ``params``; returns ``(output, h_n)``."""
    return _layers("GRU", input, hx, params, has_biases, num_layers, dropout, train,
                   bidirectional, batch_first)


def rnn_tanh(input: Tensor, hx: Tensor, params: Sequence[Tensor], has_biases: bool,
             num_layers: int, dropout: float, train: bool, bidirectional: bool,
             batch_first: bool) -> tuple[Tensor, Tensor]:
    """A multi-layer Elman RNN (tanh) with flat ``params``; returns ``(output, h_n)``."""
    return _layers("RNN_TANH", input, hx, params, has_biases, num_layers, dropout, train,
                   bidirectional, batch_first)


def rnn_relu(input: Tensor, hx: Tensor, params: Sequence[Tensor], has_biases: bool,
             num_layers: int, dropout: float, train: bool, bidirectional: bool,
             batch_first: bool) -> tuple[Tensor, Tensor]:
    """A multi-layer Elman RNN (ReLU) with flat ``params``; returns ``(output, h_n)``."""
    return _layers("RNN_RELU", input, hx, params, has_biases, num_layers, dropout, train,
                   bidirectional, batch_first)


# -- one step of the recurrent cells -----------------------------------------------------------


def _gates(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
           b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    return F.linear(input, w_ih, b_ih), F.linear(hx, w_hh, b_hh)


def lstm_cell(input: Tensor, hx: Sequence[Tensor], w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step on a batch: ``hx = (h, c)``; returns ``(h', c')``."""
    h, c = hx
    gi, gh = _gates(input, h, w_ih, w_hh, b_ih, b_hh)
    i, f, g, o = (gi + gh).chunk(4, 1)
    c1 = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c1.tanh(), c1


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None) -> Tensor:
    """One GRU step on a batch: ``h' = (1 - z) * n + z * h``."""
    gi, gh = _gates(input, hx, w_ih, w_hh, b_ih, b_hh)
    ir, iz, in_ = gi.chunk(3, 1)
    hr, hz, hn = gh.chunk(3, 1)
    r = (ir + hr).sigmoid()
    z = (iz + hz).sigmoid()
    n = (in_ + r * hn).tanh()
    return (hx - n) * z + n  # torch's form of (1 - z) * n + z * h, for the same rounding


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """One Elman step: ``tanh(W_ih x + b_ih + W_hh h + b_hh)``."""
    gi, gh = _gates(input, hx, w_ih, w_hh, b_ih, b_hh)
    return (gi + gh).tanh()


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """One Elman step with ReLU: ``relu(W_ih x + b_ih + W_hh h + b_hh)``."""
    gi, gh = _gates(input, hx, w_ih, w_hh, b_ih, b_hh)
    return (gi + gh).relu()


__all__ = [
    "cosine_similarity", "pairwise_distance", "kl_div", "margin_ranking_loss",
    "hinge_embedding_loss", "cosine_embedding_loss", "poisson_nll_loss",
    "binary_cross_entropy_with_logits", "triplet_margin_loss", "ctc_loss", "instance_norm",
    "bilinear", "rms_norm", "feature_dropout", "feature_dropout_", "dropout_", "alpha_dropout",
    "alpha_dropout_", "feature_alpha_dropout", "feature_alpha_dropout_", "selu_", "celu_",
    "threshold_", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell", "embedding_renorm_",
    "embedding_bag", "lstm", "gru", "rnn_tanh", "rnn_relu",
]

from .._device_guard import guard_namespace as _guard_namespace  # noqa: E402

_guard_namespace(__name__)
