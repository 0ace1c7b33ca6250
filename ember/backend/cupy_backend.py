"""The CUDA backend: ``CupyBackend``, the NumPy backend's kernels over CuPy (or any module shaped
as CuPy 14.2 is, such as the tests' fake), and ``load()``, which imports CuPy the first time a
CUDA device is asked for (never at ``import ember``: ``import cupy`` alone takes ~0.4 s).

Every kernel is written once over ``self.xp``: index arrays and constants are made with ``xp``,
never with numpy (CuPy refuses host operands), and no kernel reads a device value back to the host
(a sync) except where noted: ``orthogonal_polynomial`` and ``bessel("airy_ai", ...)``, which
CuPy lacks and which run through the NumPy kernels on a copy.

On real CuPy, ``max_pool2d``, ``window_reduce``, ``col2im`` and ``threshold_backward`` are one
fused CUDA kernel each (``RawKernel``s of ``MAX_POOL2D_SOURCE``, ``WINDOW_REDUCE_SOURCE`` and
``COL2IM_SOURCE``, an ``ElementwiseKernel`` of ``THRESHOLD_BACKWARD_OP``; ``EMBER_CUPY_FUSED=0``
turns them off) for float32/float64/int32/int64; other dtypes, and the fake, take the plain path.

What differs from the NumPy backend, and why:

- No read-only arrays and no floating-point error state on CuPy: ``as_strided`` ignores
  ``writeable``, ``errors_*`` are no-ops, ``sole_owner`` asks no ``writeable`` flag, and
  ``has_internal_overlap`` (a stride 0 on an axis of size > 1, torch's rule) stands in for the
  read-only flag of NumPy's broadcast views.
- ``window_reduce``/``max_pool2d`` always take the NaN-aware argmax steps: NumPy's backend first
  asks whether a window holds a NaN, a sync on a GPU. The results are the same (torch's first
  maximum, last NaN).
- ``segment_sum`` and ``index_sum`` scatter-add (CUDA atomics, as torch's ``index_add_``) instead
  of NumPy's sorted ``add.reduceat``, whose run starts have a data-dependent size (a sync): float
  sums may differ from NumPy's in their last bits and from run to run, as torch CUDA's do.
- ``scatter_add`` maps the dtypes CUDA's atomicAdd lacks onto ones it has (int64 as uint64:
  two's-complement sums are the same bits; 8/16-bit integers and bool through int32; complex as
  its real and imaginary parts), since ``cupyx.scatter_add`` takes only int32, uint32, uint64,
  float16, float32 and float64 with integer indices.
- Convolutions run the plain im2col + GEMM strategy of ``numpy_conv`` (``_columns``, ``col2im``,
  the flipped-kernel input gradient at stride 1; cuBLAS through ``xp.matmul``) in chunks of
  samples, without the CPU-cache strategies (row-padded im2col, kernel-row GEMMs) that pay on a
  CPU only. (CuPy 14 has no ``cupy.cudnn``.)
- Special functions come from ``cupyx.scipy.special`` (Cephes ports, as torch's CUDA kernels),
  their results in the input's floating dtype, as ``numpy_special``'s.
"""
from __future__ import annotations

import importlib
import math
import os
import types
from typing import Any

import numpy as np

from . import limits, numpy_backend, numpy_bessel, numpy_conv, numpy_special
from . import on_device as _on_device
from .errors import OutOfMemoryError
from .geometry import WindowGeometry
from .numpy_backend import _taps as _window_taps  # (slicing only: the same on any array)
from .numpy_conv import _flipped
from .numpy_convnd import line_geometry, plane_geometry
from .optim_kernels import OptimKernels
from .vocabulary import _SOLE_N, _SOLE_NB, ArrayVocabulary, _refcount

Array = Any  # a CuPy (or fake CuPy) array

INSTALL_HINT = ("CUDA in ember needs CuPy: pip install 'ember[cuda12]' for a CUDA 12.x driver or "
                "'ember[cuda13]' for CUDA 13.x (nvidia-smi prints the driver's CUDA version)")

# an im2col buffer holds at most this many bytes: a larger batch runs as several GEMMs over
# slices of samples (GPU memory is plentiful, but im2col is KH*KW times its input)
_CHUNK_BYTES = 256 << 20

# the dtypes ``cupyx.scatter_add`` takes with integer indices (CUDA's atomicAdd): int32, uint32,
# uint64 (two spellings), float16, float32, float64
_ATOMIC = frozenset("iILQefd")
# the narrow types summed in a 32-bit integer of the same signedness, then cast back (the
# wrap-around of NumPy's narrow ``add.at`` is that of the cast)
_WIDENED = {"b": "int32", "h": "int32", "B": "uint32", "H": "uint32", "?": "int32"}

# ``bessel``'s kernels in cupyx.scipy.special (airy_ai has none there)
_BESSEL = {"bessel_j0": "j0", "bessel_j1": "j1", "bessel_y0": "y0", "bessel_y1": "y1",
           "modified_bessel_k0": "k0", "modified_bessel_k1": "k1",
           "scaled_modified_bessel_k0": "k0e", "scaled_modified_bessel_k1": "k1e"}


# -- fused CUDA kernels (real CuPy only; ``EMBER_CUPY_FUSED=0`` turns them off) ----------------------
# Max pooling with indices in one kernel, one thread per output (a grid-stride loop), torch's
# CUDA loop: each window's rows then columns, inside the image only, ``v > best || isnan(v)``
# (the first maximum, the last NaN; ``v != v`` is isnan for integer types too), and a window
# holding only ``lowest`` keeps its first element inside the image. The plain path costs
# KH + KW - 2 separable steps of ~4 calls each plus ~10 for the indices. ``T`` is typedef'd
# before it; tests/backend/test_cupy_backend.py compiles this source on the CPU to check it.
MAX_POOL2D_SOURCE = r"""
extern "C" __global__ void ember_max_pool2d(
    const T* x, T* y, long long* idx, const long long total, const int H, const int W,
    const int OH, const int OW, const int KH, const int KW, const int SH, const int SW,
    const int PH, const int PW, const int DH, const int DW, const T lowest) {
  for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x; o < total;
       o += (long long)blockDim.x * gridDim.x) {
    const int ow = (int)(o % OW);
    const int oh = (int)((o / OW) % OH);
    const T* p = x + (o / ((long long)OW * OH)) * H * W;
    int h0 = oh * SH - PH;
    int w0 = ow * SW - PW;
    const int h_end = h0 + (KH - 1) * DH + 1;  // (no min(): nothing NVRTC must provide)
    const int w_end = w0 + (KW - 1) * DW + 1;
    const int h1 = h_end < H ? h_end : H;
    const int w1 = w_end < W ? w_end : W;
    while (h0 < 0) h0 += DH;
    while (w0 < 0) w0 += DW;
    T best = lowest;
    long long arg = (long long)h0 * W + w0;
    for (int h = h0; h < h1; h += DH) {
      for (int w = w0; w < w1; w += DW) {
        const T v = p[(long long)h * W + w];
        if (v > best || v != v) {
          best = v;
          arg = (long long)h * W + w;
        }
      }
    }
    y[o] = best;
    idx[o] = arg;
  }
}
"""
# col2im as a gather, one thread per image element: the (i, j) kernel offsets whose windows
# cover it, in NumPy's order (i, then j; from 0), so sums are NumPy's bit for bit. The plain
# path is KH*KW read-modify-write passes over the image. ``cols`` is read through its strides
# (elements), so a transposed GEMM result needs no copy.
COL2IM_SOURCE = r"""
extern "C" __global__ void ember_col2im(
    const T* cols, T* img, const long long total, const int C, const int H, const int W,
    const int KH, const int KW, const int OH, const int OW, const int SH, const int SW,
    const int DH, const int DW, const long long s0, const long long s1, const long long s2,
    const long long s3, const long long s4, const long long s5) {
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total;
       e += (long long)blockDim.x * gridDim.x) {
    const int w = (int)(e % W);
    const int h = (int)((e / W) % H);
    const long long plane = e / ((long long)W * H);
    const T* c = cols + (plane / C) * s0 + (plane % C) * s1;
    T acc = 0;
    for (int i = 0; i < KH; ++i) {
      const int hh = h - i * DH;
      if (hh < 0) break;
      if (hh % SH != 0 || hh / SH >= OH) continue;
      for (int j = 0; j < KW; ++j) {
        const int ww = w - j * DW;
        if (ww < 0) break;
        if (ww % SW != 0 || ww / SW >= OW) continue;
        acc += c[i * s2 + j * s3 + (hh / SH) * s4 + (ww / SW) * s5];
      }
    }
    img[e] = acc;
  }
}
"""
# window_reduce over an already padded input, one thread per output: ``op`` 0 sums (each kernel
# row's columns, then the rows: NumPy's separable order, bit for bit), 1 takes the max (NaN wins,
# as ``maximum`` propagates it), 2 also the offset ``i*KW + j`` of torch's winner (the first
# maximum, the last NaN) as ``A`` (int8 or int16). The plain path is KH + KW - 2 steps of ~4 calls.
WINDOW_REDUCE_SOURCE = r"""
extern "C" __global__ void ember_window_reduce(
    const T* x, T* out, A* arg, const long long total, const int H, const int W,
    const int OH, const int OW, const int KH, const int KW, const int SH, const int SW,
    const int DH, const int DW, const int op) {
  for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x; o < total;
       o += (long long)blockDim.x * gridDim.x) {
    const int ow = (int)(o % OW);
    const int oh = (int)((o / OW) % OH);
    const T* p = x + (o / ((long long)OW * OH)) * H * W + (long long)oh * SH * W + ow * SW;
    if (op == 0) {
      T acc = 0;
      for (int i = 0; i < KH; ++i) {
        const T* r = p + (long long)i * DH * W;
        T t = r[0];
        for (int j = 1; j < KW; ++j) t += r[j * DW];
        if (i == 0) acc = t; else acc += t;
      }
      out[o] = acc;
    } else {
      T best = p[0];
      int k = 0;
      for (int i = 0; i < KH; ++i) {
        for (int j = 0; j < KW; ++j) {
          const T v = p[(long long)i * DH * W + j * DW];
          if (v > best || v != v) {
            best = v;
            k = i * KW + j;
          }
        }
      }
      out[o] = best;
      if (op == 2) arg[o] = (A)k;
    }
  }
}
"""
_WINDOW_OPS = {"sum": 0, "max": 1, "argmax": 2}
# the index types of the fused kernels (char -> C type)
INDEX_TYPES = {"b": "signed char", "h": "short"}
# relu's gradient from its output in one elementwise pass (the vocabulary's is a compare and a
# ``where``, or four integer passes on large arrays): torch's ``threshold_backward``, 0 where
# ``y <= 0``, else ``g`` (NaN in ``y`` passes ``g``)
THRESHOLD_BACKWARD_OP = "out = y <= (T)0 ? (T)0 : g"
# the dtypes the fused kernels take (char -> C type)
FUSED_TYPES = {"f": "float", "d": "double", "i": "int", "l": "long long", "q": "long long"}
_THREADS = 256
_MAX_BLOCKS = 1 << 16  # (the grid-stride loop covers the rest)


class errors_quiet:
    """``with errors_quiet():``: CuPy has no floating-point error state, so nothing to silence."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _errors_ignored() -> None:
    """No-op: CuPy never warns about inf - inf or 0 * inf (torch does not either)."""
    return


def _errors_restored(token: Any) -> None:
    """No-op, undoing ``_errors_ignored``."""
    return


def _floating(dtype: Any) -> bool:
    """Whether ``dtype`` holds floating-point values (NaN among them): float16/32/64, complex,
    and ml_dtypes' bfloat16 (kind "V"), which a CuPy-shaped module over NumPy may carry."""
    return dtype.kind in "fc" or dtype.name == "bfloat16"


def _taps(geo: WindowGeometry) -> tuple:
    """The input rows and columns a 1x1 convolution without padding reads."""
    return tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(geo.out_hw, geo.stride))


def _pointwise(geo: WindowGeometry) -> bool:
    """A 1x1 convolution without padding: its im2col is a strided slice of the input."""
    return geo.kernel == (1, 1) and geo.pad == (0, 0)


def _chunks(n: int, per_sample: int) -> list:
    """Slices of the batch ``range(n)`` whose im2col buffers fit ``_CHUNK_BYTES``."""
    step = max(1, min(n, _CHUNK_BYTES // max(per_sample, 1)))
    return [slice(s, s + step) for s in range(0, n, step)]


def _is_cupy(xp: Any) -> bool:
    """Whether ``xp`` is the real CuPy package (the fake is no module file of a ``cupy`` package):
    the guard for anything that compiles CUDA code."""
    path = getattr(xp, "__file__", None) or ""
    return isinstance(xp, types.ModuleType) and xp.__name__ == "cupy" and \
        path.replace("\\", "/").endswith("cupy/__init__.py")


def _format_size(n: int) -> str:
    """A byte count as torch's CUDA allocator words it ("2.00 GiB")."""
    if n <= 1024:
        return f"{n} bytes"
    for unit, scale in (("KiB", 1024), ("MiB", 1024**2), ("GiB", 1024**3)):
        if n <= scale * 1024 or unit == "GiB":
            return f"{n / scale:.2f} {unit}"
    raise AssertionError  # unreachable


class _OnParamDevice:
    """``OptimKernels`` whose every update runs on the GPU of the parameter it is given first."""

    def __init__(self, kernels: OptimKernels) -> None:
        self._kernels = kernels

    def __getattr__(self, name: str) -> Any:
        kernel = getattr(self._kernels, name)
        if not callable(kernel):
            return kernel

        def on_device(param: Any, *args: Any, **kwargs: Any) -> Any:
            with _on_device(param):
                return kernel(param, *args, **kwargs)
        return on_device


class CupyBackend(ArrayVocabulary):
    """The backend of CuPy arrays: ``xp`` is ``cupy`` (or a module shaped as it), ``cupyx`` its
    extension namespace (``scatter_add``, ``scipy.special``)."""

    name = "cuda"
    device_type = "cuda"
    errors_ignored = staticmethod(_errors_ignored)
    errors_restored = staticmethod(_errors_restored)
    errors_quiet = errors_quiet

    def __init__(self, cupy: Any, cupyx: Any) -> None:
        self.xp = cupy
        self.cupyx = cupyx
        self.array_type = cupy.ndarray
        # the optimizers' updates (xp-generic already), each on its parameter's GPU
        self.optim = _OnParamDevice(OptimKernels(cupy))
        # fused CUDA kernels only on the real CuPy (the fake cannot compile them)
        self.real = _is_cupy(cupy)
        self.fused = self.real and os.environ.get("EMBER_CUPY_FUSED", "1") != "0"
        self._kernels: dict = {}
        self._zeros: dict = {}
        self._special_module: Any = None
        oom = getattr(getattr(getattr(cupy, "cuda", None), "memory", None), "OutOfMemoryError",
                      None)
        if oom is not None:  # CuPy's allocation failure becomes torch's (limits.memory_error)
            limits.DEVICE_OOM[oom] = self.out_of_memory

    def __repr__(self) -> str:
        return f"CupyBackend({getattr(self.xp, '__name__', type(self.xp).__name__)})"

    # -- devices -----------------------------------------------------------------------------------
    @staticmethod
    def device_index(arr: Array) -> int:
        """The index of the GPU holding ``arr``."""
        return arr.device.id

    @staticmethod
    def to_host(arr: Array) -> np.ndarray:
        """A NumPy copy of ``arr`` (a device-to-host copy: a sync)."""
        return arr.get()

    def from_host(self, arr: Any, index: int) -> Array:
        """A copy of the host array ``arr`` on GPU ``index``, queued on the current stream
        (CuPy's ``asarray``: a pageable source is staged first, so it may change at once; a
        pinned one must not be rewritten before the stream has run the copy)."""
        with self.xp.cuda.Device(index):
            try:
                return self.xp.asarray(arr)
            except MemoryError as e:  # (a factory's data arriving: torch's error, as Op.apply's)
                raise limits.memory_error(e) from None

    def to_index(self, arr: Array, index: int) -> Array:
        """``arr`` on GPU ``index``: itself when it is there, else a copy made there
        (``ndarray.copy`` copies an array of another device into the current one)."""
        if arr.device.id == index:
            return arr
        with self.xp.cuda.Device(index):
            try:
                return arr.copy()
            except MemoryError as e:
                raise limits.memory_error(e) from None

    def out_of_memory(self, exc: Any) -> OutOfMemoryError:
        """torch's ``OutOfMemoryError`` for CuPy's (``exc._size``: the bytes it asked for), with
        its figures from CuPy's pool: "allocated" is held by live arrays, "reserved" by the pool.
        """
        cuda = self.xp.cuda
        free, total = cuda.runtime.memGetInfo()
        pool = self.xp.get_default_memory_pool()
        used, held = pool.used_bytes(), pool.total_bytes()
        return OutOfMemoryError(
            f"CUDA out of memory. Tried to allocate {_format_size(getattr(exc, '_size', 0))}. "
            f"GPU {cuda.get_device_id()} has a total capacity of {_format_size(total)} of which "
            f"{_format_size(free)} is free. Of the allocated memory {_format_size(used)} is "
            f"allocated by PyTorch, and {_format_size(held - used)} is reserved by PyTorch but "
            "unallocated. If reserved but unallocated memory is large, "
            "torch.cuda.empty_cache() gives it back to the GPU.")

    def guard(self, index: int) -> Any:
        """A context making GPU ``index`` current for the work on its arrays, or None when it is
        current already: CuPy runs kernels, and allocates, on the current GPU and refuses (or
        reads across) another GPU's arrays, where torch runs an op on its tensors' GPU."""
        cuda = self.xp.cuda
        return None if index == cuda.get_device_id() else cuda.Device(index)

    def on_device(self, arr: Array) -> Any:
        """``guard`` for the GPU holding ``arr``."""
        return self.guard(arr.device.id)

    def synchronize(self, index: int | None = None) -> None:
        """Waits for the work queued on GPU ``index`` (the current one by default)."""
        cuda = self.xp.cuda
        cuda.Device(cuda.get_device_id() if index is None else index).synchronize()

    @staticmethod
    def has_internal_overlap(arr: Array) -> bool:
        """Whether elements of ``arr`` share memory (a stride 0 on an axis of size > 1): an
        expanded view, which torch refuses to write into. CuPy has no read-only views."""
        return any(st == 0 and n > 1 for n, st in zip(arr.shape, arr.strides))

    # -- small kernels -----------------------------------------------------------------------------
    def zero(self, dtype: Any) -> Array:
        """A 0-d zero of ``dtype`` on the current GPU, made once per (GPU, dtype): relu's
        ``maximum(x, 0)`` operand in ``x``'s dtype. (Nothing must write into it: CuPy arrays
        cannot be made read-only.)"""
        key = (self.xp.cuda.get_device_id(), dtype)
        z = self._zeros.get(key)
        if z is None:
            z = self._zeros[key] = self.xp.zeros((), dtype)
        return z

    def may_share_memory(self, a: Array, b: Array) -> bool:
        return self.xp.may_share_memory(a, b)

    def as_strided(self, x: Array, shape: tuple | None = None, strides: tuple | None = None,
                   writeable: bool = True) -> Array:
        """A view of ``x`` with ``shape`` and ``strides`` (bytes). ``writeable`` is accepted for
        NumPy's signature; CuPy views are always writable."""
        return self.xp.lib.stride_tricks.as_strided(x, shape, strides)

    def scatter_add(self, target: Array, index: Any, values: Any) -> Array:
        """In-place ``target[index] += values`` that accumulates repeated indices (NumPy's
        ``add.at``), by CUDA atomics: float sums vary in their last bits from run to run. The
        values are cast to the target's dtype first (torch's callers pass that dtype; NumPy
        adds a float value to an integer target in float, then truncates)."""
        xp, add = self.xp, self.cupyx.scatter_add
        char = target.dtype.char
        # the values in the target's dtype first, as add.at casts them (a number: a 0-d array)
        v = xp.asarray(values).astype(target.dtype, copy=False)
        if char in _ATOMIC:
            add(target, index, v)
        elif target.dtype.kind in "iu" and target.itemsize == 8:
            # int64: the same bits as a uint64 sum (two's complement wraps alike)
            add(target.view(xp.uint64), index, v.view(xp.uint64))
        elif char in _WIDENED:
            wide = target.astype(_WIDENED[char])
            add(wide, index, v.astype(wide.dtype))
            target[...] = (wide != 0) if char == "?" else wide.astype(target.dtype)
        elif target.dtype.kind == "c":
            add(target.real, index, v.real)  # (views: CuPy's real/imag of a complex array)
            add(target.imag, index, v.imag)
        elif target.dtype.name == "bfloat16":
            # (CuPy has no bfloat16 arrays; a CuPy-shaped module with ml_dtypes' may): summed in
            # float32 and rounded once, as torch accumulates half-precision gradients
            wide = target.astype(xp.float32)
            add(wide, index, v.astype(xp.float32))
            target[...] = wide.astype(target.dtype)
        else:
            raise TypeError(f"scatter_add: CUDA has no atomic add for {target.dtype}")
        return target

    def segment_sum(self, values: Array, index: Array, size: int, axis: int) -> Array:
        """Adjoint of ``values.take(index, axis)``: the slices of ``values`` along ``axis``
        summed per index value into ``size`` slices. One scatter-add: NumPy's sorted
        ``add.reduceat`` needs the runs' starts, whose count is a sync away."""
        shape = list(values.shape)
        shape[axis] = size
        out = self.xp.zeros(shape, dtype=values.dtype)
        if index.size:
            self.scatter_add(out, (slice(None),) * (axis % values.ndim) + (index,), values)
        return out

    def index_sum(self, values: Array, index: Array, size: int) -> Array:
        """``out[index[i]] += values[i]`` into ``size`` zero rows, ``index`` in any order."""
        return self.segment_sum(values, index, size, 0)

    def softmax(self, y: Array, dim: int, log: bool) -> Array:
        return numpy_backend.softmax(self.xp, y, dim, log)

    @staticmethod
    def sum_last(a: Array, b: Array | None = None) -> Array:
        """``a`` (or ``a * b``) summed over its last axis, kept (one reduction kernel)."""
        return (a if b is None else a * b).sum(axis=-1, keepdims=True)

    def sum_rows(self, m: Array) -> Array:
        """The (1, D) sum of the rows of a (R, D) matrix in its dtype (float32 accumulates in
        float32, as torch's; other dtypes in float64, as NumPy's backend)."""
        if m.dtype.char in "fd":
            return m.sum(axis=0, keepdims=True)
        return m.sum(axis=0, keepdims=True, dtype=self.xp.float64).astype(m.dtype)

    @staticmethod
    def sole_owner(arr: Array) -> bool:
        """Whether the caller's local ``arr`` is the only reference to the array (and to the
        base it may view), so that a leaf may keep it as ``.grad`` (torch's AccumulateGrad
        steal); it must be C-contiguous. ``ArrayVocabulary.sole_owner`` without its
        ``writeable`` test (CuPy has no such flag; an expanded view is not C-contiguous)."""
        if _refcount is None or _refcount(arr) > _SOLE_N:
            return False
        base = arr.base
        if base is not None and (type(base) is not type(arr) or base.base is not None
                                 or _refcount(base) > _SOLE_NB):
            return False
        return arr.flags.c_contiguous

    # -- windows: im2col as a view, and its adjoint ------------------------------------------------
    def pad2d(self, x: Array, top: int, bottom: int, left: int, right: int,
              value: float = 0.0) -> Array:
        """``x`` (..., H, W) padded with ``value``; a negative amount crops that side."""
        x, top, bottom, left, right = numpy_conv.crop_negative(x, top, bottom, left, right)
        if not (top or bottom or left or right):
            return x
        h, w = x.shape[-2:]
        out = self.xp.full(x.shape[:-2] + (h + top + bottom, w + left + right), value,
                           dtype=x.dtype)  # (one fill kernel: cheaper than four border writes)
        out[..., top:top + h, left:left + w] = x
        return out

    def pad_to_windows(self, x: Array, geo: WindowGeometry, value: float = 0.0) -> Array:
        """``x`` padded with ``value`` (or cropped at the bottom/right) to exactly the rows and
        columns the windows of ``geo`` read."""
        need = [(o - 1) * s + (k - 1) * d + 1
                for o, s, k, d in zip(geo.out_hw, geo.stride, geo.kernel, geo.dilation)]
        (pt, pl), (h, w) = geo.pad, x.shape[2:]
        return self.pad2d(x, pt, need[0] - h - pt, pl, need[1] - w - pl, value)

    def windows(self, x: Array, kernel: tuple, stride: tuple, dilation: tuple,
                out_hw: tuple) -> Array:
        """im2col as a view: ``x`` (N, C, H, W) -> (N, C, KH, KW, OH, OW) with
        ``[n, c, i, j, oh, ow] = x[n, c, oh*sh + i*dh, ow*sw + j*dw]``. No data is copied."""
        sn, sc, sh, sw = x.strides
        return self.as_strided(
            x, x.shape[:2] + tuple(kernel) + tuple(out_hw),
            (sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1]))

    def col2im(self, cols: Array, out_hw: tuple, stride: tuple, dilation: tuple,
               dtype: Any = None) -> Array:
        """Adjoint of ``windows``: ``cols`` (N, C, KH, KW, OH, OW) summed onto a zero image
        (N, C, *out_hw), one strided add per kernel offset; windows past ``out_hw`` dropped."""
        if self.fused and cols.dtype.char in FUSED_TYPES and \
                (dtype is None or np.dtype(dtype) == cols.dtype):
            return self._col2im_fused(cols, out_hw, stride, dilation)
        return numpy_conv.col2im(cols, out_hw, stride, dilation, dtype, self.xp)

    def _col2im_fused(self, cols: Array, out_hw: tuple, stride: tuple,
                      dilation: tuple) -> Array:
        """``col2im`` as one ``COL2IM_SOURCE`` kernel launch."""
        n, c, kh, kw, oh, ow = cols.shape
        img = self.xp.empty((n, c) + tuple(out_hw), dtype=cols.dtype)
        if img.size:
            i32, i64 = np.int32, np.int64
            ints = (c,) + tuple(out_hw) + (kh, kw, oh, ow) + tuple(stride) + tuple(dilation)
            steps = tuple(i64(st // cols.itemsize) for st in cols.strides)
            self._launch("ember_col2im", COL2IM_SOURCE, cols.dtype, img.size,
                         (cols, img, i64(img.size)) + tuple(i32(v) for v in ints) + steps)
        return img

    # -- pooling reductions ------------------------------------------------------------------------
    def window_reduce(self, x: Array, kernel: tuple, stride: tuple, dilation: tuple,
                      out_hw: tuple, op: str) -> tuple:
        """Sum (``op="sum"``), max (``"max"``) or max and argmax (``"argmax"``) over each window
        of ``x`` (N, C, H, W); returns ``(values, argmax or None)``. The NumPy backend's
        separable passes (KH + KW - 2 whole-array steps); the argmax is the offset ``i*KW + j``
        of torch's winner (the first maximum, the last NaN), int8 or int16."""
        if self.fused and x.dtype.char in FUSED_TYPES:
            return self._window_reduce_fused(x, kernel, stride, dilation, out_hw, op)
        nan = _floating(x.dtype)
        return numpy_backend.window_reduce(
            x, kernel, stride, dilation, out_hw, op, self.xp,
            lambda col, row, kh, kw: self._window_argmax(col, row, kh, kw, nan))

    def _window_reduce_fused(self, x: Array, kernel: tuple, stride: tuple, dilation: tuple,
                             out_hw: tuple, op: str) -> tuple:
        """``window_reduce`` as one ``WINDOW_REDUCE_SOURCE`` kernel launch."""
        xp = self.xp
        x = xp.ascontiguousarray(x)
        h, w = x.shape[-2:]  # (any leading dims: planes, as the plain path takes them)
        out = xp.empty(x.shape[:-2] + tuple(out_hw), dtype=x.dtype)
        small = np.int8 if kernel[0] * kernel[1] <= 127 else np.int16
        # (an unused one-element stand-in where no argmax is asked for)
        arg = xp.empty(out.shape if op == "argmax" else (1,), dtype=small)
        if out.size:
            ints = (h, w) + tuple(out_hw) + tuple(kernel) + tuple(stride) + tuple(dilation) + \
                (_WINDOW_OPS[op],)
            self._launch("ember_window_reduce", WINDOW_REDUCE_SOURCE, x.dtype, out.size,
                         (x, out, arg, np.int64(out.size)) + tuple(np.int32(v) for v in ints),
                         small)
        return out, (arg if op == "argmax" else None)

    def _window_argmax(self, col: Any, row: Any, kh: int, kw: int, nan: bool) -> tuple:
        """Max and argmax as ``(values, i, j)``: the winning kernel row and column, read by
        ``col(j)`` and ``row(t, i)``. With ``nan`` the steps let NaNs win unconditionally
        (NumPy's backend first asks whether there is a NaN: a sync here)."""
        xp = self.xp
        small = np.int8 if kh * kw <= 127 else np.int16  # (a dtype: no host array)
        t, tj = self._arg_step([col(j) for j in range(kw)], small, nan)
        out, arg = self._arg_step([row(t, i) for i in range(kh)], small, nan)
        if kw == 1:
            return out, arg, None
        if kh == 1:
            return out, arg, row(tj, 0).copy()
        pick = xp.empty(arg.shape, dtype=small)  # the winning column, read from the winning row
        j = xp.zeros(arg.shape, dtype=small)
        for i in range(kh):
            xp.multiply(arg == i, row(tj, i), out=pick)
            j += pick
        return out, arg, j

    def _arg_step(self, taps: list, small: Any, nan: bool) -> tuple:
        """Max and argmax over a list of arrays: the first maximum, or with ``nan`` the last
        NaN (NumPy's backend's steps, on this module)."""
        return numpy_backend._arg_step(taps, small, nan, self.xp)

    def max_pool2d(self, x: Array, geo: WindowGeometry, lowest: Any, indices: bool) -> tuple:
        """Max pooling of ``x`` (N, C, H, W) over the windows of ``geo``, padding with
        ``lowest``; returns ``(values, indices or None)``, the int64 indices into each input
        plane ``h*W + w`` of each window's winner (torch's first maximum, last NaN)."""
        if self.fused and x.dtype.char in FUSED_TYPES:
            return self._max_pool2d_fused(x, geo, lowest, indices)
        xp = self.xp
        padded = self.pad_to_windows(x, geo, lowest)
        kh, kw = geo.kernel
        if not indices:
            return self.window_reduce(padded, geo.kernel, geo.stride, geo.dilation, geo.out_hw,
                                      "max")
        out, i, j = self._window_argmax(
            *_window_taps(padded, geo.kernel, geo.stride, geo.dilation, geo.out_hw), kh, kw,
            _floating(x.dtype))
        idx = numpy_backend.pool_index(i, j, geo, xp)
        if out.size and numpy_backend.reads_padding(padded, geo):
            # a window holding only ``lowest`` ties with its padding, which must not win: torch
            # keeps the window's first element inside the input. Written where it applies, with
            # no test first (``any()`` would be a sync)
            xp.copyto(idx, numpy_backend.first_inside(geo, xp), where=out == lowest)
        return out, idx

    def _kernel(self, name: str, source: str, types: str) -> Any:
        """The ``RawKernel`` ``name`` of ``source`` after the typedefs ``types``, compiled once
        (NVRTC; CuPy caches the binary on disk too)."""
        key = (name, types)
        k = self._kernels.get(key)
        if k is None:
            k = self._kernels[key] = self.xp.RawKernel(types + source, name)
        return k

    def threshold_backward(self, g: Array, y: Array) -> Array:
        """``g`` where ``y > 0``, else 0 (relu's gradient from its output ``y``; NaN passes g):
        one fused elementwise kernel on real CuPy for same-dtype float arrays."""
        if self.fused and g.dtype == y.dtype and g.dtype.char in "fd" and g.shape == y.shape:
            k = self._kernels.get("threshold_backward")
            if k is None:
                k = self._kernels["threshold_backward"] = self.xp.ElementwiseKernel(
                    "T g, T y", "T out", THRESHOLD_BACKWARD_OP, "ember_threshold_backward")
            return k(g, y)
        return super().threshold_backward(g, y)

    def _launch(self, name: str, source: str, dtype: Any, total: int, args: tuple,
                index_dtype: Any = None) -> None:
        """Runs kernel ``name`` with ``T`` (and ``A``) the C types of ``dtype`` (and
        ``index_dtype``) over ``total`` elements (a grid-stride loop): the argument types must be
        the kernel's exactly (numpy scalars: int32, int64, the dtype's)."""
        types = f"typedef {FUSED_TYPES[dtype.char]} T;\n"
        if index_dtype is not None:
            types += f"typedef {INDEX_TYPES[np.dtype(index_dtype).char]} A;\n"
        blocks = min(-(-total // _THREADS), _MAX_BLOCKS)
        self._kernel(name, source, types)((blocks,), (_THREADS,), args)

    def _max_pool2d_fused(self, x: Array, geo: WindowGeometry, lowest: Any,
                          indices: bool) -> tuple:
        """``max_pool2d`` as one ``MAX_POOL2D_SOURCE`` kernel launch."""
        xp = self.xp
        x = xp.ascontiguousarray(x)
        h, w = x.shape[-2:]
        oh, ow = geo.out_hw
        y = xp.empty(x.shape[:-2] + (oh, ow), dtype=x.dtype)
        idx = xp.empty(y.shape, dtype=xp.int64)
        if y.size:
            ints = (h, w, oh, ow) + tuple(geo.kernel) + tuple(geo.stride) + tuple(geo.pad) + \
                tuple(geo.dilation)
            self._launch("ember_max_pool2d", MAX_POOL2D_SOURCE, x.dtype, y.size,
                         (x, y, idx, np.int64(y.size)) + tuple(np.int32(v) for v in ints)
                         + (x.dtype.type(lowest),))
        return y, (idx if indices else None)

    # -- convolution (the plain im2col + GEMM strategy of numpy_conv) ------------------------------
    def _columns(self, x: Array, geo: WindowGeometry) -> Array:
        """im2col of ``x`` as (G, C/G*KH*KW, N*OH*OW): the one copy a convolution makes."""
        view = self.windows(self.pad_to_windows(x, geo), geo.kernel, geo.stride, geo.dilation,
                            geo.out_hw)
        c = x.shape[1]
        kh, kw = geo.kernel
        return view.transpose(1, 2, 3, 0, 4, 5).reshape(
            geo.groups, c // geo.groups * kh * kw, x.shape[0] * geo.out_hw[0] * geo.out_hw[1])

    def _grouped_out(self, g: Array, groups: int) -> Array:
        """(N, O, OH, OW) -> (G, O/G, N*OH*OW), the GEMM operand layout of an output gradient."""
        o = g.shape[1]
        return self.xp.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(
            groups, o // groups, g.size // max(o, 1))

    def conv2d(self, x: Array, w: Array, geo: WindowGeometry, bias: Array | None = None) -> Array:
        """The convolution (cross-correlation): ``x`` (N, C, H, W), ``w`` (O, C/G, KH, KW),
        optional ``bias`` (O) -> (N, O, OH, OW)."""
        xp = self.xp
        n, c = x.shape[:2]
        o, groups, (oh, ow) = w.shape[0], geo.groups, geo.out_hw
        wg = w.reshape(groups, o // groups, -1)
        if _pointwise(geo):  # per sample (G, O/G, C/G) @ (G, C/G, OH*OW): NCHW out, no im2col
            rows, cols = _taps(geo)
            xs = x[:, :, rows, cols].reshape(n, groups, c // groups, oh * ow)
            y = xp.matmul(wg, xs).reshape(n, o, oh, ow)
        else:
            y = xp.empty((n, o, oh, ow), dtype=xp.result_type(x, w))
            per = x.itemsize * c * geo.kernel[0] * geo.kernel[1] * oh * ow
            for s in _chunks(n, per):
                part = xp.matmul(wg, self._columns(x[s], geo))  # (G, O/G, n*OH*OW)
                y[s] = part.reshape(o, -1, oh, ow).transpose(1, 0, 2, 3)
        if bias is not None:
            y += bias.reshape(-1, 1, 1)
        return y

    def conv2d_input_grad(self, g: Array, w: Array, geo: WindowGeometry) -> Array:
        """The transposed convolution, ``conv2d``'s adjoint in ``x``: ``g`` (N, O, OH, OW),
        ``w`` (O, C/G, KH, KW) -> (N, C, H, W): a GEMM with ``w``, then ``col2im`` (stride 1:
        a convolution, as numpy_conv's)."""
        xp = self.xp
        n, o = g.shape[:2]
        groups = geo.groups
        c, kh, kw = w.shape[1] * groups, w.shape[2], w.shape[3]
        (oh, ow), (pt, pl), (h, wd) = geo.out_hw, geo.pad, geo.in_hw
        wt = w.reshape(groups, o // groups, -1).transpose(0, 2, 1)  # (G, C/G*KH*KW, O/G)
        dtype = xp.result_type(g, w)
        if _pointwise(geo):
            gs = g.reshape(n, groups, o // groups, oh * ow)
            part = xp.matmul(wt, gs).reshape(n, c, oh, ow)
            if geo.out_hw == geo.in_hw:
                return part
            img = xp.zeros((n, c, h, wd), dtype=dtype)
            img[(slice(None), slice(None)) + _taps(geo)] = part
            return img
        adjoint = geo.transposed()
        if adjoint is not None:
            # stride 1: the convolution of g with the flipped, transposed kernel. Its im2col
            # copy moves a third of the memory col2im's KH*KW read-modify-write passes do
            return self.conv2d(g, _flipped(w, groups), adjoint)
        img = xp.empty((n, c, h, wd), dtype=dtype)
        per = g.itemsize * c * kh * kw * oh * ow
        for s in _chunks(n, per):
            cols = xp.matmul(wt, self._grouped_out(g[s], groups))  # (G, C/G*KH*KW, n*OH*OW)
            cols = cols.reshape(c, kh, kw, -1, oh, ow).transpose(3, 0, 1, 2, 4, 5)
            img[s] = self.col2im(cols, (pt + h, pl + wd), geo.stride, geo.dilation)[:, :, pt:, pl:]
        return img

    def conv2d_weight_grad(self, x: Array, g: Array, geo: WindowGeometry) -> Array:
        """``conv2d``'s adjoint in ``w``: ``x`` (N, C, H, W), ``g`` (N, O, OH, OW) -> (O, C/G,
        KH, KW): a GEMM of ``g`` with im2col(x), summed over chunks of samples."""
        xp = self.xp
        n, c = x.shape[:2]
        o, groups, (kh, kw) = g.shape[1], geo.groups, geo.kernel
        gw = None
        per = x.itemsize * c * kh * kw * geo.out_hw[0] * geo.out_hw[1]
        for s in _chunks(n, per):
            part = xp.matmul(self._grouped_out(g[s], groups),
                             self._columns(x[s], geo).transpose(0, 2, 1))  # (G, O/G, C/G*KH*KW)
            if gw is None:
                gw = part
            else:
                gw += part
        if gw is None:  # an empty batch
            return xp.zeros((o, c // groups, kh, kw), dtype=xp.result_type(x, g))
        return gw.reshape(o, c // groups, kh, kw)

    # -- 1-d and 3-d convolution, on the 2-d kernels (numpy_convnd's folding) ----------------------
    def depth_windows(self, x: Array, kernel: int, stride: int, dilation: int, pad: int, out: int,
                      value: float = 0.0) -> Array:
        """``x`` (N, C, D, ...) -> a view (N, C, KD, OD, ...) with ``[n, c, kd, od] =
        padded[n, c, od*stride + kd*dilation]``, ``padded`` being ``x`` with ``pad`` slices of
        ``value`` in front and as many behind as the windows reach (or cropped there)."""
        d = x.shape[2]
        need = (out - 1) * stride + (kernel - 1) * dilation + 1
        if pad or need - d - pad > 0:
            padded = self.xp.full(x.shape[:2] + (need,) + x.shape[3:], value, dtype=x.dtype)
            padded[:, :, pad:pad + min(d, need - pad)] = x[:, :, :need - pad]
        else:
            padded = x
        s = padded.strides
        return self.as_strided(padded, x.shape[:2] + (kernel, out) + x.shape[3:],
                               s[:2] + (s[2] * dilation, s[2] * stride) + s[3:])

    def depth_col2im(self, cols: Array, size: int, stride: int, dilation: int, pad: int) -> Array:
        """Adjoint of ``depth_windows``: ``cols`` (N, C, KD, OD, ...) summed onto
        (N, C, size, ...); what falls into the padding is dropped."""
        n, c, kd, od = cols.shape[:4]
        full = max(size + pad, (od - 1) * stride + (kd - 1) * dilation + 1)
        img = self.xp.zeros((n, c, full) + cols.shape[4:], dtype=cols.dtype)
        for k in range(kd):
            start = k * dilation
            img[:, :, start:start + (od - 1) * stride + 1:stride] += cols[:, :, k]
        return img[:, :, pad:pad + size]

    def _folded(self, x: Array, geo: WindowGeometry) -> Array:
        """(N, C, D, H, W) -> (N*OD, C*KD, H, W), channels in (c, kd) order."""
        n, c = x.shape[:2]
        view = self.depth_windows(x, geo.kernel[0], geo.stride[0], geo.dilation[0], geo.pad[0],
                                  geo.out_hw[0])  # (N, C, KD, OD, H, W)
        return view.transpose(0, 3, 1, 2, 4, 5).reshape(
            (n * geo.out_hw[0], c * geo.kernel[0]) + x.shape[3:])

    def conv3d(self, x: Array, w: Array, geo: WindowGeometry) -> Array:
        """``x`` (N, C, D, H, W), ``w`` (O, C/G, KD, KH, KW) -> (N, O, OD, OH, OW)."""
        o, cg = w.shape[:2]
        y = self.conv2d(self._folded(x, geo), w.reshape((o, cg * w.shape[2]) + w.shape[3:]),
                        plane_geometry(geo))  # (N*OD, O, OH, OW)
        n, od = x.shape[0], geo.out_hw[0]
        return self.xp.ascontiguousarray(
            y.reshape((n, od) + y.shape[1:]).transpose(0, 2, 1, 3, 4))

    def _fold_out(self, g: Array) -> Array:
        """(N, O, OD, OH, OW) -> (N*OD, O, OH, OW)."""
        n, o, od = g.shape[:3]
        return self.xp.ascontiguousarray(g.transpose(0, 2, 1, 3, 4)).reshape(
            (n * od, o) + g.shape[3:])

    def conv3d_input_grad(self, g: Array, w: Array, geo: WindowGeometry) -> Array:
        """``conv3d``'s adjoint in ``x``: ``g`` (N, O, OD, OH, OW) -> (N, C, D, H, W)."""
        n, od = g.shape[0], g.shape[2]
        o, cg, kd = w.shape[:3]
        c = cg * geo.groups
        cols = self.conv2d_input_grad(self._fold_out(g), w.reshape((o, cg * kd) + w.shape[3:]),
                                      plane_geometry(geo))
        cols = cols.reshape((n, od, c, kd) + cols.shape[2:]).transpose(0, 2, 3, 1, 4, 5)
        return self.xp.ascontiguousarray(
            self.depth_col2im(cols, geo.in_hw[0], geo.stride[0], geo.dilation[0], geo.pad[0]))

    def conv3d_weight_grad(self, x: Array, g: Array, geo: WindowGeometry) -> Array:
        """``conv3d``'s adjoint in ``w``: -> (O, C/G, KD, KH, KW)."""
        gw = self.conv2d_weight_grad(self._folded(x, geo), self._fold_out(g),
                                     plane_geometry(geo))
        return gw.reshape((gw.shape[0], x.shape[1] // geo.groups, geo.kernel[0]) + gw.shape[2:])

    def conv1d(self, x: Array, w: Array, geo: WindowGeometry) -> Array:
        """``x`` (N, C, L), ``w`` (O, C/G, K) -> (N, O, OL): the 2-d one at height 1."""
        return self.conv2d(x[:, :, None], w[:, :, None], line_geometry(geo))[:, :, 0]

    def conv1d_input_grad(self, g: Array, w: Array, geo: WindowGeometry) -> Array:
        return self.conv2d_input_grad(g[:, :, None], w[:, :, None], line_geometry(geo))[:, :, 0]

    def conv1d_weight_grad(self, x: Array, g: Array, geo: WindowGeometry) -> Array:
        return self.conv2d_weight_grad(x[:, :, None], g[:, :, None], line_geometry(geo))[:, :, 0]

    # -- special functions (cupyx.scipy.special) ---------------------------------------------------
    @property
    def special(self) -> Any:
        """``cupyx.scipy.special``, imported on first use (CuPy loads it lazily)."""
        sp = self._special_module
        if sp is None:
            scipy = getattr(self.cupyx, "scipy", None)
            sp = getattr(scipy, "special", None)
            if sp is None:
                sp = importlib.import_module(self.cupyx.__name__ + ".scipy.special")
            self._special_module = sp
        return sp

    def _call(self, name: str, x: Array, *more: Any) -> Array:
        """``cupyx.scipy.special.<name>(x, *more)``, in ``x``'s floating dtype (CuPy computes
        float16 in float32), as numpy_special's kernels return it."""
        out = getattr(self.special, name)(x, *more)
        if _floating(x.dtype) and out.dtype != x.dtype:
            out = out.astype(x.dtype)
        return out

    def erf(self, x: Array) -> Array:
        return self._call("erf", x)

    def erfc(self, x: Array) -> Array:
        return self._call("erfc", x)

    def erfcx(self, x: Array) -> Array:
        return self._call("erfcx", x)

    def normal_cdf_pdf(self, x: Array) -> tuple[Array, Array]:
        return numpy_special.normal_cdf_pdf_by_erf(self.xp, self.erf, x)

    def gelu(self, x: Array) -> tuple:
        return numpy_special.gelu_by_cdf(self.normal_cdf_pdf, x)

    def gelu_backward(self, g: Array, x: Array, kept: Any) -> Array:
        return numpy_special.gelu_slope_times(g, x, self.normal_cdf_pdf(x) if kept is None
                                              else kept)

    def erfinv(self, x: Array) -> Array:
        return self._call("erfinv", x)

    def ndtri(self, x: Array) -> Array:
        return self._call("ndtri", x)

    def log_ndtr(self, x: Array) -> Array:
        return self._call("log_ndtr", x)

    def lgamma(self, x: Array) -> Array:
        return self._call("gammaln", x)

    def digamma(self, x: Array) -> Array:
        return self._call("digamma", x)

    def i0(self, x: Array) -> Array:
        return self._call("i0", x)

    def i0e(self, x: Array) -> Array:
        return self._call("i0e", x)

    def i1(self, x: Array) -> Array:
        return self._call("i1", x)

    def i1e(self, x: Array) -> Array:
        return self._call("i1e", x)

    def gammainc(self, a: Array, x: Array) -> Array:
        """The regularized lower incomplete gamma function P(a, x)."""
        return self.special.gammainc(a, x)

    def gammaincc(self, a: Array, x: Array) -> Array:
        """The regularized upper incomplete gamma function Q(a, x)."""
        return self.special.gammaincc(a, x)

    def zeta(self, s: Any, q: Any) -> Array:
        """The Hurwitz zeta function, float64 (as numpy_special's)."""
        xp = self.xp
        return self.special.zeta(xp.asarray(s, dtype=xp.float64),
                                 xp.asarray(q, dtype=xp.float64))

    def polygamma(self, n: int, x: Array) -> Array:
        """The n-th derivative of digamma: ``(-1)^(n+1) n! zeta(n + 1, x)`` for n >= 1 (Cephes'
        zeta sums directly from a negative ``x``, so no shift is needed there), in ``x``'s
        floating dtype. (cupyx's own polygamma wants ``n`` as an array.)"""
        if n == 0:
            return self.digamma(x)
        xd = x.astype(self.xp.float64)
        out = self.special.zeta(float(n + 1), xd)
        out *= (-1.0) ** (n + 1) * math.factorial(n)
        return out.astype(x.dtype, copy=False) if _floating(x.dtype) else out

    def spherical_bessel_j0(self, x: Array) -> Array:
        """``sin(x) / x``, 1 at 0, 0 at +-inf."""
        xp = self.xp
        xd = x.astype(xp.float64)
        out = xp.where(xd == 0, 1.0, xp.sin(xd) / xp.where(xd == 0, 1.0, xd))
        out = xp.where(xp.isinf(xd), 0.0, out)
        return out.astype(x.dtype, copy=False) if _floating(x.dtype) else out

    def bessel(self, name: str, x: Array) -> Array:
        """The kernel ``name`` (``numpy_bessel.KERNELS``' names) of ``x``, in ``x``'s dtype;
        ``airy_ai``, which CuPy lacks, runs on the host (a sync)."""
        if name in _BESSEL:
            return self._call(_BESSEL[name], x)
        numpy_bessel.KERNELS[name]  # (a KeyError names an unknown kernel first)
        return self._on_host(numpy_bessel.bessel, name, x)

    def orthogonal_polynomial(self, kind: str, x: Any, n: Any) -> Array:
        """numpy_special's orthogonal polynomials of degree ``n`` at ``x`` (float64). CuPy has
        no whole-array equivalent, and the recurrence's length is the largest degree, which the
        host must read anyway: this runs on the host (a sync), as a rare op without gradients."""
        return self._on_host(numpy_special.orthogonal_polynomial, kind, x, n)

    def _on_host(self, fn: Any, *args: Any) -> Array:
        """``fn`` (a NumPy kernel) on host copies of the device arrays among ``args``, its result
        copied back to their GPU."""
        index = next((a.device.id for a in args if isinstance(a, self.array_type)), None)
        host = [a.get() if isinstance(a, self.array_type) else a for a in args]
        out = fn(*host)
        if index is None:
            index = self.xp.cuda.get_device_id()
        return self.from_host(np.asarray(out), index)


# -- loading -----------------------------------------------------------------------------------------
_modules: tuple | None = None  # (cupy, cupyx) given to ``use_module``
_backend: CupyBackend | None = None


def use_module(cupy: Any, cupyx: Any) -> None:
    """Makes the next ``load()`` build the backend over ``cupy``/``cupyx`` (a test hook: the
    fake device); ``use_module(None, None)`` goes back to importing CuPy. A backend already
    loaded is unregistered."""
    global _modules, _backend
    if _backend is not None:
        from . import unregister

        unregister(_backend)
        _backend = None
    _modules = None if cupy is None else (cupy, cupyx)


def load() -> CupyBackend:
    """The CUDA backend, built and registered with ``ember.backend`` on the first call (which
    imports CuPy, unless ``use_module`` gave a module). Raises ``ImportError`` with the install
    hint when CuPy is missing."""
    global _backend
    if _backend is not None:
        return _backend
    if _modules is not None:
        cupy, cupyx = _modules
    else:
        try:
            cupy = importlib.import_module("cupy")
            cupyx = importlib.import_module("cupyx")
        except ImportError as e:
            raise ImportError(INSTALL_HINT) from e
    backend = CupyBackend(cupy, cupyx)
    from . import register

    register(backend)
    _backend = backend
    return backend


def loaded() -> CupyBackend | None:
    """The CUDA backend if ``load()`` has built it, else None (never imports CuPy)."""
    return _backend

