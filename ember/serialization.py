"""``torch.serialization``: ``save``/``load`` and the allowlist for ``weights_only=True`` loads.

The code lives in ``ember.io.serialization``; this module is its torch-named face, so
``import torch.serialization`` and ``from torch.serialization import safe_globals`` work.
"""
from __future__ import annotations

from .io.serialization import (  # noqa: F401
    UnsafeCheckpointError,
    add_safe_globals,
    clear_safe_globals,
    get_safe_globals,
    get_unsafe_globals_in_checkpoint,
    load,
    safe_globals,
    save,
)

__all__ = ["save", "load", "add_safe_globals", "clear_safe_globals", "get_safe_globals",
           "safe_globals", "get_unsafe_globals_in_checkpoint", "UnsafeCheckpointError"]
