"""Each traced op as ONNX operators: ``CONVERTERS[op class](builder, node)``.

A converter reads the node's Values through ``b.inp`` (initializers made on demand for
parameters, buffers and folded constants), its options from ``node.kwargs`` (what ``Op.apply``
got), and names its results ``b.out(node, i)``. Options that depend on a dynamic axis are read
from the second trace too (``b.twin(node)``): a reshape's entry that changed becomes -1.
The converters live by category in ``_elementwise``, ``_shapes``, ``_layers`` and
``_recurrent``, imported at the end of this module so that they register.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .._trace import Node, Value

CONVERTERS: dict[type, Callable[[Any, Node], None]] = {}


class DynamicShapeError(RuntimeError):
    """An op's options change with a dynamic axis in a way the exported graph cannot follow."""


def converts(*classes: type) -> Callable:
    def register(fn: Callable) -> Callable:
        for c in classes:
            CONVERTERS[c] = fn
        return fn
    return register


def _operand(b: Any, a: Any, like: Value) -> str:
    """A Value's name, or a Python scalar as a constant of ``like``'s dtype."""
    if isinstance(a, Value):
        return b.inp(a, like.dtype)
    return b.const(np.asarray(a, dtype=b.np_dtype(like)))


# the converters register themselves on import
from . import _elementwise, _layers, _recurrent, _shapes  # noqa: F401
