"""torch.special's J0/J1/Y0/Y1, K0/K1, scaled K0/K1 and airy_ai: against torch 2.13 across wide
ranges (negatives, zero, tiny, huge, inf, nan; float64 and float32; integer inputs), against
mpmath's arbitrary precision where it is installed (torch's own kernels are less exact: its J/Y
for x > 5 drop the leading 1 of Cephes's p1evl denominator, ~5e-7 absolute error, and its Ai
switches to its asymptotic form at x < -2.09, ~3e-6 absolute error there), torch's dtype rules,
no gradient, and its errors."""
import numpy as np
import pytest

import ember
from helpers import same_error, torch_or_skip

NAMES = ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_k0",
         "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
         "airy_ai"]
GRID = np.concatenate([
    np.linspace(-40, 40, 8001), -np.logspace(-12, 5, 600), np.logspace(-300, 20, 800),
    [0.0, -0.0, np.inf, -np.inf, np.nan, 2.0, 5.0, 8.0, 12.0, 25.0, -8.0, 103.89, 103.9, 1e3]])
# torch's own absolute error bounds (see the module docstring); elsewhere 1e-6 relative
TORCH_ATOL = {"airy_ai": 4e-6}


@pytest.mark.parametrize("name", NAMES)
def test_against_torch_float64(name):
    torch = torch_or_skip()
    e = getattr(ember.special, name)(ember.tensor(GRID)).numpy()
    t = getattr(torch.special, name)(torch.tensor(GRID)).numpy()
    assert e.dtype == t.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(e), np.isnan(t))
    np.testing.assert_array_equal(e[np.isinf(t)], t[np.isinf(t)])
    np.testing.assert_allclose(e, t, rtol=1e-6, atol=TORCH_ATOL.get(name, 1e-6), equal_nan=True)
    # far from torch's inexact ranges the two agree to ~1e-12
    calm = (np.abs(GRID) < 2) | (np.abs(GRID) > 30)
    np.testing.assert_allclose(e[calm], t[calm], rtol=1e-9, atol=1e-300, equal_nan=True)


@pytest.mark.parametrize("name", NAMES)
def test_against_torch_float32_and_integers(name):
    torch = torch_or_skip()
    x = np.linspace(-30, 30, 2001).astype(np.float32)
    e = getattr(ember.special, name)(ember.tensor(x)).numpy()
    t = getattr(torch.special, name)(torch.tensor(x)).numpy()
    assert e.dtype == t.dtype == np.float32
    np.testing.assert_allclose(e, t, rtol=2e-4, atol=2e-5, equal_nan=True)
    i = np.arange(-5, 6)
    e = getattr(ember.special, name)(ember.tensor(i))
    t = getattr(torch.special, name)(torch.tensor(i))
    assert str(e.dtype)[6:] == str(t.dtype)[6:] == "float32"
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-5, atol=1e-6, equal_nan=True)
    b = getattr(ember.special, name)(ember.tensor([True, False]))
    np.testing.assert_allclose(b.numpy(), getattr(torch.special, name)(
        torch.tensor([True, False])).numpy(), rtol=1e-6)


MPMATH = {
    "bessel_j0": lambda mp, x: mp.besselj(0, x), "bessel_j1": lambda mp, x: mp.besselj(1, x),
    "bessel_y0": lambda mp, x: mp.bessely(0, x), "bessel_y1": lambda mp, x: mp.bessely(1, x),
    "modified_bessel_k0": lambda mp, x: mp.besselk(0, x),
    "modified_bessel_k1": lambda mp, x: mp.besselk(1, x),
    "scaled_modified_bessel_k0": lambda mp, x: mp.exp(x) * mp.besselk(0, x),
    "scaled_modified_bessel_k1": lambda mp, x: mp.exp(x) * mp.besselk(1, x),
    "airy_ai": lambda mp, x: mp.airyai(x),
}


@pytest.mark.parametrize("name", NAMES)
def test_float64_accuracy(name):
    mp = pytest.importorskip("mpmath")
    positive_only = name not in ("bessel_j0", "bessel_j1", "airy_ai")
    x = np.concatenate([np.linspace(0.01, 60, 400), np.logspace(-8, 3, 60),
                        [1.9999, 2.0001, 11.999, 12.001, 24.99, 25.01, 7.3, 5.5]])
    if not positive_only:
        x = np.concatenate([x, -x])
    if name == "airy_ai":
        x = x[x < 100]
    got = getattr(ember.special, name)(ember.tensor(x)).numpy()
    want = np.array([float(mp.re(MPMATH[name](mp, mp.mpf(float(v))))) for v in x])
    # relative, except near the oscillating functions' zeros: relative to their amplitude
    scale = np.maximum(np.abs(want), 1e-300 if "modified" in name else
                       np.minimum(1.0, 1.0 / np.sqrt(np.abs(x) + 1e-300)) * 1e-3)
    assert np.max(np.abs(got - want) / scale) < 1e-9


def test_no_gradient_and_errors():
    torch = torch_or_skip()
    for name in NAMES:
        for m in (ember, torch):
            y = getattr(m.special, name)(m.tensor([1.0, 2.0], requires_grad=True))
            assert y.grad_fn is None and not y.requires_grad
        same_error(lambda m: getattr(m.special, name)(m.ones(2, dtype=m.float16)))
        same_error(lambda m: getattr(m.special, name)(m.ones(2, dtype=m.bfloat16)))
        same_error(lambda m: getattr(m.special, name)(m.ones(2, dtype=m.complex64)))
        same_error(lambda m: getattr(m.special, name)(3))
    e = ember.special.bessel_j0(ember.ones(2, 0, 3))
    assert tuple(e.shape) == (2, 0, 3)
    big = np.linspace(-50, 50, 50_000)  # several kernel blocks
    np.testing.assert_allclose(ember.special.airy_ai(ember.tensor(big)).numpy(),
                               torch.special.airy_ai(torch.tensor(big)).numpy(), rtol=1e-6,
                               atol=4e-6)
