"""ember.fft (ember/ops/fft.py) and the complex helpers it needs (ember/ops/complex.py) against
torch: values, dtypes, grad_fn names, gradients under complex upstream gradients (torch's
conjugate-Wirtinger convention), n/s padding and cropping, every norm mode, and gradcheck +
gradgradcheck in float64 through real views of the complex values."""
import numpy as np
import pytest

import ember
from helpers import check_gradcheck, same_error, torch_or_skip

torch = torch_or_skip()
R = np.random.default_rng(0)


def _to(m, a, grad):
    t = m.tensor(a.copy())
    return t.requires_grad_() if grad and a.dtype.kind in "fc" else t


def check(fn, *arrays, atol=1e-10, rtol=1e-8, grad=True):
    """fn(ember) against fn(torch): values, dtypes, grad_fn names, and gradients under a random
    complex (or real) upstream gradient."""
    e_in = [_to(ember, a, grad) for a in arrays]
    t_in = [_to(torch, a, grad) for a in arrays]
    e, t = fn(ember, *e_in), fn(torch, *t_in)
    assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1], (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().resolve_conj().numpy(), atol=atol,
                               rtol=rtol)
    assert type(e.grad_fn).__name__ == (type(t.grad_fn).__name__ if t.grad_fn else "NoneType")
    if not grad:
        return
    g = R.standard_normal(tuple(t.shape))
    if t.is_complex():
        g = g + 1j * R.standard_normal(tuple(t.shape))
    g = g.astype(t.detach().resolve_conj().numpy().dtype)
    eg = ember.autograd.grad(e, e_in, ember.tensor(g))
    tg = torch.autograd.grad(t, t_in, torch.tensor(g))
    for a, b in zip(eg, tg):
        assert str(a.dtype).split(".")[1] == str(b.dtype).split(".")[1]
        np.testing.assert_allclose(a.numpy(), b.resolve_conj().numpy(), atol=atol, rtol=rtol)


def real_sig(*shape, dtype=np.float64):
    return R.standard_normal(shape).astype(dtype)


def complex_sig(*shape, dtype=np.complex128):
    return (R.standard_normal(shape) + 1j * R.standard_normal(shape)).astype(dtype)


NORMS = [None, "backward", "ortho", "forward"]


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name", ["fft", "ifft"])
@pytest.mark.parametrize("n", [None, 5, 12])
def test_fft_ifft(name, n, norm):
    f = lambda m, t: getattr(m.fft, name)(t, n=n, norm=norm)  # noqa: E731
    check(f, real_sig(3, 8))
    check(f, complex_sig(3, 8))
    check(lambda m, t: getattr(m.fft, name)(t, n=n, dim=0, norm=norm), complex_sig(6, 2))
    check(f, real_sig(8, dtype=np.float32), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("n", [None, 7, 8, 11])
def test_rfft_irfft_hfft_ihfft(n, norm):
    check(lambda m, t: m.fft.rfft(t, n=n, norm=norm), real_sig(2, 9))
    check(lambda m, t: m.fft.irfft(t, n=n, norm=norm), complex_sig(2, 5))
    check(lambda m, t: m.fft.hfft(t, n=n, norm=norm), complex_sig(2, 5))
    check(lambda m, t: m.fft.ihfft(t, n=n, norm=norm), real_sig(2, 9))
    check(lambda m, t: m.fft.irfft(t, n=n, norm=norm), complex_sig(6, dtype=np.complex64),
          atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
@pytest.mark.parametrize("name", ["fft2", "ifft2", "fftn", "ifftn"])
def test_multidimensional_c2c(name, norm):
    f = lambda m, t: getattr(m.fft, name)(t, norm=norm)  # noqa: E731
    check(f, real_sig(2, 4, 6))
    check(f, complex_sig(2, 4, 6))
    check(lambda m, t: getattr(m.fft, name)(t, s=(3, 8), norm=norm), complex_sig(2, 4, 6))
    if name.endswith("n"):
        check(lambda m, t: getattr(m.fft, name)(t, dim=(0, 2), norm=norm), complex_sig(2, 4, 6))


@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
def test_multidimensional_r2c_c2r(norm):
    check(lambda m, t: m.fft.rfft2(t, norm=norm), real_sig(2, 4, 6))
    check(lambda m, t: m.fft.rfftn(t, norm=norm), real_sig(2, 4, 6))
    check(lambda m, t: m.fft.rfftn(t, s=(5, 7), norm=norm), real_sig(2, 4, 6))
    check(lambda m, t: m.fft.irfft2(t, norm=norm), complex_sig(2, 4, 4))
    check(lambda m, t: m.fft.irfftn(t, s=(4, 7), norm=norm), complex_sig(2, 4, 4))
    check(lambda m, t: m.fft.irfftn(t, norm=norm), complex_sig(3, 4, 4))
    check(lambda m, t: m.fft.hfft2(t, norm=norm), complex_sig(2, 4, 4))
    check(lambda m, t: m.fft.ihfft2(t, norm=norm), real_sig(2, 4, 6))
    check(lambda m, t: m.fft.ihfftn(t, norm=norm), real_sig(2, 4, 6))


def test_round_trips_and_integer_inputs():
    x = real_sig(4, 10)
    e = ember.fft.irfft(ember.fft.rfft(ember.tensor(x)), n=10).numpy()
    np.testing.assert_allclose(e, x, atol=1e-12)
    check(lambda m, t: m.fft.fft(t), np.arange(6), grad=False)
    check(lambda m, t: m.fft.rfft(t), np.arange(6, dtype=np.int32), grad=False)


@pytest.mark.parametrize("fn", [
    lambda m, t: m.view_as_real(m.fft.fft(t)),
    lambda m, t: m.fft.irfft(m.fft.rfft(t) * m.fft.rfft(t).abs(), n=7),
    lambda m, t: m.view_as_real(m.fft.ihfftn(t, norm="ortho")),
    lambda m, t: m.fft.hfft(m.fft.ihfft(t), n=7),
    lambda m, t: m.view_as_real(m.fft.fft2(t, s=(3, 9))),
    lambda m, t: m.fft.irfftn(m.fft.rfftn(t, norm="forward"), s=(2, 7), norm="forward"),
])
def test_gradcheck(fn):
    check_gradcheck(fn, real_sig(2, 7))


def test_gradcheck_complex_inputs():
    z = lambda m, a, b: m.complex(a, b)  # noqa: E731
    check_gradcheck(lambda m, a, b: m.view_as_real(m.fft.ifft(z(m, a, b), n=6)),
                    real_sig(2, 5), real_sig(2, 5))
    check_gradcheck(lambda m, a, b: m.fft.irfft(z(m, a, b), n=9), real_sig(2, 5), real_sig(2, 5))
    check_gradcheck(lambda m, a, b: m.fft.hfftn(z(m, a, b), norm="ortho"),
                    real_sig(3, 4), real_sig(3, 4))


def test_shift_and_frequencies():
    x = real_sig(4, 5)
    for f in (lambda m, t: m.fft.fftshift(t), lambda m, t: m.fft.ifftshift(t),
              lambda m, t: m.fft.fftshift(t, dim=1), lambda m, t: m.fft.ifftshift(t, dim=(0,))):
        check(f, x)
    for n, d in [(4, 1.0), (5, 0.5), (1, 2.0)]:
        for name in ("fftfreq", "rfftfreq"):
            e, t = getattr(ember.fft, name)(n, d), getattr(torch.fft, name)(n, d)
            assert e.dtype is ember.float32 and t.dtype is torch.float32
            np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-7)
    assert ember.fft.fftfreq(4, dtype=ember.float64).dtype is ember.float64


def test_errors():
    same_error(lambda m: m.fft.fft(m.ones(3), norm="bad"))
    same_error(lambda m: m.fft.irfft(m.ones(3), n=0))
    same_error(lambda m: m.fft.irfft(m.ones(1)))
    same_error(lambda m: m.fft.rfft(m.ones(3, dtype=m.complex64)))
    same_error(lambda m: m.fft.fftn(m.ones(2, 3), s=(4,), dim=(0, 1)))
    assert set(ember.fft.__all__) <= set(dir(torch.fft))


# -- the complex helpers ----------------------------------------------------------------------


def test_complex_parts_and_views():
    z = complex_sig(3, 4)
    for f in (lambda m, t: t.real, lambda m, t: t.imag, lambda m, t: t.conj(),
              lambda m, t: t.abs(), lambda m, t: t.angle(), lambda m, t: m.view_as_real(t),
              lambda m, t: m.real(t), lambda m, t: m.abs(t), lambda m, t: m.angle(t)):
        check(f, z)
        check(f, z.astype(np.complex64), atol=1e-5, rtol=1e-5)
    check(lambda m, a: m.view_as_complex(a), real_sig(3, 2))
    check(lambda m, a, b: m.complex(a, b), real_sig(3), real_sig(2, 3))
    check(lambda m, a, b: m.polar(a, b), np.abs(real_sig(4)), real_sig(4))
    check(lambda m, t: t.real, real_sig(3), grad=False)
    check(lambda m, t: m.angle(t), np.array([-1.0, 0.0, 2.0]), grad=False)
    check_gradcheck(lambda m, a, b: m.polar(a, b).abs() + m.complex(a, b).angle(),
                    np.abs(real_sig(4)) + 0.5, real_sig(4))


def test_complex_dtypes_and_repr():
    assert ember.complex64.is_complex and ember.cdouble is ember.complex128
    assert ember.complex64.to_real() is ember.float32
    for a, b in [("float32", "complex128"), ("float64", "complex64"), ("int64", "complex64"),
                 ("complex64", "complex128"), ("bool", "complex64")]:
        e = ember.promote_types(getattr(ember, a), getattr(ember, b))
        t = torch.promote_types(getattr(torch, a), getattr(torch, b))
        assert str(e).split(".")[1] == str(t).split(".")[1]
    for data in ([1 + 2j, 3 - 1j], 2 + 3j, [[1.5 + 0.25j, -2j]]):
        for dt in (None, "complex128"):
            kw = {} if dt is None else {"dtype": getattr(torch, dt)}
            ekw = {} if dt is None else {"dtype": getattr(ember, dt)}
            assert repr(ember.tensor(data, **ekw)) == repr(torch.tensor(data, **kw)).replace(
                "torch.", "ember.")
    z = ember.tensor([1 + 1j], requires_grad=True)
    assert z.is_complex() and z.requires_grad
    assert ember.result_type(ember.ones(2), ember.tensor(1j, dtype=ember.complex128)) is \
        ember.complex64


def test_complex_arithmetic_gradients():
    # products and quotients conjugate in backward (torch's convention), so spectral filtering
    # differentiates as torch's does
    check(lambda m, a, b: a * b, complex_sig(3, 4), complex_sig(4))
    check(lambda m, a, b: a / b, complex_sig(3, 4), complex_sig(4))
    check(lambda m, a, b: a * b, complex_sig(4), real_sig(4))
    check(lambda m, a, b: a / b, real_sig(4), complex_sig(4))
    check(lambda m, a: a * (2 - 1j), complex_sig(4))
    conv = lambda m, x, h: m.fft.irfft(m.fft.rfft(x) * m.fft.rfft(h, n=8), n=8)  # noqa: E731
    check(conv, real_sig(2, 8), real_sig(3))
    check_gradcheck(conv, real_sig(2, 8), real_sig(3))


def test_complex_products():
    # matmul and einsum conjugate their complex operands in backward, as torch's: a spectral
    # layer (a Fourier neural operator's weights on the kept modes) differentiates as torch's
    check(lambda m, a, b: a @ b, complex_sig(3, 4), complex_sig(4, 2))
    check(lambda m, a, b: a @ b, complex_sig(2, 3, 4), complex_sig(4))
    check(lambda m, a, b: m.einsum("bix,iox->box", a, b), complex_sig(2, 3, 5),
          complex_sig(3, 4, 5))

    def spectral(m, x, w_re, w_im):
        w = m.complex(w_re, w_im)
        return m.fft.irfft(m.einsum("bix,iox->box", m.fft.rfft(x)[..., :3], w), n=8)

    check(spectral, real_sig(2, 3, 8), real_sig(3, 4, 3), real_sig(3, 4, 3))
    check_gradcheck(spectral, real_sig(2, 3, 8), real_sig(3, 4, 3), real_sig(3, 4, 3))
    same_error(lambda m: m.ones(2, 2, dtype=m.complex128) @ m.ones(2, 2, dtype=m.float64))


def test_complex_casts():
    check(lambda m, x: x.cfloat(), real_sig(3, dtype=np.float32))
    check(lambda m, x: x.cdouble(), real_sig(3))
    check(lambda m, x: x.to(m.complex128), real_sig(3, dtype=np.float32))
