"""torch's own exception types that programs catch: ``OutOfMemoryError`` (a device ran out of
memory; ``torch.cuda.OutOfMemoryError`` is the same class) and ``AcceleratorError``. ember
raises ``OutOfMemoryError`` for a GPU's allocation failure (the CPU's is torch's RuntimeError),
and an ``except torch.cuda.OutOfMemoryError:`` clause must resolve everywhere."""
from __future__ import annotations

from .backend.errors import AcceleratorError, OutOfMemoryError

__all__ = ["OutOfMemoryError", "AcceleratorError"]
