"""SparseAdam: Adam for sparse gradients. ember has no sparse tensors, so it refuses every
(dense) gradient with torch's error, as torch does."""
from __future__ import annotations

from typing import Any, Callable

from ..tensor import Tensor
from .adamax import _check_betas
from .optimizer import Optimizer, ParamsT, _check_lr, _check_nonneg, _use_grad

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Implements the masked Adam variant for sparse gradients. Dense gradients (every gradient
    ember produces) are refused with torch's RuntimeError, which names Adam instead.

    Args:
        params: parameters to optimize, or dicts defining parameter groups (dense tensors).
        lr: learning rate (default: 1e-3).
        betas: coefficients of the running averages (default: (0.9, 0.999)).
        eps: term added to the denominator for numerical stability (default: 1e-8).
        maximize: maximize the objective instead of minimizing it (default: False).
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 maximize: bool = False) -> None:
        _check_lr(lr)
        _check_nonneg(eps, "epsilon value")
        _check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))
        sparse = [i for group in self.param_groups
                  for i, p in enumerate(group["params"]) if getattr(p, "is_sparse", False)]
        if sparse:
            raise ValueError(f"Sparse params at indices {sparse}: SparseAdam requires dense "
                             "parameter tensors")

    @_use_grad
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Performs a single optimization step (sparse gradients only)."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and not getattr(p.grad, "is_sparse", False):
                    raise RuntimeError("SparseAdam does not support dense gradients, please "
                                       "consider Adam instead")
        return loss
