"""``ember.torch_version``: where torch keeps ``TorchVersion`` (the ``str`` that compares with
version tuples and strings) and the ``__version__`` built from it. ember's are in
``ember.version``; this module names them as torch does."""
from __future__ import annotations

from .version import TorchVersion, __version__

internal_version = __version__

__all__ = ["TorchVersion", "__version__", "internal_version"]
