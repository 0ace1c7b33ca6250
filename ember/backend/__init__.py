"""The array-backend seam: every op reaches array math through ``get_array_module``.

Only NumPy exists today. A CuPy backend (``device="cuda"``) will add its module here; ops take
``xp = get_array_module(x)`` (or ``ctx.xp``) and never import numpy themselves.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import numpy_backend
from .numpy_backend import errors_ignored, errors_restored  # noqa: F401 - the seam's names

Array = Any  # an ndarray of the active backend

_ndarray = np.ndarray


def get_array_module(*arrays: Array):
    """Returns the array module (numpy today; cupy later) that owns ``arrays``."""
    return np


def kernels(xp):
    """The helper kernels the array API lacks (im2col, scatter_add, ...) for the array module ``xp``."""
    return numpy_backend


def sum_to_axes(src: tuple, dst: tuple) -> tuple:
    """The axes to sum (keeping dims) so that shape ``src`` reduces to ``dst``, the shape it was
    broadcast from: the leading extra axes and every axis where ``dst`` has 1 and ``src`` not."""
    lead = len(src) - len(dst)
    if src[lead:] == dst:  # the usual case, a bias: only leading axes were added
        return _LEADING[lead] if lead < len(_LEADING) else tuple(range(lead))
    return tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(dst) if s == 1 and src[lead + i] != 1
    )


_LEADING = tuple(tuple(range(n)) for n in range(8))


def device_of(array: Array) -> str:
    return "cpu"
