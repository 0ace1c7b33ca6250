"""Reads pickles of plain containers and NumPy arrays (CIFAR's batches), running no code from the file.

Datasets such as CIFAR ship as pickles of dicts holding NumPy arrays, lists, strings and numbers.
``pickle.load`` on them would let a tampered download run anything; this reader lets the file
name only what building a NumPy array takes (``numpy.core.multiarray._reconstruct``,
``numpy.ndarray``, ``numpy.dtype``), refuses object arrays, and refuses every other global.
"""
from __future__ import annotations

import io
import pickle
from typing import IO, Any

import numpy as np

from ._unpickler import UnsafeCheckpointError

__all__ = ["load_numpy_pickle"]


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    # ndarray.__reduce__ names _reconstruct(ndarray, (0,), b'b'): only the plain ndarray type
    if subtype is not np.ndarray:
        raise UnsafeCheckpointError(f"only numpy.ndarray can be rebuilt, not {subtype!r}")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _dtype(obj: Any, align: bool = False, copy: bool = False) -> np.dtype:
    if not isinstance(obj, str) or obj[:1] == "O" or obj[:1] == "V":
        raise UnsafeCheckpointError(f"numpy dtype {obj!r} is not a plain numeric or string dtype")
    return np.dtype(obj, align, copy)


def _encode(obj: Any, encoding: str = "utf-8") -> bytes:
    # protocol-2 pickles written by Python 3 spell bytes as _codecs.encode(str, "latin1")
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafeCheckpointError("_codecs.encode is allowed only to spell bytes in latin1")
    return obj.encode(encoding)


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    # protocol 5's spelling of an array: the raw bytes, a dtype (already allowlisted), a shape
    if not isinstance(buf, (bytes, bytearray, pickle.PickleBuffer)) or \
            not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafeCheckpointError("numpy _frombuffer is allowed only on bytes and plain dtypes")
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order).copy()


_ALLOWED = {
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _encode,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype,
}


class _NumpyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        fn = _ALLOWED.get((module, name))
        if fn is None:
            raise UnsafeCheckpointError(
                f"refusing to load {module}.{name}: this file may hold only plain containers, "
                "numbers, strings and NumPy arrays")
        return fn


def _check(obj: Any, depth: int = 0) -> None:
    # object arrays would carry arbitrary objects: the dtype allowlist refuses them, this is the guard
    if depth > 100:
        raise UnsafeCheckpointError("nesting too deep")
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise UnsafeCheckpointError("object arrays are refused")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _check(k, depth + 1)
            _check(v, depth + 1)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            _check(v, depth + 1)


def load_numpy_pickle(f: str | IO[bytes] | bytes, encoding: str = "latin1") -> Any:
    """Loads a pickle of dicts/lists/tuples/numbers/strings/bytes and NumPy arrays.

    ``encoding="latin1"`` reads Python 2 pickles (CIFAR's) as torchvision does.
    """
    if isinstance(f, bytes):
        f = io.BytesIO(f)
    if isinstance(f, str):
        with open(f, "rb") as fh:
            obj = _NumpyUnpickler(fh, encoding=encoding).load()
    else:
        obj = _NumpyUnpickler(f, encoding=encoding).load()
    _check(obj)
    return obj
