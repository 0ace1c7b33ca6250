"""The array-backend seam: a ``Backend`` object per kind of array, found from the array's type.

A backend carries its array module (``xp``: numpy today, cupy later), the kernels the array API
lacks (im2col windows, col2im, scatter-add, the convolution strategies, ...) and the array
carrier of the backward formulas (``vocabulary.ArrayVocabulary``). Ops reach array math only
through ``ctx.xp``/``ctx.backend`` or ``backend_of(array)``; nothing above this package imports
numpy for math.
"""
from __future__ import annotations

import contextlib
from typing import Any

from .geometry import WindowGeometry  # noqa: F401
from .numpy_backend import NUMPY, NumpyBackend, errors_ignored, errors_restored  # noqa: F401
from .vocabulary import ArrayVocabulary, sum_to_axes  # noqa: F401

Array = Any  # an array of some registered backend
Backend = ArrayVocabulary  # every backend speaks the array vocabulary

_REGISTRY: dict[type, Any] = {NUMPY.array_type: NUMPY}
_ARRAY_TYPES: tuple = (NUMPY.array_type,)  # for isinstance: the registered array types
# the registered array types other than NumPy's, mutated in place (ops hold this very set): an
# op checks its operands against it only when it is not empty
DEVICE_TYPES: set = set()
# called as ``sync_hook(what)`` before each device-to-host read the core makes (item, tolist,
# bool, a copy to the CPU): ember.cuda.set_sync_debug_mode points it at its reporter
sync_hook: Any = None


def register(backend: Any) -> None:
    """Makes ``backend`` the one for arrays of ``backend.array_type``."""
    global _ARRAY_TYPES
    _REGISTRY[backend.array_type] = backend
    _ARRAY_TYPES = tuple(_REGISTRY)
    if backend is not NUMPY:
        DEVICE_TYPES.add(backend.array_type)


def unregister(backend: Any) -> None:
    """Undoes ``register(backend)`` (NumPy's stays)."""
    global _ARRAY_TYPES
    if backend is not NUMPY and _REGISTRY.get(backend.array_type) is backend:
        del _REGISTRY[backend.array_type]
        _ARRAY_TYPES = tuple(_REGISTRY)
        DEVICE_TYPES.discard(backend.array_type)


def is_array(x: Any) -> bool:
    """Whether ``x`` is an array of a registered backend (a subclass included)."""
    return isinstance(x, _ARRAY_TYPES)


def backend_of(*arrays: Array) -> Any:
    """The backend owning the first registered array among ``arrays`` (NumPy for none: Python
    scalars and numpy scalars are NumPy's)."""
    for a in arrays:
        b = _REGISTRY.get(type(a))
        if b is not None:
            return b
    return NUMPY


_CURRENT = contextlib.nullcontext()


def on_device(*arrays: Any) -> Any:
    """``with on_device(*arrays):`` makes the GPU of the first device array among ``arrays`` the
    current one while the block works on it (CuPy computes, and allocates, on the current GPU;
    torch on its tensors' GPU); nothing for host arrays or the current GPU."""
    for a in arrays:
        if type(a) in DEVICE_TYPES:
            return _REGISTRY[type(a)].on_device(a) or _CURRENT
    return _CURRENT


def quiet(xp: Any) -> Any:
    """``with quiet(xp):`` silences floating-point warnings of ``xp``'s backend (numpy's
    ``errstate(all="ignore")``; nothing on CuPy, which has no such state)."""
    for b in _REGISTRY.values():
        if b.xp is xp:
            return b.errors_quiet()
    return NUMPY.errors_quiet()


def get_array_module(*arrays: Array) -> Any:
    """The array module (numpy today; cupy later) that owns ``arrays``."""
    return backend_of(*arrays).xp

