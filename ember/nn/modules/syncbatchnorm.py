"""``SyncBatchNorm``: batch normalisation over the global batch of every rank.

In training with a process group of more than one rank, the statistics are all-reduced: the
per-channel sum and count, then the sum of squared deviations (two passes, as ember's
``batch_norm``, in float64 for float32 input), so every rank normalises with the global batch's
mean and variance and updates identical running statistics. Backward all-reduces the two sums its
input gradient needs (of ``g`` and of ``g * xhat``); the weight and bias gradients stay local, for
``DistributedDataParallel`` to average. Trained this way, a model under DDP follows single-process
training on the global batch. Elsewhere (eval, one rank, no process group) it is ``BatchNorm``.
"""
from __future__ import annotations

from typing import Any

from ... import distributed as dist
from ...autograd.function import Function
from ...backend import backend_of
from ...tensor import Tensor
from .. import functional as F
from .batchnorm import _BatchNorm
from .module import Module

__all__ = ["SyncBatchNorm"]


def _acc(xp: Any, dtype: Any) -> Any:
    return xp.float64 if dtype.kind == "f" and dtype.itemsize <= 4 else dtype


def _all_reduce(values: Any, pg: Any) -> Any:
    t = Tensor._make(values)
    dist.all_reduce(t, group=pg)
    return t._data


class _SyncBatchNormFunction(Function):
    @staticmethod
    def forward(ctx: Any, input: Tensor, weight: Tensor | None, bias: Tensor | None,
                running_mean: Tensor | None, running_var: Tensor | None, eps: float,
                momentum: float, pg: Any) -> Tensor:
        x = input._data
        xp = backend_of(x).xp
        n, c = x.shape[0], x.shape[1]
        xv = x.reshape(n, c, -1)
        acc = _acc(xp, x.dtype)
        local = xv.sum(axis=(0, 2), dtype=acc)
        stats = _all_reduce(xp.concatenate([local, xp.asarray([xv.shape[0] * xv.shape[2]],
                                                               dtype=acc)]), pg)
        count = float(stats[-1])
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {list(input.shape)}")
        mean = stats[:c] / count
        d = xv - mean.astype(x.dtype)[None, :, None]
        var = _all_reduce(xp.einsum("ncs,ncs->c", d, d).astype(acc), pg) / count
        invstd = 1.0 / xp.sqrt(var + eps)
        scale = invstd if weight is None else invstd * weight._data.astype(acc)
        y = d * scale.astype(x.dtype)[None, :, None]
        if bias is not None:
            y += bias._data.astype(x.dtype)[None, :, None]
        if running_mean is not None:  # momentum-weighted, with the global unbiased variance
            m = momentum
            running_mean._data[...] = ((1 - m) * running_mean._data + m * mean).astype(
                running_mean._data.dtype)
            running_var._data[...] = ((1 - m) * running_var._data
                                      + m * var * (count / (count - 1))).astype(
                running_var._data.dtype)
        ctx.d, ctx.invstd, ctx.count, ctx.pg, ctx.shape = d, invstd, count, pg, x.shape
        ctx.w = None if weight is None else weight._data.astype(acc)
        return Tensor._make(y.reshape(x.shape))

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        d, invstd, count = ctx.d, ctx.invstd, ctx.count
        gv = g._data.reshape(d.shape)
        xp = backend_of(gv).xp
        acc = invstd.dtype
        sum_g = gv.sum(axis=(0, 2), dtype=acc)
        sum_gxhat = xp.einsum("ncs,ncs->c", gv, d).astype(acc) * invstd
        gx = gw = gb = None
        if need_x:
            # the input gradient needs the global sums; the parameters' stay local (DDP averages)
            both = _all_reduce(xp.concatenate([sum_g, sum_gxhat]), ctx.pg)
            all_g, all_gxhat = both[:len(sum_g)], both[len(sum_g):]
            a = invstd if ctx.w is None else invstd * ctx.w
            gxv = gv * a.astype(gv.dtype)[None, :, None]
            gxv += d * (-a * invstd * all_gxhat / count).astype(gv.dtype)[None, :, None]
            gxv += (-a * all_g / count).astype(gv.dtype)[None, :, None]
            gx = Tensor._make(gxv.reshape(ctx.shape))
        if need_w:
            gw = Tensor._make(sum_gxhat.astype(gv.dtype))
        if need_b:
            gb = Tensor._make(sum_g.astype(gv.dtype))
        return gx, gw, gb, None, None, None, None, None


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation whose training statistics cover every rank of ``process_group``.

    Args:
        num_features: C of an ``(N, C, *)`` input.
        eps, momentum, affine, track_running_stats: as :class:`BatchNorm2d`.
        process_group: the ranks to synchronise over (default: the world).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group: Any = None, device: Any = None, dtype: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def _check_non_zero_input_channels(self, input: Tensor) -> None:
        if input.size(1) == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        self._check_non_zero_input_channels(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                      else self.momentum)
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        running_mean = self.running_mean if keep else None
        running_var = self.running_var if keep else None
        need_sync = bn_training and self.training and dist.is_available() \
            and dist.is_initialized()
        if need_sync:
            pg = self.process_group if self.process_group is not None else dist.group.WORLD
            need_sync = dist.get_world_size(pg) > 1
        if not need_sync:
            return F.batch_norm(input, running_mean, running_var, self.weight, self.bias,
                                bn_training, factor, self.eps)
        return _SyncBatchNormFunction.apply(input, self.weight, self.bias, running_mean,
                                            running_var, self.eps, factor, pg)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """Returns ``module`` with every ``BatchNorm*D`` layer replaced by a ``SyncBatchNorm``
        holding the same parameters and running statistics."""
        output = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            output = SyncBatchNorm(module.num_features, module.eps, module.momentum,
                                   module.affine, module.track_running_stats, process_group)
            if module.affine:
                output.weight = module.weight
                output.bias = module.bias
            output.running_mean = module.running_mean
            output.running_var = module.running_var
            output.num_batches_tracked = module.num_batches_tracked
            output.training = module.training
        for name, child in module.named_children():
            output.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        del module
        return output
