"""``torch._dynamo``'s user-facing part, over ``ember.compile``'s compiler: ``config``
(``recompile_limit``), ``reset``, ``list_backends``, ``OptimizedModule``, ``is_compiling``,
``graph_break`` and the shape markers (``mark_dynamic`` and friends, accepted: ember
specialises on every shape, as ``dynamic=False`` does), and ``exc.Unsupported``."""
from __future__ import annotations

from typing import Any

from .. import _compile
from .._compile import OptimizedModule, list_backends
from .._compile.runtime import config, is_compiling, reset
from . import exc

__all__ = [
    "OptimizedModule",
    "config",
    "exc",
    "graph_break",
    "is_compiling",
    "list_backends",
    "mark_dynamic",
    "mark_static",
    "maybe_mark_dynamic",
    "reset",
]


def graph_break() -> None:
    """Ends the graph here: ``compile`` runs the calling function eagerly for this guard key
    (``fullgraph=True`` raises ``Unsupported``). Outside a compile, nothing."""
    if is_compiling():
        raise _compile.capture.GraphBreak("torch._dynamo.graph_break() was called")


def mark_dynamic(t: Any, index: Any, **kwargs: Any) -> None:
    """Accepted; ember compiles one program per shape (a new shape is a new guard key)."""


def maybe_mark_dynamic(t: Any, index: Any) -> None:
    """Accepted, as ``mark_dynamic``."""


def mark_static(t: Any, index: Any = None) -> None:
    """Accepted: every shape is static in ember's programs."""
