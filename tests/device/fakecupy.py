"""A fake CUDA device for CPU-only CI: a CuPy 14.2-shaped namespace over NumPy.

``cupy`` and ``cupyx`` below look like the real modules to ember's CuPy backend: their names are
exactly those of CuPy 14.2's API dump (``cupy_api_14.2.json``, made by ``tools/gen_cupy_api.py``),
keywords CuPy does not take are refused, and the array type, ``cupy.ndarray``, wraps a NumPy array
(it is not a subclass) and behaves as CuPy's does towards the host:

- **hard violations** (``TypeError``/``AttributeError`` in strict mode, the default; recorded and
  carried on with NumPy when ``FAKECUPY_STRICT=0`` or after ``set_strict(False)``): implicit
  conversion to NumPy (``__array__``, ``__array_interface__``, ``__array_struct__``, ``.ctypes``),
  a host ``numpy.ndarray`` (or list) as an operand, a name or keyword CuPy lacks (``__index__``
  included: CuPy's arrays have none), an array used on another device than the current one;
- **soft findings** (always allowed, recorded): device-to-host syncs (``item``, ``tolist``,
  ``bool``/``int``/``float``, ``get``, ``asnumpy``, iteration, printing, boolean masks and the
  other data-dependent shapes), ``np.f(device_array)`` dispatch, host index arrays, host values
  written into device arrays, out-of-bounds integer indices (CuPy wraps them), argument-less
  ``get_array_module()``.

Behaviours beyond the dump (0-d views, ``T``, ``astype``, comparisons with None, wrapping, which
calls sync) follow CuPy 14's ``core.pyx`` and ``_routines_indexing.pyx``. The memory pool counts
the live bytes of every fake allocation (a weak reference per fresh NumPy array).

Findings are keyed by the first frame inside ``ember/`` (``"ember/ops/indexing.py:200"``), or the
first caller outside this module and NumPy when no ember frame is on the stack. dtypes are NumPy's
own (``cupy.float32 is numpy.float32``), as in CuPy. A name CuPy has that the fake cannot back
raises ``NotImplementedError`` naming it when called.
"""
from __future__ import annotations
import __future__

import contextlib
import functools
import importlib.util
import json
import math
import os
import sys
import time
import types
import warnings
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

API_PATH = Path(__file__).with_name("cupy_api_14.2.json")
API: dict = json.loads(API_PATH.read_text())
VERSION = API["_meta"]["cupy"]

DEVICE_COUNT = 1                  # what cupy.cuda.runtime.getDeviceCount() answers (settable)
DEVICE_MEMORY = 80 * 2**30        # totalGlobalMem of each fake device
DEVICE_NAME = b"fakecuda (NumPy)"

HARD = ("host_conversion", "host_operand", "missing_name", "bad_keyword", "device_mismatch")
SOFT = ("sync", "numpy_dispatch", "host_index", "host_transfer", "index_wrap",
        "get_array_module_noarg")

_CONVERSION = ("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
               "construct a NumPy array explicitly.")

_strict: bool = os.environ.get("FAKECUPY_STRICT", "1") != "0"
_findings: dict[str, Counter] = defaultdict(Counter)
_sync_whats: Counter = Counter()
_sync_sites: dict[str, Counter] = defaultdict(Counter)  # what -> sites
_allow_sync: bool = True          # cupyx.allow_synchronize(False) makes syncs raise
_device: int = 0                  # the current device (cupy.cuda.Device(i).use())


# ---------------------------------------------------------------------------------------------
# findings

def set_strict(strict: bool) -> None:
    """Strict: a hard violation raises as CuPy would. Record: it is recorded, NumPy carries on."""
    global _strict
    _strict = bool(strict)


def is_strict() -> bool:
    """Whether hard violations raise."""
    return _strict


def findings() -> dict[str, Counter]:
    """Kind -> Counter of ``"file:line"`` sites (see ``HARD`` and ``SOFT`` for the kinds)."""
    return {kind: Counter(sites) for kind, sites in _findings.items() if sites}


def reset_findings() -> None:
    """Forget every finding and the sync count."""
    _findings.clear()
    _sync_whats.clear()
    _sync_sites.clear()


def sync_sites(what: str | None = None) -> dict[str, Counter] | Counter:
    """The syncs' sites by kind (``{"item": Counter(sites), "mask": ...}``), or one kind's."""
    if what is not None:
        return Counter(_sync_sites.get(what, ()))
    return {w: Counter(sites) for w, sites in _sync_sites.items()}


def sync_count(what: str | None = None) -> int:
    """Device-to-host syncs since the last reset (only those of one kind, e.g. ``"item"``)."""
    return sum(_sync_whats.values()) if what is None else _sync_whats[what]


def _ember_dir() -> str:
    spec = importlib.util.find_spec("ember")  # finds the package without importing it
    if spec is None or spec.origin is None:
        return os.sep + "ember" + os.sep
    return str(Path(spec.origin).parent) + os.sep


_EMBER_DIR = _ember_dir()
_SKIP = (str(Path(__file__).resolve()), __file__, str(Path(np.__file__).parent) + os.sep)


def _site() -> str:
    """``ember/<file>:<line>`` of the innermost ember frame, else the first frame that is neither
    this module nor NumPy."""
    f = sys._getframe(2)
    first = None
    while f is not None:
        name = f.f_code.co_filename
        if name.startswith(_EMBER_DIR):
            return f"ember/{name[len(_EMBER_DIR):]}:{f.f_lineno}"
        if first is None and not name.startswith(_SKIP) and name not in _SKIP:
            first = f"{name}:{f.f_lineno}"
        f = f.f_back
    return first or "?"


def _record(kind: str) -> None:
    _findings[kind][_site()] += 1


def _violation(kind: str, message: str, exc: type = TypeError) -> None:
    """A hard violation: raise (strict) or record and let the caller carry on."""
    _findings[kind][_site()] += 1
    if _strict:
        raise exc(message)


def _sync(what: str) -> None:
    """A device-to-host synchronisation: allowed, counted, attributed."""
    if not _allow_sync:
        raise _DeviceSynchronized(f"Device synchronization was detected ({what}) while it is "
                                  "disallowed by cupyx.allow_synchronize(False)")
    _sync_whats[what] += 1
    site = _site()
    _findings["sync"][site] += 1
    _sync_sites[what][site] += 1


class _DeviceSynchronized(RuntimeError):
    """cupyx.DeviceSynchronized."""


# ---------------------------------------------------------------------------------------------
# memory: the live bytes of every device allocation, per device

_MAX_DEVICES = 64            # DEVICE_COUNT may be set up to this
_used = [0] * _MAX_DEVICES   # bytes of live arrays, per device
_held = [0] * _MAX_DEVICES   # bytes of freed blocks the pool caches, per device
_live: dict[int, weakref.ref] = {}  # id of an allocation's NumPy array -> its weak reference
_weakref = weakref.ref
_partial = functools.partial


class MemoryPool:
    """cupy.cuda.MemoryPool: bytes of live fake arrays (rounded up to CuPy's 512-byte blocks) and
    of freed blocks the pool caches until ``free_all_blocks``, on the current device."""

    def __init__(self) -> None:
        self._limit: dict[int, int] = {}

    def used_bytes(self) -> int:
        """Bytes held by live arrays."""
        return _used[_device]

    def free_bytes(self) -> int:
        """Bytes of freed blocks the pool keeps for reuse."""
        return _held[_device]

    def total_bytes(self) -> int:
        """Used plus cached bytes."""
        return _used[_device] + _held[_device]

    def free_all_blocks(self, stream: Any = None) -> None:
        """Give the cached blocks back to the device."""
        _held[_device] = 0

    def n_free_blocks(self) -> int:
        """Cached blocks (the fake counts one while any bytes are cached)."""
        return int(_held[_device] > 0)

    def set_limit(self, size: int | None = None, fraction: float | None = None) -> None:
        """Record the pool's limit, which ``_track`` enforces (0: none)."""
        self._limit[_device] = int(size if size is not None else (fraction or 0) * DEVICE_MEMORY)

    def get_limit(self) -> int:
        """The limit set by ``set_limit`` (0: none)."""
        return self._limit.get(_device, 0)

    def malloc(self, size: int) -> _MemoryPointer:
        """A pointer to ``size`` bytes on the current device. The fake's arrays are NumPy's: their
        bytes are counted when they are made, and an allocator installed with
        ``cupy.cuda.set_allocator`` (ember.cuda's peak tracker) is called right after."""
        return _MemoryPointer(0, size, _device)


_allocator: list = [None]  # cupy.cuda.set_allocator's, called for every fake allocation


def set_allocator(allocator: Callable | None = None) -> None:
    """cupy.cuda.set_allocator: ``allocator(size)`` then sees every device allocation."""
    _allocator[0] = allocator


class PinnedMemoryPool:
    """cupy.cuda.PinnedMemoryPool: host memory, nothing to track."""

    def free_all_blocks(self) -> None:
        """Nothing is cached."""

    def n_free_blocks(self) -> int:
        """No cached blocks."""
        return 0


_POOL = MemoryPool()
_PINNED_POOL = PinnedMemoryPool()


class OutOfMemoryError(MemoryError):
    """cupy.cuda.memory.OutOfMemoryError: raised when an allocation would pass the pool's limit
    (``set_limit``; ``DEVICE_MEMORY`` without one), with CuPy's arguments and message."""

    def __init__(self, size: int, total: int, limit: int = 0) -> None:
        self._size, self._total, self._limit = size, total, limit
        super().__init__(f"Out of memory allocating {size:,} bytes (allocated so far: "
                         f"{total:,} bytes, limit set to: {limit:,} bytes).")


def _check_room(n: int, device: int) -> None:
    limit = _POOL._limit.get(device) or DEVICE_MEMORY
    if _used[device] + n > limit:
        raise OutOfMemoryError(n, _used[device], limit)


def _track(a: np.ndarray, device: int) -> None:
    """Count ``a``'s memory on ``device`` until NumPy frees it (a weak reference's callback: the
    cheapest hook NumPy offers, about 0.4 us an allocation)."""
    n = (a.nbytes + 511) & -512
    _check_room(n, device)
    key = id(a)
    _live[key] = _weakref(a, _partial(_free, key, device, n))
    _used[device] += n
    if _held[device]:  # a cached block is reused first, as in CuPy's pool
        _held[device] = max(0, _held[device] - n)
    if _allocator[0] is not None:
        _allocator[0](n)


def _free(key: int, device: int, n: int, _ref: Any = None) -> None:
    del _live[key]
    _used[device] -= n
    _held[device] += n


# ---------------------------------------------------------------------------------------------
# wrapping and unwrapping

_new = object.__new__

# CuPy reports no floating-point errors (inf - inf, 0/0): NumPy's warnings are turned off around
# each NumPy call by swapping its error-state context variable (0.2 us; np.errstate costs 1 us)
try:
    from numpy._core._ufunc_config import _extobj_contextvar as _ERRSTATE
    from numpy._core.umath import _make_extobj

    _QUIET = _make_extobj(all="ignore")
except (ImportError, TypeError):  # another NumPy's internals: warnings stay on
    class _NoErrorState:
        def set(self, value: Any) -> None:
            return None

        def reset(self, token: Any) -> None:
            return None

    _ERRSTATE, _QUIET = _NoErrorState(), None


def _wrap(r: np.ndarray) -> ndarray:
    """A device array over NumPy's result ``r`` on the current device."""
    base = r.base
    if base is None:
        key = id(r)
        if key not in _live:  # _track, inlined: this is the fake's hottest path
            n = (r.nbytes + 511) & -512
            device = _device
            _check_room(n, device)
            _live[key] = _weakref(r, _partial(_free, key, device, n))
            _used[device] += n
            if _held[device]:
                _held[device] = max(0, _held[device] - n)
            if _allocator[0] is not None:
                _allocator[0](n)
    else:
        while type(base) is np.ndarray and base.base is not None:
            base = base.base
        if type(base) is np.ndarray and id(base) not in _live:
            _track(base, _device)
        if not r.flags.writeable:  # CuPy has no read-only arrays: broadcast views are writable
            try:
                r.flags.writeable = True
            except ValueError:  # a view of a read-only view: the same memory, rebuilt writable
                r = _writable_view(r)
    o = _new(ndarray)
    o._a = r
    o._dev = _device
    o.dtype = r.dtype
    return o


def _writable_view(r: np.ndarray) -> np.ndarray:
    """``r`` over the same memory, writable: rebuilt on its owning array's buffer, found through
    any chain of bases (as_strided's interface objects included); a copy only where the owner is
    read-only or NumPy refuses the view."""
    root = r
    while getattr(root, "base", None) is not None:
        root = root.base
    if type(root) is np.ndarray and root.flags.writeable:
        offset = r.__array_interface__["data"][0] - root.__array_interface__["data"][0]
        try:
            return np.ndarray(r.shape, r.dtype, buffer=root, offset=offset, strides=r.strides)
        except (TypeError, ValueError):  # a negative offset and the like
            pass
    r = r.copy()
    _track(r, _device)
    return r


def _wrap_any(r: Any) -> Any:
    """NumPy results to device results: arrays wrapped, NumPy scalars become 0-d arrays."""
    t = type(r)
    if t is np.ndarray:
        return _wrap(r)
    if isinstance(r, np.generic):
        return _wrap(np.asarray(r))
    if t is tuple or t is list:
        return t(_wrap_any(e) for e in r)
    if isinstance(r, tuple):  # a namedtuple (linalg's results, unique_all, ...)
        return t(*(_wrap_any(e) for e in r))
    return r


def _mismatch(x: ndarray) -> None:
    _violation("device_mismatch", f"Array device must be same as the current device: array "
               f"device = {x._dev} while current = {_device}", ValueError)


def _host_operand(x: Any) -> Any:
    _violation("host_operand", f"Unsupported type {type(x)}")
    return x


def _unwrap(x: Any) -> Any:
    """An argument of a device function: device arrays to NumPy, host arrays refused, lists and
    tuples looked into."""
    t = type(x)
    if t is ndarray:
        if x._dev != _device:
            _mismatch(x)
        return x._a
    if t is np.ndarray:
        return _host_operand(x)
    if t is list or t is tuple:
        return _unwrap_seq(x)
    return x


def _unwrap_seq(seq: list | tuple) -> list | tuple:
    for e in seq:
        if type(e) in _CONTAINERS:
            return type(seq)(_unwrap(e) for e in seq)
    return seq


def _operand(x: Any) -> Any:
    """An operand of a ufunc or operator: device arrays and scalars only, as CuPy."""
    t = type(x)
    if t is ndarray:
        if x._dev != _device:
            _mismatch(x)
        return x._a
    if t in _SCALARS or isinstance(x, (int, float, complex, np.generic)):
        return x
    return _host_operand(x)


def _as_host(x: Any) -> Any:
    """Explicit host copies (cupy.testing, asnumpy): device arrays read back, no check."""
    if type(x) is ndarray:
        return x._a
    if type(x) in (list, tuple):
        return type(x)(_as_host(e) for e in x)
    return x


_SCALARS = frozenset({int, float, complex, bool}
                     | {t for t in np.sctypeDict.values() if isinstance(t, type)})


def _check_keywords(qual: str, kw: dict, allowed: frozenset) -> None:
    for k in kw:
        if k not in allowed:
            _violation("bad_keyword", f"{qual}() got an unexpected keyword argument '{k}'")


def _params(spec: dict) -> frozenset | None:
    """Keyword names a JSON entry accepts (None: any). Cython docstrings keep a type word
    (``int axis``): the name is the last word."""
    params = spec.get("params")
    if params is None or params == "*":
        return None
    return frozenset(p.split()[-1] for p in params)


def _unbacked(qual: str) -> Callable:
    def unbacked(*args: Any, **kw: Any) -> Any:
        raise NotImplementedError(f"fakecupy: {qual} is in CuPy {VERSION} but not backed by the "
                                  "fake device")
    unbacked.__name__ = qual.rsplit(".", 1)[-1]
    unbacked.__qualname__ = qual
    return unbacked


# calls that move or make data without arithmetic raise no floating-point warning: they skip the
# error-state swap (a fifth of a reshape's cost in the fake)
_NO_FP = frozenset({
    "reshape", "transpose", "ravel", "flatten", "squeeze", "swapaxes", "moveaxis", "rollaxis",
    "expand_dims", "view", "copy", "diagonal", "diag", "repeat", "tile", "take", "put", "fill",
    "nonzero", "argwhere", "flatnonzero", "argsort", "sort", "argpartition", "partition", "conj",
    "conjugate", "searchsorted", "compress", "choose", "byteswap", "concatenate", "concat",
    "stack", "hstack", "vstack", "dstack", "column_stack", "split", "array_split", "broadcast_to",
    "broadcast_arrays", "atleast_1d", "atleast_2d", "atleast_3d", "zeros", "ones", "empty", "full",
    "zeros_like", "ones_like", "empty_like", "full_like", "eye", "identity", "tri", "tril", "triu",
    "ascontiguousarray", "asfortranarray", "flip", "fliplr", "flipud", "roll", "rot90",
    "take_along_axis", "put_along_axis", "where", "shape", "ndim", "size", "result_type",
    "can_cast", "may_share_memory", "shares_memory", "permute_dims", "matrix_transpose", "indices",
    "ix_", "meshgrid"})


# parameters CuPy reads on the host (shapes, pad widths, sizes, split points): a NumPy array
# there is data for the call, not a host operand
_HOST_PARAMS = frozenset({"shape", "newshape", "new_shape", "reps", "size", "dims", "dimensions",
                          "pad_width", "constant_values", "end_values", "stat_length",
                          "indices_or_sections", "repeats"})


def _host_params(spec: dict) -> tuple | None:
    """(positions, names) of ``spec``'s host parameters, or None when it has none."""
    params = spec.get("params")
    if not isinstance(params, list):
        return None
    names = [p.split()[-1] for p in params]
    positions = frozenset(i for i, n in enumerate(names) if n in _HOST_PARAMS)
    return (positions, frozenset(names) & _HOST_PARAMS) if positions else None


def _function(qual: str, fn: Callable, allowed: frozenset | None,
              sync: str | None = None, host: tuple | None = None) -> Callable:
    """A device function over NumPy's ``fn``: keywords checked, arrays unwrapped and wrapped
    (``host``: positions and names of parameters that may be NumPy arrays)."""
    quiet = qual.rsplit(".", 1)[-1] not in _NO_FP
    host_at, host_kw = host or ((), ())

    def device_function(*args: Any, **kw: Any) -> Any:
        out = None
        if kw:
            if allowed is not None:
                _check_keywords(qual, kw, allowed)
            out = kw.get("out")
            kw = {k: v if k in host_kw and type(v) is np.ndarray else _unwrap(v)
                  for k, v in kw.items()}
        if sync is not None:
            _sync(sync)
        if host is None:
            if len(args) == 1:  # the common case, with _unwrap inlined for a device array here
                a0 = args[0]
                args = (a0._a,) if type(a0) is ndarray and a0._dev == _device else (_unwrap(a0),)
            else:
                args = tuple(map(_unwrap, args))
        else:
            args = tuple(a if i in host_at and type(a) is np.ndarray else _unwrap(a)
                         for i, a in enumerate(args))
        if quiet:
            token = _ERRSTATE.set(_QUIET)
            try:
                r = fn(*args, **kw)
            finally:
                _ERRSTATE.reset(token)
        else:
            r = fn(*args, **kw)
        if type(r) is np.ndarray:
            return out if type(out) is ndarray and r is out._a else _wrap(r)
        return _wrap_any(r)
    device_function.__name__ = qual.rsplit(".", 1)[-1]
    device_function.__qualname__ = qual
    device_function.__doc__ = f"{qual} on the fake device (NumPy's {getattr(fn, '__name__', fn)})."
    return device_function


# ---------------------------------------------------------------------------------------------
# ufuncs

_UFUNC_KW = frozenset({"out", "casting", "dtype"})
_REDUCE_KW = {"reduce": frozenset({"axis", "dtype", "out", "keepdims"}),
              "accumulate": frozenset({"axis", "dtype", "out"}),
              "reduceat": frozenset({"axis", "dtype", "out"}),
              "outer": _UFUNC_KW, "at": frozenset()}


class ufunc:
    """cupy.ufunc: NumPy's ufunc (or a whole-array function) with CuPy's keywords and methods."""

    __slots__ = ("__name__", "_f", "_methods", "_qual", "name", "nin", "nout")

    def __init__(self, qual: str, f: Callable, methods: tuple = (), nin: int = 1,
                 nout: int = 1) -> None:
        self._qual = qual
        self.__name__ = self.name = qual.replace(".", "_")  # CuPy's: cupy_exp, cupyx_rsqrt
        self._f = f
        self._methods = frozenset(methods)
        self.nin = getattr(f, "nin", nin)
        self.nout = getattr(f, "nout", nout)

    @property
    def nargs(self) -> int:
        """Inputs plus outputs."""
        return self.nin + self.nout

    @property
    def types(self) -> list:
        """NumPy's type signatures ([] for a function-backed ufunc)."""
        return list(getattr(self._f, "types", []))

    def __repr__(self) -> str:
        return f"<ufunc '{self.__name__}'>"

    def __call__(self, *args: Any, **kw: Any) -> Any:
        out = None
        if kw:
            for k in kw:
                if k not in _UFUNC_KW:
                    _violation("bad_keyword", f"Wrong arguments {kw}")
            out = kw.get("out")
            if type(out) is tuple and len(out) == 1:  # NumPy's __array_ufunc__ passes out=(a,)
                out = out[0]
            if out is not None:
                kw["out"] = (tuple(_operand(o) for o in out) if type(out) is tuple
                             else _operand(out))
        if len(args) == 2:  # the common case, with _operand inlined for device arrays
            a, b = args
            if type(a) is ndarray and a._dev == _device:
                a = a._a
            else:
                a = _operand(a)
            if type(b) is ndarray and b._dev == _device:
                b = b._a
            else:
                b = _operand(b)
            args = (a, b)
        elif len(args) == 1:
            args = (_operand(args[0]),)
        else:
            args = tuple(map(_operand, args))
        f = self._f
        token = _ERRSTATE.set(_QUIET)
        try:
            r = f(*args, **kw) if type(f) is np.ufunc else _call_function_ufunc(f, args, kw)
        finally:
            _ERRSTATE.reset(token)
        if out is None and type(r) is np.ndarray:
            return _wrap(r)
        if out is not None:
            if type(out) is ndarray:
                return out
            if type(out) is tuple and type(r) is tuple:
                return out
        return _wrap_any(r)

    def _method(self, method: str, args: tuple, kw: dict) -> Any:
        if method not in self._methods:
            raise AttributeError(f"'ufunc' object has no attribute '{method}'")
        if type(self._f) is not np.ufunc:
            raise NotImplementedError(f"fakecupy: {self._qual}.{method} is not backed by the "
                                      "fake device")
        allowed = _REDUCE_KW[method]
        out = None
        if kw:
            _check_keywords(f"{self._qual}.{method}", kw, allowed)
            out = kw.get("out")
            kw = {k: _operand(v) if k == "out" else v for k, v in kw.items()}
        if method == "at":  # at(a, indices, b=None): indices may be arrays or tuples of them
            a, idx, *rest = args
            if type(a) is not ndarray:
                _host_operand(a)
            target, values = _operand(a), [_operand(b) for b in rest]
            _indexed(lambda k: self._f.at(target, k, *values), idx, a.shape)
            return None
        if method == "reduceat":
            args = (_operand(args[0]), _unwrap(args[1])) + tuple(args[2:])
        elif method == "outer":
            args = tuple(_operand(a) for a in args)
        else:
            args = (_operand(args[0]),) + tuple(args[1:])
        token = _ERRSTATE.set(_QUIET)
        try:
            r = getattr(self._f, method)(*args, **kw)
        finally:
            _ERRSTATE.reset(token)
        return out if type(out) is ndarray and r is out._a else _wrap_any(r)

    def at(self, *args: Any, **kw: Any) -> None:
        """Unbuffered in-place ``a[indices] op= b`` (``add.at``: scatter-add)."""
        return self._method("at", args, kw)

    def reduce(self, *args: Any, **kw: Any) -> Any:
        """Reduce along an axis."""
        return self._method("reduce", args, kw)

    def accumulate(self, *args: Any, **kw: Any) -> Any:
        """Accumulate along an axis."""
        return self._method("accumulate", args, kw)

    def reduceat(self, *args: Any, **kw: Any) -> Any:
        """Reduce over slices (``add.reduceat``: segment sums)."""
        return self._method("reduceat", args, kw)

    def outer(self, *args: Any, **kw: Any) -> Any:
        """Every pair of elements."""
        return self._method("outer", args, kw)


def _call_function_ufunc(f: Callable, args: list, kw: dict) -> Any:
    """A whole-array function as a ufunc: ``dtype`` casts the inputs, ``out`` receives it."""
    dtype = kw.get("dtype")
    if dtype is not None:
        args = [np.asarray(a, dtype=dtype) for a in args]
    r = f(*args)
    out = kw.get("out")
    if out is not None:
        np.copyto(out, r, casting=kw.get("casting", "same_kind"))
        return out
    return r


# ---------------------------------------------------------------------------------------------
# indexing

def _wrap_index(a: np.ndarray, n: int) -> np.ndarray:
    """CuPy wraps out-of-bounds integer indices instead of raising: do so, and say where."""
    if a.size and n and (a.min() < -n or a.max() >= n):
        _record("index_wrap")
        return np.mod(a, n)
    return a


def _index(key: Any, shape: tuple, wrap: bool = False, mask: bool = True) -> Any:
    """A device index to NumPy's: device index arrays unwrapped (``wrap``: out-of-bounds integers
    wrapped as CuPy does; ``mask``: boolean masks counted as syncs, their result's size is read
    back)."""
    t = type(key)
    if t is int or t is slice or key is None or key is Ellipsis:
        return key
    if t is ndarray:  # the common gather, a[idx]
        if key._dev != _device:
            _mismatch(key)
        a = key._a
        if a.dtype.kind == "b":
            if mask:
                _sync("mask")
        elif wrap and shape:
            a = _wrap_index(a, shape[0])
        return a
    if t is not tuple:
        return _index((key,), shape, wrap, mask)[0]
    for e in key:
        if type(e) in _INDEX_ARRAYS:
            break
    else:
        return key
    n_axes = sum(_axes_used(e) for e in key)
    out = []
    axis = 0
    for e in key:
        te = type(e)
        if te is ndarray or te is np.ndarray:
            if te is np.ndarray:
                _record("host_index")
                a = e
            else:
                if e._dev != _device:
                    _mismatch(e)
                a = e._a
            if a.dtype == np.bool_:
                if mask:
                    _sync("mask")
                axis += a.ndim
            else:
                if wrap and a.dtype.kind in "iu" and axis < len(shape):
                    a = _wrap_index(a, shape[axis])
                axis += 1
            out.append(a)
        elif te is list:  # CuPy turns a list into an index array: it wraps too
            e = _unwrap_seq(e)
            if wrap and axis < len(shape):
                a = np.asarray(e)
                if a.dtype.kind in "iu":
                    e = _wrap_index(a, shape[axis])
            out.append(e)
            axis += 1
        else:
            if e is Ellipsis:
                axis += len(shape) - n_axes
            elif e is not None:
                axis += 1
            out.append(e)
    return tuple(out)


def _indexed(fn: Callable, key: Any, shape: tuple, mask: bool = True) -> Any:
    """``fn(numpy_key)``, with out-of-bounds integer indices wrapped as CuPy does. NumPy raises
    IndexError for them, and only then are the indices checked and wrapped: no bounds check on
    the way that succeeds. Other IndexErrors come back from the second try."""
    try:
        return fn(_index(key, shape, False, mask))
    except IndexError:
        return fn(_index(key, shape, True, False))


def _axes_used(e: Any) -> int:
    if e is None or e is Ellipsis:
        return 0
    if type(e) in (ndarray, np.ndarray):
        a = e._a if type(e) is ndarray else e
        return a.ndim if a.dtype == np.bool_ else 1
    return 1


# ---------------------------------------------------------------------------------------------
# the array

class _Flags:
    """CuPy's flags: c_contiguous, f_contiguous, owndata, read-only; no ``writeable``."""

    __slots__ = ("_a",)

    def __init__(self, a: np.ndarray) -> None:
        self._a = a

    @property
    def c_contiguous(self) -> bool:
        """Row-major contiguous."""
        return self._a.flags.c_contiguous

    @property
    def f_contiguous(self) -> bool:
        """Column-major contiguous."""
        return self._a.flags.f_contiguous

    @property
    def owndata(self) -> bool:
        """Not a view."""
        return self._a.base is None

    def __getitem__(self, name: str) -> bool:
        key = {"C_CONTIGUOUS": "c_contiguous", "F_CONTIGUOUS": "f_contiguous",
               "OWNDATA": "owndata"}.get(name)
        if key is None:
            raise KeyError(f"{name} is not defined for cupy.ndarray.flags")
        return getattr(self, key)

    def __getattr__(self, name: str) -> Any:
        _violation("missing_name", f"'cupy._core.flags.Flags' object has no attribute '{name}'",
                   AttributeError)
        return getattr(self._a.flags, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_a":
            object.__setattr__(self, name, value)
            return
        raise AttributeError(f"attribute '{name}' of 'cupy._core.flags.Flags' objects is not "
                             "writable")

    def __repr__(self) -> str:
        return "\n".join(f"  {k.upper()} : {getattr(self, k)}"
                         for k in ("c_contiguous", "f_contiguous", "owndata"))


class _MemoryPointer:
    """cupy.cuda.MemoryPointer, enough for ``a.data.ptr``, ``a.data.mem.size``, ``device_id``
    (cheap: an installed allocator makes one per allocation)."""

    __slots__ = ("device_id", "ptr", "size")

    def __init__(self, ptr: int, size: int, device: int) -> None:
        self.ptr = ptr
        self.size = size
        self.device_id = device

    @property
    def mem(self) -> types.SimpleNamespace:
        """The allocation (``size``, ``ptr``)."""
        return types.SimpleNamespace(size=self.size, ptr=self.ptr)

    @property
    def device(self) -> Device:
        """The memory's device."""
        return Device(self.device_id)


class ndarray:
    """cupy.ndarray on the fake device: a NumPy array in ``_a``, on device ``_dev``."""

    # dtype is a slot, set once per array: ember reads it about twice per array made, and a slot
    # read costs no Python call (a property's does)
    __slots__ = ("__weakref__", "_a", "_dev", "dtype")
    __array_priority__ = 100.0  # CuPy's: NumPy defers mixed binary operators to it

    def __init__(self, shape: Any, dtype: Any = float, memptr: Any = None, strides: Any = None,
                 order: str = "C") -> None:
        if memptr is not None:
            raise NotImplementedError("fakecupy: cupy.ndarray(memptr=...) is not backed")
        if strides is not None:  # CuPy's own rule
            raise ValueError("memptr is required if strides is given.")
        a = np.empty(shape, dtype, order=order)
        _track(a, _device)
        self._a = a
        self._dev = _device
        self.dtype = a.dtype

    # -- host conversion: what CuPy refuses ---------------------------------------------------
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        _violation("host_conversion", _CONVERSION)
        return self._a if dtype is None else self._a.astype(dtype)

    # CuPy has neither: an AttributeError, so hasattr() is False as on CuPy and NumPy's
    # conversions go on to __array__'s TypeError; recorded all the same
    @property
    def __array_interface__(self) -> dict:
        _violation("host_conversion", "'cupy.ndarray' object has no attribute "
                   "'__array_interface__'", AttributeError)
        return self._a.__array_interface__

    @property
    def __array_struct__(self) -> Any:
        _violation("host_conversion", "'cupy.ndarray' object has no attribute "
                   "'__array_struct__'", AttributeError)
        return self._a.__array_struct__

    @property
    def ctypes(self) -> Any:
        """Missing on CuPy's arrays (host pointers)."""
        _violation("host_conversion", "'cupy.ndarray' object has no attribute 'ctypes'",
                   AttributeError)
        return self._a.ctypes

    def __array_ufunc__(self, uf: np.ufunc, method: str, *inputs: Any, **kw: Any) -> Any:
        # NEP 13: np.exp(dev) and np_scalar * dev reach CuPy's ufunc of the same name
        target = _ufunc_for(uf.__name__)
        if target is None:
            _violation("missing_name", f"operand type(s) all returned NotImplemented from "
                       f"__array_ufunc__({uf!r}, {method!r}, ...)")
            return _wrap_any(getattr(uf, method)(*[_as_host(i) for i in inputs],
                                                 **{k: _as_host(v) for k, v in kw.items()}))
        _record("numpy_dispatch")
        if method == "__call__":
            return target(*inputs, **kw)
        return getattr(target, method)(*inputs, **kw)

    def __array_function__(self, func: Callable, types_: tuple, args: tuple, kw: dict) -> Any:
        # NEP 18: np.f(dev) runs cupy.f when CuPy has it, else NumPy raises its TypeError
        target = _function_for(func)
        if target is None:
            _violation("missing_name", f"no implementation found for '{func.__module__}."
                       f"{func.__name__}' on types that implement __array_function__: "
                       f"[<class 'cupy.ndarray'>]")
            return _wrap_any(func(*_as_host(list(args)), **{k: _as_host(v)
                                                             for k, v in kw.items()}))
        _record("numpy_dispatch")
        return target(*args, **kw)

    # -- syncs: allowed, counted --------------------------------------------------------------
    def get(self, stream: Any = None, order: str = "C", out: np.ndarray | None = None,
            blocking: bool = True) -> np.ndarray:
        """Copy to the host (a sync)."""
        _sync("get")
        if out is not None:  # CuPy's checks: a NumPy array of the same dtype and shape
            if type(out) is not np.ndarray:
                raise TypeError("Only numpy.ndarray can be obtained fromcupy.ndarray")
            if out.dtype != self._a.dtype:
                raise TypeError(f"{out.dtype} array cannot be obtained from {self._a.dtype} "
                                "array")
            if out.shape != self._a.shape:
                raise ValueError(f"Shape mismatch. Expected shape: {self._a.shape}, actual "
                                 f"shape: {out.shape}")
            np.copyto(out, self._a)
            return out
        return np.array(self._a, order=order)

    def set(self, arr: np.ndarray, stream: Any = None) -> None:
        """Copy a host array of the same shape into this one."""
        if type(arr) is not np.ndarray:
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if arr.dtype != self._a.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self._a.dtype} array")
        if arr.shape != self._a.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self._a.shape}, new shape: "
                             f"{arr.shape}")
        np.copyto(self._a, arr)

    def item(self) -> Any:
        """The one element as a Python scalar (a sync)."""
        _sync("item")
        return self._a.item()

    def tolist(self) -> Any:
        """Nested lists of Python scalars (a sync)."""
        _sync("tolist")
        return self._a.tolist()

    def __bool__(self) -> bool:
        _sync("bool")
        return bool(self._a)

    def __int__(self) -> int:
        _sync("int")
        return int(self._a)

    def __float__(self) -> float:
        _sync("float")
        return float(self._a)

    def __complex__(self) -> complex:
        _sync("complex")
        return complex(self._a)

    def __index__(self) -> int:
        # CuPy's arrays have no __index__ (range(d), [..][d] and d as a slice bound raise there):
        # a violation; record mode reads the value back, a sync
        _violation("missing_name", "'cupy.ndarray' object cannot be interpreted as an integer")
        _sync("index")
        return self._a.__index__()

    @classmethod
    def __class_getitem__(cls, item: tuple) -> Any:
        return types.GenericAlias(cls, item)  # cupy.ndarray[Any, np.dtype[np.float32]]

    def __iter__(self) -> Iterator[ndarray]:
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        _sync("iter")
        return (self[i] for i in range(self._a.shape[0]))

    def __repr__(self) -> str:
        _sync("repr")
        return repr(self._a)

    def __str__(self) -> str:
        _sync("repr")
        return str(self._a)

    def __format__(self, spec: str) -> str:
        _sync("repr")
        return self._a.__format__(spec)

    def __reduce__(self) -> tuple:
        _sync("pickle")
        return (_from_host, (np.array(self._a),))

    def tobytes(self, order: str = "C") -> bytes:
        """The data as bytes (a sync)."""
        _sync("tobytes")
        return self._a.tobytes(order)

    # -- no sync -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._a)

    def __copy__(self) -> ndarray:
        return _wrap(self._a.copy())

    def __deepcopy__(self, memo: dict) -> ndarray:
        return _wrap(self._a.copy())

    def __getitem__(self, key: Any) -> ndarray:
        if self._dev != _device:
            _mismatch(self)
        t = type(key)
        a = self._a
        if t is int or t is slice:
            r = a[key]
        else:
            k = _index(key, a.shape)
            try:
                r = a[k]
            except IndexError:
                k = _index(key, a.shape, True, False)
                r = a[k]
            key = k
        if type(r) is not np.ndarray:  # a[0, 1] is a 0-d view on CuPy, not a scalar
            r = a[(key if type(key) is tuple else (key,)) + (Ellipsis,)]
        return _wrap(r)

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._dev != _device:
            _mismatch(self)
        tv = type(value)
        if tv is ndarray:
            value = value._a
        elif tv is np.ndarray:
            _record("host_transfer")  # CuPy copies it to the device: allowed, but a transfer
        elif tv is list or tv is tuple:
            value = _unwrap_seq(value)
        t = type(key)
        if t is int or t is slice:
            self._a[key] = value
            return
        # a[mask] = v runs as a masked kernel on CuPy: no count to read back, no sync
        _indexed(lambda k: self._a.__setitem__(k, value), key, self._a.shape, mask=False)

    @property
    def shape(self) -> tuple:
        """The shape."""
        return self._a.shape

    @shape.setter
    def shape(self, value: Any) -> None:
        self._a.shape = value

    ndim = property(lambda self: self._a.ndim, doc="The number of axes.")
    size = property(lambda self: self._a.size, doc="The number of elements.")
    itemsize = property(lambda self: self._a.itemsize, doc="Bytes per element.")
    nbytes = property(lambda self: self._a.nbytes, doc="Bytes of the elements.")
    strides = property(lambda self: self._a.strides, doc="Bytes between elements, per axis.")
    T = property(lambda self: self if self._a.ndim < 2 else _wrap(self._a.T),
                 doc="The transpose (the array itself below 2-d, as CuPy's).")
    mT = property(lambda self: _wrap(self._a.mT), doc="The matrix transpose of the last axes.")
    flags = property(lambda self: _Flags(self._a), doc="c_contiguous, f_contiguous, owndata.")
    device = property(lambda self: _DEVICES[self._dev], doc="The array's cupy.cuda.Device.")
    data = property(lambda self: _MemoryPointer(self._a.__array_interface__["data"][0],
                                                self._a.nbytes, self._dev),
                    doc="The memory pointer.")

    @property
    def base(self) -> ndarray | None:
        """The array owning the memory of a view (None for an owner)."""
        b = self._a.base
        if b is None:
            return None
        while type(b) is np.ndarray and b.base is not None:
            b = b.base
        return _wrap(b) if type(b) is np.ndarray else None

    @property
    def real(self) -> ndarray:
        """The real part (a view)."""
        return _wrap(self._a.real)

    @real.setter
    def real(self, value: Any) -> None:
        self._a.real = _operand(value)

    @property
    def imag(self) -> ndarray:
        """The imaginary part."""
        return _wrap(self._a.imag)

    @imag.setter
    def imag(self, value: Any) -> None:
        self._a.imag = _operand(value)

    @property
    def flat(self) -> _FlatIter:
        """A flat iterator (cupy.flatiter)."""
        return _FlatIter(self)

    @property
    def cstruct(self) -> Any:
        """The C struct passed to CUDA kernels."""
        raise NotImplementedError("fakecupy: cupy.ndarray.cstruct is not backed")

    @property
    def __cuda_array_interface__(self) -> dict:
        a = self._a
        return {"shape": a.shape, "typestr": a.dtype.str, "descr": a.dtype.descr,
                "data": (a.__array_interface__["data"][0], False), "version": 3,
                "strides": None if a.flags.c_contiguous else a.strides, "stream": 1}

    def __getattr__(self, name: str) -> Any:
        # only reached for names the class lacks: NumPy's methods CuPy does not have
        if name.startswith("__") or not hasattr(np.ndarray, name):
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")
        _violation("missing_name", f"'cupy.ndarray' object has no attribute '{name}'",
                   AttributeError)
        value = getattr(self._a, name)
        if callable(value):
            return lambda *a, **k: _wrap_any(value(*[_as_host(x) for x in a], **k))
        return _wrap_any(value)


ndarray.__module__ = "cupy"
_CONTAINERS = frozenset({ndarray, np.ndarray, list, tuple})
_INDEX_ARRAYS = frozenset({ndarray, np.ndarray, list})


def _from_host(a: np.ndarray) -> ndarray:
    """Unpickling: a host array back to the device."""
    return _wrap(np.array(a))


class _FlatIter:
    """cupy.flatiter: flat indexing of a device array."""

    def __init__(self, a: ndarray) -> None:
        self._base = a

    def __getitem__(self, key: Any) -> ndarray:
        flat = self._base._a.flat
        return _wrap(np.asarray(_indexed(flat.__getitem__, key, (self._base.size,))))

    def __setitem__(self, key: Any, value: Any) -> None:
        value = _operand(value)
        _indexed(lambda k: self._base._a.flat.__setitem__(k, value), key, (self._base.size,))

    def __len__(self) -> int:
        return self._base.size

    def __iter__(self) -> Iterator[ndarray]:
        return iter(self._base.ravel())


def _binary(uf: np.ufunc) -> Callable:
    def op(self: ndarray, other: Any) -> Any:
        t = type(other)
        if t is ndarray:
            if other._dev != self._dev or self._dev != _device:
                _mismatch(other)
            other = other._a
        elif t not in _SCALARS and not isinstance(other, (int, float, complex, np.generic)):
            if t is not np.ndarray and t is not list and t is not tuple:
                return NotImplemented
            other = _host_operand(other)
        token = _ERRSTATE.set(_QUIET)
        try:
            r = uf(self._a, other)
        finally:
            _ERRSTATE.reset(token)
        return _wrap(r) if type(r) is np.ndarray else _wrap_any(r)
    return op


def _reflected(uf: np.ufunc) -> Callable:
    def op(self: ndarray, other: Any) -> Any:
        t = type(other)
        if t not in _SCALARS and not isinstance(other, (int, float, complex, np.generic)):
            if t is not np.ndarray and t is not list and t is not tuple:
                return NotImplemented
            other = _host_operand(other)
        token = _ERRSTATE.set(_QUIET)
        try:
            r = uf(other, self._a)
        finally:
            _ERRSTATE.reset(token)
        return _wrap(r) if type(r) is np.ndarray else _wrap_any(r)
    return op


def _inplace(uf: np.ufunc) -> Callable:
    def op(self: ndarray, other: Any) -> ndarray:
        other = _operand(other)
        token = _ERRSTATE.set(_QUIET)
        try:
            uf(self._a, other, out=self._a)
        finally:
            _ERRSTATE.reset(token)
        return self
    return op


def _unary(uf: np.ufunc) -> Callable:
    def op(self: ndarray) -> ndarray:
        token = _ERRSTATE.set(_QUIET)
        try:
            return _wrap_any(uf(self._a))
        finally:
            _ERRSTATE.reset(token)
    return op


_OPERATORS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide,
              "floordiv": np.floor_divide, "mod": np.remainder, "pow": np.power,
              "matmul": np.matmul, "and": np.bitwise_and, "or": np.bitwise_or,
              "xor": np.bitwise_xor, "lshift": np.left_shift, "rshift": np.right_shift}
for _name, _uf in _OPERATORS.items():
    setattr(ndarray, f"__{_name}__", _binary(_uf))
    setattr(ndarray, f"__r{_name}__", _reflected(_uf))
    setattr(ndarray, f"__i{_name}__", _inplace(_uf))
def _equality(uf: np.ufunc, fill: bool) -> Callable:
    """== / != as CuPy's: None or an object with object's own __eq__ compares unequal to every
    element (a device array of ``fill``), other operands as the ufunc."""
    binary = _binary(uf)

    def op(self: ndarray, other: Any) -> Any:
        if other is None or (type(other).__eq__ is object.__eq__
                             and type(other) not in _SCALARS
                             and getattr(other, "__array_ufunc__", 0) is not None
                             and getattr(other, "__array_priority__", 0) <= 100):
            return _wrap(np.full(self._a.shape, fill))
        return binary(self, other)
    return op


for _name, _uf in {"lt": np.less, "le": np.less_equal, "gt": np.greater,
                   "ge": np.greater_equal, "divmod": np.divmod}.items():
    setattr(ndarray, f"__{_name}__", _binary(_uf))
ndarray.__eq__ = _equality(np.equal, False)
ndarray.__ne__ = _equality(np.not_equal, True)
ndarray.__rdivmod__ = _reflected(np.divmod)
for _name, _uf in {"neg": np.negative, "pos": np.positive, "abs": np.absolute,
                   "invert": np.invert}.items():
    setattr(ndarray, f"__{_name}__", _unary(_uf))
ndarray.__hash__ = None  # type: ignore[assignment]


def _positive(self: ndarray) -> ndarray:
    if self._a.dtype == np.bool_:  # CuPy warns and copies where NumPy 2 raises
        warnings.warn("Applying '+' to a non-numerical array is ill-defined. Returning a copy, "
                      "but in the future this will error.", DeprecationWarning, stacklevel=2)
        return _wrap(self._a.copy())
    return _wrap_any(np.positive(self._a))


ndarray.__pos__ = _positive


_WRAPPING_METHODS = {"take": "wrap", "put": "wrap"}  # CuPy's take/put wrap indices
_SYNC_METHODS = {"nonzero": "nonzero", "compress": "nonzero", "dump": "dump", "dumps": "dump",
                 "tofile": "tofile"}


def _method(name: str, allowed: frozenset | None) -> Callable:
    """cupy.ndarray.<name> over NumPy's method (or function, where NumPy 2 dropped the method)."""
    qual = f"cupy.ndarray.{name}"
    as_function = not hasattr(np.ndarray, name)
    sync = _SYNC_METHODS.get(name)
    wrap_mode = _WRAPPING_METHODS.get(name)
    dtype_kw = name in ("argmax", "argmin")
    astype = name == "astype"
    cross_device = name in ("copy", "astype")  # CuPy copies to the current device
    host_args = name in ("reshape", "transpose", "repeat")  # a shape, axes, counts: host data
    quiet = name not in _NO_FP

    def method(self: ndarray, *args: Any, **kw: Any) -> Any:
        if self._dev != _device and not cross_device:
            _mismatch(self)
        out = None
        cast = None
        if kw:
            if allowed is not None:
                _check_keywords(qual, kw, allowed)
            if astype and (kw.get("casting") is not None or kw.get("subok") is not None):
                _violation("bad_keyword", "casting is not supported yet"  # CuPy's astype
                           if kw.get("casting") is not None else "subok is not supported yet")
            if dtype_kw and "dtype" in kw:  # CuPy's argmax/argmin take dtype=, NumPy's do not
                kw = dict(kw)
                cast = kw.pop("dtype")
            out = kw.get("out")
            kw = {k: _unwrap(v) for k, v in kw.items()}
        if wrap_mode is not None and "mode" not in kw:
            kw["mode"] = wrap_mode
        if sync is not None:
            _sync(sync)
        if host_args:
            args = tuple(a if type(a) is np.ndarray else _unwrap(a) for a in args)
        elif args:
            args = tuple(map(_unwrap, args))
        f = getattr(np, name) if as_function else getattr(self._a, name)
        if as_function:
            args = (self._a, *args)
        if quiet:
            token = _ERRSTATE.set(_QUIET)
            try:
                r = f(*args, **kw)
            finally:
                _ERRSTATE.reset(token)
        else:
            r = f(*args, **kw)
        if type(out) is ndarray and r is out._a:
            return out
        if r is self._a:  # astype(copy=False) of the same dtype: the array itself, as on CuPy
            return self
        if cast is not None:
            r = np.asarray(r).astype(cast)
        return _wrap_any(r)
    method.__name__ = name
    method.__qualname__ = qual
    method.__doc__ = f"{qual} (NumPy's {name} on the fake device)."
    return method


def _scatter_method(uf: np.ufunc) -> Callable:
    name = {"add": "add", "maximum": "max", "minimum": "min"}[uf.__name__]

    def scatter(self: ndarray, slices: Any, value: Any) -> None:
        warnings.warn(f"`ndarray.scatter_{name}` is deprecated. Please use "  # as CuPy 14
                      f"`cupy.{uf.__name__}.at` instead.", DeprecationWarning, stacklevel=2)
        value = _operand(value)
        _indexed(lambda k: uf.at(self._a, k, value), slices, self._a.shape)
    scatter.__doc__ = f"Unbuffered ``self[slices] = {uf.__name__}(self[slices], value)``."
    return scatter


def _install_methods() -> None:
    custom = {"get", "set", "item", "tolist", "tobytes", "__dlpack__", "__cuda_array_interface__"}
    for name, spec in API["cupy.ndarray"].items():
        if spec["kind"] != "method" or name in custom or name in ndarray.__dict__:
            continue
        if name.startswith("scatter_"):
            fn = _scatter_method({"add": np.add, "max": np.maximum,
                                  "min": np.minimum}[name[8:]])
        elif hasattr(np.ndarray, name) or hasattr(np, name):
            fn = _method(name, _params(spec))
        else:
            fn = _unbacked(f"cupy.ndarray.{name}")
        setattr(ndarray, name, fn)
    ndarray.__dlpack__ = lambda self, *a, **k: self._a.__dlpack__(*a, **k)


_install_methods()


# ---------------------------------------------------------------------------------------------
# cupy.cuda

class CUDARuntimeError(RuntimeError):
    """cupy.cuda.runtime.CUDARuntimeError."""


class Device:
    """cupy.cuda.Device: a context manager making device ``id`` current."""

    def __init__(self, device: Any = None) -> None:
        self.id = _device if device is None else int(device)
        self._prev: list[int] = []

    def _check(self) -> None:
        if not 0 <= self.id < DEVICE_COUNT:
            raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")

    def use(self) -> None:
        """Make this device current."""
        global _device
        self._check()
        _device = self.id

    def __enter__(self) -> Device:  # noqa: PYI034 - CuPy's returns the Device
        global _device
        self._check()
        self._prev.append(_device)
        _device = self.id
        return self

    def __exit__(self, *exc: object) -> None:
        global _device
        _device = self._prev.pop()

    def synchronize(self) -> None:
        """Wait for the device's work (none: NumPy is synchronous)."""
        self._check()

    @property
    def compute_capability(self) -> str:
        """``"90"``, as an H100."""
        return "90"

    @property
    def mem_info(self) -> tuple:
        """(free, total) bytes."""
        return (DEVICE_MEMORY - _used[self.id] - _held[self.id], DEVICE_MEMORY)

    def __int__(self) -> int:
        return self.id

    def __index__(self) -> int:
        return self.id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("cuda", self.id))

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


class Event:
    """cupy.cuda.Event: records the host clock (NumPy work is done when it returns)."""

    def __init__(self, block: bool = False, disable_timing: bool = False,
                 interprocess: bool = False) -> None:
        self.disable_timing = disable_timing
        self._t: float | None = None

    def record(self, stream: Any = None) -> None:
        """Mark now."""
        self._t = time.perf_counter()

    def synchronize(self) -> None:
        """Wait for the event (already done)."""

    @property
    def done(self) -> bool:
        """Always True."""
        return True


class Stream:
    """cupy.cuda.Stream: NumPy runs everything at once, so streams only keep CuPy's shape."""

    null: Stream

    def __init__(self, null: bool = False, non_blocking: bool = False, ptds: bool = False,
                 priority: int | None = None) -> None:
        self.ptr = 0 if null else id(self)
        self._prev: list = []

    def synchronize(self) -> None:
        """Wait for the stream (already done)."""

    def use(self) -> Stream:
        """Make this stream current."""
        _current_stream[0] = self
        return self

    def __enter__(self) -> Stream:  # noqa: PYI034 - CuPy's returns the Stream
        self._prev.append(_current_stream[0])
        _current_stream[0] = self
        return self

    def __exit__(self, *exc: object) -> None:
        _current_stream[0] = self._prev.pop()

    def record(self, event: Event | None = None) -> Event:
        """Record an event on this stream."""
        event = event or Event()
        event.record(self)
        return event

    def wait_event(self, event: Event) -> None:
        """Make the stream wait for ``event`` (already done)."""

    @property
    def done(self) -> bool:
        """Always True."""
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stream) and other.ptr == self.ptr

    def __hash__(self) -> int:
        return hash(self.ptr)


_DEVICES = [Device(i) for i in range(_MAX_DEVICES)]  # arrays' .device: one object per id
Stream.null = Stream(null=True)
_current_stream: list = [Stream.null]


def get_elapsed_time(start_event: Event, end_event: Event) -> float:
    """Milliseconds between two recorded events."""
    if start_event._t is None or end_event._t is None:
        raise CUDARuntimeError("cudaErrorInvalidResourceHandle: event not recorded")
    return (end_event._t - start_event._t) * 1000.0


def _properties(device: int) -> dict:
    if not 0 <= device < DEVICE_COUNT:
        raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")
    return {"name": DEVICE_NAME, "totalGlobalMem": DEVICE_MEMORY, "major": 9, "minor": 0,
            "multiProcessorCount": 132, "clockRate": 1980000, "warpSize": 32,
            "maxThreadsPerBlock": 1024, "sharedMemPerBlock": 49152, "pciBusID": device,
            "uuid": b"fakecuda-%d" % device, "integrated": 0, "isMultiGpuBoard": 0}


def _set_device(device: int) -> None:
    Device(device).use()


def _mem_get_info() -> tuple:
    return Device(_device).mem_info


def _build_cuda() -> types.ModuleType:
    runtime = types.ModuleType("cupy.cuda.runtime", "The CUDA runtime API of the fake device.")
    runtime.__dict__.update(
        getDeviceCount=lambda: DEVICE_COUNT, getDeviceProperties=_properties,
        getDevice=lambda: _device, setDevice=_set_device,
        deviceSynchronize=lambda: None, memGetInfo=_mem_get_info,
        runtimeGetVersion=lambda: 13000, driverGetVersion=lambda: 13000,
        is_hip=False, CUDARuntimeError=CUDARuntimeError)
    memory = types.ModuleType("cupy.cuda.memory", "Memory pools of the fake device.")
    memory.__dict__.update(MemoryPool=MemoryPool, PinnedMemoryPool=PinnedMemoryPool,
                           MemoryPointer=_MemoryPointer, set_allocator=set_allocator,
                           OutOfMemoryError=OutOfMemoryError)
    cuda = types.ModuleType("cupy.cuda", "cupy.cuda on the fake device.")
    cuda.__dict__.update(
        Device=Device, Stream=Stream, ExternalStream=Stream, Event=Event,
        get_elapsed_time=get_elapsed_time, runtime=runtime, memory=memory,
        MemoryPool=MemoryPool, PinnedMemoryPool=PinnedMemoryPool, MemoryPointer=_MemoryPointer,
        is_available=lambda: DEVICE_COUNT > 0, get_device_id=lambda: _device,
        get_current_stream=lambda device_id=None: _current_stream[0],
        set_allocator=set_allocator, get_allocator=lambda: _allocator[0] or _POOL.malloc,
        set_pinned_memory_allocator=lambda allocator=None: None,
        CUDARuntimeError=CUDARuntimeError)
    return cuda


# ---------------------------------------------------------------------------------------------
# namespaces generated from the JSON

class _Namespace(types.ModuleType):
    """A CuPy module: names of the JSON section only, built on first use and cached."""

    def __init__(self, name: str, section: str, builder: Callable[[str, dict], Any],
                 fallback: Any = None) -> None:
        super().__init__(name)
        self._section = API[section]
        self._builder = builder
        self._fallback = fallback

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_section", "_builder", "_fallback"):
            raise AttributeError(name)
        spec = self._section.get(name)
        if spec is None:
            _violation("missing_name", f"module '{self.__name__}' has no attribute '{name}'",
                       AttributeError)
            if self._fallback is None or not hasattr(self._fallback, name):
                raise AttributeError(f"module '{self.__name__}' has no attribute '{name}'")
            value = getattr(self._fallback, name)  # record mode: NumPy's, not cached
            return _function(f"{self.__name__}.{name}", value, None) if callable(value) \
                and not isinstance(value, type) else value
        value = self._builder(name, spec)
        setattr(self, name, value)
        return value

    def __dir__(self) -> list:
        return sorted(self._section)


class _HostNamespace(types.ModuleType):
    """A CuPy module the JSON does not list (fft, testing, ...): NumPy's names, device arrays
    converted (``check``: host arrays refused as for device functions)."""

    def __init__(self, name: str, backing: Any, check: bool) -> None:
        super().__init__(name)
        self._backing = backing
        self._check = check

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_backing", "_check"):
            raise AttributeError(name)
        value = getattr(self._backing, name)
        if callable(value) and not isinstance(value, type):
            if self._check:
                value = _function(f"{self.__name__}.{name}", value, None)
            else:
                fn = value
                value = functools.wraps(fn)(lambda *a, **k: fn(*_as_host(list(a)),
                                                                 **{n: _as_host(v)
                                                                    for n, v in k.items()}))
        setattr(self, name, value)
        return value


class _Unbacked(types.ModuleType):
    """A CuPy module the fake does not back: every name raises NotImplementedError."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _unbacked(f"{self.__name__}.{name}")


def _values(name: str) -> Any:
    table = {"Inf": math.inf, "Infinity": math.inf, "infty": math.inf, "PINF": math.inf,
             "NINF": -math.inf, "NaN": math.nan, "NAN": math.nan, "PZERO": 0.0, "NZERO": -0.0,
             "annotations": __future__.annotations, "disable_experimental_feature_warning": False,
             "c_": _IndexGrid(np.c_), "r_": _IndexGrid(np.r_), "mgrid": _IndexGrid(np.mgrid),
             "ogrid": _IndexGrid(np.ogrid)}
    if name in table:
        return table[name]
    return getattr(np, name)


class _IndexGrid:
    """cupy.c_/r_/mgrid/ogrid: NumPy's index tricks with device results."""

    def __init__(self, grid: Any) -> None:
        self._grid = grid

    def __getitem__(self, key: Any) -> Any:
        return _wrap_any(self._grid[_unwrap(key) if type(key) is tuple else key])


# host data in: an explicit host-to-device copy, always a fresh device array
def array(obj: Any, dtype: Any = None, copy: bool = True, order: str = "K", subok: bool = False,
          ndmin: int = 0, blocking: bool = False) -> ndarray:
    """cupy.array: a device array from device or host data (host data is copied in)."""
    if type(obj) is ndarray:
        r = np.array(obj._a, dtype=dtype, copy=copy or obj._dev != _device, order=order,
                     ndmin=ndmin)
        return obj if r is obj._a and obj._dev == _device else _wrap(r)
    return _wrap(np.array(_as_host(obj), dtype=dtype, order=order, ndmin=ndmin))


def asarray(a: Any, dtype: Any = None, order: str | None = None, copy: bool | None = None,
            blocking: bool = False) -> ndarray:
    """cupy.asarray: ``a`` itself when it is already a device array of that dtype here."""
    if type(a) is ndarray:
        if a._dev == _device and copy is not True and (dtype is None
                                                       or np.dtype(dtype) == a._a.dtype):
            return a
        return _wrap(np.array(a._a, dtype=dtype, order=order or "K"))
    if copy is False:
        raise ValueError("Unable to avoid copy while creating an array from given object.")
    return _wrap(np.array(_as_host(a), dtype=dtype, order=order or "K"))


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: np.ndarray | None = None,
            blocking: bool = True) -> np.ndarray:
    """cupy.asnumpy: the host copy of a device array (a sync); host data as it is."""
    if type(a) is ndarray:
        return a.get(stream, order, out, blocking)
    r = np.asarray(a, order=order)
    if out is not None:
        np.copyto(out, r)
        return out
    return r


def get_array_module(*args: Any) -> types.ModuleType:
    """cupy if any argument is a device array, else numpy (argument-less: a soft finding)."""
    if not args:
        _record("get_array_module_noarg")
    for a in args:
        if type(a) is ndarray:
            return cupy
    return np


def _copying(fn: Callable) -> Callable:
    """Host readers (frombuffer, loadtxt, ...): the result copied to the device."""
    return lambda *a, **k: _wrap(np.array(fn(*a, **k)))


_KERNEL_TWINS: dict[str, Callable] = {}


def register_kernel(name: str, twin: Callable) -> None:
    """Give the CuPy kernel called ``name`` (ElementwiseKernel/ReductionKernel/RawKernel) a NumPy
    twin for the fake: it receives NumPy arrays (and the call's keywords) and returns arrays."""
    _KERNEL_TWINS[name] = twin


class _Kernel:
    """A CuPy kernel object: CUDA C the fake cannot run, unless a NumPy twin is registered."""

    def __init__(self, kind: str, *args: Any, name: str | None = None, **kw: Any) -> None:
        self.kind = kind
        if name is None:
            name = {"RawKernel": args[1] if len(args) > 1 else "kernel",
                    "ReductionKernel": args[6] if len(args) > 6 else "reduce_kernel",
                    }.get(kind, args[3] if len(args) > 3 else "kernel")
        self.name = name
        self.args, self.kw = args, kw

    def __call__(self, *args: Any, **kw: Any) -> Any:
        twin = _KERNEL_TWINS.get(self.name)
        if twin is None:
            raise NotImplementedError(f"fakecupy: cupy.{self.kind} {self.name!r} is CUDA C; "
                                      "register a NumPy twin with fakecupy.register_kernel")
        return _wrap_any(twin(*[_unwrap(a) for a in args],
                              **{k: _unwrap(v) for k, v in kw.items()}))


def fuse(*args: Any, **kwargs: Any) -> Callable:
    """cupy.fuse: the function runs as it is on the fake (its ops are device ops)."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda f: f


_memoized: list = []


def memoize(for_each_device: bool = False) -> Callable:
    """cupy.memoize: cache a function's results by its (hashable) arguments."""
    def decorator(f: Callable) -> Callable:
        cached = functools.lru_cache(maxsize=None)(f)
        _memoized.append(cached)
        return cached
    return decorator


def clear_memo() -> None:
    """Clear every ``memoize`` cache."""
    for cached in _memoized:
        cached.cache_clear()


def _vectorize(pyfunc: Callable, otypes: Any = None, doc: Any = None, excluded: Any = None,
               cache: bool = False, signature: Any = None) -> Callable:
    vec = np.vectorize(pyfunc, otypes=otypes, doc=doc, excluded=excluded, cache=cache,
                       signature=signature)
    return lambda *a, **k: _wrap_any(vec(*[_unwrap(x) for x in a], **k))


def _argmaxish(fn: Callable) -> Callable:
    def f(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
          keepdims: bool = False) -> Any:
        r = fn(_unwrap(a), axis=axis, keepdims=keepdims)
        r = np.asarray(r if dtype is None else np.asarray(r).astype(dtype))
        if type(out) is ndarray:
            out._a[...] = r
            return out
        return _wrap(r)
    return f


def _to_device_result(fn: Callable) -> Callable:
    """NumPy answers a Python bool/int where CuPy answers a 0-d device array."""
    return lambda *a, **k: _wrap(np.asarray(fn(*a, **k)))


_SYNC_FUNCTIONS = {"array2string": "repr", "array_repr": "repr", "array_str": "repr",
                   "nonzero": "nonzero", "argwhere": "nonzero", "flatnonzero": "nonzero",
                   "extract": "nonzero", "compress": "nonzero", "unique": "nonzero",
                   "unique_all": "nonzero", "unique_counts": "nonzero",
                   "unique_inverse": "nonzero", "unique_values": "nonzero", "save": "save",
                   "savez": "save", "savez_compressed": "save", "savetxt": "save"}
_ALIASES = {"alltrue": "all", "sometrue": "any", "cumproduct": "cumprod", "product": "prod",
            "round_": "round", "trapz": "trapezoid", "float_": "float64",
            "complex_": "complex128", "cfloat": "complex128", "singlecomplex": "complex64"}
_PASS_TYPES_EXCLUDED = {"ndarray", "ufunc", "broadcast", "poly1d", "vectorize", "flatiter"}


def _cupy_member(name: str, spec: dict) -> Any:
    """Build ``cupy.<name>`` from its JSON entry."""
    qual = f"cupy.{name}"
    kind = spec["kind"]
    special = _CUPY_SPECIAL.get(name)
    if special is not None:
        return special() if name in _CUPY_BUILT else special
    if kind == "module":
        return _unbacked_module(qual)
    if kind == "value":
        return _values(name)
    np_name = _ALIASES.get(name, name)
    backing = getattr(np, np_name, None)
    if backing is None and hasattr(np.exceptions, name):
        return getattr(np.exceptions, name)
    if backing is None:
        return _unbacked(qual)
    if kind == "ufunc":
        return ufunc(qual, backing, tuple(spec.get("methods", ())))
    if isinstance(backing, type) and name not in _PASS_TYPES_EXCLUDED:
        return backing  # dtypes and other classes are NumPy's own, as in CuPy
    host = _PAD_HOST if name == "pad" else _host_params(spec)
    fn = _function(qual, backing, _params(spec), _SYNC_FUNCTIONS.get(name), host)
    if name in ("allclose", "array_equal", "array_equiv", "isclose"):
        return _to_device_result(fn)
    return fn


_PAD_HOST = (frozenset({1}), frozenset({"pad_width", "constant_values", "end_values",
                                        "stat_length"}))  # pad(array, pad_width, mode, **kw)


def _unbacked_module(qual: str) -> types.ModuleType:
    return _Unbacked(qual)


def _reshape(a: Any, newshape: Any = None, order: str = "C", copy: Any = None) -> Any:
    return _wrap(np.reshape(_unwrap(a), newshape, order=order, copy=copy))


def _take(a: Any, indices: Any, axis: Any = None, out: Any = None) -> Any:
    r = np.take(_unwrap(a), _unwrap(indices), axis=axis, mode="wrap")
    if type(out) is ndarray:
        out._a[...] = r
        return out
    return _wrap_any(r)


def _where(condition: Any, x: Any = None, y: Any = None) -> Any:
    if x is None and y is None:  # where(cond) is nonzero(cond): its size is read back, a sync
        _sync("nonzero")
        return _wrap_any(np.nonzero(_unwrap(condition)))
    return _wrap_any(np.where(_unwrap(condition), _unwrap(x), _unwrap(y)))


def _count_nonzero(a: Any, axis: Any = None) -> Any:
    return _wrap(np.asarray(np.count_nonzero(_unwrap(a), axis=axis)))


def _in1d(ar1: Any, ar2: Any, assume_unique: bool = False, invert: bool = False) -> Any:
    return _wrap(np.isin(_unwrap(ar1), _unwrap(ar2), assume_unique=assume_unique,
                         invert=invert).ravel())


def _msort(a: Any) -> Any:
    return _wrap(np.sort(_unwrap(a), axis=0))


def _asfarray(a: Any, dtype: Any = np.float64) -> Any:
    dtype = np.dtype(dtype)
    return asarray(a, dtype if dtype.kind in "fc" else np.float64)


def _show_config(_full: bool = False) -> None:
    print(f"fakecupy {VERSION} (NumPy {np.__version__}): {DEVICE_COUNT} fake device(s)")


def _from_dlpack(array: Any, device: Any = None, copy: Any = None) -> ndarray:
    if type(array) is ndarray:
        return array
    return _wrap(np.array(np.from_dlpack(array)))


def _kernel_class(kind: str) -> Callable:
    return lambda *a, **k: _Kernel(kind, *a, **k)


_CUPY_SPECIAL: dict[str, Any] = {
    "ndarray": ndarray, "ufunc": ufunc, "flatiter": _FlatIter, "array": array,
    "asarray": asarray, "asanyarray": asarray, "asnumpy": asnumpy,
    "get_array_module": get_array_module, "get_default_memory_pool": lambda: _POOL,
    "get_default_pinned_memory_pool": lambda: _PINNED_POOL,
    "is_available": lambda: DEVICE_COUNT > 0, "show_config": _show_config, "fuse": fuse,
    "memoize": memoize, "clear_memo": clear_memo, "vectorize": _vectorize,
    "ElementwiseKernel": _kernel_class("ElementwiseKernel"),
    "ReductionKernel": _kernel_class("ReductionKernel"), "RawKernel": _kernel_class("RawKernel"),
    "reshape": _reshape, "take": _take, "count_nonzero": _count_nonzero, "in1d": _in1d,
    "where": _where,
    "msort": _msort, "asfarray": _asfarray, "from_dlpack": _from_dlpack,
    "argmax": _argmaxish(np.argmax), "argmin": _argmaxish(np.argmin),
    "nanargmax": _argmaxish(np.nanargmax), "nanargmin": _argmaxish(np.nanargmin),
    "frombuffer": _copying(np.frombuffer), "fromfile": _copying(np.fromfile),
    "fromstring": _copying(np.fromstring), "fromiter": _copying(np.fromiter),
    "loadtxt": _copying(np.loadtxt), "genfromtxt": _copying(np.genfromtxt),
    "load": _copying(np.load), "format_parser": np.rec.format_parser,
    "DataSource": np.lib.npyio.DataSource, "issubclass_": issubclass,
    "cuda": _build_cuda, "random": lambda: _build_random(), "linalg": lambda: _build_linalg(),
    "lib": lambda: _build_lib(), "fft": lambda: _HostNamespace("cupy.fft", np.fft, True),
    "testing": lambda: _HostNamespace("cupy.testing", np.testing, False),
    "exceptions": lambda: np.exceptions, "typing": lambda: np.typing,
    "polynomial": lambda: _Unbacked("cupy.polynomial"),
}
_CUPY_BUILT = {"cuda", "random", "linalg", "lib", "fft", "testing", "exceptions", "typing",
               "polynomial"}


# -- cupy.random ----------------------------------------------------------------------------

class RandomState:
    """cupy.random.RandomState over NumPy's, with CuPy's ``dtype=`` keyword."""

    def __init__(self, seed: Any = None, method: Any = None) -> None:
        self._rs = np.random.RandomState(seed)

    def seed(self, seed: Any = None) -> None:
        """Reseed."""
        self._rs.seed(seed)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in API["cupy.random"]:
            raise AttributeError(f"'RandomState' object has no attribute '{name}'")
        return functools.partial(_draw, self._rs, name, _params(API["cupy.random"][name]))


_SAMPLE = {"random": "random_sample", "ranf": "random_sample", "sample": "random_sample"}


def _draw(rs: np.random.RandomState, name: str, allowed: frozenset | None, *args: Any,
          **kw: Any) -> Any:
    if kw and allowed is not None:
        _check_keywords(f"cupy.random.{name}", kw, allowed)
    dtype = kw.pop("dtype", None) if name != "randint" else kw.get("dtype")
    args = [_unwrap(a) for a in args]
    kw = {k: v if k == "size" and type(v) is np.ndarray else _unwrap(v) for k, v in kw.items()}
    if name == "shuffle":
        rs.shuffle(args[0])
        return None
    if name in ("rand", "randn"):
        r = getattr(rs, name)(*args)
    else:
        r = getattr(rs, _SAMPLE.get(name, name))(*args, **kw)
    if type(r) is bytes:
        return r
    r = np.asarray(r)
    if dtype is not None and name != "randint":
        r = r.astype(dtype)
    return _wrap(r)


_random_state = [RandomState()]


def _build_random() -> types.ModuleType:
    def build(name: str, spec: dict) -> Any:
        if name == "seed":
            return lambda seed=None: _random_state[0].seed(seed)
        if name == "RandomState":
            return RandomState
        if name == "get_random_state":
            return lambda: _random_state[0]
        if name == "set_random_state":
            return lambda rs: _random_state.__setitem__(0, rs)
        if name == "reset_states":
            return lambda: _random_state.__setitem__(0, RandomState())
        if name == "default_rng":
            return lambda seed=None: _Generator(np.random.default_rng(_unwrap(seed)))
        if spec["kind"] == "value":
            return _values(name)
        if name in ("BitGenerator", "XORWOW", "MRG32k3a", "Philox4x3210"):
            return _unbacked(f"cupy.random.{name}")
        allowed = _params(spec)
        return lambda *a, **k: _draw(_random_state[0]._rs, name, allowed, *a, **k)
    return _Namespace("cupy.random", "cupy.random", build, np.random)


class _Generator:
    """cupy.random.Generator over NumPy's: device results."""

    def __init__(self, gen: np.random.Generator) -> None:
        self._gen = gen

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        fn = getattr(self._gen, name)
        return lambda *a, **k: _wrap_any(fn(*[_unwrap(x) for x in a],
                                            **{n: _unwrap(v) for n, v in k.items()}))


# -- cupy.linalg, cupy.lib.stride_tricks --------------------------------------------------------

def _build_linalg() -> types.ModuleType:
    def build(name: str, spec: dict) -> Any:
        if name == "LinAlgError":
            return np.linalg.LinAlgError
        if spec["kind"] == "value":
            return _values(name)
        backing = getattr(np.linalg, name, None)
        if backing is None:
            return _unbacked(f"cupy.linalg.{name}")
        return _function(f"cupy.linalg.{name}", backing, _params(spec))
    return _Namespace("cupy.linalg", "cupy.linalg", build, np.linalg)


def as_strided(x: ndarray, shape: Any = None, strides: Any = None) -> ndarray:
    """cupy.lib.stride_tricks.as_strided: a writable view (CuPy has no writeable=/subok=)."""
    if type(x) is not ndarray:
        _host_operand(x)
        return _wrap(np.lib.stride_tricks.as_strided(x, shape, strides))
    return _wrap(np.lib.stride_tricks.as_strided(x._a, shape, strides, writeable=True))


def _build_lib() -> types.ModuleType:
    def build(name: str, spec: dict) -> Any:
        if name == "as_strided":
            return as_strided
        if name == "np":
            return np
        if spec["kind"] == "value":
            return _values(name)
        return _function(f"cupy.lib.stride_tricks.{name}",
                         getattr(np.lib.stride_tricks, name), _params(spec))
    lib = types.ModuleType("cupy.lib", "cupy.lib on the fake device.")
    lib.stride_tricks = _Namespace("cupy.lib.stride_tricks", "cupy.lib.stride_tricks", build,
                                   np.lib.stride_tricks)
    return lib


# ---------------------------------------------------------------------------------------------
# cupyx

def scatter_add(a: ndarray, slices: Any, value: Any) -> None:
    """cupyx.scatter_add: ``a[slices] += value`` with repeated indices accumulated (add.at)."""
    _scatter(np.add, a, slices, value)


def scatter_max(a: ndarray, slices: Any, value: Any) -> None:
    """cupyx.scatter_max: unbuffered ``a[slices] = maximum(a[slices], value)``."""
    _scatter(np.maximum, a, slices, value)


def scatter_min(a: ndarray, slices: Any, value: Any) -> None:
    """cupyx.scatter_min: unbuffered ``a[slices] = minimum(a[slices], value)``."""
    _scatter(np.minimum, a, slices, value)


def _scatter(uf: np.ufunc, a: Any, slices: Any, value: Any) -> None:
    if type(a) is not ndarray:
        _host_operand(a)
        uf.at(a, slices, value)
        return
    target, value = _operand(a), _operand(value)
    _indexed(lambda k: uf.at(target, k, value), slices, a.shape)


@contextlib.contextmanager
def allow_synchronize(allow: bool) -> Iterator[None]:
    """cupyx.allow_synchronize: with False, a sync raises DeviceSynchronized."""
    global _allow_sync
    prev, _allow_sync = _allow_sync, bool(allow)
    try:
        yield
    finally:
        _allow_sync = prev


_LINALG_ERR = ["ignore"]


@contextlib.contextmanager
def errstate(*, divide: Any = None, over: Any = None, under: Any = None, invalid: Any = None,
             linalg: Any = None) -> Iterator[None]:
    """cupyx.errstate: only ``linalg`` is supported, as on CuPy."""
    seterr(divide=divide, over=over, under=under, invalid=invalid)
    prev = _LINALG_ERR[0]
    if linalg is not None:
        _LINALG_ERR[0] = linalg
    try:
        yield
    finally:
        _LINALG_ERR[0] = prev


def seterr(*, divide: Any = None, over: Any = None, under: Any = None, invalid: Any = None,
           linalg: Any = None) -> dict:
    """cupyx.seterr: divide/over/under/invalid raise NotImplementedError, as on CuPy."""
    for name, value in (("divide", divide), ("over", over), ("under", under),
                        ("invalid", invalid)):
        if value is not None:
            raise NotImplementedError(f"{name} is not supported currently")
    old = geterr()
    if linalg is not None:
        if linalg not in ("ignore", "raise"):
            raise NotImplementedError(f"linalg={linalg!r} is not supported")
        _LINALG_ERR[0] = linalg
    return old


def geterr() -> dict:
    """cupyx.geterr."""
    return {"divide": None, "over": None, "under": None, "invalid": None,
            "linalg": _LINALG_ERR[0]}


def _pinned(fn: Callable) -> Callable:
    return lambda *a, **k: fn(*[_as_host(x) for x in a], **k)  # pinned memory is host memory


def _cupyx_member(name: str, spec: dict) -> Any:
    table = {"scatter_add": scatter_add, "scatter_max": scatter_max, "scatter_min": scatter_min,
             "allow_synchronize": allow_synchronize, "DeviceSynchronized": _DeviceSynchronized,
             "errstate": errstate, "seterr": seterr, "geterr": geterr,
             "empty_pinned": _pinned(np.empty), "zeros_pinned": _pinned(np.zeros),
             "empty_like_pinned": _pinned(np.empty_like),
             "zeros_like_pinned": _pinned(np.zeros_like),
             "get_runtime_info": lambda full=True: f"fakecupy {VERSION} on NumPy {np.__version__}",
             "rsqrt": ufunc("cupyx.rsqrt", lambda x: np.reciprocal(np.sqrt(x)),
                            tuple(spec.get("methods", ()))),
             "scipy": _build_scipy()}
    if name in table:
        return table[name]
    if spec["kind"] == "value":
        return _values(name)
    if spec["kind"] == "module":
        return _Unbacked(f"cupyx.{name}")
    return _unbacked(f"cupyx.{name}")


def _build_scipy() -> types.ModuleType:
    scipy = types.ModuleType("cupyx.scipy", "cupyx.scipy on the fake device: special only.")
    scipy.special = _Namespace("cupyx.scipy.special", "cupyx.scipy.special", _special_member)
    return scipy


def _special_member(name: str, spec: dict) -> Any:
    qual = f"cupyx.scipy.special.{name}"
    if spec["kind"] == "value":
        return _values(name)
    fn = _special_table().get(name)
    if fn is None:
        return _unbacked(qual)
    if spec["kind"] == "ufunc":
        return ufunc(qual, _floating(fn), tuple(spec.get("methods", ())))
    return _function(qual, fn, _params(spec))


def _quiet(f: Callable, *args: Any) -> Any:
    with np.errstate(all="ignore"):  # the formula's invalid branch is masked out by a where
        return f(*args)


_SPECIAL_LOOP = {"b": np.float64, "i": np.float64, "u": np.float64}


def _floating(fn: Callable) -> Callable:
    """A special function's inputs as CuPy's loops take them (float32 and float64 only): integers
    and booleans promote to float64, float16 computes (and comes back) in float32."""
    def special(*args: Any) -> Any:
        cast = []
        for a in args:
            if type(a) is np.ndarray:
                if a.dtype.kind in _SPECIAL_LOOP:
                    a = a.astype(np.float64)
                elif a.dtype == np.float16:
                    a = a.astype(np.float32)
            cast.append(a)
        return fn(*cast)
    special.__name__ = getattr(fn, "__name__", "special")
    return special


@functools.cache
def _special_table() -> dict[str, Callable]:
    """cupyx.scipy.special's functions over ember's kernels (numpy_special, numpy_bessel) where
    ember has them, else short NumPy formulas."""
    from ember.backend import numpy_bessel as nb
    from ember.backend import numpy_special as ns

    def f64(*xs: Any) -> list:
        return [np.asarray(x, dtype=np.result_type(np.asarray(x).dtype, np.float32)) for x in xs]

    def lgamma(x: np.ndarray) -> np.ndarray:
        return ns.lgamma(*f64(x))

    def gammasgn(x: np.ndarray) -> np.ndarray:
        (x,) = f64(x)
        neg = (x < 0) & (x != np.floor(x))
        sign = np.where(neg, np.where(np.floor(-x) % 2 == 0, -1.0, 1.0), 1.0)
        sign = np.where((x < 0) & (x == np.floor(x)), np.nan, sign)
        return np.where(x == 0, np.copysign(1.0, x), sign).astype(x.dtype)

    def gamma(x: np.ndarray) -> np.ndarray:
        (x,) = f64(x)
        pole = (x <= 0) & (x == np.floor(x))
        with np.errstate(all="ignore"):
            r = gammasgn(x) * np.exp(lgamma(x))
        return np.where(pole, np.where(x == 0, np.copysign(np.inf, x), np.nan), r).astype(x.dtype)

    def lbeta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return lgamma(a) + lgamma(b) - lgamma(np.add(a, b))

    def where0(cond: np.ndarray, value: np.ndarray, zero: Any = 0.0) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.where(cond, zero, value)

    def softmax(x: np.ndarray, axis: Any = None) -> np.ndarray:
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def log_softmax(x: np.ndarray, axis: Any = None) -> np.ndarray:
        s = x - np.max(x, axis=axis, keepdims=True)
        return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))

    def logsumexp(a: np.ndarray, axis: Any = None, b: Any = None, keepdims: bool = False,
                  return_sign: bool = False) -> Any:
        m = np.max(a, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        e = np.exp(a - m) if b is None else b * np.exp(a - m)
        s = np.sum(e, axis=axis, keepdims=True)
        with np.errstate(divide="ignore"):
            r = np.log(np.abs(s)) + m
        if not keepdims:
            r = np.squeeze(r, axis=axis)
        return (r, np.sign(np.squeeze(s, axis=axis) if not keepdims else s)) if return_sign \
            else r

    def multigammaln(a: np.ndarray, d: int) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        return (d * (d - 1) / 4 * math.log(math.pi)
                + sum(lgamma(a + (1 - j) / 2) for j in range(1, d + 1)))

    def huber(delta: np.ndarray, r: np.ndarray) -> np.ndarray:
        ar = np.abs(r)
        v = np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta))
        return np.where(delta < 0, np.inf, v)

    def pseudo_huber(delta: np.ndarray, r: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            v = delta * delta * (np.sqrt(1 + (r / delta) ** 2) - 1)
        v = np.where((delta == 0) | (r == 0), 0.0, v)
        return np.where(delta < 0, np.inf, v)

    def xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.where((x == 0) & ~np.isnan(y), 0.0, x * np.log(y))

    def xlog1py(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.where((x == 0) & ~np.isnan(y), 0.0, x * np.log1p(y))

    def entr(x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.where(x > 0, -x * np.log(x), np.where(x == 0, 0.0, -np.inf))

    def rel_entr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            v = np.where((x > 0) & (y > 0), x * np.log(x / y), np.inf)
            return np.where((x == 0) & (y >= 0), 0.0, v)

    def kl_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            v = np.where((x > 0) & (y > 0), x * np.log(x / y) - x + y, np.inf)
            return np.where((x == 0) & (y >= 0), y, v)

    def boxcox(x: np.ndarray, lmbda: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.where(lmbda == 0, np.log(x), np.expm1(lmbda * np.log(x)) / lmbda)

    def boxcox1p(x: np.ndarray, lmbda: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.where(lmbda == 0, np.log1p(x), np.expm1(lmbda * np.log1p(x)) / lmbda)

    def inv_boxcox(y: np.ndarray, lmbda: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.where(lmbda == 0, np.exp(y), np.exp(np.log1p(lmbda * y) / lmbda))

    def inv_boxcox1p(y: np.ndarray, lmbda: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.where(lmbda == 0, np.expm1(y), np.expm1(np.log1p(lmbda * y) / lmbda))

    def signed_exp_lbeta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return gammasgn(a) * gammasgn(b) * gammasgn(np.add(a, b)) * np.exp(lbeta(a, b))

    def poch(z: np.ndarray, m: np.ndarray) -> np.ndarray:
        zm = np.add(z, m)
        return gammasgn(zm) * gammasgn(z) * np.exp(lgamma(zm) - lgamma(z))

    def zeta(s: Any, q: Any) -> np.ndarray:
        # Cephes (cupyx's) sums directly until q + k > 9, so a negative q is exact; ember's
        # kernel sums 9 terms and is right for q >= 0 only: shift a negative q by whole steps
        dtype = np.result_type(s, q)
        s, q = np.broadcast_arrays(np.asarray(s, np.float64), np.asarray(q, np.float64))
        with np.errstate(all="ignore"):
            m = np.where(q < 0, np.ceil(-q), 0.0)
            steps = int(m.max()) if m.size and np.isfinite(m).all() else 0
            head = np.zeros(q.shape)
            for j in range(steps):  # bounded by the most negative q, over whole arrays
                head += np.where(j < m, (q + j) ** -s, 0.0)
            out = head + ns.zeta(s, q + m)
        return out.astype(dtype if dtype.kind == "f" else np.float64, copy=False)

    def binom(n: np.ndarray, k: np.ndarray) -> np.ndarray:
        return np.exp(lgamma(np.add(n, 1)) - lgamma(np.add(k, 1)) - lgamma(np.subtract(n, k) + 1))

    sqrt2 = math.sqrt(2.0)
    deg = math.pi / 180
    return {
        # ember's kernels
        "erf": ns.erf, "erfc": ns.erfc, "erfcx": ns.erfcx, "erfinv": ns.erfinv,
        "ndtri": ns.ndtri, "log_ndtr": ns.log_ndtr, "gammaln": lgamma, "digamma": ns.digamma,
        "psi": ns.digamma, "zeta": zeta, "polygamma": ns.polygamma,
        "gammainc": ns.gammainc, "gammaincc": ns.gammaincc,
        "i0": ns.i0, "i0e": ns.i0e, "i1": ns.i1, "i1e": ns.i1e,
        "j0": nb.bessel_j0, "j1": nb.bessel_j1, "y0": nb.bessel_y0, "y1": nb.bessel_y1,
        "k0": nb.modified_bessel_k0, "k1": nb.modified_bessel_k1,
        "k0e": nb.scaled_modified_bessel_k0, "k1e": nb.scaled_modified_bessel_k1,
        # formulas over them
        "ndtr": lambda x: 0.5 * ns.erfc(-np.asarray(x) / sqrt2),
        "erfcinv": lambda y: -ns.ndtri(np.asarray(y) / 2) / sqrt2,
        "chdtr": lambda v, x: ns.gammainc(np.divide(v, 2), np.divide(x, 2)),
        "chdtrc": lambda v, x: ns.gammaincc(np.divide(v, 2), np.divide(x, 2)),
        "pdtr": lambda k, m: ns.gammaincc(np.floor(k) + 1.0, np.asarray(m, np.float64)),
        "pdtrc": lambda k, m: ns.gammainc(np.floor(k) + 1.0, np.asarray(m, np.float64)),
        "gdtr": lambda a, b, x: ns.gammainc(np.asarray(b, np.float64), np.multiply(a, x)),
        "gdtrc": lambda a, b, x: ns.gammaincc(np.asarray(b, np.float64), np.multiply(a, x)),
        "zetac": lambda x: ns.zeta(np.asarray(x, np.float64), np.ones_like(x, np.float64)) - 1,
        "gamma": gamma, "gammasgn": gammasgn, "rgamma": lambda x: where0(
            np.isinf(gamma(x)) | np.isnan(gamma(x)), 1.0 / gamma(x)),
        "loggamma": lambda x: np.where(np.asarray(x) > 0, lgamma(x), np.nan),
        "beta": signed_exp_lbeta, "betaln": lbeta, "binom": binom, "poch": poch,
        "multigammaln": multigammaln,
        # NumPy formulas
        "expit": lambda x: np.exp(-np.logaddexp(0, -np.asarray(x))).astype(
            np.result_type(np.asarray(x).dtype, np.float32)),
        "log_expit": lambda x: -np.logaddexp(0, -np.asarray(x)),
        "logit": lambda x: np.log(np.divide(x, np.subtract(1, x))),
        "exp2": np.exp2, "exp10": lambda x: np.power(10.0, x), "expm1": np.expm1,
        "log1p": np.log1p, "cbrt": np.cbrt, "sinc": np.sinc, "round": np.rint,
        "exprel": lambda x: where0(np.asarray(x) == 0, _quiet(np.divide, np.expm1(x), x), 1.0),
        "xlogy": xlogy, "xlog1py": xlog1py, "entr": entr, "rel_entr": rel_entr,
        "kl_div": kl_div, "huber": huber, "pseudo_huber": pseudo_huber,
        "boxcox": boxcox, "boxcox1p": boxcox1p, "inv_boxcox": inv_boxcox,
        "inv_boxcox1p": inv_boxcox1p,
        "cosdg": lambda x: np.cos(np.multiply(x, deg)), "sindg": lambda x: np.sin(
            np.multiply(x, deg)), "tandg": lambda x: np.tan(np.multiply(x, deg)),
        "cotdg": lambda x: 1.0 / np.tan(np.multiply(x, deg)),
        "cosm1": lambda x: -2.0 * np.sin(np.multiply(x, 0.5)) ** 2,
        "radian": lambda d, m, s: (np.add(d, np.divide(m, 60.0)) + np.divide(s, 3600.0)) * deg,
        "softmax": softmax, "log_softmax": log_softmax, "logsumexp": logsumexp,
    }


# ---------------------------------------------------------------------------------------------
# dispatch from NumPy (NEP 13/18) to the fake's functions

def _ufunc_for(name: str) -> Any:
    if name in API["cupy"]:
        return getattr(cupy, name)
    return None


# CuPy's __array_function__ looks func.__module__'s path up under cupy: numpy.linalg.norm is
# cupy.linalg.norm; a name CuPy lacks gives NotImplemented, and NumPy's TypeError
_NUMPY_MODULES = {"numpy": "cupy", "numpy.linalg": "cupy.linalg",
                  "numpy.lib.stride_tricks": "cupy.lib.stride_tricks", "numpy.fft": "cupy.fft"}


def _function_for(func: Callable) -> Any:
    section = _NUMPY_MODULES.get(getattr(func, "__module__", ""), None)
    name = getattr(func, "__name__", "")
    if section == "cupy.fft":
        return getattr(cupy.fft, name, None)
    if section is None or name not in API[section]:
        return None
    namespace = {"cupy": cupy, "cupy.linalg": cupy.linalg,
                 "cupy.lib.stride_tricks": cupy.lib.stride_tricks}[section]
    return getattr(namespace, name)


# ---------------------------------------------------------------------------------------------
# the two namespaces

cupy = _Namespace("cupy", "cupy", _cupy_member, np)
cupy.__version__ = VERSION
cupyx = _Namespace("cupyx", "cupyx", _cupyx_member, None)
cupyx.DeviceSynchronized = _DeviceSynchronized
