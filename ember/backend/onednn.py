"""oneDNN convolutions (and softmax, GELU) through ctypes: the optional accelerated path of the
NumPy backend.

``pip install 'ember[onednn]'`` brings Intel's ``onednn-cpu-gomp`` wheel (oneDNN 3.2, CPU only,
OpenMP threads from the system's libgomp). Nothing here is compiled: the library's C API is bound
with ctypes at the first float32 convolution, never at ``import ember``. Without the library, with
``EMBER_ONEDNN=0``, or for anything oneDNN declines (float64, a geometry it has no primitive
for), the NumPy kernels run instead, so results never depend on the extra being present.

Each call describes the NumPy operands by their strides (no copy), lets oneDNN choose its blocked
layouts (``format_tag_any``: 1.5-4x faster than plain NCHW primitives), and reorders at the
boundary. Primitive descriptors, primitives and reorders are cached per geometry. A convolution's
two gradients read the same output gradient: its reorder to the blocked layout is kept for the
very next call (``_Blocked``), so ``input_grad`` then ``weight_grad`` reorder it once.

Softmax and GELU (``softmax``, ``gelu`` and their backwards) run oneDNN's softmax and eltwise
primitives on contiguous float32 arrays in place of several NumPy passes: one fused pass each
(a (700, 1000) log-softmax 0.19 ms against 0.66, a (384, 256) GELU 0.024 ms against 0.16; the
GELU bitwise torch's). Below ``_POOL_MIN`` elements they run on one OpenMP thread: waking the
pool's sleeping threads costs more than the work.
"""
from __future__ import annotations

import ctypes
import os
import sys
from typing import Any, Callable

import numpy as np

from . import threads
from .geometry import WindowGeometry
from .numpy_convnd import line_geometry

_F32 = 3  # dnnl_f32
_CPU = 1  # dnnl_cpu
_ANY = 1  # dnnl_format_tag_any
_TRAINING, _BACKWARD_DATA, _BACKWARD_WEIGHTS = 64, 160, 192
_DIRECT = 1  # dnnl_convolution_direct
_SOFTMAX, _LOG_SOFTMAX = 0x30000, 0x30001  # dnnl_softmax_accurate, dnnl_softmax_log
_GELU_ERF = 0x31  # dnnl_eltwise_gelu_erf (oneDNN 3's numbering)
_POOL_MIN = 1 << 20  # elements from which softmax and GELU use the whole OpenMP pool
_SOFTMAX_MIN = 1 << 16  # below, NumPy's softmax is faster (oneDNN's costs ~50 us on small rows)
_Q_SRC, _Q_DIFF_SRC, _Q_WEIGHTS, _Q_DIFF_WEIGHTS, _Q_DST, _Q_DIFF_DST = 129, 130, 131, 132, 133, \
    134
_A_SRC, _A_DST, _A_WEIGHTS, _A_BIAS, _A_DIFF_SRC, _A_DIFF_DST, _A_DIFF_WEIGHTS = \
    1, 17, 33, 41, 129, 145, 161

_Dims = ctypes.c_int64 * 12  # dnnl_dims_t
_p = ctypes.c_void_p


class _Arg(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_int), ("memory", _p)]


class OneDNNError(RuntimeError):
    """A oneDNN call that failed where it should not have (not a geometry it declines)."""


_lib: Any = None  # the bound library; False once looked for in vain
_engine = _stream = None
_lock: Any = None  # cached memory objects get their data handles per call (made at the load:
# ``import ember`` does not import threading)
_cache: dict = {}
# softmax and GELU primitives, per shape: a bounded cache (a language model's batches change
# shape with every sequence length), the oldest destroyed first
_unary_cache: dict = {}
_UNARY_CACHE_MAX = 64


def _candidates() -> list:
    named = os.environ.get("EMBER_ONEDNN_LIBRARY")
    if named:
        return [named]
    dirs = [os.path.join(sys.prefix, "lib"), os.path.join(sys.base_prefix, "lib")]
    try:
        import site

        dirs.append(os.path.join(site.getuserbase(), "lib"))
    except Exception:  # noqa: BLE001 - a broken site module only loses one place to look
        pass
    found = [os.path.join(d, "libdnnl.so.3") for d in dirs]
    return [f for f in found if os.path.exists(f)] + ["libdnnl.so.3"]


def enabled() -> bool:
    """Whether convolutions go through oneDNN: the library loads, ``EMBER_ONEDNN`` is not ``0``
    and ``torch.backends.mkldnn.enabled`` is not False. The first call loads it."""
    if os.environ.get("EMBER_ONEDNN", "1") == "0":
        return False
    switch = sys.modules.get("ember.backends.mkldnn")  # (torch's switch; read, never imported)
    if switch is not None and not switch.enabled:
        return False
    return bool(_lib) if _lib is not None else _load()


def _load() -> bool:
    global _lib, _engine, _stream, _lock
    import threading

    if _lock is None:
        _lock = threading.RLock()
    with _lock:
        if _lib is not None:
            return bool(_lib)
        _lib = False
        for path in _candidates():
            try:
                lib = _open(path)
                lib.dnnl_version.restype = ctypes.POINTER(ctypes.c_int * 3)
                if lib.dnnl_version().contents[0] != 3:  # the C API bound here is oneDNN 3's
                    continue
            except (OSError, AttributeError):
                continue
            _declare(lib)
            engine, stream = _p(), _p()
            _check(lib.dnnl_engine_create(ctypes.byref(engine), _CPU, ctypes.c_size_t(0)),
                   "engine_create")
            _check(lib.dnnl_stream_create(ctypes.byref(stream), engine, ctypes.c_uint(1)),
                   "stream_create")
            _lib, _engine, _stream = lib, engine, stream
            threads.openmp_follow()  # oneDNN's OpenMP pool takes set_num_threads' count
            break
        return bool(_lib)


def _declare(lib: Any) -> None:
    """Argument and result types of the C functions used (64-bit handles must not pass as C
    ints)."""
    ref, i, dims = ctypes.POINTER(_p), ctypes.c_int, ctypes.POINTER(ctypes.c_int64)
    for name, args, res in (
            ("dnnl_engine_create", [ref, i, ctypes.c_size_t], i),
            ("dnnl_stream_create", [ref, _p, ctypes.c_uint], i),
            ("dnnl_stream_wait", [_p], i),
            ("dnnl_memory_desc_create_with_tag", [ref, i, dims, i, i], i),
            ("dnnl_memory_desc_create_with_strides", [ref, i, dims, i, dims], i),
            ("dnnl_memory_desc_equal", [_p, _p], i),
            ("dnnl_memory_desc_get_size", [_p], ctypes.c_size_t),
            ("dnnl_memory_create", [ref, _p, _p, _p], i),
            ("dnnl_memory_set_data_handle", [_p, _p], i),
            ("dnnl_reorder_primitive_desc_create", [ref, _p, _p, _p, _p, _p], i),
            ("dnnl_primitive_create", [ref, _p], i),
            ("dnnl_primitive_destroy", [_p], i),
            ("dnnl_primitive_desc_destroy", [_p], i),
            ("dnnl_memory_destroy", [_p], i),
            ("dnnl_primitive_execute", [_p, _p, i, _p], i),
            ("dnnl_primitive_desc_query_md", [_p, i, i], _p),
            ("dnnl_convolution_forward_primitive_desc_create",
             [ref, _p, i, i, _p, _p, _p, _p, dims, dims, dims, dims, _p], i),
            ("dnnl_convolution_backward_data_primitive_desc_create",
             [ref, _p, i, _p, _p, _p, dims, dims, dims, dims, _p, _p], i),
            ("dnnl_convolution_backward_weights_primitive_desc_create",
             [ref, _p, i, _p, _p, _p, _p, dims, dims, dims, dims, _p, _p], i),
            ("dnnl_softmax_forward_primitive_desc_create", [ref, _p, i, i, _p, _p, i, _p], i),
            ("dnnl_softmax_backward_primitive_desc_create", [ref, _p, i, _p, _p, _p, i, _p, _p],
             i),
            ("dnnl_eltwise_forward_primitive_desc_create",
             [ref, _p, i, i, _p, _p, ctypes.c_float, ctypes.c_float, _p], i),
            ("dnnl_eltwise_backward_primitive_desc_create",
             [ref, _p, i, _p, _p, _p, ctypes.c_float, ctypes.c_float, _p, _p], i)):
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res


def _open(path: str) -> Any:
    """Loads the library; OpenMP (loaded with it) reads ``OMP_WAIT_POLICY`` then, and unless the
    user chose one it gets ``PASSIVE``: threads that sleep between parallel regions instead of
    spinning. Spinning threads cost BLAS's threads their cores between convolutions, and on a
    busy machine a descheduled spinner stalls every barrier (measured: a ResNet-18 train step at
    1.6-2.3 s instead of 0.65 s with two other processes running; torch's spins the same way). The
    variable is removed again, so child processes see the environment they were given."""
    chosen = "OMP_WAIT_POLICY" in os.environ
    if not chosen:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        return ctypes.CDLL(path)
    finally:
        if not chosen:
            del os.environ["OMP_WAIT_POLICY"]


def library_path() -> str | None:
    """The file the library was loaded from (None when not loaded)."""
    return getattr(_lib, "_name", None) if _lib else None


def _check(status: int, what: str) -> None:
    if status != 0:
        raise OneDNNError(f"oneDNN {what} failed with status {status}")


def _desc(shape: tuple, strides: tuple | None) -> _p:
    """A memory descriptor: plain with these element strides, or oneDNN's choice (None)."""
    md = _p()
    dims = _Dims(*shape)
    if strides is None:
        _check(_lib.dnnl_memory_desc_create_with_tag(ctypes.byref(md), len(shape), dims, _F32,
                                                     _ANY), "memory_desc_create")
    else:
        _check(_lib.dnnl_memory_desc_create_with_strides(
            ctypes.byref(md), len(shape), dims, _F32, _Dims(*strides)), "memory_desc_create")
    return md


def _memory(md: Any) -> _p:
    mem = _p()
    _check(_lib.dnnl_memory_create(ctypes.byref(mem), md, _engine, _p(0)), "memory_create")
    return mem


class _Side:
    """One operand or result of a primitive: its plain (NumPy) memory and, where the primitive
    wants another layout (``chosen``), that layout's memory, its size and the reorder between the
    two."""

    def __init__(self, plain: Any, chosen: Any, into_chosen: bool) -> None:
        self.plain = _memory(plain)
        self.chosen = chosen
        self.blocked = None
        if not _lib.dnnl_memory_desc_equal(plain, chosen):
            self.blocked = _memory(chosen)
            self.nbytes = int(_lib.dnnl_memory_desc_get_size(chosen))
            src, dst = (plain, chosen) if into_chosen else (chosen, plain)
            pd, prim = _p(), _p()
            _check(_lib.dnnl_reorder_primitive_desc_create(ctypes.byref(pd), src, _engine, dst,
                                                           _engine, None), "reorder")
            _check(_lib.dnnl_primitive_create(ctypes.byref(prim), pd), "reorder")
            self.reorder = prim
            ends = (self.plain, self.blocked) if into_chosen else (self.blocked, self.plain)
            self.args = (_Arg * 2)(_Arg(_A_SRC, ends[0]), _Arg(_A_DST, ends[1]))

    def bind(self, array: np.ndarray, reorder: bool, kept: tuple | None) -> tuple:
        """The memory the primitive uses for ``array`` and the buffer of its blocked copy (None
        when the primitive takes ``array`` as it is); an operand is reordered into it now,
        unless ``kept`` already holds this array in this layout."""
        _lib.dnnl_memory_set_data_handle(self.plain, _p(array.ctypes.data))
        if self.blocked is None:
            return self.plain, None
        if kept is not None and kept[0] is array and \
                _lib.dnnl_memory_desc_equal(kept[1], self.chosen):
            _lib.dnnl_memory_set_data_handle(self.blocked, _p(kept[2].ctypes.data))
            return self.blocked, kept[2]
        buf = np.empty(self.nbytes, np.uint8)
        _lib.dnnl_memory_set_data_handle(self.blocked, _p(buf.ctypes.data))
        if reorder:
            self.reorder_now()
        return self.blocked, buf

    def reorder_now(self) -> None:
        _check(_lib.dnnl_primitive_execute(self.reorder, _stream, 2, self.args), "reorder")


def _plain(shape: tuple, strides_bytes: tuple) -> Any:
    return _desc(shape, tuple(s // 4 for s in strides_bytes))


def _grouped(w_shape: tuple, groups: int) -> tuple:
    """oneDNN's weight dims: (O, I, KH, KW), or (G, O/G, I, KH, KW) for groups > 1."""
    if groups == 1:
        return tuple(w_shape)
    return (groups, w_shape[0] // groups) + tuple(w_shape[1:])


def _weights_view(w: np.ndarray, groups: int) -> np.ndarray:
    return w if groups == 1 else w.reshape(_grouped(w.shape, groups))


def _geometry(geo: WindowGeometry) -> tuple:
    """Strides, dilations (oneDNN counts the gaps: d - 1) and left/right paddings."""
    right = []
    for size, out, k, s, d, left in zip(geo.in_hw, geo.out_hw, geo.kernel, geo.stride,
                                        geo.dilation, geo.pad):
        # the right padding that makes the window grid exactly ``out`` long; where the last
        # rows are never read torch's grid floors, and oneDNN's equation accepts no padding
        right.append(max((out - 1) * s + (k - 1) * d + 1 - size - left, 0))
    return (_Dims(*geo.stride), _Dims(*(d - 1 for d in geo.dilation)), _Dims(*geo.pad),
            _Dims(*right))


class _Conv:
    """The three primitives of one geometry (made as each is first needed) and the sides of
    each."""

    def __init__(self, x_shape: tuple, w_shape: tuple, geo: WindowGeometry) -> None:
        n = x_shape[0]
        self.src = _desc(x_shape, None)
        self.wts = _desc(_grouped(w_shape, geo.groups), None)
        self.dst = _desc((n, w_shape[0]) + tuple(geo.out_hw), None)
        self.dims = _geometry(geo)
        self.bias = _desc((w_shape[0],), (1,))
        # (forward training: the backward primitives take it as their hint)
        self.fwd_pd = self._forward(None)
        self.ok = self.fwd_pd is not None
        self.prims: dict = {}
        self.bias_mem = None

    def _forward(self, bias: Any) -> Any:
        """The forward primitive descriptor, with a bias operand or none; None where oneDNN has
        none."""
        pd = _p()
        status = _lib.dnnl_convolution_forward_primitive_desc_create(
            ctypes.byref(pd), _engine, _TRAINING, _DIRECT, self.src, self.wts, bias, self.dst,
            *self.dims, None)
        return None if status else pd

    def primitive(self, kind: str, layouts: tuple) -> Any:
        """The primitive of ``kind`` for operands and result of these plain layouts (shape and
        byte strides each), with its sides; None where oneDNN has none."""
        key = (kind, layouts)
        got = self.prims.get(key)
        if got is None:
            pd = _p()
            if kind == "forward":
                pd, queries = self.fwd_pd, (_Q_SRC, _Q_WEIGHTS, _Q_DST)
            elif kind == "forward_bias":
                pd, queries = self._forward(self.bias), (_Q_SRC, _Q_WEIGHTS, _Q_DST)
                if pd is None:
                    return None
                self.bias_mem = _memory(self.bias)
            elif kind == "input_grad":
                status = _lib.dnnl_convolution_backward_data_primitive_desc_create(
                    ctypes.byref(pd), _engine, _DIRECT, self.src, self.wts, self.dst, *self.dims,
                    self.fwd_pd, None)
                if status:
                    return None
                queries = (_Q_DIFF_DST, _Q_WEIGHTS, _Q_DIFF_SRC)
            else:
                status = _lib.dnnl_convolution_backward_weights_primitive_desc_create(
                    ctypes.byref(pd), _engine, _DIRECT, self.src, self.wts, None, self.dst,
                    *self.dims, self.fwd_pd, None)
                if status:
                    return None
                queries = (_Q_SRC, _Q_DIFF_DST, _Q_DIFF_WEIGHTS)
            prim = _p()
            _check(_lib.dnnl_primitive_create(ctypes.byref(prim), pd), "primitive_create")
            sides = tuple(_Side(_plain(*lay), _lib.dnnl_primitive_desc_query_md(pd, q, 0), i < 2)
                          for i, (lay, q) in enumerate(zip(layouts, queries)))
            got = self.prims[key] = (prim, sides)
        return got


# After an input gradient, the output gradient's blocked copy (array, layout, buffer), for the
# call that comes next: the weight gradient of the same convolution reads the same array. Any
# other call drops it, so it never outlives the pair of calls in a convolution's backward.
_kept: list = [None]

_ARGS = {"forward": (_A_SRC, _A_WEIGHTS, _A_DST), "forward_bias": (_A_SRC, _A_WEIGHTS, _A_DST),
         "input_grad": (_A_DIFF_DST, _A_WEIGHTS, _A_DIFF_SRC),
         "weight_grad": (_A_SRC, _A_DIFF_DST, _A_DIFF_WEIGHTS)}


def _run(kind: str, a: np.ndarray, b: np.ndarray, x_shape: tuple, w_shape: tuple,
         out_shape: tuple, geo: WindowGeometry, bias: np.ndarray | None = None
         ) -> np.ndarray | None:
    if a.dtype != np.float32 or b.dtype != np.float32 or 0 in a.shape or 0 in b.shape:
        return None
    # oneDNN describes strided memory, but not broadcast (0) or reversed strides
    a, b = (v if min(v.strides) > 0 else np.ascontiguousarray(v) for v in (a, b))
    if bias is not None:
        if bias.dtype != np.float32:
            return None
        bias = np.ascontiguousarray(bias)
        kind = "forward_bias"
    with _lock:
        kept, _kept[0] = _kept[0], None
        conv = _cache.get((x_shape, w_shape, geo))
        if conv is None:
            conv = _cache[(x_shape, w_shape, geo)] = _Conv(x_shape, w_shape, geo)
        if not conv.ok:
            return None
        out = np.empty(out_shape, np.float32)
        if kind == "weight_grad":
            out_view = _weights_view(out, geo.groups)
        else:
            b = _weights_view(b, geo.groups)
            out_view = out
        arrays = (a, b, out_view)
        got = conv.primitive(kind, tuple((v.shape, v.strides) for v in arrays))
        if got is None:
            return None
        prim, sides = got
        bound = [side.bind(array, i < 2, kept if i == 1 and kind == "weight_grad" else None)
                 for i, (side, array) in enumerate(zip(sides, arrays))]
        args = [_Arg(arg, mem) for arg, (mem, _) in zip(_ARGS[kind], bound)]
        if bias is not None:
            _lib.dnnl_memory_set_data_handle(conv.bias_mem, _p(bias.ctypes.data))
            args.append(_Arg(_A_BIAS, conv.bias_mem))
        _check(_lib.dnnl_primitive_execute(prim, _stream, len(args), (_Arg * len(args))(*args)),
               "execute")
        if sides[2].blocked is not None:
            sides[2].reorder_now()
        _check(_lib.dnnl_stream_wait(_stream), "stream_wait")
        if kind == "input_grad" and bound[0][1] is not None:
            _kept[0] = (a, sides[0].chosen, bound[0][1])
        return out


def conv2d(x: np.ndarray, w: np.ndarray, geo: WindowGeometry,
           bias: np.ndarray | None = None) -> np.ndarray | None:
    """``numpy_conv.conv2d`` through oneDNN, plus ``bias`` per output channel, or None where
    oneDNN does not take it."""
    out = (x.shape[0], w.shape[0]) + tuple(geo.out_hw)
    return _run("forward", x, w, x.shape, w.shape, out, geo, bias)


def conv2d_input_grad(g: np.ndarray, w: np.ndarray, geo: WindowGeometry) -> np.ndarray | None:
    """``numpy_conv.conv2d_input_grad`` through oneDNN, or None."""
    x_shape = (g.shape[0], w.shape[1] * geo.groups) + tuple(geo.in_hw)
    return _run("input_grad", g, w, x_shape, w.shape, x_shape, geo)


def conv2d_weight_grad(x: np.ndarray, g: np.ndarray, geo: WindowGeometry) -> np.ndarray | None:
    """``numpy_conv.conv2d_weight_grad`` through oneDNN, or None."""
    w_shape = (g.shape[1], x.shape[1] // geo.groups) + tuple(geo.kernel)
    return _run("weight_grad", x, g, x.shape, w_shape, w_shape, geo)


# 3-d: the same primitives over (N, C, D, H, W); the geometry's sizes have three entries
conv3d, conv3d_input_grad, conv3d_weight_grad = conv2d, conv2d_input_grad, conv2d_weight_grad


def _line(kernel: Callable) -> Callable:
    """The 1-d kernel: the 2-d one over images of height 1 (``numpy_convnd.line_geometry``)."""

    def run(a: np.ndarray, b: np.ndarray, geo: WindowGeometry) -> np.ndarray | None:
        y = kernel(a[:, :, None], b[:, :, None], line_geometry(geo))
        return None if y is None else y[:, :, 0]

    return run


conv1d, conv1d_input_grad, conv1d_weight_grad = (
    _line(k) for k in (conv2d, conv2d_input_grad, conv2d_weight_grad))


def accelerated(numpy_kernel: Callable, onednn_kernel: Callable) -> Callable:
    """``numpy_kernel``, run by ``onednn_kernel`` instead where oneDNN is enabled and takes the
    operands (the forward's optional bias passed on to either)."""

    def kernel(a: np.ndarray, b: np.ndarray, geo: WindowGeometry, *bias: Any) -> np.ndarray:
        if a.dtype == np.float32 and enabled():
            out = onednn_kernel(a, b, geo, *bias)
            if out is not None:
                return out
        return numpy_kernel(a, b, geo, *bias)

    kernel.__name__ = numpy_kernel.__name__
    kernel.__doc__ = numpy_kernel.__doc__
    return kernel


# -- softmax and GELU: one primitive per (kind, shape), operands in place -----------------------


def _unary_primitives(kind: str, shape: tuple, axis: int) -> tuple | None:
    """The forward and backward primitives of ``kind`` ("softmax", "log_softmax", "gelu") on
    contiguous float32 arrays of ``shape`` (and a memory object per argument), or None where
    oneDNN has none."""
    key = (kind, shape, axis)
    got = _unary_cache.get(key)
    if got is None:
        if len(_unary_cache) >= _UNARY_CACHE_MAX:
            _destroy(_unary_cache.pop(next(iter(_unary_cache))))
        md = _desc(shape, tuple(int(np.prod(shape[i + 1:])) for i in range(len(shape))))
        fwd, bwd = _p(), _p()
        if kind == "gelu":
            status = _lib.dnnl_eltwise_forward_primitive_desc_create(
                ctypes.byref(fwd), _engine, _TRAINING, _GELU_ERF, md, md, 0.0, 0.0, None)
            status = status or _lib.dnnl_eltwise_backward_primitive_desc_create(
                ctypes.byref(bwd), _engine, _GELU_ERF, md, md, md, 0.0, 0.0, fwd, None)
        else:
            alg = _LOG_SOFTMAX if kind == "log_softmax" else _SOFTMAX
            status = _lib.dnnl_softmax_forward_primitive_desc_create(
                ctypes.byref(fwd), _engine, _TRAINING, alg, md, md, axis, None)
            status = status or _lib.dnnl_softmax_backward_primitive_desc_create(
                ctypes.byref(bwd), _engine, alg, md, md, md, axis, fwd, None)
        if status:
            got = False
        else:
            prims = []
            for pd in (fwd, bwd):
                prim = _p()
                _check(_lib.dnnl_primitive_create(ctypes.byref(prim), pd), "primitive_create")
                prims.append(prim)
            got = (prims[0], prims[1], tuple(_memory(md) for _ in range(3)), (fwd, bwd))
        _unary_cache[key] = got
    return got or None


def _destroy(entry: Any) -> None:
    """Frees a ``_unary_cache`` entry's oneDNN objects (a declined shape holds none)."""
    if entry:
        fwd, bwd, mems, pds = entry
        for prim in (fwd, bwd):
            _lib.dnnl_primitive_destroy(prim)
        for pd in pds:
            _lib.dnnl_primitive_desc_destroy(pd)
        for mem in mems:
            _lib.dnnl_memory_destroy(mem)


def _unary(kind: str, backward: bool, args: tuple, axis: int = 0) -> np.ndarray | None:
    """Runs ``kind``'s forward (``args``: the input) or backward (the forward's input for GELU,
    its output for softmax, then the output's gradient) into a new array; None where oneDNN
    declines."""
    shape = args[0].shape
    if any(a.dtype != np.float32 or a.shape != shape or not a.flags.c_contiguous
           for a in args) or 0 in shape or not shape:
        return None
    with _lock:
        got = _unary_primitives(kind, shape, axis)
        if got is None:
            return None
        fwd, bwd, mems, _ = got
        out = np.empty(shape, np.float32)
        if backward:
            first = _A_SRC if kind == "gelu" else _A_DST
            roles = (first, _A_DIFF_DST, _A_DIFF_SRC)
        else:
            roles = (_A_SRC, _A_DST)
        arrays = args + (out,)
        for mem, array in zip(mems, arrays):
            _lib.dnnl_memory_set_data_handle(mem, _p(array.ctypes.data))
        packed = (_Arg * len(arrays))(*(_Arg(r, m) for r, m in zip(roles, mems)))
        one = _omp_one_thread(out.size)
        try:
            _check(_lib.dnnl_primitive_execute(bwd if backward else fwd, _stream, len(arrays),
                                               packed), "execute")
            _check(_lib.dnnl_stream_wait(_stream), "stream_wait")
        finally:
            if one:
                threads.openmp_follow_count()
        return out


def _omp_one_thread(size: int) -> bool:
    """Narrows OpenMP to one thread for a call on fewer than ``_POOL_MIN`` elements; says
    whether it did (the caller then restores the count)."""
    if size >= _POOL_MIN or threads._omp is None:
        return False
    threads._omp(1)
    return True


def softmax(x: np.ndarray, axis: int, log: bool) -> np.ndarray | None:
    """Softmax (``log``: log-softmax) of a float32 array along ``axis``, or None."""
    if x.size < _SOFTMAX_MIN or not enabled():
        return None
    return _unary("log_softmax" if log else "softmax", False, (x,), axis)


def softmax_backward(y: np.ndarray, g: np.ndarray, axis: int, log: bool) -> np.ndarray | None:
    """The gradient through a softmax (``log``: log-softmax) from its output ``y`` and the
    output's gradient ``g``, or None."""
    if y.size < _SOFTMAX_MIN or not enabled():
        return None
    return _unary("log_softmax" if log else "softmax", True, (y, g), axis)


def gelu(x: np.ndarray) -> np.ndarray | None:
    """The exact (erf) GELU of a float32 array, or None."""
    return _unary("gelu", False, (x,)) if enabled() else None


def gelu_backward(x: np.ndarray, g: np.ndarray) -> np.ndarray | None:
    """The gradient through the exact GELU from its input ``x`` and the output's gradient."""
    return _unary("gelu", True, (x, g)) if enabled() else None
