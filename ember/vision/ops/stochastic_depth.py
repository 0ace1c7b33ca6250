"""Stochastic depth (Huang et al., Deep Networks with Stochastic Depth, 2016;
torchvision's ``ops.stochastic_depth``): in training, drop a residual branch per sample
("row") or for the whole batch ("batch") with probability ``p``, scaling survivors by
``1 / (1 - p)``; the identity in evaluation."""
from __future__ import annotations

from ... import empty
from ... import nn
from ...tensor import Tensor

__all__ = ["stochastic_depth", "StochasticDepth"]


def stochastic_depth(input: Tensor, p: float, mode: str, training: bool = True) -> Tensor:
    """Drops ``input`` (a residual branch) with probability ``p``.

    Args:
        input (Tensor): at least 1-d, the batch first for ``mode="row"``.
        p (float): probability of dropping, in ``[0, 1]``.
        mode (str): ``"row"`` drops each sample independently, ``"batch"`` all at once.
        training (bool): identity when False. Default: True.
    """
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ["batch", "row"]:
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input
    survival_rate = 1.0 - p
    size = [input.shape[0]] + [1] * (input.ndim - 1) if mode == "row" else [1] * input.ndim
    noise = empty(size, dtype=input.dtype, device=input.device)
    noise = noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return input * noise


class StochasticDepth(nn.Module):
    """:func:`stochastic_depth` as a module, active in training mode only."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, input: Tensor) -> Tensor:
        return stochastic_depth(input, self.p, self.mode, self.training)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p}, mode={self.mode})"
