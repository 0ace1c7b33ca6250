"""torch's own exception types that programs catch: ``OutOfMemoryError`` (a device ran out of
memory; ``torch.cuda.OutOfMemoryError`` is the same class) and ``AcceleratorError``. ember
raises neither on the CPU (an allocation that fails there is torch's RuntimeError), but an
``except torch.cuda.OutOfMemoryError:`` clause must resolve."""
from __future__ import annotations

__all__ = ["OutOfMemoryError", "AcceleratorError"]


class OutOfMemoryError(RuntimeError):
    """Exception raised when device is out of memory."""


class AcceleratorError(RuntimeError):
    """Exception raised while executing on an accelerator."""


OutOfMemoryError.__module__ = AcceleratorError.__module__ = "ember"
