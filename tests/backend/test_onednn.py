"""The oneDNN convolution path (``ember/backend/onednn.py``): the same numbers as torch's (which
runs the same library) and as ember's NumPy path, every gradient, the fallbacks, lazy loading and
the thread count; softmax and GELU through oneDNN against torch and the NumPy kernels. Skipped
where the ``onednn`` extra is not installed."""
import os
import subprocess
import sys

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck
from ember.backend import NUMPY, numpy_conv, onednn

pytestmark = [pytest.mark.skipif(os.environ.get("EMBER_ONEDNN") == "0" or not onednn.enabled(),
                                 reason="the onednn extra is not installed or is switched off"),
              pytest.mark.host_only]  # oneDNN is the CPU's convolution library

CASES = [
    ((2, 3, 9, 9), (4, 3, 3, 3), dict(stride=1, padding=1)),
    ((2, 4, 10, 11), (6, 2, 3, 2), dict(stride=2, padding=(1, 0), groups=2)),
    ((2, 6, 8, 8), (6, 1, 3, 3), dict(stride=1, padding=1, groups=6)),  # depthwise
    ((2, 8, 5, 5), (4, 8, 1, 1), dict()),
    ((2, 3, 8, 8), (4, 3, 4, 4), dict(padding="same")),  # even kernel: asymmetric padding
    ((2, 3, 11, 9), (5, 3, 3, 3), dict(stride=3, padding=2)),  # last rows never read
    ((8, 16, 14, 14), (32, 16, 3, 3), dict(stride=2, padding=1)),  # blocked layouts
]


def _pair(xs, ws, kw, seed=0):
    import torch

    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    out = []
    for m in (ember, torch):
        tx, tw, tb = (m.tensor(v, requires_grad=True) for v in (x, w, b))
        y = m.nn.functional.conv2d(tx, tw, tb, **kw)
        out.append((tx, tw, tb, y))
    g = rng.standard_normal(tuple(out[1][3].shape)).astype(np.float32)
    out[0][3].backward(ember.tensor(g))
    out[1][3].backward(torch.tensor(g))
    return out


@pytest.mark.parametrize("xs,ws,kw", CASES)
def test_bitwise_equal_to_torch(xs, ws, kw):
    (ex, ew, eb, ey), (tx, tw, tb, ty) = _pair(xs, ws, kw)
    assert ey.dtype == ember.float32 and ey.grad_fn.name() == "ConvolutionBackward0"
    for e, t in ((ey, ty), (ex.grad, tx.grad), (ew.grad, tw.grad)):
        assert e.shape == tuple(t.shape)
        np.testing.assert_array_equal(e.detach().numpy(), t.detach().numpy())
    np.testing.assert_allclose(eb.grad.numpy(), tb.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("xs,ws,kw", CASES + [
    ((1, 3, 7, 7), (5, 3, 2, 2), dict(stride=2, dilation=2)),
    ((2, 4, 6, 6), (4, 2, 3, 3), dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2), groups=2))])
def test_the_kernels_equal_the_numpy_ones(xs, ws, kw, monkeypatch):
    """The three backend kernels against NumPy's (in float64) on the geometry the op builds."""
    from ember.ops import conv as conv_ops

    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    seen = {}
    forward = conv_ops.Convolution.forward

    def record(ctx, a, b, bias=None, *, kind, geo):
        seen["geo"] = geo
        return forward(ctx, a, b, bias, kind=kind, geo=geo)

    monkeypatch.setattr(conv_ops.Convolution, "forward", staticmethod(record))
    y = F.conv2d(ember.tensor(x), ember.tensor(w), **kw).numpy()
    g = rng.standard_normal(y.shape).astype(np.float32)
    geo = seen["geo"]
    for name, a, b in (("conv2d", x, w), ("conv2d_input_grad", g, w),
                       ("conv2d_weight_grad", x, g)):
        mine = getattr(onednn, name)(a, b, geo)
        ref = getattr(numpy_conv, name)(a.astype(np.float64), b.astype(np.float64), geo)
        assert mine is not None and mine.dtype == np.float32 and mine.shape == ref.shape, name
        np.testing.assert_allclose(mine, ref, rtol=1e-4, atol=1e-4, err_msg=name)


def test_transposed_and_double_backward_match_torch():
    import torch

    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    res = []
    for m in (ember, torch):
        tx, tw = m.tensor(x, requires_grad=True), m.tensor(w, requires_grad=True)
        y = m.nn.functional.conv_transpose2d(tx, tw, stride=2, padding=1, output_padding=1)
        gx, gw = m.autograd.grad((y * y).sum(), (tx, tw), create_graph=True)
        (gx.pow(2).sum() + gw.pow(2).sum()).backward()
        res.append([v.detach().numpy() for v in (y, gx, gw, tx.grad, tw.grad)])
    for e, t in zip(*res):  # float32 sums of terms up to 1e4: tolerance on that scale
        np.testing.assert_allclose(e, t, rtol=1e-4, atol=1e-5 * np.abs(t).max())


def test_float64_stays_on_numpy_and_passes_gradcheck():
    rng = np.random.default_rng(3)
    x = ember.tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
    w = ember.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    before = len(onednn._cache)
    assert gradcheck(lambda a, b: F.conv2d(a, b, padding=1, stride=2), (x, w))
    assert len(onednn._cache) == before  # no oneDNN primitive was made for float64


def test_non_contiguous_and_broadcast_operands():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 6, 5, 4)).astype(np.float32).transpose(0, 3, 1, 2)  # NHWC
    x = x[:, ::2]  # (2, 2, 6, 5), channels strided too
    w = np.broadcast_to(rng.standard_normal((1, 2, 3, 3)).astype(np.float32), (4, 2, 3, 3))
    got = F.conv2d(ember.tensor(x), ember.tensor(w), padding=1).numpy()
    ref = F.conv2d(ember.tensor(np.ascontiguousarray(x)),
                   ember.tensor(np.ascontiguousarray(w)), padding=1).numpy()
    assert got.shape == (2, 4, 6, 5)
    np.testing.assert_array_equal(got, ref)


def test_gradient_reorder_is_kept_for_one_call_only():
    """The output gradient's blocked copy serves the weight gradient right after the input
    gradient, and nothing later: a later call with the same (changed) array recomputes."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 16, 8, 8)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    geo = ember.backend.WindowGeometry((3, 3), (1, 1), (1, 1), (1, 1), 1, (8, 8), (8, 8))
    g = rng.standard_normal((2, 16, 8, 8)).astype(np.float32)
    onednn.conv2d_input_grad(g, w, geo)
    assert onednn._kept[0] is not None and onednn._kept[0][0] is g
    dw = onednn.conv2d_weight_grad(x, g, geo)
    assert onednn._kept[0] is None
    np.testing.assert_allclose(dw, numpy_conv.conv2d_weight_grad(x, g, geo), rtol=1e-4,
                               atol=1e-3)
    onednn.conv2d_input_grad(g, w, geo)
    onednn.conv2d(x, w, geo)  # any other call drops the kept copy
    g *= 2
    np.testing.assert_allclose(onednn.conv2d_weight_grad(x, g, geo), 2 * dw, rtol=1e-4,
                               atol=1e-3)


def test_the_backend_dispatches_float32_only():
    geo = ember.backend.WindowGeometry((1, 1), (1, 1), (0, 0), (1, 1), 1, (2, 2), (2, 2))
    x32 = np.ones((1, 1, 2, 2), np.float32)
    assert NUMPY.conv2d(x32, np.ones((1, 1, 1, 1), np.float32), geo).dtype == np.float32
    assert NUMPY.conv2d(x32.astype(np.float64), np.ones((1, 1, 1, 1)), geo).dtype == np.float64


def _child(code: str, **env_vars: str) -> str:
    env = dict(os.environ, **env_vars)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


MAPS = "open('/proc/self/maps').read().count('libdnnl')"


def test_loaded_lazily_and_switch_and_missing_library_fall_back():
    code = ("import ember, numpy as np\nfrom ember.backend import onednn\n"
            f"before = {MAPS}\n"
            "y = ember.nn.functional.conv2d(ember.ones(1, 1, 3, 3), ember.ones(1, 1, 2, 2))\n"
            f"print(before, {MAPS} > 0, onednn.enabled(), y.sum().item())")
    assert _child(code) == "0 True True 16.0"
    assert _child(code, EMBER_ONEDNN="0") == "0 False False 16.0"
    assert _child(code, EMBER_ONEDNN_LIBRARY="/nonexistent/libdnnl.so.3") == \
        "0 False False 16.0"


def test_set_num_threads_governs_openmp_too():
    code = ("import ember, ctypes\nember.set_num_threads(1)\n"
            "ember.nn.functional.conv2d(ember.ones(1, 1, 3, 3), ember.ones(1, 1, 2, 2))\n"
            "import os\nomp = ctypes.CDLL('libgomp.so.1', mode=os.RTLD_NOLOAD)\n"
            "a = omp.omp_get_max_threads()\nember.set_num_threads(2)\n"
            "print(a, omp.omp_get_max_threads(), ember.get_num_threads())")
    assert _child(code, OMP_NUM_THREADS="2") == "1 2 2"


@pytest.mark.parametrize("nd,xs,ws,kw", [
    (1, (2, 4, 17), (6, 2, 3), dict(stride=2, padding=1, groups=2)),
    (1, (2, 3, 9), (4, 3, 4), dict(padding="same", dilation=2)),
    (3, (2, 4, 5, 6, 7), (6, 2, 3, 2, 3), dict(stride=(1, 2, 1), padding=1, groups=2)),
    (3, (1, 2, 4, 6, 6), (3, 2, 1, 3, 3), dict(dilation=(1, 2, 1)))])
def test_1d_and_3d_match_torch_and_the_numpy_path(nd, xs, ws, kw, monkeypatch):
    import torch

    rng = np.random.default_rng(6)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    name = f"conv{nd}d"
    calls: list = []
    run = onednn._run
    monkeypatch.setattr(onednn, "_run", lambda kind, *a, **k: calls.append(kind) or run(kind, *a,
                                                                                        **k))
    runs, ran = [], []
    for m, off in ((ember, "1"), (ember, "0"), (torch, "1")):
        monkeypatch.setenv("EMBER_ONEDNN", off)
        tx, tw, tb = (m.tensor(v, requires_grad=True) for v in (x, w, b))
        y = getattr(m.nn.functional, name)(tx, tw, tb, **kw)
        (y * y).sum().backward()
        runs.append([v.detach().numpy() for v in (y, tx.grad, tw.grad, tb.grad)])
        ran.append(sorted(set(calls)))
        calls.clear()
    # the first ember run took oneDNN's three kernels, the second none
    assert ran[:2] == [["forward", "input_grad", "weight_grad"], []]
    for mine, numpy_path, ref in zip(*runs):
        scale = np.abs(ref).max()
        np.testing.assert_allclose(mine, ref, rtol=1e-4, atol=1e-5 * scale)
        np.testing.assert_allclose(numpy_path, ref, rtol=1e-4, atol=1e-5 * scale)


def test_openmp_waits_passively_unless_the_user_chose():
    code = ("import os, ember\n"
            "ember.nn.functional.conv2d(ember.ones(1, 1, 3, 3), ember.ones(1, 1, 2, 2))\n"
            "print(os.environ.get('OMP_WAIT_POLICY'))")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.stdout.strip() == "None", out.stderr  # set for the load only, then removed
    assert _child(code, OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"


def test_torch_backends_mkldnn_switch():
    x, w = ember.randn(1, 2, 5, 5), ember.randn(3, 2, 3, 3)
    with ember.backends.mkldnn.flags(enabled=False):
        assert not ember.backends.mkldnn.enabled and not onednn.enabled()
        ref = F.conv2d(x.double(), w.double()).float()
        off = F.conv2d(x, w)
    assert ember.backends.mkldnn.enabled and onednn.enabled()
    np.testing.assert_allclose(off.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
    assert ember.backends.mkldnn.set_flags(False)[:2] == (True, False)
    assert ember.backends.mkldnn.set_flags(True)[0] is False


def _value_and_grad(m, fn, x, g):
    """``fn(m, x)`` and the gradient it sends ``x`` from ``g``, as arrays (``m``: a framework)."""
    t = m.tensor(x, requires_grad=True)
    y = fn(m, t)
    y.backward(m.tensor(g))
    return y.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("shape, dim", [((700, 1000), 1), ((40, 64, 33), 1), ((300, 400), 0)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_matches_torch_and_the_numpy_kernel(shape, dim, log, monkeypatch):
    import torch

    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)

    def fn(m, t):
        return t.log_softmax(dim) if log else t.softmax(dim)

    outs = [_value_and_grad(m, fn, x, g) for m in (ember, torch)]
    assert onednn.softmax(x, dim, log) is not None  # (large enough: oneDNN's)
    # oneDNN's log-softmax is within 5.3e-6 of the exact values here, torch's 2.2e-6 (its
    # softmax as torch's: 3.9e-7 against 2.7e-7); the gradients follow (log-softmax's scaled by
    # the row sums of g, here up to ~30)
    tol = dict(rtol=1e-5, atol=6e-6 if log else 5e-7)
    gtol = dict(rtol=1e-5, atol=2e-5 if log else 2e-6)
    np.testing.assert_allclose(outs[0][0], outs[1][0], **tol)
    np.testing.assert_allclose(outs[0][1], outs[1][1], **gtol)
    monkeypatch.setenv("EMBER_ONEDNN", "0")
    y, gx = _value_and_grad(ember, fn, x, g)
    np.testing.assert_allclose(y, outs[0][0], **tol)
    np.testing.assert_allclose(gx, outs[0][1], **gtol)


def test_small_and_non_float32_softmax_stay_on_numpy():
    x = np.ones((4, 8), np.float32)
    assert onednn.softmax(x, 1, False) is None
    # float64 and strided arrays: declined (the NumPy kernels run)
    assert onednn._unary("softmax", False, (np.ones((300, 300)),), 1) is None
    assert onednn._unary("softmax", False, (np.ones((300, 300), np.float32)[:, ::2],), 1) is None


@pytest.mark.parametrize("shape", [(384, 256), (7, 3), (2, 1100, 600)])
def test_gelu_is_torchs_bitwise_with_its_gradient(shape):
    import torch

    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * 2).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    outs = [_value_and_grad(m, lambda m, t: m.nn.functional.gelu(t), x, g)
            for m in (ember, torch)]
    assert onednn.gelu(x) is not None
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    # the slope Phi + x phi within 2.6e-7 of the exact one, as torch's (times g here)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-6, atol=2e-6)
    # within torch's float32 error (1.1e-6) of NumPy's float64 kernel
    y, kept = ember.backend.NUMPY.gelu(x.astype(np.float64))
    assert kept is not None
    np.testing.assert_allclose(outs[0][0], y, rtol=0, atol=1.2e-6)


def test_gelu_and_softmax_keep_openmp_threads():
    from ember.backend import threads

    before = ember.get_num_threads()
    onednn.gelu(np.ones(1000, np.float32))  # one thread for the call, then the count again
    assert ember.get_num_threads() == before
    if threads._omp is not None:
        import ctypes

        gomp = ctypes.CDLL("libgomp.so.1", mode=os.RTLD_NOLOAD)
        assert gomp.omp_get_max_threads() == before


def test_softmax_and_gelu_primitives_are_a_bounded_cache():
    # one primitive pair per shape, the oldest destroyed past the cap: a language model's
    # batches take a new shape with every sequence length
    for n in range(onednn._UNARY_CACHE_MAX + 10):
        x = np.full((3, n + 1), 0.5, np.float32)
        np.testing.assert_allclose(onednn.gelu(x), ember.nn.functional.gelu(
            ember.tensor(x.astype(np.float64))).numpy(), rtol=1e-6)
    assert len(onednn._unary_cache) == onednn._UNARY_CACHE_MAX
    assert ("gelu", (3, 1), 0) not in onednn._unary_cache  # (the first ones went)
    x = np.full((3, 1), 0.5, np.float32)  # made again when asked again
    assert onednn.gelu(x)[0, 0] == ember.nn.functional.gelu(ember.tensor(x)).numpy()[0, 0]
