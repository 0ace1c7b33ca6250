"""isin, quantile/nanquantile, dist, inner, cov, corrcoef (ops/sample_stats.py): parity with
torch (values, dtypes, grad_fn names, gradients), gradcheck in float64, dtype rules and torch's
errors."""
import math
import warnings

import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, same_error, torch_or_skip


def _f(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# -- isin -----------------------------------------------------------------------------------------


def test_isin(rng):
    i = rng.integers(0, 10, (3, 4))
    t = np.array([1, 5, 7])
    for kw in ({}, {"invert": True}, {"assume_unique": True}):
        check_op(lambda m, a, b: m.isin(a, b, **kw), i, t)
    check_op(lambda m, a: m.isin(a, 3), i)
    check_op(lambda m, a: m.isin(3, a), i)
    check_op(lambda m, a: m.isin(a, m.tensor([1.5, 2.0])), i)
    check_op(lambda m, a, b: m.isin(a, b), np.array([np.nan, 1.0, -0.0]), np.array([np.nan, 0.0]))
    check_op(lambda m, a, b: m.isin(a, b), i.astype(np.int32), np.array([1.0, 4.0], np.float32))
    check_op(lambda m, a, b: m.isin(a, b), i.astype(np.uint8), np.array([1, 300]))
    check_op(lambda m, a, b: m.isin(a, b), np.zeros((0, 2)), t)
    same_error(lambda m: m.isin(3, 4))
    same_error(lambda m: m.isin(m.tensor([True]), m.tensor([True])))
    same_error(lambda m: m.isin(m.tensor([1 + 1j]), m.tensor([1 + 1j])))


# -- quantile, nanquantile ------------------------------------------------------------------------

MODES = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (1, False), (0, True),
                                         (-1, True)])
def test_quantile(name, mode, dim, keepdim, rng):
    x = _f(rng, 3, 5)
    for q in (0.3, 0.5, 1.0, 0.0, np.array([0.1, 0.25, 0.9], np.float32), np.float32(0.75)):
        fn = lambda m, t, *qs: getattr(m, name)(  # noqa: E731
            t, qs[0] if qs else q, dim, keepdim, interpolation=mode)
        if isinstance(q, np.ndarray):
            check_op(fn, x, q)
        else:
            check_op(fn, x)
    fn = lambda m, t, qs: getattr(t, name)(qs, dim=dim, keepdim=keepdim,  # noqa: E731
                                           interpolation=mode)
    check_gradcheck(fn, x.astype(np.float64), ember.tensor([0.2, 0.7], dtype=ember.float64),
                    second_order=mode in ("linear", "midpoint"))


@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
def test_quantile_nans_and_shapes(name, rng):
    x = _f(rng, 4, 6)
    x[1, 2] = np.nan
    x[3] = np.nan
    for mode in MODES:
        for dim in (None, 0, 1):
            check_op(lambda m, t: getattr(m, name)(t, 0.4, dim, interpolation=mode), x)
            check_op(lambda m, t, q: getattr(m, name)(t, q, dim, interpolation=mode), x,
                     np.array([0.0, 0.5, 1.0], np.float32))
    check_op(lambda m, t: getattr(m, name)(t, 0.5), np.array(2.0))
    check_op(lambda m, t: getattr(m, name)(t, 0.5, 0, True), np.array(2.0))
    check_op(lambda m, t: getattr(m, name)(t, 0.25, 1), _f(rng, 2, 1, 3))
    check_op(lambda m, t: getattr(m, name)(t, 0.25, 2, True), rng.standard_normal((2, 3, 4)))


def test_quantile_errors():
    same_error(lambda m: m.quantile(m.ones(3), 0.5, interpolation="bad"))
    same_error(lambda m: m.quantile(m.arange(3), 0.5))
    same_error(lambda m: m.quantile(m.ones(3), 1.3))
    same_error(lambda m: m.quantile(m.ones(3), m.tensor([0.5], dtype=m.float64)))
    same_error(lambda m: m.quantile(m.ones(3), m.tensor([[0.1]])))
    same_error(lambda m: m.quantile(m.ones(3), m.tensor([0.1, 1.5])))
    same_error(lambda m: m.quantile(m.ones(0), 0.5))
    same_error(lambda m: m.nanquantile(m.ones(2, 0), 0.5, dim=1))
    same_error(lambda m: m.quantile(m.ones(3).half(), 0.5))
    same_error(lambda m: m.quantile(m.ones(3), [0.1, 0.2]))


# -- dist, inner ----------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [2, 1, 0, 3, 0.5, math.inf, -math.inf, -1])
def test_dist(p, rng):
    a, b = _f(rng, 3, 4), _f(rng, 4)
    fn = lambda m, x, y: m.dist(x, y, p)  # noqa: E731
    check_op(fn, a, b, grad=p != 0)
    check_op(lambda m, x, y: x.dist(y, p=p), a, b, grad=p != 0)
    if p == 0:  # torch's backward has no formula here and fails
        same_error(lambda m: fn(m, m.ones(3), m.zeros(3, requires_grad=True)).backward())
        for m in (ember, torch_or_skip()):
            a = m.ones(3, requires_grad=True)
            fn(m, a, m.zeros(3)).backward()
            assert a.grad is None
    else:
        check_gradcheck(fn, a.astype(np.float64), b.astype(np.float64),
                        second_order=p not in (math.inf, -math.inf))


def test_dist_dtypes_and_errors(rng):
    check_op(lambda m, x, y: m.dist(x, y), _f(rng, 3), rng.standard_normal(3))
    check_op(lambda m, x, y: m.dist(x, y), _f(rng, 3), np.arange(3))
    check_op(lambda m, x, y: m.dist(x, y, p=m.tensor(3.0)), _f(rng, 3), _f(rng, 3))
    check_op(lambda m, x, y: m.dist(x, y), _f(rng, 0), _f(rng, 0))
    same_error(lambda m: m.dist(m.arange(3), m.arange(3)))
    same_error(lambda m: m.dist(m.ones(3, 4), m.ones(2)))
    same_error(lambda m: m.dist(m.ones(3), 2.0))


@pytest.mark.parametrize("sa,sb", [((4,), (4,)), ((3, 4), (4,)), ((3, 4), (5, 4)),
                                   ((2, 3, 4), (3, 4)), ((), (3, 4)), ((3, 4), ()), ((0, 4), (4,))])
def test_inner(sa, sb, rng):
    a, b = _f(rng, *sa), _f(rng, *sb)
    check_op(lambda m, x, y: m.inner(x, y), a, b)
    check_op(lambda m, x, y: x.inner(y), a, b)
    check_gradcheck(lambda m, x, y: m.inner(x, y), a.astype(np.float64), b.astype(np.float64))


def test_inner_dtypes_and_errors():
    check_op(lambda m, x, y: m.inner(x, y), np.arange(12).reshape(3, 4), np.arange(4))
    same_error(lambda m: m.inner(m.ones(3, 4), m.ones(3)))
    same_error(lambda m: m.inner(m.ones(3, 4), m.ones(4, dtype=m.float64)))


# -- cov, corrcoef --------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [{}, {"correction": 0}, {"correction": 2}, {"fw": True},
                                {"aw": True}, {"fw": True, "aw": True},
                                {"fw": True, "aw": True, "correction": 0}])
@pytest.mark.parametrize("shape", [(3, 6), (6,), (1, 6)])
def test_cov(kw, shape, rng):
    kw = dict(kw)
    fw = np.array([1, 2, 1, 3, 1, 2]) if kw.pop("fw", False) else None
    aw = np.array([0.5, 2, 1, 0.3, 1, 1.5], np.float32) if kw.pop("aw", False) else None
    x = _f(rng, *shape)

    def fn(m, t, *w):
        w = list(w)
        f = w.pop(0) if fw is not None else None
        a = w.pop(0) if aw is not None else None
        return m.cov(t, fweights=f, aweights=a, **kw)

    extra = [w for w in (fw, aw) if w is not None]
    check_op(fn, x, *extra)
    check_op(lambda m, t: t.cov(), x)
    check_gradcheck(fn, x.astype(np.float64), *[w.astype(np.float64) if w.dtype.kind == "f"
                                                 else ember.tensor(w) for w in extra])


def test_cov_dtypes_errors_and_warnings(rng):
    torch = torch_or_skip()
    check_op(lambda m, t: m.cov(t), np.arange(12).reshape(3, 4) ** 2)
    check_op(lambda m, t, w: m.cov(t, aweights=w), _f(rng, 3, 4),
             np.array([1.0, 2, 1, 3]))  # float64 weights widen the result
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_op(lambda m, t: m.cov(t), _f(rng, 3, 1))
    assert sum("degrees of freedom is <= 0" in str(w.message) for w in caught) == 2
    assert torch is not None
    same_error(lambda m: m.cov(m.ones(2, 3, 4)))
    same_error(lambda m: m.cov(m.ones(3, 4) > 0))
    same_error(lambda m: m.cov(m.ones(3, 4), fweights=m.tensor([1.0, 2, 1, 3])))
    same_error(lambda m: m.cov(m.ones(3, 4), fweights=m.tensor([1, -2, 1, 3])))
    same_error(lambda m: m.cov(m.ones(3, 4), fweights=m.tensor([1, 2, 1])))
    same_error(lambda m: m.cov(m.ones(3, 4), fweights=m.ones(1, 4, dtype=m.int64)))
    same_error(lambda m: m.cov(m.ones(3, 4), aweights=m.tensor([1, 2, 1, 3])))
    same_error(lambda m: m.cov(m.ones(3, 4), aweights=m.tensor([1.0, -2, 1, 3])))
    same_error(lambda m: m.cov(m.ones(3, 4), aweights=m.zeros(4)))


def test_corrcoef(rng):
    for shape in ((3, 6), (6,), (2, 2)):
        x = _f(rng, *shape)
        check_op(lambda m, t: m.corrcoef(t), x)
        check_op(lambda m, t: t.corrcoef(), x)
        check_gradcheck(lambda m, t: m.corrcoef(t), x.astype(np.float64))
    check_op(lambda m, t: m.corrcoef(t), np.arange(12).reshape(3, 4) ** 2)
    check_op(lambda m, t: m.corrcoef(t), np.ones((2, 4), np.float32))  # zero variance: nan
    same_error(lambda m: m.corrcoef(m.ones(2, 3, 4)))
