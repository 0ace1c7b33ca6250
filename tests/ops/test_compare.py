"""Comparisons, logic and selection (ember/ops/compare.py) against torch, plus the operator and
method tables of the element-wise modules."""
import operator
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember.ops import compare, elementwise, unary
from helpers import broadcastable_shapes, check_gradcheck, check_op, torch_or_skip

COMPARISONS = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "less_equal", "not_equal"]
OPERATORS = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]


@pytest.mark.parametrize("name", COMPARISONS)
@pytest.mark.parametrize("sa,sb", [((4,), (4,)), ((2, 4), (4,)), ((2, 1), (1, 4)), ((), (4,)),
                                   ((0,), (1,))])
def test_comparisons(name, sa, sb):
    r = np.random.default_rng(0)
    a, b = r.integers(0, 3, sa).astype(np.float32), r.integers(0, 3, sb).astype(np.float32)
    check_op(lambda m, x, y: getattr(m, name)(x, y), a, b)  # requires_grad inputs, no graph
    check_op(lambda m, x, y: getattr(x, name)(y), a.astype(np.int32), b.astype(np.uint8))
    check_op(lambda m, x: getattr(m, name)(x, 1.5), a.astype(np.int64))
    check_op(lambda m, x: getattr(m, name)(x, 1), a)


@pytest.mark.parametrize("op", OPERATORS)
def test_comparison_operators_and_reflection(op):
    a = np.array([np.nan, 1.0, 2.0, -np.inf, 3.0], np.float32)
    b = np.array([np.nan, 1.0, 3.0, -np.inf, 2.0], np.float32)
    check_op(lambda m, x, y: op(x, y), a, b)
    check_op(lambda m, x: op(2, x), a)  # Python turns ``2 < x`` into ``x > 2``
    check_op(lambda m, x: op(x, m.tensor(2.0, dtype=m.float64)), a)


def test_eq_with_non_numbers_falls_back_like_torch():
    torch = torch_or_skip()
    for m in (ember, torch):
        x = m.tensor([1.0, 2.0])
        assert (x == None) is False and (x != None) is True  # noqa: E711
        assert (x == "a") is False and (x == [1.0, 2.0]) is False
        with pytest.raises(TypeError, match="'<' not supported"):
            x < "a"  # noqa: B015
        with pytest.raises(TypeError):
            m.eq(x, None)


def test_tensors_stay_hashable_by_identity():
    a, b = ember.tensor([1.0]), ember.tensor([1.0])
    d = {a: 1, b: 2}
    assert d[a] == 1 and d[b] == 2 and len({a, b, a}) == 2
    assert hash(a) == id(a)


@given(st.data())
@settings(max_examples=30, deadline=None)
def test_broadcast_shape_pairs(data):
    """Random broadcastable shape pairs through comparisons, logic and the selecting ops."""
    sa, sb = broadcastable_shapes(data)
    r = np.random.default_rng(data.draw(st.integers(0, 100)))
    a, b = r.integers(-1, 2, sa).astype(np.float32), r.integers(-1, 2, sb).astype(np.float32)
    for fn in (lambda m, x, y: x <= y, lambda m, x, y: m.logical_xor(x, y),
               lambda m, x, y: m.maximum(x, y), lambda m, x, y: m.fmin(x, y),
               lambda m, x, y: m.where(x > y, x, y), lambda m, x, y: m.isclose(x, y)):
        check_op(fn, a, b)


@pytest.mark.parametrize("expr", [
    lambda m: m.zeros(5, 3) < m.zeros(5, 4),
    lambda m: m.zeros(5, 3) & m.zeros(5, 4, dtype=m.bool),
    lambda m: m.logical_and(m.zeros(5, 3), m.zeros(5, 4)),
    lambda m: m.maximum(m.zeros(3), m.zeros(2)),
    lambda m: m.where(m.zeros(3, dtype=m.bool), m.zeros(4), 0.0),
    lambda m: m.where(m.zeros(2, 3, dtype=m.bool), m.zeros(3), m.zeros(5, 1)),
    lambda m: m.isclose(m.zeros(3), m.zeros(2)),
    lambda m: m.zeros(3) & m.zeros(3),
    lambda m: m.bitwise_not(m.zeros(3)),
    lambda m: m.tensor([1, 2]) | 1.5,
    lambda m: m.isclose(m.zeros(3), m.zeros(3, dtype=m.float64)),
    lambda m: m.allclose(m.zeros(3, dtype=m.int64), m.zeros(3)),
    lambda m: m.isclose(m.zeros(3), m.zeros(3), rtol=-1),
    lambda m: m.isclose(m.zeros(3), m.zeros(3), atol=-0.5),
    lambda m: m.where(m.tensor([1, 0]), m.zeros(2), m.ones(2)),
    lambda m: m.logical_and(m.zeros(3), 2.5),
    lambda m: m.maximum(m.zeros(3), 2),
    lambda m: m.equal(m.zeros(3), 1),
    lambda m: m.where(True, m.zeros(2), m.ones(2)),
])
def test_errors_match_torch(expr):
    torch = torch_or_skip()
    with pytest.raises(Exception) as t_err:
        expr(torch)
    with pytest.raises(t_err.type) as e_err:
        expr(ember)
    if t_err.type is not TypeError:  # torch's TypeErrors list its overloads; ours are shorter
        assert str(e_err.value) == str(t_err.value).replace("torch", "ember")


@pytest.mark.parametrize("name", ["and", "or", "xor"])
def test_logical_and_bitwise(name):
    a = np.array([0.0, 1.5, -2.0, 0.0, np.nan])
    b = np.array([0, 0, 3, 2, 0])
    check_op(lambda m, x, y: getattr(m, f"logical_{name}")(x, y), a, b)
    check_op(lambda m, x, y: getattr(x, f"logical_{name}")(y), b, a.astype(np.float32))
    ia, ib = np.array([5, -3, 12, 0]), np.array([3, 6, 10, 7], np.uint8)
    op = {"and": operator.and_, "or": operator.or_, "xor": operator.xor}[name]
    for x, y in ((ia, ib), (ia.astype(np.int8), ib), (ia > 0, ib > 5), (ib, ib)):
        check_op(lambda m, p, q: op(p, q), x, y)
        check_op(lambda m, p, q: getattr(m, f"bitwise_{name}")(p, q), x, y)
        check_op(lambda m, p: op(p, True), x)
        check_op(lambda m, p: op(3, p), x)


def test_not_and_invert():
    for x in (np.array([5, -3, 0]), np.array([True, False]), np.array([7, 0], np.uint8),
              np.array([1.5, 0.0, np.nan])):
        check_op(lambda m, t: m.logical_not(t), x)
        if x.dtype.kind != "f":
            check_op(lambda m, t: ~t, x)
            check_op(lambda m, t: m.bitwise_not(t), x)
    with pytest.raises(TypeError, match="only implemented on integer and Boolean"):
        ~ember.tensor([1.5])


def test_equal_allclose_isclose():
    torch = torch_or_skip()
    pairs = [([1.0, 2.0], [1.0, 2.0]), ([1], [1.0]), ([1, 2], [1]), ([1], 1), ([np.nan], [np.nan]),
             ([1], [True]), ([1.0, 2.0], [1.0, 2.0000001])]
    for a, b in pairs:
        t = torch.equal(torch.tensor(a), torch.tensor(b))
        assert ember.equal(ember.tensor(a), ember.tensor(b)) is t
    a = np.array([1.0, np.inf, -np.inf, np.nan, 1e10, 0.0, 1.0], np.float32)
    b = np.array([1.0, np.inf, np.inf, np.nan, 1.00001e10, 1e-9, 1.1], np.float32)
    for kw in [{}, {"equal_nan": True}, {"rtol": 0.2}, {"atol": 0.2, "rtol": 0}]:
        check_op(lambda m, x, y: m.isclose(x, y, **kw), a, b)
        assert ember.allclose(ember.tensor(a), ember.tensor(b), **kw) == torch.allclose(
            torch.tensor(a), torch.tensor(b), **kw)
    check_op(lambda m, x, y: m.isclose(x, y, atol=1), np.array([1, 2, 5]), np.array([1, 3, 3]))
    check_op(lambda m, x, y: x.isclose(y), np.array([True, False]), np.array([True, True]))
    assert ember.tensor([1.0]).allclose(ember.tensor([1.0 + 1e-9]))


def test_isnan_isinf_isfinite():
    x = np.array([0.0, -np.inf, np.inf, np.nan, 3.0], np.float32)
    for name in ["isnan", "isinf", "isfinite", "isposinf", "isneginf"]:
        for arr in (x, x.astype(np.float16), np.array([1, 0]), np.array([True]), x[:0]):
            check_op(lambda m, t: getattr(m, name)(t), arr)
            check_op(lambda m, t: getattr(t, name)(), arr)


# -- where ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sc,sa,sb", [((3,), (3,), (3,)), ((2, 3), (3,), (2, 1)), ((), (2,), ()),
                                      ((2, 1), (1, 3), (3,))])
def test_where(sc, sa, sb):
    r = np.random.default_rng(1)
    cond = r.random(sc) > 0.5
    a, b = r.standard_normal(sa), r.standard_normal(sb)
    fn = lambda m, x, y: m.where(m.tensor(cond), x, y)  # noqa: E731
    check_op(fn, a.astype(np.float32), b.astype(np.float32))
    check_op(lambda m, x, y: x.where(m.tensor(cond), y), a, b.astype(np.float32))
    check_gradcheck(fn, a, b)
    torch = torch_or_skip()
    e, t = fn(ember, ember.tensor(a, requires_grad=True), 0.0), fn(torch, torch.tensor(
        a, requires_grad=True), 0.0)
    assert len(e.grad_fn.next_functions) == len(t.grad_fn.next_functions) == 2


@pytest.mark.parametrize("x,y", [(1, 0), (1.0, 0), (True, 2.5), ("t_int", 2.5), ("t_int", 2),
                                 ("t_half", 2.5), ("t_int", "t_double"), (0.5, "t_half")])
def test_where_scalars_and_promotion(x, y):
    def arg(m, v):
        dtypes = {"t_int": m.int32, "t_half": m.float16, "t_double": m.float64}
        return m.tensor([1, 2], dtype=dtypes[v]) if isinstance(v, str) else v
    check_op(lambda m: m.where(m.tensor([True, False]), arg(m, x), arg(m, y)))


def test_where_uint8_condition_warns_and_one_argument_form():
    torch = torch_or_skip()
    with pytest.warns(UserWarning, match="uint8 condition"):
        out = ember.where(ember.tensor([1, 0], dtype=ember.uint8), ember.ones(2), ember.zeros(2))
    assert out.tolist() == [1.0, 0.0]
    for c in ([True, False, True], [[True, False], [False, True]], [1, 0], True, False, []):
        e = ember.where(ember.tensor(c))
        t = torch.where(torch.tensor(c))
        assert len(e) == len(t) and all(a.tolist() == b.tolist() for a, b in zip(e, t))
        assert all(a.dtype is ember.int64 for a in e)


# -- maximum, minimum, fmax, fmin -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["maximum", "minimum", "fmax", "fmin"])
def test_max_min_ties_and_nan(name):
    """Ties split the gradient half/half (maximum) or go to input (fmax); NaN as in torch."""
    a = np.array([1.0, 2.0, 3.0, np.nan, 0.0, np.nan], np.float32)
    b = np.array([1.0, 1.0, 4.0, 1.0, np.nan, np.nan], np.float32)
    fn = lambda m, x, y: getattr(m, name)(x, y)  # noqa: E731
    check_op(fn, a, b)
    check_op(lambda m, x, y: getattr(x, name)(y), b, a)


@pytest.mark.parametrize("name", ["maximum", "minimum", "fmax", "fmin"])
@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (3,)), ((), (2,))])
def test_max_min_gradcheck_and_dtypes(name, sa, sb):
    r = np.random.default_rng(2)
    a, b = r.standard_normal(sa), r.standard_normal(sb)
    fn = lambda m, x, y: getattr(m, name)(x, y)  # noqa: E731
    check_op(fn, a.astype(np.float32), b.astype(np.float32))
    check_gradcheck(fn, a, b)
    check_op(fn, np.array([1, 5, -2]), np.array([3.5, 1.0, 0.0]))
    check_op(fn, np.array([True, False]), np.array([False, False]))
    check_op(fn, np.array([1, 5], np.uint8), np.array([3, -1], np.int8))


def test_comparisons_never_record_a_graph():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    for out in (x > 1, x == x, ember.isnan(x), ember.logical_not(x), ember.isclose(x, x)):
        assert not out.requires_grad and out.grad_fn is None and out.dtype is ember.bool


def test_every_method_is_a_torch_tensor_method():
    torch = torch_or_skip()
    names = set(elementwise.TENSOR_METHODS) | set(unary.TENSOR_METHODS) | set(
        compare.TENSOR_METHODS)
    assert not sorted(n for n in names if not hasattr(torch.Tensor, n))
    for n in names:
        assert getattr(ember.Tensor, n) is not None


def test_every_function_is_a_torch_function():
    torch = torch_or_skip()
    names = set(elementwise.__all__) | set(unary.__all__) | set(compare.__all__)
    assert not sorted(n for n in names if not hasattr(torch, n))
    assert all(callable(getattr(ember, n)) for n in names)


def test_no_numpy_warnings():
    """torch never warns about x / 0 or 0 ** -1: numpy's RuntimeWarnings stay hidden (add, sub and
    mul of non-finite values are left to numpy, to keep them fast)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x = ember.tensor([np.nan, np.inf, -np.inf, 0.0, 2.0], requires_grad=True)
        ys = [ember.maximum(x, x), ember.where(x > 0, x, x), x / 0, x % 0, 1 / x,
              ember.fmod(x, 0), x ** -1, 0 ** x, x ** x, ember.clamp(x, 0, 1)]
        ember.isclose(x, x), x < x, x // 0
        ember.autograd.grad([y.sum() for y in ys], x, allow_unused=True)
        ember.tensor([1, 2]) // ember.tensor([3, 4]), ember.tensor([2]) ** ember.tensor([-1])
    mine = [w for w in caught if "ember/ops/" in w.filename.replace("\\", "/")]
    assert not mine, [(w.filename, w.lineno, str(w.message)) for w in mine]
