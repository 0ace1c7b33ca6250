"""Window functions for spectral analysis (``stft``, filters): ``hann_window``,
``hamming_window``, ``blackman_window``, ``bartlett_window``, ``kaiser_window``.

Each is a factory: a new leaf tensor, computed in the requested dtype as torch computes it (so a
float32 Blackman window starts at -2.98e-08, not 0). ``periodic=True`` (the default) gives the
window of length ``N + 1`` without its last value, the one ``stft`` wants.
"""
from __future__ import annotations

import builtins
import math
from typing import Any

from .. import dtypes as _dt
from ..backend import NUMPY, Array
from ..tensor import Tensor, _factory_result

_CPP = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
        "uint8": "unsigned char", "bool": "bool"}


def _setup(fname: str, window_length: Any, dtype: Any, device: Any) -> _dt.dtype:
    if not isinstance(window_length, _dt.INTEGER_TYPES) or isinstance(window_length,
                                                                       builtins.bool):
        raise TypeError(f"{fname}(): argument 'window_length' (position 1) must be int, not "
                        f"{type(window_length).__name__}")
    if window_length < 0:
        raise RuntimeError(f"{fname} requires non-negative window_length, got "
                           f"window_length={window_length}")
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    if d.is_complex:
        raise NotImplementedError(f"\"arange_cpu\" not implemented for '{_dt.scalar_name(d)}'")
    if not d.is_floating_point:
        raise RuntimeError(
            f"{fname} expects floating point dtypes, got: TensorOptions(dtype="
            f"{_CPP.get(d.name, d.name)}, device=cpu, layout=Strided (default), requires_grad="
            "false (default), pinned_memory=false, memory_format=(nullopt))")
    return d


def _window(fname: str, window_length: int, periodic: bool, dtype: Any, device: Any,
            requires_grad: bool, body: Any) -> Tensor:
    """The shared frame: checks, the trivial lengths 0 and 1, the periodic extension."""
    d = _setup(fname, window_length, dtype, device)
    xp = NUMPY.xp
    if window_length <= 1:
        return _factory_result(xp.ones(window_length, d.np), requires_grad, device)
    n = window_length + 1 if periodic else window_length
    data = body(xp.arange(n, dtype=d.np), n, d)
    return _factory_result(xp.ascontiguousarray(data[:window_length]), requires_grad, device)


def _hamming(k: Array, n: int, d: _dt.dtype, alpha: float, beta: float) -> Array:
    xp = NUMPY.xp
    scalar = d.np.type
    phase = k * scalar(2 * math.pi / (n - 1))
    return xp.cos(phase) * scalar(-beta) + scalar(alpha)


def hann_window(window_length: int, periodic: bool = True, *, dtype: Any = None,
                layout: Any = None, device: Any = None, pin_memory: bool = False,
                requires_grad: bool = False) -> Tensor:
    """The Hann window: ``0.5 - 0.5 cos(2 pi n / (N - 1))``.

    Args:
        window_length: the size of the returned window.
        periodic: if True, the window for spectral analysis (``N + 1`` points, the last dropped).
    """
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, n, d: _hamming(k, n, d, 0.5, 0.5))


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54,
                   beta: float = 0.46, *, dtype: Any = None, layout: Any = None,
                   device: Any = None, pin_memory: bool = False,
                   requires_grad: bool = False) -> Tensor:
    """The Hamming window: ``alpha - beta cos(2 pi n / (N - 1))``."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, n, d: _hamming(k, n, d, alpha, beta))


def _blackman(k: Array, n: int, d: _dt.dtype) -> Array:
    xp = NUMPY.xp
    scalar = d.np.type
    phase = k * scalar(math.pi / (n - 1))
    return xp.cos(phase * scalar(4)) * scalar(0.08) - xp.cos(phase * scalar(2)) * scalar(0.5) \
        + scalar(0.42)


def blackman_window(window_length: int, periodic: bool = True, *, dtype: Any = None,
                    layout: Any = None, device: Any = None, pin_memory: bool = False,
                    requires_grad: bool = False) -> Tensor:
    """The Blackman window: ``0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))``."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   _blackman)


def _bartlett(k: Array, n: int, d: _dt.dtype) -> Array:
    ramp = k * d.np.type(2 / (n - 1))
    half = (n - 1) // 2 + 1  # the rising half, the middle point included
    ramp[half:] = d.np.type(2) - ramp[half:]
    return ramp


def bartlett_window(window_length: int, periodic: bool = True, *, dtype: Any = None,
                    layout: Any = None, device: Any = None, pin_memory: bool = False,
                    requires_grad: bool = False) -> Tensor:
    """The Bartlett (triangular) window: ``1 - |2 n / (N - 1) - 1|``."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   _bartlett)


def _kaiser(k: Array, n: int, d: _dt.dtype, beta: float) -> Array:
    xp = NUMPY.xp
    # I0 in float64 (the backend's kernel), then cast: torch's kernel evaluates it in the
    # accumulate type too
    alpha = (n - 1) / 2.0
    r = (k.astype(xp.float64) - alpha) / alpha
    arg = beta * xp.sqrt(xp.maximum(1.0 - r * r, 0.0))
    return (NUMPY.i0(arg) / NUMPY.i0(xp.asarray(beta, dtype=xp.float64))).astype(d.np)


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *,
                  dtype: Any = None, layout: Any = None, device: Any = None,
                  pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """The Kaiser window: ``I0(beta sqrt(1 - ((n - N/2) / (N/2))^2)) / I0(beta)``, with ``I0``
    the zeroth-order modified Bessel function of the first kind."""
    if not isinstance(beta, (*_dt.SCALAR_TYPES,)):
        opts = ("*, ember.dtype dtype = None, ember.layout layout = None, ember.device device = "
                "None, bool pin_memory = False, bool requires_grad = False")
        raise TypeError(
            "kaiser_window() received an invalid combination of arguments - got (int, bool, "
            f"{type(beta).__name__}), but expected one of:\n * (int window_length, {opts})\n * "
            f"(int window_length, bool periodic, {opts})\n * (int window_length, bool periodic, "
            f"float beta, {opts})\n")
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, n, d: _kaiser(k, n, d, float(beta)))


__all__ = ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window"]
TENSOR_METHODS: dict[str, Any] = {}
