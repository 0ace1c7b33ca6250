"""linalg.ldl_factor / ldl_factor_ex / ldl_solve: LAPACK's Bunch-Kaufman factors, pivots and
info as torch returns them (1x1 and 2x2 pivot blocks, batches, zero pivots), the solve, no
derivative, and torch's errors."""
import numpy as np
import pytest

import ember
from helpers import check_op, same_error, torch_or_skip


def _sym(rng, *shape):
    a = rng.standard_normal(shape)
    return a + np.swapaxes(a, -1, -2)


def _cases(rng):
    small_diag = _sym(rng, 6, 6)
    np.fill_diagonal(small_diag, 1e-3)  # forces 2x2 pivots
    return [_sym(rng, 4, 4), _sym(rng, 7, 7), _sym(rng, 3, 5, 5), small_diag,
            np.array([[0.0, 1, 2], [1, 0, 3], [2, 3, 0]]), _sym(rng, 1, 1),
            _sym(rng, 2, 0, 0), rng.standard_normal((5, 5)),  # (only the lower triangle read)
            np.kron(np.eye(3), [[0.0, 1], [1, 0]]) + 1e-2 * _sym(rng, 6, 6)]


@pytest.mark.parametrize("hermitian", [False, True])
def test_ldl_factor_and_solve(hermitian, rng):
    for a in _cases(rng):
        for dtype in (np.float64, np.float32):
            x = a.astype(dtype)
            tol = 1e-10 if dtype == np.float64 else 1e-4
            check_op(lambda m, t: m.linalg.ldl_factor_ex(t, hermitian=hermitian), x,
                     grad=False, atol=tol, rtol=tol)
            check_op(lambda m, t: m.linalg.ldl_factor(t, hermitian=hermitian), x, grad=False,
                     atol=tol, rtol=tol)
            b = rng.standard_normal(a.shape[:-1] + (3,)).astype(dtype)
            check_op(lambda m, t, u: m.linalg.ldl_solve(*m.linalg.ldl_factor(t), u,
                                                        hermitian=hermitian), x, b,
                     grad=False, atol=1e2 * tol, rtol=1e2 * tol)


def test_ldl_solve_solves(rng):
    a = _sym(rng, 2, 6, 6)
    a[..., np.arange(6), np.arange(6)] = 0  # every pivot a 2x2 block or a swap
    b = rng.standard_normal((2, 6, 4))
    x = ember.linalg.ldl_solve(*ember.linalg.ldl_factor(ember.tensor(a)), ember.tensor(b))
    np.testing.assert_allclose(a @ x.numpy(), b, atol=1e-10)
    x = ember.linalg.ldl_solve(*ember.linalg.ldl_factor(ember.tensor(a[0])), ember.tensor(b))
    np.testing.assert_allclose(a[0] @ x.numpy(), b, atol=1e-10)  # B's batch broadcasts


def test_zero_pivots_no_derivative_and_errors():
    torch = torch_or_skip()
    check_op(lambda m, t: m.linalg.ldl_factor_ex(t), np.zeros((2, 3, 3), np.float32),
             grad=False)
    same_error(lambda m: m.linalg.ldl_factor(m.zeros(3, 3)))
    same_error(lambda m: m.linalg.ldl_factor_ex(m.zeros(3, 3), check_errors=True))
    for m in (ember, torch):
        a = m.eye(3, requires_grad=True)
        ld = m.linalg.ldl_factor(a).LD
        assert type(ld.grad_fn).__name__ == "NotImplemented"
        x = m.linalg.ldl_solve(*m.linalg.ldl_factor(m.eye(3)), m.ones(3, 2, requires_grad=True))
        assert type(x.grad_fn).__name__ == "NotImplemented"
    same_error(lambda m: m.linalg.ldl_factor(m.eye(3, requires_grad=True)).LD.sum().backward())
    same_error(lambda m: m.linalg.ldl_factor(m.ones(3, 4)))
    same_error(lambda m: m.linalg.ldl_factor(m.ones(3, 3, dtype=m.int64)))
    same_error(lambda m: m.linalg.ldl_factor(m.ones(3)))
    f = lambda m: m.linalg.ldl_factor(m.eye(4, dtype=m.float64))  # noqa: E731
    same_error(lambda m: m.linalg.ldl_solve(*f(m), m.ones(4, 2)))
    same_error(lambda m: m.linalg.ldl_solve(*f(m), m.ones(3, 2, dtype=m.float64)))
    same_error(lambda m: m.linalg.ldl_solve(*f(m), m.ones(4, dtype=m.float64)))
