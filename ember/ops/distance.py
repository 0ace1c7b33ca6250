"""The p-norm over dims as ATen's ``norm`` records it (``NormBackward1``, the node behind
``pairwise_distance`` and the distance losses; ``Tensor.norm`` records ``linalg.vector_norm``'s).
Same values and gradients as ``stats.VectorNorm``; only the node's name differs."""
from __future__ import annotations

from typing import Any

from . import _reduce_util as ru
from .stats import VectorNorm
from ..tensor import Tensor


class NormDim(VectorNorm, name="NormBackward1"):
    pass


def norm_dim(x: Tensor, p: float, dim: Any, keepdim: bool = False) -> Tensor:
    """``at::norm(x, p, dim, keepdim)``."""
    return NormDim.apply(x, ord=float(p), axes=ru.reduce_axes(x, dim), keepdim=keepdim,
                         dtype=None)


__all__: list = []
TENSOR_METHODS: dict = {}
