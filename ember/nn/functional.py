"""``torch.nn.functional``: the stateless forms of the layers."""
from __future__ import annotations

from ..tensor import Tensor


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
