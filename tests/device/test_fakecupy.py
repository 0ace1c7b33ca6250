"""The fake CUDA device (tests/device/fakecupy.py) against what it stands in for: CuPy 14.2's names
and keywords (the JSON dump), its refusals towards the host, 0-d results, counted syncs, cupy.cuda,
the memory pool, cupyx and the special functions (ember's kernels, NumPy formulas, SciPy where
installed).

The tests taking the ``dev`` fixture state CuPy's behaviour itself: they run on the fake and, on a
machine with CuPy and a GPU, on real CuPy too, so the fake's claims are checked where they can be
(elsewhere that half skips). On a GPU, ``pytest tests/device/test_fakecupy.py -k realcupy`` runs
only the real halves (a few seconds)."""
from __future__ import annotations

import importlib.util
import inspect
import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from device import fakecupy

cp, cpx = fakecupy.cupy, fakecupy.cupyx
EMBER_DIR = Path(fakecupy._EMBER_DIR)


@pytest.fixture(autouse=True)
def _strict_and_clean():
    fakecupy.set_strict(True)
    fakecupy.reset_findings()
    yield
    fakecupy.set_strict(True)
    fakecupy.reset_findings()


class Dev(NamedTuple):
    cp: object       # cupy (or the fake's)
    cpx: object      # cupyx
    fake: bool


def _real_cupy() -> Dev | None:
    try:
        import cupy
        import cupyx
        import cupyx.scipy.special
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # noqa: BLE001 - no CuPy, or no driver/GPU (CUDARuntimeError)
        return None
    return Dev(cupy, cupyx, False)


@pytest.fixture(params=["fake", "realcupy"])
def dev(request) -> Dev:
    """The fake device, then real CuPy where this machine has it and a GPU."""
    if request.param == "fake":
        return Dev(cp, cpx, True)
    real = _real_cupy()
    if real is None:
        pytest.skip("no CuPy with a GPU on this machine: the fake's claim is checked on the fake")
    return real


def run_as_ember(src: str, where: str = "ops/indexing.py", **names) -> dict:
    """Run ``src`` as if it were code in ``ember/<where>`` (findings are keyed by ember's frame)."""
    scope = dict(names, cp=cp, np=np)
    exec(compile(src, str(EMBER_DIR / where), "exec"), scope)  # noqa: S102 - the tests' own code
    return scope


# -- names: exactly the JSON's -------------------------------------------------------------------

SECTIONS = {"cupy": lambda: cp, "cupyx": lambda: cpx, "cupy.linalg": lambda: cp.linalg,
            "cupy.random": lambda: cp.random, "cupy.lib.stride_tricks": lambda: cp.lib.stride_tricks,
            "cupyx.scipy.special": lambda: cpx.scipy.special}


def test_the_json_is_the_shared_dump():
    shared = Path("/work/shared/data/cupy_api_14.2.json")
    if not shared.exists():
        pytest.skip("the shared dump is not on this machine")
    assert fakecupy.API_PATH.read_bytes() == shared.read_bytes()


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_names_are_exactly_the_jsons(section):
    ns = SECTIONS[section]()
    assert dir(ns) == sorted(fakecupy.API[section])
    for name in fakecupy.API[section]:
        assert hasattr(ns, name), f"{section}.{name}"


@pytest.mark.parametrize("name", ["errstate", "frompyfunc", "seterr", "nditer", "vecdot",
                                  "unstack", "geterr", "setbufsize"])
def test_numpy_names_cupy_lacks_raise_attribute_error(dev, name):
    assert hasattr(np, name) and name not in fakecupy.API["cupy"]
    with pytest.raises(AttributeError, match=f"module 'cupy' has no attribute '{name}'"):
        getattr(dev.cp, name)
    if dev.fake:
        assert sum(fakecupy.findings()["missing_name"].values()) == 1


def test_cupyx_names(dev):
    assert callable(dev.cpx.scatter_add) and callable(dev.cpx.scipy.special.erf)
    assert not hasattr(dev.cpx, "frompyfunc")
    # CuPy's errstate: only linalg works
    with pytest.raises(NotImplementedError), dev.cpx.errstate(divide="ignore"):
        pass
    with dev.cpx.errstate(linalg="raise"):
        assert dev.cpx.geterr()["linalg"] == "raise"


def test_array_attributes_are_cupys(dev):
    a = dev.cp.zeros((2, 3))
    for name in fakecupy.API["cupy.ndarray"]:
        if name not in ("cstruct", "mT"):
            getattr(a, name)
    for name in ("resize", "setflags", "getfield", "setfield", "to_device", "ctypes"):
        assert hasattr(np.ndarray, name)
        with pytest.raises(AttributeError):
            getattr(a, name)


def test_record_mode_carries_on_with_numpy():
    fakecupy.set_strict(False)
    with np.errstate(all="ignore"):
        pass
    assert cp.errstate is not None  # NumPy's, recorded
    a = cp.arange(3.0)
    assert np.asarray(a).tolist() == [0.0, 1.0, 2.0]
    assert (a + np.ones(3)).get().tolist() == [1.0, 2.0, 3.0]
    assert set(fakecupy.findings()) >= {"missing_name", "host_conversion", "host_operand"}


def test_strict_default_and_environment():
    code = "from device import fakecupy; print(fakecupy.is_strict())"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    for value, expected in ((None, "True"), ("0", "False"), ("1", "True")):
        env.pop("FAKECUPY_STRICT", None)
        if value is not None:
            env["FAKECUPY_STRICT"] = value
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.strip()
        assert out == expected


# -- towards the host ------------------------------------------------------------------------------

CONVERSION = "Implicit conversion to a NumPy array is not allowed"


@pytest.mark.parametrize("convert", [
    np.asarray, np.array, lambda a: np.zeros(3).__setitem__(slice(None), a),  # host[...] = dev
    lambda a: np.lib.stride_tricks.as_strided(a, (2,), (8,)),
])
def test_host_conversion_raises_cupys_type_error(dev, convert):
    a = dev.cp.arange(3.0)
    with pytest.raises(TypeError, match=CONVERSION):
        convert(a)
    if dev.fake:
        assert fakecupy.findings()["host_conversion"]


@pytest.mark.parametrize("name", ["__array_interface__", "__array_struct__", "ctypes"])
def test_host_pointers_are_missing(dev, name):
    # CuPy has none of them (NumPy's conversion then ends in __array__'s TypeError); the fake
    # records each read, so ember code reading one (data_ptr) shows in the findings
    a = dev.cp.arange(3.0)
    assert not hasattr(a, name)
    with pytest.raises(AttributeError):
        getattr(a, name)
    if dev.fake:
        assert sum(fakecupy.findings()["host_conversion"].values()) == 2


@pytest.mark.parametrize("mix", [
    lambda x, d, h: d + h, lambda x, d, h: h + d, lambda x, d, h: d * h, lambda x, d, h: d < h,
    lambda x, d, h: x.cp.add(d, h), lambda x, d, h: x.cp.maximum(h, d),
    lambda x, d, h: x.cp.concatenate([d, h]), lambda x, d, h: x.cp.matmul(d, h),
    lambda x, d, h: x.cp.where(d > 0, d, h), lambda x, d, h: d + [1, 2, 3],
    lambda x, d, h: x.cp.add(d, [1, 2, 3]),
    lambda x, d, h: np.add.at(h, np.array([0, 1]), d[:2]),    # NumPy's ufunc method, host target
])
def test_host_operands_are_refused(dev, mix):
    d, h = dev.cp.arange(3.0), np.ones(3)
    with pytest.raises(TypeError):
        mix(dev, d, h)


def test_host_parameters_are_not_operands(dev):
    # shapes, pad widths, split points and sizes are read on the host: NumPy arrays are fine there
    cp = dev.cp
    d = cp.arange(6.0)
    shape = np.array([2, 3])
    assert cp.reshape(d, shape).shape == (2, 3) and d.reshape(shape).shape == (2, 3)
    assert cp.zeros(shape).shape == (2, 3) and cp.broadcast_to(d[:3], shape).shape == (2, 3)
    assert cp.pad(d, np.array([1, 2])).shape == (9,)
    assert len(cp.split(d, np.array([2, 4]))) == 3
    assert cp.tile(d, np.array([2])).shape == (12,)
    assert cp.random.uniform(size=shape).shape == (2, 3)


def test_scatter_into_a_host_array_is_refused(dev):
    # cupyx.scatter_add works on CuPy's array object (an AttributeError for a NumPy one on CuPy,
    # the fake's host-operand TypeError)
    with pytest.raises(TypeError if dev.fake else (TypeError, AttributeError)):
        dev.cpx.scatter_add(np.zeros(3), dev.cp.array([0]), 1.0)


def test_scalars_are_operands(dev):
    xp = dev.cp
    d = xp.arange(3.0, dtype=xp.float32)
    for r in (d + 1, 2.5 * d, d * np.float32(2), np.float32(2) * d, xp.add(d, True), d ** 2):
        assert type(r) is xp.ndarray and r.shape == (3,)
    assert (np.float32(2) * d).dtype == np.float32
    # CuPy 14's __richcmp__: None equals no element (device arrays, no TypeError)
    eq, ne = d.__eq__(None), d.__ne__(None)
    assert type(eq) is xp.ndarray and not eq.any() and ne.all()


def test_explicit_transfers_are_allowed():
    h = np.arange(4.0)
    d = cp.asarray(h)
    assert type(d) is cp.ndarray and not np.shares_memory(d._a, h)  # a device copy
    assert cp.asarray(d) is d and cp.array(d) is not d
    d[1:3] = np.array([9.0, 8.0])                          # CuPy copies the host value in
    assert fakecupy.findings()["host_transfer"]
    assert cp.asnumpy(d).tolist() == [0.0, 9.0, 8.0, 3.0] and type(d.get()) is np.ndarray
    d.set(np.zeros(4))
    assert d.get().tolist() == [0.0] * 4
    host = np.empty(4)
    assert d.get(out=host) is host
    with pytest.raises(TypeError):                      # CuPy's: same dtype, same shape
        d.set(np.zeros(4, np.float32))
    with pytest.raises(TypeError):
        d.get(out=np.empty(4, np.float32))
    with pytest.raises(ValueError):
        d.set(np.zeros(3))


# -- results: 0-d device arrays, never NumPy scalars --------------------------------------------------

@pytest.mark.parametrize("reduce", [
    lambda xp, a: a.sum(), lambda xp, a: a[1, 2], lambda xp, a: a.max(),
    lambda xp, a: xp.mean(a), lambda xp, a: a.argmax(), lambda xp, a: xp.linalg.norm(a),
    lambda xp, a: xp.allclose(a, a), lambda xp, a: a[0][1], lambda xp, a: np.sum(a),
    lambda xp, a: xp.count_nonzero(a), lambda xp, a: -a[0, 0], lambda xp, a: xp.dot(a[0], a[1]),
    lambda xp, a: a.argmax(dtype=np.int32),
])
def test_results_are_0d_device_arrays(dev, reduce):
    r = reduce(dev.cp, dev.cp.arange(6.0).reshape(2, 3))
    assert type(r) is dev.cp.ndarray and r.ndim == 0


def test_no_floating_point_warnings(dev):
    # CuPy reports no floating-point errors; NumPy would warn on each of these
    cp = dev.cp
    z, inf = cp.zeros(3), cp.full(3, cp.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = [z / z, cp.log(z), inf - inf, 1.0 / z, cp.divide(z, 0.0), z.__itruediv__(z),
                   cp.sqrt(cp.full(2, -1.0)), cp.add.reduce(cp.stack([inf, -inf])), cp.mean(z / z)]
    assert all(type(r) is cp.ndarray for r in results)
    assert cp.isnan(results[0]).all() and cp.isinf(results[3]).all()


def test_cupy_14_array_details(dev):
    # read from CuPy 14's core.pyx: T below 2-d is the array itself, astype(copy=False) of the
    # same dtype returns it, casting= is refused, strides= needs memptr=, scatter_* are deprecated
    cp = dev.cp
    v, m = cp.arange(3.0), cp.zeros((2, 3))
    assert v.T is v and m.T is not m and m.T.shape == (3, 2)
    assert v.astype(v.dtype, copy=False) is v and v.astype(v.dtype) is not v
    with pytest.raises(TypeError, match="casting is not supported"):
        v.astype(cp.float32, casting="unsafe")
    with pytest.raises(ValueError, match="memptr is required"):
        cp.ndarray((2,), strides=(8,))
    with pytest.warns(DeprecationWarning, match="cupy.add.at"):
        m.scatter_add(cp.array([0]), 1.0)
    assert cp.ndarray[int, np.dtype[np.float32]] is not None


def test_no_index_protocol(dev):
    # CuPy's arrays have no __index__: a device scalar is no list index, range bound or slice bound
    cp = dev.cp
    i = cp.array(1)
    with pytest.raises(TypeError):
        [10, 20][i]
    with pytest.raises(TypeError):
        range(i)
    assert int(i) == 1 and [10, 20][int(i)] == 20      # the explicit read works (a sync)


def test_index_protocol_in_record_mode():
    fakecupy.set_strict(False)
    assert [10, 20][cp.array(1)] == 20
    assert fakecupy.sync_count("index") == 1 and fakecupy.findings()["missing_name"]


def test_element_index_is_a_view(dev):
    # a[i, j] is a 0-d view on CuPy, where NumPy gives a copy: ``orig = x[k]; x[k] = orig + eps``
    # then changes orig too (ember's gradcheck did this)
    a = dev.cp.zeros((2, 2))
    e = a[1, 0]
    a[1, 0] = 5.0
    assert e.get() == 5.0
    e[...] = 6.0
    assert a.get()[1, 0] == 6.0
    if dev.fake:
        assert fakecupy.sync_count() == 2


def test_flags_device_and_writability(dev):
    cp = dev.cp
    a = cp.zeros((2, 3), dtype=cp.float32)
    assert (a.flags.c_contiguous, a.flags.f_contiguous, a.flags.owndata) == (True, False, True)
    assert a.flags["C_CONTIGUOUS"] and not a[:, 1].flags.owndata
    with pytest.raises(AttributeError):
        a.flags.writeable  # noqa: B018
    with pytest.raises(AttributeError):
        a.flags.c_contiguous = False
    assert a.device == cp.cuda.Device(0) and a.device.id == 0
    b = cp.broadcast_to(cp.arange(3.0), (2, 3))  # CuPy's broadcast views are writable
    b[0, 0] = 7.0
    assert b.get()[1, 0] == 7.0
    x = cp.arange(5.0)                           # NumPy's windows are read-only views
    w = cp.lib.stride_tricks.sliding_window_view(x, 2)
    w[1, 1] = 9.0
    w[1:][0, 0] = 7.0
    assert x.get().tolist() == [0.0, 7.0, 9.0, 3.0, 4.0]
    assert cp.float32 is np.float32 and cp.dtype is np.dtype and cp.bool_ is np.bool_
    assert cp.ndarray.__array_priority__ > 0 and not issubclass(cp.ndarray, np.ndarray)
    assert isinstance(a.T, cp.ndarray) and a.T.base is not None


def test_out_of_bounds_indices_wrap(dev):
    cp = dev.cp
    a = cp.arange(4.0)
    assert a[cp.array([5, -6])].get().tolist() == [1.0, 2.0]
    assert a[[1, 5]].get().tolist() == [1.0, 1.0]      # a list is an index array on CuPy
    with pytest.raises(IndexError):
        a[7]
    assert cp.take(a, cp.array([4])).get().tolist() == [0.0]
    a[cp.array([4])] = -1.0                            # writes wrap too
    dev.cpx.scatter_add(a, cp.array([-5, 9]), 10.0)    # and scatters (add.at)
    assert a.get().tolist() == [-1.0, 11.0, 2.0, 13.0]
    if dev.fake:
        assert sum(fakecupy.findings()["index_wrap"].values()) == 4
        assert fakecupy.sync_count() == 4              # the four reads above, nothing else


def test_device_index_arrays_and_masks():
    a = cp.arange(12.0).reshape(3, 4)
    assert a[cp.array([2, 0]), 1:3].get().tolist() == [[9.0, 10.0], [1.0, 2.0]]
    assert a[..., cp.array([3])].shape == (3, 1)
    before = fakecupy.sync_count("mask")
    assert a[a > 9].get().tolist() == [10.0, 11.0]      # a boolean mask reads its count back
    assert fakecupy.sync_count("mask") == before + 1
    a[np.array([0])] = 0.0
    assert fakecupy.findings()["host_index"]
    a[a > 9] = 0.0                                     # a masked write needs no count: no sync
    assert fakecupy.sync_count("mask") == before + 1
    (rows,) = cp.where(cp.arange(4) > 1)                 # where(cond) is nonzero: a sync
    assert fakecupy.sync_count("nonzero") == 1 and type(rows) is cp.ndarray
    assert cp.where(a > 5, a, 0.0).shape == (3, 4) and fakecupy.sync_count("nonzero") == 1


# -- syncs -----------------------------------------------------------------------------------------

def test_syncs_are_counted_at_their_ember_site():
    x = cp.arange(3.0)
    scope = run_as_ember("v = float(x[0])\nn = int(x[1])\nb = bool(x[2] > 1)\nl = x.tolist()\n"
                         "i = x[0].item()\ng = x.get()\nh = cp.asnumpy(x)\nk = [1, 2][int(j[1])]\n"
                         "rows = [r for r in x]\n", x=x, j=cp.arange(2))
    assert (scope["v"], scope["n"], scope["b"], scope["k"]) == (0.0, 1, True, 2)
    assert all(type(r) is cp.ndarray and r.ndim == 0 for r in scope["rows"])
    sites = fakecupy.findings()["sync"]
    assert sites == {f"ember/ops/indexing.py:{i}": 1 for i in range(1, 10)}
    assert fakecupy.sync_count() == 9
    for what in ("float", "bool", "tolist", "item", "iter"):
        assert fakecupy.sync_count(what) == 1, what
    assert fakecupy.sync_count("int") == 2  # int(x[1]) and int(j[1])
    assert fakecupy.sync_count("get") == 2  # x.get() and cupy.asnumpy(x)
    assert fakecupy.sync_sites("get") == {"ember/ops/indexing.py:6": 1,
                                          "ember/ops/indexing.py:7": 1}
    assert set(fakecupy.sync_sites()) == {"float", "int", "bool", "tolist", "item", "get", "iter"}


def test_sync_site_outside_ember_is_the_caller():
    float(cp.ones(()))
    (site,) = fakecupy.findings()["sync"]
    assert site == f"{__file__}:{inspect.currentframe().f_lineno - 2}"


def test_allow_synchronize_false_raises():
    x = cp.ones(2)
    with cpx.allow_synchronize(False):
        y = x * 2                                       # no sync: fine
        with pytest.raises(cpx.DeviceSynchronized):
            y.sum().item()
    assert y.sum().item() == 4.0


def test_reset_findings():
    float(cp.ones(()))
    fakecupy.reset_findings()
    assert fakecupy.findings() == {} and fakecupy.sync_count() == 0


# -- keywords --------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda xp, a: xp.add(a, a, where=a > 0), lambda xp, a: xp.sum(a, where=a > 0),
    lambda xp, a: a.max(initial=0.0), lambda xp, a: xp.reshape(a, shape=(3, 2)),
    lambda xp, a: xp.exp(a, order="C"), lambda xp, a: xp.add.reduce(a, initial=0.0),
    lambda xp, a: xp.lib.stride_tricks.as_strided(a, (2,), (8,), writeable=False),
    lambda xp, a: xp.random.normal(size=3, out=a),
])
def test_keywords_cupy_lacks_are_refused(dev, call):
    with pytest.raises(TypeError):
        call(dev.cp, dev.cp.arange(6.0).reshape(2, 3))


def test_cupy_keywords_numpy_lacks(dev):
    cp = dev.cp
    a = cp.arange(6.0).reshape(2, 3)
    assert cp.reshape(a, newshape=(3, 2)).shape == (3, 2)
    assert a.argmax(axis=1, dtype=np.int32).dtype == np.int32
    assert cp.random.normal(size=3, dtype=np.float32).dtype == np.float32
    assert cp.asarray(np.ones(2), blocking=True).shape == (2,)
    assert cp.add(a, 1, dtype=np.float32).dtype == np.float32


def test_ufunc_methods_and_out(dev):
    cp = dev.cp
    a = cp.zeros(4)
    cp.add.at(a, cp.array([0, 0, 3]), 1.0)
    assert a.get().tolist() == [2.0, 0.0, 0.0, 1.0]
    assert cp.add.reduceat(cp.arange(6.0), cp.array([0, 2])).get().tolist() == [1.0, 14.0]
    out = cp.empty(4)
    assert cp.multiply(a, 2, out=out) is out and out.get()[0] == 4.0
    assert cp.add.outer(cp.arange(2), cp.arange(3)).shape == (2, 3)
    total = cp.empty(())
    assert cp.add.reduce(a, out=total) is total and total.get() == 3.0
    assert cp.add.nin == 2 and cp.exp.__name__ == "cupy_exp"  # CuPy's ufuncs are "cupy_<name>"


def test_as_strided_signature_and_view(dev):
    cp = dev.cp
    assert list(inspect.signature(cp.lib.stride_tricks.as_strided).parameters) == \
        ["x", "shape", "strides"]
    x = cp.arange(6.0)
    w = cp.lib.stride_tricks.as_strided(x, shape=(3, 2), strides=(16, 8))
    assert w.get().tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    w[0, 1] = -1.0                                       # writable, and a view of x
    assert x.get()[1] == -1.0 and cp.may_share_memory(w, x)


def test_numpy_functions_dispatch_to_the_fake():
    a = cp.arange(4.0)
    r = np.concatenate([a, a])
    assert type(r) is cp.ndarray and r.shape == (8,)
    assert type(np.exp(a)) is cp.ndarray and np.shape(a) == (4,)
    assert type(np.linalg.norm(a)) is cp.ndarray and type(np.fft.rfft(a)) is cp.ndarray
    assert np.lib.stride_tricks.sliding_window_view(a, 2).shape == (3, 2)
    assert fakecupy.findings()["numpy_dispatch"]
    with pytest.raises(TypeError, match="no implementation found"):
        np.unstack(a.reshape(2, 2))


def test_get_array_module():
    assert cp.get_array_module(cp.zeros(1), 1.0) is cp
    assert cp.get_array_module(np.zeros(1)) is np
    assert cp.get_array_module() is np
    assert fakecupy.findings()["get_array_module_noarg"]


def test_missing_functions_raise_not_implemented_naming_them():
    with pytest.raises(NotImplementedError, match="cupyx.scipy.special.expn"):
        cpx.scipy.special.expn(1, cp.ones(2))
    k = cp.ElementwiseKernel("T x", "T y", "y = x * 2", "twice")
    with pytest.raises(NotImplementedError, match="'twice'"):
        k(cp.ones(2))
    fakecupy.register_kernel("twice", lambda x: x * 2)
    try:
        assert k(cp.ones(2)).get().tolist() == [2.0, 2.0]
    finally:
        fakecupy._KERNEL_TWINS.pop("twice")


# -- cupy.cuda and the memory pool --------------------------------------------------------------------

def test_cuda_runtime(monkeypatch):
    assert cp.cuda.is_available() and cp.cuda.runtime.getDeviceCount() == 1
    props = cp.cuda.runtime.getDeviceProperties(0)
    assert isinstance(props["name"], bytes) and props["totalGlobalMem"] == fakecupy.DEVICE_MEMORY
    assert {"major", "minor", "multiProcessorCount"} <= set(props)
    with pytest.raises(cp.cuda.runtime.CUDARuntimeError):
        cp.cuda.Device(1).use()
    monkeypatch.setattr(fakecupy, "DEVICE_COUNT", 2)
    assert cp.cuda.runtime.getDeviceCount() == 2
    x = cp.ones(3)
    with cp.cuda.Device(1) as dev:
        assert cp.cuda.get_device_id() == 1 and dev.compute_capability == "90"
        y = cp.ones(3)
        assert y.device.id == 1 and cp.asarray(x).device.id == 1   # a copy across devices
        with pytest.raises(ValueError, match="Array device must be same as the current device"):
            x + y
    assert cp.cuda.get_device_id() == 0 and x.device.id == 0
    dev.synchronize()


def test_streams_and_events():
    s = cp.cuda.Stream()
    with s:
        assert cp.cuda.get_current_stream() is s
    assert cp.cuda.get_current_stream() is cp.cuda.Stream.null
    start, end = cp.cuda.Event(), cp.cuda.Event()
    start.record()
    cp.ones(1000).sum()
    end.record()
    end.synchronize()
    assert cp.cuda.get_elapsed_time(start, end) >= 0.0


def test_memory_pool_tracks_live_bytes():
    pool = cp.get_default_memory_pool()
    pool.free_all_blocks()
    used, total = pool.used_bytes(), pool.total_bytes()
    a = cp.empty(1000, dtype=cp.float32)           # 4,000 bytes: one 4,096-byte block
    assert pool.used_bytes() == used + 4096
    v = a[10:]                                      # a view allocates nothing
    assert pool.used_bytes() == used + 4096
    del a
    assert pool.used_bytes() == used + 4096         # the view keeps the memory alive
    del v
    assert pool.used_bytes() == used and pool.total_bytes() == total + 4096
    pool.free_all_blocks()
    assert pool.total_bytes() == used
    b = cp.ones((10, 10)) + 1                       # the temporary's block returns to the pool
    assert pool.used_bytes() == used + 1024 and pool.total_bytes() >= pool.used_bytes()
    del b


def test_allocator_sees_every_allocation():
    pool = cp.get_default_memory_pool()
    peaks = []

    def tracking_malloc(size):
        memory = pool.malloc(size)
        peaks.append((memory.device_id, size, pool.used_bytes()))
        return memory

    cp.cuda.set_allocator(tracking_malloc)
    try:
        used = pool.used_bytes()
        x = cp.ones(100)
        y = x[1:] * 2
    finally:
        cp.cuda.set_allocator(None)
    assert peaks == [(0, 1024, used + 1024), (0, 1024, used + 2048)]
    del x, y


def test_random_seeding():
    cp.random.seed(3)
    a = cp.random.rand(4)
    cp.random.seed(3)
    assert (cp.random.rand(4) == a).all() and type(a) is cp.ndarray
    assert cp.random.randint(0, 5, size=3).dtype.kind == "i"
    g = cp.random.default_rng(0)
    assert type(g.standard_normal(3)) is cp.ndarray


# -- cupyx ------------------------------------------------------------------------------------------

def test_scatter_add_accumulates_repeated_indices(dev):
    cp, cpx, _ = dev
    a = cp.zeros((3, 2))
    cpx.scatter_add(a, (cp.array([0, 0, 2]), slice(None)), cp.ones((3, 2)))
    assert a.get().tolist() == [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]]
    cpx.scatter_max(a, cp.array([1]), 5.0)
    cp.add.at(a, cp.array([1, 1]), 1.0)
    assert a.get()[1].tolist() == [7.0, 7.0]


X = np.linspace(-3.0, 3.0, 25)
POS = np.linspace(0.1, 6.0, 25)


@pytest.mark.parametrize("name, kernel, x", [
    ("erf", "erf", X), ("erfc", "erfc", X), ("erfcx", "erfcx", X), ("erfinv", "erfinv", X / 4),
    ("ndtri", "ndtri", POS / 7), ("log_ndtr", "log_ndtr", X), ("gammaln", "lgamma", POS),
    ("digamma", "digamma", POS), ("psi", "digamma", POS), ("i0", "i0", X), ("i0e", "i0e", X),
    ("i1", "i1", X), ("i1e", "i1e", X),
])
def test_special_functions_are_embers_kernels(name, kernel, x):
    from ember.backend import numpy_special
    for dtype in (np.float64, np.float32):
        got = getattr(cpx.scipy.special, name)(cp.asarray(x.astype(dtype)))
        want = getattr(numpy_special, kernel)(x.astype(dtype))
        assert got.dtype == want.dtype and np.array_equal(got.get(), want, equal_nan=True)


def test_special_bessel_and_promotion():
    from ember.backend import numpy_bessel
    for name, kernel in (("j0", "bessel_j0"), ("y1", "bessel_y1"), ("k0", "modified_bessel_k0"),
                         ("k1e", "scaled_modified_bessel_k1")):
        got = getattr(cpx.scipy.special, name)(cp.asarray(POS))
        assert np.array_equal(got.get(), numpy_bessel.bessel(kernel, POS))
    assert cpx.scipy.special.erf(cp.arange(3)).dtype == np.float64  # integers promote
    assert cpx.scipy.special.erf(cp.ones(2, cp.float16)).dtype == np.float32  # no half loops


def test_special_functions_agree_with_numpy_formulas():
    s = cpx.scipy.special
    x = cp.asarray(X)
    np.testing.assert_allclose(s.expit(x).get(), 1 / (1 + np.exp(-X)), rtol=1e-14)
    np.testing.assert_allclose(s.ndtr(x).get(), 0.5 * (1 + np.vectorize(math.erf)(X / 2**0.5)),
                               rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(s.gamma(cp.asarray(POS)).get(),
                               np.vectorize(math.gamma)(POS), rtol=1e-12)
    np.testing.assert_allclose(s.logsumexp(x).get(), np.log(np.exp(X).sum()), rtol=1e-14)
    np.testing.assert_allclose(s.softmax(x).get().sum(), 1.0, rtol=1e-14)
    out = cp.empty(25)
    assert s.erf(x, out=out) is out


SCIPY_CASES = [("gamma", (X + 0.5,)), ("gammasgn", (X + 0.5,)), ("rgamma", (X + 0.5,)),
               ("beta", (POS, POS[::-1])), ("betaln", (POS, POS[::-1])),
               ("binom", (POS + 3, POS)), ("poch", (POS, POS / 3)), ("xlogy", (X, POS)),
               ("xlog1py", (X, POS)), ("entr", (X,)), ("rel_entr", (POS, POS[::-1])),
               ("kl_div", (POS, POS[::-1])), ("huber", (POS / 3, X)),
               ("pseudo_huber", (POS / 3, X)), ("boxcox", (POS, X / 3)),
               ("boxcox1p", (POS, X / 3)), ("inv_boxcox", (X / 3, POS / 6)),
               ("inv_boxcox1p", (X / 3, POS / 6)), ("exprel", (X,)), ("erfcinv", (POS / 3.1,)),
               ("ndtr", (X,)), ("chdtr", (POS, POS[::-1])), ("chdtrc", (POS, POS[::-1])),
               ("pdtr", (POS, POS[::-1])), ("gdtr", (POS, POS, POS[::-1])),
               ("zetac", (POS + 1.5,)), ("zeta", (np.full(25, 4.0), X * 3 + 0.1)),
               ("zeta", (POS + 1.5, POS)), ("cosdg", (X * 30,)), ("cosm1", (X / 100,)),
               ("tandg", (X * 10,)), ("radian", (X, POS, X)), ("log_expit", (X,)),
               ("logit", (POS / 7,)), ("exp10", (X,)), ("multigammaln", (POS + 2, 3)),
               ("loggamma", (POS,)), ("log_softmax", (X,))]


@pytest.mark.parametrize("name, args", SCIPY_CASES, ids=[c[0] for c in SCIPY_CASES])
def test_special_functions_agree_with_scipy(name, args):
    special = pytest.importorskip("scipy.special")
    got = getattr(cpx.scipy.special, name)(*[cp.asarray(a) if isinstance(a, np.ndarray) else a
                                              for a in args])
    np.testing.assert_allclose(got.get(), getattr(special, name)(*args), rtol=2e-10,
                               atol=1e-14)


# -- a sanity run: linear regression with raw device arrays ------------------------------------------

def test_linear_regression_trains_without_host_reads(dev):
    cp = dev.cp
    rng = np.random.default_rng(0)
    x_host = rng.normal(size=(256, 3)).astype(np.float32)
    w_true = np.array([[1.5], [-2.0], [0.5]], dtype=np.float32)
    y_host = x_host @ w_true + 0.25
    x, y = cp.asarray(x_host), cp.asarray(y_host)       # the only host-to-device copies
    w, b = cp.zeros((3, 1), dtype=cp.float32), cp.zeros((1,), dtype=cp.float32)
    losses = []
    for step in range(200):
        err = x @ w + b - y
        loss = (err * err).mean()
        gw = 2.0 * (x.T @ err) / x.shape[0]
        gb = 2.0 * err.mean(axis=0)
        w -= 0.1 * gw
        b -= 0.1 * gb
        if step % 50 == 0:
            losses.append(float(loss))                  # the loop's only syncs
    assert type(w) is cp.ndarray and w.dtype == np.float32
    assert losses == sorted(losses, reverse=True) and float(loss) < 1e-6
    np.testing.assert_allclose(w.get(), w_true, atol=1e-3)
    np.testing.assert_allclose(b.get(), [0.25], atol=1e-3)
    if dev.fake:
        assert fakecupy.sync_count() == len(losses) + 3  # + float(loss), w.get(), b.get()
        assert set(fakecupy.findings()) == {"sync"}


# -- tools/gen_cupy_api.py (it needs CuPy to run; its parsing is checked here) -------------------------

def _generator():
    path = Path(__file__).parents[2] / "tools" / "gen_cupy_api.py"
    spec = importlib.util.spec_from_file_location("gen_cupy_api", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_describes_names_as_the_dump_does():
    gen = _generator()
    assert gen.describe(np.add, np.ufunc) == {
        "kind": "ufunc", "params": ["out", "casting", "dtype"],
        "methods": ["at", "reduce", "accumulate", "reduceat", "outer"]}
    assert gen.describe(np.linalg, np.ufunc) == {"kind": "module"}
    assert gen.describe(np.pi, np.ufunc) == {"kind": "value"}
    assert gen.describe(np.atleast_1d, np.ufunc) == {"kind": "function", "params": []}
    assert gen.describe(np.einsum, np.ufunc)["params"] == "*"
    assert gen.describe(np.moveaxis, np.ufunc) == fakecupy.API["cupy"]["moveaxis"]
    kinds = {spec["kind"] for section in SECTIONS for spec in fakecupy.API[section].values()}
    assert kinds == {"ufunc", "module", "function", "value"}


def test_generator_parses_cython_docstrings():
    gen = _generator()

    def doc(line):
        return type("Cython", (), {"__doc__": line + "\n\nMore text."})()

    assert gen.params_from_docstring(doc("sort(self, int axis=-1, kind=None)")) == \
        fakecupy.API["cupy.ndarray"]["sort"]["params"]
    assert gen.params_from_docstring(doc("astype(x, dtype, /, *, copy=True)")) == \
        fakecupy.API["cupy"]["astype"]["params"]
    assert gen.params_from_docstring(doc("f(a, shape=(1, 2), **kwargs)")) == "*"
    assert gen.params_from_docstring(doc("Issued when something happens.")) is None


def test_generator_needs_cupy(capsys):
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed: the generator would run")
    assert _generator().main(["-o", "-"]) == 1
    assert "CuPy is needed" in capsys.readouterr().err


def test_generator_writes_the_dump_from_a_cupy_shaped_module(monkeypatch, tmp_path):
    # the whole generate() -> file path, over stand-in modules shaped as CuPy's
    gen = _generator()

    class Ufunc:
        def __call__(self, *args, out=None, casting="same_kind", dtype=None):
            return args

        def reduce(self, array, axis=0):
            return array

    class Flags:
        c_contiguous = f_contiguous = owndata = True

        def __getitem__(self, name):
            return True

    class Array:
        shape = property(lambda self: ())

        def sum(self, axis=None, dtype=None, out=None, keepdims=False):
            return self

        def __dlpack__(self, *, stream=None):
            return None

        def _private(self):
            return None

    def module(name, **names):
        m = type(sys)(name)
        m.__dict__.update(names)
        monkeypatch.setitem(sys.modules, name, m)
        return m

    def exp_sum(a, axis=None, **kwargs):
        return a

    special = module("cupyx.scipy.special", erf=Ufunc())
    scipy = module("cupyx.scipy", special=special)
    module("cupyx", scipy=scipy, scatter_add=lambda a, slices, value: None)
    tricks = module("cupy.lib.stride_tricks", as_strided=lambda x, shape=None, strides=None: x)
    lib = module("cupy.lib", stride_tricks=tricks)
    random = module("cupy.random", seed=lambda seed=None: None)
    linalg = module("cupy.linalg", norm=lambda x, ord=None, axis=None, keepdims=False: x)
    module("cupy._core.flags", Flags=Flags)
    module("cupy._core")
    module("cupy", __version__="14.2.0", ufunc=Ufunc, ndarray=Array, exp=Ufunc(), pi=3.14,
           linalg=linalg, random=random, lib=lib, exp_sum=exp_sum, _hidden=1)
    out = tmp_path / "api.json"
    assert gen.main(["-o", str(out)]) == 0
    text = out.read_text()
    dump = json.loads(text)
    assert text == json.dumps(dump, indent=0, sort_keys=True)  # the committed file's format
    assert dump["_meta"] == {"cupy": "14.2.0", "flags": ["c_contiguous", "f_contiguous",
                                                        "owndata"]}
    assert dump["cupy"]["exp"] == {"kind": "ufunc", "params": ["out", "casting", "dtype"],
                                   "methods": ["reduce"]}
    assert dump["cupy"]["pi"] == {"kind": "value"} and "_hidden" not in dump["cupy"]
    assert dump["cupy"]["linalg"] == {"kind": "module"}
    assert dump["cupy"]["exp_sum"] == {"kind": "function", "params": "*"}
    assert dump["cupy.lib.stride_tricks"]["as_strided"]["params"] == ["x", "shape", "strides"]
    assert dump["cupyx.scipy.special"]["erf"]["kind"] == "ufunc"
    assert dump["cupy.ndarray"] == {
        "shape": {"kind": "attr"}, "__dlpack__": {"kind": "method", "params": ["self", "stream"]},
        "sum": {"kind": "method", "params": ["self", "axis", "dtype", "out", "keepdims"]}}
