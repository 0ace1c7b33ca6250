"""``torch._dynamo.exc``: the error ``fullgraph=True`` raises at a graph break."""
from __future__ import annotations

from .._compile.runtime import Unsupported

__all__ = ["Unsupported"]
