"""``set_num_threads`` / ``get_num_threads``: the threads of the BLAS that NumPy runs.

ember's parallel work is BLAS's (every GEMM of a linear layer, and of a convolution on the NumPy
path) and, with the oneDNN extra, oneDNN's OpenMP pool (its convolutions); everything else is
single-threaded NumPy. So the intra-op thread count is the OpenBLAS thread count, set through the
``openblas_set_num_threads`` of the library NumPy loaded (NumPy's wheels bundle it as
``scipy_openblas``), and the same count is given to OpenMP once oneDNN has loaded it. With another
BLAS, the count is only recorded.
"""
from __future__ import annotations

import builtins
import os
from typing import Any

_lib: Any = None  # the OpenBLAS library handle, False once looked for in vain
_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")
_recorded: int | None = None


def _openblas() -> Any:
    global _lib
    if _lib is None:
        _lib = False
        import ctypes  # (not at import: ``import ember`` stays lean)
        import glob

        import numpy as np

        libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
        for path in sorted(glob.glob(os.path.join(libs, "*openblas*"))):
            try:
                lib = ctypes.CDLL(path)  # already loaded by numpy: this only finds it
            except OSError:
                continue
            for name in _SETTERS:
                if hasattr(lib, name):
                    setter = getattr(lib, name)
                    getter = getattr(lib, name.replace("_set_", "_get_"), None)
                    if getter is None:
                        continue
                    setter.argtypes, setter.restype = [ctypes.c_int], None
                    getter.argtypes, getter.restype = [], ctypes.c_int
                    _lib = (setter, getter)
                    break
            if _lib:
                break
    return _lib


def _default() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """Returns the number of threads used for parallelizing CPU operations."""
    blas = _openblas()
    if blas:
        return int(blas[1]())
    return _recorded if _recorded is not None else _default()


def set_num_threads(int: int) -> None:  # noqa: A002 - torch's parameter name
    """Sets the number of threads used for intra-op parallelism on CPU (NumPy's BLAS)."""
    global _recorded
    if type(int) is not builtins.int:
        raise RuntimeError(f"set_num_threads expects an int, but got {type(int).__name__}")
    if int <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    blas = _openblas()
    if blas:
        blas[0](int)
    _recorded = int
    if _omp:
        _omp(int)


_omp: Any = None  # OpenMP's omp_set_num_threads, once oneDNN has loaded an OpenMP runtime


def openmp_follow() -> None:
    """Called when oneDNN loads: its OpenMP pool takes the intra-op thread count, and follows
    ``set_num_threads`` from then on. The two pools then never hold more threads than that each,
    and they run one after the other (a convolution, then a GEMM), never both at once."""
    global _omp
    import ctypes

    for name in ("libgomp.so.1", "libiomp5.so"):
        try:
            lib = ctypes.CDLL(name, mode=os.RTLD_NOLOAD | ctypes.RTLD_GLOBAL)
        except (OSError, AttributeError):
            continue
        setter = lib.omp_set_num_threads
        setter.argtypes, setter.restype = [ctypes.c_int], None
        _omp = setter
        _omp(get_num_threads())
        return


def openmp_follow_count() -> None:
    """OpenMP's count set back to the intra-op one (after a call narrowed it)."""
    if _omp is not None:
        _omp(get_num_threads())
