"""``ember.functional``: the functions torch defines in ``torch.functional`` (``einsum``,
``meshgrid``, ``split``, ``broadcast_tensors`` ...), the same objects as ``ember.<name>``, for
code that imports them from there."""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes", "broadcast_tensors",
           "cartesian_prod", "block_diag", "cdist", "chain_matmul", "einsum", "istft", "lu",
           "norm", "meshgrid", "pca_lowrank", "split", "stft", "svd_lowrank", "tensordot",
           "unique", "unique_consecutive", "unravel_index"]


def __getattr__(name: str) -> Any:
    if name in __all__:  # (looked up in ember on use: this module loads after it)
        return getattr(importlib.import_module("ember"), name)
    raise AttributeError(f"module 'ember.functional' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)
