"""torch's non-math names: constants, finfo/iinfo, can_cast, the tensor predicates and metadata,
broadcast_shapes/broadcast_tensors, fill, narrow_copy, nonzero_static, the legacy constructors,
resizing, the element-wise callbacks, the memory factories, the runtime switches and the
torch-level in-place functions, each against torch 2.13."""
import math
import warnings

import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, same_error, torch_or_skip

torch = torch_or_skip()

FLOATS = ["float16", "bfloat16", "float32", "float64", "complex64", "complex128",
          "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]
ALL = ["bool"] + INTS + FLOATS[:6]


def _pair(name):
    return getattr(ember, name), getattr(torch, name)


def _name(d):
    return str(d).split(".")[-1]


# -- constants, finfo, iinfo, can_cast --------------------------------------------------------


def test_constants():
    for n in ("pi", "e", "inf", "nan"):
        e, t = _pair(n)
        assert type(e) is type(t) and (e == t or (math.isnan(e) and math.isnan(t)))
    assert ember.newaxis is torch.newaxis is None
    x = ember.ones(3)
    assert x[:, ember.newaxis].shape == (3, 1)


@pytest.mark.parametrize("name", FLOATS)
def test_finfo(name):
    e, t = (m.finfo(d) for m, d in zip((ember, torch), _pair(name)))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        ev, tv = getattr(e, attr), getattr(t, attr)
        assert type(ev) is type(tv) and ev == tv, (attr, ev, tv)
    assert repr(e) == repr(t) and str(e) == str(t)
    assert e == ember.finfo(getattr(ember, name)) and e is not ember.finfo(getattr(ember, name))


@pytest.mark.parametrize("name", INTS)
def test_iinfo(name):
    e, t = (m.iinfo(d) for m, d in zip((ember, torch), _pair(name)))
    for attr in ("bits", "max", "min", "dtype"):
        ev, tv = getattr(e, attr), getattr(t, attr)
        assert type(ev) is type(tv) and ev == tv, (attr, ev, tv)
    assert repr(e) == repr(t) and str(e) == str(t)


def test_finfo_iinfo_forms_and_errors():
    assert repr(ember.finfo()) == repr(torch.finfo())
    assert repr(ember.finfo(type=ember.float64)) == repr(torch.finfo(type=torch.float64))
    assert ember.finfo(ember.float32) != ember.finfo(ember.float64)
    assert ember.iinfo(ember.int8) == ember.iinfo(ember.int8) != ember.iinfo(ember.uint8)
    same_error(lambda m: m.finfo(m.int32))
    same_error(lambda m: m.finfo(m.bool))
    same_error(lambda m: m.iinfo(m.float32))
    same_error(lambda m: m.iinfo(m.complex64))
    same_error(lambda m: m.iinfo(m.bool))
    same_error(lambda m: m.iinfo())
    same_error(lambda m: m.finfo("float32"))
    same_error(lambda m: m.finfo(None))
    same_error(lambda m: m.iinfo(3))
    same_error(lambda m: m.finfo(type="a"))
    same_error(lambda m: hash(m.finfo(m.float32)), exact=False)  # (type names differ)
    same_error(lambda m: setattr(m.finfo(m.float32), "eps", 3.0))
    same_error(lambda m: setattr(m.iinfo(m.int32), "max", 3))


def test_can_cast_every_pair():
    for a in ALL:
        for b in ALL:
            ea, ta = _pair(a)
            eb, tb = _pair(b)
            assert ember.can_cast(ea, eb) == torch.can_cast(ta, tb), (a, b)
    same_error(lambda m: m.can_cast(m.ones(1), m.float32))
    same_error(lambda m: m.can_cast(m.float32, 3))


# -- predicates and metadata ------------------------------------------------------------------


def _samples(m):
    yield m.tensor([1.5, -2.0])
    yield m.tensor(0.0)
    yield m.tensor([3], dtype=m.uint8)
    yield m.tensor([True])
    yield m.tensor([1, 0], dtype=m.int16)
    yield m.tensor([1 + 2j])
    yield m.zeros(0, 3)
    yield m.tensor(float("nan"))


@pytest.mark.host_only  # (host memory, or the CPU device itself)
@pytest.mark.parametrize("fn", [
    lambda m, x: m.numel(x), lambda m, x: m.is_floating_point(x), lambda m, x: m.is_signed(x),
    lambda m, x: x.is_signed(), lambda m, x: m.is_conj(x), lambda m, x: m.is_neg(x),
    lambda m, x: x.is_neg(), lambda m, x: m.is_inference(x), lambda m, x: x.is_inference(),
    lambda m, x: m.get_device(x), lambda m, x: x.get_device(), lambda m, x: x.is_cpu,
    lambda m, x: x.is_pinned(), lambda m, x: x.is_shared(), lambda m, x: x.output_nr,
    lambda m, x: (x.is_meta, x.is_mps, x.is_xpu, x.is_quantized, x.is_nested, x.is_mkldnn,
                  x.is_vulkan, x.is_xla, x.is_ipu, x.is_maia, x.is_mtia, x.is_sparse_csr),
    lambda m, x: m.is_same_size(x, m.ones(2)), lambda m, x: x.is_same_size(m.ones(x.shape)),
    lambda m, x: x.storage_offset(), lambda m, x: x.dim_order(),
    lambda m, x: m.is_storage(x.untyped_storage()), lambda m, x: m.is_storage(x),
])
def test_predicates(fn):
    for e, t in zip(_samples(ember), _samples(torch)):
        assert fn(ember, e) == fn(torch, t), (fn(ember, e), fn(torch, t), t)


def test_is_nonzero_and_isreal():
    for e, t in zip(_samples(ember), _samples(torch)):
        if t.numel() == 1:
            assert ember.is_nonzero(e) == torch.is_nonzero(t) == e.is_nonzero()
        else:
            same_error(lambda m: m.is_nonzero(e if m is ember else t))
        check_op(lambda m, x: m.isreal(x), e.numpy() if not e.is_complex() else e.numpy(),
                 grad=False)
    check_op(lambda m, x: x.isreal(), np.array([1 + 0j, 1j, 0j]), grad=False)
    for f in ("numel", "is_floating_point", "is_nonzero", "is_signed", "is_neg", "is_inference",
              "is_conj"):
        same_error(lambda m: getattr(m, f)(3))


def test_output_nr_storage_offset_dim_order():
    ex, tx = ember.arange(24.0).reshape(2, 3, 4), torch.arange(24.0).reshape(2, 3, 4)
    for fn in [lambda t: t[1], lambda t: t[:, 2], lambda t: t[1, 1:, 2],
               lambda t: t.transpose(0, 2),
               lambda t: t.permute(1, 2, 0)[1:], lambda t: t[..., ::2], lambda t: t.flatten()[5:]]:
        assert fn(ex).storage_offset() == fn(tx).storage_offset()
        assert fn(ex).dim_order() == fn(tx).dim_order()
    for shape, perm in [((2, 3), (1, 0)), ((2, 1, 3), (0, 1, 2)), ((1, 3, 1), (2, 1, 0)),
                        ((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (1, 2, 0))]:
        e, t = ember.ones(shape).permute(perm), torch.ones(shape).permute(perm)
        assert e.dim_order() == t.dim_order()
        same = e.dim_order() if 1 not in shape else None
        if same is None:
            same_error(lambda m: (e if m is ember else t).dim_order(ambiguity_check=True))
        else:
            assert e.dim_order(ambiguity_check=True) == t.dim_order(ambiguity_check=True)
    e, t = ember.ones(3).expand(2, 3), torch.ones(3).expand(2, 3)
    assert e.dim_order() == t.dim_order()
    same_error(lambda m: m.ones(2).dim_order(ambiguity_check="x"))
    for m in (ember, torch):
        y = m.ones(2, requires_grad=True)
        outs = (y * 1).unbind(0)
        assert [o.output_nr for o in outs] == [0, 1]


@pytest.mark.cpu_build  # (shared memory is host memory; pin_memory's CPU-build error)
def test_devices_memory_and_pointers():
    for m in (ember, torch):
        x = m.ones(2)
        assert x.share_memory_() is x and x.const_data_ptr() == x.data_ptr()
    same_error(lambda m: m.ones(2).pin_memory())


# -- broadcasting -----------------------------------------------------------------------------


@pytest.mark.parametrize("shapes", [
    ((2, 1), (3,)), ((2, 1), 3), (), ((0,), (1,)), ((1, 1, 1), (4,), [2, 1, 1]), (5,),
    ((2, 3),), ((), (2,)), (torch.Size([2, 1]), [1, 4]), ([True],), ((2, 1), None, 3), (None,),
])
def test_broadcast_shapes(shapes):
    e, t = ember.broadcast_shapes(*shapes), torch.broadcast_shapes(*shapes)
    assert type(e) is ember.Size and tuple(e) == tuple(t)


@pytest.mark.parametrize("shapes", [((2, 1), (3, 2)), ((3,), (4,)), ((-1,), (2,)), (2.0,),
                                    ((2, "a"),), ((2, 3), (1, 2, 3), (4,)), (np.int64(3), (2, 1))])
def test_broadcast_shapes_errors(shapes):
    same_error(lambda m: m.broadcast_shapes(*shapes))


def test_broadcast_tensors(rng):
    a, b, c = (rng.standard_normal(s).astype(np.float32) for s in ((3,), (2, 1), (1, 1, 3)))
    check_op(lambda m, x, y, z: m.broadcast_tensors(x, y, z), a, b, c)
    check_op(lambda m, x, y: m.broadcast_tensors(x, y), a, a)
    check_op(lambda m, x: m.broadcast_tensors(x), b)
    assert ember.broadcast_tensors() == () == torch.broadcast_tensors()
    check_gradcheck(lambda m, x, y: m.broadcast_tensors(x, y), a, b)
    same_error(lambda m: m.broadcast_tensors(m.ones(2), m.ones(3)))
    x = ember.ones(3)
    y = ember.broadcast_tensors(x, ember.ones(2, 1))[0]
    x.add_(1)
    assert y._base is x and float(y[1, 0]) == 2.0  # a view, as torch's


# -- fill, detach, narrow_copy, nonzero_static -----------------------------------------------


def test_fill(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    check_op(lambda m, t: m.fill(t * 1, 2.5), x)
    check_op(lambda m, t, v: m.fill(t * 1, v), x, np.array(3.0, dtype=np.float32))
    check_op(lambda m, t: m.fill(t, 1.7), np.ones(3, dtype=np.int64), grad=False)
    check_op(lambda m, t, v: m.fill(t, v), np.ones(3, dtype=np.int64), np.array(1.7),
             grad=False)
    check_gradcheck(lambda m, t, v: m.fill(t, v), x.astype(np.float64), np.array(0.5))
    same_error(lambda m: m.fill(m.ones(2), m.ones(2)))


def test_detach():
    for m in (ember, torch):
        x = m.ones(2, requires_grad=True)
        y = m.detach(x * 2)
        assert not y.requires_grad and y.grad_fn is None and m.detach(x).is_leaf
    same_error(lambda m: m.detach(1.0))


@pytest.mark.parametrize("dim,start,length", [(0, 0, 1), (1, 1, 2), (-1, -3, 2), (1, 0, 0),
                                              (0, 1, 1)])
def test_narrow_copy(dim, start, length, rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    check_op(lambda m, t: m.narrow_copy(t, dim, start, length), x)
    check_op(lambda m, t: t.narrow_copy(dim, start, length), x)
    check_gradcheck(lambda m, t: m.narrow_copy(t, dim, start, length), x.astype(np.float64))
    e = ember.tensor(x).narrow_copy(dim, start, length)
    assert e._data.base is None or not np.shares_memory(e._data, x)


def test_narrow_copy_errors():
    same_error(lambda m: m.narrow_copy(m.ones(2, 3), 1, 2, 2))
    same_error(lambda m: m.narrow_copy(m.ones(2, 3), 1, 5, 1))
    same_error(lambda m: m.narrow_copy(m.tensor(1.0), 0, 0, 1))


@pytest.mark.parametrize("size,fill", [(0, -1), (1, -1), (3, -1), (8, 7)])
def test_nonzero_static(size, fill):
    for arr in (np.array([0, 1, 0, 2]), np.array([[0, 1.5], [2, 0], [0, 0]]), np.array(3.0),
                np.array(0.0), np.zeros((2, 0)), np.array([True, False, True])):
        check_op(lambda m, t: m.nonzero_static(t, size=size, fill_value=fill), arr, grad=False)
        check_op(lambda m, t: t.nonzero_static(size=size, fill_value=fill), arr, grad=False)
    same_error(lambda m: m.ones(2).nonzero_static(size=-1))
    same_error(lambda m: m.ones(2).nonzero_static(4), exact=False)  # (torch garbles its text)


# -- legacy constructors, resizing, callbacks -------------------------------------------------


def test_new():
    for dtype in ("float32", "int64", "bool"):
        e, t = ember.ones(2, dtype=getattr(ember, dtype)), torch.ones(2, dtype=getattr(torch,
                                                                                       dtype))
        for args in [(2, 3), (), ([1, 0],), ((2, 3),), (0,), (range(3),)]:
            a, b = e.new(*args), t.new(*args)
            assert a.shape == b.shape and _name(a.dtype) == _name(b.dtype)
            assert not a.requires_grad
            if args and isinstance(args[0], (list, tuple, range)):
                np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert e.new(ember.Size([2, 3])).shape == t.new(torch.Size([2, 3])).shape
    src = ember.ones(3)
    out = ember.zeros(1).new(src)
    src.add_(1)
    assert float(out[0]) == 2.0  # shares memory, as torch's
    same_error(lambda m: m.zeros(2).new(m.tensor([1, 2])))
    same_error(lambda m: m.zeros(2).new(2.5))
    same_error(lambda m: m.zeros(2).new([1, 2], dtype=m.int64))


def test_empty_strided_and_new_empty_strided():
    for size, stride in [((2, 3), (1, 2)), ((2, 3), (3, 1)), ((0, 3), (3, 1)), ((), ()),
                         ((4,), (2,)), ((2, 2), (0, 1))]:
        for kw in ({}, {"dtype": "int32"}, {"dtype": "float64", "requires_grad": True}):
            ekw = {k: getattr(ember, v) if k == "dtype" else v for k, v in kw.items()}
            tkw = {k: getattr(torch, v) if k == "dtype" else v for k, v in kw.items()}
            e, t = ember.empty_strided(size, stride, **ekw), torch.empty_strided(size, stride,
                                                                                 **tkw)
            assert e.shape == t.shape and e.stride() == t.stride()
            assert _name(e.dtype) == _name(t.dtype) and e.requires_grad == t.requires_grad
            e2 = ember.ones(1, dtype=ember.int16).new_empty_strided(size, stride)
            t2 = torch.ones(1, dtype=torch.int16).new_empty_strided(size, stride)
            assert e2.stride() == t2.stride() and _name(e2.dtype) == _name(t2.dtype)
    same_error(lambda m: m.empty_strided((2, 3), (1,)))


def _resize_pair(fn):
    e, t = ember.arange(6.0).reshape(2, 3), torch.arange(6.0).reshape(2, 3)
    return fn(e), fn(t)


@pytest.mark.parametrize("fn", [
    lambda x: x.resize_(3, 2), lambda x: x.resize_((1, 6)), lambda x: x.resize_(2, 2),
    lambda x: x.resize_(4), lambda x: x.resize_([0]), lambda x: x.resize_as_(x.new(3, 2)),
    lambda x: x.resize_as_(x.new(1, 2)), lambda x: x[1].resize_(2),
])
def test_resize_(fn):
    e, t = _resize_pair(fn)
    assert e.shape == t.shape
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    x = ember.arange(6.0)
    v0 = x._version
    assert x.resize_(2, 3) is x and x._version > v0


def test_resize_grows_and_keeps_values():
    e, t = _resize_pair(lambda x: x.resize_(4, 2))
    assert e.shape == t.shape
    np.testing.assert_array_equal(e.numpy().reshape(-1)[:6], t.numpy().reshape(-1)[:6])
    e = ember.ones(2)
    assert ember.resize_as_(e, ember.ones(2, 2)).shape == (2, 2)


def test_resize_errors():
    same_error(lambda m: m.ones(2, requires_grad=True).resize_(3))
    same_error(lambda m: (m.ones(2, requires_grad=True) * 1).resize_(2))
    same_error(lambda m: m.ones(2, requires_grad=True).resize_as_(m.ones(2)))
    same_error(lambda m: m.ones(2, 3).resize(3))


def test_resize_out_of_place(rng):
    x = rng.standard_normal((2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e, t = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        a, b = e.resize(3, 2), t.resize(3, 2)
        c, d = e.resize_as(ember.ones(6)), t.resize_as(torch.ones(6))
    assert type(a.grad_fn).__name__ == type(b.grad_fn).__name__ == "ResizeBackward"
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert c.shape == d.shape
    with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
        ember.ones(2).resize(2)
    ga, = ember.autograd.grad(a.sum() * 2, e)
    gb, = torch.autograd.grad(b.sum() * 2, t)
    np.testing.assert_array_equal(ga.numpy(), gb.numpy())


def test_apply_map_map2():
    for fn in [lambda m: m.arange(6.0).reshape(2, 3).apply_(lambda v: v * 2 + 1),
               lambda m: m.arange(3).apply_(lambda v: v / 2),
               lambda m: m.arange(6.0).reshape(2, 3).map_(m.ones(3), lambda a, b: a - b),
               lambda m: m.arange(6.0).reshape(2, 3).map2_(m.ones(3), m.arange(2.0)[:, None],
                                                           lambda a, b, c: a * c + b),
               lambda m: m.tensor([True, False]).apply_(lambda v: not v)]:
        e, t = fn(ember), fn(torch)
        assert _name(e.dtype) == _name(t.dtype)
        np.testing.assert_array_equal(e.numpy(), t.numpy())
    same_error(lambda m: m.ones(2, requires_grad=True).apply_(lambda v: v))
    same_error(lambda m: m.ones(2).map_(m.ones(3), lambda a, b: a))
    with ember.no_grad():
        x = ember.ones(2, requires_grad=True)
        x.apply_(lambda v: v + 1)  # torch allows it under no_grad too
    assert x.tolist() == [2.0, 2.0]


def test_module_load():
    for m in (ember, torch):
        p = m.zeros(2, requires_grad=True)
        other = m.ones(2)
        with m.no_grad():
            out = p.module_load(other)
        assert out.tolist() == [1.0, 1.0] and p.tolist() == [1.0, 1.0] and not out.requires_grad
        assert p.module_load(m.full((2,), 3.0), assign=True).tolist() == [3.0, 3.0]


# -- memory factories --------------------------------------------------------------------------


def test_frombuffer():
    for kw in ({}, {"count": 2, "offset": 4}, {"count": 3}, {"offset": 8}):
        bufs = [bytearray(np.arange(6, dtype=np.float32).tobytes()) for _ in range(2)]
        e = ember.frombuffer(bufs[0], dtype=ember.float32, **kw)
        t = torch.frombuffer(bufs[1], dtype=torch.float32, **kw)
        np.testing.assert_array_equal(e.numpy(), t.numpy())
        e[0] = 9.0
        assert np.frombuffer(bufs[0], np.float32)[kw.get("offset", 0) // 4] == 9.0  # shared
    e = ember.frombuffer(bytearray(b"abcd"), dtype=ember.int16, requires_grad=False)
    assert e.tolist() == torch.frombuffer(bytearray(b"abcd"), dtype=torch.int16).tolist()
    for kw in ({"count": 0}, {"offset": 100}, {"count": 10}, {"offset": -1}):
        same_error(lambda m: m.frombuffer(bytearray(24), dtype=m.float32, **kw))
    same_error(lambda m: m.frombuffer(b"", dtype=m.float32))
    same_error(lambda m: m.frombuffer(bytearray(b"abc"), dtype=m.float32))
    with pytest.warns(UserWarning, match="The given buffer is not writable"):
        ember.frombuffer(b"abcd", dtype=ember.uint8)


@pytest.mark.host_only  # (host memory, or the CPU device itself)
def test_from_dlpack():
    a = np.arange(4.0)
    e = ember.from_dlpack(a)
    e[0] = 5.0
    assert a[0] == 5.0 and e.dtype is ember.float64
    t = torch.arange(3)
    e = ember.from_dlpack(t)
    t[0] = 7
    assert e.tolist() == [7, 1, 2] and e.dtype is ember.int64
    back = torch.from_dlpack(ember.arange(3.0))  # ember tensors export DLPack too
    assert back.tolist() == [0.0, 1.0, 2.0]
    x = ember.ones(2)
    assert ember.from_dlpack(x) is x


# -- runtime switches ---------------------------------------------------------------------------


def test_build_flags_and_threads():
    for n in ("has_lapack", "has_mkl", "has_openmp", "has_spectral"):
        assert getattr(ember, n) == getattr(torch, n) is True
    assert ember.get_num_interop_threads() == torch.get_num_interop_threads() or \
        torch.get_num_interop_threads() != ember._runtime._cores()  # torch's was set elsewhere
    assert ember.init_num_threads() is None and torch.init_num_threads() is None
    same_error(lambda m: m.set_num_interop_threads(0))
    same_error(lambda m: m.set_num_interop_threads("a"))


def test_set_num_interop_threads_once(monkeypatch):
    monkeypatch.setattr(ember._runtime, "_interop_threads", None)
    ember.set_num_interop_threads(3)
    assert ember.get_num_interop_threads() == 3
    with pytest.raises(RuntimeError, match="cannot set number of interop threads after parallel "
                                           "work has started or set_num_interop_threads called"):
        ember.set_num_interop_threads(4)


def test_anomaly_and_warn_always_flags():
    try:
        for m in (ember, torch):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m.set_anomaly_enabled(True)
                seen = [(m.is_anomaly_enabled(), m.is_anomaly_check_nan_enabled())]
                m.set_anomaly_enabled(True, False)
                seen.append((m.is_anomaly_enabled(), m.is_anomaly_check_nan_enabled()))
                assert ember.autograd.is_anomaly_enabled() if m is ember else True
                m.set_anomaly_enabled(False)
                seen.append((m.is_anomaly_enabled(), m.is_anomaly_check_nan_enabled()))
                with m.autograd.detect_anomaly(check_nan=False):
                    seen.append((m.is_anomaly_enabled(), m.is_anomaly_check_nan_enabled()))
            if m is ember:
                e_seen = seen
        assert e_seen == seen
        for m in (ember, torch):
            assert m.is_warn_always_enabled() is False
            m.set_warn_always(True)
            assert m.is_warn_always_enabled() is True
            m.set_warn_always(False)
    finally:
        torch.set_anomaly_enabled(False)
        ember.set_anomaly_enabled(False)
    same_error(lambda m: m.set_anomaly_enabled("a"))
    same_error(lambda m: m.set_warn_always("a"))


# -- torch-level in-place functions --------------------------------------------------------------

_POS = ["acosh_", "arccosh_", "log_", "log10_", "log1p_", "log2_", "rsqrt_", "sqrt_", "logit_",
        "reciprocal_"]
_UNIT = ["acos_", "arccos_", "asin_", "arcsin_", "atanh_", "arctanh_", "erf_", "erfc_"]
_ARGS = {"clamp_max_": (0.3,), "clamp_min_": (0.3,), "fill_": (2.0,)}
_INTS = {"gcd_", "lcm_"}
_NO_INPLACE_DERIVATIVE = {"acosh_", "arccosh_", "asinh_", "arcsinh_", "atanh_", "arctanh_"}


@pytest.mark.parametrize("name", ember.ops.torch_inplace.NAMES)
def test_torch_level_inplace(name, rng):
    if name in _INTS:
        a, b = rng.integers(1, 20, 5), rng.integers(1, 20, 5)
        check_op(lambda m, x, y: getattr(m, name)(x.clone(), y), a, b, grad=False)
        return
    lo = 1.2 if name in ("acosh_", "arccosh_") else 0.1 if name in _POS else -0.9
    hi = 0.9 if name in _UNIT + ["logit_"] else 2.0
    x = rng.uniform(lo, hi, (2, 3))
    if name == "addmv_":
        mat, vec = rng.standard_normal((2, 4)), rng.standard_normal(4)
        check_op(lambda m, t, a, b: m.addmv_(t[:, 0] * 1, a, b, beta=0.5), x, mat, vec)
        return
    if name == "xlogy_":
        y = rng.uniform(0.1, 2.0, (2, 3))
        check_op(lambda m, t, u: m.xlogy_(t * 1, u), x, y)
        return
    if name == "detach_":
        for m in (ember, torch):
            t = m.ones(2, requires_grad=True) * 2
            assert m.detach_(t) is t and t.grad_fn is None and not t.requires_grad
        return
    args = _ARGS.get(name, ())
    # the in-place inverse hyperbolics record *Backward1 nodes without a derivative
    check_op(lambda m, t: getattr(m, name)(t * 1, *args), x,
             grad=name not in _NO_INPLACE_DERIVATIVE)
    if name in _NO_INPLACE_DERIVATIVE:
        same_error(lambda m: getattr(m, name)(m.tensor(x, requires_grad=True) * 1).sum()
                   .backward())
    same_error(lambda m: getattr(m, name)(1.0, *args), exact=not args)  # (overloads: a longer text)
    assert getattr(ember, name).__name__ == name


def test_torch_level_inplace_writes_into_input():
    x = ember.tensor([0.0, 1.0])
    assert ember.exp_(x) is x
    np.testing.assert_allclose(x.numpy(), torch.exp_(torch.tensor([0.0, 1.0])).numpy(), rtol=1e-6)
    y = ember.tensor([1.6, -0.4])
    assert ember.round_(y, decimals=0).tolist() == [2.0, -0.0]
    same_error(lambda m: m.sin_(m.ones(2, requires_grad=True)))


def test_typename_is_distributed_resolve_adjoint(rng):
    for obj in (3, "a", 2.5, None):
        assert ember.typename(obj) == torch.typename(obj)
    for dtype in ("float32", "int64", "bool", "float64"):
        e, t = ember.ones(2, dtype=getattr(ember, dtype)), torch.ones(2, dtype=getattr(torch,
                                                                                     dtype))
        assert ember.typename(e) == torch.typename(t).replace("torch.", "ember.")
    assert ember.typename(ember.nn.Linear(1, 1)) == torch.typename(torch.nn.Linear(1, 1)).replace(
        "torch.", "ember.")
    assert ember.is_distributed(ember.ones(2)) is torch.is_distributed(torch.ones(2)) is False
    assert ember.ones(2).is_distributed() is False
    x = rng.standard_normal((2, 3, 4))
    check_op(lambda m, t: m.adjoint(t), x)
    check_op(lambda m, t: m.resolve_conj(t * 1), x)
    check_op(lambda m, t: m.resolve_neg(t * 1), x)
    same_error(lambda m: m.adjoint(m.ones(3)))


@pytest.mark.parametrize("long,short", [("greater_", "gt_"), ("greater_equal_", "ge_"),
                                        ("less_", "lt_"), ("less_equal_", "le_"),
                                        ("not_equal_", "ne_")])
def test_inplace_comparisons(long, short, rng):
    x, y = rng.integers(0, 3, 6).astype(np.float64), rng.integers(0, 3, 6).astype(np.float64)
    for name in (long, short):
        # recorded as <Op>Backward0 (a number) / <Op>Backward1 (a tensor): zeros flow back
        check_op(lambda m, a, b: getattr(a.clone(), name)(b), x, y)
        check_op(lambda m, a, b: getattr(a * 1, name)(b[:1]) * b, x, y)
        check_op(lambda m, a: getattr(a.clone(), name)(1), x)
        check_op(lambda m, a: getattr(a.clone(), name)(1.5), x.astype(np.int64), grad=False)
        check_op(lambda m, a, b: getattr(a.clone(), name)(b), x, y.astype(np.int64))
        check_gradcheck(lambda m, a, b: getattr(a * 1, name)(b) + a, x, y)
        e = ember.tensor(x)
        assert getattr(e, name)(ember.tensor(y)) is e
        same_error(lambda m: getattr(m.ones(2), name)(m.ones(3, 2)))
        same_error(lambda m: getattr(m.ones(2, requires_grad=True), name)(0))


def test_adjoint_of_a_scalar():
    for m in (ember, torch):
        with pytest.warns(UserWarning, match="adjoint\\(\\) is deprecated on 0-D tensors"):
            assert m.adjoint(m.tensor(2.0)).item() == 2.0


@pytest.mark.parametrize("fn", [
    lambda t: t.unsqueeze_(0), lambda t: t.unsqueeze_(-1), lambda t: t.squeeze_(),
    lambda t: t.squeeze_(1), lambda t: t.squeeze_(0), lambda t: t.squeeze_((1, 2)),
    lambda t: t.squeeze_([-2]), lambda t: t[:, 0, 0].t_(), lambda t: t[:, 0].t_(),
    lambda t: t[0, 0, 0].t_(),
])
def test_inplace_view_changes(fn, rng):
    x = rng.standard_normal((2, 1, 3))
    check_op(lambda m, t: fn(t * 1), x)
    check_gradcheck(lambda m, t: fn(t * 1), x)
    for m in (ember, torch):
        t = m.tensor(x)
        v0 = t._version
        out = fn(t)
        assert out._version == v0 + 1


def test_inplace_view_changes_identity_and_errors():
    for m in (ember, torch):
        t = m.ones(2, 1, 3)
        assert t.unsqueeze_(0) is t and t.shape == (1, 2, 1, 3)
        assert t.squeeze_() is t and t.shape == (2, 3)
        assert t.t_() is t and t.shape == (3, 2)
    same_error(lambda m: m.ones(2, 3, 4).t_())
    same_error(lambda m: m.ones(3).unsqueeze_(5))
    same_error(lambda m: m.ones(3).squeeze_(5))
    same_error(lambda m: m.ones(2, 1).squeeze_((1, 1)))
    same_error(lambda m: m.ones(2, 1, requires_grad=True).squeeze_())
    same_error(lambda m: m.ones(2, requires_grad=True).unsqueeze_(0))


@pytest.mark.parametrize("fn", [
    lambda m, t: m.unsafe_split(t, 2, 1), lambda m, t: t.unsafe_split(1, 0),
    lambda m, t: m.unsafe_chunk(t, 2, 1), lambda m, t: t.unsafe_chunk(3, -1),
    lambda m, t: m.unsafe_split_with_sizes(t, [1, 3], 1),
    lambda m, t: t.unsafe_split_with_sizes([2]),
])
def test_unsafe_splits(fn, rng):
    x = rng.standard_normal((2, 4))
    check_op(fn, x)
    check_gradcheck(lambda m, t: fn(m, t * 1), x)
    for m in (ember, torch):
        pieces = fn(m, m.tensor(x, requires_grad=True) * 1)
        pieces[0].mul_(2)  # not views for autograd: in-place writes are allowed
    same_error(lambda m: m.unsafe_split(m.tensor(1.0), 1))
    same_error(lambda m: m.unsafe_split_with_sizes(m.ones(4), [1, 2]))


def test_set_and_is_set_to():
    for m in (ember, torch):
        x = m.arange(6.0).reshape(2, 3)
        y = m.ones(2)
        v = y._version
        assert y.set_(x) is y and y.shape == (2, 3) and y.is_set_to(x) and y._version == v + 1
        x[0, 0] = 9.0
        assert y[0, 0].item() == 9.0
        z = m.ones(2).set_(x.t())
        assert z.stride() == (1, 3) and z.is_set_to(x.t()) and not z.is_set_to(x)
        assert x.is_set_to(x[:]) and not x.is_set_to(x.view(3, 2))
        assert m.ones(2).set_().shape == (0,)
        assert m.ones(2).set_(x.untyped_storage()).shape == (6,)
        w = m.ones(2).set_(x, 2, (2, 2), (1, 2))
        assert w.tolist() == [[2.0, 4.0], [3.0, 5.0]]
    same_error(lambda m: m.ones(2).set_(m.arange(4)))
    same_error(lambda m: m.ones(2, requires_grad=True).set_(m.ones(3)))


def test_as_subclass():
    for m in (ember, torch):
        class Sub(m.Tensor):
            pass

        x = m.ones(2, requires_grad=True)
        y = x.as_subclass(Sub)
        assert type(y) is Sub and y.requires_grad and type(y.grad_fn).__name__ == "AliasBackward0"
        (y * 3).sum().backward()
        assert x.grad.tolist() == [3.0, 3.0]
        z = (x * 1).as_subclass(Sub)
        assert type(z.grad_fn).__name__ == "AliasBackward0"
        with m.no_grad():
            w = x.as_subclass(Sub)
        assert w.requires_grad and w.grad_fn is None
        p = m.zeros(2)
        q = p.as_subclass(Sub)
        p.add_(1)
        assert q.tolist() == [1.0, 1.0] and not q.requires_grad
    same_error(lambda m: m.ones(2).as_subclass(int))


def test_legacy_attributes_and_device_moves():
    for m in (ember, torch):
        x = m.ones(2)
        assert x.name is None
        with pytest.warns(UserWarning, match="volatile was removed"):
            assert x.volatile is False
    for move in ("xpu", "ipu", "mtia"):
        same_error(lambda m: getattr(m.ones(2), move)())


def test_layouts():
    import pickle

    names = ["strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc",
             "jagged"]
    for n in names:
        e, t = getattr(ember, n), getattr(torch, n)
        assert isinstance(e, ember.layout) and repr(e) == repr(t).replace("torch.", "ember.")
        assert pickle.loads(pickle.dumps(e)) is e
    assert ember.ones(2).layout is ember.strided and torch.ones(2).layout is torch.strided
    assert ember.ones(2).layout != ember.sparse_coo
    assert ember.zeros(2, layout=ember.strided).shape == (2,)


def test_scalar_tensor_and_range():
    for args, kw in [((3,), {}), ((3,), {"dtype": "int64"}), ((True,), {}), ((2.5,), {}),
                     ((2.5,), {"requires_grad": True}), ((3,), {"dtype": "float64"})]:
        ekw = {k: getattr(ember, v) if k == "dtype" else v for k, v in kw.items()}
        tkw = {k: getattr(torch, v) if k == "dtype" else v for k, v in kw.items()}
        e, t = ember.scalar_tensor(*args, **ekw), torch.scalar_tensor(*args, **tkw)
        assert repr(e) == repr(t).replace("torch.", "ember.")
    same_error(lambda m: m.scalar_tensor([1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for args, kw in [((1, 4), {}), ((1, 4, 0.3), {}), ((5, 1, -1), {}), ((0, 0), {}),
                         ((1.5, 3), {}), ((1, 3), {"dtype": "int32"}), ((0, 1, 0.1), {})]:
            ekw = {k: getattr(ember, v) for k, v in kw.items()}
            tkw = {k: getattr(torch, v) for k, v in kw.items()}
            e, t = ember.range(*args, **ekw), torch.range(*args, **tkw)
            assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1]
            np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6)
        same_error(lambda m: m.range(1, 4, 0))
        same_error(lambda m: m.range(4, 1))
    with pytest.warns(UserWarning, match="torch.range is deprecated"):
        ember.range(1, 2)


def test_runtime_extras():
    assert ember.is_vulkan_available() is torch.is_vulkan_available() is False
    assert ember.compiled_with_cxx11_abi() is torch.compiled_with_cxx11_abi() is True
    assert ember.set_flush_denormal(False) is False  # (not controllable through NumPy)


def test_get_device_module_and_default_tensor_type():
    for arg in (None, "cpu", "cuda", "cuda:0", "mps", "xpu"):
        name = ember.get_device_module(arg).__name__
        assert name == torch.get_device_module(arg).__name__.replace("torch", "ember")
    assert ember.get_device_module(ember.device("cpu")) is ember.cpu
    for bad in ("meta", "foo", 3):
        same_error(lambda m: m.get_device_module(bad))
    try:
        for m in (ember, torch):
            with pytest.warns(UserWarning, match="set_default_tensor_type\\(\\) is deprecated"):
                m.set_default_tensor_type(m.DoubleTensor)
            assert m.get_default_dtype() == m.float64 and m.ones(1).dtype == m.float64
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m.set_default_tensor_type("torch.HalfTensor")
                assert m.get_default_dtype() == m.float16
                m.set_default_tensor_type("torch.FloatTensor")
            assert m.get_default_dtype() == m.float32
    finally:
        ember.set_default_dtype(ember.float32)
        torch.set_default_dtype(torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same_error(lambda m: m.set_default_tensor_type(m.LongTensor))
        same_error(lambda m: m.set_default_tensor_type(3))


def test_to_dlpack():
    x = ember.arange(4.0)
    t = torch.from_dlpack(ember.to_dlpack(x))
    x[0] = 7.0
    assert t.tolist() == [7.0, 1.0, 2.0, 3.0]
    assert ember.from_dlpack(torch.to_dlpack(torch.ones(2))).tolist() == [1.0, 1.0]


def test_strided_answers_to_sparse_accessors(rng):
    x = rng.standard_normal((2, 3))
    for m in (ember, torch):
        t = m.tensor(x, requires_grad=True)
        assert t.to_dense() is t and t.to_dense(masked_grad=True) is t
        assert t.dense_dim() == 2 and t.sparse_dim() == 0
    check_op(lambda m, t: t.to_dense(dtype=m.float32), x)
    for name in ("crow_indices", "col_indices", "ccol_indices", "row_indices", "values",
                 "indices", "is_coalesced", "coalesce"):
        same_error(lambda m: getattr(m.ones(2, 3), name)())


def test_return_types(rng):
    import pickle

    x = rng.standard_normal((3, 4))
    for fn in [lambda m, t: m.max(t, 0), lambda m, t: m.sort(t, 1), lambda m, t: m.topk(t, 2),
               lambda m, t: m.min(t, 1, keepdim=True), lambda m, t: m.aminmax(t)]:
        e, t = fn(ember, ember.tensor(x)), fn(torch, torch.tensor(x))
        name = type(t).__name__
        assert type(e).__name__ == name and type(e) is getattr(ember.return_types, name)
        assert isinstance(e, getattr(ember.return_types, name)) and len(e) == len(t)
        assert repr(e) == repr(t).replace("torch.", "ember.")
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is type(e)
        for a, b in zip(back, e):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert set(dir(ember.return_types)) <= set(dir(torch.return_types))
    with pytest.raises(AttributeError):
        ember.return_types.no_such_type


def test_types_module():
    import torch.types as tt

    import ember.types as et

    def norm(s):
        for mod in ("ember.tensor.", "ember.dtypes.", "ember.devices.", "ember.ops.strided.",
                    "ember."):
            s = s.replace(mod, "torch.")
        return s

    for n in ("Number", "Device", "_Number", "_TensorOrTensors", "_TensorOrOptionalTensors",
              "_size", "_bool", "_int", "_float", "_complex", "_str", "FileLike"):
        assert norm(str(getattr(et, n))) == str(getattr(tt, n)), n
    for n in ("_dtype", "_device", "_layout"):
        assert getattr(et, n).__name__ == getattr(tt, n).__name__
    assert isinstance(3, et._Number) and isinstance(ember.ones(1).dtype, et._dtype)


def test_torch_version_module():
    tv = ember.torch_version
    assert tv.TorchVersion is ember.version.TorchVersion
    assert tv.__version__ is ember.__version__ and tv.internal_version == ember.__version__
    assert tv.__version__ >= (2, 13) and tv.__version__ >= "2.0" and tv.__version__ < (3,)
    assert isinstance(tv.TorchVersion("1.2.3"), str)
    assert (tv.TorchVersion("1.2.3") < (1, 3)) is (torch.torch_version.TorchVersion("1.2.3")
                                                  < (1, 3))


def test_functional_module():
    import torch.functional as tf

    import ember.functional as ef

    assert sorted(ef.__all__) == sorted(tf.__all__)
    for name in ef.__all__:
        assert getattr(ef, name) is getattr(ember, name)
    from ember.functional import einsum, meshgrid  # noqa: F401
    with pytest.raises(AttributeError):
        ef.no_such_function


@pytest.mark.parametrize("fn", [
    lambda m: m.broadcast_tensors(m.ones(2), 1), lambda m: m.broadcast_tensors([m.ones(2)]),
    lambda m: m.fill(m.ones(2), "a"), lambda m: m.fill(m.ones(2), None),
    lambda m: m.narrow_copy(3, 0, 0, 1), lambda m: m.empty_strided((2, -1), (1, 1)),
    lambda m: m.empty_strided((2, 3), (1, -1)), lambda m: m.frombuffer([1, 2], dtype=m.float32),
    lambda m: m.ones(2).new(2, 3.5), lambda m: m.kaiser_window(5, True, "a"),
    lambda m: m.iinfo(m.int32, 3), lambda m: m.iinfo(m.int32, type=m.int8),
    lambda m: m.is_nonzero(m.tensor([])), lambda m: m.unsafe_chunk(m.ones(4), 0),
    lambda m: m.ones(3).unsqueeze_(-5),
])
def test_argument_errors(fn):
    same_error(fn)


def test_exception_types():
    for name in ("OutOfMemoryError", "AcceleratorError"):
        e, t = getattr(ember, name), getattr(torch, name)
        assert issubclass(e, RuntimeError) and repr(e) == repr(t).replace("torch", "ember")
    assert ember.cuda.OutOfMemoryError is ember.OutOfMemoryError
    try:
        raise ember.OutOfMemoryError("out of memory")
    except RuntimeError as err:
        assert isinstance(err, ember.cuda.OutOfMemoryError)



def _layouts(m):
    yield m.ones(2, 3)
    yield m.ones(2, 3).t()
    yield m.ones(2, 1, 3)
    yield m.ones(1, 2, 3, 4)
    yield m.ones(2, 1, 1, 5)
    yield m.ones(2, 3, 4, 5)
    yield m.ones(2, 4, 5, 3).permute(0, 3, 1, 2)  # channels last
    yield m.ones(1, 4, 5, 3).permute(0, 3, 1, 2)
    yield m.ones(2, 4, 1, 3).permute(0, 3, 1, 2)
    yield m.ones(2, 3, 4, 5, 6).permute(0, 4, 1, 2, 3)
    yield m.ones(2, 3, 4).permute(2, 0, 1)
    yield m.ones(2, 3, 4).permute(1, 2, 0)
    yield m.ones(3).expand(2, 3)
    yield m.ones(4, 1).expand(4, 5)
    yield m.ones(2, 3, 4)[:, ::2]
    yield m.ones(4, 4)[::2, ::2]
    yield m.ones(6, 4)[:, :2]
    yield m.ones(2, 2)
    yield m.ones(0, 3)
    yield m.ones(3)
    yield m.ones(())


@pytest.mark.parametrize("check", ["none", "true", "empty", "contiguous", "last",
                                   "both", "last_3d"])
def test_dim_order_every_layout(check):
    def arg(m):
        return {"none": False, "true": True, "empty": [],
                "contiguous": [m.contiguous_format], "last": [m.channels_last],
                "both": [m.contiguous_format, m.channels_last],
                "last_3d": [m.channels_last_3d, m.contiguous_format]}[check]

    for e, t in zip(_layouts(ember), _layouts(torch)):
        assert e.stride() == t.stride()
        try:
            want = t.dim_order(ambiguity_check=arg(torch))
        except RuntimeError as err:
            with pytest.raises(RuntimeError) as got:
                e.dim_order(ambiguity_check=arg(ember))
            assert str(got.value) == str(err), (tuple(t.shape), t.stride())
            continue
        assert e.dim_order(ambiguity_check=arg(ember)) == want, (tuple(t.shape), t.stride())
    same_error(lambda m: m.ones(2).dim_order(ambiguity_check=[1]))
    assert ember.ones(2, 1).dim_order(ambiguity_check=[ember.preserve_format]) == \
        torch.ones(2, 1).dim_order(ambiguity_check=[torch.preserve_format])
    same_error(lambda m: m.ones(2, 1).dim_order(
        ambiguity_check=[m.preserve_format, m.contiguous_format]))


@pytest.mark.parametrize("call", [
    ("sym_int", (3.7,)), ("sym_int", (-3.7,)), ("sym_int", (5,)), ("sym_float", (3,)),
    ("sym_max", (1, 2.5)), ("sym_max", (3, 2)), ("sym_min", (1, 2.5)), ("sym_max", (1, 2.0)),
    ("sym_max", (True, 0)), ("sym_min", (np.int64(4), 7)), ("sym_sqrt", (4,)),
    ("sym_not", (True,)), ("sym_not", (0,)), ("sym_ite", (True, 1, 2)), ("sym_ite", (False, 1, 2)),
    ("sym_sum", ([1, 2, 3],)), ("sym_sum", ([1.5, 2],)), ("sym_sum", ([],)),
    ("sym_fresh_size", (3,)),
])
def test_symbolic_helpers(call):
    name, args = call
    e, t = getattr(ember, name)(*args), getattr(torch, name)(*args)
    assert e == t and type(e) is type(t), (e, t)


@pytest.mark.parametrize("call", [("sym_int", ("a",)), ("sym_sqrt", (-1,)),
                                  ("sym_max", ("a", 1)), ("sym_float", ("x",)),
                                  ("sym_ite", (1, 2, 3))])
def test_symbolic_helper_errors(call):
    name, args = call
    same_error(lambda m: getattr(m, name)(*args))


@pytest.mark.parametrize("args,kw", [((5,), {"min": 0, "max": 10}), ((5,), {"min": 6}),
                                     ((5,), {"max": 3}), ((1,), {}), ((-1,), {}), ((0,), {})])
@pytest.mark.parametrize("name", ["sym_constrain_range", "sym_constrain_range_for_size"])
def test_sym_constrain_range(name, args, kw):
    try:
        want = getattr(torch, name)(*args, **kw)
    except RuntimeError:
        same_error(lambda m: getattr(m, name)(*args, **kw))
        return
    assert getattr(ember, name)(*args, **kw) is want is None
