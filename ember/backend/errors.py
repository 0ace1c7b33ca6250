"""torch's own exception types that programs catch, defined at the bottom so that a backend can
raise them: ``OutOfMemoryError`` (a device ran out of memory; ``torch.cuda.OutOfMemoryError`` is
the same class) and ``AcceleratorError``. ``ember`` and ``ember.cuda`` export them."""
from __future__ import annotations

__all__ = ["OutOfMemoryError", "AcceleratorError"]


class OutOfMemoryError(RuntimeError):
    """Exception raised when device is out of memory."""


class AcceleratorError(RuntimeError):
    """Exception raised while executing on an accelerator."""


OutOfMemoryError.__module__ = AcceleratorError.__module__ = "ember"
