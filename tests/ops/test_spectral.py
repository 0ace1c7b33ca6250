"""stft and istft: parity with torch (values, dtypes, shapes, grad_fn names, gradients) over
windows, hops, centring, padding modes, normalisation, onesided and batches; gradcheck in
float64; the round trip; torch's warnings and errors."""
import warnings

import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, same_error


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the rectangular-window warning (tested below)
        yield


KWARGS = [dict(hop_length=64), dict(hop_length=64, normalized=True),
          dict(hop_length=50, center=False), dict(onesided=False), dict(win_length=200),
          dict(hop_length=64, pad_mode="constant"), dict(hop_length=64, pad_mode="replicate")]


@pytest.mark.parametrize("kw", KWARGS)
@pytest.mark.parametrize("shape", [(1000,), (2, 1000)])
@pytest.mark.parametrize("window", [True, False])
def test_stft(kw, shape, window, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    win = kw.get("win_length", 256)
    fn = lambda m, t: m.view_as_real(m.stft(  # noqa: E731
        t, 256, window=m.hann_window(win) if window else None, return_complex=True, **kw))
    check_op(fn, x, atol=2e-5, rtol=1e-4)
    check_op(lambda m, t: m.stft(t, 256, window=m.hann_window(win) if window else None,
                                 return_complex=True, **kw), x, atol=2e-5, rtol=1e-4,
             grad=False)


@pytest.mark.parametrize("kw", [dict(), dict(length=1000), dict(length=1100, center=True),
                                dict(normalized=True)])
def test_istft(kw, rng):
    x = rng.standard_normal((2, 1000)).astype(np.float32)
    norm = kw.get("normalized", False)

    def fn(m, t):
        w = m.hann_window(256)
        s = m.stft(t, 256, 64, window=w, return_complex=True, normalized=norm)
        return m.istft(s, 256, 64, window=w, **kw)

    check_op(fn, x, atol=1e-3 if "length" in kw and kw["length"] > 1000 else 2e-5, rtol=1e-4)
    check_op(lambda m, t: fn(m, t[0]), x, atol=1e-3 if kw.get("length", 0) > 1000 else 2e-5,
             rtol=1e-4)


def test_round_trip_and_gradcheck(rng):
    x = rng.standard_normal((2, 300))
    w = ember.hann_window(64, dtype=ember.float64)
    s = ember.stft(ember.tensor(x), 64, 16, window=w, return_complex=True)
    y = ember.istft(s, 64, 16, window=w, length=300)
    np.testing.assert_allclose(y.numpy(), x, atol=1e-12)
    check_gradcheck(lambda m, t: m.view_as_real(m.stft(
        t, 16, 4, window=m.hann_window(16, dtype=m.float64), return_complex=True)),
        x[0, :64], second_order=False)
    check_gradcheck(lambda m, t: m.istft(m.stft(t, 16, 4, window=m.hann_window(
        16, dtype=m.float64), return_complex=True), 16, 4, window=m.hann_window(
        16, dtype=m.float64), length=64), x[0, :64], second_order=False)


def test_return_real_and_errors():
    check_op(lambda m, t: m.stft(t, 64, 16, window=m.hann_window(64), return_complex=False),
             np.arange(200, dtype=np.float32) % 7)
    import ember.ops.spectral as spectral

    spectral._warned.clear()
    with pytest.warns(UserWarning, match="A window was not provided"):
        ember.stft(ember.ones(100), 16, return_complex=True)
    x = lambda m: m.ones(2, 1000)  # noqa: E731
    same_error(lambda m: m.stft(x(m), 256))
    same_error(lambda m: m.stft(x(m), 2000, return_complex=True))
    same_error(lambda m: m.stft(m.ones(3, 3, 100), 16, return_complex=True))
    same_error(lambda m: m.stft(x(m), 256, 0, return_complex=True))
    same_error(lambda m: m.stft(x(m), 256, window=m.ones(100), return_complex=True))
    same_error(lambda m: m.stft(x(m), 256, win_length=300, return_complex=True))
    same_error(lambda m: m.istft(m.ones(129, 10), 256))
    same_error(lambda m: m.istft(m.ones(129, 10, dtype=m.complex64), 256,
                                 window=m.zeros(256)))
