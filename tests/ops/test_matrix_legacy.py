"""vdot, chain_matmul, triangular_solve, frobenius_norm, nuclear_norm, unravel_index,
conj_physical: parity with torch (values, dtypes, grad_fn names, gradients), gradcheck in
float64, deprecation warnings and torch's errors."""
import warnings

import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, same_error


def _f(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the deprecation warnings (tested once below)
        yield


def test_vdot(rng):
    a, b = _f(rng, 5), _f(rng, 5)
    check_op(lambda m, x, y: m.vdot(x, y), a, b)
    check_op(lambda m, x, y: x.vdot(y), a, b)
    check_gradcheck(lambda m, x, y: m.vdot(x, y), a.astype(np.float64), b.astype(np.float64))
    check_op(lambda m, x, y: m.vdot(x, y), np.arange(4), np.arange(4))
    c = (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64)
    check_op(lambda m, x, y: m.vdot(x, y), c, c[::-1].copy(), grad=False)
    check_op(lambda m, x, y: m.vdot(x, y), _f(rng, 0), _f(rng, 0))
    same_error(lambda m: m.vdot(m.ones(3), m.ones(4)))
    same_error(lambda m: m.vdot(m.ones(3), m.ones(3, dtype=m.float64)))
    same_error(lambda m: m.vdot(m.ones(3, 3), m.ones(3, 3)))


def test_chain_matmul(rng):
    a, b, c = _f(rng, 3, 4), _f(rng, 4, 5), _f(rng, 5, 2)
    check_op(lambda m, x, y, z: m.chain_matmul(x, y, z), a, b, c)
    check_op(lambda m, x, y: m.chain_matmul(x, y), a, b)
    check_op(lambda m, x: m.chain_matmul(x), a)
    check_gradcheck(lambda m, x, y, z: m.chain_matmul(x, y, z), a.astype(np.float64),
                    b.astype(np.float64), c.astype(np.float64))
    same_error(lambda m: m.chain_matmul())
    same_error(lambda m: m.chain_matmul(m.ones(3), m.ones(3, 3)))


@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("unit", [False, True])
def test_triangular_solve(upper, transpose, unit, rng):
    a = _f(rng, 4, 4) + 4 * np.eye(4, dtype=np.float32)
    b = _f(rng, 4, 3)
    fn = lambda m, x, y: m.triangular_solve(x, y, upper, transpose, unit)  # noqa: E731
    check_op(fn, b, a, atol=1e-4)
    check_op(lambda m, x, y: x.triangular_solve(y, upper=upper, transpose=transpose,
                                                unitriangular=unit), b, a, atol=1e-4)
    check_gradcheck(fn, b.astype(np.float64), a.astype(np.float64))
    check_op(fn, _f(rng, 2, 4, 3), a, atol=1e-4)  # b's batch broadcasts A
    check_op(fn, b, _f(rng, 2, 4, 4) + 4 * np.eye(4, dtype=np.float32), atol=1e-4)


def test_triangular_solve_errors_and_warning():
    import ember.ops.matrix_legacy as legacy

    legacy._warned.clear()
    with pytest.warns(UserWarning, match="ember.triangular_solve is deprecated"):
        ember.triangular_solve(ember.ones(2, 1), ember.eye(2))
    with pytest.warns(UserWarning, match="ember.chain_matmul is deprecated"):
        ember.chain_matmul(ember.eye(2))
    same_error(lambda m: m.triangular_solve(m.ones(3), m.eye(3)))
    same_error(lambda m: m.triangular_solve(m.ones(3, 2), m.ones(3)))
    same_error(lambda m: m.triangular_solve(m.ones(3, 2), m.ones(3, 4)))
    same_error(lambda m: m.triangular_solve(m.ones(4, 2), m.eye(3)))
    same_error(lambda m: m.triangular_solve(m.ones(3, 2), m.eye(3, dtype=m.float64)))


@pytest.mark.parametrize("dim,keepdim", [((0, 1), False), (1, True), ([0], False)])
def test_frobenius_norm(dim, keepdim, rng):
    x = _f(rng, 3, 4)
    fn = lambda m, t: m.frobenius_norm(t, dim, keepdim)  # noqa: E731
    check_op(fn, x)
    check_gradcheck(fn, x.astype(np.float64))


@pytest.mark.parametrize("args", [(), (True,), ((0, 1),), ((0, 1), True), ((0, 2),)])
def test_nuclear_norm(args, rng):
    x = _f(rng, 3, 4) if not args or args[0] is True or args[0] == (0, 1) else _f(rng, 3, 2, 4)
    fn = lambda m, t: m.nuclear_norm(t, *args)  # noqa: E731
    check_op(fn, x, atol=1e-4)
    check_gradcheck(fn, x.astype(np.float64))


def test_unravel_index():
    check_op(lambda m, i: m.unravel_index(i, (3, 4)), np.array([5, 7, 0, 11]))
    check_op(lambda m, i: m.unravel_index(i, (3, 4)), np.array(13))
    check_op(lambda m, i: m.unravel_index(i, (3, 4)), np.array([-1, -13, 25]))
    check_op(lambda m, i: m.unravel_index(i, ember.Size([2, 3, 4]) if m is ember
                                          else __import__("torch").Size([2, 3, 4])),
             np.array([[1, 2], [23, 7]]))
    check_op(lambda m, i: m.unravel_index(i, 6), np.array([1, 5]).astype(np.int32))
    check_op(lambda m, i: m.unravel_index(i, ()), np.array([1]))
    same_error(lambda m: m.unravel_index(m.tensor([1.0]), (3, 4)))
    same_error(lambda m: m.unravel_index(m.tensor([1]), (3, -4)))
    same_error(lambda m: m.unravel_index(5, (3, 4)))


def test_conj_physical(rng):
    x = _f(rng, 3)
    for m in (ember, __import__("torch")):
        t = m.tensor(x, requires_grad=True)
        assert m.conj_physical(t) is t and t.conj_physical() is t
    c = (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex128)
    check_op(lambda m, t: m.conj_physical(t), c, grad=False)
    check_op(lambda m, t: m.view_as_real(m.conj_physical(m.complex(t, t * 2))), x)
    check_op(lambda m, t: m.view_as_real((m.complex(t, t * 2)).conj_physical_()), x)
