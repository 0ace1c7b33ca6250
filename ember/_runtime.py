"""torch's build and runtime switches that programs read at start-up: ``has_lapack`` and friends,
the inter-op thread count, the anomaly and warn-always flags."""
from __future__ import annotations

import builtins
import importlib
import os
import warnings
from typing import Any

from .autograd import is_anomaly_check_nan_enabled, is_anomaly_enabled
from .graph.node import anomaly as _anomaly

__all__ = ["has_lapack", "has_mkl", "has_openmp", "has_spectral", "get_num_interop_threads",
           "set_num_interop_threads", "init_num_threads", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled", "set_anomaly_enabled", "is_warn_always_enabled",
           "set_warn_always", "is_vulkan_available", "compiled_with_cxx11_abi",
           "set_flush_denormal", "get_device_module", "set_default_tensor_type", "to_dlpack"]

# What a CPU build of torch answers. ember has them all, through NumPy: LAPACK (numpy.linalg),
# FFTs (ember.fft), threads (its BLAS's); has_mkl is torch's build flag, True on its x86 wheels.
has_lapack = True
has_mkl = True
has_openmp = True
has_spectral = True

_interop_threads: int | None = None  # set once, as torch allows


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def get_num_interop_threads() -> int:
    """Returns the number of threads used for inter-op parallelism on CPU.

    ember runs one op at a time, so this is only torch's answer: the number of cores, or what
    :func:`set_num_interop_threads` set."""
    return _interop_threads if _interop_threads is not None else _cores()


def set_num_interop_threads(nthreads: int) -> None:
    """Sets the number of threads used for inter-op parallelism on CPU, once, as torch allows."""
    global _interop_threads
    if not isinstance(nthreads, builtins.int) or isinstance(nthreads, builtins.bool):
        raise RuntimeError(f"set_num_interop_threads expects an int, but got "
                           f"{type(nthreads).__name__}")
    if nthreads <= 0:
        raise RuntimeError("set_num_interop_threads expects a positive integer")
    if _interop_threads is not None:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has "
                           "started or set_num_interop_threads called")
    _interop_threads = nthreads


def init_num_threads() -> None:
    """Initializes the number of parallel threads used on the current thread (nothing to do:
    ember's threads are its BLAS's, set by :func:`ember.set_num_threads`)."""


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """Turns anomaly detection on or off for the whole process (``torch.set_anomaly_enabled``)."""
    if not isinstance(enabled, builtins.bool):
        raise TypeError(f"set_anomaly_enabled(): argument 'enabled' (position 1) must be bool, "
                        f"not {type(enabled).__name__}")
    if not isinstance(check_nan, builtins.bool):
        raise TypeError(f"set_anomaly_enabled(): argument 'check_nan' (position 2) must be bool, "
                        f"not {type(check_nan).__name__}")
    _anomaly.enabled, _anomaly.check_nan = enabled, check_nan


_warn_always = False


def set_warn_always(b: bool, /) -> None:
    """When False (the default) some warnings are given only once per process; True gives them
    every time."""
    global _warn_always
    if not isinstance(b, builtins.bool):
        raise RuntimeError(f"setWarnOnlyOnce expects a bool, but got {type(b).__name__}")
    _warn_always = b


def is_warn_always_enabled() -> bool:
    """Returns True if the global warn_always flag is turned on (:func:`set_warn_always`)."""
    return _warn_always


def is_vulkan_available() -> bool:
    """Whether the Vulkan backend is available (never, here)."""
    return False


def compiled_with_cxx11_abi() -> bool:
    """torch's answer for its wheels (built with the C++11 ABI); ember has no C++ to build."""
    return True


def set_flush_denormal(mode: bool) -> bool:
    """Asks to flush denormal floats to zero; returns whether that is supported. NumPy gives no
    control over the CPU's flush-to-zero flag, so ember answers False and changes nothing, as
    torch does on a CPU without it."""
    return False


# the device types torch parses ("Expected one of ..."), and those with an ember module
_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
                 "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                 "privateuseone")
_DEVICE_MODULES = ("cpu", "cuda", "mps", "xpu")


def get_device_module(device: Any = None) -> Any:
    """The module of a device type (``ember.cuda`` for ``"cuda"``; ``ember.cpu`` by default)."""
    from .devices import device as _device

    if device is None:
        name = "cpu"
    elif isinstance(device, _device):
        name = device.type
    elif isinstance(device, str):
        name = device.split(":")[0]
        if name not in _DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at "
                               f"start of device string: {device}")
    else:
        raise RuntimeError(f"Invalid value of device '{device}', expect ember.device, str, or "
                           "None")
    if name not in _DEVICE_MODULES:
        raise RuntimeError(f"Device '{name}' does not have a corresponding module registered as "
                           f"'ember.{name}'.")
    return importlib.import_module(f"ember.{name}")  # (loaded on use, as ``import ember`` does)


def set_default_tensor_type(t: Any, /) -> None:
    """Deprecated: sets the default floating dtype from a legacy tensor type
    (``ember.DoubleTensor`` or ``"torch.DoubleTensor"``)."""
    from . import dtypes as _dt
    from .ops import convert

    warnings.warn("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
                  "torch.set_default_dtype() and torch.set_default_device() as alternatives.",
                  UserWarning, stacklevel=2)
    if isinstance(t, str):
        t = getattr(importlib.import_module("ember"), t.rsplit(".", 1)[-1])
    if not isinstance(t, convert._LegacyType):
        raise TypeError("invalid type object: only floating-point types are supported as the "
                        "default type")
    if not t.dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _dt.set_default_dtype(t.dtype)


def to_dlpack(tensor: Any) -> Any:
    """A DLPack capsule sharing ``tensor``'s memory, for another library's ``from_dlpack``."""
    return tensor._data.__dlpack__()
