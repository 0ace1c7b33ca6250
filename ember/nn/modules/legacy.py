"""torch's deprecated module names that old programs still use: ``NLLLoss2d`` (``NLLLoss`` under
an old name) and ``Container`` (a ``Module`` taking its children as keywords)."""
from __future__ import annotations

import warnings
from typing import Any

from ...tensor import Tensor
from .loss import NLLLoss
from .module import Module


class NLLLoss2d(NLLLoss):
    """Deprecated: :class:`NLLLoss`, which takes inputs of any number of dims."""

    def __init__(self, weight: Tensor | None = None, size_average: Any = None,
                 ignore_index: int = -100, reduce: Any = None, reduction: str = "mean") -> None:
        warnings.warn("`NLLLoss2d` has been deprecated. Please use `NLLLoss` instead as a "
                      "drop-in replacement and see https://pytorch.org/docs/main/nn.html"
                      "#torch.nn.NLLLoss for more details.", FutureWarning, stacklevel=2)
        super().__init__(weight, size_average, ignore_index, reduce, reduction)


class Container(Module):
    """Deprecated: a :class:`Module` whose children are given as keyword arguments."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        warnings.warn("`nn.Container` is deprecated. All of its functionality is now "
                      "implemented in `nn.Module`. Subclass that instead.", FutureWarning,
                      stacklevel=2)
        for key, value in kwargs.items():
            self.add_module(key, value)


__all__ = ["NLLLoss2d", "Container"]
