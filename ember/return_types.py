"""``ember.return_types``: the named-tuple types of ops that return several tensors
(``ember.return_types.max(values=..., indices=...)``), as ``torch.return_types``. Their classes
are made by the op modules (``ops._reduce_util.return_type``); this module names them, so that
``isinstance`` checks read as in torch and their instances pickle."""
from __future__ import annotations

from typing import Any

from . import ops as _ops  # noqa: F401  (every op module has made its types)
from ._missing import attribute_error
from .ops._reduce_util import RETURN_TYPES


def __getattr__(name: str) -> Any:
    try:
        return RETURN_TYPES[name]
    except KeyError:
        raise attribute_error("torch.return_types", "ember.return_types", name) from None


def __dir__() -> list[str]:
    return sorted(RETURN_TYPES)
