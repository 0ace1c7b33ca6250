"""ember.linalg's matrix functions and decompositions (ember/ops/matrix.py) against torch:
values, grad_fn names, gradients (torch's backward formulas), gradcheck and gradgradcheck in
float64, batches, torch's legacy top-level names, and errors."""
import math

import numpy as np
import pytest
from helpers import check_gradcheck, check_op, same_error, torch_or_skip

import ember

torch = torch_or_skip()
R = np.random.default_rng(0)


def _mat(*shape, spd=False, well=True):
    a = R.standard_normal(shape)
    if spd:
        return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])
    if well and shape[-1] == shape[-2]:
        return a + 2 * shape[-1] ** 0.5 * np.eye(shape[-1])
    return a


SQUARE = [(3, 3), (2, 4, 4)]


@pytest.mark.parametrize("shape", SQUARE)
@pytest.mark.parametrize("name", ["inv", "det", "slogdet"])
def test_inverse_and_determinants(name, shape):
    a = _mat(*shape)
    fn = lambda m, t: getattr(m.linalg, name)(t)  # noqa: E731
    check_op(fn, a, atol=1e-10, rtol=1e-9)
    check_op(fn, a.astype(np.float32), atol=1e-5, rtol=1e-4)
    check_gradcheck(fn, a)


def test_logdet_and_legacy_names():
    a = _mat(3, 3, spd=True)
    check_op(lambda m, t: m.logdet(t), a)
    check_op(lambda m, t: m.inverse(t), a)
    check_op(lambda m, t: t.det(), a)
    check_op(lambda m, t: m.slogdet(t), a)
    check_op(lambda m, t: m.logdet(t), np.array([[-1.0, 0], [0, 1]]), grad=False)
    check_gradcheck(lambda m, t: m.logdet(t @ t.mT + 3 * m.eye(3, dtype=m.float64)),
                    R.standard_normal((3, 3)))


@pytest.mark.parametrize("b_shape", [(3,), (3, 2), (2, 3, 2), (2, 3)])
def test_solve(b_shape):
    a = _mat(2, 3, 3) if len(b_shape) == 3 or b_shape == (2, 3) else _mat(3, 3)
    b = R.standard_normal(b_shape)
    check_op(lambda m, x, y: m.linalg.solve(x, y), a, b, atol=1e-10, rtol=1e-9)
    check_gradcheck(lambda m, x, y: m.linalg.solve(x, y), a, b)


def test_solve_left_false():
    a, b = _mat(3, 3), R.standard_normal((2, 3))
    check_op(lambda m, x, y: m.linalg.solve(x, y, left=False), a, b)
    check_gradcheck(lambda m, x, y: m.linalg.solve(x, y, left=False), a, b)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(upper):
    a = _mat(2, 4, 4, spd=True)
    check_op(lambda m, t: m.linalg.cholesky(t, upper=upper), a, atol=1e-10, rtol=1e-9)
    check_op(lambda m, t: m.linalg.cholesky(t, upper=upper), a.astype(np.float32), atol=1e-5)
    x = R.standard_normal((3, 3))
    spd = lambda m, t: t @ t.mT + 3 * m.eye(3, dtype=m.float64)  # noqa: E731
    check_gradcheck(lambda m, t: m.linalg.cholesky(spd(m, t), upper=upper), x)
    check_op(lambda m, t: m.cholesky(t, upper=upper), a)  # legacy: CholeskyBackward0


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 4, 2)])
def test_qr(shape):
    a = _mat(*shape, well=False)
    check_op(lambda m, t: m.linalg.qr(t), a, atol=1e-10, rtol=1e-9)
    check_gradcheck(lambda m, t: m.linalg.qr(t), a)
    check_op(lambda m, t: m.linalg.qr(t, mode="complete"), a, grad=shape[-2] <= shape[-1])
    check_op(lambda m, t: m.qr(t), a.astype(np.float32), atol=1e-5, rtol=1e-4)
    check_op(lambda m, t: m.linalg.qr(t, mode="r")[1], a, grad=False)


def test_qr_backward_errors():
    a = R.standard_normal((4, 3))
    same_error(lambda m: m.linalg.qr(m.tensor(a, requires_grad=True), mode="complete")[0]
               .sum().backward())
    same_error(lambda m: m.linalg.qr(m.tensor(a, requires_grad=True), mode="r")[1]
               .sum().backward())
    same_error(lambda m: m.linalg.qr(m.tensor(a), mode="x"))


def _signed(m, u, *rest):
    """Singular/eigen-vectors with each column's sign fixed (first row positive): LAPACKs (torch's
    MKL, numpy's OpenBLAS) may return either sign; the fixed ones, and their gradients, agree."""
    d = m.sign(u[..., :1, :]).detach()
    return (u * d,) + tuple(r * d.mT if r.ndim == u.ndim else r for r in rest)


def _svd_fixed(m, t, **kw):
    u, s, vh = m.linalg.svd(t, **kw)
    k = s.shape[-1]
    u, vh = _signed(m, u[..., :k], vh[..., :k, :])
    return u, s, vh


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 3, 2)])
def test_svd(shape):
    a = _mat(*shape, well=False)
    check_op(lambda m, t: _svd_fixed(m, t, full_matrices=False), a, atol=1e-10, rtol=1e-9)
    check_op(lambda m, t: m.linalg.svdvals(t), a)
    check_op(lambda m, t: _svd_fixed(m, t), a, grad=False, grad_fn=False)
    check_op(lambda m, t: m.linalg.svd(t)[1], a, grad=False)
    check_gradcheck(lambda m, t: m.linalg.svd(t, full_matrices=False), a)
    check_gradcheck(lambda m, t: m.linalg.svdvals(t), a)
    legacy = lambda m, t: m.svd(t).S
    check_op(legacy, a.astype(np.float32), atol=1e-5, rtol=1e-4)
    e_u, e_s, e_v = ember.svd(ember.tensor(a))
    np.testing.assert_allclose((e_u * e_s.unsqueeze(-2) @ e_v.mT).numpy(), a, atol=1e-12)
    assert tuple(e_v.shape) == tuple(torch.svd(torch.tensor(a)).V.shape)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5)])
def test_svd_full_matrices_backward(shape):
    # the columns past k are not unique: torch ignores their gradients, as ember does
    a = R.standard_normal(shape)
    check_op(lambda m, t: _svd_fixed(m, t), a)
    check_op(lambda m, t: m.linalg.svd(t)[1], a)


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh(uplo):
    a = R.standard_normal((2, 4, 4))
    def fixed(m, t):
        w, v = m.linalg.eigh(t, UPLO=uplo)
        return w, _signed(m, v)[0]

    check_op(fixed, a, atol=1e-10, rtol=1e-8)
    check_op(lambda m, t: m.linalg.eigvalsh(t, UPLO=uplo), a)
    sym = lambda t: t + t.mT
    check_gradcheck(lambda m, t: m.linalg.eigh(sym(t), UPLO=uplo), a[0])
    check_gradcheck(lambda m, t: m.linalg.eigvalsh(sym(t)), a[0])
    same_error(lambda m: m.linalg.eigh(m.tensor(a), UPLO="X"))


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3)])
def test_pinv(shape):
    a = _mat(*shape, well=False)
    check_op(lambda m, t: m.linalg.pinv(t), a, atol=1e-10, rtol=1e-9)
    # float32 on a well-conditioned matrix: the shared generator's draw can be nearly singular,
    # where float32's pseudo-inverse differs from torch's by more than round-off
    check_op(lambda m, t: m.pinverse(t), _mat(*shape).astype(np.float32), atol=1e-5, rtol=1e-4)
    check_gradcheck(lambda m, t: m.linalg.pinv(t), a)
    s = _mat(3, 3, spd=True)
    check_op(lambda m, t: m.linalg.pinv(t, hermitian=True), s)
    rank1 = np.outer([1.0, 2, 3], [1.0, -1, 2])
    check_op(lambda m, t: m.linalg.pinv(t), rank1, grad=False)
    check_op(lambda m, t: m.linalg.pinv(t, atol=0.5, rtol=0.1), a, grad=False)


@pytest.mark.parametrize("driver", [None, "gelsd", "gelss", "gels"])
def test_lstsq(driver):
    a, b = R.standard_normal((5, 3)), R.standard_normal((5, 2))
    check_op(lambda m, x, y: m.linalg.lstsq(x, y, driver=driver), a, b, atol=1e-10, rtol=1e-9)
    check_op(lambda m, x, y: m.linalg.lstsq(x, y[:, 0], driver=driver), a, b)
    check_gradcheck(lambda m, x, y: m.linalg.lstsq(x, y, driver=driver)[:2], a, b)
    check_op(lambda m, x, y: m.linalg.lstsq(x, y, driver=driver), a[:2], b[:2])  # m < n


def test_matrix_rank():
    a = np.stack([np.outer([1.0, 2, 3], [1.0, -1, 2]), _mat(3, 3)])
    check_op(lambda m, t: m.linalg.matrix_rank(t), a)
    check_op(lambda m, t: m.linalg.matrix_rank(t, hermitian=True), _mat(3, 3, spd=True))
    check_op(lambda m, t: m.linalg.matrix_rank(t, atol=1.0, rtol=0.0), a)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, -1, -2])
def test_matrix_power(n):
    a = _mat(3, 3)
    check_op(lambda m, t: m.linalg.matrix_power(t, n), a, atol=1e-9, rtol=1e-8)
    check_op(lambda m, t: t.matrix_power(n), _mat(2, 3, 3), atol=1e-9, rtol=1e-8)
    if n:
        check_gradcheck(lambda m, t: m.linalg.matrix_power(t, n), a)


def test_multi_dot():
    a, b, c = R.standard_normal((2, 5)), R.standard_normal((5, 3)), R.standard_normal((3, 4))
    v, w = R.standard_normal(2), R.standard_normal(4)
    check_op(lambda m, x, y: m.linalg.multi_dot([x, y]), a, b)
    check_op(lambda m, x, y, z: m.linalg.multi_dot([x, y, z]), a, b, c)
    check_op(lambda m, u, x, y, z, t: m.linalg.multi_dot([u, x, y, z, t]), v, a, b, c, w)
    check_gradcheck(lambda m, x, y, z: m.linalg.multi_dot([x, y, z]), a, b, c)
    same_error(lambda m: m.linalg.multi_dot([m.ones(2, 2)]))
    same_error(lambda m: m.linalg.multi_dot([m.ones(2, 2), m.ones(3, 2)]))


def test_cross():
    a, b = R.standard_normal((4, 3)), R.standard_normal((4, 3))
    check_op(lambda m, x, y: m.linalg.cross(x, y), a, b)
    check_op(lambda m, x, y: m.linalg.cross(x, y, dim=0), a.T.copy(), b[:1].T.copy())
    check_gradcheck(lambda m, x, y: m.linalg.cross(x, y), a, b)
    same_error(lambda m: m.linalg.cross(m.ones(2), m.ones(2)))


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf])
def test_matrix_norm(ord):
    a = R.standard_normal((2, 3, 4))
    check_op(lambda m, t: m.linalg.matrix_norm(t, ord), a)
    check_op(lambda m, t: m.linalg.matrix_norm(t, ord, dim=(0, 2), keepdim=True), a)
    check_op(lambda m, t: m.linalg.norm(t[0], ord), a.astype(np.float32), atol=1e-5)
    check_gradcheck(lambda m, t: m.linalg.matrix_norm(t, ord), a)


@pytest.mark.parametrize("args", [dict(), dict(ord=3, dim=1), dict(dim=1), dict(dim=(0, 1)),
                                  dict(ord=1, dim=0, keepdim=True)])
def test_norm(args):
    a = R.standard_normal((3, 4))
    check_op(lambda m, t: m.linalg.norm(t, **args), a)
    check_op(lambda m, t: m.linalg.norm(t[0], **{k: v for k, v in args.items() if k == "ord"}), a)


def same_linalg_error(fn):
    """torch raises torch.linalg.LinAlgError, ember ember.linalg.LinAlgError: same message."""
    with pytest.raises(torch.linalg.LinAlgError) as t_err:
        fn(torch)
    with pytest.raises(ember.linalg.LinAlgError) as e_err:
        fn(ember)
    assert str(e_err.value) == str(t_err.value).replace("torch.", "ember."), (e_err, t_err)


def test_errors():
    sing = np.array([[1.0, 2.0], [2.0, 4.0]])
    same_linalg_error(lambda m: m.linalg.inv(m.tensor(sing)))
    same_linalg_error(lambda m: m.linalg.inv(m.tensor(np.stack([np.eye(2), sing]))))
    same_error(lambda m: m.linalg.inv(m.ones(2, 3)))
    same_error(lambda m: m.linalg.inv(m.ones(3)))
    same_error(lambda m: m.linalg.inv(m.ones(2, 2, dtype=m.int64)))
    same_error(lambda m: m.linalg.det(m.ones(2, 3)))
    same_linalg_error(lambda m: m.linalg.solve(m.tensor(sing), m.ones(2, dtype=m.float64)))
    same_error(lambda m: m.linalg.solve(m.eye(2), m.ones(3)))
    same_error(lambda m: m.linalg.matrix_power(m.ones(2, 3), 2))
    not_pd = np.array([[1.0, 2.0], [2.0, 1.0]])
    same_linalg_error(lambda m: m.linalg.cholesky(m.tensor(not_pd)))
    same_linalg_error(lambda m: m.linalg.cholesky(m.tensor(np.stack([np.eye(2), not_pd]))))
    e = pytest.raises(ember.linalg.LinAlgError, ember.linalg.inv, ember.tensor(sing))
    assert isinstance(e.value, RuntimeError)
    same_error(lambda m: m.linalg.norm(m.ones(3, 4), 3))


def test_empty_and_batched_broadcast():
    check_op(lambda m, t: m.linalg.inv(t), np.zeros((0, 3, 3)))
    check_op(lambda m, t: m.linalg.det(t), np.zeros((2, 0, 0)), grad=False)
    a, b = _mat(2, 3, 3), R.standard_normal((3, 1))
    check_op(lambda m, x, y: m.linalg.solve(x, y), a, b)


@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular(upper, left, unit):
    a = R.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    b = R.standard_normal((2, 3, 4) if left else (2, 4, 3))
    fn = lambda m, x, y: m.linalg.solve_triangular(x, y, upper=upper, left=left,  # noqa: E731
                                                   unitriangular=unit)
    check_op(fn, a, b, atol=1e-10, rtol=1e-9)
    check_op(fn, a.astype(np.float32), b.astype(np.float32), atol=1e-5, rtol=1e-4)
    check_gradcheck(fn, a, b)
    same_error(lambda m: m.linalg.solve_triangular(m.eye(3), m.ones(3), upper=True))


def test_vecdot_diagonal_vander_cond():
    a, b = R.standard_normal((3, 4)), R.standard_normal((4,))
    check_op(lambda m, x, y: m.linalg.vecdot(x, y), a, b)
    check_op(lambda m, x: m.linalg.vecdot(x, x, dim=0), a)
    check_gradcheck(lambda m, x, y: m.linalg.vecdot(x, y), a, b)
    same_error(lambda m: m.linalg.vecdot(m.tensor([1, 2]), m.tensor([3, 4])))
    check_op(lambda m, x: m.linalg.diagonal(x), R.standard_normal((2, 3, 4)))
    check_op(lambda m, x: m.linalg.diagonal(x, offset=1, dim1=0, dim2=2),
             R.standard_normal((3, 2, 4)))
    check_op(lambda m, x: m.linalg.vander(x), R.standard_normal((2, 3)))
    check_op(lambda m, x: m.linalg.vander(x, N=5), R.standard_normal(3))
    check_op(lambda m, x: m.linalg.vander(x), np.array([1, 2, 3]))
    check_gradcheck(lambda m, x: m.linalg.vander(x, N=4), R.standard_normal(3))
    same_error(lambda m: m.linalg.vander(m.ones(3), N=1))
    sq = _mat(2, 3, 3)
    for p in (None, "fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf):
        # (torch's own backward fails for the norms taken through the inverse: it writes the
        # inverse in place; ember's is gradchecked below)
        check_op(lambda m, x: m.linalg.cond(x, p), sq, atol=1e-9, rtol=1e-8,
                 grad=p in (None, 2, -2, "nuc"))
    check_gradcheck(lambda m, x: m.linalg.cond(x), sq[0])
    check_gradcheck(lambda m, x: m.linalg.cond(x, "fro"), sq[0])


@pytest.mark.parametrize("scale", [0.1, 1.0, 20.0])
def test_matrix_exp(scale):
    a = R.standard_normal((2, 3, 3)) * scale
    check_op(lambda m, x: m.linalg.matrix_exp(x), a, atol=1e-10, rtol=1e-9)
    a32 = a[0].astype(np.float32)  # float32 round-off on the result's scale (up to ~1e6 here)
    scale_32 = float(np.abs(torch_or_skip().linalg.matrix_exp(
        torch_or_skip().tensor(a[0])).numpy()).max())
    check_op(lambda m, x: m.matrix_exp(x), a32, atol=1e-5 * max(1.0, scale_32), rtol=1e-4)
    check_op(lambda m, x: x.matrix_exp(), a, atol=1e-10, rtol=1e-9)
    if scale < 10:
        check_gradcheck(lambda m, x: m.linalg.matrix_exp(x), a[0])
    check_op(lambda m, x: m.linalg.matrix_exp(x), np.zeros((0, 0)))
    same_error(lambda m: m.linalg.matrix_exp(m.ones(2, 2, dtype=m.int64)))


def _gauge_fixed(m, v):
    """Eigenvectors with each column's phase fixed by its first entry (LAPACKs may differ by
    one; the fixed vectors and their gradients are gauge-invariant, as torch requires)."""
    p = v[..., :1, :]
    return v * (p.conj() / p.abs())


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_eig_and_eigvals(shape):
    a = np.random.default_rng(11 + len(shape)).standard_normal(shape)  # (its own draw: a shared
    # generator gave an ill-conditioned matrix in some test orders)
    check_op(lambda m, x: m.linalg.eigvals(x), a, atol=1e-10, rtol=1e-9)

    def fixed(m, x):
        w, v = m.linalg.eig(x)
        return m.view_as_real(w), m.view_as_real(_gauge_fixed(m, v))

    check_op(fixed, a, atol=1e-10, rtol=1e-8)
    check_op(lambda m, x: m.view_as_real(m.linalg.eigvals(x)), a.astype(np.float32),
             atol=1e-4, rtol=1e-4, grad=False)  # (float32 gradients: ill-conditioned here)
    check_gradcheck(lambda m, x: m.view_as_real(m.linalg.eigvals(x)), a)
    check_gradcheck(lambda m, x: fixed(m, x)[1], a, second_order=False)


def test_complex_inverse_and_solve():
    z = lambda m, a, b: m.complex(a, b)  # noqa: E731
    a, b = _mat(3, 3), R.standard_normal((3, 3))
    y, w = R.standard_normal((3, 2)), R.standard_normal((3, 2))
    check_op(lambda m, p, q: m.view_as_real(m.linalg.inv(z(m, p, q))), a, b)
    check_op(lambda m, p, q, r, s: m.view_as_real(m.linalg.solve(z(m, p, q), z(m, r, s))),
             a, b, y, w)
    check_gradcheck(lambda m, p, q, r, s: m.view_as_real(m.linalg.solve(z(m, p, q), z(m, r, s))),
                    a, b, y, w)
    zz = a + 1j * b
    np.testing.assert_array_equal(ember.tensor(zz).mH.numpy(), torch.tensor(zz).mH.resolve_conj()
                                  .numpy())
    with pytest.raises(NotImplementedError, match="complex"):
        ember.linalg.qr(ember.ones(2, 2, dtype=ember.complex64))


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve_and_inverse(upper):
    low = np.linalg.cholesky(_mat(2, 3, 3, spd=True))
    low = np.swapaxes(low, -1, -2).copy() if upper else low
    b = R.standard_normal((2, 3, 4))
    check_op(lambda m, x, f: m.cholesky_solve(x, f, upper), b, low, atol=1e-10, rtol=1e-9)
    check_op(lambda m, x, f: x.cholesky_solve(f, upper=upper), b[0], low[0])
    check_op(lambda m, f: m.cholesky_inverse(f, upper), low, atol=1e-10, rtol=1e-9)
    check_op(lambda m, f: f.cholesky_inverse(upper), low[0].astype(np.float32), atol=1e-5)
    # (the gradient in the factor is torch's full-matrix one; only its triangle is read)
    tri = lambda f: f.triu() if upper else f.tril()  # noqa: E731
    check_gradcheck(lambda m, x, f: m.cholesky_solve(x, tri(f), upper), b[0], low[0])
    check_gradcheck(lambda m, f: m.cholesky_inverse(tri(f), upper), low[0])
    same_error(lambda m: m.cholesky_solve(m.ones(3), m.eye(3)))


def test_tensorinv_and_tensorsolve():
    a = R.standard_normal((4, 6, 8, 3))
    # (torch's tensorinv ends in a ReshapeAliasBackward0, ember's in a ViewBackward0)
    check_op(lambda m, x: m.linalg.tensorinv(x, ind=2), a, atol=1e-9, rtol=1e-8, grad_fn=False)
    check_op(lambda m, x, y: m.linalg.tensorsolve(x, y), a, R.standard_normal((4, 6)),
             atol=1e-9, rtol=1e-8)
    check_op(lambda m, x, y: m.linalg.tensorsolve(x, y, dims=(0,)), a.transpose(2, 0, 1, 3).copy(),
             R.standard_normal((4, 6)), atol=1e-9, rtol=1e-8)
    check_gradcheck(lambda m, x: m.linalg.tensorinv(x, ind=1), _mat(6, 6).reshape(6, 2, 3))
    same_error(lambda m: m.linalg.tensorinv(m.ones(4, 6, 8, 3), ind=0))
    same_error(lambda m: m.linalg.tensorinv(m.ones(2, 3, 4), ind=1))
    same_error(lambda m: m.linalg.tensorsolve(m.ones(4, 6, 8, 3), m.ones(4, 5)))


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3)])
def test_lu_family(shape):
    a = R.standard_normal(shape)
    check_op(lambda m, x: m.linalg.lu_factor(x), a, atol=1e-10, rtol=1e-9)
    check_op(lambda m, x: m.linalg.lu_factor_ex(x), a, atol=1e-10, rtol=1e-9)
    check_op(lambda m, x: m.linalg.lu(x), a, atol=1e-10, rtol=1e-9)
    check_op(lambda m, x: m.linalg.lu(x), a.astype(np.float32), atol=1e-5, rtol=1e-4)
    check_gradcheck(lambda m, x: m.linalg.lu_factor(x)[0], a)
    check_gradcheck(lambda m, x: m.linalg.lu(x)[1:], a)
    b = R.standard_normal(shape[:-1] + (2,))
    for left, adjoint in [(True, False), (True, True)]:
        def solve(m, x, y, left=left, adjoint=adjoint):
            lu, piv = m.linalg.lu_factor(x)
            return m.linalg.lu_solve(lu, piv, y, left=left, adjoint=adjoint)

        check_op(solve, a, b, atol=1e-10, rtol=1e-9)
        check_gradcheck(solve, a, b)
    bl = R.standard_normal(shape[:-2] + (2, shape[-1]))
    check_op(lambda m, x, y: m.linalg.lu_solve(*m.linalg.lu_factor(x), y, left=False), a, bl,
             atol=1e-10, rtol=1e-9)
    check_op(lambda m, x: m.linalg.lu(x), R.standard_normal((3, 5)), grad=False)
    check_op(lambda m, x: m.linalg.lu_factor(x), R.standard_normal((5, 3)), grad=False)
