"""Devices: ``ember.device("cuda:0")``, the default device, and the backend behind each device.

A device names where a tensor's array lives. ``cpu`` is NumPy's; ``cuda`` is CuPy's, loaded the
first time a CUDA tensor is asked for (``ember.backend.cupy_backend``), so ``import ember`` never
imports CuPy. Constructing ``device("cuda")`` always works, as in torch; making a tensor there
fails as torch's CPU build does when CuPy or a GPU is missing.
"""
from __future__ import annotations

from typing import Any

from .backend import NUMPY

# torch's list, in its order: a device string must start with one of them
_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
          "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")


class device:
    """Where a tensor lives: ``device("cpu")``, ``device("cuda", 0)``, ``device("cuda:1")``.

    Also a context manager: inside ``with device("cuda"):`` factories without ``device=`` make
    their tensors there.
    """

    __slots__ = ("type", "index", "_prev")

    def __init__(self, type: str | device | int = "cpu", index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index
        elif isinstance(type, int) and not isinstance(type, bool):
            # an int is an index on the current accelerator (torch 2.x)
            if not _cuda_available():
                raise RuntimeError("Cannot access accelerator device when none is available.")
            type, index = "cuda", type
        elif not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments - got "
                            f"({builtin_type(type).__name__})")
        if ":" in type:
            name, _, idx = type.partition(":")
            if not idx.isdigit() or (len(idx) > 1 and idx[0] == "0") or name not in _TYPES:
                if name in _TYPES:
                    raise RuntimeError(f"Invalid device string: '{type}'")
            else:
                type, index = name, int(idx)
        if type not in _TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_TYPES)} device type at start of "
                               f"device string: {type}")
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        self.type, self.index = type, index

    def __repr__(self) -> str:
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self) -> Any:
        return (device, (self.type, self.index))

    def __enter__(self) -> device:
        self._prev = default[0]
        default[0] = self
        return self

    def __exit__(self, *exc: Any) -> None:
        default[0] = self._prev


builtin_type = type
cpu = device("cpu")
default: list = [None]  # the default device (None: the CPU), set by ``set_default_device``


def _cuda_available() -> bool:
    from .backend import cupy_backend

    b = cupy_backend.loaded()
    if b is None:
        try:
            b = cupy_backend.load()
        except ImportError:
            return False
    return _count(b) > 0


def _count(b: Any) -> int:
    try:
        return b.xp.cuda.runtime.getDeviceCount()
    except Exception:  # CuPy raises CUDARuntimeError without a driver
        return 0


# called with each GPU index a tensor is placed on or made current: ``ember._device_guard``
# wraps the public API in torch's device guard once a second GPU is in use
gpu_hook: Any = None


def backend_for(dev: Any) -> tuple:
    """``(backend, index)`` for a ``device=`` argument (a device, a string or an int; None is
    the default device): the backend that makes arrays there and the device index (None on the
    CPU). Raises torch's error for a device ember cannot reach."""
    if dev is None:
        dev = default[0]
        if dev is None:
            return NUMPY, None
    if not isinstance(dev, device):
        if isinstance(dev, str) and dev == "cpu":
            return NUMPY, None
        dev = device(dev)
    if dev.type == "cpu":
        return NUMPY, None
    if dev.type == "cuda":
        b = cuda_backend()
        index = b.xp.cuda.Device().id if dev.index is None else dev.index
        if index >= _count(b):
            raise RuntimeError("CUDA error: invalid device ordinal\nCUDA kernel errors might be "
                               "asynchronously reported at some other API call, so the stacktrace "
                               "below might be incorrect.")
        if index and gpu_hook is not None:
            gpu_hook(index)
        return b, index
    if dev.type == "meta":
        raise NotImplementedError("ember has no 'meta' device: tensors without data are not "
                                  "supported")
    raise RuntimeError(f"ember has no '{dev.type}' backend: only 'cpu' and 'cuda' (through "
                       "CuPy) are available")


def cuda_backend() -> Any:
    """The CUDA backend, loading CuPy on first use; torch's CPU-build error without it."""
    from .backend import cupy_backend

    b = cupy_backend.loaded()
    if b is None:
        try:
            b = cupy_backend.load()
        except ImportError as e:
            raise AssertionError("Torch not compiled with CUDA enabled") from e
    if _count(b) == 0:
        raise RuntimeError("No CUDA GPUs are available")
    return b


def _sync(what: str) -> None:
    from . import backend

    if backend.sync_hook is not None:
        backend.sync_hook(what)


def device_of(array: Any) -> device:
    """The device an array lives on."""
    if type(array) is NUMPY.array_type:
        return cpu
    from .backend import backend_of

    b = backend_of(array)
    if b is NUMPY:
        return cpu
    return device(b.device_type, b.device_index(array))


def onto(array: Any, index: int | None) -> Any:
    """``array`` on GPU ``index`` (None: as it is). A pickled tensor keeps its GPU's index
    beside its data, which CuPy unpickles onto the current GPU; torch's returns to its own."""
    if index is None:
        return array
    from .backend import backend_of

    return backend_of(array).to_index(array, index)


CPU_PLACE = (NUMPY, None)


def place(device: Any) -> tuple:
    """``backend_for`` with the common case first: no ``device=`` and no default device."""
    if device is None and default[0] is None:
        return CPU_PLACE
    return backend_for(device)


def move(array: Any, backend: Any, index: int | None) -> Any:
    """``array`` on ``backend``'s device ``index`` (itself if already there): device to host
    through ``to_host``, host to device through ``from_host``, device to device ``to_index``."""
    from .backend import backend_of

    src = backend_of(array)
    if src is backend:
        if backend is NUMPY or backend.device_index(array) == index:
            return array
        return backend.to_index(array, index)
    if src is not NUMPY:
        _sync("cpu")
        array = src.to_host(array)
    return array if backend is NUMPY else backend.from_host(array, index)
