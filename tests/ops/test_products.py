"""addr, addbmm, renorm: parity with torch (values, dtypes, grad_fn names, gradients), gradcheck
in float64, beta/alpha rules, in-place forms and torch's errors."""
import math

import numpy as np
import pytest

from helpers import check_gradcheck, check_op, same_error


def _f(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("shape", [(3, 4), (4,), (3, 1), ()])
@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2.0), (0, -1.5)])
def test_addr(shape, beta, alpha, rng):
    c, v1, v2 = _f(rng, *shape), _f(rng, 3), _f(rng, 4)
    fn = lambda m, x, a, b: m.addr(x, a, b, beta=beta, alpha=alpha)  # noqa: E731
    check_op(fn, c, v1, v2)
    check_op(lambda m, x, a, b: x.addr(a, b, beta=beta, alpha=alpha), c, v1, v2)
    check_gradcheck(fn, c.astype(np.float64), v1.astype(np.float64), v2.astype(np.float64))


def test_addr_dtypes_and_inplace(rng):
    i = rng.integers(-3, 4, (3, 4))
    check_op(lambda m, x, a, b: m.addr(x, a, b), i, i[:, 0].copy(), i[0].copy())
    check_op(lambda m, x, a, b: m.addr(x, a, b, alpha=2, beta=3), i, i[:, 0].copy(), i[0].copy())
    b = i > 0
    for beta, alpha in [(1, 1), (0, 1), (1, 0), (True, 2)]:
        check_op(lambda m, x, u, v: m.addr(x, u, v, beta=beta, alpha=alpha), b,
                 b[:, 0].copy(), b[0].copy())
    check_op(lambda m, x, a, u: m.addr(x, a, u), _f(rng, 3, 4), i[:, 0].copy(), i[0].copy())
    check_op(lambda m, x, a, u: m.addr(x, a, u), _f(rng, 3, 4), _f(rng, 3),
             rng.standard_normal(4), grad=False)  # (torch's backward fails on mixed dtypes)
    nan = np.full((3, 4), np.nan, np.float32)
    check_op(lambda m, x, a, u: m.addr(x, a, u, beta=0), nan, _f(rng, 3), _f(rng, 4))
    check_op(lambda m, x, a, u: (x * 1).addr_(a, u, alpha=0.5), _f(rng, 3, 4), _f(rng, 3),
             _f(rng, 4))


def test_addr_errors():
    same_error(lambda m: m.addr(m.ones(3, 4, dtype=m.int64), m.ones(3, dtype=m.int64),
                                m.ones(4, dtype=m.int64), alpha=2.5))
    same_error(lambda m: m.addr(m.ones(3, 4), m.ones(3, 4), m.ones(4)))
    same_error(lambda m: m.addr(m.ones(3, 4), m.ones(3), m.ones(5)))
    same_error(lambda m: m.addr(m.ones(5, 4), m.ones(3), m.ones(4)))
    same_error(lambda m: m.addr(m.ones(3, 4), m.ones(3), 2))
    same_error(lambda m: m.ones(3, 4, dtype=m.int64).addr_(m.ones(3), m.ones(4)))


@pytest.mark.parametrize("shape", [(3, 4), (4,), (1, 1)])
@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2.0), (0, -1)])
def test_addbmm(shape, beta, alpha, rng):
    c, b1, b2 = _f(rng, *shape), _f(rng, 2, 3, 5), _f(rng, 2, 5, 4)
    fn = lambda m, x, a, b: m.addbmm(x, a, b, beta=beta, alpha=alpha)  # noqa: E731
    check_op(fn, c, b1, b2)
    check_op(lambda m, x, a, b: x.addbmm(a, b, beta=beta, alpha=alpha), c, b1, b2)
    check_gradcheck(fn, c.astype(np.float64), b1.astype(np.float64), b2.astype(np.float64))


def test_addbmm_edges_and_errors(rng):
    i = rng.integers(-3, 4, (2, 3, 3))
    check_op(lambda m, x, a, b: m.addbmm(x, a, b, alpha=2), i[0], i, i)
    check_op(lambda m, x, a, b: m.addbmm(x, a, b), _f(rng, 3, 4), _f(rng, 0, 3, 5),
             _f(rng, 0, 5, 4))
    check_op(lambda m, x, a, b: m.addbmm(x, a, b, beta=0), np.full((3, 4), np.nan, np.float32),
             _f(rng, 2, 3, 5), _f(rng, 2, 5, 4))
    check_op(lambda m, x, a, b: (x * 1).addbmm_(a, b), _f(rng, 3, 4), _f(rng, 2, 3, 5),
             _f(rng, 2, 5, 4))
    same_error(lambda m: m.addbmm(m.ones(3, 4), m.ones(2, 3, 5), m.ones(2, 4, 4)))
    same_error(lambda m: m.addbmm(m.ones(3, 4), m.ones(3, 5), m.ones(5, 4)))
    same_error(lambda m: m.addbmm(m.ones(4, 4), m.ones(2, 3, 5), m.ones(2, 5, 4)))
    same_error(lambda m: m.addbmm(m.ones(3, 4), m.ones(2, 3, 5, dtype=m.float64),
                                  m.ones(2, 5, 4)))


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, math.inf])
@pytest.mark.parametrize("dim,maxnorm", [(0, 1.0), (1, 0.5), (-1, 100.0), (0, 0.0)])
def test_renorm(p, dim, maxnorm, rng):
    x = _f(rng, 3, 4)
    fn = lambda m, t: m.renorm(t, p, dim, maxnorm)  # noqa: E731
    check_op(fn, x)
    check_op(lambda m, t: t.renorm(p, dim, maxnorm), x)
    if maxnorm:
        check_gradcheck(fn, x.astype(np.float64), second_order=p != math.inf)
    check_op(lambda m, t: m.renorm(t, p, 1, maxnorm), _f(rng, 2, 3, 4))


def test_renorm_inplace_dtypes_and_errors(rng):
    check_op(lambda m, t: (t * 1).renorm_(2, 0, 1.0), _f(rng, 3, 4))
    check_op(lambda m, t: m.renorm(t, 2, 0, 1.0), rng.standard_normal((3, 4)))
    check_op(lambda m, t: m.renorm(t, 2, 0, 1.0), _f(rng, 3, 4).astype(np.float16), atol=1e-3,
             rtol=1e-3)
    same_error(lambda m: m.renorm(m.ones(3, 4, dtype=m.int64), 2, 0, 1))
    same_error(lambda m: m.renorm(m.ones(3, 4), -1, 0, 1))
    same_error(lambda m: m.renorm(m.ones(3, 4), 0, 0, 1))
    same_error(lambda m: m.renorm(m.ones(3, 4), 2, 0, -1))
    same_error(lambda m: m.renorm(m.ones(3, 4), 2, 2, 1))
    same_error(lambda m: m.renorm(m.tensor(1.0), 2, 0, 1))
    same_error(lambda m: m.renorm(m.ones(3), 2, 0, 1))
