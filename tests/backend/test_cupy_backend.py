"""The CUDA backend (``ember/backend/cupy_backend.py``) on the fake CuPy (``tests/device/
fakecupy.py``, strict: a host array reaching a device function raises, as CuPy does): every kernel
against the NumPy backend's on the same random inputs (equal, or within float round-off where the
order of a sum differs), the syncs each one makes (none but the documented ones), the device
helpers, and loading (lazy, registered, the install hint without CuPy)."""
import ctypes
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest
from device import fakecupy

from ember import backend as ember_backend
from ember.backend import NUMPY, WindowGeometry, cupy_backend
from ember.backend.cupy_backend import CupyBackend


@pytest.fixture(scope="module", autouse=True)
def _strict():
    before = fakecupy.is_strict()
    fakecupy.set_strict(True)
    yield
    fakecupy.set_strict(before)


@pytest.fixture
def loading_restored():
    """The loading state (module given to ``use_module``, backend loaded) put back after the
    test: under ``--device fakecuda`` the conftest has loaded the fake's backend for the suite."""
    modules, backend = cupy_backend._modules, cupy_backend.loaded()
    yield
    cupy_backend.use_module(None, None)
    cupy_backend._modules, cupy_backend._backend = modules, backend
    if backend is not None:
        ember_backend.register(backend)


@pytest.fixture(scope="module")
def be():
    return CupyBackend(fakecupy.cupy, fakecupy.cupyx)


def dev(a):
    """A device copy of the host array ``a``."""
    return fakecupy.cupy.array(np.array(a))


def host(d):
    """A host copy of the device array ``d`` (a tuple or list of them element by element)."""
    if isinstance(d, (tuple, list)):
        return type(d)(host(v) for v in d)
    return None if d is None else fakecupy.cupy.asnumpy(d)


class no_sync:
    """Fails unless the block makes no device-to-host read (the fake counts them)."""

    def __enter__(self):
        self.before = fakecupy.sync_count()

    def __exit__(self, *exc):
        if exc[0] is None:
            assert fakecupy.sync_count() == self.before, "a device kernel read back to the host"


def check(be_fn, np_fn, *args, exact=True, rtol=1e-6, atol=1e-12, syncs=False):
    """``be_fn`` on device copies of ``args`` against ``np_fn`` on ``args``: equal (NaN where
    NaN), or close, in the same dtypes and shapes; returns the device result, on the host."""
    dargs = [dev(a) if isinstance(a, np.ndarray) else a for a in args]
    if syncs:
        got = be_fn(*dargs)
    else:
        with no_sync():
            got = be_fn(*dargs)
    want = np_fn(*args)
    got = host(got)
    for g, w in zip(got, want) if isinstance(want, tuple) else [(got, want)]:
        if w is None:
            assert g is None
            continue
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        if g.dtype.name == "bfloat16":  # (NumPy's testing sees no NaN in ml_dtypes' type)
            g, w = g.astype(np.float32), w.astype(np.float32)
        if exact:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
    return got


def geometry(x_shape, kernel, stride=None, pad=None, dilation=None, groups=1, ceil=False):
    """The ``WindowGeometry`` of a convolution or pooling over the last len(kernel) dims."""
    nd = len(kernel)
    stride, pad, dilation = stride or (1,) * nd, pad or (0,) * nd, dilation or (1,) * nd
    in_hw = tuple(x_shape[-nd:])
    out = []
    for n, k, s, p, d in zip(in_hw, kernel, stride, pad, dilation):
        span = n + 2 * p - d * (k - 1) - 1
        o = (-(-span // s) if ceil else span // s) + 1
        if ceil and (o - 1) * s >= n + p:  # the last window must start inside (torch's rule)
            o -= 1
        out.append(o)
    return WindowGeometry(tuple(kernel), tuple(stride), tuple(pad), tuple(dilation), groups,
                          in_hw, tuple(out))


# -- attributes, devices, loading -----------------------------------------------------------------
def test_attributes(be):
    assert be.name == "cuda" and be.device_type == "cuda"
    assert be.xp is fakecupy.cupy and be.array_type is fakecupy.cupy.ndarray
    assert be.optim.xp is fakecupy.cupy
    assert not be.real  # the fake never reaches the CUDA-compiling paths
    assert be.arrays  # the vocabulary's array carrier


def test_device_helpers(be):
    a = np.arange(6.0).reshape(2, 3)
    d = be.from_host(a, 0)
    assert type(d) is fakecupy.cupy.ndarray and be.device_index(d) == 0
    back = be.to_host(d)
    assert type(back) is np.ndarray
    np.testing.assert_array_equal(back, a)
    assert be.to_index(d, 0) is d  # already there: no copy
    be.synchronize()
    be.synchronize(0)


def test_to_index_copies_across_devices(be, monkeypatch):
    monkeypatch.setattr(fakecupy, "DEVICE_COUNT", 2)
    d = be.from_host(np.arange(4.0), 0)
    e = be.to_index(d, 1)
    assert be.device_index(e) == 1 and e is not d
    np.testing.assert_array_equal(be.to_host(e), np.arange(4.0))
    f = be.from_host(np.ones(3, np.float32), 1)
    assert be.device_index(f) == 1 and be.to_host(f).dtype == np.float32


def test_has_internal_overlap(be):
    xp = be.xp
    a = dev(np.zeros((3, 1)))
    assert be.has_internal_overlap(xp.broadcast_to(a, (3, 4)))
    assert not be.has_internal_overlap(a)
    assert not be.has_internal_overlap(xp.broadcast_to(dev(np.zeros(1)), (1,)))  # size 1: no
    assert not be.has_internal_overlap(dev(np.zeros((4, 5)))[:, ::2])


def test_sole_owner(be):
    fresh = dev(np.zeros((2, 3)))
    assert be.sole_owner(fresh)
    other = fresh  # a second reference: the engine must copy
    assert not be.sole_owner(fresh)
    del other
    assert not be.sole_owner(dev(np.zeros((4, 5)))[:, ::2])  # not C-contiguous
    assert not be.sole_owner(be.xp.broadcast_to(dev(np.zeros(3)), (2, 3)))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (the fake computes with NumPy)
def test_error_state_is_a_no_op(be):
    token = be.errors_ignored()
    be.errors_restored(token)
    with be.errors_quiet():
        y = dev(np.array([1.0, 0.0])) / dev(np.array([0.0, 0.0]))
    out = host(y)
    assert np.isinf(out[0]) and np.isnan(out[1])


def test_expand_and_may_share_memory(be):
    a = dev(np.arange(3.0))
    e = be.expand(a, (2, 3))
    np.testing.assert_array_equal(host(e), np.broadcast_to(np.arange(3.0), (2, 3)))
    assert be.may_share_memory(e, a)
    assert not be.may_share_memory(dev(np.zeros(3)), a)


def test_zero(be):
    for dt in (np.float32, np.float64, np.int64, np.float16):
        z = be.zero(np.dtype(dt))
        assert type(z) is fakecupy.cupy.ndarray and z.shape == () and z.dtype == dt
        assert host(z) == 0
        assert be.zero(np.dtype(dt)) is z  # made once per (device, dtype)
    x = dev(np.array([-1.5, 2.0], np.float32))
    y = be.xp.maximum(x, be.zero(x.dtype))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(host(y), [0.0, 2.0])


def test_load_registers_and_unloads(loading_restored):
    cupy_backend.use_module(fakecupy.cupy, fakecupy.cupyx)
    assert cupy_backend.loaded() is None
    b = cupy_backend.load()
    assert isinstance(b, CupyBackend) and cupy_backend.load() is b and cupy_backend.loaded() is b
    d = fakecupy.cupy.zeros(3)
    assert ember_backend.backend_of(d) is b and ember_backend.is_array(d)
    assert ember_backend.get_array_module(d) is fakecupy.cupy
    cupy_backend.use_module(None, None)
    assert cupy_backend.loaded() is None
    assert ember_backend.backend_of(fakecupy.cupy.zeros(3)) is NUMPY  # unregistered


def test_load_without_cupy_names_the_extras(monkeypatch, loading_restored):
    cupy_backend.use_module(None, None)
    monkeypatch.setitem(sys.modules, "cupy", None)  # ``import cupy`` raises ImportError
    with pytest.raises(ImportError, match=r"ember\[cuda12\].*ember\[cuda13\]"):
        cupy_backend.load()
    assert cupy_backend.loaded() is None


def test_import_ember_loads_no_cupy():
    code = ("import sys, ember; from ember.backend import cupy_backend; "
            "assert cupy_backend.loaded() is None; "
            "assert 'cupy' not in sys.modules and 'cupyx' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# -- scatter-adds and segment sums ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "int64", "int8",
                                   "uint8", "int16", "bool", "complex64", "uint64"])
def test_scatter_add_repeated_indices(be, rng, dtype):
    idx = rng.integers(0, 6, 40)
    if dtype == "bool":
        vals, target = rng.random(40) < 0.3, np.zeros(6, bool)
    elif dtype.startswith("complex"):
        vals = (rng.standard_normal(40) + 1j * rng.standard_normal(40)).astype(dtype)
        target = np.ones(6, dtype)
    else:
        # integers from 0..99: int8's sums wrap around as NumPy's add.at does
        vals = (rng.integers(0, 100, 40) if dtype[0] in "iu" else rng.standard_normal(40))
        vals, target = vals.astype(dtype), np.arange(6).astype(dtype)

    def numpy_side(t, i, v):
        t = t.copy()
        NUMPY.scatter_add(t, (i,), v)
        return t

    def device_side(t, i, v):
        out = be.scatter_add(t, (i,), v)
        assert out is t  # in place
        return t

    exact = dtype[0] in "iub"
    check(device_side, numpy_side, target, idx, vals, exact=exact, rtol=2e-3 if dtype == "float16"
          else 1e-6, atol=1e-3 if dtype == "float16" else 1e-12)


@pytest.mark.parametrize("dtype,values", [("float32", "float64"), ("int64", "int32"),
                                          ("int16", "int64"), ("bool", "bool")])
def test_scatter_add_casts_values_and_takes_numbers(be, rng, dtype, values):
    """Values of another dtype of the same kind, or a Python number, as torch's callers pass
    them (the values are cast to the target's dtype first)."""
    idx = np.array([0, 2, 2, 5, 0])
    target = np.zeros(6, dtype)
    for value in ((rng.standard_normal(5) * 300).astype(values), 2):
        def numpy_side(t, i, v=value):
            t = t.copy()
            NUMPY.scatter_add(t, (i,), v)
            return t

        def device_side(t, i, v=value):
            be.scatter_add(t, (i,), dev(v) if isinstance(v, np.ndarray) else v)
            return t

        check(device_side, numpy_side, target, idx, exact=dtype != "float32")


def test_scatter_add_bfloat16_sums_in_float32(be):
    bf16 = np.dtype("bfloat16")  # (ml_dtypes': the fake has it, CuPy has not)
    target = np.zeros(3, bf16)
    values = np.full(300, 1.0, bf16)  # 300 ones: bfloat16 steps of 2 from 256 on
    idx = np.zeros(300, np.int64)

    def device_side(t, i, v):
        be.scatter_add(t, (i,), v)
        return t

    out = check(device_side, lambda t, i, v: np.array([300, 0, 0], bf16), target, idx, values)
    assert out.dtype == bf16
    if np.dtype(np.longdouble).itemsize > 8:  # (x86's 80-bit long double: no CUDA type)
        with pytest.raises(TypeError, match="no atomic add for float"):
            be.scatter_add(dev(np.zeros(2, np.longdouble)), (dev(np.array([0])),), 1.0)


def test_scatter_add_rows_and_columns(be, rng):
    target = rng.standard_normal((5, 4))
    rows = np.array([0, 3, 3, 1, 0])
    vals = rng.standard_normal((5, 4))

    def numpy_side(t, r, v):
        t = t.copy()
        NUMPY.scatter_add(t, (slice(None), r[:4]), v[:, :4])  # a slice and an index array
        NUMPY.scatter_add(t, r, v)
        return t

    def device_side(t, r, v):
        be.scatter_add(t, (slice(None), r[:4]), v[:, :4])
        be.scatter_add(t, r, v)
        return t

    check(device_side, numpy_side, target, rows, vals, exact=False)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_segment_sum(be, rng, axis):
    values = rng.standard_normal((6, 7, 5))
    n = values.shape[axis]
    index = np.sort(rng.integers(0, 4, n))
    check(lambda v, i: be.segment_sum(v, i, 4, axis),
          lambda v, i: NUMPY.segment_sum(v, i, 4, axis), values, index, exact=False)
    empty = np.zeros(0, np.int64)
    check(lambda v, i: be.segment_sum(v, i, 3, 0), lambda v, i: NUMPY.segment_sum(v, i, 3, 0),
          values[:0], empty)


def test_index_sum(be, rng):
    values = rng.standard_normal((30, 3)).astype(np.float32)
    index = rng.integers(0, 7, 30)  # in any order, repeated
    check(lambda v, i: be.index_sum(v, i, 9), lambda v, i: NUMPY.index_sum(v, i, 9),
          values, index, exact=False, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64"])
def test_sum_rows(be, rng, dtype):
    m = (rng.standard_normal((37, 5)) * 4).astype(dtype)
    tol = {"rtol": 1e-3, "atol": 1e-2} if dtype == "float16" else {"rtol": 1e-5, "atol": 1e-5}
    check(be.sum_rows, NUMPY.sum_rows, m, exact=dtype == "int64", **tol)


# -- windows ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("amounts", [(1, 2, 0, 3), (0, 0, 0, 0), (-1, 2, 1, -2), (-2, -1, -1, 0)])
def test_pad2d(be, rng, amounts):
    x = rng.standard_normal((2, 3, 6, 7)).astype(np.float32)
    check(lambda a: be.pad2d(a, *amounts, value=-7.5),
          lambda a: NUMPY.pad2d(a, *amounts, value=-7.5), x)
    check(lambda a: be.pad2d(a, *amounts), lambda a: NUMPY.pad2d(a, *amounts),
          rng.integers(0, 9, (4, 5)))


WINDOWS = [  # kernel, stride, padding, dilation
    ((3, 3), (1, 1), (1, 1), (1, 1)),
    ((2, 3), (2, 1), (0, 1), (1, 2)),
    ((3, 2), (2, 3), (1, 0), (2, 1)),
    ((1, 1), (2, 2), (0, 0), (1, 1)),
    ((4, 4), (3, 3), (2, 1), (1, 1)),
]


@pytest.mark.parametrize("kernel,stride,pad,dilation", WINDOWS)
def test_windows_and_pad_to_windows(be, rng, kernel, stride, pad, dilation):
    x = rng.standard_normal((2, 3, 11, 10))
    geo = geometry(x.shape, kernel, stride, pad, dilation)
    check(lambda a: be.pad_to_windows(a, geo, -1.0), lambda a: NUMPY.pad_to_windows(a, geo, -1.0),
          x)
    check(lambda a: be.windows(be.pad_to_windows(a, geo), kernel, stride, dilation, geo.out_hw),
          lambda a: NUMPY.windows(NUMPY.pad_to_windows(a, geo), kernel, stride, dilation,
                                  geo.out_hw), x)


def test_as_strided(be, rng):
    x = rng.standard_normal(20)
    check(lambda a: be.as_strided(a, (4, 3), (16, 8)), lambda a: NUMPY.as_strided(a, (4, 3),
                                                                                 (16, 8)), x)
    check(lambda a: be.as_strided(a, shape=(2, 2), strides=(8, 8), writeable=False),
          lambda a: NUMPY.as_strided(a, shape=(2, 2), strides=(8, 8), writeable=False), x)


@pytest.mark.parametrize("out_hw", [(9, 8), (5, 4), (12, 13)])  # whole, windows past it, margins
@pytest.mark.parametrize("stride,dilation", [((1, 1), (1, 1)), ((2, 1), (1, 2)), ((3, 2), (2, 1))])
def test_col2im(be, rng, out_hw, stride, dilation):
    cols = rng.standard_normal((2, 3, 3, 2, 4, 4)).astype(np.float32)
    check(lambda c: be.col2im(c, out_hw, stride, dilation),
          lambda c: NUMPY.col2im(c, out_hw, stride, dilation), cols, exact=False, rtol=1e-6,
          atol=1e-6)
    check(lambda c: be.col2im(c, out_hw, stride, dilation, np.float64),
          lambda c: NUMPY.col2im(c, out_hw, stride, dilation, np.float64), cols, exact=False)


# -- pooling ----------------------------------------------------------------------------------------
def pool_input(rng, shape, dtype="float64", nan=True):
    """Small integers (ties in every window), some NaNs, some -inf."""
    x = rng.integers(-3, 4, shape).astype(dtype)
    if dtype[0] == "f" and nan:
        x.flat[rng.choice(x.size, x.size // 12, replace=False)] = np.nan
        x.flat[rng.choice(x.size, x.size // 20, replace=False)] = -np.inf
    return x


@pytest.mark.parametrize("kernel,stride,pad,dilation", WINDOWS)
@pytest.mark.parametrize("op", ["sum", "max", "argmax"])
def test_window_reduce(be, rng, kernel, stride, pad, dilation, op):
    x = pool_input(rng, (2, 3, 11, 10), nan=op != "sum")
    geo = geometry(x.shape, kernel, stride, pad, dilation)
    padded = NUMPY.pad_to_windows(x, geo, -np.inf if op != "sum" else 0.0)
    check(lambda a: be.window_reduce(a, kernel, stride, dilation, geo.out_hw, op),
          lambda a: NUMPY.window_reduce(a, kernel, stride, dilation, geo.out_hw, op), padded,
          exact=op != "sum")


def test_window_reduce_argmax_without_nan_and_integers(be, rng):
    for dtype in ("float32", "int64", "int32"):
        x = pool_input(rng, (2, 2, 9, 9), dtype, nan=False)
        check(lambda a: be.window_reduce(a, (3, 3), (2, 2), (1, 1), (4, 4), "argmax"),
              lambda a: NUMPY.window_reduce(a, (3, 3), (2, 2), (1, 1), (4, 4), "argmax"), x)
    big = pool_input(rng, (1, 1, 24, 24), "float32")  # 144 offsets: int16 argmax
    check(lambda a: be.window_reduce(a, (12, 12), (12, 12), (1, 1), (2, 2), "argmax"),
          lambda a: NUMPY.window_reduce(a, (12, 12), (12, 12), (1, 1), (2, 2), "argmax"), big)


@pytest.mark.parametrize("kernel,stride,pad,dilation", WINDOWS[:3] + [((2, 2), (2, 2), (1, 1),
                                                                          (1, 1))])
@pytest.mark.parametrize("ceil", [False, True])
def test_max_pool2d(be, rng, kernel, stride, pad, dilation, ceil):
    x = pool_input(rng, (2, 3, 10, 9))
    geo = geometry(x.shape, kernel, stride, pad, dilation, ceil=ceil)
    for indices in (True, False):
        check(lambda a, want=indices: be.max_pool2d(a, geo, -np.inf, want),
              lambda a, want=indices: NUMPY.max_pool2d(a, geo, -np.inf, want), x)
    xi = pool_input(rng, (2, 3, 10, 9), "int32")
    low = np.iinfo(np.int32).min
    check(lambda a: be.max_pool2d(a, geo, low, True), lambda a: NUMPY.max_pool2d(a, geo, low, True),
          xi)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (ml_dtypes' loops in the fake, at NaN)
def test_pooling_and_special_of_bfloat16(be, rng):
    """ml_dtypes' bfloat16 (kind "V": a CuPy-shaped module over NumPy carries it): NaNs still
    win the argmax, special functions come back in bfloat16."""
    bf16 = np.dtype("bfloat16")
    x = pool_input(rng, (1, 2, 9, 9)).astype(bf16)
    geo = geometry(x.shape, (3, 3), (2, 2), (1, 1))
    check(lambda a: be.max_pool2d(a, geo, -np.inf, True),
          lambda a: NUMPY.max_pool2d(a, geo, -np.inf, True), x)
    out = check(be.erf, NUMPY.erf, rng.standard_normal(20).astype(bf16), exact=False,
                rtol=1e-2, atol=1e-2)
    assert out.dtype == bf16


def test_max_pool2d_all_lowest_window_keeps_an_input_element(be):
    x = np.full((1, 1, 4, 4), -np.inf)
    x[0, 0, 2:, 2:] = 1.0
    geo = geometry(x.shape, (3, 3), (2, 2), (1, 1))
    _y, idx = check(lambda a: be.max_pool2d(a, geo, -np.inf, True),
                   lambda a: NUMPY.max_pool2d(a, geo, -np.inf, True), x)
    assert idx[0, 0, 0, 0] == 0  # the window's first element inside the input, not padding


# -- convolution --------------------------------------------------------------------------------------
CONV2D = [  # x, w, stride, pad, dilation, groups
    ((2, 3, 9, 9), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),
    ((2, 4, 10, 11), (6, 2, 3, 2), (2, 1), (1, 0), (1, 1), 2),
    ((2, 6, 8, 8), (6, 1, 3, 3), (1, 1), (1, 1), (1, 1), 6),  # depthwise
    ((3, 8, 5, 6), (4, 8, 1, 1), (1, 1), (0, 0), (1, 1), 1),  # pointwise
    ((2, 4, 7, 9), (6, 2, 1, 1), (2, 3), (0, 0), (1, 1), 2),  # strided pointwise, grouped
    ((2, 3, 11, 9), (5, 3, 3, 3), (3, 3), (2, 2), (1, 1), 1),  # last rows never read
    ((2, 3, 12, 12), (4, 3, 3, 2), (1, 2), (2, 1), (2, 3), 1),  # dilated
    ((0, 3, 6, 6), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),  # an empty batch
]


def conv_case(rng, xs, ws, stride, pad, dilation, groups, dtype=np.float64):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    geo = geometry(xs, ws[2:], stride, pad, dilation, groups)
    g = rng.standard_normal((xs[0], ws[0]) + geo.out_hw).astype(dtype)
    return x, w, g, geo


@pytest.mark.parametrize("case", CONV2D)
def test_conv2d_kernels(be, rng, case):
    x, w, g, geo = conv_case(rng, *case)
    b = rng.standard_normal(w.shape[0])
    close = {"exact": False, "rtol": 1e-10, "atol": 1e-10}
    check(lambda a, k: be.conv2d(a, k, geo), lambda a, k: NUMPY.conv2d(a, k, geo), x, w, **close)
    check(lambda a, k, c: be.conv2d(a, k, geo, c), lambda a, k, c: NUMPY.conv2d(a, k, geo, c),
          x, w, b, **close)
    check(lambda d, k: be.conv2d_input_grad(d, k, geo),
          lambda d, k: NUMPY.conv2d_input_grad(d, k, geo), g, w, **close)
    check(lambda a, d: be.conv2d_weight_grad(a, d, geo),
          lambda a, d: NUMPY.conv2d_weight_grad(a, d, geo), x, g, **close)


def test_conv2d_float32_and_chunks(be, rng, monkeypatch):
    x, w, g, geo = conv_case(rng, (5, 4, 8, 8), (6, 4, 3, 3), (1, 1), (1, 1), (1, 1), 1,
                             np.float32)
    monkeypatch.setattr(cupy_backend, "_CHUNK_BYTES", 4000)  # several GEMMs per batch
    close = {"exact": False, "rtol": 1e-4, "atol": 1e-4}
    y = check(lambda a, k: be.conv2d(a, k, geo), lambda a, k: NUMPY.conv2d(a, k, geo), x, w,
              **close)
    assert y.dtype == np.float32
    check(lambda d, k: be.conv2d_input_grad(d, k, geo),
          lambda d, k: NUMPY.conv2d_input_grad(d, k, geo), g, w, **close)
    check(lambda a, d: be.conv2d_weight_grad(a, d, geo),
          lambda a, d: NUMPY.conv2d_weight_grad(a, d, geo), x, g, **close)


CONV1D = [((2, 3, 11), (4, 3, 3), (1,), (1,), (1,), 1), ((2, 4, 12), (6, 2, 2), (2,), (0,), (3,), 2),
          ((3, 5, 7), (5, 5, 1), (1,), (0,), (1,), 1)]
CONV3D = [((2, 3, 5, 6, 6), (4, 3, 3, 3, 3), (1, 1, 1), (1, 1, 1), (1, 1, 1), 1),
          ((2, 4, 6, 5, 7), (6, 2, 2, 3, 2), (2, 1, 2), (1, 0, 1), (2, 1, 1), 2),
          ((1, 2, 7, 4, 4), (3, 2, 3, 1, 1), (3, 1, 1), (0, 0, 0), (1, 1, 1), 1)]


@pytest.mark.parametrize("case", CONV1D + CONV3D)
def test_conv1d_conv3d_kernels(be, rng, case):
    x, w, g, geo = conv_case(rng, *case)
    nd = x.ndim - 2
    close = {"exact": False, "rtol": 1e-10, "atol": 1e-10}
    for kind, args in ((f"conv{nd}d", (x, w)), (f"conv{nd}d_input_grad", (g, w)),
                       (f"conv{nd}d_weight_grad", (x, g))):
        check(getattr(be, kind), getattr(NUMPY, kind), *args, geo, **close)


@pytest.mark.parametrize("kernel,stride,dilation,pad,out", [(3, 1, 1, 1, 6), (2, 2, 2, 0, 2),
                                                             (3, 3, 1, 2, 3), (2, 1, 1, 0, 3)])
def test_depth_windows_and_col2im(be, rng, kernel, stride, dilation, pad, out):
    x = rng.standard_normal((2, 3, 6, 4, 5))
    check(lambda a: be.depth_windows(a, kernel, stride, dilation, pad, out, -2.0),
          lambda a: NUMPY.depth_windows(a, kernel, stride, dilation, pad, out, -2.0), x)
    cols = rng.standard_normal((2, 3, kernel, out, 4, 5))
    check(lambda c: be.depth_col2im(c, 6, stride, dilation, pad),
          lambda c: NUMPY.depth_col2im(c, 6, stride, dilation, pad), cols, exact=False)


# -- special functions --------------------------------------------------------------------------------
UNARY_SPECIAL = {  # name -> a domain sampler
    "erf": lambda r: r.standard_normal(200) * 3, "erfc": lambda r: r.standard_normal(200) * 3,
    "erfcx": lambda r: r.standard_normal(200) * 3, "erfinv": lambda r: r.uniform(-1, 1, 200),
    "ndtri": lambda r: r.uniform(0, 1, 200), "log_ndtr": lambda r: r.standard_normal(200) * 5,
    "lgamma": lambda r: r.uniform(0.1, 20, 200), "digamma": lambda r: r.uniform(0.1, 20, 200),
    "i0": lambda r: r.standard_normal(200) * 5, "i0e": lambda r: r.standard_normal(200) * 5,
    "i1": lambda r: r.standard_normal(200) * 5, "i1e": lambda r: r.standard_normal(200) * 5,
    "spherical_bessel_j0": lambda r: np.r_[0.0, np.inf, -np.inf, r.standard_normal(100) * 9],
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (sin(inf) in the fake's NumPy)
@pytest.mark.parametrize("name", sorted(UNARY_SPECIAL))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_unary_special(be, rng, name, dtype):
    x = UNARY_SPECIAL[name](rng).astype(dtype)
    tol = {"rtol": 1e-12, "atol": 1e-14} if dtype == "float64" else {"rtol": 2e-6, "atol": 1e-7}
    check(getattr(be, name), getattr(NUMPY, name), x, exact=False, **tol)


def test_binary_special(be, rng):
    a, x = rng.uniform(0.1, 5, 50), rng.uniform(0, 8, 50)
    for name in ("gammainc", "gammaincc"):
        check(getattr(be, name), getattr(NUMPY, name), a, x, exact=False, rtol=1e-10,
              atol=1e-14)
    s, q = rng.uniform(1.5, 6, 50), rng.uniform(0.2, 5, 50)
    check(be.zeta, NUMPY.zeta, s, q, exact=False, rtol=1e-10)
    check(lambda v: be.zeta(3.0, v), lambda v: NUMPY.zeta(3.0, v), q, exact=False, rtol=1e-10)


@pytest.mark.parametrize("n", [0, 1, 2, 4])
def test_polygamma(be, rng, n):
    x = rng.uniform(0.2, 9, 60)
    check(lambda v: be.polygamma(n, v), lambda v: NUMPY.polygamma(n, v), x, exact=False,
          rtol=1e-9)
    check(lambda v: be.polygamma(n, v), lambda v: NUMPY.polygamma(n, v), x.astype(np.float32),
          exact=False, rtol=2e-6)


@pytest.mark.parametrize("name", ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1",
                                  "modified_bessel_k0", "modified_bessel_k1",
                                  "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
                                  "airy_ai"])
def test_bessel(be, rng, name):
    x = rng.uniform(0.05, 30, 100)
    check(lambda v: be.bessel(name, v), lambda v: NUMPY.bessel(name, v), x, exact=False,
          rtol=1e-9, atol=1e-12, syncs=name == "airy_ai")  # (CuPy has no Airy: on the host)
    with pytest.raises(KeyError):
        be.bessel("no_such_kernel", dev(x))


@pytest.mark.parametrize("kind", ["t", "u", "h", "p", "shifted_w"])
def test_orthogonal_polynomial_runs_on_the_host(be, rng, kind):
    x, n = rng.uniform(-1, 1, 30), rng.integers(0, 9, 30).astype(np.float64)
    check(lambda a, b: be.orthogonal_polynomial(kind, a, b),
          lambda a, b: NUMPY.orthogonal_polynomial(kind, a, b), x, n, syncs=True)
    check(lambda a: be.orthogonal_polynomial(kind, a, 3.0),
          lambda a: NUMPY.orthogonal_polynomial(kind, a, 3.0), x, syncs=True)


# -- the vocabulary the backward formulas use -----------------------------------------------------
@pytest.mark.parametrize("size", [10, 5000])  # the small ``where`` and the big bit-mask kernel
def test_vocabulary_kernels(be, rng, size):
    y = np.maximum(rng.standard_normal(size), 0).astype(np.float32)
    y[:3] = [0.0, -0.0, np.nan]
    g = rng.standard_normal(size).astype(np.float32)
    check(be.threshold_backward, NUMPY.threshold_backward, g, y)
    check(lambda a: be.mean_backward(a, (4, 3), 12), lambda a: NUMPY.mean_backward(a, (4, 3), 12),
          rng.standard_normal((1, 3)))
    a, b = rng.standard_normal((2, 5, 4)), rng.standard_normal((3, 4))
    check(lambda u, v: be.mm(u, v, tb=True), lambda u, v: NUMPY.mm(u, v, tb=True), a, b,
          exact=False)
    check(lambda u: be.sum(u, (0, 2), True), lambda u: NUMPY.sum(u, (0, 2), True), a,
          exact=False)
    check(lambda u: be.sum_to(u, (1, 4)), lambda u: NUMPY.sum_to(u, (1, 4)), a, exact=False)
    check(lambda u: be.cast(u, np.dtype(np.float32)), lambda u: NUMPY.cast(u, np.dtype(np.float32)),
          a)


# -- optimizer kernels --------------------------------------------------------------------------------
OPTIMIZERS = {  # name -> (state arrays besides param and grad, as functions of param; options)
    "sgd": (lambda p: [None], {"lr": 0.1, "weight_decay": 0.01, "momentum": 0.9, "dampening": 0.1,
                                   "nesterov": False, "maximize": False}),
    "adam": (lambda p: [np.zeros_like(p), np.zeros_like(p), np.zeros_like(p), np.zeros(())],
             {"lr": 1e-2, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.1, "amsgrad": True,
                  "maximize": False, "decoupled_weight_decay": True}),
    "adamax": (lambda p: [np.zeros_like(p), np.zeros_like(p), np.zeros(())],
               {"lr": 1e-2, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.0, "maximize": True}),
    "nadam": (lambda p: [np.zeros_like(p), np.zeros_like(p), np.ones(()), np.zeros(())],
              {"lr": 1e-2, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.01,
                   "momentum_decay": 4e-3, "decoupled_weight_decay": False, "maximize": False}),
    "radam": (lambda p: [np.zeros_like(p), np.zeros_like(p), np.zeros(())],
              {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
                   "decoupled_weight_decay": False, "maximize": False}),
    "rmsprop": (lambda p: [np.zeros_like(p), np.zeros_like(p), np.zeros_like(p), np.zeros(())],
                {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.5,
                     "centered": True, "maximize": False}),
    "adagrad": (lambda p: [np.full_like(p, 0.1), np.zeros(())],
                {"lr": 1e-2, "weight_decay": 0.0, "lr_decay": 0.01, "eps": 1e-10, "maximize": False}),
    "adadelta": (lambda p: [np.zeros_like(p), np.zeros_like(p), np.zeros(())],
                 {"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0, "maximize": False}),
    "asgd": (lambda p: [np.zeros_like(p), np.full((), 0.01), np.ones(()), np.zeros(())],
             {"lr": 0.01, "lambd": 1e-4, "alpha": 0.75, "t0": 2.0, "weight_decay": 0.0, "maximize": False,
                  "scalar_dtype": np.float64}),
    "rprop": (lambda p: [np.zeros_like(p), np.full_like(p, 0.01), np.zeros(())],
              {"etaminus": 0.5, "etaplus": 1.2, "step_size_min": 1e-6, "step_size_max": 50.0,
                   "maximize": False}),
}


@pytest.mark.parametrize("name,scalars", [(n, where) for n in sorted(OPTIMIZERS)
                                           for where in ("device", "host")
                                           # (ASGD writes device values into eta and mu)
                                           if (n, where) != ("asgd", "host")])
def test_optimizer_kernels(be, rng, name, scalars):
    """Each update on the device against NumPy's. The 0-d scalar state (step counts, NAdam's
    mu_product, ASGD's eta and mu) read with ``.item()``: a sync per parameter and step on the
    device; none where it stays on the host, as torch keeps ``step`` on the CPU."""
    make_state, options = OPTIMIZERS[name]
    param = rng.standard_normal((4, 3))
    host_state = [param.copy()] + make_state(param)
    dev_state = [None if s is None else np.array(s) if s.ndim == 0 and scalars == "host"
                 else dev(s) for s in host_state]
    for step in range(4):  # the first steps and the later ones (momentum buffers, rho_t > 5)
        grad = rng.standard_normal((4, 3))
        out_np = getattr(NUMPY.optim, name)(host_state[0], grad, *host_state[1:], **options)
        before, dgrad = fakecupy.sync_count(), dev(grad)
        out_dev = getattr(be.optim, name)(dev_state[0], dgrad, *dev_state[1:], **options)
        if scalars == "host":
            assert fakecupy.sync_count() == before
        if name == "sgd":  # the momentum buffer it starts
            host_state[1], dev_state[1] = out_np, out_dev
        for h, d in zip(host_state, dev_state):
            if h is not None:
                np.testing.assert_allclose(d if type(d) is np.ndarray else host(d), h,
                                           rtol=1e-12, atol=1e-14,
                                           err_msg=f"{name}, step {step}")


# -- the fused CUDA kernels, their source run on the CPU --------------------------------------------
# A C++ compiler runs the CUDA source as one thread of a one-block grid (its grid-stride loop then
# visits every element), on the fake device arrays' own NumPy buffers (``_a``: the fake's memory,
# strides and all), so a kernel reads and writes them as it would on a GPU. The kernels'
# arithmetic and their launches' arguments are checked here; the launch on a GPU by
# benchmarks/gpu_check.py's kernel part.
CUDA_ON_CPU = """
struct ember_dim3 { unsigned int x; };
static const ember_dim3 blockIdx = {0}, threadIdx = {0}, blockDim = {1}, gridDim = {1};
#define __global__
"""
C_TYPES = {np.float32: ctypes.c_float, np.float64: ctypes.c_double, np.int32: ctypes.c_int,
           np.int64: ctypes.c_longlong}  # the scalar arguments' types
SOURCES = {"ember_max_pool2d": cupy_backend.MAX_POOL2D_SOURCE,
           "ember_col2im": cupy_backend.COL2IM_SOURCE,
           "ember_window_reduce": cupy_backend.WINDOW_REDUCE_SOURCE}


@pytest.fixture(scope="module")
def cpu_kernels(tmp_path_factory):
    """(kernel name, typedefs) -> the CPU build of that kernel, built on first use."""
    cc = shutil.which("g++") or shutil.which("c++")
    if cc is None:
        pytest.skip("no C++ compiler to run the CUDA source on the CPU")
    folder = tmp_path_factory.mktemp("cuda_on_cpu")

    class Builds(dict):
        def __missing__(self, key):
            name, types = key
            stem = f"{name}_{len(self)}"
            src, lib = folder / f"{stem}.cpp", folder / f"{stem}.so"
            src.write_text(CUDA_ON_CPU + types + SOURCES[name])
            subprocess.run([cc, "-O1", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
            fn = getattr(ctypes.CDLL(str(lib)), name)
            fn.restype = None
            self[key] = fn
            return fn

    return Builds()


def fused_backend(cpu_kernels):
    """A backend on the fake whose fused kernels run as their CPU builds."""
    b = CupyBackend(fakecupy.cupy, fakecupy.cupyx)
    b.fused = True  # as on a GPU
    b.launches = []  # the kernels launched, by name

    def kernel(name, source, types):
        assert source is SOURCES[name]
        fn = cpu_kernels[name, types]

        def launch(grid, block, args):
            assert grid[0] >= 1 and block[0] >= 1
            types_, values = [], []
            for a in args:  # CUDA reads each argument as its exact type: numpy's
                if type(a) is fakecupy.cupy.ndarray:
                    types_.append(ctypes.c_void_p)
                    values.append(a._a.ctypes.data)  # (the fake's memory, its strides)
                else:
                    assert type(a) in C_TYPES, f"{type(a)} is no C type"
                    types_.append(C_TYPES[type(a)])
                    values.append(a.item())
            fn.argtypes = types_
            fn(*values)
            b.launches.append(name)
        return launch

    b._kernel = kernel
    return b


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize("kernel,stride,pad,dilation", WINDOWS)
@pytest.mark.parametrize("op", ["sum", "max", "argmax"])
def test_fused_window_reduce(cpu_kernels, rng, dtype, kernel, stride, pad, dilation, op):
    fused = fused_backend(cpu_kernels)
    x = pool_input(rng, (2, 3, 11, 10), dtype, nan=op != "sum")
    if dtype[0] == "f" and op == "sum":
        x += rng.standard_normal(x.shape).astype(dtype)  # (sums that round: the same order)
    geo = geometry(x.shape, kernel, stride, pad, dilation)
    low = -np.inf if dtype[0] == "f" else np.iinfo(dtype).min
    padded = NUMPY.pad_to_windows(x, geo, low if op != "sum" else 0)

    def strided(a):  # int32: a strided view of the padded input, copied contiguous first
        w = a.shape[-1]
        return fakecupy.cupy.concatenate((a, a), axis=-1)[..., :w] if dtype == "int32" else a

    check(lambda a: fused.window_reduce(strided(a), kernel, stride, dilation, geo.out_hw, op),
          lambda a: NUMPY.window_reduce(a, kernel, stride, dilation, geo.out_hw, op), padded)
    assert fused.launches == ["ember_window_reduce"]


def test_fused_window_reduce_int16_argmax_and_empty(cpu_kernels, rng):
    fused = fused_backend(cpu_kernels)
    big = pool_input(rng, (1, 2, 24, 24), "float32")  # 144 offsets: int16
    check(lambda a: fused.window_reduce(a, (12, 12), (12, 12), (1, 1), (2, 2), "argmax"),
          lambda a: NUMPY.window_reduce(a, (12, 12), (12, 12), (1, 1), (2, 2), "argmax"), big)
    planes = rng.standard_normal((5, 7, 6))  # 3-d: planes, as the plain path takes them
    check(lambda a: fused.window_reduce(a, (2, 3), (2, 1), (1, 2), (3, 2), "argmax"),
          lambda a: NUMPY.window_reduce(a, (2, 3), (2, 1), (1, 2), (3, 2), "argmax"), planes)
    empty = np.zeros((0, 2, 4, 4), np.float32)
    check(lambda a: fused.window_reduce(a, (2, 2), (2, 2), (1, 1), (2, 2), "argmax"),
          lambda a: NUMPY.window_reduce(a, (2, 2), (2, 2), (1, 1), (2, 2), "argmax"), empty)
    assert fused.launches == ["ember_window_reduce"] * 2  # (nothing to launch for no outputs)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize("kernel,stride,pad,dilation", WINDOWS[:3] + [((2, 2), (2, 2), (1, 1),
                                                                          (1, 1))])
@pytest.mark.parametrize("ceil", [False, True])
def test_fused_max_pool2d(cpu_kernels, rng, dtype, kernel, stride, pad, dilation, ceil):
    fused = fused_backend(cpu_kernels)
    x = pool_input(rng, (2, 3, 10, 9), dtype)
    x = x[:, :, :, ::-1] if dtype == "float64" else x  # (a strided input: made contiguous)
    geo = geometry(x.shape, kernel, stride, pad, dilation, ceil=ceil)
    low = -np.inf if dtype[0] == "f" else np.iinfo(dtype).min
    for indices in (True, False):
        check(lambda a, want=indices: fused.max_pool2d(a, geo, low, want),
              lambda a, want=indices: NUMPY.max_pool2d(a, geo, low, want), x)
    assert fused.launches == ["ember_max_pool2d"] * 2


def test_fused_max_pool2d_all_lowest_and_empty(cpu_kernels):
    fused = fused_backend(cpu_kernels)
    x = np.full((1, 2, 4, 4), -np.inf, np.float32)
    x[0, 0, 2:, 2:] = 1.0
    for geo in (geometry(x.shape, (3, 3), (2, 2), (1, 1)),
                geometry(x.shape, (2, 2), (1, 1), (1, 1), (2, 2))):
        check(lambda a, g=geo: fused.max_pool2d(a, g, -np.inf, True),
              lambda a, g=geo: NUMPY.max_pool2d(a, g, -np.inf, True), x)
    empty = np.zeros((0, 2, 4, 4), np.float32)
    geo = geometry(empty.shape, (2, 2), (2, 2))
    check(lambda a: fused.max_pool2d(a, geo, -np.inf, True),
          lambda a: NUMPY.max_pool2d(a, geo, -np.inf, True), empty)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("out_hw", [(9, 8), (5, 4), (12, 13)])  # whole, windows past it, margins
@pytest.mark.parametrize("stride,dilation", [((1, 1), (1, 1)), ((2, 1), (1, 2)), ((3, 2), (2, 1))])
def test_fused_col2im(cpu_kernels, rng, dtype, out_hw, stride, dilation):
    fused = fused_backend(cpu_kernels)
    cols = (rng.standard_normal((2, 3, 3, 2, 4, 4)) * 9).astype(dtype)
    # the same additions in the same order as NumPy's: equal bit for bit
    check(lambda c: fused.col2im(c, out_hw, stride, dilation),
          lambda c: NUMPY.col2im(c, out_hw, stride, dilation), cols)
    assert fused.launches == ["ember_col2im"]
    # a strided (transposed) cols, as conv2d_input_grad passes it, is read in place
    t = np.ascontiguousarray(cols.transpose(1, 0, 2, 3, 4, 5))
    check(lambda c: fused.col2im(c.transpose(1, 0, 2, 3, 4, 5), out_hw, stride, dilation),
          lambda c: NUMPY.col2im(c.transpose(1, 0, 2, 3, 4, 5), out_hw, stride, dilation), t)
    if dtype == "float32":  # another result dtype: the plain path
        check(lambda c: fused.col2im(c, out_hw, stride, dilation, np.float64),
              lambda c: NUMPY.col2im(c, out_hw, stride, dilation, np.float64), cols,
              exact=False)


def test_fused_conv_input_grad(cpu_kernels, rng):
    fused = fused_backend(cpu_kernels)
    _, w, g, geo = conv_case(rng, (2, 4, 9, 9), (6, 2, 3, 3), (2, 2), (1, 1), (1, 1), 2,
                             np.float32)
    check(lambda d, k: fused.conv2d_input_grad(d, k, geo),
          lambda d, k: NUMPY.conv2d_input_grad(d, k, geo), g, w, exact=False, rtol=1e-5,
          atol=1e-5)
    assert fused.launches == ["ember_col2im"]  # stride 2: the scatter, fused


@pytest.fixture(scope="module")
def cpu_threshold_backward(tmp_path_factory):
    """C type name -> ``THRESHOLD_BACKWARD_OP`` in a loop over arrays, built for the CPU (as
    CuPy's ``ElementwiseKernel`` wraps an operation: parameters are elements)."""
    cc = shutil.which("g++") or shutil.which("c++")
    if cc is None:
        pytest.skip("no C++ compiler to run the CUDA source on the CPU")
    folder = tmp_path_factory.mktemp("elementwise_on_cpu")
    kernels = {}
    for ctype in ("float", "double"):
        src, lib = folder / f"tb_{ctype}.cpp", folder / f"tb_{ctype}.so"
        src.write_text(f"typedef {ctype} T;\n" + """extern "C" void run(
            const T* gp, const T* yp, T* op, long long n) {
          for (long long i = 0; i < n; ++i) {
            const T g = gp[i], y = yp[i];
            T out;
            """ + cupy_backend.THRESHOLD_BACKWARD_OP + """;
            op[i] = out;
          }
        }""")
        subprocess.run([cc, "-O1", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
        fn = ctypes.CDLL(str(lib)).run
        fn.restype = None
        fn.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_longlong]
        kernels[ctype] = fn
    return kernels


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", [10, 5000])
def test_fused_threshold_backward(cpu_threshold_backward, rng, dtype, size, monkeypatch):
    made = []

    def elementwise(in_params, out_params, operation, name):
        assert (in_params, out_params, operation) == ("T g, T y", "T out",
                                                      cupy_backend.THRESHOLD_BACKWARD_OP)
        made.append(name)

        def run(g, y):
            out = fakecupy.cupy.empty(g.shape, g.dtype)
            cpu_threshold_backward[cupy_backend.FUSED_TYPES[g.dtype.char]](
                g._a.ctypes.data, y._a.ctypes.data, out._a.ctypes.data, g.size)
            return out
        return run

    fused = CupyBackend(fakecupy.cupy, fakecupy.cupyx)
    fused.fused = True
    monkeypatch.setattr(fakecupy.cupy, "ElementwiseKernel", elementwise, raising=False)
    y = np.maximum(rng.standard_normal(size), 0).astype(dtype)
    y[:4] = [0.0, -0.0, np.nan, 1e-30]
    g = rng.standard_normal(size).astype(dtype)
    g[5] = np.nan
    check(fused.threshold_backward, NUMPY.threshold_backward, g, y)
    check(fused.threshold_backward, NUMPY.threshold_backward, g, y)
    assert made == ["ember_threshold_backward"]  # compiled once
    # other dtypes or shapes: the vocabulary's
    check(fused.threshold_backward, NUMPY.threshold_backward, g.astype(np.float16),
          y.astype(np.float16))
    check(fused.threshold_backward, NUMPY.threshold_backward, g[None], y)
    assert made == ["ember_threshold_backward"]


def test_fused_kernels_only_on_real_cupy(be, monkeypatch):
    assert not be.fused and not cupy_backend._is_cupy(fakecupy.cupy)
    real = types.ModuleType("cupy")
    real.__file__ = "/site-packages/cupy/__init__.py"
    assert cupy_backend._is_cupy(real)
    fake_named_cupy = types.ModuleType("cupy")  # no package file: not CuPy
    assert not cupy_backend._is_cupy(fake_named_cupy)
    real.ndarray = fakecupy.cupy.ndarray
    assert CupyBackend(real, fakecupy.cupyx).fused
    monkeypatch.setenv("EMBER_CUPY_FUSED", "0")
    assert not CupyBackend(real, fakecupy.cupyx).fused
