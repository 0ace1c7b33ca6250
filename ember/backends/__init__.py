"""``torch.backends`` as torch's CPU build answers: settable flags that programs set at start-up.

``torch.backends.cudnn.benchmark = True`` and the like are accepted and remembered; ember runs on
NumPy, so none of them changes a result. The ``is_available()``/``is_built()`` answers are those of
torch's CPU wheel (which reports MKL, oneDNN and OpenMP as there), so a script takes the branch it
takes under that build.
"""
from __future__ import annotations

from . import cpu, cuda, cudnn, mkl, mkldnn, mps, openmp  # noqa: F401

__all__ = ["cpu", "cuda", "cudnn", "mkl", "mkldnn", "mps", "openmp"]

from .._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__, "torch.backends")  # torch's: MissingAPIError
