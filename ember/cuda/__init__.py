"""``torch.cuda`` over CuPy: devices, memory, seeds, streams and events of NVIDIA GPUs.

ember reaches a GPU through CuPy (``ember.backend.cupy_backend``), imported on the first question
asked here, never by ``import ember``. Without CuPy, or with CuPy and no device, every function
answers as torch's CPU build does (the same values, the same exception types and messages), so
scripts that ask ``torch.cuda.is_available()`` take their CPU branch unchanged.

The synchronisation debug mode (``set_sync_debug_mode``) lives here; the core reports each
device-to-host read through ``ember.backend.sync_hook``, which this module points at
:func:`_on_sync` while a mode other than "default" is set.
"""
from __future__ import annotations

import os
import sys
import warnings
from collections import OrderedDict
from typing import Any

from .. import devices as _devices
from .._errors import OutOfMemoryError  # noqa: F401  (torch.cuda's name for torch's class)

__all__ = ["OutOfMemoryError", "is_available", "device_count", "manual_seed", "manual_seed_all",
           "current_device", "set_device", "device", "device_of", "synchronize",
           "is_initialized", "init", "empty_cache", "is_bf16_supported", "is_tf32_supported",
           "get_arch_list", "seed", "seed_all", "initial_seed", "memory_allocated",
           "max_memory_allocated", "reset_peak_memory_stats", "reset_max_memory_allocated",
           "memory_reserved", "max_memory_reserved", "memory_stats", "mem_get_info",
           "set_per_process_memory_fraction", "get_per_process_memory_fraction",
           "get_device_name", "get_device_capability", "get_device_properties", "ipc_collect",
           "get_rng_state", "get_rng_state_all", "set_rng_state", "set_rng_state_all",
           "default_generators", "current_stream",
           "default_stream", "set_stream", "stream", "StreamContext", "Stream", "Event",
           "can_device_access_peer", "set_sync_debug_mode", "get_sync_debug_mode"]

# -- the backend ---------------------------------------------------------------------------------
class _State:
    """What this module remembers about the backend it initialised."""

    backend: Any = None       # the CupyBackend initialised last (use_module may swap it)
    generators: tuple = ()    # default_generators: one ember.Generator per device
    peak_allocated: dict[int, int] = {}
    peak_reserved: dict[int, int] = {}
    fractions: dict[int, float] = {}  # set_per_process_memory_fraction's, by device
    sync_mode = 0
    warned_prototype = False


def _backend() -> Any:
    """The CuPy backend when CuPy imports and sees a device, else None: never raises."""
    try:
        from ..backend import cupy_backend

        backend = cupy_backend.loaded()
        if backend is None:
            backend = cupy_backend.load()
        # no driver, no device, or a driver too old: CuPy answers False rather than raising
        if not backend.xp.cuda.is_available():
            return None
    except Exception:  # ImportError without CuPy; CUDA runtime errors from a broken install
        return None
    if _State.backend is not backend:
        try:
            _initialise(backend)
        except Exception:  # a CuPy-like module without the pool's API: no peak tracking
            _State.backend = backend
    return backend


def _initialise(backend: Any) -> None:
    """First contact with ``backend``: fresh generators and peaks, and the peak tracker."""
    from .. import random

    _State.backend = backend
    _State.generators, _State.peak_allocated, _State.peak_reserved = (), {}, {}
    random._device_generators.clear()
    _State.fractions = {}
    cuda = backend.xp.cuda
    pool = backend.xp.get_default_memory_pool()
    malloc = getattr(pool, "malloc", None)
    if malloc is not None and hasattr(cuda, "set_allocator") and hasattr(pool, "used_bytes"):
        # CuPy's pool keeps no peak: every allocation goes through this wrapper, which notes the
        # pool's sizes right after it (torch's caching allocator counts the same way)
        def tracking_malloc(size: int) -> Any:
            memory = malloc(size)
            _observe(memory.device_id, pool)
            return memory

        cuda.set_allocator(tracking_malloc)


def _cuda() -> Any:
    """CuPy's ``cupy.cuda`` (callers have checked that a device exists)."""
    return _State.backend.xp.cuda


def _pool() -> Any:
    return _State.backend.xp.get_default_memory_pool()


def _observe(index: int, pool: Any) -> None:
    used, total = pool.used_bytes(), pool.total_bytes()
    if used > _State.peak_allocated.get(index, 0):
        _State.peak_allocated[index] = used
    if total > _State.peak_reserved.get(index, 0):
        _State.peak_reserved[index] = total


# -- torch CPU build's errors --------------------------------------------------------------------
def _no_cuda() -> AssertionError:
    # torch's CPU build raises AssertionError here, and scripts catch exactly that
    return AssertionError("Torch not compiled with CUDA enabled")


def _no_binding(name: str) -> AttributeError:
    # torch's CPU build reaches for a CUDA binding its torch._C lacks: that AttributeError, as is
    return AttributeError(f"module 'torch._C' has no attribute '{name}'")


# -- devices -------------------------------------------------------------------------------------
def _as_device(obj: Any) -> Any:
    if isinstance(obj, str):
        from .. import device as make_device

        return make_device(obj)  # torch's parse, and its errors for a bad string
    return obj


def _device_index(dev: Any, optional: bool = False, allow_cpu: bool = False) -> Any:
    """A CUDA device index from an int, ``"cuda:N"``, a device or None (torch's rules: None and
    an index-less ``cuda`` mean the current device when ``optional``; CPU gives -1 only when
    ``allow_cpu``)."""
    if isinstance(dev, int):
        return dev
    dev = _as_device(dev)
    if isinstance(dev, device):
        return dev.idx
    index = None
    if dev is not None and hasattr(dev, "type"):
        if allow_cpu and dev.type not in ("cuda", "cpu"):
            raise ValueError(f"Expected a cuda or cpu device, but got: {dev}")
        if not allow_cpu and dev.type != "cuda":
            raise ValueError(f"Expected a cuda device, but got: {dev}")
        index = -1 if dev.type == "cpu" else dev.index
    if index is None:
        if not optional:
            raise ValueError("Expected a torch.device with a specified index or an integer, "
                             f"but got:{dev}")
        # torch asks the current device of the available accelerator, and there is none
        # without a backend: None, which the callers then trip over as torch's do
        index = current_device() if _backend() is not None else None
    return index


def _exchange_device(index: int) -> int:
    """Makes ``index`` current and returns the device that was (-1: nothing to do)."""
    if index < 0:
        return -1
    if _backend() is None:
        raise RuntimeError("PyTorch was compiled without CUDA support")
    previous = current_device()
    if index != previous:
        _use_device(index)
    return previous


def _use_device(index: int) -> None:
    count = device_count()
    if not 0 <= index < count:
        # the CUDA runtime's cudaErrorInvalidDevice, as torch reports it (its first line)
        raise RuntimeError("CUDA error: invalid device ordinal")
    _cuda().Device(index).use()
    if index and _devices.gpu_hook is not None:
        _devices.gpu_hook(index)


def _cuda_device(index: int) -> Any:
    from .. import device as make_device

    return make_device("cuda", index)


def is_available() -> bool:
    """Whether CuPy is installed and sees at least one CUDA device (never raises)."""
    return _backend() is not None


def device_count() -> int:
    """The number of CUDA devices CuPy sees (0 without CuPy or a device)."""
    if _backend() is None:
        return 0
    return int(_cuda().runtime.getDeviceCount())


def is_initialized() -> bool:
    """Whether ember has set CUDA up (on the first question that found a device)."""
    if _State.backend is None:
        return False
    from ..backend import cupy_backend

    return cupy_backend.loaded() is _State.backend


def init() -> None:
    """Sets CUDA up now rather than on first use."""
    if _backend() is None:
        raise _no_cuda()


def current_device() -> int:
    """The index of the selected CUDA device."""
    if _backend() is None:
        raise _no_cuda()
    return int(_cuda().get_device_id())


def set_device(device: Any) -> None:
    """Selects a CUDA device (an int, ``"cuda:N"`` or a device; negative: no-op)."""
    index = _device_index(device)
    if index >= 0:
        if _backend() is None:
            raise _no_binding("_cuda_setDevice")
        _use_device(index)


class device:  # noqa: N801 - torch's name
    """Context manager that selects a CUDA device (a negative index: no-op).

    Args:
        device (int, str or device): the device to select for the ``with`` block.
    """

    def __init__(self, device: Any) -> None:
        self.idx = _device_index(device, optional=True)
        self.prev_idx = -1

    def __enter__(self) -> None:
        self.prev_idx = _exchange_device(self.idx)

    def __exit__(self, *exc: Any) -> bool:
        self.idx = _exchange_device(self.prev_idx)
        return False


class device_of(device):  # noqa: N801 - torch's name
    """Context manager that selects the device of a tensor (a CPU tensor: no-op)."""

    def __init__(self, obj: Any) -> None:
        super().__init__(obj.get_device() if obj.is_cuda else -1)


_DeviceContext = device  # for functions whose ``device`` argument hides the class


class _CudaDeviceProperties:
    """A device's properties, with torch's attribute names and repr."""

    def __init__(self, props: dict) -> None:
        def get(key: str, default: Any = 0) -> Any:
            return props.get(key, props.get(key.encode(), default))

        name = get("name", "")
        self.name = name.decode() if isinstance(name, bytes) else str(name)
        self.major, self.minor = int(get("major")), int(get("minor"))
        self.total_memory = int(get("totalGlobalMem"))
        self.multi_processor_count = int(get("multiProcessorCount"))
        self.is_integrated = int(get("integrated"))
        self.is_multi_gpu_board = int(get("isMultiGpuBoard"))
        self.max_threads_per_multi_processor = int(get("maxThreadsPerMultiProcessor"))
        self.warp_size = int(get("warpSize", 32))
        self.regs_per_multiprocessor = int(get("regsPerMultiprocessor"))
        self.shared_memory_per_block = int(get("sharedMemPerBlock"))
        self.shared_memory_per_multiprocessor = int(get("sharedMemPerMultiprocessor"))
        self.L2_cache_size = int(get("l2CacheSize"))
        self.gcnArchName = self.name  # torch reuses the name on CUDA builds
        self.uuid = _format_uuid(get("uuid", b""))

    def __repr__(self) -> str:
        mib = 1024 * 1024
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, "
                f"minor={self.minor}, total_memory={self.total_memory // mib}MB, "
                f"multi_processor_count={self.multi_processor_count}, uuid={self.uuid}, "
                f"L2_cache_size={self.L2_cache_size // mib}MB)")


def _format_uuid(raw: Any) -> str:
    """torch's 8-4-4-4-12 hex form of a device's 16 uuid bytes (CuPy gives bytes; a str or a
    list of ints is taken byte by byte)."""
    if isinstance(raw, str):
        raw = raw.encode("latin-1", "replace")
    try:
        raw = bytes(raw)
    except (TypeError, ValueError):
        raw = b""
    h = raw.ljust(16, b"\0")[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def get_device_properties(device: Any = None) -> _CudaDeviceProperties:
    """The properties of a device (the current one by default)."""
    if _backend() is None:
        raise _no_cuda()
    index = _device_index(device, optional=True)
    if index < 0 or index >= device_count():
        raise AssertionError("Invalid device id")
    return _CudaDeviceProperties(_cuda().runtime.getDeviceProperties(index))


def get_device_name(device: Any = None) -> str:
    """The name of a device (the current one by default)."""
    return get_device_properties(device).name


def get_device_capability(device: Any = None) -> tuple[int, int]:
    """A device's CUDA compute capability ``(major, minor)``."""
    props = get_device_properties(device)
    return props.major, props.minor


def can_device_access_peer(device: Any, peer_device: Any) -> bool:
    """Whether ``device`` can read ``peer_device``'s memory directly."""
    if _backend() is None:
        raise _no_cuda()
    index = _device_index(device, optional=True)
    peer = _device_index(peer_device)
    count = device_count()
    if index < 0 or index >= count:
        raise AssertionError("Invalid device id")
    if peer < 0 or peer >= count:
        raise AssertionError("Invalid peer device id")
    return bool(_cuda().runtime.deviceCanAccessPeer(index, peer))


def get_arch_list() -> list[str]:
    """[]: ember ships no CUDA binaries of its own (CuPy compiles its kernels at run time)."""
    return []


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Whether ember can hold bfloat16 tensors on the current device.

    torch answers True from compute capability 8.0 on (and below it, with emulation, when a
    bfloat16 tensor can be made); ember also needs its array backend to hold the dtype.
    """
    backend = _backend()
    if backend is None:
        return False
    if get_device_properties(current_device()).major < 8 and not including_emulation:
        return False
    from .. import dtypes

    try:
        backend.xp.zeros(1, dtype=dtypes.bfloat16.np)
    except Exception:  # CuPy without a bfloat16 dtype
        return False
    return True


def is_tf32_supported() -> bool:
    """Whether the current device has TF32 tensor cores (compute capability 8.0 on)."""
    if _backend() is None:
        return False
    return get_device_properties(current_device()).major >= 8


def synchronize(device: Any = None) -> None:
    """Waits for all work queued on a device (the current one by default)."""
    if _backend() is None:
        raise _no_cuda()
    # not a sync that the debug mode reports: torch's device-wide synchronize is not either
    with _DeviceContext(device):
        _cuda().Device(current_device()).synchronize()


def ipc_collect() -> None:
    """Nothing to collect: ember shares no CUDA memory between processes."""
    if _backend() is None:
        raise _no_cuda()


# -- memory --------------------------------------------------------------------------------------
def _pool_sizes(device: Any) -> tuple[int, int, int]:
    """(index, used bytes, pool bytes) of a device, noting the peaks on the way."""
    index = _device_index(device, optional=True)
    with _cuda().Device(index):
        pool = _pool()
        _observe(index, pool)
        return index, int(pool.used_bytes()), int(pool.total_bytes())


def memory_allocated(device: Any = None) -> int:
    """Bytes held by live CUDA tensors on a device (CuPy's pool's used bytes)."""
    if _backend() is None:
        return 0
    return _pool_sizes(device)[1]


def max_memory_allocated(device: Any = None) -> int:
    """The peak of :func:`memory_allocated` since the start or the last reset."""
    if _backend() is None:
        return 0
    index = _pool_sizes(device)[0]
    return _State.peak_allocated.get(index, 0)


def memory_reserved(device: Any = None) -> int:
    """Bytes CuPy's pool holds on a device (in use or cached for reuse)."""
    if _backend() is None:
        return 0
    return _pool_sizes(device)[2]


def max_memory_reserved(device: Any = None) -> int:
    """The peak of :func:`memory_reserved` since the start or the last reset."""
    if _backend() is None:
        return 0
    index = _pool_sizes(device)[0]
    return _State.peak_reserved.get(index, 0)


def reset_peak_memory_stats(device: Any = None) -> None:
    """Restarts the peaks of :func:`max_memory_allocated`/:func:`max_memory_reserved` from now."""
    if _backend() is None:
        raise _no_binding("_cuda_resetPeakMemoryStats")
    index = _device_index(device, optional=True)
    _State.peak_allocated.pop(index, None)
    _State.peak_reserved.pop(index, None)
    _pool_sizes(index)


def reset_max_memory_allocated(device: Any = None) -> None:
    """Deprecated: resets every peak, as :func:`reset_peak_memory_stats` does."""
    warnings.warn("torch.cuda.reset_max_memory_allocated now calls "
                  "torch.cuda.reset_peak_memory_stats, which resets /all/ peak memory stats.",
                  FutureWarning, stacklevel=2)
    reset_peak_memory_stats(device)


def memory_stats(device: Any = None) -> OrderedDict:
    """The allocator's counters that CuPy's pool can give: current and peak bytes allocated and
    reserved, under torch's keys (torch's other keys count block events CuPy does not expose)."""
    if _backend() is None:
        return OrderedDict()
    index, used, total = _pool_sizes(device)
    return OrderedDict([
        ("allocated_bytes.all.current", used),
        ("allocated_bytes.all.peak", _State.peak_allocated.get(index, 0)),
        ("reserved_bytes.all.current", total),
        ("reserved_bytes.all.peak", _State.peak_reserved.get(index, 0)),
    ])


def empty_cache() -> None:
    """Returns the pools' cached, unused blocks (device and pinned host memory) to the driver."""
    if _backend() is not None:
        _pool().free_all_blocks()
        _State.backend.xp.get_default_pinned_memory_pool().free_all_blocks()


def set_per_process_memory_fraction(fraction: float, device: Any = None) -> None:
    """Caps what the pool may hold on a device at ``fraction`` of its memory (beyond it an
    allocation fails with an out-of-memory error)."""
    if _backend() is None:
        raise _no_cuda()
    index = _device_index(current_device() if device is None else device)
    if not isinstance(fraction, float):
        raise TypeError("Invalid type for fraction argument, must be `float`")
    if fraction < 0 or fraction > 1:
        raise ValueError(f"Invalid fraction value: {fraction}. Allowed range: 0~1")
    total = get_device_properties(index).total_memory
    with _cuda().Device(index):
        # in bytes: CuPy reads a limit of 0 as none, where torch's fraction 0 allows nothing
        _pool().set_limit(size=max(1, int(fraction * total)))
    _State.fractions[index] = fraction


def get_per_process_memory_fraction(device: Any = None) -> float:
    """The cap :func:`set_per_process_memory_fraction` set (1.0: none)."""
    if _backend() is None:
        raise _no_cuda()
    index = _device_index(current_device() if device is None else device)
    return _State.fractions.get(index, 1.0)


def mem_get_info(device: Any = None) -> tuple[int, int]:
    """``(free, total)`` bytes of a device, as the driver counts them."""
    if _backend() is None:
        raise _no_cuda()
    with _cuda().Device(_device_index(device, optional=True)):
        free, total = _cuda().runtime.memGetInfo()
    return int(free), int(total)


# -- random numbers ------------------------------------------------------------------------------
def _default_generators() -> tuple:
    """One ``ember.Generator`` per device (``ember.random.device_generator``): what that GPU's
    random tensors are drawn from, on the host (the values are then copied to the GPU)."""
    if not _State.generators:
        from .. import random

        _State.generators = tuple(random.device_generator(i) for i in range(device_count()))
    return _State.generators


def __getattr__(name: str) -> object:
    if name == "default_generators":  # torch's tuple; () without CUDA
        return _default_generators() if _backend() is not None else ()
    # ``torch.cuda.amp`` is reachable after ``import torch``: submodules load on first use
    from .._missing import submodule_or_error

    return submodule_or_error(__name__, "torch.cuda", name)


def _generator(device: Any = None) -> Any:
    return _default_generators()[_device_index(device, optional=True)]


def manual_seed(seed: int) -> None:
    """Seeds the current device's generator (nothing to seed without CUDA, as torch)."""
    seed = int(seed)
    if _backend() is not None:
        _generator().manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    """Seeds every device's generator."""
    seed = int(seed)
    if _backend() is not None:
        for generator in _default_generators():
            generator.manual_seed(seed)


def seed() -> None:
    """Seeds the current device's generator with a random number."""
    if _backend() is not None:
        _generator().seed()


def seed_all() -> None:
    """Seeds every device's generator with one random number."""
    if _backend() is not None:
        generators = _default_generators()
        value = generators[0].seed()
        for generator in generators[1:]:
            generator.manual_seed(value)


def initial_seed() -> int:
    """The seed the current device's generator was last seeded with."""
    if _backend() is None:
        raise _no_cuda()
    return _generator().initial_seed()


def get_rng_state(device: Any = "cuda") -> Any:
    """A device generator's state, as a uint8 tensor."""
    if _backend() is None:
        raise _no_cuda()
    return _generator(device).get_state()


def get_rng_state_all() -> list:
    """Every device generator's state: [] without CUDA."""
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state(new_state: Any, device: Any = "cuda") -> None:
    """Restores a device generator's state (does nothing without CUDA, as torch's CPU build
    defers it for good)."""
    if _backend() is not None:
        _generator(device).set_state(new_state)


def set_rng_state_all(new_states: Any) -> None:
    """Restores every device generator's state from ``get_rng_state_all()``'s list."""
    for index, state in enumerate(new_states):
        set_rng_state(state, index)


# -- streams and events --------------------------------------------------------------------------
class Stream:
    """A CUDA stream of a device: work queued on it runs in order.

    Args:
        device (int, str or device, optional): the stream's device (the current one by default).
        priority (int, optional): lower numbers run first; CuPy clamps out-of-range values.
    """

    def __new__(cls, device: Any = None, priority: int = 0, **kwargs: Any) -> Stream:
        if _backend() is None:
            raise RuntimeError("torch.cuda.Stream requires CUDA support")
        index = current_device() if device is None else _device_index(device, optional=True)
        if index < 0:
            index = current_device()
        with _DeviceContext(index):
            # a priority only when asked for: 0 is CuPy's default too
            raw = _cuda().Stream(priority=priority) if priority else _cuda().Stream()
        return cls._wrap(raw, index)

    @classmethod
    def _wrap(cls, raw: Any, index: int) -> Stream:
        self = object.__new__(cls)
        self._raw, self.device_index = raw, index
        return self

    device_type = 1  # torch's DeviceType::CUDA

    @property
    def device(self) -> Any:
        return _cuda_device(self.device_index)

    @property
    def cuda_stream(self) -> int:
        return int(self._raw.ptr)

    @property
    def stream_id(self) -> int:
        return self.cuda_stream

    @property
    def priority(self) -> int:
        return int(getattr(self._raw, "priority", 0))

    def query(self) -> bool:
        """Whether all work queued on the stream has finished."""
        return bool(self._raw.done)

    def synchronize(self) -> None:
        """Waits for the stream's work (a sync that the debug mode reports, as torch's)."""
        _on_sync("Stream.synchronize")
        self._raw.synchronize()

    def wait_event(self, event: Event) -> None:
        """Makes later work on this stream wait for ``event``."""
        event.wait(self)

    def wait_stream(self, stream: Stream) -> None:
        """Makes later work on this stream wait for the work queued on ``stream`` so far."""
        self.wait_event(stream.record_event())

    def record_event(self, event: Event | None = None) -> Event:
        """Records ``event`` (a new one by default) on this stream and returns it."""
        if event is None:
            event = Event()
        event.record(self)
        return event

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Stream) and self.cuda_stream == other.cuda_stream
                and self.device_index == other.device_index)

    def __hash__(self) -> int:
        return hash((self.cuda_stream, self.device_index))

    def __repr__(self) -> str:
        return f"<torch.cuda.Stream device=cuda:{self.device_index} " \
               f"cuda_stream={self.cuda_stream:#x}>"


class Event:
    """A marker in a stream's work, for waiting and timing.

    Args:
        enable_timing (bool): whether :meth:`elapsed_time` can use it (default: False).
        blocking (bool): whether :meth:`synchronize` blocks the thread rather than spinning.
        interprocess (bool): whether other processes may share it.
    """

    def __new__(cls, enable_timing: bool = False, blocking: bool = False,
                interprocess: bool = False, external: bool = False) -> Event:
        if _backend() is None:
            raise RuntimeError(f"Tried to instantiate dummy base class {cls.__name__}")
        self = object.__new__(cls)
        self.enable_timing, self.blocking, self.interprocess = enable_timing, blocking, interprocess
        self._raw: Any = None  # made on the first record, on the recording stream's device
        self.device_index = -1
        return self

    @property
    def cuda_event(self) -> int:
        if self._raw is None:
            return 0
        # a CuPy-shaped module whose events have no handle (the fake device): its identity
        return int(getattr(self._raw, "ptr", 0) or id(self._raw))

    event_id = cuda_event

    @property
    def device(self) -> Any:
        return None if self._raw is None else _cuda_device(self.device_index)

    def record(self, stream: Stream | None = None) -> None:
        """Records the event on ``stream`` (the current stream by default)."""
        if stream is None:
            stream = current_stream()
        if self._raw is None:
            with _cuda().Device(stream.device_index):
                self._raw = _cuda().Event(block=self.blocking,
                                          disable_timing=not self.enable_timing,
                                          interprocess=self.interprocess)
            self.device_index = stream.device_index
        elif stream.device_index != self.device_index:
            raise RuntimeError(f"Event device {self.device_index} does not match recording "
                               f"stream's device {stream.device_index}.")
        self._raw.record(stream._raw)

    def wait(self, stream: Stream | None = None) -> None:
        """Makes later work on ``stream`` (the current stream by default) wait for the event."""
        if stream is None:
            stream = current_stream()
        if self._raw is not None:
            stream._raw.wait_event(self._raw)

    def query(self) -> bool:
        """Whether the work before the event has finished (True when never recorded)."""
        return True if self._raw is None else bool(self._raw.done)

    def elapsed_time(self, end_event: Event) -> float:
        """Milliseconds between this event and ``end_event`` (both recorded and completed)."""
        if not (self.enable_timing and end_event.enable_timing):
            raise ValueError("Both events must be created with argument 'enable_timing=True'.")
        if self._raw is None or end_event._raw is None:
            raise ValueError("Both events must be recorded before calculating elapsed time.")
        if not (self.query() and end_event.query()):
            raise RuntimeError("Both events must be completed before calculating elapsed time.")
        return float(_cuda().get_elapsed_time(self._raw, end_event._raw))

    def synchronize(self) -> None:
        """Waits until the work before the event has finished."""
        if self._raw is not None:
            self._raw.synchronize()

    def __repr__(self) -> str:
        if self._raw is None:
            return "<torch.cuda.Event uninitialized>"
        return f"<torch.cuda.Event {self.cuda_event:#x}>"


def current_stream(device: Any = None) -> Stream:
    """The stream work is queued on for a device (the current one by default)."""
    if _backend() is None:
        raise _no_cuda()
    index = _device_index(device, optional=True)
    with _cuda().Device(index):
        return Stream._wrap(_cuda().get_current_stream(), index)


def default_stream(device: Any = None) -> Stream:
    """A device's default stream (CuPy's null stream, handle 0 as torch's)."""
    if _backend() is None:
        raise _no_cuda()
    return Stream._wrap(_cuda().Stream.null, _device_index(device, optional=True))


def set_stream(stream: Stream | None) -> None:
    """Makes ``stream`` current on its device (None: no-op)."""
    if stream is None:
        return
    with _cuda().Device(stream.device_index):
        stream._raw.use()


class StreamContext:
    """Context manager that makes a stream current (None, or no CUDA: no-op).

    Args:
        stream (Stream or None): the stream for the ``with`` block.
    """

    def __init__(self, stream: Stream | None) -> None:
        self.stream = stream
        index = _device_index(None, True)
        self.idx = -1 if index is None else index
        self.src_prev_stream: Stream | None = None
        self.dst_prev_stream: Stream | None = None

    def __enter__(self) -> None:
        target = self.stream
        if target is None or self.idx == -1:
            return
        self.src_prev_stream = current_stream(None)
        if self.src_prev_stream.device_index != target.device_index:
            # the target's device keeps its own current stream: restore that one too on exit
            self.dst_prev_stream = current_stream(target.device_index)
        set_stream(target)

    def __exit__(self, *exc: Any) -> None:
        if self.stream is None or self.idx == -1:
            return
        if self.dst_prev_stream is not None:
            set_stream(self.dst_prev_stream)
        set_stream(self.src_prev_stream)


def stream(stream: Stream | None) -> StreamContext:
    """Context manager that makes ``stream`` current for a ``with`` block (None: no-op)."""
    return StreamContext(stream)


# -- synchronisation debug mode ------------------------------------------------------------------
_SYNC_MODES = {"default": 0, "warn": 1, "error": 2}


def set_sync_debug_mode(debug_mode: int | str) -> None:
    """Warns (``"warn"``/1) or raises (``"error"``/2) at each device-to-host synchronisation
    (an ``item()``, ``bool()``, ``.cpu()``, ...); ``"default"``/0 is silent."""
    if _backend() is None:
        raise _no_cuda()
    if isinstance(debug_mode, str):
        if debug_mode not in _SYNC_MODES:
            raise RuntimeError(
                "invalid value of debug_mode, expected one of `default`, `warn`, `error`")
        debug_mode = _SYNC_MODES[debug_mode]
    if not _State.warned_prototype:  # torch says this once per process
        _State.warned_prototype = True
        warnings.warn("Synchronization debug mode is a prototype feature and does not yet "
                      "detect all synchronizing operations", UserWarning, stacklevel=2)
    if not isinstance(debug_mode, int):
        raise RuntimeError("invalid argument to set_sync_debug_mode")
    if not 0 <= debug_mode <= 2:
        raise RuntimeError("invalid value of debug_mode, expected one of 0,1,2")
    _State.sync_mode = int(debug_mode)
    from .. import backend

    # the core calls the hook at every device-to-host read; None keeps the default mode free
    backend.sync_hook = _on_sync if debug_mode else None


def get_sync_debug_mode() -> int:
    """The synchronisation debug mode: 0 (default), 1 (warn) or 2 (error)."""
    if _backend() is None:
        raise _no_cuda()
    return _State.sync_mode


# the files a warning's location skips: the reporting machinery (the core's hook caller
# included) and Tensor's methods, which are C++ in torch, so ``loss.item()`` points at its line
_EMBER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_HOOK_FILES = (os.path.join(_EMBER, "backend") + os.sep, os.path.join(_EMBER, "cuda") + os.sep,
               os.path.join(_EMBER, "devices.py"), os.path.join(_EMBER, "tensor.py"),
               os.path.join(_EMBER, "_device_guard.py"))


def _on_sync(what: str) -> None:
    """Reports one synchronising operation (``what``: "item", "tolist", ...) per the mode: the
    warning points at the line that asked for the host copy (the innermost frame outside the
    reporting machinery and Tensor's methods), as torch's points at the Python line that called
    the op."""
    if _State.sync_mode == 2:
        raise RuntimeError("called a synchronizing CUDA operation")
    if _State.sync_mode == 1:
        level, frame = 1, sys._getframe(1)
        while frame is not None and frame.f_code.co_filename.startswith(_HOOK_FILES):
            level, frame = level + 1, frame.f_back
        warnings.warn("called a synchronizing CUDA operation", UserWarning, stacklevel=level + 1)

