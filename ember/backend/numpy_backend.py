"""Kernels NumPy lacks as single calls; a CuPy backend will offer the same names."""
from __future__ import annotations

import numpy as np


def scatter_add(target: np.ndarray, index: tuple, values: np.ndarray) -> np.ndarray:
    """In-place ``target[index] += values`` that accumulates repeated indices."""
    np.add.at(target, index, values)
    return target
