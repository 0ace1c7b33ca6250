"""torch.lu / lu_unpack / lu_solve, geqrf, orgqr / linalg.householder_product, ormqr, and the
removed functions (lstsq, matrix_rank, eig, solve, symeig): parity with torch (values, dtypes,
grad_fn names, gradients), gradcheck in float64, warnings and torch's errors."""
import warnings

import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, same_error, torch_or_skip


def _f(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (3, 5), (2, 4, 4), (0, 3, 3)])
def test_lu_and_unpack(shape, rng):
    a = _f(rng, *shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op(lambda m, t: m.lu(t), a, grad=len(set(shape[-2:])) == 1)
        check_op(lambda m, t: m.lu(t, get_infos=True), a, grad=False)
        check_op(lambda m, t: t.lu(), a, grad=False)
    fn = lambda m, t: m.lu_unpack(*m.linalg.lu_factor(t))  # noqa: E731
    check_op(fn, a, grad=len(set(shape[-2:])) == 1)
    check_op(lambda m, t: m.lu_unpack(*m.linalg.lu_factor(t), unpack_data=False), a, grad=False)
    check_op(lambda m, t: m.lu_unpack(*m.linalg.lu_factor(t), unpack_pivots=False), a,
             grad=len(set(shape[-2:])) == 1)
    # the unpacking alone (ember's lu_factor backward is square-only)
    check_op(lambda m, t: m.lu_unpack(t, m.linalg.lu_factor(t.detach())[1]), a)
    # the unpacking alone, on fixed pivots: L's and U's gradients land in the packed matrix
    piv = ember.linalg.lu_factor(ember.tensor(a))[1]
    check_gradcheck(lambda m, t: m.lu_unpack(t, piv)[1:], a.astype(np.float64))


def test_lu_warns_once_and_lu_solve(rng):
    torch = torch_or_skip()
    import ember.ops.lapack as lapack

    lapack._warned.discard("lu")
    with pytest.warns(UserWarning, match="ember.lu is deprecated in favor of ember.linalg"):
        ember.lu(ember.ones(2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ember.lu(ember.ones(2, 2))  # torch's TORCH_WARN_ONCE: once per process
    a, b = _f(rng, 3, 3) + 3 * np.eye(3, dtype=np.float32), _f(rng, 3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op(lambda m, x, y: m.lu_solve(y, *m.linalg.lu_factor(x)), a, b)
        check_op(lambda m, x, y: y.lu_solve(*m.linalg.lu_factor(x)), a, b)
    assert torch is not None


def test_lu_errors():
    same_error(lambda m: m.lu(m.ones(3, 3, dtype=m.int64)))
    same_error(lambda m: m.lu(m.ones(3, 3), pivot=False))
    same_error(lambda m: m.lu_unpack(m.ones(3, 3), m.tensor([1, 2, 3])))
    same_error(lambda m: m.lu_unpack(m.ones(3, 3), m.tensor([1, 5, 3], dtype=m.int32)))
    # too few pivots: torch reads past them (it raises only when that memory is out of range)
    with pytest.raises(RuntimeError, match="pivots passed to lu_unpack must be between 1"):
        ember.lu_unpack(ember.ones(3, 3), ember.tensor([1, 2], dtype=ember.int32))


@pytest.mark.parametrize("shape", [(3, 3), (5, 3), (3, 5), (2, 4, 3)])
def test_geqrf(shape, rng):
    a = _f(rng, *shape)
    check_op(lambda m, t: m.geqrf(t), a, grad=False, atol=1e-4)
    check_op(lambda m, t: t.geqrf(), a.astype(np.float64), grad=False)
    same_error(lambda m: m.geqrf(m.ones(3, 3, requires_grad=True))[0].sum().backward())
    same_error(lambda m: m.geqrf(m.ones(3)))
    same_error(lambda m: m.geqrf(m.ones(3, 3, dtype=m.int64)))


@pytest.mark.parametrize("shape,k", [((4, 3), 3), ((4, 3), 2), ((3, 3), 3), ((2, 5, 3), 3),
                                     ((4, 2), 0)])
def test_householder_product(shape, k, rng):
    a, tau = _f(rng, *shape), rng.uniform(0.5, 1.8, shape[:-2] + (k,)).astype(np.float32)
    for fn in (lambda m, x, t: m.linalg.householder_product(x, t),
               lambda m, x, t: m.orgqr(x, t), lambda m, x, t: x.orgqr(t)):
        check_op(fn, a, tau)
    check_gradcheck(lambda m, x, t: m.linalg.householder_product(x, t), a.astype(np.float64),
                    tau.astype(np.float64))
    # geqrf's factors give back Q of the QR
    q = ember.linalg.householder_product(*ember.geqrf(ember.tensor(a.astype(np.float64))))
    np.testing.assert_allclose(np.abs(q.numpy()),
                               np.abs(np.linalg.qr(a.astype(np.float64))[0]), atol=1e-10)


@pytest.mark.parametrize("left,transpose", [(True, False), (True, True), (False, False),
                                            (False, True)])
@pytest.mark.parametrize("shape,k", [((4, 3), 3), ((4, 4), 4), ((2, 4, 3), 3), ((4, 2), 2)])
def test_ormqr(left, transpose, shape, k, rng):
    m_ = shape[-2]
    a, tau = _f(rng, *shape), rng.uniform(0.5, 1.8, shape[:-2] + (k,)).astype(np.float32)
    c = _f(rng, *(shape[:-2] + ((m_, 5) if left else (5, m_))))
    fn = lambda m, x, t, y: m.ormqr(x, t, y, left, transpose)  # noqa: E731
    check_op(fn, a, tau, c)
    check_op(lambda m, x, t, y: x.ormqr(t, y, left=left, transpose=transpose), a, tau, c)
    check_gradcheck(fn, a.astype(np.float64), tau.astype(np.float64), c.astype(np.float64))


def test_reflector_errors():
    same_error(lambda m: m.linalg.householder_product(m.ones(3, 4), m.ones(2)))
    same_error(lambda m: m.linalg.householder_product(m.ones(4, 3), m.ones(4)))
    same_error(lambda m: m.linalg.householder_product(m.ones(4, 3), m.ones(3).double()))
    same_error(lambda m: m.linalg.householder_product(m.ones(4, 3), m.ones(1, 3)))
    same_error(lambda m: m.ormqr(m.ones(4, 3), m.ones(4), m.ones(4, 2)))
    same_error(lambda m: m.ormqr(m.ones(4, 3), m.ones(2), m.ones(4, 2)))
    same_error(lambda m: m.ormqr(m.ones(4, 3), m.ones(2), m.ones(2, 4), left=False))
    same_error(lambda m: m.ormqr(m.ones(4, 3), m.ones(3), m.ones(3, 2)))
    same_error(lambda m: m.ormqr(m.ones(4, 3), m.ones(3), m.ones(4, 2).double()))
    same_error(lambda m: m.ormqr(m.ones(4, 3), m.ones(3).double(), m.ones(4, 2)))


def test_removed_functions_raise_as_torch():
    s = lambda m: m.ones(3, 3)  # noqa: E731
    for fn in (lambda m: m.lstsq(s(m), s(m)), lambda m: s(m).lstsq(s(m)),
               lambda m: m.matrix_rank(s(m)), lambda m: m.matrix_rank(s(m), 1e-3, True),
               lambda m: m.eig(s(m)), lambda m: s(m).eig(True), lambda m: m.solve(s(m), s(m)),
               lambda m: s(m).solve(s(m)), lambda m: m.symeig(s(m)), lambda m: s(m).symeig(),
               lambda m: m.lstsq()):
        same_error(fn)
