"""Random numbers: ``Generator``, ``manual_seed`` and the random creation functions."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import dtypes as _dt
from .tensor import Tensor, _shape_arg


class Generator:
    """A pseudo-random number generator (NumPy's PCG64 underneath; not torch's bit stream)."""

    def __init__(self, device: Any = "cpu") -> None:
        self._seed = 67280421310721
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Any:
        return self._rng.bit_generator.state

    def set_state(self, state: Any) -> Generator:
        self._rng.bit_generator.state = state
        return self


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seeds the default generator."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seeds the default generator non-deterministically and returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def _gen(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator)._rng


def _finish(data: np.ndarray, dtype: Any, requires_grad: bool) -> Tensor:
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    t = Tensor._make(data.astype(d.np, copy=False))
    if requires_grad:
        t.requires_grad = True
    return t


def rand(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False, out: Any = None) -> Tensor:
    """Uniform samples on [0, 1)."""
    return _finish(_gen(generator).random(_shape_arg(size)), dtype, requires_grad)


def randn(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False, out: Any = None) -> Tensor:
    """Standard normal samples."""
    return _finish(_gen(generator).standard_normal(_shape_arg(size)), dtype, requires_grad)


__all__ = ["Generator", "manual_seed", "seed", "initial_seed", "rand", "randn", "default_generator"]
