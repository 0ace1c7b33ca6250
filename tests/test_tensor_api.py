"""The Tensor API vs torch: metadata, conversions to Python and NumPy, autograd flags, dunders,
Size, new_* constructors, pickling, and the conversion ops (clone, contiguous, to, type, casts)."""
from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest
from helpers import check_gradcheck, check_op, same_error, torch_or_skip

import ember

torch = torch_or_skip()

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def both(fn):
    """``fn(module)`` gives equal Python values (Size / dtype / device spelled per library)."""
    e, t = fn(ember), fn(torch)
    norm = lambda v: str(v).replace("torch.", "").replace("ember.", "")  # noqa: E731
    assert norm(e) == norm(t), (e, t)
    return e


def same(fn, **kw):
    check_op(lambda m: fn(m), grad=False, **kw)




X = np.arange(6, dtype=np.float32).reshape(2, 3)


def x(m, requires_grad=False):
    return m.tensor(X, requires_grad=requires_grad)


# -- metadata -----------------------------------------------------------------------------------

@pytest.mark.parametrize("expr", [
    "x.dtype", "x.shape", "x.size()", "x.size(0)", "x.size(-1)", "x.size(dim=1)", "x.shape[1:]",
    "x.dim()", "x.ndim", "x.ndimension()", "x.numel()", "x.nelement()", "x.element_size()",
    "x.itemsize", "x.nbytes", "x.stride()", "x.stride(1)", "x.stride(-2)", "x.t().stride()",
    "x.is_contiguous()", "x.t().is_contiguous()", "x[:, ::2].is_contiguous()",
    "x[:, ::2].stride()", "x[:1].t().is_contiguous()", "x.is_floating_point()", "x.device",
    "str(x.device)", "x.is_leaf", "x.requires_grad", "x.grad_fn", "x.T.shape", "x.mT.shape",
    "x.tolist()", "len(x)", "x.is_cuda", "x.unsqueeze(0).expand(4, 2, 3).stride()",
    "s.size()", "s.dim()", "s.stride()", "s.numel()", "s.tolist()", "s.item()",
    "m.zeros(2, 0).stride()", "m.zeros(0, 3).stride()", "m.zeros(2, 3, 0).stride(0)",
    "m.zeros(0).is_contiguous()", "m.ones(3, 1).t().is_contiguous()",
])
@pytest.mark.host_only  # (the NumPy path or the CPU device itself)
def test_metadata(expr):
    both(lambda m: eval(expr, {"x": x(m), "s": m.tensor(2.5), "m": m}))


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_metadata(dtype):
    both(lambda m: m.zeros(3, dtype=getattr(m, dtype)).element_size())
    both(lambda m: m.zeros(3, dtype=getattr(m, dtype)).is_floating_point())
    both(lambda m: m.ones(2, dtype=getattr(m, dtype)).tolist())
    both(lambda m: m.ones(1, dtype=getattr(m, dtype)).item())
    both(lambda m: type(m.ones((), dtype=getattr(m, dtype)).item()).__name__)
    both(lambda m: m.zeros(3, dtype=getattr(m, dtype)).type())


@pytest.mark.parametrize("fn", [
    lambda m: x(m).size(2), lambda m: x(m).size(-3), lambda m: x(m).stride(5),
    lambda m: m.tensor(1.0).size(0), lambda m: m.tensor(1.0).size(-1),
    lambda m: m.tensor(1.0).stride(0), lambda m: x(m).item(), lambda m: m.tensor([]).item(),
    lambda m: x(m, True).numpy(), lambda m: len(m.tensor(1.0)), lambda m: iter(m.tensor(1.0)),
    lambda m: bool(m.tensor([])), lambda m: bool(m.tensor([1.0, 2])),
    lambda m: int(m.tensor([1, 2])), lambda m: float(m.tensor([])),
    lambda m: m.tensor(3.0).__index__(), lambda m: m.tensor([3, 4]).__index__(),
    lambda m: f"{m.tensor([3.14159]):.2f}",
], ids=range(18))
def test_metadata_errors(fn):
    same_error(fn)


@pytest.mark.host_only  # (the NumPy path or the CPU device itself)
def test_device():
    assert ember.zeros(1).device == ember.device("cpu") == "cpu"
    assert repr(ember.device("cpu")) == repr(torch.device("cpu"))
    assert repr(ember.device("cpu:0")) == repr(torch.device("cpu:0"))
    assert str(ember.device("cpu", 0)) == "cpu:0"
    assert hash(ember.device("cpu")) == hash(ember.device("cpu"))
    for spec in ("cuda", "cuda:1", "mps", "meta", "cpu:3"):
        assert repr(ember.device(spec)) == repr(torch.device(spec))
    assert repr(ember.device("cuda", 2)) == repr(torch.device("cuda", 2))
    for bad in ("foo", "cuda:x", "cuda:-1", "cuda:0:1", "cuda:01"):
        same_error(lambda m: m.device(bad))


# -- Python and NumPy conversions ---------------------------------------------------------------

@pytest.mark.parametrize("expr", [
    "bool(m.tensor([1.0]))", "bool(m.tensor(0.0))", "bool(m.tensor([[True]]))",
    "bool(m.tensor(float('nan')))", "int(m.tensor(2.7))", "int(m.tensor([-2.7]))",
    "int(m.tensor(True))", "float(m.tensor(2))", "float(m.tensor([[2.5]]))",
    "complex(m.tensor(2.0))", "m.tensor(3).__index__()", "m.tensor([3]).__index__()",
    "m.tensor(True).__index__()", "[10, 20, 30][m.tensor(1)]", "list(range(10))[m.tensor(2):]",
    "f'{m.tensor(3.14159):.2f}'", "f'{m.tensor(3):5d}'", "f'{m.tensor(5):x}'",
    "f'{m.tensor(2.5, requires_grad=True):.2f}'", "format(m.tensor(2.5))",
    "format(m.tensor(True))", "m.tensor([[5]]).item()", "m.tensor(2, dtype=m.int32).item()",
    "m.tensor([2.0], requires_grad=True).item()",
    "m.tensor([[1.0, 2.0]], requires_grad=True).tolist()",
    "m.tensor(2.5).tolist()", "[t.tolist() for t in m.tensor([[1, 2], [3, 4]])]",
    "len(m.zeros(0, 3))", "list(m.zeros(0, 3))",
])
def test_python_conversions(expr):
    both(lambda m: eval(expr, {"m": m}))


def test_format_of_non_scalar():
    assert f"{ember.tensor([1.5])}" == str(ember.tensor([1.5]))


@pytest.mark.host_only  # (host memory, or the CPU device itself)
def test_numpy_shares_memory():
    t = ember.tensor([1.0, 2.0])
    n = t.numpy()
    n[0] = 9
    assert t.tolist() == [9.0, 2.0]
    assert ember.ones(2, requires_grad=True).numpy(force=True).tolist() == [1.0, 1.0]
    assert np.asarray(t) is n or np.shares_memory(np.asarray(t), n)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array(ember.tensor(3.0)).shape == ()
    assert (np.float64(2) * ember.tensor([1.0])).tolist() == [2.0]


def test_iteration_and_unbind_grad():
    for m in (ember, torch):
        rows = list(m.ones(2, 2, requires_grad=True))
        assert [type(r.grad_fn).__name__ for r in rows] == ["UnbindBackward0"] * 2
    both(lambda m: [r.tolist() for r in m.tensor([1, 2])])


# -- autograd flags -----------------------------------------------------------------------------

def test_requires_grad_setter():
    def set_on_nonleaf(m, value):
        y = x(m, True) * 2
        y.requires_grad = value

    def set_on_int(m):
        m.tensor([1, 2]).requires_grad = True

    same_error(lambda m: set_on_nonleaf(m, True))
    same_error(lambda m: set_on_nonleaf(m, False))
    same_error(set_on_int)
    same_error(lambda m: (x(m, True) * 2).requires_grad_(False))
    same_error(lambda m: m.tensor([1, 2]).requires_grad_())
    for m in (ember, torch):
        y = x(m, True) * 2
        assert y.requires_grad_() is y and y.requires_grad_(True).grad_fn is not None
        z = m.tensor([1, 2])
        assert z.requires_grad_(False) is z
        z.requires_grad = False
        a = x(m)
        assert a.requires_grad_() is a and a.requires_grad and a.is_leaf
        a.requires_grad = False
        assert not a.requires_grad


def test_is_leaf_and_data():
    for m in (ember, torch):
        a = x(m, True)
        y = a * 2
        assert a.is_leaf and not y.is_leaf and y.data.is_leaf and not y.data.requires_grad
        d = a.data
        d[0, 0] = 100.0
        assert a[0, 0].item() == 100.0
        v = d._version
        d.add_(1)
        assert a._version == 0 and d._version == v + 1  # .data has its own version counter
        a.data = m.zeros(3, dtype=m.float64)
        assert a.shape == (3,) and a.dtype == m.float64 and a.requires_grad
    same_error(lambda m: setattr(x(m), "data", [1, 2]))


def test_detach():
    for m in (ember, torch):
        a = x(m, True)
        d = a.detach()
        assert not d.requires_grad and d.is_leaf
        d.add_(1)
        assert a._version == 1 and a[0, 0].item() == 1.0  # shared memory and version counter
        y = a * 2
        assert y.detach_() is y and y.is_leaf and not y.requires_grad and y.grad_fn is None
        assert y.tolist() == (a.detach() * 2).tolist()
    same_error(lambda m: x(m, True)[0].detach_())


# -- Size ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr", [
    "m.Size([2, 3])", "repr(m.Size([]))", "str(m.Size([2, 3]))", "m.Size([2, 3]).numel()",
    "m.Size([]).numel()", "m.Size([2, 3])[1:]", "type(m.Size([2, 3])[1:]).__name__",
    "m.Size([2, 3])[::-1]", "m.Size([2, 3])[0]", "m.Size([2, 3]) + (4,)", "(4,) + m.Size([2, 3])",
    "m.Size([2, 3]) * 2", "2 * m.Size([2])", "m.Size([2, 3]) == (2, 3)", "m.Size([2]) == [2]",
    "hash(m.Size([2])) == hash((2,))", "m.Size([2, 3]).count(2)", "m.Size([2, 3]).index(3)",
    "isinstance(m.Size([1]), tuple)", "pickle.loads(pickle.dumps(m.Size([2, 3])))",
    "m.zeros(2, 3).shape == m.Size([2, 3])", "m.zeros(2, 3).size()[-1]",
])
def test_size(expr):
    both(lambda m: eval(expr, {"m": m, "pickle": pickle}))


def test_size_errors():
    same_error(lambda m: m.Size([2, 3]) + [4], exact=False)
    same_error(lambda m: m.Size(3), exact=False)


# -- new_* --------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr", [
    "b.new_zeros(2, 3)", "b.new_zeros((2,))", "b.new_zeros([2, 1])", "b.new_zeros(())",
    "b.new_ones([2])", "b.new_ones(2, dtype=m.int64)", "b.new_full((2,), 3)",
    "b.new_full([2], 3.5, dtype=m.float64)", "b.new_tensor([1, 2])",
    "i.new_tensor([1.5])", "i.new_zeros(2)", "i.new_ones(2, 2)", "i.new_full((2,), 7)",
    "b.new_zeros(2, requires_grad=True)", "b.new_tensor([1, 2], dtype=m.float64)",
    "b.new_tensor([1.0], requires_grad=True)", "b.new_empty(2, 3).shape",
])
def test_new_methods(expr):
    same(lambda m: eval(expr, {"m": m, "b": x(m, True), "i": m.tensor([1, 2])}))


def test_new_methods_errors_and_copies():
    same_error(lambda m: x(m).new_full(2, 3))
    same_error(lambda m: m.tensor([1]).new_zeros(2, requires_grad=True))
    same_error(lambda m: x(m).new_zeros(-1))
    both(lambda m: x(m).new_empty((2,), dtype=m.int32).dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(lambda m: x(m).new_tensor(x(m, True)))
        same(lambda m: x(m).new_tensor(m.tensor([1, 2]), dtype=m.float64))
    a = ember.tensor([1.0, 2.0])
    b = a.new_tensor(np.array([1.0, 2.0]))
    b[0] = 5
    assert a.tolist() == [1.0, 2.0]


# -- pickle and copy ----------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickle_round_trip(protocol):
    a = ember.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    a.grad = ember.ones(2, 2)
    r = pickle.loads(pickle.dumps(a, protocol=protocol))
    assert r.tolist() == a.tolist() and r.dtype is a.dtype and r.requires_grad and r.is_leaf
    assert r.grad is None  # as in torch, pickling drops .grad
    for dtype in DTYPES:
        t = ember.ones(2, 3, dtype=getattr(ember, dtype))
        r = pickle.loads(pickle.dumps(t, protocol=protocol))
        assert r.dtype is t.dtype and r.shape == t.shape and r.tolist() == t.tolist()
    y = pickle.loads(pickle.dumps(a * 2))  # a non-leaf pickles as a leaf, as in torch
    assert y.requires_grad and y.is_leaf and y.tolist() == [[2, 4], [6, 8]]
    assert pickle.loads(pickle.dumps(ember.tensor(3.5))).item() == 3.5
    assert pickle.loads(pickle.dumps(ember.float16)) is ember.float16


def test_deepcopy_and_copy():
    for m in (ember, torch):
        a = m.tensor([1.0, 2.0], requires_grad=True)
        a.grad = m.ones(2)
        a.foo = 3
        r = copy.deepcopy(a)
        assert r.tolist() == [1.0, 2.0] and r.requires_grad and r.grad.tolist() == [1.0, 1.0]
        assert r.foo == 3
        r[0].detach().fill_(7)
        assert a.tolist() == [1.0, 2.0]
        c = copy.copy(m.tensor([1.0, 2.0]))
        assert c.tolist() == [1.0, 2.0]
        d = [m.ones(2)]
        e = copy.deepcopy(d + d)
        assert e[0] is e[1]  # the memo keeps shared tensors shared
    same_error(lambda m: copy.deepcopy(x(m, True) * 2), exact=False)


# -- clone / contiguous -------------------------------------------------------------------------

SHAPES = [(), (3,), (2, 3), (2, 1, 3), (0, 2)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_clone(shape):
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    check_op(lambda m, t: m.clone(t), a)
    check_op(lambda m, t: t.clone(), a)
    check_op(lambda m, t: (t * 2).clone(memory_format=m.contiguous_format), a)
    check_gradcheck(lambda m, t: t.clone(), a)


def test_clone_layout_and_independence():
    for m in (ember, torch):
        a = x(m)
        assert a.t().clone().stride() == (1, 3)
        assert a.t().clone(memory_format=m.contiguous_format).stride() == (2, 1)
        assert a.t().clone(memory_format=m.preserve_format).stride() == (1, 3)
        c = a.clone()
        c[0, 0] = 50.0
        assert a[0, 0].item() == 0.0 and c.is_leaf and not c.requires_grad
        n = m.ones(1, 3, 4, 5)
        assert n.contiguous(memory_format=m.channels_last).stride() == (60, 1, 15, 3)
        assert n.clone(memory_format=m.channels_last).stride() == (60, 1, 15, 3)
    same_error(lambda m: x(m).contiguous(memory_format=m.channels_last))
    assert repr(ember.contiguous_format) == "ember.contiguous_format"
    assert pickle.loads(pickle.dumps(ember.channels_last)) is ember.channels_last


def test_contiguous():
    check_op(lambda m, t: t.contiguous(), X)
    check_op(lambda m, t: t.t().contiguous(), X)
    check_op(lambda m, t: (t * 2)[:, ::2].contiguous(), X)
    check_gradcheck(lambda m, t: t.t().contiguous(), X)
    for m in (ember, torch):
        a = x(m, True)
        assert a.contiguous() is a
        c = a.t().contiguous()
        assert c.is_contiguous() and type(c.grad_fn).__name__ == "CloneBackward0"


# -- to / type / casts --------------------------------------------------------------------------

CASTS = ["float", "double", "half", "long", "int", "short", "char", "byte", "bool"]
CAST_DATA = np.array([[-1.7, 1.7, 2.5], [-0.5, 0.0, 0.1]], dtype=np.float32)


@pytest.mark.parametrize("method", CASTS)
def test_cast_methods(method):
    check_op(lambda m, t: getattr(t, method)(), CAST_DATA, atol=1e-3)
    check_op(lambda m, t: getattr(t * 2, method)(), CAST_DATA, atol=1e-3)
    check_op(lambda m, t: getattr(t.long(), method)(), CAST_DATA, atol=1e-3)
    check_op(lambda m, t: getattr(t.bool(), method)(), CAST_DATA, atol=1e-3)
    both(lambda m: getattr(m.tensor(CAST_DATA), method)().type())


def test_casts_follow_torch_rules():
    same(lambda m: m.tensor([-1.7, 1.7, 2.5, -0.5]).long())
    same(lambda m: m.tensor([-1.7, 0.0, 0.1, float("nan")]).bool())
    same(lambda m: m.tensor([300.0, -1.0]).byte())
    same(lambda m: m.tensor([300, -1, 128]).char())
    same(lambda m: m.tensor([float("nan"), float("inf"), -float("inf")]).long())
    same(lambda m: m.tensor([True, False]).float())
    same(lambda m: m.tensor([70000.0, 1e-8]).half())


@pytest.mark.host_only  # (the NumPy path or the CPU device itself)
@pytest.mark.parametrize("dtype", DTYPES)
def test_to_dtype(dtype):
    check_op(lambda m, t: t.to(getattr(m, dtype)), CAST_DATA, atol=1e-3)
    check_op(lambda m, t: t.to("cpu", getattr(m, dtype)), CAST_DATA, atol=1e-3)
    check_op(lambda m, t: t.to(device="cpu", dtype=getattr(m, dtype)), CAST_DATA, atol=1e-3)
    check_op(lambda m, t: t.to(m.zeros(1, dtype=getattr(m, dtype))), CAST_DATA, atol=1e-3)
    check_op(lambda m, t: t.type(getattr(m, dtype)), CAST_DATA, atol=1e-3)
    check_op(lambda m, t: t.type_as(m.zeros(1, dtype=getattr(m, dtype))), CAST_DATA, atol=1e-3)


@pytest.mark.host_only  # (host memory, or the CPU device itself)
def test_to_returns_self_unless_something_changes():
    for m in (ember, torch):
        a = x(m, True)
        for same_t in (a.to(m.float32), a.to("cpu"), a.to(m.device("cpu")), a.to(a),
                       a.to(dtype=m.float32), a.to(non_blocking=True), a.float(),
                       a.to(memory_format=m.contiguous_format), a.type(m.float32),
                       a.type_as(m.zeros(1)), a.to("cpu", m.float32, False)):
            assert same_t is a
        for copied in (a.to(m.float32, copy=True), a.to(m.float64), a.to("cpu", m.float64, True),
                       a.to(m.float32, False, True)):
            assert copied is not a and type(copied.grad_fn).__name__ == "ToCopyBackward0"
        b = a.to(m.float32, copy=True)
        b.data[0, 0] = 9.0
        assert a[0, 0].item() == 0.0
        at = a.t()  # torch aliases: C order is what a 2-d tensor would get anyway
        assert at.to(memory_format=m.contiguous_format) is at
        n = m.ones(1, 2, 3, 4)
        cl = n.to(memory_format=m.channels_last)
        assert cl is not n and cl.stride() == (24, 1, 8, 2)
        assert cl.to(memory_format=m.channels_last) is cl
        r = a.to(m.int64)
        assert not r.requires_grad and r.grad_fn is None


def test_to_gradients():
    check_op(lambda m, t: t.to(m.float64) * 3, X)
    check_op(lambda m, t: (t.double() * t.half().float()).sum(), X, atol=1e-2)
    # a float32 round trip loses precision, which the finite differences see
    # float32 rounding makes finite differences of the round trip too noisy for second order
    check_gradcheck(lambda m, t: t.to(m.float32).to(m.float64) ** 2, X, atol=0.05, rtol=0.05,
                    second_order=False)
    check_gradcheck(lambda m, t: t.float().double() * t, X, atol=0.05, rtol=0.05)
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (a.double() ** 2).sum()
    (g,) = ember.autograd.grad(y, a, create_graph=True)
    assert g.dtype is ember.float32 and g.tolist() == [2.0, 4.0]
    (gg,) = ember.autograd.grad(g.sum(), a)
    assert gg.tolist() == [2.0, 2.0]


def test_to_and_type_errors():
    same_error(lambda m: x(m).to(other=x(m)), exact=False)
    same_error(lambda m: x(m).type("torch.Foo"), exact=False)
    with pytest.raises(ValueError, match="invalid type: 'torch.Foo'"):
        x(ember).type("torch.Foo")
    same_error(lambda m: x(m).type("float64"))


@pytest.mark.cpu_build
def test_cuda_errors_without_cuda():
    # without CuPy, ember answers as torch's CPU build does
    for fn in (lambda m: x(m).to("cuda"), lambda m: x(m).cuda(), lambda m: x(m).to(0),
               lambda m: m.tensor([1.0], device="cuda"), lambda m: m.zeros(2, device="cuda:0"),
               lambda m: m.ones_like(x(m), device="cuda"), lambda m: x(m).new_zeros(2, device="cuda")):
        same_error(fn)


def test_type_strings_and_legacy_types():
    a = x(ember)
    assert a.type() == "ember.FloatTensor" and a.long().type() == "ember.LongTensor"
    assert a.type("torch.DoubleTensor").dtype is ember.float64
    assert a.type("ember.LongTensor").dtype is ember.int64
    assert a.type(ember.HalfTensor).dtype is ember.float16
    assert isinstance(a, ember.FloatTensor) and not isinstance(a, ember.LongTensor)
    assert isinstance(a.bool(), ember.BoolTensor)
    both(lambda m: m.FloatTensor(2, 3).shape)
    both(lambda m: m.FloatTensor().shape)
    both(lambda m: m.LongTensor([1, 2]).tolist())
    both(lambda m: m.DoubleTensor([1, 2]).dtype)
    both(lambda m: m.ByteTensor([1, 2]).dtype)
    both(lambda m: m.zeros(2).type(m.LongTensor).dtype)
