"""Window functions (hann, hamming, blackman, bartlett, kaiser) against torch 2.13: values in
each floating dtype, periodic and symmetric, requires_grad, and torch's errors."""
import numpy as np
import pytest

import ember
from helpers import same_error, torch_or_skip

torch = torch_or_skip()

WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window"]
# float16/bfloat16 windows are computed in their own precision, by torch as by ember
TOL = {"float32": 1e-6, "float64": 1e-12, "float16": 2e-3, "bfloat16": 1e-2}


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 7, 16, 101])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("dtype", list(TOL))
def test_window_values(name, n, periodic, dtype):
    e = getattr(ember, name)(n, periodic, dtype=getattr(ember, dtype))
    t = getattr(torch, name)(n, periodic, dtype=getattr(torch, dtype))
    assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    assert e.shape == t.shape and not e.requires_grad and e.is_leaf
    np.testing.assert_allclose(e.float().numpy(), t.float().numpy(), rtol=TOL[dtype],
                               atol=TOL[dtype])


@pytest.mark.parametrize("name", WINDOWS)
def test_window_defaults_and_kwargs(name):
    e, t = getattr(ember, name)(10), getattr(torch, name)(10)
    assert e.dtype is ember.float32
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6, atol=1e-7)
    e = getattr(ember, name)(5, dtype=ember.float64, requires_grad=True, device="cpu",
                             layout=None)
    t = getattr(torch, name)(5, dtype=torch.float64, requires_grad=True, device="cpu")
    assert e.requires_grad and e.is_leaf and e.dtype is ember.float64
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-12)
    try:
        ember.set_default_dtype(ember.float64)
        torch.set_default_dtype(torch.float64)
        assert getattr(ember, name)(3).dtype is ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("args", [(5, False, 0.5), (5, True, 0.5, 0.3), (8, True, 0.6, 0.4)])
def test_hamming_alpha_beta(args):
    np.testing.assert_allclose(ember.hamming_window(*args).numpy(),
                               torch.hamming_window(*args).numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("beta", [0.0, 1.5, 8.0, 12.0, 30.0])
@pytest.mark.parametrize("periodic", [True, False])
def test_kaiser_beta(beta, periodic):
    e = ember.kaiser_window(9, periodic, beta, dtype=ember.float64)
    t = torch.kaiser_window(9, periodic, beta, dtype=torch.float64)
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", WINDOWS)
def test_window_errors(name):
    same_error(lambda m: getattr(m, name)(-1))
    same_error(lambda m: getattr(m, name)(3, dtype=m.int64))
    same_error(lambda m: getattr(m, name)(3, dtype=m.bool))
    same_error(lambda m: getattr(m, name)(3, dtype=m.complex64))
    same_error(lambda m: getattr(m, name)(3.0))
