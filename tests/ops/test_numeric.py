"""diff, gradient, trapezoid/trapz, cumulative_trapezoid (ops/numeric.py): parity with torch
(values, dtypes, grad_fn names, gradients), gradcheck in float64, dtype rules and torch's
errors."""

import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, same_error, torch_or_skip


def _f(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# -- diff -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n,dim", [(1, -1), (2, 0), (0, 1), (3, 1), (5, 1), (1, 0)])
def test_diff(n, dim, rng):
    x = _f(rng, 3, 4)
    fn = lambda m, t: m.diff(t, n=n, dim=dim)  # noqa: E731
    check_op(fn, x)
    check_op(lambda m, t: t.diff(n, dim), x)
    if n:
        check_gradcheck(fn, x.astype(np.float64))


def test_diff_prepend_append_and_dtypes(rng):
    x, p, a = _f(rng, 3, 4), _f(rng, 3, 1), _f(rng, 3, 2)
    check_op(lambda m, t, u, v: m.diff(t, prepend=u, append=v), x, p, a)
    check_op(lambda m, t, u: m.diff(t, n=2, dim=0, append=u), x, _f(rng, 2, 4))
    check_gradcheck(lambda m, t, u, v: m.diff(t, n=2, prepend=u, append=v),
                    x.astype(np.float64), p.astype(np.float64), a.astype(np.float64))
    check_op(lambda m, t, u: m.diff(t, prepend=u), x, p.astype(np.float64))
    check_op(lambda m, t, u: m.diff(t, prepend=u), x, np.ones((3, 1), np.int64))
    check_op(lambda m, t: m.diff(t), np.arange(12).reshape(3, 4) ** 2)
    check_op(lambda m, t: m.diff(t, n=2), rng.integers(0, 2, (3, 5)).astype(bool))
    check_op(lambda m, t: m.diff(t), x.astype(np.float16), atol=1e-2)
    check_op(lambda m, t: m.diff(t), np.arange(5, dtype=np.uint8)[::-1].copy())


def test_diff_errors():
    same_error(lambda m: m.diff(m.tensor(1.0)))
    same_error(lambda m: m.diff(m.ones(3, 4), prepend=m.ones(3)))
    same_error(lambda m: m.diff(m.ones(3, 4), prepend=m.ones(2, 4)))
    same_error(lambda m: m.diff(m.ones(3, 4), n=-1))
    same_error(lambda m: m.diff(m.ones(3, 4), prepend=1.0))
    same_error(lambda m: m.diff(m.ones(3, 4), dim=2))


# -- gradient -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [{}, {"dim": 1}, {"spacing": 2.0}, {"spacing": [2.0, 0.5]},
                                {"edge_order": 2}, {"dim": (0, 1), "spacing": 3},
                                {"dim": -1, "spacing": [0.5], "edge_order": 2}])
def test_gradient_uniform(kw, rng):
    x = _f(rng, 4, 5)
    fn = lambda m, t: m.gradient(t, **kw)  # noqa: E731
    check_op(fn, x)
    check_gradcheck(fn, x.astype(np.float64))


@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_coordinates(edge_order, rng):
    torch = torch_or_skip()
    x = rng.standard_normal((4, 5))
    c0, c1 = np.array([0.0, 0.5, 2.0, 2.5]), np.array([-1.0, 0.0, 0.3, 1.5, 4.0])
    for m, t in ((ember, ember.tensor(x, requires_grad=True)),
                 (torch, torch.tensor(x, requires_grad=True))):
        out = m.gradient(t, spacing=(m.tensor(c0), m.tensor(c1)), edge_order=edge_order)
        if m is ember:
            e = out
        else:
            for a, b in zip(e, out):
                np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)
                assert type(a.grad_fn).__name__ == type(b.grad_fn).__name__
    # against numpy's own non-uniform formula too
    np.testing.assert_allclose(e[0].detach().numpy(),
                               np.gradient(x, c0, axis=0, edge_order=edge_order), rtol=1e-10)
    check_gradcheck(lambda m, t: m.gradient(t, spacing=[m.tensor(c0), m.tensor(c1)],
                                            edge_order=edge_order), x)


def test_gradient_dtypes_and_errors(rng):
    check_op(lambda m, t: m.gradient(t), np.arange(12).reshape(3, 4) ** 2)
    check_op(lambda m, t: m.gradient(t, spacing=2), np.arange(5, dtype=np.float64) ** 3)
    check_op(lambda m, t: m.gradient(t), np.array(1.0, np.float32))
    same_error(lambda m: m.gradient(m.ones(3, 4), edge_order=3))
    same_error(lambda m: m.gradient(m.ones(1, 4)))
    same_error(lambda m: m.gradient(m.ones(2, 4), edge_order=2))
    same_error(lambda m: m.gradient(m.ones(3, 4), spacing=[1.0, 2.0, 3.0]))
    same_error(lambda m: m.gradient(m.ones(3, 4) > 0))
    same_error(lambda m: m.gradient(m.ones(3, 4), spacing=m.tensor([0.0, 1.0, 3.0])))


# -- trapezoid, cumulative_trapezoid --------------------------------------------------------------


@pytest.mark.parametrize("name", ["trapezoid", "trapz", "cumulative_trapezoid"])
@pytest.mark.parametrize("kw", [{}, {"dx": 2.0}, {"dim": 0}, {"dim": 0, "dx": 0.5}])
def test_trapezoid_uniform(name, kw, rng):
    y = _f(rng, 3, 4)
    fn = lambda m, t: getattr(m, name)(t, **kw)  # noqa: E731
    check_op(fn, y)
    check_gradcheck(fn, y.astype(np.float64))


@pytest.mark.parametrize("name", ["trapezoid", "trapz", "cumulative_trapezoid"])
def test_trapezoid_sample_points(name, rng):
    y = _f(rng, 3, 4)
    x1 = np.array([0.0, 1.0, 3.0, 4.5], np.float32)
    check_op(lambda m, t, u: getattr(m, name)(t, u), y, x1)
    check_op(lambda m, t, u: getattr(m, name)(t, u), y, np.sort(_f(rng, 3, 4), axis=1))
    check_op(lambda m, t, u: getattr(m, name)(t, u, dim=0), y, np.array([0.0, 1, 3], np.float32))
    check_op(lambda m, t, u: getattr(m, name)(t, u), y, x1.reshape(1, 4))
    check_gradcheck(lambda m, t, u: getattr(m, name)(t, u), y.astype(np.float64),
                    x1.astype(np.float64))


def test_trapezoid_dtypes_and_errors(rng):
    i = np.arange(12).reshape(3, 4)
    for name in ("trapezoid", "cumulative_trapezoid"):
        check_op(lambda m, t: getattr(m, name)(t), i)
        check_op(lambda m, t, u: getattr(m, name)(t, u), _f(rng, 3, 4), i[0])
        check_op(lambda m, t: getattr(m, name)(t), np.ones((3, 0), np.float32))
        same_error(lambda m: getattr(m, name)(m.ones(3, 4) > 0))
        same_error(lambda m: getattr(m, name)(m.ones(3, 4), m.ones(3)))
    same_error(lambda m: m.trapezoid(m.tensor(1.0)))
    same_error(lambda m: m.trapezoid(m.ones(3, 4), m.ones(4), dx=1))
