"""Tensor creation vs torch: tensor/as_tensor/from_numpy inference and sharing, filled tensors,
ranges, eye, *_like, and torch's errors."""
from __future__ import annotations


import numpy as np
import pytest
from helpers import check_op, same_error, torch_or_skip

import ember

torch = torch_or_skip()


def same(fn, **kw):
    """``fn(module)`` gives the same tensor (values, dtype, shape, requires_grad) in both."""
    check_op(lambda m: fn(m), grad=False, **kw)




# -- tensor() -----------------------------------------------------------------------------------

NESTED = [
    3, 2.5, True, [], [[]], [[], []], [1, 2, 3], [1.0, 2], [True, False], [True, 1], [True, 1, 2.5],
    [[1, 2], [3, 4]], ((1, 2), [3, 4]), range(4), [[[1.5], [2]], [[3], [4]]],
    [0.1, 1e-8, 1e30], [-(2**63)], [2**62],
]


@pytest.mark.parametrize("data", NESTED, ids=repr)
def test_tensor_infers_like_torch(data):
    same(lambda m: m.tensor(data))


NUMPY_ITEMS = [
    np.float64(1.5), np.float32(2.5), np.int32(7), np.bool_(True), np.float16(0.5),
    [np.float64(1.5), 1.0], [np.float16(1), 2], [np.int32(1), 2], [np.int32(1), 2.5],
    np.array([[1, 2], [3, 4]], dtype=np.int32), np.array(1.5), np.zeros((2, 0)),
    [np.array([1, 2]), np.array([3, 4])], [np.array([1.0, 2]), [3, 4]],
]


@pytest.mark.parametrize("data", NUMPY_ITEMS, ids=repr)
def test_tensor_from_numpy_items(data):
    same(lambda m: m.tensor(data))


def test_tensor_from_nested_tensors():
    same(lambda m: m.tensor([m.tensor(1.0), m.tensor(2.0)]))
    same(lambda m: m.tensor([m.tensor(1.0), 2]))
    same(lambda m: m.tensor([m.tensor([1.0]), m.tensor([2.0])]))
    same(lambda m: m.tensor([m.tensor(1, dtype=m.int32), m.tensor(2, dtype=m.int32)]))
    same(lambda m: m.tensor([m.tensor(1, dtype=m.int32), 2]))
    same(lambda m: m.tensor([m.tensor(1.0, dtype=m.float16), 2]))
    same(lambda m: m.tensor([[m.tensor(1.0), m.tensor(2.0)], [m.tensor(3.0), m.tensor(4.0)]]))


@pytest.mark.parametrize("dtype", ["float64", "float16", "int32", "int8", "uint8", "bool"])
@pytest.mark.parametrize("data", [[1.7, -2.2, 0.0], [[1, 0], [3, 4]], [True, False]], ids=repr)
def test_tensor_dtype_kwarg(data, dtype):
    if dtype == "uint8" and data[1] == -2.2:
        same_error(lambda m: m.tensor(data, dtype=getattr(m, dtype)))
        return
    same(lambda m: m.tensor(data, dtype=getattr(m, dtype)))


@pytest.mark.parametrize("pytype", [float, int, bool])
def test_tensor_python_type_as_dtype(pytype):
    same(lambda m: m.tensor([1, 0, 2], dtype=pytype))


def test_tensor_requires_grad():
    same(lambda m: m.tensor([1.0, 2.0], requires_grad=True))
    same(lambda m: m.tensor([[1, 2]], dtype=m.float64, requires_grad=True))
    same(lambda m: m.tensor([], requires_grad=True))
    t = ember.tensor([1.0], requires_grad=True)
    assert t.is_leaf and t.grad_fn is None


@pytest.mark.parametrize("fn", [
    lambda m: m.tensor([1, 2], requires_grad=True),
    lambda m: m.tensor([[1, 2], [3, 4, 5]]),
    lambda m: m.tensor([[[1], [2]], [[3], [4, 5]]]),
    lambda m: m.tensor([[1, 2], []]),
    lambda m: m.tensor([np.array([1, 2]), np.array([3])]),
    lambda m: m.tensor([[1, 2], 3]),
    lambda m: m.tensor([1, [2, 3]]),
    lambda m: m.tensor("a"),
    lambda m: m.tensor([1, "a"]),
    lambda m: m.tensor(None),
    lambda m: m.tensor([None]),
    lambda m: m.tensor({1: 2}),
    lambda m: m.tensor([300], dtype=m.int8),
    lambda m: m.tensor([-1.5], dtype=m.uint8),
    lambda m: m.tensor([1.5, float("nan")], dtype=m.int64),
    lambda m: m.tensor([2**63]),
    lambda m: m.tensor(2**70),
    lambda m: m.tensor([m.tensor([1, 2]), m.tensor([3, 4])]),
    lambda m: m.tensor(np.arange(5)[::-1]),
], ids=range(19))
def test_tensor_errors(fn):
    same_error(fn)


def test_tensor_copies_and_warns_on_tensor_input():
    a = np.array([1.0, 2.0])
    t = ember.tensor(a)
    a[0] = 5
    assert t.tolist() == [1.0, 2.0] and t.dtype is ember.float64
    src = ember.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match=r"rather than ember\.tensor\(sourceTensor\)"):
        c = ember.tensor(src)
    assert not c.requires_grad and c.is_leaf
    c[0] = 3.0
    assert src.tolist() == [1.0, 1.0]
    with pytest.warns(UserWarning):
        same(lambda m: m.tensor(m.ones(2), dtype=m.int64))


def test_tensor_device():
    assert ember.tensor([1.0], device="cpu").device == ember.device("cpu")
    assert ember.tensor([1.0], device=ember.device("cpu")).device.type == "cpu"


# -- as_tensor / from_numpy ---------------------------------------------------------------------


@pytest.mark.host_only  # (host memory, or the CPU device itself)
def test_as_tensor_shares_memory_when_dtype_matches():
    a = np.array([1.0, 2.0])
    t = ember.as_tensor(a)
    a[0] = 5
    assert t.tolist() == [5.0, 2.0] and t.dtype is ember.float64
    a = np.array([1.0, 2.0])
    t = ember.as_tensor(a, dtype=ember.float32)
    a[0] = 5
    assert t.tolist() == [1.0, 2.0] and t.dtype is ember.float32
    b = ember.ones(2)
    assert ember.as_tensor(b) is b
    assert ember.as_tensor(b, dtype=ember.float32) is b


def test_as_tensor_like_torch():
    same(lambda m: m.as_tensor([1, 2]))
    same(lambda m: m.as_tensor([1, 2], dtype=m.float32))
    same(lambda m: m.as_tensor(np.array([1, 2], dtype=np.int32)))
    same(lambda m: m.as_tensor(3.0))
    same(lambda m: m.as_tensor(np.float64(1)))
    same(lambda m: m.as_tensor(np.array([[1, 2], [3, 4]]).T))
    # a tensor that needs a cast keeps its graph
    check_op(lambda m, x: m.as_tensor(x, dtype=m.float64), np.ones(3, np.float32))
    same_error(lambda m: m.as_tensor(np.arange(10)[::-1]))


def test_from_numpy():
    a = np.zeros((2, 3), np.float32)
    t = ember.from_numpy(a)
    t[0, 1] = 4.0
    assert a[0, 1] == 4.0 and not t.requires_grad
    assert ember.from_numpy(a.T).stride() == torch.from_numpy(a.T).stride()
    same(lambda m: m.from_numpy(np.array(3.5)))
    same(lambda m: m.from_numpy(np.arange(10)[::2]))
    same_error(lambda m: m.from_numpy([1, 2]))
    same_error(lambda m: m.from_numpy(np.arange(10)[::-1]))
    same_error(lambda m: m.from_numpy(np.array([1, 2], dtype=">i4")))
    same(lambda m: m.from_numpy(np.array([1 + 2j, 3j], dtype=np.complex64)))
    # ember lacks torch's wide unsigned dtypes; the error type is torch's
    for dt in (np.uint16, np.str_):
        with pytest.raises(TypeError, match="can't convert np.ndarray of type numpy"):
            ember.from_numpy(np.zeros(2, dtype=dt))
    with pytest.raises(TypeError, match="numpy.str_"):
        torch.from_numpy(np.zeros(2, dtype=np.str_))


# -- zeros / ones / empty / full ----------------------------------------------------------------

SIZES = [(2, 3), ((2, 3),), ([2, 3],), (ember.Size([2, 3]),), ((),), ([],), (0,), (2, 0, 3),
         (np.int64(2),)]


@pytest.mark.parametrize("name", ["zeros", "ones"])
@pytest.mark.parametrize("size", SIZES, ids=repr)
def test_filled_sizes(name, size):
    tsize = tuple(torch.Size(s) if isinstance(s, ember.Size) else s for s in size)
    e, t = getattr(ember, name)(*size), getattr(torch, name)(*tsize)
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    assert e.dtype is ember.float32


def test_filled_kwargs():
    same(lambda m: m.zeros(2, 3, dtype=m.int64))
    same(lambda m: m.ones((2,), dtype=m.bool))
    same(lambda m: m.ones(2, dtype=float))
    same(lambda m: m.zeros(size=(2, 3)))
    same(lambda m: m.zeros(2, 3, requires_grad=True))
    same(lambda m: m.ones(3, dtype=m.float64, requires_grad=True))
    same(lambda m: m.zeros(m.tensor(2)))
    assert ember.empty(2, 3, dtype=ember.int32).shape == (2, 3)
    assert ember.empty(size=[4]).dtype is ember.float32
    assert ember.zeros(2, device="cpu").device.type == "cpu"


@pytest.mark.parametrize("fn", [
    lambda m: m.zeros(2, 3, dtype=m.int64, requires_grad=True),
    lambda m: m.ones(-2),
    lambda m: m.ones(2, -2),
    lambda m: m.empty(-1),
    lambda m: m.zeros(2.5),
    lambda m: m.zeros(True),
    lambda m: m.zeros(None),
    lambda m: m.zeros(),
    lambda m: m.zeros(2, size=(2,)),
], ids=range(9))
def test_filled_errors(fn):
    same_error(fn, exact=False)


def test_filled_error_messages():
    same_error(lambda m: m.ones(2, -2))
    same_error(lambda m: m.zeros(2, 3, dtype=m.int64, requires_grad=True))
    same_error(lambda m: m.zeros(2.5))


@pytest.mark.parametrize("value", [1, 1.0, True, -2.5, np.float64(2.0), np.int32(2)], ids=repr)
def test_full_infers_dtype(value):
    same(lambda m: m.full((2, 3), value))
    same(lambda m: m.full([2], value, dtype=m.float64))
    same(lambda m: m.full((), value))


def test_full():
    same(lambda m: m.full((2,), 1.5, dtype=m.int64))
    same(lambda m: m.full((2,), 1.5, dtype=m.bool))
    same(lambda m: m.full((2,), 1.5, requires_grad=True))
    same(lambda m: m.full(m.Size([2]), 3))
    same(lambda m: m.full((2,), m.tensor(2.0)))
    same(lambda m: m.full((2,), m.tensor(2)))
    same(lambda m: m.full(size=(2,), fill_value=1.0))
    same_error(lambda m: m.full(2, 1))
    same_error(lambda m: m.full((2,), 3, requires_grad=True))
    same_error(lambda m: m.full((2,), float("nan"), dtype=m.int64))
    same_error(lambda m: m.full((2,), m.tensor([2.0])))


def test_out_argument():
    out = ember.ones(3)
    r = ember.zeros(2, out=out)
    assert r is out and out.tolist() == [0.0, 0.0] and out._version > 0
    out = ember.ones(2, 3)
    ember.arange(6, out=out.view(6))
    assert out.tolist() == [[0, 1, 2], [3, 4, 5]]
    same_error(lambda m: m.zeros(2, 3, out=m.ones(2, 3, requires_grad=True)))


# -- *_like -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["zeros_like", "ones_like"])
@pytest.mark.parametrize("dtype", [None, "float64", "int64"])
def test_like(name, dtype):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    kw = lambda m: {} if dtype is None else {"dtype": getattr(m, dtype)}  # noqa: E731
    check_op(lambda m, a: getattr(m, name)(a, **kw(m)), x)
    check_op(lambda m, a: getattr(m, name)(a.t(), **kw(m)), x, grad=False)
    check_op(lambda m, a: getattr(m, name)(a * 2, **kw(m)), x)


def test_like_details():
    x = np.arange(6).reshape(2, 3)
    check_op(lambda m, a: m.full_like(a, 2.7), x)
    check_op(lambda m, a: m.full_like(a, True), x.astype(np.float32))
    check_op(lambda m, a: m.full_like(a, 3, dtype=m.int32), x.astype(np.float32))
    check_op(lambda m, a: m.zeros_like(a, requires_grad=True), x.astype(np.float32))
    check_op(lambda m, a: m.empty_like(a).shape, x)
    assert ember.ones_like(ember.ones(2, 3).t()).stride() == (1, 3)
    same_error(lambda m: m.zeros_like(m.ones(2, dtype=m.int64), requires_grad=True))
    same_error(lambda m: m.zeros_like([1, 2]))


# -- arange / linspace / logspace / eye ---------------------------------------------------------

ARANGE = [
    (5,), (5.0,), (1, 4), (0, 1, 0.1), (0, 1, 0.3), (1, 2.5, 0.5), (0, 10, 3), (10, 0, -3),
    (-1.0, 1.0, 0.1), (0.0, 0.1, 0.025), (1, 1), (True,), (0, 5, True), (np.int64(3),),
    (np.float32(2.5),), (1, np.float64(2.5)), (5, -3.3, -0.21), (0.3, 7.9, 0.37),
]


@pytest.mark.parametrize("args", ARANGE, ids=repr)
def test_arange(args):
    same(lambda m: m.arange(*args), atol=1e-6)


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "float64", "float16", "uint8"])
@pytest.mark.parametrize("args", [(0.5, 4.6), (0.5, 4.0), (-0.5, 3.7), (0.5, 10, 2.7),
                                  (10.2, 0, -2.7), (-3.7, 3.7, 1.2), (0.5, 10, 0.3), (300,)],
                         ids=repr)
def test_arange_dtypes(args, dtype):
    if dtype == "uint8" and any(a < 0 for a in args):
        return
    if dtype == "int64" and args == (0.5, 10, 0.3):  # the step truncates to 0
        same_error(lambda m: m.arange(*args, dtype=m.int64))
        return
    same(lambda m: m.arange(*args, dtype=getattr(m, dtype)), atol=1e-2)


def test_arange_kwargs():
    same(lambda m: m.arange(start=1, end=4))
    same(lambda m: m.arange(end=4))
    same(lambda m: m.arange(0, 3, step=1))
    same(lambda m: m.arange(m.tensor(3)))
    same(lambda m: m.arange(m.tensor(3.0)))
    same(lambda m: m.arange(5.0, requires_grad=True))


@pytest.mark.parametrize("fn", [
    lambda m: m.arange(0, 10, 0),
    lambda m: m.arange(0, 10, 0, dtype=m.int32),
    lambda m: m.arange(0, -10, 1),
    lambda m: m.arange(10, 0),
    lambda m: m.arange(float("nan")),
    lambda m: m.arange(float("inf")),
    lambda m: m.arange(float("nan"), 5),
    lambda m: m.arange(0.5, float("inf")),
    lambda m: m.arange(1e20),
    lambda m: m.arange(5, requires_grad=True),
    lambda m: m.arange(0, 5, dtype=m.bool),
    lambda m: m.arange(0, 3, 0.5, dtype=m.int64),
    lambda m: m.arange(m.tensor([3])),
], ids=range(13))
def test_arange_errors(fn):
    same_error(fn)


LINSPACE = [(0, 1, 5), (0, 10, 5), (0, 1, 1), (0, 1, 0), (-1.3, 2.7, 7), (-1.3, 2.7, 100),
            (10, 0, 4), (0.5, 9.7, 6), (-3, 7, 7), (2, 2, 3)]


@pytest.mark.parametrize("dtype", [None, "float64", "int64", "int32", "float16"])
@pytest.mark.parametrize("args", LINSPACE, ids=repr)
def test_linspace(args, dtype):
    kw = lambda m: {} if dtype is None else {"dtype": getattr(m, dtype)}  # noqa: E731
    same(lambda m: m.linspace(*args, **kw(m)), atol=2e-3 if dtype == "float16" else 1e-6)


@pytest.mark.parametrize("args", [(0, 2, 3), (-1, 1, 4), (0, 2, 1), (2, 0, 5), (0, 3, 0)])
@pytest.mark.parametrize("base", [10.0, 2, 3.0])
def test_logspace(args, base):
    same(lambda m: m.logspace(*args, base=base))
    same(lambda m: m.logspace(*args, base=base, dtype=m.float64))


def test_linspace_logspace_misc():
    same(lambda m: m.linspace(0, 1, steps=3))
    same(lambda m: m.linspace(m.tensor(0.0), m.tensor(1.0), 3))
    same(lambda m: m.linspace(0, 1, 5, requires_grad=True))
    same(lambda m: m.logspace(0, 2, 3, dtype=m.int64))
    same(lambda m: m.logspace(0, 1, 3, base=-2.0))
    same_error(lambda m: m.linspace(0, 1, -1))
    same_error(lambda m: m.linspace(m.tensor([0.0]), 1, 3))
    same_error(lambda m: m.linspace(0, 1, 3, dtype=m.bool))
    for fn in (lambda m: m.linspace(0, 1), lambda m: m.linspace(0, 1, 2.5)):
        same_error(fn, exact=False)


@pytest.mark.parametrize("args", [(3,), (2, 3), (3, 1), (0,), (1, 0)])
@pytest.mark.parametrize("dtype", [None, "int64", "bool", "float64"])
def test_eye(args, dtype):
    kw = lambda m: {} if dtype is None else {"dtype": getattr(m, dtype)}  # noqa: E731
    same(lambda m: m.eye(*args, **kw(m)))


def test_eye_misc():
    same(lambda m: m.eye(n=2, m=1))
    same(lambda m: m.eye(2, 3, requires_grad=True))
    same(lambda m: m.eye(m.tensor(2)))
    same_error(lambda m: m.eye(-1))
    same_error(lambda m: m.eye(2, -1))
    same_error(lambda m: m.eye(2.5))
    same_error(lambda m: m.eye(True))


# -- sizes that overflow, and allocations the system refuses ---------------------------------------
# torch checks a new tensor's sizes before allocating (RuntimeError "Storage size calculation
# overflowed", "numel: integer multiplication overflow", ...) and reports a refused allocation as
# a RuntimeError; NumPy raised its ValueError / MemoryError instead. The cases run in a child with
# an 8 GiB address-space limit (size_errors.py), so none can swap the machine.

SIZE_CASES = [
    # the cases
    "T.zeros(2**62, 2**62)", "T.empty(2**31, 2**31)", "T.arange(2**62)",
    # overflow of the storage size, in each factory
    "T.zeros(2**31, 2**31)", "T.ones(2**30, 2**30, 2**30)", "T.empty(2**62)", "T.empty(2**61)",
    "T.full((2**62,), 1.0)", "T.full((2**62,), True)", "T.ones(2**60, dtype=T.float64)",
    "T.rand(2**62)", "T.randn(2**62, 4)", "T.randint(0, 5, (2**62,))", "T.randperm(2**62)",
    "T.normal(0., 1., size=(2**62,))", "T.linspace(0, 1, 2**62)", "T.linspace(0, 1, 2**61)",
    "T.logspace(0, 1, 2**62)", "T.arange(2**61, dtype=T.float32)", "T.eye(2**31)",
    "T.ones(1).new_zeros(2**62, 2**62)", "T.ones(1, dtype=T.float64).new_ones(2**60)",
    "T.empty(2**62, 2**62, 0)",
    # the *_like factories name the strides they would give the new tensor
    "T.zeros_like(T.ones(1, dtype=T.uint8).expand(2**61), dtype=T.float64)",
    "T.full_like(T.ones(1, dtype=T.uint8).expand(2**61), 2., dtype=T.float64)",
    "T.ones_like(T.ones(1, dtype=T.uint8).expand(2**31, 2**30), dtype=T.float64)",
    "T.randint_like(T.ones(1, dtype=T.uint8).expand(2**62), 3, dtype=T.int64)",
    # torch's other checks: the element count (eye and out= resize first), the strides of an
    # empty tensor, ranges, negative sizes, sizes beyond int64
    "T.eye(2**40)", "T.eye(2**61, 4)", "T.zeros(2**62, 2**62, out=T.empty(0))",
    "T.rand(2**62, 2**62, out=T.empty(0))", "T.arange(2**62, out=T.empty(0, dtype=T.long))",
    "T.ones(0, 2**62, 2**62)", "T.empty(0, 2**63-1, 2**63-1)", "T.arange(0, 2**62, 0.5)",
    "T.arange(0, 1e30)", "T.zeros(2, -3)", "T.zeros(2**62, -1)", "T.ones(2, -3)",
    # allocations that are merely too large: torch's allocator error, with the bytes it asked for
    "T.empty(2**40)", "T.ones(2**40)", "T.full((2**40,), 1.0)", "T.zeros(2**20, 2**20)",
    "T.ones(2**59, dtype=T.float64)", "T.empty(2**61 - 1)", "T.empty(2**63 - 1, dtype=T.uint8)",
    "T.arange(2**40)", "T.linspace(0, 1, 2**40)", "T.linspace(0, 1, 2**40, dtype=T.float16)",
    "T.logspace(0, 1, 2**40, dtype=T.float16)", "T.eye(2**20)", "T.rand(2**40)",
    "T.randn(2**40)", "T.randint(0, 5, (2**40,))", "T.randperm(2**40)",
    "T.normal(0., 1., size=(2**40,))", "T.ones(1).new_empty(2**40)",
    "T.ones(1).new_full((2**40,), 3.)", "T.ones(2**40, out=T.empty(0))",
    "T.ones_like(T.ones(1).expand(2**20, 2**20))", "T.empty_like(T.ones(1).expand(2**20, 2**20))",
    "T.rand_like(T.ones(1).expand(2**20, 2**20))",
    # the sizes that fit
    "T.eye(2**40, 0)", "T.empty(0, 2**40)",
]


@pytest.fixture(scope="module")
def size_results():
    from size_errors import errors_in_child

    return errors_in_child(SIZE_CASES)


@pytest.mark.parametrize("case", SIZE_CASES)
def test_size_errors_match_torch(size_results, case):
    from size_errors import assert_same_error

    assert_same_error(size_results[case])


def test_sizes_beyond_int64_are_type_errors():
    # torch's message goes on with its C++ trace inside the quotes: the part before it matches
    for fn in (lambda m: m.zeros(2**64), lambda m: m.ones(3, 2**63),
               lambda m: m.ones(1).new_zeros(2**64)):
        with pytest.raises(TypeError) as t_err:
            fn(torch)
        with pytest.raises(TypeError) as e_err:
            fn(ember)
        assert str(t_err.value).startswith(str(e_err.value)[:-1])


def test_allocation_error_is_runtime_and_memory_error():
    from ember.backend.limits import OutOfMemoryError

    with pytest.raises(OutOfMemoryError) as err:
        ember.empty(2**40)  # 4 TiB: refused at once, whatever the machine
    assert isinstance(err.value, RuntimeError) and isinstance(err.value, MemoryError)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_numpy_limit_is_named():
    # torch holds an empty tensor of any size, and views up to 2**63 - 1 elements; NumPy caps an
    # array's non-zero sizes times its item size at 2**63 - 1 bytes, views included
    with pytest.raises(RuntimeError, match="NumPy limits the product"):
        ember.empty(2**62, 0, 2**62)
    with pytest.raises(RuntimeError, match="NumPy limits the product"):
        ember.ones(1).expand(2**31, 2**31)
