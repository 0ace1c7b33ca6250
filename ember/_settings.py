"""Process-wide switches programs set at start-up: float32 matmul precision, deterministic
algorithms, the default device. ember's results do not depend on them (NumPy has no TF32 and its
kernels are deterministic); they are kept so that programs read back what they set, as in torch."""
from __future__ import annotations

import warnings
from typing import Any

from . import devices as _devices
from .devices import device as _device

__all__ = ["set_float32_matmul_precision", "get_float32_matmul_precision",
           "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_deterministic_debug_mode",
           "get_deterministic_debug_mode", "set_default_device", "get_default_device"]


class _State:
    matmul_precision = "highest"
    deterministic = False
    warn_only = False


state = _State()


def set_float32_matmul_precision(precision: str) -> None:
    """Sets the float32 matmul precision ("highest", "high" or "medium"); NumPy always computes in
    full float32, so this changes no result."""
    if precision not in ("highest", "high", "medium"):
        # torch's C++ warning, without its "Triggered internally at" location
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
                      "setFloat32MatmulPrecision call has no effect.", UserWarning, stacklevel=2)
        return
    state.matmul_precision = precision


def get_float32_matmul_precision() -> str:
    """The float32 matmul precision last set ("highest" by default)."""
    return state.matmul_precision


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Asks for deterministic algorithms; ember's are all deterministic already."""
    if not isinstance(mode, bool):
        raise TypeError("_set_deterministic_algorithms(): argument 'mode' (position 1) must be "
                        f"bool, not {type(mode).__name__}")
    if not isinstance(warn_only, bool):
        raise TypeError("_set_deterministic_algorithms(): argument 'warn_only' must be bool, not "
                        f"{type(warn_only).__name__}")
    state.deterministic, state.warn_only = mode, warn_only


def are_deterministic_algorithms_enabled() -> bool:
    """True after ``use_deterministic_algorithms(True)``."""
    return state.deterministic


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """True after ``use_deterministic_algorithms(True, warn_only=True)``."""
    return state.warn_only


def set_deterministic_debug_mode(debug_mode: str | int) -> None:
    """``"default"``/0, ``"warn"``/1 or ``"error"``/2, as torch."""
    modes = {"default": 0, "warn": 1, "error": 2}
    if isinstance(debug_mode, str):
        if debug_mode not in modes:
            raise RuntimeError("invalid value of debug_mode, expected one of `default`, `warn`, "
                               f"`error`, but got {debug_mode}")
        debug_mode = modes[debug_mode]
    elif not isinstance(debug_mode, int):
        raise TypeError("debug_mode must be str or int, but got "
                        f"{type(debug_mode).__name__}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError("invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> int:
    """0 (off), 1 (warn only) or 2 (on), as torch."""
    return 0 if not state.deterministic else (1 if state.warn_only else 2)


def set_default_device(device: Any) -> None:
    """Sets the device factories use when given no ``device=`` (None resets it to the CPU). As
    in torch, an unreachable device fails at the first tensor made there, not here."""
    _devices.default[0] = None if device is None else (
        device if isinstance(device, _device) else _device(device))


def get_default_device() -> _device:
    """The default device: ``device(type='cpu')`` unless ``set_default_device`` changed it (a
    CUDA default reads with the current device's index, as torch's)."""
    dev = _devices.default[0]
    if dev is None or dev.type == "cpu":
        return _device("cpu")
    if dev.type == "cuda" and dev.index is None:
        backend, index = _devices.backend_for(dev)
        return _device("cuda", index)
    return dev
